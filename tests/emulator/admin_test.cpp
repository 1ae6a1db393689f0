// The add-* operations of `aliot emulate cloud` on a state directory (aliot/emu/admin.hpp), on a
// real SQLite registry.db in a temporary directory: what they check and in which order, what they
// make up, and what another Registry on the directory then sees.
#include "support.hpp"

#include <aliot/emu/admin.hpp>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cctype>

using aliot::Errc;
using aliot::Result;
using aliot::emu::Registry;
namespace admin = aliot::emu::admin;

namespace {

const std::string k_pk = "a1AdminPK01";

bool alnum(const std::string& s) {
  for (const char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
  }
  return true;
}

// A GivenSecret that counts how often it was asked.
struct Source {
  std::optional<std::string> value;
  int asked = 0;
  admin::GivenSecret fn() {
    return [this]() -> Result<std::optional<std::string>> {
      ++asked;
      return value;
    };
  }
};

} // namespace

TEST(EmuAdmin, TheStateDirectoryIsCreatedWhenMissing) {
  aliot::test::TempDir tmp;
  const std::string dir = tmp.file("state/nested");
  auto reg = admin::open_registry(dir);
  ASSERT_TRUE(reg) << reg.error().message();
  EXPECT_EQ((*reg)->dir(), dir);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  auto empty = admin::open_registry("");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code(), Errc::usage);
  const auto file = tmp.write("plain", "x");
  auto not_dir = admin::open_registry(file);
  ASSERT_FALSE(not_dir);
  EXPECT_EQ(not_dir.error().code(), Errc::io);
}

// The directory holds secrets (registry.db, the CA key): 0700 from the add-* verb that makes it,
// even under umask 000, not only from the first `emulate cloud` start.
TEST(EmuAdmin, TheStateDirectoryIsMadeOwnerOnlyWhateverTheUmask) {
  aliot::test::TempDir tmp;
  const std::string parent = tmp.file("open"), dir = parent + "/state", slash = tmp.file("s2/");
  const mode_t old = ::umask(0);
  auto reg = admin::open_registry(dir);
  auto reg2 = admin::open_registry(slash);
  Source none;
  auto product = admin::add_product(dir, k_pk, none.fn(), std::nullopt);
  ::umask(old);
  ASSERT_TRUE(reg) << reg.error().message();
  ASSERT_TRUE(reg2) << reg2.error().message();
  ASSERT_TRUE(product) << product.error().message();
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  ASSERT_EQ(::stat(slash.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  ASSERT_EQ(::stat((dir + "/registry.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  // The parents are made as mkdir -p makes them (the umask's), and an existing directory is left
  // as it is.
  ASSERT_EQ(::stat(parent.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0777U);
  ASSERT_EQ(::chmod(dir.c_str(), 0750), 0);
  ASSERT_TRUE(admin::open_registry(dir));
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750U);
}

TEST(EmuAdmin, GivenOrRandom) {
  EXPECT_EQ(*admin::given_or_random(std::string("mine"), 30, "LTAI"), "mine");
  const auto a = *admin::given_or_random(std::nullopt, 20, "LTAI");
  const auto b = *admin::given_or_random(std::nullopt, 20, "LTAI");
  EXPECT_EQ(a.size(), 24U);
  EXPECT_TRUE(a.starts_with("LTAI"));
  EXPECT_TRUE(alnum(a)) << a;
  EXPECT_NE(a, b) << "fresh each time";
}

TEST(EmuAdmin, AProductGetsAGeneratedSecretOnlyWhenNoneIsGiven) {
  aliot::test::TempDir tmp;
  Source none;
  auto p = admin::add_product(tmp.path(), k_pk, none.fn(), std::nullopt);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->created);
  EXPECT_TRUE(p->generated);
  EXPECT_EQ(p->secret.size(), 16U);
  EXPECT_EQ(none.asked, 1);

  Source given{"ps-given"};
  auto again = admin::add_product(tmp.path(), k_pk, given.fn(), false);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_FALSE(again->created);
  EXPECT_FALSE(again->generated);
  EXPECT_EQ(again->secret, "ps-given");
  auto kept = admin::add_product(tmp.path(), k_pk, none.fn(), std::nullopt);
  ASSERT_TRUE(kept);
  EXPECT_FALSE(kept->generated) << "an update without a secret keeps the product's";
  EXPECT_EQ(kept->secret, "ps-given");

  Registry other(tmp.path());
  const auto* prod = (*other.load())->product(k_pk);
  ASSERT_NE(prod, nullptr);
  EXPECT_EQ(prod->secret, "ps-given");
  EXPECT_FALSE(prod->dynreg);

  // A ProductKey the platform refuses: the secret is never asked for (it may be stdin), and no
  // state directory is made.
  Source asked{"x"};
  auto bad = admin::add_product(tmp.file("fresh"), "a1 bad", asked.fn(), std::nullopt);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::usage);
  EXPECT_EQ(asked.asked, 0);
  struct stat st {};
  EXPECT_NE(::stat(tmp.file("fresh").c_str(), &st), 0);
}

TEST(EmuAdmin, ADeviceGetsTheGivenSecretOrAFreshOne) {
  aliot::test::TempDir tmp;
  Source none;
  ASSERT_TRUE(admin::add_product(tmp.path(), k_pk, none.fn(), std::nullopt));
  auto made = admin::add_device(tmp.path(), k_pk, "dev-gen", none.fn(), true);
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_EQ(made->size(), 32U);
  EXPECT_TRUE(alnum(*made)) << *made;
  Source given{"ds-given-1"};
  auto kept = admin::add_device(tmp.path(), k_pk, "dev-given", given.fn(), false);
  ASSERT_TRUE(kept) << kept.error().message();
  EXPECT_EQ(*kept, "ds-given-1");

  Registry other(tmp.path());
  auto view = other.load();
  ASSERT_TRUE(view);
  const auto* gen = (*view)->device(k_pk, "dev-gen");
  ASSERT_NE(gen, nullptr);
  EXPECT_EQ(gen->secret, *made);
  EXPECT_TRUE(gen->enabled);
  const auto* giv = (*view)->device(k_pk, "dev-given");
  ASSERT_NE(giv, nullptr);
  EXPECT_EQ(giv->secret, "ds-given-1");
  EXPECT_FALSE(giv->enabled);

  // Names are checked before the secret is asked for; the secret before anything is written.
  Source asked{"ds"};
  auto bad_dn = admin::add_device(tmp.path(), k_pk, "x", asked.fn(), true);
  ASSERT_FALSE(bad_dn);
  EXPECT_EQ(bad_dn.error().code(), Errc::usage);
  EXPECT_NE(bad_dn.error().message().find("DeviceName"), std::string::npos);
  EXPECT_EQ(asked.asked, 0);
  Source too_long{std::string(200, 'a')};
  auto bad_ds = admin::add_device(tmp.path(), k_pk, "dev-long", too_long.fn(), true);
  ASSERT_FALSE(bad_ds);
  EXPECT_EQ(too_long.asked, 1);
  EXPECT_EQ((*other.load())->device(k_pk, "dev-long"), nullptr);
}

TEST(EmuAdmin, ANamesFileAddsAllItsDevicesOrNone) {
  aliot::test::TempDir tmp;
  Source none;
  ASSERT_TRUE(admin::add_product(tmp.path(), k_pk, none.fn(), std::nullopt));
  const auto names = tmp.write("names.txt", "bulk-a\nbulk-b\n");
  auto batch = admin::add_devices(tmp.path(), k_pk, names, true);
  ASSERT_TRUE(batch) << batch.error().message();
  ASSERT_EQ(batch->devices.size(), 2U);
  EXPECT_EQ(batch->devices[1].dn, "bulk-b");
  EXPECT_EQ(batch->devices[1].secret.size(), 32U);
  Registry other(tmp.path());
  const auto* d = (*other.load())->device(k_pk, "bulk-b");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->secret, batch->devices[1].secret);

  const auto more = tmp.write("more.txt", "bulk-c\nbulk-a\n");
  auto again = admin::add_devices(tmp.path(), k_pk, more, true);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Errc::usage);
  EXPECT_NE(again.error().message().find("line 2"), std::string::npos) << again.error().message();
  EXPECT_EQ((*other.load())->device(k_pk, "bulk-c"), nullptr) << "all or none";

  auto bad_pk = admin::add_devices(tmp.path(), "a1 bad", tmp.file("missing.txt"), true);
  ASSERT_FALSE(bad_pk);
  EXPECT_EQ(bad_pk.error().code(), Errc::usage) << "the ProductKey before the file";
}

TEST(EmuAdmin, AnAccessKeyIsMadeUpAsTheConsoleDoes) {
  aliot::test::TempDir tmp;
  auto made = admin::add_access_key(tmp.path(), std::nullopt, std::nullopt);
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_TRUE(made->id.starts_with("LTAI"));
  EXPECT_EQ(made->id.size(), 24U);
  EXPECT_EQ(made->secret.size(), 30U);
  EXPECT_TRUE(alnum(made->id + made->secret));
  auto given = admin::add_access_key(tmp.path(), "LTAIgiven", "sec-given");
  ASSERT_TRUE(given) << given.error().message();
  EXPECT_EQ(given->id, "LTAIgiven");
  EXPECT_EQ(given->secret, "sec-given");

  Registry other(tmp.path());
  auto view = other.load();
  ASSERT_TRUE(view);
  EXPECT_EQ((*view)->access_keys.at(made->id), made->secret);
  EXPECT_EQ((*view)->access_keys.at("LTAIgiven"), "sec-given");

  auto bad = admin::add_access_key(tmp.path(), "bad id!", std::nullopt);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::usage);
}

TEST(EmuAdmin, TopicsAndConsumerGroupsAreCheckedThenRecorded) {
  aliot::test::TempDir tmp;
  Source none;
  ASSERT_TRUE(admin::add_product(tmp.path(), k_pk, none.fn(), std::nullopt));
  auto rel = admin::add_topic(tmp.path(), k_pk, "/${productKey}/${deviceName}/user/cmd/#", "sub");
  ASSERT_TRUE(rel) << rel.error().message();
  EXPECT_EQ(*rel, "user/cmd/#");
  auto pub_wild = admin::add_topic(tmp.path(), k_pk, "user/x/#", "pub");
  ASSERT_FALSE(pub_wild) << "wildcards only with sub";
  EXPECT_EQ(pub_wild.error().code(), Errc::usage);
  ASSERT_TRUE(admin::add_consumer_group(tmp.path(), k_pk, "G1"));
  ASSERT_TRUE(admin::add_consumer_group(tmp.path(), k_pk, "G1")) << "again: no error";
  auto bad_group = admin::add_consumer_group(tmp.path(), k_pk, "bad group");
  ASSERT_FALSE(bad_group);
  EXPECT_EQ(bad_group.error().code(), Errc::usage);

  Registry other(tmp.path());
  const auto* prod = (*other.load())->product(k_pk);
  ASSERT_NE(prod, nullptr);
  EXPECT_EQ(prod->cats.back().topic, "user/cmd/#");
  EXPECT_TRUE(prod->cats.back().sub);
  EXPECT_FALSE(prod->cats.back().pub);
  EXPECT_EQ(prod->consumer_groups, std::vector<std::string>{"G1"});
}
