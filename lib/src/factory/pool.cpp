// The credential pool on SQLite (see aliot/factory/pool.hpp): WAL + synchronous=FULL +
// secure_delete, one BEGIN IMMEDIATE transaction per change, the file 0600.
#include "factory/import.hpp"
#include "factory/internal.hpp"

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/factory/pool.hpp>
#include <aliot/serial/codec.hpp>
#include <aliot/serial/dialect.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <sqlite3.h>
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

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
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

using detail::Stmt;

PoolState state_of(const std::string& name) {
  for (auto s : {PoolState::available, PoolState::reserved, PoolState::transmitted,
                 PoolState::bound, PoolState::failed, PoolState::quarantined}) {
    if (name == pool_state_name(s)) {
      return s;
    }
  }
  return PoolState::quarantined; // unknown: never handed out
}

// The columns every row read selects, in PoolEntry's order.
constexpr const char* k_cols = "product_key,device_name,device_secret,product_secret,fp,state,"
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

class SqlitePool final : public Pool {
public:
  SqlitePool(sqlite3* db, std::string path, WallClock clock)
      : m_db(db)
      , m_path(std::move(path))
      , m_clock(std::move(clock)) {}
  ~SqlitePool() override { sqlite3_close(m_db); }
  SqlitePool(const SqlitePool&) = delete;
  SqlitePool& operator=(const SqlitePool&) = delete;

  Result<void> init() {
    ALIOT_TRY(exec("PRAGMA journal_mode=WAL"));
    ALIOT_TRY(exec("PRAGMA synchronous=FULL"));
    // a secret overwritten or deleted does not linger in a free page
    ALIOT_TRY(exec("PRAGMA secure_delete=ON"));
    sqlite3_busy_timeout(m_db, 5000);
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

  const std::string& path() const override { return m_path; }

  Result<ImportReport> import_file(const std::string& file, const ImportOptions& opts) override {
    auto text = config::read_bounded(file, k_max_import, "pool import file " + file, Errc::io);
    if (!text) {
      return std::move(text).error();
    }
    auto r = import_text(*text, file, opts);
    std::fill(text->begin(), text->end(), '\0');
    return r;
  }

  Result<ImportReport> import_text(std::string_view text,
                                   const std::string& origin,
                                   const ImportOptions& opts) override {
    auto parsed = detail::parse_import(text, origin, opts.product_key);
    if (!parsed) {
      return std::move(parsed).error();
    }
    ImportReport rep;
    rep.format = parsed->format;
    rep.sha256 = crypto::sha256_hex(text);
    for (const auto& row : parsed->rows) {
      if (opts.journal != nullptr) {
        auto mac = opts.journal->bound_mac(row.product_key, row.device_name);
        if (!mac) {
          return std::move(mac).error();
        }
        if (*mac) {
          return Error(Errc::usage,
                       origin + " line " + std::to_string(row.line) + ": DeviceName "
                           + row.device_name + " is already bound to the unit " + **mac
                           + " in the journal",
                       "nothing was imported: remove the row");
        }
      }
    }
    ALIOT_TRY(exec("BEGIN IMMEDIATE"));
    const std::string now = now_utc();
    for (const auto& row : parsed->rows) {
      {
        Stmt s(m_db, "SELECT state FROM pool WHERE product_key=? AND device_name=?");
        s.bind(1, row.product_key).bind(2, row.device_name);
        if (s.step() == SQLITE_ROW) {
          const auto state = s.text(0);
          (void)exec("ROLLBACK");
          return Error(Errc::usage,
                       origin + " line " + std::to_string(row.line) + ": DeviceName "
                           + row.device_name + " of " + row.product_key
                           + " is already in the pool (" + state + ")",
                       "nothing was imported: remove the row");
        }
      }
      auto fp = serial::fingerprint(row.product_key, row.device_name, row.device_secret,
                                    row.product_secret);
      if (!fp) {
        (void)exec("ROLLBACK");
        return std::move(fp).error();
      }
      Stmt ins(m_db, "INSERT INTO pool(product_key,device_name,device_secret,product_secret,fp,"
                     "source,state,updated_at) VALUES(?,?,?,?,?,?,'AVAILABLE',?)");
      ins.bind(1, row.product_key)
          .bind(2, row.device_name)
          .bind(3, row.device_secret.reveal())
          .bind(4, row.product_secret.reveal())
          .bind(5, *fp)
          .bind(6, "import:" + rep.sha256)
          .bind(7, now);
      if (ins.step() != SQLITE_DONE) {
        return rollback("cannot import line " + std::to_string(row.line));
      }
    }
    Stmt imp(m_db, "INSERT INTO import(file,sha256,format,rows,imported_at) VALUES(?,?,?,?,?)");
    imp.bind(1, origin)
        .bind(2, rep.sha256)
        .bind(3, rep.format)
        .bind(4, static_cast<long long>(parsed->rows.size()))
        .bind(5, now);
    if (imp.step() != SQLITE_DONE) {
      return rollback("cannot record the import");
    }
    ALIOT_TRY(exec("COMMIT"));
    rep.rows = parsed->rows.size();
    auto counts = status();
    if (!counts) {
      return std::move(counts).error();
    }
    rep.products = std::move(*counts);
    return rep;
  }

  Result<std::optional<PoolEntry>> tied_to(const std::string& pk, const std::string& mac) override {
    Stmt s(m_db,
           (std::string("SELECT ") + k_cols + " FROM pool WHERE product_key=? AND mac=?").c_str());
    s.bind(1, pk).bind(2, mac);
    const int rc = s.step();
    if (rc == SQLITE_ROW) {
      auto e = entry_of(s);
      if (e.state != PoolState::quarantined) {
        return std::optional<PoolEntry>(std::move(e));
      }
      return std::optional<PoolEntry>();
    }
    if (rc != SQLITE_DONE) {
      return io_error("cannot read the pool");
    }
    return std::optional<PoolEntry>();
  }

  Result<PoolEntry>
  reserve(const std::string& pk, const std::string& mac, const std::string& job) override {
    if (mac.empty()) {
      return Error(Errc::internal, "credential pool: reserve without a MAC");
    }
    ALIOT_TRY(exec("BEGIN IMMEDIATE"));
    {
      Stmt s(
          m_db,
          (std::string("SELECT ") + k_cols + " FROM pool WHERE product_key=? AND mac=?").c_str());
      s.bind(1, pk).bind(2, mac);
      if (s.step() == SQLITE_ROW) {
        auto e = entry_of(s);
        if (e.state == PoolState::quarantined) {
          (void)exec("ROLLBACK");
          // A unit that already has another triplet: the unit's state (exit 8), as when the
          // unit or the journal says so.
          return Error(Errc::device,
                       "the unit " + mac + " is tied to the quarantined triplet " + e.device_name
                           + " of " + pk,
                       "a quarantined triplet is given out only by a supervisor's rebind");
        }
        if (e.state == PoolState::reserved) {
          Stmt u(m_db, "UPDATE pool SET job_id=?,updated_at=? WHERE product_key=? AND "
                       "device_name=?");
          u.bind(1, job).bind(2, now_utc()).bind(3, pk).bind(4, e.device_name);
          if (u.step() != SQLITE_DONE) {
            return rollback("cannot reserve " + e.device_name);
          }
          e.job_id = job;
        }
        ALIOT_TRY(exec("COMMIT"));
        return e;
      }
    }
    Stmt s(m_db, (std::string("SELECT ") + k_cols
                  + " FROM pool WHERE product_key=? AND state='AVAILABLE' ORDER BY triplet_id "
                    "LIMIT 1")
                     .c_str());
    s.bind(1, pk);
    if (s.step() != SQLITE_ROW) {
      (void)exec("ROLLBACK");
      return Error(Errc::config,
                   "the pool " + m_path + " has no free triplet of product " + pk + " left",
                   "import more: aliot pool import --pool " + m_path + " --csv FILE");
    }
    auto e = entry_of(s);
    Stmt u(m_db, "UPDATE pool SET state='RESERVED',mac=?,job_id=?,updated_at=? WHERE "
                 "product_key=? AND device_name=? AND state='AVAILABLE'");
    u.bind(1, mac).bind(2, job).bind(3, now_utc()).bind(4, pk).bind(5, e.device_name);
    if (u.step() != SQLITE_DONE || sqlite3_changes(m_db) != 1) {
      return rollback("cannot reserve " + e.device_name);
    }
    ALIOT_TRY(exec("COMMIT")); // synchronous=FULL: durable when this returns
    e.state = PoolState::reserved;
    e.mac = mac;
    e.job_id = job;
    return e;
  }

  Result<PoolEntry> record_issued(const std::string& pk,
                                  const std::string& dn,
                                  const Secret& ds,
                                  const Secret& ps,
                                  const std::string& mac,
                                  const std::string& job) override {
    if (auto v = serial::validate_credentials({pk, dn, ds, ps}); !v) {
      return Error(Errc::usage, "the issued credentials of " + dn + ": " + v.error().message());
    }
    if (mac.empty()) {
      return Error(Errc::internal, "credential pool: an issued secret without a MAC");
    }
    auto fp = serial::fingerprint(pk, dn, ds, ps);
    if (!fp) {
      return std::move(fp).error();
    }
    ALIOT_TRY(exec("BEGIN IMMEDIATE"));
    {
      Stmt s(m_db, (std::string("SELECT ") + k_cols
                    + " FROM pool WHERE product_key=? AND (device_name=? OR mac=?)")
                       .c_str());
      s.bind(1, pk).bind(2, dn).bind(3, mac);
      if (s.step() == SQLITE_ROW) {
        auto e = entry_of(s);
        (void)exec("ROLLBACK");
        if (e.device_name == dn && e.mac == mac && e.fp == *fp) {
          return e;
        }
        if (e.device_name != dn) {
          // the unit's state, as when the unit or the journal says it has another triplet
          return Error(Errc::device, "the unit " + mac + " is already tied to the triplet "
                                         + e.device_name + " of " + pk + " in the pool");
        }
        return Error(Errc::usage,
                     "the pool already holds " + dn + " of " + pk + " with another "
                         + (e.mac != mac ? "unit (" + e.mac + ")" : std::string("secret"))
                         + "; nothing was overwritten");
      }
    }
    Stmt ins(m_db,
             "INSERT INTO pool(product_key,device_name,device_secret,product_secret,fp,"
             "source,state,job_id,mac,updated_at) VALUES(?,?,?,?,?,'issued','RESERVED',?,?,?)");
    ins.bind(1, pk)
        .bind(2, dn)
        .bind(3, ds.reveal())
        .bind(4, ps.reveal())
        .bind(5, *fp)
        .bind(6, job)
        .bind(7, mac)
        .bind(8, now_utc());
    if (ins.step() != SQLITE_DONE) {
      return rollback("cannot record the issued secret of " + dn);
    }
    ALIOT_TRY(exec("COMMIT")); // durable before the caller sends a byte
    PoolEntry e{pk, dn, ds, ps, *fp, PoolState::reserved, mac, job, true};
    return e;
  }

  Result<void>
  mark_transmitted(const std::string& pk, const std::string& dn, const std::string& job) override {
    return move_row(pk, dn, job, [](const PoolEntry& e) -> Result<std::optional<Move>> {
      if (e.state == PoolState::reserved) {
        return std::optional<Move>(Move{PoolState::transmitted});
      }
      if (e.state == PoolState::available) {
        return Error(Errc::internal, "the triplet " + e.device_name + " was never reserved");
      }
      return std::optional<Move>(); // already past it
    });
  }

  Result<void>
  mark_bound(const std::string& pk, const std::string& dn, const std::string& job) override {
    return move_row(pk, dn, job, [](const PoolEntry& e) -> Result<std::optional<Move>> {
      if (e.state == PoolState::available) {
        return Error(Errc::internal, "the triplet " + e.device_name + " was never reserved");
      }
      return std::optional<Move>(Move{PoolState::bound});
    });
  }

  Result<void> mark_failed(const std::string& pk,
                           const std::string& dn,
                           const std::string& job,
                           Journal* journal) override {
    auto jm = journal_mac(pk, dn, journal);
    if (!jm) {
      return std::move(jm).error();
    }
    return move_row(pk, dn, job, [&](const PoolEntry& e) -> Result<std::optional<Move>> {
      switch (e.state) {
      case PoolState::available:
        return Error(Errc::internal, "the triplet " + e.device_name + " was never reserved");
      case PoolState::reserved:
        if (*jm) {
          return std::optional<Move>(after_intent(e, **jm, PoolState::failed));
        }
        return std::optional<Move>(released(e));
      case PoolState::transmitted: return std::optional<Move>(Move{PoolState::failed});
      default: return std::optional<Move>(); // BOUND, FAILED, QUARANTINED stay
      }
    });
  }

  Result<void> release(const std::string& pk,
                       const std::string& dn,
                       const std::string& job,
                       Journal* journal) override {
    auto jm = journal_mac(pk, dn, journal);
    if (!jm) {
      return std::move(jm).error();
    }
    std::optional<Move> kept;
    ALIOT_TRY(move_row(pk, dn, job, [&](const PoolEntry& e) -> Result<std::optional<Move>> {
      if (e.state != PoolState::reserved) {
        return Error(Errc::usage, "the triplet " + e.device_name + " is " + pool_state_name(e.state)
                                      + ", not RESERVED: it stays");
      }
      if (*jm) {
        kept = after_intent(e, **jm, PoolState::transmitted);
        return kept;
      }
      return std::optional<Move>(released(e));
    }));
    if (kept) {
      return Error(Errc::usage, "the triplet " + dn + " has a write intent in the journal (unit "
                                    + **jm + "): it is not released (now "
                                    + pool_state_name(kept->to) + ")");
    }
    return ok();
  }

  Result<std::vector<PoolCounts>> status() override {
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

  Result<std::vector<PoolEntry>> rows(PoolState state) override {
    Stmt s(
        m_db,
        (std::string("SELECT ") + k_cols + " FROM pool WHERE state=? ORDER BY triplet_id").c_str());
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

  bool try_exclusive() { return m_lock.try_exclusive(); }
  void shared() { m_lock.shared(); }

  Result<detail::Reconciled> reconcile(Journal& journal) {
    auto reserved = rows(PoolState::reserved);
    if (!reserved) {
      return std::move(reserved).error();
    }
    detail::Reconciled rec;
    for (const auto& e : *reserved) {
      auto jm = journal_mac(e.product_key, e.device_name, &journal);
      if (!jm) {
        return std::move(jm).error();
      }
      std::optional<Move> m;
      if (*jm) {
        // the journal is the authority on where the triplet may have gone
        m = after_intent(e, **jm, PoolState::transmitted);
        ++(m->to == PoolState::transmitted ? rec.transmitted : rec.quarantined);
      } else if (!e.issued) {
        m = released(e);
        ++rec.released;
      }
      if (m) {
        ALIOT_TRY(move_row(e.product_key, e.device_name, e.job_id,
                           [&](const PoolEntry&) -> Result<std::optional<Move>> { return m; }));
      }
    }
    return rec;
  }

private:
  static constexpr std::size_t k_max_import = 64U * 1024U * 1024U;

  std::string now_utc() const { return enc::rfc3339_utc(m_clock()); }

  // The MAC the journal binds (pk, dn) to: a write intent was journaled for it (none without a
  // journal: the caller says there was none).
  Result<std::optional<std::string>>
  journal_mac(const std::string& pk, const std::string& dn, Journal* journal) {
    if (journal == nullptr) {
      return std::optional<std::string>();
    }
    return journal->bound_mac(pk, dn);
  }

  struct Move {
    PoolState to;
    bool untie = false; // clear the MAC and the job
  };

  // A row given back before any write intent (an issued secret stays its unit's).
  static Move released(const PoolEntry& e) {
    return e.issued ? Move{PoolState::reserved} : Move{PoolState::available, true};
  }

  // A RESERVED row the journal has a write intent for: `to`, still tied to its unit; or, when
  // the journal binds it to another unit (a triplet burned elsewhere, then imported), set aside.
  static Move after_intent(const PoolEntry& e, const std::string& journal_mac, PoolState to) {
    if (detail::upper(journal_mac) != detail::upper(e.mac)) {
      return Move{PoolState::quarantined, true};
    }
    return Move{to};
  }

  // One transaction: reads the row, asks `next` for its new state (nullopt: unchanged), writes.
  template <class F>
  Result<void>
  move_row(const std::string& pk, const std::string& dn, const std::string& job, F next) {
    ALIOT_TRY(exec("BEGIN IMMEDIATE"));
    Stmt s(m_db, (std::string("SELECT ") + k_cols
                  + " FROM pool WHERE product_key=? AND "
                    "device_name=?")
                     .c_str());
    s.bind(1, pk).bind(2, dn);
    if (s.step() != SQLITE_ROW) {
      (void)exec("ROLLBACK");
      return Error(Errc::usage,
                   "the triplet " + dn + " of " + pk + " is not in the pool " + m_path);
    }
    const auto e = entry_of(s);
    auto to = next(e);
    if (!to) {
      (void)exec("ROLLBACK");
      return std::move(to).error();
    }
    if (*to) {
      const bool free = (*to)->untie;
      Stmt u(m_db, "UPDATE pool SET state=?,mac=?,job_id=?,updated_at=? WHERE product_key=? AND "
                   "device_name=?");
      u.bind(1, std::string(pool_state_name((*to)->to)));
      bind_or_null(u, 2, free ? std::string() : e.mac);
      bind_or_null(u, 3, free ? std::string() : (job.empty() ? e.job_id : job));
      u.bind(4, now_utc()).bind(5, pk).bind(6, dn);
      if (u.step() != SQLITE_DONE) {
        return rollback("cannot update " + dn);
      }
    }
    return exec("COMMIT");
  }

  static void bind_or_null(Stmt& s, int i, const std::string& v) {
    if (v.empty()) {
      s.bind_null(i);
    } else {
      s.bind(i, v);
    }
  }

  Error io_error(const std::string& what) {
    return Error(Errc::io, "credential pool " + m_path + ": " + what + ": " + sqlite3_errmsg(m_db));
  }

  Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return Error(Errc::io, "credential pool " + m_path + ": " + msg);
    }
    return ok();
  }

  Error rollback(const std::string& what) {
    Error e = io_error(what);
    (void)exec("ROLLBACK");
    return e;
  }

  sqlite3* m_db;
  std::string m_path;
  WallClock m_clock;
  detail::ProcessLock m_lock;
};

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

namespace detail {

bool pool_try_exclusive(Pool& pool) {
  return dynamic_cast<SqlitePool&>(pool).try_exclusive();
}

void pool_shared(Pool& pool) {
  dynamic_cast<SqlitePool&>(pool).shared();
}

Result<Reconciled> pool_reconcile(Pool& pool, Journal& journal) {
  return dynamic_cast<SqlitePool&>(pool).reconcile(journal);
}

} // namespace detail

Result<std::unique_ptr<Pool>> Pool::open(const std::string& path, WallClock clock) {
  if (!clock) {
    clock = [] {
      return std::chrono::system_clock::now();
    };
  }
  ALIOT_TRY(private_file(path));
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr)
      != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error(Errc::io, "credential pool " + path + ": cannot open: " + msg);
  }
  auto p = std::make_unique<SqlitePool>(db, path, std::move(clock));
  if (auto r = p->init(); !r) {
    return std::move(r).error();
  }
  return std::unique_ptr<Pool>(std::move(p));
}

} // namespace aliot::factory
