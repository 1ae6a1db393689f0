// SHA-256 (FIPS 180-4), SHA-1 (FIPS 180-4) and MD5 (RFC 1321), and HMAC (RFC 2104) over them.
// Why aliot carries its own: see digest.hpp.
#include "digest.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <bit>

namespace aliot::crypto::detail {

namespace {

using Block = std::array<std::uint32_t, 16>;

std::uint32_t load_be(const unsigned char* p) {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16)
         | (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

std::uint32_t load_le(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8)
         | (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

void sha256_compress(std::array<std::uint32_t, 8>& h, const unsigned char* block) {
  static constexpr std::array<std::uint32_t, 64> k = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  std::array<std::uint32_t, 64> w{};
  for (std::size_t i = 0; i < 16; ++i) {
    w[i] = load_be(block + 4 * i);
  }
  for (std::size_t i = 16; i < 64; ++i) {
    const std::uint32_t s0 = std::rotr(w[i - 15], 7) ^ std::rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const std::uint32_t s1 = std::rotr(w[i - 2], 17) ^ std::rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (std::size_t i = 0; i < 64; ++i) {
    const std::uint32_t t1 = hh + (std::rotr(e, 6) ^ std::rotr(e, 11) ^ std::rotr(e, 25))
                             + ((e & f) ^ (~e & g)) + k[i] + w[i];
    const std::uint32_t t2 =
        (std::rotr(a, 2) ^ std::rotr(a, 13) ^ std::rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += hh;
}

void sha1_compress(std::array<std::uint32_t, 8>& h, const unsigned char* block) {
  std::array<std::uint32_t, 80> w{};
  for (std::size_t i = 0; i < 16; ++i) {
    w[i] = load_be(block + 4 * i);
  }
  for (std::size_t i = 16; i < 80; ++i) {
    w[i] = std::rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  for (std::size_t i = 0; i < 80; ++i) {
    std::uint32_t f = 0;
    std::uint32_t k = 0;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5a827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ed9eba1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8f1bbcdc;
    } else {
      f = b ^ c ^ d;
      k = 0xca62c1d6;
    }
    const std::uint32_t t = std::rotl(a, 5) + f + e + k + w[i];
    e = d;
    d = c;
    c = std::rotl(b, 30);
    b = a;
    a = t;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
}

void md5_compress(std::array<std::uint32_t, 8>& h, const unsigned char* block) {
  // k[i] = floor(|sin(i + 1)| * 2^32), RFC 1321 section 3.4.
  static constexpr std::array<std::uint32_t, 64> k = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
      0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
      0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
      0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
      0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
      0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
      0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
      0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
      0xeb86d391};
  static constexpr std::array<int, 16> shift = {7, 12, 17, 22, 5, 9,  14, 20,
                                                4, 11, 16, 23, 6, 10, 15, 21};
  Block m{};
  for (std::size_t i = 0; i < 16; ++i) {
    m[i] = load_le(block + 4 * i);
  }
  std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
  for (std::size_t i = 0; i < 64; ++i) {
    const std::size_t round = i / 16;
    std::uint32_t f = 0;
    std::size_t g = 0;
    switch (round) {
    case 0:
      f = (b & c) | (~b & d);
      g = i;
      break;
    case 1:
      f = (d & b) | (~d & c);
      g = (5 * i + 1) % 16;
      break;
    case 2:
      f = b ^ c ^ d;
      g = (3 * i + 5) % 16;
      break;
    default:
      f = c ^ (b | ~d);
      g = (7 * i) % 16;
      break;
    }
    const std::uint32_t t = a + f + k[i] + m[g];
    a = d;
    d = c;
    c = b;
    b += std::rotl(t, shift[round * 4 + i % 4]);
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
}

} // namespace

Hasher::Hasher(Hmac alg)
    : m_alg(alg) {
  switch (alg) {
  case Hmac::md5: m_state = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476}; break;
  case Hmac::sha1: m_state = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}; break;
  case Hmac::sha256:
    m_state = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    break;
  }
}

std::size_t Hasher::digest_size(Hmac alg) {
  switch (alg) {
  case Hmac::md5: return 16;
  case Hmac::sha1: return 20;
  case Hmac::sha256: return 32;
  }
  return 32;
}

void Hasher::compress(const unsigned char* block) {
  switch (m_alg) {
  case Hmac::md5: md5_compress(m_state, block); break;
  case Hmac::sha1: sha1_compress(m_state, block); break;
  case Hmac::sha256: sha256_compress(m_state, block); break;
  }
}

void Hasher::update(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  m_length += n;
  if (m_buffered > 0) {
    const std::size_t take = std::min(n, block_size - m_buffered);
    std::copy_n(p, take, m_buffer.begin() + static_cast<std::ptrdiff_t>(m_buffered));
    m_buffered += take;
    p += take;
    n -= take;
    if (m_buffered < block_size) {
      return;
    }
    compress(m_buffer.data());
    m_buffered = 0;
  }
  for (; n >= block_size; p += block_size, n -= block_size) {
    compress(p);
  }
  std::copy_n(p, n, m_buffer.begin());
  m_buffered = n;
}

std::string Hasher::finish() {
  // Padding: 0x80, zeros up to 56 mod 64, then the length in bits as 64 bits.
  const std::uint64_t bits = m_length * 8;
  m_buffer[m_buffered++] = 0x80;
  if (m_buffered > block_size - 8) {
    std::fill(m_buffer.begin() + static_cast<std::ptrdiff_t>(m_buffered), m_buffer.end(), 0);
    compress(m_buffer.data());
    m_buffered = 0;
  }
  std::fill(m_buffer.begin() + static_cast<std::ptrdiff_t>(m_buffered), m_buffer.end() - 8, 0);
  const bool little = m_alg == Hmac::md5;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::size_t byte = little ? i : 7 - i;
    m_buffer[block_size - 8 + byte] = static_cast<unsigned char>(bits >> (8 * i));
  }
  compress(m_buffer.data());

  std::string out(digest_size(m_alg), '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint32_t word = m_state[i / 4];
    const std::size_t shift = little ? 8 * (i % 4) : 24 - 8 * (i % 4);
    out[i] = static_cast<char>(static_cast<unsigned char>(word >> shift));
  }
  return out;
}

std::string digest(Hmac alg, std::string_view bytes) {
  Hasher h(alg);
  h.update(bytes);
  return h.finish();
}

std::string hmac_raw(Hmac alg, std::string_view key, std::string_view message) {
  std::array<unsigned char, Hasher::block_size> k{};
  if (key.size() > Hasher::block_size) {
    const std::string hashed = digest(alg, key);
    std::copy(hashed.begin(), hashed.end(), k.begin());
  } else {
    std::copy(key.begin(), key.end(), k.begin());
  }
  std::array<unsigned char, Hasher::block_size> pad{};
  const auto pad_view = [&pad] {
    return std::string_view(reinterpret_cast<const char*>(pad.data()), pad.size());
  };
  for (std::size_t i = 0; i < pad.size(); ++i) {
    pad[i] = static_cast<unsigned char>(k[i] ^ 0x36U);
  }
  Hasher inner(alg);
  inner.update(pad_view());
  inner.update(message);
  const std::string inner_digest = inner.finish();
  for (std::size_t i = 0; i < pad.size(); ++i) {
    pad[i] = static_cast<unsigned char>(k[i] ^ 0x5cU);
  }
  Hasher outer(alg);
  outer.update(pad_view());
  outer.update(inner_digest);
  // The padded key is secret material: do not leave it on the stack (OPENSSL_cleanse is a plain
  // function of libcrypto, it loads no provider).
  OPENSSL_cleanse(k.data(), k.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  return outer.finish();
}

} // namespace aliot::crypto::detail
