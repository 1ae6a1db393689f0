// The one CSV reader (lib/src/util/csv) behind `register --names` and `pool import`: RFC 4180
// quoting, embedded commas and line ends, a BOM, CRLF, blank and comment lines, and an unclosed
// quote refused naming the line it opened on.
#include "util/csv.hpp"

#include <gtest/gtest.h>

using namespace aliot;
using Fields = std::vector<std::string>;

namespace {

std::vector<csv::Record> ok(std::string_view text, const csv::Options& o = {}) {
  auto r = csv::parse(text, "t.csv", o);
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
  return r ? *r : std::vector<csv::Record>{};
}

} // namespace

TEST(Csv, PlainFieldsAreTrimmedAndEveryLineIsARecord) {
  auto r = ok("a,b,c\n 1 ,\t2, 3 \n");
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[0].fields, (Fields{"a", "b", "c"}));
  EXPECT_EQ(r[0].line, 1U);
  EXPECT_EQ(r[1].fields, (Fields{"1", "2", "3"}));
  EXPECT_EQ(r[1].line, 2U);
  EXPECT_EQ(ok("a,,\n")[0].fields, (Fields{"a", "", ""}));
  EXPECT_TRUE(ok("").empty());
}

TEST(Csv, QuotesHoldCommasLineEndsAndDoubledQuotes) {
  auto r = ok("\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\",\"crlf\r\nkept\"\nnext,row\n");
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[0].fields, (Fields{"x, y", "say \"hi\"", "two\nlines", "crlf\r\nkept"}));
  EXPECT_EQ(r[1].line, 4U) << "a record after quoted line ends starts on the right line";
  EXPECT_EQ(r[1].fields, (Fields{"next", "row"}));
  // blanks around a quoted field are not part of it; inside they are
  EXPECT_EQ(ok("  \" a \"  ,b")[0].fields, (Fields{" a ", "b"}));
  // an empty quoted field, and a quote inside an unquoted field is data
  EXPECT_EQ(ok("\"\",ab\"c")[0].fields, (Fields{"", "ab\"c"}));
  // characters after the closing quote are kept (as Python's csv does)
  EXPECT_EQ(ok("\"ab\"c,d")[0].fields, (Fields{"abc", "d"}));
}

TEST(Csv, BomCrlfALastLineWithoutItsEndAndBlankLines) {
  auto r = ok("\xEF\xBB\xBFh1,h2\r\n\r\n  \nv1,v2\r\nv3,v4");
  ASSERT_EQ(r.size(), 3U);
  EXPECT_EQ(r[0].fields, (Fields{"h1", "h2"})) << "the BOM is not part of the first field";
  EXPECT_EQ(r[1].fields, (Fields{"v1", "v2"}));
  EXPECT_EQ(r[1].line, 4U);
  EXPECT_EQ(r[2].fields, (Fields{"v3", "v4"}));
  EXPECT_EQ(ok("a,b\r")[0].fields, (Fields{"a", "b"}));
  // a lone CR inside a line is data
  EXPECT_EQ(ok("a\rb,c\n")[0].fields, (Fields{"a\rb", "c"}));
  csv::Options keep;
  keep.skip_blank = false;
  EXPECT_EQ(ok("a\n\nb\n", keep).size(), 3U);
}

TEST(Csv, CommentLinesAreSkippedOnlyWhenAsked) {
  csv::Options o;
  o.comment = '#';
  auto r = ok("h\n# a \"note\n  # indented\nv\n", o);
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[1].fields, (Fields{"v"}));
  EXPECT_EQ(r[1].line, 4U);
  EXPECT_EQ(ok("#x,y\n")[0].fields, (Fields{"#x", "y"}));
}

TEST(Csv, AnUnclosedQuoteIsAnErrorNamingTheLineItOpenedOn) {
  for (const char* text : {"a,b\nc,\"d\ne,f\n", "a,b\nc,\"d", "a,b\r\n\"c\"\"\r\n"}) {
    auto r = csv::parse(text, "batch.csv");
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code(), Errc::config);
    EXPECT_EQ(r.error().message(),
              "batch.csv line 2: a quoted field opened on this line is not closed")
        << text;
  }
  // a closed quote at the very end is fine
  EXPECT_EQ(ok("\"a\"")[0].fields, (Fields{"a"}));
}

TEST(Csv, AnyBytesNeverCrash) {
  std::string all;
  for (int c = 0; c < 256; ++c) {
    all += static_cast<char>(c);
  }
  for (std::size_t n = 0; n <= all.size(); n += 17) {
    (void)csv::parse(std::string_view(all).substr(0, n), "x");
    (void)csv::parse(std::string_view(all).substr(n), "x");
  }
  (void)csv::parse("\"\xff\xfe\",\x80\n", "x");
}
