// Where a device connects (spec section 1) and how TLS is trusted.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <string>

namespace aliot {

inline constexpr const char* k_default_region = "cn-shanghai";
inline constexpr int k_default_mqtt_port = 1883;

// The one description of an MQTT server: resolved from settings, printed by `aliot sign`, probed
// by `aliot connect` and held by mqtt::ConnectParams.
struct MqttEndpoint {
  std::string host;
  int port = k_default_mqtt_port;
  bool tls = true;
  std::string ca_file;   // empty: the system trust store
  bool insecure = false; // no certificate or host name verification
};

struct EndpointInput {
  std::string product_key;
  std::string region = k_default_region;
  std::optional<std::string> instance; // IotInstanceId: `${id}.mqtt.iothub.aliyuncs.com`
  std::optional<std::string> host;     // explicit host wins over region and instance
  std::optional<int> port;             // explicit port wins over the two below
  std::optional<int> tls_port;         // ALIOT_MQTT_PORT
  std::optional<int> tcp_port;         // ALIOT_MQTT_TCP_PORT
  bool tcp = false;
  std::string ca_file;
  bool insecure = false;
};

Result<MqttEndpoint> resolve_mqtt_endpoint(const EndpointInput& in);

// What every command says on standard error when --insecure turns verification off.
inline constexpr const char* k_insecure_warning =
    "--insecure: the server certificate is not verified";

// A registration (or other secret-signed) endpoint that is plain http://: the signed request and
// the secret in its reply would cross the network in clear text. Errc::usage unless `allowed`
// (--allow-insecure-http); the text to warn with when allowed, nullopt for https://.
Result<std::optional<std::string>> check_secret_endpoint(const std::string& url, bool allowed);

// A base URL of an HTTP(S) service given by the user (ALIOT_API_ENDPOINT, ALIOT_AUTH_ENDPOINT):
// http:// or https://, a host, and when a port is written, 1-65535. Errc::config naming `what`
// ("the OpenAPI endpoint") and `setting` (where to fix it) otherwise.
Result<void>
check_http_endpoint(const std::string& url, const std::string& what, const std::string& setting);

Result<void> validate_region(const std::string& region);
Result<int> parse_port(const std::string& text, const std::string& what);

// Base URLs of the HTTPS services (without a trailing slash).
std::string default_auth_endpoint(const std::string& region);
std::string default_api_endpoint(const std::string& region);

} // namespace aliot
