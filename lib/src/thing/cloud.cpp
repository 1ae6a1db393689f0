// The OpenAPI actions of the thing model (product Iot, 2018-01-20): SetDeviceProperty,
// QueryDevicePropertyStatus, QueryDevicePropertyData, InvokeThingService, QueryDeviceEventData,
// PubBroadcast. Parameters and the decoding of their success bodies (openapi::decode_reply has
// turned the error envelopes into errors already).
#include "thing/json_util.hpp"

#include <aliot/encoding.hpp>
#include <aliot/thing.hpp>

#include <nlohmann/json.hpp>

namespace aliot::thing::cloud {

namespace {

void add_device(openapi::Params& p, const Device& d) {
  p.emplace_back("ProductKey", d.product_key);
  p.emplace_back("DeviceName", d.device_name);
}

void add_window(openapi::Params& p, const Window& w) {
  p.emplace_back("StartTime", std::to_string(w.start_ms));
  p.emplace_back("EndTime", std::to_string(w.end_ms));
  p.emplace_back("PageSize", std::to_string(w.page_size));
  p.emplace_back("Asc", w.ascending ? "1" : "0");
}

Result<nlohmann::json> body_of(std::string_view body, std::string_view action) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, "OpenAPI " + std::string(action) + ": the reply is not JSON");
  }
  return j;
}

// Data.List.<item>: an array, or one object (some XML-to-JSON gateways collapse a list of one).
std::vector<nlohmann::json> list_of(const nlohmann::json& data, const char* item) {
  std::vector<nlohmann::json> out;
  if (!data.is_object()) {
    return out;
  }
  auto list = data.find("List");
  if (list == data.end() || !list->is_object()) {
    return out;
  }
  auto items = list->find(item);
  if (items == list->end()) {
    return out;
  }
  if (items->is_array()) {
    for (const auto& e : *items) {
      if (e.is_object()) {
        out.push_back(e);
      }
    }
  } else if (items->is_object()) {
    out.push_back(*items);
  }
  return out;
}

bool flag(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) {
    return false;
  }
  if (it->is_boolean()) {
    return it->get<bool>();
  }
  return it->is_string() && it->get<std::string>() == "true";
}

nlohmann::json data_of(const nlohmann::json& j) {
  auto d = j.find("Data");
  return d != j.end() && d->is_object() ? *d : nlohmann::json::object();
}

} // namespace

openapi::Params set_property_params(const Device& d, std::string_view items_json) {
  openapi::Params p;
  add_device(p, d);
  p.emplace_back("Items", std::string(items_json));
  return p;
}

openapi::Params property_status_params(const Device& d) {
  openapi::Params p;
  add_device(p, d);
  return p;
}

openapi::Params
property_data_params(const Device& d, std::string_view identifier, const Window& w) {
  openapi::Params p;
  add_device(p, d);
  p.emplace_back("Identifier", std::string(identifier));
  add_window(p, w);
  return p;
}

openapi::Params
invoke_params(const Device& d, std::string_view identifier, std::string_view args_json) {
  openapi::Params p;
  add_device(p, d);
  p.emplace_back("Identifier", std::string(identifier));
  p.emplace_back("Args", std::string(args_json));
  return p;
}

openapi::Params event_data_params(const Device& d,
                                  std::string_view identifier,
                                  const Window& w,
                                  std::string_view event_type) {
  openapi::Params p;
  add_device(p, d);
  p.emplace_back("Identifier", std::string(identifier));
  add_window(p, w);
  if (!event_type.empty()) {
    p.emplace_back("EventType", std::string(event_type));
  }
  return p;
}

openapi::Params broadcast_params(const Broadcast& b) {
  openapi::Params p{{"ProductKey", b.product_key},
                    {"MessageContent", enc::base64_encode(b.payload)}};
  if (b.topic) {
    p.emplace_back("TopicFullName", *b.topic);
  }
  return p;
}

Result<MessageIdResult> parse_message_id(std::string_view body) {
  ALIOT_TRY_ASSIGN(auto j, body_of(body, "call"));
  MessageIdResult r;
  r.message_id = json_util::text(data_of(j), "MessageId");
  if (r.message_id.empty()) {
    r.message_id = json_util::text(j, "MessageId");
  }
  r.request_id = json_util::text(j, "RequestId");
  return r;
}

Result<std::vector<PropertyStatus>> parse_property_status(std::string_view body) {
  ALIOT_TRY_ASSIGN(auto j, body_of(body, "QueryDevicePropertyStatus"));
  std::vector<PropertyStatus> out;
  for (const auto& e : list_of(data_of(j), "PropertyStatusInfo")) {
    PropertyStatus s;
    s.identifier = json_util::text(e, "Identifier");
    s.name = json_util::text(e, "Name");
    s.value = json_util::text(e, "Value");
    s.time = json_util::text(e, "Time");
    s.data_type = json_util::text(e, "DataType");
    s.unit = json_util::text(e, "Unit");
    auto v = e.find("Value");
    s.reported = v != e.end() && !v->is_null();
    out.push_back(std::move(s));
  }
  return out;
}

Result<Page> parse_property_data(std::string_view body) {
  ALIOT_TRY_ASSIGN(auto j, body_of(body, "QueryDevicePropertyData"));
  const auto data = data_of(j);
  Page page;
  page.next_valid = flag(data, "NextValid");
  page.next_time = json_util::text(data, "NextTime");
  for (const auto& e : list_of(data, "PropertyInfo")) {
    Record r;
    r.time = json_util::text(e, "Time");
    r.value = json_util::text(e, "Value");
    page.records.push_back(std::move(r));
  }
  return page;
}

Result<Page> parse_event_data(std::string_view body) {
  ALIOT_TRY_ASSIGN(auto j, body_of(body, "QueryDeviceEventData"));
  const auto data = data_of(j);
  Page page;
  page.next_valid = flag(data, "NextValid");
  page.next_time = json_util::text(data, "NextTime");
  for (const auto& e : list_of(data, "EventInfo")) {
    Record r;
    r.time = json_util::text(e, "Time");
    r.value = json_util::text(e, "OutputData");
    r.identifier = json_util::text(e, "Identifier");
    r.name = json_util::text(e, "Name");
    r.event_type = json_util::text(e, "EventType");
    page.records.push_back(std::move(r));
  }
  return page;
}

Result<InvokeResult> parse_invoke(std::string_view body) {
  ALIOT_TRY_ASSIGN(auto j, body_of(body, "InvokeThingService"));
  const auto data = data_of(j);
  InvokeResult r;
  r.message_id = json_util::text(data, "MessageId");
  r.request_id = json_util::text(j, "RequestId");
  if (auto it = data.find("Result"); it != data.end() && !it->is_null()) {
    r.result = it->is_string() ? it->get<std::string>() : it->dump();
  }
  return r;
}

} // namespace aliot::thing::cloud
