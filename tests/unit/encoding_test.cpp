#include "unwrap.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <gtest/gtest.h>

using namespace aliot;

TEST(Encoding, HexRoundTripsAndRejectsBadDigits) {
  EXPECT_EQ(enc::hex_lower("\x01\xab\xff"), "01abff");
  EXPECT_EQ(enc::hex_upper("\x01\xab\xff"), "01ABFF");
  EXPECT_EQ(*enc::hex_decode("01AbfF"), std::string("\x01\xab\xff"));
  EXPECT_FALSE(enc::hex_decode("0g"));
  EXPECT_FALSE(enc::hex_decode("abc"));
}

TEST(Encoding, Base64MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> v[] = {{"", ""},
                                                   {"f", "Zg=="},
                                                   {"fo", "Zm8="},
                                                   {"foo", "Zm9v"},
                                                   {"foob", "Zm9vYg=="},
                                                   {"fooba", "Zm9vYmE="},
                                                   {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, b64] : v) {
    EXPECT_EQ(enc::base64_encode(plain), b64);
    EXPECT_EQ(*enc::base64_decode(b64), plain);
  }
  EXPECT_FALSE(enc::base64_decode("Zm9"));
  EXPECT_FALSE(enc::base64_decode("Zm!v"));
  EXPECT_FALSE(enc::base64_decode("Zg==Zg=="));
}

TEST(Encoding, PercentEncodeFollowsPopRules) {
  EXPECT_EQ(enc::percent_encode("a b*c~d/e=+"), "a%20b%2Ac~d%2Fe%3D%2B");
  EXPECT_EQ(enc::percent_encode("测"), "%E6%B5%8B");
  EXPECT_EQ(*enc::percent_decode("a%20b%2a"), "a b*");
  EXPECT_FALSE(enc::percent_decode("a%2"));
  EXPECT_FALSE(enc::percent_decode("a%zz"));
}

TEST(Encoding, FormDecodeHandlesPlusAndEmptyValues) {
  auto f = enc::form_decode("a=1+2&b=&c&d=%3D");
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 4U);
  EXPECT_EQ((*f)[0].second, "1 2");
  EXPECT_EQ((*f)[1].second, "");
  EXPECT_EQ((*f)[2].first, "c");
  EXPECT_EQ((*f)[3].second, "=");
}

TEST(Encoding, Utf8Validation) {
  EXPECT_TRUE(enc::is_valid_utf8("hello 测试"));
  EXPECT_FALSE(enc::is_valid_utf8("\xff"));
  EXPECT_FALSE(enc::is_valid_utf8("\xe6\xb5"));     // truncated
  EXPECT_FALSE(enc::is_valid_utf8("\xc0\xaf"));     // overlong
  EXPECT_FALSE(enc::is_valid_utf8("\xed\xa0\x80")); // surrogate
}

TEST(Crypto, HmacMatchesRfc2202AndRfc4231) {
  EXPECT_EQ(
      test::unwrap(crypto::hmac_hex(crypto::Hmac::md5, "Jefe", "what do ya want for nothing?")),
      "750c783e6ab0b503eaa86e310a5db738");
  EXPECT_EQ(
      test::unwrap(crypto::hmac_hex(crypto::Hmac::sha1, "Jefe", "what do ya want for nothing?")),
      "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(
      test::unwrap(crypto::hmac_hex(crypto::Hmac::sha256, "Jefe", "what do ya want for nothing?")),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, RandomTextHasTheRequestedShape) {
  const auto a = test::unwrap(crypto::random_alnum(15));
  EXPECT_EQ(a.size(), 15U);
  EXPECT_EQ(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            std::string::npos);
  EXPECT_NE(test::unwrap(crypto::random_hex(16)), test::unwrap(crypto::random_hex(16)));
  EXPECT_EQ(test::unwrap(crypto::random_hex(16)).size(), 32U);
}
