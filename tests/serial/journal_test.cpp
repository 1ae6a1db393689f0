// The factory journal on its own: its time comes from the clock it is given, and verify_chain()
// finds the first event that does not follow from the one before it (rows edited with another
// SQLite client, as someone covering a mistake would).
#include "journal_support.hpp"
#include "support.hpp"

#include <aliot/factory.hpp>

#include <gtest/gtest.h>

#include <chrono>

using namespace aliot;
using namespace aliot::test;

namespace {

// 2026-11-28T18:09:51.123Z
std::chrono::system_clock::time_point fixed_time() {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(1795889391123LL));
}

std::unique_ptr<factory::Journal> open_journal(const std::string& path) {
  auto j = factory::Journal::open(path, fixed_time);
  EXPECT_TRUE(j) << (j ? "" : j.error().message());
  return j ? std::move(*j) : nullptr;
}

// JOB_START, IDENTIFIED, WRITE_INTENT, PASS: events 1 to 4.
void one_unit(factory::Journal& j) {
  auto job = j.start_job({"S1", "op7", "/dev/ttyUSB0", "alsw1"});
  ASSERT_TRUE(job) << job.error().message();
  ASSERT_TRUE(j.write_intent(*job, {"0C:8B:95:A1:F3:E2", "0C8B95A1F3E2", "1.4.0", "SN1"},
                             "a1BcDeFgHiJ", "SW-0C8B95A1F3E2", "ee0cc379bbf0398d"));
  ASSERT_TRUE(j.finish(*job, true, 5, "", ""));
}

std::optional<factory::ChainBreak> verify(factory::Journal& j) {
  auto v = j.verify_chain();
  EXPECT_TRUE(v) << (v ? "" : v.error().message());
  return v ? *v : std::nullopt;
}

} // namespace

TEST(Journal, StampsJobsAndEventsWithItsClock) {
  TempDir dir;
  const auto db = dir.file("j.db");
  auto j = open_journal(db);
  ASSERT_TRUE(j);
  auto job = j->start_job({"S1", "op7", "/dev/ttyUSB0", "alsw1"});
  ASSERT_TRUE(job) << job.error().message();
  EXPECT_TRUE(job->starts_with("2026-11-28T18:09:51.123Z-")) << *job;
  ASSERT_TRUE(j->finish(*job, false, 0, "device", "no answer"));
  auto q = journal_sql(db, "select distinct started_at, ended_at from job");
  EXPECT_EQ(q.out, "('2026-11-28T18:09:51.123Z', '2026-11-28T18:09:51.123Z')\n") << q.err;
  q = journal_sql(db, "select distinct ts from event");
  EXPECT_EQ(q.out, "('2026-11-28T18:09:51.123Z',)\n") << q.err;
}

TEST(Journal, AnEmptyAndAnIntactChainVerify) {
  TempDir dir;
  const auto db = dir.file("j.db");
  auto j = open_journal(db);
  ASSERT_TRUE(j);
  EXPECT_FALSE(verify(*j).has_value());
  one_unit(*j);
  EXPECT_FALSE(verify(*j).has_value());
  EXPECT_EQ(recompute_chain(db).out, "intact 4\n");
}

// A journal holding one unit's four events, edited behind its back.
class JournalTamper : public ::testing::Test {
protected:
  void SetUp() override {
    j = open_journal(db);
    ASSERT_TRUE(j);
    one_unit(*j);
  }
  // verify_chain() names event `seq` as the first break, for a reason that mentions `why`.
  void expect_break(long long seq, const std::string& why) {
    const auto b = verify(*j);
    ASSERT_TRUE(b.has_value()) << "the edit went unnoticed";
    EXPECT_EQ(b->seq, seq);
    EXPECT_NE(b->reason.find(why), std::string::npos) << b->reason;
  }

  TempDir dir;
  std::string db = dir.file("j.db");
  std::unique_ptr<factory::Journal> j;
};

TEST_F(JournalTamper, AnEventEditedInPlace) {
  auto t = journal_sql(db, "update event set data_json='{\"level\":3}' where seq=4");
  ASSERT_EQ(t.status, 0) << t.err;
  expect_break(4, "contents");
  EXPECT_EQ(recompute_chain(db).out, "broken at 4\n");
}

TEST_F(JournalTamper, AnEventRewrittenWithItsOwnHash) {
  // the WRITE_INTENT names another DeviceName and carries a matching hash: the PASS after it no
  // longer follows from it
  auto t = rewrite_event_consistently(
      db, 3, R"({"device_name":"SW-OTHER","fp":"ee0cc379bbf0398d","product_key":"a1BcDeFgHiJ"})");
  ASSERT_EQ(t.status, 0) << t.err;
  expect_break(4, "prev_hash");
}

TEST_F(JournalTamper, ADeletedEvent) {
  auto t = journal_sql(db, "delete from event where seq=2");
  ASSERT_EQ(t.status, 0) << t.err;
  expect_break(3, "prev_hash");
}
