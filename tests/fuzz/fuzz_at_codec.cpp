// The AT line codec (spec/serial-protocol.md): CRC suffixes, quote-aware parameters, \HH escapes.
// Every line a switch sends passes through these functions.
#include "fuzz_support.hpp"

#include <aliot/serial.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  const serial::CheckedLine line = serial::check_crc(in);
  if (line.has_crc && line.crc_ok && serial::with_crc(line.text) != in) {
    fuzz::fail("a line whose CRC checks does not round-trip through with_crc");
  }
  auto params = serial::parse_params(line.text);
  fuzz::check(params);

  // Any bytes quoted by the host come back unchanged through the parser.
  auto quoted = serial::parse_params(serial::quote(in));
  if (!quoted || quoted->size() != 1 || !(*quoted)[0].quoted || (*quoted)[0].value != in) {
    fuzz::fail("quote() then parse_params() does not give the bytes back");
  }
  return 0;
}
