// The random functions over an explicit source of bytes with getrandom(2)'s contract. The public
// functions in <aliot/crypto.hpp> use the kernel's; tests pass a source that is interrupted,
// answers short or fails, to see each case handled and every failure come back as an Error.
#pragma once

#include <aliot/crypto.hpp>

#include <sys/types.h>

namespace aliot::crypto::detail {

// Fills up to `len` bytes; returns how many, or -1 with errno set (getrandom(2)).
using RandomSource = ssize_t (*)(void* buf, std::size_t len, unsigned int flags);

Result<std::string> random_bytes(RandomSource source, std::size_t n);
Result<std::string> random_alnum(RandomSource source, std::size_t n);

} // namespace aliot::crypto::detail
