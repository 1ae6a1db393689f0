// `register --names FILE`: one DeviceName a line, or the console's batch CSV (BOM, quotes, CRLF).
#include "fuzz_support.hpp"

#include <aliot/dynreg_batch.hpp>
#include <aliot/identity.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto names = dynreg::parse_names(in);
  if (!names) {
    return 0; // an unclosed quote in a CSV: refused, naming the line
  }
  auto unique = dynreg::unique_device_names(*names);
  fuzz::check(unique);
  if (unique) {
    for (const auto& n : *unique) {
      if (!validate_device_name(n)) {
        fuzz::fail("an invalid DeviceName passed unique_device_names");
      }
    }
  }
  return 0;
}
