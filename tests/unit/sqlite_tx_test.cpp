// The RAII SQLite transaction and ALIOT_TRY_ASSIGN: the two small homes every SQLite writer and
// every Result unwrap share.
#include "sqlite/transaction.hpp"

#include <aliot/error.hpp>

#include <gtest/gtest.h>

#include <sqlite3.h>

namespace {

using aliot::Errc;
using aliot::Error;
using aliot::Result;
using aliot::sqlite::Transaction;

struct Db {
  sqlite3* db = nullptr;
  Db() {
    EXPECT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "CREATE TABLE t(x INTEGER)", nullptr, nullptr, nullptr), SQLITE_OK);
  }
  ~Db() { sqlite3_close(db); }
  int count() const {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &s, nullptr);
    sqlite3_step(s);
    const int n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return n;
  }
  void insert() const {
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO t VALUES(1)", nullptr, nullptr, nullptr), SQLITE_OK);
  }
};

TEST(SqliteTransaction, CommittedChangesStay) {
  Db d;
  {
    auto tx = Transaction::begin(d.db, "test db");
    ASSERT_TRUE(tx);
    d.insert();
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(d.count(), 1);
  EXPECT_NE(sqlite3_get_autocommit(d.db), 0);
}

TEST(SqliteTransaction, LeavingScopeUncommittedRollsBack) {
  Db d;
  {
    auto tx = Transaction::begin(d.db, "test db");
    ASSERT_TRUE(tx);
    d.insert();
  }
  EXPECT_EQ(d.count(), 0);
  EXPECT_NE(sqlite3_get_autocommit(d.db), 0) << "no transaction left open";
}

TEST(SqliteTransaction, ABeginInsideAnOpenTransactionIsAnIoError) {
  Db d;
  auto outer = Transaction::begin(d.db, "test db");
  ASSERT_TRUE(outer);
  auto inner = Transaction::begin(d.db, "test db");
  ASSERT_FALSE(inner);
  EXPECT_EQ(inner.error().code(), Errc::io);
  EXPECT_NE(inner.error().message().find("test db"), std::string::npos);
}

TEST(SqliteTransaction, AFailedCommitIsRolledBack) {
  Db d;
  ASSERT_EQ(sqlite3_exec(d.db,
                         "CREATE TABLE p(id INTEGER PRIMARY KEY);"
                         "CREATE TABLE c(p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);"
                         "PRAGMA foreign_keys=ON;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  auto tx = Transaction::begin(d.db, "test db");
  ASSERT_TRUE(tx);
  d.insert();
  // A deferred foreign key violated: COMMIT fails, and the transaction must not stay open.
  ASSERT_EQ(sqlite3_exec(d.db, "INSERT INTO c VALUES(42)", nullptr, nullptr, nullptr), SQLITE_OK);
  auto c = tx->commit();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), Errc::io);
  EXPECT_NE(sqlite3_get_autocommit(d.db), 0);
  EXPECT_EQ(d.count(), 0);
}

Result<int> number(bool good) {
  if (!good) {
    return Error(Errc::remote, "no number");
  }
  return 42;
}

Result<int> twice(bool good) {
  ALIOT_TRY_ASSIGN(auto n, number(good));
  ALIOT_TRY_ASSIGN(const int m, number(good));
  return n + m;
}

Result<std::string> assign_existing(bool good) {
  std::string s = "x";
  int n = 0;
  ALIOT_TRY_ASSIGN(n, number(good));
  return s + std::to_string(n);
}

TEST(TryAssign, DeclaresTheValueOrReturnsTheError) {
  auto ok = twice(true);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 84);
  auto bad = twice(false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::remote);
  EXPECT_EQ(*assign_existing(true), "x42");
  EXPECT_EQ(assign_existing(false).error().message(), "no number");
}

} // namespace
