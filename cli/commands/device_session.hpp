// What `connect`, `pub`, `sub` and `rrpc serve` share: the MQTT login of a resolved device,
// reconnect reports on stderr, and the JSON shape of a message.
#pragma once

#include "context.hpp"
#include "options.hpp"

#include <aliot/encoding.hpp>
#include <aliot/endpoint.hpp>
#include <aliot/mqtt.hpp>
#include <aliot/sign.hpp>
#include <aliot/time.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace aliot::cli {

inline Result<mqtt::ConnectParams> connect_params(const DeviceConfig& dc) {
  ALIOT_TRY_ASSIGN(auto signed_cred, dc.credentials());
  const auto& cred = signed_cred;
  mqtt::ConnectParams p;
  p.endpoint = dc.endpoint;
  p.client_id = cred.client_id;
  p.username = cred.username;
  p.password = cred.password;
  p.keepalive = dc.keepalive;
  p.clean_session = dc.clean_session;
  return p;
}

// What a device logs in with: text rows, or under -o json one object with the keys host, port,
// tls, clientId, username and password (`aliot sign`, `aliot register --via mqtt --dry-run`).
inline void
print_mqtt_login(Context& ctx, const MqttEndpoint& ep, const sign::MqttCredentials& cred) {
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["host"] = ep.host;
    j["port"] = ep.port;
    j["tls"] = ep.tls;
    j["clientId"] = cred.client_id;
    j["username"] = cred.username;
    j["password"] = cred.password.reveal();
    ctx.out.line(j.dump());
    return;
  }
  ctx.out.fields({{"host", ep.host},
                  {"port", std::to_string(ep.port)},
                  {"tls", ep.tls ? "true" : "false"},
                  {"clientId", cred.client_id},
                  {"username", cred.username},
                  {"password", cred.password.reveal()}});
}

// A session that polls the interrupt flag and reports reconnects on stderr.
inline mqtt::Session device_session(Context& ctx) {
  mqtt::Session s(ctx.out.logger());
  s.set_interrupt(ctx.interrupted);
  s.on_event([&ctx](const mqtt::Event& e) {
    switch (e.kind) {
    case mqtt::Event::Kind::lost: ctx.out.warn(e.detail); break;
    case mqtt::Event::Kind::reconnecting:
      ctx.out.warn("reconnecting to " + e.detail + " in "
                   + std::to_string(static_cast<double>(e.delay.count()) / 1000.0).substr(0, 4)
                   + " s (attempt " + std::to_string(e.attempt) + ")");
      break;
    case mqtt::Event::Kind::connected:
      ctx.out.warn("reconnected to " + e.detail + " after " + std::to_string(e.attempt)
                   + " attempt(s)");
      break;
    }
  });
  return s;
}

// -q 0|1 with the platform's rule named for QoS 2.
inline CLI::Validator qos_validator() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        if (v == "0" || v == "1") {
          return {};
        }
        if (v == "2") {
          return "QoS 2 is not supported: the platform has QoS 0 and 1 only";
        }
        return "QoS '" + v + "' is not valid: use 0 or 1";
      },
      "0|1");
}

// 2 -> "2", 1.5 -> "1.5".
inline std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

// RFC 3339 UTC with milliseconds.
inline std::string rfc3339_now() {
  return utc_iso8601(std::chrono::system_clock::now(), true);
}

// `payload` for UTF-8 text, `payload_base64` otherwise.
inline void put_payload(nlohmann::ordered_json& j, const std::string& payload) {
  if (enc::is_valid_utf8(payload)) {
    j["payload"] = payload;
  } else {
    j["payload_base64"] = enc::base64_encode(payload);
  }
}

} // namespace aliot::cli
