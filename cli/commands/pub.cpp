// `aliot pub`: publish as the device (spec/cli.md "aliot pub").
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/mqtt.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace aliot::cli {

namespace {

struct PubOptions {
  DeviceFlags device;
  std::string topic;
  PayloadFlags payload; // -l is pub's own
  bool lines = false;
  int qos = 0;
  int repeat = 1;
  int interval_ms = 0;
  double timeout_s = 10;
};

constexpr std::size_t k_max_pending = 100; // bounded memory for -l and --repeat

// -l: one message per line of standard input, while the session stays serviced.
Result<void> stream_lines(Context& ctx,
                          mqtt::Session& s,
                          const std::string& topic_name,
                          int qos,
                          std::chrono::milliseconds timeout,
                          long& count) {
  std::string buf;
  bool eof = false;
  char chunk[65536];
  while (!eof) {
    if (ctx.is_interrupted()) {
      return Error(Errc::interrupted, "interrupted");
    }
    // keep memory bounded: no more reading while too many publishes are outstanding
    if (s.pending() >= k_max_pending) {
      ALIOT_TRY(s.wait_pending(k_max_pending / 2, mqtt::after(timeout)));
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    const int rc = ::poll(&p, 1, 50);
    if (rc < 0 && errno != EINTR) {
      return Error(Errc::io, std::string("reading standard input: ") + std::strerror(errno));
    }
    if (rc > 0) {
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno != EINTR && errno != EAGAIN) {
        return Error(Errc::io, std::string("reading standard input: ") + std::strerror(errno));
      }
      if (n == 0) {
        eof = true;
      } else if (n > 0) {
        buf.append(chunk, static_cast<std::size_t>(n));
      }
    }
    std::size_t start = 0;
    for (std::size_t nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n', start)) {
      std::string line = buf.substr(start, nl - start);
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') {
        line.pop_back();
      }
      if (auto c = check_payload_size(line); !c) {
        return std::move(c).error().context("line " + std::to_string(count + 1));
      }
      auto mid = s.publish_async(topic_name, line, qos);
      if (!mid) {
        return std::move(mid).error();
      }
      ++count;
    }
    buf.erase(0, start);
    if (buf.size() > topic::k_max_payload) {
      return Error(Errc::usage, "line " + std::to_string(count + 1)
                                    + " is over the platform's limit of 256 KB (262144 bytes)");
    }
    if (eof && !buf.empty()) {
      auto mid = s.publish_async(topic_name, buf, qos);
      if (!mid) {
        return std::move(mid).error();
      }
      ++count;
      buf.clear();
    }
    ALIOT_TRY(s.step(std::chrono::milliseconds(0)));
  }
  return ok();
}

Result<void> run_pub(Context& ctx, const PubOptions& o) {
  if (o.qos == 2) {
    return Error(Errc::usage, "QoS 2 is not supported: the platform has QoS 0 and 1 only",
                 "use -q 1 for acknowledged delivery");
  }
  if (o.qos < 0 || o.qos > 2) {
    return Error(Errc::usage, "QoS " + std::to_string(o.qos) + " is not valid: use 0 or 1");
  }
  if (o.repeat < 1) {
    return Error(Errc::usage, "--repeat must be at least 1");
  }
  if (o.interval_ms < 0) {
    return Error(Errc::usage, "--interval must not be negative");
  }
  auto dc = resolve_device(o.device, ctx);
  if (!dc) {
    return std::move(dc).error();
  }
  const std::string t = topic::expand(o.topic, dc->identity.product_key, dc->identity.device_name);
  ALIOT_TRY(
      topic::validate(t, topic::Use::publish, dc->identity.product_key, dc->identity.device_name));
  std::string payload;
  if (!o.lines) {
    auto p = read_payload(o.payload);
    if (!p) {
      return std::move(p).error();
    }
    payload = std::move(*p);
  }

  const auto timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  auto s = device_session(ctx);
  ALIOT_TRY(s.connect(connect_params(*dc), mqtt::after(timeout)));
  long count = 0;
  if (o.lines) {
    ALIOT_TRY(stream_lines(ctx, s, t, o.qos, timeout, count));
  } else {
    for (int i = 0; i < o.repeat; ++i) {
      if (ctx.is_interrupted()) {
        return Error(Errc::interrupted, "interrupted");
      }
      auto mid = s.publish_async(t, payload, o.qos);
      if (!mid) {
        return std::move(mid).error();
      }
      ++count;
      if (s.pending() >= k_max_pending) {
        ALIOT_TRY(s.wait_pending(k_max_pending / 2, mqtt::after(timeout)));
      }
      if (o.interval_ms > 0 && i + 1 < o.repeat) {
        ALIOT_TRY(s.flush(mqtt::after(timeout)));
        const auto until = mqtt::after(std::chrono::milliseconds(o.interval_ms));
        while (mqtt::Clock::now() < until) {
          if (ctx.is_interrupted()) {
            return Error(Errc::interrupted, "interrupted");
          }
          ALIOT_TRY(s.step(std::min(
              std::chrono::milliseconds(50),
              std::chrono::duration_cast<std::chrono::milliseconds>(until - mqtt::Clock::now()))));
        }
      }
    }
  }
  ALIOT_TRY(s.flush(mqtt::after(timeout)));
  s.disconnect(mqtt::after(std::chrono::seconds(2)));
  ctx.out.info("published " + std::to_string(count) + " message(s) to " + t
               + (o.qos == 1 ? ", all acknowledged" : ""));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["topic"] = t;
    j["qos"] = o.qos;
    j["published"] = count;
    j["acknowledged"] = o.qos == 1 ? count : 0;
    ctx.out.line(j.dump());
  }
  return ok();
}

} // namespace

void add_pub_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<PubOptions>();
  auto* cmd = parent.add_subcommand("pub", "Publish messages as the device");
  add_device_options(*cmd, opts->device, ctx);
  cmd->add_option("-t,--topic", opts->topic,
                  "Topic; relative topics (user/update) are under /${pk}/${dn}/")
      ->type_name("TOPIC")
      ->required();
  auto* m = cmd->add_option("-m,--message", opts->payload.message, "The payload as text")
                ->type_name("TEXT");
  auto* f = cmd->add_option("-f,--file", opts->payload.file, "Send the contents of a file")
                ->type_name("FILE");
  ctx.docs.kind(f, ValueKind::file);
  auto* s = cmd->add_flag("-s,--stdin", opts->payload.stdin_all,
                          "Send all of standard input as one message");
  auto* l =
      cmd->add_flag("-l,--lines", opts->lines,
                    "Send each line of standard input as a message (streams until end of input)");
  auto* h =
      cmd->add_option("--hex", opts->payload.hex, "The payload as hex bytes")->type_name("HEX");
  auto* b =
      cmd->add_option("--base64", opts->payload.base64, "The payload as Base64")->type_name("B64");
  std::vector<CLI::Option*> sources{m, f, s, l, h, b};
  for (auto* a : sources) {
    for (auto* other : sources) {
      if (a != other) {
        a->excludes(other);
      }
    }
  }
  auto* qos = cmd->add_option("-q,--qos", opts->qos, "QoS 0 or 1 (the platform has no QoS 2)")
                  ->type_name("QOS")
                  ->check(qos_validator());
  ctx.docs.completes_to(qos, {"0", "1"});
  auto* rep = cmd->add_option("--repeat", opts->repeat, "Publish the message N times (default 1)")
                  ->type_name("N");
  rep->excludes(l);
  cmd->add_option("--interval", opts->interval_ms, "Milliseconds between repeated messages")
      ->type_name("MS");
  cmd->add_option("--timeout", opts->timeout_s,
                  "Seconds to wait for CONNACK and for the PUBACKs (default 10)")
      ->type_name("SECONDS");
  ctx.docs.attach(
      cmd,
      {"Logs in as the device and publishes to a topic. QoS 1 waits for every PUBACK and the exit "
       "code says whether all were acknowledged. The payload limit (256 KB), the topic limits "
       "(128 bytes, no empty levels, no wildcards) and the device's namespace (/${pk}/${dn}/..., "
       "/sys/${pk}/${dn}/..., /ext/...) are checked before connecting (exit 2 naming the rule).\n\n"
       "-l streams standard input: each line is one message, published as soon as it is read, "
       "with a bounded number in flight, so it can sit at the end of a long-running pipe.",
       {{"aliot pub --triplet device.json -t user/update -m '{\"temp\":21.5}'",
         "Publish one JSON message on /${pk}/${dn}/user/update"},
        {"aliot pub --triplet device.json -t user/update -q 1 --repeat 10 --interval 1000 -m ping",
         "Ten acknowledged messages, one a second"},
        {"tail -F /var/log/app.log | aliot pub --triplet device.json -t user/update -l",
         "Stream a log, one message per line"},
        {"aliot pub --triplet device.json -t user/update --hex 01020304", "Publish binary bytes"}},
       {"aliot-sub", "aliot-connect"}});
  cmd->callback([&ctx, opts, m, f, s, l, h, b] {
    if (m->count() + f->count() + s->count() + l->count() + h->count() + b->count() == 0) {
      throw CLI::RequiredError("a payload: one of -m, -f, -s, -l, --hex, --base64");
    }
    set_action(ctx, opts, run_pub);
  });
}

} // namespace aliot::cli
