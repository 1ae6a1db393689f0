#include <aliot/encoding.hpp>
#include <aliot/topic.hpp>

#include <mosquitto.h>

#include <string>
#include <vector>

namespace aliot::topic {

namespace {

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}

std::vector<std::string_view> levels_of(std::string_view t) {
  std::vector<std::string_view> out;
  std::size_t pos = 1; // skip the leading '/'
  while (true) {
    const std::size_t slash = t.find('/', pos);
    if (slash == std::string_view::npos) {
      out.push_back(t.substr(pos));
      break;
    }
    out.push_back(t.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

Error bad(std::string_view t, const std::string& why) {
  return Error(Errc::usage, "topic '" + std::string(t) + "': " + why);
}

} // namespace

std::string expand(std::string_view topic, std::string_view pk, std::string_view dn) {
  std::string t(topic);
  replace_all(t, "${productKey}", pk);
  replace_all(t, "${YourProductKey}", pk);
  replace_all(t, "${deviceName}", dn);
  replace_all(t, "${YourDeviceName}", dn);
  if (!t.empty() && t.front() != '/') {
    t = "/" + std::string(pk) + "/" + std::string(dn) + "/" + t;
  }
  return t;
}

Result<void> validate_shape(std::string_view t, Use use) {
  if (t.empty()) {
    return Error(Errc::usage, "topic is empty");
  }
  if (t.front() != '/') {
    return bad(t, "must start with '/'");
  }
  if (t.size() > k_max_bytes) {
    return bad(t, "is " + std::to_string(t.size()) + " bytes; the platform allows at most "
                      + std::to_string(k_max_bytes));
  }
  if (!enc::is_valid_utf8(t)) {
    return bad(t, "is not valid UTF-8");
  }
  if (t.find('$') != std::string_view::npos) {
    return bad(t, "has an unexpanded placeholder; use ${productKey} or ${deviceName}");
  }
  const auto levels = levels_of(t);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const auto lv = levels[i];
    if (lv.empty()) {
      return bad(t, "has an empty level");
    }
    const bool has_wild = lv.find_first_of("+#") != std::string_view::npos;
    if (!has_wild) {
      continue;
    }
    if (use == Use::publish) {
      return bad(t, "wildcards '+' and '#' are not allowed when publishing");
    }
    if (lv.size() != 1) {
      return bad(t, "a wildcard must take a whole level");
    }
    if (lv == "#" && i + 1 != levels.size()) {
      return bad(t, "'#' is allowed only as the last level");
    }
  }
  return ok();
}

Result<void> validate(std::string_view t, Use use, std::string_view pk, std::string_view dn) {
  ALIOT_TRY(validate_shape(t, use));
  const auto levels = levels_of(t);
  const auto own = [&](std::size_t i) {
    return levels.size() > i + 1 && levels[i] == pk && levels[i + 1] == dn;
  };
  // /${pk}/${dn}/..., /sys/${pk}/${dn}/..., /ext/..., plus the product-wide and legacy system
  // topics of spec section 3.3.
  if (own(0) && levels.size() > 2) {
    return ok();
  }
  if (levels[0] == "sys" && own(1) && levels.size() > 3) {
    return ok();
  }
  if (levels[0] == "ext" && levels.size() > 1) {
    return ok();
  }
  if (use == Use::subscribe && levels[0] == "broadcast" && levels.size() > 2 && levels[1] == pk) {
    return ok();
  }
  if ((levels[0] == "shadow" || levels[0] == "ota") && levels.size() >= 4
      && levels[levels.size() - 2] == pk && levels.back() == dn) {
    return ok();
  }
  return Error(Errc::usage,
               "topic '" + std::string(t) + "' is outside this device's namespace (/"
                   + std::string(pk) + "/" + std::string(dn) + "/..., /sys/" + std::string(pk) + "/"
                   + std::string(dn) + "/..., /ext/...)",
               "a topic without a leading '/' is relative to the device: user/update");
}

// libmosquitto's matcher (the broker exports the same function to the emulator's plugin): `#`
// also matches the parent level, a filter that starts with a wildcard never matches a topic
// that starts with '$', and a malformed filter or a topic with a wildcard matches nothing.
bool matches(std::string_view filter, std::string_view topic) {
  if (filter.find('\0') != std::string_view::npos || topic.find('\0') != std::string_view::npos) {
    return false; // no MQTT topic holds a NUL
  }
  bool result = false;
  return mosquitto_topic_matches_sub(std::string(filter).c_str(), std::string(topic).c_str(),
                                     &result)
             == MOSQ_ERR_SUCCESS
         && result;
}

std::string subscribe_only_class(std::string_view full, std::string_view pk, std::string_view dn) {
  const std::string own = "/" + std::string(pk) + "/" + std::string(dn);
  const std::string sys = "/sys/" + std::string(pk) + "/" + std::string(dn);
  const std::string tail = "/" + std::string(pk) + "/" + std::string(dn);
  if (full == own + "/user/get") {
    return "/${productKey}/${deviceName}/user/get";
  }
  if (full == own + "/get") {
    return "/${productKey}/${deviceName}/get";
  }
  if (full.rfind(sys + "/rrpc/request/", 0) == 0) {
    return "/sys/${productKey}/${deviceName}/rrpc/request/${messageId}";
  }
  if (full == "/ota/device/upgrade" + tail) {
    return "/ota/device/upgrade/${productKey}/${deviceName}";
  }
  if (full == "/shadow/get" + tail) {
    return "/shadow/get/${productKey}/${deviceName}";
  }
  if (full.rfind("/broadcast/" + std::string(pk) + "/", 0) == 0) {
    return "/broadcast/${productKey}/...";
  }
  return {};
}

} // namespace aliot::topic
