// One-type-one-secret (dynamic registration, spec section 4): the HTTPS request and its reply,
// the MQTT flow (authType=register / regnwl) and its /ext/register and /ext/regnwl replies, and
// the results file (`--out`): one JSON line per device, durable before it is shown. Batches
// (names files, workers, resume) are in aliot/dynreg_batch.hpp.
#pragma once

#include <aliot/endpoint.hpp>
#include <aliot/error.hpp>
#include <aliot/http.hpp>
#include <aliot/identity.hpp>
#include <aliot/log.hpp>
#include <aliot/secret.hpp>
#include <aliot/sign.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::dynreg {

inline constexpr std::string_view k_https_path = "/auth/register/device";

struct Request {
  std::string product_key;
  std::string device_name;
  std::string random;
  sign::Method method = sign::Method::hmacsha256;
};

// A random value as the Python SDK and iotkit make it: 15 alphanumerics.
Result<std::string> new_random();

struct HttpsRequest {
  std::string url;  // <auth endpoint>/auth/register/device
  std::string body; // productKey, deviceName, random, sign, signMethod (form-encoded)
};

// `auth_endpoint` is a base URL such as https://iot-auth.cn-shanghai.aliyuncs.com (a trailing
// slash is tolerated).
Result<HttpsRequest>
https_request(std::string_view auth_endpoint, const Request& r, const Secret& product_secret);

// The platform's JSON reply: code 200 -> the triplet; code 401 -> Errc::auth (bad sign);
// anything else -> Errc::remote with the platform's code and message and what to do.
Result<Triplet> parse_https_reply(long http_status, std::string_view body, const Request& r);

// Sends the request with `client` and parses the reply.
Result<Triplet> register_https(http::Client& client,
                               std::string_view auth_endpoint,
                               const Request& r,
                               const Secret& product_secret);

// How to register over MQTT (spec 4.4): TLS to the device MQTT endpoint, with the registration
// options in the client id.
struct MqttOptions {
  MqttEndpoint endpoint;                    // host, port and trust (always TLS)
  bool preregistered = true;                // authType=register; false: regnwl (no pre-creation)
  std::optional<std::string> instance_id;   // IotInstanceId of a new public / Enterprise instance
  std::string client_id;                    // before the options; empty: "${dn}.${pk}"
  int securemode = 2;                       // 2 (what the SDKs send) or -2 (documented)
  std::chrono::milliseconds timeout{10000}; // from CONNECT to the platform's reply
  const std::atomic<bool>* interrupt = nullptr; // when set: Errc::interrupted
};

// The CONNECT client id, user name and password that register `r` (what a dry run shows).
Result<sign::MqttCredentials>
mqtt_credentials(const MqttOptions& o, const Request& r, const Secret& product_secret);

// Connects with authType=register (or regnwl), takes the reply the platform pushes on
// /ext/register (or /ext/regnwl) right after CONNACK, and disconnects. Returns the DeviceSecret
// (or ClientId and DeviceToken). Errors: Errc::auth for a refused CONNACK (with what to check),
// Errc::timeout when no reply comes within `o.timeout`, Errc::network, Errc::interrupted,
// Errc::remote for a malformed reply. Other messages meanwhile are logged at debug and ignored.
Result<Triplet> register_mqtt(const MqttOptions& o,
                              const Request& r,
                              const Secret& product_secret,
                              const Logger& log = {});

// The payload of /ext/register ({productKey, deviceName, deviceSecret}) or /ext/regnwl
// ({clientId, productKey, deviceName, deviceToken}). Errc::remote if malformed.
Result<Triplet>
parse_mqtt_reply(std::string_view topic, std::string_view payload, const Request& r);

// The results file of `register --out`: JSON Lines, created 0600, each line appended with one
// write() and fsync'ed before append() returns. Opening it repairs a torn last line (a crash in
// the middle of a write): a partial line that is not a complete record is cut off, a complete
// record missing its newline gets one. Thread-safe.
class OutFile {
public:
  static Result<OutFile> open(const std::string& path);
  OutFile(OutFile&&) noexcept;
  OutFile& operator=(OutFile&&) noexcept;
  ~OutFile();

  // Devices ("pk/dn") that already have a complete record.
  bool contains(std::string_view pk, std::string_view dn) const;
  std::size_t size() const;
  // Whether open() had to repair the end of the file.
  bool repaired() const;

  // Appends `json_line` (no newline) for device pk/dn and makes it durable. Errc::io on failure,
  // after cutting the file back to its length before the append (and syncing it), so a failed
  // append never leaves a torn line behind.
  Result<void> append(std::string_view pk, std::string_view dn, std::string_view json_line);

private:
  OutFile();
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace aliot::dynreg
