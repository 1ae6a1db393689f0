// aliot's own digests and HMAC (lib/src/crypto/digest.cpp) against OpenSSL's on any bytes: the
// first byte picks the key's length (0..255, past the block), the rest is split into key and
// message; the message is also fed to the hasher in pieces the input decides.
#include "digest.hpp"
#include "fuzz_support.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using aliot::crypto::Hmac;

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
    aliot::fuzz::fail("OpenSSL's EVP_Digest failed");
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
    aliot::fuzz::fail("OpenSSL's HMAC failed");
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  if (size == 0) {
    return 0;
  }
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t key_len = std::min<std::size_t>(data[0], in.size());
  const std::string_view key = in.substr(0, key_len);
  const std::string_view msg = in.substr(key_len);

  for (const Hmac alg : {Hmac::md5, Hmac::sha1, Hmac::sha256}) {
    const std::string whole = crypto::detail::digest(alg, in);
    if (whole != openssl_digest(alg, in)) {
      fuzz::fail("digest differs from OpenSSL's");
    }
    if (crypto::detail::hmac_raw(alg, key, msg) != openssl_hmac(alg, key, msg)) {
      fuzz::fail("HMAC differs from OpenSSL's");
    }
    // The same bytes in pieces: each piece as long as the byte that starts it says (1..64).
    crypto::detail::Hasher h(alg);
    std::size_t at = 0;
    while (at < in.size()) {
      const std::size_t n =
          std::min<std::size_t>(1 + static_cast<unsigned char>(in[at]) % 64, in.size() - at);
      h.update(in.substr(at, n));
      at += n;
    }
    if (h.finish() != whole) {
      fuzz::fail("digest fed in pieces differs from the digest of the whole");
    }
  }
  return 0;
}
