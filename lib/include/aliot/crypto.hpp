// HMAC, digests and randomness through OpenSSL 3.
//
// Every function that asks OpenSSL for something returns a Result: a digest may be missing (MD5
// is not offered when OpenSSL runs in FIPS mode), the random generator may have no entropy
// source, an allocation inside OpenSSL may fail. Each comes back as an Error.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aliot::crypto {

enum class Hmac { md5, sha1, sha256 };

// Raw HMAC bytes.
Result<std::string> hmac(Hmac alg, std::string_view key, std::string_view message);
Result<std::string> hmac_hex(Hmac alg, std::string_view key, std::string_view message);
Result<std::string> sha256(std::string_view bytes);
Result<std::string> sha256_hex(std::string_view bytes);

// Cryptographically random bytes / text (RAND_bytes).
Result<std::string> random_bytes(std::size_t n);
Result<std::string> random_hex(std::size_t n_bytes);
Result<std::string> random_alnum(std::size_t n);

// Constant-time comparison of two byte strings.
bool equal_ct(std::string_view a, std::string_view b);

} // namespace aliot::crypto
