// HMAC, SHA-256 and randomness, all from OpenSSL (libcrypto's EVP and RAND).
//
// sha256 returns the digest: OpenSSL fails it only when it cannot work at all (out of memory, no
// provider loaded), and that throws std::runtime_error. hmac and the random functions return a
// Result: an OpenSSL configured for FIPS refuses HMAC-MD5, and its random generator fails when the
// kernel gives it no entropy to seed from (a seccomp filter, an old kernel); both come back as an
// Error (Errc::config and Errc::internal).
#pragma once

#include <aliot/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace aliot::crypto {

enum class Hmac { md5, sha1, sha256 };

// RFC 2104 HMAC: raw bytes, or lower-case hex.
Result<std::string> hmac(Hmac alg, std::string_view key, std::string_view message);
Result<std::string> hmac_hex(Hmac alg, std::string_view key, std::string_view message);

// SHA-256: raw bytes (32), or lower-case hex (64).
std::string sha256(std::string_view bytes);
std::string sha256_hex(std::string_view bytes);

// Cryptographically random bytes / text (OpenSSL's RAND_bytes).
Result<std::string> random_bytes(std::size_t n);
Result<std::string> random_hex(std::size_t n_bytes);
Result<std::string> random_alnum(std::size_t n);

// Constant-time comparison of two byte strings.
bool equal_ct(std::string_view a, std::string_view b);

} // namespace aliot::crypto
