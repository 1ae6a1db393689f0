// The credential pool's file (see sqlite_pool.hpp for the split): the process lock, the mode and
// schema, opening, the counts, the rows, and the integrity check of `pool status`.
#include "factory/pg/pg_pool.hpp"
#include "factory/sqlite_pool.hpp"

#include <aliot/encoding.hpp>
#include <aliot/factory/pool.hpp>
#include <aliot/factory/pool_server.hpp>
#include <aliot/serial/codec.hpp>
#include <aliot/time.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace aliot::factory {

namespace detail {

ProcessLock::~ProcessLock() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Result<void> ProcessLock::open(const std::string& db) {
  const std::string path = db + "-lock";
  m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (m_fd < 0) {
    return Error(Errc::io, "cannot open the lock file " + path + ": " + std::strerror(errno));
  }
  int rc = 0;
  while ((rc = ::flock(m_fd, LOCK_SH)) != 0 && errno == EINTR) {
  }
  if (rc != 0) {
    return Error(Errc::io, "cannot lock " + path + ": " + std::strerror(errno));
  }
  return ok();
}

bool ProcessLock::try_exclusive() {
  if (m_fd < 0) {
    return false;
  }
  if (::flock(m_fd, LOCK_EX | LOCK_NB) == 0) {
    return true;
  }
  shared(); // a failed conversion may have dropped the shared lock
  return false;
}

void ProcessLock::shared() {
  if (m_fd >= 0) {
    while (::flock(m_fd, LOCK_SH) != 0 && errno == EINTR) {
    }
  }
}

PoolState state_of(const std::string& name) {
  for (auto s : {PoolState::available, PoolState::reserved, PoolState::transmitted,
                 PoolState::bound, PoolState::failed, PoolState::quarantined}) {
    if (name == pool_state_name(s)) {
      return s;
    }
  }
  return PoolState::quarantined; // unknown: never handed out
}

const char* const k_pool_cols = "product_key,device_name,device_secret,product_secret,fp,state,"
                                "mac,job_id,source";

PoolEntry entry_of(Stmt& s) {
  PoolEntry e;
  e.product_key = s.text(0);
  e.device_name = s.text(1);
  e.device_secret = Secret(s.text(2));
  e.product_secret = Secret(s.text(3));
  e.fp = s.text(4);
  e.state = state_of(s.text(5));
  e.mac = s.text(6);
  e.job_id = s.text(7);
  e.issued = s.text(8) == "issued";
  return e;
}

bool fingerprint_holds(const PoolEntry& e) {
  auto fp = serial::fingerprint(e.product_key, e.device_name, e.device_secret, e.product_secret);
  return fp && *fp == e.fp;
}

SqlitePool::SqlitePool(sqlite3* db, std::string path, WallClock clock)
    : m_db(db)
    , m_path(std::move(path))
    , m_clock(std::move(clock)) {}

SqlitePool::~SqlitePool() {
  sqlite3_close(m_db);
}

Result<void> SqlitePool::init() {
  sqlite3_busy_timeout(m_db, 5000);
  {
    // Another SQLite file (a journal given as --pool) is not made into a pool.
    Stmt s(m_db, "SELECT count(*), count(CASE WHEN name='pool' THEN 1 END) FROM sqlite_master "
                 "WHERE type='table'");
    if (!s.ok() || s.step() != SQLITE_ROW) {
      return Error(Errc::io,
                   "credential pool " + m_path + ": not an aliot pool: " + sqlite3_errmsg(m_db),
                   "--pool names the station's pool file (made by aliot pool import)");
    }
    if (s.integer(0) > 0 && s.integer(1) == 0) {
      return Error(Errc::io,
                   "credential pool " + m_path
                       + ": not an aliot pool (an SQLite database without a pool table)",
                   "--pool names the station's pool file (made by aliot pool import)");
    }
  }
  ALIOT_TRY(exec("PRAGMA journal_mode=WAL"));
  ALIOT_TRY(exec("PRAGMA synchronous=FULL"));
  // a secret overwritten or deleted does not linger in a free page
  ALIOT_TRY(exec("PRAGMA secure_delete=ON"));
  ALIOT_TRY(exec(R"(
      CREATE TABLE IF NOT EXISTS pool(
        triplet_id INTEGER PRIMARY KEY AUTOINCREMENT,
        product_key TEXT NOT NULL, device_name TEXT NOT NULL,
        device_secret TEXT NOT NULL, product_secret TEXT NOT NULL DEFAULT '',
        fp TEXT NOT NULL, source TEXT NOT NULL,
        state TEXT NOT NULL CHECK(state IN
          ('AVAILABLE','RESERVED','TRANSMITTED','BOUND','FAILED','QUARANTINED')),
        job_id TEXT, mac TEXT, updated_at TEXT,
        UNIQUE(product_key, device_name));
      CREATE INDEX IF NOT EXISTS pool_free ON pool(product_key, state, triplet_id);
      CREATE UNIQUE INDEX IF NOT EXISTS pool_unit ON pool(product_key, mac) WHERE mac IS NOT NULL;
      CREATE TABLE IF NOT EXISTS import(
        import_id INTEGER PRIMARY KEY AUTOINCREMENT, file TEXT, sha256 TEXT, format TEXT,
        rows INTEGER, imported_at TEXT);
    )"));
  return m_lock.open(m_path);
}

Result<std::vector<PoolCounts>> SqlitePool::status() {
  Stmt s(m_db, "SELECT product_key,state,count(*) FROM pool GROUP BY product_key,state "
               "ORDER BY product_key");
  if (!s.ok()) {
    return io_error("cannot count the pool");
  }
  std::vector<PoolCounts> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    const auto pk = s.text(0);
    if (out.empty() || out.back().product_key != pk) {
      out.push_back(PoolCounts{pk});
    }
    auto& c = out.back();
    const long long n = s.integer(2);
    switch (state_of(s.text(1))) {
    case PoolState::available: c.available += n; break;
    case PoolState::reserved: c.reserved += n; break;
    case PoolState::transmitted: c.transmitted += n; break;
    case PoolState::bound: c.bound += n; break;
    case PoolState::failed: c.failed += n; break;
    case PoolState::quarantined: c.quarantined += n; break;
    }
  }
  if (rc != SQLITE_DONE) {
    return io_error("cannot count the pool");
  }
  return out;
}

Result<std::vector<PoolEntry>> SqlitePool::rows(PoolState state) {
  Stmt s(m_db, (std::string("SELECT ") + k_pool_cols
                + " FROM pool WHERE state=? ORDER BY "
                  "triplet_id")
                   .c_str());
  s.bind(1, std::string(pool_state_name(state)));
  std::vector<PoolEntry> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back(entry_of(s));
  }
  if (rc != SQLITE_DONE) {
    return io_error("cannot read the pool");
  }
  return out;
}

Result<PoolCheck> SqlitePool::check() {
  PoolCheck out;
  {
    Stmt s(m_db, "PRAGMA quick_check(20)");
    if (!s.ok()) {
      return io_error("cannot check the file");
    }
    int rc = SQLITE_ROW;
    while ((rc = s.step()) == SQLITE_ROW) {
      auto line = s.text(0);
      if (line != "ok") {
        out.integrity.push_back(std::move(line));
      }
    }
    if (rc != SQLITE_DONE) {
      out.integrity.push_back(sqlite3_errmsg(m_db));
    }
  }
  if (!out.integrity.empty()) {
    return out; // the rows of a damaged file are not worth reading
  }
  Stmt s(m_db, (std::string("SELECT ") + k_pool_cols
                + " FROM pool WHERE state!='QUARANTINED' ORDER BY triplet_id")
                   .c_str());
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    const auto e = entry_of(s);
    if (!fingerprint_holds(e)) {
      out.damaged.push_back({e.product_key, e.device_name, pool_state_name(e.state)});
    }
  }
  if (rc != SQLITE_DONE) {
    out.integrity.push_back(sqlite3_errmsg(m_db));
  }
  return out;
}

std::string SqlitePool::now_utc() const {
  return utc_iso8601(m_clock(), true);
}

void SqlitePool::bind_or_null(Stmt& s, int i, const std::string& v) {
  if (v.empty()) {
    s.bind_null(i);
  } else {
    s.bind(i, v);
  }
}

Error SqlitePool::io_error(const std::string& what) const {
  return Error(Errc::io, "credential pool " + m_path + ": " + what + ": " + sqlite3_errmsg(m_db));
}

Result<void> SqlitePool::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : "unknown error";
    sqlite3_free(err);
    return Error(Errc::io, "credential pool " + m_path + ": " + msg);
  }
  return ok();
}

// A server pool has no process lock: each station reconciles only its own rows (its role's, and
// among them its journal's jobs), and its journal's lock keeps a second process of the station out.
bool pool_try_exclusive(Pool& pool) {
  auto* file = dynamic_cast<SqlitePool*>(&pool);
  return file == nullptr || file->try_exclusive();
}

void pool_shared(Pool& pool) {
  if (auto* file = dynamic_cast<SqlitePool*>(&pool)) {
    file->shared();
  }
}

Result<Reconciled> pool_reconcile(Pool& pool, Journal& journal) {
  if (auto* server = dynamic_cast<PgPool*>(&pool)) {
    return server->reconcile(journal);
  }
  return dynamic_cast<SqlitePool&>(pool).reconcile(journal);
}

} // namespace detail

const char* pool_state_name(PoolState s) {
  switch (s) {
  case PoolState::available: return "AVAILABLE";
  case PoolState::reserved: return "RESERVED";
  case PoolState::transmitted: return "TRANSMITTED";
  case PoolState::bound: return "BOUND";
  case PoolState::failed: return "FAILED";
  case PoolState::quarantined: return "QUARANTINED";
  }
  return "?";
}

namespace {

// Creates the file 0600 before SQLite opens it (SQLite gives its -wal and -shm files the mode
// of the database), and refuses one that group or others may read.
Result<void> private_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error(Errc::io, "credential pool " + path + ": cannot open: " + std::strerror(errno),
                 "--pool names the station's pool file (SQLite)");
  }
  struct stat st {};
  const bool stated = ::fstat(fd, &st) == 0;
  const int err = errno;
  ::close(fd);
  if (!stated) {
    return Error(Errc::io, "credential pool " + path + ": " + std::strerror(err));
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(st.st_mode & 0777));
    return Error(Errc::config,
                 "credential pool " + path + " holds secrets but its mode is " + mode
                     + " (group or others may read it)",
                 "chmod 600 " + path);
  }
  return ok();
}

} // namespace

Result<std::unique_ptr<Pool>> Pool::open(const std::string& path, WallClock clock) {
  if (!clock) {
    clock = [] {
      return std::chrono::system_clock::now();
    };
  }
  if (is_server_uri(path)) {
    return detail::open_server_pool(path, std::move(clock));
  }
  ALIOT_TRY(private_file(path));
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr)
      != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error(Errc::io, "credential pool " + path + ": cannot open: " + msg);
  }
  auto p = std::make_unique<detail::SqlitePool>(db, path, std::move(clock));
  ALIOT_TRY(p->init());
  return std::unique_ptr<Pool>(std::move(p));
}

Result<std::unique_ptr<Pool>> Pool::open_existing(const std::string& path) {
  if (is_server_uri(path)) {
    return open(path); // the server says whether it holds a pool
  }
  const std::string hint = "a pool is made by: aliot pool import --pool " + path + " --csv FILE";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error(Errc::io, "credential pool " + path + ": no such file", hint);
  }
  if (st.st_size == 0) {
    return Error(Errc::io, "credential pool " + path + ": an empty file, not an aliot pool", hint);
  }
  // The SQLite header ("SQLite format 3\0"): anything else is not a pool, and SQLite is not
  // asked to open it (it would take some damaged headers for an empty database).
  char magic[16] = {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error(Errc::io, "credential pool " + path + ": cannot open: " + std::strerror(errno));
  }
  const auto n = ::read(fd, magic, sizeof magic);
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof magic)
      || std::memcmp(magic, "SQLite format 3", sizeof magic) != 0) {
    return Error(Errc::io,
                 "credential pool " + path + ": not an aliot pool (not an SQLite database)", hint);
  }
  return open(path);
}

} // namespace aliot::factory
