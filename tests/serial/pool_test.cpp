// The station's credential pool and the journal's recovery on real SQLite files: imports (every
// refusal leaves the pool as it was), the file's mode, reserve / tied_to / release / record_issued,
// and crashes (a child process killed with SIGKILL between two durable steps) then recovery.
#include "journal_support.hpp"
#include "secrets.hpp"
#include "support.hpp"
#include "unwrap.hpp"

#include <aliot/crypto.hpp>
#include <aliot/factory.hpp>
#include <aliot/factory/pool.hpp>
#include <aliot/identity.hpp>
#include <aliot/serial/codec.hpp>
#include <aliot/time.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>

using namespace aliot;
using namespace aliot::test;
using factory::PoolState;

namespace {

const std::string k_pk = "a1PoolTest01";
const std::string k_mac_a = "0C:8B:95:A1:F3:E2";
const std::string k_mac_b = "0C:8B:95:A1:F3:E3";

// A DeviceSecret per index: 32 characters, distinct.
std::string ds(int i) {
  return crypto::sha256_hex("ds" + std::to_string(i)).substr(0, 32);
}
std::string dn(int i) {
  return "SW-" + std::to_string(1000 + i);
}

// The console's batch CSV for triplets [from, to).
std::string console_csv(int from, int to, const std::string& pk = k_pk) {
  std::string s = "ProductKey,DeviceName,DeviceSecret\n";
  for (int i = from; i < to; ++i) {
    s += pk + "," + dn(i) + "," + ds(i) + "\n";
  }
  return s;
}

std::unique_ptr<factory::Pool> open_pool(const std::string& path) {
  return unwrap(factory::Pool::open(path));
}
std::unique_ptr<factory::Journal> open_journal(const std::string& path) {
  return unwrap(factory::Journal::open(path));
}

factory::PoolCounts counts(factory::Pool& p, const std::string& pk = k_pk) {
  for (const auto& c : unwrap(p.status())) {
    if (c.product_key == pk) {
      return c;
    }
  }
  return factory::PoolCounts{pk};
}

// Every row of the pool as another SQLite client sees it (for "unchanged" comparisons).
std::string dump(const std::string& db) {
  auto r = journal_sql(db, "select product_key,device_name,device_secret,state,mac,job_id from "
                           "pool order by triplet_id");
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

// Runs `f` in a child process that then dies by SIGKILL (no destructor, no checkpoint, no
// close): the crash of a station between two steps.
void crash_after(const std::function<void()>& f) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    f();
    ::kill(::getpid(), SIGKILL);
    ::_exit(99);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child did not reach its crash point (status " << status << ")";
}

factory::UnitInfo unit(const std::string& mac) {
  return {mac, "chip-" + mac, "1.4.0", "SN-" + mac};
}

} // namespace

// ---- the file ----

TEST(Pool, IsCreatedPrivateAndAWorldReadableOneIsRefused) {
  TempDir dir;
  const auto db = dir.file("pool.db");
  {
    auto p = open_pool(db);
    ASSERT_TRUE(p);
    ASSERT_TRUE(p->import_text(console_csv(0, 3), "batch.csv", {}));
    for (const char* suffix : {"", "-wal", "-shm"}) {
      EXPECT_EQ(mode_of(db + suffix), 0600U) << db + suffix;
    }
  }
  ASSERT_EQ(::chmod(db.c_str(), 0644), 0);
  auto again = factory::Pool::open(db);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::config);
  EXPECT_NE(again.error().message().find("644"), std::string::npos) << again.error().message();
  EXPECT_NE(again.error().hint().find("chmod 600"), std::string::npos);
}

TEST(Pool, TheJournalHoldsNoSecretThePoolDoes) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  auto j = open_journal(dir.file("journal.db"));
  ASSERT_TRUE(p && j);
  ASSERT_TRUE(p->import_text(console_csv(0, 2), "batch.csv", {}));
  auto job = unwrap(j->start_job({"S1", "op", "/dev/ttyUSB0", "alsw1"}));
  auto e = unwrap(p->reserve(k_pk, k_mac_a, job));
  ASSERT_TRUE(j->write_intent(job, unit(k_mac_a), k_pk, e.device_name, e.fp));
  ASSERT_TRUE(p->mark_transmitted(k_pk, e.device_name, job));
  ASSERT_TRUE(j->finish(job, true, 5, "", ""));
  ASSERT_TRUE(p->mark_bound(k_pk, e.device_name, job));
  EXPECT_TRUE(no_secret_in({ds(0), ds(1)}, {file_bytes(dir.file("journal.db")),
                                            file_bytes(dir.file("journal.db-wal"))}));
  // the scan finds the secrets where they are
  EXPECT_FALSE(no_secret_in({ds(1)}, {file_bytes(dir.file("pool.db-wal"))}));
}

// ---- import ----

TEST(PoolImport, ConsoleCsvWithBomCrlfAndAnyHeaderCase) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  ASSERT_TRUE(p);
  std::string csv = "\xEF\xBB\xBFproductkey,DEVICENAME,Device Secret\r\n";
  for (int i = 0; i < 3; ++i) {
    csv += k_pk + "," + dn(i) + ",\"" + ds(i) + "\"\r\n";
  }
  csv += "\r\n";
  const auto file = dir.write("batch.csv", csv);
  auto rep = unwrap(p->import_file(file, {}));
  EXPECT_EQ(rep.format, "csv");
  EXPECT_EQ(rep.rows, 3U);
  EXPECT_EQ(rep.sha256, crypto::sha256_hex(csv));
  EXPECT_EQ(counts(*p).available, 3);
  auto rows = unwrap(p->rows(PoolState::available));
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows[2].device_name, dn(2));
  EXPECT_EQ(rows[2].device_secret.reveal(), ds(2)); // no '\r', no quotes
  EXPECT_EQ(rows[2].fp, unwrap(serial::fingerprint(k_pk, dn(2), Secret(ds(2)), Secret())));
  auto q = journal_sql(dir.file("pool.db"), "select sha256,rows,format from import");
  EXPECT_EQ(q.out, "('" + rep.sha256 + "', 3, 'csv')\n") << q.err;
}

TEST(PoolImport, RegisterOutJsonLines) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  ASSERT_TRUE(p);
  // exactly what register --out appends, then the console's JSON with a ProductSecret
  std::string lines =
      triplet_json({k_pk, dn(0), Secret(ds(0)), std::nullopt, Secret(), Secret()}, false) + "\r\n";
  lines += R"({"ProductKey":")" + k_pk + R"(","DeviceName":")" + dn(1) + R"(","DeviceSecret":")"
           + ds(1) + R"(","ProductSecret":")" + ds(9) + "\"}\r\n";
  auto rep = unwrap(p->import_text(lines, "secrets.jsonl", {}));
  EXPECT_EQ(rep.format, "jsonl");
  EXPECT_EQ(rep.rows, 2U);
  auto rows = unwrap(p->rows(PoolState::available));
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[1].product_secret.reveal(), ds(9));
  EXPECT_EQ(rows[1].fp, unwrap(serial::fingerprint(k_pk, dn(1), Secret(ds(1)), Secret(ds(9)))));
}

TEST(PoolImport, ALayoutWithoutProductKeyNeedsDashK) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  ASSERT_TRUE(p);
  const std::string csv = "DeviceName,DeviceSecret,IotId\n" + dn(0) + "," + ds(0) + ",iot0\n";
  auto r = p->import_text(csv, "apply.csv", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::usage);
  EXPECT_NE(r.error().message().find("apply.csv line 2: no ProductKey"), std::string::npos)
      << r.error().message();
  factory::ImportOptions o;
  o.product_key = k_pk;
  ASSERT_TRUE(p->import_text(csv, "apply.csv", o));
  EXPECT_EQ(counts(*p).available, 1);
}

struct Refusal {
  const char* name;
  std::function<std::string()> file; // the import file's text
  Errc code;
  const char* message; // a part of the error message (names the line)
};

TEST(PoolImport, EveryRefusalNamesTheRowAndLeavesThePoolUnchanged) {
  const std::string header = "ProductKey,DeviceName,DeviceSecret\n";
  auto row = [](int i, const std::string& pk = k_pk) {
    return pk + "," + dn(i) + "," + ds(i) + "\n";
  };
  const std::vector<Refusal> cases = {
      {"a duplicate within the file", [&] { return header + row(10) + row(11) + row(10); },
       Errc::usage, "line 4: DeviceName SW-1010 repeats line 2"},
      {"a duplicate against the pool (after new rows: the transaction rolls back)",
       [&] { return header + row(10) + row(11) + row(1); }, Errc::usage,
       "line 4: DeviceName SW-1001 of a1PoolTest01 is already in the pool (AVAILABLE)"},
      {"a truncated last row", [&] { return header + row(10) + k_pk + "," + dn(11); }, Errc::config,
       "line 3: truncated row (2 of 3 fields)"},
      {"a row cut inside a quote",
       [&] { return header + row(10) + k_pk + "," + dn(11) + ",\"" + ds(11).substr(0, 7); },
       Errc::config, "line 3: a quoted field opened on this line is not closed"},
      {"a wrong ProductKey with -k", [&] { return header + row(10) + row(11, "a1OtherPK01"); },
       Errc::usage, "line 3: ProductKey a1OtherPK01 is not the product a1PoolTest01"},
      {"a DeviceName with a bad character",
       [&] { return header + row(10) + k_pk + ",SW 11," + ds(11) + "\n"; }, Errc::usage,
       "line 3: DeviceName 'SW 11' may contain only"},
      {"a DeviceSecret longer than 64",
       [&] { return header + row(10) + k_pk + "," + dn(11) + "," + std::string(65, 'x') + "\n"; },
       Errc::usage, "line 3: DeviceSecret is longer than 64 characters"},
      {"a JSON line cut short",
       [&] {
         return triplet_json({k_pk, dn(10), Secret(ds(10)), std::nullopt, Secret(), Secret()},
                             false)
                + "\n{\"ProductKey\":\"" + k_pk + "\",\"DeviceName\":\"" + dn(11);
       },
       Errc::config, "line 2"},
      {"a header only", [&] { return header; }, Errc::usage, "no triplet in the file"},
      {"a JSON line with a token instead of a secret",
       [&] {
         return triplet_json({k_pk, dn(10), Secret(), "cid", Secret("tok"), Secret()}, false)
                + "\n";
       },
       Errc::usage, "line 1: no DeviceSecret"},
  };
  TempDir dir;
  const auto db = dir.file("pool.db");
  auto p = open_pool(db);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->import_text(console_csv(0, 3), "first.csv", {}));
  const auto before = dump(db);
  factory::ImportOptions o;
  o.product_key = k_pk;
  for (const auto& c : cases) {
    auto r = p->import_text(c.file(), "batch.csv", o);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code(), c.code) << c.name << ": " << r.error().message();
    EXPECT_NE(r.error().message().find(c.message), std::string::npos)
        << c.name << ": " << r.error().message();
    EXPECT_EQ(dump(db), before) << c.name << ": the pool changed";
  }
  auto q = journal_sql(db, "select count(*) from import");
  EXPECT_EQ(q.out, "(1,)\n") << "a refused import was recorded";
  // and the same rows without the bad one do import
  ASSERT_TRUE(p->import_text(header + row(10) + row(11), "batch.csv", o));
  EXPECT_EQ(counts(*p).available, 5);
}

TEST(PoolImport, ADeviceNameTheJournalBindsIsRefused) {
  TempDir dir;
  const auto db = dir.file("pool.db");
  auto p = open_pool(db);
  auto j = open_journal(dir.file("journal.db"));
  ASSERT_TRUE(p && j);
  // burned earlier from a --triplet file, never in this pool
  auto job = unwrap(j->start_job({"S1", "op", "/dev/ttyUSB0", "alsw1"}));
  ASSERT_TRUE(j->write_intent(job, unit(k_mac_a), k_pk, dn(1), "0123456789abcdef"));
  factory::ImportOptions o;
  o.journal = j.get();
  auto r = p->import_text(console_csv(0, 3), "batch.csv", o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::usage);
  EXPECT_NE(r.error().message().find("line 3: DeviceName SW-1001 is already bound to the unit "
                                     + k_mac_a),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(dump(db), "");
}

// ---- reserve, tied_to, release, issued ----

TEST(Pool, ReserveGivesAUnitItsTripletAndTheNextUnitTheNextOne) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->import_text(console_csv(0, 2), "batch.csv", {}));
  EXPECT_FALSE(unwrap(p->tied_to(k_pk, k_mac_a)).has_value());
  auto a = unwrap(p->reserve(k_pk, k_mac_a, "job-1"));
  EXPECT_EQ(a.device_name, dn(0));
  EXPECT_EQ(a.device_secret.reveal(), ds(0));
  EXPECT_EQ(a.state, PoolState::reserved);
  auto again = unwrap(p->reserve(k_pk, k_mac_a, "job-2")); // the unit came back
  EXPECT_EQ(again.device_name, dn(0));
  EXPECT_EQ(again.job_id, "job-2");
  auto b = unwrap(p->reserve(k_pk, k_mac_b, "job-3"));
  EXPECT_EQ(b.device_name, dn(1));
  auto tied = unwrap(p->tied_to(k_pk, k_mac_b));
  ASSERT_TRUE(tied.has_value());
  EXPECT_EQ(tied->device_name, dn(1));
  auto empty = p->reserve(k_pk, "0C:8B:95:A1:F3:E4", "job-4");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::config);
  EXPECT_NE(empty.error().message().find("has no free triplet of product " + k_pk),
            std::string::npos)
      << empty.error().message();
  auto other = p->reserve("a1NoSuchPK01", k_mac_a, "job-5");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code(), Errc::config);
  auto c = counts(*p);
  EXPECT_EQ(c.available, 0);
  EXPECT_EQ(c.reserved, 2);
}

TEST(Pool, ReleaseGivesBackOnlyWhatNeverLeftTheHost) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  auto j = open_journal(dir.file("journal.db"));
  ASSERT_TRUE(p && j);
  ASSERT_TRUE(p->import_text(console_csv(0, 3), "batch.csv", {}));
  // A: reserved, the unit failed before the write intent: released, the next unit gets it
  auto job_a = unwrap(j->start_job({}));
  auto a = unwrap(p->reserve(k_pk, k_mac_a, job_a));
  ASSERT_TRUE(p->release(k_pk, a.device_name, job_a, j.get()));
  EXPECT_FALSE(unwrap(p->tied_to(k_pk, k_mac_a)).has_value());
  auto b = unwrap(p->reserve(k_pk, k_mac_b, unwrap(j->start_job({}))));
  EXPECT_EQ(b.device_name, a.device_name);
  // B: its write intent is journaled, the pool not yet told: release refuses and keeps it
  auto job_b = unwrap(j->start_job({}));
  ASSERT_TRUE(j->write_intent(job_b, unit(k_mac_b), k_pk, b.device_name, b.fp));
  auto r = p->release(k_pk, b.device_name, job_b, j.get());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::usage);
  EXPECT_EQ(unwrap(p->tied_to(k_pk, k_mac_b))->state, PoolState::transmitted);
  // a TRANSMITTED row is never released
  r = p->release(k_pk, b.device_name, job_b, nullptr);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("TRANSMITTED, not RESERVED"), std::string::npos);
  // the job fails after the write intent: FAILED, still B's
  ASSERT_TRUE(p->mark_failed(k_pk, b.device_name, job_b, j.get()));
  EXPECT_EQ(unwrap(p->tied_to(k_pk, k_mac_b))->state, PoolState::failed);
  EXPECT_EQ(unwrap(p->reserve(k_pk, k_mac_b, "job-again")).device_name, b.device_name);
  // a failure before any write intent gives the triplet back
  auto job_c = unwrap(j->start_job({}));
  auto c = unwrap(p->reserve(k_pk, "0C:8B:95:A1:F3:E4", job_c));
  ASSERT_TRUE(p->mark_failed(k_pk, c.device_name, job_c, j.get()));
  EXPECT_FALSE(unwrap(p->tied_to(k_pk, "0C:8B:95:A1:F3:E4")).has_value());
  auto n = counts(*p);
  EXPECT_EQ(n.available, 2);
  EXPECT_EQ(n.failed, 1);
  EXPECT_EQ(n.reserved, 0);
}

TEST(Pool, ATripletFromThePoolBoundToOneUnitIsRefusedForAnotherAsATripletFile) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  auto j = open_journal(dir.file("journal.db"));
  ASSERT_TRUE(p && j);
  ASSERT_TRUE(p->import_text(console_csv(0, 1), "batch.csv", {}));
  auto job = unwrap(j->start_job({}));
  auto a = unwrap(p->reserve(k_pk, k_mac_a, job));
  ASSERT_TRUE(j->write_intent(job, unit(k_mac_a), k_pk, a.device_name, a.fp));
  ASSERT_TRUE(p->mark_transmitted(k_pk, a.device_name, job));
  // `burn --triplet` with the same triplet on another unit: the journal's binding check
  auto job2 = unwrap(j->start_job({}));
  auto r = j->write_intent(job2, unit(k_mac_b), k_pk, a.device_name, a.fp);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::usage);
  EXPECT_NE(r.error().message().find("already went to another unit (MAC " + k_mac_a),
            std::string::npos)
      << r.error().message();
  // and unit A given another triplet file of the product
  auto job3 = unwrap(j->start_job({}));
  r = j->write_intent(job3, unit(k_mac_a), k_pk, dn(7), "fedcba9876543210");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("already got the triplet " + a.device_name), std::string::npos)
      << r.error().message();
  auto bound = unwrap(j->bound_triplet(k_pk, k_mac_a));
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound->device_name, a.device_name);
  EXPECT_EQ(bound->state, "TRANSMITTED");
}

TEST(Pool, AnIssuedSecretIsDurableAndStaysWithItsUnit) {
  TempDir dir;
  const auto db = dir.file("pool.db");
  const std::string name = "SW-0C8B95A1F3E2";
  crash_after([&] {
    auto p = factory::Pool::open(db);
    if (!p || !(*p)->record_issued(k_pk, name, Secret(ds(5)), Secret(), k_mac_a, "job-1")) {
      ::_exit(1);
    }
  });
  auto p = open_pool(db);
  auto j = open_journal(dir.file("journal.db"));
  ASSERT_TRUE(p && j);
  auto rep = unwrap(j->recover(p.get()));
  EXPECT_EQ(rep.released, 0);
  auto tied = unwrap(p->tied_to(k_pk, k_mac_a));
  ASSERT_TRUE(tied.has_value()) << "the issued secret was lost";
  EXPECT_EQ(tied->device_name, name);
  EXPECT_EQ(tied->device_secret.reveal(), ds(5));
  EXPECT_TRUE(tied->issued);
  EXPECT_EQ(tied->state, PoolState::reserved);
  // recorded again (the same answer): the stored row; another secret or unit: refused
  EXPECT_EQ(
      unwrap(p->record_issued(k_pk, name, Secret(ds(5)), Secret(), k_mac_a, "job-2")).device_name,
      name);
  auto r = p->record_issued(k_pk, name, Secret(ds(6)), Secret(), k_mac_a, "job-2");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("nothing was overwritten"), std::string::npos);
  r = p->record_issued(k_pk, "SW-OTHER", Secret(ds(6)), Secret(), k_mac_a, "job-2");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("already tied to the triplet " + name), std::string::npos);
  EXPECT_EQ(r.error().code(), Errc::device); // a unit with another triplet: exit 8 everywhere
  // released before its write intent: still this unit's (its name is the unit's)
  ASSERT_TRUE(p->release(k_pk, name, "job-2", j.get()));
  EXPECT_EQ(unwrap(p->tied_to(k_pk, k_mac_a))->state, PoolState::reserved);
  EXPECT_EQ(unwrap(p->rows(PoolState::available)).size(), 0U);
  EXPECT_EQ(unwrap(p->reserve(k_pk, k_mac_a, "job-3")).device_name, name);
  EXPECT_EQ(unwrap(p->tied_to(k_pk, k_mac_a))->device_secret.reveal(), ds(5));
}

// ---- crashes and recovery ----

TEST(Recovery, ACrashBetweenReserveAndWriteIntentReleasesTheTriplet) {
  TempDir dir;
  const auto pdb = dir.file("pool.db");
  const auto jdb = dir.file("journal.db");
  {
    auto p = open_pool(pdb);
    ASSERT_TRUE(p && p->import_text(console_csv(0, 2), "batch.csv", {}));
  }
  crash_after([&] {
    auto p = factory::Pool::open(pdb);
    auto j = factory::Journal::open(jdb);
    if (!p || !j) {
      ::_exit(1);
    }
    auto job = (*j)->start_job({"S1", "op", "/dev/ttyUSB0", "alsw1"});
    if (!job || !(*p)->reserve(k_pk, k_mac_a, *job)) {
      ::_exit(1);
    }
  });
  auto p = open_pool(pdb);
  auto j = open_journal(jdb);
  ASSERT_TRUE(p && j);
  EXPECT_EQ(counts(*p).reserved, 1);
  auto rep = unwrap(j->recover(p.get()));
  EXPECT_TRUE(rep.exclusive);
  EXPECT_EQ(rep.aborted, 1);
  EXPECT_EQ(rep.in_doubt, 0);
  EXPECT_EQ(rep.released, 1);
  EXPECT_EQ(rep.transmitted, 0);
  EXPECT_EQ(counts(*p).available, 2);
  EXPECT_FALSE(unwrap(p->tied_to(k_pk, k_mac_a)).has_value());
  auto jobs = unwrap(j->jobs());
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].state, "ABORTED");
  EXPECT_FALSE(jobs[0].ended_at.empty());
  auto ev = unwrap(j->events());
  ASSERT_EQ(ev.size(), 2U);
  EXPECT_EQ(ev[1].type, "ABORTED");
  EXPECT_FALSE(unwrap(j->verify_chain()).has_value());
  // idempotent
  auto second = unwrap(j->recover(p.get()));
  EXPECT_EQ(second.aborted + second.in_doubt + second.released + second.transmitted, 0);
  // another unit now gets the first triplet
  EXPECT_EQ(unwrap(p->reserve(k_pk, k_mac_b, "job-b")).device_name, dn(0));
}

TEST(Recovery, ACrashAfterTheWriteIntentKeepsTheTripletForThatUnitOnly) {
  TempDir dir;
  const auto pdb = dir.file("pool.db");
  const auto jdb = dir.file("journal.db");
  {
    auto p = open_pool(pdb);
    ASSERT_TRUE(p && p->import_text(console_csv(0, 3), "batch.csv", {}));
  }
  crash_after([&] {
    auto p = factory::Pool::open(pdb);
    auto j = factory::Journal::open(jdb);
    if (!p || !j) {
      ::_exit(1);
    }
    auto job = (*j)->start_job({"S1", "op", "/dev/ttyUSB0", "alsw1"});
    if (!job) {
      ::_exit(1);
    }
    auto e = (*p)->reserve(k_pk, k_mac_a, *job);
    if (!e || !(*j)->write_intent(*job, unit(k_mac_a), k_pk, e->device_name, e->fp)) {
      ::_exit(1);
    }
    // killed before mark_transmitted
  });
  auto p = open_pool(pdb);
  auto j = open_journal(jdb);
  ASSERT_TRUE(p && j);
  auto rep = unwrap(j->recover(p.get()));
  EXPECT_EQ(rep.aborted, 0);
  EXPECT_EQ(rep.in_doubt, 1);
  EXPECT_EQ(rep.released, 0);
  EXPECT_EQ(rep.transmitted, 1);
  ASSERT_EQ(rep.kept.size(), 1U);
  EXPECT_EQ(rep.kept[0].mac, k_mac_a);
  EXPECT_EQ(rep.kept[0].device_name, dn(0));
  auto tied = unwrap(p->tied_to(k_pk, k_mac_a));
  ASSERT_TRUE(tied.has_value());
  EXPECT_EQ(tied->state, PoolState::transmitted);
  EXPECT_EQ(tied->device_name, dn(0));
  // never to another unit; the same unit gets it again
  EXPECT_EQ(unwrap(p->reserve(k_pk, k_mac_b, "job-b")).device_name, dn(1));
  EXPECT_EQ(unwrap(p->reserve(k_pk, k_mac_a, "job-a2")).device_name, dn(0));
  auto jobs = unwrap(j->jobs());
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].state, "IN_DOUBT");
  auto ev = unwrap(j->events());
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().type, "IN_DOUBT");
  EXPECT_NE(ev.back().data_json.find(k_mac_a), std::string::npos) << ev.back().data_json;
  EXPECT_FALSE(unwrap(j->verify_chain()).has_value());
}

TEST(Recovery, JobsOfAnotherLiveAliotAreLeftAlone) {
  TempDir dir;
  const auto pdb = dir.file("pool.db");
  const auto jdb = dir.file("journal.db");
  {
    auto p = open_pool(pdb);
    ASSERT_TRUE(p && p->import_text(console_csv(0, 2), "batch.csv", {}));
  }
  int go[2];
  int ready[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) { // a station burning a unit right now
    auto p = factory::Pool::open(pdb);
    auto j = factory::Journal::open(jdb);
    auto job = (*j)->start_job({});
    (void)(*p)->reserve(k_pk, k_mac_a, *job);
    char c = 'r';
    (void)!::write(ready[1], &c, 1);
    (void)!::read(go[0], &c, 1);
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  {
    auto p = open_pool(pdb);
    auto j = open_journal(jdb);
    ASSERT_TRUE(p && j);
    auto rep = unwrap(j->recover(p.get()));
    EXPECT_FALSE(rep.exclusive);
    EXPECT_EQ(counts(*p).reserved, 1) << "a live reservation was released";
    EXPECT_EQ(unwrap(j->jobs())[0].state, "STARTED");
  }
  (void)!::write(go[1], &c, 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  for (int fd : {go[0], go[1], ready[0], ready[1]}) {
    ::close(fd);
  }
  auto p = open_pool(pdb);
  auto j = open_journal(jdb);
  auto rep = unwrap(j->recover(p.get()));
  EXPECT_TRUE(rep.exclusive);
  EXPECT_EQ(rep.aborted, 1);
  EXPECT_EQ(rep.released, 1);
}

// ---- journal check, export ----

namespace {

// One unit burned to PASS through the journal at `db`.
void burn_into(const std::string& db,
               const std::string& mac,
               const std::string& name,
               const std::string& fp) {
  auto j = open_journal(db);
  ASSERT_TRUE(j);
  auto job = unwrap(j->start_job({"S", "op", "/dev/ttyUSB0", "alsw1"}));
  ASSERT_TRUE(j->write_intent(job, unit(mac), k_pk, name, fp));
  ASSERT_TRUE(j->finish(job, true, 5, "", ""));
}

} // namespace

TEST(JournalCheck, ATripletBurnedIntoTwoUnitsThroughTwoJournals) {
  TempDir dir;
  const auto a = dir.file("station-a.db");
  const auto b = dir.file("station-b.db");
  burn_into(a, k_mac_a, dn(0), "00000000000000aa");
  burn_into(b, k_mac_b, dn(1), "00000000000000bb");
  auto clean = unwrap(factory::check_journals({a, b}));
  EXPECT_TRUE(clean.violations.empty());
  EXPECT_EQ(clean.journals, 2U);
  EXPECT_EQ(clean.bindings, 2U);
  EXPECT_EQ(clean.jobs, 2U);
  EXPECT_EQ(clean.events, 8U);
  // station B burns dn(0) too (its own journal could not know), into another unit
  burn_into(b, "0C:8B:95:A1:F3:E4", dn(0), "00000000000000aa");
  auto rep = unwrap(factory::check_journals({a, b}));
  ASSERT_EQ(rep.violations.size(), 1U);
  EXPECT_EQ(rep.violations[0].rule, "triplet-two-units");
  EXPECT_EQ(rep.violations[0].message, "the triplet " + k_pk + "/" + dn(0)
                                           + " is bound to 2 units: " + k_mac_a + " (" + a
                                           + "), 0C:8B:95:A1:F3:E4 (" + b + ")");
  // each journal alone is consistent
  EXPECT_TRUE(unwrap(factory::check_journals({b})).violations.empty());
}

TEST(JournalCheck, AUnitWithTwoTripletsAndTwoSecretsForOneTripletAndABrokenChain) {
  TempDir dir;
  const auto a = dir.file("a.db");
  const auto b = dir.file("b.db");
  burn_into(a, k_mac_a, dn(0), "00000000000000aa");
  burn_into(b, "0c:8b:95:a1:f3:e2", dn(1), "00000000000000bb"); // the same unit, lower case
  burn_into(b, k_mac_b, dn(2), "00000000000000cc");
  burn_into(a, "0C:8B:95:A1:F3:E4", dn(2), "00000000000000dd");
  auto t =
      journal_sql(b, "update event set data_json=replace(data_json,'1.4.0','1.4.1') where seq=2");
  ASSERT_EQ(t.status, 0) << t.err;
  auto rep = unwrap(factory::check_journals({a, b}));
  std::vector<std::string> rules;
  for (const auto& v : rep.violations) {
    rules.push_back(v.rule);
  }
  EXPECT_EQ(rules, (std::vector<std::string>{"broken-chain", "triplet-two-units",
                                             "triplet-two-secrets", "unit-two-triplets"}));
  EXPECT_NE(rep.violations[0].message.find(b + ": the event chain breaks at event 2"),
            std::string::npos)
      << rep.violations[0].message;
  EXPECT_NE(rep.violations[3].message.find("the unit " + k_mac_a + " holds 2 triplets of product "
                                           + k_pk),
            std::string::npos)
      << rep.violations[3].message;
  auto missing = factory::check_journals({a, dir.file("nope.db")});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::io);
  const auto junk = dir.write("junk.db", "not a database at all, just text\n");
  auto notj = factory::check_journals({junk});
  ASSERT_FALSE(notj);
  EXPECT_EQ(notj.error().code(), Errc::io);
}

TEST(JournalExport, SinceFiltersJobsAndEvents) {
  TempDir dir;
  const auto db = dir.file("j.db");
  auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1795889391));
  auto j = unwrap(factory::Journal::open(db, [&] { return t; }));
  ASSERT_TRUE(j);
  auto first = unwrap(j->start_job({"S1", "op", "/dev/ttyUSB0", "alsw1"}));
  t += std::chrono::hours(1);
  auto second = unwrap(j->start_job({"S1", "op", "/dev/ttyUSB1", "alsw1"}));
  const auto since = t - std::chrono::minutes(1);
  auto jobs = unwrap(j->jobs(since));
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].job_id, second);
  EXPECT_EQ(jobs[0].port, "/dev/ttyUSB1");
  EXPECT_EQ(unwrap(j->jobs()).size(), 2U);
  auto ev = unwrap(j->events(since));
  ASSERT_EQ(ev.size(), 1U);
  EXPECT_EQ(ev[0].job_id, second);
  EXPECT_EQ(ev[0].seq, 2);
  (void)first;
}

// ---- the default place ----

TEST(JournalPath, XdgStateHomeThenHomeAndNothingRelative) {
  using factory::default_journal_path;
  EXPECT_EQ(unwrap(default_journal_path("/x/state", "/home/u")), "/x/state/aliot/factory.db");
  EXPECT_EQ(unwrap(default_journal_path("/x/state/", "/home/u")), "/x/state/aliot/factory.db");
  EXPECT_EQ(unwrap(default_journal_path(std::nullopt, "/home/u")),
            "/home/u/.local/state/aliot/factory.db");
  EXPECT_EQ(unwrap(default_journal_path("", "/home/u")), "/home/u/.local/state/aliot/factory.db");
  EXPECT_EQ(unwrap(default_journal_path("relative/state", "/home/u")),
            "/home/u/.local/state/aliot/factory.db");
  auto none = default_journal_path(std::nullopt, std::nullopt);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::config);
  EXPECT_EQ(none.error().hint(), "give --journal DB");
  EXPECT_FALSE(default_journal_path("", "relative-home"));
}

TEST(JournalPath, TheDirectoryIsCreatedForTheOwnerOnly) {
  TempDir dir;
  const auto path = unwrap(factory::default_journal_path(dir.file("state"), std::nullopt));
  const auto old = ::umask(0022);
  auto r = factory::create_parent_dir(path);
  ::umask(old);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(mode_of(dir.file("state")), 0700U);
  EXPECT_EQ(mode_of(dir.file("state/aliot")), 0700U);
  ASSERT_TRUE(factory::create_parent_dir(path)); // again: nothing to do
  auto j = factory::Journal::open(path);
  ASSERT_TRUE(j) << j.error().message();
  const auto file = dir.write("a-file", "x");
  auto bad = factory::create_parent_dir(file + "/sub/j.db");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::io);
}

// `journal export --since` takes RFC 3339 with an offset or a date alone.
constexpr aliot::TimeSyntax k_since_syntax{.offset = true, .date_only = true, .lenient = true};

TEST(JournalExport, Rfc3339Times) {
  using std::chrono::milliseconds;
  auto ms = [](const char* t) {
    auto r = parse_utc_iso8601(t, k_since_syntax);
    EXPECT_TRUE(r) << t << ": " << (r ? "" : r.error().message());
    return r ? std::chrono::duration_cast<milliseconds>(r->time_since_epoch()).count() : -1;
  };
  EXPECT_EQ(ms("2026-11-28T18:09:51.123Z"), 1795889391123LL);
  EXPECT_EQ(ms("2026-11-29T02:09:51.123+08:00"), 1795889391123LL);
  EXPECT_EQ(ms("2026-11-28t18:09:51z"), 1795889391000LL);
  EXPECT_EQ(ms("2026-11-28"), 1795824000000LL);
  for (const char* bad : {"2026-11-28T18:09:51", "2026-02-30", "2026-11-28T25:00:00Z", "28/11/2026",
                          "2026-11-28T18:09:51+8", "", "2999-01-01"}) {
    auto r = parse_utc_iso8601(bad, k_since_syntax);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::usage);
  }
}

TEST(Pool, ATripletTheJournalBindsToAnotherUnitIsSetAsideNotTiedToThisOne) {
  TempDir dir;
  auto p = open_pool(dir.file("pool.db"));
  auto j = open_journal(dir.file("journal.db"));
  ASSERT_TRUE(p && j);
  // dn(0) went to unit B from a triplet file; the pool imported it anyway (no --journal)
  auto old = unwrap(j->start_job({}));
  const auto fp0 = unwrap(serial::fingerprint(k_pk, dn(0), Secret(ds(0)), Secret()));
  ASSERT_TRUE(j->write_intent(old, unit(k_mac_b), k_pk, dn(0), fp0));
  ASSERT_TRUE(p->import_text(console_csv(0, 3), "batch.csv", {}));
  auto job = unwrap(j->start_job({}));
  auto e = unwrap(p->reserve(k_pk, k_mac_a, job));
  ASSERT_EQ(e.device_name, dn(0));
  auto refused = j->write_intent(job, unit(k_mac_a), k_pk, e.device_name, e.fp);
  ASSERT_FALSE(refused);
  ASSERT_TRUE(p->mark_failed(k_pk, e.device_name, job, j.get()));
  EXPECT_FALSE(unwrap(p->tied_to(k_pk, k_mac_a)).has_value()) << "unit A is stuck with it";
  EXPECT_EQ(counts(*p).quarantined, 1);
  EXPECT_EQ(unwrap(p->reserve(k_pk, k_mac_a, "job-2")).device_name, dn(1));
  // the same found by recovery: a reservation left by a crash
  crash_after([&] {
    auto p2 = factory::Pool::open(dir.file("pool.db"));
    auto j2 = factory::Journal::open(dir.file("journal.db"));
    if (!p2 || !j2) {
      ::_exit(1);
    }
    auto other = (*j2)->start_job({});
    if (!other || !(*j2)->write_intent(*other, unit("0C:8B:95:A1:F3:F9"), k_pk, dn(2), "x")) {
      ::_exit(1);
    }
  });
  ASSERT_TRUE(p->reserve(k_pk, "0C:8B:95:A1:F3:E5", "job-3"));
  EXPECT_EQ(unwrap(p->tied_to(k_pk, "0C:8B:95:A1:F3:E5"))->device_name, dn(2));
  p.reset();
  j.reset();
  p = open_pool(dir.file("pool.db"));
  j = open_journal(dir.file("journal.db"));
  auto rep = unwrap(j->recover(p.get()));
  EXPECT_EQ(rep.quarantined, 1);
  EXPECT_EQ(rep.in_doubt, 2); // the first job of unit B and the crashed one
  EXPECT_EQ(rep.aborted, 1);  // the refused one
  EXPECT_FALSE(unwrap(p->tied_to(k_pk, "0C:8B:95:A1:F3:E5")).has_value());
  EXPECT_EQ(counts(*p).quarantined, 2);
}

// ---- the pool trusts its own rows no more (issue 23) ----

TEST(PoolIntegrity, ARowWithAnEditedSecretIsQuarantinedAndTheNextOneTaken) {
  TempDir dir;
  const auto db = dir.file("pool.db");
  auto p = open_pool(db);
  ASSERT_TRUE(p && p->import_text(console_csv(0, 4), "batch.csv", {}));
  // the secret of the first row edited in the file, its fingerprint left as imported
  auto t = journal_sql(db, "update pool set device_secret='" + ds(7) + "' where device_name='"
                               + dn(0) + "'");
  ASSERT_EQ(t.status, 0) << t.err;
  auto found = unwrap(p->check());
  EXPECT_TRUE(found.integrity.empty());
  ASSERT_EQ(found.damaged.size(), 1U);
  EXPECT_EQ(found.damaged[0].device_name, dn(0));
  EXPECT_EQ(found.damaged[0].state, "AVAILABLE");

  auto e = unwrap(p->reserve(k_pk, k_mac_a, "job-a"));
  EXPECT_EQ(e.device_name, dn(1)) << "the edited row was handed out";
  EXPECT_EQ(e.set_aside, (std::vector<std::string>{dn(0)}));
  EXPECT_EQ(counts(*p).quarantined, 1);
  EXPECT_EQ(unwrap(p->rows(PoolState::quarantined)).at(0).device_name, dn(0));
  EXPECT_TRUE(unwrap(p->check()).damaged.empty()) << "a quarantined row is no longer a finding";
  // the next unit takes the next sound row, and nothing is set aside twice
  auto next = unwrap(p->reserve(k_pk, k_mac_b, "job-b"));
  EXPECT_EQ(next.device_name, dn(2));
  EXPECT_TRUE(next.set_aside.empty());

  // a row already tied to a unit that rots is refused for that unit (never sent), set aside
  t = journal_sql(db, "update pool set device_secret='" + ds(8) + "' where device_name='" + dn(1)
                          + "'");
  ASSERT_EQ(t.status, 0) << t.err;
  auto refused = p->reserve(k_pk, k_mac_a, "job-a2");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::device);
  EXPECT_NE(refused.error().message().find("no longer matches its fingerprint"), std::string::npos)
      << refused.error().message();
  EXPECT_EQ(counts(*p).quarantined, 2);
  // a pool whose last free rows are damaged says so
  t = journal_sql(db, "update pool set fp='0000000000000000' where device_name='" + dn(3) + "'");
  ASSERT_EQ(t.status, 0) << t.err;
  auto none = p->reserve(k_pk, "0C:8B:95:A1:F3:E9", "job-c");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Errc::config);
  EXPECT_NE(none.error().message().find("1 damaged triplets set aside"), std::string::npos)
      << none.error().message();
  EXPECT_EQ(counts(*p).quarantined, 3);
}

TEST(PoolIntegrity, OpenExistingRefusesAnEmptyFileAndAnotherDatabase) {
  TempDir dir;
  const auto empty = dir.write("empty.db", "");
  ASSERT_EQ(::chmod(empty.c_str(), 0600), 0);
  auto r = factory::Pool::open_existing(empty);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::io);
  EXPECT_NE(r.error().message().find("an empty file, not an aliot pool"), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(empty), 0U) << "the empty file was made into a pool";
  // a journal given as a pool is not turned into one
  const auto jdb = dir.file("journal.db");
  ASSERT_TRUE(open_journal(jdb));
  ASSERT_EQ(::chmod(jdb.c_str(), 0600), 0);
  for (int how = 0; how < 2; ++how) {
    auto res = how == 0 ? factory::Pool::open_existing(jdb) : factory::Pool::open(jdb);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().code(), Errc::io);
    EXPECT_NE(res.error().message().find("not an aliot pool"), std::string::npos)
        << res.error().message();
  }
  EXPECT_EQ(journal_sql(jdb, "select count(*) from sqlite_master where name='pool'").out, "(0,)\n");
  const auto text = dir.write("text.db", "ProductKey,DeviceName,DeviceSecret\n");
  ASSERT_EQ(::chmod(text.c_str(), 0600), 0);
  auto t = factory::Pool::open_existing(text);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("not an SQLite database"), std::string::npos);
}

TEST(Recovery, ASecondStationStartingAloneNeverReleasesTheRowOfAnotherStationsJob) {
  // Two stations share one pool. Station 1 crashes between its journal's WRITE_INTENT and the
  // pool's TRANSMITTED: the row is RESERVED, and only station 1's journal knows it may be in a
  // unit. Station 2 starts alone and recovers: it must leave the row alone.
  TempDir dir;
  const auto pdb = dir.file("pool.db");
  const auto j1 = dir.file("station1.db");
  const auto j2 = dir.file("station2.db");
  {
    auto p = open_pool(pdb);
    ASSERT_TRUE(p && p->import_text(console_csv(0, 3), "batch.csv", {}));
  }
  crash_after([&] {
    auto p = factory::Pool::open(pdb);
    auto j = factory::Journal::open(j1);
    if (!p || !j) {
      ::_exit(1);
    }
    auto job = (*j)->start_job({"st-1", "op", "/dev/ttyUSB0", "alsw1"});
    if (!job) {
      ::_exit(1);
    }
    auto e = (*p)->reserve(k_pk, k_mac_a, *job);
    if (!e || !(*j)->write_intent(*job, unit(k_mac_a), k_pk, e->device_name, e->fp)) {
      ::_exit(1);
    }
    // killed before mark_transmitted: the secret may be in unit A
  });
  {
    auto p = open_pool(pdb);
    auto j = open_journal(j2);
    ASSERT_TRUE(p && j);
    auto rep = unwrap(j->recover(p.get()));
    EXPECT_TRUE(rep.exclusive);
    EXPECT_EQ(rep.released, 0) << "station 2 gave back a row station 1 may have sent";
    EXPECT_EQ(rep.others, 1);
    auto tied = unwrap(p->tied_to(k_pk, k_mac_a));
    ASSERT_TRUE(tied.has_value());
    EXPECT_EQ(tied->state, PoolState::reserved);
    EXPECT_EQ(tied->device_name, dn(0));
    // station 2 burns unit B: it gets the next triplet, never dn(0)
    auto job = unwrap(j->start_job({"st-2", "op", "/dev/ttyUSB1", "alsw1"}));
    auto e = unwrap(p->reserve(k_pk, k_mac_b, job));
    EXPECT_EQ(e.device_name, dn(1));
    ASSERT_TRUE(j->write_intent(job, unit(k_mac_b), k_pk, e.device_name, e.fp));
    ASSERT_TRUE(p->mark_transmitted(k_pk, e.device_name, job));
    ASSERT_TRUE(j->finish(job, true, 5, "", ""));
    ASSERT_TRUE(p->mark_bound(k_pk, e.device_name, job));
  }
  // station 1 comes back: its recovery knows the intent and keeps the row for unit A
  auto p = open_pool(pdb);
  auto j = open_journal(j1);
  auto rep = unwrap(j->recover(p.get()));
  EXPECT_EQ(rep.transmitted, 1);
  EXPECT_EQ(rep.in_doubt, 1);
  EXPECT_EQ(unwrap(p->tied_to(k_pk, k_mac_a))->state, PoolState::transmitted);
  auto check = unwrap(factory::check_journals({j1, j2}));
  EXPECT_TRUE(check.violations.empty()) << check.violations[0].message;
}

TEST(JournalCheck, TheBindingTableIsCheckedAgainstTheChain) {
  TempDir dir;
  const auto a = dir.file("a.db");
  burn_into(a, k_mac_a, dn(0), "00000000000000aa");
  burn_into(a, k_mac_b, dn(1), "00000000000000bb");
  ASSERT_TRUE(unwrap(factory::check_journals({a})).violations.empty());
  struct Edit {
    const char* name;
    std::string sql;
    std::string expect; // in the first violation's message
  };
  const std::vector<Edit> edits = {
      {"a binding row deleted", "delete from binding where device_name='" + dn(0) + "'",
       "the event chain binds " + k_pk + "/" + dn(0) + " to the unit " + k_mac_a
           + ", but the binding table has no row for it"},
      {"a binding's MAC edited",
       "update binding set mac='0C:8B:95:A1:F3:99' where device_name='" + dn(1) + "'",
       "the binding of " + k_pk + "/" + dn(1)
           + " to the unit 0C:8B:95:A1:F3:99 (fingerprint 00000000000000bb) is not what the event "
             "chain records (the unit "
           + k_mac_b + ", fingerprint 00000000000000bb)"},
      {"a binding's fingerprint edited",
       "update binding set fp='00000000000000cc' where device_name='" + dn(1) + "'",
       "is not what the event chain records"},
      {"a binding row added",
       "insert into binding values('" + k_pk
           + "','SW-9999','0C:8B:95:A1:F3:98','00','BOUND','x','t')",
       "the binding of " + k_pk + "/SW-9999 to the unit 0C:8B:95:A1:F3:98 has no write intent"},
      {"the newest event deleted (the last PASS)",
       "delete from event where seq=(select max(seq) from event)",
       " is PASS but the event chain has no PASS event for it"},
      {"the newest job's events all deleted",
       "delete from event where job_id=(select job_id from job order by rowid desc limit 1)",
       "has no write intent in the event chain"},
  };
  for (const auto& e : edits) {
    const auto copy = dir.file(std::string("copy-") + std::to_string(&e - edits.data()) + ".db");
    std::filesystem::copy_file(a, copy);
    auto t = journal_sql(copy, e.sql);
    ASSERT_EQ(t.status, 0) << e.name << ": " << t.err;
    auto rep = unwrap(factory::check_journals({copy}));
    ASSERT_FALSE(rep.violations.empty()) << e.name << ": the edit passed";
    bool named = false;
    for (const auto& v : rep.violations) {
      named = named || v.message.find(e.expect) != std::string::npos;
      EXPECT_NE(v.rule, "broken-chain") << e.name << ": deleting the newest events keeps the chain";
    }
    EXPECT_TRUE(named) << e.name << ": " << rep.violations[0].rule << " "
                       << rep.violations[0].message;
  }
}

TEST(JournalCheck, AHeadHashProvesNothingWasCutAfterIt) {
  TempDir dir;
  const auto a = dir.file("a.db");
  burn_into(a, k_mac_a, dn(0), "00000000000000aa");
  const auto head = unwrap(unwrap(factory::Journal::open(a))->head());
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->seq, 4);
  EXPECT_EQ(head->type, "PASS");
  burn_into(a, k_mac_b, dn(1), "00000000000000bb"); // the chain grows past the head: fine
  EXPECT_TRUE(unwrap(factory::check_journals({a}, {head->hash})).violations.empty());
  // the whole second job cut consistently (events, job, binding): the chain is whole and the
  // tables agree, only the head can tell
  const auto cut = dir.file("cut.db");
  std::filesystem::copy_file(a, cut);
  for (const char* sql : {"delete from event where seq>=5", "delete from job where rowid=2",
                          "delete from binding where device_name='SW-1001'"}) {
    auto t = journal_sql(cut, sql);
    ASSERT_EQ(t.status, 0) << t.err;
  }
  EXPECT_TRUE(unwrap(factory::check_journals({cut})).violations.empty());
  EXPECT_TRUE(unwrap(factory::check_journals({cut}, {head->hash})).violations.empty());
  const auto later = unwrap(unwrap(factory::Journal::open(a))->head());
  auto rep = unwrap(factory::check_journals({cut}, {later->hash}));
  ASSERT_EQ(rep.violations.size(), 1U);
  EXPECT_EQ(rep.violations[0].rule, "head-not-found");
  EXPECT_NE(rep.violations[0].message.find(later->hash), std::string::npos);
  // a head past a break in the chain is not proof either
  auto t = journal_sql(a, "update event set data_json='{}' where seq=1");
  ASSERT_EQ(t.status, 0) << t.err;
  auto broken = unwrap(factory::check_journals({a}, {later->hash}));
  std::vector<std::string> rules;
  for (const auto& v : broken.violations) {
    rules.push_back(v.rule);
  }
  EXPECT_EQ(rules, (std::vector<std::string>{"broken-chain", "head-not-found"}));
}
