// Digests and HMAC come from digest.cpp and random bytes from getrandom(2), not from OpenSSL:
// OpenSSL 3 loads and initialises its default provider on the first EVP_MD_fetch, EVP_MAC_fetch or
// RAND_bytes, which costs a one-shot command (sign a password, publish once over TCP) more CPU than
// everything else it does. Only a command that opens TLS pays that start-up now.
#include "digest.hpp"
#include "random.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <sys/random.h>

#include <cerrno>
#include <cstring>

namespace aliot::crypto {

namespace detail {

Result<std::string> random_bytes(RandomSource source, std::size_t n) {
  std::string out(n, '\0');
  std::size_t filled = 0;
  while (filled < n) {
    // getrandom(2) may return fewer bytes than asked (above 256 bytes, or on a signal) and fails
    // with EINTR when a signal arrives before any byte: both mean "ask again for the rest".
    const ssize_t got = source(out.data() + filled, n - filled, 0);
    if (got < 0) {
      const int err = errno;
      if (err == EINTR) {
        continue;
      }
      // Errc::internal: neither the user's input nor a peer's answer but the host refusing
      // (a kernel without getrandom, a seccomp filter); exit status 1 asks for a report.
      return Error(Errc::internal,
                   std::string("cannot read random bytes from the kernel: getrandom: ")
                       + std::strerror(err));
    }
    filled += static_cast<std::size_t>(got);
  }
  return out;
}

Result<std::string> random_alnum(RandomSource source, std::size_t n) {
  static constexpr std::string_view k_chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    auto bytes = random_bytes(source, n);
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
  return detail::hmac_raw(alg, key, message);
}

Result<std::string> hmac_hex(Hmac alg, std::string_view key, std::string_view message) {
  return enc::hex_lower(detail::hmac_raw(alg, key, message));
}

Result<std::string> sha256(std::string_view bytes) {
  return detail::digest(Hmac::sha256, bytes);
}

Result<std::string> sha256_hex(std::string_view bytes) {
  return enc::hex_lower(detail::digest(Hmac::sha256, bytes));
}

Result<std::string> random_bytes(std::size_t n) {
  return detail::random_bytes(&::getrandom, n);
}

Result<std::string> random_hex(std::size_t n_bytes) {
  auto raw = random_bytes(n_bytes);
  if (!raw) {
    return std::move(raw).error();
  }
  return enc::hex_lower(*raw);
}

Result<std::string> random_alnum(std::size_t n) {
  return detail::random_alnum(&::getrandom, n);
}

bool equal_ct(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  // Every byte is looked at whatever the first difference; the volatile accumulator keeps the
  // compiler from turning the loop into an early exit.
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

} // namespace aliot::crypto
