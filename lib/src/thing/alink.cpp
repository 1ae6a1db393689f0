// Alink JSON: topics, requests, the platform's replies, NTP arithmetic and the cloud's requests as
// the device receives them (no I/O here).
#include "thing/json_util.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/thing.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>

namespace aliot::thing {

namespace {

std::string sys_prefix(std::string_view pk, std::string_view dn) {
  std::string s = "/sys/";
  s.append(pk).append("/").append(dn).append("/");
  return s;
}

std::string ms_text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) {
    return {};
  }
  if (it->is_string()) {
    return it->get<std::string>();
  }
  if (it->is_number_integer() || it->is_number_unsigned()) {
    return it->dump();
  }
  return {};
}

std::optional<std::int64_t> to_ms(const std::string& s) {
  if (s.empty() || s.size() > 18) {
    return std::nullopt;
  }
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

} // namespace

std::string property_post_topic(std::string_view pk, std::string_view dn) {
  return sys_prefix(pk, dn) + "thing/event/property/post";
}

std::string event_post_topic(std::string_view pk, std::string_view dn, std::string_view event) {
  return sys_prefix(pk, dn).append("thing/event/").append(event).append("/post");
}

std::string property_set_topic(std::string_view pk, std::string_view dn) {
  return sys_prefix(pk, dn) + "thing/service/property/set";
}

std::string service_topic(std::string_view pk, std::string_view dn, std::string_view service) {
  return sys_prefix(pk, dn).append("thing/service/").append(service);
}

std::string reply_topic_of(std::string_view topic) {
  return std::string(topic) + "_reply";
}

std::string ntp_request_topic(std::string_view pk, std::string_view dn) {
  std::string s = "/ext/ntp/";
  s.append(pk).append("/").append(dn).append("/request");
  return s;
}

std::string ntp_response_topic(std::string_view pk, std::string_view dn) {
  std::string s = "/ext/ntp/";
  s.append(pk).append("/").append(dn).append("/response");
  return s;
}

std::string property_batch_post_topic(std::string_view pk, std::string_view dn) {
  return sys_prefix(pk, dn) + "thing/event/property/batch/post";
}

std::string desired_get_topic(std::string_view pk, std::string_view dn) {
  return sys_prefix(pk, dn) + "thing/property/desired/get";
}

std::string desired_delete_topic(std::string_view pk, std::string_view dn) {
  return sys_prefix(pk, dn) + "thing/property/desired/delete";
}

std::string property_batch_post_method() {
  return "thing.event.property.batch.post";
}

std::string desired_get_method() {
  return "thing.property.desired.get";
}

std::string desired_delete_method() {
  return "thing.property.desired.delete";
}

std::string property_post_method() {
  return "thing.event.property.post";
}

std::string event_post_method(std::string_view event) {
  return std::string("thing.event.").append(event).append(".post");
}

Result<void> check_identifier(std::string_view name, std::string_view what) {
  if (name.empty()) {
    return Error(Errc::usage, "the " + std::string(what) + " name is empty");
  }
  if (name.size() > k_max_identifier) {
    return Error(Errc::usage, std::string(what) + " name '" + std::string(name.substr(0, 20))
                                  + "...' is longer than the platform's 50 characters");
  }
  for (char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) {
      return Error(Errc::usage,
                   std::string(what) + " name '" + std::string(name) + "' is not an identifier",
                   "thing-model identifiers hold letters, digits and '_' only");
    }
  }
  return ok();
}

Result<std::string> params_from_pairs(const std::vector<std::string>& pairs) {
  nlohmann::ordered_json obj = nlohmann::ordered_json::object();
  for (const auto& p : pairs) {
    const auto eq = p.find('=');
    if (eq == std::string::npos) {
      return Error(Errc::usage, "'" + p + "' is not KEY=VALUE",
                   "give properties as Temp=21.5 Power=1, or the whole object with --params");
    }
    const std::string key = p.substr(0, eq);
    const std::string value = p.substr(eq + 1);
    ALIOT_TRY(check_identifier(key, "property"));
    if (!enc::is_valid_utf8(value)) {
      return Error(Errc::usage, "the value of " + key + " is not UTF-8 text");
    }
    if (obj.contains(key)) {
      return Error(Errc::usage, key + " is given twice");
    }
    auto v = nlohmann::ordered_json::parse(value, nullptr, false);
    obj[key] = v.is_discarded() || value.empty() ? nlohmann::ordered_json(value) : v;
  }
  return obj.dump();
}

Result<std::string> params_from_json(std::string_view text, std::string_view origin) {
  if (text.size() > k_max_message) {
    return Error(Errc::usage, std::string(origin) + " is over the platform's limit of 256 KB");
  }
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return Error(Errc::usage, std::string(origin) + " is not JSON (or not UTF-8 text)",
                 "give an object like {\"Temp\":21.5}");
  }
  if (!j.is_object()) {
    return Error(Errc::usage, std::string(origin) + " is not a JSON object",
                 "give an object like {\"Temp\":21.5}");
  }
  return j.dump();
}

Result<std::string> merge_params(std::string_view base, std::string_view extra) {
  auto a = nlohmann::ordered_json::parse(base, nullptr, false);
  auto b = nlohmann::ordered_json::parse(extra, nullptr, false);
  if (!a.is_object() || !b.is_object()) {
    return Error(Errc::usage, "params are not JSON objects");
  }
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (a.contains(it.key())) {
      return Error(Errc::usage, it.key() + " is given twice");
    }
    a[it.key()] = it.value();
  }
  return a.dump();
}

Result<std::string> desired_get_params(const std::vector<std::string>& ids) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& id : ids) {
    ALIOT_TRY(check_identifier(id, "property"));
    if (std::find(list.begin(), list.end(), id) != list.end()) {
      return Error(Errc::usage, id + " is given twice");
    }
    list.push_back(id);
  }
  return list.dump();
}

Result<std::string> desired_delete_params(const std::vector<std::string>& specs) {
  if (specs.empty()) {
    return Error(Errc::usage, "no properties to delete the desired values of",
                 "give identifiers, each as ID or ID=VERSION (Temp Power=3)");
  }
  nlohmann::ordered_json obj = nlohmann::ordered_json::object();
  for (const auto& s : specs) {
    const auto eq = s.find('=');
    const std::string id = s.substr(0, eq);
    ALIOT_TRY(check_identifier(id, "property"));
    if (obj.contains(id)) {
      return Error(Errc::usage, id + " is given twice");
    }
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    if (eq != std::string::npos) {
      const std::string v = s.substr(eq + 1);
      std::int64_t n = -1;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0) {
        return Error(Errc::usage,
                     "the version of " + id + " is not a non-negative integer: '"
                         + enc::printable(v) + "'",
                     "give ID=VERSION as the version desired get printed (Temp=3)");
      }
      entry["version"] = n;
    }
    obj[id] = std::move(entry);
  }
  return obj.dump();
}

Result<std::string> batch_params(std::string_view params) {
  auto j = nlohmann::ordered_json::parse(params, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::usage, "the batch is not a JSON object");
  }
  const std::string hint =
      "give {\"properties\":{\"Temp\":[{\"value\":21.5,\"time\":1700000000000}]},"
      "\"events\":{\"Alarm\":[{\"value\":{\"Level\":2},\"time\":1700000000000}]}}";
  if (!j.contains("properties") && !j.contains("events")) {
    return Error(Errc::usage, "the batch has neither properties nor events", hint);
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string part = it.key();
    if (part != "properties" && part != "events") {
      return Error(Errc::usage,
                   "the batch holds '" + enc::printable(part)
                       + "': only properties and events belong in it",
                   hint);
    }
    if (!it->is_object()) {
      return Error(Errc::usage, "the batch's " + part + " is not an object", hint);
    }
    for (auto m = it->begin(); m != it->end(); ++m) {
      const std::string where = part + "." + enc::printable(m.key());
      ALIOT_TRY(check_identifier(m.key(), part == "events" ? "event" : "property"));
      if (!m->is_array() || m->empty()) {
        return Error(Errc::usage, "the batch's " + where + " is not a non-empty list of points",
                     hint);
      }
      for (const auto& point : *m) {
        if (!point.is_object() || !point.contains("value")) {
          return Error(Errc::usage, "a point of " + where + " is not {\"value\",\"time\"}", hint);
        }
        if (point.contains("time") && !point["time"].is_number_integer()) {
          return Error(Errc::usage,
                       "the time of a point of " + where + " is not an integer (ms since 1970)",
                       hint);
        }
        if (part == "events" && !point["value"].is_object()) {
          return Error(Errc::usage,
                       "the value of a point of " + where + " is not an object of parameters",
                       hint);
        }
      }
    }
  }
  return j.dump();
}

std::string new_id() {
  std::uint32_t v = 0;
  if (auto r = crypto::random_bytes(sizeof v); r && r->size() == sizeof v) {
    std::memcpy(&v, r->data(), sizeof v);
  } else {
    v = static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return std::to_string(v == 0 ? 1u : v);
}

std::string request_payload(const Request& r) {
  nlohmann::ordered_json j;
  j["id"] = r.id;
  j["version"] = k_version;
  auto p = nlohmann::ordered_json::parse(r.params, nullptr, false);
  j["params"] = p.is_discarded() ? nlohmann::ordered_json::object() : p;
  j["sys"] = {{"ack", r.ack ? 1 : 0}};
  j["method"] = r.method;
  return j.dump();
}

Result<Reply> parse_reply(std::string_view payload) {
  if (payload.size() > k_max_message) {
    return Error(Errc::remote, "the reply is over the platform's limit of 256 KB");
  }
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, "the reply is not a JSON object: " + json_util::excerpt(payload));
  }
  Reply r;
  r.id = json_util::text(j, "id");
  auto code = j.find("code");
  if (code == j.end()) {
    return Error(Errc::remote, "the reply has no code: " + json_util::excerpt(payload));
  }
  if (code->is_number_integer() || code->is_number_unsigned()) {
    const auto c = code->get<std::int64_t>();
    if (c < -1000000 || c > 1000000) {
      return Error(Errc::remote, "the reply's code is out of range");
    }
    r.code = static_cast<int>(c);
  } else if (auto ms = code->is_string() ? to_ms(code->get<std::string>()) : std::nullopt;
             ms && *ms <= 1000000) {
    r.code = static_cast<int>(*ms);
  } else {
    return Error(Errc::remote, "the reply's code is not a number: " + json_util::excerpt(payload));
  }
  r.message = json_util::text(j, "message");
  r.method = json_util::text(j, "method");
  if (auto d = j.find("data"); d != j.end() && !d->is_null()) {
    r.data = d->dump();
  }
  return r;
}

Result<void> check_reply(const Reply& reply, std::string_view what) {
  if (reply.code == k_code_ok) {
    return ok();
  }
  std::string msg = std::string(what) + " refused: code " + std::to_string(reply.code);
  if (!reply.message.empty()) {
    msg += ": " + reply.message;
  }
  std::string hint;
  if (reply.code == 460) {
    hint = "the request's params are malformed: check the JSON and the value types";
  } else if (reply.code >= 6000 && reply.code < 7000) {
    hint = "the params do not fit the product's thing model (TSL): check identifiers, types and "
           "ranges";
  } else if (reply.code == 429) {
    hint = "too many requests: slow down";
  }
  return Error(Errc::remote, msg, hint);
}

std::string ntp_request_payload(std::int64_t device_send_ms) {
  nlohmann::json j;
  j["deviceSendTime"] = std::to_string(device_send_ms);
  return j.dump();
}

Result<NtpTimes> parse_ntp_response(std::string_view payload, std::int64_t device_recv_ms) {
  if (payload.size() > 4096) {
    return Error(Errc::remote, "the NTP response is over 4 KB");
  }
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote,
                 "the NTP response is not a JSON object: " + json_util::excerpt(payload));
  }
  NtpTimes t;
  t.device_recv = device_recv_ms;
  struct Field {
    const char* key;
    std::int64_t* out;
  };
  for (auto f : {Field{"deviceSendTime", &t.device_send}, Field{"serverRecvTime", &t.server_recv},
                 Field{"serverSendTime", &t.server_send}}) {
    auto v = to_ms(ms_text(j, f.key));
    if (!v) {
      return Error(Errc::remote, std::string("the NTP response has no valid ") + f.key + ": "
                                     + json_util::excerpt(payload));
    }
    *f.out = *v;
  }
  return t;
}

ClockOffset clock_offset(const NtpTimes& t) {
  ClockOffset c;
  c.offset_ms =
      static_cast<double>((t.server_recv - t.device_send) + (t.server_send - t.device_recv)) / 2.0;
  c.round_trip_ms =
      static_cast<double>((t.device_recv - t.device_send) - (t.server_send - t.server_recv));
  return c;
}

std::vector<std::string> serve_filters(std::string_view pk, std::string_view dn) {
  return {property_set_topic(pk, dn), service_topic(pk, dn, "+"),
          sys_prefix(pk, dn) + "rrpc/request/+"};
}

Result<std::optional<Incoming>> parse_incoming(std::string_view topic,
                                               std::string_view payload,
                                               std::string_view pk,
                                               std::string_view dn) {
  const std::string base = sys_prefix(pk, dn);
  const std::string service_base = base + "thing/service/";
  const std::string rrpc_base = base + "rrpc/request/";
  Incoming in;
  in.topic = std::string(topic);
  if (topic.starts_with(rrpc_base)) {
    const auto mid = topic.substr(rrpc_base.size());
    if (mid.empty() || mid.find('/') != std::string_view::npos) {
      return std::optional<Incoming>();
    }
    in.sync = true;
    in.reply_topic = base + "rrpc/response/" + std::string(mid);
  } else if (topic.starts_with(service_base)) {
    const auto rest = topic.substr(service_base.size());
    if (rest.ends_with("_reply")) {
      return std::optional<Incoming>(); // our own answers, echoed back by the broker
    }
    if (rest != k_property_set) {
      if (!check_identifier(rest, "service")) {
        return std::optional<Incoming>();
      }
    }
    in.reply_topic = reply_topic_of(topic);
  } else {
    return std::optional<Incoming>();
  }
  if (payload.size() > k_max_message) {
    return Error(Errc::remote, "the request is over the platform's limit of 256 KB");
  }
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    if (in.sync) {
      return std::optional<Incoming>(); // a plain RRPC request, not the thing model's
    }
    return Error(Errc::remote, "the request is not a JSON object: " + json_util::excerpt(payload));
  }
  in.method = json_util::text(j, "method");
  constexpr std::string_view k_prefix = "thing.service.";
  if (!in.method.starts_with(k_prefix)) {
    if (in.sync) {
      return std::optional<Incoming>();
    }
    // thing/service/property/set without a method still is a property set
    in.method = topic.ends_with(k_property_set)
                    ? "thing.service.property.set"
                    : "thing.service." + std::string(topic.substr(service_base.size()));
  }
  const std::string tail = in.method.substr(k_prefix.size());
  if (tail == "property.set") {
    in.name = k_property_set;
  } else if (check_identifier(tail, "service")) {
    in.name = tail;
  } else {
    return Error(Errc::remote,
                 "the request's method is not a service: " + json_util::excerpt(in.method));
  }
  if (!in.sync) {
    const std::string expected =
        in.name == k_property_set ? property_set_topic(pk, dn) : service_topic(pk, dn, in.name);
    if (topic != expected) {
      return Error(Errc::remote, "the request's method " + in.method + " does not match its topic");
    }
  }
  in.id = json_util::text(j, "id");
  if (auto p = j.find("params"); p != j.end() && !p->is_null()) {
    in.params = p->dump();
  }
  in.payload = std::string(payload);
  return std::optional<Incoming>(std::move(in));
}

Result<Answer> answer_from_json(std::string_view text, std::string_view origin) {
  std::string_view t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) {
    t.remove_suffix(1);
  }
  Answer a;
  if (t.empty()) {
    return a;
  }
  auto j = nlohmann::json::parse(t, nullptr, false);
  if (j.is_discarded()) {
    return Error(Errc::usage, std::string(origin) + " is not JSON: " + json_util::excerpt(t),
                 "answer with a JSON object such as {\"z\":3}, or {\"code\":200,\"data\":{...}}");
  }
  if (j.is_object()) {
    if (auto c = j.find("code"); c != j.end() && c->is_number_integer()) {
      a.code = c->get<int>();
      if (auto d = j.find("data"); d != j.end()) {
        a.data = d->dump();
      }
      a.message = json_util::text(j, "message");
      return a;
    }
  }
  a.data = j.dump();
  return a;
}

std::string reply_payload(const Incoming& request, const Answer& answer) {
  nlohmann::ordered_json j;
  j["id"] = request.id;
  j["code"] = answer.code;
  auto d = nlohmann::ordered_json::parse(answer.data, nullptr, false);
  j["data"] = d.is_discarded() ? nlohmann::ordered_json::object() : d;
  j["message"] = answer.message.empty() && answer.code == k_code_ok ? "success" : answer.message;
  j["version"] = k_version;
  return j.dump();
}

} // namespace aliot::thing
