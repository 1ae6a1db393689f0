// The test PostgreSQL server itself (tests/support/pg_server): it starts as an unprivileged user,
// answers on its socket and its loopback port, runs SQL as the superuser and as other roles,
// survives an immediate stop with its committed data, and never outlives its test — not even a
// test process killed with SIGKILL.
#include "pg_server.hpp"

#include "support.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

using namespace aliot::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

bool alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

// The real uid of a process (from /proc), -1 when it is gone.
long uid_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Uid:", 0) == 0) {
      return std::stol(line.substr(4));
    }
  }
  return -1;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

// Polls `done` every 50 ms for up to `limit` (a bound on a wait, not an asserted duration).
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = 30s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) {
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

} // namespace

TEST(PgServer, FindsTheServerBinaries) {
  const auto bin = pg_bindir();
  ASSERT_FALSE(bin.empty()) << "install Debian's postgresql (scripts/install-deps.sh)";
  EXPECT_TRUE(fs::exists(bin + "/initdb"));
  EXPECT_TRUE(fs::exists(bin + "/psql"));
}

TEST(PgServer, StartsUnprivilegedAnswersSqlAndStopsWithItsTest) {
  pid_t postmaster = -1;
  std::string dir;
  {
    PgServer pg;
    dir = pg.dir();
    postmaster = pg.postmaster_pid();
    ASSERT_GT(postmaster, 0) << pg.log_tail();
    EXPECT_NE(uid_of(postmaster), 0) << "the server runs as root";
    EXPECT_TRUE(port_open(pg.port()));
    struct stat st {};
    EXPECT_EQ(::stat((pg.dir() + "/.s.PGSQL." + std::to_string(pg.port())).c_str(), &st), 0)
        << "no Unix socket in " << pg.dir();
    EXPECT_TRUE(S_ISSOCK(st.st_mode));

    const auto version = trim(pg.superuser_sql("SHOW server_version_num"));
    EXPECT_GE(std::stol(version.empty() ? "0" : version), 150000) << version;

    // an owner role, its database, a table of its own, and a role with nothing granted
    pg.create_role("owner1");
    pg.create_database("db1", "owner1");
    pg.create_role("nobody1");
    auto r = pg.psql("CREATE TABLE secrets (name text PRIMARY KEY, secret text);"
                     "INSERT INTO secrets VALUES ('a', 's1'), ('b', 's2')",
                     "db1", "owner1");
    ASSERT_EQ(r.status, 0) << r.err;
    r = pg.psql("SELECT name, secret FROM secrets ORDER BY name", "db1", "owner1");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "a|s1\nb|s2\n");
    r = pg.psql("SELECT secret FROM secrets", "db1", "nobody1");
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    // a role that does not exist cannot log in
    r = pg.psql("SELECT 1", "db1", "ghost");
    EXPECT_NE(r.status, 0);

    // both ways in: the loopback port and the socket (psql takes a URI as its database)
    for (const auto& uri : {pg.uri("owner1", "db1"), pg.socket_uri("owner1", "db1")}) {
      r = run({pg.bindir() + "/psql", "-X", "-A", "-t", "-c", "SELECT count(*) FROM secrets", uri});
      EXPECT_EQ(r.status, 0) << uri << ": " << r.err;
      EXPECT_EQ(r.out, "2\n") << uri;
    }
  }
  EXPECT_TRUE(eventually([&] { return !alive(postmaster); })) << "the server outlived its test";
  EXPECT_FALSE(fs::exists(dir)) << dir << " left behind";
}

TEST(PgServer, AnImmediateStopLosesNothingCommittedAndStartsAgainOnTheSamePort) {
  PgServer pg;
  pg.superuser_sql("CREATE TABLE t (n int)");
  pg.superuser_sql("INSERT INTO t SELECT generate_series(1, 1000)");
  const pid_t before = pg.postmaster_pid();
  const auto stopped = pg.kill_immediate();
  ASSERT_EQ(stopped.status, 0) << stopped.err;
  EXPECT_TRUE(eventually([&] { return !alive(before); }));
  EXPECT_FALSE(pg.running());
  EXPECT_FALSE(port_open(pg.port()));
  EXPECT_NE(pg.psql("SELECT 1").status, 0);
  const auto started = pg.start();
  ASSERT_EQ(started.status, 0) << started.err << pg.log_tail();
  EXPECT_TRUE(pg.running());
  EXPECT_NE(pg.postmaster_pid(), before);
  EXPECT_EQ(trim(pg.superuser_sql("SELECT count(*), sum(n) FROM t")), "1000|500500");
  // it went through crash recovery, not a clean start
  EXPECT_NE(pg.log_tail(20000).find("not properly shut down"), std::string::npos) << pg.log_tail();
}

// Run by the next test in a child process (see there): starts a server, says where it is, and
// waits to be killed.
TEST(PgServer, DISABLED_ChildHoldsAServerUntilKilled) {
  const char* out = std::getenv("ALIOT_PG_CHILD_OUT");
  ASSERT_NE(out, nullptr);
  PgServer pg;
  {
    std::ofstream f(std::string(out) + ".tmp");
    f << pg.postmaster_pid() << "\n" << pg.dir() << "\n";
  }
  fs::rename(std::string(out) + ".tmp", out);
  std::this_thread::sleep_for(600s);
}

TEST(PgServer, NoServerOutlivesATestProcessKilledWithSigkill) {
  TempDir tmp;
  const auto out = tmp.file("child");
  Background child({fs::read_symlink("/proc/self/exe").string(), "--gtest_also_run_disabled_tests",
                    "--gtest_filter=PgServer.DISABLED_ChildHoldsAServerUntilKilled"},
                   {.env = {{"ALIOT_PG_CHILD_OUT", out}}});
  ASSERT_TRUE(eventually([&] { return fs::exists(out); }, 120s)) << child.out() << child.err();
  std::ifstream in(out);
  pid_t postmaster = -1;
  std::string dir;
  in >> postmaster >> dir;
  ASSERT_GT(postmaster, 0);
  ASSERT_TRUE(alive(postmaster));
  ASSERT_TRUE(fs::exists(dir));
  child.signal(SIGKILL);
  ASSERT_TRUE(child.wait(10s));
  EXPECT_TRUE(eventually([&] { return !alive(postmaster); }, 60s))
      << "the server outlived a killed test";
  EXPECT_TRUE(eventually([&] { return !fs::exists(dir); }, 30s)) << dir << " left behind";
}
