// The crypto functions over an explicit OpenSSL library context (nullptr = the default one).
// The public functions in <aliot/crypto.hpp> use the default context; tests use this seam with a
// context that offers no algorithm at all, to see every failure come back as an Error.
#pragma once

#include <aliot/crypto.hpp>

#include <openssl/types.h>

namespace aliot::crypto::detail {

Result<std::string>
hmac(OSSL_LIB_CTX* ctx, Hmac alg, std::string_view key, std::string_view message);
Result<std::string> sha256(OSSL_LIB_CTX* ctx, std::string_view bytes);
Result<std::string> random_bytes(OSSL_LIB_CTX* ctx, std::size_t n);
Result<std::string> random_alnum(OSSL_LIB_CTX* ctx, std::size_t n);

} // namespace aliot::crypto::detail
