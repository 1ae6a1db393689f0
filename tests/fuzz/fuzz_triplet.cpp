// The console's triplet JSON (--triplet FILE), read from files an operator hands to a station.
#include "fuzz_support.hpp"

#include <aliot/identity.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto t = parse_triplet_json(in, "fuzz.json");
  fuzz::check(t);
  if (t) {
    // What was accepted is a valid identity, so it renders and parses back the same.
    auto again = parse_triplet_json(triplet_json(*t, false), "again");
    if (!again || again->product_key != t->product_key || again->device_name != t->device_name) {
      fuzz::fail("an accepted triplet does not round-trip through triplet_json");
    }
  }
  return 0;
}
