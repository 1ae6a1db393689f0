// SASL PLAIN credentials of an AMQP consumer (spec section 7).
#include <aliot/amqp.hpp>
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace aliot::amqp {

namespace {

crypto::Hmac hmac_of(sign::Method m) {
  switch (m) {
  case sign::Method::hmacmd5: return crypto::Hmac::md5;
  case sign::Method::hmacsha1: return crypto::Hmac::sha1;
  case sign::Method::hmacsha256: return crypto::Hmac::sha256;
  }
  return crypto::Hmac::sha256;
}

// A value between the bars may not contain the separators of the user name.
bool plain_value(std::string_view v) {
  if (v.empty()) {
    return false;
  }
  for (char c : v) {
    if (c == '|' || c == ',' || c == '=' || static_cast<unsigned char>(c) <= 0x20) {
      return false;
    }
  }
  return true;
}

} // namespace

std::string string_to_sign(std::string_view access_key_id, std::string_view timestamp) {
  return "authId=" + std::string(access_key_id) + "&timestamp=" + std::string(timestamp);
}

Result<std::string> password(sign::Method method,
                             std::string_view access_key_secret,
                             std::string_view access_key_id,
                             std::string_view timestamp) {
  ALIOT_TRY_ASSIGN(auto mac, crypto::hmac(hmac_of(method), access_key_secret,
                                          string_to_sign(access_key_id, timestamp)));
  return enc::base64_encode(mac);
}

Result<Credentials> credentials(const CredentialParams& p, const Secret& access_key_secret) {
  Credentials c;
  c.username = p.client_id + "|authMode=aksign,signMethod=" + std::string(method_name(p.method))
               + ",timestamp=" + p.timestamp + ",authId=" + p.access_key_id;
  if (p.instance_id && !p.instance_id->empty()) {
    c.username += ",iotInstanceId=" + *p.instance_id;
  }
  c.username += ",consumerGroupId=" + p.consumer_group + "|";
  c.string_to_sign = string_to_sign(p.access_key_id, p.timestamp);
  ALIOT_TRY_ASSIGN(auto pw,
                   password(p.method, access_key_secret.reveal(), p.access_key_id, p.timestamp));
  c.password = Secret(std::move(pw));
  return c;
}

std::optional<std::string> UserName::option(std::string_view key) const {
  for (const auto& [k, v] : options) {
    if (enc::iequals(k, key)) {
      return v;
    }
  }
  return std::nullopt;
}

Result<UserName> parse_username(std::string_view u) {
  const auto first = u.find('|');
  if (first == std::string_view::npos || u.size() < first + 2 || u.back() != '|') {
    return Error(Errc::auth, "AMQP user name is not 'clientId|key=value,...|'");
  }
  UserName out;
  out.client_id = std::string(u.substr(0, first));
  std::string_view rest = u.substr(first + 1, u.size() - first - 2);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view kv = rest.substr(0, comma);
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Error(Errc::auth, "AMQP user name option '" + std::string(kv) + "' is not key=value");
    }
    out.options[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return out;
}

std::string default_client_id() {
  char host[64] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "aliot");
  }
  std::string id = std::string(host).substr(0, 40) + "-" + std::to_string(::getpid());
  for (char& c : id) {
    if (c == '|' || c == ',' || c == '=' || c == ' ') {
      c = '_';
    }
  }
  return id;
}

Result<void> validate_params(const CredentialParams& p) {
  if (p.client_id.empty() || p.client_id.size() > 64 || !plain_value(p.client_id)) {
    return Error(Errc::usage, "client id '" + p.client_id
                                  + "' is not valid: 1-64 characters, no '|', ',', "
                                    "'=' or spaces");
  }
  if (!plain_value(p.consumer_group)) {
    return Error(Errc::usage, "consumer group '" + p.consumer_group + "' is not valid",
                 "give --consumer-group ID as shown in the console");
  }
  if (!plain_value(p.access_key_id)) {
    return Error(Errc::config, "AccessKey id '" + p.access_key_id + "' is not valid");
  }
  if (p.instance_id && !p.instance_id->empty() && !plain_value(*p.instance_id)) {
    return Error(Errc::usage, "instance id '" + *p.instance_id + "' is not valid");
  }
  return ok();
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint e;
  std::string_view rest = text;
  if (rest.starts_with("amqps://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("amqp://")) {
    rest.remove_prefix(7);
    e.tls = false;
  } else if (rest.find("://") != std::string_view::npos) {
    return Error(Errc::usage, "AMQP endpoint '" + std::string(text) + "' is not amqps://HOST:PORT");
  }
  while (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    const std::string port(rest.substr(colon + 1));
    char* end = nullptr;
    const long v = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || v < 1 || v > 65535) {
      return Error(Errc::usage, "AMQP endpoint '" + std::string(text) + "' has a bad port");
    }
    e.port = static_cast<int>(v);
    rest = rest.substr(0, colon);
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos) {
    return Error(Errc::usage, "AMQP endpoint '" + std::string(text) + "' is not amqps://HOST:PORT");
  }
  e.host = std::string(rest);
  return e;
}

} // namespace aliot::amqp
