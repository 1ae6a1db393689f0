// The emulator's thing model: a TSL file (`emulate cloud add-thing-model`) and the Alink requests
// devices send (property/event posts) are outside bytes. Both parsers must bound their input,
// refuse garbage with a verdict or an error (never a crash, never an exception), and checking any
// request against any model that parsed must end in a code.
#include "fuzz_support.hpp"

#include <aliot/emu/tsl.hpp>

#include <cstddef>
#include <cstdint>

namespace {

using namespace aliot::emu;

// A model with every data type, for requests to be checked against.
const tsl::Model& fixed_model() {
  static const tsl::Model m = [] {
    auto r = tsl::parse(R"({"properties":[
      {"identifier":"i","dataType":{"type":"int","specs":{"min":"0","max":"9"}}},
      {"identifier":"f","dataType":{"type":"float","specs":{"min":"-1.5","max":"1.5"}}},
      {"identifier":"d","dataType":{"type":"double","specs":{}}},
      {"identifier":"t","dataType":{"type":"text","specs":{"length":"4"}}},
      {"identifier":"e","dataType":{"type":"enum","specs":{"0":"a","1":"b"}}},
      {"identifier":"b","dataType":{"type":"bool","specs":{"0":"off","1":"on"}}},
      {"identifier":"w","dataType":{"type":"date","specs":{}}},
      {"identifier":"s","dataType":{"type":"struct","specs":[
        {"identifier":"x","required":true,"dataType":{"type":"int","specs":{}}}]}},
      {"identifier":"a","dataType":{"type":"array","specs":{"size":"2",
        "item":{"type":"struct","specs":[{"identifier":"y","dataType":{"type":"text"}}]}}}}],
      "events":[{"identifier":"E","outputData":[{"identifier":"x","required":true,
        "dataType":{"type":"int","specs":{}}}]}]})");
    if (!r) {
      aliot::fuzz::fail("the fixed model does not parse");
    }
    return *r;
  }();
  return m;
}

void check_verdict(const tsl::Verdict& v) {
  if (v.ok() != (v.code == 200) || v.message.empty()) {
    aliot::fuzz::fail("a verdict without a code or a message");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  // As a TSL file.
  auto model = tsl::parse(in);
  aliot::fuzz::check(model);
  // As an Alink request, against no model, the fixed one and (if it parsed) the input's own.
  if (auto req = tsl::parse_request(in)) {
    check_verdict(tsl::check_properties(nullptr, req->params));
    check_verdict(tsl::check_properties(&fixed_model(), req->params));
    check_verdict(tsl::check_params(&fixed_model().events.at("E").output, req->params));
    if (model) {
      check_verdict(tsl::check_properties(&*model, req->params));
      for (const auto& [id, e] : model->events) {
        check_verdict(tsl::check_params(&e.output, req->params));
      }
    }
    const auto items = tsl::normalize_items(req->params, 1);
    (void)items.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}
