// The credential pool on PostgreSQL, store by store through the binary: `aliot pool init`
// (idempotent), import and status, a batch or a DeviceName imported twice refused by the server,
// a station role's burns against simulated switches, its recovery releasing what it reserved and
// never sent, the server down (exit 5), the URI without TLS to another host. A real PostgreSQL
// server of the test's own (tests/support/pg_server: initdb in a temporary directory, as the user
// `postgres` when the tests run as root), reached over its Unix socket, stopped at the end.
#include "pg_server.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <memory>

using namespace aliot::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_pk = "a1StationPK";
// The server of tests/support (a watchdog stops it even when the test process is killed),
// reached over its Unix socket as the role the call names.
class Server {
public:
  std::string uri(const std::string& user) const { return m_pg.socket_uri(user, "postgres"); }
  ProcResult psql(const std::string& sql, const std::string& user = "postgres") const {
    return m_pg.psql(sql, "postgres", user);
  }
  void stop() { m_pg.kill_immediate(); }
  void start() {
    auto r = m_pg.start();
    EXPECT_EQ(r.status, 0) << r.err << m_pg.log_tail();
  }

private:
  PgServer m_pg;
};

std::string batch(const TempDir& dir, const std::string& name, int from, int n) {
  std::string csv = "ProductKey,DeviceName,DeviceSecret\n";
  for (int i = from; i < from + n; ++i) {
    char row[128];
    std::snprintf(row, sizeof row, "%s,SW-POOL-%03d,poolsecret%03d0123456789abcdef0123\n", k_pk, i,
                  i);
    csv += row;
  }
  return dir.write(name, csv);
}

json status_of(const Server& s, const std::string& user) {
  auto r = run_aliot({"pool", "status", "--pool", s.uri(user), "-o", "json"});
  EXPECT_EQ(r.status, 0) << r.err;
  return r.status == 0 ? json::parse(r.out) : json();
}

struct Unit {
  std::unique_ptr<Background> proc;
  std::string link;
  Unit(const TempDir& dir, const std::string& name, int seed) {
    link = dir.file(name);
    proc = std::make_unique<Background>(std::vector<std::string>{
        aliot_bin(), "emulate", "switch", "--link", link, "--boot-ms", "30", "--commit-ms", "10",
        "--state", dir.file(name + ".json"), "--seed", std::to_string(seed)});
    EXPECT_TRUE(proc->wait_for("switch ready", 10s)) << proc->err();
  }
  ~Unit() {
    proc->signal(SIGTERM);
    proc->wait(5s);
  }
  Unit(const Unit&) = delete;
  Unit& operator=(const Unit&) = delete;
};

class PgStore : public ::testing::Test {
protected:
  void SetUp() override {
    // scripts/install-deps.sh installs PostgreSQL: a machine without it fails here, not skips.
    ASSERT_FALSE(pg_bindir().empty()) << "no PostgreSQL server binaries (initdb, pg_ctl) found";
    server = std::make_unique<Server>();
  }
  // init, a station login role st1, one batch of `n` imported by the owner.
  void pool_with(int n) {
    ASSERT_EQ(run_aliot({"pool", "init", "--pool", server->uri("postgres")}).status, 0);
    ASSERT_EQ(server->psql("CREATE ROLE st1 LOGIN IN ROLE aliot_station").status, 0);
    auto r = run_aliot(
        {"pool", "import", "--pool", server->uri("postgres"), "--csv", batch(dir, "b.csv", 0, n)});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  TempDir dir;
  std::unique_ptr<Server> server;
};

} // namespace

TEST_F(PgStore, InitIsIdempotentAndGrantsTheStationFunctionsOnly) {
  auto r = run_aliot({"pool", "init", "--pool", server->uri("postgres"), "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["role_created"], true);
  EXPECT_EQ(json::parse(r.out)["station_role"], "aliot_station");
  r = run_aliot({"pool", "init", "--pool", server->uri("postgres"), "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["role_created"], false);
  // the group role can log in as nothing, may execute the station's functions, no table
  auto q = server->psql("SELECT rolcanlogin FROM pg_roles WHERE rolname='aliot_station'");
  EXPECT_EQ(q.out, "f\n");
  q = server->psql("SELECT has_function_privilege('aliot_station', "
                   "'aliot.reserve(text,text,text)', 'EXECUTE'), "
                   "has_function_privilege('aliot_station', "
                   "'aliot.move(text,text,text,text,text)', 'EXECUTE'), "
                   "has_table_privilege('aliot_station', 'aliot.triplet', 'SELECT'), "
                   "has_table_privilege('aliot_station', 'aliot.batch', 'INSERT')");
  EXPECT_EQ(q.out, "t|f|f|f\n") << q.err;
  // the functions run with a pinned search_path
  q = server->psql("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid=p.pronamespace "
                   "WHERE n.nspname='aliot' AND p.prosecdef AND NOT EXISTS (SELECT 1 FROM "
                   "unnest(p.proconfig) c WHERE c LIKE 'search_path=%')");
  EXPECT_EQ(q.out, "0\n") << q.err;
  // another group role name; a bad one refused
  r = run_aliot({"pool", "init", "--pool", server->uri("postgres"), "--station-role", "line2"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run_aliot({"pool", "init", "--pool", server->uri("postgres"), "--station-role", "x\"; DROP"});
  EXPECT_EQ(r.status, 2) << r.err;
  r = run_aliot({"pool", "init", "--pool", dir.file("pool.db")});
  EXPECT_EQ(r.status, 2) << r.err;
}

TEST_F(PgStore, ImportStatusAndABatchOrADeviceNameImportedTwiceIsRefused) {
  pool_with(5);
  auto st = status_of(*server, "postgres");
  EXPECT_EQ(st["product_key"], k_pk);
  EXPECT_EQ(st["available"], 5);
  EXPECT_EQ(st["reserved"], 0);
  EXPECT_TRUE(st["stations"].is_array());
  EXPECT_TRUE(st["oldest_reserved"].is_null());
  // the same file again, as FILE this time
  auto r = run_aliot({"pool", "import", "--pool", server->uri("postgres"), dir.file("b.csv")});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("already imported"), std::string::npos) << r.err;
  // another file with one DeviceName already in the pool
  r = run_aliot({"pool", "import", "--pool", server->uri("postgres"), batch(dir, "c.csv", 4, 3)});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("line 2: DeviceName SW-POOL-004"), std::string::npos) << r.err;
  // a station's role imports nothing and reads no secret
  r = run_aliot({"pool", "import", "--pool", server->uri("st1"), batch(dir, "d.csv", 10, 2)});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(server->psql("SELECT device_secret FROM aliot.triplet", "st1").status, 0);
  EXPECT_EQ(status_of(*server, "st1")["available"], 5);
  EXPECT_EQ(server->psql("SELECT count(*) FROM aliot.triplet").out, "5\n");
  // a new batch is welcome
  r = run_aliot({"pool", "import", "--pool", server->uri("postgres"), batch(dir, "e.csv", 5, 3)});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(status_of(*server, "postgres")["available"], 8);
}

TEST_F(PgStore, AStationRoleBurnsUnitsAndAReturningUnitGetsItsTripletAgain) {
  pool_with(3);
  const auto journal = dir.file("j.db");
  const auto pool = server->uri("st1");
  {
    Unit u(dir, "dut1", 11);
    for (int i = 0; i < 2; ++i) { // the second time: the same triplet, verified
      auto r =
          run_aliot({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
      ASSERT_EQ(r.status, 0) << r.err;
      EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-000");
    }
  }
  {
    Unit u(dir, "dut2", 12);
    auto r =
        run_aliot({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-001");
  }
  auto st = status_of(*server, "postgres");
  EXPECT_EQ(st["available"], 1);
  EXPECT_EQ(st["bound"], 2);
  ASSERT_EQ(st["stations"].size(), 1U) << st.dump();
  EXPECT_EQ(st["stations"][0]["station"], "st1");
  EXPECT_EQ(st["stations"][0]["bound"], 2);
  EXPECT_EQ(server->psql("SELECT device_name, station, state FROM aliot.binding ORDER BY 1").out,
            "SW-POOL-000|st1|BOUND\nSW-POOL-001|st1|BOUND\n");
}

TEST_F(PgStore, ARowReservedAndNeverSentIsReleasedByTheStationsRecovery) {
  pool_with(2);
  const auto journal = dir.file("j.db");
  const auto pool = server->uri("st1");
  {
    Unit u(dir, "dut1", 21);
    auto killed = run_aliot({"burn", "--port", u.link, "--pool", pool, "--journal", journal},
                            {.env = {{"ALIOT_TEST_KILL_AT", "chosen"}}});
    EXPECT_EQ(killed.status, 128 + SIGKILL) << killed.err;
  }
  auto st = status_of(*server, "postgres");
  EXPECT_EQ(st["reserved"], 1);
  EXPECT_EQ(st["stations"][0]["reserved"], 1);
  EXPECT_TRUE(st["oldest_reserved"].is_string());
  // the station comes back: its recovery gives the row back; another unit gets it
  Unit u(dir, "dut2", 22);
  auto r =
      run_aliot({"burn", "--port", u.link, "--pool", pool, "--journal", journal, "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-000");
  st = status_of(*server, "postgres");
  EXPECT_EQ(st["reserved"], 0);
  EXPECT_EQ(st["available"], 1);
  EXPECT_EQ(st["bound"], 1);
}

TEST_F(PgStore, TheServerDownIsExit5BeforeAnythingAndTheNextRunGoesOn) {
  pool_with(2);
  const auto journal = dir.file("j.db");
  Unit u(dir, "dut1", 31);
  server->stop();
  auto r =
      run_aliot({"burn", "--port", u.link, "--pool", server->uri("st1"), "--journal", journal});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_NE(r.err.find("the server cannot be reached"), std::string::npos) << r.err;
  server->start();
  r = run_aliot(
      {"burn", "--port", u.link, "--pool", server->uri("st1"), "--journal", journal, "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["device_name"], "SW-POOL-000");
}

TEST(PgUri, WithoutTlsToAnotherHostWarnsAndStrictRefusesAndThePasswordIsNeverShown) {
  // nothing listens on port 1 of loopback: exit 5, after the warning
  auto r = run_aliot({"pool", "status", "--pool", "postgresql://st1:hunter2@127.0.0.2:1/aliot"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err; // loopback is this host
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
  r = run_aliot(
      {"pool", "status", "--pool", "postgresql://st1:hunter2@192.0.2.1:1/aliot?connect_timeout=1"});
  EXPECT_NE(r.err.find("warning: --pool: the pool postgresql://st1@192.0.2.1:1/aliot"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
  r = run_aliot({"--strict", "pool", "status", "--pool", "postgres://st1@192.0.2.1:1/aliot"});
  EXPECT_EQ(r.status, 3) << r.err;
  r = run_aliot({"--strict", "pool", "status", "--pool",
                 "postgresql://st1@192.0.2.1:1/aliot?sslmode=verify-full&connect_timeout=1"});
  EXPECT_EQ(r.status, 5) << r.err; // TLS asked for: no warning, the host is just unreachable
  EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
  r = run_aliot({"pool", "status", "--pool", "postgresql://[bad"});
  EXPECT_EQ(r.status, 2) << r.err;
}
