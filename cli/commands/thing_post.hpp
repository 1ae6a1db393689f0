// What `prop post` and `event post` share: params from K=V pairs, --params JSON or -f FILE, the
// device login, the post through lib's thing::post and the exit by the reply's code.
#pragma once

#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/thing.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace aliot::cli {

struct ThingPostFlags {
  DeviceFlags device;
  std::vector<std::string> pairs;
  std::optional<std::string> params;
  std::optional<std::string> file;
  bool no_ack = false;
  int qos = 0;
  double timeout_s = 10;
};

// -q, --timeout and the device options: what every request that waits for its reply takes.
inline void add_thing_request_options(CLI::App& cmd, ThingPostFlags& f, Context& ctx) {
  auto* qos = cmd.add_option("-q,--qos", f.qos, "QoS 0 or 1 of the post (default 0)")
                  ->type_name("QOS")
                  ->check(qos_validator());
  ctx.docs.completes_to(qos, {"0", "1"});
  cmd.add_option("--timeout", f.timeout_s,
                 "Seconds to wait for CONNACK, SUBACK and the reply (default 10)")
      ->type_name("SECONDS");
  add_device_options(cmd, f.device, ctx);
}

// --params JSON, -f FILE (also '-' for standard input), --no-ack, -q, --timeout, device options.
inline void add_thing_post_options(CLI::App& cmd, ThingPostFlags& f, Context& ctx) {
  cmd.add_option("--params", f.params, "The params as one JSON object (with K=V pairs: merged)")
      ->type_name("JSON");
  cmd.add_option("-f,--file", f.file, "Read the params object from FILE ('-': standard input)")
      ->type_name("FILE");
  cmd.add_flag("--no-ack", f.no_ack,
               "Fire and forget: sys.ack 0, exit once the message is written, no reply awaited");
  add_thing_request_options(cmd, f, ctx);
}

// The params object of the flags: the K=V pairs merged with --params or -f (at most one of
// those). No params at all is Errc::usage unless `empty_ok`.
inline Result<std::string> read_thing_params(const ThingPostFlags& f, bool empty_ok) {
  if (f.params && f.file) {
    return Error(Errc::usage, "give --params or -f, not both");
  }
  std::string params = "{}";
  if (!f.pairs.empty()) {
    ALIOT_TRY_ASSIGN(params, thing::params_from_pairs(f.pairs));
  }
  std::optional<std::string> whole;
  if (f.params) {
    ALIOT_TRY_ASSIGN(whole, thing::params_from_json(*f.params, "--params"));
  } else if (f.file) {
    PayloadFlags p;
    if (*f.file == "-") {
      p.stdin_all = true;
    } else {
      p.file = f.file;
    }
    ALIOT_TRY_ASSIGN(auto text, read_payload(p));
    ALIOT_TRY_ASSIGN(whole, thing::params_from_json(text, "-f " + *f.file));
  }
  if (whole) {
    ALIOT_TRY_ASSIGN(params, thing::merge_params(params, *whole));
  }
  if (params == "{}" && !empty_ok) {
    return Error(Errc::usage, "no params to post",
                 "give K=V pairs (Temp=21.5), --params JSON or -f FILE");
  }
  return params;
}

// Logs in, posts `method` on `topic`, waits for the reply (unless --no-ack) and exits by its code.
// Prints nothing in text on success (the reply's message with -v), or with `print_data` the
// reply's data as one line of JSON; under -o json one line {"id","topic","ack","code","message",
// "data"}.
inline Result<void> run_thing_post(Context& ctx,
                                   const ThingPostFlags& f,
                                   const std::function<std::string(const Triplet&)>& topic_of,
                                   const std::string& method,
                                   const std::string& params,
                                   const std::string& what,
                                   bool print_data = false) {
  if (f.timeout_s <= 0) {
    return Error(Errc::usage, "--timeout must be positive");
  }
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(f.device, ctx));
  const auto timeout = std::chrono::milliseconds(static_cast<long>(f.timeout_s * 1000));
  auto s = device_session(ctx);
  ALIOT_TRY_ASSIGN(const auto cp, connect_params(dc));
  ALIOT_TRY(s.connect(cp, mqtt::after(timeout)));
  thing::Request req;
  req.id = thing::new_id();
  req.method = method;
  req.params = params;
  req.ack = !f.no_ack;
  auto r = thing::post(s, topic_of(dc.identity), std::move(req), f.qos, mqtt::after(timeout));
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  if (!r) {
    if (r.error().code() == Errc::timeout) {
      return Error(Errc::timeout,
                   r.error().message() + " within " + fmt_seconds(f.timeout_s) + " s",
                   r.error().hint());
    }
    return std::move(r).error();
  }
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["id"] = r->request.id;
    j["topic"] = r->topic;
    j["ack"] = r->request.ack;
    if (r->reply) {
      j["code"] = r->reply->code;
      j["message"] = r->reply->message;
      j["data"] = nlohmann::ordered_json::parse(r->reply->data, nullptr, false);
      if (j["data"].is_discarded()) {
        j["data"] = nullptr;
      }
    }
    ctx.out.line(j.dump());
  }
  if (r->reply) {
    ctx.out.info("reply to id " + r->request.id + ": code " + std::to_string(r->reply->code) + " "
                 + enc::printable(r->reply->message));
    ALIOT_TRY(thing::check_reply(*r->reply, what));
    if (print_data && !ctx.out.json()) {
      // Untrusted: printed as JSON (control characters escaped), never as the bytes came.
      auto data = nlohmann::ordered_json::parse(r->reply->data, nullptr, false);
      ctx.out.line(data.is_discarded() ? std::string("{}") : data.dump());
    }
  }
  return ok();
}

} // namespace aliot::cli
