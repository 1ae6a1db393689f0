// An MQTT 3.1.1 session as an Aliyun IoT device (spec sections 2, 3 and 5), over libmosquitto,
// plus the connection probes `aliot connect` reports stage by stage (DNS, TCP, TLS).
//
// Model: single-threaded. Every call runs the network loop on the calling thread until its
// deadline; nothing runs in the background. Incoming PUBLISHes are queued inside the session
// (also those that arrive during connect(), right after CONNACK, as with dynamic registration on
// /ext/register and /ext/regnwl) and are handed out by next_message() or dispatched to the
// handler by run(). Handlers therefore never run inside a libmosquitto callback and may call
// publish() themselves (RRPC replies).
//
// Errors (Errc): network (5) for DNS/TCP/TLS failures and a lost connection (connect() names the
// stage: "DNS: cannot resolve H", "TCP connect to H:P refused", "TLS handshake with H:P
// failed", at once, never after waiting for the deadline), auth (4) for a
// refused CONNACK and for a SUBACK refusal (0x80: the platform denied the topic: a permission
// rejection, which the exit-code table files under auth), timeout (6) when a deadline passes
// before CONNACK/SUBACK/PUBACK/a message, interrupted (130) when the interrupt flag is set,
// usage (2) for QoS outside 0..1, internal (1) for libmosquitto misuse.
#pragma once

#include <aliot/endpoint.hpp>
#include <aliot/error.hpp>
#include <aliot/log.hpp>
#include <aliot/secret.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::mqtt {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// A deadline `d` from now.
inline Deadline after(std::chrono::milliseconds d) {
  return Clock::now() + d;
}

// The system trust store used when no CA file is given.
inline constexpr const char* k_system_ca_path = "/etc/ssl/certs";

struct ConnectParams {
  MqttEndpoint endpoint; // where, and how TLS is trusted
  std::string client_id; // the whole `id|options|` string
  std::string username;
  Secret password;
  int keepalive = 300; // seconds; not range-checked here (registration uses any value)
  bool clean_session = true;
};

struct Message {
  std::string topic;
  std::string payload; // raw bytes
  int qos = 0;
  bool retain = false;
  int mid = 0; // the PUBLISH packet id (QoS 1); 0 for QoS 0
};

// Connection state changes, for "reconnected" reports on stderr.
struct Event {
  enum class Kind { connected, lost, reconnecting };
  Kind kind = Kind::connected;
  std::string detail;                 // why the connection was lost, or the host
  int attempt = 0;                    // reconnect attempt number (1, 2, ...)
  std::chrono::milliseconds delay{0}; // wait before this reconnect attempt
};

// Capped exponential backoff: initial, initial*2, ... up to max; reset after a good CONNACK.
struct Backoff {
  std::chrono::milliseconds initial{500};
  std::chrono::milliseconds max{30000};
  std::chrono::milliseconds delay(int attempt) const; // attempt >= 1
};

struct RunOptions {
  std::optional<Deadline> deadline; // reached -> Errc::timeout
  bool reconnect = false;           // reconnect on loss (forever, with backoff) and resubscribe
  Backoff backoff;
};

class Session {
public:
  explicit Session(Logger log = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Called by run() for each incoming message (may be installed before connect()).
  void on_message(std::function<void(const Message&)> handler);
  // Connection events (connected after a reconnect, lost, reconnecting).
  void on_event(std::function<void(const Event&)> handler);
  // Polled by every loop (about every 100 ms): when it becomes true the call returns
  // Errc::interrupted.
  void set_interrupt(const std::atomic<bool>* flag);
  // Whether that flag is set.
  bool interrupted() const;

  // TCP (+TLS), CONNECT, and waits for CONNACK. A refused CONNACK is Errc::auth explained in
  // Aliyun's terms (spec 2.6); no CONNACK by the deadline is Errc::timeout (the server accepted
  // the connection and never answered, or the SYN went unanswered). A name that does not
  // resolve, a refused or unreachable TCP connect or a failed TLS handshake is Errc::network as
  // soon as it happens, naming the stage, with a hint to check the broker and the endpoint.
  Result<void> connect(const ConnectParams& params, Deadline deadline);
  bool connected() const;
  // The return code of the last CONNACK (0 accepted), or -1 if none arrived.
  int last_connack() const;

  // SUBSCRIBE with the filters (sent in packets of at most 8, the platform's limit) and waits for
  // the SUBACK; a 0x80 for any filter is Errc::auth naming the filter. The filters are remembered
  // and subscribed again after a reconnect. Returns the granted QoS per filter.
  Result<std::vector<int>>
  subscribe(const std::vector<std::string>& filters, int qos, Deadline deadline);

  // UNSUBSCRIBE each filter and wait for its UNSUBACK; the filter is no longer subscribed again
  // after a reconnect.
  Result<void> unsubscribe(const std::vector<std::string>& filters, Deadline deadline);
  // The filters subscribed (and subscribed again after a reconnect), in order.
  const std::vector<std::string>& filters() const;
  // Closes the connection (if any), logs in again with the parameters of connect() and
  // subscribes the filters again; errors as connect() and subscribe().
  Result<void> reconnect(Deadline deadline);
  // The next queued incoming message without waiting, for a caller that runs the loop itself
  // with step_with().
  std::optional<Message> take_message();

  // Queues a PUBLISH and returns its message id without waiting.
  Result<int> publish_async(std::string_view topic, std::string_view payload, int qos);
  // Waits until every queued publish is written (QoS 0) or acknowledged by PUBACK (QoS 1).
  Result<void> flush(Deadline deadline);
  // Waits until at most `max_pending` publishes are outstanding (bounded memory for streams).
  Result<void> wait_pending(std::size_t max_pending, Deadline deadline);
  std::size_t pending() const;
  // publish_async + flush.
  Result<void>
  publish(std::string_view topic, std::string_view payload, int qos, Deadline deadline);

  // The next queued message, running the loop until one arrives; Errc::timeout at the deadline,
  // Errc::network if the connection is lost meanwhile.
  Result<Message> next_message(Deadline deadline);

  // Runs the loop, dispatching messages to the on_message handler, until `done()` returns true
  // (ok), the deadline passes (timeout), the interrupt flag is set (interrupted) or the
  // connection is lost without `reconnect` (network). `done` may be empty.
  Result<void> run(const RunOptions& opts, const std::function<bool()>& done = {});

  // One pass of the network loop, waiting at most `wait` for traffic (PUBACKs, pings, incoming
  // messages). Errc::network if the connection is lost.
  Result<void> step(std::chrono::milliseconds wait);

  // One pass of the network loop that also watches `fd` for input: a single poll() over the
  // connection and `fd`, then the connection is serviced (what arrived is read, what is queued is
  // written, the keepalive kept). Returns whether `fd` is readable (data, end of input or an
  // error: the caller's read() tells which); `fd` < 0 watches the connection alone.
  // Errc::network if the connection is lost, Errc::interrupted when the interrupt flag is set.
  Result<bool> step_with(int fd, std::chrono::milliseconds wait);

  // DISCONNECT and close (waits for queued packets to be written, at most until the deadline).
  void disconnect(Deadline deadline);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// Aliyun's explanation of a CONNACK return code (spec 2.6), as an Error: 2 (client id
// malformed or keepalive out of range), 4 (user name or password malformed) and 5 (not
// authorized) are Errc::auth; 1 (protocol level) and 3 (server unavailable) are Errc::remote.
Error connack_error(int code);

// ---- Connection probes for `aliot connect` (each stage on its own, with its own error) ----

struct DnsResult {
  std::vector<std::string> addresses; // numeric, in resolver order
};
// Errc::network ("cannot resolve HOST: ...").
Result<DnsResult> probe_dns(const std::string& host, int port);

// Connects to the first address that accepts; Errc::network (refused, unreachable) or
// Errc::timeout. Returns a connected socket descriptor owned by the caller (close it). On
// failure `last_errno` (when given) gets the errno of the last address tried (0 if it timed out).
struct TcpResult {
  int fd = -1;
  std::string address;
};
Result<TcpResult>
probe_tcp(const DnsResult& dns, int port, Deadline deadline, int* last_errno = nullptr);

struct CertInfo {
  std::string subject;
  std::string issuer;
  std::string not_before; // RFC 3339 UTC
  std::string not_after;
  long days_left = 0;
  std::string key;                 // the subject's public key: "RSA 2048", "EC P-256", "ED25519"
  std::string signature_algorithm; // as OpenSSL names it: "sha256WithRSAEncryption"
};

struct TlsResult {
  std::string version; // "TLSv1.3"
  std::string cipher;
  std::vector<CertInfo> chain; // as sent by the server, leaf first
  bool verified = false;       // chain verified against the trust store
  bool hostname_ok = false;
  std::string verify_error; // OpenSSL's reason when !verified
};
// TLS handshake on a connected socket (the socket is not closed); SNI = host. With `insecure`
// the handshake succeeds whatever the certificate. Errc::network when the handshake fails or
// the certificate does not verify, with a hint (e.g. Aliyun IoT Root CA missing in the system
// store: use --ca-file); the TlsResult is still filled as far as the handshake got, through
// `out`.
Result<TlsResult> probe_tls(int fd,
                            const std::string& host,
                            const std::string& ca_file,
                            bool insecure,
                            Deadline deadline,
                            TlsResult* out = nullptr);

} // namespace aliot::mqtt
