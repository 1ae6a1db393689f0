// The factory station end to end, over real pseudo-terminals: `aliot emulate switch` units,
// `aliot burn --pool / --register / --loop`, the real SQLite journal and pool, and for
// registration the platform emulator (`aliot emulate cloud`). Crashes are real: `aliot burn` kills
// itself with SIGKILL at a named point of the flow (ALIOT_TEST_KILL_AT), then a new run recovers.
#include "emulator.hpp"
#include "journal_support.hpp"
#include "support.hpp"

#include <aliot/factory.hpp>
#include <aliot/factory/pool.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <switch_sim.hpp>
#include <thread>

using namespace aliot;
using namespace aliot::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_pk = "a1StationPK";
constexpr const char* k_ps = "StationProductSecret0123456789ab";

Env merge(Env a, const Env& b) {
  for (const auto& [k, v] : b) {
    a[k] = v;
  }
  return a;
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

std::string mac_of(std::uint64_t seed) {
  return switchsim::identity_from_seed(seed).mac;
}

// A pool of `n` triplets SW-POOL-000.. (secrets derived from the index), imported through lib.
std::string make_pool(const TempDir& dir, int n, const std::string& name = "pool.db") {
  std::string csv = "ProductKey,DeviceName,DeviceSecret\n";
  for (int i = 0; i < n; ++i) {
    char dn[48];
    std::snprintf(dn, sizeof dn, "SW-POOL-%03d", i);
    char ds[64];
    std::snprintf(ds, sizeof ds, "poolsecret%03d0123456789abcdef0123", i);
    csv += std::string(k_pk) + "," + dn + "," + ds + "\n";
  }
  const auto path = dir.file(name);
  auto pool = factory::Pool::open(path);
  EXPECT_TRUE(pool) << (pool ? "" : pool.error().message());
  if (pool) {
    auto r = (*pool)->import_text(csv, "test pool", {});
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
  }
  return path;
}

struct Unit {
  std::unique_ptr<Background> proc;
  std::string link;
  Unit(const TempDir& dir,
       const std::string& name,
       std::vector<std::string> extra,
       const std::string& ready = "switch ready") {
    link = dir.file(name);
    std::vector<std::string> argv = {aliot_bin(), "emulate", "switch",      "--link", link,
                                     "--boot-ms", "30",      "--commit-ms", "10"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Background>(argv);
    EXPECT_TRUE(proc->wait_for(ready, 10s)) << proc->err();
  }
  ~Unit() {
    proc->signal(SIGTERM);
    proc->wait(5s);
  }
  Unit(const Unit&) = delete;
  Unit& operator=(const Unit&) = delete;
};

// What the simulated unit holds (pk, dn, ds), "" when empty.
struct Held {
  std::string pk, dn, ds;
  bool empty() const { return dn.empty(); }
};
Held held_in(const std::string& state_file) {
  auto s = switchsim::load_state(state_file);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  if (!s) {
    return {};
  }
  const auto* slot = switchsim::active_slot(*s);
  if (slot == nullptr) {
    return {};
  }
  return {slot->pk, slot->dn, slot->ds};
}

// Every row of the pool, by DeviceName.
std::map<std::string, factory::PoolEntry> pool_rows(const std::string& path) {
  std::map<std::string, factory::PoolEntry> out;
  auto pool = factory::Pool::open(path);
  EXPECT_TRUE(pool) << (pool ? "" : pool.error().message());
  if (!pool) {
    return out;
  }
  for (auto st : {factory::PoolState::available, factory::PoolState::reserved,
                  factory::PoolState::transmitted, factory::PoolState::bound,
                  factory::PoolState::failed, factory::PoolState::quarantined}) {
    auto rows = (*pool)->rows(st);
    EXPECT_TRUE(rows) << (rows ? "" : rows.error().message());
    if (rows) {
      for (auto& r : *rows) {
        out.emplace(r.device_name, std::move(r));
      }
    }
  }
  return out;
}

// The journal's bindings: DeviceName -> MAC (and each MAC at most once, each name at most once).
std::map<std::string, std::string> bindings_of(const std::string& journal) {
  std::map<std::string, std::string> out;
  const auto r = journal_sql(journal, "select device_name, mac from binding");
  EXPECT_EQ(r.status, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::set<std::string> macs;
  while (std::getline(in, line)) {
    // ('SW-POOL-000', '02:..')
    const auto a = line.find('\'');
    const auto b = line.find('\'', a + 1);
    const auto c = line.find('\'', b + 1);
    const auto d = line.find('\'', c + 1);
    const auto dn = line.substr(a + 1, b - a - 1);
    const auto mac = line.substr(c + 1, d - c - 1);
    EXPECT_TRUE(out.emplace(dn, mac).second) << "triplet bound twice: " << dn;
    EXPECT_TRUE(macs.insert(mac).second) << "unit holding two triplets: " << mac;
  }
  return out;
}

ProcResult burn(const std::vector<std::string>& args, const Env& env = {}, double timeout = 60) {
  return run_aliot(args, {.env = env, .timeout_s = timeout});
}

} // namespace

// ---- the failed burn as one JSON object on stdout (a station reads one stream) ----

TEST(Station, FailedBurnIsOneJsonObjectOnStdout) {
  TempDir dir;
  const auto state = dir.file("unit.json");
  const auto pool = make_pool(dir, 2);
  // the unit refuses every commit: the burn fails after the write intent
  const auto plan = dir.write(
      "plan.json", R"({"rules":[{"match":{"cmd":"IDMCOMMIT"},"action":{"flash_fail":true}}]})");
  Unit u(dir, "dut0", {"--state", state, "--seed", "5", "--faults", plan});
  const auto r =
      burn({"burn", "--port", u.link, "--pool", pool, "--journal", dir.file("j.db"), "-o", "json"});
  ASSERT_NE(r.status, 0) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line)) << r.err;
  const auto j = json::parse(line);
  EXPECT_EQ(j["result"], "FAIL");
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["mac"], mac_of(5));
  EXPECT_EQ(j["device_name"], "SW-POOL-000");
  EXPECT_EQ(j["source"], "pool");
  EXPECT_EQ(j["intent_written"], true);
  EXPECT_EQ(j["exit_status"], r.status);
  EXPECT_TRUE(j["exit_class"] == "device" || j["exit_class"] == "verify") << line;
  EXPECT_NE(j["message"].get<std::string>().find("commit"), std::string::npos) << line;
  EXPECT_FALSE(std::getline(lines, line)) << "one object only: " << r.out;
  EXPECT_NE(r.err.find("aliot: error: "), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("poolsecret"), std::string::npos);
  // the triplet stays the unit's (FAILED, tied to its MAC), never offered to another one
  const auto rows = pool_rows(pool);
  EXPECT_EQ(rows.at("SW-POOL-000").state, factory::PoolState::failed);
  EXPECT_EQ(rows.at("SW-POOL-000").mac, mac_of(5));
  EXPECT_EQ(rows.at("SW-POOL-001").state, factory::PoolState::available);
}

TEST(Station, FailureBeforeAnyUnitIsStillOneJsonObject) {
  TempDir dir;
  const auto pool = make_pool(dir, 1);
  const auto r = burn({"burn", "--port", dir.file("nothing-here"), "--pool", pool, "--journal",
                       dir.file("j.db"), "-o", "json"});
  EXPECT_EQ(r.status, 8) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["exit_class"], "device");
  EXPECT_FALSE(j.contains("mac"));
  EXPECT_FALSE(j.contains("device_name"));
  // nothing was taken from the pool
  EXPECT_EQ(pool_rows(pool).at("SW-POOL-000").state, factory::PoolState::available);
}

// ---- --pool ----

TEST(Station, PoolBurnsTheNextFreeTripletAndAReturningUnitGetsItAgain) {
  TempDir dir;
  const auto pool = make_pool(dir, 3);
  const auto journal = dir.file("j.db");
  const auto s1 = dir.file("u1.json");
  const auto s2 = dir.file("u2.json");
  {
    Unit u(dir, "dut1", {"--state", s1, "--seed", "11"});
    auto r = burn({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-000");
    // the same unit again: verified only, same triplet
    r = burn({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-000");
    EXPECT_EQ(json::parse(r.out)["resumed"], true);
  }
  {
    Unit u(dir, "dut2", {"--state", s2, "--seed", "12"});
    auto r = burn({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-001");
  }
  EXPECT_EQ(held_in(s1).dn, "SW-POOL-000");
  EXPECT_EQ(held_in(s2).dn, "SW-POOL-001");
  const auto rows = pool_rows(pool);
  EXPECT_EQ(rows.at("SW-POOL-000").state, factory::PoolState::bound);
  EXPECT_EQ(rows.at("SW-POOL-001").state, factory::PoolState::bound);
  EXPECT_EQ(rows.at("SW-POOL-002").state, factory::PoolState::available);
  EXPECT_EQ(held_in(s1).ds, rows.at("SW-POOL-000").device_secret.reveal());
  const auto b = bindings_of(journal);
  EXPECT_EQ(b.at("SW-POOL-000"), mac_of(11));
  EXPECT_EQ(b.at("SW-POOL-001"), mac_of(12));
}

TEST(Station, APoolRowWhoseSecretWasEditedIsSetAsideWithOneWarningAndTheNextOneBurned) {
  TempDir dir;
  const auto pool = make_pool(dir, 3);
  const auto journal = dir.file("j.db");
  const auto state = dir.file("u.json");
  auto t = journal_sql(pool, "update pool set device_secret='tampered0123456789abcdef01234567' "
                             "where device_name='SW-POOL-000'");
  ASSERT_EQ(t.status, 0) << t.err;
  {
    Unit u(dir, "dut", {"--state", state, "--seed", "31"});
    auto r = burn({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-001");
    std::size_t warnings = 0;
    for (std::size_t at = 0; (at = r.err.find("SW-POOL-000", at)) != std::string::npos; ++at) {
      ++warnings;
    }
    EXPECT_EQ(warnings, 1U) << r.err;
    EXPECT_NE(r.err.find("the triplet SW-POOL-000 of " + std::string(k_pk)
                         + " was set aside (QUARANTINED): its stored secret no longer matches"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("tampered"), std::string::npos) << "a secret in a warning";
  }
  EXPECT_EQ(held_in(state).dn, "SW-POOL-001");
  const auto rows = pool_rows(pool);
  EXPECT_EQ(rows.at("SW-POOL-000").state, factory::PoolState::quarantined);
  EXPECT_EQ(rows.at("SW-POOL-001").state, factory::PoolState::bound);
  const auto ev = journal_sql(journal, "select type, data_json from event where "
                                       "type='POOL_QUARANTINED'");
  EXPECT_EQ(ev.status, 0) << ev.err;
  EXPECT_NE(ev.out.find("SW-POOL-000"), std::string::npos) << ev.out;
  EXPECT_EQ(run_aliot({"journal", "check", journal}).status, 0);
}

TEST(Station, PoolRefusesAUnitHoldingForeignCredentialsWithoutTakingATriplet) {
  TempDir dir;
  const auto pool = make_pool(dir, 2);
  const auto state = dir.file("u.json");
  {
    Unit u(dir, "dut", {"--state", state, "--seed", "21"});
    const auto t = dir.write(
        "t.json",
        R"({"ProductKey":"a1StationPK","DeviceName":"SW-ELSEWHERE","DeviceSecret":"ffffffffffffffffffffffffffffffff"})");
    auto r = burn({"burn", "--port", u.link, "--triplet", t, "--journal", dir.file("other.db")});
    ASSERT_EQ(r.status, 0) << r.err;
    r = burn({"burn", "--port", u.link, "--pool", pool, "--journal", dir.file("j.db")});
    EXPECT_EQ(r.status, 8) << r.err;
    EXPECT_NE(r.err.find("already holds other credentials"), std::string::npos) << r.err;
  }
  EXPECT_EQ(held_in(state).dn, "SW-ELSEWHERE");
  for (const auto& [dn, row] : pool_rows(pool)) {
    EXPECT_EQ(row.state, factory::PoolState::available) << dn;
  }
}

// ---- kill -9 at every point, then a restart ----

namespace {

const std::vector<std::string> k_points = {"job",    "identified", "chosen",   "intent",
                                           "staged", "committed",  "verified", "finished"};

// After a crash and a clean rerun: the unit holds exactly the triplet the journal binds to its
// MAC, the pool has it BOUND to that MAC, and nothing else left the pool.
void expect_consistent_after_pool_crash(const std::string& point,
                                        const std::string& pool,
                                        const std::string& journal,
                                        const std::string& state,
                                        const std::string& mac) {
  SCOPED_TRACE("killed at " + point);
  const auto held = held_in(state);
  ASSERT_FALSE(held.empty());
  const auto rows = pool_rows(pool);
  const auto b = bindings_of(journal);
  ASSERT_EQ(b.size(), 1U);
  EXPECT_EQ(b.at(held.dn), mac);
  ASSERT_TRUE(rows.count(held.dn));
  EXPECT_EQ(rows.at(held.dn).state, factory::PoolState::bound);
  EXPECT_EQ(rows.at(held.dn).mac, mac);
  EXPECT_EQ(rows.at(held.dn).device_secret.reveal(), held.ds);
  for (const auto& [dn, row] : rows) {
    if (dn != held.dn) {
      EXPECT_EQ(row.state, factory::PoolState::available) << dn;
    }
  }
  const auto chain = recompute_chain(journal);
  EXPECT_EQ(chain.status, 0) << chain.out;
}

} // namespace

TEST(StationCrash, PoolKillNineAtEveryPointThenRestart) {
  for (const auto& point : k_points) {
    TempDir dir;
    const auto pool = make_pool(dir, 3);
    const auto journal = dir.file("j.db");
    const auto state = dir.file("u.json");
    Unit u(dir, "dut", {"--state", state, "--seed", "31"});
    const std::vector<std::string> args = {"burn",      "--port", u.link, "--pool", pool,
                                           "--journal", journal,  "-o",   "json"};
    auto killed = burn(args, {{"ALIOT_TEST_KILL_AT", point}});
    ASSERT_EQ(killed.status, 128 + SIGKILL) << point << ": " << killed.err;
    auto again = burn(args);
    ASSERT_EQ(again.status, 0) << point << ": " << again.err;
    const auto j = json::parse(again.out);
    EXPECT_EQ(j["result"], "PASS");
    expect_consistent_after_pool_crash(point, pool, journal, state, mac_of(31));
    // a crash at or after the write intent keeps the first triplet for this unit
    EXPECT_EQ(j["device_name"], "SW-POOL-000") << point;
  }
}

TEST(StationCrash, AnotherUnitAfterACrashNeverGetsTheInDoubtTriplet) {
  TempDir dir;
  const auto pool = make_pool(dir, 3);
  const auto journal = dir.file("j.db");
  const auto s1 = dir.file("u1.json");
  const auto s2 = dir.file("u2.json");
  {
    Unit u(dir, "dut", {"--state", s1, "--seed", "41"});
    auto killed = burn({"burn", "--port", u.link, "--pool", pool, "--journal", journal},
                       {{"ALIOT_TEST_KILL_AT", "staged"}});
    ASSERT_EQ(killed.status, 128 + SIGKILL) << killed.err;
  }
  {
    Unit u(dir, "dut", {"--state", s2, "--seed", "42"});
    auto r = burn({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-001");
  }
  {
    Unit u(dir, "dut", {"--state", s1, "--seed", "41"});
    auto r = burn({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-000");
  }
  const auto b = bindings_of(journal);
  EXPECT_EQ(b.at("SW-POOL-000"), mac_of(41));
  EXPECT_EQ(b.at("SW-POOL-001"), mac_of(42));
  EXPECT_EQ(held_in(s1).dn, "SW-POOL-000");
  EXPECT_EQ(held_in(s2).dn, "SW-POOL-001");
}

// ---- --register against the platform emulator ----

namespace {

class RegisterStation : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    s_emu = new Emulator();
    s_emu->add_product(k_pk, k_ps, true);
  }
  static void TearDownTestSuite() {
    delete s_emu;
    s_emu = nullptr;
  }
  static Env env() {
    Env e(s_emu->env().begin(), s_emu->env().end());
    e["ALIOT_PRODUCT_SECRET"] = k_ps;
    return e;
  }
  // The DeviceSecret the platform holds for `dn` now ("" when none), read from the emulator's
  // registry (SQLite) by another client than aliot's.
  static std::string platform_secret(const std::string& dn) {
    const auto r = journal_sql(s_emu->dir() + "/registry.db",
                               "select secret from devices where pk='" + std::string(k_pk)
                                   + "' and dn='" + dn + "'");
    EXPECT_EQ(r.status, 0) << r.err;
    // ('secret',)
    const auto a = r.out.find('\'');
    const auto b = r.out.find('\'', a + 1);
    return a == std::string::npos || b == std::string::npos ? std::string()
                                                            : r.out.substr(a + 1, b - a - 1);
  }
  static inline Emulator* s_emu = nullptr;
};

} // namespace

TEST_F(RegisterStation, KillNineAtEveryPointThenRestartNothingIssuedIsLost) {
  std::vector<std::string> points = k_points;
  points.insert(points.begin() + 2, "registered");
  std::uint64_t seed = 100;
  for (const auto& point : points) {
    SCOPED_TRACE("killed at " + point);
    ++seed;
    const std::string mac = mac_of(seed);
    const std::string dn = "SW-" + mac_hex(mac);
    ASSERT_EQ(s_emu->add_device(k_pk, dn, "preregistered0000000000000000000").status, 0);
    TempDir dir;
    const auto pool = dir.file("pool.db");
    const auto journal = dir.file("j.db");
    const auto state = dir.file("u.json");
    Unit u(dir, "dut", {"--state", state, "--seed", std::to_string(seed)});
    const std::vector<std::string> args = {"burn",      "--port", u.link,   "--register",
                                           "-k",        k_pk,     "--pool", pool,
                                           "--journal", journal,  "-o",     "json"};
    auto killed = burn(args, merge(env(), {{"ALIOT_TEST_KILL_AT", point}}));
    ASSERT_EQ(killed.status, 128 + SIGKILL) << killed.err;
    auto again = burn(args, env());
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_EQ(json::parse(again.out)["device_name"], dn);
    // the unit, the pool and the platform agree on the secret; nothing else was issued
    const auto held = held_in(state);
    EXPECT_EQ(held.dn, dn);
    const auto rows = pool_rows(pool);
    ASSERT_EQ(rows.size(), 1U);
    EXPECT_EQ(rows.at(dn).state, factory::PoolState::bound);
    EXPECT_EQ(rows.at(dn).mac, mac);
    EXPECT_EQ(rows.at(dn).device_secret.reveal(), held.ds);
    EXPECT_EQ(platform_secret(dn), held.ds);
    EXPECT_EQ(bindings_of(journal).at(dn), mac);
    // and the journal never saw the secret
    EXPECT_EQ(file_containing(database_files(journal), held.ds), "");
  }
}

TEST_F(RegisterStation, AReturningUnitGetsItsJournaledSecretNotASecondRegistration) {
  const std::string mac = mac_of(201);
  const std::string dn = "SW-" + mac_hex(mac);
  ASSERT_EQ(s_emu->add_device(k_pk, dn, "preregistered0000000000000000000").status, 0);
  TempDir dir;
  const auto pool = dir.file("pool.db");
  const auto journal = dir.file("j.db");
  const auto state = dir.file("u.json");
  Unit u(dir, "dut", {"--state", state, "--seed", "201"});
  const std::vector<std::string> args = {"burn",      "--port", u.link,   "--register",
                                         "-k",        k_pk,     "--pool", pool,
                                         "--journal", journal,  "-o",     "json"};
  auto r = burn(args, env());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto first = platform_secret(dn);
  r = burn(args, env());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["resumed"], true);
  EXPECT_EQ(platform_secret(dn), first) << "registered a second time";
  EXPECT_EQ(held_in(state).ds, first);
}

TEST_F(RegisterStation, NameTemplateFromTheChipIdAndABadTemplate) {
  const auto id = switchsim::identity_from_seed(202);
  const std::string dn = "chip_" + id.chipid;
  ASSERT_EQ(s_emu->add_device(k_pk, dn, "preregistered0000000000000000000").status, 0);
  TempDir dir;
  Unit u(dir, "dut", {"--state", dir.file("u.json"), "--seed", "202"});
  auto r =
      burn({"burn", "--port", u.link, "--register", "-k", k_pk, "--name-template", "chip_{chip}",
            "--pool", dir.file("pool.db"), "--journal", dir.file("j.db"), "-o", "json"},
           env());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["device_name"], dn);
  TempDir dir2;
  Unit u2(dir2, "dut", {"--state", dir2.file("u.json"), "--seed", "203"});
  r = burn({"burn", "--port", u2.link, "--register", "-k", k_pk, "--name-template", "x{serial}",
            "--pool", dir2.file("pool.db"), "--journal", dir2.file("j.db")},
           env());
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("{serial}"), std::string::npos) << r.err;
  EXPECT_EQ(held_in(dir2.file("u.json")).dn, "");
}

// ---- the station loop: 20 units on one fixture ----

TEST(StationLoop, TwentyUnitsSomeFailingSomeReturningOneUnpluggedMidWrite) {
  TempDir dir;
  const auto pool = make_pool(dir, 20);
  const auto journal = dir.file("j.db");
  const auto flash_fail =
      dir.write("flash_fail.json",
                R"({"rules":[{"match":{"cmd":"IDMCOMMIT"},"action":{"flash_fail":true}}]})");
  const auto unplug = dir.write(
      "unplug.json",
      R"({"rules":[{"match":{"cmd":"IDMAU=","nth":1},"action":{"unplug":{"after_bytes":20}}}]})");
  struct Step {
    std::uint64_t seed;
    std::string faults;
    bool pass;
    std::string dn;
    bool resumed;
  };
  const std::vector<Step> steps = {
      {301, "", true, "SW-POOL-000", false},
      {302, "", true, "SW-POOL-001", false},
      {303, flash_fail, false, "SW-POOL-002", false},
      {304, "", true, "SW-POOL-003", false},
      {301, "", true, "SW-POOL-000", true},
      {305, unplug, false, "SW-POOL-004", false},
      {306, "", true, "SW-POOL-005", false},
      {307, "", true, "SW-POOL-006", false},
      {305, "", true, "SW-POOL-004", false},
      {308, "", true, "SW-POOL-007", false},
      {303, "", true, "SW-POOL-002", false},
      {309, "", true, "SW-POOL-008", false},
      {310, "", true, "SW-POOL-009", false},
      {311, flash_fail, false, "SW-POOL-010", false},
      {312, "", true, "SW-POOL-011", false},
      {302, "", true, "SW-POOL-001", true},
      {313, "", true, "SW-POOL-012", false},
      {314, "", true, "SW-POOL-013", false},
      {315, "", true, "SW-POOL-014", false},
      {316, "", true, "SW-POOL-015", false},
  };
  std::string units;
  for (const auto& s : steps) {
    json j = {{"seed", s.seed}};
    if (!s.faults.empty()) {
      j["faults"] = s.faults;
    }
    units += j.dump() + "\n";
  }
  const auto units_file = dir.write("units.jsonl", units);
  std::filesystem::create_directory(dir.file("flash"));
  const auto link = dir.file("fixture0");
  Background station({aliot_bin(), "burn", "--port", link, "--pool", pool, "--journal", journal,
                      "--loop", "-o", "json", "--station", "st-1"});
  Background fixture({aliot_bin(), "emulate", "switch", "--link", link, "--units", units_file,
                      "--state-dir", dir.file("flash"), "--boot-ms", "30", "--commit-ms", "10",
                      "--replug-ms", "100", "-v"});
  ASSERT_TRUE(fixture.wait_for("units done", 120s))
      << fixture.out() << fixture.err() << station.out() << station.err();
  // the last unit's line follows its leaving at once
  for (int i = 0; i < 100 && std::count(station.out().begin(), station.out().end(), '\n') < 20;
       ++i) {
    station.read_line(50ms);
  }
  station.signal(SIGINT);
  const auto status = station.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << station.err();

  std::vector<json> lines;
  std::vector<json> events; // the pool of 20 is at --low-water 20 from the start: one warning
  std::istringstream in(station.out());
  for (std::string l; std::getline(in, l);) {
    auto j = json::parse(l);
    (j.contains("event") ? events : lines).push_back(std::move(j));
  }
  ASSERT_EQ(events.size(), 1U) << station.out();
  EXPECT_EQ(events[0]["event"], "low_water");
  EXPECT_EQ(events[0]["left"], 20);
  ASSERT_EQ(lines.size(), steps.size() + 1) << station.out() << station.err();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE("unit " + std::to_string(i + 1));
    const auto& l = lines[i];
    EXPECT_EQ(l["result"], steps[i].pass ? "PASS" : "FAIL") << l.dump();
    EXPECT_EQ(l["mac"], mac_of(steps[i].seed));
    EXPECT_EQ(l["device_name"], steps[i].dn);
    if (steps[i].pass) {
      EXPECT_EQ(l["resumed"], steps[i].resumed);
    } else {
      EXPECT_EQ(l["intent_written"], true) << l.dump();
      EXPECT_EQ(l["exit_status"], l["exit_class"] == "verify" ? 9 : 8) << l.dump();
    }
  }
  EXPECT_NE(fixture.err().find("unplugged"), std::string::npos) << fixture.err();
  const auto& summary = lines.back()["summary"];
  EXPECT_EQ(summary["units"], 20);
  EXPECT_EQ(summary["pass"], 17);
  EXPECT_EQ(summary["fail"], 3);

  // the journal: one job per line, in order, with the same unit, triplet and result
  auto j = factory::Journal::open(journal);
  ASSERT_TRUE(j);
  auto jobs = (*j)->jobs();
  ASSERT_TRUE(jobs) << jobs.error().message();
  ASSERT_EQ(jobs->size(), steps.size());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    SCOPED_TRACE("job " + std::to_string(i + 1));
    const auto& job = (*jobs)[i];
    EXPECT_EQ(job.job_id, lines[i]["job"]);
    EXPECT_EQ(job.mac, mac_of(steps[i].seed));
    EXPECT_EQ(job.device_name, steps[i].dn);
    EXPECT_EQ(job.state, steps[i].pass ? "PASS" : "FAIL");
    EXPECT_EQ(job.station, "st-1");
  }
  // ... and as `aliot journal export` shows it
  const auto exported = run_aliot({"journal", "export", "--journal", journal});
  ASSERT_EQ(exported.status, 0) << exported.err;
  std::istringstream ex(exported.out);
  std::size_t n = 0;
  for (std::string l; std::getline(ex, l); ++n) {
    ASSERT_LT(n, steps.size());
    const auto e = json::parse(l);
    EXPECT_EQ(e["job"], lines[n]["job"]);
    EXPECT_EQ(e["mac"], lines[n]["mac"]);
    EXPECT_EQ(e["device_name"], lines[n]["device_name"]);
    EXPECT_EQ(e["state"], lines[n]["result"]);
    EXPECT_EQ(e["fp"], lines[n]["fingerprint"]);
  }
  EXPECT_EQ(n, steps.size());
  // the units' flash: each holds the triplet of its last PASS (the pool's secret), and the one
  // that failed and never came back holds nothing
  const auto rows = pool_rows(pool);
  std::map<std::uint64_t, std::string> last_pass;
  for (const auto& s : steps) {
    if (s.pass) {
      last_pass[s.seed] = s.dn;
    }
  }
  for (const auto& s : steps) {
    const auto held = held_in(dir.file("flash/" + mac_hex(mac_of(s.seed)) + ".json"));
    const auto it = last_pass.find(s.seed);
    if (it == last_pass.end()) {
      EXPECT_TRUE(held.empty()) << s.seed << " holds " << held.dn;
      EXPECT_EQ(rows.at(s.dn).state, factory::PoolState::failed);
      EXPECT_EQ(rows.at(s.dn).mac, mac_of(s.seed));
      continue;
    }
    EXPECT_EQ(held.dn, it->second) << s.seed;
    EXPECT_EQ(held.ds, rows.at(it->second).device_secret.reveal());
    EXPECT_EQ(rows.at(it->second).state, factory::PoolState::bound);
  }
  EXPECT_EQ(rows.at("SW-POOL-016").state, factory::PoolState::available);
  EXPECT_EQ(bindings_of(journal).size(), 16U);
  EXPECT_EQ(recompute_chain(journal).status, 0);
}

TEST(StationLoop, SigintInTheMiddleOfAUnitIsExit130AndTheJobFails) {
  TempDir dir;
  const auto pool = make_pool(dir, 2);
  const auto journal = dir.file("j.db");
  const auto slow = dir.write(
      "slow.json", R"({"rules":[{"match":{"cmd":"IDMCOMMIT"},"action":{"delay_ms":3000}}]})");
  const auto units = dir.write("units.jsonl", "{\"seed\":501,\"faults\":\"" + slow + "\"}\n");
  const auto link = dir.file("fixture0");
  Background fixture(
      {aliot_bin(), "emulate", "switch", "--link", link, "--units", units, "--boot-ms", "30"});
  ASSERT_TRUE(fixture.wait_for("arrived", 10s)) << fixture.err();
  Background station({aliot_bin(), "burn", "--port", link, "--pool", pool, "--journal", journal,
                      "--loop", "-o", "json", "-vvv"});
  // wait until the commit is on its way, then interrupt
  for (int i = 0; i < 200 && station.err().find("IDMCOMMIT") == std::string::npos; ++i) {
    station.read_line(25ms);
  }
  ASSERT_NE(station.err().find("IDMCOMMIT"), std::string::npos) << station.err();
  station.signal(SIGINT);
  const auto status = station.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 130) << station.err();
  std::istringstream in(station.out());
  std::string unit_line, summary_line;
  ASSERT_TRUE(std::getline(in, unit_line)) << station.out();
  if (json::parse(unit_line).contains("event")) { // the pool of 2 is low (--low-water 20)
    ASSERT_TRUE(std::getline(in, unit_line)) << station.out();
  }
  ASSERT_TRUE(std::getline(in, summary_line)) << station.out();
  const auto u = json::parse(unit_line);
  EXPECT_EQ(u["result"], "FAIL");
  EXPECT_EQ(u["exit_class"], "interrupted");
  EXPECT_EQ(json::parse(summary_line)["summary"]["interrupted_in_unit"], true);
  auto j = factory::Journal::open(journal);
  ASSERT_TRUE(j);
  auto jobs = (*j)->jobs();
  ASSERT_TRUE(jobs && jobs->size() == 1U);
  EXPECT_EQ(jobs->front().state, "FAIL");
  EXPECT_EQ(jobs->front().error_class, "interrupted");
  // the triplet stays the unit's: it may be in its flash
  EXPECT_EQ(pool_rows(pool).at("SW-POOL-000").mac, mac_of(501));
}

TEST(StationLoop, AStopBetweenUnitsIsExit0WithTheSummary) {
  TempDir dir;
  const auto pool = make_pool(dir, 1);
  Background station({aliot_bin(), "burn", "--port", dir.file("nobody"), "--pool", pool,
                      "--journal", dir.file("j.db"), "--loop", "-v"});
  // Stopped once it is waiting (between units), not while it starts: an ASan build on a loaded
  // machine takes longer than any fixed sleep to get there.
  ASSERT_TRUE(station.wait_for_err("waiting for a unit", 30s)) << station.err();
  station.signal(SIGINT);
  const auto status = station.wait(10s);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << station.err();
  EXPECT_NE(station.err().find("station stopped: 0 units, 0 pass, 0 fail"), std::string::npos)
      << station.err();
}

TEST(Station, TheDefaultJournalIsThePerUserPlace) {
  TempDir dir;
  const auto state = dir.file("u.json");
  const auto t = dir.write(
      "t.json",
      R"({"ProductKey":"a1StationPK","DeviceName":"SW-DEFAULT-1","DeviceSecret":"0123456789abcdef0123456789abcdef"})");
  Unit u(dir, "dut", {"--state", state, "--seed", "601"});
  const auto xdg = dir.file("state-home");
  // from another directory: the journal is not the current directory's
  const auto r = run_aliot({"burn", "--port", u.link, "--triplet", t},
                           {.env = {{"XDG_STATE_HOME", xdg}}, .cwd = dir.path()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(xdg + "/aliot/factory.db"));
  EXPECT_FALSE(std::filesystem::exists(dir.file("aliot-factory.db")));
  EXPECT_EQ(bindings_of(xdg + "/aliot/factory.db").at("SW-DEFAULT-1"), mac_of(601));
}
