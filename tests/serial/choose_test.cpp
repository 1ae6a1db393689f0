// BurnHooks::choose_credentials against the simulator's model on a virtual clock: the triplet is
// chosen once the unit is identified and its store inspected, before any byte of a secret; an
// error from the chooser stops the burn there; a unit holding something else is refused.
#include "sim_support.hpp"

#include <gtest/gtest.h>

using namespace aliot;
using namespace aliot::serial;
using namespace aliot::test;

namespace {

const char* k_ds = "0123456789abcdefABCDEF0123456789";

Credentials triplet(const std::string& dn = "SW-0C8B95A1F3E2", const char* ds = k_ds) {
  return Credentials{"a1BcDeFgHiJ", dn, Secret(ds), Secret()};
}

Result<BurnReport> burn_on(VirtualUnit& u, const BurnHooks& hooks) {
  const Logger log;
  AtChannel ch(u.fake, log);
  auto d = make_dialect("alsw1", ch);
  EXPECT_TRUE(d);
  BurnPlan plan; // its credentials are not used: the hook chooses
  return burn(**d, plan, hooks, log);
}

} // namespace

TEST(ChooseCredentials, CalledAfterInspectWithTheUnitAndBeforeAnySecretByte) {
  VirtualUnit u;
  BurnHooks hooks;
  int calls = 0;
  hooks.choose_credentials = [&](const DeviceInfo& d, const Readback& held) -> Result<Credentials> {
    ++calls;
    EXPECT_EQ(d.mac, "0C:8B:95:A1:F3:E2");
    EXPECT_EQ(held.state, StoreState::empty);
    EXPECT_NE(u.fake.written().find("AT+IDMAU?"), std::string::npos) << "not inspected yet";
    EXPECT_EQ(u.fake.written().find("AT+IDMAU="), std::string::npos);
    return triplet();
  };
  std::string intent_fp;
  hooks.write_intent = [&](const DeviceInfo&, const std::string& fp) -> Result<void> {
    EXPECT_EQ(calls, 1);
    intent_fp = fp;
    return ok();
  };
  auto r = burn_on(u, hooks);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r->device_name, "SW-0C8B95A1F3E2");
  EXPECT_EQ(r->fingerprint, "ee0cc379bbf0398d");
  EXPECT_EQ(intent_fp, "ee0cc379bbf0398d");
  const auto* s = switchsim::active_slot(u.model->nv());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->ds, k_ds);
}

TEST(ChooseCredentials, AnErrorStopsTheBurnBeforeTheWriteIntentAndAnySecret) {
  VirtualUnit u;
  BurnHooks hooks;
  bool intent = false;
  hooks.choose_credentials = [](const DeviceInfo&, const Readback&) -> Result<Credentials> {
    return Error(Errc::config, "the pool has no free triplet");
  };
  hooks.write_intent = [&](const DeviceInfo&, const std::string&) -> Result<void> {
    intent = true;
    return ok();
  };
  auto r = burn_on(u, hooks);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::config);
  EXPECT_FALSE(intent);
  EXPECT_EQ(u.fake.written().find("AT+IDMAU="), std::string::npos);
  EXPECT_EQ(switchsim::active_slot(u.model->nv()), nullptr);
}

TEST(ChooseCredentials, AUnitHoldingAnotherTripletIsRefusedAndTheHookSeesWhatItHolds) {
  switchsim::NvState nv;
  nv.slots[0] = {true, 1, "a1BcDeFgHiJ", "SW-OTHER-UNIT", "ffffffffffffffffffffffffffffffff",
                 "",   0};
  nv.slots[0].crc = switchsim::slot_crc(nv.slots[0]);
  VirtualUnit u("alsw1", {}, nv);
  BurnHooks hooks;
  hooks.choose_credentials = [&](const DeviceInfo&, const Readback& held) -> Result<Credentials> {
    EXPECT_EQ(held.state, StoreState::committed);
    EXPECT_EQ(held.device_name, "SW-OTHER-UNIT");
    return triplet();
  };
  auto r = burn_on(u, hooks);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::device);
  EXPECT_NE(r.error().message().find("other credentials"), std::string::npos);
  EXPECT_EQ(switchsim::active_slot(u.model->nv())->dn, "SW-OTHER-UNIT");
}
