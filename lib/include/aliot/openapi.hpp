// The cloud OpenAPI (product Iot, version 2018-01-20, RPC style): signature version 1.0
// (spec section 6.3). The client and the emulator both use this; the spec's Set A vectors pin it.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aliot::openapi {

using Params = std::vector<std::pair<std::string, std::string>>;

// Percent-encoded name=value pairs sorted by encoded name, joined with '&' (Signature excluded).
std::string canonical_query(const Params& params);

// METHOD&%2F&percentEncode(canonical_query).
std::string string_to_sign(std::string_view http_method, const Params& params);

// Base64(HMAC-SHA1(key = AccessKeySecret + "&", string_to_sign)).
Result<std::string> signature(const Secret& access_key_secret, std::string_view string_to_sign);

} // namespace aliot::openapi
