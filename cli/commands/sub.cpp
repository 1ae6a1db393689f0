// `aliot sub`: subscribe as the device (spec/cli.md "aliot sub").
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"
#include "render/flags.hpp"
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
  std::optional<Duration> wait;
  std::optional<std::string> until;
  render::Flags render;
  Duration timeout = duration_of(std::chrono::seconds(10));
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
  const std::optional<double> wait_s =
      o.wait ? std::optional<double>(o.wait->seconds()) : std::nullopt;
  ALIOT_TRY_ASSIGN(auto limits, check_stream_limits(o.count, wait_s, o.until));
  ALIOT_TRY(
      check_duration(o.timeout, "--timeout", std::chrono::milliseconds(1), std::chrono::hours(1)));
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

  const bool bounded = o.count || o.wait || o.until;
  std::optional<mqtt::Deadline> deadline;
  if (o.wait) {
    deadline = start + o.wait->value;
  }
  const auto op_timeout = o.timeout.value;
  auto step_deadline = [&] {
    auto d = mqtt::after(op_timeout);
    return deadline ? std::min(d, *deadline) : d;
  };
  auto timeout_error = [&](const Error& e) -> Error {
    if (deadline && mqtt::Clock::now() >= *deadline) {
      return Error(Errc::timeout, "no message arrived within " + fmt_duration(o.wait->value),
                   "check the topic, and that someone publishes to it");
    }
    return e;
  };

  const auto renderer =
      render::make(ctx, o.render, dc.identity.product_key, dc.identity.device_name);
  auto s = device_session(ctx);
  long received = 0;
  bool matched = false;
  bool reader_gone = false; // stdout refused a write (EPIPE: `| head -1` has what it wanted)
  bool ready = false;
  // Once, after the first SUBACK: a script waits for this line before it publishes.
  auto say_ready = [&] {
    if (ready) {
      return;
    }
    ready = true;
    nlohmann::ordered_json j;
    j["product_key"] = dc.identity.product_key;
    j["device_name"] = dc.identity.device_name;
    j["topics"] = filters;
    j["qos"] = o.qos;
    std::string text = dc.identity.product_key + "/" + dc.identity.device_name + " subscribed to";
    for (const auto& f : filters) {
      text += " " + f;
    }
    text += " (QoS " + std::to_string(o.qos) + ")";
    if (!print_ready(ctx, j, text)) {
      reader_gone = true;
    }
  };
  s.on_message([&](const mqtt::Message& m) {
    say_ready(); // a message that came with the SUBACK is printed after the ready line
    if (reader_gone) {
      return;
    }
    ++received;
    render::Message rm;
    rm.topic = m.topic;
    rm.payload = m.payload;
    rm.qos = m.qos;
    rm.retained = m.retain;
    rm.mid = m.mid;
    rm.direction = render::Direction::cloud_to_device;
    const bool written = ctx.out.raw(renderer.render(rm));
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
  say_ready();
  if (ctx.out.json()) {
    // The ready line went to stdout; -v's stderr says it as well (text: the ready line did).
    ctx.out.info("subscribed to " + std::to_string(filters.size()) + " topic(s)");
  }

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
      return Error(Errc::timeout, what + " within " + fmt_duration(o.wait->value));
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
  add_duration_option(*cmd, "-W,--wait", opts->wait,
                      "Stop after DURATION (30s, 2m; a bare number is seconds); exit 6 if "
                      "nothing arrived (or fewer than -C, or no payload matched --until)");
  cmd->add_option("--until", opts->until, "Stop (exit 0) at the first payload matching REGEX")
      ->type_name("REGEX");
  render::add_flags(*cmd, opts->render);
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "How long to wait for CONNACK and SUBACK (default 10s)");
  ctx.docs.attach(
      cmd,
      {"Logs in as the device, subscribes, and prints each message as it arrives, flushed after "
       "every message.\n\n"
       "Piped (or with -o text, or --raw) it prints exactly what mosquitto_sub prints: the "
       "payload and a newline (nothing for an empty payload), with --verbose-topic what "
       "mosquitto_sub -v prints (`TOPIC PAYLOAD`, `TOPIC (null)` for an empty payload). Under "
       "-o json one line per message {\"ts\",\"topic\",\"qos\",\"payload\"} "
       "(\"payload_base64\" for payloads that are not UTF-8).\n\n"
       "On a terminal (or with --pretty) each message is shown for a person: the local time "
       "with milliseconds, ↓ (cloud to device), the QoS, the topic with this device's part as "
       "… (/PK/DN/user/get as /…/user/get, /sys/PK/DN/... as /sys/…/...), `retained`, and the "
       "payload: JSON objects and arrays indented and coloured, other text as it is, binary "
       "(not UTF-8, or control bytes) as a hex dump with its length; long lines are folded to "
       "the terminal's width, control characters shown escaped, and a payload is cut after "
       "16 KB (200 lines, 512 bytes of hex) with how much more there was. Colour is off with "
       "--no-color or NO_COLOR.\n\n"
       "-F FORMAT prints each message as mosquitto_sub -F does (and refuses what it refuses): "
       "%t topic, %p payload, %q QoS, %r retained (0/1), %l payload length, %m message id, "
       "%x/%X payload in hex, %I ISO 8601 local time, %U Unix time with nanoseconds, %j the "
       "message as JSON (payload as a string), %J the same with a JSON payload parsed "
       "(a warning when it is not JSON), @X strftime's %X of the local time and @N its "
       "nanoseconds, %%, @@, and the escapes \\n \\t \\r \\v \\a \\e \\0 \\\\; flags, width "
       "and precision (%-20t, %05l, %.10t) as mosquitto_sub has them. The MQTT 5 property letters "
       "(%A %C %D %E %F %P %R %S) print nothing (the platform speaks MQTT 3.1.1). Where aliot "
       "differs: a NUL in a payload is \\u0000 in %j (mosquitto_sub ends the string there); "
       "there is no --pretty for %j and no -N (each message ends with a newline).\n\n"
       "Once subscribed (after the SUBACK) it says so: under -o json the first line is "
       "{\"event\":\"ready\",\"ts\",\"product_key\",\"device_name\",\"topics\",\"qos\"}, in text "
       "one line `aliot: ready: ...` on stderr (not under --quiet). A script starts `aliot sub "
       "... &`, waits for that line, then publishes: nothing published after it is lost. "
       "The platform allows one login per triplet: a second process with the same triplet "
       "(`aliot pub` with the sub's triplet) kicks this one off, so use one process per "
       "identity.\n\n"
       "Without -C, -W or --until it runs until SIGINT (exit 0), reconnecting with backoff when "
       "the connection drops; with any of them it never reconnects and ends within its deadline. "
       "A subscription the platform refuses (SUBACK 0x80) is exit 4.\n\n"
       "When standard output is closed by its reader (`aliot sub ... | head -1`), sub stops at "
       "the first write that fails and exits 0, as mosquitto_sub does.",
       {{"aliot sub --triplet device.json -t user/get", "Print what the cloud sends to the device"},
        {"aliot sub --triplet device.json -t user/get -t /sys/${productKey}/${deviceName}/thing/# "
         "--verbose-topic | tee log.txt",
         "The topic and payload of each message, as mosquitto_sub -v prints them"},
        {"aliot sub --triplet device.json -t user/get -F '%I %t %q %l %p'",
         "Time, topic, QoS, length and payload on one line, as mosquitto_sub -F"},
        {"aliot sub --triplet device.json -t user/get --pretty --no-color | less",
         "The terminal's readable form into a pager"},
        {"aliot sub --triplet device.json -t user/get -C 1 -W 30 -o json",
         "Wait at most 30 s for one message, as JSON (exit 6 if none)"},
        {"aliot sub --triplet device.json -t user/get --until '\"status\":\"ok\"' -W 60",
         "Wait for a particular message in a CI job"}},
       {"aliot-pub", "aliot-connect"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_sub); });
}

} // namespace aliot::cli
