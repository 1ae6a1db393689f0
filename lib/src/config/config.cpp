#include <aliot/config.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace aliot::config {

namespace {

constexpr std::array k_keys{
    Key{"product_key", "ALIOT_PRODUCT_KEY", false, "", "ProductKey of the device"},
    Key{"device_name", "ALIOT_DEVICE_NAME", false, "", "DeviceName of the device"},
    Key{"device_secret", "ALIOT_DEVICE_SECRET", true, "", "DeviceSecret of the device"},
    Key{"device_secret_file", "ALIOT_DEVICE_SECRET_FILE", false, "",
        "File holding the DeviceSecret"},
    Key{"device_token", "ALIOT_DEVICE_TOKEN", true, "",
        "DeviceToken from registration without pre-registration"},
    Key{"client_id", "ALIOT_CLIENT_ID", false, "", "Custom MQTT client id"},
    Key{"product_secret", "ALIOT_PRODUCT_SECRET", true, "", "ProductSecret (one-type-one-secret)"},
    Key{"region", "ALIOT_REGION", false, "cn-shanghai", "Region id"},
    Key{"instance", "ALIOT_INSTANCE", false, "",
        "IotInstanceId of a new public or Enterprise instance"},
    Key{"mqtt_host", "ALIOT_MQTT_HOST", false, "", "MQTT host override"},
    Key{"mqtt_port", "ALIOT_MQTT_PORT", false, "", "MQTT over TLS port override"},
    Key{"mqtt_tcp_port", "ALIOT_MQTT_TCP_PORT", false, "", "Plain MQTT port override (with --tcp)"},
    Key{"ca_file", "ALIOT_CA_FILE", false, "", "CA bundle for TLS (default: the system store)"},
    Key{"sign_method", "ALIOT_SIGN_METHOD", false, "hmacsha256", "MQTT sign method"},
    Key{"keepalive", "ALIOT_KEEPALIVE", false, "300", "MQTT keepalive in seconds (30-1200)"},
    Key{"auth_endpoint", "ALIOT_AUTH_ENDPOINT", false, "",
        "Base URL of HTTPS dynamic registration"},
    Key{"api_endpoint", "ALIOT_API_ENDPOINT", false, "", "Base URL of the cloud OpenAPI"},
    Key{"amqp_endpoint", "ALIOT_AMQP_ENDPOINT", false, "",
        "AMQP server-side subscription endpoint"},
    Key{"access_key_id", "ALIOT_ACCESS_KEY_ID", false, "", "AccessKey id for the cloud OpenAPI"},
    Key{"access_key_secret", "ALIOT_ACCESS_KEY_SECRET", true, "", "AccessKey secret"},
};

std::string errno_text(int e) {
  return std::strerror(e);
} // NOLINT(concurrency-mt-unsafe)

} // namespace

std::span<const Key> keys() {
  return k_keys;
}

const Key* find_key(std::string_view name) {
  for (const auto& k : k_keys) {
    if (k.name == name) {
      return &k;
    }
  }
  return nullptr;
}

bool is_secret_env(std::string_view name) {
  for (const auto& k : k_keys) {
    if (k.secret && !k.env.empty() && name == k.env) {
      return true;
    }
  }
  return false;
}

std::optional<Value> Settings::get(std::string_view key) const {
  auto it = m_values.find(key);
  if (it == m_values.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::optional<std::string> Settings::text(std::string_view key) const {
  auto v = get(key);
  if (!v || v->text.empty()) {
    return std::nullopt;
  }
  return v->text;
}

Secret Settings::secret(std::string_view key) const {
  auto v = get(key);
  return v ? Secret(v->text) : Secret();
}

std::string default_config_path(const Env& env) {
  if (auto it = env.find("XDG_CONFIG_HOME"); it != env.end() && !it->second.empty()) {
    return it->second + "/aliot/config.json";
  }
  if (auto it = env.find("HOME"); it != env.end() && !it->second.empty()) {
    return it->second + "/.config/aliot/config.json";
  }
  return ".config/aliot/config.json";
}

std::string file_name(const std::string& path, std::string_view what) {
  return path == "-" ? std::string(what) + " from standard input" : std::string(what) + " " + path;
}

Result<Capped> read_capped(const std::string& path, std::size_t cap, std::string_view name_sv) {
  const bool is_stdin = path == "-";
  const std::string name(name_sv);
  const int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    return Error(Errc::io, name + ": cannot be read: " + errno_text(e));
  }
  Capped out;
  std::array<char, 65536> buf{};
  while (true) {
    const std::size_t want = std::min(buf.size(), cap + 1 - out.bytes.size());
    const ssize_t n = ::read(fd, buf.data(), want);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int e = errno;
      if (!is_stdin) {
        ::close(fd);
      }
      return Error(Errc::io, name + ": cannot be read: " + errno_text(e));
    }
    if (n == 0) {
      break;
    }
    out.bytes.append(buf.data(), static_cast<std::size_t>(n));
    if (out.bytes.size() > cap) {
      out.bytes.resize(cap);
      out.more = true;
      break;
    }
  }
  if (!is_stdin) {
    ::close(fd);
  }
  return out;
}

Result<std::string>
read_bounded(const std::string& path, std::size_t max_bytes, std::string_view name, Errc code) {
  auto r = read_capped(path, max_bytes, name);
  if (!r) {
    return Error(code, r.error().message());
  }
  if (r->more) {
    std::fill(r->bytes.begin(), r->bytes.end(), '\0');
    const std::string limit = max_bytes >= 1024 * 1024 ? std::to_string(max_bytes >> 20U) + " MiB"
                                                       : std::to_string(max_bytes >> 10U) + " KiB";
    return Error(code,
                 std::string(name) + " is larger than " + limit + ", the most aliot reads for it",
                 "check the path and the file: no such file is that large");
  }
  return std::move(r->bytes);
}

Result<std::string> read_text_file(const std::string& path, std::string_view what) {
  return read_bounded(path, k_max_small_file, file_name(path, what), Errc::config);
}

Result<void> check_ca_file(const std::string& path) {
  if (path.empty()) {
    return ok();
  }
  const std::string name = file_name(path, "CA file");
  auto r = read_capped(path, 1, name);
  if (!r) {
    return Error(Errc::config, r.error().message(),
                 "give a readable PEM file with --ca-file (or ALIOT_CA_FILE), or leave both "
                 "unset for the system trust store");
  }
  if (r->bytes.empty()) {
    return Error(Errc::config, name + " is empty",
                 "give the PEM file of the CA that signed the server (--ca-file, ALIOT_CA_FILE)");
  }
  return ok();
}

InstanceLock::~InstanceLock() {
  if (m_fd >= 0) {
    // Unlinked while still held: a process that opened this file before the unlink finds, once
    // it gets the lock, that the path names another file (or none) and tries again.
    ::unlink(m_path.c_str());
    ::close(m_fd);
  }
}

InstanceLock::InstanceLock(InstanceLock&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1))
    , m_path(std::move(other.m_path)) {}

InstanceLock& InstanceLock::operator=(InstanceLock&& other) noexcept {
  if (this != &other) {
    InstanceLock old(std::move(*this));
    m_fd = std::exchange(other.m_fd, -1);
    m_path = std::move(other.m_path);
  }
  return *this;
}

Result<InstanceLock> InstanceLock::acquire(const std::string& path, std::string_view what) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
      const int e = errno;
      return Error(Errc::io, std::string(what) + ": cannot create the lock file " + path + ": "
                                 + errno_text(e));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      std::string pid;
      std::array<char, 32> buf{};
      const ssize_t n = ::pread(fd, buf.data(), buf.size() - 1, 0);
      if (n > 0) {
        pid.assign(buf.data(), static_cast<std::size_t>(n));
        pid.erase(std::remove_if(pid.begin(), pid.end(), [](char c) { return c < '0' || c > '9'; }),
                  pid.end());
      }
      ::close(fd);
      if (e == EWOULDBLOCK) {
        return Error(Errc::usage,
                     std::string(what) + " is in use by another running instance"
                         + (pid.empty() ? std::string() : " (pid " + pid + ")"),
                     "stop that one first, or choose another; the lock (" + path
                         + ") goes away with the process that holds it");
      }
      return Error(Errc::io, std::string(what) + ": cannot lock " + path + ": " + errno_text(e));
    }
    // The holder before us may have removed the file between our open and our lock: hold the
    // file the path names now, or start again.
    struct stat held {};
    struct stat named {};
    if (::fstat(fd, &held) != 0 || ::stat(path.c_str(), &named) != 0 || held.st_ino != named.st_ino
        || held.st_dev != named.st_dev) {
      ::close(fd);
      continue;
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    // The pid is for the refusal message only: the lock holds without it.
    const bool pid_written = ::ftruncate(fd, 0) == 0 && ::pwrite(fd, pid.data(), pid.size(), 0) > 0;
    (void)pid_written;
    InstanceLock l;
    l.m_fd = fd;
    l.m_path = path;
    return l;
  }
  return Error(Errc::io, std::string(what) + ": cannot lock " + path + ": it keeps changing");
}

Result<Settings> resolve(const Sources& sources) {
  Settings s;
  const bool explicit_path = sources.config_path.has_value();
  s.m_config_path = explicit_path ? *sources.config_path : default_config_path(sources.env);

  std::optional<std::string> profile = sources.profile;
  std::string profile_origin = "flag --profile";
  if (!profile) {
    if (auto it = sources.env.find("ALIOT_PROFILE");
        it != sources.env.end() && !it->second.empty()) {
      profile = it->second;
      profile_origin = "env ALIOT_PROFILE";
    }
  }

  nlohmann::json profile_obj = nlohmann::json::object();
  struct stat st {};
  const bool exists = ::stat(s.m_config_path.c_str(), &st) == 0;
  if (!exists) {
    if (explicit_path) {
      return Error(Errc::config, "config file " + s.m_config_path + " does not exist");
    }
    if (profile) {
      return Error(Errc::config, "profile '" + *profile + "' (" + profile_origin
                                     + ") not found: no config file at " + s.m_config_path);
    }
  } else {
    ALIOT_TRY_ASSIGN(auto text, read_text_file(s.m_config_path, "config file"));
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Error(Errc::config, "config file " + s.m_config_path + ": not a JSON object",
                   "expected {\"default_profile\": \"NAME\", \"profiles\": {\"NAME\": {...}}}");
    }
    if (!profile) {
      if (auto it = j.find("default_profile"); it != j.end() && it->is_string()) {
        profile = it->get<std::string>();
        profile_origin = "default_profile";
      }
    }
    auto profiles = j.find("profiles");
    if (profiles != j.end() && !profiles->is_object()) {
      return Error(Errc::config,
                   "config file " + s.m_config_path + ": \"profiles\" must be an object");
    }
    if (profile) {
      if (profiles == j.end() || !profiles->contains(*profile)) {
        return Error(Errc::config, "profile '" + *profile + "' (" + profile_origin + ") is not in "
                                       + s.m_config_path);
      }
      profile_obj = (*profiles)[*profile];
      if (!profile_obj.is_object()) {
        return Error(Errc::config,
                     "profile '" + *profile + "' in " + s.m_config_path + " must be an object");
      }
      bool holds_secret = false;
      for (const auto& [k, v] : profile_obj.items()) {
        const Key* key = find_key(k);
        if (key == nullptr) {
          return Error(Errc::config,
                       "profile '" + *profile + "' in " + s.m_config_path + ": unknown key \"" + k
                           + "\"",
                       "run 'aliot config show' to list the known keys");
        }
        if (!v.is_string() && !v.is_number_integer()) {
          return Error(Errc::config, "profile '" + *profile + "' in " + s.m_config_path + ": key \""
                                         + k + "\" must be a string");
        }
        holds_secret = holds_secret || key->secret;
      }
      if (holds_secret) {
        ALIOT_TRY_ASSIGN(auto w,
                         check_secret_mode(st.st_mode,
                                           "config file " + s.m_config_path + " holds secrets and",
                                           s.m_config_path, sources.strict));
        if (w) {
          s.m_warnings.push_back(std::move(*w));
        }
      }
    }
  }
  s.m_profile = profile.value_or("");

  for (const auto& key : k_keys) {
    const std::string name(key.name);
    Value v;
    v.secret = key.secret;
    if (auto it = sources.flags.find(name); it != sources.flags.end()) {
      v.text = it->second.text;
      v.origin = it->second.origin;
    } else if (auto ft = sources.files.find(name); ft != sources.files.end()) {
      v.text = ft->second.text;
      v.origin = ft->second.origin;
    } else if (auto et = sources.env.find(key.env); et != sources.env.end()) {
      v.text = et->second;
      v.origin = "env " + std::string(key.env);
    } else if (profile_obj.contains(name)) {
      const auto& pv = profile_obj[name];
      v.text = pv.is_string() ? pv.get<std::string>() : std::to_string(pv.get<long long>());
      v.origin = "profile " + s.m_profile + " (" + s.m_config_path + ")";
    } else if (!key.default_value.empty()) {
      v.text = std::string(key.default_value);
      v.origin = "default";
    } else {
      continue;
    }
    s.m_values.emplace(name, std::move(v));
  }
  return s;
}

bool others_can_read(unsigned mode) {
  return (mode & (S_IRGRP | S_IROTH)) != 0;
}

Result<std::optional<std::string>>
check_secret_mode(unsigned mode, std::string_view name, const std::string& path, bool strict) {
  if (!others_can_read(mode)) {
    return std::optional<std::string>();
  }
  const std::string what = std::string(name) + " is readable by other users";
  if (strict) {
    return Error(Errc::config, what + " (--strict)", "chmod 600 " + path);
  }
  return std::optional<std::string>(what + ": chmod 600 it");
}

Result<std::optional<std::string>>
check_secret_file_mode(const std::string& path, std::string_view name, bool strict) {
  struct stat st {};
  if (path == "-" || ::stat(path.c_str(), &st) != 0) {
    return std::optional<std::string>(); // standard input, or not there: reading it will say so
  }
  return check_secret_mode(st.st_mode, name, path, strict);
}

Result<SecretRead> read_secret(const std::string& path, std::string_view what, bool strict) {
  const bool is_stdin = path == "-";
  const std::string name = is_stdin ? file_name(path, what) : std::string(what) + " file " + path;
  struct stat st {};
  if (!is_stdin && ::stat(path.c_str(), &st) != 0) {
    const int e = errno;
    return Error(Errc::config, name + ": " + errno_text(e));
  }
  ALIOT_TRY_ASSIGN(std::string v, read_bounded(path, k_max_small_file, name, Errc::config));
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) {
    v.pop_back();
  }
  if (v.empty()) {
    return Error(Errc::config, name + " is empty");
  }
  SecretRead r;
  r.value = Secret(std::move(v));
  if (!is_stdin) {
    ALIOT_TRY_ASSIGN(r.warning, check_secret_mode(st.st_mode, name, path, strict));
  }
  return r;
}

Result<void> write_file_atomic(const std::string& path, std::string_view content, unsigned mode) {
  const std::size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  std::string tmpl = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    const int e = errno;
    return Error(Errc::io, "cannot create a temporary file next to " + path + ": " + errno_text(e));
  }
  auto fail = [&](const std::string& what) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    return Error(Errc::io, what + " " + path + ": " + errno_text(e));
  };
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    return fail("cannot set the mode of");
  }
  std::size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail("cannot write");
    }
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    return fail("cannot sync");
  }
  if (::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmpl.c_str());
    return Error(Errc::io, "cannot close " + path + ": " + errno_text(e));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmpl.c_str());
    return Error(Errc::io, "cannot rename into " + path + ": " + errno_text(e));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return ok();
}

} // namespace aliot::config
