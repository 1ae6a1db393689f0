// `aliot rrpc serve`: be the device that answers RRPC (spec section 5, spec/cli.md).
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"
#include "render/flags.hpp"

#include <aliot/mqtt.hpp>
#include <aliot/rrpc.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct ServeOptions {
  DeviceFlags device;
  std::optional<std::string> reply;
  bool echo = false;
  std::optional<std::string> exec;
  std::vector<std::string> custom;
  std::optional<long> count;
  std::optional<Duration> wait;
  render::Flags render;
  Duration timeout = duration_of(std::chrono::seconds(10));
};

// Each request and reply: a JSON line, a text line `EVENT ID TOPIC PAYLOAD`, or (on a terminal,
// --pretty) the message rendered, marked with its direction and "request ID" / "reply ID".
void log_event(Context& ctx,
               const render::Renderer& renderer,
               const char* event,
               const std::string& id,
               const std::string& topic_name,
               const std::string* payload,
               const std::string* error) {
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["ts"] = rfc3339_now();
    j["event"] = event;
    j["id"] = id;
    j["topic"] = topic_name;
    if (payload != nullptr) {
      put_payload(j, *payload);
    }
    if (error != nullptr) {
      j["error"] = *error;
    }
    ctx.out.line(j.dump());
    return;
  }
  if (error != nullptr) {
    ctx.out.warn("rrpc " + id + ": " + *error);
    return;
  }
  if (renderer.options().mode == render::Mode::pretty && payload != nullptr) {
    render::Message m;
    m.topic = topic_name;
    m.payload = *payload;
    const bool request = std::string_view(event) == "request";
    m.direction = request ? render::Direction::cloud_to_device : render::Direction::device_to_cloud;
    m.note = std::string(event) + " " + id;
    ctx.out.raw(renderer.render(m));
    return;
  }
  ctx.out.raw(std::string(event) + " " + id + " " + topic_name + " "
              + (payload != nullptr ? *payload : "") + "\n");
}

Result<void> run_serve(Context& ctx, const ServeOptions& o) {
  const auto start = mqtt::Clock::now();
  const int modes = (o.reply ? 1 : 0) + (o.echo ? 1 : 0) + (o.exec ? 1 : 0);
  if (modes != 1) {
    return Error(Errc::usage, "give exactly one of --reply TEXT, --echo or --exec CMD");
  }
  if (o.count && *o.count < 1) {
    return Error(Errc::usage, "-C must be at least 1");
  }
  if (o.reply && o.reply->size() > rrpc::k_max_reply) {
    return Error(Errc::usage, "--reply is over the platform's limit of 256 KB");
  }
  if (o.wait && o.wait->value.count() <= 0) {
    return Error(Errc::usage, "-W must be a positive duration");
  }
  ALIOT_TRY(
      check_duration(o.timeout, "--timeout", std::chrono::milliseconds(1), std::chrono::hours(1)));
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(o.device, ctx));
  const std::string& pk = dc.identity.product_key;
  const std::string& dn = dc.identity.device_name;
  ALIOT_TRY_ASSIGN(auto filters, rrpc::serve_filters(pk, dn, o.custom));
  if (!o.custom.empty()) {
    dc.params.extra_options.emplace_back(rrpc::k_ext_option, rrpc::k_ext_custom_rrpc);
  }
  long served = 0;
  const auto timeout = o.timeout.value;
  std::optional<mqtt::Deadline> deadline;
  if (o.wait) {
    deadline = start + o.wait->value;
  }
  auto step_deadline = [&] {
    auto d = mqtt::after(timeout);
    return deadline ? std::min(d, *deadline) : d;
  };
  const auto nothing_in_time = [&] {
    std::string what = o.count ? "served " + std::to_string(served) + " of "
                                     + std::to_string(*o.count) + " request(s)"
                               : "no request arrived";
    return Error(Errc::timeout, what + " within " + fmt_duration(o.wait->value),
                 "check that the caller (aliot rrpc call, the backend) calls this device: " + pk
                     + "/" + dn);
  };
  const auto renderer = render::make(ctx, o.render, pk, dn);
  auto s = device_session(ctx);
  std::optional<Error> fatal;
  bool ready = false;
  // Once, after the SUBACK: a caller started after this line finds the device serving.
  auto say_ready = [&] {
    if (ready) {
      return;
    }
    ready = true;
    nlohmann::ordered_json j;
    j["product_key"] = pk;
    j["device_name"] = dn;
    j["topics"] = filters;
    j["qos"] = 0;
    print_ready(ctx, j,
                pk + "/" + dn + " serving RRPC on " + filters.front()
                    + (filters.size() > 1 ? " and custom topics" : ""));
  };
  s.on_message([&](const mqtt::Message& m) {
    say_ready(); // a request that came with the SUBACK is logged after the ready line
    const auto req = rrpc::parse_request(m.topic, pk, dn);
    if (!req) {
      ctx.out.debug("ignoring a message on " + m.topic);
      return;
    }
    const std::string& id = req->id;
    const std::string& reply_topic = req->reply_topic;
    ++served;
    log_event(ctx, renderer, "request", id, m.topic, &m.payload, nullptr);
    std::string answer;
    if (o.reply) {
      answer = *o.reply;
    } else if (o.echo) {
      answer = m.payload;
    } else {
      auto r = rrpc::run_command(*o.exec, m.payload, ctx.env, *req, m.topic);
      if (!r) {
        const std::string msg = "--exec: " + r.error().message();
        log_event(ctx, renderer, "error", id, m.topic, nullptr, &msg);
        return;
      }
      answer = std::move(*r);
    }
    auto p = s.publish(reply_topic, answer, 0, mqtt::after(timeout));
    if (!p) {
      if (p.error().code() != Errc::network) {
        fatal = p.error();
      }
      const std::string msg = "reply not sent: " + p.error().message();
      log_event(ctx, renderer, "error", id, reply_topic, nullptr, &msg);
      return;
    }
    log_event(ctx, renderer, "reply", id, reply_topic, &answer, nullptr);
  });
  ALIOT_TRY_ASSIGN(const auto params, connect_params(dc));
  // A step that fails at -W's deadline is "nothing arrived within -W" (as `sub -W`).
  auto failed = [&](const Error& e) -> Result<void> {
    if (e.code() == Errc::interrupted) {
      return ok();
    }
    if (deadline && mqtt::Clock::now() >= *deadline) {
      return nothing_in_time();
    }
    return e;
  };
  if (auto c = s.connect(params, step_deadline()); !c) {
    return failed(c.error());
  }
  if (auto g = s.subscribe(filters, 0, step_deadline()); !g) {
    return failed(g.error());
  }
  say_ready();
  if (ctx.out.json()) {
    // The ready line went to stdout; -v's stderr says it as well (text: the ready line did).
    ctx.out.info("serving RRPC on " + filters.front()
                 + (filters.size() > 1 ? " and custom topics" : ""));
  }
  mqtt::RunOptions ro;
  ro.reconnect = !o.count && !o.wait;
  ro.deadline = deadline;
  auto r = s.run(ro, [&] { return fatal.has_value() || (o.count && served >= *o.count); });
  if (fatal) {
    return *fatal;
  }
  if (!r && r.error().code() == Errc::timeout && deadline) {
    // -W alone bounds the serving: what was served within it is the result (as `sub -W`).
    if (served == 0 || (o.count && served < *o.count)) {
      return nothing_in_time();
    }
  } else if (!r && r.error().code() != Errc::interrupted) {
    return r;
  }
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  return ok();
}

} // namespace

void add_rrpc_serve_command(CLI::App& rrpc, Context& ctx) {
  auto opts = std::make_shared<ServeOptions>();
  auto* cmd = rrpc.add_subcommand("serve", "Be the device that answers RRPC requests");
  add_device_options(*cmd, opts->device, ctx);
  auto* reply =
      cmd->add_option("--reply", opts->reply, "Answer every request with TEXT")->type_name("TEXT");
  auto* echo = cmd->add_flag("--echo", opts->echo, "Answer with the request payload itself");
  auto* exec =
      cmd->add_option(
             "--exec", opts->exec,
             "Run CMD (sh -c) per request: request payload on its stdin, reply from its stdout, "
             "ALIOT_RRPC_ID and ALIOT_RRPC_TOPIC in its environment, the secrets' variables "
             "(ALIOT_DEVICE_SECRET, ...) left out")
          ->type_name("CMD");
  reply->excludes(echo)->excludes(exec);
  echo->excludes(exec);
  cmd->add_option("--custom", opts->custom,
                  "Also answer custom-topic RRPC for TOPIC (subscribes /ext/rrpc/+TOPIC, announces "
                  "ext=1; repeatable)")
      ->type_name("TOPIC");
  cmd->add_option("-C,--count", opts->count, "Stop after N requests")->type_name("N");
  render::add_flags(*cmd, opts->render, false);
  add_duration_option(*cmd, "-W,--wait", opts->wait,
                      "Stop after DURATION (30s, 2m; a bare number is seconds); exit 6 if no "
                      "request arrived (or fewer than -C)");
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "How long to wait for CONNACK, SUBACK and each reply's send (default 10s)");
  ctx.docs.attach(
      cmd,
      {"Logs in as the device, subscribes to /sys/${pk}/${dn}/rrpc/request/+ and answers each "
       "request "
       "on /sys/${pk}/${dn}/rrpc/response/${messageId} (QoS 0) with --reply TEXT, --echo, or the "
       "standard output of --exec CMD. A command that fails or runs past the platform's 8 s "
       "deadline "
       "is reported (no reply is sent, the cloud sees TIMEOUT) and the server keeps serving.\n\n"
       "Each request and reply is logged on stdout: text lines `request ID TOPIC PAYLOAD` and "
       "`reply ID TOPIC PAYLOAD` (on a terminal, or with --pretty, each request and reply in "
       "aliot sub's readable form, ↓ request and ↑ reply; --raw keeps the lines), or under "
       "-o json one line per event {\"ts\",\"event\":"
       "\"request\"|\"reply\"|\"error\",\"id\",\"topic\",\"payload\"|\"payload_base64\"|\"error\"}."
       " "
       "Once subscribed (after the SUBACK) it says so: under -o json the first line is "
       "{\"event\":\"ready\",\"ts\",\"product_key\",\"device_name\",\"topics\",\"qos\"}, in text "
       "one line `aliot: ready: ...` on stderr (not under --quiet); start the caller after it. "
       "Without -C or -W it runs until SIGINT (exit 0), reconnecting with backoff; -W bounds "
       "the run (exit 6 if no request, or fewer than -C, arrived within it).\n\n"
       "The platform allows one login per triplet: another process logging in with this "
       "device's triplet (an `aliot pub` in the same script) kicks the server off. Use one "
       "process per identity.",
       {{"aliot rrpc serve --triplet device.json --reply ok", "Answer every request with 'ok'"},
        {"aliot rrpc serve --triplet device.json --echo -C 1 -o json",
         "Echo one request, then exit"},
        {"aliot rrpc serve --triplet device.json --exec 'jq -c .params'",
         "Let a command compute each reply"},
        {"aliot rrpc serve --triplet device.json --custom user/get --echo",
         "Also answer custom-topic RRPC"}},
       {"aliot-rrpc-call", "aliot-sub"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_serve); });
}

} // namespace aliot::cli
