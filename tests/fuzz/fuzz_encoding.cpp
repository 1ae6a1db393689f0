// Decoders of text from outside: hex, Base64 (--base64 payloads, RRPC replies), percent and form
// encoding (OpenAPI requests the emulator receives).
#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  auto hex = enc::hex_decode(in);
  fuzz::check(hex);
  if (hex && enc::hex_lower(*hex) != enc::to_lower(in)) {
    fuzz::fail("hex_decode accepted text that hex_lower does not give back");
  }
  auto b64 = enc::base64_decode(in);
  fuzz::check(b64);
  if (b64 && enc::base64_encode(*b64) != in) {
    fuzz::fail("base64_decode (strict) accepted a non-canonical encoding");
  }
  if (enc::base64_decode(enc::base64_encode(in)).value_or("<failed>") != in) {
    fuzz::fail("base64 does not round-trip");
  }
  auto pct = enc::percent_decode(in);
  fuzz::check(pct);
  if (enc::percent_decode(enc::percent_encode(in)).value_or("<failed>") != in) {
    fuzz::fail("percent encoding does not round-trip");
  }
  fuzz::check(enc::form_decode(in));
  (void)enc::is_valid_utf8(in);
  (void)enc::trim(in);
  return 0;
}
