// The simulator's model on its own (it must reproduce the spec's reference session byte for
// byte), and the host's flow against it on a virtual clock, faults included.
#include "sim_support.hpp"

#include <gtest/gtest.h>

using namespace aliot;
using namespace aliot::test;

namespace {

struct Capture {
  std::string out;
  std::string transcript;
  switchsim::NvState last;
  std::unique_ptr<switchsim::DeviceModel> m;
  switchsim::Micros now = 0;

  explicit Capture(const std::string& persona = "alsw1", switchsim::FaultPlan plan = {}) {
    switchsim::DeviceModel::Hooks h;
    h.emit = [this](std::string_view b) {
      out += b;
    };
    h.unplug = [] {
    };
    h.transcript = [this](const std::string& t) {
      transcript += t + "\n";
    };
    h.persist = [this](const switchsim::NvState& s) {
      last = s;
    };
    m = std::make_unique<switchsim::DeviceModel>(persona, switchsim::NvState{}, switchsim::Timing{},
                                                 std::move(plan), h);
    m->power_on(0);
    settle();
    out.clear();
  }
  void settle() {
    while (auto t = m->next_event()) {
      now = std::max(now, *t);
      m->advance(now);
    }
  }
  std::string send(const std::string& line) {
    out.clear();
    m->feed(line + "\r", now);
    settle();
    return out;
  }
};

std::string framed(std::initializer_list<std::string> lines) {
  std::string s;
  for (const auto& l : lines) {
    s += "\r\n" + l + "\r\n";
  }
  return s;
}

const char* k_triplet_cmd =
    "AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",\"0123456789abcdefABCDEF0123456789\"*90FD";

} // namespace

TEST(SimModel, ReproducesTheReferenceSessionByteForByte) {
  Capture c;
  EXPECT_EQ(c.send("AT"), framed({"OK"}));
  EXPECT_EQ(c.send("ATE0"), framed({"OK"}));
  EXPECT_EQ(c.send("AT+PROTO?"), framed({"+PROTO:1,\"crc,chk,lock\"", "OK"}));
  EXPECT_EQ(c.send("AT+CRC=1*2B69"), framed({"OK*F952"}));
  EXPECT_EQ(c.send("AT+DEVINFO?*007F"),
            framed({"+DEVINFO:\"ALSW-1\",\"B2\",\"1.4.0\",\"0C:8B:95:A1:F3:E2\",\"0C8B95A1F3E2\","
                    "\"SN2401000123\"*527C",
                    "OK*F952"}));
  EXPECT_EQ(c.send("AT+IDMAU?*BCB5"), framed({"+IDMAU:0,\"\",\"\",0,0,\"\"*0113", "OK*F952"}));
  EXPECT_EQ(c.send(k_triplet_cmd), framed({"OK*F952"}));
  EXPECT_EQ(c.send("AT+IDMAU?*BCB5"),
            framed({"+IDMAU:1,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"*94A0",
                    "OK*F952"}));
  EXPECT_EQ(
      c.send("AT+IDMCHK=\"00112233445566778899aabbccddeeff\"*FF33"),
      framed(
          {"+IDMCHK:\"c2e77d16a97f9fc59b32f52f54b209c577f0ad454b58062fda3f5aaebc0684bc\",\"\"*6409",
           "OK*F952"}));
  EXPECT_EQ(c.send("AT+IDMCOMMIT*FE16"),
            framed({"+IDMCOMMIT:\"ee0cc379bbf0398d\"*317C", "OK*F952"}));
  EXPECT_EQ(c.send("AT+RST*E5F6"), framed({"OK*F952", "ready"}));
  EXPECT_EQ(c.send("AT"), framed({"OK"}));
  EXPECT_EQ(c.send("ATE0"), framed({"OK"}));
  EXPECT_EQ(c.send("AT+CRC=1*2B69"), framed({"OK*F952"}));
  EXPECT_EQ(c.send("AT+IDMAU?*BCB5"),
            framed({"+IDMAU:2,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"*24AE",
                    "OK*F952"}));
  EXPECT_EQ(
      c.send("AT+IDMCHK=\"9f8e7d6c5b4a39281706f5e4d3c2b1a0\"*A852"),
      framed(
          {"+IDMCHK:\"4aec7804b34fe57f5d7ac6efc737a62b4bf96102666372e9f612dfb377419ed4\",\"\"*D990",
           "OK*F952"}));
  EXPECT_EQ(c.send("AT+IDMLOCK=1*D371"), framed({"OK*F952"}));
  EXPECT_EQ(c.send("AT+IDMAU?*BCB5"),
            framed({"+IDMAU:3,\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",32,0,\"ee0cc379bbf0398d\"*BB4B",
                    "OK*F952"}));
  EXPECT_EQ(c.send("AT+FACTORY*0000"), framed({serial::with_crc("+CME ERROR:803")}));
  const auto* slot = switchsim::active_slot(c.last);
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(slot->ds, "0123456789abcdefABCDEF0123456789");
  EXPECT_TRUE(c.last.locked);
}

TEST(SimModel, ErrorsOfTheSpec) {
  Capture c;
  EXPECT_EQ(c.send("AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\""), framed({"+CME ERROR:50"}));
  EXPECT_EQ(c.send("AT+IDMAU=\"a1BcDeFgHiJ\",\"bad dn!\",\"x\""), framed({"+CME ERROR:25"}));
  EXPECT_EQ(c.send("AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-1\",\"a\\zz\""), framed({"+CME ERROR:25"}));
  EXPECT_EQ(c.send("AT+IDMAU=\"a1BcDeFgHiJ0123456789x\",\"SW-1\",\"x\""),
            framed({"+CME ERROR:24"}));
  EXPECT_EQ(c.send("AT+IDMCHK=\"00112233445566778899aabbccddeeff\""), framed({"+CME ERROR:802"}));
  EXPECT_EQ(c.send("AT+IDMCOMMIT"), framed({"+CME ERROR:802"}));
  EXPECT_EQ(c.send("AT+IDMLOCK=1"), framed({"+CME ERROR:802"}));
  EXPECT_EQ(c.send("AT+NOSUCH"), framed({"ERROR"}));
  EXPECT_EQ(c.send("AT+IDMAU?*0000"), framed({"+CME ERROR:803"}));
  EXPECT_EQ(c.send("AT+CRC=1"), framed({"OK*F952"}));
  EXPECT_EQ(c.send("AT+IDMAU?"), framed({serial::with_crc("+CME ERROR:803")}));
}

TEST(SimModel, LockedStoreRefusesWritesAndFactoryReset) {
  Capture c;
  c.send("AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",\"0123456789abcdefABCDEF0123456789\"");
  EXPECT_EQ(c.send("AT+IDMCOMMIT"), framed({"+IDMCOMMIT:\"ee0cc379bbf0398d\"", "OK"}));
  EXPECT_EQ(c.send("AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-OTHER\",\"0123\""), framed({"+CME ERROR:3"}));
  EXPECT_EQ(
      c.send("AT+IDMAU=\"a1BcDeFgHiJ\",\"SW-0C8B95A1F3E2\",\"0123456789abcdefABCDEF0123456789\""),
      framed({"OK"})); // identical again: idempotent
  EXPECT_EQ(c.send("AT+IDMLOCK=1"), framed({"OK"}));
  EXPECT_EQ(c.send("AT+IDMLOCK=1"), framed({"OK"}));
  EXPECT_EQ(c.send("AT+FACTORY"), framed({"+CME ERROR:801"}));
  EXPECT_EQ(c.send("AT+IDMCOMMIT"), framed({"+CME ERROR:801"}));
  EXPECT_EQ(c.send("AT+SN=\"X\""), framed({"+CME ERROR:801"}));
}

TEST(SimModel, SmartlivingPersona) {
  Capture c("smartliving");
  EXPECT_EQ(c.send("AT+IDMAU?"), framed({"+IDMAU:,,,", "OK"}));
  EXPECT_EQ(c.send("AT+IDMAU=\"pk1\",\"dn-1\",\"ds\""), framed({"+CME ERROR:50"}));
  EXPECT_EQ(c.send("AT+IDMAU=\"a1BcDeFgHiJ\",\"dev-01\",\"secret01\",\"\""), framed({"OK"}));
  EXPECT_EQ(c.send("AT+IDMAU?"), framed({"+IDMAU:a1BcDeFgHiJ,dev-01,secret01,", "OK"}));
  EXPECT_EQ(c.send("AT+IDMAU=?"), "");
  EXPECT_EQ(c.send("AT+IDMAU"), "");
  EXPECT_EQ(c.transcript.find("secret01"), std::string::npos) << c.transcript;
  EXPECT_NE(c.transcript.find("<redacted>"), std::string::npos);
}

TEST(SimModel, FaultCountersSayWhichRulesFired) {
  // nth=2 skips the first match; p=0 matches and never fires; an unplug fires mid-line
  Capture c("alsw1", plan_of(R"({"seed":1,"rules":[
      {"match":{"cmd":"DEVINFO\\?","nth":2},"action":{"drop":true}},
      {"match":{"cmd":"PROTO\\?","p":0},"action":{"drop":true}},
      {"match":{"cmd":"IDMAU="},"action":{"unplug":{"after_bytes":12}}}]})"));
  const auto& rules = c.m->faults().rules;
  ASSERT_EQ(rules.size(), 3U);
  EXPECT_NE(c.send("AT+DEVINFO?"), "");
  EXPECT_EQ(rules[0].seen, 1);
  EXPECT_EQ(rules[0].fired, 0);
  EXPECT_EQ(c.send("AT+DEVINFO?"), ""); // dropped
  EXPECT_EQ(rules[0].seen, 2);
  EXPECT_EQ(rules[0].fired, 1);
  EXPECT_NE(c.send("AT+PROTO?"), "");
  EXPECT_EQ(rules[1].seen, 1);
  EXPECT_EQ(rules[1].fired, 0);
  EXPECT_EQ(rules[2].fired, 0);
  EXPECT_EQ(c.send(k_triplet_cmd), "");
  EXPECT_EQ(rules[2].fired, 1);
  EXPECT_NE(c.transcript.find("-- fault 1 fired (DEVINFO\\?)"), std::string::npos) << c.transcript;
  EXPECT_NE(c.transcript.find("-- fault 3 fired (IDMAU=)"), std::string::npos) << c.transcript;
  EXPECT_EQ(c.transcript.find("-- fault 2 fired"), std::string::npos) << c.transcript;
}
