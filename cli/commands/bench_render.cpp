// `aliot bench`: what the run looks like on a terminal, in JSON Lines and in the summary.
#include "commands/bench_render.hpp"

#include <cstdio>

namespace aliot::cli {

namespace {

double ms(std::uint64_t us) {
  return static_cast<double>(us) / 1000.0;
}

std::string ms_text(std::uint64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f ms", ms(us));
  return buf;
}

nlohmann::ordered_json percentiles(const bench::Histogram& h) {
  nlohmann::ordered_json j;
  j["count"] = h.count();
  j["p50_ms"] = ms(h.percentile(50));
  j["p90_ms"] = ms(h.percentile(90));
  j["p99_ms"] = ms(h.percentile(99));
  j["p999_ms"] = ms(h.percentile(99.9));
  j["max_ms"] = ms(h.max());
  return j;
}

std::string latency_name(bench::Mode mode) {
  switch (mode) {
  case bench::Mode::pub: return "puback";
  case bench::Mode::sub: return "delivery";
  case bench::Mode::rrpc: return "request_delivery";
  case bench::Mode::conn: break;
  }
  return "";
}

std::uint64_t failures(const bench::Snapshot& s) {
  std::uint64_t n = 0;
  for (auto f : s.failures) {
    n += f;
  }
  return n;
}

} // namespace

nlohmann::ordered_json bench_summary_json(const bench::Snapshot& s, bench::Mode mode, int qos) {
  nlohmann::ordered_json j;
  j["elapsed_s"] = s.elapsed_s;
  j["devices"] = s.devices;
  j["online"] = s.online;
  j["connected"] = s.connected;
  j["failed"] = s.failed;
  nlohmann::ordered_json f;
  for (std::size_t c = 0; c < bench::k_causes; ++c) {
    f[std::string(bench::cause_name(static_cast<bench::Cause>(c)))] = s.failures[c];
  }
  j["failures"] = f;
  j["reconnects"] = s.reconnects;
  j["lost_connections"] = s.lost;
  j["tls_resumed"] = s.tls_resumed;
  j["connect"] = percentiles(s.connect_us);
  if (mode == bench::Mode::pub) {
    j["qos"] = qos;
    j["sent"] = s.sent;
    j["acked"] = s.acked;
    j["lost"] = s.sent - std::min(s.sent, s.acked);
    j["msgs_per_s"] = s.elapsed_s > 0 ? static_cast<double>(s.acked) / s.elapsed_s : 0.0;
  }
  if (mode == bench::Mode::sub || mode == bench::Mode::rrpc) {
    j["received"] = s.received;
  }
  if (mode == bench::Mode::rrpc) {
    j["answered"] = s.answered;
  }
  if (mode != bench::Mode::conn) {
    j[latency_name(mode)] = percentiles(s.latency_us);
  }
  return j;
}

std::string
bench_progress_line(const bench::Snapshot& s, const bench::Snapshot& last, bench::Mode mode) {
  const double dt = std::max(0.001, s.elapsed_s - last.elapsed_s);
  char buf[256];
  const double conn_rate = static_cast<double>(s.connected - last.connected) / dt;
  if (mode == bench::Mode::conn) {
    std::snprintf(buf, sizeof buf,
                  "%.0fs online %llu/%llu  %.0f conn/s  p50 %.1f ms p99 %.1f ms  "
                  "errors %llu",
                  s.elapsed_s, static_cast<unsigned long long>(s.online),
                  static_cast<unsigned long long>(s.devices), conn_rate,
                  ms(s.connect_us.percentile(50)), ms(s.connect_us.percentile(99)),
                  static_cast<unsigned long long>(failures(s)));
  } else {
    const std::uint64_t now_n = mode == bench::Mode::pub ? s.acked : s.received;
    const std::uint64_t last_n = mode == bench::Mode::pub ? last.acked : last.received;
    std::snprintf(buf, sizeof buf,
                  "%.0fs online %llu/%llu  %.0f msg/s  p50 %.1f ms p99 %.1f ms  "
                  "errors %llu",
                  s.elapsed_s, static_cast<unsigned long long>(s.online),
                  static_cast<unsigned long long>(s.devices),
                  static_cast<double>(now_n - last_n) / dt, ms(s.latency_us.percentile(50)),
                  ms(s.latency_us.percentile(99)), static_cast<unsigned long long>(failures(s)));
  }
  return buf;
}

void print_bench_summary(Context& ctx, const bench::Snapshot& s, bench::Mode mode, int qos) {
  if (ctx.out.json()) {
    auto j = bench_summary_json(s, mode, qos);
    nlohmann::ordered_json line;
    line["event"] = "summary";
    for (const auto& [k, v] : j.items()) {
      line[k] = v;
    }
    ctx.out.line(line.dump());
    return;
  }
  std::string fails;
  for (std::size_t c = 0; c < bench::k_causes; ++c) {
    fails += (c == 0 ? "" : ", ") + std::string(bench::cause_name(static_cast<bench::Cause>(c)))
             + " " + std::to_string(s.failures[c]);
  }
  const auto& h = s.connect_us;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f s", s.elapsed_s);
  ctx.out.fields(
      {{"elapsed", secs},
       {"devices", std::to_string(s.devices)},
       {"online", std::to_string(s.online)},
       {"connected", std::to_string(s.connected)},
       {"failed", std::to_string(s.failed) + " (" + fails + ")"},
       {"reconnects", std::to_string(s.reconnects)},
       {"connect p50/p99/max",
        ms_text(h.percentile(50)) + " / " + ms_text(h.percentile(99)) + " / " + ms_text(h.max())}});
  if (mode == bench::Mode::pub) {
    ctx.out.fields({{"sent", std::to_string(s.sent)},
                    {"acked", std::to_string(s.acked)},
                    {"lost", std::to_string(s.sent - std::min(s.sent, s.acked))}});
  } else if (mode != bench::Mode::conn) {
    ctx.out.fields({{"received", std::to_string(s.received)}});
    if (mode == bench::Mode::rrpc) {
      ctx.out.fields({{"answered", std::to_string(s.answered)}});
    }
  }
  if (mode != bench::Mode::conn) {
    const auto& l = s.latency_us;
    ctx.out.fields({{latency_name(mode) + " p50/p90/p99/p99.9/max",
                     ms_text(l.percentile(50)) + " / " + ms_text(l.percentile(90)) + " / "
                         + ms_text(l.percentile(99)) + " / " + ms_text(l.percentile(99.9)) + " / "
                         + ms_text(l.max())}});
  }
  (void)qos;
}

} // namespace aliot::cli
