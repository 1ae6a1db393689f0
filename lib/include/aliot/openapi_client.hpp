// The cloud OpenAPI client (product Iot, version 2018-01-20, RPC style, spec section 6): signed
// requests (signature 1.0 from openapi.hpp), sent over HTTPS, with the business envelope and the
// gateway envelope decoded into errors. The actions aliot uses: RRpc and Pub.
#pragma once

#include <aliot/error.hpp>
#include <aliot/http.hpp>
#include <aliot/log.hpp>
#include <aliot/openapi.hpp>
#include <aliot/secret.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aliot::openapi {

inline constexpr std::string_view k_version = "2018-01-20";

struct ClientConfig {
  std::string endpoint;               // base URL, e.g. https://iot.cn-shanghai.aliyuncs.com
  std::string region = "cn-shanghai"; // RegionId
  std::string access_key_id;
  Secret access_key_secret;
  std::optional<std::string> instance_id; // IotInstanceId, added to every call when set
  std::string http_method = "POST";       // POST (form body) or GET (query string)
};

// A request ready to send: what --dry-run prints.
struct SignedRequest {
  std::string method; // GET or POST
  std::string url;    // for GET it carries the whole query
  std::string body;   // for POST: the form body, Signature last
  std::string string_to_sign;
  std::string signature;
};

// A fresh SignatureNonce (random UUID v4 text) and the current time in ISO 8601 UTC.
Result<std::string> new_nonce();
std::string now_timestamp();

// Adds the common parameters (Action, Format=JSON, Version, AccessKeyId, SignatureMethod,
// SignatureVersion, SignatureNonce, Timestamp, RegionId, IotInstanceId) to the action's
// parameters and signs them.
Result<SignedRequest> sign_request(const ClientConfig& config,
                                   std::string_view action,
                                   const Params& action_params,
                                   std::string_view nonce,
                                   std::string_view timestamp);

// Decodes a reply: the business envelope (Success/Code/ErrorMessage) and the POP gateway
// envelope (Code/Message/HostId with a 4xx status). Signature and AccessKey errors are
// Errc::auth; other API errors Errc::remote naming the platform's Code and message. On success
// returns the body (JSON text).
Result<std::string> decode_reply(std::string_view action, long http_status, std::string_view body);

struct RrpcRequest {
  std::string product_key;
  std::string device_name;
  std::string payload;              // raw bytes (Base64-encoded on the wire)
  int timeout_ms = 5000;            // 1000-8000
  std::optional<std::string> topic; // custom-topic RRPC
};

struct RrpcResult {
  std::string rrpc_code; // SUCCESS, TIMEOUT, OFFLINE, HALFCONN, UNKNOWN
  std::string message_id;
  std::string payload; // raw reply bytes (decoded from PayloadBase64Byte)
  std::string request_id;
};

struct PubRequest {
  std::string product_key;
  std::string topic;   // TopicFullName
  std::string payload; // raw bytes
  int qos = 0;
};

struct PubResult {
  std::string message_id;
  std::string request_id;
};

Params rrpc_params(const RrpcRequest& r);
Params pub_params(const PubRequest& r);
// Parse a decoded success body.
Result<RrpcResult> parse_rrpc(std::string_view body);
Result<PubResult> parse_pub(std::string_view body);

class Client {
public:
  Client(ClientConfig config, http::ClientOptions http_options, Logger logger = {});

  // Signs with a fresh nonce and timestamp, sends, decodes. Returns the success body.
  Result<std::string> call(std::string_view action, const Params& params);
  // Sends an already signed request (e.g. the one --dry-run printed).
  Result<std::string> send(std::string_view action, const SignedRequest& request);

  Result<RrpcResult> rrpc(const RrpcRequest& r);
  Result<PubResult> pub(const PubRequest& r);

  const ClientConfig& config() const { return m_config; }

private:
  ClientConfig m_config;
  http::Client m_http;
  Logger m_logger;
};

} // namespace aliot::openapi
