// SHA-256, SHA-1 and MD5 and HMAC over them, written here rather than asked of OpenSSL.
//
// Why: a one-shot command (`aliot pub` over TCP) signs one short MQTT password. Through OpenSSL 3
// that costs more CPU than the whole rest of the exchange: the first EVP_MD_fetch / EVP_MAC_fetch
// loads and initialises the default provider, parses the configuration and builds the method
// stores, before any byte is hashed. mosquitto_pub with a ready password never touches libcrypto on
// a TCP connection; with these few hundred lines neither does aliot: only a command that opens TLS
// pays OpenSSL's start-up. The official Link SDK ships its own SHA-256/HMAC for the same reason.
//
// All arithmetic is on std::uint32_t / std::uint64_t (wrap-around is defined) and bytes are turned
// into words after widening to std::uint32_t, so nothing here is undefined behaviour.
#pragma once

#include <aliot/crypto.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aliot::crypto::detail {

// The three digests share the Merkle-Damgard shape: 64-byte blocks, a 64-bit length in the
// padding, at most 8 words of state. Only MD5 is little-endian.
class Hasher {
public:
  static constexpr std::size_t block_size = 64;

  explicit Hasher(Hmac alg);

  void update(std::string_view bytes);
  // The raw digest (16, 20 or 32 bytes). The hasher is spent afterwards.
  std::string finish();

  static std::size_t digest_size(Hmac alg);

private:
  void compress(const unsigned char* block);

  Hmac m_alg;
  std::array<std::uint32_t, 8> m_state{};
  std::array<unsigned char, block_size> m_buffer{};
  std::size_t m_buffered = 0;
  std::uint64_t m_length = 0; // bytes hashed so far
};

// The raw digest of `bytes`.
std::string digest(Hmac alg, std::string_view bytes);

// RFC 2104 HMAC, raw bytes; a key longer than the block is hashed first.
std::string hmac_raw(Hmac alg, std::string_view key, std::string_view message);

} // namespace aliot::crypto::detail
