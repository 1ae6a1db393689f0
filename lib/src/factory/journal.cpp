// The factory journal on SQLite: WAL + synchronous=FULL, one sqlite::Transaction (BEGIN
// IMMEDIATE) per state change, a SHA-256 chain over the events. The check across stations'
// journals is in journal_check.cpp.
#include "factory/internal.hpp"
#include "factory/journal_read.hpp"
#include "sqlite/transaction.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/factory.hpp>
#include <aliot/factory/pool.hpp>
#include <aliot/time.hpp>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sqlite3.h>
#include <utility>

namespace aliot::factory {

namespace detail {

// The link of the chain: what an event's hash covers.
Result<std::string> event_hash(const std::string& prev,
                               const std::string& ts,
                               const std::string& job,
                               const std::string& type,
                               const std::string& data) {
  return crypto::sha256_hex(prev + "\n" + ts + "\n" + job + "\n" + type + "\n" + data);
}

Error read_error(sqlite3* db, const std::string& path, const char* what) {
  return Error(Errc::io,
               "factory journal " + path + ": cannot read the " + what + ": " + sqlite3_errmsg(db));
}

Result<std::vector<JobRecord>>
read_jobs(sqlite3* db, const std::string& path, const std::string& since) {
  Stmt s(db, "SELECT job_id,station,operator,port_path,dialect,mac,chip_id,fw,sn,product_key,"
             "device_name,fp,state,error_class,error_detail,verify_level,started_at,ended_at "
             "FROM job WHERE started_at>=? ORDER BY started_at,rowid");
  if (!s.ok()) {
    return read_error(db, path, "jobs");
  }
  s.bind(1, since);
  std::vector<JobRecord> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    JobRecord j;
    j.job_id = s.text(0);
    j.station = s.text(1);
    j.operator_id = s.text(2);
    j.port = s.text(3);
    j.dialect = s.text(4);
    j.mac = s.text(5);
    j.chip_id = s.text(6);
    j.firmware = s.text(7);
    j.sn = s.text(8);
    j.product_key = s.text(9);
    j.device_name = s.text(10);
    j.fp = s.text(11);
    j.state = s.text(12);
    j.error_class = s.text(13);
    j.error_detail = s.text(14);
    j.verify_level = static_cast<int>(s.integer(15));
    j.started_at = s.text(16);
    j.ended_at = s.text(17);
    out.push_back(std::move(j));
  }
  if (rc != SQLITE_DONE) {
    return read_error(db, path, "jobs");
  }
  return out;
}

Result<std::vector<EventRecord>>
read_events(sqlite3* db, const std::string& path, const std::string& since) {
  Stmt s(db, "SELECT seq,ts,job_id,type,data_json,prev_hash,hash FROM event WHERE ts>=? "
             "ORDER BY seq");
  if (!s.ok()) {
    return read_error(db, path, "events");
  }
  s.bind(1, since);
  std::vector<EventRecord> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6)});
  }
  if (rc != SQLITE_DONE) {
    return read_error(db, path, "events");
  }
  return out;
}

Result<std::vector<Binding>> read_bindings(sqlite3* db, const std::string& path) {
  Stmt s(db, "SELECT product_key,device_name,mac,fp,state,first_job FROM binding "
             "ORDER BY product_key,device_name");
  if (!s.ok()) {
    return read_error(db, path, "bindings");
  }
  std::vector<Binding> out;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
  }
  if (rc != SQLITE_DONE) {
    return read_error(db, path, "bindings");
  }
  return out;
}

} // namespace detail

namespace {

using detail::event_hash;
using detail::read_bindings;
using detail::read_error;
using detail::read_events;
using detail::read_jobs;
using detail::Stmt;

// Recomputes every event's hash from the one before it.
Result<std::optional<ChainBreak>> verify_chain_of(sqlite3* db, const std::string& path) {
  Stmt s(db, "SELECT seq,ts,job_id,type,data_json,prev_hash,hash FROM event ORDER BY seq");
  if (!s.ok()) {
    return read_error(db, path, "events");
  }
  std::string prev;
  int rc = SQLITE_ROW;
  while ((rc = s.step()) == SQLITE_ROW) {
    const long long seq = s.integer(0);
    if (s.text(5) != prev) {
      return std::optional<ChainBreak>(
          ChainBreak{seq, "its prev_hash is not the hash of the event before it"});
    }
    const std::string hash = s.text(6);
    ALIOT_TRY_ASSIGN(auto expected, event_hash(prev, s.text(1), s.text(2), s.text(3), s.text(4)));
    if (expected != hash) {
      return std::optional<ChainBreak>(ChainBreak{seq, "its hash does not match its contents"});
    }
    prev = hash;
  }
  if (rc != SQLITE_DONE) {
    return read_error(db, path, "events");
  }
  return std::optional<ChainBreak>();
}

// The newest event, if any.
Result<std::optional<EventRecord>> head_of(sqlite3* db, const std::string& path) {
  Stmt s(db, "SELECT seq,ts,job_id,type,data_json,prev_hash,hash FROM event ORDER BY seq DESC "
             "LIMIT 1");
  if (!s.ok()) {
    return read_error(db, path, "events");
  }
  const int rc = s.step();
  if (rc == SQLITE_ROW) {
    return std::optional<EventRecord>(EventRecord{s.integer(0), s.text(1), s.text(2), s.text(3),
                                                  s.text(4), s.text(5), s.text(6)});
  }
  if (rc != SQLITE_DONE) {
    return read_error(db, path, "events");
  }
  return std::optional<EventRecord>();
}

class SqliteJournal final : public Journal {
public:
  SqliteJournal(sqlite3* db, std::string path, WallClock clock)
      : m_db(db)
      , m_path(std::move(path))
      , m_clock(std::move(clock)) {}
  ~SqliteJournal() override { sqlite3_close(m_db); }
  SqliteJournal(const SqliteJournal&) = delete;
  SqliteJournal& operator=(const SqliteJournal&) = delete;

  Result<void> init() {
    ALIOT_TRY(exec("PRAGMA journal_mode=WAL"));
    ALIOT_TRY(exec("PRAGMA synchronous=FULL"));
    ALIOT_TRY(exec("PRAGMA foreign_keys=ON"));
    sqlite3_busy_timeout(m_db, 5000);
    return exec(R"(
      CREATE TABLE IF NOT EXISTS binding(
        product_key TEXT NOT NULL, device_name TEXT NOT NULL, mac TEXT NOT NULL, fp TEXT NOT NULL,
        state TEXT NOT NULL CHECK(state IN ('TRANSMITTED','BOUND','QUARANTINED')),
        first_job TEXT, updated_at TEXT,
        PRIMARY KEY(product_key, device_name), UNIQUE(mac, product_key));
      CREATE TABLE IF NOT EXISTS job(
        job_id TEXT PRIMARY KEY, station TEXT, operator TEXT, port_path TEXT, dialect TEXT,
        mac TEXT, chip_id TEXT, fw TEXT, sn TEXT, product_key TEXT, device_name TEXT, fp TEXT,
        state TEXT, error_class TEXT, error_detail TEXT, verify_level INTEGER,
        started_at TEXT, ended_at TEXT);
      CREATE TABLE IF NOT EXISTS event(
        seq INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT, job_id TEXT, type TEXT, data_json TEXT,
        prev_hash TEXT, hash TEXT);
    )");
  }

  Result<std::string> start_job(const JobInfo& j) override {
    ALIOT_TRY_ASSIGN(auto suffix, crypto::random_hex(4));
    const std::string id = now_utc() + "-" + suffix;
    ALIOT_TRY_ASSIGN(auto tx, begin());
    Stmt s(m_db, "INSERT INTO job(job_id,station,operator,port_path,dialect,state,started_at) "
                 "VALUES(?,?,?,?,?,'STARTED',?)");
    s.bind(1, id)
        .bind(2, j.station)
        .bind(3, j.operator_id)
        .bind(4, j.port)
        .bind(5, j.dialect)
        .bind(6, now_utc());
    if (s.step() != SQLITE_DONE) {
      return failed("cannot record the job");
    }
    ALIOT_TRY(add_event(id, "JOB_START",
                        {{"station", j.station}, {"operator", j.operator_id}, {"port", j.port}}));
    ALIOT_TRY(tx.commit());
    return id;
  }

  Result<void> write_intent(const std::string& job,
                            const UnitInfo& u,
                            const std::string& pk,
                            const std::string& dn,
                            const std::string& fp) override {
    ALIOT_TRY_ASSIGN(auto tx, begin());
    {
      Stmt s(m_db, "SELECT mac, fp FROM binding WHERE product_key=? AND device_name=?");
      s.bind(1, pk).bind(2, dn);
      if (s.step() == SQLITE_ROW) {
        const auto mac = s.text(0);
        const auto bfp = s.text(1);
        if (mac != u.mac) {
          return Error(Errc::usage,
                       "the triplet " + dn + " already went to another unit (MAC " + mac + ") on "
                           + "this station",
                       "a triplet is burned into one unit only: take the next triplet");
        }
        if (bfp != fp) {
          return Error(Errc::usage,
                       "the DeviceName " + dn
                           + " was burned into this unit with another secret (fingerprint " + bfp
                           + ")");
        }
      }
    }
    {
      Stmt s(m_db, "SELECT device_name FROM binding WHERE mac=? AND product_key=?");
      s.bind(1, u.mac).bind(2, pk);
      if (s.step() == SQLITE_ROW && s.text(0) != dn) {
        const auto other = s.text(0);
        // The unit's state, as when the unit itself says it holds other credentials: one cause,
        // one exit class (device), whether the journal or the unit tells it.
        return Error(
            Errc::device,
            "the unit " + u.mac + " already got the triplet " + other + " of product " + pk,
            "a unit holds one triplet per product: burn that one again (re-runs reuse it)");
      }
    }
    Stmt b(m_db,
           "INSERT INTO binding(product_key,device_name,mac,fp,state,first_job,updated_at) "
           "VALUES(?,?,?,?,'TRANSMITTED',?,?) ON CONFLICT(product_key,device_name) DO NOTHING");
    b.bind(1, pk).bind(2, dn).bind(3, u.mac).bind(4, fp).bind(5, job).bind(6, now_utc());
    if (b.step() != SQLITE_DONE) {
      return failed("cannot record the binding");
    }
    Stmt j(m_db, "UPDATE job SET "
                 "mac=?,chip_id=?,fw=?,sn=?,product_key=?,device_name=?,fp=?,state='WRITE_INTENT' "
                 "WHERE job_id=?");
    j.bind(1, u.mac)
        .bind(2, u.chip_id)
        .bind(3, u.firmware)
        .bind(4, u.sn)
        .bind(5, pk)
        .bind(6, dn)
        .bind(7, fp)
        .bind(8, job);
    if (j.step() != SQLITE_DONE) {
      return failed("cannot update the job");
    }
    ALIOT_TRY(add_event(job, "IDENTIFIED",
                        {{"mac", u.mac}, {"chip", u.chip_id}, {"fw", u.firmware}, {"sn", u.sn}}));
    ALIOT_TRY(
        add_event(job, "WRITE_INTENT", {{"product_key", pk}, {"device_name", dn}, {"fp", fp}}));
    return tx.commit(); // synchronous=FULL: durable when this returns
  }

  Result<void> finish(const std::string& job,
                      bool pass,
                      int level,
                      const std::string& cls,
                      const std::string& detail) override {
    ALIOT_TRY_ASSIGN(auto tx, begin());
    Stmt j(m_db, "UPDATE job SET state=?,error_class=?,error_detail=?,verify_level=?,ended_at=? "
                 "WHERE job_id=?");
    j.bind(1, std::string(pass ? "PASS" : "FAIL"))
        .bind(2, cls)
        .bind(3, detail)
        .bind(4, level)
        .bind(5, now_utc())
        .bind(6, job);
    if (j.step() != SQLITE_DONE) {
      return failed("cannot update the job");
    }
    if (pass) {
      Stmt b(m_db,
             "UPDATE binding SET state='BOUND',updated_at=? WHERE (product_key,device_name) IN "
             "(SELECT product_key,device_name FROM job WHERE job_id=?)");
      b.bind(1, now_utc()).bind(2, job);
      if (b.step() != SQLITE_DONE) {
        return failed("cannot update the binding");
      }
      ALIOT_TRY(add_event(job, "PASS", {{"level", level}}));
    } else {
      ALIOT_TRY(add_event(job, "FAIL", {{"class", cls}, {"detail", detail}}));
    }
    return tx.commit();
  }

  Result<std::optional<std::string>> bound_mac(const std::string& pk,
                                               const std::string& dn) override {
    Stmt s(m_db, "SELECT mac FROM binding WHERE product_key=? AND device_name=?");
    s.bind(1, pk).bind(2, dn);
    if (s.step() == SQLITE_ROW) {
      return std::optional<std::string>(s.text(0));
    }
    return std::optional<std::string>();
  }

  Result<std::optional<ChainBreak>> verify_chain() override {
    return verify_chain_of(m_db, m_path);
  }

  Result<std::optional<Binding>> bound_triplet(const std::string& pk,
                                               const std::string& mac) override {
    Stmt s(m_db, "SELECT product_key,device_name,mac,fp,state,first_job FROM binding "
                 "WHERE product_key=? AND mac=?");
    s.bind(1, pk).bind(2, mac);
    if (s.step() == SQLITE_ROW) {
      return std::optional<Binding>(
          Binding{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
    }
    return std::optional<Binding>();
  }

  Result<RecoveryReport> recover(Pool* pool) override {
    RecoveryReport rep;
    if (!m_lock.try_exclusive()) {
      rep.exclusive = false;
      return rep;
    }
    if (pool != nullptr && !detail::pool_try_exclusive(*pool)) {
      m_lock.shared();
      rep.exclusive = false;
      return rep;
    }
    auto r = recover_locked(*this, pool, rep);
    if (pool != nullptr) {
      detail::pool_shared(*pool);
    }
    m_lock.shared();
    if (!r) {
      return std::move(r).error();
    }
    return rep;
  }

  Result<std::vector<JobRecord>>
  jobs(std::optional<std::chrono::system_clock::time_point> since) override {
    return read_jobs(m_db, m_path, since ? utc_iso8601(*since, true) : std::string());
  }

  Result<std::vector<EventRecord>>
  events(std::optional<std::chrono::system_clock::time_point> since) override {
    return read_events(m_db, m_path, since ? utc_iso8601(*since, true) : std::string());
  }

  Result<std::vector<Binding>> bindings() override { return read_bindings(m_db, m_path); }

  Result<bool> has_job(const std::string& job) override {
    Stmt s(m_db, "SELECT 1 FROM job WHERE job_id=?");
    s.bind(1, job);
    const int rc = s.step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return read_error(m_db, m_path, "jobs");
    }
    return rc == SQLITE_ROW;
  }

  Result<void> note_set_aside(const std::string& job,
                              const std::string& pk,
                              const std::string& dn,
                              const std::string& reason) override {
    ALIOT_TRY_ASSIGN(auto tx, begin());
    ALIOT_TRY(add_event(job, "POOL_QUARANTINED",
                        {{"product_key", pk}, {"device_name", dn}, {"reason", reason}}));
    return tx.commit();
  }

  Result<std::optional<EventRecord>> head() override { return head_of(m_db, m_path); }

  Result<void> lock() { return m_lock.open(m_path); }

private:
  // Under both exclusive locks: the jobs first (one transaction), then the pool.
  static Result<void> recover_locked(SqliteJournal& self, Pool* pool, RecoveryReport& rep) {
    struct Open {
      std::string job, state, mac, pk, dn, fp;
    };
    std::vector<Open> open;
    ALIOT_TRY_ASSIGN(auto tx, self.begin());
    {
      Stmt s(self.m_db, "SELECT job_id,state,mac,product_key,device_name,fp FROM job WHERE state "
                        "NOT IN ('PASS','FAIL','ABORTED','IN_DOUBT') ORDER BY started_at");
      while (s.step() == SQLITE_ROW) {
        open.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
      }
    }
    for (const auto& o : open) {
      // Every state but STARTED comes at or after the write intent (the safe side: a job the
      // journal cannot place before it is kept in doubt).
      const bool intent = o.state != "STARTED";
      Stmt u(self.m_db, "UPDATE job SET state=?,ended_at=? WHERE job_id=?");
      u.bind(1, std::string(intent ? "IN_DOUBT" : "ABORTED"))
          .bind(2, self.now_utc())
          .bind(3, o.job);
      if (u.step() != SQLITE_DONE) {
        return self.failed("cannot recover the job " + o.job);
      }
      if (intent) {
        ALIOT_TRY(self.add_event(o.job, "IN_DOUBT",
                                 {{"mac", o.mac},
                                  {"product_key", o.pk},
                                  {"device_name", o.dn},
                                  {"fp", o.fp},
                                  {"reason", "recovered: stopped after its write intent; the "
                                             "triplet stays tied to this MAC"}}));
        rep.kept.push_back({o.job, o.mac, o.pk, o.dn, o.fp});
        ++rep.in_doubt;
      } else {
        ALIOT_TRY(self.add_event(o.job, "ABORTED",
                                 {{"reason", "recovered: stopped before its write intent"}}));
        ++rep.aborted;
      }
    }
    ALIOT_TRY(tx.commit());
    if (pool != nullptr) {
      ALIOT_TRY_ASSIGN(auto rec, detail::pool_reconcile(*pool, self));
      rep.released = rec.released;
      rep.transmitted = rec.transmitted;
      rep.quarantined = rec.quarantined;
      rep.others = rec.others;
    }
    return ok();
  }

private:
  std::string now_utc() const { return utc_iso8601(m_clock(), true); }

  Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return Error(Errc::io, "factory journal " + m_path + ": " + msg);
    }
    return ok();
  }

  Result<sqlite::Transaction> begin() {
    return sqlite::Transaction::begin(m_db, "factory journal " + m_path);
  }

  // A failed statement inside a transaction (which rolls back as it goes out of scope).
  Error failed(const std::string& what) const {
    return Error(Errc::io, "factory journal " + m_path + ": " + what + ": " + sqlite3_errmsg(m_db));
  }

  Result<void>
  add_event(const std::string& job, const std::string& type, const nlohmann::json& data) {
    std::string prev;
    {
      Stmt s(m_db, "SELECT hash FROM event ORDER BY seq DESC LIMIT 1");
      if (s.step() == SQLITE_ROW) {
        prev = s.text(0);
      }
    }
    const std::string ts = now_utc();
    const std::string d = data.dump();
    ALIOT_TRY_ASSIGN(auto hash, event_hash(prev, ts, job, type, d));
    Stmt s(m_db, "INSERT INTO event(ts,job_id,type,data_json,prev_hash,hash) VALUES(?,?,?,?,?,?)");
    s.bind(1, ts).bind(2, job).bind(3, type).bind(4, d).bind(5, prev).bind(6, hash);
    if (s.step() != SQLITE_DONE) {
      return failed("cannot append the event " + type);
    }
    return ok();
  }

  sqlite3* m_db;
  std::string m_path;
  WallClock m_clock;
  detail::ProcessLock m_lock;
};

} // namespace

Result<std::unique_ptr<Journal>> Journal::open(const std::string& path, WallClock clock) {
  if (!clock) {
    clock = [] {
      return std::chrono::system_clock::now();
    };
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr)
      != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Error(Errc::io, "factory journal " + path + ": cannot open: " + msg,
                 "--journal names the station's SQLite file");
  }
  auto j = std::make_unique<SqliteJournal>(db, path, std::move(clock));
  if (auto r = j->init(); !r) {
    return std::move(r).error();
  }
  if (auto r = j->lock(); !r) {
    return std::move(r).error();
  }
  return std::unique_ptr<Journal>(std::move(j));
}

Result<std::string> default_journal_path(const std::optional<std::string>& xdg_state_home,
                                         const std::optional<std::string>& home) {
  auto absolute = [](const std::optional<std::string>& v) {
    return v && !v->empty() && v->front() == '/';
  };
  auto trimmed = [](std::string v) {
    while (v.size() > 1 && v.back() == '/') {
      v.pop_back();
    }
    return v == "/" ? std::string() : v;
  };
  if (absolute(xdg_state_home)) {
    return trimmed(*xdg_state_home) + "/aliot/factory.db";
  }
  if (absolute(home)) {
    return trimmed(*home) + "/.local/state/aliot/factory.db";
  }
  return Error(Errc::config,
               "no place for the station's journal: neither XDG_STATE_HOME nor HOME names an "
               "absolute directory",
               "give --journal DB");
}

Result<void> create_parent_dir(const std::string& file) {
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  if (dir.empty()) {
    return ok();
  }
  std::filesystem::path at;
  for (const auto& part : dir) {
    at /= part;
    if (::mkdir(at.c_str(), 0700) == 0) {
      // umask may have taken bits away; the directory is the owner's alone either way
      if (::chmod(at.c_str(), 0700) != 0) {
        return Error(Errc::io,
                     "cannot set the mode of " + at.string() + ": " + std::strerror(errno));
      }
      continue;
    }
    const int err = errno;
    struct stat st {};
    if (err == EEXIST && ::stat(at.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      continue;
    }
    return Error(Errc::io, "cannot create the directory " + at.string() + ": "
                               + std::strerror(err == EEXIST ? ENOTDIR : err));
  }
  return ok();
}

} // namespace aliot::factory
