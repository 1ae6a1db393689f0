#include <aliot/encoding.hpp>
#include <aliot/endpoint.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace aliot {

Result<void> validate_region(const std::string& region) {
  if (region.empty()) {
    return Error(Errc::usage, "region is empty");
  }
  for (unsigned char c : region) {
    if (std::islower(c) == 0 && std::isdigit(c) == 0 && c != '-') {
      return Error(Errc::usage, "region '" + region + "' is not a region id such as cn-shanghai");
    }
  }
  return ok();
}

Result<int> parse_port(const std::string& text, const std::string& what) {
  int port = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, port);
  if (ec != std::errc() || p != end || port < 1 || port > 65535) {
    return Error(Errc::usage, what + " '" + text + "' is not a port number (1-65535)");
  }
  return port;
}

Result<MqttEndpoint> resolve_mqtt_endpoint(const EndpointInput& in) {
  MqttEndpoint ep;
  ep.tls = !in.tcp;
  ep.ca_file = in.ca_file;
  ep.insecure = in.insecure;
  if (in.host && !in.host->empty()) {
    ep.host = *in.host;
  } else if (in.instance && !in.instance->empty()) {
    ep.host = *in.instance + ".mqtt.iothub.aliyuncs.com";
  } else {
    if (auto r = validate_region(in.region); !r) {
      return std::move(r).error();
    }
    if (in.product_key.empty()) {
      return Error(Errc::config, "no MQTT host: the ProductKey is needed to derive it",
                   "give -k PK, or --host");
    }
    ep.host = in.product_key + ".iot-as-mqtt." + in.region + ".aliyuncs.com";
  }
  if (in.port) {
    ep.port = *in.port;
  } else if (in.tcp && in.tcp_port) {
    ep.port = *in.tcp_port;
  } else if (!in.tcp && in.tls_port) {
    ep.port = *in.tls_port;
  } else {
    ep.port = k_default_mqtt_port;
  }
  return ep;
}

std::string default_auth_endpoint(const std::string& region) {
  return "https://iot-auth." + region + ".aliyuncs.com";
}

std::string default_api_endpoint(const std::string& region) {
  return "https://iot." + region + ".aliyuncs.com";
}

Result<std::optional<std::string>> check_secret_endpoint(const std::string& url, bool allowed) {
  if (enc::to_lower(url.substr(0, 7)) != "http://") {
    return std::optional<std::string>();
  }
  if (!allowed) {
    return Error(Errc::usage,
                 "the registration endpoint " + url
                     + " is plain http://: the request signed with the ProductSecret and the "
                       "DeviceSecret in its reply would cross the network in clear text",
                 "use https://, or give --allow-insecure-http (testing only)");
  }
  return std::optional<std::string>("--allow-insecure-http: " + url
                                    + " is plain http://, secrets cross the network in clear text");
}

} // namespace aliot
