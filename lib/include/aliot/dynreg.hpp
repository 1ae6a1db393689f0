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
// anything else -> Errc::remote with the platform's code and message and what to do. A
// DeviceSecret that is not text aliot accepts (validate_device_secret: control characters,
// blanks, bytes that are not printable ASCII, more than 64 characters) is Errc::remote.
Result<Triplet> parse_https_reply(long http_status, std::string_view body, const Request& r);

// Whether a reply may carry credentials the platform issued: a JSON reply with code 200, or a
// 2xx that is not JSON (bytes that are not UTF-8, say) naming a deviceSecret or deviceToken.
// Such a reply that parse_https_reply refuses is quarantined.
bool https_reply_may_hold_credentials(long http_status, std::string_view body);

// Keeps the raw bytes of a reply whose credentials were refused, so nothing the platform issued
// is thrown away: a new file `<dir>/<pk>.<dn>.<UTC time>.<random>.reply`, 0600, written
// atomically (the directory is created 0700 if missing). Returns its path; Errc::io on failure.
Result<std::string>
quarantine_reply(const std::string& dir, const Request& r, std::string_view raw);

// `e` (the refusal of a reply that may hold credentials) after keeping `raw` by
// quarantine_reply: the message says where it is kept, or Errc::io when keeping it failed.
Error keep_refused_reply(Error e,
                         const std::string& quarantine_dir,
                         const Request& r,
                         std::string_view raw);

// Sends the request with `client` and parses the reply. A reply that may hold credentials and is
// refused is kept by quarantine_reply in `quarantine_dir`; the error says where (or that keeping
// it failed).
Result<Triplet> register_https(http::Client& client,
                               std::string_view auth_endpoint,
                               const Request& r,
                               const Secret& product_secret,
                               const std::string& quarantine_dir = {});

// How to register over MQTT (spec 4.4): TLS to the device MQTT endpoint, with the registration
// options in the client id.
struct MqttOptions {
  MqttEndpoint endpoint;                    // host, port and trust (always TLS)
  bool preregistered = true;                // authType=register; false: regnwl (no pre-creation)
  std::optional<std::string> instance_id;   // IotInstanceId of a new public / Enterprise instance
  std::string client_id;                    // before the options; empty: "${dn}.${pk}"
  int securemode = 2;                       // 2 (what the SDKs send) or -2 (documented)
  std::chrono::milliseconds timeout{10000}; // from CONNECT to the platform's reply
  // When set and it becomes true: Errc::interrupted (the session is abandoned, its reply unread).
  const std::atomic<bool>* interrupt = nullptr;
  std::string quarantine_dir; // where a refused reply on /ext/register|regnwl is kept
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
// ({clientId, productKey, deviceName, deviceToken}). Errc::remote if malformed, or if the
// credentials are not text aliot accepts (the DeviceSecret by validate_device_secret; the
// ClientId and DeviceToken printable ASCII without blanks, at most 256 characters).
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
