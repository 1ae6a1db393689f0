// The credential pool on PostgreSQL (see pg_pool.hpp): the station's calls, import, counts.
#include "factory/pg/pg_pool.hpp"

#include "factory/import.hpp"
#include "factory/pg/schema.hpp"
#include "factory/sqlite_pool.hpp"

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/factory/pool_server.hpp>
#include <aliot/serial/codec.hpp>
#include <aliot/serial/dialect.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

namespace aliot::factory::detail {

namespace {

constexpr std::size_t k_max_import = 64U * 1024U * 1024U;
const char* const k_hint_init = "create the pool first: aliot pool init --pool URI (as its owner)";

std::string col(const pg::Row& r, std::size_t i) {
  return i < r.size() && r[i] ? *r[i] : std::string();
}

PoolEntry entry_of_row(const pg::Row& r) {
  PoolEntry e;
  e.product_key = col(r, 0);
  e.device_name = col(r, 1);
  e.device_secret = Secret(col(r, 2));
  e.product_secret = Secret(col(r, 3));
  e.fp = col(r, 4);
  e.state = state_of(col(r, 5));
  e.mac = col(r, 6);
  e.job_id = col(r, 7);
  e.issued = col(r, 8) == "t";
  return e;
}

// A text[] literal: every element quoted, '"' and '\' escaped.
std::string array_of(const std::vector<std::string>& v) {
  std::string out = "{";
  for (std::size_t i = 0; i < v.size(); ++i) {
    out += i == 0 ? "\"" : ",\"";
    for (char c : v[i]) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

void wipe(std::string& s) {
  std::fill(s.begin(), s.end(), '\0');
}

} // namespace

PgPool::PgPool(const pg::Api* api, std::string uri)
    : m_api(api)
    , m_uri(std::move(uri))
    , m_shown(redact_uri(m_uri)) {}

Result<std::unique_ptr<PgPool>> PgPool::open(const std::string& uri, WallClock /*clock*/) {
  ALIOT_TRY_ASSIGN(auto api, pg::api());
  std::unique_ptr<PgPool> p(new PgPool(api, uri));
  ALIOT_TRY(p->connect());
  // A database without the pool is named as such (not "function does not exist").
  ALIOT_TRY_ASSIGN(auto r, p->call("SELECT to_regprocedure('aliot.reserve(text,text,text)') IS "
                                   "NOT NULL",
                                   {}));
  if (r.rows.empty() || col(r.rows.front(), 0) != "t") {
    return Error(Errc::config,
                 "credential pool " + p->m_shown + ": the database holds no aliot "
                     + "pool (or this role may not use it)",
                 k_hint_init);
  }
  return p;
}

Result<void> PgPool::connect() {
  // Back-off: a server restarting takes a moment to accept again.
  static constexpr int k_waits_ms[] = {0, 250, 1000};
  std::string why;
  for (int wait : k_waits_ms) {
    if (wait > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));
    }
    auto c = m_api->connect(m_uri);
    if (c) {
      m_conn = std::move(*c);
      ++m_round_trips;
      // Reservations whose answer was lost with the last connection: the secret never reached
      // this station, so nothing of them was sent.
      auto jobs = std::exchange(m_lost_jobs, {});
      for (const auto& job : jobs) {
        auto r = m_conn->exec("SELECT aliot.release_job($1)", {job});
        ++m_round_trips;
        if (!r.ok) {
          m_lost_jobs.push_back(job); // the next connection tries again
        }
      }
      return ok();
    }
    if (c.error().code() == Errc::auth) {
      return Error(Errc::auth, "credential pool " + m_shown + ": " + c.error().message(),
                   "check the role and its password (~/.pgpass or PGPASSWORD)");
    }
    why = c.error().message();
  }
  return lost(why);
}

Error PgPool::lost(const std::string& why) const {
  return Error(Errc::network,
               "credential pool " + m_shown + ": the server cannot be reached: " + why,
               "nothing was sent to a unit without its triplet; the station goes on when the "
               "server is back");
}

Result<pg::Reply>
PgPool::call(const std::string& sql, const std::vector<pg::Param>& params, bool retry) {
  for (int attempt = 0;; ++attempt) {
    if (!m_conn || !m_conn->alive()) {
      m_conn.reset();
      ALIOT_TRY(connect());
    }
    auto r = m_conn->exec(sql, params);
    ++m_round_trips;
    if (r.ok) {
      return r;
    }
    // No SQLSTATE: libpq's own error (the server closed the connection, a broken socket).
    const bool gone = r.connection_lost || r.sqlstate.empty() || r.sqlstate.rfind("08", 0) == 0
                      || r.sqlstate == "57P01" || r.sqlstate == "57P02" || r.sqlstate == "57P03";
    if (!gone) {
      return error_of(r);
    }
    m_conn.reset();
    if (!retry || attempt > 0) {
      return lost("the connection was lost: " + r.message);
    }
  }
}

Error PgPool::error_of(const pg::Reply& r) const {
  const std::string where = "credential pool " + m_shown + ": ";
  const auto& s = r.sqlstate;
  if (s == pg::k_never_reserved) {
    return Error(Errc::internal, where + r.message);
  }
  if (s == pg::k_no_free) {
    return Error(Errc::config, "the pool " + m_shown + " has " + r.message,
                 "import more: aliot pool import --pool URI --csv FILE");
  }
  if (s == pg::k_unit_state) {
    return Error(Errc::device, where + r.message, r.hint);
  }
  if (s == pg::k_refused) {
    return Error(Errc::usage, where + r.message, r.hint);
  }
  if (s == "23505") {
    return Error(Errc::usage, where + "refused by the server: " + r.message,
                 "never one triplet in two units: nothing was changed");
  }
  if (s == "42501") {
    return Error(Errc::config, where + "the role may not do this: " + r.message,
                 "a station's role calls the pool's functions only; import and init are the "
                 "owner's (docs/station.md, Several stations)");
  }
  if (s == "42883" || s == "42P01" || s == "3F000") {
    return Error(Errc::config, where + "the database holds no aliot pool: " + r.message,
                 k_hint_init);
  }
  if (s.rfind("28", 0) == 0) {
    return Error(Errc::auth, where + r.message);
  }
  return Error(Errc::io, where + r.message + (s.empty() ? "" : " (SQLSTATE " + s + ")"));
}

Result<PoolEntry> PgPool::one_entry(const pg::Reply& r) const {
  if (r.rows.size() != 1 || r.rows.front().size() < 9) {
    return Error(Errc::internal, "credential pool " + m_shown + ": unexpected answer");
  }
  return entry_of_row(r.rows.front());
}

Result<std::optional<PoolEntry>> PgPool::tied_to(const std::string& pk, const std::string& mac) {
  ALIOT_TRY_ASSIGN(auto r, call("SELECT * FROM aliot.tied_to($1,$2)", {pk, mac}));
  if (r.rows.empty()) {
    return std::optional<PoolEntry>();
  }
  return std::optional<PoolEntry>(entry_of_row(r.rows.front()));
}

Result<PoolEntry>
PgPool::reserve(const std::string& pk, const std::string& mac, const std::string& job) {
  if (mac.empty()) {
    return Error(Errc::internal, "credential pool: reserve without a MAC");
  }
  std::vector<std::string> set_aside;
  for (;;) {
    auto r = call("SELECT * FROM aliot.reserve($1,$2,$3)", {pk, mac, job});
    if (!r) {
      if (r.error().code() == Errc::network) {
        m_lost_jobs.push_back(job); // it may hold a row: released on the next connection
      }
      if (r.error().code() == Errc::config && !set_aside.empty()) {
        return Error(Errc::config,
                     r.error().message() + " (" + std::to_string(set_aside.size())
                         + " damaged triplets set aside as QUARANTINED on the way)",
                     r.error().hint());
      }
      return std::move(r).error();
    }
    ALIOT_TRY_ASSIGN(auto e, one_entry(*r));
    const bool fresh = col(r->rows.front(), 9) == "t";
    for (auto& row : r->rows) {
      for (auto& v : row) {
        if (v) {
          wipe(*v);
        }
      }
    }
    if (fingerprint_holds(e)) {
      e.set_aside = std::move(set_aside);
      return e;
    }
    const bool tied_before = !fresh;
    // A row whose secret no longer gives its fingerprint is never sent: set aside.
    ALIOT_TRY(move("set_aside", pk, e.device_name, job,
                   tied_before ? std::nullopt : std::optional<std::string>("untie")));
    if (tied_before) {
      return Error(Errc::device,
                   "the unit " + mac + " is tied to the triplet " + e.device_name + " of " + pk
                       + ", whose stored secret no longer matches its fingerprint (the pool "
                         "was edited or is damaged): it is now QUARANTINED",
                   "restore the triplet from its batch on the server; nothing was sent");
    }
    set_aside.push_back(e.device_name);
  }
}

Result<PoolEntry> PgPool::record_issued(const std::string& pk,
                                        const std::string& dn,
                                        const Secret& ds,
                                        const Secret& ps,
                                        const std::string& mac,
                                        const std::string& job) {
  if (auto v = serial::validate_credentials({pk, dn, ds, ps}); !v) {
    return Error(Errc::usage, "the issued credentials of " + dn + ": " + v.error().message());
  }
  if (mac.empty()) {
    return Error(Errc::internal, "credential pool: an issued secret without a MAC");
  }
  ALIOT_TRY_ASSIGN(auto fp, serial::fingerprint(pk, dn, ds, ps));
  ALIOT_TRY_ASSIGN(auto r, call("SELECT * FROM aliot.record_issued($1,$2,$3,$4,$5,$6,$7)",
                                {pk, dn, ds.reveal(), ps.reveal(), fp, mac, job}));
  return one_entry(r);
}

Result<std::string> PgPool::move(const char* fn,
                                 const std::string& pk,
                                 const std::string& dn,
                                 const std::string& job,
                                 const std::optional<std::string>& jmac) {
  std::string sql = std::string("SELECT aliot.") + fn + "($1,$2,$3";
  std::vector<pg::Param> params{pk, dn, job};
  if (std::strcmp(fn, "set_aside") == 0) {
    sql += ",$4)";
    params.emplace_back(jmac ? "true" : "false");
  } else if (std::strcmp(fn, "mark_failed") == 0 || std::strcmp(fn, "release") == 0) {
    sql += ",$4)";
    params.push_back(jmac);
  } else {
    sql += ")";
  }
  ALIOT_TRY_ASSIGN(auto r, call(sql, params));
  return r.rows.empty() ? std::string() : col(r.rows.front(), 0);
}

Result<void>
PgPool::mark_transmitted(const std::string& pk, const std::string& dn, const std::string& job) {
  ALIOT_TRY(move("mark_transmitted", pk, dn, job, std::nullopt));
  return ok();
}

Result<void>
PgPool::mark_bound(const std::string& pk, const std::string& dn, const std::string& job) {
  ALIOT_TRY(move("bind", pk, dn, job, std::nullopt));
  return ok();
}

Result<void> PgPool::mark_failed(const std::string& pk,
                                 const std::string& dn,
                                 const std::string& job,
                                 Journal* journal) {
  std::optional<std::string> jm;
  if (journal != nullptr) {
    ALIOT_TRY_ASSIGN(jm, journal->bound_mac(pk, dn));
  }
  ALIOT_TRY(move("mark_failed", pk, dn, job, jm));
  return ok();
}

Result<void> PgPool::release(const std::string& pk,
                             const std::string& dn,
                             const std::string& job,
                             Journal* journal) {
  std::optional<std::string> jm;
  if (journal != nullptr) {
    ALIOT_TRY_ASSIGN(jm, journal->bound_mac(pk, dn));
  }
  ALIOT_TRY_ASSIGN(auto now, move("release", pk, dn, job, jm));
  if (jm) {
    return Error(Errc::usage, "the triplet " + dn + " has a write intent in the journal (unit "
                                  + *jm + "): it is not released (now " + now + ")");
  }
  return ok();
}

Result<Reconciled> PgPool::reconcile(Journal& journal) {
  ALIOT_TRY_ASSIGN(auto r, call("SELECT * FROM aliot.my_reserved()", {}));
  Reconciled rec;
  for (const auto& row : r.rows) {
    const auto e = entry_of_row(row);
    ALIOT_TRY_ASSIGN(auto jm, journal.bound_mac(e.product_key, e.device_name));
    if (jm) {
      ALIOT_TRY_ASSIGN(auto now, move("release", e.product_key, e.device_name, e.job_id, jm));
      ++(now == "QUARANTINED" ? rec.quarantined : rec.transmitted);
      continue;
    }
    if (e.issued) {
      continue; // an issued secret stays its unit's
    }
    ALIOT_TRY_ASSIGN(const bool mine, journal.has_job(e.job_id));
    if (!mine) {
      ++rec.others; // another station's journal under the same role: left to it
      continue;
    }
    ALIOT_TRY(move("release", e.product_key, e.device_name, e.job_id, std::nullopt));
    ++rec.released;
  }
  return rec;
}

Result<std::vector<PoolCounts>> PgPool::status() {
  ALIOT_TRY_ASSIGN(auto r, call("SELECT * FROM aliot.status()", {}));
  std::vector<PoolCounts> out;
  for (const auto& row : r.rows) {
    const auto pk = col(row, 0);
    const auto station = col(row, 1);
    const auto state = state_of(col(row, 2));
    const long long n = std::stoll(col(row, 3).empty() ? "0" : col(row, 3));
    const auto oldest = col(row, 4);
    if (out.empty() || out.back().product_key != pk) {
      out.push_back(PoolCounts{pk});
    }
    auto& c = out.back();
    auto add = [&](auto& counts) {
      switch (state) {
      case PoolState::available: break;
      case PoolState::reserved: counts.reserved += n; break;
      case PoolState::transmitted: counts.transmitted += n; break;
      case PoolState::bound: counts.bound += n; break;
      case PoolState::failed: counts.failed += n; break;
      case PoolState::quarantined: counts.quarantined += n; break;
      }
    };
    add(c);
    if (state == PoolState::available) {
      c.available += n;
    }
    if (!oldest.empty() && (c.oldest_reserved.empty() || oldest < c.oldest_reserved)) {
      c.oldest_reserved = oldest;
    }
    if (!station.empty()) {
      auto it = std::find_if(c.stations.begin(), c.stations.end(),
                             [&](const StationCounts& s) { return s.station == station; });
      if (it == c.stations.end()) {
        c.stations.push_back(StationCounts{station});
        it = std::prev(c.stations.end());
      }
      add(*it);
      if (!oldest.empty() && (it->oldest_reserved.empty() || oldest < it->oldest_reserved)) {
        it->oldest_reserved = oldest;
      }
    }
  }
  return out;
}

Result<PoolCheck> PgPool::check() {
  PoolCheck out;
  // The secrets are the owner's to read: a station's role cannot, and has nothing to check.
  auto r = call("SELECT product_key,device_name,device_secret,product_secret,fp,state,mac,job_id,"
                "issued FROM aliot.triplet WHERE state<>'QUARANTINED' ORDER BY triplet_id",
                {});
  if (!r) {
    if (r.error().code() == Errc::config) {
      return out;
    }
    return std::move(r).error();
  }
  for (auto& row : r->rows) {
    const auto e = entry_of_row(row);
    if (!fingerprint_holds(e)) {
      out.damaged.push_back({e.product_key, e.device_name, pool_state_name(e.state)});
    }
    for (auto& v : row) {
      if (v) {
        wipe(*v);
      }
    }
  }
  return out;
}

Result<std::vector<PoolEntry>> PgPool::rows(PoolState state) {
  ALIOT_TRY_ASSIGN(auto r, call("SELECT product_key,device_name,device_secret,product_secret,fp,"
                                "state,mac,job_id,issued FROM aliot.triplet WHERE state=$1 ORDER "
                                "BY triplet_id",
                                {std::string(pool_state_name(state))}));
  std::vector<PoolEntry> out;
  out.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    out.push_back(entry_of_row(row));
  }
  return out;
}

Result<ImportReport> PgPool::import_file(const std::string& file, const ImportOptions& opts) {
  ALIOT_TRY_ASSIGN(auto text,
                   config::read_bounded(file, k_max_import, "pool import file " + file, Errc::io));
  auto r = import_text(text, file, opts);
  wipe(text);
  return r;
}

Result<ImportReport>
PgPool::import_text(std::string_view text, const std::string& origin, const ImportOptions& opts) {
  ALIOT_TRY_ASSIGN(auto parsed, parse_import(text, origin, opts.product_key));
  ImportReport rep;
  rep.format = parsed.format;
  rep.sha256 = crypto::sha256_hex(text);
  std::vector<std::string> pks, dns, dss, pss, fps;
  for (const auto& row : parsed.rows) {
    if (opts.journal != nullptr) {
      ALIOT_TRY_ASSIGN(auto mac, opts.journal->bound_mac(row.product_key, row.device_name));
      if (mac) {
        return Error(Errc::usage,
                     origin + " line " + std::to_string(row.line) + ": DeviceName "
                         + row.device_name + " is already bound to the unit " + *mac
                         + " in the journal",
                     "nothing was imported: remove the row");
      }
    }
    ALIOT_TRY_ASSIGN(auto fp, serial::fingerprint(row.product_key, row.device_name,
                                                  row.device_secret, row.product_secret));
    pks.push_back(row.product_key);
    dns.push_back(row.device_name);
    dss.push_back(row.device_secret.reveal());
    pss.push_back(row.product_secret.reveal());
    fps.push_back(std::move(fp));
  }
  std::string ds_array = array_of(dss);
  std::string ps_array = array_of(pss);
  for (auto& s : dss) {
    wipe(s);
  }
  for (auto& s : pss) {
    wipe(s);
  }
  // One server transaction on one connection: no retry inside it.
  auto run = [&]() -> Result<void> {
    ALIOT_TRY(call("BEGIN", {}, false));
    {
      ALIOT_TRY_ASSIGN(auto r, call("SELECT origin, imported_by, to_char(imported_at AT TIME ZONE "
                                    "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM aliot.batch "
                                    "WHERE sha256=$1",
                                    {rep.sha256}, false));
      if (!r.rows.empty()) {
        const auto& b = r.rows.front();
        return Error(Errc::usage,
                     origin + ": this batch (SHA-256 " + rep.sha256 + ") was already imported "
                         + "into the pool " + m_shown + " (" + col(b, 0) + ", by " + col(b, 1)
                         + " at " + col(b, 2) + ")",
                     "nothing was imported: a batch is imported once, whichever station");
      }
    }
    {
      ALIOT_TRY_ASSIGN(auto r,
                       call("SELECT d.ord, t.device_name, t.product_key, t.state FROM "
                            "unnest($1::text[], $2::text[]) WITH ORDINALITY AS d(pk, dn, ord) "
                            "JOIN aliot.triplet t ON t.product_key = d.pk AND t.device_name = "
                            "d.dn ORDER BY d.ord LIMIT 1",
                            {array_of(pks), array_of(dns)}, false));
      if (!r.rows.empty()) {
        const auto& d = r.rows.front();
        const auto i = static_cast<std::size_t>(std::stoul(col(d, 0)) - 1);
        return Error(Errc::usage,
                     origin + " line " + std::to_string(parsed.rows.at(i).line) + ": DeviceName "
                         + col(d, 1) + " of " + col(d, 2) + " is already in the pool (" + col(d, 3)
                         + ")",
                     "nothing was imported: remove the row");
      }
    }
    ALIOT_TRY_ASSIGN(
        auto b, call("INSERT INTO aliot.batch(sha256, origin, format, rows) VALUES "
                     "($1, $2, $3, $4) RETURNING batch_id",
                     {rep.sha256, origin, rep.format, std::to_string(parsed.rows.size())}, false));
    ALIOT_TRY(call(
        "INSERT INTO aliot.triplet(product_key, device_name, device_secret, "
        "product_secret, fp, batch_id) SELECT pk, dn, ds, ps, fp, $6 FROM "
        "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS "
        "u(pk, dn, ds, ps, fp)",
        {array_of(pks), array_of(dns), ds_array, ps_array, array_of(fps), col(b.rows.front(), 0)},
        false));
    ALIOT_TRY(call("COMMIT", {}, false));
    return ok();
  };
  auto done = run();
  wipe(ds_array);
  wipe(ps_array);
  if (!done) {
    if (m_conn && m_conn->alive()) {
      m_conn->exec("ROLLBACK", {});
    }
    auto e = std::move(done).error();
    if (e.code() == Errc::usage && e.message().find("refused by the server") != std::string::npos) {
      // Another station's import of the same batch or rows got there first.
      return Error(Errc::usage, e.message(),
                   "nothing was imported: the batch or one of its DeviceNames is already in the "
                   "pool");
    }
    return e;
  }
  rep.rows = parsed.rows.size();
  ALIOT_TRY_ASSIGN(rep.products, status());
  return rep;
}

Result<std::unique_ptr<Pool>> open_server_pool(const std::string& uri, WallClock clock) {
  ALIOT_TRY_ASSIGN(auto p, PgPool::open(uri, std::move(clock)));
  return std::unique_ptr<Pool>(std::move(p));
}

} // namespace aliot::factory::detail
