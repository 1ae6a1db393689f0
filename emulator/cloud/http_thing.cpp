// The thing-model actions of the OpenAPI (docs/protocol.md, "Thing model (Alink)"):
//   SetDeviceProperty    ProductKey+DeviceName|IotId, Items (JSON object) -> Data.MessageId;
//                        publishes thing.service.property.set on /sys/PK/DN/thing/service/
//                        property/set.
//   InvokeThingService   ..., Identifier, Args (JSON object) -> Data.MessageId (async: published
//                        on /sys/PK/DN/thing/service/NAME) or Data.Result (sync, callType "sync"
//                        in the TSL: over RRPC, /ext/rrpc/ID/sys/PK/DN/thing/service/NAME to a
//                        device that announced ext=1, else /sys/PK/DN/rrpc/request/ID; the
//                        device's "data" comes back; 8 s).
//   QueryDevicePropertyStatus  Data.List.PropertyStatusInfo[] {Identifier, Value, Time, DataType}
//   QueryDevicePropertyData    Identifier, StartTime, EndTime, PageSize (1-50), Asc ->
//                        Data {NextValid, NextTime, List.PropertyInfo[] {Value, Time}}
//   QueryDeviceEventData       [Identifier], StartTime, EndTime, PageSize, Asc ->
//                        Data {NextValid, NextTime, List.EventInfo[] {Identifier, Time,
//                        OutputData, EventType, Name}}
//   PubBroadcast         ProductKey, MessageContent (Base64, <= 64 KB), [TopicFullName
//                        /broadcast/PK/...] -> MessageId; without TopicFullName to every online
//                        device of the product on /sys/PK/DN/broadcast/request/ID (no SUBSCRIBE
//                        needed); at most once a minute (all devices) / once a second (topic).
// Business error codes the stored documentation does not list are marked UNCONFIRMED.
#include "http_call.hpp"
#include "thing.hpp"

#include <aliot/emu/tsl.hpp>
#include <aliot/encoding.hpp>
#include <aliot/topic.hpp>

#include <algorithm>

namespace aliot::emu {

namespace {

constexpr int k_sync_timeout_ms = 8000;                       // UNCONFIRMED: the RRPC ceiling
constexpr std::size_t k_max_broadcast = 64 * 1024;            // PubBroadcast: 64 KB decoded
constexpr const char* k_offline = "iot.device.OfflineDevice"; // UNCONFIRMED
constexpr const char* k_bad_tsl_value = "iot.thing.InvalidPropertyValue"; // UNCONFIRMED

std::optional<nlohmann::json> json_param(Call& c, const char* name) {
  auto v = param(c.ps, name);
  if (!v) {
    return std::nullopt;
  }
  auto j = tsl::parse_json(*v, 256 * 1024);
  if (!j || !j->is_object()) {
    biz_error(c.res, c.rid, "iot.system.IllegalRequest",
              std::string(name) + " is not a JSON object.");
    return std::nullopt;
  }
  return j;
}

std::string new_message_id() {
  return std::to_string(emu().next_message_id());
}

// Publishes to the device on the broker thread; false when it is offline (or the broker did not
// answer in time).
bool deliver_online(const std::string& pk,
                    const std::string& dn,
                    const std::string& topic,
                    const std::string& payload) {
  auto done = on_broker<bool>([pk, dn, topic, payload] {
    if (!broker_device_session(pk, dn)) {
      return false;
    }
    broker_deliver(pk, dn, topic, payload, false);
    return true;
  });
  return done && *done;
}

void action_set_property(Call& c) {
  std::string pk, dn;
  const Device* d = nullptr;
  if (!find_device(c, pk, dn, d) || !require(c, {"Items"})) {
    return;
  }
  auto items = json_param(c, "Items");
  if (!items) {
    return;
  }
  const nlohmann::json& plain = *items;
  const auto model = thing_model(emu().dir, pk);
  if (auto v = tsl::check_properties(model.get(), plain); !v.ok()) {
    biz_error(c.res, c.rid, k_bad_tsl_value, v.message);
    return;
  }
  const std::string mid = new_message_id();
  if (!deliver_online(pk, dn, "/sys/" + pk + "/" + dn + "/thing/service/property/set",
                      alink_request(mid, "thing.service.property.set", plain))) {
    biz_error(c.res, c.rid, k_offline, "The device is offline.");
    return;
  }
  send_json(c.res, 200, {{"RequestId", c.rid}, {"Success", true}, {"Data", {{"MessageId", mid}}}});
}

void action_invoke(Call& c) {
  std::string pk, dn;
  const Device* d = nullptr;
  if (!find_device(c, pk, dn, d) || !require(c, {"Identifier", "Args"})) {
    return;
  }
  const std::string id = *param(c.ps, "Identifier");
  auto args = json_param(c, "Args");
  if (!args) {
    return;
  }
  const nlohmann::json& plain = *args;
  const auto model = thing_model(emu().dir, pk);
  bool sync = false;
  if (model) {
    auto s = model->services.find(id);
    if (s == model->services.end()) {
      biz_error(c.res, c.rid, "iot.thing.ServiceNotExist", // UNCONFIRMED
                "The service " + id + " is not defined in the thing model.");
      return;
    }
    if (auto v = tsl::check_params(&s->second.input, plain); !v.ok()) {
      biz_error(c.res, c.rid, k_bad_tsl_value, v.message);
      return;
    }
    sync = s->second.sync;
  }
  const std::string mid = new_message_id();
  const std::string method = "thing.service." + id;
  const std::string body = alink_request(mid, method, plain);
  if (!sync) {
    if (!deliver_online(pk, dn, "/sys/" + pk + "/" + dn + "/thing/service/" + id, body)) {
      biz_error(c.res, c.rid, k_offline, "The device is offline.");
      return;
    }
    send_json(c.res, 200,
              {{"RequestId", c.rid}, {"Success", true}, {"Data", {{"MessageId", mid}}}});
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->pk = pk;
  pending->dn = dn;
  {
    std::lock_guard lk(emu().pending_mu);
    emu().pending[mid] = pending;
  }
  emu().post_job([pending, pk, dn, mid, id, body] {
    auto s = broker_device_session(pk, dn);
    if (!s) {
      pending->finish("OFFLINE");
    } else if (s->second) {
      broker_publish(
          s->first, "/ext/rrpc/" + mid + "/sys/" + pk + "/" + dn + "/thing/service/" + id, body, 0);
    } else {
      broker_publish("", "/sys/" + pk + "/" + dn + "/rrpc/request/" + mid, body, 0);
    }
  });
  {
    std::unique_lock lk(pending->mu);
    pending->cv.wait_for(lk, std::chrono::milliseconds(k_sync_timeout_ms),
                         [&] { return pending->done; });
  }
  {
    std::lock_guard lk(emu().pending_mu);
    emu().pending.erase(mid);
  }
  pending->finish("TIMEOUT");
  if (pending->code == "OFFLINE") {
    biz_error(c.res, c.rid, k_offline, "The device is offline.");
    return;
  }
  if (pending->code == "TIMEOUT") {
    biz_error(c.res, c.rid, "iot.messagebroker.RrpcTimeout", // UNCONFIRMED
              "The device did not answer the synchronous service call in time.");
    return;
  }
  auto reply = tsl::parse_json(pending->payload, 256 * 1024);
  if (!reply || !reply->is_object()) {
    biz_error(c.res, c.rid, "iot.device.InvalidServiceReply", // UNCONFIRMED
              "The device's answer is not an Alink reply.");
    return;
  }
  const int code = reply->contains("code") && (*reply)["code"].is_number_integer()
                       ? (*reply)["code"].get<int>()
                       : 200;
  if (code != 200) {
    std::string msg = reply->contains("message") && (*reply)["message"].is_string()
                          ? (*reply)["message"].get<std::string>()
                          : "";
    biz_error(c.res, c.rid, "iot.device.InvokeThingServiceFailed", // UNCONFIRMED
              "The device answered code " + std::to_string(code) + (msg.empty() ? "" : ": " + msg));
    return;
  }
  const nlohmann::json data = reply->contains("data") ? (*reply)["data"] : nlohmann::json::object();
  send_json(c.res, 200,
            {{"RequestId", c.rid},
             {"Success", true},
             {"Data",
              {{"MessageId", mid},
               {"Result", data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)}}}});
}

std::string value_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string guess_type(const nlohmann::json& v) {
  if (v.is_number_integer()) {
    return "int";
  }
  if (v.is_number()) {
    return "double";
  }
  if (v.is_string()) {
    return "text";
  }
  if (v.is_array()) {
    return "array";
  }
  if (v.is_object()) {
    return "struct";
  }
  return "text";
}

void action_property_status(Call& c) {
  std::string pk, dn;
  const Device* d = nullptr;
  if (!find_device(c, pk, dn, d)) {
    return;
  }
  const auto latest = things().latest(pk, dn);
  const auto model = thing_model(emu().dir, pk);
  json list = json::array();
  auto add = [&](const std::string& id, const std::string& type, const PropPoint* p) {
    json e{{"Identifier", id}, {"Name", id}, {"DataType", type}};
    if (p != nullptr) {
      e["Value"] = value_text(p->value);
      e["Time"] = std::to_string(p->time);
    }
    list.push_back(std::move(e));
  };
  if (model) {
    for (const auto& [id, f] : model->properties) {
      auto it = latest.find(id);
      add(id, std::string(tsl::kind_name(f.type->kind)),
          it != latest.end() ? &it->second : nullptr);
    }
  } else {
    for (const auto& [id, p] : latest) {
      add(id, guess_type(p.value), &p);
    }
  }
  send_json(c.res, 200,
            {{"RequestId", c.rid},
             {"Success", true},
             {"Data", {{"List", {{"PropertyStatusInfo", list}}}}}});
}

struct Window {
  long long start = 0, end = 0;
  std::size_t page = 10;
  bool asc = false;
};

std::optional<long long> integer_param(Call& c, const char* name) {
  auto v = param(c.ps, name);
  if (!v || v->empty() || v->size() > 19
      || v->find_first_not_of("0123456789") != std::string::npos) {
    biz_error(c.res, c.rid, "iot.system.IllegalRequest", std::string(name) + " is not a number.");
    return std::nullopt;
  }
  return std::stoll(*v);
}

std::optional<Window> window(Call& c) {
  if (!require(c, {"StartTime", "EndTime", "PageSize", "Asc"})) {
    return std::nullopt;
  }
  Window w;
  auto s = integer_param(c, "StartTime");
  if (!s) {
    return std::nullopt;
  }
  auto e = integer_param(c, "EndTime");
  if (!e) {
    return std::nullopt;
  }
  auto p = integer_param(c, "PageSize");
  if (!p) {
    return std::nullopt;
  }
  auto a = integer_param(c, "Asc");
  if (!a) {
    return std::nullopt;
  }
  if (*p < 1 || *p > 50) {
    biz_error(c.res, c.rid, "iot.system.IllegalRequest", "PageSize must be 1-50.");
    return std::nullopt;
  }
  w.start = *s;
  w.end = *e;
  w.page = static_cast<std::size_t>(*p);
  w.asc = *a == 1;
  return w;
}

// The points of `times` inside the window, in its order, one page: indexes and the next time.
template <class T, class TimeOf>
std::vector<const T*> page_of(const std::vector<T>& all,
                              const Window& w,
                              TimeOf time_of,
                              bool& next_valid,
                              long long& next_time) {
  std::vector<const T*> in;
  const long long lo = std::min(w.start, w.end), hi = std::max(w.start, w.end);
  for (const auto& p : all) {
    if (time_of(p) >= lo && time_of(p) <= hi) {
      in.push_back(&p);
    }
  }
  std::stable_sort(in.begin(), in.end(), [&](const T* a, const T* b) {
    return w.asc ? time_of(*a) < time_of(*b) : time_of(*a) > time_of(*b);
  });
  next_valid = in.size() > w.page;
  next_time = next_valid ? time_of(*in[w.page]) : 0;
  if (in.size() > w.page) {
    in.resize(w.page);
  }
  return in;
}

void action_property_data(Call& c) {
  std::string pk, dn;
  const Device* d = nullptr;
  if (!find_device(c, pk, dn, d) || !require(c, {"Identifier"})) {
    return;
  }
  auto w = window(c);
  if (!w) {
    return;
  }
  const auto hist = things().history(pk, dn, *param(c.ps, "Identifier"));
  bool next_valid = false;
  long long next_time = 0;
  json list = json::array();
  for (const PropPoint* p : page_of(
           hist, *w, [](const PropPoint& x) { return x.time; }, next_valid, next_time)) {
    list.push_back({{"Value", value_text(p->value)}, {"Time", p->time}});
  }
  send_json(
      c.res, 200,
      {{"RequestId", c.rid},
       {"Success", true},
       {"Data",
        {{"NextValid", next_valid}, {"NextTime", next_time}, {"List", {{"PropertyInfo", list}}}}}});
}

void action_event_data(Call& c) {
  std::string pk, dn;
  const Device* d = nullptr;
  if (!find_device(c, pk, dn, d)) {
    return;
  }
  auto w = window(c);
  if (!w) {
    return;
  }
  const std::string id = param(c.ps, "Identifier").value_or("");
  std::vector<EventPoint> evs = things().events(pk, dn);
  if (!id.empty()) {
    std::erase_if(evs, [&](const EventPoint& e) { return e.id != id; });
  }
  bool next_valid = false;
  long long next_time = 0;
  json list = json::array();
  for (const EventPoint* e : page_of(
           evs, *w, [](const EventPoint& x) { return x.time; }, next_valid, next_time)) {
    list.push_back(
        {{"Identifier", e->id},
         {"Name", e->id},
         {"EventType", e->type},
         {"Time", std::to_string(e->time)},
         {"OutputData", e->output.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)}});
  }
  send_json(
      c.res, 200,
      {{"RequestId", c.rid},
       {"Success", true},
       {"Data",
        {{"NextValid", next_valid}, {"NextTime", next_time}, {"List", {{"EventInfo", list}}}}}});
}

// PubBroadcast's quota: once a second with TopicFullName, once a minute without (the platform
// counts per account; the emulator has one).
bool broadcast_allowed(bool to_topic) {
  static std::mutex mu;
  static long long last_topic = 0, last_all = 0;
  std::lock_guard lk(mu);
  long long& last = to_topic ? last_topic : last_all;
  const long long gap = to_topic ? 1000 : 60000;
  const long long now = now_ms();
  if (last != 0 && now - last < gap) {
    return false;
  }
  last = now;
  return true;
}

void action_pub_broadcast(Call& c) {
  if (!require(c, {"ProductKey", "MessageContent"})) {
    return;
  }
  const std::string pk = *param(c.ps, "ProductKey");
  const std::string t = param(c.ps, "TopicFullName").value_or("");
  if (c.view->product(pk) == nullptr) {
    biz_error(c.res, c.rid, "iot.prod.NotExistedProduct", "The product does not exist.");
    return;
  }
  if (!t.empty()
      && (!t.starts_with("/broadcast/" + pk + "/")
          || !topic::validate_shape(t, topic::Use::publish))) {
    biz_error(c.res, c.rid, "iot.messagebroker.InvalidFormattedTopicName",
              "The topic name is invalid.");
    return;
  }
  auto payload = enc::base64_decode(*param(c.ps, "MessageContent"));
  if (!payload) {
    biz_error(c.res, c.rid, "iot.messagebroker.MessageContentIsNotBase64Encode",
              "The message content is not Base64 encoded.");
    return;
  }
  if (payload->size() > k_max_broadcast) {
    biz_error(c.res, c.rid, "iot.messagebroker.PublishMessageFailed",
              "The message is larger than 64 KB.");
    return;
  }
  if (!broadcast_allowed(!t.empty())) {
    pop_error(c.res, 400, c.rid, "Throttling.User",
              std::string("Request was denied due to user flow control: PubBroadcast ")
                  + (t.empty() ? "to every online device runs once a minute."
                               : "to a topic runs once a second."));
    return;
  }
  const std::string mid = new_message_id();
  const std::string body = std::move(*payload);
  auto done = on_broker<bool>([pk, t, mid, body] {
    if (!t.empty()) {
      broker_publish("", t, body, 0);
      return true;
    }
    for (const auto& dn : broker_online_devices(pk)) {
      broker_deliver(pk, dn, "/sys/" + pk + "/" + dn + "/broadcast/request/" + mid, body, true);
    }
    return true;
  });
  if (!done) {
    biz_error(c.res, c.rid, "iot.messagebroker.PublishMessageFailed", "The broker is busy.");
    return;
  }
  send_json(c.res, 200, {{"RequestId", c.rid}, {"Success", true}, {"MessageId", std::stoull(mid)}});
}

} // namespace

bool thing_action(const std::string& action, Call& c) {
  if (action == "SetDeviceProperty") {
    action_set_property(c);
  } else if (action == "InvokeThingService") {
    action_invoke(c);
  } else if (action == "QueryDevicePropertyStatus") {
    action_property_status(c);
  } else if (action == "QueryDevicePropertyData") {
    action_property_data(c);
  } else if (action == "QueryDeviceEventData") {
    action_event_data(c);
  } else if (action == "PubBroadcast") {
    action_pub_broadcast(c);
  } else {
    return false;
  }
  return true;
}

} // namespace aliot::emu
