// HMAC, digests and randomness.
//
// The digests (SHA-256, SHA-1, MD5) and HMAC are aliot's own and the random bytes come from the
// kernel (getrandom(2)): none of them starts OpenSSL, whose provider start-up would cost a
// one-shot command more than the rest of its work. Every function returns a Result all the same:
// the kernel may refuse random bytes (an old kernel, a seccomp filter), and that comes back as an
// Error.
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

// Cryptographically random bytes / text (getrandom(2)).
Result<std::string> random_bytes(std::size_t n);
Result<std::string> random_hex(std::size_t n_bytes);
Result<std::string> random_alnum(std::size_t n);

// Constant-time comparison of two byte strings.
bool equal_ct(std::string_view a, std::string_view b);

} // namespace aliot::crypto
