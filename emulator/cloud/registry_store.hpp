// The emulator registry's store: one SQLite connection to `<dir>/registry.db`, its prepared
// statements, the schema, reading rows into typed values, and the current view (see
// aliot/emu/registry.hpp). Internal to the registry: registry.cpp (the operations) and
// registry_snapshot.cpp (the views) use it.
#pragma once

#include <aliot/emu/registry.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sqlite3.h>
#include <string>
#include <unordered_map>

namespace aliot::emu::detail {

// Shared by the Registry and the views it handed out (their device lookups), guarded by `mu`.
struct Store : std::enable_shared_from_this<Store> {
  explicit Store(std::string d)
      : dir(std::move(d))
      , db_path(dir + "/registry.db") {}
  ~Store() { close(); }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  std::string dir, db_path;
  std::mutex mu;
  sqlite3* db = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> stmts;
  long long data_version = -1;
  bool dirty = true; // this connection committed since `view` was taken
  std::shared_ptr<const Snapshot> view = std::make_shared<Snapshot>();

  void close();

  // The error of the last call on the connection: Errc::config for a file that is not a registry
  // database, Errc::io otherwise (a busy database says so).
  Error fail(const std::string& what) const;

  // A prepared statement of this connection (prepared once, kept by its SQL's address), reset and
  // unbound when the Query ends.
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

  Result<void> exec(const char* sql, const char* what);

  // Under `mu`: the connection, opened (and the database created) on first use. A failed open
  // leaves nothing open, so the next operation tries again.
  Result<void> open();

  // Under `mu`: one change of the registry, one transaction holding the write lock; `fn` returns
  // false to leave everything as it was.
  Result<void> write(const std::function<Result<bool>()>& fn);

  // ---- reading (under `mu`, connection open) ----

  // A device from the first 7 columns of a q_device-shaped row; `where` names it in errors.
  static Result<Device> device_from(const Query& q, const std::string& where);
  // The device, or nullopt when it is not registered.
  Result<std::optional<Device>> read_device(const std::string& pk, const std::string& dn);
  Result<bool> has_device(const std::string& pk, const std::string& dn);
  // A product from the 4 columns from `col` on (secret, dynreg, topics, consumer_groups).
  static Result<Product> product_from(const Query& q, int col, const std::string& pk);
  // The product, or nullopt when it is not registered.
  Result<std::optional<Product>> read_product(const std::string& pk);

  // Under `mu`: the current view, a new one when anything changed since the last
  // (registry_snapshot.cpp).
  Result<std::shared_ptr<const Snapshot>> refresh();
  // Under `mu`: the current view's copy of a device it read, marked activated (this connection
  // just wrote it).
  void learn_activation(const std::string& pk, const std::string& dn);

private:
  Result<void> prepare_schema();
  Result<void> create_schema();
  Result<void> transaction(const std::function<Result<bool>()>& fn);
};

} // namespace aliot::emu::detail
