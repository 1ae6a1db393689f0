// Shared state of the emulator plugin. Threading contract:
//  - the broker thread (mosquitto's main loop) alone calls mosquitto_* and owns `Broker`;
//  - HTTP threads never call mosquitto_*: they hand work to the broker with post_job() (which
//    also wakes the loop) and wait on futures / Pending objects;
//  - the registry snapshot, the pending RRPC map, the message ring and the nonce cache each sit
//    behind their own mutex and are used from both sides.
#pragma once

#include "rules.hpp"

#include <aliot/error.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace aliot::emu {

struct Device {
  std::string secret;
  bool enabled = true;
  bool activated = false;
  std::string iot_id;
  std::string nickname;
  long long created_ms = 0;
  std::vector<std::pair<std::string, std::string>> tokens; // (clientId, deviceToken)
};

struct Product {
  std::string secret;
  bool dynreg = true;
  std::vector<Category> cats;
  std::vector<std::string> consumer_groups; // AMQP server-side subscription
  std::map<std::string, Device> devices;
};

// An immutable view of registry.json.
struct Registry {
  std::map<std::string, Product> products;
  std::map<std::string, std::string> access_keys; // id -> secret
  const Product* product(const std::string& pk) const {
    auto it = products.find(pk);
    return it == products.end() ? nullptr : &it->second;
  }
  const Device* device(const std::string& pk, const std::string& dn) const {
    const Product* p = product(pk);
    if (p == nullptr) {
      return nullptr;
    }
    auto it = p->devices.find(dn);
    return it == p->devices.end() ? nullptr : &it->second;
  }
};

// Reads registry.json again whenever the file changed (checked on each auth and HTTP request).
class RegistryStore {
public:
  explicit RegistryStore(std::string dir)
      : m_dir(std::move(dir)) {}
  void set_dir(std::string dir) { m_dir = std::move(dir); }
  // The current view, reloading first if the file changed.
  std::shared_ptr<const Registry> current();
  // The last loaded view without touching the file system (hot paths: ACL checks).
  std::shared_ptr<const Registry> cached();
  // Read-modify-write under the registry file lock; the view is reloaded afterwards.
  Result<void> mutate(const std::function<Result<void>(nlohmann::json&)>& fn);
  const std::string& dir() const { return m_dir; }

private:
  struct Sig {
    long long ino = -1, size = -1, mtime_ns = -1;
    bool operator==(const Sig&) const = default;
  };
  Sig file_sig() const;
  void reload_locked();
  std::string m_dir;
  std::mutex m_mu;
  std::shared_ptr<const Registry> m_view = std::make_shared<Registry>();
  Sig m_sig;
  // The document behind m_view, so a mutation of an unchanged file needs no re-read and the
  // file just written is never parsed again (registration stays O(1) parses per device).
  std::optional<nlohmann::json> m_json;
};

// One received device message for the operator view (/emu/messages).
struct Message {
  std::uint64_t seq = 0;
  long long ts_ms = 0;
  std::string topic;
  int qos = 0;
  std::string payload;
  std::string client;
};

class MessageRing {
public:
  static constexpr std::size_t k_capacity = 10000;
  void add(Message m);
  std::vector<Message>
  since(std::uint64_t seq, const std::string& filter, std::size_t limit, std::uint64_t& next) const;

private:
  mutable std::mutex m_mu;
  std::deque<Message> m_items;
  std::uint64_t m_next = 1;
};

// A waiting RRPC call.
struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::string code; // SUCCESS, OFFLINE, ...
  std::string payload;
  std::string pk, dn;
  void finish(std::string c, std::string p = {}) {
    {
      std::lock_guard lk(mu);
      if (done) {
        return;
      }
      done = true;
      code = std::move(c);
      payload = std::move(p);
    }
    cv.notify_all();
  }
};

// The device status the broker thread keeps, copied out for HTTP callers.
struct DeviceStatus {
  bool online = false;
  long long changed_ms = 0;
  std::string address;
};

struct Emu {
  std::string dir;
  int api_port = 0;
  int https_port = 0;
  std::string cert_file, key_file;
  RegistryStore registry{""};
  MessageRing messages;

  std::mutex pending_mu;
  std::map<std::string, std::shared_ptr<Pending>> pending; // by messageId

  std::mutex nonce_mu;
  std::map<std::string, long long> nonces; // nonce -> expiry (unix s)

  // Hands a job to the broker thread and wakes its loop.
  void post_job(std::function<void()> job);
  std::mutex jobs_mu;
  std::vector<std::function<void()>> jobs;

  std::uint64_t next_message_id();
  std::mutex id_mu;
  std::uint64_t last_id = 0;
};

Emu& emu();

long long now_ms();

// Starts the HTTP (OpenAPI + /emu) and HTTPS (registration) servers; false if a port cannot
// be bound (`why` says which).
bool start_http(Emu& e, std::string& why);
void stop_http();

// Broker-thread queries used by HTTP jobs (call only from a job).
DeviceStatus broker_device_status(const std::string& pk, const std::string& dn);
// Publishes on the broker thread: to `client_id` directly, or routed by subscription if empty.
void broker_publish(const std::string& client_id,
                    const std::string& topic,
                    const std::string& payload,
                    int qos);
// The connected clientId of a device and whether it announced custom-topic RRPC (ext bit 0).
std::optional<std::pair<std::string, bool>> broker_device_session(const std::string& pk,
                                                                  const std::string& dn);

} // namespace aliot::emu
