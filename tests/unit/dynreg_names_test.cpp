// The device names of `register --names`: a plain list or the console's CSV, validation and
// repeats, and the fallback to the configured DeviceName.
#include "support.hpp"
#include "unwrap.hpp"

#include <aliot/dynreg_batch.hpp>

#include <gtest/gtest.h>

using namespace aliot;
using Names = std::vector<std::string>;

TEST(DynregNames, PlainListTrimsAndSkipsBlanksAndComments) {
  EXPECT_EQ(test::unwrap(
                dynreg::parse_names("# devices of line 3\nplain-1\n\n  plain-2  \n\t# indented\n")),
            (Names{"plain-1", "plain-2"}));
  // CRLF line ends and a last line without a newline.
  EXPECT_EQ(test::unwrap(dynreg::parse_names("a\r\nb\r\nc")), (Names{"a", "b", "c"}));
  EXPECT_EQ(test::unwrap(dynreg::parse_names("")), Names{});
  EXPECT_EQ(test::unwrap(dynreg::parse_names("\n\n")), Names{});
}

TEST(DynregNames, PlainListKeepsOrderAndRepeats) {
  EXPECT_EQ(test::unwrap(dynreg::parse_names("z\na\nz\n")), (Names{"z", "a", "z"}));
}

TEST(DynregNames, ConsoleCsvWithBomQuotesAndOtherColumns) {
  const std::string csv = "\xEF\xBB\xBF"
                          "ProductKey,DeviceName,Note\n"
                          "a1FakePK001,dev-1,\"x, y\"\n"
                          "a1FakePK001, dev-2 ,\"say \"\"hi\"\"\"\r\n"
                          "\n"
                          "# a comment row\n"
                          "a1FakePK001,,no name\n"
                          "a1FakePK001\n"
                          "a1FakePK001,\"dev-3\"\n";
  EXPECT_EQ(test::unwrap(dynreg::parse_names(csv)), (Names{"dev-1", "dev-2", "dev-3"}));
}

TEST(DynregNames, CsvHeaderIsFoundInAnyColumnAndAnyCase) {
  EXPECT_EQ(test::unwrap(dynreg::parse_names("devicename\nd1\nd2\n")), (Names{"d1", "d2"}));
  EXPECT_EQ(test::unwrap(dynreg::parse_names("Note,\"DeviceName\"\n\"a,b\",d1\n")), (Names{"d1"}));
  // A quoted comma does not shift the column.
  EXPECT_EQ(test::unwrap(dynreg::parse_names("Note,DeviceName\n\"a,b\",d2\n")), (Names{"d2"}));
}

TEST(DynregNames, WithoutAHeaderEveryLineIsOneName) {
  // No DeviceName header: a line with commas is taken whole (and then fails validation).
  EXPECT_EQ(test::unwrap(dynreg::parse_names("pk,dev-1\n")), (Names{"pk,dev-1"}));
  // A BOM is dropped from a plain list too.
  EXPECT_EQ(test::unwrap(dynreg::parse_names("\xEF\xBB\xBF"
                                             "dev-1\n")),
            (Names{"dev-1"}));
}

TEST(DynregNames, ReadNamesFromAFileAndNamesTheOriginInErrors) {
  test::TempDir dir;
  const auto f = dir.write("names.csv", "DeviceName\nf-1\nf-2\n");
  auto n = dynreg::read_names(f, "--names " + f);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, (Names{"f-1", "f-2"}));

  n = dynreg::read_names(dir.file("missing.txt"), "--names missing.txt");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), Errc::io);
  EXPECT_EQ(n.error().message(),
            "reading --names missing.txt: cannot be read: No such file or directory");
}

TEST(DynregNames, UniqueNamesValidateAndKeepTheFirstPlace) {
  auto n = dynreg::unique_device_names({"dev-b", "dev-a", "dev-b", "dev-c", "dev-a"});
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, (Names{"dev-b", "dev-a", "dev-c"}));

  n = dynreg::unique_device_names({"ok-1", "bad name"});
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), Errc::usage);
  n = dynreg::unique_device_names({"pk,dev-1"});
  EXPECT_FALSE(n);
}

TEST(DynregNames, DeviceNamesJoinFlagsAndFileOrFallBack) {
  test::TempDir dir;
  const auto f = dir.write("names.txt", "dev-f1\ndev-d1\n");
  auto n = dynreg::device_names({"dev-d1", "dev-d2"}, f, std::string("profile-dev"));
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, (Names{"dev-d1", "dev-d2", "dev-f1"}));

  // The configured DeviceName only when nothing else names a device.
  n = dynreg::device_names({}, std::nullopt, std::string("profile-dev"));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, Names{"profile-dev"});
  const auto empty = dir.write("empty.txt", "# nothing\n");
  n = dynreg::device_names({}, empty, std::string("profile-dev"));
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, Names{"profile-dev"});

  n = dynreg::device_names({}, empty, std::nullopt);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), Errc::usage);
  EXPECT_EQ(n.error().message(), "no device to register");

  n = dynreg::device_names({"dev-d1"}, dir.file("nope.txt"), std::nullopt);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), Errc::io);
}

// The names CSV is read by the one RFC 4180 reader (util/csv) that `pool import` uses too: a
// quoted cell may hold a line end, and a quote that is never closed refuses the file naming the
// line it opened on (it used to swallow the rest of the line and go on).
TEST(DynregNames, CsvQuotedLineEndsAndAnUnclosedQuoteIsAnErrorNamingTheLine) {
  EXPECT_EQ(test::unwrap(dynreg::parse_names("Note,DeviceName\n\"two\nlines\",d1\nx,d2\n")),
            (Names{"d1", "d2"}));
  auto bad =
      dynreg::parse_names("DeviceName,Note\nd1,ok\nd2,\"never closed\nd3,x\n", "--names n.csv");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Errc::config);
  EXPECT_EQ(bad.error().message(),
            "--names n.csv line 3: a quoted field opened on this line is not closed");
  // a plain list has no quoting: a quote is part of the line (and fails validation later)
  EXPECT_EQ(test::unwrap(dynreg::parse_names("dev-1\n\"dev-2\n")), (Names{"dev-1", "\"dev-2"}));

  test::TempDir dir;
  const auto f = dir.write("names.csv", "DeviceName\r\n\"f-1\r\n");
  auto n = dynreg::read_names(f, "--names " + f);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().message(),
            "--names " + f + " line 2: a quoted field opened on this line is not closed");
}
