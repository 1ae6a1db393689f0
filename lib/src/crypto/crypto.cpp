// HMAC and SHA-256 through OpenSSL's one-shot EVP calls, random bytes from RAND_bytes.
//
// The first EVP or RAND call loads OpenSSL's default provider: about 1 ms of CPU for a one-shot
// command that does not open TLS (`sign`, `pub --tcp`; TLS loads it anyway). In exchange aliot
// carries no digest code of its own.
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <stdexcept>

namespace aliot::crypto {

namespace {

// OpenSSL's reason for the last failure, and its error queue emptied (a later TLS handshake must
// not find this failure at the head of the queue and report it as its own).
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  std::string reason = "unknown reason";
  if (code != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    reason = buf.data();
  }
  ERR_clear_error();
  return reason;
}

const char* digest_name(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return "MD5";
  case Hmac::sha1: return "SHA1";
  case Hmac::sha256: return "SHA256";
  }
  return "SHA256";
}

// OpenSSL reads from these pointers even for zero bytes: never hand it a null one.
const unsigned char* bytes_of(std::string_view s) {
  static const unsigned char k_none = 0;
  return s.empty() ? &k_none : reinterpret_cast<const unsigned char*>(s.data());
}

} // namespace

Result<std::string> hmac(Hmac alg, std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  std::size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, digest_name(alg), nullptr, bytes_of(key), key.size(),
                bytes_of(message), message.size(), out.data(), out.size(), &len)
      == nullptr) {
    // The one failure a working OpenSSL has: a configuration (FIPS) that does not offer the
    // digest. Errc::config: the host's configuration, not aliot, refuses.
    return Error(Errc::config,
                 std::string("OpenSSL cannot compute HMAC-") + digest_name(alg) + ": "
                     + openssl_reason(),
                 "a FIPS-only OpenSSL configuration refuses MD5 (and may refuse SHA-1): sign "
                 "with hmacsha256");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

Result<std::string> hmac_hex(Hmac alg, std::string_view key, std::string_view message) {
  ALIOT_TRY_ASSIGN(auto raw, hmac(alg, key, message));
  return enc::hex_lower(raw);
}

std::string sha256(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  std::size_t len = 0;
  if (EVP_Q_digest(nullptr, "SHA256", nullptr, bytes_of(bytes), bytes.size(), out.data(), &len)
      == 0) {
    throw std::runtime_error("OpenSSL cannot compute SHA-256: " + openssl_reason());
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::string sha256_hex(std::string_view bytes) {
  return enc::hex_lower(sha256(bytes));
}

Result<std::string> random_bytes(std::size_t n) {
  std::string out(n, '\0');
  // RAND_bytes takes an int: a larger request is made in pieces.
  for (std::size_t at = 0; at < n;) {
    const std::size_t piece = std::min<std::size_t>(n - at, INT_MAX);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + at), static_cast<int>(piece))
        != 1) {
      // Errc::internal: neither the user's input nor a peer's answer but the host refusing
      // (no entropy for OpenSSL's generator to seed from); exit status 1 asks for a report.
      return Error(Errc::internal, "cannot get random bytes from OpenSSL: " + openssl_reason());
    }
    at += piece;
  }
  return out;
}

Result<std::string> random_hex(std::size_t n_bytes) {
  ALIOT_TRY_ASSIGN(auto raw, random_bytes(n_bytes));
  return enc::hex_lower(raw);
}

Result<std::string> random_alnum(std::size_t n) {
  static constexpr std::string_view k_chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    ALIOT_TRY_ASSIGN(auto bytes, random_bytes(n - out.size() + 8));
    for (unsigned char b : bytes) {
      // 62 * 4 = 248: reject the top bytes to keep the distribution uniform.
      if (b < 248 && out.size() < n) {
        out.push_back(k_chars[b % k_chars.size()]);
      }
    }
  }
  return out;
}

bool equal_ct(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  // CRYPTO_memcmp looks at every byte whatever the first difference.
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace aliot::crypto
