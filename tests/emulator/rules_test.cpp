// The emulator's topic rules (spec 3.5) as pure functions.
#include "rules.hpp"

#include <gtest/gtest.h>

using namespace aliot::emu; // NOLINT

namespace {

const std::vector<Category> k_default{{"user/get", false, true},
                                      {"user/update", true, false},
                                      {"user/update/error", true, false},
                                      {"user/sensor/+/data", false, true},
                                      {"user/all", true, true}};

bool pub(const std::string& t) {
  return device_allowed(k_default, "pk1", "dn1", t, Need::publish, false);
}
bool sub(const std::string& f) {
  return device_allowed(k_default, "pk1", "dn1", f, Need::subscribe, true);
}

} // namespace

TEST(EmuRules, FilterMatching) {
  EXPECT_TRUE(filter_matches("/a/+/c", "/a/b/c"));
  EXPECT_FALSE(filter_matches("/a/+/c", "/a/b/c/d"));
  EXPECT_TRUE(filter_matches("/a/#", "/a/b/c"));
  EXPECT_TRUE(filter_matches("/a/#", "/a"));
  EXPECT_TRUE(filter_matches("#", "/x"));
  EXPECT_FALSE(filter_matches("/a/b", "/a/b/"));
}

TEST(EmuRules, FilterCovers) {
  EXPECT_TRUE(filter_covers("/a/+/c", "/a/b/c"));
  EXPECT_TRUE(filter_covers("/a/+/c", "/a/+/c"));
  EXPECT_FALSE(filter_covers("/a/b/c", "/a/+/c"));
  EXPECT_TRUE(filter_covers("/a/#", "/a/+/c/#"));
  EXPECT_FALSE(filter_covers("/a/+", "/a/#"));
  EXPECT_FALSE(filter_covers("/a/b", "/a/b/c"));
}

TEST(EmuRules, CategoriesDecideCustomTopics) {
  EXPECT_TRUE(pub("/pk1/dn1/user/update"));
  EXPECT_FALSE(pub("/pk1/dn1/user/get"));
  EXPECT_TRUE(sub("/pk1/dn1/user/get"));
  EXPECT_FALSE(sub("/pk1/dn1/user/update"));
  EXPECT_TRUE(sub("/pk1/dn1/user/sensor/+/data"));
  EXPECT_TRUE(sub("/pk1/dn1/user/sensor/t1/data"));
  EXPECT_FALSE(sub("/pk1/dn1/user/sensor/#"));
  EXPECT_FALSE(sub("/pk1/dn1/user/#"));
  EXPECT_TRUE(pub("/pk1/dn1/user/all"));
  EXPECT_TRUE(sub("/pk1/dn1/user/all"));
  // Another device, another product, everything.
  EXPECT_FALSE(pub("/pk1/dn2/user/update"));
  EXPECT_FALSE(sub("/pk2/dn1/user/get"));
  EXPECT_FALSE(sub("#"));
  EXPECT_FALSE(sub("/pk1/+/user/get"));
}

TEST(EmuRules, SystemExtAndBroadcastTopics) {
  EXPECT_TRUE(sub("/sys/pk1/dn1/rrpc/request/+"));
  EXPECT_TRUE(pub("/sys/pk1/dn1/rrpc/response/123"));
  EXPECT_TRUE(sub("/sys/pk1/dn1/thing/#"));
  EXPECT_FALSE(sub("/sys/pk1/dn2/rrpc/request/+"));
  EXPECT_FALSE(sub("/sys/#"));
  EXPECT_TRUE(sub("/ext/rrpc/+/pk1/dn1/user/get"));
  EXPECT_TRUE(pub("/ext/rrpc/889455942124347392/pk1/dn1/user/get"));
  EXPECT_FALSE(pub("/ext/rrpc/+/pk1/dn1/user/get"));
  EXPECT_FALSE(sub("/ext/rrpc/+/pk1/dn2/user/get"));
  EXPECT_FALSE(pub("/ext/rrpc/12x/pk1/dn1/user/get"));
  // A synchronous thing-model service over RRPC (LinkSDK 4's form), of the own device only.
  EXPECT_TRUE(sub("/ext/rrpc/+/sys/pk1/dn1/thing/service/+"));
  EXPECT_TRUE(pub("/ext/rrpc/889455942124347392/sys/pk1/dn1/thing/service/Ping"));
  EXPECT_FALSE(pub("/ext/rrpc/+/sys/pk1/dn1/thing/service/Ping"));
  EXPECT_FALSE(sub("/ext/rrpc/+/sys/pk1/dn2/thing/service/+"));
  EXPECT_FALSE(pub("/ext/rrpc/889455942124347392/sys/pk1/dn1/thing/event/property/post"));
  EXPECT_TRUE(sub("/broadcast/pk1/news"));
  EXPECT_FALSE(pub("/broadcast/pk1/news"));
  EXPECT_FALSE(sub("/broadcast/pk2/news"));
  EXPECT_TRUE(pub("/ext/ntp/pk1/dn1/request"));
}

// A device subscribes to the topics only the platform sends on, but may not publish on them:
// it could forge an RRPC request, a service call or a property set to itself.
TEST(EmuRules, ADeviceMayNotPublishOnItsDownlinkTopics) {
  for (const char* t :
       {"/sys/pk1/dn1/rrpc/request/889455942124347392", "/sys/pk1/dn1/thing/service/property/set",
        "/sys/pk1/dn1/thing/service/reboot", "/sys/pk1/dn1/thing/event/property/post_reply",
        "/sys/pk1/dn1/thing/model/down_raw", "/sys/pk1/dn1/thing/config/push",
        "/ext/ntp/pk1/dn1/response", "/shadow/get/pk1/dn1", "/ota/device/upgrade/pk1/dn1"}) {
    EXPECT_FALSE(pub(t)) << t;
    EXPECT_TRUE(sub(t)) << t;
  }
  for (const char* t :
       {"/sys/pk1/dn1/rrpc/response/889455942124347392",
        "/sys/pk1/dn1/thing/service/property/set_reply", "/sys/pk1/dn1/thing/service/reboot_reply",
        "/sys/pk1/dn1/thing/event/property/post", "/sys/pk1/dn1/thing/model/up_raw",
        "/ext/ntp/pk1/dn1/request", "/shadow/update/pk1/dn1", "/ota/device/inform/pk1/dn1",
        "/ota/device/progress/pk1/dn1", "/sys/pk1/dn1/thing/ota/firmware/get"}) {
    EXPECT_TRUE(pub(t)) << t;
  }
  EXPECT_TRUE(sub("/sys/pk1/dn1/thing/service/+"));
}

TEST(EmuRules, NormalizeCategory) {
  EXPECT_EQ(normalize_category("user/get"), "user/get");
  EXPECT_EQ(normalize_category("/${productKey}/${deviceName}/user/x"), "user/x");
  EXPECT_EQ(normalize_category("/pk/dn/user/x"), "");
}
