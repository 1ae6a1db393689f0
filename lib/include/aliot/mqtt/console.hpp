// The device side of an interactive session (`aliot shell`): one logged-in Session that keeps
// receiving while its user types. The caller runs the loop with wait(fd) over its own input and
// takes what arrived with next(); subscriptions, publishes and RRPC answers go through here so
// that `subs` and `status` (connected since, messages in and out) can say what happened.
//
// Single-threaded as Session: nothing runs between the caller's calls. Errors are the Session's
// (network 5, auth 4, timeout 6, usage 2); a lost connection leaves the console disconnected
// until reconnect().
#pragma once

#include <aliot/error.hpp>
#include <aliot/mqtt.hpp>
#include <aliot/rrpc.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aliot::mqtt {

struct ConsoleStatus {
  bool connected = false;
  std::chrono::system_clock::time_point since; // the last good CONNACK
  int keepalive = 0;                           // seconds
  std::string host;
  int port = 0;
  long messages_in = 0;  // PUBLISHes received
  long messages_out = 0; // PUBLISHes sent (RRPC answers included)
  int connects = 0;      // good CONNACKs, the first included
};

struct Incoming {
  Message message;
  std::optional<rrpc::Request> rrpc; // set when the message is an RRPC request to this device
  Clock::time_point arrived;         // an RRPC answer is due within rrpc::k_deadline of this
};

class Console {
public:
  Console(std::string product_key, std::string device_name, Logger log = {});

  Session& session() { return m_session; }

  Result<void> connect(const ConnectParams& params, Deadline deadline);
  // Closes and logs in again, subscribing everything again.
  Result<void> reconnect(Deadline deadline);

  // `filter` is the full topic filter (already expanded and checked).
  Result<void> subscribe(const std::string& filter, int qos, Deadline deadline);
  // Errc::usage when the filter is not subscribed.
  Result<void> unsubscribe(const std::string& filter, Deadline deadline);
  // What is subscribed, in order, with the QoS asked for.
  const std::vector<std::pair<std::string, int>>& subscriptions() const { return m_subs; }

  Result<void> publish(const std::string& topic, std::string_view payload, int qos, Deadline d);

  // Subscribes (on) or unsubscribes (off) /sys/${pk}/${dn}/rrpc/request/+; true while on.
  Result<void> set_rrpc(bool on, Deadline deadline);
  bool rrpc_on() const { return m_rrpc; }
  // Publishes `payload` as the answer to `request` (on its reply topic, QoS 0). Errc::timeout
  // when the platform's deadline for it has passed (it reported TIMEOUT to the caller already),
  // Errc::usage for an answer over the platform's limit.
  Result<void> answer(const Incoming& request, std::string_view payload, Deadline deadline);

  // One pass of the network loop that also watches `fd` (see Session::step_with): returns whether
  // `fd` is readable. A lost connection is Errc::network once; afterwards wait() only watches
  // `fd` (sleeping at most `wait`) until reconnect().
  Result<bool> wait(int fd, std::chrono::milliseconds wait);
  // The next message that arrived, counted in.
  std::optional<Incoming> next();

  ConsoleStatus status() const;

private:
  std::string m_pk;
  std::string m_dn;
  Session m_session;
  ConnectParams m_params;
  std::vector<std::pair<std::string, int>> m_subs;
  bool m_rrpc = false;
  bool m_up = false;
  std::chrono::system_clock::time_point m_since;
  long m_in = 0;
  long m_out = 0;
  int m_connects = 0;
};

} // namespace aliot::mqtt
