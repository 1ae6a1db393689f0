#include <aliot/identity.hpp>

#include <gtest/gtest.h>

using namespace aliot;

TEST(Identity, DeviceNameRulesNameTheBrokenRule) {
  EXPECT_TRUE(validate_device_name("FakeDevice01"));
  EXPECT_TRUE(validate_device_name("a-b_c@d.e:f"));
  auto short_name = validate_device_name("abc");
  ASSERT_FALSE(short_name);
  EXPECT_EQ(short_name.error().code(), Errc::usage);
  EXPECT_NE(short_name.error().message().find("4 to 32"), std::string::npos);
  auto bad_char = validate_device_name("dev ice");
  ASSERT_FALSE(bad_char);
  EXPECT_NE(bad_char.error().message().find("letters, digits"), std::string::npos);
  EXPECT_FALSE(validate_device_name(std::string(33, 'a')));
}

TEST(Identity, ProductKeyAndSecretRules) {
  EXPECT_TRUE(validate_product_key("a1FakePK001"));
  EXPECT_FALSE(validate_product_key(""));
  EXPECT_FALSE(validate_product_key("a1/Fake"));
  EXPECT_FALSE(validate_product_key(std::string(21, 'a')));
  EXPECT_TRUE(validate_device_secret(Secret("S3cr3t")));
  EXPECT_FALSE(validate_device_secret(Secret("")));
  EXPECT_FALSE(validate_device_secret(Secret("with space")));
  EXPECT_FALSE(validate_device_secret(Secret(std::string(65, 'x'))));
}

TEST(Identity, TripletJsonRoundTrips) {
  auto t = parse_triplet_json(
      R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01","DeviceSecret":"S3cr3t"})",
      "test");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->device_secret.reveal(), "S3cr3t");
  EXPECT_EQ(triplet_json(*t, false),
            R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01","DeviceSecret":"S3cr3t"})");
}

TEST(Identity, TokenTripletNeedsClientId) {
  auto t = parse_triplet_json(
      R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01","ClientId":"cid","DeviceToken":"tok"})",
      "x");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t->client_id, "cid");
  EXPECT_FALSE(parse_triplet_json(
      R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01","DeviceToken":"tok"})", "x"));
}

TEST(Identity, BadTripletJsonIsAConfigErrorNamingTheProblem) {
  struct Case {
    const char* text;
    const char* needle;
  } cases[] = {
      {"not json", "not valid JSON"},
      {"[1]", "expected a JSON object"},
      {R"({"DeviceName":"FakeDevice01","DeviceSecret":"s"})", "\"ProductKey\" is missing"},
      {R"({"ProductKey":1,"DeviceName":"FakeDevice01","DeviceSecret":"s"})", "must be a string"},
      {R"({"ProductKey":"a1FakePK001","DeviceName":"x","DeviceSecret":"s"})", "4 to 32"},
      {R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01"})",
       "\"DeviceSecret\" is missing"},
  };
  for (const auto& c : cases) {
    auto r = parse_triplet_json(c.text, "triplet file t.json");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().code(), Errc::config);
    EXPECT_NE(r.error().message().find(c.needle), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("t.json"), std::string::npos);
  }
}

TEST(Identity, ProductSecretIsReadAlongAndShapeIsReadWithoutTheValueRules) {
  auto t = read_triplet_json(
      R"({"ProductKey":"a1FakePK001","DeviceName":"x","DeviceSecret":"S3cr3t","ProductSecret":"ps"})",
      "triplet file t.json");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->device_name, "x"); // the value rules are the caller's (burn reports them as usage)
  EXPECT_EQ(t->product_secret.reveal(), "ps");
  auto bad = read_triplet_json(
      R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01","DeviceSecret":"s","ProductSecret":1})",
      "triplet file t.json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::config);
  EXPECT_NE(bad.error().message().find("\"ProductSecret\" must be a string"), std::string::npos);
  auto no_ps = parse_triplet_json(
      R"({"ProductKey":"a1FakePK001","DeviceName":"FakeDevice01","DeviceSecret":"S3cr3t"})", "x");
  ASSERT_TRUE(no_ps);
  EXPECT_TRUE(no_ps->product_secret.empty());
}

TEST(SecretType, NeverEqualsByAccidentAndWipes) {
  Secret a("abc");
  Secret b("abc");
  Secret c("abd");
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  Secret moved = std::move(a);
  EXPECT_EQ(moved.reveal(), "abc");
  EXPECT_EQ(Secret::redacted, "<redacted>");
}
