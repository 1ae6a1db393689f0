// See amqp_server.hpp. Proton facts this relies on (design/amqp-notes.md): frames written from a
// container job are flushed only after connection::wake(); the C++ API cannot require SASL or
// TLS on a listener, so on_connection_open re-checks the outcome; the TLS context is built once
// (eagerly, so a bad key fails plugin init instead of terminating the broker later).
//
// Settlement: accepted ends a message, rejected drops it (poison). Released (a consumer's topic
// filter did not want it) puts it back in the group's queue in its place, delivery count
// unchanged, for the group's other consumers: it is not offered again to the link that released
// it, so it waits for another consumer when that link is alone. Modified, a settle without an
// outcome, or a link or connection that goes away puts it back with the delivery count raised,
// for any consumer.
#include "amqp_server.hpp"

#include "amqp_sasl.hpp"
#include "state.hpp"

#include <aliot/amqp.hpp>
#include <aliot/crypto.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/error_condition.hpp>
#include <proton/listen_handler.hpp>
#include <proton/listener.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/sasl.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/ssl.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>
#include <set>
#include <thread>

namespace aliot::emu {

namespace {

constexpr std::size_t k_group_capacity = 100000; // queued per group; the oldest drop first
constexpr long long k_max_skew_ms = 15LL * 60 * 1000;

void note(const std::string& text) {
  std::fprintf(stderr, "aliot-emu: AMQP: %s\n", text.c_str());
}

struct Item {
  std::uint64_t seq = 0;
  std::string topic, message_id, payload;
  long long generate_time = 0;
  std::uint32_t delivery_count = 0;
  std::vector<std::uint64_t> released_by; // links that released it: not offered to them again
};

// Verifies a PLAIN login against the registry (AMQP thread).
bool verify_login(const std::string& user, const std::string& pass, std::string& why) {
  auto u = amqp::parse_username(user);
  if (!u) {
    why = u.error().message();
    return false;
  }
  const std::string who = "client '" + u->client_id + "'";
  if (u->option("authMode").value_or("") != "aksign") {
    why = who + ": authMode is not aksign";
    return false;
  }
  auto method = sign::parse_method(u->option("signMethod").value_or(""));
  if (!method) {
    why = who + ": bad signMethod";
    return false;
  }
  const std::string ts = u->option("timestamp").value_or("");
  char* end = nullptr;
  const long long ms = std::strtoll(ts.c_str(), &end, 10);
  if (ts.empty() || *end != '\0' || std::llabs(now_ms() - ms) > k_max_skew_ms) {
    why = who + ": timestamp missing or more than 15 minutes off";
    return false;
  }
  const std::string ak = u->option("authId").value_or("");
  const std::string group = u->option("consumerGroupId").value_or("");
  auto view = emu().registry().current();
  auto key = view->access_keys.find(ak);
  if (key == view->access_keys.end()) {
    why = who + ": unknown AccessKey '" + ak + "'";
    return false;
  }
  bool known_group = false;
  for (const auto& [pk, p] : view->products) {
    for (const auto& g : p.consumer_groups) {
      known_group = known_group || g == group;
    }
  }
  if (!known_group) {
    why = who + ": unknown consumer group '" + group + "'";
    return false;
  }
  const auto want = amqp::password(*method, key->second, ak, ts);
  if (!want) {
    why = who + ": " + want.error().message();
    return false;
  }
  if (!crypto::equal_ct(*want, pass)) {
    why = who + ": signature mismatch";
    return false;
  }
  return true;
}

class Server : public proton::messaging_handler, public proton::listen_handler {
public:
  explicit Server(const AmqpOptions& o)
      : m_opts(o)
      , m_container(*this, "aliot-emu")
      , m_wq(m_container) {
    proton::ssl_certificate cert(o.cert_file, o.key_file);
    m_conn_opts.handler(*this)
        .ssl_server_options(proton::ssl_server_options(cert))
        .sasl_enabled(true)
        .sasl_allowed_mechs("PLAIN")
        .idle_timeout(proton::duration(60000)); // advertises 30 s
  }

  bool start(std::string& why) {
    auto opened = m_opened.get_future();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); // signals stay with the broker's thread
    m_thread = std::thread([this] {
      try {
        m_container.run();
      } catch (const std::exception& e) {
        note(std::string("container stopped: ") + e.what());
        settle_open("container stopped: " + std::string(e.what()));
      }
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (opened.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      why = "the AMQP listener did not open within 10 s";
      return false;
    }
    why = opened.get();
    return why.empty();
  }

  void stop() {
    m_container.stop();
    if (m_thread.joinable()) {
      m_thread.join();
    }
    m_senders.clear();
    m_groups.clear();
    m_conns.clear();
    m_listener = proton::listener();
  }

  // Broker thread.
  void publish(std::vector<std::string> groups, Item item) {
    std::lock_guard lk(m_inbox_mu);
    m_inbox.emplace_back(std::move(groups), std::move(item));
    if (!m_drain_queued) {
      m_drain_queued = true;
      m_wq.add([this] { drain(); });
    }
  }

  // listen_handler
  proton::connection_options on_accept(proton::listener& /*l*/) override { return m_conn_opts; }
  void on_open(proton::listener& /*l*/) override { settle_open(""); }
  void on_error(proton::listener& /*l*/, const std::string& what) override {
    settle_open("cannot listen on " + m_opts.host + ":" + std::to_string(m_opts.port) + ": "
                + what);
  }

  // messaging_handler
  void on_container_start(proton::container& c) override {
    m_listener = c.listen(m_opts.host + ":" + std::to_string(m_opts.port), *this);
  }

  void on_connection_open(proton::connection& c) override {
    auto t = c.transport();
    const bool authed = t.sasl().mech() == "PLAIN" && t.sasl().outcome() == proton::sasl::OK;
    if (!authed) {
      note("connection without a signed PLAIN login closed");
      c.close(proton::error_condition("amqp:unauthorized-access",
                                      "SASL PLAIN with a signed user name is required"));
      return;
    }
    auto u = amqp::parse_username(c.user());
    if (!u) {
      c.close(proton::error_condition("amqp:unauthorized-access", "bad user name"));
      return;
    }
    m_conns[c] = Conn{u->option("consumerGroupId").value_or(""), u->client_id};
    c.open();
  }

  void on_receiver_open(proton::receiver& r) override {
    r.close(proton::error_condition("amqp:not-allowed", "the platform accepts no messages here"));
  }

  void on_sender_open(proton::sender& s) override {
    auto c = s.connection();
    auto conn = m_conns.find(c);
    if (conn == m_conns.end()) {
      s.close(proton::error_condition("amqp:unauthorized-access", "not logged in"));
      return;
    }
    for (const auto& [other, info] : m_senders) {
      if (other.connection() == c) {
        s.close(proton::error_condition("amqp:resource-limit-exceeded",
                                        "only one receiver link per connection"));
        return;
      }
    }
    s.open(proton::sender_options().auto_settle(true));
    m_senders[s] = Link{++m_link_ids, conn->second.group, {}};
    m_groups[conn->second.group].senders.push_back(s);
    note("consumer '" + conn->second.client + "' attached to group '" + conn->second.group + "'");
  }

  void on_sendable(proton::sender& s) override {
    auto it = m_senders.find(s);
    if (it != m_senders.end()) {
      pump(it->second.group);
      wake_touched();
    }
  }

  void on_tracker_accept(proton::tracker& t) override {
    if (auto* l = link_of(t)) {
      l->inflight.erase(t);
    }
  }
  void on_tracker_reject(proton::tracker& t) override {
    if (auto* l = link_of(t)) {
      l->inflight.erase(t); // poison: the consumer will never take it
    }
  }
  void on_tracker_release(proton::tracker& t) override { requeue(t); }
  void on_tracker_settle(proton::tracker& t) override { requeue(t); }

  void on_sender_close(proton::sender& s) override { drop_sender(s); }
  void on_sender_detach(proton::sender& s) override { drop_sender(s); }
  void on_connection_close(proton::connection& c) override { drop_connection(c); }
  void on_transport_close(proton::transport& t) override { drop_connection(t.connection()); }
  void on_transport_error(proton::transport& t) override { drop_connection(t.connection()); }

private:
  struct Conn {
    std::string group, client;
  };
  struct Link {
    std::uint64_t id = 0;
    std::string group;
    std::map<proton::tracker, Item> inflight;
  };
  struct Group {
    std::map<std::uint64_t, Item> pending; // by seq: redeliveries go back in order
    std::vector<proton::sender> senders;
    std::size_t next = 0;
  };

  void settle_open(const std::string& why) {
    if (!m_open_settled) {
      m_open_settled = true;
      m_opened.set_value(why);
    }
  }

  Link* link_of(proton::tracker& t) {
    auto it = m_senders.find(t.sender());
    return it == m_senders.end() ? nullptr : &it->second;
  }

  void requeue(proton::tracker& t) {
    auto it = m_senders.find(t.sender());
    if (it == m_senders.end()) {
      return;
    }
    auto f = it->second.inflight.find(t);
    if (f == it->second.inflight.end()) {
      return;
    }
    Item item = std::move(f->second);
    it->second.inflight.erase(f);
    if (t.state() == proton::transfer::RELEASED) {
      item.released_by.push_back(it->second.id); // for the group's other consumers
    } else {
      ++item.delivery_count; // modified, or settled without an outcome: a failed delivery
    }
    const std::string group = it->second.group;
    m_groups[group].pending.emplace(item.seq, std::move(item));
    pump(group);
    wake_touched();
  }

  void drop_sender(const proton::sender& s) {
    auto it = m_senders.find(s);
    if (it == m_senders.end()) {
      return;
    }
    const std::string group = it->second.group;
    auto& g = m_groups[group];
    for (auto& [t, item] : it->second.inflight) {
      ++item.delivery_count;
      g.pending.emplace(item.seq, std::move(item));
    }
    m_senders.erase(it);
    std::erase(g.senders, s);
    pump(group);
    wake_touched();
  }

  void drop_connection(const proton::connection& c) {
    std::vector<proton::sender> mine;
    for (const auto& [s, l] : m_senders) {
      if (s.connection() == c) {
        mine.push_back(s);
      }
    }
    for (const auto& s : mine) {
      drop_sender(s);
    }
    m_conns.erase(c);
  }

  // AMQP thread: takes the broker's messages and sends what credit allows.
  void drain() {
    std::vector<std::pair<std::vector<std::string>, Item>> batch;
    {
      std::lock_guard lk(m_inbox_mu);
      batch.swap(m_inbox);
      m_drain_queued = false;
    }
    std::set<std::string> groups;
    for (auto& [names, item] : batch) {
      item.seq = ++m_seq;
      for (const auto& name : names) {
        auto& g = m_groups[name];
        g.pending.emplace(item.seq, item);
        if (g.pending.size() > k_group_capacity) {
          g.pending.erase(g.pending.begin());
          ++m_dropped;
        }
        groups.insert(name);
      }
    }
    for (const auto& name : groups) {
      pump(name);
    }
    wake_touched();
  }

  // Sends the group's queue in order, round-robin over the consumers with credit; a message
  // waits while only consumers that released it have credit.
  void pump(const std::string& name) {
    auto git = m_groups.find(name);
    if (git == m_groups.end()) {
      return;
    }
    Group& g = git->second;
    auto it = g.pending.begin();
    while (it != g.pending.end() && !g.senders.empty()) {
      const auto& declined = it->second.released_by;
      std::optional<std::size_t> pick;
      bool any_credit = false;
      for (std::size_t i = 0; i < g.senders.size(); ++i) {
        const std::size_t k = (g.next + i) % g.senders.size();
        if (!g.senders[k].active() || g.senders[k].credit() <= 0) {
          continue;
        }
        any_credit = true;
        if (std::find(declined.begin(), declined.end(), m_senders[g.senders[k]].id)
            == declined.end()) {
          pick = k;
          break;
        }
      }
      if (!any_credit) {
        return;
      }
      if (!pick) {
        ++it;
        continue;
      }
      g.next = *pick + 1;
      proton::sender s = g.senders[*pick];
      Item item = std::move(it->second);
      it = g.pending.erase(it);
      proton::message m;
      m.inferred(true);
      m.body(proton::binary(item.payload));
      m.properties().put("topic", item.topic);
      m.properties().put("messageId", item.message_id);
      m.properties().put("generateTime", static_cast<std::int64_t>(item.generate_time));
      if (item.delivery_count > 0 || !item.released_by.empty()) {
        m.delivery_count(item.delivery_count);
        m.first_acquirer(false);
      }
      proton::tracker t = s.send(m);
      m_touched.insert(s.connection());
      m_senders[s].inflight.emplace(t, std::move(item));
    }
  }

  void wake_touched() {
    for (auto c : m_touched) {
      c.wake();
    }
    m_touched.clear();
  }

  AmqpOptions m_opts;
  proton::container m_container;
  proton::work_queue m_wq;
  proton::connection_options m_conn_opts;
  std::thread m_thread;
  std::promise<std::string> m_opened;
  bool m_open_settled = false;
  proton::listener m_listener;

  std::mutex m_inbox_mu;
  std::vector<std::pair<std::vector<std::string>, Item>> m_inbox;
  bool m_drain_queued = false;

  std::uint64_t m_seq = 0;
  std::uint64_t m_link_ids = 0;
  std::uint64_t m_dropped = 0;
  std::map<proton::connection, Conn> m_conns;
  std::map<proton::sender, Link> m_senders;
  std::map<std::string, Group> m_groups;
  std::set<proton::connection> m_touched;
};

Server* g_server = nullptr;

} // namespace

bool start_amqp(const AmqpOptions& o, std::string& why) {
  install_plain_sasl(verify_login);
  try {
    auto s = std::make_unique<Server>(o);
    if (!s->start(why)) {
      s->stop();
      return false;
    }
    g_server = s.release();
  } catch (const std::exception& e) {
    why = "AMQP endpoint: cannot load " + o.cert_file + " / " + o.key_file + ": " + e.what();
    return false;
  }
  return true;
}

namespace {

// One message of product `pk` to the groups `groups` names (its consumer groups, or those that
// asked for device status), stamped now with a fresh message id.
void publish_to(const std::string& pk,
                std::vector<std::string> Product::*groups,
                const std::string& topic,
                const std::string& payload) {
  if (g_server == nullptr) {
    return;
  }
  auto view = emu().registry().cached();
  const Product* p = view->product(pk);
  if (p == nullptr || (p->*groups).empty()) {
    return;
  }
  Item item;
  item.topic = topic;
  item.message_id = std::to_string(emu().next_message_id());
  item.payload = payload;
  item.generate_time = now_ms();
  g_server->publish(p->*groups, std::move(item));
}

} // namespace

void amqp_publish(const std::string& pk, const std::string& topic, const std::string& payload) {
  publish_to(pk, &Product::consumer_groups, topic, payload);
}

void amqp_publish_status(const std::string& pk,
                         const std::string& topic,
                         const std::string& payload) {
  publish_to(pk, &Product::status_groups, topic, payload);
}

void stop_amqp() {
  if (g_server != nullptr) {
    g_server->stop();
    delete g_server;
    g_server = nullptr;
  }
}

} // namespace aliot::emu
