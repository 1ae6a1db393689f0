// `aliot sub`: subscribe as the device (spec/cli.md "aliot sub").
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"
#include "stream_limits.hpp"

#include <aliot/mqtt.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <regex>

namespace aliot::cli {

namespace {

struct SubOptions {
  DeviceFlags device;
  std::vector<std::string> topics;
  int qos = 0;
  std::optional<long> count;
  std::optional<double> wait_s;
  std::optional<std::string> until;
  bool verbose_topic = false;
  double timeout_s = 10;
};

Result<void> run_sub(Context& ctx, const SubOptions& o) {
  // `aliot sub | head -1`: the reader leaving is the end of the stream, as for mosquitto_sub.
  ctx.out.closed_pipe_ends_stream = true;
  const auto start = mqtt::Clock::now();
  if (o.qos == 2) {
    return Error(Errc::usage, "QoS 2 is not supported: the platform has QoS 0 and 1 only");
  }
  if (o.qos < 0 || o.qos > 2) {
    return Error(Errc::usage, "QoS " + std::to_string(o.qos) + " is not valid: use 0 or 1");
  }
  ALIOT_TRY_ASSIGN(auto limits, check_stream_limits(o.count, o.wait_s, o.until));
  const std::optional<std::regex> until = std::move(limits);
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(o.device, ctx));
  std::vector<std::string> filters;
  for (const auto& t : o.topics) {
    std::string full = topic::expand(t, dc.identity.product_key, dc.identity.device_name);
    ALIOT_TRY(topic::validate(full, topic::Use::subscribe, dc.identity.product_key,
                              dc.identity.device_name));
    filters.push_back(std::move(full));
  }
  if (filters.size() > 100) {
    return Error(Errc::usage,
                 "more than 100 topics: the platform allows 100 subscriptions per device");
  }

  const bool bounded = o.count || o.wait_s || o.until;
  std::optional<mqtt::Deadline> deadline;
  if (o.wait_s) {
    deadline = start + std::chrono::milliseconds(static_cast<long>(*o.wait_s * 1000));
  }
  const auto op_timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  auto step_deadline = [&] {
    auto d = mqtt::after(op_timeout);
    return deadline ? std::min(d, *deadline) : d;
  };
  auto timeout_error = [&](const Error& e) -> Error {
    if (deadline && mqtt::Clock::now() >= *deadline) {
      return Error(Errc::timeout, "no message arrived within " + fmt_seconds(*o.wait_s) + " s",
                   "check the topic, and that someone publishes to it");
    }
    return e;
  };

  auto s = device_session(ctx);
  long received = 0;
  bool matched = false;
  bool reader_gone = false; // stdout refused a write (EPIPE: `| head -1` has what it wanted)
  s.on_message([&](const mqtt::Message& m) {
    if (reader_gone) {
      return;
    }
    ++received;
    bool written = true;
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["ts"] = rfc3339_now();
      j["topic"] = m.topic;
      j["qos"] = m.qos;
      put_payload(j, m.payload);
      written = ctx.out.line(j.dump());
    } else if (o.verbose_topic) {
      written = ctx.out.raw(m.topic + " " + m.payload + "\n");
    } else {
      written = ctx.out.raw(m.payload + "\n");
    }
    if (!written) {
      reader_gone = true;
      return;
    }
    if (until && std::regex_search(m.payload, *until)) {
      matched = true;
    }
  });

  ALIOT_TRY_ASSIGN(const auto params, connect_params(dc));
  if (auto c = s.connect(params, step_deadline()); !c) {
    if (c.error().code() == Errc::interrupted) {
      return ok();
    }
    return timeout_error(c.error());
  }
  if (auto r = s.subscribe(filters, o.qos, step_deadline()); !r) {
    if (r.error().code() == Errc::interrupted) {
      return ok();
    }
    return timeout_error(r.error());
  }
  ctx.out.info("subscribed to " + std::to_string(filters.size()) + " topic(s)");

  mqtt::RunOptions ro;
  ro.deadline = deadline;
  ro.reconnect = !bounded;
  auto r = s.run(ro, [&] { return reader_gone || matched || (o.count && received >= *o.count); });
  if (reader_gone) {
    // As mosquitto_sub: the reader went away (`| head -1`), so the subscriber's job is done.
    ctx.out.info("standard output closed: stopping");
    s.disconnect(mqtt::after(std::chrono::seconds(1)));
    return ok();
  }
  if (!r) {
    if (r.error().code() == Errc::interrupted) {
      return ok(); // a subscriber stopped by SIGINT/SIGTERM has done its job
    }
    if (r.error().code() == Errc::timeout) {
      if (!o.count && !until && received > 0) {
        // -W alone bounds the listening; what arrived within it is the result (spec/cli.md:
        // exit 6 only if nothing, or fewer than -C, arrived).
        s.disconnect(mqtt::after(std::chrono::seconds(1)));
        return ok();
      }
      std::string what = o.count ? "received " + std::to_string(received) + " of "
                                       + std::to_string(*o.count) + " message(s)"
                                 : (until ? "no message matched --until" : "nothing arrived");
      return Error(Errc::timeout, what + " within " + fmt_seconds(*o.wait_s) + " s");
    }
    return std::move(r).error();
  }
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  return ok();
}

} // namespace

void add_sub_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<SubOptions>();
  auto* cmd = parent.add_subcommand("sub", "Subscribe as the device and print what arrives");
  add_device_options(*cmd, opts->device, ctx);
  cmd->add_option(
         "-t,--topic", opts->topics,
         "Topic filter (repeatable; + and # as the platform allows; relative to /${pk}/${dn}/)")
      ->type_name("TOPIC")
      ->required();
  auto* qos = cmd->add_option("-q,--qos", opts->qos, "Subscription QoS 0 or 1")
                  ->type_name("QOS")
                  ->check(qos_validator());
  ctx.docs.completes_to(qos, {"0", "1"});
  cmd->add_option("-C,--count", opts->count, "Stop after N messages")->type_name("N");
  cmd->add_option("-W,--wait", opts->wait_s,
                  "Stop after SECONDS; exit 6 if nothing arrived (or fewer than -C, or no "
                  "payload matched --until)")
      ->type_name("SECONDS");
  cmd->add_option("--until", opts->until, "Stop (exit 0) at the first payload matching REGEX")
      ->type_name("REGEX");
  cmd->add_flag("--verbose-topic", opts->verbose_topic, "Print the topic before each payload");
  cmd->add_option("--timeout", opts->timeout_s,
                  "Seconds to wait for CONNACK and SUBACK (default 10)")
      ->type_name("SECONDS");
  ctx.docs.attach(
      cmd,
      {"Logs in as the device, subscribes, and prints each message as it arrives: the payload on "
       "a line (with --verbose-topic the topic first), or under -o json one line per message "
       "{\"ts\",\"topic\",\"qos\",\"payload\"} (\"payload_base64\" for payloads that are not "
       "UTF-8). Output is flushed after every message.\n\n"
       "Without -C, -W or --until it runs until SIGINT (exit 0), reconnecting with backoff when "
       "the connection drops; with any of them it never reconnects and ends within its deadline. "
       "A subscription the platform refuses (SUBACK 0x80) is exit 4.\n\n"
       "When standard output is closed by its reader (`aliot sub ... | head -1`), sub stops at "
       "the first write that fails and exits 0, as mosquitto_sub does.",
       {{"aliot sub --triplet device.json -t user/get", "Print what the cloud sends to the device"},
        {"aliot sub --triplet device.json -t user/get -C 1 -W 30 -o json",
         "Wait at most 30 s for one message, as JSON (exit 6 if none)"},
        {"aliot sub --triplet device.json -t user/get --until '\"status\":\"ok\"' -W 60",
         "Wait for a particular message in a CI job"}},
       {"aliot-pub", "aliot-connect"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_sub); });
}

} // namespace aliot::cli
