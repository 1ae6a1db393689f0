// A registration run's settings: the resolved configuration plus the run's own choices.
#include <aliot/dynreg_batch.hpp>
#include <aliot/endpoint.hpp>

#include <algorithm>

namespace aliot::dynreg {

std::string default_quarantine_dir(const std::optional<std::string>& xdg_state_home,
                                   const std::optional<std::string>& home) {
  if (xdg_state_home && !xdg_state_home->empty() && xdg_state_home->front() == '/') {
    return *xdg_state_home + "/aliot/quarantine";
  }
  if (home && !home->empty() && home->front() == '/') {
    return *home + "/.local/state/aliot/quarantine";
  }
  return {};
}

Result<Settings> settings_from(const config::Settings& cfg, const Choices& c, const Logger& log) {
  if (!c.preregistered && c.via != Via::mqtt) {
    return Error(Errc::usage, "--no-preregister needs --via mqtt",
                 "HTTPS registration supports pre-registered devices only");
  }
  if (c.securemode != 2 && c.securemode != -2) {
    return Error(Errc::usage, "--securemode must be 2 or -2");
  }
  if (c.jobs < 1 || c.jobs > 64) {
    return Error(Errc::usage, "-j " + std::to_string(c.jobs) + " is outside 1-64");
  }
  if (c.timeout < std::chrono::milliseconds(100)) {
    return Error(Errc::usage, "--timeout must be at least 100 ms");
  }
  if (c.random && c.random->empty()) {
    return Error(Errc::usage, "--random must not be empty");
  }
  Settings d;
  d.product_key = cfg.text("product_key").value_or("");
  if (d.product_key.empty()) {
    return Error(Errc::config, "no ProductKey", "give -k PK, ALIOT_PRODUCT_KEY or a profile");
  }
  ALIOT_TRY(validate_product_key(d.product_key));
  d.product_secret = cfg.secret("product_secret");
  if (d.product_secret.empty()) {
    return Error(Errc::config, "no ProductSecret for " + d.product_key,
                 "set ALIOT_PRODUCT_SECRET, give --product-secret-file FILE, or put "
                 "product_secret in a profile");
  }
  ALIOT_TRY_ASSIGN(auto method, sign::parse_method(cfg.text("sign_method").value_or("hmacsha256")));
  d.method = method;
  d.random = c.random;
  d.via = c.via;
  const std::string region = cfg.text("region").value_or(k_default_region);
  ALIOT_TRY(validate_region(region));
  d.auth_endpoint = cfg.text("auth_endpoint").value_or(default_auth_endpoint(region));
  if (c.via == Via::https) {
    ALIOT_TRY_ASSIGN(auto clear, check_secret_endpoint(d.auth_endpoint, c.allow_insecure_http));
    if (clear) {
      log.warn(*clear);
    }
  }
  const auto timeout_ms = static_cast<long>(c.timeout.count());
  d.http.ca_file = cfg.text("ca_file").value_or("");
  d.http.insecure = c.insecure;
  // Only the second signal abandons a request: after the first, one already sent is finished
  // (bounded by the timeout) so the secret the platform issues for it is kept.
  d.http.stop = c.abandon;
  d.http.timeout_ms = timeout_ms;
  d.http.connect_timeout_ms = std::min(timeout_ms, 10000L);
  if (c.insecure) {
    log.warn(k_insecure_warning);
  }
  d.mqtt.preregistered = c.preregistered;
  d.mqtt.instance_id = cfg.text("instance");
  d.mqtt.client_id = c.client_id.value_or("");
  d.mqtt.securemode = c.securemode;
  d.mqtt.timeout = c.timeout;
  d.mqtt.interrupt = c.abandon;
  d.mqtt.quarantine_dir = c.quarantine_dir;
  d.quarantine_dir = c.quarantine_dir;
  if (c.via == Via::mqtt) {
    EndpointInput in;
    in.product_key = d.product_key;
    in.region = region;
    in.instance = d.mqtt.instance_id;
    in.host = cfg.text("mqtt_host");
    in.ca_file = d.http.ca_file;
    in.insecure = c.insecure;
    if (auto p = cfg.text("mqtt_port")) {
      ALIOT_TRY_ASSIGN(auto port, parse_port(*p, "MQTT port"));
      in.tls_port = port;
    }
    ALIOT_TRY_ASSIGN(auto ep, resolve_mqtt_endpoint(in));
    d.mqtt.endpoint = std::move(ep);
  }
  return d;
}

} // namespace aliot::dynreg
