#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/dynreg.hpp>
#include <aliot/encoding.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

namespace aliot::dynreg {

namespace {

std::string errno_text(int e) {
  return std::strerror(e);
} // NOLINT(concurrency-mt-unsafe)

std::string device_of(const Request& r) {
  return r.product_key + "/" + r.device_name;
}

bool contains_ci(std::string_view hay, std::string_view needle) {
  return enc::to_lower(hay).find(enc::to_lower(needle)) != std::string::npos;
}

// What to do about a refused registration, from the platform's message.
std::string hint_for(std::string_view message, const Request& r) {
  if (contains_ci(message, "device") && contains_ci(message, "disabled")) {
    return "the device " + device_of(r) + " is disabled: enable it in the console";
  }
  if (contains_ci(message, "dynamic") || contains_ci(message, "dynreg")
      || contains_ci(message, "not allowed") || contains_ci(message, "disabled")) {
    return "switch on dynamic registration for product " + r.product_key
           + " in the console (product page, 'dynamic registration')";
  }
  if (contains_ci(message, "activ") || contains_ci(message, "already")) {
    return "the device " + device_of(r)
           + " has connected with its secret already; reset it in the console (or with the "
             "ResetThing API) to register it again";
  }
  if (contains_ci(message, "product")) {
    return "check the ProductKey " + r.product_key + " and the region/endpoint";
  }
  if (contains_ci(message, "device") || contains_ci(message, "exist")
      || contains_ci(message, "not found")) {
    return "pre-register " + device_of(r)
           + " in the console first (or register with --via mqtt --no-preregister)";
  }
  return {};
}

// A ClientId or DeviceToken the platform sent: printable ASCII without blanks, bounded.
Result<void> validate_issued_text(std::string_view v, std::string_view what) {
  if (v.size() > 256) {
    return Error(Errc::usage, std::string(what) + " is longer than 256 characters");
  }
  for (const unsigned char c : v) {
    if (c <= 0x20 || c >= 0x7F) {
      return Error(Errc::usage,
                   std::string(what) + " contains whitespace or a non-printable character");
    }
  }
  return ok();
}

// The error for issued credentials aliot refuses: the platform sent them once.
Error refused_credentials(const std::string& what, const Error& why) {
  return Error(Errc::remote, what + ": the platform sent credentials aliot cannot use ("
                                 + why.message() + "); refused");
}

} // namespace

Result<std::string> new_random() {
  return crypto::random_alnum(15);
}

Result<HttpsRequest>
https_request(std::string_view auth_endpoint, const Request& r, const Secret& product_secret) {
  std::string base(auth_endpoint);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  ALIOT_TRY_ASSIGN(auto sign, sign::dynreg_sign(r.method, product_secret, r.product_key,
                                                r.device_name, r.random));
  HttpsRequest out;
  out.url = base + std::string(k_https_path);
  out.body = enc::form_encode({{"productKey", r.product_key},
                               {"deviceName", r.device_name},
                               {"random", r.random},
                               {"sign", sign},
                               {"signMethod", std::string(sign::method_name(r.method))}});
  return out;
}

Result<Triplet> parse_https_reply(long http_status, std::string_view body, const Request& r) {
  const std::string what = "registering " + device_of(r);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    // A 2xx body may hold an issued secret: never quoted.
    std::string snippet(http_status / 100 == 2 ? std::string_view() : body.substr(0, 120));
    for (char& c : snippet) {
      if (static_cast<unsigned char>(c) < 0x20) {
        c = ' ';
      }
    }
    return Error(Errc::remote,
                 what + ": the server answered HTTP " + std::to_string(http_status)
                     + " without a JSON reply" + (snippet.empty() ? "" : " (" + snippet + ")"),
                 "check ALIOT_AUTH_ENDPOINT: it must be the base URL of the dynamic registration "
                 "service (https://iot-auth.<region>.aliyuncs.com)");
  }
  long code = 0;
  if (auto it = j.find("code"); it != j.end()) {
    if (it->is_number_integer()) {
      code = it->get<long>();
    } else if (it->is_string()) {
      code = std::strtol(it->get<std::string>().c_str(), nullptr, 10);
    }
  }
  std::string message;
  if (auto it = j.find("message"); it != j.end() && it->is_string()) {
    message = it->get<std::string>();
  }
  if (code == 200) {
    auto data = j.find("data");
    if (data == j.end() || !data->is_object()) {
      return Error(Errc::remote, what + ": the success reply has no \"data\" object");
    }
    auto str = [&](const char* k) -> std::string {
      auto it = data->find(k);
      return it != data->end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    Triplet t;
    t.product_key = str("productKey");
    t.device_name = str("deviceName");
    t.device_secret = Secret(str("deviceSecret"));
    if (t.product_key.empty()) {
      t.product_key = r.product_key;
    }
    if (t.device_name.empty()) {
      t.device_name = r.device_name;
    }
    if (t.device_secret.empty()) {
      return Error(Errc::remote, what + ": the success reply has no deviceSecret");
    }
    if (t.product_key != r.product_key || t.device_name != r.device_name) {
      return Error(Errc::remote, what + ": the reply is for another device (" + t.product_key + "/"
                                     + t.device_name + ")");
    }
    if (auto v = validate_device_secret(t.device_secret); !v) {
      return refused_credentials(what, v.error());
    }
    return t;
  }
  const std::string platform = "the platform refused it (code " + std::to_string(code)
                               + (message.empty() ? ")" : ": " + message + ")");
  if (code == 401 || http_status == 401) {
    return Error(Errc::auth, what + ": " + platform,
                 "the sign did not verify: check the ProductSecret of " + r.product_key
                     + " (ALIOT_PRODUCT_SECRET, --product-secret-file or the profile)");
  }
  if (code == 460) {
    return Error(Errc::remote, what + ": " + platform,
                 "a request parameter was refused; check the ProductKey and DeviceName");
  }
  return Error(Errc::remote, what + ": " + platform, hint_for(message, r));
}

Result<Triplet> register_https(http::Client& client,
                               std::string_view auth_endpoint,
                               const Request& r,
                               const Secret& product_secret,
                               const std::string& quarantine_dir) {
  auto signed_req = https_request(auth_endpoint, r, product_secret);
  if (!signed_req) {
    return std::move(signed_req).error().context("registering " + device_of(r));
  }
  const auto& req = *signed_req;
  http::Request h;
  h.method = "POST";
  h.url = req.url;
  h.body = req.body;
  h.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
               {"Accept", "text/xml,text/javascript,text/html,application/json"}};
  auto resp = client.send(h);
  if (!resp) {
    return std::move(resp).error().context("registering " + device_of(r));
  }
  auto t = parse_https_reply(resp->status, resp->body, r);
  if (!t && https_reply_may_hold_credentials(resp->status, resp->body)) {
    return keep_refused_reply(std::move(t).error(), quarantine_dir, r, resp->body);
  }
  return t;
}

bool https_reply_may_hold_credentials(long http_status, std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) { // not JSON (not UTF-8, say): does it name one?
    return http_status / 100 == 2
           && (body.find("deviceSecret") != std::string_view::npos
               || body.find("deviceToken") != std::string_view::npos);
  }
  auto it = j.find("code");
  if (it == j.end()) {
    return false;
  }
  return (it->is_number_integer() && it->get<long>() == 200)
         || (it->is_string() && it->get<std::string>() == "200");
}

Result<std::string>
quarantine_reply(const std::string& dir, const Request& r, std::string_view raw) {
  if (dir.empty()) {
    return Error(Errc::io, "no directory to keep it in (neither XDG_STATE_HOME nor HOME is set)");
  }
  // The directory and its missing parents, each new one 0700.
  for (std::size_t at = dir.find('/', 1);; at = dir.find('/', at + 1)) {
    const std::string part = at == std::string::npos ? dir : dir.substr(0, at);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return Error(Errc::io, "creating " + part + ": " + errno_text(errno));
    }
    if (at == std::string::npos) {
      break;
    }
  }
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  ALIOT_TRY_ASSIGN(auto tag, crypto::random_alnum(6));
  const std::string path =
      dir + "/" + r.product_key + "." + r.device_name + "." + stamp + "." + tag + ".reply";
  ALIOT_TRY(config::write_file_atomic(path, raw, 0600));
  return path;
}

Error keep_refused_reply(Error e,
                         const std::string& quarantine_dir,
                         const Request& r,
                         std::string_view raw) {
  auto kept = quarantine_reply(quarantine_dir, r, raw);
  if (!kept) {
    return Error(Errc::io,
                 e.message() + "; keeping the raw reply failed: " + kept.error().message(),
                 "the platform issued credentials to " + device_of(r)
                     + " that are lost: check the device on the console (reset it and register "
                       "it again)");
  }
  return Error(e.code(), e.message() + "; the raw reply is kept in " + *kept,
               "the platform issued them once: keep " + *kept
                   + " (0600) and check the device on the console");
}

Result<Triplet>
parse_mqtt_reply(std::string_view topic, std::string_view payload, const Request& r) {
  const std::string what = "registering " + device_of(r) + " over MQTT";
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, what + ": the reply on " + std::string(topic) + " is not JSON");
  }
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Triplet t;
  t.product_key = str("productKey");
  t.device_name = str("deviceName");
  if (t.product_key.empty()) {
    t.product_key = r.product_key;
  }
  if (t.device_name.empty()) {
    t.device_name = r.device_name;
  }
  if (topic == "/ext/register") {
    t.device_secret = Secret(str("deviceSecret"));
    if (t.device_secret.empty()) {
      return Error(Errc::remote, what + ": the /ext/register reply has no deviceSecret");
    }
  } else if (topic == "/ext/regnwl") {
    const std::string cid = str("clientId");
    t.device_token = Secret(str("deviceToken"));
    if (cid.empty() || t.device_token.empty()) {
      return Error(Errc::remote, what + ": the /ext/regnwl reply lacks clientId or deviceToken");
    }
    t.client_id = cid;
  } else {
    return Error(Errc::remote, what + ": unexpected reply topic " + std::string(topic));
  }
  if (t.product_key != r.product_key || t.device_name != r.device_name) {
    return Error(Errc::remote, what + ": the reply is for another device (" + t.product_key + "/"
                                   + t.device_name + ")");
  }
  if (!t.device_secret.empty()) {
    if (auto v = validate_device_secret(t.device_secret); !v) {
      return refused_credentials(what, v.error());
    }
  } else {
    if (auto v = validate_issued_text(*t.client_id, "ClientId"); !v) {
      return refused_credentials(what, v.error());
    }
    if (auto v = validate_issued_text(t.device_token.reveal(), "DeviceToken"); !v) {
      return refused_credentials(what, v.error());
    }
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// OutFile

struct OutFile::Impl {
  int fd = -1;
  std::string path;
  std::set<std::string, std::less<>> done;
  bool repaired = false;
  mutable std::mutex mu;

  ~Impl() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

OutFile::OutFile()
    : m_impl(std::make_unique<Impl>()) {}
OutFile::OutFile(OutFile&&) noexcept = default;
OutFile& OutFile::operator=(OutFile&&) noexcept = default;
OutFile::~OutFile() = default;

namespace {

std::string key_of(std::string_view pk, std::string_view dn) {
  return std::string(pk) + "/" + std::string(dn);
}

// A complete record: a JSON object with ProductKey, DeviceName and a secret or token.
bool complete_record(std::string_view line, std::string* key) {
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return false;
  }
  auto s = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (s("ProductKey").empty() || s("DeviceName").empty()
      || (s("DeviceSecret").empty() && s("DeviceToken").empty())) {
    return false;
  }
  *key = key_of(s("ProductKey"), s("DeviceName"));
  return true;
}

Result<void> fsync_dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    return Error(Errc::io, "opening directory " + dir + ": " + errno_text(errno));
  }
  const int rc = ::fsync(dfd);
  const int e = errno;
  ::close(dfd);
  if (rc != 0) {
    return Error(Errc::io, "syncing directory " + dir + ": " + errno_text(e));
  }
  return ok();
}

Result<void> write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error(Errc::io, "writing " + path + ": " + errno_text(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok();
}

} // namespace

Result<OutFile> OutFile::open(const std::string& path) {
  OutFile f;
  auto& m = *f.m_impl;
  m.path = path;
  bool created = false;
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    created = fd >= 0;
  }
  if (fd < 0) {
    return Error(Errc::io, "opening " + path + ": " + errno_text(errno),
                 "--out needs a file aliot can create or append to");
  }
  m.fd = fd;
  if (created) {
    ::fchmod(fd, 0600); // whatever the umask
    if (::fsync(fd) != 0) {
      return Error(Errc::io, "syncing " + path + ": " + errno_text(errno));
    }
    ALIOT_TRY(fsync_dir_of(path));
    return f;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return Error(Errc::io, "reading " + path + ": " + errno_text(errno));
  }
  std::string content;
  content.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < content.size()) {
    const ssize_t n =
        ::pread(fd, content.data() + got, content.size() - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error(Errc::io, "reading " + path + ": " + errno_text(errno));
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  content.resize(got);
  std::size_t pos = 0;
  while (pos < content.size()) {
    const std::size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) {
      // A torn last line: keep it if it is a whole record (only the newline is missing),
      // otherwise cut it off. A torn record was never shown to anyone (lines are printed only
      // after they are durable), so the device is simply registered again.
      const std::string_view tail(content.data() + pos, content.size() - pos);
      std::string key;
      if (complete_record(tail, &key)) {
        ALIOT_TRY(write_all(fd, "\n", path));
        m.done.insert(key);
      } else if (::ftruncate(fd, static_cast<off_t>(pos)) != 0) {
        return Error(Errc::io,
                     "repairing the torn last line of " + path + ": " + errno_text(errno));
      }
      if (::fsync(fd) != 0) {
        return Error(Errc::io, "syncing " + path + ": " + errno_text(errno));
      }
      m.repaired = true;
      break;
    }
    std::string key;
    if (complete_record(std::string_view(content.data() + pos, nl - pos), &key)) {
      m.done.insert(key);
    }
    pos = nl + 1;
  }
  return f;
}

bool OutFile::contains(std::string_view pk, std::string_view dn) const {
  std::lock_guard lock(m_impl->mu);
  return m_impl->done.find(key_of(pk, dn)) != m_impl->done.end();
}

std::size_t OutFile::size() const {
  std::lock_guard lock(m_impl->mu);
  return m_impl->done.size();
}

bool OutFile::repaired() const {
  return m_impl->repaired;
}

Result<void> OutFile::append(std::string_view pk, std::string_view dn, std::string_view json_line) {
  std::lock_guard lock(m_impl->mu);
  std::string line(json_line);
  line.push_back('\n');
  // Where the last complete line ends: a write or sync that fails (a full disk, a file size
  // limit) leaves the file cut back to it, so no torn record is left for the next line to be
  // glued onto.
  struct stat st {};
  if (::fstat(m_impl->fd, &st) != 0) {
    return Error(Errc::io, "reading " + m_impl->path + ": " + errno_text(errno));
  }
  auto written = write_all(m_impl->fd, line, m_impl->path);
  if (written && ::fsync(m_impl->fd) != 0) {
    written = Error(Errc::io, "syncing " + m_impl->path + ": " + errno_text(errno));
  }
  if (!written) {
    if (::ftruncate(m_impl->fd, st.st_size) != 0 || ::fsync(m_impl->fd) != 0) {
      return Error(Errc::io,
                   written.error().message()
                       + "; cutting it back to its last complete "
                         "line also failed: "
                       + errno_text(errno),
                   "the next run repairs the torn last line of " + m_impl->path);
    }
    return written;
  }
  m_impl->done.insert(key_of(pk, dn));
  return ok();
}

} // namespace aliot::dynreg
