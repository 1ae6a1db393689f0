#include <aliot/encoding.hpp>
#include <aliot/time.hpp>

#include <gtest/gtest.h>

using namespace aliot;
using std::chrono::milliseconds;
using std::chrono::system_clock;

namespace {

system_clock::time_point at_ms(long long ms) {
  return system_clock::time_point(milliseconds(ms));
}

long long ms_of(std::string_view text, TimeSyntax syntax = {}) {
  auto r = parse_utc_iso8601(text, syntax);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message());
  return r ? std::chrono::duration_cast<milliseconds>(r->time_since_epoch()).count() : -1;
}

} // namespace

TEST(UtcTime, FormatsSecondsAndMilliseconds) {
  EXPECT_EQ(utc_iso8601(at_ms(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc_iso8601(at_ms(1795889391123LL)), "2026-11-28T18:09:51Z");
  EXPECT_EQ(utc_iso8601(at_ms(1795889391123LL), true), "2026-11-28T18:09:51.123Z");
  EXPECT_EQ(utc_iso8601(at_ms(1795889391007LL), true), "2026-11-28T18:09:51.007Z");
  // Before the epoch the milliseconds still count forwards from the whole second before.
  EXPECT_EQ(utc_iso8601(at_ms(-1), true), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(utc_iso8601(1704067200), "2024-01-01T00:00:00Z");
  EXPECT_EQ(utc_iso8601(253402300799LL), "9999-12-31T23:59:59Z"); // a certificate's "forever"
  EXPECT_EQ(utc_datetime(at_ms(1795889391123LL)), "2026-11-28 18:09:51");
}

TEST(UtcTime, LeapYearsFollowTheGregorianRules) {
  EXPECT_EQ(ms_of("2024-02-29T00:00:00Z"), 1709164800000LL);
  EXPECT_EQ(ms_of("2000-02-29T12:00:00Z"), 951825600000LL); // divisible by 400
  EXPECT_EQ(utc_iso8601(at_ms(951825600000LL)), "2000-02-29T12:00:00Z");
  for (const char* bad : {"2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
                          "2026-02-30T00:00:00Z"}) {
    EXPECT_FALSE(parse_utc_iso8601(bad)) << bad;
  }
  EXPECT_EQ(ms_of("2026-12-31T23:59:59Z"), 1798761599000LL);
}

TEST(UtcTime, ParsesWhatItFormats) {
  for (const long long ms : {0LL, 1LL, 999LL, 1704067200000LL, 1795889391123LL, 7258118399999LL}) {
    EXPECT_EQ(ms_of(utc_iso8601(at_ms(ms), true)), ms);
    EXPECT_EQ(ms_of(utc_iso8601(at_ms(ms))), ms / 1000 * 1000);
  }
}

TEST(UtcTime, FractionsAreKeptToTheMillisecond) {
  EXPECT_EQ(ms_of("2026-11-28T18:09:51.1Z"), 1795889391100LL);
  EXPECT_EQ(ms_of("2026-11-28T18:09:51.12Z"), 1795889391120LL);
  EXPECT_EQ(ms_of("2026-11-28T18:09:51.123456789Z"), 1795889391123LL);
  EXPECT_FALSE(parse_utc_iso8601("2026-11-28T18:09:51.Z"));
}

TEST(UtcTime, TheDefaultIsStrictZuluTime) {
  for (const char* bad : {"",
                          "2026",
                          "2026-11-28",
                          "2026-11-28T18:09:51",
                          "2026-11-28T18:09:51z",
                          "2026-11-28t18:09:51Z",
                          "2026-11-28 18:09:51Z",
                          "2026-11-29T02:09:51+08:00",
                          "2026-11-28T18:09:51Z ",
                          " 2026-11-28T18:09:51Z",
                          "2026-11-28T24:00:00Z",
                          "2026-11-28T18:60:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-01T00:00:00Z",
                          "2026-11-00T00:00:00Z",
                          "1969-12-31T23:59:59Z",
                          "2201-01-01T00:00:00Z",
                          "+026-11-28T18:09:51Z",
                          "2026-1-28T18:09:51Z",
                          "28/11/2026",
                          "2026-11-28T18:09:51ZZ",
                          "2026-11-28T18:09:51\xff",
                          "2026-11-28T18:09:5\0Z"}) {
    auto r = parse_utc_iso8601(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::usage);
    EXPECT_NE(r.error().message().find("is not an ISO 8601 time"), std::string::npos);
  }
  const std::string nul("2026-11-28T18:09:51Z\0", 21);
  EXPECT_FALSE(parse_utc_iso8601(nul));
}

TEST(UtcTime, OffsetsDatesAndLowerCaseOnlyWhenAsked) {
  const TimeSyntax rfc3339{.offset = true, .date_only = true, .lenient = true};
  EXPECT_EQ(ms_of("2026-11-29T02:09:51.123+08:00", rfc3339), 1795889391123LL);
  EXPECT_EQ(ms_of("2026-11-28T13:39:51.123-04:30", rfc3339), 1795889391123LL);
  EXPECT_EQ(ms_of("2026-11-28t18:09:51z", rfc3339), 1795889391000LL);
  EXPECT_EQ(ms_of("2026-11-28 18:09:51Z", rfc3339), 1795889391000LL);
  EXPECT_EQ(ms_of("2026-11-28", rfc3339), 1795824000000LL);
  for (const char* bad : {"2026-11-28T18:09:51", "2026-02-30", "2026-11-28T25:00:00Z", "28/11/2026",
                          "2026-11-28T18:09:51+8", "2026-11-28T18:09:51+08:60",
                          "2026-11-28T18:09:51+0800", "", "2999-01-01"}) {
    auto r = parse_utc_iso8601(bad, rfc3339);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::usage);
  }
}
