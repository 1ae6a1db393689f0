// The factory journal on SQLite: WAL + synchronous=FULL, one BEGIN IMMEDIATE transaction per
// state change, a SHA-256 chain over the events.
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/factory.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <sqlite3.h>
#include <utility>

namespace aliot::factory {

namespace {

// The link of the chain: what an event's hash covers.
Result<std::string> event_hash(const std::string& prev,
                               const std::string& ts,
                               const std::string& job,
                               const std::string& type,
                               const std::string& data) {
  return crypto::sha256_hex(prev + "\n" + ts + "\n" + job + "\n" + type + "\n" + data);
}

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
    auto suffix = crypto::random_hex(4);
    if (!suffix) {
      return std::move(suffix).error();
    }
    const std::string id = now_utc() + "-" + *suffix;
    ALIOT_TRY(exec("BEGIN IMMEDIATE"));
    Stmt s(m_db, "INSERT INTO job(job_id,station,operator,port_path,dialect,state,started_at) "
                 "VALUES(?,?,?,?,?,'STARTED',?)");
    s.bind(1, id)
        .bind(2, j.station)
        .bind(3, j.operator_id)
        .bind(4, j.port)
        .bind(5, j.dialect)
        .bind(6, now_utc());
    if (s.step() != SQLITE_DONE) {
      return rollback("cannot record the job");
    }
    ALIOT_TRY(add_event(id, "JOB_START",
                        {{"station", j.station}, {"operator", j.operator_id}, {"port", j.port}}));
    ALIOT_TRY(exec("COMMIT"));
    return id;
  }

  Result<void> write_intent(const std::string& job,
                            const UnitInfo& u,
                            const std::string& pk,
                            const std::string& dn,
                            const std::string& fp) override {
    ALIOT_TRY(exec("BEGIN IMMEDIATE"));
    {
      Stmt s(m_db, "SELECT mac, fp FROM binding WHERE product_key=? AND device_name=?");
      s.bind(1, pk).bind(2, dn);
      if (s.step() == SQLITE_ROW) {
        const auto mac = s.text(0);
        const auto bfp = s.text(1);
        if (mac != u.mac) {
          (void)exec("ROLLBACK");
          return Error(Errc::usage,
                       "the triplet " + dn + " already went to another unit (MAC " + mac + ") on "
                           + "this station",
                       "a triplet is burned into one unit only: take the next triplet");
        }
        if (bfp != fp) {
          (void)exec("ROLLBACK");
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
        (void)exec("ROLLBACK");
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
      return rollback("cannot record the binding");
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
      return rollback("cannot update the job");
    }
    ALIOT_TRY(add_event(job, "IDENTIFIED",
                        {{"mac", u.mac}, {"chip", u.chip_id}, {"fw", u.firmware}, {"sn", u.sn}}));
    ALIOT_TRY(
        add_event(job, "WRITE_INTENT", {{"product_key", pk}, {"device_name", dn}, {"fp", fp}}));
    return exec("COMMIT"); // synchronous=FULL: durable when this returns
  }

  Result<void> finish(const std::string& job,
                      bool pass,
                      int level,
                      const std::string& cls,
                      const std::string& detail) override {
    ALIOT_TRY(exec("BEGIN IMMEDIATE"));
    Stmt j(m_db, "UPDATE job SET state=?,error_class=?,error_detail=?,verify_level=?,ended_at=? "
                 "WHERE job_id=?");
    j.bind(1, std::string(pass ? "PASS" : "FAIL"))
        .bind(2, cls)
        .bind(3, detail)
        .bind(4, level)
        .bind(5, now_utc())
        .bind(6, job);
    if (j.step() != SQLITE_DONE) {
      return rollback("cannot update the job");
    }
    if (pass) {
      Stmt b(m_db,
             "UPDATE binding SET state='BOUND',updated_at=? WHERE (product_key,device_name) IN "
             "(SELECT product_key,device_name FROM job WHERE job_id=?)");
      b.bind(1, now_utc()).bind(2, job);
      if (b.step() != SQLITE_DONE) {
        return rollback("cannot update the binding");
      }
      ALIOT_TRY(add_event(job, "PASS", {{"level", level}}));
    } else {
      ALIOT_TRY(add_event(job, "FAIL", {{"class", cls}, {"detail", detail}}));
    }
    return exec("COMMIT");
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
    Stmt s(m_db, "SELECT seq,ts,job_id,type,data_json,prev_hash,hash FROM event ORDER BY seq");
    if (!s.ok()) {
      return Error(Errc::io, "factory journal " + m_path
                                 + ": cannot read the events: " + sqlite3_errmsg(m_db));
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
      auto expected = event_hash(prev, s.text(1), s.text(2), s.text(3), s.text(4));
      if (!expected) {
        return std::move(expected).error();
      }
      if (*expected != hash) {
        return std::optional<ChainBreak>(ChainBreak{seq, "its hash does not match its contents"});
      }
      prev = hash;
    }
    if (rc != SQLITE_DONE) {
      return Error(Errc::io, "factory journal " + m_path
                                 + ": cannot read the events: " + sqlite3_errmsg(m_db));
    }
    return std::optional<ChainBreak>();
  }

private:
  std::string now_utc() const { return enc::rfc3339_utc(m_clock()); }

  Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      return Error(Errc::io, "factory journal " + m_path + ": " + msg);
    }
    return ok();
  }

  Error rollback(const std::string& what) {
    std::string msg = sqlite3_errmsg(m_db);
    (void)exec("ROLLBACK");
    return Error(Errc::io, "factory journal " + m_path + ": " + what + ": " + msg);
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
    auto hash = event_hash(prev, ts, job, type, d);
    if (!hash) {
      (void)exec("ROLLBACK");
      return std::move(hash).error();
    }
    Stmt s(m_db, "INSERT INTO event(ts,job_id,type,data_json,prev_hash,hash) VALUES(?,?,?,?,?,?)");
    s.bind(1, ts).bind(2, job).bind(3, type).bind(4, d).bind(5, prev).bind(6, *hash);
    if (s.step() != SQLITE_DONE) {
      return rollback("cannot append the event " + type);
    }
    return ok();
  }

  sqlite3* m_db;
  std::string m_path;
  WallClock m_clock;
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
                 "--journal names the station's SQLite file (default ./aliot-factory.db)");
  }
  auto j = std::make_unique<SqliteJournal>(db, path, std::move(clock));
  if (auto r = j->init(); !r) {
    return std::move(r).error();
  }
  return std::unique_ptr<Journal>(std::move(j));
}

} // namespace aliot::factory
