// Device identity: ProductKey, DeviceName, DeviceSecret, and the console's triplet JSON.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aliot {

// Each returns an Errc::usage error that names the rule the value broke.
Result<void> validate_product_key(std::string_view pk);
Result<void> validate_device_name(std::string_view dn);
Result<void> validate_device_secret(const Secret& ds, std::string_view what = "DeviceSecret");

// A device's credentials as the console exports them: either a DeviceSecret (triplet) or, after
// registration without pre-registration, a ClientId and DeviceToken.
struct Triplet {
  std::string product_key;
  std::string device_name;
  Secret device_secret;                 // empty when the device uses a token
  std::optional<std::string> client_id; // with device_token
  Secret device_token;
  Secret product_secret; // the optional "ProductSecret" field (burned along into a switch)
};

// Reads the shape of `{"ProductKey","DeviceName","DeviceSecret"[,"ProductSecret"]}` (or the
// ClientId/DeviceToken form) without checking the values: a malformed document or a missing or
// non-string field is Errc::config naming `origin` ("triplet file dev.json").
Result<Triplet> read_triplet_json(std::string_view text, std::string_view origin);

// read_triplet_json, then the values' rules (validate_product_key...), also as Errc::config.
Result<Triplet> parse_triplet_json(std::string_view text, std::string_view origin);

// The console's JSON shape; this reveals the secret (use only when it is the asked-for result).
std::string triplet_json(const Triplet& t, bool pretty);

} // namespace aliot
