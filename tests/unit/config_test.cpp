#include "support.hpp"

#include <aliot/config.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

TEST(Config, ReadSecretStripsTheLineEndAndAppliesTheModeRule) {
  test::TempDir dir;
  const auto loose = dir.write("s", "abc\r\n", 0644);
  auto f = config::read_secret(loose, "DeviceSecret", false);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->value.reveal(), "abc");
  ASSERT_TRUE(f->warning);
  EXPECT_NE(f->warning->find("DeviceSecret file " + loose + " is readable by other users"),
            std::string::npos)
      << *f->warning;
  EXPECT_NE(f->warning->find("chmod 600"), std::string::npos);
  auto strict = config::read_secret(loose, "DeviceSecret", true);
  ASSERT_FALSE(strict);
  EXPECT_EQ(strict.error().code(), Errc::config);
  EXPECT_EQ(strict.error().hint(), "chmod 600 " + loose);
  for (const bool strict_mode : {false, true}) {
    auto g = config::read_secret(dir.write("t", "a b\n", 0600), "ProductSecret", strict_mode);
    ASSERT_TRUE(g) << g.error().message();
    EXPECT_EQ(g->value.reveal(), "a b");
    EXPECT_FALSE(g->warning);
  }
}

TEST(Config, ReadSecretRefusesMissingEmptyAndHugeFilesNamingThem) {
  test::TempDir dir;
  const auto missing = dir.file("missing");
  auto m = config::read_secret(missing, "AccessKey secret", false);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), Errc::config);
  EXPECT_NE(m.error().message().find("AccessKey secret file " + missing), std::string::npos)
      << m.error().message();
  for (const char* text : {"", "\n", "\r\n\n"}) {
    auto e = config::read_secret(dir.write("e", text, 0600), "DeviceSecret", false);
    ASSERT_FALSE(e);
    EXPECT_EQ(e.error().code(), Errc::config);
    EXPECT_NE(e.error().message().find("is empty"), std::string::npos) << e.error().message();
  }
  auto big = config::read_secret(
      dir.write("big", std::string(config::k_max_small_file + 1, 'x'), 0600), "DeviceSecret", true);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code(), Errc::config);
}

TEST(Config, ReadSecretFromStandardInputHasNoModeToCheck) {
  test::TempDir dir;
  const auto path = dir.write("stdin", "from-stdin\n", 0644);
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::dup2(fd, STDIN_FILENO), STDIN_FILENO);
  ::close(fd);
  auto r = config::read_secret("-", "DeviceSecret", true);
  ASSERT_EQ(::dup2(saved, STDIN_FILENO), STDIN_FILENO);
  ::close(saved);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->value.reveal(), "from-stdin");
  EXPECT_FALSE(r->warning);
}
