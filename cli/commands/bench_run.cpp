// `aliot bench`: one run, from the options to the exit code (the load itself is lib/src/bench).
#include "commands/bench.hpp"
#include "commands/bench_render.hpp"
#include "commands/device_session.hpp"

#include <aliot/topic.hpp>

#include <unistd.h>

#include <cstdlib>

namespace aliot::cli {

namespace {

Result<double> parse_rate(std::string text) {
  if (text.size() > 2 && text.substr(text.size() - 2) == "/s") {
    text.resize(text.size() - 2);
  }
  char* end = nullptr;
  const double r = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !(r >= 0) || r > 1e6) {
    return Error(Errc::usage, "--rate '" + text
                                  + "' is not a rate: write logins per second, "
                                    "e.g. 500 or 500/s (0: no limit)");
  }
  return r;
}

// Where a ProductKey's devices connect: flag > environment > profile, as every device command.
Result<MqttEndpoint> endpoint_for(Context& ctx, const BenchOptions& o, const std::string& pk) {
  ALIOT_TRY_ASSIGN(auto s, ctx.settings(device_sources(o.endpoint)));
  EndpointInput in;
  in.product_key = pk;
  in.region = s.text("region").value_or(k_default_region);
  in.instance = s.text("instance");
  in.host = s.text("mqtt_host");
  in.tcp = o.endpoint.tcp;
  in.ca_file = s.text("ca_file").value_or("");
  in.insecure = o.endpoint.insecure;
  in.port = o.endpoint.port;
  if (auto p = s.text("mqtt_port")) {
    ALIOT_TRY_ASSIGN(in.tls_port, parse_port(*p, "MQTT port"));
  }
  if (auto p = s.text("mqtt_tcp_port")) {
    ALIOT_TRY_ASSIGN(in.tcp_port, parse_port(*p, "MQTT TCP port"));
  }
  return resolve_mqtt_endpoint(in);
}

// The exit of a finished run: 0 within --max-fail/--max-loss, else the class of the failure.
Result<void> verdict(const BenchOptions& o, const bench::Snapshot& s) {
  if (s.failed > static_cast<std::uint64_t>(o.max_fail)) {
    const auto cause = s.first_failure.value_or(bench::Cause::network);
    const Errc code = cause == bench::Cause::auth      ? Errc::auth
                      : cause == bench::Cause::timeout ? Errc::timeout
                                                       : Errc::network;
    return Error(code,
                 std::to_string(s.failed) + " of " + std::to_string(s.devices)
                     + " devices could not log in (first failure: "
                     + std::string(bench::cause_name(cause)) + "), more than --max-fail "
                     + std::to_string(o.max_fail),
                 cause == bench::Cause::auth
                     ? "check the fleet file's secrets and that the devices exist on this instance"
                     : "check the endpoint (--host, --port, --tcp) and the server's limits");
  }
  const std::uint64_t lost = s.sent - std::min(s.sent, s.acked);
  if (o.mode == bench::Mode::pub && lost > static_cast<std::uint64_t>(o.max_loss)) {
    return Error(Errc::timeout, std::to_string(lost) + " of " + std::to_string(s.sent)
                                    + " messages were not acknowledged, more than --max-loss "
                                    + std::to_string(o.max_loss));
  }
  return ok();
}

} // namespace

Result<void> run_bench(Context& ctx, const BenchOptions& o) {
  ALIOT_TRY_ASSIGN(const double rate, parse_rate(o.rate));
  ALIOT_TRY(check_duration(o.timeout, "--timeout", std::chrono::milliseconds(100),
                           std::chrono::minutes(10)));
  bench::Options bo;
  bo.mode = o.mode;
  bo.rate = rate;
  bo.threads = o.threads;
  bo.keepalive = o.keepalive;
  if (o.keepalive < 30 || o.keepalive > 1200) {
    return Error(Errc::usage, "--keepalive " + std::to_string(o.keepalive)
                                  + " s is outside the platform's 30-1200 s");
  }
  ALIOT_TRY_ASSIGN(bo.method, sign::parse_method(o.sign_method.value_or("hmacsha256")));
  bo.connect_timeout = o.timeout.value;
  bo.hold = o.hold.value;
  bo.qos = o.qos == "1" ? 1 : 0;
  bo.interval = o.interval.value;
  bo.count = o.count;
  bo.duration = o.duration ? o.duration->value : std::chrono::milliseconds(0);
  bo.drain = o.drain.value;
  bo.stop_after = o.stop_after;
  bo.reply = o.reply;
  bo.reply_delay = o.delay.value;
  bo.interrupt = ctx.interrupted;
  bo.tls_resume = !o.no_tls_resume;
  if (o.mode == bench::Mode::pub) {
    bo.topic = o.topics.empty() ? "user/update" : o.topics.front();
    if (o.message && o.size) {
      return Error(Errc::usage, "give --size BYTES or -m TEMPLATE, not both");
    }
    if (o.message) {
      bo.payload_template = *o.message;
    }
    bo.size = o.size.value_or(0);
    ALIOT_TRY(check_payload_size(std::string(bo.size, 'x')));
    if (o.count < 0) {
      return Error(Errc::usage, "--count must be 0 (no limit) or more");
    }
    if (o.interval.value.count() <= 0) {
      return Error(Errc::usage, "--interval must be a positive duration");
    }
    const int limit = topic::upstream_rate_limit(bo.qos);
    const auto floor = std::chrono::milliseconds(1000 / limit + 1);
    if (bo.interval < floor && !o.no_limit) {
      ctx.out.warn("--interval " + fmt_duration(bo.interval) + " is over the platform's "
                   + std::to_string(limit) + " messages/s per device at QoS "
                   + std::to_string(bo.qos) + " (it drops the excess): publishing every "
                   + fmt_duration(floor) + " instead; --no-limit sends at the asked rate");
      bo.interval = floor;
    }
  } else {
    bo.topics = o.topics.empty() ? std::vector<std::string>{"user/get"} : o.topics;
  }
  ALIOT_TRY(ctx.check_secret_file(o.fleet, "fleet file " + o.fleet));
  ALIOT_TRY_ASSIGN(auto fleet, bench::load_fleet(o.fleet));
  if (o.devices) {
    if (*o.devices < 1) {
      return Error(Errc::usage, "-c must be at least 1");
    }
    if (static_cast<std::size_t>(*o.devices) > fleet.size()) {
      return Error(Errc::usage,
                   "-c " + std::to_string(*o.devices) + ": the fleet file " + o.fleet + " holds "
                       + std::to_string(fleet.size()) + " devices",
                   "register more (aliot register --names FILE --out " + o.fleet
                       + ") or ask for fewer");
    }
    fleet.resize(static_cast<std::size_t>(*o.devices));
  }
  bo.devices = std::move(fleet);
  if (o.endpoint.insecure) {
    ctx.out.warn(k_insecure_warning);
  }
  bo.endpoint_for = [&ctx, &o](const std::string& pk) {
    return endpoint_for(ctx, o, pk);
  };

  const bool tty = ::isatty(STDERR_FILENO) != 0 && !ctx.out.quiet;
  bench::Snapshot last;
  bool said_ready = false;
  auto on_tick = [&](const bench::Snapshot& s) {
    if (s.ready && !said_ready) {
      said_ready = true;
      if (tty) {
        ctx.out.status("\r\033[K");
      }
      nlohmann::ordered_json j;
      j["devices"] = s.devices;
      j["online"] = s.online;
      j["failed"] = s.failed;
      print_ready(ctx, j,
                  std::to_string(s.online) + " of " + std::to_string(s.devices)
                      + " devices online (" + std::to_string(s.failed) + " failed)");
    }
    if (o.interval_report && ctx.out.json()) {
      auto j = bench_summary_json(s, o.mode, bo.qos);
      nlohmann::ordered_json line;
      line["event"] = "interval";
      line["ts"] = rfc3339_now();
      for (const auto& [k, v] : j.items()) {
        line[k] = v;
      }
      ctx.out.line(line.dump());
    }
    if (tty) {
      ctx.out.status("\r\033[K" + bench_progress_line(s, last, o.mode));
    }
    last = s;
  };
  ALIOT_TRY_ASSIGN(auto s, bench::run(bo, on_tick));
  if (tty) {
    ctx.out.status("\r\033[K");
  }
  print_bench_summary(ctx, s, o.mode, bo.qos);
  if (ctx.is_interrupted()) {
    return Error(Errc::interrupted, "bench interrupted: the summary above counts the run so far");
  }
  return verdict(o, s);
}

} // namespace aliot::cli
