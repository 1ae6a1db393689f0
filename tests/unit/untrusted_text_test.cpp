// Bytes from outside become text only through one rule: well-formed UTF-8 stays, every other byte
// is shown as \xHH. Error messages apply it, so no reply or device answer can make an error line
// unprintable (or a JSON error line throw).
#include <aliot/encoding.hpp>
#include <aliot/error.hpp>

#include <gtest/gtest.h>

using namespace aliot;

TEST(UntrustedText, ValidUtf8IsKeptByteForByte) {
  const std::string s = "ok \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 \x01";
  EXPECT_EQ(enc::escape_invalid_utf8(s), s);
}

TEST(UntrustedText, EachInvalidByteBecomesHexEscape) {
  // A 503 page cut in the middle of a character, a lone continuation byte, an overlong '/',
  // a surrogate and a code point past U+10FFFF.
  EXPECT_EQ(enc::escape_invalid_utf8("page \xe4\xb8"), "page \\xE4\\xB8");
  EXPECT_EQ(enc::escape_invalid_utf8("\x80x"), "\\x80x");
  EXPECT_EQ(enc::escape_invalid_utf8("\xc0\xaf"), "\\xC0\\xAF");
  EXPECT_EQ(enc::escape_invalid_utf8("\xed\xa0\x80"), "\\xED\\xA0\\x80");
  EXPECT_EQ(enc::escape_invalid_utf8("\xf4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");
  EXPECT_TRUE(enc::is_valid_utf8(enc::escape_invalid_utf8("\xff\xfe\xfd")));
}

TEST(UntrustedText, ErrorMessagesHintsAndContextAreAlwaysText) {
  Error e(Errc::remote, "the platform answered \"\xff\xfe device exists\"", "try \xc3");
  EXPECT_EQ(e.message(), "the platform answered \"\\xFF\\xFE device exists\"");
  EXPECT_EQ(e.hint(), "try \\xC3");
  Error up = std::move(e).context("registering d\xffv");
  EXPECT_EQ(up.message().rfind("registering d\\xFFv: the platform", 0), 0U) << up.message();
  EXPECT_TRUE(enc::is_valid_utf8(std::move(up).with_hint("\x80").hint()));
}

TEST(UntrustedText, StrictBase64RefusesNonZeroPadBits) {
  EXPECT_EQ(enc::base64_decode("aGk=").value_or("?"), "hi");
  EXPECT_FALSE(enc::base64_decode("aGl=")); // 'l' leaves a 1 bit under the padding
  EXPECT_FALSE(enc::base64_decode("aB=="));
  EXPECT_EQ(enc::base64_decode("aA==").value_or("?"), "h");
}
