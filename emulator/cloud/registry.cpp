// The emulator's registry: its operations, each one transaction on the rows it names (see
// aliot/emu/registry.hpp). The store is registry_store.cpp, the views registry_snapshot.cpp, the
// validators registry_validate.cpp.
#include "registry_store.hpp"
#include "rules.hpp"

#include <aliot/crypto.hpp>
#include <aliot/emu/registry.hpp>
#include <aliot/identity.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace aliot::emu {

namespace {

using json = nlohmann::json;

constexpr std::size_t k_max_tokens = 5; // clientIds per DeviceName (regnwl)

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json default_topics() {
  return json::array({{{"topic", "user/get"}, {"access", "sub"}},
                      {{"topic", "user/update"}, {"access", "pub"}},
                      {{"topic", "user/update/error"}, {"access", "pub"}}});
}

Error no_product(const std::string& pk) {
  return Error(Errc::usage, "product " + pk + " is not in the emulator registry",
               "add it first: aliot emulate cloud add-product --dir DIR -k " + pk);
}

Error no_device(const std::string& pk, const std::string& dn) {
  return Error(Errc::usage, "device " + pk + "/" + dn + " is not in the emulator registry",
               "add it first: aliot emulate cloud add-device --dir DIR -k " + pk + " -d " + dn);
}

constexpr const char* q_insert_product =
    "INSERT INTO products(pk, secret, dynreg, topics, consumer_groups) VALUES(?1, ?2, ?3, ?4, ?5)";
constexpr const char* q_update_product_secret = "UPDATE products SET secret = ?2 WHERE pk = ?1";
constexpr const char* q_update_product_dynreg = "UPDATE products SET dynreg = ?2 WHERE pk = ?1";
constexpr const char* q_update_topics = "UPDATE products SET topics = ?2 WHERE pk = ?1";
constexpr const char* q_update_groups = "UPDATE products SET consumer_groups = ?2 WHERE pk = ?1";
constexpr const char* q_put_key = "INSERT INTO access_keys(id, secret) VALUES(?1, ?2)"
                                  " ON CONFLICT(id) DO UPDATE SET secret = excluded.secret";
// A replaced device keeps its creation time and starts over: not activated, no tokens.
constexpr const char* q_put_device =
    "INSERT INTO devices(pk, dn, secret, enabled, activated, activated_ms, iot_id, nickname,"
    " created_ms, tokens) VALUES(?1, ?2, ?3, ?4, 0, NULL, ?5, ?6, ?7, ?8)"
    " ON CONFLICT(pk, dn) DO UPDATE SET secret = excluded.secret, enabled = excluded.enabled,"
    " activated = 0, activated_ms = NULL, iot_id = excluded.iot_id, nickname = excluded.nickname,"
    " tokens = excluded.tokens";
constexpr const char* q_insert_device =
    "INSERT INTO devices(pk, dn, secret, enabled, activated, activated_ms, iot_id, nickname,"
    " created_ms, tokens) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr const char* q_set_device_secret =
    "UPDATE devices SET secret = ?3 WHERE pk = ?1 AND dn = ?2";
constexpr const char* q_activate = "UPDATE devices SET activated = 1, activated_ms = ?3"
                                   " WHERE pk = ?1 AND dn = ?2 AND activated = 0";
constexpr const char* q_counts =
    "SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM devices)";
constexpr const char* q_set_tokens = "UPDATE devices SET tokens = ?3 WHERE pk = ?1 AND dn = ?2";

json topics_json(const std::vector<Category>& cats) {
  json out = json::array();
  for (const auto& c : cats) {
    out.push_back({{"topic", c.topic}, {"access", c.pub && c.sub ? "all" : c.pub ? "pub" : "sub"}});
  }
  return out;
}

json tokens_json(const std::vector<std::pair<std::string, std::string>>& tokens) {
  json out = json::array();
  for (const auto& [cid, token] : tokens) {
    out.push_back(json::array({cid, token}));
  }
  return out;
}

} // namespace

// ---- the registry ----

struct Registry::Impl {
  explicit Impl(std::string dir)
      : store(std::make_shared<detail::Store>(std::move(dir))) {}
  std::shared_ptr<detail::Store> store;
};

Registry::Registry(std::string dir)
    : m(std::make_unique<Impl>(std::move(dir))) {}

// The store's current view points back at the store (through its device source): dropping the
// view here breaks that cycle, so the store (and its SQLite connection) goes with the last view.
Registry::~Registry() {
  std::lock_guard lk(m->store->mu);
  m->store->view.reset();
}

const std::string& Registry::dir() const {
  return m->store->dir;
}

Result<void> Registry::ensure() {
  std::lock_guard lk(m->store->mu);
  return m->store->open();
}

Result<std::shared_ptr<const Snapshot>> Registry::load() {
  std::lock_guard lk(m->store->mu);
  return m->store->refresh();
}

std::shared_ptr<const Snapshot> Registry::current() {
  std::lock_guard lk(m->store->mu);
  auto v = m->store->refresh();
  return v ? *v : m->store->view; // a failed read keeps the last good view
}

std::shared_ptr<const Snapshot> Registry::cached() const {
  std::lock_guard lk(m->store->mu);
  return m->store->view;
}

Result<Registry::ProductResult> Registry::add_product(const std::string& pk,
                                                      const std::optional<std::string>& secret,
                                                      std::optional<bool> dynreg) {
  ALIOT_TRY(validate_product_key(pk));
  ProductResult out;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  ALIOT_TRY(st.write([&]() -> Result<bool> {
    out = ProductResult{};
    ALIOT_TRY_ASSIGN(auto old, st.read_product(pk));
    if (!old) {
      out.created = true;
      if (secret) {
        out.secret = *secret;
      } else {
        ALIOT_TRY_ASSIGN(out.secret, crypto::random_alnum(16));
      }
      ALIOT_TRY(detail::Store::Query(st, q_insert_product)
                    .bind(1, pk)
                    .bind(2, out.secret)
                    .bind(3, static_cast<long long>(dynreg.value_or(true)))
                    .bind(4, default_topics().dump())
                    .bind(5, std::string("[]"))
                    .run("cannot add the product"));
      return true;
    }
    out.secret = secret.value_or(old->secret);
    if (secret) {
      ALIOT_TRY(detail::Store::Query(st, q_update_product_secret)
                    .bind(1, pk)
                    .bind(2, *secret)
                    .run("cannot update the product"));
    }
    if (dynreg) {
      ALIOT_TRY(detail::Store::Query(st, q_update_product_dynreg)
                    .bind(1, pk)
                    .bind(2, static_cast<long long>(*dynreg))
                    .run("cannot update the product"));
    }
    return true;
  }));
  return out;
}

namespace {

// Under the store's lock, in a transaction: does the product exist?
Result<bool> has_product(detail::Store& st, const std::string& pk) {
  ALIOT_TRY_ASSIGN(auto p, st.read_product(pk));
  return p.has_value();
}

Result<void> insert_device(detail::Store& st,
                           const std::string& pk,
                           const std::string& dn,
                           const std::string& secret,
                           bool enabled,
                           const std::string& nickname,
                           const std::string& tokens) {
  ALIOT_TRY_ASSIGN(auto iot_id, make_iot_id(pk, dn));
  detail::Store::Query q(st, q_insert_device);
  q.bind(1, pk).bind(2, dn).bind(3, secret).bind(4, static_cast<long long>(enabled));
  q.bind(5, 0LL).bind_null(6).bind(7, iot_id).bind(8, nickname).bind(9, now_ms());
  q.bind(10, tokens);
  return q.run("cannot add device " + pk + "/" + dn);
}

} // namespace

Result<Device> Registry::put_device(const std::string& pk,
                                    const std::string& dn,
                                    const std::string& secret,
                                    bool enabled) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_device_name(dn));
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  Device out;
  ALIOT_TRY(st.write([&]() -> Result<bool> {
    bool exists = false;
    ALIOT_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      return no_product(pk);
    }
    ALIOT_TRY_ASSIGN(auto iot_id, make_iot_id(pk, dn));
    detail::Store::Query q(st, q_put_device);
    q.bind(1, pk).bind(2, dn).bind(3, secret).bind(4, static_cast<long long>(enabled));
    q.bind(5, iot_id).bind(6, std::string()).bind(7, now_ms()).bind(8, std::string("[]"));
    ALIOT_TRY(q.run("cannot add device " + pk + "/" + dn));
    ALIOT_TRY_ASSIGN(auto d, st.read_device(pk, dn));
    if (!d) {
      return Error(Errc::internal, "device " + pk + "/" + dn + " vanished while being added");
    }
    out = std::move(*d);
    return true;
  }));
  return out;
}

Result<Registry::Created> Registry::create_device(const std::string& pk,
                                                  const std::string& dn,
                                                  const std::string& secret,
                                                  const std::string& nickname) {
  ALIOT_TRY(validate_device_name(dn));
  Created out = Created::created;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  ALIOT_TRY(st.write([&]() -> Result<bool> {
    bool exists = false;
    ALIOT_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      out = Created::no_product;
      return false;
    }
    ALIOT_TRY_ASSIGN(exists, st.has_device(pk, dn));
    if (exists) {
      out = Created::name_taken;
      return false;
    }
    out = Created::created;
    ALIOT_TRY(insert_device(st, pk, dn, secret, true, nickname, "[]"));
    return true;
  }));
  return out;
}

Result<std::optional<std::size_t>> Registry::create_devices(const std::string& pk,
                                                            const std::vector<NewDevice>& devices,
                                                            bool enabled) {
  ALIOT_TRY(validate_product_key(pk));
  for (const auto& d : devices) {
    ALIOT_TRY(validate_device_name(d.dn));
  }
  std::optional<std::size_t> taken;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  ALIOT_TRY(st.write([&]() -> Result<bool> {
    taken.reset();
    bool exists = false;
    ALIOT_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      return no_product(pk);
    }
    for (std::size_t i = 0; i < devices.size(); ++i) {
      ALIOT_TRY_ASSIGN(exists, st.has_device(pk, devices[i].dn));
      if (exists) {
        taken = i;
        return false; // all or none
      }
      ALIOT_TRY(insert_device(st, pk, devices[i].dn, devices[i].secret, enabled, "", "[]"));
    }
    return true;
  }));
  return taken;
}

Result<void> Registry::add_access_key(const std::string& id, const std::string& secret) {
  ALIOT_TRY(validate_access_key_id(id));
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  return st.write([&]() -> Result<bool> {
    ALIOT_TRY(detail::Store::Query(st, q_put_key)
                  .bind(1, id)
                  .bind(2, secret)
                  .run("cannot add the AccessKey"));
    return true;
  });
}

Result<std::string>
Registry::add_topic(const std::string& pk, const std::string& topic, const std::string& access) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY_ASSIGN(const auto rel, validate_category(topic, access));
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  ALIOT_TRY(st.write([&]() -> Result<bool> {
    ALIOT_TRY_ASSIGN(auto p, st.read_product(pk));
    if (!p) {
      return no_product(pk);
    }
    auto& cats = p->cats;
    std::erase_if(cats, [&](const Category& c) { return c.topic == rel; });
    cats.push_back(Category{rel, access != "sub", access != "pub"});
    ALIOT_TRY(detail::Store::Query(st, q_update_topics)
                  .bind(1, pk)
                  .bind(2, topics_json(cats).dump())
                  .run("cannot add the topic category"));
    return true;
  }));
  return rel;
}

Result<bool>
Registry::add_consumer_group(const std::string& pk, const std::string& group, bool device_status) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_consumer_group(group));
  bool added = false;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  ALIOT_TRY(st.write([&]() -> Result<bool> {
    added = false;
    ALIOT_TRY_ASSIGN(auto p, st.read_product(pk));
    if (!p) {
      return no_product(pk);
    }
    auto& groups = p->consumer_groups;
    auto& status = p->status_groups;
    const bool had = std::find(groups.begin(), groups.end(), group) != groups.end();
    const bool had_status = std::find(status.begin(), status.end(), group) != status.end();
    if (had && (had_status || !device_status)) {
      return false;
    }
    if (!had) {
      groups.push_back(group);
    }
    if (device_status && !had_status) {
      status.push_back(group);
    }
    json list = json::array();
    for (const auto& g : groups) {
      if (std::find(status.begin(), status.end(), g) != status.end()) {
        list.push_back({{"id", g}, {"deviceStatus", true}});
      } else {
        list.push_back(g);
      }
    }
    ALIOT_TRY(detail::Store::Query(st, q_update_groups)
                  .bind(1, pk)
                  .bind(2, list.dump())
                  .run("cannot add the consumer group"));
    added = true;
    return true;
  }));
  return added;
}

Result<void>
Registry::set_device_secret(const std::string& pk, const std::string& dn, const std::string& ds) {
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  return st.write([&]() -> Result<bool> {
    bool exists = false;
    ALIOT_TRY_ASSIGN(exists, st.has_device(pk, dn));
    if (!exists) {
      return no_device(pk, dn);
    }
    ALIOT_TRY(detail::Store::Query(st, q_set_device_secret)
                  .bind(1, pk)
                  .bind(2, dn)
                  .bind(3, ds)
                  .run("cannot set the DeviceSecret"));
    return true;
  });
}

Result<void> Registry::activate(const std::string& pk, const std::string& dn) {
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  const bool was_dirty = st.dirty;
  ALIOT_TRY(st.write([&]() -> Result<bool> {
    ALIOT_TRY(detail::Store::Query(st, q_activate)
                  .bind(1, pk)
                  .bind(2, dn)
                  .bind(3, now_ms())
                  .run("cannot record the activation"));
    return sqlite3_changes(st.db) > 0;
  }));
  // A login activates a device once: replacing the view for it would drop every device the view
  // had read, and a fleet logging in for the first time would read the database at every login.
  // Another process's change still shows in PRAGMA data_version and replaces the view.
  st.dirty = was_dirty;
  st.learn_activation(pk, dn);
  return aliot::ok();
}

Result<Registry::Counts> Registry::counts() {
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  ALIOT_TRY(st.open());
  Counts c;
  detail::Store::Query q(st, q_counts);
  if (q.step() != SQLITE_ROW) {
    return st.fail("cannot count the products and devices");
  }
  c.products = q.integer(0);
  c.devices = q.integer(1);
  return c;
}

Result<void> Registry::add_token(const std::string& pk,
                                 const std::string& dn,
                                 const std::string& client_id,
                                 const std::string& token) {
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  return st.write([&]() -> Result<bool> {
    bool exists = false;
    ALIOT_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      return no_product(pk);
    }
    ALIOT_TRY_ASSIGN(auto d, st.read_device(pk, dn));
    if (!d) {
      ALIOT_TRY(insert_device(st, pk, dn, "", true, "", tokens_json({{client_id, token}}).dump()));
      return true;
    }
    auto& tokens = d->tokens;
    tokens.emplace_back(client_id, token);
    while (tokens.size() > k_max_tokens) {
      tokens.erase(tokens.begin());
    }
    ALIOT_TRY(detail::Store::Query(st, q_set_tokens)
                  .bind(1, pk)
                  .bind(2, dn)
                  .bind(3, tokens_json(tokens).dump())
                  .run("cannot record the token"));
    return true;
  });
}

} // namespace aliot::emu
