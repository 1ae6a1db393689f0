// The crypto layer returns Errors, never throws: through the internal seam
// (lib/src/crypto/libctx.hpp) each function runs over an OpenSSL library context that offers no
// algorithm at all (only the "null" provider), the way a FIPS-only or broken OpenSSL refuses
// MD5, HMAC or random bytes; and over a context with the default provider, the same functions
// give the RFC values.
#include "libctx.hpp"
#include "unwrap.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include <memory>

using namespace aliot;

namespace {

constexpr std::string_view k_key = "Jefe";
constexpr std::string_view k_msg = "what do ya want for nothing?";

// A library context with one provider loaded (which stops OpenSSL from loading the default
// provider into it on first use).
class LibCtx {
public:
  explicit LibCtx(const char* provider)
      : m_ctx(OSSL_LIB_CTX_new())
      , m_provider(m_ctx != nullptr ? OSSL_PROVIDER_load(m_ctx, provider) : nullptr) {}
  ~LibCtx() {
    if (m_provider != nullptr) {
      OSSL_PROVIDER_unload(m_provider);
    }
    OSSL_LIB_CTX_free(m_ctx);
  }
  LibCtx(const LibCtx&) = delete;
  LibCtx& operator=(const LibCtx&) = delete;

  bool ok() const { return m_provider != nullptr; }
  OSSL_LIB_CTX* get() const { return m_ctx; }

private:
  OSSL_LIB_CTX* m_ctx;
  OSSL_PROVIDER* m_provider;
};

} // namespace

TEST(CryptoResult, EveryAlgorithmCarriesAValueOverAnExplicitContext) {
  LibCtx ctx("default");
  ASSERT_TRUE(ctx.ok());
  const struct {
    crypto::Hmac alg;
    const char* hex;
  } cases[] = {
      {crypto::Hmac::md5, "750c783e6ab0b503eaa86e310a5db738"},
      {crypto::Hmac::sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
      {crypto::Hmac::sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.hex);
    EXPECT_EQ(enc::hex_lower(test::unwrap(crypto::detail::hmac(ctx.get(), c.alg, k_key, k_msg))),
              c.hex);
    EXPECT_EQ(test::unwrap(crypto::hmac_hex(c.alg, k_key, k_msg)), c.hex);
  }
  // An empty key is a key (RFC 2104 pads it with zeros).
  EXPECT_EQ(test::unwrap(crypto::hmac_hex(crypto::Hmac::sha256, "", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(enc::hex_lower(test::unwrap(crypto::detail::sha256(ctx.get(), "abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(test::unwrap(crypto::sha256_hex("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(test::unwrap(crypto::detail::random_bytes(ctx.get(), 33)).size(), 33U);
  EXPECT_EQ(test::unwrap(crypto::random_bytes(0)), "");
  const auto alnum = test::unwrap(crypto::detail::random_alnum(ctx.get(), 64));
  EXPECT_EQ(alnum.size(), 64U);
  EXPECT_EQ(
      alnum.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
      std::string::npos);
  const auto hex = test::unwrap(crypto::random_hex(20));
  EXPECT_EQ(hex.size(), 40U);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(CryptoResult, AContextWithoutAlgorithmsGivesErrorsNotExceptions) {
  LibCtx ctx("null");
  ASSERT_TRUE(ctx.ok());
  ERR_clear_error();

  for (auto alg : {crypto::Hmac::md5, crypto::Hmac::sha1, crypto::Hmac::sha256}) {
    Result<std::string> r = std::string();
    EXPECT_NO_THROW(r = crypto::detail::hmac(ctx.get(), alg, k_key, k_msg));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), Errc::internal);
    EXPECT_NE(r.error().message().find("is not available in this OpenSSL"), std::string::npos)
        << r.error().message();
    if (alg == crypto::Hmac::sha256) {
      EXPECT_EQ(r.error().hint(), "");
    } else {
      // The platform accepts HMAC-SHA256 as well: that is the way out.
      EXPECT_EQ(r.error().hint(), "use --sign-method hmacsha256");
    }
  }
  auto md5 = crypto::detail::hmac(ctx.get(), crypto::Hmac::md5, k_key, k_msg);
  ASSERT_FALSE(md5);
  EXPECT_EQ(md5.error().message(), "HMAC-MD5 is not available in this OpenSSL (FIPS mode?)");

  Result<std::string> r = std::string();
  EXPECT_NO_THROW(r = crypto::detail::sha256(ctx.get(), "abc"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::internal);
  EXPECT_NE(r.error().message().find("SHA-256"), std::string::npos) << r.error().message();

  EXPECT_NO_THROW(r = crypto::detail::random_bytes(ctx.get(), 16));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::internal);
  EXPECT_NE(r.error().message().find("RAND_bytes failed"), std::string::npos)
      << r.error().message();

  EXPECT_NO_THROW(r = crypto::detail::random_alnum(ctx.get(), 15));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::internal);

  // Nothing is left in OpenSSL's error queue for an unrelated call (a TLS handshake) to find.
  EXPECT_EQ(ERR_peek_error(), 0UL);
}
