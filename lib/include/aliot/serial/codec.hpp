// The AT line codec of ALSW-PROV/1 (spec/serial-protocol.md): CRC-16/CCITT-FALSE framing,
// quote-aware parameters, \HH escapes, and the digests a unit reports of its credentials. Pure
// functions, no I/O.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::serial {

// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0).
std::uint16_t crc16(std::string_view bytes);
// "text*XXXX" (4 upper-case hex digits over every byte of `text`).
std::string with_crc(std::string_view text);

// A line as received: the text without a CRC suffix, and what the suffix said.
struct CheckedLine {
  std::string text;
  bool has_crc = false;
  bool crc_ok = false;
};
// Splits a trailing "*XXXX" (upper-case hex) off and checks it.
CheckedLine check_crc(std::string_view line);

// A quoted AT string: printable ASCII except '"' and '\' as themselves, everything else \HH.
std::string quote(std::string_view value);

struct Param {
  bool quoted = false;
  std::string value; // unescaped
};
// Parses "p1,p2,..." (quoted strings may contain ',' and '*'); Errc::device on malformed input.
Result<std::vector<Param>> parse_params(std::string_view text);

// fp = lowercase_hex(SHA-256("ALIOT-FP1\n" pk "\n" dn "\n" ds "\n" ps))[0:16].
std::string
fingerprint(std::string_view pk, std::string_view dn, const Secret& ds, const Secret& ps);
// lowercase_hex(HMAC-SHA256(key, "ALIOT-CHK1\n" pk "\n" dn "\n" nonce)).
std::string challenge_response(const Secret& key,
                               std::string_view pk,
                               std::string_view dn,
                               std::string_view nonce);

} // namespace aliot::serial
