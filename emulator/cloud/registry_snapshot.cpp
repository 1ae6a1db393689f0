// The emulator registry's views: what a Snapshot holds, its device lookups, and how the store
// makes a new one when the database changed (see aliot/emu/registry.hpp).
#include "registry_store.hpp"

#include <map>
#include <utility>

namespace aliot::emu {

namespace {

constexpr const char* q_data_version = "PRAGMA data_version";
constexpr const char* q_products =
    "SELECT pk, secret, dynreg, topics, consumer_groups FROM products";
constexpr const char* q_keys = "SELECT id, secret FROM access_keys";
constexpr const char* q_device_by_iot_id =
    "SELECT secret, enabled, activated, iot_id, nickname, created_ms, tokens, pk, dn FROM devices"
    " WHERE iot_id = ?1 LIMIT 1";

} // namespace

namespace detail {

// The store behind a view's device lookups, and what the view saw of each device.
struct DeviceSource {
  explicit DeviceSource(std::shared_ptr<Store> s)
      : store(std::move(s)) {}
  std::shared_ptr<Store> store;
  // What this view saw of each device it was asked about (nullopt: not registered).
  std::map<std::pair<std::string, std::string>, std::optional<Device>> seen;

  // Under store->mu.
  const Device* find(const std::string& pk, const std::string& dn) {
    auto key = std::pair(pk, dn);
    auto it = seen.find(key);
    if (it == seen.end()) {
      auto d = store->read_device(pk, dn);
      if (!d) {
        return nullptr; // not remembered: the next look reads again
      }
      it = seen.emplace(std::move(key), std::move(*d)).first;
    }
    return it->second ? &*it->second : nullptr;
  }
};

Result<std::shared_ptr<const Snapshot>> Store::refresh() {
  ALIOT_TRY(open());
  long long version = 0;
  {
    Query q(*this, q_data_version);
    if (q.step() != SQLITE_ROW) {
      return fail("cannot read the data version");
    }
    version = q.integer(0);
  }
  if (!dirty && version == data_version) {
    return view;
  }
  auto s = std::make_shared<Snapshot>();
  {
    Query q(*this, q_products);
    int rc = SQLITE_ROW;
    while ((rc = q.step()) == SQLITE_ROW) {
      const std::string pk = q.text(0);
      ALIOT_TRY_ASSIGN(auto p, product_from(q, 1, pk));
      s->products.emplace(pk, std::move(p));
    }
    if (rc != SQLITE_DONE) {
      return fail("cannot read the products");
    }
  }
  {
    Query q(*this, q_keys);
    int rc = SQLITE_ROW;
    while ((rc = q.step()) == SQLITE_ROW) {
      s->access_keys.emplace(q.text(0), q.text(1));
    }
    if (rc != SQLITE_DONE) {
      return fail("cannot read the AccessKeys");
    }
  }
  s->source = std::make_shared<DeviceSource>(shared_from_this());
  view = std::move(s);
  data_version = version;
  dirty = false;
  return view;
}

void Store::learn_activation(const std::string& pk, const std::string& dn) {
  if (!view || !view->source) {
    return;
  }
  auto it = view->source->seen.find(std::pair(pk, dn));
  if (it != view->source->seen.end() && it->second) {
    it->second->activated = true;
  }
}

} // namespace detail

// ---- views ----

const Product* Snapshot::product(const std::string& pk) const {
  auto it = products.find(pk);
  return it == products.end() ? nullptr : &it->second;
}

const Device* Snapshot::device(const std::string& pk, const std::string& dn) const {
  if (!source) {
    return nullptr;
  }
  std::lock_guard lk(source->store->mu);
  return source->find(pk, dn);
}

const Device*
Snapshot::device_by_iot_id(const std::string& iot_id, std::string& pk, std::string& dn) const {
  if (!source) {
    return nullptr;
  }
  auto& store = *source->store;
  std::lock_guard lk(store.mu);
  detail::Store::Query q(store, q_device_by_iot_id);
  q.bind(1, iot_id);
  if (q.step() != SQLITE_ROW) {
    return nullptr;
  }
  pk = q.text(7);
  dn = q.text(8);
  auto key = std::pair(pk, dn);
  auto it = source->seen.find(key);
  if (it == source->seen.end()) {
    auto d = detail::Store::device_from(q, pk + "/" + dn);
    if (!d) {
      return nullptr;
    }
    it = source->seen.emplace(std::move(key), std::move(*d)).first;
  }
  return it->second ? &*it->second : nullptr;
}

} // namespace aliot::emu
