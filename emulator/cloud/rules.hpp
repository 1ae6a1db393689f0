// Pure topic logic of the emulator: MQTT filter matching and the device authorization rules of
// spec section 3.5. No broker state (matching is libmosquitto's, which the broker exports), so it
// is testable on its own.
#pragma once

#include <aliot/emu/registry.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace aliot::emu {

// MQTT semantics: does `filter` (with + and #) match the concrete `topic`? libmosquitto's
// mosquitto_topic_matches_sub (exported by the broker the plugin runs in); false for a malformed
// filter or a topic with a wildcard.
bool filter_matches(std::string_view filter, std::string_view topic);
// Does every topic matched by `inner` also match `outer`?
bool filter_covers(std::string_view outer, std::string_view inner);

enum class Need { publish, subscribe };

// Spec 3.5: may device pk/dn publish to (Need::publish) or subscribe to / receive on
// (Need::subscribe) `topic`? `is_filter` for SUBSCRIBE filters.
bool device_allowed(const std::vector<Category>& cats,
                    std::string_view pk,
                    std::string_view dn,
                    std::string_view topic,
                    Need need,
                    bool is_filter);

// "user/get", "/${productKey}/${deviceName}/user/get" and "/pk/dn/user/get" -> "user/get";
// empty if the topic does not belong under the device.
std::string normalize_category(std::string_view topic);

} // namespace aliot::emu
