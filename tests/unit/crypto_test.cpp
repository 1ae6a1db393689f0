// aliot's HMAC, SHA-256 and random calls (lib/src/crypto/crypto.cpp, over OpenSSL) as regression
// tests: the published vectors (FIPS 180-2, RFC 2202, RFC 4231), RFC 2104's rules on key length
// checked through the calls, and many random keys and messages against an independent peer
// (tests/unit/crypto_peer.py: CPython's own digests and its pure-Python HMAC, not OpenSSL).
#include "support.hpp"
#include "unwrap.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

using namespace aliot;
using crypto::Hmac;

namespace {

std::string hex(std::string_view raw) {
  return enc::hex_lower(raw);
}

std::string bytes(std::size_t n, unsigned char b) {
  return std::string(n, static_cast<char>(b));
}

std::string counting(unsigned char from, unsigned char to) {
  std::string s;
  for (unsigned int b = from; b <= to; ++b) {
    s.push_back(static_cast<char>(b));
  }
  return s;
}

std::size_t digest_size(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return 16;
  case Hmac::sha1: return 20;
  case Hmac::sha256: return 32;
  }
  return 0;
}

const char* name_of(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return "md5";
  case Hmac::sha1: return "sha1";
  case Hmac::sha256: return "sha256";
  }
  return "?";
}

constexpr Hmac k_all[] = {Hmac::md5, Hmac::sha1, Hmac::sha256};
constexpr std::size_t k_block = 64; // MD5, SHA-1 and SHA-256 alike

} // namespace

TEST(Crypto, Sha256Fips180Vectors) {
  const std::string million_a(1'000'000, 'a');
  const struct {
    std::string msg;
    const char* hex;
  } cases[] = {
      // FIPS 180-2 appendix B, and the empty message.
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {million_a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::to_string(c.msg.size()) + " bytes");
    EXPECT_EQ(crypto::sha256_hex(c.msg), c.hex);
    EXPECT_EQ(hex(crypto::sha256(c.msg)), c.hex);
  }
  // Bytes, not C strings: a NUL inside the message is hashed like any byte.
  EXPECT_NE(crypto::sha256_hex(std::string_view("a\0b", 3)), crypto::sha256_hex("a"));
}

TEST(Crypto, HmacRfc2202AndRfc4231Vectors) {
  const std::string long_key_msg = "Test Using Larger Than Block-Size Key - Hash Key First";
  const struct {
    Hmac alg;
    std::string key;
    std::string msg;
    const char* hex; // a truncated MAC (RFC 4231 case 5) is compared on its prefix
  } cases[] = {
      // RFC 2202 section 2 (HMAC-MD5).
      {Hmac::md5, bytes(16, 0x0b), "Hi There", "9294727a3638bb1c13f48ef8158bfc9d"},
      {Hmac::md5, "Jefe", "what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"},
      {Hmac::md5, bytes(16, 0xaa), bytes(50, 0xdd), "56be34521d144c88dbb8c733f0e8b3f6"},
      {Hmac::md5, counting(1, 25), bytes(50, 0xcd), "697eaf0aca3a3aea3a75164746ffaa79"},
      {Hmac::md5, bytes(16, 0x0c), "Test With Truncation", "56461ef2342edc00f9bab995690efd4c"},
      {Hmac::md5, bytes(80, 0xaa), long_key_msg, "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"},
      {Hmac::md5, bytes(80, 0xaa),
       "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
       "6f630fad67cda0ee1fb1f562db3aa53e"},
      // RFC 2202 section 3 (HMAC-SHA-1).
      {Hmac::sha1, bytes(20, 0x0b), "Hi There", "b617318655057264e28bc0b6fb378c8ef146be00"},
      {Hmac::sha1, "Jefe", "what do ya want for nothing?",
       "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
      {Hmac::sha1, bytes(20, 0xaa), bytes(50, 0xdd), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
      {Hmac::sha1, counting(1, 25), bytes(50, 0xcd), "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
      {Hmac::sha1, bytes(20, 0x0c), "Test With Truncation",
       "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
      {Hmac::sha1, bytes(80, 0xaa), long_key_msg, "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
      {Hmac::sha1, bytes(80, 0xaa),
       "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
       "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
      // RFC 4231 section 4 (HMAC-SHA-256).
      {Hmac::sha256, bytes(20, 0x0b), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {Hmac::sha256, "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {Hmac::sha256, bytes(20, 0xaa), bytes(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {Hmac::sha256, counting(1, 25), bytes(50, 0xcd),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {Hmac::sha256, bytes(20, 0x0c), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b"},
      {Hmac::sha256, bytes(131, 0xaa), long_key_msg,
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {Hmac::sha256, bytes(131, 0xaa),
       "This is a test using a larger than block-size key and a larger than block-size data. The "
       "key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(name_of(c.alg)) + ": " + c.hex);
    const std::string want = c.hex;
    const std::string got = test::unwrap(crypto::hmac_hex(c.alg, c.key, c.msg));
    EXPECT_EQ(got.size(), 2 * digest_size(c.alg));
    EXPECT_EQ(got.substr(0, want.size()), want);
    EXPECT_EQ(hex(test::unwrap(crypto::hmac(c.alg, c.key, c.msg))), got);
  }
  // An empty key is a key (RFC 2104 pads it with zeros).
  EXPECT_EQ(test::unwrap(crypto::hmac_hex(Hmac::sha256, "", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// RFC 2104: a key shorter than the block is padded with zeros to the block, and a key longer
// than the block is replaced by its digest. Through the calls: zeros appended up to the block
// change nothing, one byte past it does; a long SHA-256 key gives the MAC of its SHA-256; a NUL
// inside a key or message is a byte like any other.
TEST(Crypto, HmacKeyLengthRules) {
  const std::string msg = "the same message";
  for (const Hmac alg : k_all) {
    SCOPED_TRACE(name_of(alg));
    for (const std::size_t len : {0, 1, 20, 63}) {
      const std::string key(len, 'k');
      const std::string mac = test::unwrap(crypto::hmac(alg, key, msg));
      EXPECT_EQ(mac.size(), digest_size(alg));
      EXPECT_EQ(test::unwrap(crypto::hmac(alg, key + bytes(k_block - len, 0), msg)), mac)
          << "a key of " << len << " bytes padded with zeros to the block";
      // Past the block the key is hashed: the zeros are no longer padding.
      EXPECT_NE(test::unwrap(crypto::hmac(alg, key + bytes(k_block - len + 1, 0), msg)), mac)
          << "a key of " << len << " bytes padded past the block";
    }
    EXPECT_NE(test::unwrap(crypto::hmac(alg, std::string_view("a\0b", 3), msg)),
              test::unwrap(crypto::hmac(alg, "a", msg)));
    EXPECT_NE(test::unwrap(crypto::hmac(alg, "k", std::string_view("m\0", 2))),
              test::unwrap(crypto::hmac(alg, "k", "m")));
  }
  for (const std::size_t len : {65, 100, 128, 129, 1000}) {
    std::string key(len, '\0');
    for (std::size_t i = 0; i < len; ++i) {
      key[i] = static_cast<char>((i * 7 + len) & 0xffU);
    }
    EXPECT_EQ(test::unwrap(crypto::hmac_hex(Hmac::sha256, key, msg)),
              test::unwrap(crypto::hmac_hex(Hmac::sha256, crypto::sha256(key), msg)))
        << "a key of " << len << " bytes is its SHA-256";
  }
}

// Random keys (clustered around the block) and messages (around the padding boundaries), HMAC
// with each digest and SHA-256, against CPython's own digests and pure-Python HMAC.
TEST(Crypto, AgreesWithAnIndependentPeer) {
  const auto peer = test::run(
      {"python3", std::string(ALIOT_SOURCE_DIR) + "/tests/unit/crypto_peer.py", "400", "20261207"});
  ASSERT_EQ(peer.status, 0) << peer.err;
  std::istringstream lines(peer.out);
  std::string alg_name;
  std::string key_hex;
  std::string msg_hex;
  std::string want;
  int compared = 0;
  const auto decode = [](const std::string& h) {
    return h == "-" ? std::string() : test::unwrap(enc::hex_decode(h));
  };
  while (lines >> alg_name >> key_hex >> msg_hex >> want) {
    const std::string key = decode(key_hex);
    const std::string msg = decode(msg_hex);
    SCOPED_TRACE(alg_name + ": key of " + std::to_string(key.size()) + " bytes, message of "
                 + std::to_string(msg.size()));
    if (alg_name == "digest-sha256") {
      ASSERT_EQ(crypto::sha256_hex(msg), want);
    } else {
      const Hmac alg = alg_name == "md5"    ? Hmac::md5
                       : alg_name == "sha1" ? Hmac::sha1
                                            : Hmac::sha256;
      ASSERT_EQ(name_of(alg), alg_name);
      ASSERT_EQ(test::unwrap(crypto::hmac_hex(alg, key, msg)), want);
    }
    ++compared;
  }
  EXPECT_EQ(compared, 400 * 4);
}

TEST(Crypto, EqualCtComparesEveryByte) {
  EXPECT_TRUE(crypto::equal_ct("", ""));
  EXPECT_TRUE(crypto::equal_ct("abc", "abc"));
  EXPECT_FALSE(crypto::equal_ct("abc", "abd"));
  EXPECT_FALSE(crypto::equal_ct("abc", "bbc"));
  EXPECT_FALSE(crypto::equal_ct("abc", "abcd"));
  EXPECT_FALSE(crypto::equal_ct("", "a"));
  EXPECT_FALSE(crypto::equal_ct(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  EXPECT_FALSE(crypto::equal_ct("\x80", "\x00"));
}

TEST(Random, OpenSslsBytes) {
  EXPECT_EQ(test::unwrap(crypto::random_bytes(0)), "");
  const auto a = test::unwrap(crypto::random_bytes(64));
  const auto b = test::unwrap(crypto::random_bytes(64));
  EXPECT_EQ(a.size(), 64U);
  EXPECT_NE(a, b);
  EXPECT_EQ(test::unwrap(crypto::random_bytes(100'000)).size(), 100'000U);
  EXPECT_EQ(test::unwrap(crypto::random_alnum(0)), "");
  const auto alnum = test::unwrap(crypto::random_alnum(64));
  EXPECT_EQ(alnum.size(), 64U);
  EXPECT_EQ(
      alnum.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
      std::string::npos);
  const auto h = test::unwrap(crypto::random_hex(20));
  EXPECT_EQ(h.size(), 40U);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Random, AlnumUsesTheWholeAlphabet) {
  // 62 letters, 20,000 draws: each is expected ~322 times; none missing and none above twice
  // that (a modulo bias or a short alphabet would show; a chance failure is below 1e-40).
  const auto s = test::unwrap(crypto::random_alnum(20'000));
  ASSERT_EQ(s.size(), 20'000U);
  for (char c :
       std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")) {
    const auto n = std::count(s.begin(), s.end(), c);
    EXPECT_GT(n, 160) << c;
    EXPECT_LT(n, 645) << c;
  }
}
