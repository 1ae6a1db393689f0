// The MQTT CONNECT client identifier `id|k=v,k=v|` (spec section 2), parsed by the emulator for
// every login and by aliot for every --client-id.
#include "fuzz_support.hpp"

#include <aliot/sign.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto parts = sign::parse_client_id(in);
  fuzz::check(parts);
  if (parts) {
    (void)parts->option("securemode");
    (void)parts->option("authType");
    (void)sign::parse_method(parts->option("signmethod").value_or(""));
  }
  return 0;
}
