// The firmware download (ota.hpp): HTTP(S) through http::Client into `path`.part, resumed with
// Range after a dropped connection, bounded by the announced size, then the size and signature
// checked (MD5 or SHA-256 through OpenSSL's EVP) before the file takes its name.
#include <aliot/encoding.hpp>
#include <aliot/ota.hpp>

#include <openssl/evp.h>

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

namespace aliot::ota {

namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f)
      : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

Error io_error(const std::string& what, const std::string& path) {
  return Error(Errc::io, what + " " + path + ": " + std::strerror(errno));
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::string header(const http::Headers& h, const char* name) {
  for (const auto& [k, v] : h) {
    if (strcasecmp(k.c_str(), name) == 0) {
      return v;
    }
  }
  return {};
}

// The first byte of "bytes START-END/TOTAL", or -1.
long long range_start(const std::string& content_range) {
  constexpr std::string_view k_unit = "bytes ";
  if (!std::string_view(content_range).starts_with(k_unit)) {
    return -1;
  }
  long long v = 0;
  std::size_t i = k_unit.size();
  if (i >= content_range.size() || content_range[i] < '0' || content_range[i] > '9') {
    return -1;
  }
  for (; i < content_range.size() && content_range[i] >= '0' && content_range[i] <= '9'; ++i) {
    v = v * 10 + (content_range[i] - '0');
    if (v > static_cast<long long>(k_max_firmware_bytes)) {
      return -1;
    }
  }
  return i < content_range.size() && content_range[i] == '-' ? v : -1;
}

// What one attempt's body did to the file.
struct Attempt {
  int fd;
  std::uint64_t size; // announced
  std::uint64_t* got;
  const DownloadOptions* options;
  bool checked = false;
  std::optional<Error> error; // why the sink stopped the transfer
};

bool take(Attempt& a, const http::Response& head, std::string_view bytes) {
  if (!a.checked) {
    a.checked = true;
    if (head.status == 200 && *a.got > 0) {
      // The server ignored Range: start over.
      if (::ftruncate(a.fd, 0) != 0 || ::lseek(a.fd, 0, SEEK_SET) != 0) {
        a.error = Error(Errc::io,
                        std::string("truncating the partial download: ") + std::strerror(errno));
        return false;
      }
      *a.got = 0;
    } else if (head.status == 206) {
      const long long start = range_start(header(head.headers, "Content-Range"));
      if (start != static_cast<long long>(*a.got)) {
        a.error =
            Error(Errc::remote, "the server's 206 reply starts at byte " + std::to_string(start)
                                    + ", not at " + std::to_string(*a.got) + " as asked");
        return false;
      }
    } else if (head.status != 200) {
      a.error = Error(Errc::remote, "the server answered HTTP " + std::to_string(head.status));
      return false;
    }
  }
  if (*a.got + bytes.size() > a.size) {
    a.error = Error(Errc::verify,
                    "the server sent more than the announced " + std::to_string(a.size)
                        + " bytes: refused",
                    "the firmware file does not match its push: check the firmware's size");
    return false;
  }
  if (!write_all(a.fd, bytes)) {
    a.error = Error(Errc::io, std::string("writing the firmware: ") + std::strerror(errno));
    return false;
  }
  *a.got += bytes.size();
  if (a.options->progress) {
    a.options->progress(*a.got, a.size);
  }
  return true;
}

} // namespace

Result<std::string> file_digest(const std::string& path, SignMethod method) {
  Fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) {
    return io_error("cannot open", path);
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = method == SignMethod::md5 ? EVP_md5() : EVP_sha256();
  if (!ctx || md == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
    return Error(Errc::config,
                 std::string("OpenSSL refuses ") + std::string(sign_method_name(method)),
                 "a FIPS-only OpenSSL refuses MD5: use SHA256 firmware signatures");
  }
  std::array<char, 64 * 1024> buf{};
  for (;;) {
    const ssize_t n = ::read(f.fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error("cannot read", path);
    }
    if (n == 0) {
      break;
    }
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), out.data(), &len);
  return enc::hex_lower(std::string_view(reinterpret_cast<const char*>(out.data()), len));
}

Result<void> verify_file(const std::string& path, const File& file, SignMethod method) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return io_error("cannot stat", path);
  }
  if (static_cast<std::uint64_t>(st.st_size) != file.size) {
    return Error(Errc::verify,
                 "the firmware is " + std::to_string(st.st_size) + " bytes, not the announced "
                     + std::to_string(file.size),
                 "a truncated or oversized file: check the firmware's upload");
  }
  ALIOT_TRY_ASSIGN(auto digest, file_digest(path, method));
  if (digest != file.sign) {
    return Error(Errc::verify,
                 std::string(sign_method_name(method)) + " of the firmware is " + digest
                     + ", not the announced " + file.sign + ": refused",
                 "the file was altered or the job's firmware has the wrong signature");
  }
  return ok();
}

Result<DownloadResult> download(const File& file,
                                SignMethod method,
                                const std::string& path,
                                const DownloadOptions& options,
                                const Logger& logger) {
  // A name of its own beside `path`: several devices (processes) may download the same firmware
  // into one directory at once.
  std::string tmpl = path + ".XXXXXX";
  Fd f(::mkostemp(tmpl.data(), O_CLOEXEC));
  const std::string part = tmpl;
  if (f.fd < 0) {
    return io_error("cannot create", part);
  }
  http::Client client(options.http, logger);
  DownloadResult result;
  std::uint64_t got = 0;
  int failures = 0;
  for (;;) {
    http::Request req;
    req.method = "GET";
    req.url = file.url;
    if (got > 0) {
      req.headers.emplace_back("Range", "bytes=" + std::to_string(got) + "-");
      ++result.resumes;
    }
    Attempt a{f.fd, file.size, &got, &options};
    req.body_sink = [&a](const http::Response& head, std::string_view bytes) {
      return take(a, head, bytes);
    };
    auto r = client.send(req);
    if (a.error) {
      ::unlink(part.c_str());
      return *a.error;
    }
    if (r) {
      if (r->status != 200 && r->status != 206) {
        ::unlink(part.c_str());
        return Error(Errc::remote, "downloading " + http::url_host(file.url) + ": HTTP "
                                       + std::to_string(r->status));
      }
      if (got == file.size) {
        break;
      }
      // A complete reply that is shorter than announced: not a dropped connection.
      ::unlink(part.c_str());
      return Error(Errc::verify,
                   "the server sent " + std::to_string(got) + " bytes, not the announced "
                       + std::to_string(file.size) + ": truncated firmware refused",
                   "check the firmware's upload and its size in the job");
    }
    const Errc code = r.error().code();
    if ((code != Errc::network && code != Errc::timeout) || failures >= options.max_retries) {
      ::unlink(part.c_str());
      if (code == Errc::network || code == Errc::timeout) {
        return Error(code,
                     r.error().message() + " (after " + std::to_string(failures)
                         + " resumed attempts, " + std::to_string(got) + " of "
                         + std::to_string(file.size) + " bytes)",
                     r.error().hint());
      }
      return std::move(r).error();
    }
    ++failures;
    logger.info("download: " + r.error().message() + "; resuming at byte " + std::to_string(got)
                + " (attempt " + std::to_string(failures + 1) + ")");
    std::this_thread::sleep_for(options.retry_delay * failures);
    if (options.http.stop != nullptr && options.http.stop->load()) {
      ::unlink(part.c_str());
      return Error(Errc::interrupted, "download interrupted");
    }
  }
  if (::fsync(f.fd) != 0) {
    return io_error("cannot sync", part);
  }
  if (auto v = verify_file(part, file, method); !v) {
    ::unlink(part.c_str());
    return std::move(v).error();
  }
  if (::rename(part.c_str(), path.c_str()) != 0) {
    return io_error("cannot rename to", path);
  }
  result.bytes = got;
  return result;
}

} // namespace aliot::ota
