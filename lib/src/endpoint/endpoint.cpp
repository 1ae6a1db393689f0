#include <aliot/encoding.hpp>
#include <aliot/endpoint.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

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

Result<void>
check_http_endpoint(const std::string& url, const std::string& what, const std::string& setting) {
  const std::string hint = "set " + setting + " to https://HOST[:PORT] (a port of 1-65535)";
  auto bad = [&](const std::string& why) {
    return Error(Errc::config, what + " '" + url + "' " + why, hint);
  };
  const std::size_t sep = url.find("://");
  std::string scheme = url.substr(0, sep == std::string::npos ? 0 : sep);
  for (auto& c : scheme) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (scheme != "https" && scheme != "http") {
    return bad("is not an http:// or https:// URL");
  }
  std::string_view authority(url);
  authority.remove_prefix(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::optional<std::string_view> port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("has an unclosed '[' in its host");
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return bad("has text after its [address]");
    }
    if (!after.empty()) {
      port = after.substr(1);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) {
    return bad("has no host");
  }
  if (port && !port->empty()) { // "host:" is the default port, as for libcurl
    // Digits only and in range: from_chars reports a number past int as out of range (no
    // exception, however many digits).
    int n = 0;
    const auto* end = port->data() + port->size();
    const auto [p, ec] = std::from_chars(port->data(), end, n);
    if (ec != std::errc() || p != end || n < 1 || n > 65535) {
      return bad("has port '" + std::string(*port) + "', not a port number (1-65535)");
    }
  }
  return ok();
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
