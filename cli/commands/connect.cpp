// `aliot connect`: can this device get online, and if not, why (spec/cli.md "aliot connect").
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/config.hpp>
#include <aliot/encoding.hpp>
#include <aliot/mqtt.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

namespace aliot::cli {

namespace {

struct ConnectOptions {
  DeviceFlags device;
  std::optional<std::string> check_sub;
  std::optional<Duration> hold; // 0 = until SIGINT
  Duration timeout = duration_of(std::chrono::seconds(10));
};

class StageReport {
public:
  explicit StageReport(Context& ctx)
      : m_ctx(ctx) {}

  void begin() { m_start = mqtt::Clock::now(); }

  long elapsed_ms() const {
    return static_cast<long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(mqtt::Clock::now() - m_start)
            .count());
  }

  void
  pass(const std::string& stage, const std::string& detail, nlohmann::ordered_json extra = {}) {
    add(stage, true, detail, std::move(extra));
  }

  Error fail(const std::string& stage, Error e, nlohmann::ordered_json extra = {}) {
    add(stage, false, e.message(), std::move(extra));
    m_failed = true;
    return e;
  }

  nlohmann::ordered_json& stages() { return m_stages; }
  bool failed() const { return m_failed; }

private:
  void
  add(const std::string& stage, bool ok, const std::string& detail, nlohmann::ordered_json extra) {
    const long ms = elapsed_ms();
    if (m_ctx.out.json()) {
      nlohmann::ordered_json j;
      j["stage"] = stage;
      j["ok"] = ok;
      j["ms"] = ms;
      j["detail"] = detail;
      if (extra.is_object()) {
        for (auto& [k, v] : extra.items()) {
          j[k] = v;
        }
      }
      m_stages.push_back(std::move(j));
    } else {
      m_ctx.out.line(
          fmt::format("{:<8} {:<4} {:>5} ms  {}", stage, ok ? "ok" : "FAIL", ms,
                      enc::printable(detail))); // quotes the server's certificate and replies
    }
  }

  Context& m_ctx;
  mqtt::Clock::time_point m_start{};
  nlohmann::ordered_json m_stages = nlohmann::ordered_json::array();
  bool m_failed = false;
};

std::string short_name(const std::string& dn) {
  // the CN if there is one, else the whole name
  const auto p = dn.find("CN=");
  if (p == std::string::npos) {
    return dn;
  }
  const auto e = dn.find(',', p);
  return dn.substr(p + 3, e == std::string::npos ? std::string::npos : e - p - 3);
}

Result<void> stages(Context& ctx,
                    const ConnectOptions& o,
                    const DeviceConfig& dc,
                    StageReport& rep,
                    mqtt::Session& s) {
  const auto& ep = dc.endpoint;
  const auto timeout = o.timeout.value;
  if (ep.tls) { // a configuration error, before any stage touches the network
    ALIOT_TRY(config::check_ca_file(ep.ca_file));
  }

  rep.begin();
  auto dns = mqtt::probe_dns(ep.host, ep.port);
  if (!dns) {
    return rep.fail("dns", dns.error());
  }
  std::string addrs;
  for (const auto& a : dns->addresses) {
    addrs += (addrs.empty() ? "" : ", ") + a;
  }
  rep.pass("dns", ep.host + " -> " + addrs, {{"addresses", dns->addresses}});

  rep.begin();
  auto tcp = mqtt::probe_tcp(*dns, ep.port, mqtt::after(timeout));
  if (!tcp) {
    return rep.fail("tcp", tcp.error());
  }
  rep.pass("tcp", fmt::format("connected to {} port {}", tcp->address, ep.port),
           {{"address", tcp->address}, {"port", ep.port}});

  if (ep.tls) {
    rep.begin();
    mqtt::TlsResult info;
    auto tls =
        mqtt::probe_tls(tcp->fd, ep.host, ep.ca_file, ep.insecure, mqtt::after(timeout), &info);
    ::close(tcp->fd);
    nlohmann::ordered_json extra;
    extra["version"] = info.version;
    extra["verified"] = info.verified;
    extra["hostname_ok"] = info.hostname_ok;
    auto chain = nlohmann::ordered_json::array();
    for (const auto& c : info.chain) {
      chain.push_back({{"subject", c.subject},
                       {"issuer", c.issuer},
                       {"not_before", c.not_before},
                       {"not_after", c.not_after},
                       {"days_left", c.days_left},
                       {"key", c.key},
                       {"signature_algorithm", c.signature_algorithm}});
    }
    if (!info.chain.empty()) { // what a device's TLS stack must support
      extra["key"] = info.chain.front().key;
      extra["signature_algorithm"] = info.chain.front().signature_algorithm;
    }
    extra["chain"] = chain;
    if (!tls) {
      return rep.fail("tls", tls.error(), extra);
    }
    std::string detail = info.version;
    if (!info.chain.empty()) {
      const auto& leaf = info.chain.front();
      detail += fmt::format(", {} ({} key, {}) issued by {}, valid until {} ({} days left)",
                            short_name(leaf.subject), leaf.key, leaf.signature_algorithm,
                            short_name(info.chain.back().issuer), leaf.not_after, leaf.days_left);
    }
    detail +=
        info.verified ? ", chain verified" : ", chain NOT verified (" + info.verify_error + ")";
    detail += info.hostname_ok ? ", host name ok" : ", host name does NOT match";
    if (ep.insecure) {
      detail += " (--insecure)";
    }
    rep.pass("tls", detail, extra);
    if (!info.chain.empty() && info.chain.front().days_left < 14) {
      ctx.out.warn(
          fmt::format("the server certificate expires in {} days", info.chain.front().days_left));
    }
  } else {
    ::close(tcp->fd);
  }

  rep.begin();
  const auto signed_params = connect_params(dc);
  if (!signed_params) {
    return rep.fail("mqtt", signed_params.error());
  }
  const auto& params = *signed_params;
  auto c = s.connect(params, mqtt::after(timeout));
  if (!c) {
    return rep.fail("mqtt", c.error(), {{"connack", s.last_connack()}});
  }
  rep.pass("mqtt",
           fmt::format("CONNACK 0 (accepted), client id {}, keepalive {} s", params.client_id,
                       params.keepalive),
           {{"connack", 0}, {"client_id", params.client_id}, {"username", params.username}});

  if (o.check_sub) {
    rep.begin();
    const std::string t =
        topic::expand(*o.check_sub, dc.identity.product_key, dc.identity.device_name);
    auto g = s.subscribe({t}, 0, mqtt::after(timeout));
    if (!g) {
      return rep.fail("sub", g.error(), {{"topic", t}});
    }
    rep.pass("sub", fmt::format("{} granted QoS {}", t, g->front()),
             {{"topic", t}, {"granted_qos", g->front()}});
  }
  return ok();
}

Result<void> run_connect(Context& ctx, const ConnectOptions& o) {
  ALIOT_TRY(
      check_duration(o.timeout, "--timeout", std::chrono::milliseconds(1), std::chrono::hours(1)));
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(o.device, ctx));
  if (o.check_sub) {
    const std::string t =
        topic::expand(*o.check_sub, dc.identity.product_key, dc.identity.device_name);
    ALIOT_TRY(topic::validate(t, topic::Use::subscribe, dc.identity.product_key,
                              dc.identity.device_name));
  }
  StageReport rep(ctx);
  auto s = device_session(ctx);
  auto r = stages(ctx, o, dc, rep, s);
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["host"] = dc.endpoint.host;
    j["port"] = dc.endpoint.port;
    j["tls"] = dc.endpoint.tls;
    j["ok"] = r.has_value();
    j["stages"] = rep.stages();
    ctx.out.line(j.dump());
  }
  if (!r) {
    if (r.error().code() == Errc::interrupted) {
      return Error(Errc::interrupted, "interrupted");
    }
    return r;
  }
  if (o.hold) {
    const bool bounded = o.hold->value.count() > 0;
    nlohmann::ordered_json j;
    j["product_key"] = dc.identity.product_key;
    j["device_name"] = dc.identity.device_name;
    if (o.check_sub) {
      j["topics"] = nlohmann::ordered_json::array(
          {topic::expand(*o.check_sub, dc.identity.product_key, dc.identity.device_name)});
    }
    j["hold"] = bounded ? nlohmann::ordered_json(fmt_duration(o.hold->value)) : nullptr;
    print_ready(ctx, j,
                dc.identity.product_key + "/" + dc.identity.device_name + " online; holding "
                    + (bounded ? "for " + fmt_duration(o.hold->value) : "until interrupted"));
    mqtt::RunOptions ro;
    ro.reconnect = true;
    if (bounded) {
      ro.deadline = mqtt::after(o.hold->value);
    }
    auto h = s.run(ro);
    if (!h && h.error().code() != Errc::interrupted && h.error().code() != Errc::timeout) {
      return h;
    }
  }
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  return ok();
}

} // namespace

void add_connect_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<ConnectOptions>();
  auto* cmd =
      parent.add_subcommand("connect", "Check stage by stage whether the device can get online");
  add_device_options(*cmd, opts->device, ctx);
  cmd->add_option("--check-sub", opts->check_sub,
                  "After CONNACK, subscribe to TOPIC and check the SUBACK")
      ->type_name("TOPIC");
  add_duration_option(*cmd, "--hold", opts->hold,
                      "Stay online for DURATION (0 or no value: until SIGINT; 30s, 2m, a bare "
                      "number is seconds), reconnecting with backoff; says `ready` once online, "
                      "reconnects are reported on stderr")
      ->expected(0, 1)
      ->default_str("0");
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "How long each stage may take (default 10s)");
  ctx.docs.attach(
      cmd,
      {"Runs each stage of getting online and reports it with its duration: dns (resolving the "
       "host), tcp (connecting to the port), tls (handshake, certificate chain, host name, "
       "validity and days left; skipped with --tcp), mqtt (CONNECT and CONNACK) and, with "
       "--check-sub, sub (SUBSCRIBE and SUBACK). It stops at the first failure, explains it in "
       "the platform's terms, and exits with that stage's code: 5 for dns, tcp and tls, 4 for a "
       "refused CONNACK or SUBACK, 6 when a stage times out.\n\n"
       "Text output is one line per stage: name, ok or FAIL, milliseconds, details. Under -o json "
       "one object "
       "{\"host\",\"port\",\"tls\",\"ok\",\"stages\":[{\"stage\",\"ok\",\"ms\",\"detail\",...}]} "
       "is printed when the stages are done (also on failure).",
       {{"aliot connect --triplet device.json", "Check that the device can log in"},
        {"aliot connect --triplet device.json --check-sub user/get -o json",
         "Also check a subscription; the stages as JSON"},
        {"aliot connect --triplet device.json --port 8883 --ca-file aliyun-iot-root-ca.pem",
         "Use the 8883 port, whose chain is anchored at Aliyun IoT Root CA"},
        {"aliot connect --triplet device.json --hold", "Stay online until Ctrl-C"}},
       {"aliot-sign", "aliot-pub", "aliot-sub"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_connect); });
}

} // namespace aliot::cli
