#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/openapi_client.hpp>
#include <aliot/time.hpp>

#include <nlohmann/json.hpp>

#include <chrono>

namespace aliot::openapi {

namespace {

std::string base_url(std::string_view endpoint) {
  std::string base(endpoint);
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  return base + "/";
}

std::string json_text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return {};
  }
  if (it->is_string()) {
    return it->get<std::string>();
  }
  return it->dump(); // numbers (MessageId is a Long in the docs)
}

bool is_auth_code(std::string_view code) {
  static constexpr std::string_view k_auth[] = {"SignatureDoesNotMatch",
                                                "IncompleteSignature",
                                                "InvalidAccessKeyId",
                                                "InvalidAccessKeyId.NotFound",
                                                "InvalidAccessKeyId.Inactive",
                                                "Forbidden.AccessKeyDisabled",
                                                "InvalidSecurityToken",
                                                "Forbidden.RAM",
                                                "Forbidden",
                                                "NoPermission",
                                                "iot.common.AuthActionPermissionDeny",
                                                "iot.common.InvalidTenant"};
  for (auto c : k_auth) {
    if (code == c) {
      return true;
    }
  }
  return code.starts_with("InvalidAccessKeyId") || code.starts_with("Forbidden");
}

std::string hint_for(std::string_view code) {
  if (code == "SignatureDoesNotMatch" || code == "IncompleteSignature") {
    return "the AccessKey secret does not match the AccessKey id: check ALIOT_ACCESS_KEY_SECRET "
           "or --access-key-secret-file";
  }
  if (code.starts_with("InvalidAccessKeyId")) {
    return "the AccessKey id is unknown or disabled: check --access-key-id / ALIOT_ACCESS_KEY_ID";
  }
  if (is_auth_code(code)) {
    return "the AccessKey lacks the permission for this action: grant it (RAM policy "
           "AliyunIOTFullAccess) or use another AccessKey";
  }
  if (code == "InvalidTimeStamp.Expired") {
    return "the request timestamp is more than 15 minutes off: check the clock";
  }
  if (code == "SignatureNonceUsed") {
    return "the SignatureNonce was used before: let aliot pick a fresh one (drop --nonce)";
  }
  if (code == "iot.device.NotExistedDevice") {
    return "check the ProductKey and DeviceName (and --instance on new public instances)";
  }
  if (code == "iot.prod.NotExistedProduct") {
    return "check the ProductKey (and --instance on new public instances)";
  }
  if (code == "iot.system.InstanceNotFound") {
    return "check --instance (the IotInstanceId in the console)";
  }
  if (code == "iot.messagebroker.InvalidTimeoutValue") {
    return "the timeout must be 1000-8000 ms";
  }
  if (code == "iot.messagebroker.RateLimit" || code.starts_with("Throttling")) {
    return "the platform throttled the call: slow down and retry";
  }
  return {};
}

} // namespace

Result<std::string> new_nonce() {
  ALIOT_TRY_ASSIGN(auto random, crypto::random_bytes(16));
  std::string& b = random;
  b[6] = static_cast<char>((static_cast<unsigned char>(b[6]) & 0x0F) | 0x40);
  b[8] = static_cast<char>((static_cast<unsigned char>(b[8]) & 0x3F) | 0x80);
  const std::string h = enc::hex_lower(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-"
         + h.substr(20);
}

std::string now_timestamp() {
  return utc_iso8601(std::chrono::system_clock::now());
}

Result<SignedRequest> sign_request(const ClientConfig& config,
                                   std::string_view action,
                                   const Params& action_params,
                                   std::string_view nonce,
                                   std::string_view timestamp) {
  Params p = action_params;
  auto set = [&p](const std::string& k, const std::string& v) {
    for (auto& [pk, pv] : p) {
      if (pk == k) {
        pv = v;
        return;
      }
    }
    p.emplace_back(k, v);
  };
  set("Action", std::string(action));
  set("Format", "JSON");
  set("Version", std::string(k_version));
  set("AccessKeyId", config.access_key_id);
  set("SignatureMethod", "HMAC-SHA1");
  set("SignatureVersion", "1.0");
  set("SignatureNonce", std::string(nonce));
  set("Timestamp", std::string(timestamp));
  if (!config.region.empty()) {
    set("RegionId", config.region);
  }
  if (config.instance_id && !config.instance_id->empty()) {
    set("IotInstanceId", *config.instance_id);
  }
  SignedRequest r;
  r.method = config.http_method == "GET" ? "GET" : "POST";
  r.string_to_sign = string_to_sign(r.method, p);
  ALIOT_TRY_ASSIGN(auto sig, signature(config.access_key_secret, r.string_to_sign));
  r.signature = std::move(sig);
  // pop-core's wire form: the canonical (sorted, encoded) query with Signature appended last.
  const std::string query = canonical_query(p) + "&Signature=" + enc::percent_encode(r.signature);
  if (r.method == "GET") {
    r.url = base_url(config.endpoint) + "?" + query;
  } else {
    r.url = base_url(config.endpoint);
    r.body = query;
  }
  return r;
}

Result<std::string> decode_reply(std::string_view action, long http_status, std::string_view body) {
  const std::string what = "OpenAPI " + std::string(action);
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote,
                 what + ": the server answered HTTP " + std::to_string(http_status)
                     + " without a JSON reply",
                 "check ALIOT_API_ENDPOINT: it must be the base URL of the cloud OpenAPI "
                 "(https://iot.<region>.aliyuncs.com)");
  }
  const std::string code = json_text(j, "Code");
  bool success = http_status >= 200 && http_status < 300 && code.empty();
  if (auto it = j.find("Success"); it != j.end() && it->is_boolean()) {
    success = it->get<bool>() && http_status >= 200 && http_status < 300;
  }
  if (success) {
    return std::string(body);
  }
  std::string message = json_text(j, "ErrorMessage");
  if (message.empty()) {
    message = json_text(j, "Message");
  }
  // The gateway quotes its string to sign at length; keep the first sentence.
  if (auto pos = message.find(" server string to sign is"); pos != std::string::npos) {
    message.resize(pos);
  }
  while (!message.empty() && (message.back() == '.' || message.back() == ' ')) {
    message.pop_back();
  }
  const std::string request_id = json_text(j, "RequestId");
  std::string text = what + ": " + (code.empty() ? "error" : code);
  if (!message.empty()) {
    text += ": " + message;
  }
  if (code.empty()) {
    text += " (HTTP " + std::to_string(http_status) + ")";
  }
  if (!request_id.empty()) {
    text += " (RequestId " + request_id + ")";
  }
  return Error(is_auth_code(code) ? Errc::auth : Errc::remote, text, hint_for(code));
}

Params rrpc_params(const RrpcRequest& r) {
  Params p{{"ProductKey", r.product_key},
           {"DeviceName", r.device_name},
           {"RequestBase64Byte", enc::base64_encode(r.payload)},
           {"Timeout", std::to_string(r.timeout_ms)}};
  if (r.topic) {
    p.emplace_back("Topic", *r.topic);
  }
  return p;
}

Params pub_params(const PubRequest& r) {
  return {{"ProductKey", r.product_key},
          {"TopicFullName", r.topic},
          {"MessageContent", enc::base64_encode(r.payload)},
          {"Qos", std::to_string(r.qos)}};
}

Result<RrpcResult> parse_rrpc(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, "OpenAPI RRpc: the reply is not JSON");
  }
  RrpcResult r;
  r.rrpc_code = json_text(j, "RrpcCode");
  r.message_id = json_text(j, "MessageId");
  r.request_id = json_text(j, "RequestId");
  if (r.rrpc_code.empty()) {
    return Error(Errc::remote, "OpenAPI RRpc: the reply has no RrpcCode");
  }
  const std::string b64 = json_text(j, "PayloadBase64Byte");
  if (!b64.empty()) {
    auto raw = enc::base64_decode(b64);
    if (!raw) {
      return Error(Errc::remote, "OpenAPI RRpc: PayloadBase64Byte is not valid Base64");
    }
    r.payload = std::move(*raw);
  }
  return r;
}

Result<PubResult> parse_pub(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, "OpenAPI Pub: the reply is not JSON");
  }
  PubResult r;
  r.message_id = json_text(j, "MessageId");
  r.request_id = json_text(j, "RequestId");
  return r;
}

Client::Client(ClientConfig config, http::ClientOptions http_options, Logger logger)
    : m_config(std::move(config))
    , m_http(std::move(http_options), logger)
    , m_logger(std::move(logger)) {}

Result<std::string> Client::send(std::string_view action, const SignedRequest& request) {
  http::Request h;
  h.method = request.method;
  h.url = request.url;
  if (request.method == "POST") {
    h.body = request.body;
    h.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  }
  h.headers.emplace_back("Accept", "application/json");
  m_logger.debug("OpenAPI " + std::string(action) + " at " + http::url_host(request.url));
  auto resp = m_http.send(h);
  if (!resp) {
    return std::move(resp).error().context("OpenAPI " + std::string(action));
  }
  return decode_reply(action, resp->status, resp->body);
}

Result<std::string> Client::call(std::string_view action, const Params& params) {
  auto nonce = new_nonce();
  if (!nonce) {
    return std::move(nonce).error().context("OpenAPI " + std::string(action));
  }
  auto request = sign_request(m_config, action, params, *nonce, now_timestamp());
  if (!request) {
    return std::move(request).error().context("OpenAPI " + std::string(action));
  }
  return send(action, *request);
}

Result<RrpcResult> Client::rrpc(const RrpcRequest& r) {
  ALIOT_TRY_ASSIGN(auto body, call("RRpc", rrpc_params(r)));
  return parse_rrpc(body);
}

Result<PubResult> Client::pub(const PubRequest& r) {
  ALIOT_TRY_ASSIGN(auto body, call("Pub", pub_params(r)));
  return parse_pub(body);
}

} // namespace aliot::openapi
