#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/sign.hpp>

namespace aliot::sign {

namespace {

crypto::Hmac hmac_of(Method m) {
  switch (m) {
  case Method::hmacmd5: return crypto::Hmac::md5;
  case Method::hmacsha1: return crypto::Hmac::sha1;
  case Method::hmacsha256: return crypto::Hmac::sha256;
  }
  return crypto::Hmac::sha256;
}

std::string join_options(const Options& opts) {
  std::string out;
  for (const auto& [k, v] : opts) {
    if (!out.empty()) {
      out.push_back(',');
    }
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

} // namespace

std::string_view method_name(Method m) {
  switch (m) {
  case Method::hmacmd5: return "hmacmd5";
  case Method::hmacsha1: return "hmacsha1";
  case Method::hmacsha256: return "hmacsha256";
  }
  return "hmacsha256";
}

Result<Method> parse_method(std::string_view name) {
  for (Method m : {Method::hmacmd5, Method::hmacsha1, Method::hmacsha256}) {
    if (enc::iequals(name, method_name(m))) {
      return m;
    }
  }
  return Error(Errc::usage, "sign method '" + std::string(name)
                                + "' is not one of hmacsha256, hmacsha1, hmacmd5");
}

std::string default_client_id(std::string_view pk, std::string_view dn) {
  return std::string(pk) + "." + std::string(dn);
}

std::string username(std::string_view pk, std::string_view dn) {
  return std::string(dn) + "&" + std::string(pk);
}

std::string mqtt_sign_content(std::string_view pk,
                              std::string_view dn,
                              std::optional<std::string_view> client_id,
                              std::optional<std::string_view> timestamp) {
  // Parameter names in ASCII order: clientId, deviceName, productKey, timestamp.
  std::string content;
  if (client_id) {
    content += "clientId";
    content += *client_id;
  }
  content += "deviceName";
  content += dn;
  content += "productKey";
  content += pk;
  if (timestamp) {
    content += "timestamp";
    content += *timestamp;
  }
  return content;
}

Result<std::string> mqtt_password(Method m, const Secret& device_secret, std::string_view content) {
  return crypto::hmac_hex(hmac_of(m), device_secret.reveal(), content);
}

Result<MqttCredentials> mqtt_credentials(const MqttParams& p, const Secret& device_secret) {
  const std::string id =
      p.client_id.empty() ? default_client_id(p.product_key, p.device_name) : p.client_id;
  Options opts{{"securemode", std::to_string(p.securemode)},
               {"signmethod", std::string(method_name(p.method))}};
  if (p.timestamp) {
    opts.emplace_back("timestamp", *p.timestamp);
  }
  opts.insert(opts.end(), p.extra_options.begin(), p.extra_options.end());
  const std::optional<std::string_view> ts =
      p.timestamp ? std::optional<std::string_view>(*p.timestamp) : std::nullopt;
  const std::string content = mqtt_sign_content(p.product_key, p.device_name, id, ts);
  ALIOT_TRY_ASSIGN(auto password, mqtt_password(p.method, device_secret, content));
  return MqttCredentials{id + "|" + join_options(opts) + "|",
                         username(p.product_key, p.device_name), Secret(std::move(password))};
}

MqttCredentials token_credentials(std::string_view client_id,
                                  std::string_view pk,
                                  std::string_view dn,
                                  const Secret& device_token) {
  return MqttCredentials{std::string(client_id) + "|securemode=-2,authType=connwl|",
                         username(pk, dn), device_token};
}

std::string dynreg_sign_content(std::string_view pk, std::string_view dn, std::string_view random) {
  std::string content = "deviceName";
  content += dn;
  content += "productKey";
  content += pk;
  content += "random";
  content += random;
  return content;
}

Result<std::string> dynreg_sign(Method m,
                                const Secret& product_secret,
                                std::string_view pk,
                                std::string_view dn,
                                std::string_view random) {
  return crypto::hmac_hex(hmac_of(m), product_secret.reveal(), dynreg_sign_content(pk, dn, random));
}

Result<MqttCredentials> dynreg_mqtt_credentials(const DynregMqttParams& p,
                                                const Secret& product_secret) {
  // The order the official C SDK sends (vectors A-DM-1, A-DM-2); order is irrelevant to the
  // platform.
  Options opts{{"random", p.random},
               {"authType", p.preregistered ? "register" : "regnwl"},
               {"securemode", std::to_string(p.securemode)},
               {"signmethod", std::string(method_name(p.method))}};
  if (p.instance_id) {
    opts.emplace_back("instanceId", *p.instance_id);
  }
  const std::string id = p.client_id.empty() ? p.device_name + "." + p.product_key : p.client_id;
  ALIOT_TRY_ASSIGN(auto sign,
                   dynreg_sign(p.method, product_secret, p.product_key, p.device_name, p.random));
  return MqttCredentials{id + "|" + join_options(opts) + "|",
                         username(p.product_key, p.device_name), Secret(std::move(sign))};
}

std::optional<std::string> ClientIdParts::option(std::string_view key) const {
  for (const auto& [k, v] : options) {
    if (enc::iequals(k, key)) {
      return v;
    }
  }
  return std::nullopt;
}

Result<ClientIdParts> parse_client_id(std::string_view full) {
  const std::size_t first = full.find('|');
  const std::size_t last = full.rfind('|');
  if (first == std::string_view::npos || first == last) {
    return Error(Errc::usage, "client id has no option section between two '|'");
  }
  if (last != full.size() - 1) {
    return Error(Errc::usage, "client id has text after the closing '|'");
  }
  ClientIdParts parts;
  parts.client_id = std::string(full.substr(0, first));
  if (parts.client_id.empty()) {
    return Error(Errc::usage, "client id part before '|' is empty");
  }
  const std::string_view body = full.substr(first + 1, last - first - 1);
  if (body.find('|') != std::string_view::npos) {
    return Error(Errc::usage, "client id options contain a '|'");
  }
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t comma = body.find(',', pos);
    if (comma == std::string_view::npos) {
      comma = body.size();
    }
    const std::string_view item = body.substr(pos, comma - pos);
    if (!item.empty()) {
      const std::size_t eq = item.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return Error(Errc::usage, "client id option '" + std::string(item) + "' is not key=value");
      }
      parts.options.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
    }
    pos = comma + 1;
  }
  return parts;
}

bool digest_equal(std::string_view a, std::string_view b) {
  return crypto::equal_ct(enc::to_lower(a), enc::to_lower(b));
}

} // namespace aliot::sign
