// DIR/ota/ota.json and the firmware files (aliot/emu/ota.hpp).
#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/emu/ota.hpp>

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace aliot::emu::ota {

namespace {

std::mutex& local_mutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}

Result<void> ensure_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{Errc::io, "cannot create " + path + ": " + std::strerror(errno)};
  }
  return ok();
}

json empty_state() {
  return json{{"next", 1},
              {"firmware", json::array()},
              {"jobs", json::array()},
              {"tasks", json::array()},
              {"versions", json::object()},
              {"uploads", json::object()}};
}

Result<json> read_unlocked(const std::string& dir) {
  const std::string path = ota_dir(dir) + "/ota.json";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return empty_state();
  }
  ALIOT_TRY_ASSIGN(auto text, config::read_bounded(path, k_max_state, path, Errc::io));
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error{Errc::io, path + " is not valid JSON: move it away to start with no firmware"};
  }
  auto base = empty_state();
  for (auto& [k, v] : base.items()) {
    if (!j.contains(k) || j[k].type() != v.type()) {
      j[k] = v;
    }
  }
  return j;
}

// flock on DIR/ota/ota.lock for as long as it lives.
class FileLock {
public:
  static Result<std::unique_ptr<FileLock>> take(const std::string& dir) {
    ALIOT_TRY(ensure_dir(dir));
    ALIOT_TRY(ensure_dir(ota_dir(dir)));
    const std::string path = ota_dir(dir) + "/ota.lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Error{Errc::io, "cannot open " + path + ": " + std::strerror(errno)};
    }
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd);
        return Error{Errc::io, "cannot lock " + path + ": " + std::strerror(err)};
      }
    }
    return std::unique_ptr<FileLock>(new FileLock(fd));
  }
  ~FileLock() { ::close(m_fd); } // closing releases the lock
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

private:
  explicit FileLock(int fd)
      : m_fd(fd) {}
  int m_fd;
};

std::string hex(const unsigned char* p, unsigned n) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) {
    s += k[p[i] >> 4];
    s += k[p[i] & 15];
  }
  return s;
}

struct Hashers {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md5{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  bool start() {
    return md5 && sha && EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) == 1
           && EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr) == 1;
  }
  bool add(const void* p, std::size_t n) {
    return EVP_DigestUpdate(md5.get(), p, n) == 1 && EVP_DigestUpdate(sha.get(), p, n) == 1;
  }
  bool finish(Digests& d) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (EVP_DigestFinal_ex(md5.get(), out, &n) != 1) {
      return false;
    }
    d.md5 = hex(out, n);
    if (EVP_DigestFinal_ex(sha.get(), out, &n) != 1) {
      return false;
    }
    d.sha256 = hex(out, n);
    return true;
  }
};

} // namespace

std::string ota_dir(const std::string& dir) {
  return dir + "/ota";
}

std::string files_dir(const std::string& dir) {
  return dir + "/ota/files";
}

Result<json> read_state(const std::string& dir) {
  std::lock_guard lk(local_mutex());
  ALIOT_TRY_ASSIGN(auto lock, FileLock::take(dir));
  return read_unlocked(dir);
}

Result<void> update_state(const std::string& dir, const std::function<Result<void>(json&)>& edit) {
  std::lock_guard lk(local_mutex());
  ALIOT_TRY_ASSIGN(auto lock, FileLock::take(dir));
  ALIOT_TRY_ASSIGN(auto state, read_unlocked(dir));
  ALIOT_TRY(edit(state));
  return config::write_file_atomic(ota_dir(dir) + "/ota.json", state.dump(1), 0600);
}

Result<Digests> file_digests(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{Errc::io, "cannot open " + path + ": " + std::strerror(errno)};
  }
  Hashers h;
  Digests d;
  if (!h.start()) {
    ::close(fd);
    return Error{Errc::internal, "OpenSSL cannot compute MD5/SHA-256 here"};
  }
  std::string buf(1 << 16, '\0');
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Error{Errc::io, "cannot read " + path + ": " + std::strerror(err)};
    }
    if (n == 0) {
      break;
    }
    d.size += static_cast<std::uint64_t>(n);
    if (d.size > k_max_file) {
      ::close(fd);
      return Error{Errc::usage,
                   path + " is over 256 MiB, the emulator's limit for a firmware file"};
    }
    h.add(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (!h.finish(d)) {
    return Error{Errc::internal, "OpenSSL cannot compute MD5/SHA-256 here"};
  }
  return d;
}

Digests bytes_digests(std::string_view bytes) {
  Hashers h;
  Digests d;
  d.size = bytes.size();
  if (!h.start() || !h.add(bytes.data(), bytes.size()) || !h.finish(d)) {
    throw std::runtime_error("OpenSSL cannot compute MD5/SHA-256 here");
  }
  return d;
}

std::string new_id(json& state, const std::string& suffix) {
  auto r = crypto::random_alnum(22);
  const long long n = state.value("next", 1LL);
  state["next"] = n + 1;
  // The platform's ids are 26 alphanumerics ending in a kind (0100 firmware, 0200 job); a
  // counter keeps them unique even without randomness.
  std::string base = r ? *r : std::string(22, 'x');
  std::string num = std::to_string(n);
  return base.substr(0, 22 - std::min<std::size_t>(num.size(), 8)) + num.substr(0, 8) + suffix;
}

std::string api_sign_method(const std::string& s) {
  std::string u;
  for (char c : s) {
    u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (u == "MD5" || u == "SHA256") {
    return u;
  }
  return {};
}

} // namespace aliot::emu::ota
