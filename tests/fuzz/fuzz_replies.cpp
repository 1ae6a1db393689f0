// Replies from servers: the OpenAPI envelopes (RRpc, Pub), the HTTPS dynamic-registration reply
// and the MQTT /ext/register and /ext/regnwl payloads. The first byte picks the decoder and the
// status code; the rest is the body exactly as a server (or a proxy's error page) sent it.
#include "fuzz_support.hpp"

#include <aliot/dynreg.hpp>
#include <aliot/openapi_client.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  if (size < 1) {
    return 0;
  }
  static const long statuses[] = {200, 400, 401, 403, 404, 500, 503};
  const unsigned sel = data[0];
  const long status = statuses[(sel >> 3U) % (sizeof statuses / sizeof statuses[0])];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);

  dynreg::Request req;
  req.product_key = "a1FakePK001";
  req.device_name = "dev-01";
  req.random = "abcdefghijklmno";
  switch (sel % 6U) {
  case 0: fuzz::check(openapi::decode_reply("RRpc", status, body)); break;
  case 1: fuzz::check(openapi::parse_rrpc(body)); break;
  case 2: fuzz::check(openapi::parse_pub(body)); break;
  case 3: fuzz::check(dynreg::parse_https_reply(status, body, req)); break;
  case 4: fuzz::check(dynreg::parse_mqtt_reply("/ext/register", body, req)); break;
  default: fuzz::check(dynreg::parse_mqtt_reply("/ext/regnwl", body, req)); break;
  }
  return 0;
}
