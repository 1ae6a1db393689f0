#include "libctx.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <memory>

namespace aliot::crypto {

namespace {

// Every failure here is Errc::internal: it is neither the user's input nor a peer's answer but
// the host's OpenSSL refusing (no entropy source, an algorithm its configuration does not offer,
// memory), and exit status 1 asks for a report, which is what such a host needs.

struct Algorithm {
  const char* digest; // OpenSSL's fetch name
  const char* label;  // as messages say it
};

Algorithm algorithm_of(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return {"MD5", "HMAC-MD5"};
  case Hmac::sha1: return {"SHA1", "HMAC-SHA1"};
  case Hmac::sha256: return {"SHA256", "HMAC-SHA256"};
  }
  return {"SHA256", "HMAC-SHA256"};
}

// The reason OpenSSL queued for the last failure (empty if none); the queue is left empty so the
// failure does not surface later in an unrelated TLS call.
std::string openssl_reason() {
  unsigned long last = 0;
  while (const unsigned long e = ERR_get_error()) {
    last = e;
  }
  if (last == 0) {
    return {};
  }
  std::array<char, 256> buf{};
  ERR_error_string_n(last, buf.data(), buf.size());
  return buf.data();
}

Error failed(std::string what) {
  const std::string reason = openssl_reason();
  return Error(Errc::internal, reason.empty() ? what : what + ": " + reason);
}

struct MdFree {
  void operator()(EVP_MD* p) const { EVP_MD_free(p); }
};
struct MacFree {
  void operator()(EVP_MAC* p) const { EVP_MAC_free(p); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};

} // namespace

namespace detail {

Result<std::string>
hmac(OSSL_LIB_CTX* ctx, Hmac alg, std::string_view key, std::string_view message) {
  const Algorithm a = algorithm_of(alg);
  // The digest is fetched first so that one the configuration does not offer (MD5 in FIPS mode)
  // is named as such rather than as a failed HMAC.
  const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(ctx, a.digest, nullptr));
  if (!md) {
    openssl_reason();
    Error e(Errc::internal, std::string(a.label) + " is not available in this OpenSSL"
                                + (alg == Hmac::md5 ? " (FIPS mode?)" : ""));
    if (alg != Hmac::sha256) {
      return std::move(e).with_hint("use --sign-method hmacsha256");
    }
    return e;
  }
  const std::unique_ptr<EVP_MAC, MacFree> mac(EVP_MAC_fetch(ctx, "HMAC", nullptr));
  if (!mac) {
    return failed("HMAC is not available in this OpenSSL");
  }
  const std::unique_ptr<EVP_MAC_CTX, MacCtxFree> mctx(EVP_MAC_CTX_new(mac.get()));
  if (!mctx) {
    return failed(std::string(a.label) + " failed inside OpenSSL");
  }
  std::array<char, 16> digest_name{};
  std::string_view(a.digest).copy(digest_name.data(), digest_name.size() - 1);
  const std::array<OSSL_PARAM, 2> params{
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name.data(), 0),
      OSSL_PARAM_construct_end()};
  // An empty key still needs a non-null pointer (a null one means "keep the previous key").
  static const unsigned char k_empty = 0;
  const auto* key_ptr = key.empty() ? &k_empty : reinterpret_cast<const unsigned char*>(key.data());
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  std::size_t len = 0;
  if (EVP_MAC_init(mctx.get(), key_ptr, key.size(), params.data()) != 1
      || EVP_MAC_update(mctx.get(), reinterpret_cast<const unsigned char*>(message.data()),
                        message.size())
             != 1
      || EVP_MAC_final(mctx.get(), out.data(), &len, out.size()) != 1) {
    return failed(std::string(a.label) + " failed inside OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

Result<std::string> sha256(OSSL_LIB_CTX* ctx, std::string_view bytes) {
  const std::unique_ptr<EVP_MD, MdFree> md(EVP_MD_fetch(ctx, "SHA256", nullptr));
  if (!md) {
    return failed("SHA-256 is not available in this OpenSSL");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, md.get(), nullptr) != 1) {
    return failed("SHA-256 failed inside OpenSSL");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

Result<std::string> random_bytes(OSSL_LIB_CTX* ctx, std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes_ex(ctx, reinterpret_cast<unsigned char*>(out.data()), n, 0) != 1) {
    return failed("RAND_bytes failed: the system has no entropy source");
  }
  return out;
}

Result<std::string> random_alnum(OSSL_LIB_CTX* ctx, std::size_t n) {
  static constexpr std::string_view k_chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    auto bytes = random_bytes(ctx, n);
    if (!bytes) {
      return std::move(bytes).error();
    }
    for (unsigned char b : *bytes) {
      // 62 * 4 = 248: reject the top bytes to keep the distribution uniform.
      if (b < 248 && out.size() < n) {
        out.push_back(k_chars[b % k_chars.size()]);
      }
    }
  }
  return out;
}

} // namespace detail

Result<std::string> hmac(Hmac alg, std::string_view key, std::string_view message) {
  return detail::hmac(nullptr, alg, key, message);
}

Result<std::string> hmac_hex(Hmac alg, std::string_view key, std::string_view message) {
  auto raw = hmac(alg, key, message);
  if (!raw) {
    return std::move(raw).error();
  }
  return enc::hex_lower(*raw);
}

Result<std::string> sha256(std::string_view bytes) {
  return detail::sha256(nullptr, bytes);
}

Result<std::string> sha256_hex(std::string_view bytes) {
  auto raw = sha256(bytes);
  if (!raw) {
    return std::move(raw).error();
  }
  return enc::hex_lower(*raw);
}

Result<std::string> random_bytes(std::size_t n) {
  return detail::random_bytes(nullptr, n);
}

Result<std::string> random_hex(std::size_t n_bytes) {
  auto raw = random_bytes(n_bytes);
  if (!raw) {
    return std::move(raw).error();
  }
  return enc::hex_lower(*raw);
}

Result<std::string> random_alnum(std::size_t n) {
  return detail::random_alnum(nullptr, n);
}

bool equal_ct(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace aliot::crypto
