// The emulator's registry over registry.json (see aliot/emu/registry.hpp for the shape).
#include "rules.hpp"

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/emu/registry.hpp>
#include <aliot/identity.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>

// Assigns the value of a Result-returning expression, or returns its error.
#define EMU_TRY_ASSIGN(lhs, expr)                                                                  \
  do {                                                                                             \
    auto emu_try_r_ = (expr);                                                                      \
    if (!emu_try_r_) {                                                                             \
      return std::move(emu_try_r_).error();                                                        \
    }                                                                                              \
    lhs = std::move(*emu_try_r_);                                                                  \
  } while (false)

namespace aliot::emu {

namespace {

using json = nlohmann::json;

constexpr std::size_t k_max_tokens = 5; // clientIds per DeviceName (regnwl)

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An exclusive advisory lock on `<dir>/registry.lock` for one read-modify-write.
class FileLock {
public:
  explicit FileLock(const std::string& dir) {
    m_fd = ::open((dir + "/registry.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (m_fd >= 0) {
      while (::flock(m_fd, LOCK_EX) != 0 && errno == EINTR) {
      }
    }
  }
  ~FileLock() {
    if (m_fd >= 0) {
      ::close(m_fd); // releases the lock
    }
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool ok() const { return m_fd >= 0; }

private:
  int m_fd = -1;
};

json empty_document() {
  return {{"products", json::object()}, {"access_keys", json::object()}};
}

json default_topics() {
  return json::array({{{"topic", "user/get"}, {"access", "sub"}},
                      {{"topic", "user/update"}, {"access", "pub"}},
                      {{"topic", "user/update/error"}, {"access", "pub"}}});
}

json device_json(const std::string& pk,
                 const std::string& dn,
                 const std::string& secret,
                 bool enabled,
                 long long created_ms) {
  return {{"device_secret", secret},       {"enabled", enabled}, {"activated", false},
          {"iot_id", make_iot_id(pk, dn)}, {"nickname", ""},     {"created_ms", created_ms},
          {"tokens", json::array()}};
}

Error no_product(const std::string& pk) {
  return Error(Errc::usage, "product " + pk + " is not in the emulator registry",
               "add it first: aliot emulate cloud add-product --dir DIR -k " + pk);
}

Error no_device(const std::string& pk, const std::string& dn) {
  return Error(Errc::usage, "device " + pk + "/" + dn + " is not in the emulator registry",
               "add it first: aliot emulate cloud add-device --dir DIR -k " + pk + " -d " + dn);
}

// ---- strict reading: every wrongly typed value is an Error naming where it is ----

class Reader {
public:
  explicit Reader(std::string path)
      : m_path(std::move(path)) {}

  Error bad(const std::string& where, const std::string& what) const {
    return Error(Errc::config, "emulator registry " + m_path + ": " + where + " " + what,
                 "fix or delete the file");
  }

  // An optional member of `obj`: `def` when missing, the value when of the right type.
  Result<std::string> text(const json& obj, const char* key, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      return std::string();
    }
    if (!it->is_string()) {
      return bad(where + "." + key, "is not a string");
    }
    return it->get<std::string>();
  }
  Result<bool> flag(const json& obj, const char* key, bool def, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      return def;
    }
    if (!it->is_boolean()) {
      return bad(where + "." + key, "is not true or false");
    }
    return it->get<bool>();
  }
  Result<long long> number(const json& obj, const char* key, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      return 0LL;
    }
    if (!it->is_number_integer()) {
      return bad(where + "." + key, "is not an integer");
    }
    return it->get<long long>();
  }
  // A member that must be an object / array when present; nullptr when missing.
  Result<const json*>
  member(const json& obj, const char* key, bool array, const std::string& where) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      return static_cast<const json*>(nullptr);
    }
    if (array ? !it->is_array() : !it->is_object()) {
      return bad(where + "." + key, array ? "is not an array" : "is not an object");
    }
    return &*it;
  }

  Result<Device> device(const std::string& pk, const std::string& dn, const json& dj) const {
    const std::string where = "products." + pk + ".devices." + dn;
    if (!dj.is_object()) {
      return bad(where, "is not an object");
    }
    Device d;
    EMU_TRY_ASSIGN(d.secret, text(dj, "device_secret", where));
    EMU_TRY_ASSIGN(d.enabled, flag(dj, "enabled", true, where));
    EMU_TRY_ASSIGN(d.activated, flag(dj, "activated", false, where));
    EMU_TRY_ASSIGN(d.iot_id, text(dj, "iot_id", where));
    if (d.iot_id.empty()) {
      d.iot_id = make_iot_id(pk, dn);
    }
    EMU_TRY_ASSIGN(d.nickname, text(dj, "nickname", where));
    EMU_TRY_ASSIGN(d.created_ms, number(dj, "created_ms", where));
    const json* tokens = nullptr;
    EMU_TRY_ASSIGN(tokens, member(dj, "tokens", true, where));
    if (tokens != nullptr) {
      for (const auto& t : *tokens) {
        if (!t.is_object()) {
          return bad(where + ".tokens", "holds a value that is not an object");
        }
        std::string cid, token;
        EMU_TRY_ASSIGN(cid, text(t, "client_id", where + ".tokens"));
        EMU_TRY_ASSIGN(token, text(t, "token", where + ".tokens"));
        d.tokens.emplace_back(std::move(cid), std::move(token));
      }
    }
    return d;
  }

  Result<Product> product(const std::string& pk, const json& pj) const {
    const std::string where = "products." + pk;
    if (!pj.is_object()) {
      return bad(where, "is not an object");
    }
    Product p;
    EMU_TRY_ASSIGN(p.secret, text(pj, "product_secret", where));
    EMU_TRY_ASSIGN(p.dynreg, flag(pj, "dynamic_registration", true, where));
    const json* topics = nullptr;
    EMU_TRY_ASSIGN(topics, member(pj, "topics", true, where));
    if (topics != nullptr) {
      for (const auto& t : *topics) {
        if (!t.is_object()) {
          return bad(where + ".topics", "holds a value that is not an object");
        }
        std::string topic, access;
        EMU_TRY_ASSIGN(topic, text(t, "topic", where + ".topics"));
        EMU_TRY_ASSIGN(access, text(t, "access", where + ".topics"));
        if (access != "pub" && access != "sub" && access != "all") {
          return bad(where + ".topics", "access of " + topic + " is not pub, sub or all");
        }
        Category c{normalize_category(topic), access != "sub", access != "pub"};
        if (!c.topic.empty()) {
          p.cats.push_back(std::move(c));
        }
      }
    }
    const json* groups = nullptr;
    EMU_TRY_ASSIGN(groups, member(pj, "consumer_groups", true, where));
    if (groups != nullptr) {
      for (const auto& g : *groups) {
        if (!g.is_string()) {
          return bad(where + ".consumer_groups", "holds a value that is not a string");
        }
        p.consumer_groups.push_back(g.get<std::string>());
      }
    }
    const json* devices = nullptr;
    EMU_TRY_ASSIGN(devices, member(pj, "devices", false, where));
    if (devices != nullptr) {
      for (const auto& [dn, dj] : devices->items()) {
        auto d = device(pk, dn, dj);
        if (!d) {
          return std::move(d).error();
        }
        p.devices.emplace(dn, std::move(*d));
      }
    }
    return p;
  }

  Result<Snapshot> snapshot(const json& j) const {
    if (!j.is_object()) {
      return bad("the document", "is not a JSON object");
    }
    Snapshot s;
    const json* products = nullptr;
    EMU_TRY_ASSIGN(products, member(j, "products", false, "the document"));
    if (products != nullptr) {
      for (const auto& [pk, pj] : products->items()) {
        auto p = product(pk, pj);
        if (!p) {
          return std::move(p).error();
        }
        s.products.emplace(pk, std::move(*p));
      }
    }
    const json* keys = nullptr;
    EMU_TRY_ASSIGN(keys, member(j, "access_keys", false, "the document"));
    if (keys != nullptr) {
      for (const auto& [id, aj] : keys->items()) {
        if (!aj.is_object()) {
          return bad("access_keys." + id, "is not an object");
        }
        std::string secret;
        EMU_TRY_ASSIGN(secret, text(aj, "secret", "access_keys." + id));
        s.access_keys.emplace(id, std::move(secret));
      }
    }
    return s;
  }

private:
  std::string m_path;
};

} // namespace

// ---- views and validation ----

const Product* Snapshot::product(const std::string& pk) const {
  auto it = products.find(pk);
  return it == products.end() ? nullptr : &it->second;
}

const Device* Snapshot::device(const std::string& pk, const std::string& dn) const {
  const Product* p = product(pk);
  if (p == nullptr) {
    return nullptr;
  }
  auto it = p->devices.find(dn);
  return it == p->devices.end() ? nullptr : &it->second;
}

const Device*
Snapshot::device_by_iot_id(const std::string& iot_id, std::string& pk, std::string& dn) const {
  for (const auto& [ppk, p] : products) {
    for (const auto& [ddn, d] : p.devices) {
      if (d.iot_id == iot_id) {
        pk = ppk;
        dn = ddn;
        return &d;
      }
    }
  }
  return nullptr;
}

std::string make_iot_id(const std::string& pk, const std::string& dn) {
  return crypto::sha256_hex(pk + "/" + dn).substr(0, 20) + "000100";
}

Result<std::string> validate_category(std::string_view topic, std::string_view access) {
  const std::string shown(topic);
  if (access != "pub" && access != "sub" && access != "all") {
    return Error(Errc::usage, "invalid access '" + std::string(access) + "': pub, sub or all");
  }
  const std::string rel = normalize_category(topic);
  if (rel.rfind("user/", 0) != 0 || rel.size() <= 5) {
    return Error(Errc::usage,
                 "invalid topic category '" + shown
                     + "': it must be user/NAME (relative to /${productKey}/${deviceName}/)");
  }
  std::vector<std::string> levels;
  std::size_t start = 0;
  while (true) {
    const auto slash = rel.find('/', start);
    levels.push_back(rel.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const auto& l = levels[i];
    if (l == "+" || (l == "#" && i + 1 == levels.size())) {
      if (access != "sub") {
        return Error(Errc::usage, "invalid topic category '" + shown
                                      + "': wildcards are allowed only with --access sub");
      }
      continue;
    }
    if (l.empty()
        || l.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789_")
               != std::string::npos) {
      return Error(Errc::usage, "invalid topic category '" + shown
                                    + "': levels may hold only letters, digits and '_'");
    }
  }
  return rel;
}

Result<void> validate_access_key_id(std::string_view id) {
  if (id.empty() || id.find_first_of(" \t\r\n/&") != std::string_view::npos) {
    return Error(Errc::usage,
                 "invalid AccessKey id '" + std::string(id) + "': no spaces, '/' or '&'");
  }
  return ok();
}

Result<void> validate_consumer_group(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.find_first_of(" \t|,") != std::string_view::npos) {
    return Error(Errc::usage, "invalid consumer group id '" + std::string(id) + "'");
  }
  return ok();
}

// ---- the store ----

struct Registry::Impl {
  struct Sig {
    long long ino = -1, size = -1, mtime_ns = -1;
    bool operator==(const Sig&) const = default;
  };

  explicit Impl(std::string d)
      : dir(std::move(d))
      , path(dir + "/registry.json")
      , reader(path) {}

  std::string dir;
  std::string path;
  Reader reader;
  mutable std::mutex mu;
  std::shared_ptr<const Snapshot> view = std::make_shared<Snapshot>();
  Sig sig;
  // The document behind `view`, so a change to an unchanged file needs no re-read and the file
  // just written is never parsed again.
  std::optional<json> doc;

  Sig file_sig() const {
    struct stat st {};
    Sig s;
    if (::stat(path.c_str(), &st) == 0) {
      s = {static_cast<long long>(st.st_ino), static_cast<long long>(st.st_size),
           static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec};
    }
    return s;
  }

  // The document on disk (empty when there is none) and its typed view.
  Result<std::pair<json, Snapshot>> read() const {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) {
      return std::pair{empty_document(), Snapshot{}};
    }
    auto text = config::read_text_file(path, "emulator registry");
    if (!text) {
      return std::move(text).error();
    }
    auto j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Error(Errc::config, "emulator registry " + path + ": not valid JSON",
                   "fix or delete the file");
    }
    auto s = reader.snapshot(j);
    if (!s) {
      return std::move(s).error();
    }
    return std::pair{std::move(j), std::move(*s)};
  }

  // Under `mu`.
  Result<void> refresh() {
    const Sig now = file_sig();
    if (now == sig && doc) {
      return ok();
    }
    auto r = read();
    if (!r) {
      return std::move(r).error();
    }
    doc = std::move(r->first);
    view = std::make_shared<const Snapshot>(std::move(r->second));
    sig = now;
    return ok();
  }

  // One read-modify-write under the file lock: `fn` sees the current typed view and edits the
  // document (already checked by the reader, so its shape is known); nothing is written when it
  // fails or reports no change.
  Result<void> change(const std::function<Result<bool>(const Snapshot&, json&)>& fn) {
    std::lock_guard lk(mu);
    FileLock lock(dir);
    if (!lock.ok()) {
      return Error(Errc::io,
                   "cannot lock the emulator registry in " + dir + ": " + std::strerror(errno));
    }
    ALIOT_TRY(refresh());
    json j = *doc; // fn may fail half-way: work on a copy
    Result<bool> changed = false;
    try {
      j["products"];
      j["access_keys"];
      changed = fn(*view, j);
    } catch (const json::exception& e) {
      return Error(Errc::internal, std::string("emulator registry update failed: ") + e.what());
    }
    if (!changed) {
      return std::move(changed).error();
    }
    if (!*changed) {
      return ok();
    }
    auto s = reader.snapshot(j);
    if (!s) {
      return std::move(s).error();
    }
    ALIOT_TRY(config::write_file_atomic(path, j.dump(2) + "\n", 0600));
    view = std::make_shared<const Snapshot>(std::move(*s));
    doc = std::move(j);
    sig = file_sig();
    return ok();
  }
};

Registry::Registry(std::string dir)
    : m(std::make_unique<Impl>(std::move(dir))) {}

Registry::~Registry() = default;

const std::string& Registry::dir() const {
  return m->dir;
}

Result<void> Registry::ensure() {
  return m->change([](const Snapshot&, json&) -> Result<bool> { return true; });
}

Result<std::shared_ptr<const Snapshot>> Registry::load() {
  std::lock_guard lk(m->mu);
  ALIOT_TRY(m->refresh());
  return m->view;
}

std::shared_ptr<const Snapshot> Registry::current() {
  std::lock_guard lk(m->mu);
  (void)m->refresh(); // a broken file keeps the last good view; the writers never write one
  return m->view;
}

std::shared_ptr<const Snapshot> Registry::cached() const {
  std::lock_guard lk(m->mu);
  return m->view;
}

Result<Registry::ProductResult> Registry::add_product(const std::string& pk,
                                                      const std::optional<std::string>& secret,
                                                      std::optional<bool> dynreg) {
  ALIOT_TRY(validate_product_key(pk));
  ProductResult out;
  ALIOT_TRY(m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    auto& p = j["products"][pk];
    if (s.product(pk) == nullptr) {
      out.created = true;
      out.secret = secret.value_or(crypto::random_alnum(16));
      p = {{"product_secret", out.secret},
           {"dynamic_registration", dynreg.value_or(true)},
           {"topics", default_topics()},
           {"consumer_groups", json::array()},
           {"devices", json::object()}};
      return true;
    }
    out.secret = secret.value_or(s.product(pk)->secret);
    if (secret) {
      p["product_secret"] = *secret;
    }
    if (dynreg) {
      p["dynamic_registration"] = *dynreg;
    }
    return true;
  }));
  return out;
}

Result<Device> Registry::put_device(const std::string& pk,
                                    const std::string& dn,
                                    const std::string& secret,
                                    bool enabled) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_device_name(dn));
  ALIOT_TRY(m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    if (s.product(pk) == nullptr) {
      return no_product(pk);
    }
    const Device* old = s.device(pk, dn);
    j["products"][pk]["devices"][dn] =
        device_json(pk, dn, secret, enabled, old != nullptr ? old->created_ms : now_ms());
    return true;
  }));
  return *cached()->device(pk, dn);
}

Result<Registry::Created> Registry::create_device(const std::string& pk,
                                                  const std::string& dn,
                                                  const std::string& secret,
                                                  const std::string& nickname) {
  ALIOT_TRY(validate_device_name(dn));
  Created out = Created::created;
  ALIOT_TRY(m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    if (s.product(pk) == nullptr) {
      out = Created::no_product;
      return false;
    }
    if (s.device(pk, dn) != nullptr) {
      out = Created::name_taken;
      return false;
    }
    auto& d = j["products"][pk]["devices"][dn];
    d = device_json(pk, dn, secret, true, now_ms());
    d["nickname"] = nickname;
    return true;
  }));
  return out;
}

Result<void> Registry::add_access_key(const std::string& id, const std::string& secret) {
  ALIOT_TRY(validate_access_key_id(id));
  return m->change([&](const Snapshot&, json& j) -> Result<bool> {
    j["access_keys"][id] = {{"secret", secret}};
    return true;
  });
}

Result<std::string>
Registry::add_topic(const std::string& pk, const std::string& topic, const std::string& access) {
  ALIOT_TRY(validate_product_key(pk));
  auto rel = validate_category(topic, access);
  if (!rel) {
    return std::move(rel).error();
  }
  ALIOT_TRY(m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    if (s.product(pk) == nullptr) {
      return no_product(pk);
    }
    auto& topics = j["products"][pk]["topics"];
    if (!topics.is_array()) {
      topics = json::array();
    }
    for (auto it = topics.begin(); it != topics.end();) {
      it = normalize_category(it->value("topic", "")) == *rel ? topics.erase(it) : std::next(it);
    }
    topics.push_back({{"topic", *rel}, {"access", access}});
    return true;
  }));
  return rel;
}

Result<bool> Registry::add_consumer_group(const std::string& pk, const std::string& group) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_consumer_group(group));
  bool added = false;
  ALIOT_TRY(m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    const Product* p = s.product(pk);
    if (p == nullptr) {
      return no_product(pk);
    }
    for (const auto& g : p->consumer_groups) {
      if (g == group) {
        return false;
      }
    }
    auto& groups = j["products"][pk]["consumer_groups"];
    if (!groups.is_array()) {
      groups = json::array();
    }
    groups.push_back(group);
    added = true;
    return true;
  }));
  return added;
}

Result<void>
Registry::set_device_secret(const std::string& pk, const std::string& dn, const std::string& ds) {
  return m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    if (s.device(pk, dn) == nullptr) {
      return no_device(pk, dn);
    }
    j["products"][pk]["devices"][dn]["device_secret"] = ds;
    return true;
  });
}

Result<void> Registry::activate(const std::string& pk, const std::string& dn) {
  return m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    const Device* d = s.device(pk, dn);
    if (d == nullptr || d->activated) {
      return false;
    }
    auto& dj = j["products"][pk]["devices"][dn];
    dj["activated"] = true;
    dj["activated_ms"] = now_ms();
    return true;
  });
}

Result<void> Registry::add_token(const std::string& pk,
                                 const std::string& dn,
                                 const std::string& client_id,
                                 const std::string& token) {
  return m->change([&](const Snapshot& s, json& j) -> Result<bool> {
    if (s.product(pk) == nullptr) {
      return no_product(pk);
    }
    auto& devs = j["products"][pk]["devices"];
    if (s.device(pk, dn) == nullptr) {
      devs[dn] = device_json(pk, dn, "", true, now_ms());
    }
    auto& tokens = devs[dn]["tokens"];
    if (!tokens.is_array()) {
      tokens = json::array();
    }
    tokens.push_back({{"client_id", client_id}, {"token", token}});
    while (tokens.size() > k_max_tokens) {
      tokens.erase(tokens.begin());
    }
    return true;
  });
}

} // namespace aliot::emu
