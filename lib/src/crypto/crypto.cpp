#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace aliot::crypto {

namespace {

const EVP_MD* digest_of(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return EVP_md5();
  case Hmac::sha1: return EVP_sha1();
  case Hmac::sha256: return EVP_sha256();
  }
  return EVP_sha256();
}

} // namespace

std::string hmac(Hmac alg, std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  // HMAC() with an empty key needs a non-null pointer.
  static const unsigned char k_empty = 0;
  const auto* key_ptr = key.empty() ? &k_empty : reinterpret_cast<const unsigned char*>(key.data());
  if (HMAC(digest_of(alg), key_ptr, static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &len)
      == nullptr) {
    throw std::runtime_error("HMAC failed inside OpenSSL");
  }
  return {reinterpret_cast<const char*>(out.data()), len};
}

std::string hmac_hex(Hmac alg, std::string_view key, std::string_view message) {
  return enc::hex_lower(hmac(alg, key, message));
}

std::string sha256(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed inside OpenSSL");
  }
  return {reinterpret_cast<const char*>(out.data()), len};
}

std::string sha256_hex(std::string_view bytes) {
  return enc::hex_lower(sha256(bytes));
}

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed: the system has no entropy source");
  }
  return out;
}

std::string random_hex(std::size_t n_bytes) {
  return enc::hex_lower(random_bytes(n_bytes));
}

std::string random_alnum(std::size_t n) {
  static constexpr std::string_view k_chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    for (unsigned char b : random_bytes(n)) {
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
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace aliot::crypto
