// `aliot pub`: publish as the device (spec/cli.md "aliot pub").
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/mqtt.hpp>
#include <aliot/mqtt/publisher.hpp>
#include <aliot/topic.hpp>
#include <aliot/topic_classes.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

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
  double rate = 0; // messages per second; 0: as fast as the session takes them
  Duration timeout = duration_of(std::chrono::seconds(10));
  std::optional<std::string> topic_classes; // --topic-classes FILE
};

// --topic-classes: a publish topic of no class the product has is dropped by the platform after
// its PUBACK. One warning line, or under the global --strict a usage error before connecting.
Result<void>
check_topic_classes(Context& ctx, const PubOptions& o, const std::string& t, const Triplet& id) {
  if (!o.topic_classes) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto classes, topic::read_classes(*o.topic_classes));
  const auto c = topic::check_publish(classes, t, id.product_key, id.device_name);
  using V = topic::PublishCheck::Verdict;
  if (c.verdict == V::allowed || c.verdict == V::not_a_class_topic) {
    return ok();
  }
  if (c.verdict == V::subscribe_only && !ctx.globals.strict
      && !topic::subscribe_only_class(t, id.product_key, id.device_name).empty()) {
    return ok(); // run_pub's own warning for the platform's subscribe-only classes says it
  }
  const std::string what = c.verdict == V::no_class
                               ? "matches none of the " + std::to_string(classes.size())
                                     + " topic classes in " + *o.topic_classes
                               : "is in topic class " + c.matched
                                     + ", which devices may only subscribe to (" + *o.topic_classes
                                     + ")";
  const std::string hint =
      (c.nearest.empty() ? std::string() : "did you mean " + c.nearest + "? ")
      + "fix -t, or add the topic class to the product (console: Topic Categories)";
  const std::string msg = "topic " + t + " " + what
                          + ": the platform acknowledges a publish there (PUBACK) and drops it";
  if (ctx.globals.strict) {
    return Error(Errc::usage, msg + " (refused under --strict)", hint);
  }
  ctx.out.warn(msg + "; " + hint);
  return ok();
}

// The pause between two messages that --rate / --interval ask for.
std::chrono::microseconds pace_of(const PubOptions& o) {
  if (o.rate > 0) {
    return std::chrono::microseconds(static_cast<long long>(1e6 / o.rate));
  }
  return std::chrono::milliseconds(o.interval_ms);
}

constexpr std::size_t k_window = 100; // publishes outstanding at most: bounded memory

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
  if (o.rate < 0 || (o.rate > 0 && o.rate < 0.001)) {
    return Error(Errc::usage, "--rate must be a positive number of messages per second");
  }
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(o.device, ctx));
  const std::string t = topic::expand(o.topic, dc.identity.product_key, dc.identity.device_name);
  ALIOT_TRY(
      topic::validate(t, topic::Use::publish, dc.identity.product_key, dc.identity.device_name));
  ALIOT_TRY(check_topic_classes(ctx, o, t, dc.identity));
  // Warnings only: what the platform does with these is to drop messages silently, which a
  // PUBACK does not tell.
  if (const auto cls =
          topic::subscribe_only_class(t, dc.identity.product_key, dc.identity.device_name);
      !cls.empty()) {
    ctx.out.warn(t + " is subscribe-only for devices (topic class " + cls
                 + "): the platform acknowledges a publish there and drops it; devices publish on "
                   "/${productKey}/${deviceName}/user/update");
  }
  const auto pace = pace_of(o);
  const int limit = topic::upstream_rate_limit(o.qos);
  const bool over_limit = pace.count() == 0 || pace < std::chrono::microseconds(1'000'000 / limit);
  if (over_limit && ((!o.lines && o.repeat > limit) || (o.lines && pace.count() > 0))) {
    ctx.out.warn(fmt::format(
        "{} at QoS {} faster than {} messages/s, the platform's limit per device: it drops the "
        "excess silently; pace them with --rate {} (or --interval {})",
        o.lines ? std::string("sending lines") : std::to_string(o.repeat) + " messages", o.qos,
        limit, limit, (1000 + limit - 1) / limit));
  }
  std::string payload;
  if (!o.lines) {
    ALIOT_TRY_ASSIGN(auto p, read_payload(o.payload));
    payload = std::move(p);
  }

  ALIOT_TRY(
      check_duration(o.timeout, "--timeout", std::chrono::milliseconds(1), std::chrono::hours(1)));
  const auto timeout = o.timeout.value;
  auto s = device_session(ctx);
  ALIOT_TRY_ASSIGN(const auto params, connect_params(dc));
  ALIOT_TRY(s.connect(params, mqtt::after(timeout)));
  mqtt::StreamOptions so;
  so.topic = t;
  so.qos = o.qos;
  so.window = k_window;
  so.ack_timeout = timeout;
  so.pace = pace;
  so.settle_each = o.rate <= 0 && o.interval_ms > 0;
  auto count = o.lines ? mqtt::publish_lines(s, STDIN_FILENO, so)
                       : mqtt::publish_repeated(s, payload, o.repeat, so);
  if (!count) {
    if (count.error().code() == Errc::io) {
      return std::move(count).error().context("standard input");
    }
    return std::move(count).error();
  }
  s.disconnect(mqtt::after(std::chrono::seconds(2)));
  ctx.out.info("published " + std::to_string(*count) + " message(s) to " + t
               + (o.qos == 1 ? ", all acknowledged" : ""));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["topic"] = t;
    j["qos"] = o.qos;
    j["published"] = *count;
    j["acknowledged"] = o.qos == 1 ? *count : 0;
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
  auto* qos = cmd->add_option("-q,--qos", opts->qos,
                              "QoS 0 or 1 (the platform has no QoS 2); a PUBACK does not prove "
                              "delivery (see --topic-classes)")
                  ->type_name("QOS")
                  ->check(qos_validator());
  ctx.docs.completes_to(qos, {"0", "1"});
  auto* rep = cmd->add_option("--repeat", opts->repeat, "Publish the message N times (default 1)")
                  ->type_name("N");
  rep->excludes(l);
  auto* interval =
      cmd->add_option(
             "--interval", opts->interval_ms,
             "Milliseconds between messages (--repeat: after each one is sent; -l: between lines)")
          ->type_name("MS");
  cmd->add_option("--rate", opts->rate,
                  "Send at most N messages per second (--repeat and -l); the platform takes "
                  "30/s at QoS 0, 10/s at QoS 1")
      ->type_name("N")
      ->excludes(interval);
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "How long to wait for CONNACK and for the PUBACKs (default 10s)");
  auto* tc = cmd->add_option("--topic-classes", opts->topic_classes,
                             "The product's topic classes (QueryProductTopic's JSON, or one "
                             "topic template a line): warn when -t matches none (--strict: "
                             "refuse, exit 2)")
                 ->type_name("FILE");
  ctx.docs.kind(tc, ValueKind::file);
  ctx.docs.attach(
      cmd,
      {"Logs in as the device and publishes to a topic. QoS 1 waits for every PUBACK and the exit "
       "code says whether all were acknowledged. The payload limit (256 KB), the topic limits "
       "(128 bytes, no empty levels, no wildcards) and the device's namespace (/${pk}/${dn}/..., "
       "/sys/${pk}/${dn}/..., /ext/...) are checked before connecting (exit 2 naming the rule).\n\n"
       "-l streams standard input: each line is one message, published as soon as it is read, "
       "with a bounded number in flight, so it can sit at the end of a long-running pipe.\n\n"
       "The platform takes about 30 messages/s from a device at QoS 0 and 10/s at QoS 1 and drops "
       "the excess without telling: --repeat beyond that without a pace warns, and --rate N "
       "paces --repeat and -l. A publish on a topic devices may only subscribe to "
       "(/${pk}/${dn}/user/get, RRPC requests, broadcasts) warns too: it is acknowledged and "
       "dropped. Warnings never change the exit code.\n\n"
       "A PUBACK does not prove delivery: the platform acknowledges a QoS 1 publish on a topic "
       "the product has no topic class for (a mistyped -t user/updat) and drops it, as it drops "
       "the excess over its rate limit. --topic-classes FILE gives the product's topic classes: "
       "QueryProductTopic's JSON reply (or its Data list of {\"TopicShortName\",\"Operation\"}, "
       "Operation 0 publish, 1 subscribe, 2 both), or plain text, one template a line "
       "(/${productKey}/${deviceName}/user/update, or relative: user/update) optionally followed "
       "by pub, sub or all. A topic under /${pk}/${dn}/ that no class lets devices publish on "
       "then warns, naming the nearest class; with the global --strict it is refused before "
       "connecting (exit 2). System topics (/sys/..., /ext/...) are not topic classes and are "
       "not checked.",
       {{"aliot pub --triplet device.json -t user/update -m '{\"temp\":21.5}'",
         "Publish one JSON message on /${pk}/${dn}/user/update"},
        {"aliot pub --triplet device.json -t user/update -q 1 --repeat 10 --interval 1000 -m ping",
         "Ten acknowledged messages, one a second"},
        {"aliot pub --triplet device.json -t user/update --repeat 1000 --rate 25 -m ping",
         "A thousand messages paced under the platform's 30 messages/s"},
        {"tail -F /var/log/app.log | aliot pub --triplet device.json -t user/update -l",
         "Stream a log, one message per line"},
        {"aliot pub --triplet device.json -t user/update --hex 01020304", "Publish binary bytes"},
        {"aliot --strict pub --triplet device.json --topic-classes topics.json -t user/update -m x",
         "Refuse a topic the product has no topic class for"}},
       {"aliot-sub", "aliot-connect"}});
  cmd->callback([&ctx, opts, m, f, s, l, h, b] {
    if (m->count() + f->count() + s->count() + l->count() + h->count() + b->count() == 0) {
      throw CLI::RequiredError("a payload: one of -m, -f, -s, -l, --hex, --base64");
    }
    set_action(ctx, opts, run_pub);
  });
}

} // namespace aliot::cli
