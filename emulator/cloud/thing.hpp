// The platform's thing-model side inside the plugin: the replies to a device's Alink requests
// (property/event/batch posts, desired get/delete) and NTP, checked against the product's TSL
// when one was added (`emulate cloud add-thing-model`, DIR/tsl/PK.json), and each device's
// property values and events as QueryDeviceProperty*/QueryDeviceEventData return them.
// Pure of mosquitto: on_message hands messages in and publishes what comes back.
#pragma once

#include <aliot/emu/tsl.hpp>

#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace aliot::emu {

struct PropPoint {
  nlohmann::json value;
  long long time = 0;
};

struct EventPoint {
  std::string id;
  nlohmann::json output;
  long long time = 0;
  std::string type = "info"; // the thing model's event type (info without one)
};

// Every device's reported properties (latest + the last k_history of each) and events (the last
// k_history), in memory: they are gone when the emulator stops. Thread-safe.
class ThingStore {
public:
  static constexpr std::size_t k_history = 1000;
  static constexpr std::size_t k_max_properties = 1000; // distinct identifiers per device
  // items: {"Id": {"value": v, "time": ms}}.
  void record_properties(const std::string& pk, const std::string& dn, const nlohmann::json& items);
  void record_event(const std::string& pk,
                    const std::string& dn,
                    const std::string& id,
                    nlohmann::json output,
                    long long time,
                    std::string type = "info");
  std::map<std::string, PropPoint> latest(const std::string& pk, const std::string& dn) const;
  std::vector<PropPoint>
  history(const std::string& pk, const std::string& dn, const std::string& id) const;
  std::vector<EventPoint> events(const std::string& pk, const std::string& dn) const;
  // Desired values ({"Id": {"value", "version"}}) as desired/get answers them.
  nlohmann::json
  desired(const std::string& pk, const std::string& dn, const nlohmann::json& ids) const;
  void delete_desired(const std::string& pk, const std::string& dn, const nlohmann::json& ids);

private:
  struct Device {
    std::map<std::string, std::deque<PropPoint>> props;
    std::deque<EventPoint> events;
    std::map<std::string, nlohmann::json> desired;
  };
  mutable std::mutex m_mu;
  std::map<std::string, Device> m_devices; // "pk/dn"
};

ThingStore& things();

// DIR/tsl/PK.json, where add-thing-model puts a product's model.
std::string tsl_path(const std::string& dir, const std::string& pk);
// The product's model, re-read when its file changes; null when it has none (or it cannot be
// read: the broker log says why).
std::shared_ptr<const tsl::Model> thing_model(const std::string& dir, const std::string& pk);

struct Outgoing {
  std::string topic, payload;
};

// What the platform does with a device's own message on /sys/PK/DN/thing/... or
// /ext/ntp/PK/DN/request.
struct ThingOutcome {
  std::vector<Outgoing> replies; // to the device: the `_reply`, the NTP response
  // To the backend (AMQP consumer groups), in the platform's forwarding format: an accepted
  // property post on /PK/DN/thing/event/property/post, an event on /PK/DN/thing/event/ID/post.
  std::vector<Outgoing> forwards;
  bool handled = false; // a thing-model request: `forwards` replaces the raw message
};
ThingOutcome thing_device_message(const std::string& dir,
                                  const std::string& pk,
                                  const std::string& dn,
                                  const std::string& iot_id,
                                  const std::string& topic,
                                  const std::string& payload,
                                  long long now_ms);

// The device status message the platform forwards on /as/mqtt/status/PK/DN: status
// online/offline, productKey, deviceName, iotId, time / lastTime (UTC+8 "yyyy-MM-dd
// HH:mm:ss.SSS"), utcTime / utcLastTime (ISO 8601), clientIp.
Outgoing status_message(const std::string& pk,
                        const std::string& dn,
                        const std::string& iot_id,
                        bool online,
                        long long now_ms,
                        long long last_ms,
                        const std::string& client_ip);

// An Alink downlink request: {"id","version":"1.0","params","method"}.
std::string
alink_request(const std::string& id, const std::string& method, const nlohmann::json& params);

} // namespace aliot::emu
