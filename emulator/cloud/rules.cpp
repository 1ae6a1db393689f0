#include "rules.hpp"

#include <mosquitto.h>

#include <string>

namespace aliot::emu {

namespace {

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto pos = s.find('/', start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

bool is_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool category_allows(const std::vector<Category>& cats,
                     const std::string& own,
                     std::string_view topic,
                     bool want_pub,
                     bool want_sub,
                     bool is_filter) {
  for (const auto& c : cats) {
    if ((want_pub && !c.pub) || (want_sub && !c.sub)) {
      continue;
    }
    const std::string full = own + c.topic;
    if (is_filter ? filter_covers(full, topic) : filter_matches(full, topic)) {
      return true;
    }
  }
  return false;
}

// A topic of the device's own system space that only the platform sends on (spec 3.5): RRPC
// requests, service calls and property sets, replies to the device's own requests, pushed
// configuration and raw downlink; NTP responses, shadow replies and OTA upgrade notices. The
// device subscribes to them but may not publish on them (it could forge a call to itself).
// `rest` is the part after /sys/pk/dn/.
bool sys_downlink(std::string_view rest) {
  if (rest.starts_with("rrpc/request/") || rest == "thing/model/down_raw"
      || rest == "thing/config/push") {
    return true;
  }
  if (rest.starts_with("thing/service/")) { // calls down, their _reply up
    return !rest.ends_with("_reply");
  }
  return rest.ends_with("_reply"); // the platform's reply to something the device sent
}

} // namespace

// libmosquitto's matcher, which the broker exports to this plugin (the CLI and the tests get it
// from libmosquitto through libaliot): the access rules match exactly as the broker routes.
bool filter_matches(std::string_view filter, std::string_view topic) {
  if (filter.find('\0') != std::string_view::npos || topic.find('\0') != std::string_view::npos) {
    return false;
  }
  bool result = false;
  return mosquitto_topic_matches_sub(std::string(filter).c_str(), std::string(topic).c_str(),
                                     &result)
             == MOSQ_ERR_SUCCESS
         && result;
}

// Filter against filter: no library has it (mosquitto matches a filter against a topic only).
bool filter_covers(std::string_view outer, std::string_view inner) {
  const auto o = split(outer);
  const auto n = split(inner);
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (o[i] == "#") {
      return true;
    }
    if (i >= n.size()) {
      return false;
    }
    if (n[i] == "#") {
      return false; // inner reaches deeper than outer allows
    }
    if (o[i] == "+") {
      continue;
    }
    if (n[i] == "+" || n[i] != o[i]) {
      return false;
    }
  }
  return o.size() == n.size();
}

bool device_allowed(const std::vector<Category>& cats,
                    std::string_view pk,
                    std::string_view dn,
                    std::string_view topic,
                    Need need,
                    bool is_filter) {
  const std::string own = "/" + std::string(pk) + "/" + std::string(dn) + "/";
  const bool pub = need == Need::publish;
  if (topic.starts_with(own)) {
    return category_allows(cats, own, topic, pub, !pub, is_filter);
  }
  // Rule 2: the device's own system topics, subscribe to all, publish except where only the
  // platform sends.
  const std::string tail = std::string(pk) + "/" + std::string(dn);
  const std::string sys = "/sys/" + tail + "/";
  if (topic.starts_with(sys)) {
    // A filter such as /sys/pk/dn/# or .../thing/service/+ reaches downlink topics: a device
    // subscribes with it; a publish is never a filter.
    return !pub || !sys_downlink(topic.substr(sys.size()));
  }
  if (topic.starts_with("/ext/ntp/" + tail + "/")) {
    return !pub || topic != "/ext/ntp/" + tail + "/response";
  }
  if (topic == "/shadow/update/" + tail || topic == "/ota/device/inform/" + tail
      || topic == "/ota/device/progress/" + tail) {
    return true;
  }
  if (topic == "/shadow/get/" + tail || topic == "/ota/device/upgrade/" + tail) {
    return !pub;
  }
  // Rule 3: custom-topic RRPC, /ext/rrpc/<id or +><own topic>, allowed when the embedded
  // topic is (in either direction: request and response share the topic).
  if (topic.starts_with("/ext/rrpc/")) {
    const auto rest = topic.substr(10);
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return false;
    }
    const auto id = rest.substr(0, slash);
    const auto embedded = rest.substr(slash);
    if (!(is_digits(id) || (is_filter && id == "+"))) {
      return false;
    }
    // A synchronous service call of the thing model (LinkSDK 4: /ext/rrpc/ID/sys/PK/DN/thing/
    // service/NAME, the answer on the same topic) and its raw form (thing/model/down_raw).
    if (embedded.starts_with(sys + "thing/service/") || embedded == sys + "thing/model/down_raw") {
      return true;
    }
    if (!embedded.starts_with(own)) {
      return false;
    }
    return category_allows(cats, own, embedded, false, false, is_filter);
  }
  // Rule 4: product broadcasts may be subscribed and received.
  if (!pub && topic.starts_with("/broadcast/" + std::string(pk) + "/")) {
    return true;
  }
  return false;
}

std::string normalize_category(std::string_view topic) {
  for (std::string_view prefix :
       {"/${productKey}/${deviceName}/", "/${YourProductKey}/${YourDeviceName}/"}) {
    if (topic.starts_with(prefix)) {
      return std::string(topic.substr(prefix.size()));
    }
  }
  if (!topic.empty() && topic.front() == '/') {
    return {};
  }
  return std::string(topic);
}

} // namespace aliot::emu
