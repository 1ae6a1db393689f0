// The emulator registry's store: the connection to registry.db, its schema, and rows read into
// typed values (see registry_store.hpp).
#include "registry_store.hpp"

#include "rules.hpp"
#include "sqlite/transaction.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace aliot::emu::detail {

namespace {

using json = nlohmann::json;

// The SQL of every statement; each is prepared once per connection and kept. A statement split
// over lines is parenthesized (one element, not a missing comma: clang's -Wstring-concatenation).

constexpr const char* k_schema[] = {
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    // topics: [{"topic": "user/get", "access": "sub"}, ...] in the order they were added;
    // consumer_groups: ["G1", ...]. A product holds a handful of each.
    ("CREATE TABLE IF NOT EXISTS products(pk TEXT PRIMARY KEY, secret TEXT NOT NULL,"
     " dynreg INTEGER NOT NULL, topics TEXT NOT NULL, consumer_groups TEXT NOT NULL)"
     " WITHOUT ROWID"),
    // tokens: [["clientId", "token"], ...], newest last.
    ("CREATE TABLE IF NOT EXISTS devices(pk TEXT NOT NULL, dn TEXT NOT NULL,"
     " secret TEXT NOT NULL, enabled INTEGER NOT NULL, activated INTEGER NOT NULL,"
     " activated_ms INTEGER, iot_id TEXT NOT NULL, nickname TEXT NOT NULL,"
     " created_ms INTEGER NOT NULL, tokens TEXT NOT NULL, PRIMARY KEY(pk, dn)) WITHOUT ROWID"),
    "CREATE INDEX IF NOT EXISTS devices_by_iot_id ON devices(iot_id)",
    ("CREATE TABLE IF NOT EXISTS access_keys(id TEXT PRIMARY KEY, secret TEXT NOT NULL)"
     " WITHOUT ROWID"),
};
constexpr int k_schema_version = 1;

constexpr const char* q_schema = "SELECT value FROM meta WHERE key = 'schema'";
constexpr const char* q_set_schema = "INSERT OR REPLACE INTO meta(key, value) VALUES('schema', ?1)";
constexpr const char* q_product =
    "SELECT secret, dynreg, topics, consumer_groups FROM products WHERE pk = ?1";
constexpr const char* q_device =
    "SELECT secret, enabled, activated, iot_id, nickname, created_ms, tokens FROM devices"
    " WHERE pk = ?1 AND dn = ?2";
constexpr const char* q_device_exists = "SELECT 1 FROM devices WHERE pk = ?1 AND dn = ?2";

} // namespace

void Store::close() {
  for (auto& [sql, st] : stmts) {
    sqlite3_finalize(st);
  }
  stmts.clear();
  if (db != nullptr) {
    sqlite3_close_v2(db);
    db = nullptr;
  }
}

Error Store::fail(const std::string& what) const {
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

Result<void> Store::exec(const char* sql, const char* what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(what);
  }
  return aliot::ok();
}

Result<void> Store::open() {
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

Result<void> Store::prepare_schema() {
  // Writers in other processes (the CLI verbs while the broker runs) wait for each other up to
  // this long; readers never wait in WAL mode.
  sqlite3_busy_timeout(db, 10000);
  ALIOT_TRY(exec("PRAGMA journal_mode=WAL", "cannot switch to WAL"));
  // NORMAL in WAL mode: a commit survives the crash of any process; only a power loss or OS
  // crash may take back the last commits (the database stays consistent). An emulator's
  // registry can afford that, and it spares an fsync per registration.
  ALIOT_TRY(exec("PRAGMA synchronous=NORMAL", "cannot set synchronous"));
  return transaction([&]() -> Result<bool> {
    ALIOT_TRY(create_schema());
    return true;
  });
}

// One transaction holding the write lock (rolled back unless `fn` returns true and the commit
// succeeds).
Result<void> Store::transaction(const std::function<Result<bool>()>& fn) {
  auto tx = sqlite::Transaction::begin(db, "emulator registry " + db_path);
  if (!tx) {
    const int rc = sqlite3_errcode(db) & 0xff;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      return fail("cannot start a transaction"); // says who to wait for
    }
    return std::move(tx).error();
  }
  Result<bool> r = false;
  try {
    r = fn();
  } catch (const std::exception& e) {
    r = Error(Errc::internal, std::string("emulator registry update failed: ") + e.what());
  }
  if (!r) {
    return std::move(r).error();
  }
  if (!*r) {
    return aliot::ok();
  }
  return tx->commit();
}

Result<void> Store::write(const std::function<Result<bool>()>& fn) {
  ALIOT_TRY(open());
  dirty = true;
  return transaction(fn);
}

// The tables, and the schema version of a new database.
Result<void> Store::create_schema() {
  for (const char* sql : k_schema) {
    ALIOT_TRY(exec(sql, "cannot create the tables"));
  }
  {
    Query q(*this, q_schema);
    const int rc = q.step();
    if (rc == SQLITE_ROW) {
      if (q.integer(0) > k_schema_version) {
        return Error(Errc::config, "emulator registry " + db_path + " was written by a newer aliot",
                     "use that aliot, or another --dir");
      }
      return aliot::ok();
    }
    if (rc != SQLITE_DONE) {
      return fail("cannot read the schema version");
    }
  }
  return Query(*this, q_set_schema)
      .bind(1, std::to_string(k_schema_version))
      .run("cannot record the schema version");
}

Result<Device> Store::device_from(const Query& q, const std::string& where) {
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
Result<std::optional<Device>> Store::read_device(const std::string& pk, const std::string& dn) {
  Query q(*this, q_device);
  q.bind(1, pk).bind(2, dn);
  const int rc = q.step();
  if (rc == SQLITE_DONE) {
    return std::optional<Device>();
  }
  if (rc != SQLITE_ROW) {
    return fail("cannot read device " + pk + "/" + dn);
  }
  ALIOT_TRY_ASSIGN(auto d, device_from(q, pk + "/" + dn));
  return std::optional<Device>(std::move(d));
}

Result<bool> Store::has_device(const std::string& pk, const std::string& dn) {
  Query q(*this, q_device_exists);
  q.bind(1, pk).bind(2, dn);
  const int rc = q.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return fail("cannot read device " + pk + "/" + dn);
  }
  return rc == SQLITE_ROW;
}

Result<Product> Store::product_from(const Query& q, int col, const std::string& pk) {
  Product p;
  p.secret = q.text(col);
  p.dynreg = q.integer(col + 1) != 0;
  const auto topics = json::parse(q.text(col + 2), nullptr, false);
  const auto groups = json::parse(q.text(col + 3), nullptr, false);
  const Error bad(Errc::config, "emulator registry: the topics or consumer groups of product " + pk
                                    + " are not valid");
  if (!topics.is_array() || !groups.is_array()) {
    return bad;
  }
  for (const auto& t : topics) {
    if (!t.is_object() || !t.value("topic", json()).is_string()
        || !t.value("access", json()).is_string()) {
      return bad;
    }
    const std::string access = t["access"];
    Category c{normalize_category(t["topic"].get<std::string>()), access != "sub", access != "pub"};
    if (!c.topic.empty()) {
      p.cats.push_back(std::move(c));
    }
  }
  // A group is "G1", or {"id": "G1", "deviceStatus": true} when it takes status messages too.
  for (const auto& g : groups) {
    if (g.is_object() && g.value("id", json()).is_string()) {
      p.consumer_groups.push_back(g["id"].get<std::string>());
      if (g.value("deviceStatus", false)) {
        p.status_groups.push_back(g["id"].get<std::string>());
      }
      continue;
    }
    if (!g.is_string()) {
      return bad;
    }
    p.consumer_groups.push_back(g.get<std::string>());
  }
  return p;
}

// The product, or nullopt when it is not registered.
Result<std::optional<Product>> Store::read_product(const std::string& pk) {
  Query q(*this, q_product);
  q.bind(1, pk);
  const int rc = q.step();
  if (rc == SQLITE_DONE) {
    return std::optional<Product>();
  }
  if (rc != SQLITE_ROW) {
    return fail("cannot read product " + pk);
  }
  ALIOT_TRY_ASSIGN(auto p, product_from(q, 0, pk));
  return std::optional<Product>(std::move(p));
}

} // namespace aliot::emu::detail
