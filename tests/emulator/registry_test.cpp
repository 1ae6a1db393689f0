// The emulator's typed registry on a real SQLite registry.db in a temporary directory.
#include "support.hpp"

#include <aliot/emu/registry.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

using aliot::Errc;
using aliot::emu::Registry;

namespace {

const std::string k_pk = "a1RegTest01";

TEST(EmuRegistry, OperationsRecordTypedEntitiesInTheFile) {
  aliot::test::TempDir tmp;
  Registry reg(tmp.path());
  auto p = reg.add_product(k_pk, std::nullopt, std::nullopt);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->created);
  EXPECT_EQ(p->secret.size(), 16U);
  auto again = reg.add_product(k_pk, std::nullopt, false);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->secret, p->secret) << "kept when none is given";
  ASSERT_TRUE(reg.put_device(k_pk, "dev1", "s3cr3t", true));
  ASSERT_TRUE(reg.add_topic(k_pk, "/${productKey}/${deviceName}/user/cmd", "all"));
  auto added = reg.add_consumer_group(k_pk, "G1");
  ASSERT_TRUE(added);
  EXPECT_TRUE(*added);
  added = reg.add_consumer_group(k_pk, "G1");
  ASSERT_TRUE(added);
  EXPECT_FALSE(*added) << "a group is recorded once";
  // Device status messages: turned on for an existing group, and for a new one.
  added = reg.add_consumer_group(k_pk, "G1", true);
  ASSERT_TRUE(added);
  EXPECT_TRUE(*added);
  added = reg.add_consumer_group(k_pk, "G1", true);
  ASSERT_TRUE(added);
  EXPECT_FALSE(*added);
  ASSERT_TRUE(reg.add_consumer_group(k_pk, "G2"));
  ASSERT_TRUE(reg.add_token(k_pk, "nwl", "cid", "tok"));
  ASSERT_TRUE(reg.activate(k_pk, "dev1"));
  ASSERT_TRUE(reg.set_device_secret(k_pk, "dev1", "n3w"));

  // A second Registry on the same directory (another process) sees all of it.
  Registry other(tmp.path());
  auto view = other.load();
  ASSERT_TRUE(view) << view.error().message();
  const auto* prod = (*view)->product(k_pk);
  ASSERT_NE(prod, nullptr);
  EXPECT_FALSE(prod->dynreg);
  EXPECT_EQ(prod->cats.size(), 4U);
  EXPECT_EQ(prod->cats.back().topic, "user/cmd");
  EXPECT_TRUE(prod->cats.back().pub && prod->cats.back().sub);
  EXPECT_EQ(prod->consumer_groups, (std::vector<std::string>{"G1", "G2"}));
  EXPECT_EQ(prod->status_groups, std::vector<std::string>{"G1"});
  const auto* d = (*view)->device(k_pk, "dev1");
  ASSERT_NE(d, nullptr);
  EXPECT_TRUE(d->activated);
  EXPECT_EQ(d->secret, "n3w");
  const auto* nwl = (*view)->device(k_pk, "nwl");
  ASSERT_NE(nwl, nullptr);
  ASSERT_EQ(nwl->tokens.size(), 1U);
  EXPECT_EQ(nwl->tokens[0].second, "tok");
  std::string pk, dn;
  EXPECT_EQ((*view)->device_by_iot_id(d->iot_id, pk, dn), d);
  EXPECT_EQ(dn, "dev1");

  struct stat st {};
  for (const char* f : {"registry.db", "registry.db-wal", "registry.db-shm"}) {
    ASSERT_EQ(::stat(tmp.file(f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600U) << f << " holds secrets";
  }
}

TEST(EmuRegistry, AViewKeepsWhatItSawAndANewViewSeesOtherProcessesChanges) {
  aliot::test::TempDir tmp;
  Registry reg(tmp.path());
  ASSERT_TRUE(reg.add_product(k_pk, "ps", std::nullopt));
  ASSERT_TRUE(reg.put_device(k_pk, "dev1", "one", true));
  auto first = reg.current();
  const auto* d = first->device(k_pk, "dev1");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(first->device(k_pk, "dev2"), nullptr);
  EXPECT_EQ(reg.current(), first) << "the same view while nothing changed";

  Registry other(tmp.path()); // another process: the CLI verbs while the broker runs
  ASSERT_TRUE(other.put_device(k_pk, "dev1", "two", false));
  ASSERT_TRUE(other.put_device(k_pk, "dev2", "new", true));
  ASSERT_TRUE(other.add_access_key("LTAIother", "aks"));
  EXPECT_EQ(d->secret, "one") << "a view keeps what it saw";
  auto next = reg.current();
  EXPECT_NE(next, first);
  const auto* d1 = next->device(k_pk, "dev1");
  ASSERT_NE(d1, nullptr);
  EXPECT_EQ(d1->secret, "two");
  EXPECT_FALSE(d1->enabled);
  ASSERT_NE(next->device(k_pk, "dev2"), nullptr);
  EXPECT_EQ(next->access_keys.count("LTAIother"), 1U);
}

TEST(EmuRegistry, ABatchOfDevicesIsAddedWhole) {
  aliot::test::TempDir tmp;
  Registry reg(tmp.path());
  ASSERT_TRUE(reg.add_product(k_pk, "ps", std::nullopt));
  ASSERT_TRUE(reg.put_device(k_pk, "dev3", "s3", true));
  std::vector<Registry::NewDevice> batch;
  for (int i = 0; i < 1000; ++i) {
    batch.push_back({"bulk" + std::to_string(i), "secret" + std::to_string(i)});
  }
  batch.push_back({"dev3", "again"});
  auto r = reg.create_devices(k_pk, batch, true);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, 1000U) << "the index of the name already taken";
  EXPECT_EQ(reg.current()->device(k_pk, "bulk0"), nullptr) << "all or none";
  EXPECT_EQ(reg.current()->device(k_pk, "dev3")->secret, "s3");

  batch.pop_back();
  batch.push_back({"x", "s"});
  r = reg.create_devices(k_pk, batch, true);
  ASSERT_FALSE(r) << "a DeviceName the platform refuses";
  EXPECT_EQ(r.error().code(), Errc::usage);
  EXPECT_EQ(reg.current()->device(k_pk, "bulk0"), nullptr);

  batch.pop_back();
  r = reg.create_devices(k_pk, batch, false);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->has_value());
  auto view = reg.current();
  const auto* d = view->device(k_pk, "bulk999");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->secret, "secret999");
  EXPECT_FALSE(d->enabled);
  EXPECT_FALSE(d->activated);
  std::string pk, dn;
  EXPECT_EQ(view->device_by_iot_id(d->iot_id, pk, dn), d);
  EXPECT_EQ(dn, "bulk999");
  EXPECT_FALSE(reg.create_devices("a1NoSuchPK1", {{"bulk1", "s"}}, true));
}

TEST(EmuRegistry, NamesAndCategoriesAreValidatedAsThePlatformDoes) {
  aliot::test::TempDir tmp;
  Registry reg(tmp.path());
  EXPECT_FALSE(reg.add_product("bad pk", std::nullopt, std::nullopt));
  auto r = reg.put_device(k_pk, "dev1", "s", true);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("is not in the emulator registry"), std::string::npos);
  ASSERT_TRUE(reg.add_product(k_pk, "ps", std::nullopt));
  EXPECT_FALSE(reg.put_device(k_pk, "x", "s", true)) << "DeviceName too short";
  EXPECT_FALSE(reg.add_topic(k_pk, "user/+/data", "pub"));
  EXPECT_FALSE(reg.add_topic(k_pk, "user/bad-level", "sub"));
  EXPECT_FALSE(reg.add_topic(k_pk, "/other/topic", "sub"));
  EXPECT_FALSE(reg.add_topic(k_pk, "user/cmd", "rw"));
  EXPECT_TRUE(reg.add_topic(k_pk, "user/+/data", "sub"));
  EXPECT_FALSE(reg.add_access_key("has space", "s"));
  EXPECT_FALSE(reg.add_consumer_group(k_pk, "a,b"));
  auto c = reg.create_device(k_pk, "dev2", "s", "nick");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, Registry::Created::created);
  c = reg.create_device(k_pk, "dev2", "s", "nick");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, Registry::Created::name_taken);
  c = reg.create_device("a1NoSuchPK1", "dev2", "s", "");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, Registry::Created::no_product);
}

TEST(EmuRegistry, AFileThatIsNotARegistryDatabaseIsAConfigError) {
  aliot::test::TempDir tmp;
  const std::string junk(8192, 'x');
  tmp.write("registry.db", junk);
  Registry reg(tmp.path());
  auto view = reg.load();
  ASSERT_FALSE(view);
  EXPECT_EQ(view.error().code(), Errc::config) << view.error().message();
  EXPECT_NE(view.error().message().find("registry.db"), std::string::npos)
      << view.error().message();
  EXPECT_FALSE(reg.add_product(k_pk, "ps", std::nullopt));
  EXPECT_EQ(tmp.read("registry.db"), junk) << "never overwritten";
}

} // namespace
