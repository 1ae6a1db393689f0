// Shared state of the emulator plugin. Threading contract:
//  - the broker thread (mosquitto's main loop) alone calls mosquitto_* and owns `Broker`;
//  - HTTP threads never call mosquitto_*: they hand work to the broker with post_job() (which
//    also wakes the loop) and wait on futures / Pending objects;
//  - the registry (its own lock), the pending RRPC map, the message ring and the nonce cache each
//  sit
//    behind their own mutex and are used from both sides.
#pragma once

#include "rules.hpp"

#include <aliot/emu/registry.hpp>
#include <aliot/error.hpp>

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
  long long last_ms = 0; // the last communication (login or PUBLISH)
  std::string address;
};

struct Emu {
  std::string dir;
  int api_port = 0;
  int https_port = 0;
  int mqtt_tls_port = 0; // the TLS listener: the only one that serves MQTT registration
  std::string cert_file, key_file;
  std::unique_ptr<Registry> reg; // set by plugin init
  Registry& registry() { return *reg; }
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
// A system downlink to a device: routed to its subscribers, and also straight to the device when
// it holds no matching filter and either asked for automatic subscription (`_ss=1`) or `always`
// (broadcast requests, which need no SUBSCRIBE).
void broker_deliver(const std::string& pk,
                    const std::string& dn,
                    const std::string& topic,
                    const std::string& payload,
                    bool always);
// The devices online now (one connection each) and every logged-in MQTT session (devices,
// operators, registrations).
struct BrokerCounts {
  std::size_t online = 0;
  std::size_t sessions = 0;
};
BrokerCounts broker_counts();
// The DeviceNames of the product's devices online now.
std::vector<std::string> broker_online_devices(const std::string& pk);
// The connected clientId of a device and whether it announced custom-topic RRPC (ext bit 0).
std::optional<std::pair<std::string, bool>> broker_device_session(const std::string& pk,
                                                                  const std::string& dn);

} // namespace aliot::emu
