// The add-* operations on a state directory's registry (see aliot/emu/admin.hpp).
#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/emu/admin.hpp>
#include <aliot/emu/launcher.hpp>
#include <aliot/emu/tsl.hpp>
#include <aliot/identity.hpp>
#include <aliot/secret.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace aliot::emu::admin {

Result<std::unique_ptr<Registry>> open_registry(const std::string& dir) {
  ALIOT_TRY(ensure_state_dir(dir));
  return std::make_unique<Registry>(dir);
}

Result<std::string>
given_or_random(std::optional<std::string> given, std::size_t n, std::string_view prefix) {
  if (given) {
    return std::move(*given);
  }
  ALIOT_TRY_ASSIGN(auto fresh, crypto::random_alnum(n));
  return std::string(prefix) + fresh;
}

Result<AddedProduct> add_product(const std::string& dir,
                                 const std::string& pk,
                                 const GivenSecret& secret,
                                 std::optional<bool> dynreg) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY_ASSIGN(auto given, secret());
  ALIOT_TRY_ASSIGN(auto reg, open_registry(dir));
  ALIOT_TRY_ASSIGN(auto r, reg->add_product(pk, given, dynreg));
  return AddedProduct{r.created, r.created && !given, std::move(r.secret)};
}

Result<std::string> add_device(const std::string& dir,
                               const std::string& pk,
                               const std::string& dn,
                               const GivenSecret& secret,
                               bool enabled) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_device_name(dn));
  ALIOT_TRY_ASSIGN(auto given, secret());
  auto chosen = given_or_random(std::move(given), 32);
  if (!chosen) {
    return std::move(chosen).error();
  }
  ALIOT_TRY(validate_device_secret(Secret(*chosen)));
  ALIOT_TRY_ASSIGN(auto reg, open_registry(dir));
  ALIOT_TRY(reg->put_device(pk, dn, *chosen, enabled));
  return chosen;
}

Result<DeviceBatch> add_devices(const std::string& dir,
                                const std::string& pk,
                                const std::string& names_path,
                                bool enabled) {
  ALIOT_TRY(validate_product_key(pk));
  auto batch = read_device_batch(names_path);
  if (!batch) {
    return std::move(batch).error();
  }
  ALIOT_TRY_ASSIGN(auto reg, open_registry(dir));
  ALIOT_TRY(add_device_batch(*reg, pk, *batch, enabled));
  return batch;
}

Result<AccessKey> add_access_key(const std::string& dir,
                                 std::optional<std::string> id,
                                 std::optional<std::string> secret) {
  AccessKey key;
  ALIOT_TRY_ASSIGN(auto chosen_id, given_or_random(std::move(id), 20, "LTAI"));
  key.id = std::move(chosen_id);
  ALIOT_TRY(validate_access_key_id(key.id));
  ALIOT_TRY_ASSIGN(auto chosen, given_or_random(std::move(secret), 30));
  key.secret = std::move(chosen);
  ALIOT_TRY_ASSIGN(auto reg, open_registry(dir));
  ALIOT_TRY(reg->add_access_key(key.id, key.secret));
  return key;
}

Result<std::string> add_topic(const std::string& dir,
                              const std::string& pk,
                              const std::string& topic,
                              const std::string& access) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_category(topic, access));
  ALIOT_TRY_ASSIGN(auto reg, open_registry(dir));
  return reg->add_topic(pk, topic, access);
}

Result<void> add_consumer_group(const std::string& dir,
                                const std::string& pk,
                                const std::string& group,
                                bool device_status) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_consumer_group(group));
  ALIOT_TRY_ASSIGN(auto reg, open_registry(dir));
  ALIOT_TRY(reg->add_consumer_group(pk, group, device_status));
  return ok();
}

Result<ThingModelSummary>
add_thing_model(const std::string& dir, const std::string& pk, const std::string& path) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY_ASSIGN(auto text,
                   config::read_bounded(path, tsl::k_max_tsl_bytes,
                                        config::file_name(path, "thing model"), Errc::usage));
  ALIOT_TRY_ASSIGN(auto model, tsl::parse(text));
  ALIOT_TRY_ASSIGN(auto reg, open_registry(dir));
  ALIOT_TRY(reg->ensure());
  ALIOT_TRY_ASSIGN(auto view, reg->load());
  if (view->product(pk) == nullptr) {
    return Error(Errc::usage, "no product " + pk + " in " + dir,
                 "add it first: aliot emulate cloud add-product --dir " + dir + " -k " + pk);
  }
  const std::string tsl_dir = dir + "/tsl";
  if (::mkdir(tsl_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error(Errc::io, "cannot create " + tsl_dir + ": " + std::strerror(errno));
  }
  ALIOT_TRY(config::write_file_atomic(tsl_dir + "/" + pk + ".json", text, 0600));
  return ThingModelSummary{model.properties.size(), model.events.size(), model.services.size()};
}

} // namespace aliot::emu::admin
