// Shared by the journal and the pool: a prepared statement, the process lock of a database, and
// the hooks Journal::recover() uses on the pool.
#pragma once

#include <aliot/error.hpp>
#include <aliot/factory/pool.hpp>

#include <sqlite3.h>
#include <string>

namespace aliot::factory::detail {

class Stmt {
public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &m_s, nullptr); }
  ~Stmt() { sqlite3_finalize(m_s); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(m_s, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, long long v) {
    sqlite3_bind_int64(m_s, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(m_s, i);
    return *this;
  }
  long long integer(int col) { return sqlite3_column_int64(m_s, col); }
  int step() { return m_s == nullptr ? SQLITE_ERROR : sqlite3_step(m_s); }
  std::string text(int col) {
    const auto* p = sqlite3_column_text(m_s, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p));
  }
  bool ok() const { return m_s != nullptr; }

private:
  sqlite3_stmt* m_s = nullptr;
};

// Every process that opens a journal or a pool holds a shared flock(2) on "<db>-lock" while it
// has it open; recovery, which may abort the jobs in flight, needs it exclusive: when another
// aliot has the file open, its jobs may be alive and are left alone. (A separate file, not the
// database: closing another descriptor of the database would drop SQLite's own POSIX locks.)
class ProcessLock {
public:
  ProcessLock() = default;
  ~ProcessLock();
  ProcessLock(const ProcessLock&) = delete;
  ProcessLock& operator=(const ProcessLock&) = delete;
  // Opens (creating 0600) "<db>-lock" and takes it shared (waiting while a recovery holds it).
  Result<void> open(const std::string& db);
  // Exclusive without waiting: false when another process holds it (then it is shared again).
  bool try_exclusive();
  // Back to shared.
  void shared();

private:
  int m_fd = -1;
};

// Journal::recover()'s side of the pool.
bool pool_try_exclusive(Pool& pool);
void pool_shared(Pool& pool);
struct Reconciled {
  int released = 0, transmitted = 0, quarantined = 0;
  int others = 0; // RESERVED rows of jobs the journal does not hold: left alone
};
// Every RESERVED row against the journal (see Journal::recover and pool_recovery.cpp).
Result<Reconciled> pool_reconcile(Pool& pool, Journal& journal);

} // namespace aliot::factory::detail
