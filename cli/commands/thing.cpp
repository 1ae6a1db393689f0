// `aliot thing serve`: be the device that answers the cloud's thing-model requests (property/set,
// services async and sync); the loop is lib's thing::serve.
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"
#include "render/flags.hpp"
#include "stream_limits.hpp"

#include <aliot/rrpc.hpp>
#include <aliot/thing.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <map>

namespace aliot::cli {

namespace {

struct ServeFlags {
  DeviceFlags device;
  std::vector<std::string> replies;
  std::vector<std::string> execs;
  bool no_echo = false;
  std::optional<long> count;
  std::optional<double> wait_s;
  double timeout_s = 10;
  render::Flags render;
};

struct Handler {
  std::optional<thing::Answer> answer;
  std::string command;
};

// NAME=VALUE of --reply/--exec: NAME a service identifier, property/set or '*'.
Result<std::pair<std::string, std::string>> split_handler(const std::string& s,
                                                          const char* option) {
  const auto eq = s.find('=');
  if (eq == std::string::npos) {
    return Error(Errc::usage, std::string(option) + " '" + s + "' is not NAME=VALUE",
                 "NAME is a service identifier, property/set, or * for every other service");
  }
  std::string name = s.substr(0, eq);
  if (name != "*" && name != thing::k_property_set) {
    ALIOT_TRY(thing::check_identifier(name, "service"));
  }
  return std::make_pair(std::move(name), s.substr(eq + 1));
}

Result<std::map<std::string, Handler>> handlers_of(const ServeFlags& f) {
  std::map<std::string, Handler> out;
  for (const auto& r : f.replies) {
    ALIOT_TRY_ASSIGN(auto kv, split_handler(r, "--reply"));
    ALIOT_TRY_ASSIGN(auto a, thing::answer_from_json(kv.second, "--reply " + kv.first));
    if (out.count(kv.first) != 0) {
      return Error(Errc::usage, kv.first + " has two handlers");
    }
    out[kv.first].answer = std::move(a);
  }
  for (const auto& e : f.execs) {
    ALIOT_TRY_ASSIGN(auto kv, split_handler(e, "--exec"));
    if (out.count(kv.first) != 0) {
      return Error(Errc::usage, kv.first + " has two handlers");
    }
    out[kv.first].command = kv.second;
  }
  return out;
}

nlohmann::ordered_json json_or_text(const std::string& text) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::ordered_json(enc::printable(text)) : j;
}

void report(Context& ctx, const render::Renderer& renderer, const thing::ServeEvent& e) {
  using K = thing::ServeEvent::Kind;
  const char* names[] = {"ready", "request", "reply", "echo", "error"};
  const auto* req = e.request;
  if (e.kind == K::ready) {
    // The one readiness line every waiting command prints (cli/options print_ready).
    auto topics = nlohmann::ordered_json::array();
    for (std::size_t pos = 0; pos <= e.topic.size();) {
      const auto comma = e.topic.find(',', pos);
      topics.push_back(e.topic.substr(pos, comma - pos));
      pos = comma == std::string::npos ? e.topic.size() + 1 : comma + 1;
    }
    nlohmann::ordered_json fields;
    fields["topics"] = topics;
    print_ready(ctx, fields, "serving the thing model on " + e.topic);
    return;
  }
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["ts"] = rfc3339_now();
    j["event"] = names[static_cast<int>(e.kind)];
    if (req != nullptr) {
      j["name"] = req->name;
      j["sync"] = req->sync;
      j["id"] = req->id;
    }
    j["topic"] = e.topic;
    if (e.kind == K::request) {
      j["params"] = json_or_text(req->params);
    } else if (e.kind == K::reply || e.kind == K::echo) {
      j["payload"] = json_or_text(e.payload);
    } else if (e.kind == K::error) {
      j["error"] = e.error;
    }
    ctx.out.line(j.dump());
    return;
  }
  if (renderer.options().mode == render::Mode::pretty && e.kind != K::error) {
    // On a terminal: the request's params (↓) and what was published back (↑), readable.
    render::Message m;
    m.topic = e.topic;
    m.payload = e.kind == K::request ? req->params : e.payload;
    m.direction = e.kind == K::request ? render::Direction::cloud_to_device
                                       : render::Direction::device_to_cloud;
    m.note = names[static_cast<int>(e.kind)];
    if (e.kind == K::request) {
      m.note += " " + req->name + " " + req->id + (req->sync ? " sync" : " async");
    }
    ctx.out.raw(renderer.render(m));
    return;
  }
  switch (e.kind) {
  case K::ready: break; // printed above
  case K::request:
    ctx.out.line("request " + req->name + " " + enc::printable(req->id) + " "
                 + (req->sync ? "sync " : "async ") + req->params);
    break;
  case K::reply:
  case K::echo:
    ctx.out.line(std::string(names[static_cast<int>(e.kind)]) + " " + e.topic + " " + e.payload);
    break;
  case K::error:
    ctx.out.warn(
        (req != nullptr ? req->name + " " + enc::printable(req->id) + ": " : e.topic + ": ")
        + e.error);
    break;
  }
}

Result<void> run_serve(Context& ctx, const ServeFlags& f) {
  ALIOT_TRY(check_stream_limits(f.count, f.wait_s, std::nullopt));
  ALIOT_TRY_ASSIGN(auto handlers, handlers_of(f));
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(f.device, ctx));
  const auto start = mqtt::Clock::now();
  const auto timeout = std::chrono::milliseconds(static_cast<long>(f.timeout_s * 1000));
  thing::ServeOptions so;
  so.echo_property_set = !f.no_echo;
  so.count = f.count;
  so.publish_timeout = timeout;
  so.run.reconnect = !f.count && !f.wait_s;
  if (f.wait_s) {
    so.run.deadline = start + std::chrono::milliseconds(static_cast<long>(*f.wait_s * 1000));
  }
  const auto renderer =
      render::make(ctx, f.render, dc.identity.product_key, dc.identity.device_name);
  so.report = [&ctx, &renderer](const thing::ServeEvent& e) {
    report(ctx, renderer, e);
  };
  so.handle = [&](const thing::Incoming& req) -> Result<thing::Answer> {
    auto it = handlers.find(req.name);
    if (it == handlers.end() && req.name != thing::k_property_set) {
      it = handlers.find("*");
    }
    if (it == handlers.end()) {
      if (req.name == thing::k_property_set) {
        return thing::Answer{}; // applied: 200, and echoed as a property post
      }
      return Error(Errc::usage, "no --reply or --exec for service " + req.name + ": not answered");
    }
    if (it->second.answer) {
      return *it->second.answer;
    }
    auto a = thing::run_handler(it->second.command, req, ctx.env, rrpc::k_deadline);
    if (!a) {
      return a.error().context("--exec");
    }
    return a;
  };
  auto s = device_session(ctx);
  ALIOT_TRY_ASSIGN(const auto cp, connect_params(dc));
  ALIOT_TRY(s.connect(cp, mqtt::after(timeout)));
  long served = 0;
  auto r = thing::serve(s, dc.identity.product_key, dc.identity.device_name, so,
                        mqtt::after(timeout), &served);
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  if (!r) {
    if (r.error().code() == Errc::interrupted) {
      return ok();
    }
    if (r.error().code() == Errc::timeout && so.run.deadline
        && mqtt::Clock::now() >= *so.run.deadline) {
      if (!f.count && served > 0) {
        return ok();
      }
      return Error(Errc::timeout, (f.count ? "served " + std::to_string(served) + " of "
                                                 + std::to_string(*f.count) + " request(s)"
                                           : std::string("no request arrived"))
                                      + " within " + fmt_seconds(*f.wait_s) + " s");
    }
    return r;
  }
  return ok();
}

} // namespace

void add_thing_command(CLI::App& parent, Context& ctx) {
  auto* thing_cmd =
      parent.add_subcommand("thing", "Be a thing-model device that answers the cloud");
  thing_cmd->require_subcommand(1);
  ctx.docs.attach(thing_cmd, {"The device's side of the cloud's thing-model requests.",
                              {{"aliot thing serve --reply 'add={\"z\":3}'", "Answer a service"}},
                              {"aliot-prop", "aliot-cloud"}});
  auto opts = std::make_shared<ServeFlags>();
  auto* cmd = thing_cmd->add_subcommand(
      "serve", "Answer property/set and service calls (async and sync) as the device");
  add_device_options(*cmd, opts->device, ctx);
  cmd->add_option("--reply", opts->replies,
                  "Answer service NAME (* for every other service, property/set for property "
                  "sets) with JSON: the data, or {\"code\",\"data\",\"message\"} (repeatable)")
      ->type_name("NAME=JSON");
  cmd->add_option("--exec", opts->execs,
                  "Answer NAME by running CMD (sh -c): the request on its stdin, the answer JSON "
                  "from its stdout; ALIOT_THING_NAME, ALIOT_THING_ID, ALIOT_THING_SYNC set, the "
                  "secrets' variables left out (repeatable)")
      ->type_name("NAME=CMD");
  cmd->add_flag("--no-echo", opts->no_echo,
                "Do not post the values of an accepted property/set back as properties");
  cmd->add_option("-C,--count", opts->count, "Stop after N requests")->type_name("N");
  render::add_flags(*cmd, opts->render, false);
  cmd->add_option("-W,--wait", opts->wait_s,
                  "Stop after SECONDS; exit 6 if no request arrived (or fewer than -C)")
      ->type_name("SECONDS");
  cmd->add_option("--timeout", opts->timeout_s,
                  "Seconds to wait for CONNACK, SUBACK and each reply's write (default 10)")
      ->type_name("SECONDS");
  ctx.docs.attach(
      cmd,
      {"Logs in as the device, subscribes to /sys/${pk}/${dn}/thing/service/property/set, "
       "/sys/${pk}/${dn}/thing/service/+ (async services) and /sys/${pk}/${dn}/rrpc/request/+ "
       "(sync services, which the platform sends over RRPC), and answers each request with "
       "{\"id\",\"code\",\"data\",\"message\",\"version\"} on the request topic's _reply (async) "
       "or /sys/${pk}/${dn}/rrpc/response/${messageId} (sync).\n\n"
       "A property/set is applied: answered with code 200 and its values posted back as the "
       "device's properties (thing.event.property.post, sys.ack 0; --no-echo leaves that out), "
       "unless --reply or --exec property/set=... answers it. A service is answered by its "
       "--reply NAME=JSON or --exec NAME=CMD, else by the '*' one; a service without either, "
       "or a command that fails or runs past the platform's 8 s deadline, is reported and not "
       "answered (the cloud sees a timeout).\n\n"
       "Once subscribed it says so: under -o json the first line is "
       "{\"event\":\"ready\",\"ts\",\"topics\"}, in text one line on stderr. Each request, reply "
       "and echo is a line on stdout: text `request NAME ID sync|async PARAMS`, `reply TOPIC "
       "PAYLOAD`, `echo TOPIC PAYLOAD` (on a terminal, or with --pretty, each in aliot sub's "
       "readable form: ↓ the request's params, ↑ what was published back; --raw keeps the "
       "lines); under -o json {\"ts\",\"event\",\"name\",\"sync\",\"id\","
       "\"topic\",\"params\"|\"payload\"|\"error\"}. Without -C or -W it runs until SIGINT "
       "(exit 0), reconnecting with backoff.",
       {{"aliot thing serve --triplet device.json", "Accept every property set"},
        {"aliot thing serve --reply 'add={\"z\":3}' --exec 'reboot=./reboot.sh' -o json",
         "Answer two services"},
        {"aliot thing serve --exec 'property/set=./apply.sh' -C 1",
         "Let a command apply one property set"}},
       {"aliot-cloud", "aliot-rrpc"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_serve); });
}

} // namespace aliot::cli
