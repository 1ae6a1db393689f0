// The thing model as the device and the backend read it: the platform's Alink replies, NTP
// responses, the cloud's requests (property/set, services async and over RRPC), the answers a
// --reply or --exec gives, and the OpenAPI thing-model bodies. The first byte picks the parser;
// the rest is the payload exactly as it arrived.
#include "fuzz_support.hpp"

#include <aliot/thing.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  if (size < 1) {
    return 0;
  }
  const unsigned sel = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (sel % 10U) {
  case 0: {
    auto r = thing::parse_reply(body);
    fuzz::check(r);
    if (r) {
      fuzz::check(thing::check_reply(*r, "property post"));
    }
    break;
  }
  case 1: {
    auto t = thing::parse_ntp_response(body, 1700000000000);
    fuzz::check(t);
    if (t) {
      (void)thing::clock_offset(*t);
    }
    break;
  }
  case 2:
  case 3: {
    const char* topic = sel % 10U == 2 ? "/sys/a1PK/dev1/thing/service/property/set"
                                       : "/sys/a1PK/dev1/rrpc/request/889455942124347392";
    auto in = thing::parse_incoming(topic, body, "a1PK", "dev1");
    fuzz::check(in);
    if (in && *in) {
      const auto reply = thing::reply_payload(**in, thing::Answer{});
      if (!enc::is_valid_utf8(reply)) {
        fuzz::fail("a reply payload is not valid UTF-8");
      }
    }
    break;
  }
  case 4: {
    auto a = thing::answer_from_json(body, "--reply");
    fuzz::check(a);
    if (a) {
      thing::Incoming in;
      in.id = "1";
      (void)thing::reply_payload(in, *a);
    }
    break;
  }
  case 5:
    fuzz::check(thing::parse_incoming("/sys/a1PK/dev1/thing/service/add", body, "a1PK", "dev1"));
    break;
  case 6: fuzz::check(thing::cloud::parse_property_status(body)); break;
  case 7: fuzz::check(thing::cloud::parse_property_data(body)); break;
  case 8: fuzz::check(thing::cloud::parse_invoke(body)); break;
  default: fuzz::check(thing::params_from_json(body, "--params")); break;
  }
  return 0;
}
