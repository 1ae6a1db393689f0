// The MQTT session over libmosquitto: one mosquitto object per connection, driven on the caller's
// thread (mosquitto_loop() while connecting, then our own poll() over its socket: step_with).
// libmosquitto's callbacks reach the owning Impl through the obj pointer; no global state except
// the once-only mosquitto_lib_init().
#include "hints.hpp"

#include <aliot/config.hpp>
#include <aliot/mqtt.hpp>

#include <fmt/core.h>
#include <mosquitto.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace aliot::mqtt {

namespace {

constexpr std::chrono::milliseconds k_slice{100};
constexpr std::size_t k_max_filters_per_packet = 8;
constexpr int k_reads_per_pass = 64; // incoming messages read in one pass, at most

void lib_init() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

// libmosquitto 2.0 sets up its TLS globals (OpenSSL's initialisation, a UI method, an ex-data
// index) inside the first TLS connect, without a lock: threads connecting at once (a `register
// -j N` batch over MQTT) each create them and all but one leak. Until one TLS connect has got
// past that set-up, TLS connects are made one at a time; after it they run freely.
class FirstTlsConnect {
public:
  explicit FirstTlsConnect(bool tls) {
    if (tls && !done().load(std::memory_order_acquire)) {
      m_lock = std::unique_lock<std::mutex>(mutex());
    }
  }
  // The connect call returned success: libmosquitto's TLS set-up has run.
  void succeeded() {
    if (m_lock.owns_lock()) {
      done().store(true, std::memory_order_release);
    }
  }

private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::atomic<bool>& done() {
    static std::atomic<bool> d{false};
    return d;
  }
  std::unique_lock<std::mutex> m_lock;
};

std::string errno_text(int e) {
  return std::strerror(e); // NOLINT(concurrency-mt-unsafe): single-threaded use
}

int slice_ms(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp(left, std::chrono::milliseconds(0), k_slice).count());
}

} // namespace

std::chrono::milliseconds Backoff::delay(int attempt) const {
  auto d = initial;
  for (int i = 1; i < attempt && d < max; ++i) {
    d *= 2;
  }
  return std::min(d, max);
}

// Every cause of a refused login (CONNACK 4 or 5: the platform does not say which), for every
// device command that logs in.
constexpr const char* k_login_refused_hint =
    "the platform refuses a login for any of: an unknown ProductKey (or one of another "
    "region/instance), an unknown DeviceName, a wrong DeviceSecret (or device token), a "
    "--sign-method other than the one signed with, a disabled device, a malformed client id "
    "(--client-id); the clock is not the cause, the platform does not check timestamps";

Error connack_error(int code) {
  switch (code) {
  case 1:
    return Error(Errc::remote, "connection refused (CONNACK 1): protocol level not supported",
                 "the platform speaks MQTT 3.1.1; MQTT 5 only on Enterprise instances");
  case 2:
    return Error(Errc::auth,
                 "connection refused (CONNACK 2): client id rejected: the client identifier is "
                 "malformed (too long, bad option syntax between the two '|') or the keepalive is "
                 "outside 30-1200 s",
                 "check --client-id (at most 64 characters, no '|', ',' or '=') and --keepalive");
  case 3:
    return Error(Errc::remote, "connection refused (CONNACK 3): server unavailable",
                 "the platform is in maintenance or overloaded; retry later");
  case 4:
    return Error(Errc::auth,
                 "connection refused (CONNACK 4): user name or password malformed (the user name "
                 "must be ${dn}&${pk} and the password not empty)",
                 k_login_refused_hint);
  case 5:
    return Error(Errc::auth,
                 "connection refused (CONNACK 5): not authorized: the signature does not match "
                 "the DeviceSecret, or the device is unknown, disabled, or its token is wrong",
                 k_login_refused_hint);
  default:
    return Error(Errc::auth, fmt::format("connection refused (CONNACK {})", code),
                 "the platform refused the login");
  }
}

struct Session::Impl {
  Logger log;
  mosquitto* mosq = nullptr;
  ConnectParams params;
  bool have_params = false;
  std::function<void(const Message&)> handler;
  std::function<void(const Event&)> event_handler;
  const std::atomic<bool>* interrupt = nullptr;

  // state written by the callbacks
  int connack = -1;
  bool connected = false;
  bool lost = false;
  int disconnect_rc = 0;
  // The server closed an established session cleanly (no keepalive loss, no TLS or protocol
  // error on our side): what the platform does to the older connection when another client logs
  // in with the same identity. Whether the server still accepts connections right after tells
  // a takeover from a server going away (looked at once, when the error is made).
  bool closed_by_server = false;
  mutable std::optional<bool> server_up_after_close;
  std::string last_error_log; // the last MOSQ_LOG_ERR/WARNING line (TLS reasons)
  std::set<int> pending;      // publishes not yet written (QoS 0) / acknowledged (QoS 1)
  std::set<int> early_done;   // on_publish before publish() returned the mid
  int sub_mid = -1;
  std::optional<std::vector<int>> sub_granted;
  int unsub_mid = -1;
  bool unsub_acked = false;
  std::deque<Message> queue;
  std::vector<std::string> filters; // for resubscribing
  int filter_qos = 0;

  explicit Impl(Logger l)
      : log(std::move(l)) {
    lib_init();
  }
  ~Impl() { destroy(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void destroy() {
    if (mosq != nullptr) {
      mosquitto_destroy(mosq);
      mosq = nullptr;
    }
    connected = false;
  }

  static Impl& self(void* obj) { return *static_cast<Impl*>(obj); }

  static void cb_connect(mosquitto* /*m*/, void* obj, int rc) {
    auto& s = self(obj);
    s.connack = rc;
    s.connected = rc == 0;
    s.log.debug(fmt::format("CONNACK {}", rc));
  }
  static void cb_disconnect(mosquitto* /*m*/, void* obj, int rc) {
    auto& s = self(obj);
    s.connected = false;
    s.disconnect_rc = rc;
    if (rc != 0) {
      s.lost = true;
    }
  }
  static void cb_publish(mosquitto* /*m*/, void* obj, int mid) {
    auto& s = self(obj);
    if (s.pending.erase(mid) == 0) {
      s.early_done.insert(mid);
    }
  }
  static void cb_message(mosquitto* /*m*/, void* obj, const mosquitto_message* msg) {
    auto& s = self(obj);
    Message m;
    m.topic = msg->topic != nullptr ? msg->topic : "";
    if (msg->payload != nullptr && msg->payloadlen > 0) {
      m.payload.assign(static_cast<const char*>(msg->payload),
                       static_cast<std::size_t>(msg->payloadlen));
    }
    m.qos = msg->qos;
    m.retain = msg->retain;
    m.mid = msg->mid;
    s.log.trace(
        fmt::format("PUBLISH received on {} ({} bytes, QoS {})", m.topic, m.payload.size(), m.qos));
    s.queue.push_back(std::move(m));
  }
  static void cb_subscribe(mosquitto* /*m*/, void* obj, int mid, int count, const int* granted) {
    auto& s = self(obj);
    if (mid == s.sub_mid) {
      s.sub_granted = std::vector<int>(granted, granted + count);
    }
  }
  static void cb_unsubscribe(mosquitto* /*m*/, void* obj, int mid) {
    auto& s = self(obj);
    if (mid == s.unsub_mid) {
      s.unsub_acked = true;
    }
  }
  static void cb_log(mosquitto* /*m*/, void* obj, int level, const char* text) {
    auto& s = self(obj);
    const std::string_view t = text != nullptr ? text : "";
    if (level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING) {
      s.last_error_log = std::string(t);
      s.log.debug(t);
    } else {
      // libmosquitto's debug lines name packets and the client id, never the password
      s.log.trace(t);
    }
  }

  bool interrupted() const { return interrupt != nullptr && interrupt->load(); }

  Error interrupted_error() const { return Error(Errc::interrupted, "interrupted"); }

  // A libmosquitto error number as an Error of the right class.
  Error mosq_error(int rc, std::string_view what, int saved_errno = 0) const {
    std::string why;
    Errc code = Errc::network;
    switch (rc) {
    case MOSQ_ERR_ERRNO: why = errno_text(saved_errno != 0 ? saved_errno : errno); break;
    case MOSQ_ERR_EAI:
      why = std::string("cannot resolve ") + params.endpoint.host + ": "
            + gai_strerror(saved_errno != 0 ? saved_errno : errno);
      break;
    case MOSQ_ERR_TLS:
    case MOSQ_ERR_TLS_HANDSHAKE:
      why = "TLS failed" + (last_error_log.empty() ? std::string() : ": " + last_error_log);
      break;
    case MOSQ_ERR_CONN_LOST:
    case MOSQ_ERR_NO_CONN:
      why = "connection lost" + (last_error_log.empty() ? std::string() : ": " + last_error_log);
      break;
    case MOSQ_ERR_KEEPALIVE: why = "connection lost: no answer to the keepalive ping"; break;
    case MOSQ_ERR_PROTOCOL:
    case MOSQ_ERR_MALFORMED_PACKET:
      why = std::string("protocol error: ") + mosquitto_strerror(rc);
      code = Errc::remote;
      break;
    case MOSQ_ERR_PAYLOAD_SIZE:
    case MOSQ_ERR_INVAL:
    case MOSQ_ERR_MALFORMED_UTF8:
    case MOSQ_ERR_OVERSIZE_PACKET:
      why = mosquitto_strerror(rc);
      code = Errc::usage;
      break;
    case MOSQ_ERR_NOMEM:
      why = "out of memory";
      code = Errc::internal;
      break;
    case MOSQ_ERR_CONN_REFUSED:
      if (connack > 0) {
        return connack_error(connack);
      }
      why = "connection refused by the broker";
      code = Errc::auth;
      break;
    default: why = mosquitto_strerror(rc); break;
    }
    return Error(code, std::string(what) + ": " + why);
  }

  std::string where() const {
    return fmt::format("{}:{}", params.endpoint.host, params.endpoint.port);
  }

  // Whether `e` is the errno of a TCP connect that nothing accepted.
  static bool connect_errno(int e) {
    return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EADDRNOTAVAIL
           || e == ETIMEDOUT || e == EHOSTDOWN || e == ENETDOWN;
  }

  // The TCP connect failed with `e`: the stage named, at once.
  Error tcp_error(int e) const {
    return Error(Errc::network,
                 e == ECONNREFUSED
                     ? fmt::format("TCP connect to {} refused", where())
                     : fmt::format("TCP connect to {} failed: {}", where(), errno_text(e)),
                 hints::k_broker_down);
  }

  // Why connecting failed (rc from mosquitto_connect_async or mosquitto_loop before CONNACK,
  // `e` the errno saved right after it), naming the stage: DNS, TCP connect or TLS handshake.
  Error connect_error(int rc, int e) const {
    if (rc == MOSQ_ERR_EAI) {
      return Error(Errc::network,
                   fmt::format("connecting to {}: DNS: cannot resolve {}: {}", where(),
                               params.endpoint.host, gai_strerror(e != 0 ? e : errno)),
                   hints::k_dns);
    }
    if (rc == MOSQ_ERR_ERRNO && connect_errno(e)) {
      return tcp_error(e);
    }
    if (rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_TLS_HANDSHAKE) {
      return Error(Errc::network,
                   fmt::format("TLS handshake with {} failed", where())
                       + (last_error_log.empty() ? "" : ": " + last_error_log),
                   "check --ca-file (or ALIOT_CA_FILE) and that this port speaks TLS (--tcp for "
                   "plain MQTT); 'aliot connect' shows the certificate chain");
    }
    return mosq_error(rc, "connecting to " + where(), e);
  }

  // libmosquitto's TLS connect does not report a TCP connect that failed (refused, unreachable):
  // the handshake then waits on a dead socket, mosquitto_loop() succeeds, and only the deadline
  // would end the wait. The kernel knows: a socket whose connect failed is back in TCP_CLOSE,
  // while one still connecting is in SYN_SENT and an accepted one ESTABLISHED.
  bool tcp_closed() const {
    const int fd = mosq != nullptr ? mosquitto_socket(mosq) : -1;
    if (fd < 0) {
      return false;
    }
    tcp_info ti{};
    socklen_t len = sizeof ti;
    return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_state == TCP_CLOSE;
  }

  // The socket is closed before CONNACK (tcp_closed()): why. The errno libmosquitto left behind
  // is no contract, so the connect is tried once more on its own, bounded by the deadline.
  Error closed_before_connack(Deadline deadline) const {
    auto dns = probe_dns(params.endpoint.host, params.endpoint.port);
    if (!dns) {
      return Error(Errc::network, "connecting to " + where() + ": DNS: " + dns.error().message(),
                   dns.error().hint());
    }
    int e = 0;
    auto tcp = probe_tcp(*dns, params.endpoint.port,
                         std::min(deadline, after(std::chrono::seconds(3))), &e);
    if (!tcp) {
      if (connect_errno(e)) {
        return tcp_error(e);
      }
      return Error(Errc::network,
                   fmt::format("TCP connect to {} failed: {}", where(), tcp.error().message()),
                   hints::k_broker_down);
    }
    ::close(tcp->fd);
    return Error(
        Errc::network,
        fmt::format("connecting to {}: the server closed the connection before CONNACK", where())
            + (last_error_log.empty() ? "" : " (" + last_error_log + ")"),
        params.endpoint.tls ? "" : "is this a TLS port? drop --tcp");
  }

  Result<void> create() {
    destroy();
    mosq = mosquitto_new(params.client_id.c_str(), params.clean_session, this);
    if (mosq == nullptr) {
      return Error(Errc::usage, "cannot create the MQTT client: " + errno_text(errno));
    }
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(mosq, cb_connect);
    mosquitto_disconnect_callback_set(mosq, cb_disconnect);
    mosquitto_publish_callback_set(mosq, cb_publish);
    mosquitto_message_callback_set(mosq, cb_message);
    mosquitto_subscribe_callback_set(mosq, cb_subscribe);
    mosquitto_unsubscribe_callback_set(mosq, cb_unsubscribe);
    mosquitto_log_callback_set(mosq, cb_log);
    if (!params.username.empty() || !params.password.empty()) {
      const int rc = mosquitto_username_pw_set(mosq, params.username.c_str(),
                                               params.password.reveal().c_str());
      if (rc != MOSQ_ERR_SUCCESS) {
        return mosq_error(rc, "setting the user name and password");
      }
    }
    if (params.endpoint.tls) {
      ALIOT_TRY(config::check_ca_file(params.endpoint.ca_file));
      int rc = 0;
      if (!params.endpoint.ca_file.empty()) {
        rc = mosquitto_tls_set(mosq, params.endpoint.ca_file.c_str(), nullptr, nullptr, nullptr,
                               nullptr);
      } else {
        rc = mosquitto_tls_set(mosq, nullptr, k_system_ca_path, nullptr, nullptr, nullptr);
      }
      if (rc != MOSQ_ERR_SUCCESS) {
        return Error(Errc::config,
                     "TLS setup: cannot use the CA "
                         + (params.endpoint.ca_file.empty() ? std::string(k_system_ca_path)
                                                            : params.endpoint.ca_file)
                         + ": " + mosquitto_strerror(rc));
      }
      if (params.endpoint.insecure) {
        mosquitto_tls_opts_set(mosq, 0 /* SSL_VERIFY_NONE */, nullptr, nullptr);
        mosquitto_tls_insecure_set(mosq, true);
      }
    }
    return ok();
  }

  Result<void> connect(Deadline deadline) {
    ALIOT_TRY(create());
    connack = -1;
    connected = false;
    lost = false;
    closed_by_server = false;
    server_up_after_close.reset();
    last_error_log.clear();
    pending.clear();
    early_done.clear();
    log.debug(fmt::format("connecting to {}:{} ({})", params.endpoint.host, params.endpoint.port,
                          params.endpoint.tls ? "TLS" : "plain TCP"));
    errno = 0;
    int rc = MOSQ_ERR_SUCCESS;
    {
      FirstTlsConnect first_tls(params.endpoint.tls); // held for this call only
      rc = mosquitto_connect_async(mosq, params.endpoint.host.c_str(), params.endpoint.port,
                                   params.keepalive);
      if (rc == MOSQ_ERR_SUCCESS) {
        first_tls.succeeded();
      }
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      const int e = errno;
      auto err = connect_error(rc, e);
      destroy();
      return err;
    }
    while (connack < 0) {
      if (interrupted()) {
        destroy();
        return interrupted_error();
      }
      if (Clock::now() >= deadline) {
        destroy();
        return Error(Errc::timeout,
                     fmt::format("connecting to {}:{}: no CONNACK in time", params.endpoint.host,
                                 params.endpoint.port),
                     "the host may drop packets (firewall) or not be an MQTT server; check "
                     "--host, --port and --tcp");
      }
      errno = 0;
      rc = mosquitto_loop(mosq, slice_ms(deadline), 1);
      const int e = errno;
      if (connack >= 0) {
        break;
      }
      if (rc == MOSQ_ERR_SUCCESS && tcp_closed()) {
        auto err = closed_before_connack(deadline);
        destroy();
        return err;
      }
      if (rc != MOSQ_ERR_SUCCESS) {
        auto err = connect_error(rc, e);
        destroy();
        if (rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_NO_CONN) {
          return Error(Errc::network,
                       fmt::format("connecting to {}:{}: the server closed the connection before "
                                   "CONNACK",
                                   params.endpoint.host, params.endpoint.port)
                           + (last_error_log.empty() ? "" : " (" + last_error_log + ")"),
                       params.endpoint.tls ? "" : "is this a TLS port? drop --tcp");
        }
        return err;
      }
    }
    if (connack != 0) {
      destroy();
      return connack_error(connack);
    }
    return ok();
  }

  // One loop pass; turns a lost connection into an error.
  Result<void> pump(int ms) {
    ALIOT_TRY(pump_with(-1, ms));
    return ok();
  }

  // One loop pass over our own poll() rather than mosquitto_loop(): the connection and `fd` in
  // one call, and no select() set rebuilt nor wake-up byte read back from libmosquitto's
  // socketpair on every pass (libmosquitto writes one there for every packet it queues, for a
  // loop thread that this session does not have). Returns whether `fd` is ready.
  Result<bool> pump_with(int fd, int ms) {
    if (mosq == nullptr || (!connected && lost)) {
      return lost_error();
    }
    const int sock = mosquitto_socket(mosq);
    if (sock < 0) {
      return loop_failed(MOSQ_ERR_NO_CONN, 0);
    }
    std::array<pollfd, 2> p{
        pollfd{sock, static_cast<short>(POLLIN | (mosquitto_want_write(mosq) ? POLLOUT : 0)), 0},
        pollfd{fd, POLLIN, 0}};
    const int n = ::poll(p.data(), fd >= 0 ? 2 : 1, std::max(ms, 0));
    if (n < 0 && errno != EINTR) {
      return Error(Errc::internal, "waiting for the connection: " + errno_text(errno));
    }
    int rc = MOSQ_ERR_SUCCESS;
    if (n > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      // A publisher's read takes as many packets as it has publishes in flight; a subscriber's
      // takes one, so read again while messages keep coming (a burst costs one poll).
      for (int i = 0; i < k_reads_per_pass && rc == MOSQ_ERR_SUCCESS; ++i) {
        const std::size_t queued = queue.size();
        errno = 0;
        rc = mosquitto_loop_read(mosq, 1);
        if (queue.size() == queued) {
          break;
        }
      }
    }
    if (rc == MOSQ_ERR_SUCCESS && !lost && mosquitto_want_write(mosq)) {
      errno = 0;
      rc = mosquitto_loop_write(mosq, 1);
    }
    if (rc == MOSQ_ERR_SUCCESS && !lost) {
      errno = 0;
      rc = mosquitto_loop_misc(mosq);
    }
    if (rc != MOSQ_ERR_SUCCESS || lost) {
      return loop_failed(rc, errno);
    }
    return fd >= 0 && n > 0 && p[1].revents != 0;
  }

  // A loop call failed (rc) or the connection went down meanwhile: the error to return.
  Error loop_failed(int rc, int e) {
    const int why = rc != MOSQ_ERR_SUCCESS ? rc : disconnect_rc;
    closed_by_server = connack == 0 && why == MOSQ_ERR_CONN_LOST && last_error_log.empty();
    connected = false;
    lost = true;
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_CONN_LOST && rc != MOSQ_ERR_NO_CONN) {
      return mosq_error(rc, "connection lost", e);
    }
    return lost_error();
  }

  bool server_still_up() const {
    if (!server_up_after_close) {
      server_up_after_close = false;
      if (auto dns = probe_dns(params.endpoint.host, params.endpoint.port)) {
        if (auto tcp = probe_tcp(*dns, params.endpoint.port, after(std::chrono::seconds(1)))) {
          ::close(tcp->fd);
          server_up_after_close = true;
        }
      }
    }
    return *server_up_after_close;
  }

  Error lost_error() const {
    if (closed_by_server && server_still_up()) {
      // The user name is "${dn}&${pk}" for every kind of device login.
      const auto amp = params.username.find('&');
      const std::string who = amp == std::string::npos ? params.username
                                                       : params.username.substr(amp + 1) + "/"
                                                             + params.username.substr(0, amp);
      return Error(Errc::network,
                   fmt::format("connection lost: another client logged in as this device ({}); "
                               "two processes share this triplet? ({}:{})",
                               who, params.endpoint.host, params.endpoint.port),
                   "the platform keeps one connection per device and closes the older one when "
                   "a new one logs in (the server closed this session and still accepts "
                   "connections); if nothing else uses the triplet, the device may have been "
                   "disabled or deleted");
    }
    std::string why = "connection lost";
    if (!last_error_log.empty()) {
      why += ": " + last_error_log;
    } else if (disconnect_rc != 0) {
      why += std::string(": ") + mosquitto_strerror(disconnect_rc);
    }
    return Error(Errc::network,
                 fmt::format("{} ({}:{})", why, params.endpoint.host, params.endpoint.port));
  }

  Result<void> wait_until(const std::function<bool()>& cond,
                          Deadline deadline,
                          const std::function<std::string()>& what) {
    while (!cond()) {
      if (interrupted()) {
        return interrupted_error();
      }
      if (Clock::now() >= deadline) {
        return Error(Errc::timeout, what());
      }
      ALIOT_TRY(pump(slice_ms(deadline)));
    }
    return ok();
  }

  Result<std::vector<int>>
  subscribe(const std::vector<std::string>& fs, int qos, Deadline deadline) {
    std::vector<int> all;
    for (std::size_t i = 0; i < fs.size(); i += k_max_filters_per_packet) {
      const std::size_t n = std::min(k_max_filters_per_packet, fs.size() - i);
      std::vector<char*> ptrs;
      for (std::size_t j = 0; j < n; ++j) {
        ptrs.push_back(const_cast<char*>(fs[i + j].c_str())); // NOLINT: libmosquitto's signature
      }
      sub_granted.reset();
      int mid = 0;
      const int rc = mosquitto_subscribe_multiple(mosq, &mid, static_cast<int>(n), ptrs.data(), qos,
                                                  0, nullptr);
      if (rc != MOSQ_ERR_SUCCESS) {
        return mosq_error(rc, "subscribing");
      }
      sub_mid = mid;
      ALIOT_TRY(wait_until([this] { return sub_granted.has_value(); }, deadline,
                           [] { return std::string("subscribing: no SUBACK in time"); }));
      for (std::size_t j = 0; j < sub_granted->size() && j < n; ++j) {
        const int g = (*sub_granted)[j];
        if (g == 0x80 || g < 0 || g > 2) {
          return Error(Errc::auth,
                       "subscription to " + fs[i + j] + " refused by the platform (SUBACK 0x80)",
                       "the device may subscribe only to its own topics whose category allows "
                       "Subscribe (e.g. /${pk}/${dn}/user/get, /sys/${pk}/${dn}/rrpc/request/+); "
                       "at most 100 subscriptions per device");
        }
        all.push_back(g);
      }
    }
    return all;
  }
};

Session::Session(Logger log)
    : m_impl(std::make_unique<Impl>(std::move(log))) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

void Session::on_message(std::function<void(const Message&)> handler) {
  m_impl->handler = std::move(handler);
}

void Session::on_event(std::function<void(const Event&)> handler) {
  m_impl->event_handler = std::move(handler);
}

void Session::set_interrupt(const std::atomic<bool>* flag) {
  m_impl->interrupt = flag;
}

Result<void> Session::connect(const ConnectParams& params, Deadline deadline) {
  m_impl->params = params;
  m_impl->have_params = true;
  m_impl->filters.clear();
  return m_impl->connect(deadline);
}

bool Session::interrupted() const {
  return m_impl->interrupted();
}

bool Session::connected() const {
  return m_impl->connected;
}

int Session::last_connack() const {
  return m_impl->connack;
}

Result<std::vector<int>>
Session::subscribe(const std::vector<std::string>& filters, int qos, Deadline deadline) {
  if (qos < 0 || qos > 1) {
    return Error(Errc::usage,
                 fmt::format("QoS {} is not supported: the platform has QoS 0 and 1 only", qos));
  }
  if (!m_impl->connected) {
    return m_impl->lost_error();
  }
  auto r = m_impl->subscribe(filters, qos, deadline);
  if (r) {
    m_impl->filters.insert(m_impl->filters.end(), filters.begin(), filters.end());
    m_impl->filter_qos = qos;
  }
  return r;
}

Result<void> Session::unsubscribe(const std::vector<std::string>& filters, Deadline deadline) {
  auto& s = *m_impl;
  if (s.mosq == nullptr || !s.connected) {
    return s.lost_error();
  }
  for (const auto& f : filters) {
    s.unsub_acked = false;
    int mid = 0;
    const int rc = mosquitto_unsubscribe(s.mosq, &mid, f.c_str());
    if (rc != MOSQ_ERR_SUCCESS) {
      return s.mosq_error(rc, "unsubscribing from " + f);
    }
    s.unsub_mid = mid;
    ALIOT_TRY(s.wait_until([&s] { return s.unsub_acked; }, deadline,
                           [&f] { return "unsubscribing from " + f + ": no UNSUBACK in time"; }));
    std::erase(s.filters, f);
  }
  return ok();
}

const std::vector<std::string>& Session::filters() const {
  return m_impl->filters;
}

Result<void> Session::reconnect(Deadline deadline) {
  auto& s = *m_impl;
  if (!s.have_params) {
    return Error(Errc::internal, "reconnect before connect");
  }
  const auto filters = s.filters;
  ALIOT_TRY(s.connect(deadline));
  if (!filters.empty()) {
    ALIOT_TRY(s.subscribe(filters, s.filter_qos, deadline));
  }
  return ok();
}

std::optional<Message> Session::take_message() {
  auto& s = *m_impl;
  if (s.queue.empty()) {
    return std::nullopt;
  }
  Message m = std::move(s.queue.front());
  s.queue.pop_front();
  return m;
}

Result<int> Session::publish_async(std::string_view topic, std::string_view payload, int qos) {
  auto& s = *m_impl;
  if (qos < 0 || qos > 1) {
    return Error(Errc::usage,
                 fmt::format("QoS {} is not supported: the platform has QoS 0 and 1 only", qos));
  }
  if (s.mosq == nullptr || !s.connected) {
    return s.lost_error();
  }
  int mid = 0;
  const std::string t(topic);
  const int rc = mosquitto_publish(s.mosq, &mid, t.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST) {
      s.connected = false;
      s.lost = true;
      return s.lost_error();
    }
    return s.mosq_error(rc, "publishing to " + t);
  }
  if (s.early_done.erase(mid) == 0) {
    s.pending.insert(mid);
  }
  return mid;
}

Result<void> Session::flush(Deadline deadline) {
  return wait_pending(0, deadline);
}

Result<void> Session::wait_pending(std::size_t max_pending, Deadline deadline) {
  auto& s = *m_impl;
  auto r = s.wait_until([&] { return s.pending.size() <= max_pending; }, deadline,
                        [&] {
                          return fmt::format(
                              "publishing: {} message(s) not acknowledged (no PUBACK) in time",
                              s.pending.size());
                        });
  if (!r && r.error().code() == Errc::network && !s.pending.empty()) {
    return Error(Errc::network, fmt::format("{} message(s) unacknowledged: {}", s.pending.size(),
                                            r.error().message()));
  }
  return r;
}

std::size_t Session::pending() const {
  return m_impl->pending.size();
}

Result<void>
Session::publish(std::string_view topic, std::string_view payload, int qos, Deadline deadline) {
  ALIOT_TRY(publish_async(topic, payload, qos));
  return flush(deadline);
}

Result<Message> Session::next_message(Deadline deadline) {
  auto& s = *m_impl;
  ALIOT_TRY(s.wait_until([&] { return !s.queue.empty(); }, deadline,
                         [] { return std::string("no message arrived in time"); }));
  Message m = std::move(s.queue.front());
  s.queue.pop_front();
  return m;
}

Result<void> Session::step(std::chrono::milliseconds wait) {
  return m_impl->pump(static_cast<int>(wait.count()));
}

Result<bool> Session::step_with(int fd, std::chrono::milliseconds wait) {
  if (m_impl->interrupted()) {
    return m_impl->interrupted_error();
  }
  return m_impl->pump_with(fd, static_cast<int>(wait.count()));
}

Result<void> Session::run(const RunOptions& opts, const std::function<bool()>& done) {
  auto& s = *m_impl;
  int attempt = 0;
  auto dispatch = [&]() -> bool {
    while (!s.queue.empty()) {
      Message m = std::move(s.queue.front());
      s.queue.pop_front();
      if (s.handler) {
        s.handler(m);
      }
      if (done && done()) {
        return true;
      }
    }
    return false;
  };
  while (true) {
    if (dispatch() || (done && done())) {
      return ok();
    }
    if (s.interrupted()) {
      return s.interrupted_error();
    }
    const Deadline limit = opts.deadline.value_or(Clock::now() + std::chrono::hours(24 * 365));
    if (Clock::now() >= limit) {
      return Error(Errc::timeout, "time is up");
    }
    if (s.connected) {
      auto r = s.pump(slice_ms(limit));
      if (r) {
        continue;
      }
      if (r.error().code() != Errc::network || !opts.reconnect) {
        dispatch();
        return r;
      }
      if (s.event_handler) {
        s.event_handler(Event{Event::Kind::lost, r.error().message(), 0, {}});
      }
      attempt = 0;
    }
    if (!opts.reconnect) {
      return s.lost_error();
    }
    // reconnect with capped exponential backoff, keeping the subscriptions
    ++attempt;
    const auto delay = opts.backoff.delay(attempt);
    if (s.event_handler) {
      s.event_handler(Event{Event::Kind::reconnecting, s.params.endpoint.host, attempt, delay});
    }
    const Deadline wake = std::min(Clock::now() + delay, limit);
    while (Clock::now() < wake) {
      if (s.interrupted()) {
        return s.interrupted_error();
      }
      std::this_thread::sleep_for(std::min(
          k_slice, std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now())));
    }
    if (Clock::now() >= limit) {
      continue;
    }
    const Deadline cd = std::min(Clock::now() + std::chrono::seconds(10), limit);
    auto c = s.connect(cd);
    if (!c) {
      if (c.error().code() == Errc::interrupted) {
        return std::move(c).error();
      }
      s.log.debug("reconnect failed: " + c.error().message());
      continue;
    }
    if (!s.filters.empty()) {
      auto sr = s.subscribe(s.filters, s.filter_qos, cd);
      if (!sr) {
        if (sr.error().code() == Errc::auth || sr.error().code() == Errc::interrupted) {
          return std::move(sr).error();
        }
        s.destroy();
        s.lost = true;
        continue;
      }
    }
    if (s.event_handler) {
      s.event_handler(Event{Event::Kind::connected, s.params.endpoint.host, attempt, {}});
    }
    attempt = 0;
  }
}

void Session::disconnect(Deadline deadline) {
  auto& s = *m_impl;
  if (s.mosq == nullptr) {
    return;
  }
  if (s.connected) {
    // let queued packets go out, then DISCONNECT
    while (!s.pending.empty() && Clock::now() < deadline && s.pump(slice_ms(deadline))) {
    }
    mosquitto_disconnect(s.mosq);
    while (Clock::now() < deadline) {
      if (mosquitto_loop(s.mosq, slice_ms(deadline), 1) != MOSQ_ERR_SUCCESS) {
        break;
      }
    }
  }
  s.destroy();
}

} // namespace aliot::mqtt
