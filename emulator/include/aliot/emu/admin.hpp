// Editing the registry of a state directory, as `aliot emulate cloud add-*` does: each call
// checks its names as the platform does before it touches anything, opens the registry of `dir`
// (creating the directory when missing), and makes up what was not given the way the console
// does (secrets, AccessKey ids).
#pragma once

#include <aliot/emu/device_batch.hpp>
#include <aliot/emu/registry.hpp>
#include <aliot/error.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace aliot::emu::admin {

// The registry of `dir`, the directory created when missing (Errc::usage when `dir` is empty,
// Errc::io when it cannot be made).
Result<std::unique_ptr<Registry>> open_registry(const std::string& dir);

// `given` when set, else `prefix` and `n` fresh alphanumerics.
Result<std::string>
given_or_random(std::optional<std::string> given, std::size_t n, std::string_view prefix = {});

// A secret the user gives, asked for only once the names are valid (it may be read from
// standard input); nullopt when none is given (one is then generated).
using GivenSecret = std::function<Result<std::optional<std::string>>()>;

struct AddedProduct {
  bool created = false;   // false: an existing product was updated
  bool generated = false; // the secret was made up here (the caller shows it: nothing else does)
  std::string secret;     // the product's secret after the call
};

// Adds a product (default topic categories; a generated 16-character secret unless one is
// given) or updates one: its secret when one is given, its registration switch when `dynreg` is.
Result<AddedProduct> add_product(const std::string& dir,
                                 const std::string& pk,
                                 const GivenSecret& secret,
                                 std::optional<bool> dynreg);

// Adds or replaces a device (not activated) and returns its secret: the one given, else 32
// fresh alphanumerics; either must pass the platform's DeviceSecret rule.
Result<std::string> add_device(const std::string& dir,
                               const std::string& pk,
                               const std::string& dn,
                               const GivenSecret& secret,
                               bool enabled);

// Adds every device of the names file `names_path` (see read_device_batch) in one transaction,
// or none; returns them with their generated secrets.
Result<DeviceBatch> add_devices(const std::string& dir,
                                const std::string& pk,
                                const std::string& names_path,
                                bool enabled);

struct AccessKey {
  std::string id;
  std::string secret;
};

// Adds an AccessKey: `id` else "LTAI" and 20 fresh alphanumerics, `secret` else 30 of them.
Result<AccessKey> add_access_key(const std::string& dir,
                                 std::optional<std::string> id,
                                 std::optional<std::string> secret);

// Adds (or replaces the rights of) a topic category of a product (see validate_category);
// returns the category relative to /${productKey}/${deviceName}/.
Result<std::string> add_topic(const std::string& dir,
                              const std::string& pk,
                              const std::string& topic,
                              const std::string& access);

// Records that consumer group `group` receives the product's device messages.
Result<void> add_consumer_group(const std::string& dir,
                                const std::string& pk,
                                const std::string& group,
                                bool device_status = false);

// The numbers of a thing model add_thing_model stored.
struct ThingModelSummary {
  std::size_t properties = 0, events = 0, services = 0;
};

// Stores the product's thing model (TSL JSON, the console's export; `path` "-" = stdin) as
// DIR/tsl/PK.json, after parsing it: a running emulator checks devices' Alink requests against
// it from then on. Errc::usage for an unknown product or a file that is not a TSL.
Result<ThingModelSummary>
add_thing_model(const std::string& dir, const std::string& pk, const std::string& path);

// What `emulate cloud status` shows: the registry's counts and, while an emulator runs on the
// directory (it holds DIR/emulator.lock), what its GET /emu/status says.
struct Status {
  long long products = 0;
  long long devices = 0;
  bool running = false;
  long long online = 0;   // devices online now (one connection each)
  long long sessions = 0; // MQTT logins held now: devices, operators, registrations
  long long fd_limit = 0; // the broker's descriptor limit (-1: unlimited)
  std::string api_endpoint;
};
// Errc::usage when DIR holds no registry; Errc::network when the running emulator does not
// answer.
Result<Status> status(const std::string& dir);

} // namespace aliot::emu::admin
