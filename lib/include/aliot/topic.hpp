// Topics (spec section 3): relative topics, placeholders, the platform's limits and the
// device's own namespace.
#pragma once

#include <aliot/error.hpp>

#include <string>
#include <string_view>

namespace aliot::topic {

inline constexpr std::size_t k_max_bytes = 128;
inline constexpr std::size_t k_max_payload = 256 * 1024;

// `user/update` -> `/${pk}/${dn}/user/update`; `${productKey}`, `${deviceName}`,
// `${YourProductKey}`, `${YourDeviceName}` expanded anywhere.
std::string expand(std::string_view topic, std::string_view pk, std::string_view dn);

enum class Use { publish, subscribe };

// Checks shape and limits (length, empty levels, wildcards only in filters and in the right
// place, valid UTF-8) and that the topic lies in this device's namespace. Errc::usage naming
// the rule.
Result<void> validate(std::string_view full, Use use, std::string_view pk, std::string_view dn);

// The rule without the namespace check (for cloud-side use).
Result<void> validate_shape(std::string_view full, Use use);

// MQTT matching of a topic against a filter with + and # (`/a/+/c`, `/a/#`), by libmosquitto's
// mosquitto_topic_matches_sub: false for a malformed filter or a topic holding a wildcard.
bool matches(std::string_view filter, std::string_view topic);

// The most messages per second the platform takes from one device (spec 2.8: 30 at QoS 0, 10 at
// QoS 1); it drops the excess silently.
constexpr int upstream_rate_limit(int qos) {
  return qos == 1 ? 10 : 30;
}

// When `full` is a topic the platform lets a device subscribe to but not publish on, by the
// topic classes every product has (spec 3.2, 3.3: /${pk}/${dn}/user/get, the old-style
// /${pk}/${dn}/get, RRPC requests, OTA upgrade and shadow get, broadcasts), the class's name;
// else empty. The platform accepts a publish there (PUBACK) and drops it.
std::string subscribe_only_class(std::string_view full, std::string_view pk, std::string_view dn);

} // namespace aliot::topic
