// `aliot pool` and `aliot journal` as a user runs them (the built binary, real SQLite files):
// import and status, the export's formats (parsed by Python, scanned for secrets), journal check
// across two stations' journals, the default journal place.
#include "journal_support.hpp"
#include "secrets.hpp"
#include "support.hpp"
#include "unwrap.hpp"

#include <aliot/factory.hpp>
#include <aliot/factory/pool.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

using namespace aliot;
using namespace aliot::test;

namespace {

const std::string k_pk = "a1FakePK001";
const std::string k_ds1 = "Zx8fQ2lM9pR4tV7wY1bC3dE5gH6jK0nA";
const std::string k_ds2 = "Zx8fQ2lM9pR4tV7wY1bC3dE5gH6jK0nB";
const std::string k_ds3 = "Zx8fQ2lM9pR4tV7wY1bC3dE5gH6jK0nC";

std::string batch_csv() {
  return "\xEF\xBB\xBFProductKey,DeviceName,DeviceSecret\r\n" + k_pk + ",SW-0001," + k_ds1 + "\r\n"
         + k_pk + ",SW-0002," + k_ds2 + "\r\n" + k_pk + ",SW-0003," + k_ds3 + "\r\n";
}

// A unit burned from the pool to PASS through the journal, as `burn --pool` does it.
void burn_from_pool(factory::Pool& p, factory::Journal& j, const std::string& mac) {
  auto job = unwrap(j.start_job({"S1", "op7", "/dev/ttyUSB0", "alsw1"}));
  auto e = unwrap(p.reserve(k_pk, mac, job));
  ASSERT_TRUE(j.write_intent(job, {mac, "chip", "1.4.0", "SN"}, k_pk, e.device_name, e.fp));
  ASSERT_TRUE(p.mark_transmitted(k_pk, e.device_name, job));
  ASSERT_TRUE(j.finish(job, true, 5, "", ""));
  ASSERT_TRUE(p.mark_bound(k_pk, e.device_name, job));
}

// A station with a pool of three and two units burned, one failed job.
void station(const TempDir& dir, const std::string& journal) {
  const auto csv = dir.write("batch.csv", batch_csv());
  auto r = run_aliot({"pool", "import", "--pool", dir.file("pool.db"), "--csv", csv});
  ASSERT_EQ(r.status, 0) << r.err;
  auto p = unwrap(factory::Pool::open(dir.file("pool.db")));
  auto j = unwrap(factory::Journal::open(journal));
  ASSERT_TRUE(p && j);
  burn_from_pool(*p, *j, "0C:8B:95:A1:F3:E2");
  burn_from_pool(*p, *j, "0C:8B:95:A1:F3:E3");
  auto job = unwrap(j->start_job({"S1", "op7", "/dev/ttyUSB0", "alsw1"}));
  ASSERT_TRUE(j->finish(job, false, 0, "device", "no answer, \"AT\" timed out"));
}

} // namespace

TEST(PoolCli, ImportThenStatusAndAPrivateFile) {
  TempDir dir;
  const auto db = dir.file("pool.db");
  const auto csv = dir.write("batch.csv", batch_csv());
  auto r = run_aliot({"pool", "import", "--pool", db, "--csv", csv, "-k", k_pk});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("imported  3 triplets (csv)"), std::string::npos) << r.out;
  EXPECT_TRUE(no_secret_in({k_ds1, k_ds2, k_ds3}, {text("stdout", r.out), text("stderr", r.err)}));
  struct stat st {};
  ASSERT_EQ(::stat(db.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  r = run_aliot({"pool", "status", "--pool", db, "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  auto py = run({"python3", "-c",
                 "import json,sys\n"
                 "for l in sys.stdin: d=json.loads(l); print(d['product_key'],d['available'],"
                 "d['reserved'],d['bound'])\n"},
                {.input = r.out});
  EXPECT_EQ(py.out, k_pk + " 3 0 0\n") << py.err;
  // the same file again: every row is a duplicate, refused, nothing changes
  r = run_aliot({"pool", "import", "--pool", db, "--csv", csv});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("line 2: DeviceName SW-0001 of " + k_pk + " is already in the pool"),
            std::string::npos)
      << r.err;
  // a wrong product with -k
  r = run_aliot({"pool", "import", "--pool", db, "--csv", csv, "-k", "a1OtherPK01"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("line 2: ProductKey " + k_pk + " is not the product a1OtherPK01"),
            std::string::npos)
      << r.err;
  // a truncated file
  const auto cut = dir.write("cut.csv", "ProductKey,DeviceName,DeviceSecret\n" + k_pk + ",SW-0009,"
                                            + k_ds1 + "\n" + k_pk + ",SW-00");
  r = run_aliot({"pool", "import", "--pool", db, "--csv", cut});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("line 3: truncated row"), std::string::npos) << r.err;
  r = run_aliot({"pool", "status", "--pool", db});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(k_pk + "                  3        0"), std::string::npos) << r.out;
  // status never creates a pool
  r = run_aliot({"pool", "status", "--pool", dir.file("none.db")});
  EXPECT_EQ(r.status, 10) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("none.db")));
}

TEST(PoolCli, AWorldReadablePoolIsRefused) {
  TempDir dir;
  const auto db = dir.file("pool.db");
  const auto csv = dir.write("batch.csv", batch_csv());
  ASSERT_EQ(run_aliot({"pool", "import", "--pool", db, "--csv", csv}).status, 0);
  ASSERT_EQ(::chmod(db.c_str(), 0644), 0);
  auto r = run_aliot({"pool", "status", "--pool", db});
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_NE(r.err.find("chmod 600"), std::string::npos) << r.err;
}

TEST(JournalCli, ExportAsJsonLinesAndCsvHoldsNoSecret) {
  TempDir dir;
  const auto journal = dir.file("station.db");
  station(dir, journal);
  auto r = run_aliot({"journal", "export", "--journal", journal, "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(no_secret_in({k_ds1, k_ds2, k_ds3}, {text("jobs json", r.out)}));
  auto py = run({"python3", "-c",
                 "import json,sys\n"
                 "for l in sys.stdin: d=json.loads(l); print(d['state'],d['mac'],d['device_name'],"
                 "d['verify_level'],len(d['fp']))\n"},
                {.input = r.out});
  EXPECT_EQ(py.out, "PASS 0C:8B:95:A1:F3:E2 SW-0001 5 16\n"
                    "PASS 0C:8B:95:A1:F3:E3 SW-0002 5 16\n"
                    "FAIL   0 0\n")
      << py.err << r.out;
  r = run_aliot({"journal", "export", "--journal", journal, "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(no_secret_in({k_ds1, k_ds2, k_ds3}, {text("jobs csv", r.out)}));
  py =
      run({"python3", "-c",
           "import csv,sys\n"
           "rows=list(csv.DictReader(sys.stdin))\n"
           "print(len(rows), rows[0]['device_name'], rows[2]['state'], rows[2]['error_detail'])\n"},
          {.input = r.out});
  EXPECT_EQ(py.out, "3 SW-0001 FAIL no answer, \"AT\" timed out\n") << py.err << r.out;
  // the events, with their chain
  r = run_aliot({"journal", "export", "--journal", journal, "--events", "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(no_secret_in({k_ds1, k_ds2, k_ds3}, {text("events json", r.out)}));
  py = run({"python3", "-c",
            "import json,sys,hashlib\n"
            "prev=''\n"
            "for l in sys.stdin:\n"
            "  d=json.loads(l)\n"
            "  assert d['prev']==prev, d\n"
            "  prev=d['hash']\n"
            "  print(d['seq'],d['type'],d['data'].get('mac',''))\n"},
           {.input = r.out});
  EXPECT_EQ(py.status, 0) << py.err;
  EXPECT_NE(py.out.find("2 IDENTIFIED 0C:8B:95:A1:F3:E2\n3 WRITE_INTENT \n4 PASS \n"),
            std::string::npos)
      << py.out;
  r = run_aliot({"journal", "export", "--journal", journal, "--events", "--format", "csv"});
  ASSERT_EQ(r.status, 0) << r.err;
  py = run({"python3", "-c",
            "import csv,sys,json\n"
            "rows=list(csv.DictReader(sys.stdin))\n"
            "print(len(rows), rows[2]['type'], json.loads(rows[2]['data'])['device_name'])\n"},
           {.input = r.out});
  EXPECT_EQ(py.out, "10 WRITE_INTENT SW-0001\n") << py.err << r.out;
  // --since: nothing after the far future; a bad time is a usage error
  r = run_aliot({"journal", "export", "--journal", journal, "--since", "2199-01-01T00:00:00Z"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = run_aliot({"journal", "export", "--journal", journal, "--since", "yesterday"});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--since: 'yesterday' is not an RFC 3339 time"), std::string::npos) << r.err;
}

TEST(JournalCli, ExportFindsTheJournalAtItsDefaultPlace) {
  TempDir dir;
  const auto state = dir.file("state");
  auto path = unwrap(factory::default_journal_path(state, std::nullopt));
  ASSERT_TRUE(factory::create_parent_dir(path));
  station(dir, path);
  auto r = run_aliot({"journal", "export"}, {.env = {{"XDG_STATE_HOME", state}}});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;
  // elsewhere (no XDG_STATE_HOME, another HOME) there is no journal yet
  r = run_aliot({"journal", "export"}, {.env = {{"HOME", dir.file("home")}}});
  EXPECT_EQ(r.status, 10) << r.err;
  EXPECT_NE(r.err.find(dir.file("home") + "/.local/state/aliot/factory.db: no such file"),
            std::string::npos)
      << r.err;
}

TEST(JournalCli, CheckCatchesATripletBurnedIntoTwoUnitsThroughTwoJournals) {
  TempDir dir;
  const auto a = dir.file("station-a.db");
  const auto b = dir.file("station-b.db");
  station(dir, a);
  auto r = run_aliot({"journal", "check", a});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ok: 1 journal, 3 jobs, 2 bindings, 10 events, no violation\n");
  {
    // station B was handed a copy of the same pool file by mistake and burned its first
    // triplet into another unit
    TempDir other;
    std::filesystem::copy_file(dir.file("batch.csv"), other.file("batch.csv"));
    auto imp = run_aliot(
        {"pool", "import", "--pool", other.file("pool.db"), "--csv", other.file("batch.csv")});
    ASSERT_EQ(imp.status, 0) << imp.err;
    auto p = unwrap(factory::Pool::open(other.file("pool.db")));
    auto j = unwrap(factory::Journal::open(b));
    ASSERT_TRUE(p && j);
    burn_from_pool(*p, *j, "0C:8B:95:A1:F3:F0");
  }
  r = run_aliot({"journal", "check", a, b});
  EXPECT_EQ(r.status, 9) << r.err;
  EXPECT_EQ(r.out, "VIOLATION triplet-two-units: the triplet " + k_pk
                       + "/SW-0001 is bound to 2 units: 0C:8B:95:A1:F3:E2 (" + a
                       + "), 0C:8B:95:A1:F3:F0 (" + b + ")\n");
  EXPECT_NE(r.err.find("1 violation of the never-twice rules in 2 journals"), std::string::npos)
      << r.err;
  r = run_aliot({"journal", "check", a, b, "-o", "json"});
  EXPECT_EQ(r.status, 9);
  auto py = run({"python3", "-c",
                 "import json,sys\n"
                 "for l in sys.stdin: print(json.loads(l)['violation'])\n"},
                {.input = r.out});
  EXPECT_EQ(py.out, "triplet-two-units\n") << py.err << r.out;
  // a journal that is not there
  r = run_aliot({"journal", "check", a, dir.file("c.db")});
  EXPECT_EQ(r.status, 10) << r.err;
}
