// What the cloud-side commands (`rrpc call`, `cloud pub`, `cloud sub`) share: the AccessKey and
// OpenAPI endpoint options, a payload from -m/-f/-s/--hex/--base64, and printing a signed request.
#pragma once

#include "context.hpp"
#include "options.hpp"

#include <aliot/openapi_client.hpp>
#include <aliot/secret.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli {

struct ApiFlags {
  std::optional<std::string> access_key_id;
  std::optional<std::string> access_key_secret_file;
  std::optional<std::string> region;
  std::optional<std::string> instance;
  std::optional<std::string> ca_file;
  bool insecure = false;
  std::optional<std::string> http_method;
  bool dry_run = false;
  std::optional<std::string> nonce;
  std::optional<std::string> timestamp;
};

// --access-key-id --access-key-secret-file --region --instance --ca-file --insecure
// --http-method --dry-run --nonce --timestamp
void add_api_options(CLI::App& cmd, ApiFlags& f, Context& ctx);

// The AccessKey of a cloud command: the id from --access-key-id, ALIOT_ACCESS_KEY_ID or
// access_key_id in a profile; the secret from --access-key-secret-file, ALIOT_ACCESS_KEY_SECRET
// or access_key_secret in a profile.
struct AccessKey {
  std::string id;
  Secret secret;
};

// Puts the two flags into `s` (reading the secret's file when given).
Result<void> put_access_key_flags(const Context& ctx,
                                  config::Sources& s,
                                  const std::optional<std::string>& id,
                                  const std::optional<std::string>& secret_file);

// The AccessKey of the resolved settings; Errc::config saying which half is missing and where to
// give it (`purpose` completes "no AccessKey id for ...").
Result<AccessKey> access_key_of(const config::Settings& settings, std::string_view purpose);

struct ApiSetup {
  openapi::ClientConfig config;
  http::ClientOptions http;
};

// flag > env (ALIOT_ACCESS_KEY_ID/SECRET, ALIOT_API_ENDPOINT, ALIOT_CA_FILE...) > profile.
// Missing AccessKey: Errc::config (unless dry_run allows a placeholder... it does not: the
// signature needs the secret).
Result<ApiSetup> resolve_api(const ApiFlags& f, Context& ctx);

// The device a cloud call is about: -k/-d over ALIOT_PRODUCT_KEY/ALIOT_DEVICE_NAME over the
// profile; empty when nowhere given (the caller decides whether that is an error).
struct Target {
  std::string product_key;
  std::string device_name;
};
Result<Target> resolve_target(Context& ctx,
                              const std::optional<std::string>& product_key,
                              const std::optional<std::string>& device_name);

// -m -f -s --hex --base64 (exactly one of them).
void add_payload_options(CLI::App& cmd, PayloadFlags& f, Context& ctx);

// Prints the signed request: text `METHOD URL` then the body (POST), or a JSON line under -o json
// with method, url, content_type, body, string_to_sign, signature.
void print_signed_request(Context& ctx, const openapi::SignedRequest& r);

// Signs (with --nonce/--timestamp when given) and either prints (--dry-run) or sends.
// Returns nullopt-like empty body after a dry run.
Result<std::optional<std::string>> call_or_print(Context& ctx,
                                                 const ApiFlags& f,
                                                 const ApiSetup& setup,
                                                 std::string_view action,
                                                 const openapi::Params& params);

} // namespace aliot::cli
