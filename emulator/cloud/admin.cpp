// The add-* operations on a state directory's registry (see aliot/emu/admin.hpp).
#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/emu/admin.hpp>
#include <aliot/emu/launcher.hpp>
#include <aliot/emu/tsl.hpp>
#include <aliot/http.hpp>
#include <aliot/identity.hpp>
#include <aliot/secret.hpp>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

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

namespace {

// The API port a running emulator wrote into DIR/mosquitto.conf (plugin_opt_api_port), 0 if none.
int api_port_of(const std::string& dir) {
  std::ifstream in(dir + "/mosquitto.conf");
  std::string line;
  const std::string key = "plugin_opt_api_port ";
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) {
      return std::atoi(line.c_str() + key.size());
    }
  }
  return 0;
}

} // namespace

Result<Status> status(const std::string& dir) {
  if (dir.empty()) {
    return Error(Errc::usage, "--dir is required",
                 "give the emulator's state directory: --dir DIR");
  }
  std::error_code ec;
  if (!std::filesystem::exists(dir + "/registry.db", ec)) {
    return Error(Errc::usage, dir + " holds no emulator registry (no registry.db)",
                 "start one there (aliot emulate cloud --dir " + dir + ") or add to it first");
  }
  Status st;
  {
    Registry reg(dir);
    ALIOT_TRY_ASSIGN(auto c, reg.counts());
    st.products = c.products;
    st.devices = c.devices;
  }
  // Free lock: no emulator runs on the directory (the probe lets it go at once).
  auto probe = config::InstanceLock::acquire(dir + "/emulator.lock", "--dir " + dir);
  if (probe) {
    return st;
  }
  if (probe.error().code() != Errc::usage) {
    return std::move(probe).error();
  }
  const int port = api_port_of(dir);
  if (port <= 0) {
    return Error(Errc::config, "the emulator running on " + dir + " wrote no API port",
                 "see " + dir + "/mosquitto.conf");
  }
  st.running = true;
  st.api_endpoint = "http://127.0.0.1:" + std::to_string(port);
  http::ClientOptions co;
  co.connect_timeout_ms = 3000;
  co.timeout_ms = 5000;
  http::Client client(co);
  http::Request req;
  req.method = "GET";
  req.url = st.api_endpoint + "/emu/status";
  ALIOT_TRY_ASSIGN(auto res, client.send(req));
  const auto j = nlohmann::json::parse(res.body, nullptr, false);
  if (res.status != 200 || !j.is_object()) {
    return Error(Errc::remote,
                 "the emulator on " + dir + " answered GET /emu/status with HTTP "
                     + std::to_string(res.status),
                 "see " + dir + "/mosquitto.log");
  }
  st.online = j.value("online", 0LL);
  st.sessions = j.value("sessions", 0LL);
  st.fd_limit = j.value("fd_limit", 0LL);
  return st;
}

} // namespace aliot::emu::admin
