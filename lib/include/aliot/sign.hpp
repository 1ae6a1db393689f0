// Aliyun's signed MQTT credentials (spec section 2.3-2.5) and the dynamic-registration sign
// (section 4.2). Time and randomness are inputs, so every vector of the spec can be reproduced.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aliot::sign {

enum class Method { hmacmd5, hmacsha1, hmacsha256 };

std::string_view method_name(Method m);
// Case-insensitive; Errc::usage naming the accepted values otherwise.
Result<Method> parse_method(std::string_view name);

using Options = std::vector<std::pair<std::string, std::string>>;

struct MqttParams {
  std::string product_key;
  std::string device_name;
  std::string client_id; // the custom part; empty means "${pk}.${dn}"
  Method method = Method::hmacsha256;
  std::optional<std::string> timestamp; // milliseconds as text; absent = not signed, not sent
  int securemode = 2;                   // 2 TLS, 3 plain TCP
  Options extra_options;                // appended after the standard ones, e.g. {"ext","1"}
};

struct MqttCredentials {
  std::string client_id; // the whole `id|options|` string sent in CONNECT
  std::string username;  // `${dn}&${pk}`
  Secret password;
};

std::string default_client_id(std::string_view pk, std::string_view dn);
std::string username(std::string_view pk, std::string_view dn);

// `clientId<id>deviceName<dn>productKey<pk>timestamp<ts>`, parts sorted, no separators.
std::string mqtt_sign_content(std::string_view pk,
                              std::string_view dn,
                              std::optional<std::string_view> client_id,
                              std::optional<std::string_view> timestamp);

// Lower-case hex HMAC of the sign content keyed with the DeviceSecret.
Result<std::string> mqtt_password(Method m, const Secret& device_secret, std::string_view content);

Result<MqttCredentials> mqtt_credentials(const MqttParams& p, const Secret& device_secret);

// Login with a device token (`authType=connwl`): the password is the token itself.
MqttCredentials token_credentials(std::string_view client_id,
                                  std::string_view pk,
                                  std::string_view dn,
                                  const Secret& device_token);

// Dynamic registration (one-type-one-secret).
std::string dynreg_sign_content(std::string_view pk, std::string_view dn, std::string_view random);
Result<std::string> dynreg_sign(Method m,
                                const Secret& product_secret,
                                std::string_view pk,
                                std::string_view dn,
                                std::string_view random);

struct DynregMqttParams {
  std::string product_key;
  std::string device_name;
  std::string random;
  Method method = Method::hmacsha256;
  bool preregistered = true;              // authType=register; false = regnwl
  std::optional<std::string> instance_id; // new public / Enterprise instance
  std::string client_id;                  // empty means "${dn}.${pk}" (what the SDKs send)
  int securemode = 2;
};

Result<MqttCredentials> dynreg_mqtt_credentials(const DynregMqttParams& p,
                                                const Secret& product_secret);

// The parts of a CONNECT client identifier `id|k=v,k=v|`.
struct ClientIdParts {
  std::string client_id;
  Options options;
  // Case-insensitive key lookup (the Android SDK sends both authType and authtype).
  std::optional<std::string> option(std::string_view key) const;
};

// Splits on the first and last '|'; tolerates empty items; Errc::usage if malformed.
Result<ClientIdParts> parse_client_id(std::string_view full);

// Case-insensitive comparison of two hex digests, constant time.
bool digest_equal(std::string_view a, std::string_view b);

} // namespace aliot::sign
