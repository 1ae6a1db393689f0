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

// Matching is libmosquitto's (mosquitto_topic_matches_sub): the cases around the wildcards and
// '$' topics that a hand-written matcher got wrong or never met.
TEST(TopicMatches, SingleLevelWildcard) {
  EXPECT_TRUE(topic::matches("/+/+/user/update", "/pk/dn/user/update"));
  EXPECT_TRUE(topic::matches("/pk/+/user", "/pk//user")); // '+' matches an empty level
  EXPECT_TRUE(topic::matches("+/+", "/a"));               // the empty level before the '/'
  EXPECT_TRUE(topic::matches("+", "a"));
  EXPECT_FALSE(topic::matches("+", "/a"));
  EXPECT_FALSE(topic::matches("/pk/+", "/pk/dn/user"));
  EXPECT_FALSE(topic::matches("/pk/+/user", "/pk/user"));
  EXPECT_FALSE(topic::matches("/pk/+/user/get", "/pk/dn/user/update"));
  EXPECT_FALSE(topic::matches("/pk/dn+/x", "/pk/dn+/x")); // not a whole level: malformed
}

TEST(TopicMatches, MultiLevelWildcard) {
  EXPECT_TRUE(topic::matches("#", "/x"));
  EXPECT_TRUE(topic::matches("/pk/#", "/pk/dn/user/update"));
  EXPECT_TRUE(topic::matches("/pk/dn/#", "/pk/dn")); // the parent level too
  EXPECT_TRUE(topic::matches("/pk/dn/#", "/pk/dn/"));
  EXPECT_TRUE(topic::matches("/+/dn/#", "/pk/dn/a/b"));
  EXPECT_FALSE(topic::matches("/pk/dn/#", "/pk/dnx"));
  EXPECT_FALSE(topic::matches("/pk/dn/#", "/pk"));
  EXPECT_FALSE(topic::matches("/pk/#/x", "/pk/a/x")); // '#' not last: malformed, matches nothing
  EXPECT_FALSE(topic::matches("/pk/a#", "/pk/a"));
}

TEST(TopicMatches, DollarTopicsAreNotMatchedByLeadingWildcards) {
  EXPECT_FALSE(topic::matches("#", "$SYS/broker/uptime"));
  EXPECT_FALSE(topic::matches("+/broker/uptime", "$SYS/broker/uptime"));
  EXPECT_TRUE(topic::matches("$SYS/#", "$SYS/broker/uptime"));
  EXPECT_TRUE(topic::matches("$SYS/+/uptime", "$SYS/broker/uptime"));
  // '$' elsewhere than the first character is an ordinary character (the platform's topics
  // start with '/').
  EXPECT_TRUE(topic::matches("/+/x", "/$pk/x"));
  EXPECT_TRUE(topic::matches("#", "/$SYS/x"));
}

TEST(TopicMatches, ExactTopicsAndBadInput) {
  EXPECT_TRUE(topic::matches("/pk/dn/user/update", "/pk/dn/user/update"));
  EXPECT_FALSE(topic::matches("/pk/dn/user/update", "/pk/dn/user/update/"));
  EXPECT_FALSE(topic::matches("/pk/dn", "/PK/dn")); // case-sensitive
  EXPECT_FALSE(topic::matches("", "/a"));
  EXPECT_FALSE(topic::matches("#", ""));
  EXPECT_FALSE(topic::matches("/a/+", "/a/+")); // a topic holding a wildcard matches nothing
  EXPECT_FALSE(topic::matches("/a/#", std::string_view("/a/b\0c", 6)));
  EXPECT_TRUE(topic::matches("/\xe6\xb5\x8b/+", "/\xe6\xb5\x8b/\xe8\xaf\x95"));
}
