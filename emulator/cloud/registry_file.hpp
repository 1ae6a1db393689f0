// The emulator's registry file, `<dir>/registry.json`, shared by the broker plugin and by the
// `aliot emulate cloud add-*` commands. Header-only on purpose: the CLI includes it without
// linking anything of the plugin.
//
// Shape (0600, written atomically under an exclusive flock of `<dir>/registry.lock`):
//   {"products": {"<pk>": {"product_secret": "...", "dynamic_registration": true,
//                          "topics": [{"topic": "user/get", "access": "sub"}, ...],
//                          "consumer_groups": ["..."],
//                          "devices": {"<dn>": {"device_secret": "...", "enabled": true,
//                                               "activated": false, "iot_id": "...",
//                                               "nickname": "", "created_ms": 0,
//                                               "tokens": [{"client_id": "...",
//                                                           "token": "..."}]}}}},
//    "access_keys": {"<id>": {"secret": "..."}}}
#pragma once

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/error.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace aliot::emu {

inline std::string registry_path(const std::string& dir) {
  return dir + "/registry.json";
}

// An exclusive advisory lock on `<dir>/registry.lock` for one read-modify-write.
class RegistryLock {
public:
  explicit RegistryLock(const std::string& dir) {
    m_fd = ::open((dir + "/registry.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_fd >= 0) {
      while (::flock(m_fd, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~RegistryLock() {
    if (m_fd >= 0) {
      ::close(m_fd); // releases the lock
    }
  }
  RegistryLock(const RegistryLock&) = delete;
  RegistryLock& operator=(const RegistryLock&) = delete;
  bool ok() const { return m_fd >= 0; }

private:
  int m_fd = -1;
};

inline nlohmann::json empty_registry() {
  return {{"products", nlohmann::json::object()}, {"access_keys", nlohmann::json::object()}};
}

// The three categories every new product gets (spec 3.2).
inline nlohmann::json default_topics() {
  return nlohmann::json::array({{{"topic", "user/get"}, {"access", "sub"}},
                                {{"topic", "user/update"}, {"access", "pub"}},
                                {{"topic", "user/update/error"}, {"access", "pub"}}});
}

// A stable IotId for a device (opaque to callers).
inline std::string make_iot_id(const std::string& pk, const std::string& dn) {
  return crypto::sha256_hex(pk + "/" + dn).substr(0, 20) + "000100";
}

inline nlohmann::json new_product(const std::string& secret, bool dynreg) {
  return {{"product_secret", secret},
          {"dynamic_registration", dynreg},
          {"topics", default_topics()},
          {"consumer_groups", nlohmann::json::array()},
          {"devices", nlohmann::json::object()}};
}

inline nlohmann::json new_device(const std::string& pk,
                                 const std::string& dn,
                                 const std::string& secret,
                                 bool enabled,
                                 long long now_ms) {
  return {{"device_secret", secret},          {"enabled", enabled}, {"activated", false},
          {"iot_id", make_iot_id(pk, dn)},    {"nickname", ""},     {"created_ms", now_ms},
          {"tokens", nlohmann::json::array()}};
}

// A missing file is an empty registry; a malformed one is Errc::config.
inline Result<nlohmann::json> load_registry(const std::string& dir) {
  const std::string path = registry_path(dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return empty_registry();
  }
  auto text = config::read_text_file(path, "emulator registry");
  if (!text) {
    return std::move(text).error();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::config, "emulator registry " + path + ": not valid JSON",
                 "fix or delete the file");
  }
  if (!j.contains("products") || !j["products"].is_object()) {
    j["products"] = nlohmann::json::object();
  }
  if (!j.contains("access_keys") || !j["access_keys"].is_object()) {
    j["access_keys"] = nlohmann::json::object();
  }
  return j;
}

inline Result<void> save_registry(const std::string& dir, const nlohmann::json& j) {
  return config::write_file_atomic(registry_path(dir), j.dump(2) + "\n", 0600);
}

} // namespace aliot::emu
