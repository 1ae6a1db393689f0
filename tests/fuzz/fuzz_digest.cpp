// aliot's HMAC and SHA-256 calls (lib/src/crypto/crypto.cpp) on any bytes. Not a differential
// test: the calls are OpenSSL's EVP and aliot has no second implementation to compare with (the
// independent peer is tests/unit/crypto_peer.py, in the unit tests). What is checked here holds
// for every input and would catch a call that mishandles bytes: keys and messages with NULs,
// empty ones, keys on either side of the 64-byte block.
//   - RFC 2104: a key up to the block equals itself padded with zeros to the block; a key longer
//     than the block equals its digest (checked for SHA-256, the digest aliot exposes).
//   - sizes (16, 20, 32 bytes), hex == hex of the raw bytes, the same answer twice.
//   - no crash, no leak, nothing left on OpenSSL's error queue.
// The first byte picks the key's length (0..255), the rest is split into key and message.
#include "fuzz_support.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <openssl/err.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using aliot::crypto::Hmac;

constexpr std::size_t k_block = 64; // MD5, SHA-1 and SHA-256 alike

std::size_t digest_size(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return 16;
  case Hmac::sha1: return 20;
  case Hmac::sha256: return 32;
  }
  return 0;
}

std::string mac(Hmac alg, std::string_view key, std::string_view msg) {
  auto r = aliot::crypto::hmac(alg, key, msg);
  if (!r) {
    aliot::fuzz::fail("HMAC failed on a working OpenSSL");
  }
  return *r;
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

  const std::string digest = crypto::sha256(in);
  if (digest.size() != 32 || crypto::sha256_hex(in) != enc::hex_lower(digest)
      || crypto::sha256(in) != digest) {
    fuzz::fail("SHA-256: wrong size, hex that is not the raw digest's, or a second answer");
  }
  for (const Hmac alg : {Hmac::md5, Hmac::sha1, Hmac::sha256}) {
    const std::string m = mac(alg, key, msg);
    if (m.size() != digest_size(alg) || mac(alg, key, msg) != m) {
      fuzz::fail("HMAC: wrong size or a second answer");
    }
    auto hex = crypto::hmac_hex(alg, key, msg);
    if (!hex || *hex != enc::hex_lower(m)) {
      fuzz::fail("HMAC: hex that is not the raw MAC's");
    }
    if (key.size() <= k_block) {
      std::string padded(key);
      padded.resize(k_block, '\0');
      if (mac(alg, padded, msg) != m) {
        fuzz::fail("HMAC: a key differs from itself padded with zeros to the block (RFC 2104)");
      }
    }
  }
  if (key.size() > k_block
      && mac(Hmac::sha256, crypto::sha256(key), msg) != mac(Hmac::sha256, key, msg)) {
    fuzz::fail("HMAC-SHA256: a key past the block differs from its digest (RFC 2104)");
  }
  if (ERR_peek_error() != 0) {
    fuzz::fail("an error was left on OpenSSL's queue");
  }
  return 0;
}
