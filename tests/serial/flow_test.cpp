// The host's burn flow against the simulator's model on a virtual clock: the reference session's
// bytes, both dialects, and every fault of the plan (retry and pass, or a clear failure) — and
// never a PASS for a unit that does not hold the triplet.
#include "sim_support.hpp"

#include <gtest/gtest.h>

using namespace aliot;
using namespace aliot::serial;
using namespace aliot::test;

namespace {

const char* k_ds = "0123456789abcdefABCDEF0123456789";

Credentials reference_triplet() {
  return Credentials{"a1BcDeFgHiJ", "SW-0C8B95A1F3E2", Secret(k_ds), Secret()};
}

struct Run {
  Result<BurnReport> report = Error(Errc::internal, "not run");
  std::string trace;
};

Run burn_on(VirtualUnit& u, const std::string& dialect, BurnPlan plan, BurnHooks hooks = {}) {
  Run run;
  Logger log(LogLevel::trace,
             [&run](LogLevel, std::string_view m) { run.trace.append(m).append("\n"); });
  AtChannel ch(u.fake, log);
  auto d = make_dialect(dialect, ch);
  EXPECT_TRUE(d);
  run.report = burn(**d, plan, hooks, log);
  return run;
}

// Every rule of the unit's fault plan was applied at least once: a test that expects a recovery
// proves nothing if its fault never happened.
void expect_every_fault_fired(const VirtualUnit& u) {
  ASSERT_FALSE(u.model->faults().rules.empty());
  for (const auto& rule : u.model->faults().rules) {
    EXPECT_GE(rule.fired, 1) << "the fault on '" << rule.cmd << "' never fired\n" << u.transcript;
  }
}

bool holds(const switchsim::NvState& nv, const Credentials& c) {
  const auto* s = switchsim::active_slot(nv);
  return s != nullptr && s->pk == c.product_key && s->dn == c.device_name
         && s->ds == c.device_secret.reveal() && s->ps == c.product_secret.reveal();
}

} // namespace

TEST(BurnFlow, Alsw1SendsTheReferenceSessionBytes) {
  VirtualUnit u;
  BurnPlan plan{reference_triplet(), true, true, CrcMode::prefer};
  BurnHooks hooks;
  int n = 0;
  hooks.nonce = [&n] {
    return n++ == 0 ? std::string("00112233445566778899aabbccddeeff")
                    : std::string("9f8e7d6c5b4a39281706f5e4d3c2b1a0");
  };
  std::string intent_fp;
  hooks.write_intent = [&](const DeviceInfo& d, const std::string& fp) -> Result<void> {
    EXPECT_EQ(d.mac, "0C:8B:95:A1:F3:E2");
    EXPECT_EQ(u.fake.written().find(k_ds), std::string::npos)
        << "write intent after the secret was sent";
    intent_fp = fp;
    return ok();
  };
  auto r = burn_on(u, "alsw1", plan, hooks);
  ASSERT_TRUE(r.report) << r.report.error().message() << "\n" << r.trace;
  EXPECT_EQ(intent_fp, "ee0cc379bbf0398d");
  EXPECT_EQ(r.report->fingerprint, "ee0cc379bbf0398d");
  EXPECT_EQ(r.report->verify_level, 5);
  EXPECT_TRUE(r.report->locked);
  EXPECT_EQ(r.report->device.chip_id, "0C8B95A1F3E2");
  EXPECT_EQ(r.report->device.firmware, "1.4.0");
  const std::string& w = u.fake.written();
  for (const char* line :
       {"AT\r", "ATE0\r", "AT+PROTO?\r", "AT+CRC=1*2B69\r", "AT+DEVINFO?*007F\r",
        "AT+IDMAU?*BCB5\r",
        "AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",\"0123456789abcdefABCDEF0123456789\"*90FD\r",
        "AT+IDMCHK=\"00112233445566778899aabbccddeeff\"*FF33\r", "AT+IDMCOMMIT*FE16\r",
        "AT+RST*E5F6\r", "AT+IDMCHK=\"9f8e7d6c5b4a39281706f5e4d3c2b1a0\"*A852\r",
        "AT+IDMLOCK=1*D371\r"}) {
    EXPECT_NE(w.find(line), std::string::npos) << line;
  }
  EXPECT_TRUE(holds(u.model->nv(), reference_triplet()));
  EXPECT_TRUE(u.model->nv().locked);
  // the trace shows every command, never the secret
  EXPECT_EQ(r.trace.find(k_ds), std::string::npos) << r.trace;
  EXPECT_NE(r.trace.find("AT+IDMAU=<redacted>"), std::string::npos);
  EXPECT_NE(r.trace.find("AT+IDMCOMMIT*FE16"), std::string::npos);
}

TEST(BurnFlow, RerunOnAUnitThatHoldsTheTripletResumes) {
  VirtualUnit u;
  BurnPlan plan{reference_triplet(), false, true, CrcMode::prefer};
  ASSERT_TRUE(burn_on(u, "alsw1", plan).report);
  auto again = burn_on(u, "alsw1", plan);
  ASSERT_TRUE(again.report) << again.report.error().message();
  EXPECT_TRUE(again.report->resumed);
  EXPECT_EQ(again.report->verify_level, 5);
}

TEST(BurnFlow, AUnitWithOtherCredentialsIsRefused) {
  VirtualUnit u;
  ASSERT_TRUE(
      burn_on(u, "alsw1", BurnPlan{reference_triplet(), false, true, CrcMode::prefer}).report);
  Credentials other{"a1BcDeFgHiJ", "SW-OTHER-0001", Secret("ffffffffffffffffffffffffffffffff"),
                    Secret()};
  auto r = burn_on(u, "alsw1", BurnPlan{other, false, true, CrcMode::prefer});
  ASSERT_FALSE(r.report);
  EXPECT_EQ(r.report.error().code(), Errc::device);
  EXPECT_NE(r.report.error().message().find("other credentials"), std::string::npos);
  EXPECT_TRUE(holds(u.model->nv(), reference_triplet()));
}

TEST(BurnFlow, InvalidTripletIsAUsageError) {
  VirtualUnit u;
  Credentials bad{"a1BcDeFgHiJ", "x", Secret(k_ds), Secret()};
  auto r = burn_on(u, "alsw1", BurnPlan{bad, false, true, CrcMode::prefer});
  ASSERT_FALSE(r.report);
  EXPECT_EQ(r.report.error().code(), Errc::usage);
  EXPECT_TRUE(u.fake.written().empty());
}

TEST(BurnFlow, SmartlivingComparesThePlaintextReadbackInMemoryOnly) {
  VirtualUnit u("smartliving");
  Credentials c{"a1BcDeFgHiJ", "SL-DEVICE-01", Secret(k_ds), Secret("PSxyz0123456789")};
  auto r = burn_on(u, "smartliving", BurnPlan{c, false, true, CrcMode::prefer});
  ASSERT_TRUE(r.report) << r.report.error().message() << "\n" << r.trace;
  EXPECT_EQ(r.report->verify_level, 5);
  EXPECT_TRUE(holds(u.model->nv(), c));
  EXPECT_EQ(r.trace.find(k_ds), std::string::npos) << r.trace;
  EXPECT_EQ(r.trace.find("PSxyz0123456789"), std::string::npos) << r.trace;
  // never the forms the firmware does not answer
  EXPECT_EQ(u.fake.written().find("AT+IDMAU=?"), std::string::npos);
  EXPECT_EQ(u.fake.written().find("AT+IDMAU\r"), std::string::npos);
}

TEST(BurnFlow, SmartlivingCannotLock) {
  VirtualUnit u("smartliving");
  auto r = burn_on(u, "smartliving", BurnPlan{reference_triplet(), true, true, CrcMode::prefer});
  ASSERT_FALSE(r.report);
  EXPECT_EQ(r.report.error().code(), Errc::usage);
}

struct FaultCase {
  const char* name;
  const char* rules;
  int expect; // 0 pass, else the Errc
  CrcMode crc = CrcMode::prefer;
};

class BurnFaults : public ::testing::TestWithParam<FaultCase> {};

TEST_P(BurnFaults, DocumentedOutcomeAndNeverAFalsePass) {
  const auto& fc = GetParam();
  VirtualUnit u("alsw1", plan_of(std::string("{\"seed\":7,\"rules\":[") + fc.rules + "]}"));
  const auto c = reference_triplet();
  auto r = burn_on(u, "alsw1", BurnPlan{c, true, true, fc.crc});
  expect_every_fault_fired(u);
  if (fc.expect == 0) {
    ASSERT_TRUE(r.report) << r.report.error().message() << "\n" << r.trace << u.transcript;
    EXPECT_EQ(r.report->verify_level, 5);
  } else {
    ASSERT_FALSE(r.report) << r.trace << u.transcript;
    EXPECT_EQ(static_cast<int>(r.report.error().code()), fc.expect) << r.report.error().message();
  }
  if (r.report) {
    EXPECT_TRUE(holds(u.model->nv(), c))
        << "PASS reported for a unit that does not hold the triplet";
  }
  EXPECT_EQ(r.trace.find(k_ds), std::string::npos);
  EXPECT_EQ(u.transcript.find(k_ds), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Plan,
    BurnFaults,
    ::testing::Values(
        FaultCase{"drop_readback", R"({"match":{"cmd":"IDMAU\\?","nth":1},"action":{"drop":true}})",
                  0},
        FaultCase{"drop_stage", R"({"match":{"cmd":"IDMAU=","nth":1},"action":{"drop":true}})", 0},
        FaultCase{"drop_sync", R"({"match":{"cmd":"","nth":1},"action":{"drop":true}})", 0},
        FaultCase{"delay", R"({"match":{"cmd":"DEVINFO\\?"},"action":{"delay_ms":250}})", 0},
        FaultCase{"byte_delay", R"({"match":{"cmd":"PROTO\\?"},"action":{"byte_delay_us":200}})",
                  0},
        FaultCase{"garble_readback",
                  R"({"match":{"cmd":"IDMAU\\?","nth":2},"action":{"garble":{"bits":2}}})", 0},
        FaultCase{"garble_insert",
                  R"({"match":{"cmd":"IDMCHK=","nth":1},"action":{"garble":{"insert":3}}})", 0},
        FaultCase{"garble_no_crc",
                  R"({"match":{"cmd":"IDMAU=","nth":1},"action":{"garble":{"bits":3}}})", 0,
                  CrcMode::off},
        FaultCase{"bad_crc", R"({"match":{"cmd":"IDMCHK=","nth":1},"action":{"bad_crc":true}})", 0},
        FaultCase{"truncate",
                  R"({"match":{"cmd":"DEVINFO\\?","nth":1},"action":{"truncate_after":9}})", 0},
        FaultCase{"echo", R"({"match":{"cmd":"IDMAU\\?"},"action":{"echo":true}})", 0},
        FaultCase{"urc",
                  R"({"match":{"cmd":"IDMCHK="},"action":{"urc":{"text":"+WIFI:1,\"up\""}}})", 0},
        FaultCase{"busy", R"({"match":{"cmd":"IDMCOMMIT","nth":1},"action":{"busy":{"count":2}}})",
                  0},
        FaultCase{"flash_fail_once",
                  R"({"match":{"cmd":"IDMCOMMIT","nth":1},"action":{"flash_fail":true}})", 0},
        FaultCase{"flash_fail_always",
                  R"({"match":{"cmd":"IDMCOMMIT"},"action":{"flash_fail":true}})", 8},
        FaultCase{"error_code", R"({"match":{"cmd":"IDMAU="},"action":{"error":{"code":100}}})", 8},
        FaultCase{"tear_commit",
                  R"({"match":{"cmd":"IDMCOMMIT","nth":1},"action":{"tear_commit":true}})", 0},
        FaultCase{
            "corrupt_commit",
            R"({"match":{"cmd":"IDMCOMMIT","nth":1},"action":{"corrupt_commit":{"field":"ds","bit":3}}})",
            9},
        FaultCase{"unplug",
                  R"({"match":{"cmd":"IDMAU=","nth":1},"action":{"unplug":{"after_bytes":40}}})",
                  8},
        FaultCase{"boot_garbage",
                  R"({"match":{"cmd":"RST"},"action":{"reboot":{"garbage_bytes":64}}})", 0},
        FaultCase{"random_garble",
                  R"({"match":{"cmd":".*","p":0.2},"action":{"garble":{"bits":1}}})", 0}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(BurnFlow, UnplugIsReportedAsLinkLost) {
  VirtualUnit u(
      "alsw1",
      plan_of(R"({"rules":[{"match":{"cmd":"IDMAU="},"action":{"unplug":{"after_bytes":20}}}]})"));
  auto r = burn_on(u, "alsw1", BurnPlan{reference_triplet(), false, true, CrcMode::prefer});
  expect_every_fault_fired(u);
  ASSERT_FALSE(r.report);
  EXPECT_EQ(r.report.error().code(), Errc::device);
  EXPECT_NE(r.report.error().message().find("went away"), std::string::npos)
      << r.report.error().message();
  EXPECT_FALSE(holds(u.model->nv(), reference_triplet()));
}

// What a unit says of itself is untrusted: a SN with a byte that is not UTF-8 (sent as the legal
// escape \FF) is kept as text, and a MAC that is not six octets stops the burn before any secret
// leaves the host.
TEST(BurnFlow, ABinarySerialNumberBecomesTextAndTheBurnPasses) {
  switchsim::NvState nv;
  nv.id.sn = "SN\xff"
             "01";
  nv.id.mac = "0c:8b:95:a1:f3:e2";
  VirtualUnit u("alsw1", {}, nv);
  auto r = burn_on(u, "alsw1", BurnPlan{reference_triplet(), false, true, CrcMode::prefer});
  ASSERT_TRUE(r.report) << r.report.error().message();
  EXPECT_EQ(r.report->device.sn, "SN\\xFF01");
  EXPECT_EQ(r.report->device.mac, "0C:8B:95:A1:F3:E2");
  EXPECT_TRUE(holds(u.model->nv(), reference_triplet()));
}

TEST(BurnFlow, AMacThatIsNotSixOctetsIsADeviceErrorBeforeAnySecret) {
  for (const std::string mac :
       {"0C:8B:95:A1:F3", "0C-8B-95-A1-F3-E2", "0C:8B:95:A1:F3:EZ", "0C:8B:95:A1:F3:E2:00", ""}) {
    switchsim::NvState nv;
    nv.id.mac = mac;
    VirtualUnit u("alsw1", {}, nv);
    auto r = burn_on(u, "alsw1", BurnPlan{reference_triplet(), false, true, CrcMode::prefer});
    ASSERT_FALSE(r.report) << mac;
    EXPECT_EQ(r.report.error().code(), Errc::device) << mac;
    EXPECT_NE(r.report.error().message().find("not six octets"), std::string::npos)
        << r.report.error().message();
    EXPECT_EQ(u.fake.written().find(k_ds), std::string::npos) << mac;
    EXPECT_EQ(u.fake.written().find("IDMAU="), std::string::npos) << mac;
  }
}
