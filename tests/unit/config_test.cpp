#include "support.hpp"

#include <aliot/config.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

using namespace aliot;

namespace {

const char* k_profile_file = R"({"default_profile":"lab","profiles":{
  "lab":{"product_key":"pkProfile","device_name":"devProfile","region":"cn-beijing","keepalive":600},
  "other":{"product_key":"pkOther"}}})";

} // namespace

TEST(Config, PrecedenceIsFlagThenEnvThenProfileThenDefault) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("aliot"));
  dir.write("aliot/config.json", k_profile_file, 0600);
  config::Sources s;
  s.env = {{"XDG_CONFIG_HOME", dir.path()},
           {"ALIOT_DEVICE_NAME", "devEnv"},
           {"ALIOT_REGION", "cn-hangzhou"}};
  s.flags["region"] = config::Value{"ap-southeast-1", "flag --region", false};
  auto r = config::resolve(s);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->get("region")->text, "ap-southeast-1");
  EXPECT_EQ(r->get("region")->origin, "flag --region");
  EXPECT_EQ(r->get("device_name")->text, "devEnv");
  EXPECT_EQ(r->get("device_name")->origin, "env ALIOT_DEVICE_NAME");
  EXPECT_EQ(r->get("product_key")->text, "pkProfile");
  EXPECT_NE(r->get("product_key")->origin.find("profile lab"), std::string::npos);
  EXPECT_EQ(r->get("keepalive")->text, "600");
  EXPECT_EQ(r->get("sign_method")->origin, "default");
  EXPECT_FALSE(r->get("device_secret"));
}

TEST(Config, ProfileSelectionAndErrors) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("aliot"));
  dir.write("aliot/config.json", k_profile_file, 0600);
  config::Sources s;
  s.env = {{"XDG_CONFIG_HOME", dir.path()}, {"ALIOT_PROFILE", "other"}};
  auto r = config::resolve(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get("product_key")->text, "pkOther");
  s.profile = "missing";
  auto m = config::resolve(s);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Errc::config);
  EXPECT_NE(m.error().message().find("'missing'"), std::string::npos);
}

TEST(Config, MalformedFileAndUnknownKeyAreConfigErrors) {
  test::TempDir dir;
  config::Sources s;
  s.config_path = dir.write("bad.json", "{nope", 0600);
  auto r = config::resolve(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::config);
  s.config_path =
      dir.write("unk.json", R"({"default_profile":"a","profiles":{"a":{"colour":"x"}}})", 0600);
  auto u = config::resolve(s);
  ASSERT_FALSE(u);
  EXPECT_NE(u.error().message().find("unknown key \"colour\""), std::string::npos);
  s.config_path = dir.file("absent.json");
  EXPECT_FALSE(config::resolve(s));
}

TEST(Config, WorldReadableSecretsWarn) {
  test::TempDir dir;
  config::Sources s;
  s.config_path = dir.write(
      "c.json", R"({"default_profile":"a","profiles":{"a":{"device_secret":"x"}}})", 0644);
  auto r = config::resolve(s);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->warnings().size(), 1U);
  EXPECT_NE(r->warnings()[0].find("chmod 600"), std::string::npos);
}

TEST(Config, AtomicWriteCreatesFileWithModeAndNoLeftovers) {
  test::TempDir dir;
  const std::string p = dir.file("out.json");
  ASSERT_TRUE(config::write_file_atomic(p, "{\"a\":1}", 0600));
  EXPECT_EQ(dir.read("out.json"), "{\"a\":1}");
  struct stat st {};
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777U, 0600U);
  ASSERT_TRUE(config::write_file_atomic(p, "second", 0600));
  EXPECT_EQ(dir.read("out.json"), "second");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
  auto bad = config::write_file_atomic(dir.file("no/such/dir/x"), "x", 0600);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::io);
}

TEST(Config, SecretFileStripsNewlineAndReportsMode) {
  test::TempDir dir;
  auto f = config::read_secret_file(dir.write("s", "abc\n", 0644));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value.reveal(), "abc");
  EXPECT_TRUE(f->others_can_read);
  auto g = config::read_secret_file(dir.write("t", "abc", 0600));
  EXPECT_FALSE(g->others_can_read);
  EXPECT_FALSE(config::read_secret_file(dir.file("missing")));
  EXPECT_FALSE(config::read_secret_file(dir.write("e", "\n", 0600)));
}
