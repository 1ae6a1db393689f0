// HMAC, digests and randomness through OpenSSL 3.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aliot::crypto {

enum class Hmac { md5, sha1, sha256 };

// Raw HMAC bytes.
std::string hmac(Hmac alg, std::string_view key, std::string_view message);
std::string hmac_hex(Hmac alg, std::string_view key, std::string_view message);
std::string sha256(std::string_view bytes);
std::string sha256_hex(std::string_view bytes);

// Cryptographically random bytes / text (RAND_bytes).
std::string random_bytes(std::size_t n);
std::string random_hex(std::size_t n_bytes);
std::string random_alnum(std::size_t n);

// Constant-time comparison of two byte strings.
bool equal_ct(std::string_view a, std::string_view b);

} // namespace aliot::crypto
