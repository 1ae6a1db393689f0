// Many stations, one pool: the credential pool on a real PostgreSQL server (tests/support/
// pg_server), through the real binary. `aliot pool init` as the owner, `aliot pool import`,
// several `aliot burn --loop` stations (each its own login role in the group `aliot_station`, its
// own journal, its own simulated fixture `aliot emulate switch --units`), kill -9 of stations at
// random points, the server stopped immediately mid-loop and started again. What is checked is
// read back by other clients than aliot's: psql as the superuser for the pool, Python's sqlite3
// for the journals, the simulator's state files for each unit's flash.
#include "journal_support.hpp"
#include "pg_server.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <switch_sim.hpp>
#include <thread>
#include <vector>

using namespace aliot;
using namespace aliot::test;
using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* k_pk = "a1StationPK";
constexpr const char* k_db = "aliot";
constexpr const char* k_owner = "aliot_owner";

std::string mac_of(std::uint64_t seed) {
  return switchsim::identity_from_seed(seed).mac;
}

std::string mac_hex(const std::string& mac) {
  std::string s;
  for (char c : mac) {
    if (c != ':') {
      s += c;
    }
  }
  return s;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) {
      out.push_back(l);
    }
  }
  return out;
}

// What a simulated unit's flash holds ("" when empty).
struct Held {
  std::string pk, dn, ds;
};
Held held_in(const std::string& state_file) {
  auto s = switchsim::load_state(state_file);
  if (!s) {
    return {};
  }
  const auto* slot = switchsim::active_slot(*s);
  if (slot == nullptr) {
    return {};
  }
  return {slot->pk, slot->dn, slot->ds};
}

// The batch CSV of triplets SW-PG-<from>..<from+n-1> (secrets derived from the index).
std::string batch_csv(int from, int n) {
  std::string csv = "ProductKey,DeviceName,DeviceSecret\n";
  for (int i = from; i < from + n; ++i) {
    char line[160];
    std::snprintf(line, sizeof line, "%s,SW-PG-%04d,pgsecret%04d0123456789abcdef012345\n", k_pk, i,
                  i);
    csv += line;
  }
  return csv;
}

// A server with the pool's database, owned by `aliot_owner` (CREATEROLE: it creates the
// stations' group role), set up by `aliot pool init` as that owner.
class PoolServer {
public:
  PoolServer() {
    pg.create_role(k_owner, "CREATEROLE");
    pg.create_database(k_db, k_owner);
    const auto r = run_aliot({"pool", "init", "--pool", owner_uri()});
    EXPECT_EQ(r.status, 0) << "pool init: " << r.out << r.err;
  }
  std::string owner_uri() const { return pg.uri(k_owner, k_db); }
  // A station's login role (in the group aliot_station) and its URI.
  std::string station(const std::string& role) const {
    pg.create_role(role, "IN ROLE aliot_station");
    return pg.uri(role, k_db);
  }
  // Imports `csv` as the owner; returns aliot's result.
  ProcResult import(const TempDir& dir, const std::string& name, const std::string& csv) const {
    const auto file = dir.write(name, csv);
    return run_aliot({"pool", "import", "--pool", owner_uri(), "--csv", file, "-o", "json"});
  }

  // The pool's rows as the superuser sees them: device_name -> (state, mac, secret, station).
  struct Row {
    std::string state, mac, secret, station;
  };
  std::map<std::string, Row> rows() const {
    std::map<std::string, Row> out;
    const auto text = pg.superuser_sql("SELECT device_name, state, coalesce(mac, ''), "
                                       "device_secret, coalesce(station, '') FROM aliot.triplet "
                                       "WHERE product_key = '"
                                           + std::string(k_pk) + "'",
                                       k_db);
    for (const auto& l : lines_of(text)) {
      const auto f = split(l, '|');
      if (f.size() == 5) {
        out[f[0]] = {f[1], f[2], f[3], f[4]};
      } else {
        ADD_FAILURE() << "unexpected row: " << l;
      }
    }
    return out;
  }
  // The binding table: device_name -> (mac, state); each name and each MAC once (the schema's
  // UNIQUE constraints, checked here again from the rows).
  std::map<std::string, std::pair<std::string, std::string>> bindings() const {
    std::map<std::string, std::pair<std::string, std::string>> out;
    std::set<std::string> macs;
    const auto text = pg.superuser_sql("SELECT device_name, mac, state FROM aliot.binding WHERE "
                                       "product_key = '"
                                           + std::string(k_pk) + "'",
                                       k_db);
    for (const auto& l : lines_of(text)) {
      const auto f = split(l, '|');
      if (f.size() != 3) {
        ADD_FAILURE() << "unexpected row: " << l;
        continue;
      }
      EXPECT_TRUE(out.emplace(f[0], std::make_pair(f[1], f[2])).second)
          << "bound twice in the pool: " << f[0];
      EXPECT_TRUE(macs.insert(f[1]).second) << "a unit with two triplets in the pool: " << f[1];
    }
    return out;
  }
  // Per state, how many triplets of k_pk (from the table, as the superuser).
  std::map<std::string, long> counts() const {
    std::map<std::string, long> out;
    for (const auto& [dn, row] : rows()) {
      ++out[row.state];
    }
    return out;
  }

  PgServer pg;
};

// `aliot pool status -o json` summed per state over its objects for k_pk (the per-product
// objects carry the counts; per-station detail is checked where it matters).
std::map<std::string, long> status_counts(const std::string& uri) {
  std::map<std::string, long> out;
  const auto r = run_aliot({"pool", "status", "--pool", uri, "-o", "json"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  for (const auto& l : lines_of(r.out)) {
    const auto j = json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("product_key", "") != k_pk) {
      continue;
    }
    for (const char* s :
         {"available", "reserved", "transmitted", "bound", "failed", "quarantined"}) {
      if (j.contains(s) && j[s].is_number_integer()) {
        out[s] += j[s].get<long>();
      }
    }
  }
  return out;
}

// The journal's bindings: DeviceName -> MAC.
std::map<std::string, std::string> journal_bindings(const std::string& journal) {
  std::map<std::string, std::string> out;
  const auto r = journal_sql(journal, "select device_name, mac from binding");
  EXPECT_EQ(r.status, 0) << r.err;
  for (const auto& line : lines_of(r.out)) {
    // ('SW-PG-0000', '02:..')
    const auto a = line.find('\'');
    const auto b = line.find('\'', a + 1);
    const auto c = line.find('\'', b + 1);
    const auto d = line.find('\'', c + 1);
    out[line.substr(a + 1, b - a - 1)] = line.substr(c + 1, d - c - 1);
  }
  return out;
}

// Points of the flow where ALIOT_TEST_KILL_AT makes `aliot burn` kill itself (SIGKILL).
const std::vector<std::string> k_points = {"job",    "identified", "chosen",   "intent",
                                           "staged", "committed",  "verified", "finished"};

// One station: its login role, journal, fixture (a simulated switch taking its units one after
// another) and the `aliot burn --loop` process, restarted after each kill.
struct Lane {
  std::string name, uri, journal, link, state_dir;
  std::vector<std::uint64_t> seeds;
  std::unique_ptr<Background> fixture, station;
  std::string outputs;    // stdout of every run of the station so far
  std::vector<int> exits; // how each finished run ended
  std::string kill_point; // the current run's ALIOT_TEST_KILL_AT ("" none)
  int external_kills = 0; // SIGKILLs sent by the test
  bool done = false;      // the fixture's units are all through
  std::string last_mac;   // the MAC of the fixture's last unit

  void start_fixture(const TempDir& dir, const std::vector<std::uint64_t>& units, int round) {
    std::string text;
    for (auto s : units) {
      text += json{{"seed", s}}.dump() + "\n";
    }
    last_mac = mac_of(units.back());
    const auto file = dir.write(name + "-units-" + std::to_string(round) + ".jsonl", text);
    fixture = std::make_unique<Background>(std::vector<std::string>{
        aliot_bin(), "emulate", "switch", "--link", link, "--units", file, "--state-dir", state_dir,
        "--boot-ms", "30", "--commit-ms", "10", "--replug-ms", "50", "-v"});
    done = false;
  }
  void start_station(const std::string& point = {}) {
    kill_point = point;
    Env env;
    if (!point.empty()) {
      env["ALIOT_TEST_KILL_AT"] = point;
    }
    station = std::make_unique<Background>(
        std::vector<std::string>{aliot_bin(), "burn", "--port", link, "--pool", uri, "--journal",
                                 journal, "--loop", "-o", "json", "--station", name},
        RunOptions{.env = env});
  }
  // The finished run's output is kept; returns its status.
  int collect(int status) {
    outputs += station->out();
    exits.push_back(status);
    station.reset();
    return status;
  }
  // The MACs this station printed a PASS for, over all its runs (and the current one).
  std::set<std::string> passed() const {
    std::set<std::string> out;
    for (const auto& l : lines_of(outputs + (station ? station->out() : ""))) {
      const auto j = json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("result", "") == "PASS") {
        out.insert(j.value("mac", ""));
      }
    }
    return out;
  }
  // Stops the station between units (SIGINT) and keeps its output; its exit status.
  std::optional<int> stop_station() {
    if (!station) {
      return std::nullopt;
    }
    station->signal(SIGINT);
    const auto st = station->wait(30s);
    if (st) {
      collect(*st);
    }
    return st;
  }
};

// Waits until each station has printed the line of its fixture's last unit, for at most 3 s
// in all (a unit whose station was killed under it prints none: it comes back in a rework round).
void wait_lane_tails(std::vector<Lane>& lanes) {
  const auto until = std::chrono::steady_clock::now() + 3s;
  for (auto& lane : lanes) {
    while (lane.station && lane.station->out().find(lane.last_mac) == std::string::npos
           && std::chrono::steady_clock::now() < until) {
      lane.station->read_line(20ms);
    }
  }
}

std::uint64_t test_seed() {
  if (const char* s = std::getenv("ALIOT_PG_SEED"); s != nullptr && *s != '\0') {
    return std::strtoull(s, nullptr, 10);
  }
  return std::random_device{}();
}

// After everything: every unit's flash, the pool and the journals agree, one triplet per unit
// and one unit per triplet, and the pool's remaining count is exact.
void expect_all_agree(const PoolServer& ps,
                      const std::vector<Lane>& lanes,
                      int pool_size,
                      const std::string& trace) {
  SCOPED_TRACE(trace);
  std::map<std::string, std::string> unit_of_dn; // DeviceName -> MAC, from the flash
  std::map<std::string, Held> held;              // MAC -> flash
  std::map<std::string, std::string> station_of; // MAC -> the station whose fixture it is on
  std::size_t units = 0;
  for (const auto& lane : lanes) {
    for (auto seed : lane.seeds) {
      ++units;
      const auto mac = mac_of(seed);
      const auto h = held_in(lane.state_dir + "/" + mac_hex(mac) + ".json");
      EXPECT_FALSE(h.dn.empty()) << lane.name << ": unit " << mac << " holds nothing";
      EXPECT_EQ(h.pk, k_pk) << mac;
      if (h.dn.empty()) {
        continue;
      }
      const auto [it, fresh] = unit_of_dn.emplace(h.dn, mac);
      EXPECT_TRUE(fresh) << "one triplet in two units: " << h.dn << " in " << it->second << " and "
                         << mac;
      held[mac] = h;
      station_of[mac] = lane.name;
    }
  }
  // the pool (as the superuser reads it): each unit's triplet BOUND to it with the secret the
  // unit holds; nothing else left the pool
  const auto rows = ps.rows();
  EXPECT_EQ(rows.size(), static_cast<std::size_t>(pool_size));
  std::map<std::string, long> states;
  for (const auto& [dn, row] : rows) {
    ++states[row.state];
    const auto u = unit_of_dn.find(dn);
    if (u == unit_of_dn.end()) {
      EXPECT_EQ(row.state, "AVAILABLE") << dn << " is tied to " << row.mac << " but in no unit";
      EXPECT_EQ(row.mac, "") << dn;
      continue;
    }
    EXPECT_EQ(row.state, "BOUND") << dn;
    EXPECT_EQ(row.mac, u->second) << dn;
    EXPECT_EQ(row.station, station_of[u->second]) << dn << ": bound by another station";
    EXPECT_EQ(row.secret, held[u->second].ds) << dn << ": the unit holds another secret";
  }
  EXPECT_EQ(states["BOUND"], static_cast<long>(units));
  EXPECT_EQ(states["AVAILABLE"], pool_size - static_cast<long>(units)) << "remaining count";
  for (const char* s : {"RESERVED", "TRANSMITTED", "FAILED", "QUARANTINED"}) {
    EXPECT_EQ(states[s], 0) << s;
  }
  const auto b = ps.bindings();
  EXPECT_EQ(b.size(), units);
  for (const auto& [dn, mac] : unit_of_dn) {
    ASSERT_TRUE(b.count(dn)) << dn << " not in the pool's bindings";
    EXPECT_EQ(b.at(dn).first, mac) << dn;
    EXPECT_EQ(b.at(dn).second, "BOUND") << dn;
  }
  // `aliot pool status` says the same
  auto st = status_counts(ps.owner_uri());
  EXPECT_EQ(st["available"], pool_size - static_cast<long>(units));
  EXPECT_EQ(st["bound"], static_cast<long>(units));
  // ... per station too: each bound its own units
  const auto r = run_aliot({"pool", "status", "--pool", ps.owner_uri(), "-o", "json"});
  std::map<std::string, long> bound_by;
  for (const auto& l : lines_of(r.out)) {
    const auto j = json::parse(l, nullptr, false);
    if (!j.is_discarded() && j.contains("stations") && j["stations"].is_array()) {
      for (const auto& s : j["stations"]) {
        bound_by[s.value("station", "")] += s.value("bound", 0L);
      }
    }
  }
  for (const auto& lane : lanes) {
    EXPECT_EQ(bound_by[lane.name], static_cast<long>(lane.seeds.size()))
        << lane.name << " in `pool status`: " << r.out;
  }
  // the journals: across all stations each triplet bound once, to the unit that holds it
  std::map<std::string, std::string> journaled;
  std::set<std::string> macs;
  std::vector<std::string> journals = {"journal", "check"};
  for (const auto& lane : lanes) {
    for (const auto& [dn, mac] : journal_bindings(lane.journal)) {
      EXPECT_TRUE(journaled.emplace(dn, mac).second) << "bound in two journals: " << dn;
      EXPECT_TRUE(macs.insert(mac).second) << "a unit bound twice in the journals: " << mac;
    }
    const auto chain = recompute_chain(lane.journal);
    EXPECT_EQ(chain.status, 0) << lane.name << ": " << chain.out;
    journals.push_back(lane.journal);
  }
  EXPECT_EQ(journaled, unit_of_dn);
  const auto check = run_aliot(journals);
  EXPECT_EQ(check.status, 0) << check.out << check.err;
}

// Runs `lanes` over their units against one pool. `chaos` is called every 50 ms with the
// elapsed time while the first round runs (kills, server stops). A station that ends is started
// again (a kill point for it from `next_point`). Then the units that got no PASS come back to
// their own station (a rework round, nothing killed) until every unit has passed.
struct Loop {
  std::function<void(double elapsed_s)> chaos;
  std::function<std::string()> next_point;
  double main_seconds = 0; // the first round's wall time
  std::size_t main_passes = 0;
};

// For a failure message: where each station and its fixture are.
std::string where_lanes_are(const std::vector<Lane>& lanes) {
  auto tail = [](const std::string& s) {
    return s.size() <= 600 ? s : "..." + s.substr(s.size() - 600);
  };
  std::string out;
  for (const auto& l : lanes) {
    out += "== " + l.name + (l.done ? " (done)" : "") + ": " + std::to_string(l.exits.size())
           + " runs ended, " + std::to_string(l.passed().size()) + " units passed\n";
    if (l.fixture) {
      out += "fixture stdout: " + tail(l.fixture->out())
             + "\nfixture stderr: " + tail(l.fixture->err()) + "\n";
    }
    if (l.station) {
      out += "station (ALIOT_TEST_KILL_AT=" + l.kill_point + ") stderr: " + tail(l.station->err())
             + "\nstdout: " + tail(l.station->out()) + "\n";
    }
  }
  return out;
}

void run_lanes(const TempDir& dir, std::vector<Lane>& lanes, Loop& loop) {
  for (auto& lane : lanes) {
    lane.start_fixture(dir, lane.seeds, 0);
  }
  for (auto& lane : lanes) {
    ASSERT_TRUE(lane.fixture->wait_for("switch ready", 30s)) << lane.fixture->err();
    lane.start_station(loop.next_point ? loop.next_point() : "");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + 600s;
  for (int round = 0; round < 4; ++round) {
    while (true) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "the stations did not get through their units (round " << round << ")\n"
          << where_lanes_are(lanes);
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (round == 0 && loop.chaos) {
        loop.chaos(elapsed);
      }
      bool all_done = true;
      for (auto& lane : lanes) {
        if (lane.done) {
          continue;
        }
        if (lane.station) {
          // (a wait of a few ms: Background pumps only while a wait has time left)
          lane.station->read_line(3ms);
          if (auto st = lane.station->wait(0ms)) {
            lane.collect(*st);
          }
        }
        if (lane.fixture->wait_for("units done", 3ms)) {
          lane.done = true;
          continue;
        }
        if (!lane.station) {
          lane.start_station(round == 0 && loop.next_point ? loop.next_point() : "");
        }
        all_done = false;
      }
      if (all_done) {
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    if (round == 0) {
      loop.main_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    // the last unit's line, then a stop between units; what is left comes back
    std::size_t missing = 0;
    wait_lane_tails(lanes);
    for (auto& lane : lanes) {
      if (lane.station) {
        const auto st = lane.stop_station();
        EXPECT_TRUE(st) << lane.name << " did not stop on SIGINT";
        // a run still holding a kill point may have used it on the last unit
        if (st && *st != 128 + SIGKILL) {
          EXPECT_EQ(*st, 0) << lane.name << ": " << lane.exits.size() << " runs";
        }
      }
      lane.fixture->signal(SIGTERM);
      lane.fixture->wait(10s);
    }
    if (round == 0) {
      for (const auto& lane : lanes) {
        loop.main_passes += lane.passed().size();
      }
    }
    for (auto& lane : lanes) {
      const auto passed = lane.passed();
      std::vector<std::uint64_t> again;
      for (auto s : lane.seeds) {
        if (!passed.count(mac_of(s))) {
          again.push_back(s);
        }
      }
      if (again.empty()) {
        continue;
      }
      missing += again.size();
      lane.start_fixture(dir, again, round + 1);
      ASSERT_TRUE(lane.fixture->wait_for("switch ready", 30s)) << lane.fixture->err();
      lane.start_station();
    }
    std::cerr << "round " << round << ": " << missing << " units come back\n";
    if (missing == 0) {
      return;
    }
  }
  ADD_FAILURE() << "units still without a PASS after three rework rounds";
}

} // namespace

// ---- the contract ----

TEST(PgPool, TheStationRoleCannotReadTheSecretsAndCanCallItsFunctions) {
  TempDir dir;
  PoolServer ps;
  ASSERT_EQ(ps.import(dir, "batch.csv", batch_csv(0, 5)).status, 0);
  const auto st = ps.station("st_reader");
  // a station logs in as a role of the group; the group itself cannot log in
  EXPECT_EQ(ps.pg.superuser_sql("SELECT rolcanlogin FROM pg_roles WHERE rolname = "
                                "'aliot_station'"),
            "f\n");
  for (const char* sql : {"SELECT device_secret FROM aliot.triplet", "SELECT * FROM aliot.triplet",
                          "SELECT * FROM aliot.binding", "SELECT * FROM aliot.batch",
                          "UPDATE aliot.triplet SET state = 'AVAILABLE'",
                          "DELETE FROM aliot.binding", "TRUNCATE aliot.triplet"}) {
    const auto r = ps.pg.psql(sql, k_db, "st_reader");
    EXPECT_NE(r.status, 0) << sql << " as a station: " << r.out;
    EXPECT_NE(r.err.find("permission denied"), std::string::npos) << sql << ": " << r.err;
    EXPECT_EQ(r.out.find("pgsecret"), std::string::npos) << sql;
  }
  // no privilege of any kind on any table of the pool's schema
  const auto tables = lines_of(ps.pg.superuser_sql(
      "SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'aliot' AND c.relkind IN ('r', 'v', 'm', 'p', 'S')",
      k_db));
  EXPECT_FALSE(tables.empty());
  for (const auto& t : tables) {
    for (const char* priv : {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES"}) {
      if (t.find("_seq") != std::string::npos
          && std::string(priv) != "SELECT") { // sequences know SELECT, UPDATE, USAGE only
        continue;
      }
      const auto q = t.find("_seq") != std::string::npos
                         ? "SELECT has_sequence_privilege('st_reader', '" + t + "', '" + priv + "')"
                         : "SELECT has_table_privilege('st_reader', '" + t + "', '" + priv + "')";
      EXPECT_EQ(ps.pg.superuser_sql(q, k_db), "f\n") << priv << " on " << t;
    }
  }
  // the functions it can call: all in the pool's schema, none of them the owner's
  const auto callable = lines_of(ps.pg.superuser_sql(
      "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
      "WHERE n.nspname = 'aliot' AND has_function_privilege('st_reader', p.oid, 'EXECUTE') "
      "ORDER BY 1",
      k_db));
  const std::set<std::string> got(callable.begin(), callable.end());
  EXPECT_TRUE(got.count("reserve")) << ::testing::PrintToString(callable);
  EXPECT_TRUE(got.count("status")) << ::testing::PrintToString(callable);
  for (const auto& f : got) {
    EXPECT_EQ(f.find("import"), std::string::npos) << "a station may import: " << f;
    EXPECT_EQ(f.find("init"), std::string::npos) << "a station may init: " << f;
  }
  // ... and they work for it: its status, and a reservation (a secret only through reserve)
  auto r = ps.pg.psql("SELECT count(*) FROM aliot.status()", k_db, "st_reader");
  EXPECT_EQ(r.status, 0) << r.err;
  r = ps.pg.psql("SELECT device_name, state FROM aliot.reserve('a1StationPK', "
                 "'02:00:00:00:00:01', 'job-psql-1')",
                 k_db, "st_reader");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "SW-PG-0000|RESERVED\n");
  EXPECT_EQ(ps.rows().at("SW-PG-0000").station, "st_reader");
  // through aliot: the station's status works, and import as a station is refused
  const auto s = run_aliot({"pool", "status", "--pool", st, "-o", "json"});
  EXPECT_EQ(s.status, 0) << s.err;
  const auto other = dir.write("other.csv", batch_csv(100, 3));
  const auto imp = run_aliot({"pool", "import", "--pool", st, "--csv", other});
  EXPECT_NE(imp.status, 0) << imp.out;
  EXPECT_EQ(ps.rows().size(), 5U);
}

TEST(PgPool, TheSameBatchImportedByTwoStationsTheSecondIsRefused) {
  TempDir dir;
  PoolServer ps;
  const auto csv = batch_csv(0, 20);
  // the first station imports over TCP; the second over the socket, the same file
  const auto file = dir.write("batch.csv", csv);
  auto r = run_aliot({"pool", "import", "--pool", ps.owner_uri(), "--csv", file, "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["imported"], 20);
  r = run_aliot({"pool", "import", "--pool", ps.pg.socket_uri(k_owner, k_db), "--csv", file});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("aliot: error: "), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("pgsecret"), std::string::npos) << "a secret in a message: " << r.err;
  // the same rows in another file (another SHA-256): refused for the DeviceNames
  r = ps.import(dir, "copy.csv", csv + "\n");
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("SW-PG-00"), std::string::npos) << r.err;
  // one overlapping name in an otherwise new batch: all refused, nothing of it imported
  r = ps.import(dir, "overlap.csv", batch_csv(19, 10));
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("SW-PG-0019"), std::string::npos) << r.err;
  auto rows = ps.rows();
  EXPECT_EQ(rows.size(), 20U);
  EXPECT_FALSE(rows.count("SW-PG-0020"));
  // a new batch goes in
  r = ps.import(dir, "next.csv", batch_csv(20, 10));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ps.rows().size(), 30U);
  EXPECT_EQ(status_counts(ps.owner_uri())["available"], 30);
  EXPECT_EQ(ps.pg.superuser_sql("SELECT count(*) FROM aliot.batch", k_db), "2\n");
}

// ---- 8 stations, one pool, kill -9 at random points ----

TEST(PgPool, EightStationsKilledAtRandomPointsNeverBurnATripletTwice) {
  // 8 stations x 50 units, as the issue asks, against a pool of 500 rather than its 300 (which
  // 400 units would exhaust): the 100 left over make the remaining count a check.
  constexpr int k_stations = 8;
  constexpr int k_units = 50;
  constexpr int k_pool = 500;
  const auto seed = test_seed();
  std::cerr << "ALIOT_PG_SEED=" << seed << " (set it to replay this run's kills)\n";
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);

  TempDir dir;
  PoolServer ps;
  const auto imp = ps.import(dir, "batch.csv", batch_csv(0, k_pool));
  ASSERT_EQ(imp.status, 0) << imp.err;

  std::vector<Lane> lanes(k_stations);
  for (int i = 0; i < k_stations; ++i) {
    auto& l = lanes[i];
    l.name = "st" + std::to_string(i + 1);
    l.uri = ps.station(l.name);
    l.journal = dir.file(l.name + ".db");
    l.link = dir.file(l.name + "-fixture");
    l.state_dir = dir.file(l.name + "-flash");
    for (int u = 0; u < k_units; ++u) {
      l.seeds.push_back(static_cast<std::uint64_t>(10000 * (i + 1) + u));
    }
  }
  // Kills: each run of a station has one chance in three to carry a kill point (it kills itself
  // with SIGKILL when its unit reaches it), and the test sends SIGKILL to a random running
  // station at random moments; at most 3 of each per station.
  std::map<std::string, int> point_kills;
  Loop loop;
  loop.next_point = [&]() -> std::string {
    if (std::uniform_int_distribution<int>(0, 2)(rng) != 0) {
      return {};
    }
    const auto& p =
        k_points[std::uniform_int_distribution<std::size_t>(0, k_points.size() - 1)(rng)];
    ++point_kills[p];
    return p;
  };
  double next_kill = std::uniform_real_distribution<double>(1, 4)(rng);
  int external = 0;
  loop.chaos = [&](double elapsed) {
    if (elapsed < next_kill) {
      return;
    }
    next_kill = elapsed + std::uniform_real_distribution<double>(0.5, 3)(rng);
    auto& lane = lanes[std::uniform_int_distribution<int>(0, k_stations - 1)(rng)];
    if (lane.done || !lane.station || lane.external_kills >= 3) {
      return;
    }
    lane.station->signal(SIGKILL);
    ++lane.external_kills;
    ++external;
  };
  run_lanes(dir, lanes, loop);

  int killed = 0;
  for (const auto& lane : lanes) {
    for (int st : lane.exits) {
      EXPECT_TRUE(st == 0 || st == 128 + SIGKILL) << lane.name << " ended with " << st;
      killed += st == 128 + SIGKILL ? 1 : 0;
    }
  }
  std::string points;
  for (const auto& [p, n] : point_kills) {
    points += " " + p + "=" + std::to_string(n);
  }
  const double per_min = loop.main_seconds > 0 ? loop.main_passes * 60.0 / loop.main_seconds : 0;
  std::cerr << "seed " << seed << ": " << killed << " stations killed (" << external
            << " by the test; kill points armed:" << points << "); first round " << loop.main_passes
            << " units passed in " << loop.main_seconds << " s = " << per_min << " units/min\n";
  RecordProperty("units_per_min", std::to_string(per_min));
  EXPECT_GT(killed, 0) << "no station was killed: the test tested nothing";
  expect_all_agree(ps, lanes, k_pool, "seed " + std::to_string(seed));
}

// ---- the server stopped immediately mid-loop, then started again ----

TEST(PgPool, TheServerKilledMidLoopAndRestartedLosesNothingAndTheLoopResumes) {
  constexpr int k_stations = 4;
  constexpr int k_units = 15;
  constexpr int k_pool = 100;
  TempDir dir;
  PoolServer ps;
  ASSERT_EQ(ps.import(dir, "batch.csv", batch_csv(0, k_pool)).status, 0);
  std::vector<Lane> lanes(k_stations);
  for (int i = 0; i < k_stations; ++i) {
    auto& l = lanes[i];
    l.name = "down" + std::to_string(i + 1);
    l.uri = ps.station(l.name);
    l.journal = dir.file(l.name + ".db");
    l.link = dir.file(l.name + "-fixture");
    l.state_dir = dir.file(l.name + "-flash");
    for (int u = 0; u < k_units; ++u) {
      l.seeds.push_back(static_cast<std::uint64_t>(20000 + 100 * i + u));
    }
  }
  // Once a few units have passed, the server goes down (immediate: every connection cut, no
  // checkpoint) for two seconds, then comes back.
  enum { before, down, up } phase = before;
  double down_at = 0;
  std::size_t passed_before = 0;
  Loop loop;
  loop.chaos = [&](double elapsed) {
    if (phase == before) {
      std::size_t n = 0;
      for (const auto& l : lanes) {
        n += l.passed().size();
      }
      if (n >= 6) {
        passed_before = n;
        const auto r = ps.pg.kill_immediate();
        ASSERT_EQ(r.status, 0) << r.err;
        phase = down;
        down_at = elapsed;
      }
    } else if (phase == down && elapsed > down_at + 2) {
      const auto r = ps.pg.start();
      ASSERT_EQ(r.status, 0) << r.err << ps.pg.log_tail();
      phase = up;
    }
  };
  run_lanes(dir, lanes, loop);
  ASSERT_EQ(phase, up) << "the server was never stopped";
  // the loop resumed: no station ended while the server was away, and units passed after
  std::size_t fails = 0;
  for (const auto& lane : lanes) {
    for (int st : lane.exits) {
      EXPECT_EQ(st, 0) << lane.name << ": a station ended (" << st << "); its output:\n"
                       << lane.outputs;
    }
    for (const auto& l : lines_of(lane.outputs)) {
      const auto j = json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("result", "") == "FAIL") {
        ++fails;
        // the server away: the unit fails as a network failure (exit 5)
        EXPECT_EQ(j.value("exit_status", 0), 5) << l;
      }
    }
  }
  EXPECT_GT(loop.main_passes, passed_before) << "no unit passed after the server came back";
  std::cerr << "server down for 2 s after " << passed_before << " units: " << fails
            << " units failed meanwhile, " << loop.main_passes << " passed in the first round\n";
  expect_all_agree(ps, lanes, k_pool, "server restarted");
}
