// A product's topic classes (aliot/topic_classes.hpp): the two file forms and the check of a
// publish topic against them.
#include <aliot/topic_classes.hpp>

#include <gtest/gtest.h>

using namespace aliot;
using topic::PublishCheck;
using V = PublishCheck::Verdict;

namespace {

const char* const k_pk = "a1UnitPK001";
const char* const k_dn = "dev1";

std::vector<topic::TopicClass> parsed(std::string_view text) {
  auto r = topic::parse_classes(text, "the file");
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? *r : std::vector<topic::TopicClass>{};
}

} // namespace

TEST(TopicClassFile, EveryShapeOfQueryProductTopicsReply) {
  const std::string list =
      R"([{"TopicShortName":"/a1UnitPK001/${deviceName}/user/get","Operation":"1"},)"
      R"({"TopicShortName":"/a1UnitPK001/${deviceName}/user/update","Operation":0},)"
      R"({"TopicShortName":"/a1UnitPK001/${deviceName}/user/both","Operation":"2"}])";
  for (const std::string& doc :
       {R"({"RequestId":"x","Success":true,"Data":{"ProductTopicInfo":)" + list + "}}",
        R"({"Data":)" + list + "}", R"({"ProductTopicInfo":)" + list + "}", list,
        "\xEF\xBB\xBF" + list}) {
    const auto c = parsed(doc);
    ASSERT_EQ(c.size(), 3u) << doc;
    EXPECT_TRUE(!c[0].pub && c[0].sub) << doc;
    EXPECT_TRUE(c[1].pub && !c[1].sub) << doc;
    EXPECT_TRUE(c[2].pub && c[2].sub) << doc;
  }
}

TEST(TopicClassFile, PlainLinesWithAccessWordsAndComments) {
  const auto c = parsed("# comment\n\n  user/update pub\r\n/${productKey}/${deviceName}/x ALL\n"
                        "user/get\tsub\nuser/plain\n");
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].name, "user/update");
  EXPECT_TRUE(c[0].pub && !c[0].sub);
  EXPECT_TRUE(c[1].pub && c[1].sub);
  EXPECT_TRUE(!c[2].pub && c[2].sub);
  EXPECT_TRUE(c[3].pub && c[3].sub) << "no access word: both";
}

TEST(TopicClassFile, MalformedFilesAreConfigErrorsNamingWhere) {
  for (const auto& [text, where] :
       {std::pair<std::string, std::string>{"user/a pub\nuser/b publish\n", "line 2"},
        {R"({"Data":{"Nothing":1}})", "no list"},
        {R"([{"TopicShortName":"/x/${deviceName}/a","Operation":"7"}])", "entry 1"},
        {R"([{"Operation":"0"}])", "no TopicShortName"},
        {"{not json", "not valid JSON"},
        {"user/\xff\xfe pub\n", "not UTF-8"}}) {
    const auto r = topic::parse_classes(text, "--topic-classes f");
    ASSERT_FALSE(r.has_value()) << text;
    EXPECT_EQ(r.error().code(), Errc::config);
    EXPECT_NE(r.error().message().find(where), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("--topic-classes f"), std::string::npos);
  }
}

TEST(TopicClassFile, APublishIsCheckedOnlyUnderTheDevicesOwnTopics) {
  const auto c = parsed("user/update pub\n/a1UnitPK001/${deviceName}/user/cmd/+ all\n"
                        "user/get sub\n/a1OtherPK1/${deviceName}/user/other pub\n");
  const std::string own = std::string("/") + k_pk + "/" + k_dn + "/";
  EXPECT_EQ(topic::check_publish(c, own + "user/update", k_pk, k_dn).verdict, V::allowed);
  EXPECT_EQ(topic::check_publish(c, own + "user/cmd/reboot", k_pk, k_dn).verdict, V::allowed);
  const auto sub_only = topic::check_publish(c, own + "user/get", k_pk, k_dn);
  EXPECT_EQ(sub_only.verdict, V::subscribe_only);
  EXPECT_EQ(sub_only.matched, "user/get");
  const auto typo = topic::check_publish(c, own + "user/updat", k_pk, k_dn);
  EXPECT_EQ(typo.verdict, V::no_class);
  EXPECT_EQ(typo.nearest, "user/update");
  EXPECT_EQ(topic::check_publish(c, own + "something/else/entirely", k_pk, k_dn).nearest, "");
  EXPECT_EQ(topic::check_publish(c, own + "user/other", k_pk, k_dn).verdict, V::no_class)
      << "a class of another product does not count";
  EXPECT_EQ(topic::check_publish(c, std::string("/sys/") + k_pk + "/" + k_dn + "/thing/event/x",
                                 k_pk, k_dn)
                .verdict,
            V::not_a_class_topic);
  EXPECT_EQ(topic::check_publish({}, own + "user/update", k_pk, k_dn).verdict, V::no_class);
}
