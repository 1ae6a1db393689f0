// End to end over real pseudo-terminals: `aliot emulate switch` on one side, `aliot burn` on the
// other (and socat in between in one test). The simulator's state file says what the unit holds.
#include "journal_support.hpp"
#include "support.hpp"

#include <aliot/factory.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <switch_sim.hpp>
#include <thread>

using namespace aliot;
using namespace aliot::test;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char* k_ds = "0123456789abcdefABCDEF0123456789";
const char* k_triplet =
    R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-0C8B95A1F3E2","DeviceSecret":"0123456789abcdefABCDEF0123456789"})";

struct Switch {
  std::unique_ptr<Background> proc;
  std::string link;

  Switch(const TempDir& dir, std::vector<std::string> extra, const std::string& name = "dut0") {
    link = dir.file(name);
    std::vector<std::string> argv = {aliot_bin(), "emulate", "switch",      "--link", link,
                                     "--boot-ms", "30",      "--commit-ms", "10",     "-vv"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<Background>(argv);
    auto l = proc->wait_for("switch ready", 10s);
    EXPECT_TRUE(l) << proc->err();
  }
  ~Switch() { stop(); }
  // Stops the simulator and returns its log (-vv: the transcript, faults included).
  const std::string& stop() {
    if (!stopped) {
      proc->signal(SIGTERM);
      EXPECT_TRUE(proc->wait(5s));
      stopped = true;
    }
    return proc->err();
  }
  bool stopped = false;
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;
};

switchsim::NvState state_of(const std::string& path) {
  auto s = switchsim::load_state(path);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return s ? *s : switchsim::NvState{};
}

bool holds_reference(const switchsim::NvState& nv) {
  const auto* s = switchsim::active_slot(nv);
  return s != nullptr && s->pk == "a1BcDeFgHiJ" && s->dn == "SW-0C8B95A1F3E2" && s->ds == k_ds;
}

ProcResult burn(const TempDir& dir,
                const std::string& port,
                const std::string& triplet,
                std::vector<std::string> extra = {},
                double timeout_s = 60) {
  std::vector<std::string> args = {"burn", "--port", port, "--triplet", triplet};
  if (std::find(extra.begin(), extra.end(), "--journal") == extra.end()) {
    args.insert(args.end(), {"--journal", dir.file("journal.db")});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return run_aliot(args, {.timeout_s = timeout_s});
}

// Waits (up to 1 s) until the process has a pseudo-terminal open: a burn holds its port.
void wait_until_it_holds_a_pty(pid_t pid) {
  for (int i = 0;
       i < 100
       && run({"sh", "-c", "ls -l /proc/" + std::to_string(pid) + "/fd | grep -q pts"}).status != 0;
       ++i) {
    std::this_thread::sleep_for(10ms);
  }
}

} // namespace

TEST(BurnE2E, Alsw1BurnVerifyLockOverAPty) {
  TempDir dir;
  const auto state = dir.file("unit.json");
  const auto triplet = dir.write("device.json", k_triplet);
  Switch sw(dir, {"--state", state});
  auto r = burn(dir, sw.link, triplet, {"--lock", "-o", "json", "-vvv"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["result"], "PASS");
  EXPECT_EQ(j["mac"], "0C:8B:95:A1:F3:E2");
  EXPECT_EQ(j["chip_id"], "0C8B95A1F3E2");
  EXPECT_EQ(j["firmware"], "1.4.0");
  EXPECT_EQ(j["device_name"], "SW-0C8B95A1F3E2");
  EXPECT_EQ(j["fingerprint"], "ee0cc379bbf0398d");
  EXPECT_EQ(j["verify_level"], 5);
  EXPECT_EQ(j["locked"], true);
  EXPECT_TRUE(j["steps_ms"].contains("commit"));
  // the secret is nowhere in the output or the -vvv trace, but the traffic is
  EXPECT_EQ(r.out.find(k_ds), std::string::npos);
  EXPECT_EQ(r.err.find(k_ds), std::string::npos);
  EXPECT_NE(r.err.find("AT+IDMAU=<redacted>"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("AT+IDMCOMMIT"), std::string::npos);
  const auto nv = state_of(state);
  EXPECT_TRUE(holds_reference(nv));
  EXPECT_TRUE(nv.locked);
  // a re-run passes as a verification; another triplet is refused by the locked unit
  auto again = burn(dir, sw.link, triplet);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("resumed"), std::string::npos) << again.out;
  const auto other = dir.write(
      "other.json",
      R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"SW-OTHER-01","DeviceSecret":"ffffffffffffffffffffffffffffffff"})");
  auto refused = burn(dir, sw.link, other, {"--journal", dir.file("other-station.db")});
  EXPECT_EQ(refused.status, 8) << refused.err;
  EXPECT_NE(refused.err.find("other credentials"), std::string::npos) << refused.err;
  EXPECT_TRUE(holds_reference(state_of(state)));
}

TEST(BurnE2E, StateSurvivesASimulatorRestart) {
  TempDir dir;
  const auto state = dir.file("unit.json");
  const auto triplet = dir.write("device.json", k_triplet);
  {
    Switch sw(dir, {"--state", state, "--seed", "42"});
    auto r = burn(dir, sw.link, triplet, {"--no-reboot"});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("verify_level  4"), std::string::npos) << r.out;
  }
  Switch sw(dir, {"--state", state});
  auto r = burn(dir, sw.link, triplet, {"-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["resumed"], true);
  EXPECT_EQ(j["verify_level"], 5);
  EXPECT_EQ(j["mac"], state_of(state).id.mac);
  EXPECT_NE(j["mac"], "0C:8B:95:A1:F3:E2"); // seed 42 gave its own identity
}

TEST(BurnE2E, SmartlivingOverAPty) {
  TempDir dir;
  const auto state = dir.file("unit.json");
  const auto triplet = dir.write("device.json", k_triplet);
  Switch sw(dir, {"--state", state, "--dialect", "smartliving"});
  auto r = burn(dir, sw.link, triplet, {"--dialect", "smartliving", "-o", "json", "-vvv"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = json::parse(r.out);
  EXPECT_EQ(j["verify_level"], 5);
  EXPECT_EQ(j["mac"], "0C:8B:95:A1:F3:E2");
  EXPECT_EQ(r.err.find(k_ds), std::string::npos) << r.err;
  EXPECT_TRUE(holds_reference(state_of(state)));
  auto lock = burn(dir, sw.link, triplet, {"--dialect", "smartliving", "--lock"});
  EXPECT_EQ(lock.status, 2) << lock.err;
}

struct PtyFault {
  const char* name;
  const char* rules;
  int status;
};

class BurnE2EFaults : public ::testing::TestWithParam<PtyFault> {};

TEST_P(BurnE2EFaults, DocumentedOutcomeOverAPty) {
  const auto& f = GetParam();
  TempDir dir;
  const auto state = dir.file("unit.json");
  const auto plan = dir.write("plan.json", std::string("{\"seed\":3,\"rules\":[") + f.rules + "]}");
  const auto triplet = dir.write("device.json", k_triplet);
  Switch sw(dir, {"--state", state, "--faults", plan});
  auto r = burn(dir, sw.link, triplet, {"-o", "json"}, 30);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, f.status) << r.err;
  const auto& sim_log = sw.stop();
  EXPECT_NE(sim_log.find("-- fault 1 fired"), std::string::npos)
      << "the fault never happened: the outcome proves nothing\n"
      << sim_log;
  if (r.status == 0) {
    EXPECT_TRUE(holds_reference(state_of(state)))
        << "PASS for a unit that does not hold the triplet";
  } else {
    EXPECT_TRUE(r.out.find("PASS") == std::string::npos);
    EXPECT_NE(r.err.find("aliot: error: "), std::string::npos) << r.err;
  }
  EXPECT_EQ(r.err.find(k_ds), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Plan,
    BurnE2EFaults,
    ::testing::Values(
        PtyFault{"drop", R"({"match":{"cmd":"IDMAU=","nth":1},"action":{"drop":true}})", 0},
        PtyFault{"garble", R"({"match":{"cmd":"IDMAU\\?","nth":2},"action":{"garble":{"bits":2}}})",
                 0},
        PtyFault{"busy", R"({"match":{"cmd":"IDMCOMMIT","nth":1},"action":{"busy":{"count":2}}})",
                 0},
        PtyFault{"tear_commit",
                 R"({"match":{"cmd":"IDMCOMMIT","nth":1},"action":{"tear_commit":true}})", 0},
        PtyFault{"boot_garbage",
                 R"({"match":{"cmd":"RST"},"action":{"reboot":{"garbage_bytes":200}}})", 0},
        PtyFault{"flash_fail", R"({"match":{"cmd":"IDMCOMMIT"},"action":{"flash_fail":true}})", 8},
        PtyFault{"error", R"({"match":{"cmd":"DEVINFO\\?"},"action":{"error":{"code":806}}})", 8},
        PtyFault{
            "corrupt_commit",
            R"({"match":{"cmd":"IDMCOMMIT","nth":1},"action":{"corrupt_commit":{"field":"ds","bit":9}}})",
            9},
        PtyFault{"unplug",
                 R"({"match":{"cmd":"IDMAU=","nth":1},"action":{"unplug":{"after_bytes":40}}})",
                 8}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(BurnE2E, UnplugMidWriteEndsPromptlyWithAClearError) {
  TempDir dir;
  const auto plan = dir.write(
      "plan.json",
      R"({"rules":[{"match":{"cmd":"IDMAU=","nth":1},"action":{"unplug":{"after_bytes":30}}}]})");
  const auto triplet = dir.write("device.json", k_triplet);
  Switch sw(dir, {"--faults", plan});
  auto r = burn(dir, sw.link, triplet, {}, 10); // far below the sum of the protocol's deadlines
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 8) << r.err;
  EXPECT_NE(r.err.find("went away"), std::string::npos) << r.err;
}

TEST(BurnE2E, ASecondBurnOnAPortInUseIsRefused) {
  TempDir dir;
  // the first burn waits 0.9 s for an answer: long enough to try a second one meanwhile
  const auto plan =
      dir.write("plan.json",
                R"({"rules":[{"match":{"cmd":"DEVINFO\\?","nth":1},"action":{"delay_ms":900}}]})");
  const auto triplet = dir.write("device.json", k_triplet);
  Switch sw(dir, {"--faults", plan});
  Background first({aliot_bin(), "burn", "--port", sw.link, "--triplet", triplet, "--journal",
                    dir.file("first.db")});
  wait_until_it_holds_a_pty(first.pid());
  auto second = burn(dir, sw.link, triplet);
  EXPECT_EQ(second.status, 8) << second.err;
  EXPECT_NE(second.err.find("busy"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("pid " + std::to_string(first.pid())), std::string::npos) << second.err;
  auto st = first.wait(30s);
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, 0) << first.err();
}

TEST(BurnE2E, ThroughSocat) {
  if (!have_program("socat")) {
    GTEST_SKIP() << "socat not installed";
  }
  TempDir dir;
  const auto state = dir.file("unit.json");
  const auto triplet = dir.write("device.json", k_triplet);
  Switch sw(dir, {"--state", state});
  const auto bridged = dir.file("bridged");
  Background socat(
      {"socat", "PTY,link=" + bridged + ",raw,echo=0", "FILE:" + sw.link + ",raw,echo=0"});
  for (int i = 0; i < 200 && ::access(bridged.c_str(), F_OK) != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  auto r = burn(dir, bridged, triplet, {"--lock", "-o", "json"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["verify_level"], 5);
  EXPECT_TRUE(holds_reference(state_of(state)));
  EXPECT_TRUE(state_of(state).locked);
}

TEST(BurnE2E, BadInputsGetTheirExitCodes) {
  TempDir dir;
  const auto bad_dn = dir.write(
      "bad.json", R"({"ProductKey":"a1BcDeFgHiJ","DeviceName":"x","DeviceSecret":"abc"})");
  auto r = burn(dir, dir.file("no-such-port"), bad_dn);
  EXPECT_EQ(r.status, 2) << r.err;
  const auto not_json = dir.write("broken.json", "{not json");
  r = burn(dir, dir.file("no-such-port"), not_json);
  EXPECT_EQ(r.status, 3) << r.err;
  const auto good = dir.write("device.json", k_triplet);
  r = burn(dir, dir.file("no-such-port"), good);
  EXPECT_EQ(r.status, 8) << r.err;
  EXPECT_NE(r.err.find("no such device"), std::string::npos) << r.err;
  r = burn(dir, "/dev/null", good);
  EXPECT_EQ(r.status, 8) << r.err;
  r = run_aliot({"ports"});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST(BurnE2E, JournalNeverGivesATripletToASecondUnit) {
  TempDir dir;
  const auto triplet = dir.write("device.json", k_triplet);
  const auto journal = dir.file("station.db");
  {
    Switch a(dir, {"--state", dir.file("a.json"), "--seed", "1"}, "dut-a");
    auto r =
        burn(dir, a.link, triplet, {"--journal", journal, "--station", "S1", "--operator", "op7"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
  Switch b(dir, {"--state", dir.file("b.json"), "--seed", "2"}, "dut-b");
  auto r = burn(dir, b.link, triplet, {"--journal", journal});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("already went to another unit"), std::string::npos) << r.err;
  EXPECT_EQ(switchsim::active_slot(state_of(dir.file("b.json"))), nullptr)
      << "the secret reached unit b";
  // the journal: two jobs, one binding, events in order, no secret anywhere in its files
  auto q = run({"python3", "-c",
                "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                "print([r for r in c.execute('select state,station,operator from job order by "
                "started_at')]);"
                "print([r for r in c.execute('select device_name,state from binding')]);"
                "print([r[0] for r in c.execute('select type from event order by seq')])",
                journal});
  ASSERT_EQ(q.status, 0) << q.err;
  EXPECT_NE(q.out.find("[('PASS', 'S1', 'op7'), ('FAIL', '', '')]"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("[('SW-0C8B95A1F3E2', 'BOUND')]"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("['JOB_START', 'IDENTIFIED', 'WRITE_INTENT', 'PASS', 'JOB_START', 'FAIL']"),
            std::string::npos)
      << q.out;
  const auto files = database_files(journal);
  ASSERT_FALSE(files.empty());
  ASSERT_EQ(files.front(), journal) << "the journal file itself is missing";
  EXPECT_EQ(file_containing(files, k_ds), "") << "a journal file holds the secret";
  // the scan does find a secret that is there: plant one in a copy of the set
  const auto planted = dir.file("planted.db");
  for (const auto& f : files) {
    std::filesystem::copy_file(f, planted + f.substr(journal.size()));
  }
  auto p = journal_sql(planted,
                       std::string("insert into event(type,data_json) values('X','") + k_ds + "')");
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_NE(file_containing(database_files(planted), k_ds), "");
}

TEST(BurnE2E, JournalHashChainHoldsAndATamperedEventBreaksIt) {
  TempDir dir;
  const auto triplet = dir.write("device.json", k_triplet);
  const auto journal = dir.file("station.db");
  Switch sw(dir, {"--state", dir.file("unit.json")});
  ASSERT_EQ(burn(dir, sw.link, triplet, {"--journal", journal}).status, 0);
  ASSERT_EQ(burn(dir, sw.link, triplet, {"--journal", journal}).status, 0); // a re-run: job 2
  // recomputed without lib, and by lib's verify_chain
  auto py = recompute_chain(journal);
  EXPECT_EQ(py.status, 0) << py.out << py.err;
  EXPECT_EQ(py.out, "intact 8\n");
  {
    auto j = factory::Journal::open(journal);
    ASSERT_TRUE(j) << j.error().message();
    auto v = (*j)->verify_chain();
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_FALSE(v->has_value()) << (*v)->seq << ": " << (*v)->reason;
  }
  // someone edits the MAC of the first job's IDENTIFIED event (seq 2) in place
  auto t = journal_sql(journal,
                       "update event set data_json=replace(data_json,'0C:8B','0C:8C') where seq=2");
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_EQ(recompute_chain(journal).out, "broken at 2\n");
  auto j = factory::Journal::open(journal);
  ASSERT_TRUE(j) << j.error().message();
  auto v = (*j)->verify_chain();
  ASSERT_TRUE(v) << v.error().message();
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ((*v)->seq, 2);
  EXPECT_NE((*v)->reason.find("contents"), std::string::npos) << (*v)->reason;
}

TEST(BurnE2E, SigintStopsABurnWithExit130) {
  TempDir dir;
  const auto plan = dir.write(
      "plan.json", R"({"rules":[{"match":{"cmd":"DEVINFO\\?"},"action":{"drop":true}}]})");
  const auto triplet = dir.write("device.json", k_triplet);
  Switch sw(dir, {"--faults", plan});
  Background b({aliot_bin(), "burn", "--port", sw.link, "--triplet", triplet, "--journal",
                dir.file("j.db")});
  wait_until_it_holds_a_pty(b.pid());
  b.signal(SIGINT);
  auto st = b.wait(5s); // the unit would keep it busy for 3 s of retries otherwise
  ASSERT_TRUE(st);
  EXPECT_EQ(*st, 130) << b.err();
  EXPECT_NE(b.err().find("interrupted"), std::string::npos) << b.err();
}
