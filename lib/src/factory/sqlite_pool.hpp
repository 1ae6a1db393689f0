// The credential pool on SQLite (see aliot/factory/pool.hpp), split by concern:
//   pool.cpp           the file: its mode, schema, opening, counts, the integrity check
//   pool_import.cpp    import (all rows or none)
//   pool_states.cpp    the rows' transitions: reserve, record_issued, mark_*, release
//   pool_recovery.cpp  a station's recovery: RESERVED rows reconciled with its journal
// WAL + synchronous=FULL + secure_delete; every change one sqlite::Transaction; the file 0600.
#pragma once

#include "factory/internal.hpp"
#include "sqlite/transaction.hpp"

#include <aliot/factory/pool.hpp>

#include <optional>
#include <sqlite3.h>
#include <string>
#include <vector>

namespace aliot::factory::detail {

// The state a row's text names (an unknown one reads as QUARANTINED: never handed out).
PoolState state_of(const std::string& name);
// The columns every row read selects, in PoolEntry's order: "SELECT " + k_pool_cols + " FROM ...".
extern const char* const k_pool_cols;
PoolEntry entry_of(Stmt& s);
// Whether the row's secret still gives its stored fingerprint (false: edited or damaged).
bool fingerprint_holds(const PoolEntry& e);

class SqlitePool final : public Pool {
public:
  SqlitePool(sqlite3* db, std::string path, WallClock clock);
  ~SqlitePool() override;
  SqlitePool(const SqlitePool&) = delete;
  SqlitePool& operator=(const SqlitePool&) = delete;

  Result<void> init();

  const std::string& path() const override { return m_path; }

  // pool_import.cpp
  Result<ImportReport> import_file(const std::string& file, const ImportOptions& opts) override;
  Result<ImportReport>
  import_text(std::string_view text, const std::string& origin, const ImportOptions& opts) override;

  // pool_states.cpp
  Result<std::optional<PoolEntry>> tied_to(const std::string& pk, const std::string& mac) override;
  Result<PoolEntry>
  reserve(const std::string& pk, const std::string& mac, const std::string& job) override;
  Result<PoolEntry> record_issued(const std::string& pk,
                                  const std::string& dn,
                                  const Secret& ds,
                                  const Secret& ps,
                                  const std::string& mac,
                                  const std::string& job) override;
  Result<void>
  mark_transmitted(const std::string& pk, const std::string& dn, const std::string& job) override;
  Result<void>
  mark_bound(const std::string& pk, const std::string& dn, const std::string& job) override;
  Result<void> mark_failed(const std::string& pk,
                           const std::string& dn,
                           const std::string& job,
                           Journal* journal) override;
  Result<void> release(const std::string& pk,
                       const std::string& dn,
                       const std::string& job,
                       Journal* journal) override;

  // pool.cpp
  Result<std::vector<PoolCounts>> status() override;
  Result<std::vector<PoolEntry>> rows(PoolState state) override;
  Result<PoolCheck> check() override;

  bool try_exclusive() { return m_lock.try_exclusive(); }
  void shared() { m_lock.shared(); }

  // pool_recovery.cpp
  Result<Reconciled> reconcile(Journal& journal);

private:
  static constexpr std::size_t k_max_import = 64U * 1024U * 1024U;

  struct Move {
    PoolState to;
    bool untie = false; // clear the MAC and the job
  };

  // A row given back before any write intent (an issued secret stays its unit's).
  static Move released(const PoolEntry& e);
  // A RESERVED row the journal has a write intent for: `to`, still tied to its unit; or, when
  // the journal binds it to another unit (a triplet burned elsewhere, then imported), set aside.
  static Move after_intent(const PoolEntry& e, const std::string& journal_mac, PoolState to);
  // The MAC the journal binds (pk, dn) to: a write intent was journaled for it (none without a
  // journal: the caller says there was none).
  static Result<std::optional<std::string>>
  journal_mac(const std::string& pk, const std::string& dn, Journal* journal);

  // One transaction: reads the row, asks `next` for its new state (nullopt: unchanged), writes.
  template <class F>
  Result<void>
  move_row(const std::string& pk, const std::string& dn, const std::string& job, F next) {
    ALIOT_TRY_ASSIGN(auto tx, begin());
    Stmt s(m_db, (std::string("SELECT ") + k_pool_cols
                  + " FROM pool WHERE product_key=? AND device_name=?")
                     .c_str());
    s.bind(1, pk).bind(2, dn);
    if (s.step() != SQLITE_ROW) {
      return Error(Errc::usage,
                   "the triplet " + dn + " of " + pk + " is not in the pool " + m_path);
    }
    const auto e = entry_of(s);
    ALIOT_TRY_ASSIGN(auto to, next(e));
    if (to) {
      ALIOT_TRY(set_state(e, *to, job));
    }
    return tx.commit();
  }
  // Writes a move of the row `e` (inside a transaction).
  Result<void> set_state(const PoolEntry& e, const Move& to, const std::string& job);

  Result<sqlite::Transaction> begin() {
    return sqlite::Transaction::begin(m_db, "credential pool " + m_path);
  }
  std::string now_utc() const;
  Error io_error(const std::string& what) const;
  Result<void> exec(const char* sql);
  static void bind_or_null(Stmt& s, int i, const std::string& v);

  sqlite3* m_db;
  std::string m_path;
  WallClock m_clock;
  ProcessLock m_lock;
};

} // namespace aliot::factory::detail
