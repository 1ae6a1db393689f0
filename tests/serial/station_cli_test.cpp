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

#include <regex>

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
  // the same file again (a re-run): nothing to do, not an error, nothing changes
  const auto before = journal_sql(db, "select * from pool order by device_name");
  const auto imports = journal_sql(db, "select count(*) from import");
  r = run_aliot({"pool", "import", "--pool", db, "--csv", csv});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("imported +already imported \\(3 rows, at 20[0-9-]+T[0-9:.]+Z\\)")))
      << r.out;
  r = run_aliot({"pool", "import", "--pool", db, "--csv", csv, "-o", "json"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"imported\":0,\"already_imported\":true,\"rows\":3,"), std::string::npos)
      << r.out;
  EXPECT_EQ(journal_sql(db, "select * from pool order by device_name").out, before.out);
  EXPECT_EQ(journal_sql(db, "select count(*) from import").out, imports.out);
  // another file that shares a DeviceName with the pool is still refused, naming the row
  const auto overlap =
      dir.write("more.csv", "ProductKey,DeviceName,DeviceSecret\n" + k_pk + ",SW-0004," + k_ds1
                                + "\n" + k_pk + ",SW-0001," + k_ds1 + "\n");
  r = run_aliot({"pool", "import", "--pool", db, "--csv", overlap});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("line 3: DeviceName SW-0001 of " + k_pk + " is already in the pool"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(journal_sql(db, "select * from pool order by device_name").out, before.out);
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
  EXPECT_NE(r.err.find("--since: 'yesterday' is not an ISO 8601 time"), std::string::npos) << r.err;
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

// ---- the pool's and the journal's own integrity (issue 23) ----

namespace {

// The pool file's bytes with the byte at `at` XORed with `mask` (the -wal is checkpointed away:
// every aliot process that had it open has closed it).
std::string flipped_copy(const TempDir& dir,
                         const std::string& db,
                         const std::string& name,
                         std::size_t at,
                         unsigned char mask) {
  std::ifstream in(db, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_LT(at, bytes.size());
  bytes[at] = static_cast<char>(static_cast<unsigned char>(bytes[at]) ^ mask);
  const auto path = dir.write(name, bytes);
  EXPECT_EQ(::chmod(path.c_str(), 0600), 0);
  return path;
}

} // namespace

TEST(PoolCli, StatusRefusesAnEmptyFileADamagedFileAndRowsThatNoLongerMatch) {
  TempDir dir;
  const auto db = dir.file("pool.db");
  const auto csv = dir.write("batch.csv", batch_csv());
  ASSERT_EQ(run_aliot({"pool", "import", "--pool", db, "--csv", csv}).status, 0);
  ASSERT_FALSE(std::filesystem::exists(db + "-wal")) << "the pool was not checkpointed on close";
  ASSERT_EQ(run_aliot({"pool", "status", "--pool", db}).status, 0);

  // a 0-byte file is not an empty pool
  const auto empty = dir.write("empty.db", "");
  ASSERT_EQ(::chmod(empty.c_str(), 0600), 0);
  auto r = run_aliot({"pool", "status", "--pool", empty});
  EXPECT_EQ(r.status, 10) << r.err;
  EXPECT_NE(r.err.find("an empty file, not an aliot pool"), std::string::npos) << r.err;
  EXPECT_EQ(std::filesystem::file_size(empty), 0U);

  // bit flips: in the header, in a b-tree page's header, in the secret of a row
  std::ifstream in(db, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto secret_at = bytes.find(k_ds2);
  ASSERT_NE(secret_at, std::string::npos);
  const std::size_t page =
      static_cast<unsigned char>(bytes[16]) * 256U + static_cast<unsigned char>(bytes[17]);
  struct Flip {
    const char* what;
    std::size_t at;
    unsigned char mask;
    std::string expect;
  };
  const std::vector<Flip> flips = {
      {"the magic", 3, 0x01, "not an SQLite database"},
      {"the page type of page 2", page, 0x10, "is damaged: PRAGMA quick_check"},
      {"the cell count of page 2", page + 3, 0x40, "is damaged: PRAGMA quick_check"},
      {"a character of SW-0002's secret", secret_at + 5, 0x01,
       "1 triplet whose stored secret no longer matches its fingerprint (edited or damaged): "
           + k_pk + "/SW-0002 (AVAILABLE)"},
  };
  int refused = 0;
  for (const auto& f : flips) {
    const auto copy = flipped_copy(dir, db, "flip-" + std::to_string(f.at) + ".db", f.at, f.mask);
    r = run_aliot({"pool", "status", "--pool", copy});
    EXPECT_EQ(r.status, 10) << f.what << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(f.expect), std::string::npos) << f.what << ": " << r.err;
    refused += r.status == 10 ? 1 : 0;
  }
  EXPECT_EQ(refused, static_cast<int>(flips.size()));
  // the journal is not a pool either
  TempDir other;
  const auto journal = other.file("j.db");
  station(other, journal);
  ASSERT_EQ(::chmod(journal.c_str(), 0600), 0);
  r = run_aliot({"pool", "status", "--pool", journal});
  EXPECT_EQ(r.status, 10) << r.err;
  EXPECT_NE(r.err.find("not an aliot pool"), std::string::npos) << r.err;
}

TEST(JournalCli, ExportPrintsTheHeadAndCheckHeadCatchesACutChain) {
  TempDir dir;
  const auto a = dir.file("station-a.db");
  station(dir, a);
  auto r = run_aliot({"journal", "export", "--journal", a});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string mark = "aliot: journal head: event 10 ";
  const auto at = r.err.find(mark);
  ASSERT_NE(at, std::string::npos) << r.err;
  const auto head = r.err.substr(at + mark.size(), 64);
  EXPECT_EQ(head.find_first_not_of("0123456789abcdef"), std::string::npos) << head;
  EXPECT_EQ(r.out.find(head), std::string::npos) << "the export's data stays as it was";
  r = run_aliot({"journal", "check", "--head", head, a});
  EXPECT_EQ(r.status, 0) << r.err;
  // the newest event (the failed job's FAIL) and its job deleted: a whole, shorter chain
  auto t = journal_sql(a, "delete from event where seq=10");
  ASSERT_EQ(t.status, 0) << t.err;
  t = journal_sql(a, "delete from job where state='FAIL'");
  ASSERT_EQ(t.status, 0) << t.err;
  t = journal_sql(a, "delete from event where seq=9");
  ASSERT_EQ(t.status, 0) << t.err;
  r = run_aliot({"journal", "check", a});
  EXPECT_EQ(r.status, 0) << "without the head a clean cut is invisible: " << r.out;
  r = run_aliot({"journal", "check", "--head", head, a});
  EXPECT_EQ(r.status, 9) << r.err;
  EXPECT_NE(r.out.find("VIOLATION head-not-found: no journal given holds the event " + head),
            std::string::npos)
      << r.out;
  r = run_aliot({"journal", "check", "--head", "nothex", a});
  EXPECT_EQ(r.status, 2) << r.err;
  // a binding whose MAC was edited
  t = journal_sql(a, "update binding set mac='0C:8B:95:A1:F3:FF' where device_name='SW-0001'");
  ASSERT_EQ(t.status, 0) << t.err;
  r = run_aliot({"journal", "check", a});
  EXPECT_EQ(r.status, 9) << r.err;
  EXPECT_NE(r.out.find("VIOLATION binding-not-in-chain: " + a + ": the binding of " + k_pk
                       + "/SW-0001 to the unit 0C:8B:95:A1:F3:FF"),
            std::string::npos)
      << r.out;
}
