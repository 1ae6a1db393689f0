// Byte encodings used on the wire: hex, base64, percent-encoding (RFC 3986 and the Aliyun
// OpenAPI flavour), form encoding, UTF-8 validation.
#pragma once

#include <aliot/error.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aliot::enc {

// The value of one hex digit (either case), or -1 for anything else.
int hex_digit(char c);
std::string hex_lower(std::string_view bytes);
std::string hex_upper(std::string_view bytes);
Result<std::string> hex_decode(std::string_view hex); // accepts either case, ignores nothing

std::string base64_encode(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text); // strict: padding and alphabet checked

// Aliyun OpenAPI (POP) percent-encoding: unreserved A-Z a-z 0-9 - _ . ~ stay, every other byte
// becomes %XY (upper-case hex); space is %20, never '+'.
std::string percent_encode(std::string_view bytes);
Result<std::string> percent_decode(std::string_view text, bool plus_is_space = false);

// application/x-www-form-urlencoded body from ordered pairs (percent_encode for each part).
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
// Parses a form body or query string; '+' means space.
Result<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body);

bool is_valid_utf8(std::string_view bytes);
// Bytes from outside (a server's reply, a device's answer) as one line of text a terminal or a
// log can show without acting on it: well-formed UTF-8 is kept, except control characters (C0
// U+0000-U+001F, DEL, C1 U+0080-U+009F); those and every byte that is not UTF-8 are shown as
// `\xHH`, one per byte (C1 as its two UTF-8 bytes, `\xC2\x9B`). Every error message and every
// printed field that came from outside goes through it; message payloads a command prints as its
// data (`sub`, `cloud sub`) stay byte-exact.
std::string printable(std::string_view bytes);

// `s` without leading and trailing bytes from `ws` (by default space, tab, CR and LF).
std::string_view trim(std::string_view s, std::string_view ws = " \t\r\n");

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s); // ASCII letters only, as every helper here
std::string to_upper(std::string_view s);

} // namespace aliot::enc
