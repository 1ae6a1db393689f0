// The load engine of `aliot bench` (aliot/bench.hpp).
//
// Design: the fleet is split over a few worker threads; each owns its devices' libmosquitto
// clients outright and drives them in libmosquitto's external-loop mode (mosquitto_socket,
// mosquitto_loop_read/write/misc) over one epoll instance: no thread per client, no lock on the
// hot path. The callbacks (CONNACK, PUBACK, messages, loss) run inside the worker's own
// loop_read calls. Counters are atomics read by the calling thread once a second; latency
// histograms are per worker under a mutex taken once per message and once per second.
// TLS: one SSL_CTX per endpoint shared by every client (MOSQ_OPT_SSL_CTX), the CA loaded once,
// buffers released while idle (SSL_MODE_RELEASE_BUFFERS).
#include <aliot/bench.hpp>
#include <aliot/config.hpp>
#include <aliot/rrpc.hpp>
#include <aliot/topic.hpp>

#include <mosquitto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>

namespace aliot::bench {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::uint64_t k_fds_per_device = 3;
constexpr milliseconds k_sweep{200};         // timeouts and keep-alives checked this often
constexpr milliseconds k_retry{1000};        // a lost device logs in again after this
constexpr milliseconds k_offline_retry{100}; // a publish due while offline is retried

std::int64_t wall_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t micros(Clock::duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return us < 0 ? 0 : static_cast<std::uint64_t>(us);
}

// libmosquitto 2.0 sets up its TLS globals inside the first TLS connect, without a lock (see
// mqtt/session.cpp): the first TLS connect of the process is made alone.
std::mutex g_first_tls_mu;
std::atomic<bool> g_first_tls_done{false};

// The value of a `"ts":` field holding milliseconds since the epoch, if the payload has one.
std::optional<std::int64_t> payload_ts(std::string_view p) {
  const auto at = p.find("\"ts\"");
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::size_t i = at + 4;
  while (i < p.size() && (p[i] == ' ' || p[i] == ':' || p[i] == '\t')) {
    ++i;
  }
  std::int64_t v = 0;
  std::size_t digits = 0;
  while (i < p.size() && p[i] >= '0' && p[i] <= '9' && digits < 16) {
    v = v * 10 + (p[i] - '0');
    ++i;
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  return v;
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  for (std::size_t at = s.find(what); at != std::string::npos;
       at = s.find(what, at + with.size())) {
    s.replace(at, what.size(), with);
  }
}

// TLS session resumption. libmosquitto creates each connection's SSL and starts its handshake
// in one call (no hook between SSL_new and SSL_connect), so the session is offered from the
// context's info callback at the start of the handshake, before the ClientHello is written. One
// session per context (endpoint), the newest the server issued, shared by every connection: the
// server's stateless tickets (TLS 1.3, or 1.2 tickets) accept it for every login.
struct SessionSlot {
  std::mutex mu;
  SSL_SESSION* session = nullptr;
  bool resume = true;
  ~SessionSlot() {
    if (session != nullptr) {
      SSL_SESSION_free(session);
    }
  }
};

SessionSlot* slot_of(const SSL* ssl) {
  return static_cast<SessionSlot*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* slot = slot_of(ssl);
  if (slot == nullptr) {
    return 0;
  }
  const std::lock_guard<std::mutex> lock(slot->mu);
  if (slot->session != nullptr) {
    SSL_SESSION_free(slot->session);
  }
  slot->session = session; // the reference OpenSSL hands over (return 1)
  return 1;
}

void on_tls_info(const SSL* ssl, int where, int /*ret*/) {
  if ((where & SSL_CB_HANDSHAKE_START) == 0 || SSL_in_before(ssl) == 0) {
    return;
  }
  auto* slot = slot_of(ssl);
  if (slot == nullptr) {
    return;
  }
  const std::lock_guard<std::mutex> lock(slot->mu);
  if (slot->session != nullptr && SSL_SESSION_is_resumable(slot->session) == 1) {
    SSL_set_session(const_cast<SSL*>(ssl), slot->session); // NOLINT: OpenSSL's API
  }
}

struct TlsContexts {
  bool resume = true;
  std::map<std::string, SSL_CTX*> by_key;
  std::vector<std::unique_ptr<SessionSlot>> slots;
  ~TlsContexts() {
    for (auto& [k, c] : by_key) {
      SSL_CTX_free(c);
    }
  }
  Result<SSL_CTX*> get(const MqttEndpoint& ep) {
    const std::string key = ep.host + '\n' + ep.ca_file + '\n' + (ep.insecure ? "1" : "0");
    if (auto it = by_key.find(key); it != by_key.end()) {
      return it->second;
    }
    ALIOT_TRY(config::check_ca_file(ep.ca_file));
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) {
      return Error(Errc::internal, "TLS setup: cannot create an SSL context");
    }
    by_key[key] = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (resume) {
      slots.push_back(std::make_unique<SessionSlot>());
      SSL_CTX_set_app_data(ctx, slots.back().get());
      SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(ctx, on_new_session);
      SSL_CTX_set_info_callback(ctx, on_tls_info);
    }
    if (ep.insecure) {
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      return ctx;
    }
    const int loaded = ep.ca_file.empty()
                           ? SSL_CTX_load_verify_locations(ctx, nullptr, "/etc/ssl/certs")
                           : SSL_CTX_load_verify_locations(ctx, ep.ca_file.c_str(), nullptr);
    if (loaded != 1) {
      return Error(Errc::config,
                   "TLS setup: cannot use the CA "
                       + (ep.ca_file.empty() ? std::string("/etc/ssl/certs") : ep.ca_file));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
    in6_addr a6{};
    in_addr a4{};
    if (inet_pton(AF_INET, ep.host.c_str(), &a4) == 1
        || inet_pton(AF_INET6, ep.host.c_str(), &a6) == 1) {
      X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), 0);
    }
    return ctx;
  }
};

struct Target {
  MqttEndpoint endpoint;
  SSL_CTX* tls = nullptr;
};

struct Worker;

struct Dev {
  enum class State { idle, connecting, online, retry, failed };
  const FleetDevice* fleet = nullptr;
  const Target* target = nullptr;
  Worker* worker = nullptr;
  std::size_t index = 0; // in the worker
  mosquitto* m = nullptr;
  int sock = -1;
  bool want_write = false;
  State state = State::idle;
  bool answered = false; // the first login has been answered (online or failed)
  bool ever_online = false;
  bool close_now = false; // set in a callback: destroy the client after the loop call
  int last_errno = 0;
  Clock::time_point started{};
  Clock::time_point retry_at{};
  std::string pub_topic;
  long seq = 0;
  bool pub_done = false;
  std::vector<std::pair<int, Clock::time_point>> inflight;
  bool publishing = false;  // inside mosquitto_publish
  bool done_inline = false; // ... which wrote the message and called on_publish already
  Clock::time_point publish_t{};
};

struct Shared {
  const Options* o = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<bool> traffic{false};      // ready: publishing may start
  std::atomic<bool> stop_traffic{false}; // no new publishes
  std::atomic<int> first_failure{-1};
  Clock::time_point traffic_t0{}; // set before `traffic` turns true
  std::int64_t sys_interval_us = 0;
};

struct Reply {
  Clock::time_point due;
  std::size_t dev;
  std::string topic;
  std::string payload;
  bool operator>(const Reply& r) const { return due > r.due; }
};

struct Worker {
  Shared* sh = nullptr;
  std::vector<Dev> devs;
  int ep = -1;
  double rate = 0; // logins per second for this worker, 0 = unlimited
  std::size_t max_pending = 64;
  // Read by the calling thread.
  std::atomic<std::uint64_t> online{0}, connected{0}, reconnects{0}, lost{0}, failed{0}, sent{0},
      acked{0}, received{0}, answered{0}, first_answered{0}, pub_finished{0}, tls_resumed{0};
  std::array<std::atomic<std::uint64_t>, k_causes> failures{};
  std::mutex mu; // the histograms
  Histogram connect_h, latency_h;
  // The worker's own.
  std::size_t next_new = 0;
  std::size_t pending = 0;
  double tokens = 1;
  Clock::time_point refill{};
  using Due = std::pair<Clock::time_point, std::size_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> pubs;
  std::priority_queue<Reply, std::vector<Reply>, std::greater<>> replies;
  bool pubs_started = false;
  std::vector<std::string> filters_tmp;

  ~Worker() {
    if (ep >= 0) {
      ::close(ep);
    }
  }

  const Options& o() const { return *sh->o; }

  void sync(Dev& d) {
    const int s = d.m != nullptr ? mosquitto_socket(d.m) : -1;
    const bool ww = s >= 0 && mosquitto_want_write(d.m);
    if (s != d.sock) {
      // A closed socket left the epoll set with its close; a new one joins it.
      d.sock = s;
      if (s >= 0) {
        epoll_event ev{};
        ev.events = EPOLLIN | (ww ? EPOLLOUT : 0U);
        ev.data.ptr = &d;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
        d.want_write = ww;
      }
      return;
    }
    if (s >= 0 && ww != d.want_write) {
      epoll_event ev{};
      ev.events = EPOLLIN | (ww ? EPOLLOUT : 0U);
      ev.data.ptr = &d;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, s, &ev);
      d.want_write = ww;
    }
  }

  void destroy(Dev& d) {
    if (d.m != nullptr) {
      mosquitto_destroy(d.m); // closes the socket, which leaves the epoll set
      d.m = nullptr;
    }
    d.sock = -1;
    d.want_write = false;
    d.inflight.clear();
  }

  void fail(Dev& d, Cause c) {
    failures[static_cast<std::size_t>(c)].fetch_add(1, std::memory_order_relaxed);
    int none = -1;
    sh->first_failure.compare_exchange_strong(none, static_cast<int>(c));
    if (d.state == Dev::State::connecting && pending > 0) {
      --pending;
    }
    d.close_now = true;
    if (!d.answered) {
      d.answered = true;
      d.state = Dev::State::failed; // a first login that fails is not retried
      failed.fetch_add(1, std::memory_order_relaxed);
      first_answered.fetch_add(1, std::memory_order_relaxed);
    } else {
      d.state = Dev::State::retry;
      d.retry_at = Clock::now() + k_retry;
    }
  }

  // After every libmosquitto call on a device: what its callbacks decided, and the epoll set.
  void settle(Dev& d) {
    if (d.close_now) {
      d.close_now = false;
      destroy(d);
      return;
    }
    sync(d);
  }

  static void on_connect(mosquitto* /*m*/, void* ud, int rc) {
    auto& d = *static_cast<Dev*>(ud);
    d.worker->connack(d, rc);
  }
  static void on_disconnect(mosquitto* /*m*/, void* ud, int rc) {
    const int e = errno;
    auto& d = *static_cast<Dev*>(ud);
    d.last_errno = e;
    d.worker->gone(d, rc);
  }
  static void on_publish(mosquitto* /*m*/, void* ud, int mid) {
    auto& d = *static_cast<Dev*>(ud);
    d.worker->puback(d, mid);
  }
  static void on_message(mosquitto* /*m*/, void* ud, const mosquitto_message* msg) {
    auto& d = *static_cast<Dev*>(ud);
    d.worker->message(d, *msg);
  }

  void connack(Dev& d, int rc) {
    if (d.state != Dev::State::connecting) {
      return;
    }
    if (rc != 0) {
      fail(d, rc == 1 || rc == 3 ? Cause::refused : Cause::auth);
      return;
    }
    --pending;
    d.state = Dev::State::online;
    online.fetch_add(1, std::memory_order_relaxed);
    connected.fetch_add(1, std::memory_order_relaxed);
    if (d.ever_online) {
      reconnects.fetch_add(1, std::memory_order_relaxed);
    }
    d.ever_online = true;
    if (d.target->tls != nullptr) {
      const auto* ssl = static_cast<const SSL*>(mosquitto_ssl_get(d.m));
      if (ssl != nullptr && SSL_session_reused(ssl) == 1) {
        tls_resumed.fetch_add(1, std::memory_order_relaxed);
      }
    }
    {
      const std::lock_guard<std::mutex> lock(mu);
      connect_h.record(micros(Clock::now() - d.started));
    }
    if (!d.answered) {
      d.answered = true;
      first_answered.fetch_add(1, std::memory_order_relaxed);
    }
    const auto& pk = d.fleet->product_key;
    const auto& dn = d.fleet->device_name;
    if (o().mode == Mode::sub || o().mode == Mode::rrpc) {
      filters_tmp.clear();
      if (o().mode == Mode::rrpc) {
        filters_tmp.push_back(rrpc::request_filter(pk, dn));
      } else {
        for (const auto& t : o().topics) {
          const std::string e = topic::expand(t, pk, dn);
          filters_tmp.push_back(!e.empty() && e[0] == '/' ? e : "/" + pk + "/" + dn + "/" + e);
        }
      }
      for (const auto& f : filters_tmp) {
        mosquitto_subscribe(d.m, nullptr, f.c_str(), o().mode == Mode::rrpc ? 0 : o().qos);
      }
    }
  }

  void gone(Dev& d, int rc) {
    if (d.state == Dev::State::connecting) {
      fail(d, d.last_errno == ECONNREFUSED ? Cause::refused : Cause::network);
      return;
    }
    if (d.state != Dev::State::online) {
      return;
    }
    online.fetch_sub(1, std::memory_order_relaxed);
    if (sh->stop.load()) {
      d.state = Dev::State::idle;
      return;
    }
    (void)rc;
    lost.fetch_add(1, std::memory_order_relaxed);
    d.state = Dev::State::retry;
    d.retry_at = Clock::now() + k_retry;
    d.close_now = true;
  }

  void puback(Dev& d, int mid) {
    if (d.publishing) {
      // A QoS 0 message written inside mosquitto_publish itself: its id is not yet known here.
      d.done_inline = true;
      acked.fetch_add(1, std::memory_order_relaxed);
      const std::lock_guard<std::mutex> lock(mu);
      latency_h.record(micros(Clock::now() - d.publish_t));
      return;
    }
    const auto it = std::find_if(d.inflight.begin(), d.inflight.end(),
                                 [mid](const auto& p) { return p.first == mid; });
    if (it == d.inflight.end()) {
      return;
    }
    const auto t = it->second;
    *it = d.inflight.back();
    d.inflight.pop_back();
    acked.fetch_add(1, std::memory_order_relaxed);
    const std::lock_guard<std::mutex> lock(mu);
    latency_h.record(micros(Clock::now() - t));
  }

  void record_ts(std::string_view payload) {
    if (auto ts = payload_ts(payload)) {
      const auto now = wall_ms();
      const std::lock_guard<std::mutex> lock(mu);
      latency_h.record(now > *ts ? static_cast<std::uint64_t>(now - *ts) * 1000 : 0);
    }
  }

  void message(Dev& d, const mosquitto_message& msg) {
    const std::string_view payload(static_cast<const char*>(msg.payload),
                                   static_cast<std::size_t>(std::max(msg.payloadlen, 0)));
    received.fetch_add(1, std::memory_order_relaxed);
    record_ts(payload);
    if (o().mode != Mode::rrpc || msg.topic == nullptr) {
      return;
    }
    auto req = rrpc::parse_request(msg.topic, d.fleet->product_key, d.fleet->device_name);
    if (!req) {
      return;
    }
    Reply r{Clock::now() + o().reply_delay, d.index, std::move(req->reply_topic),
            o().reply ? *o().reply : std::string(payload)};
    if (o().reply_delay.count() == 0) {
      send_reply(r);
    } else {
      replies.push(std::move(r));
    }
  }

  void send_reply(const Reply& r) {
    Dev& d = devs[r.dev];
    if (d.state != Dev::State::online || d.m == nullptr) {
      return;
    }
    if (mosquitto_publish(d.m, nullptr, r.topic.c_str(), static_cast<int>(r.payload.size()),
                          r.payload.data(), 0, false)
        == MOSQ_ERR_SUCCESS) {
      answered.fetch_add(1, std::memory_order_relaxed);
    }
  }

  Result<void> start_login(Dev& d) {
    destroy(d);
    sign::MqttParams p;
    p.product_key = d.fleet->product_key;
    p.device_name = d.fleet->device_name;
    p.method = o().method;
    if (o().timestamp) {
      p.timestamp = std::to_string(wall_ms());
    }
    p.securemode = d.target->endpoint.tls ? 2 : 3;
    ALIOT_TRY_ASSIGN(auto cred, sign::mqtt_credentials(p, d.fleet->device_secret));
    d.m = mosquitto_new(cred.client_id.c_str(), true, &d);
    if (d.m == nullptr) {
      return Error(Errc::internal, "cannot create an MQTT client");
    }
    mosquitto_int_option(d.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_connect_callback_set(d.m, on_connect);
    mosquitto_disconnect_callback_set(d.m, on_disconnect);
    mosquitto_publish_callback_set(d.m, on_publish);
    mosquitto_message_callback_set(d.m, on_message);
    mosquitto_username_pw_set(d.m, cred.username.c_str(), cred.password.reveal().c_str());
    if (d.target->tls != nullptr) {
      mosquitto_void_option(d.m, MOSQ_OPT_SSL_CTX, d.target->tls);
      mosquitto_int_option(d.m, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    }
    d.state = Dev::State::connecting;
    d.started = Clock::now();
    ++pending;
    errno = 0;
    int rc = 0;
    const auto& where = d.target->endpoint;
    if (d.target->tls != nullptr && !g_first_tls_done.load(std::memory_order_acquire)) {
      const std::lock_guard<std::mutex> lock(g_first_tls_mu);
      rc = mosquitto_connect_async(d.m, where.host.c_str(), where.port, o().keepalive);
      if (rc == MOSQ_ERR_SUCCESS) {
        g_first_tls_done.store(true, std::memory_order_release);
      }
    } else {
      rc = mosquitto_connect_async(d.m, where.host.c_str(), where.port, o().keepalive);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      const int e = errno;
      fail(d, rc == MOSQ_ERR_ERRNO && e == ECONNREFUSED ? Cause::refused : Cause::network);
    }
    settle(d);
    return ok();
  }

  // Starts as many logins as the rate, the pending limit and the fleet allow.
  Result<void> start_logins(Clock::time_point now) {
    if (rate > 0) {
      const double dt = std::chrono::duration<double>(now - refill).count();
      refill = now;
      tokens = std::min(tokens + dt * rate, std::max(1.0, rate / 20));
    }
    while (pending < max_pending && (rate <= 0 || tokens >= 1)) {
      Dev* d = nullptr;
      if (next_new < devs.size()) {
        d = &devs[next_new++];
      } else {
        break;
      }
      tokens -= 1;
      ALIOT_TRY(start_login(*d));
    }
    return ok();
  }

  std::string payload_for(const Dev& d) {
    const auto ts = std::to_string(wall_ms());
    std::string p;
    if (!o().payload_template.empty()) {
      p = o().payload_template;
      replace_all(p, "{dn}", d.fleet->device_name);
      replace_all(p, "{seq}", std::to_string(d.seq));
      replace_all(p, "{ts}", ts);
      return p;
    }
    p = "{\"dn\":\"" + d.fleet->device_name + "\",\"seq\":" + std::to_string(d.seq)
        + ",\"ts\":" + ts;
    if (o().size == 0) {
      return p + "}";
    }
    const std::string pad = ",\"pad\":\"\"}";
    if (o().size >= p.size() + pad.size()) {
      return p + ",\"pad\":\"" + std::string(o().size - p.size() - pad.size(), 'x') + "\"}";
    }
    return std::string(o().size, 'x');
  }

  void finish_pub(Dev& d) {
    if (!d.pub_done) {
      d.pub_done = true;
      pub_finished.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void publish_due(Clock::time_point now) {
    if (!pubs_started) {
      pubs_started = true;
      const auto t0 = sh->traffic_t0;
      const auto n = std::max<std::size_t>(devs.size(), 1);
      for (std::size_t i = 0; i < devs.size(); ++i) {
        if (devs[i].state == Dev::State::failed) {
          finish_pub(devs[i]);
          continue;
        }
        pubs.emplace(t0 + o().interval * static_cast<long>(i) / static_cast<long>(n), i);
      }
    }
    const bool stopping = sh->stop_traffic.load();
    while (!pubs.empty() && pubs.top().first <= now) {
      const auto [due, i] = pubs.top();
      pubs.pop();
      Dev& d = devs[i];
      if (stopping || d.state == Dev::State::failed) {
        finish_pub(d);
        continue;
      }
      if (d.state != Dev::State::online || d.m == nullptr) {
        pubs.emplace(now + k_offline_retry, i);
        continue;
      }
      const std::string payload = payload_for(d);
      int mid = 0;
      d.publishing = true;
      d.done_inline = false;
      d.publish_t = Clock::now();
      const int rc =
          mosquitto_publish(d.m, &mid, d.pub_topic.c_str(), static_cast<int>(payload.size()),
                            payload.data(), o().qos, false);
      d.publishing = false;
      if (rc != MOSQ_ERR_SUCCESS) {
        pubs.emplace(now + k_offline_retry, i);
        settle(d);
        continue;
      }
      if (!d.done_inline) {
        d.inflight.emplace_back(mid, d.publish_t);
      }
      sent.fetch_add(1, std::memory_order_relaxed);
      ++d.seq;
      if (o().count > 0 && d.seq >= o().count) {
        finish_pub(d);
      } else {
        pubs.emplace(due + o().interval, i);
      }
      settle(d);
    }
    if (stopping) {
      while (!pubs.empty()) {
        finish_pub(devs[pubs.top().second]);
        pubs.pop();
      }
    }
  }

  // Timeouts, reconnects and libmosquitto's keep-alive work.
  Result<void> sweep(Clock::time_point now) {
    for (auto& d : devs) {
      if (d.state == Dev::State::connecting && now - d.started > o().connect_timeout) {
        fail(d, Cause::timeout);
        settle(d);
        continue;
      }
      if (d.state == Dev::State::retry && now >= d.retry_at && pending < max_pending) {
        ALIOT_TRY(start_login(d));
        continue;
      }
      if (d.m != nullptr && d.sock >= 0) {
        mosquitto_loop_misc(d.m);
        settle(d);
      }
    }
    return ok();
  }

  void close_all() {
    for (auto& d : devs) {
      if (d.m == nullptr) {
        continue;
      }
      if (d.state == Dev::State::online) {
        online.fetch_sub(1, std::memory_order_relaxed);
        d.state = Dev::State::idle;
        mosquitto_disconnect(d.m);
        // The DISCONNECT is queued and written at once if the socket takes it; write the rest.
        for (int i = 0; i < 50 && mosquitto_socket(d.m) >= 0 && mosquitto_want_write(d.m); ++i) {
          if (mosquitto_loop_write(d.m, 1) != MOSQ_ERR_SUCCESS) {
            break;
          }
        }
      }
      destroy(d);
    }
  }

  Result<void> loop() {
    std::vector<epoll_event> events(512);
    auto next_sweep = Clock::now() + k_sweep;
    refill = Clock::now();
    while (!sh->stop.load(std::memory_order_relaxed)) {
      auto now = Clock::now();
      ALIOT_TRY(start_logins(now));
      int wait_ms = 10;
      const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), wait_ms);
      for (int i = 0; i < n; ++i) {
        auto& d = *static_cast<Dev*>(events[static_cast<std::size_t>(i)].data.ptr);
        const auto ev = events[static_cast<std::size_t>(i)].events;
        if (d.m == nullptr || d.sock < 0) {
          continue;
        }
        int rc = MOSQ_ERR_SUCCESS;
        errno = 0;
        if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) {
          rc = mosquitto_loop_read(d.m, 16);
        }
        if (rc == MOSQ_ERR_SUCCESS && (ev & EPOLLOUT) != 0 && !d.close_now
            && mosquitto_socket(d.m) >= 0) {
          rc = mosquitto_loop_write(d.m, 16);
        }
        if (rc != MOSQ_ERR_SUCCESS && !d.close_now) {
          // An error libmosquitto returned without reporting a disconnect (a TLS handshake
          // that failed inside loop_read/loop_write leaves its socket open): the same as a loss.
          d.last_errno = errno;
          gone(d, rc);
        }
        settle(d);
      }
      now = Clock::now();
      if (o().mode == Mode::pub && sh->traffic.load(std::memory_order_acquire)) {
        publish_due(now);
      }
      while (!replies.empty() && replies.top().due <= now) {
        send_reply(replies.top());
        Dev& d = devs[replies.top().dev];
        replies.pop();
        if (d.m != nullptr) {
          settle(d);
        }
      }
      if (now >= next_sweep) {
        next_sweep = now + k_sweep;
        ALIOT_TRY(sweep(now));
      }
    }
    close_all();
    return ok();
  }
};

Snapshot snapshot(std::vector<std::unique_ptr<Worker>>& ws, const Shared& sh, std::size_t n) {
  Snapshot s;
  s.devices = n;
  std::uint64_t answered_first = 0;
  for (auto& w : ws) {
    s.online += w->online.load();
    s.connected += w->connected.load();
    s.reconnects += w->reconnects.load();
    s.lost += w->lost.load();
    s.failed += w->failed.load();
    s.sent += w->sent.load();
    s.acked += w->acked.load();
    s.received += w->received.load();
    s.answered += w->answered.load();
    s.tls_resumed += w->tls_resumed.load();
    answered_first += w->first_answered.load();
    for (std::size_t c = 0; c < k_causes; ++c) {
      s.failures[c] += w->failures[c].load();
    }
    const std::lock_guard<std::mutex> lock(w->mu);
    s.connect_us.merge(w->connect_h);
    s.latency_us.merge(w->latency_h);
  }
  s.ready = answered_first >= n;
  if (const int f = sh.first_failure.load(); f >= 0) {
    s.first_failure = static_cast<Cause>(f);
  }
  return s;
}

} // namespace

std::string_view cause_name(Cause c) {
  switch (c) {
  case Cause::refused: return "refused";
  case Cause::auth: return "auth";
  case Cause::timeout: return "timeout";
  case Cause::network: return "network";
  }
  return "network";
}

std::uint64_t raise_fd_limit(std::uint64_t wanted) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return 1024;
  }
  if (wanted > lim.rlim_max) {
    // Past the hard limit only with CAP_SYS_RESOURCE (root), up to fs.nr_open; else unchanged.
    const rlimit more{wanted, wanted};
    if (::setrlimit(RLIMIT_NOFILE, &more) == 0) {
      return wanted;
    }
  }
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      ::getrlimit(RLIMIT_NOFILE, &lim);
    }
  }
  return lim.rlim_cur;
}

Result<Snapshot> run(const Options& o, const std::function<void(const Snapshot&)>& on_tick) {
  const std::size_t n = o.devices.size();
  if (n == 0) {
    return Error(Errc::usage, "no device to run");
  }
  if (o.threads < 1 || o.threads > 64) {
    return Error(Errc::usage, "--threads must be 1-64");
  }
  // Each libmosquitto client holds three descriptors: its socket and the socket pair it wakes
  // its own loop with (made by mosquitto_new, whatever the loop).
  const std::uint64_t wanted = k_fds_per_device * n + 64;
  const std::uint64_t fds = raise_fd_limit(wanted);
  if (wanted > fds) {
    return Error(Errc::config,
                 "the file-descriptor limit (" + std::to_string(fds) + ") cannot hold "
                     + std::to_string(n) + " devices: each takes 3 (libmosquitto's socket and "
                     + "its wake-up pair), so " + std::to_string(wanted) + " are needed",
                 "raise the hard limit (ulimit -Hn, LimitNOFILE= of a service, nofile in "
                 "/etc/security/limits.conf) or run at most "
                     + std::to_string(fds > 64 ? (fds - 64) / k_fds_per_device : 0)
                     + " devices per process");
  }
  static std::once_flag lib_once;
  std::call_once(lib_once, [] { mosquitto_lib_init(); });

  // Endpoints and TLS contexts, once per ProductKey.
  TlsContexts tls;
  tls.resume = o.tls_resume;
  std::map<std::string, Target> targets;
  for (const auto& d : o.devices) {
    if (targets.count(d.product_key) != 0) {
      continue;
    }
    ALIOT_TRY_ASSIGN(auto ep, o.endpoint_for(d.product_key));
    Target t{ep, nullptr};
    if (ep.tls) {
      ALIOT_TRY_ASSIGN(t.tls, tls.get(ep));
    }
    targets.emplace(d.product_key, std::move(t));
  }

  Shared sh;
  sh.o = &o;
  const auto workers = static_cast<std::size_t>(std::min<std::size_t>(o.threads, n));
  std::vector<std::unique_ptr<Worker>> ws;
  for (std::size_t w = 0; w < workers; ++w) {
    auto wk = std::make_unique<Worker>();
    wk->sh = &sh;
    wk->ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (wk->ep < 0) {
      return Error(Errc::internal, "epoll_create1 failed");
    }
    wk->rate = o.rate / static_cast<double>(workers);
    wk->max_pending = std::max<std::size_t>(1, o.max_pending / workers);
    ws.push_back(std::move(wk));
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto& w = *ws[i % workers];
    Dev d;
    d.fleet = &o.devices[i];
    d.target = &targets.at(o.devices[i].product_key);
    d.worker = &w;
    d.index = w.devs.size();
    if (o.mode == Mode::pub) {
      const std::string e = topic::expand(o.topic, d.fleet->product_key, d.fleet->device_name);
      d.pub_topic = !e.empty() && e[0] == '/'
                        ? e
                        : "/" + d.fleet->product_key + "/" + d.fleet->device_name + "/" + e;
    }
    w.devs.push_back(std::move(d));
  }

  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  std::mutex err_mu;
  std::optional<Error> worker_error;
  for (auto& w : ws) {
    threads.emplace_back([&, wp = w.get()] {
      auto r = wp->loop();
      if (!r) {
        const std::lock_guard<std::mutex> lock(err_mu);
        worker_error = r.error();
        sh.stop.store(true);
      }
    });
  }

  bool ready = false;
  Clock::time_point ready_at{};
  Clock::time_point drain_until{};
  bool draining = false;
  auto next_tick = t0 + std::chrono::seconds(1);
  auto elapsed = [&] {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  while (!sh.stop.load()) {
    std::this_thread::sleep_for(milliseconds(20));
    const auto now = Clock::now();
    const bool interrupted = o.interrupt != nullptr && o.interrupt->load();
    if (interrupted) {
      break;
    }
    if (!ready) {
      auto s = snapshot(ws, sh, n);
      if (s.ready) {
        ready = true;
        ready_at = now;
        sh.traffic_t0 = now;
        sh.traffic.store(true, std::memory_order_release);
        s.elapsed_s = elapsed();
        on_tick(s);
      }
    }
    if (ready) {
      const bool duration_over = o.duration.count() > 0 && now - ready_at >= o.duration;
      if (o.mode == Mode::conn && now - ready_at >= o.hold) {
        break;
      }
      if (o.mode == Mode::pub) {
        if (duration_over) {
          sh.stop_traffic.store(true);
        }
        std::uint64_t finished = 0;
        for (auto& w : ws) {
          finished += w->pub_finished.load();
        }
        if (finished >= n && !draining) {
          draining = true;
          drain_until = now + o.drain;
        }
        if (draining) {
          std::uint64_t sent = 0;
          std::uint64_t acked = 0;
          for (auto& w : ws) {
            sent += w->sent.load();
            acked += w->acked.load();
          }
          if (acked >= sent || now >= drain_until) {
            break;
          }
        }
      }
      if ((o.mode == Mode::sub || o.mode == Mode::rrpc)) {
        std::uint64_t received = 0;
        for (auto& w : ws) {
          // rrpc: a request counts once answered (a delayed reply is still on its way).
          received += o.mode == Mode::rrpc ? w->answered.load() : w->received.load();
        }
        if (duration_over
            || (o.stop_after > 0 && received >= static_cast<std::uint64_t>(o.stop_after))) {
          break;
        }
      }
    }
    if (now >= next_tick) {
      next_tick += std::chrono::seconds(1);
      auto s = snapshot(ws, sh, n);
      s.elapsed_s = elapsed();
      on_tick(s);
    }
  }
  sh.stop.store(true);
  for (auto& t : threads) {
    t.join();
  }
  if (worker_error) {
    return *worker_error;
  }
  auto s = snapshot(ws, sh, n);
  s.elapsed_s = elapsed();
  s.ready = ready;
  return s;
}

} // namespace aliot::bench
