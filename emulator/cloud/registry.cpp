// The emulator's registry over SQLite (registry.db), importing an older registry.json once
// (see aliot/emu/registry.hpp).
#include "rules.hpp"

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/emu/registry.hpp>
#include <aliot/identity.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <sqlite3.h>
#include <unordered_map>

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

json default_topics() {
  return json::array({{{"topic", "user/get"}, {"access", "sub"}},
                      {{"topic", "user/update"}, {"access", "pub"}},
                      {{"topic", "user/update/error"}, {"access", "pub"}}});
}

Error no_product(const std::string& pk) {
  return Error(Errc::usage, "product " + pk + " is not in the emulator registry",
               "add it first: aliot emulate cloud add-product --dir DIR -k " + pk);
}

Error no_device(const std::string& pk, const std::string& dn) {
  return Error(Errc::usage, "device " + pk + "/" + dn + " is not in the emulator registry",
               "add it first: aliot emulate cloud add-device --dir DIR -k " + pk + " -d " + dn);
}

// What a registry.json of an older run holds, to import once.
struct Imported {
  std::map<std::string, Product> products;
  std::map<std::string, std::map<std::string, Device>> devices; // pk -> dn -> device
  std::map<std::string, std::string> access_keys;
};

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
      EMU_TRY_ASSIGN(d.iot_id, make_iot_id(pk, dn));
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

  Result<Product>
  product(const std::string& pk, const json& pj, std::map<std::string, Device>& devs) const {
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
        devs.emplace(dn, std::move(*d));
      }
    }
    return p;
  }

  Result<Imported> document(const json& j) const {
    if (!j.is_object()) {
      return bad("the document", "is not a JSON object");
    }
    Imported s;
    const json* products = nullptr;
    EMU_TRY_ASSIGN(products, member(j, "products", false, "the document"));
    if (products != nullptr) {
      for (const auto& [pk, pj] : products->items()) {
        auto p = product(pk, pj, s.devices[pk]);
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

// ---- validation ----

Result<std::string> make_iot_id(const std::string& pk, const std::string& dn) {
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

namespace {

// The SQL of every statement; each is prepared once per connection and kept.
constexpr const char* k_schema[] = {
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    // topics: [{"topic": "user/get", "access": "sub"}, ...] in the order they were added;
    // consumer_groups: ["G1", ...]. A product holds a handful of each.
    "CREATE TABLE IF NOT EXISTS products(pk TEXT PRIMARY KEY, secret TEXT NOT NULL,"
    " dynreg INTEGER NOT NULL, topics TEXT NOT NULL, consumer_groups TEXT NOT NULL)"
    " WITHOUT ROWID",
    // tokens: [["clientId", "token"], ...], newest last.
    "CREATE TABLE IF NOT EXISTS devices(pk TEXT NOT NULL, dn TEXT NOT NULL,"
    " secret TEXT NOT NULL, enabled INTEGER NOT NULL, activated INTEGER NOT NULL,"
    " activated_ms INTEGER, iot_id TEXT NOT NULL, nickname TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL, tokens TEXT NOT NULL, PRIMARY KEY(pk, dn)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS devices_by_iot_id ON devices(iot_id)",
    "CREATE TABLE IF NOT EXISTS access_keys(id TEXT PRIMARY KEY, secret TEXT NOT NULL)"
    " WITHOUT ROWID",
};
constexpr int k_schema_version = 1;

constexpr const char* q_schema = "SELECT value FROM meta WHERE key = 'schema'";
constexpr const char* q_set_schema = "INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?1)";
constexpr const char* q_data_version = "PRAGMA data_version";
constexpr const char* q_products =
    "SELECT pk, secret, dynreg, topics, consumer_groups FROM products";
constexpr const char* q_product =
    "SELECT secret, dynreg, topics, consumer_groups FROM products WHERE pk = ?1";
constexpr const char* q_keys = "SELECT id, secret FROM access_keys";
constexpr const char* q_insert_product =
    "INSERT INTO products(pk, secret, dynreg, topics, consumer_groups) VALUES(?1, ?2, ?3, ?4, ?5)";
constexpr const char* q_update_product_secret = "UPDATE products SET secret = ?2 WHERE pk = ?1";
constexpr const char* q_update_product_dynreg = "UPDATE products SET dynreg = ?2 WHERE pk = ?1";
constexpr const char* q_update_topics = "UPDATE products SET topics = ?2 WHERE pk = ?1";
constexpr const char* q_update_groups = "UPDATE products SET consumer_groups = ?2 WHERE pk = ?1";
constexpr const char* q_put_key = "INSERT INTO access_keys(id, secret) VALUES(?1, ?2)"
                                  " ON CONFLICT(id) DO UPDATE SET secret = excluded.secret";
constexpr const char* q_device =
    "SELECT secret, enabled, activated, iot_id, nickname, created_ms, tokens FROM devices"
    " WHERE pk = ?1 AND dn = ?2";
constexpr const char* q_device_by_iot_id =
    "SELECT secret, enabled, activated, iot_id, nickname, created_ms, tokens, pk, dn FROM devices"
    " WHERE iot_id = ?1 LIMIT 1";
constexpr const char* q_device_exists = "SELECT 1 FROM devices WHERE pk = ?1 AND dn = ?2";
// A replaced device keeps its creation time and starts over: not activated, no tokens.
constexpr const char* q_put_device =
    "INSERT INTO devices(pk, dn, secret, enabled, activated, activated_ms, iot_id, nickname,"
    " created_ms, tokens) VALUES(?1, ?2, ?3, ?4, 0, NULL, ?5, ?6, ?7, ?8)"
    " ON CONFLICT(pk, dn) DO UPDATE SET secret = excluded.secret, enabled = excluded.enabled,"
    " activated = 0, activated_ms = NULL, iot_id = excluded.iot_id, nickname = excluded.nickname,"
    " tokens = excluded.tokens";
constexpr const char* q_insert_device =
    "INSERT INTO devices(pk, dn, secret, enabled, activated, activated_ms, iot_id, nickname,"
    " created_ms, tokens) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr const char* q_set_device_secret =
    "UPDATE devices SET secret = ?3 WHERE pk = ?1 AND dn = ?2";
constexpr const char* q_activate = "UPDATE devices SET activated = 1, activated_ms = ?3"
                                   " WHERE pk = ?1 AND dn = ?2 AND activated = 0";
constexpr const char* q_set_tokens = "UPDATE devices SET tokens = ?3 WHERE pk = ?1 AND dn = ?2";

json topics_json(const std::vector<Category>& cats) {
  json out = json::array();
  for (const auto& c : cats) {
    out.push_back({{"topic", c.topic}, {"access", c.pub && c.sub ? "all" : c.pub ? "pub" : "sub"}});
  }
  return out;
}

json tokens_json(const std::vector<std::pair<std::string, std::string>>& tokens) {
  json out = json::array();
  for (const auto& [cid, token] : tokens) {
    out.push_back(json::array({cid, token}));
  }
  return out;
}

} // namespace

namespace detail {

// One connection to `<dir>/registry.db`, its prepared statements, and the current view; shared by
// the Registry and the views it handed out (their device lookups), guarded by `mu`.
struct Store : std::enable_shared_from_this<Store> {
  explicit Store(std::string d)
      : dir(std::move(d))
      , db_path(dir + "/registry.db")
      , json_path(dir + "/registry.json") {}
  ~Store() { close(); }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::string dir, db_path, json_path;
  std::mutex mu;
  sqlite3* db = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> stmts;
  long long data_version = -1;
  bool dirty = true; // this connection committed since `view` was taken
  std::shared_ptr<const Snapshot> view = std::make_shared<Snapshot>();

  void close() {
    for (auto& [sql, st] : stmts) {
      sqlite3_finalize(st);
    }
    stmts.clear();
    if (db != nullptr) {
      sqlite3_close_v2(db);
      db = nullptr;
    }
  }

  Error fail(const std::string& what) const {
    const int rc = db != nullptr ? sqlite3_extended_errcode(db) & 0xff : SQLITE_ERROR;
    const std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) {
      return Error(Errc::config, "emulator registry " + db_path + ": " + msg,
                   "fix or delete the file");
    }
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      return Error(Errc::io, "emulator registry " + db_path + " stayed busy: " + what,
                   "another process holds it for writing; try again");
    }
    return Error(Errc::io, "emulator registry " + db_path + ": " + what + ": " + msg);
  }

  // A prepared statement of this connection, reset and unbound when the Query ends.
  class Query {
  public:
    Query(Store& s, const char* sql)
        : m_store(s) {
      auto it = s.stmts.find(sql);
      if (it != s.stmts.end()) {
        m_st = it->second;
      } else if (sqlite3_prepare_v3(s.db, sql, -1, SQLITE_PREPARE_PERSISTENT, &m_st, nullptr)
                 == SQLITE_OK) {
        s.stmts.emplace(sql, m_st);
      } else {
        m_st = nullptr;
      }
    }
    ~Query() {
      if (m_st != nullptr) {
        sqlite3_reset(m_st);
        sqlite3_clear_bindings(m_st);
      }
    }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;

    bool ok() const { return m_st != nullptr; }
    Query& bind(int i, const std::string& v) {
      if (m_st != nullptr) {
        sqlite3_bind_text(m_st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      }
      return *this;
    }
    Query& bind(int i, long long v) {
      if (m_st != nullptr) {
        sqlite3_bind_int64(m_st, i, v);
      }
      return *this;
    }
    Query& bind_null(int i) {
      if (m_st != nullptr) {
        sqlite3_bind_null(m_st, i);
      }
      return *this;
    }
    // SQLITE_ROW, SQLITE_DONE or an error code.
    int step() { return m_st != nullptr ? sqlite3_step(m_st) : SQLITE_ERROR; }
    // Runs a statement that returns no rows.
    Result<void> run(const std::string& what) {
      const int rc = step();
      if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        return m_store.fail(what);
      }
      return aliot::ok();
    }
    std::string text(int i) const {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(m_st, i));
      return p != nullptr ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(m_st, i)))
                          : std::string();
    }
    long long integer(int i) const { return sqlite3_column_int64(m_st, i); }

  private:
    Store& m_store;
    sqlite3_stmt* m_st = nullptr;
  };

  Result<void> exec(const char* sql, const char* what) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return fail(what);
    }
    return aliot::ok();
  }

  // Under `mu`: the connection, opened (and the database created, registry.json imported) on
  // first use. A failed open leaves nothing open, so the next operation tries again.
  Result<void> open() {
    if (db != nullptr) {
      return aliot::ok();
    }
    // The file holds secrets: created 0600 before SQLite opens it (its -wal and -shm files
    // take the same mode).
    const int fd = ::open(db_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      return Error(Errc::io,
                   "cannot open the emulator registry " + db_path + ": " + std::strerror(errno));
    }
    ::fchmod(fd, 0600);
    ::close(fd);
    if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr)
        != SQLITE_OK) {
      auto e = fail("cannot open");
      close();
      return e;
    }
    auto r = prepare_schema();
    if (!r) {
      close();
      return std::move(r).error();
    }
    return aliot::ok();
  }

  Result<void> prepare_schema() {
    // Writers in other processes (the CLI verbs while the broker runs) wait for each other up to
    // this long; readers never wait in WAL mode.
    sqlite3_busy_timeout(db, 10000);
    ALIOT_TRY(exec("PRAGMA journal_mode=WAL", "cannot switch to WAL"));
    // NORMAL in WAL mode: a commit survives the crash of any process; only a power loss or OS
    // crash may take back the last commits (the database stays consistent). An emulator's
    // registry can afford that, and it spares an fsync per registration.
    ALIOT_TRY(exec("PRAGMA synchronous=NORMAL", "cannot set synchronous"));
    bool imported = false;
    auto written = transaction([&]() -> Result<bool> {
      auto r = create_schema();
      if (!r) {
        return std::move(r).error();
      }
      imported = *r;
      return true;
    });
    if (!written) {
      return std::move(written).error();
    }
    if (imported) {
      // Imported once: the database is the registry from now on.
      if (::rename(json_path.c_str(), (json_path + ".imported").c_str()) != 0) {
        return Error(Errc::io,
                     "cannot rename the imported " + json_path + ": " + std::strerror(errno));
      }
    }
    return aliot::ok();
  }

  // One transaction holding the write lock: `fn` returns false to leave everything as it was.
  Result<void> transaction(const std::function<Result<bool>()>& fn) {
    ALIOT_TRY(exec("BEGIN IMMEDIATE", "cannot start a transaction"));
    Result<bool> r = false;
    try {
      r = fn();
    } catch (const std::exception& e) {
      r = Error(Errc::internal, std::string("emulator registry update failed: ") + e.what());
    }
    if (!r || !*r) {
      (void)exec("ROLLBACK", "cannot roll back");
      if (!r) {
        return std::move(r).error();
      }
      return aliot::ok();
    }
    if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      auto e = fail("cannot commit");
      (void)exec("ROLLBACK", "cannot roll back");
      return e;
    }
    return aliot::ok();
  }

  // Under `mu`: one change of the registry.
  Result<void> write(const std::function<Result<bool>()>& fn) {
    ALIOT_TRY(open());
    dirty = true;
    return transaction(fn);
  }

  // The schema, and registry.json imported into a new database (true then).
  Result<bool> create_schema() {
    for (const char* sql : k_schema) {
      ALIOT_TRY(exec(sql, "cannot create the tables"));
    }
    {
      Query q(*this, q_schema);
      const int rc = q.step();
      if (rc == SQLITE_ROW) {
        if (q.integer(0) > k_schema_version) {
          return Error(Errc::config,
                       "emulator registry " + db_path + " was written by a newer aliot",
                       "use that aliot, or another --dir");
        }
        return false;
      }
      if (rc != SQLITE_DONE) {
        return fail("cannot read the schema version");
      }
    }
    bool imported = false;
    struct stat st {};
    if (::stat(json_path.c_str(), &st) == 0) {
      ALIOT_TRY(import_json());
      imported = true;
    }
    ALIOT_TRY(Query(*this, q_set_schema)
                  .bind(1, std::to_string(k_schema_version))
                  .run("cannot record the schema version"));
    return imported;
  }

  Result<void> import_json() {
    auto text = config::read_text_file(json_path, "emulator registry");
    if (!text) {
      return std::move(text).error();
    }
    auto j = json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Error(Errc::config, "emulator registry " + json_path + ": not valid JSON",
                   "fix or delete the file");
    }
    auto doc = Reader(json_path).document(j);
    if (!doc) {
      return std::move(doc).error();
    }
    for (const auto& [pk, p] : doc->products) {
      ALIOT_TRY(Query(*this, q_insert_product)
                    .bind(1, pk)
                    .bind(2, p.secret)
                    .bind(3, static_cast<long long>(p.dynreg))
                    .bind(4, topics_json(p.cats).dump())
                    .bind(5, json(p.consumer_groups).dump())
                    .run("cannot import a product"));
      for (const auto& [dn, d] : doc->devices[pk]) {
        Query q(*this, q_insert_device);
        q.bind(1, pk).bind(2, dn).bind(3, d.secret).bind(4, static_cast<long long>(d.enabled));
        q.bind(5, static_cast<long long>(d.activated)).bind_null(6).bind(7, d.iot_id);
        q.bind(8, d.nickname).bind(9, d.created_ms).bind(10, tokens_json(d.tokens).dump());
        ALIOT_TRY(q.run("cannot import a device"));
      }
    }
    for (const auto& [id, secret] : doc->access_keys) {
      ALIOT_TRY(Query(*this, q_put_key).bind(1, id).bind(2, secret).run("cannot import a key"));
    }
    return aliot::ok();
  }

  // ---- reading (under `mu`, connection open) ----

  static Result<Device> device_from(const Query& q, const std::string& where) {
    Device d;
    d.secret = q.text(0);
    d.enabled = q.integer(1) != 0;
    d.activated = q.integer(2) != 0;
    d.iot_id = q.text(3);
    d.nickname = q.text(4);
    d.created_ms = q.integer(5);
    auto tokens = json::parse(q.text(6), nullptr, false);
    if (!tokens.is_array()) {
      return Error(Errc::config, "emulator registry: the tokens of " + where + " are not valid");
    }
    for (const auto& t : tokens) {
      if (!t.is_array() || t.size() != 2 || !t[0].is_string() || !t[1].is_string()) {
        return Error(Errc::config, "emulator registry: the tokens of " + where + " are not valid");
      }
      d.tokens.emplace_back(t[0].get<std::string>(), t[1].get<std::string>());
    }
    return d;
  }

  // The device, or nullopt when it is not registered.
  Result<std::optional<Device>> read_device(const std::string& pk, const std::string& dn) {
    Query q(*this, q_device);
    q.bind(1, pk).bind(2, dn);
    const int rc = q.step();
    if (rc == SQLITE_DONE) {
      return std::optional<Device>();
    }
    if (rc != SQLITE_ROW) {
      return fail("cannot read device " + pk + "/" + dn);
    }
    auto d = device_from(q, pk + "/" + dn);
    if (!d) {
      return std::move(d).error();
    }
    return std::optional<Device>(std::move(*d));
  }

  Result<bool> has_device(const std::string& pk, const std::string& dn) {
    Query q(*this, q_device_exists);
    q.bind(1, pk).bind(2, dn);
    const int rc = q.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return fail("cannot read device " + pk + "/" + dn);
    }
    return rc == SQLITE_ROW;
  }

  static Result<Product> product_from(const Query& q, int col, const std::string& pk) {
    Product p;
    p.secret = q.text(col);
    p.dynreg = q.integer(col + 1) != 0;
    const auto topics = json::parse(q.text(col + 2), nullptr, false);
    const auto groups = json::parse(q.text(col + 3), nullptr, false);
    const Error bad(Errc::config, "emulator registry: the topics or consumer groups of product "
                                      + pk + " are not valid");
    if (!topics.is_array() || !groups.is_array()) {
      return bad;
    }
    for (const auto& t : topics) {
      if (!t.is_object() || !t.value("topic", json()).is_string()
          || !t.value("access", json()).is_string()) {
        return bad;
      }
      const std::string access = t["access"];
      Category c{normalize_category(t["topic"].get<std::string>()), access != "sub",
                 access != "pub"};
      if (!c.topic.empty()) {
        p.cats.push_back(std::move(c));
      }
    }
    for (const auto& g : groups) {
      if (!g.is_string()) {
        return bad;
      }
      p.consumer_groups.push_back(g.get<std::string>());
    }
    return p;
  }

  // The product, or nullopt when it is not registered.
  Result<std::optional<Product>> read_product(const std::string& pk) {
    Query q(*this, q_product);
    q.bind(1, pk);
    const int rc = q.step();
    if (rc == SQLITE_DONE) {
      return std::optional<Product>();
    }
    if (rc != SQLITE_ROW) {
      return fail("cannot read product " + pk);
    }
    auto p = product_from(q, 0, pk);
    if (!p) {
      return std::move(p).error();
    }
    return std::optional<Product>(std::move(*p));
  }

  // Under `mu`: the current view, a new one when anything changed since the last.
  Result<std::shared_ptr<const Snapshot>> refresh();
};

struct DeviceSource {
  explicit DeviceSource(std::shared_ptr<Store> s)
      : store(std::move(s)) {}
  std::shared_ptr<Store> store;
  // What this view saw of each device it was asked about (nullopt: not registered).
  std::map<std::pair<std::string, std::string>, std::optional<Device>> seen;

  // Under store->mu.
  const Device* find(const std::string& pk, const std::string& dn) {
    auto key = std::pair(pk, dn);
    auto it = seen.find(key);
    if (it == seen.end()) {
      auto d = store->read_device(pk, dn);
      if (!d) {
        return nullptr; // not remembered: the next look reads again
      }
      it = seen.emplace(std::move(key), std::move(*d)).first;
    }
    return it->second ? &*it->second : nullptr;
  }
};

Result<std::shared_ptr<const Snapshot>> Store::refresh() {
  ALIOT_TRY(open());
  long long version = 0;
  {
    Query q(*this, q_data_version);
    if (q.step() != SQLITE_ROW) {
      return fail("cannot read the data version");
    }
    version = q.integer(0);
  }
  if (!dirty && version == data_version) {
    return view;
  }
  auto s = std::make_shared<Snapshot>();
  {
    Query q(*this, q_products);
    int rc = SQLITE_ROW;
    while ((rc = q.step()) == SQLITE_ROW) {
      const std::string pk = q.text(0);
      auto p = product_from(q, 1, pk);
      if (!p) {
        return std::move(p).error();
      }
      s->products.emplace(pk, std::move(*p));
    }
    if (rc != SQLITE_DONE) {
      return fail("cannot read the products");
    }
  }
  {
    Query q(*this, q_keys);
    int rc = SQLITE_ROW;
    while ((rc = q.step()) == SQLITE_ROW) {
      s->access_keys.emplace(q.text(0), q.text(1));
    }
    if (rc != SQLITE_DONE) {
      return fail("cannot read the AccessKeys");
    }
  }
  s->source = std::make_shared<DeviceSource>(shared_from_this());
  view = std::move(s);
  data_version = version;
  dirty = false;
  return view;
}

} // namespace detail

// ---- views ----

const Product* Snapshot::product(const std::string& pk) const {
  auto it = products.find(pk);
  return it == products.end() ? nullptr : &it->second;
}

const Device* Snapshot::device(const std::string& pk, const std::string& dn) const {
  if (!source) {
    return nullptr;
  }
  std::lock_guard lk(source->store->mu);
  return source->find(pk, dn);
}

const Device*
Snapshot::device_by_iot_id(const std::string& iot_id, std::string& pk, std::string& dn) const {
  if (!source) {
    return nullptr;
  }
  auto& store = *source->store;
  std::lock_guard lk(store.mu);
  detail::Store::Query q(store, q_device_by_iot_id);
  q.bind(1, iot_id);
  if (q.step() != SQLITE_ROW) {
    return nullptr;
  }
  pk = q.text(7);
  dn = q.text(8);
  auto key = std::pair(pk, dn);
  auto it = source->seen.find(key);
  if (it == source->seen.end()) {
    auto d = detail::Store::device_from(q, pk + "/" + dn);
    if (!d) {
      return nullptr;
    }
    it = source->seen.emplace(std::move(key), std::move(*d)).first;
  }
  return it->second ? &*it->second : nullptr;
}

// ---- the registry ----

struct Registry::Impl {
  explicit Impl(std::string dir)
      : store(std::make_shared<detail::Store>(std::move(dir))) {}
  std::shared_ptr<detail::Store> store;
};

Registry::Registry(std::string dir)
    : m(std::make_unique<Impl>(std::move(dir))) {}

// The store's current view points back at the store (through its device source): dropping the
// view here breaks that cycle, so the store (and its SQLite connection) goes with the last view.
Registry::~Registry() {
  std::lock_guard lk(m->store->mu);
  m->store->view.reset();
}

const std::string& Registry::dir() const {
  return m->store->dir;
}

Result<void> Registry::ensure() {
  std::lock_guard lk(m->store->mu);
  return m->store->open();
}

Result<std::shared_ptr<const Snapshot>> Registry::load() {
  std::lock_guard lk(m->store->mu);
  return m->store->refresh();
}

std::shared_ptr<const Snapshot> Registry::current() {
  std::lock_guard lk(m->store->mu);
  auto v = m->store->refresh();
  return v ? *v : m->store->view; // a failed read keeps the last good view
}

std::shared_ptr<const Snapshot> Registry::cached() const {
  std::lock_guard lk(m->store->mu);
  return m->store->view;
}

Result<Registry::ProductResult> Registry::add_product(const std::string& pk,
                                                      const std::optional<std::string>& secret,
                                                      std::optional<bool> dynreg) {
  ALIOT_TRY(validate_product_key(pk));
  ProductResult out;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  auto written = st.write([&]() -> Result<bool> {
    out = ProductResult{};
    auto old = st.read_product(pk);
    if (!old) {
      return std::move(old).error();
    }
    if (!*old) {
      out.created = true;
      if (secret) {
        out.secret = *secret;
      } else {
        EMU_TRY_ASSIGN(out.secret, crypto::random_alnum(16));
      }
      ALIOT_TRY(detail::Store::Query(st, q_insert_product)
                    .bind(1, pk)
                    .bind(2, out.secret)
                    .bind(3, static_cast<long long>(dynreg.value_or(true)))
                    .bind(4, default_topics().dump())
                    .bind(5, std::string("[]"))
                    .run("cannot add the product"));
      return true;
    }
    out.secret = secret.value_or((*old)->secret);
    if (secret) {
      ALIOT_TRY(detail::Store::Query(st, q_update_product_secret)
                    .bind(1, pk)
                    .bind(2, *secret)
                    .run("cannot update the product"));
    }
    if (dynreg) {
      ALIOT_TRY(detail::Store::Query(st, q_update_product_dynreg)
                    .bind(1, pk)
                    .bind(2, static_cast<long long>(*dynreg))
                    .run("cannot update the product"));
    }
    return true;
  });
  if (!written) {
    return std::move(written).error();
  }
  return out;
}

namespace {

// Under the store's lock, in a transaction: does the product exist?
Result<bool> has_product(detail::Store& st, const std::string& pk) {
  auto p = st.read_product(pk);
  if (!p) {
    return std::move(p).error();
  }
  return p->has_value();
}

Result<void> insert_device(detail::Store& st,
                           const std::string& pk,
                           const std::string& dn,
                           const std::string& secret,
                           bool enabled,
                           const std::string& nickname,
                           const std::string& tokens) {
  std::string iot_id;
  EMU_TRY_ASSIGN(iot_id, make_iot_id(pk, dn));
  detail::Store::Query q(st, q_insert_device);
  q.bind(1, pk).bind(2, dn).bind(3, secret).bind(4, static_cast<long long>(enabled));
  q.bind(5, 0LL).bind_null(6).bind(7, iot_id).bind(8, nickname).bind(9, now_ms());
  q.bind(10, tokens);
  return q.run("cannot add device " + pk + "/" + dn);
}

} // namespace

Result<Device> Registry::put_device(const std::string& pk,
                                    const std::string& dn,
                                    const std::string& secret,
                                    bool enabled) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_device_name(dn));
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  Device out;
  auto written = st.write([&]() -> Result<bool> {
    bool exists = false;
    EMU_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      return no_product(pk);
    }
    std::string iot_id;
    EMU_TRY_ASSIGN(iot_id, make_iot_id(pk, dn));
    detail::Store::Query q(st, q_put_device);
    q.bind(1, pk).bind(2, dn).bind(3, secret).bind(4, static_cast<long long>(enabled));
    q.bind(5, iot_id).bind(6, std::string()).bind(7, now_ms()).bind(8, std::string("[]"));
    ALIOT_TRY(q.run("cannot add device " + pk + "/" + dn));
    auto d = st.read_device(pk, dn);
    if (!d) {
      return std::move(d).error();
    }
    if (!*d) {
      return Error(Errc::internal, "device " + pk + "/" + dn + " vanished while being added");
    }
    out = std::move(**d);
    return true;
  });
  if (!written) {
    return std::move(written).error();
  }
  return out;
}

Result<Registry::Created> Registry::create_device(const std::string& pk,
                                                  const std::string& dn,
                                                  const std::string& secret,
                                                  const std::string& nickname) {
  ALIOT_TRY(validate_device_name(dn));
  Created out = Created::created;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  auto written = st.write([&]() -> Result<bool> {
    bool exists = false;
    EMU_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      out = Created::no_product;
      return false;
    }
    EMU_TRY_ASSIGN(exists, st.has_device(pk, dn));
    if (exists) {
      out = Created::name_taken;
      return false;
    }
    out = Created::created;
    ALIOT_TRY(insert_device(st, pk, dn, secret, true, nickname, "[]"));
    return true;
  });
  if (!written) {
    return std::move(written).error();
  }
  return out;
}

Result<std::optional<std::size_t>> Registry::create_devices(const std::string& pk,
                                                            const std::vector<NewDevice>& devices,
                                                            bool enabled) {
  ALIOT_TRY(validate_product_key(pk));
  for (const auto& d : devices) {
    ALIOT_TRY(validate_device_name(d.dn));
  }
  std::optional<std::size_t> taken;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  auto written = st.write([&]() -> Result<bool> {
    taken.reset();
    bool exists = false;
    EMU_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      return no_product(pk);
    }
    for (std::size_t i = 0; i < devices.size(); ++i) {
      EMU_TRY_ASSIGN(exists, st.has_device(pk, devices[i].dn));
      if (exists) {
        taken = i;
        return false; // all or none
      }
      ALIOT_TRY(insert_device(st, pk, devices[i].dn, devices[i].secret, enabled, "", "[]"));
    }
    return true;
  });
  if (!written) {
    return std::move(written).error();
  }
  return taken;
}

Result<void> Registry::add_access_key(const std::string& id, const std::string& secret) {
  ALIOT_TRY(validate_access_key_id(id));
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  return st.write([&]() -> Result<bool> {
    ALIOT_TRY(detail::Store::Query(st, q_put_key)
                  .bind(1, id)
                  .bind(2, secret)
                  .run("cannot add the AccessKey"));
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
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  auto written = st.write([&]() -> Result<bool> {
    auto p = st.read_product(pk);
    if (!p) {
      return std::move(p).error();
    }
    if (!*p) {
      return no_product(pk);
    }
    auto& cats = (*p)->cats;
    std::erase_if(cats, [&](const Category& c) { return c.topic == *rel; });
    cats.push_back(Category{*rel, access != "sub", access != "pub"});
    ALIOT_TRY(detail::Store::Query(st, q_update_topics)
                  .bind(1, pk)
                  .bind(2, topics_json(cats).dump())
                  .run("cannot add the topic category"));
    return true;
  });
  if (!written) {
    return std::move(written).error();
  }
  return rel;
}

Result<bool> Registry::add_consumer_group(const std::string& pk, const std::string& group) {
  ALIOT_TRY(validate_product_key(pk));
  ALIOT_TRY(validate_consumer_group(group));
  bool added = false;
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  auto written = st.write([&]() -> Result<bool> {
    added = false;
    auto p = st.read_product(pk);
    if (!p) {
      return std::move(p).error();
    }
    if (!*p) {
      return no_product(pk);
    }
    auto& groups = (*p)->consumer_groups;
    if (std::find(groups.begin(), groups.end(), group) != groups.end()) {
      return false;
    }
    groups.push_back(group);
    ALIOT_TRY(detail::Store::Query(st, q_update_groups)
                  .bind(1, pk)
                  .bind(2, json(groups).dump())
                  .run("cannot add the consumer group"));
    added = true;
    return true;
  });
  if (!written) {
    return std::move(written).error();
  }
  return added;
}

Result<void>
Registry::set_device_secret(const std::string& pk, const std::string& dn, const std::string& ds) {
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  return st.write([&]() -> Result<bool> {
    bool exists = false;
    EMU_TRY_ASSIGN(exists, st.has_device(pk, dn));
    if (!exists) {
      return no_device(pk, dn);
    }
    ALIOT_TRY(detail::Store::Query(st, q_set_device_secret)
                  .bind(1, pk)
                  .bind(2, dn)
                  .bind(3, ds)
                  .run("cannot set the DeviceSecret"));
    return true;
  });
}

Result<void> Registry::activate(const std::string& pk, const std::string& dn) {
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  return st.write([&]() -> Result<bool> {
    ALIOT_TRY(detail::Store::Query(st, q_activate)
                  .bind(1, pk)
                  .bind(2, dn)
                  .bind(3, now_ms())
                  .run("cannot record the activation"));
    return sqlite3_changes(st.db) > 0;
  });
}

Result<void> Registry::add_token(const std::string& pk,
                                 const std::string& dn,
                                 const std::string& client_id,
                                 const std::string& token) {
  auto& st = *m->store;
  std::lock_guard lk(st.mu);
  return st.write([&]() -> Result<bool> {
    bool exists = false;
    EMU_TRY_ASSIGN(exists, has_product(st, pk));
    if (!exists) {
      return no_product(pk);
    }
    auto d = st.read_device(pk, dn);
    if (!d) {
      return std::move(d).error();
    }
    if (!*d) {
      ALIOT_TRY(insert_device(st, pk, dn, "", true, "", tokens_json({{client_id, token}}).dump()));
      return true;
    }
    auto& tokens = (*d)->tokens;
    tokens.emplace_back(client_id, token);
    while (tokens.size() > k_max_tokens) {
      tokens.erase(tokens.begin());
    }
    ALIOT_TRY(detail::Store::Query(st, q_set_tokens)
                  .bind(1, pk)
                  .bind(2, dn)
                  .bind(3, tokens_json(tokens).dump())
                  .run("cannot record the token"));
    return true;
  });
}

} // namespace aliot::emu
