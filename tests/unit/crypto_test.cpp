// aliot's own digests and HMAC (lib/src/crypto/digest.cpp) against the published vectors
// (FIPS 180 examples, RFC 1321, RFC 2202, RFC 4231) and against OpenSSL itself on many random
// keys and messages of every length around the block; random bytes through getrandom(2)'s
// contract with a source that is interrupted, answers short or fails (lib/src/crypto/random.hpp).
#include "digest.hpp"
#include "random.hpp"
#include "unwrap.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cerrno>
#include <cstring>
#include <random>
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

const EVP_MD* openssl_md(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return EVP_md5();
  case Hmac::sha1: return EVP_sha1();
  case Hmac::sha256: return EVP_sha256();
  }
  return nullptr;
}

std::string openssl_digest(Hmac alg, std::string_view msg) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(msg.data(), msg.size(), out.data(), &len, openssl_md(alg), nullptr) != 1) {
    ADD_FAILURE() << "OpenSSL's EVP_Digest failed";
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string openssl_hmac(Hmac alg, std::string_view key, std::string_view msg) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  static const unsigned char k_empty = 0;
  const auto* k = key.empty() ? &k_empty : reinterpret_cast<const unsigned char*>(key.data());
  if (HMAC(openssl_md(alg), k, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len)
      == nullptr) {
    ADD_FAILURE() << "OpenSSL's HMAC failed";
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
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

} // namespace

TEST(Digest, Fips180AndRfc1321Vectors) {
  const std::string million_a(1'000'000, 'a');
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  const struct {
    Hmac alg;
    std::string msg;
    const char* hex;
  } cases[] = {
      // FIPS 180-2 appendix B (SHA-256) and A (SHA-1), and the empty message.
      {Hmac::sha256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {Hmac::sha256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {Hmac::sha256, two_blocks,
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {Hmac::sha256, million_a, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
      {Hmac::sha1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
      {Hmac::sha1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {Hmac::sha1, two_blocks, "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
      {Hmac::sha1, million_a, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
      // RFC 1321 appendix A.5.
      {Hmac::md5, "", "d41d8cd98f00b204e9800998ecf8427e"},
      {Hmac::md5, "a", "0cc175b9c0f1b6a831c399e269772661"},
      {Hmac::md5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
      {Hmac::md5, "message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {Hmac::md5, "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {Hmac::md5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {Hmac::md5,
       "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(name_of(c.alg)) + " of " + std::to_string(c.msg.size()) + " bytes");
    EXPECT_EQ(hex(crypto::detail::digest(c.alg, c.msg)), c.hex);
    if (c.alg == Hmac::sha256) {
      EXPECT_EQ(test::unwrap(crypto::sha256_hex(c.msg)), c.hex);
      EXPECT_EQ(hex(test::unwrap(crypto::sha256(c.msg))), c.hex);
    }
  }
}

TEST(Digest, HmacRfc2202AndRfc4231Vectors) {
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
    EXPECT_EQ(got.size(), 2 * crypto::detail::Hasher::digest_size(c.alg));
    EXPECT_EQ(got.substr(0, want.size()), want);
    EXPECT_EQ(hex(test::unwrap(crypto::hmac(c.alg, c.key, c.msg))), got);
  }
  // An empty key is a key (RFC 2104 pads it with zeros).
  EXPECT_EQ(test::unwrap(crypto::hmac_hex(Hmac::sha256, "", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// Every length from 0 to 300 (every position of the padding in up to five blocks), keys of
// every length around the block and past it, random bytes: the same answer as OpenSSL's EVP.
TEST(Digest, AgreesWithOpenSslOnEveryLengthAndKeySize) {
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<int> byte(0, 255);
  const auto random_string = [&](std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) {
      c = static_cast<char>(byte(rng));
    }
    return s;
  };
  const std::vector<std::size_t> key_sizes = {0,  1,  15, 16,  20,  31,  32,  55,  56,  63,
                                              64, 65, 80, 119, 127, 128, 129, 131, 200, 1000};
  int compared = 0;
  for (const Hmac alg : k_all) {
    SCOPED_TRACE(name_of(alg));
    for (std::size_t len = 0; len <= 300; ++len) {
      const std::string msg = random_string(len);
      ASSERT_EQ(hex(crypto::detail::digest(alg, msg)), hex(openssl_digest(alg, msg)))
          << "message of " << len << " bytes";
      const std::string key = random_string(key_sizes[len % key_sizes.size()]);
      ASSERT_EQ(hex(test::unwrap(crypto::hmac(alg, key, msg))), hex(openssl_hmac(alg, key, msg)))
          << "message of " << len << " bytes, key of " << key.size();
      compared += 2;
    }
    // Block-boundary messages against every key size.
    for (const std::size_t len : {55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 4096}) {
      const std::string msg = random_string(len);
      ASSERT_EQ(hex(crypto::detail::digest(alg, msg)), hex(openssl_digest(alg, msg)));
      for (const std::size_t ks : key_sizes) {
        const std::string key = random_string(ks);
        ASSERT_EQ(hex(test::unwrap(crypto::hmac(alg, key, msg))), hex(openssl_hmac(alg, key, msg)))
            << "message of " << len << " bytes, key of " << ks;
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 2000);
}

// Fed in pieces of any size, the hasher gives what it gives for the whole message.
TEST(Digest, PiecesGiveTheDigestOfTheWhole) {
  std::mt19937 rng(7);
  std::string msg(700, '\0');
  for (std::size_t i = 0; i < msg.size(); ++i) {
    msg[i] = static_cast<char>(rng() & 0xffU);
  }
  for (const Hmac alg : k_all) {
    const std::string whole = crypto::detail::digest(alg, msg);
    for (int round = 0; round < 50; ++round) {
      crypto::detail::Hasher h(alg);
      std::size_t at = 0;
      while (at < msg.size()) {
        const std::size_t n = std::min<std::size_t>(rng() % 130, msg.size() - at);
        h.update(std::string_view(msg).substr(at, n));
        at += n;
      }
      ASSERT_EQ(hex(h.finish()), hex(whole)) << name_of(alg) << " round " << round;
    }
  }
}

TEST(Crypto, EqualCtComparesEveryByte) {
  EXPECT_TRUE(crypto::equal_ct("", ""));
  EXPECT_TRUE(crypto::equal_ct("abc", "abc"));
  EXPECT_FALSE(crypto::equal_ct("abc", "abd"));
  EXPECT_FALSE(crypto::equal_ct("abc", "bbc"));
  EXPECT_FALSE(crypto::equal_ct("abc", "abcd"));
  EXPECT_FALSE(crypto::equal_ct(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  EXPECT_FALSE(crypto::equal_ct("\x80", "\x00"));
}

namespace {

// A stand-in for getrandom(2): a script of answers, then bytes 0, 1, 2, ... in order.
struct Script {
  std::vector<int> errors;      // errno values to fail with, in order, before any byte
  std::size_t max_per_call = 0; // 0: as many as asked
  int fail_after_bytes = -1;    // fail with EIO once this many bytes were given
  std::size_t given = 0;
  int calls = 0;
};
Script g_script;

ssize_t scripted(void* buf, std::size_t len, unsigned int flags) {
  ++g_script.calls;
  EXPECT_EQ(flags, 0U) << "getrandom must block until the pool is ready, not fail";
  if (!g_script.errors.empty()) {
    errno = g_script.errors.front();
    g_script.errors.erase(g_script.errors.begin());
    return -1;
  }
  if (g_script.fail_after_bytes >= 0
      && g_script.given >= static_cast<std::size_t>(g_script.fail_after_bytes)) {
    errno = EIO;
    return -1;
  }
  std::size_t n = len;
  if (g_script.max_per_call != 0) {
    n = std::min(n, g_script.max_per_call);
  }
  auto* out = static_cast<unsigned char*>(buf);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<unsigned char>(g_script.given++ & 0xffU);
  }
  return static_cast<ssize_t>(n);
}

std::string counting_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>(i & 0xffU);
  }
  return s;
}

} // namespace

TEST(Random, InterruptionsAndShortReadsAreAskedAgain) {
  g_script = Script{};
  g_script.errors = {EINTR, EINTR};
  g_script.max_per_call = 7;
  const auto got = test::unwrap(crypto::detail::random_bytes(&scripted, 300));
  // Every byte lands once, in order: the rest of a short read is asked for at the right offset.
  EXPECT_EQ(hex(got), hex(counting_bytes(300)));
  EXPECT_EQ(g_script.calls, 2 + 43); // two interruptions, then ceil(300 / 7) reads

  g_script = Script{};
  EXPECT_EQ(test::unwrap(crypto::detail::random_bytes(&scripted, 0)), "");
  EXPECT_EQ(g_script.calls, 0);
}

TEST(Random, AKernelThatRefusesGivesAnError) {
  for (const int err : {ENOSYS, EPERM, EFAULT}) {
    g_script = Script{};
    g_script.errors = {EINTR, err};
    Result<std::string> r = std::string();
    EXPECT_NO_THROW(r = crypto::detail::random_bytes(&scripted, 16));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::internal);
    EXPECT_NE(r.error().message().find("getrandom"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find(std::strerror(err)), std::string::npos)
        << r.error().message();
  }
  // A failure after a short read is still a failure, not a half-random answer.
  g_script = Script{};
  g_script.max_per_call = 4;
  g_script.fail_after_bytes = 8;
  auto partial = crypto::detail::random_bytes(&scripted, 16);
  ASSERT_FALSE(partial);
  EXPECT_EQ(partial.error().code(), Errc::internal);

  g_script = Script{};
  g_script.errors = {ENOSYS};
  auto alnum = crypto::detail::random_alnum(&scripted, 15);
  ASSERT_FALSE(alnum);
  EXPECT_EQ(alnum.error().code(), Errc::internal);
}

TEST(Random, AlnumIsUniformOverItsAlphabet) {
  // Bytes 0..255 in order: the 8 bytes past 247 are rejected, the rest map onto the 62 letters.
  g_script = Script{};
  const auto s = test::unwrap(crypto::detail::random_alnum(&scripted, 248));
  EXPECT_EQ(s.size(), 248U);
  for (char c :
       std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")) {
    EXPECT_EQ(std::count(s.begin(), s.end(), c), 4) << c;
  }
}

TEST(Random, TheKernelsBytes) {
  EXPECT_EQ(test::unwrap(crypto::random_bytes(0)), "");
  const auto a = test::unwrap(crypto::random_bytes(64));
  const auto b = test::unwrap(crypto::random_bytes(64));
  EXPECT_EQ(a.size(), 64U);
  EXPECT_NE(a, b);
  // More than getrandom(2) promises in one call (256 bytes) still comes back whole.
  EXPECT_EQ(test::unwrap(crypto::random_bytes(100'000)).size(), 100'000U);
  const auto alnum = test::unwrap(crypto::random_alnum(64));
  EXPECT_EQ(alnum.size(), 64U);
  EXPECT_EQ(
      alnum.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
      std::string::npos);
  const auto h = test::unwrap(crypto::random_hex(20));
  EXPECT_EQ(h.size(), 40U);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
}
