// The emulator's HTTP side (cpp-httplib threads, never calling mosquitto_*):
//  - plain HTTP on 127.0.0.1:<api_port>: the cloud OpenAPI (RPC style, signature version 1.0,
//    GET with the query or POST with a form body; query and body parameters are merged) at `/`,
//    plus the operator endpoints GET /emu/messages (HTTP Basic with an AccessKey id and secret)
//    and GET /emu/health;
//  - HTTPS on 127.0.0.1:<https_port>: POST /auth/register/device (dynamic registration with
//    pre-registration, spec 4.3), and the OTA firmware upload and files (http_ota.cpp).
//
// Errors. Gateway (POP) envelope, JSON {"RequestId","HostId","Code","Message","Recommend"}:
//   400 MissingParameter / Missing<Name>, 400 SignatureDoesNotMatch (Message carries the server's
//   string to sign), 404 InvalidAccessKeyId.NotFound, 400 InvalidTimeStamp.Expired (outside
//   15 minutes) / InvalidTimeStamp.Format, 400 SignatureNonceUsed (a nonce seen in the last
//   15 minutes), 400 IncompleteSignature (SignatureMethod/Version), 400 InvalidVersion,
//   404 InvalidAction.NotFound.
// Business errors: HTTP 200, {"RequestId","Success":false,"Code":"iot....","ErrorMessage"}.
// Responses are always JSON (the real default for a missing Format is XML).
//
// Registration replies (HTTP 200, JSON {"code","message"[,"data"]}): 200 success; 460 "request
// parameter error" (missing field, unknown signMethod); 401 "request auth error" (sign mismatch).
// Emulator-specific: 404 unknown product or device, 403 dynamic registration off or device
// disabled, 409 device already activated (logged in with its secret; spec 4.1).
#include "http_call.hpp"
#include "state.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>
#include <aliot/openapi.hpp>
#include <aliot/sign.hpp>
#include <aliot/time.hpp>
#include <aliot/topic.hpp>

#include <nlohmann/json.hpp>

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <future>
#include <thread>

namespace aliot::emu {

namespace {

constexpr long long k_timestamp_window_s = 15 * 60;
constexpr const char* k_host_id = "iot.cn-shanghai.aliyuncs.com";

struct Servers {
  httplib::Server* api = nullptr;
  httplib::SSLServer* reg = nullptr;
  std::thread* api_thread = nullptr;
  std::thread* reg_thread = nullptr;
};

Servers& servers() {
  static Servers* s = new Servers();
  return *s;
}

Result<std::string> request_id() {
  ALIOT_TRY_ASSIGN(auto random, crypto::random_bytes(16));
  const std::string h = enc::hex_upper(random);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-"
         + h.substr(20);
}

} // namespace

void send_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(j.dump(), "application/json;charset=utf-8");
}

void pop_error(httplib::Response& res,
               int status,
               const std::string& rid,
               const std::string& code,
               const std::string& message) {
  send_json(res, status,
            {{"RequestId", rid},
             {"HostId", k_host_id},
             {"Code", code},
             {"Message", message},
             {"Recommend", "https://api.aliyun.com/troubleshoot?q=" + code}});
}

void biz_error(httplib::Response& res,
               const std::string& rid,
               const std::string& code,
               const std::string& message) {
  send_json(res, 200,
            {{"RequestId", rid}, {"Success", false}, {"Code", code}, {"ErrorMessage", message}});
}

std::optional<std::string> param(const Params& ps, const std::string& name) {
  for (const auto& [k, v] : ps) {
    if (k == name) {
      return v;
    }
  }
  return std::nullopt;
}

namespace {

bool is_form(const httplib::Request& req) {
  const auto ct = req.get_header_value("Content-Type");
  return ct.starts_with("application/x-www-form-urlencoded");
}

// Query string and (for POST forms) body, decoded; nullopt if malformed.
std::optional<Params> request_params(const httplib::Request& req) {
  Params out;
  const auto q = req.target.find('?');
  if (q != std::string::npos) {
    auto ps = enc::form_decode(std::string_view(req.target).substr(q + 1));
    if (!ps) {
      return std::nullopt;
    }
    out = std::move(*ps);
  }
  if (req.method == "POST" && !req.body.empty() && is_form(req)) {
    auto ps = enc::form_decode(req.body);
    if (!ps) {
      return std::nullopt;
    }
    out.insert(out.end(), ps->begin(), ps->end());
  }
  return out;
}

// The POP Timestamp: exactly YYYY-MM-DDTHH:MM:SSZ (a real date), as seconds since the epoch.
std::optional<long long> parse_timestamp(const std::string& s) {
  const auto t = parse_utc_iso8601(s);
  if (!t || utc_iso8601(*t) != s) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

} // namespace

// UtcCreate-style 2026-11-28T10:09:51.123Z, or GmtCreate-style 2026-11-28 18:09:51 (the
// platform's "Gmt" fields are China Standard Time, UTC+8).
std::string format_time(long long ms, bool utc) {
  if (ms <= 0) {
    return "";
  }
  const std::chrono::system_clock::time_point t{std::chrono::milliseconds(ms)};
  return utc ? utc_iso8601(t, true) : utc_datetime(t + std::chrono::hours(8));
}

bool require(Call& c, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto v = param(c.ps, n);
    if (!v || v->empty()) {
      pop_error(c.res, 400, c.rid, std::string("Missing") + n,
                std::string(n) + " is mandatory for this action.");
      return false;
    }
  }
  return true;
}

// Resolves (ProductKey + DeviceName) or IotId; writes the business error otherwise.
bool find_device(Call& c, std::string& pk, std::string& dn, const Device*& d) {
  if (auto iot = param(c.ps, "IotId"); iot && !iot->empty()) {
    d = c.view->device_by_iot_id(*iot, pk, dn);
    if (d == nullptr) {
      biz_error(c.res, c.rid, "iot.device.NotExistedDevice", "The device does not exist.");
    }
    return d != nullptr;
  }
  if (!require(c, {"ProductKey", "DeviceName"})) {
    return false;
  }
  pk = *param(c.ps, "ProductKey");
  dn = *param(c.ps, "DeviceName");
  if (c.view->product(pk) == nullptr) {
    biz_error(c.res, c.rid, "iot.prod.NotExistedProduct", "The product does not exist.");
    return false;
  }
  d = c.view->device(pk, dn);
  if (d == nullptr) {
    biz_error(c.res, c.rid, "iot.device.NotExistedDevice", "The device does not exist.");
    return false;
  }
  return true;
}

namespace {

std::string status_name(const Device& d, const DeviceStatus& st) {
  if (!d.enabled) {
    return "DISABLE";
  }
  if (st.online) {
    return "ONLINE";
  }
  return d.activated ? "OFFLINE" : "UNACTIVE";
}

void action_rrpc(Call& c) {
  if (!require(c, {"ProductKey", "DeviceName", "RequestBase64Byte", "Timeout"})) {
    return;
  }
  const std::string pk = *param(c.ps, "ProductKey");
  const std::string dn = *param(c.ps, "DeviceName");
  int timeout = 0;
  try {
    std::size_t used = 0;
    const std::string t = *param(c.ps, "Timeout");
    timeout = std::stoi(t, &used);
    if (used != t.size()) {
      timeout = 0;
    }
  } catch (const std::exception&) {
    timeout = 0;
  }
  if (timeout < 1000 || timeout > 8000) {
    biz_error(c.res, c.rid, "iot.messagebroker.InvalidTimeoutValue",
              "The Timeout value is invalid: it must be 1000-8000 ms.");
    return;
  }
  if (c.view->product(pk) == nullptr) {
    biz_error(c.res, c.rid, "iot.prod.NotExistedProduct", "The product does not exist.");
    return;
  }
  if (c.view->device(pk, dn) == nullptr) {
    biz_error(c.res, c.rid, "iot.device.NotExistedDevice", "The device does not exist.");
    return;
  }
  auto payload = enc::base64_decode(*param(c.ps, "RequestBase64Byte"));
  if (!payload) {
    biz_error(c.res, c.rid, "iot.messagebroker.MessageContentIsNotBase64Encode",
              "The message content is not Base64 encoded.");
    return;
  }
  const std::string custom = param(c.ps, "Topic").value_or("");
  if (!custom.empty()) {
    const std::string own = "/" + pk + "/" + dn + "/";
    if (!custom.starts_with(own) || !topic::validate_shape(custom, topic::Use::publish)) {
      biz_error(c.res, c.rid, "iot.messagebroker.InvalidFormattedTopicName",
                "The topic name is invalid.");
      return;
    }
  }
  const std::string mid = std::to_string(emu().next_message_id());
  auto pending = std::make_shared<Pending>();
  pending->pk = pk;
  pending->dn = dn;
  {
    std::lock_guard lk(emu().pending_mu);
    emu().pending[mid] = pending;
  }
  const std::string body = std::move(*payload);
  emu().post_job([pending, pk, dn, mid, custom, body] {
    auto s = broker_device_session(pk, dn);
    if (!s) {
      pending->finish("OFFLINE");
      return;
    }
    if (custom.empty()) {
      // Routed by subscription: a device that did not subscribe rrpc/request/+ never sees it.
      broker_publish("", "/sys/" + pk + "/" + dn + "/rrpc/request/" + mid, body, 0);
    } else if (s->second) {
      // Custom topic: delivered to the device when it announced ext bit 0 (spec 5.2), whether
      // it subscribed /ext/rrpc/+<topic> or only <topic>.
      broker_publish(s->first, "/ext/rrpc/" + mid + custom, body, 0);
    }
  });
  {
    std::unique_lock lk(pending->mu);
    pending->cv.wait_for(lk, std::chrono::milliseconds(timeout), [&] { return pending->done; });
  }
  {
    std::lock_guard lk(emu().pending_mu);
    emu().pending.erase(mid);
  }
  pending->finish("TIMEOUT");
  json j{{"RequestId", c.rid},
         {"Success", true},
         {"RrpcCode", pending->code},
         {"MessageId", std::stoull(mid)}};
  if (pending->code == "SUCCESS") {
    j["PayloadBase64Byte"] = enc::base64_encode(pending->payload);
  }
  send_json(c.res, 200, j);
}

void action_pub(Call& c) {
  if (!require(c, {"ProductKey", "TopicFullName", "MessageContent"})) {
    return;
  }
  const std::string pk = *param(c.ps, "ProductKey");
  const std::string t = *param(c.ps, "TopicFullName");
  const std::string qs = param(c.ps, "Qos").value_or("0");
  if (qs != "0" && qs != "1") {
    biz_error(c.res, c.rid, "iot.system.IllegalRequest", "Qos must be 0 or 1.");
    return;
  }
  if (c.view->product(pk) == nullptr) {
    biz_error(c.res, c.rid, "iot.prod.NotExistedProduct", "The product does not exist.");
    return;
  }
  if ((!t.starts_with("/" + pk + "/") && !t.starts_with("/broadcast/" + pk + "/"))
      || !topic::validate_shape(t, topic::Use::publish)) {
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
  if (payload->size() > topic::k_max_payload) {
    biz_error(c.res, c.rid, "iot.messagebroker.PublishMessageFailed",
              "The message is larger than 256 KB.");
    return;
  }
  const int qos = qs == "1" ? 1 : 0;
  const std::string body = std::move(*payload);
  auto done = on_broker<bool>([t, body, qos] {
    broker_publish("", t, body, qos);
    return true;
  });
  if (!done) {
    biz_error(c.res, c.rid, "iot.messagebroker.PublishMessageFailed", "The broker is busy.");
    return;
  }
  send_json(c.res, 200,
            {{"RequestId", c.rid},
             {"Success", true},
             {"MessageId", std::to_string(emu().next_message_id())}});
}

void action_register_device(Call& c) {
  if (!require(c, {"ProductKey"})) {
    return;
  }
  const std::string pk = *param(c.ps, "ProductKey");
  std::string dn = param(c.ps, "DeviceName").value_or("");
  const std::string nickname = param(c.ps, "Nickname").value_or("");
  if (dn.empty()) {
    auto fresh = crypto::random_alnum(20);
    if (!fresh) {
      biz_error(c.res, c.rid, "iot.system.SystemException", fresh.error().message());
      return;
    }
    dn = std::move(*fresh);
  }
  if (!validate_device_name(dn)) {
    biz_error(c.res, c.rid, "iot.device.InvalidFormattedDeviceName", "The device name is invalid.");
    return;
  }
  const auto ds = crypto::random_alnum(32);
  const auto iot_id = ds ? make_iot_id(pk, dn) : Result<std::string>(ds.error());
  if (!iot_id) {
    biz_error(c.res, c.rid, "iot.system.SystemException", iot_id.error().message());
    return;
  }
  auto r = emu().registry().create_device(pk, dn, *ds, nickname);
  if (!r) {
    biz_error(c.res, c.rid, "iot.system.SystemException", r.error().message());
    return;
  }
  if (*r == Registry::Created::no_product) {
    biz_error(c.res, c.rid, "iot.prod.NotExistedProduct", "The product does not exist.");
    return;
  }
  if (*r == Registry::Created::name_taken) {
    biz_error(c.res, c.rid, "iot.device.AlreadyExistedDeviceName",
              "The device name already exists.");
    return;
  }
  send_json(c.res, 200,
            {{"RequestId", c.rid},
             {"Success", true},
             {"Data",
              {{"IotId", *iot_id},
               {"ProductKey", pk},
               {"DeviceName", dn},
               {"DeviceSecret", *ds},
               {"Nickname", nickname}}}});
}

void action_device_status(Call& c, bool detail) {
  std::string pk, dn;
  const Device* d = nullptr;
  if (!find_device(c, pk, dn, d)) {
    return;
  }
  auto st = on_broker<DeviceStatus>([pk, dn] { return broker_device_status(pk, dn); });
  if (!st) {
    biz_error(c.res, c.rid, "iot.system.SystemException", "The broker did not answer.");
    return;
  }
  const std::string status = status_name(*d, *st);
  if (!detail) {
    send_json(c.res, 200,
              {{"RequestId", c.rid},
               {"Success", true},
               {"Data",
                {{"Status", status},
                 {"Timestamp", st->changed_ms > 0 ? st->changed_ms : d->created_ms}}}});
    return;
  }
  json data{{"IotId", d->iot_id},
            {"ProductKey", pk},
            {"ProductName", pk},
            {"DeviceName", dn},
            {"DeviceSecret", d->secret},
            {"Nickname", d->nickname},
            {"Status", status},
            {"NodeType", 0},
            {"FirmwareVersion", ""},
            {"IpAddress", st->address},
            {"Region", "cn-shanghai"},
            {"Owner", true},
            {"GmtCreate", format_time(d->created_ms, false)},
            {"UtcCreate", format_time(d->created_ms, true)},
            {"GmtOnline", st->online ? format_time(st->changed_ms, false) : ""},
            {"UtcOnline", st->online ? format_time(st->changed_ms, true) : ""}};
  send_json(c.res, 200, {{"RequestId", c.rid}, {"Success", true}, {"Data", data}});
}

// QueryProductTopic: the product's topic classes from the registry (add-topic and the defaults),
// as ProductTopicInfo with Operation 0 publish, 1 subscribe, 2 both.
void action_query_product_topic(Call& c) {
  if (!require(c, {"ProductKey"})) {
    return;
  }
  const std::string pk = *param(c.ps, "ProductKey");
  const Product* p = c.view->product(pk);
  if (p == nullptr) {
    biz_error(c.res, c.rid, "iot.prod.NotExistedProduct", "The product does not exist.");
    return;
  }
  json list = json::array();
  int id = 0;
  for (const auto& cat : p->cats) {
    list.push_back({{"TopicShortName", "/" + pk + "/${deviceName}/" + cat.topic},
                    {"Operation", cat.pub && cat.sub ? "2"
                                  : cat.pub          ? "0"
                                                     : "1"},
                    {"ProductKey", pk},
                    {"Id", std::to_string(++id)},
                    {"Desc", ""}});
  }
  send_json(c.res, 200,
            {{"RequestId", c.rid}, {"Success", true}, {"Data", {{"ProductTopicInfo", list}}}});
}

// What the gateway answers when it fails on its side (here: OpenSSL refused a digest or random
// bytes).
void internal_error(httplib::Response& res, const std::string& rid, const Error& e) {
  pop_error(res, 500, rid, "InternalError", e.message());
}

void handle_api(const httplib::Request& req, httplib::Response& res) {
  const auto made_rid = request_id();
  if (!made_rid) {
    internal_error(res, "", made_rid.error());
    return;
  }
  const std::string& rid = *made_rid;
  auto ps = request_params(req);
  if (!ps) {
    pop_error(res, 400, rid, "InvalidParameter", "The request parameters are not form encoded.");
    return;
  }
  for (const char* n : {"Action", "Version", "AccessKeyId", "Signature", "SignatureMethod",
                        "SignatureVersion", "SignatureNonce", "Timestamp"}) {
    auto v = param(*ps, n);
    if (!v || v->empty()) {
      pop_error(res, 400, rid, std::string("Missing") + n,
                std::string(n) + " is mandatory for this action.");
      return;
    }
  }
  auto view = emu().registry().current();
  const std::string akid = *param(*ps, "AccessKeyId");
  auto ak = view->access_keys.find(akid);
  if (ak == view->access_keys.end()) {
    pop_error(res, 404, rid, "InvalidAccessKeyId.NotFound", "Specified access key is not found.");
    return;
  }
  if (*param(*ps, "SignatureMethod") != "HMAC-SHA1" || *param(*ps, "SignatureVersion") != "1.0") {
    pop_error(res, 400, rid, "IncompleteSignature",
              "The request signature does not conform to Aliyun standards "
              "(SignatureMethod HMAC-SHA1, SignatureVersion 1.0).");
    return;
  }
  const auto ts = parse_timestamp(*param(*ps, "Timestamp"));
  if (!ts) {
    pop_error(res, 400, rid, "InvalidTimeStamp.Format",
              "Specified time stamp or date value is not well formatted.");
    return;
  }
  const long long now = now_ms() / 1000;
  if (*ts < now - k_timestamp_window_s || *ts > now + k_timestamp_window_s) {
    pop_error(res, 400, rid, "InvalidTimeStamp.Expired",
              "Specified time stamp or date value is expired.");
    return;
  }
  openapi::Params unsigned_params;
  std::string provided;
  for (const auto& [k, v] : *ps) {
    if (k == "Signature") {
      provided = v;
    } else {
      unsigned_params.emplace_back(k, v);
    }
  }
  const std::string sts = openapi::string_to_sign(req.method, unsigned_params);
  const auto expected = openapi::signature(Secret(ak->second), sts);
  if (!expected) {
    internal_error(res, rid, expected.error());
    return;
  }
  if (!crypto::equal_ct(*expected, provided)) {
    pop_error(res, 400, rid, "SignatureDoesNotMatch",
              "Specified signature is not matched with our calculation. server string to sign "
              "is:"
                  + sts);
    return;
  }
  {
    std::lock_guard lk(emu().nonce_mu);
    auto& nonces = emu().nonces;
    for (auto it = nonces.begin(); it != nonces.end();) {
      it = it->second < now ? nonces.erase(it) : std::next(it);
    }
    const std::string nonce = akid + "\n" + *param(*ps, "SignatureNonce");
    if (nonces.count(nonce) != 0) {
      pop_error(res, 400, rid, "SignatureNonceUsed", "Specified signature nonce was used already.");
      return;
    }
    nonces[nonce] = now + 2 * k_timestamp_window_s;
  }
  if (*param(*ps, "Version") != "2018-01-20") {
    pop_error(res, 400, rid, "InvalidVersion", "Specified parameter Version is not valid.");
    return;
  }
  Call c{req, res, *ps, rid, view};
  const std::string action = *param(*ps, "Action");
  if (action == "RRpc") {
    action_rrpc(c);
  } else if (action == "Pub") {
    action_pub(c);
  } else if (action == "RegisterDevice") {
    action_register_device(c);
  } else if (action == "QueryDeviceDetail") {
    action_device_status(c, true);
  } else if (action == "GetDeviceStatus") {
    action_device_status(c, false);
  } else if (action == "QueryProductTopic") {
    action_query_product_topic(c);
  } else if (thing_action(action, c) || ota_action(action, c)) {
    // SetDeviceProperty, InvokeThingService, QueryDeviceProperty*, QueryDeviceEventData,
    // PubBroadcast (http_thing.cpp)
  } else {
    pop_error(res, 404, rid, "InvalidAction.NotFound",
              "Specified api is not found, please check your url and method.");
  }
}

// The operator endpoints show what devices sent: HTTP Basic authentication with an AccessKey of
// the registry (`<AccessKeyId>:<AccessKey secret>`, as the MQTT operator login). 401 otherwise.
bool operator_authorized(const httplib::Request& req, httplib::Response& res) {
  const std::string header = req.get_header_value("Authorization");
  const std::string scheme = "Basic ";
  bool ok = false;
  if (header.size() > scheme.size()
      && enc::to_lower(header.substr(0, scheme.size())) == enc::to_lower(scheme)) {
    const auto decoded = enc::base64_decode(header.substr(scheme.size()));
    if (decoded) {
      const auto colon = decoded->find(':');
      if (colon != std::string::npos) {
        auto view = emu().registry().current();
        const auto it = view->access_keys.find(decoded->substr(0, colon));
        ok = it != view->access_keys.end()
             && crypto::equal_ct(it->second, decoded->substr(colon + 1));
      }
    }
  }
  if (!ok) {
    res.set_header("WWW-Authenticate", R"(Basic realm="aliot emulator operator")");
    send_json(res, 401,
              {{"error", "an AccessKey is needed: curl -u \"$ALIOT_ACCESS_KEY_ID:"
                         "$ALIOT_ACCESS_KEY_SECRET\" (aliot emulate cloud add-access-key)"}});
  }
  return ok;
}

// GET /emu/status: the registry's products and devices, the devices online now, the broker's
// sessions and its descriptor limit. Counts only (no names, no secrets): no AccessKey needed,
// like /emu/health, so a load script can poll it.
void handle_status(const httplib::Request&, httplib::Response& res) {
  auto counts = emu().registry().counts();
  auto live = on_broker<BrokerCounts>([] { return broker_counts(); });
  if (!counts || !live) {
    res.status = 503;
    res.set_content(nlohmann::json{{"error", !counts ? counts.error().message()
                                                     : "the broker did not answer within 3 s"}}
                            .dump()
                        + "\n",
                    "application/json");
    return;
  }
  rlimit fds{};
  ::getrlimit(RLIMIT_NOFILE, &fds);
  const auto limit = [](rlim_t v) {
    return v == RLIM_INFINITY ? -1LL : static_cast<long long>(v);
  };
  res.set_content(nlohmann::json{{"products", counts->products},
                                 {"devices", counts->devices},
                                 {"online", live->online},
                                 {"sessions", live->sessions},
                                 {"fd_limit", limit(fds.rlim_cur)},
                                 {"fd_limit_max", limit(fds.rlim_max)}}
                          .dump()
                      + "\n",
                  "application/json");
}

void handle_messages(const httplib::Request& req, httplib::Response& res) {
  if (!operator_authorized(req, res)) {
    return;
  }
  const std::string filter = req.has_param("topic") ? req.get_param_value("topic") : "#";
  std::uint64_t since = 0;
  std::size_t limit = 1000;
  try {
    if (req.has_param("since")) {
      since = std::stoull(req.get_param_value("since"));
    }
    if (req.has_param("limit")) {
      limit = std::stoull(req.get_param_value("limit"));
    }
  } catch (const std::exception&) {
    send_json(res, 400, {{"error", "since and limit must be numbers"}});
    return;
  }
  std::uint64_t next = 0;
  json list = json::array();
  for (const auto& m : emu().messages.since(since, filter, limit, next)) {
    list.push_back({{"seq", m.seq},
                    {"ts", format_time(m.ts_ms, true)},
                    {"ts_ms", m.ts_ms},
                    {"topic", m.topic},
                    {"qos", m.qos},
                    {"payload_base64", enc::base64_encode(m.payload)},
                    {"client", m.client}});
  }
  send_json(res, 200, {{"messages", list}, {"next", next}});
}

void reg_reply(httplib::Response& res,
               int code,
               const std::string& message,
               const json& data = nullptr) {
  json j{{"code", code}};
  if (!data.is_null()) {
    j["data"] = data;
  }
  j["message"] = message;
  send_json(res, 200, j);
}

void handle_register(const httplib::Request& req, httplib::Response& res) {
  auto ps = enc::form_decode(req.body);
  if (!ps) {
    reg_reply(res, 460, "request parameter error");
    return;
  }
  const auto pk = param(*ps, "productKey");
  const auto dn = param(*ps, "deviceName");
  const auto random = param(*ps, "random");
  const auto sign_hex = param(*ps, "sign");
  const auto method_name = param(*ps, "signMethod");
  if (!pk || !dn || !random || !sign_hex || !method_name || pk->empty() || dn->empty()
      || random->empty() || sign_hex->empty()) {
    reg_reply(res, 460, "request parameter error");
    return;
  }
  auto method = sign::parse_method(*method_name);
  if (!method) {
    reg_reply(res, 460, "request parameter error");
    return;
  }
  auto view = emu().registry().current();
  const Product* p = view->product(*pk);
  if (p == nullptr) {
    reg_reply(res, 404, "product not found (emulator)");
    return;
  }
  const auto expected = sign::dynreg_sign(*method, Secret(p->secret), *pk, *dn, *random);
  if (!expected) {
    reg_reply(res, 500, "internal error");
    return;
  }
  if (!sign::digest_equal(*expected, *sign_hex)) {
    reg_reply(res, 401, "request auth error");
    return;
  }
  if (!p->dynreg) {
    reg_reply(res, 403, "dynamic registration is off for this product (emulator)");
    return;
  }
  const Device* d = view->device(*pk, *dn);
  if (d == nullptr) {
    reg_reply(res, 404, "device not found: register it first (emulator)");
    return;
  }
  if (!d->enabled) {
    reg_reply(res, 403, "device is disabled (emulator)");
    return;
  }
  if (d->activated) {
    reg_reply(res, 409, "device is already activated (emulator)");
    return;
  }
  const auto ds = crypto::random_alnum(32);
  if (!ds) {
    reg_reply(res, 500, "internal error");
    return;
  }
  auto r = emu().registry().set_device_secret(*pk, *dn, *ds);
  if (!r) {
    reg_reply(res, 500, "internal error");
    return;
  }
  reg_reply(res, 200, "success", {{"productKey", *pk}, {"deviceName", *dn}, {"deviceSecret", *ds}});
}

// Binds and applies the listen backlog fix (Debian's httplib listens with a backlog of 5).
bool bind_server(httplib::Server& s, int port, std::string& why, const char* what) {
  auto fd = std::make_shared<int>(-1);
  s.set_socket_options([fd](socket_t sock) {
    httplib::default_socket_options(sock);
    *fd = sock;
  });
  s.set_tcp_nodelay(true);
  // Clients that open a connection and send half a request (or nothing) must not starve the
  // OpenAPI: each one holds a worker only until a read stalls for 2 s, and there are workers for
  // many more of them than a test or a script opens at once.
  s.set_read_timeout(2, 0);
  s.set_keep_alive_timeout(2);
  s.new_task_queue = [] {
    return new httplib::ThreadPool(128);
  };
  if (!s.bind_to_port("127.0.0.1", port)) {
    why = std::string("cannot listen for the ") + what + " on 127.0.0.1:" + std::to_string(port)
          + ": port busy or not allowed";
    return false;
  }
  if (*fd >= 0) {
    ::listen(*fd, 128);
  }
  return true;
}

} // namespace

bool start_http(Emu& e, std::string& why) {
  auto& sv = servers();
  sv.api = new httplib::Server();
  sv.reg = new httplib::SSLServer(e.cert_file.c_str(), e.key_file.c_str());
  if (!sv.reg->is_valid()) {
    why = "cannot load the server certificate " + e.cert_file;
    return false;
  }
  sv.api->Get("/", handle_api);
  // POST bodies are read through a ContentReader: the library's own form handling refuses
  // url-encoded bodies over 8 KiB (compiled into Debian's libcpp-httplib), while a Pub of the
  // platform's 256 KB payload is about 350 KB once Base64- and percent-encoded.
  sv.api->Post("/", [](const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& reader) {
    constexpr std::size_t k_max_body = 2 * 1024 * 1024;
    httplib::Request full = req;
    bool too_big = false;
    reader([&](const char* data, std::size_t n) {
      if (full.body.size() + n > k_max_body) {
        too_big = true;
        return false;
      }
      full.body.append(data, n);
      return true;
    });
    if (too_big) {
      res.status = 413;
      res.set_content(R"({"Code":"RequestEntityTooLarge","Message":"request body over 2 MiB"})",
                      "application/json");
      return;
    }
    handle_api(full, res);
  });
  sv.api->Get("/emu/messages", handle_messages);
  sv.api->Get("/emu/status", handle_status);
  sv.api->Get("/emu/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  sv.reg->Post("/auth/register/device", handle_register);
  ota_routes(*sv.reg, e.dir);
  if (!bind_server(*sv.api, e.api_port, why, "OpenAPI")
      || !bind_server(*sv.reg, e.https_port, why, "HTTPS registration")) {
    return false;
  }
  // Our threads must not take the broker's signals (SIGTERM, SIGHUP, SIGUSR1/2, the wake signal).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  sv.api_thread = new std::thread([s = sv.api] { s->listen_after_bind(); });
  sv.reg_thread = new std::thread([s = sv.reg] { s->listen_after_bind(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return true;
}

void stop_http() {
  auto& sv = servers();
  if (sv.api != nullptr) {
    sv.api->stop();
  }
  if (sv.reg != nullptr) {
    sv.reg->stop();
  }
  if (sv.api_thread != nullptr && sv.api_thread->joinable()) {
    sv.api_thread->join();
  }
  if (sv.reg_thread != nullptr && sv.reg_thread->joinable()) {
    sv.reg_thread->join();
  }
  // Pending RRPC waits end by their own timeouts; the objects stay alive (never deleted).
}

} // namespace aliot::emu
