// Topic expansion and validation (spec section 3): every -t of pub/sub, every topic the emulator
// meets.
#include "fuzz_support.hpp"

#include <aliot/topic.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string full = topic::expand(in, "a1FakePK001", "dev-01");
  for (const topic::Use use : {topic::Use::publish, topic::Use::subscribe}) {
    auto ok = topic::validate(full, use, "a1FakePK001", "dev-01");
    fuzz::check(ok);
    auto shape = topic::validate_shape(full, use);
    fuzz::check(shape);
    if (ok && !shape) {
      fuzz::fail("a topic valid in the device's namespace fails the shape rules");
    }
    if (ok && full.size() > topic::k_max_bytes) {
      fuzz::fail("a topic over the platform's length limit was accepted");
    }
  }
  return 0;
}
