#include <aliot/identity.hpp>

#include <nlohmann/json.hpp>

#include <cctype>

namespace aliot {

namespace {

bool dn_char(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '@' || c == '.' || c == ':';
}

} // namespace

Result<void> validate_product_key(std::string_view pk) {
  if (pk.empty()) {
    return Error(Errc::usage, "ProductKey is empty");
  }
  if (pk.size() > 20) {
    return Error(Errc::usage, "ProductKey '" + std::string(pk) + "' is longer than 20 characters");
  }
  for (unsigned char c : pk) {
    if (std::isalnum(c) == 0) {
      return Error(Errc::usage,
                   "ProductKey '" + std::string(pk) + "' may contain only letters and digits");
    }
  }
  return ok();
}

Result<void> validate_device_name(std::string_view dn) {
  if (dn.size() < 4 || dn.size() > 32) {
    return Error(Errc::usage, "DeviceName '" + std::string(dn)
                                  + "' must be 4 to 32 characters long (it has "
                                  + std::to_string(dn.size()) + ")");
  }
  for (unsigned char c : dn) {
    if (!dn_char(c)) {
      return Error(Errc::usage, "DeviceName '" + std::string(dn)
                                    + "' may contain only letters, digits and - _ @ . :");
    }
  }
  return ok();
}

Result<void> validate_device_secret(const Secret& ds, std::string_view what) {
  if (ds.empty()) {
    return Error(Errc::usage, std::string(what) + " is empty");
  }
  if (ds.size() > 64) {
    return Error(Errc::usage, std::string(what) + " is longer than 64 characters");
  }
  for (unsigned char c : ds.reveal()) {
    if (c <= 0x20 || c >= 0x7F) {
      return Error(Errc::usage,
                   std::string(what) + " contains whitespace or a non-printable character");
    }
  }
  return ok();
}

Result<Triplet> read_triplet_json(std::string_view text, std::string_view origin) {
  const std::string where(origin);
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return Error(Errc::config, where + ": not valid JSON",
                 "the console's device certificate looks like "
                 "{\"ProductKey\":\"...\",\"DeviceName\":\"...\",\"DeviceSecret\":\"...\"}");
  }
  if (!j.is_object()) {
    return Error(Errc::config, where + ": expected a JSON object");
  }
  auto field = [&](const char* name, bool required) -> Result<std::optional<std::string>> {
    auto it = j.find(name);
    if (it == j.end()) {
      if (required) {
        return Error(Errc::config, where + ": field \"" + std::string(name) + "\" is missing");
      }
      return std::optional<std::string>{};
    }
    if (!it->is_string()) {
      return Error(Errc::config, where + ": field \"" + std::string(name) + "\" must be a string");
    }
    return std::optional<std::string>{it->get<std::string>()};
  };
  ALIOT_TRY_ASSIGN(auto pk, field("ProductKey", true));
  ALIOT_TRY_ASSIGN(auto dn, field("DeviceName", true));
  ALIOT_TRY_ASSIGN(auto ds, field("DeviceSecret", false));
  ALIOT_TRY_ASSIGN(auto cid, field("ClientId", false));
  ALIOT_TRY_ASSIGN(auto tok, field("DeviceToken", false));
  ALIOT_TRY_ASSIGN(auto ps, field("ProductSecret", false));
  Triplet t;
  t.product_key = *pk;
  t.device_name = *dn;
  if (ps) {
    t.product_secret = Secret(*ps);
  }
  if (ds) {
    t.device_secret = Secret(*ds);
  } else if (tok) {
    if (!cid) {
      return Error(Errc::config,
                   where + ": field \"ClientId\" is missing (it goes with DeviceToken)");
    }
    t.client_id = *cid;
    t.device_token = Secret(*tok);
  } else {
    return Error(Errc::config, where + ": field \"DeviceSecret\" is missing");
  }
  return t;
}

Result<Triplet> parse_triplet_json(std::string_view text, std::string_view origin) {
  auto t = read_triplet_json(text, origin);
  if (!t) {
    return t;
  }
  const std::string where(origin);
  if (auto r = validate_product_key(t->product_key); !r) {
    return Error(Errc::config, where + ": " + r.error().message());
  }
  if (auto r = validate_device_name(t->device_name); !r) {
    return Error(Errc::config, where + ": " + r.error().message());
  }
  if (!t->device_secret.empty()) {
    if (auto r = validate_device_secret(t->device_secret); !r) {
      return Error(Errc::config, where + ": " + r.error().message());
    }
  }
  return t;
}

std::string triplet_json(const Triplet& t, bool pretty) {
  nlohmann::ordered_json j;
  j["ProductKey"] = t.product_key;
  j["DeviceName"] = t.device_name;
  if (!t.device_secret.empty()) {
    j["DeviceSecret"] = t.device_secret.reveal();
  } else {
    j["ClientId"] = t.client_id.value_or("");
    j["DeviceToken"] = t.device_token.reveal();
  }
  return pretty ? j.dump(2) : j.dump();
}

} // namespace aliot
