// The AMQP consumer flow over Qpid Proton C++ (see amqp.hpp). Proton facts it relies on
// (design/amqp-notes.md): proton puts half of idle_timeout() into the Open frame; work done from
// a container job is flushed only after connection::wake(); a pending container::schedule()
// keeps run() alive after stop(), so deadlines and the stop flag are watched by a plain thread.
//
// One attempt = one container: connect with freshly signed credentials, attach one receiver
// with manual credit, hand each message to the handler, accept it after the handler returned
// (or release it, unaccepted, when the handler does not want it: a filter must never consume
// the group's other messages).
// Between attempts the loop sleeps (1 s doubling to 30 s, with jitter) unless the failure was
// an authentication refusal.
#include "module.hpp"

#include <aliot/amqp.hpp>
#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/scalar.hpp>
#include <proton/ssl.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>
#include <random>
#include <thread>
#include <unordered_set>

namespace aliot::amqp {

namespace {

constexpr std::uint32_t k_window = 200; // credit kept open when no count limits it
constexpr std::size_t k_seen_ids = 100000;

long long unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The messageIds already handled (bounded, oldest forgotten first).
class SeenIds {
public:
  bool contains(const std::string& id) const { return !id.empty() && m_set.count(id) != 0; }
  bool insert(const std::string& id) {
    if (id.empty()) {
      return true;
    }
    if (!m_set.insert(id).second) {
      return false;
    }
    m_order.push_back(id);
    if (m_order.size() > k_seen_ids) {
      m_set.erase(m_order.front());
      m_order.pop_front();
    }
    return true;
  }

private:
  std::unordered_set<std::string> m_set;
  std::deque<std::string> m_order;
};

std::string text_of(const proton::scalar& s) {
  switch (s.type()) {
  case proton::STRING: return proton::get<std::string>(s);
  case proton::SYMBOL: return proton::get<proton::symbol>(s);
  case proton::BINARY: {
    const auto b = proton::get<proton::binary>(s);
    return std::string(b.begin(), b.end());
  }
  case proton::NULL_TYPE: return {};
  default: return proton::to_string(s);
  }
}

std::optional<std::int64_t> int_of(const proton::scalar& s) {
  try {
    if (s.type() == proton::STRING) {
      const std::string t = proton::get<std::string>(s);
      std::size_t used = 0;
      const long long v = std::stoll(t, &used);
      return used == t.size() ? std::optional<std::int64_t>(v) : std::nullopt;
    }
    return proton::coerce<std::int64_t>(s);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

enum class Outcome { done, lost, auth, interrupted, timeout, failed };

struct Shared {
  const ConsumerOptions& o;
  const Handler& handler;
  SeenIds seen;
  ConsumeStats stats;
  std::optional<Error> handler_error;
};

class Attempt : public proton::messaging_handler {
public:
  Attempt(Shared& sh, std::string url, proton::connection_options co)
      : m_sh(sh)
      , m_url(std::move(url))
      , m_co(std::move(co)) {}

  // Runs one connection; returns why it ended.
  Outcome run(std::string& why) {
    proton::container c(*this);
    m_container = &c;
    m_wq.emplace(c);
    std::mutex mu;
    std::condition_variable cv;
    bool ended = false;
    std::thread watchdog([&] {
      std::unique_lock lk(mu);
      bool asked = false;
      Clock::time_point hard_stop{};
      while (!ended) {
        cv.wait_for(lk, std::chrono::milliseconds(20));
        if (ended) {
          break;
        }
        const auto now = Clock::now();
        if (!asked) {
          std::optional<Outcome> why_stop;
          if (m_sh.o.stop != nullptr && m_sh.o.stop->load()) {
            why_stop = Outcome::interrupted;
          } else if (m_sh.o.deadline && now >= *m_sh.o.deadline) {
            why_stop = Outcome::timeout;
          }
          if (why_stop) {
            asked = true;
            hard_stop = now + std::chrono::seconds(2);
            const Outcome w = *why_stop;
            m_wq->add([this, w] { finish(w, ""); });
          }
        } else if (now >= hard_stop) {
          c.stop(); // the peer did not answer the close in time
          break;
        }
      }
    });
    try {
      c.run();
    } catch (const std::exception& e) {
      if (!m_outcome) {
        m_outcome = Outcome::lost;
        m_why = e.what();
      }
    }
    {
      std::lock_guard lk(mu);
      ended = true;
    }
    cv.notify_all();
    watchdog.join();
    m_receiver = proton::receiver();
    m_conn = proton::connection();
    m_wq.reset();
    m_container = nullptr;
    why = m_why;
    if (!m_outcome) {
      return m_sh.o.stop != nullptr && m_sh.o.stop->load() ? Outcome::interrupted : Outcome::lost;
    }
    return *m_outcome;
  }

  bool opened() const { return m_opened; }

  void on_container_start(proton::container& c) override { m_conn = c.connect(m_url, m_co); }

  void on_connection_open(proton::connection& c) override {
    m_opened = true;
    ++m_sh.stats.connects;
    if (m_sh.o.log) {
      m_sh.o.log("connected to " + m_url);
    }
    proton::receiver_options ro;
    ro.auto_accept(false).credit_window(0);
    m_receiver = c.open_receiver("", ro);
    top_up();
  }

  void on_message(proton::delivery& d, proton::message& m) override {
    if (m_outcome) {
      return; // finishing: left unsettled, the platform delivers it again
    }
    Message msg;
    const auto& props = m.properties();
    if (props.exists("topic")) {
      msg.topic = text_of(props.get("topic"));
    }
    if (props.exists("messageId")) {
      msg.message_id = text_of(props.get("messageId"));
    }
    if (props.exists("generateTime")) {
      msg.generate_time = int_of(props.get("generateTime"));
    }
    const proton::value& body = m.body();
    if (body.type() == proton::BINARY) {
      const auto b = proton::get<proton::binary>(body);
      msg.payload.assign(b.begin(), b.end());
    } else if (body.type() == proton::STRING) {
      msg.payload = proton::get<std::string>(body);
    } else if (!body.empty()) {
      msg.payload = proton::to_string(body);
    }
    msg.delivery_count = m.delivery_count();
    if (m_sh.seen.contains(msg.message_id)) {
      ++m_sh.stats.duplicates;
      d.accept();
      top_up();
      return;
    }
    if (const auto& cut = m_sh.o.skip_generated_before;
        cut && msg.generate_time && *msg.generate_time < *cut) {
      // The group's backlog: consumed (accepted), so it is not offered again, but not handled.
      if (m_sh.o.log) {
        m_sh.o.log("skipped a message on " + enc::printable(msg.topic) + " generated "
                   + std::to_string(*cut - *msg.generate_time) + " ms before the start");
      }
      m_sh.seen.insert(msg.message_id);
      d.accept();
      ++m_sh.stats.skipped;
      top_up();
      return;
    }
    auto r = m_sh.handler(msg);
    if (!r) {
      m_sh.handler_error = std::move(r).error();
      finish(Outcome::failed, "");
      return;
    }
    if (*r == Step::release) {
      // Not accepted, not remembered: AMQP `released` (delivery not failed, the delivery count
      // unchanged) makes it available to the group's other consumers again.
      d.release();
      ++m_sh.stats.released;
      top_up();
      return;
    }
    m_sh.seen.insert(msg.message_id);
    d.accept();
    if (*r == Step::skip) {
      ++m_sh.stats.skipped;
      top_up(); // not counted: the credit it took is given back
      return;
    }
    ++m_sh.stats.handled;
    if (*r == Step::stop || (m_sh.o.count && m_sh.stats.handled >= *m_sh.o.count)) {
      finish(Outcome::done, "");
      return;
    }
    top_up();
  }

  void on_transport_error(proton::transport& t) override { failed(t.error()); }
  void on_connection_error(proton::connection& c) override { failed(c.error()); }
  void on_receiver_error(proton::receiver& r) override { failed(r.error()); }

  void on_receiver_open(proton::receiver& /*r*/) override {
    if (!m_outcome && m_sh.o.on_attached) {
      m_sh.o.on_attached();
    }
  }

  void on_receiver_close(proton::receiver& /*r*/) override {
    if (!m_outcome) {
      finish(Outcome::lost, "the server closed the receiver link");
    }
  }

  void on_connection_close(proton::connection& /*c*/) override {
    if (!m_outcome) {
      m_outcome = Outcome::lost;
      m_why = "the server closed the connection";
    }
    m_container->stop();
  }

  void on_transport_close(proton::transport& /*t*/) override {
    if (!m_outcome) {
      m_outcome = Outcome::lost;
      m_why = "connection closed";
    }
    m_container->stop();
  }

private:
  void failed(const proton::error_condition& e) {
    if (m_outcome && *m_outcome != Outcome::lost) {
      return;
    }
    const std::string name = e.name();
    std::string text = e.description().empty() ? name : e.description();
    if (name == "amqp:unauthorized-access") {
      m_outcome = Outcome::auth;
    } else {
      m_outcome = Outcome::lost;
    }
    m_why = text;
  }

  // Keeps the receiver's credit near min(window, messages still wanted), never above it.
  void top_up() {
    if (!m_receiver || m_outcome) {
      return;
    }
    long want = k_window;
    if (m_sh.o.count) {
      want = std::min<long>(want, *m_sh.o.count - m_sh.stats.handled);
    }
    const long have = m_receiver.credit();
    // Granted in batches (one flow frame per half window), exactly up to what is wanted.
    if (want > have && (have == 0 || want - have >= std::max<long>(1, want / 2))) {
      m_receiver.add_credit(static_cast<std::uint32_t>(want - have));
    }
  }

  void finish(Outcome why, const std::string& text) {
    if (m_outcome) {
      return;
    }
    m_outcome = why;
    m_why = text;
    if (m_conn && m_opened) {
      m_conn.close();
      m_conn.wake();
    } else {
      m_container->stop();
    }
  }

  Shared& m_sh;
  std::string m_url;
  proton::connection_options m_co;
  proton::container* m_container = nullptr;
  std::optional<proton::work_queue> m_wq;
  proton::connection m_conn;
  proton::receiver m_receiver;
  bool m_opened = false;
  std::optional<Outcome> m_outcome;
  std::string m_why;
};

std::string host_port(const Endpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  return (e.tls ? "amqps://" : "amqp://") + (v6 ? "[" + e.host + "]" : e.host) + ":"
         + std::to_string(e.port);
}

} // namespace

Result<ConsumeStats> module::consume_proton(const ConsumerOptions& o, const Handler& handler) {
  ALIOT_TRY(validate_params(o.params));
  if (o.idle_timeout_s < 1) {
    return Error(Errc::usage, "idle timeout must be positive");
  }
  Shared sh{o, handler, {}, {}, {}};
  const std::string url = host_port(o.endpoint);
  std::optional<proton::ssl_client_options> ssl;
  if (o.endpoint.tls) {
    ALIOT_TRY(config::check_ca_file(o.ca_file));
    try {
      ssl = o.ca_file.empty()
                ? proton::ssl_client_options()
                : proton::ssl_client_options(o.ca_file, proton::ssl::VERIFY_PEER_NAME);
    } catch (const std::exception& e) {
      return Error(Errc::config, "cannot use CA file '" + o.ca_file + "': " + e.what());
    }
  }
  std::mt19937 rng(static_cast<unsigned>(unix_ms()));
  auto backoff = std::chrono::milliseconds(1000);
  while (true) {
    CredentialParams p = o.params;
    p.timestamp = std::to_string(unix_ms());
    ALIOT_TRY_ASSIGN(auto signed_in, credentials(p, o.access_key_secret));
    const Credentials& cred = signed_in;
    proton::connection_options co;
    co.user(cred.username)
        .password(cred.password.reveal())
        .sasl_enabled(true)
        .sasl_allowed_mechs("PLAIN")
        .idle_timeout(proton::duration(2LL * o.idle_timeout_s * 1000))
        .container_id(p.client_id);
    if (ssl) {
      co.ssl_client_options(*ssl);
    } else {
      co.sasl_allow_insecure_mechs(true);
    }
    Attempt a(sh, url, co);
    std::string why;
    const Outcome out = a.run(why);
    switch (out) {
    case Outcome::done: return sh.stats;
    case Outcome::failed: return std::move(*sh.handler_error);
    case Outcome::interrupted: return Error(Errc::interrupted, "interrupted");
    case Outcome::timeout:
      return Error(Errc::timeout,
                   "the deadline passed after " + std::to_string(sh.stats.handled) + " message(s)");
    case Outcome::auth:
      return Error(Errc::auth, "the AMQP server refused the credentials: " + why,
                   "check the AccessKey id and secret, the consumer group and the instance id");
    case Outcome::lost: break;
    }
    if (!o.reconnect || sh.stats.connects == 0) { // a first connect that fails is reported
      return Error(Errc::network,
                   (a.opened() ? "AMQP connection to " : "cannot connect to ") + url + ": " + why);
    }
    if (a.opened()) {
      backoff = std::chrono::milliseconds(1000);
    }
    const auto jitter =
        std::chrono::milliseconds(std::uniform_int_distribution<long>(0, backoff.count() / 4)(rng));
    const auto wake = Clock::now() + backoff + jitter;
    if (o.log) {
      o.log("connection lost (" + why + "); reconnecting in "
            + std::to_string((backoff + jitter).count()) + " ms");
    }
    while (Clock::now() < wake) {
      if (o.stop != nullptr && o.stop->load()) {
        return Error(Errc::interrupted, "interrupted");
      }
      if (o.deadline && Clock::now() >= *o.deadline) {
        return Error(Errc::timeout, "the deadline passed after " + std::to_string(sh.stats.handled)
                                        + " message(s)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(30));
  }
}

} // namespace aliot::amqp

extern "C" aliot::amqp::module::ConsumeFn aliot_amqp_module_v2() {
  return &aliot::amqp::module::consume_proton;
}
