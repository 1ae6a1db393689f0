// The emulator's registry: the products, devices, AccessKeys, topic categories and consumer
// groups of one state directory, as typed values with typed operations on one product, device
// or key at a time. The broker plugin (logins, topic rights, registration), its HTTP API
// (OpenAPI RegisterDevice, HTTPS registration) and `aliot emulate cloud add-*` all go through it,
// so names and topic categories are validated in one place, as the platform validates them.
//
// Store: `<dir>/registry.db`, SQLite in WAL mode (0600, with its -wal and -shm files), one table
// a kind of entity, indexed by ProductKey + DeviceName and by IotId; every operation is one
// transaction on the rows it names, so its cost does not grow with the number of devices. Several
// processes share it (the broker plugin, `aliot emulate cloud add-*` while the emulator runs):
// writers queue on SQLite's lock (busy timeout), readers never wait. A file that is not a
// registry database is an Error (Errc::config), never an exception.
#pragma once

#include <aliot/error.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aliot::emu {

// A topic category of a product, relative to /${productKey}/${deviceName}/ (e.g. "user/get";
// subscribe-only categories may hold + and #), with the device's rights on it.
struct Category {
  std::string topic;
  bool pub = false;
  bool sub = false;
};

struct Device {
  std::string secret; // empty for devices that log in with tokens only (regnwl)
  bool enabled = true;
  bool activated = false;
  std::string iot_id;
  std::string nickname;
  long long created_ms = 0;
  std::vector<std::pair<std::string, std::string>> tokens; // (clientId, deviceToken), newest last
};

struct Product {
  std::string secret;
  bool dynreg = true;
  std::vector<Category> cats;
  std::vector<std::string> consumer_groups;
  // Those of consumer_groups that also take the devices' online/offline status messages.
  std::vector<std::string> status_groups;
};

namespace detail {
struct DeviceSource; // the store behind a Snapshot's device lookups
}

// A view of the registry: the products and AccessKeys as they were when it was taken, and the
// devices, looked up in the store on first use and then kept as this view saw them (a device's
// pointer stays valid as long as the view). Registry::current() hands out a new view after any
// change, the same one while nothing changed.
struct Snapshot {
  std::map<std::string, Product> products;
  std::map<std::string, std::string> access_keys; // id -> secret

  const Product* product(const std::string& pk) const;
  // Null when the device is not registered (or the store cannot be read).
  const Device* device(const std::string& pk, const std::string& dn) const;
  // The device with this IotId (pk and dn set), or nullptr.
  const Device* device_by_iot_id(const std::string& iot_id, std::string& pk, std::string& dn) const;

  std::shared_ptr<detail::DeviceSource> source; // set by Registry; none: no devices
};

// A stable IotId for a device (opaque to callers).
Result<std::string> make_iot_id(const std::string& pk, const std::string& dn);

// A custom topic category as the platform accepts it: user/NAME relative to the device (the
// /${productKey}/${deviceName}/ prefix may be given), levels of letters, digits and '_',
// wildcards only with access "sub"; access is pub, sub or all. Returns the relative category.
Result<std::string> validate_category(std::string_view topic, std::string_view access);
Result<void> validate_access_key_id(std::string_view id);
Result<void> validate_consumer_group(std::string_view id);

class Registry {
public:
  explicit Registry(std::string dir);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  const std::string& dir() const;

  // Creates the registry database when the directory has none yet.
  Result<void> ensure();
  // The current view, a new one when the store changed since the last look.
  Result<std::shared_ptr<const Snapshot>> load();
  // As load(), but a failed read keeps the last good view (a running broker keeps serving).
  std::shared_ptr<const Snapshot> current();
  // The last view without looking for changes (hot paths: topic rights per message).
  std::shared_ptr<const Snapshot> cached() const;

  struct ProductResult {
    bool created = false;
    std::string secret; // the product's secret after the call
  };
  // Adds a product with the default categories (user/get sub, user/update and user/update/error
  // pub), or updates one: its secret only when `secret` is given, its switch only when `dynreg`
  // is. A new product without a secret gets a generated one.
  Result<ProductResult> add_product(const std::string& pk,
                                    const std::optional<std::string>& secret,
                                    std::optional<bool> dynreg);

  // Adds or replaces a device (not activated, no tokens; its creation time is kept).
  Result<Device>
  put_device(const std::string& pk, const std::string& dn, const std::string& secret, bool enabled);

  enum class Created { created, no_product, name_taken };
  // Adds a device that must not exist yet (OpenAPI RegisterDevice).
  Result<Created> create_device(const std::string& pk,
                                const std::string& dn,
                                const std::string& secret,
                                const std::string& nickname);

  // Adds many devices of one product in one transaction (the console's batch add): all or none.
  // Returns the index of the first one whose DeviceName the product already has (then nothing
  // is added), or nullopt when all were added. Names are validated first (Errc::usage naming the
  // DeviceName).
  struct NewDevice {
    std::string dn;
    std::string secret;
  };
  Result<std::optional<std::size_t>>
  create_devices(const std::string& pk, const std::vector<NewDevice>& devices, bool enabled);

  Result<void> add_access_key(const std::string& id, const std::string& secret);
  // Adds (or replaces the rights of) a topic category; returns the relative category.
  Result<std::string>
  add_topic(const std::string& pk, const std::string& topic, const std::string& access);
  // False when the product already had the group (with device status when asked).
  Result<bool>
  add_consumer_group(const std::string& pk, const std::string& group, bool device_status = false);

  // Dynamic registration: the device's new secret.
  Result<void>
  set_device_secret(const std::string& pk, const std::string& dn, const std::string& ds);
  // The first login with the device's secret or token. The current view learns the change in
  // place (it is this process's own change of one row): the devices it already read stay read.
  Result<void> activate(const std::string& pk, const std::string& dn);
  // How many products and devices the registry holds now.
  struct Counts {
    long long products = 0;
    long long devices = 0;
  };
  Result<Counts> counts();
  // Registration without pre-registration: a (clientId, token) pair for the device, created
  // (enabled, without a secret) when missing; a device keeps its 5 newest pairs.
  Result<void> add_token(const std::string& pk,
                         const std::string& dn,
                         const std::string& client_id,
                         const std::string& token);

private:
  struct Impl;
  std::unique_ptr<Impl> m;
};

} // namespace aliot::emu
