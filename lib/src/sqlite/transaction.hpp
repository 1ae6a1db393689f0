// One RAII transaction for every SQLite file aliot writes (the factory pool and journal, the
// emulator's registry): BEGIN IMMEDIATE takes the write lock at once (a writer never upgrades a
// read lock and deadlocks), COMMIT is checked, and a transaction that is not committed — an early
// return, an exception, a failed COMMIT — is rolled back when it goes out of scope.
#pragma once

#include <aliot/error.hpp>

#include <sqlite3.h>
#include <string>
#include <utility>

namespace aliot::sqlite {

class Transaction {
public:
  // BEGIN IMMEDIATE on `db`; `what` names the file in errors ("the pool /x/pool1.db").
  static Result<Transaction> begin(sqlite3* db, std::string what) {
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return failure(db, what, "cannot start a transaction");
    }
    return Transaction(db, std::move(what));
  }

  Transaction(Transaction&& o) noexcept
      : m_db(std::exchange(o.m_db, nullptr))
      , m_what(std::move(o.m_what)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  ~Transaction() { rollback(); }

  // COMMIT: with synchronous=FULL the change is durable when this returns. A failed COMMIT leaves
  // SQLite's transaction open; it is rolled back here, so the file is as it was before begin().
  Result<void> commit() {
    if (m_db == nullptr) {
      return Error(Errc::internal, m_what + ": commit of a transaction that is no longer open");
    }
    if (sqlite3_exec(m_db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      auto e = failure(m_db, m_what, "cannot commit");
      rollback();
      return e;
    }
    m_db = nullptr;
    return ok();
  }

  // Leaves everything as it was before begin() (also what the destructor does).
  void rollback() {
    if (m_db != nullptr && sqlite3_get_autocommit(m_db) == 0) {
      (void)sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    m_db = nullptr;
  }

private:
  Transaction(sqlite3* db, std::string what)
      : m_db(db)
      , m_what(std::move(what)) {}

  static Error failure(sqlite3* db, const std::string& what, const char* action) {
    return Error(Errc::io, what + ": " + action + ": " + sqlite3_errmsg(db),
                 "check the disk (space, permissions) and that no other program holds the file");
  }

  sqlite3* m_db;
  std::string m_what;
};

} // namespace aliot::sqlite
