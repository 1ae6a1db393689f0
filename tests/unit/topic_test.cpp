#include <aliot/topic.hpp>

#include <gtest/gtest.h>

using namespace aliot;

TEST(Topic, RelativeTopicsAndPlaceholdersExpand) {
  EXPECT_EQ(topic::expand("user/update", "pk1", "dev1"), "/pk1/dev1/user/update");
  EXPECT_EQ(topic::expand("/${productKey}/${deviceName}/user/get", "pk1", "dev1"),
            "/pk1/dev1/user/get");
  EXPECT_EQ(topic::expand("/sys/${YourProductKey}/${YourDeviceName}/rrpc/request/+", "pk1", "dev1"),
            "/sys/pk1/dev1/rrpc/request/+");
}

TEST(Topic, DeviceNamespaceIsEnforced) {
  using topic::Use;
  EXPECT_TRUE(topic::validate("/pk1/dev1/user/update", Use::publish, "pk1", "dev1"));
  EXPECT_TRUE(topic::validate("/sys/pk1/dev1/rrpc/response/1", Use::publish, "pk1", "dev1"));
  EXPECT_TRUE(topic::validate("/ext/rrpc/+/pk1/dev1/user/get", Use::subscribe, "pk1", "dev1"));
  EXPECT_TRUE(topic::validate("/broadcast/pk1/all", Use::subscribe, "pk1", "dev1"));
  auto other = topic::validate("/pk1/dev2/user/update", Use::publish, "pk1", "dev1");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("outside this device's namespace"), std::string::npos);
  EXPECT_FALSE(topic::validate("/broadcast/pk1/all", Use::publish, "pk1", "dev1"));
  EXPECT_FALSE(topic::validate("/pk1/dev1", Use::publish, "pk1", "dev1"));
}

TEST(Topic, ShapeRulesNameTheRule) {
  using topic::Use;
  auto check = [](std::string_view t, Use u, const char* needle) {
    auto r = topic::validate_shape(t, u);
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.error().code(), Errc::usage);
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  };
  check("", Use::publish, "empty");
  check("a/b", Use::publish, "must start with '/'");
  check("/a//b", Use::publish, "empty level");
  check("/a/+/b", Use::publish, "not allowed when publishing");
  check("/a/b+/c", Use::subscribe, "whole level");
  check("/a/#/c", Use::subscribe, "last level");
  check("/" + std::string(200, 'a'), Use::publish, "at most 128");
  check("/a/\xff", Use::publish, "UTF-8");
  check("/${productKey}/x", Use::publish, "placeholder");
  EXPECT_TRUE(topic::validate_shape("/a/+/c/#", Use::subscribe));
}
