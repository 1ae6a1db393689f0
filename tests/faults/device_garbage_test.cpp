// Devices that keep sending garbage (the switch simulator's fault plans on every matching
// command, over a real pty): `burn` ends with exit 8 (the device broke the serial protocol), the
// factory journal records the job as FAIL with a FAIL event, and no secret reaches stderr or the
// journal.
#include "faults_support.hpp"
#include "secrets.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

using namespace aliot::test;

namespace {

constexpr const char* k_ds = "0123456789abcdefABCDEF0123456789";
constexpr const char* k_triplet =
    R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-0C8B95A1F3E2","DeviceSecret":"0123456789abcdefABCDEF0123456789"})";

struct Garbage {
  const char* name;
  const char* rule;
};

} // namespace

class DeviceGarbage : public ::testing::TestWithParam<Garbage> {};

TEST_P(DeviceGarbage, BurnIsExit8AndTheJournalRecordsTheFailure) {
  TempDir dir;
  const auto plan = dir.write("plan.json", std::string(R"({"rules":[)") + GetParam().rule + "]}");
  const auto triplet = dir.write("device.json", k_triplet);
  const auto link = dir.file("dut");
  Background sw({aliot_bin(), "emulate", "switch", "--link", link, "--boot-ms", "30", "--commit-ms",
                 "10", "-vv", "--faults", plan, "--state", dir.file("unit.json")});
  ASSERT_TRUE(sw.wait_for("switch ready", std::chrono::seconds(10))) << sw.err();
  const auto journal = dir.file("journal.db");
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_aliot(
      {"burn", "--port", link, "--triplet", triplet, "--journal", journal, "-o", "json", "-vvv"},
      {.timeout_s = 60});
  const auto took = std::chrono::steady_clock::now() - t0;
  sw.signal(SIGTERM);
  sw.wait(std::chrono::seconds(5));
  EXPECT_NE(sw.err().find("-- fault 1 fired"), std::string::npos)
      << "the fault never happened: the outcome proves nothing\n"
      << sw.err();
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 8) << r.err;
  EXPECT_LT(took, std::chrono::seconds(30));
  EXPECT_EQ(r.out.find("PASS"), std::string::npos) << r.out;
  const auto q = run({"python3", "-c",
                      "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                      "print([r[0] for r in c.execute('select state from job')]);"
                      "print([r[0] for r in c.execute('select type from event order by seq')])",
                      journal});
  ASSERT_EQ(q.status, 0) << q.err;
  const auto rows = lines_of(q.out);
  ASSERT_EQ(rows.size(), 2U) << q.out;
  EXPECT_EQ(rows[0], "['FAIL']") << "the job is not recorded as failed";
  EXPECT_NE(rows[1].find("'FAIL'"), std::string::npos) << "no FAIL event: " << rows[1];
  std::vector<Scanned> places{text("stderr", r.err), text("stdout", r.out)};
  for (const char* suffix : {"", "-wal", "-journal"}) {
    if (::access((journal + suffix).c_str(), F_OK) == 0) {
      places.push_back(file_bytes(journal + suffix));
    }
  }
  EXPECT_TRUE(no_secret_in({k_ds}, places));
}

INSTANTIATE_TEST_SUITE_P(
    Faults,
    DeviceGarbage,
    ::testing::Values(Garbage{"garbled_devinfo",
                              R"({"match":{"cmd":"DEVINFO\\?"},"action":{"garble":{"bits":3}}})"},
                      Garbage{"bytes_inserted_into_idmau",
                              R"({"match":{"cmd":"IDMAU\\?"},"action":{"garble":{"insert":8}}})"},
                      Garbage{"truncated_proto",
                              R"({"match":{"cmd":"PROTO\\?"},"action":{"truncate_after":6}})"},
                      Garbage{"truncated_devinfo",
                              R"({"match":{"cmd":"DEVINFO\\?"},"action":{"truncate_after":12}})"}),
    [](const auto& i) { return std::string(i.param.name); });

// 5000 bytes of garbage at every boot (AT+RST) is noise aliot reads past: the unit is burned and
// proven (exit 0, journal PASS), and the fault did happen.
TEST(DeviceGarbageAtBoot, IsReadPastAndTheUnitPasses) {
  TempDir dir;
  const auto plan = dir.write(
      "plan.json",
      R"({"rules":[{"match":{"cmd":"RST"},"action":{"reboot":{"garbage_bytes":5000}}}]})");
  const auto triplet = dir.write("device.json", k_triplet);
  const auto link = dir.file("dut");
  Background sw({aliot_bin(), "emulate", "switch", "--link", link, "--boot-ms", "30", "--commit-ms",
                 "10", "-vv", "--faults", plan, "--state", dir.file("unit.json")});
  ASSERT_TRUE(sw.wait_for("switch ready", std::chrono::seconds(10))) << sw.err();
  const auto journal = dir.file("journal.db");
  const auto r = run_aliot({"burn", "--port", link, "--triplet", triplet, "--journal", journal},
                           {.timeout_s = 60});
  sw.signal(SIGTERM);
  sw.wait(std::chrono::seconds(5));
  EXPECT_NE(sw.err().find("-- fault 1 fired"), std::string::npos) << sw.err();
  EXPECT_EQ(r.status, 0) << r.err;
  const auto q = run({"python3", "-c",
                      "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                      "print([r[0] for r in c.execute('select state from job')])",
                      journal});
  EXPECT_EQ(q.out, "['PASS']\n") << q.err;
}
