#include "commands/cloud_common.hpp"

#include <aliot/endpoint.hpp>
#include <aliot/http.hpp>
#include <aliot/time.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

void add_api_options(CLI::App& cmd, ApiFlags& f, Context& ctx) {
  cmd.add_option("--access-key-id", f.access_key_id,
                 "AccessKey id for the cloud OpenAPI (also ALIOT_ACCESS_KEY_ID)")
      ->type_name("ID")
      ->group("Cloud API");
  auto* sf = cmd.add_option("--access-key-secret-file", f.access_key_secret_file,
                            "Read the AccessKey secret from a file ('-' for standard input; "
                            "also ALIOT_ACCESS_KEY_SECRET)")
                 ->type_name("FILE")
                 ->group("Cloud API");
  ctx.docs.kind(sf, ValueKind::file);
  add_region_option(cmd, f.region)->group("Cloud API");
  add_instance_option(cmd, f.instance)->group("Cloud API");
  add_ca_file_option(cmd, f.ca_file, ctx)->group("Cloud API");
  add_insecure_option(cmd, f.insecure)->group("Cloud API");
  auto* hm = cmd.add_option("--http-method", f.http_method,
                            "Send the call as POST with a form body (default) or as GET with "
                            "the parameters in the query")
                 ->type_name("METHOD")
                 ->group("Cloud API");
  ctx.docs.choices(hm, {"POST", "GET"});
  cmd.add_flag("--dry-run", f.dry_run, "Print the signed request instead of sending it")
      ->group("Cloud API");
  cmd.add_option("--nonce", f.nonce, "SignatureNonce to sign (default: a fresh random UUID)")
      ->type_name("TEXT")
      ->group("Cloud API");
  cmd.add_option("--timestamp", f.timestamp,
                 "Timestamp to sign, ISO 8601 UTC like 2024-01-01T00:00:00Z (default: now)")
      ->type_name("ISO8601")
      ->group("Cloud API");
}

Result<void> put_access_key_flags(const Context& ctx,
                                  config::Sources& s,
                                  const std::optional<std::string>& id,
                                  const std::optional<std::string>& secret_file) {
  put_flag(s, "access_key_id", id, "--access-key-id");
  return put_secret_file(ctx, s, "access_key_secret", secret_file, "AccessKey secret",
                         "--access-key-secret-file");
}

Result<AccessKey> access_key_of(const config::Settings& settings, std::string_view purpose) {
  AccessKey key{settings.text("access_key_id").value_or(""), settings.secret("access_key_secret")};
  if (key.id.empty()) {
    return Error(Errc::config, "no AccessKey id for " + std::string(purpose),
                 "give --access-key-id ID, ALIOT_ACCESS_KEY_ID or access_key_id in a profile");
  }
  if (key.secret.empty()) {
    return Error(Errc::config, "no AccessKey secret for " + key.id,
                 "set ALIOT_ACCESS_KEY_SECRET, give --access-key-secret-file FILE or put "
                 "access_key_secret in a profile");
  }
  return key;
}

Result<ApiSetup> resolve_api(const ApiFlags& f, Context& ctx) {
  config::Sources s;
  put_flag(s, "region", f.region, "--region");
  put_flag(s, "instance", f.instance, "--instance");
  put_flag(s, "ca_file", f.ca_file, "--ca-file");
  ALIOT_TRY(put_access_key_flags(ctx, s, f.access_key_id, f.access_key_secret_file));
  ALIOT_TRY_ASSIGN(auto settings, ctx.settings(std::move(s)));
  ApiSetup out;
  auto& c = out.config;
  c.region = settings.text("region").value_or(k_default_region);
  ALIOT_TRY(validate_region(c.region));
  c.instance_id = settings.text("instance");
  c.endpoint = settings.text("api_endpoint").value_or(default_api_endpoint(c.region));
  ALIOT_TRY(check_http_endpoint(c.endpoint, "the OpenAPI endpoint",
                                "ALIOT_API_ENDPOINT (or api_endpoint in the profile)"));
  c.http_method = f.http_method.value_or("POST");
  ALIOT_TRY_ASSIGN(auto key, access_key_of(settings, "the cloud OpenAPI"));
  c.access_key_id = std::move(key.id);
  c.access_key_secret = std::move(key.secret);
  out.http.ca_file = settings.text("ca_file").value_or("");
  out.http.insecure = f.insecure;
  out.http.stop = ctx.interrupted;
  if (f.insecure) {
    ctx.out.warn(k_insecure_warning);
  }
  return out;
}

Result<Target> resolve_target(Context& ctx,
                              const std::optional<std::string>& product_key,
                              const std::optional<std::string>& device_name) {
  config::Sources s;
  put_flag(s, "product_key", product_key, "-k");
  put_flag(s, "device_name", device_name, "-d");
  ALIOT_TRY_ASSIGN(auto settings, ctx.settings(std::move(s)));
  return Target{settings.text("product_key").value_or(""),
                settings.text("device_name").value_or("")};
}

void add_payload_options(CLI::App& cmd, PayloadFlags& f, Context& ctx) {
  auto* m = cmd.add_option("-m,--message", f.message, "Payload text")
                ->type_name("TEXT")
                ->group("Payload");
  auto* fi = cmd.add_option("-f,--file", f.file, "Payload from a file (raw bytes)")
                 ->type_name("FILE")
                 ->group("Payload");
  ctx.docs.kind(fi, ValueKind::file);
  auto* s = cmd.add_flag("-s,--stdin", f.stdin_all, "Payload from the whole standard input")
                ->group("Payload");
  auto* h = cmd.add_option("--hex", f.hex, "Payload given as hex digits")
                ->type_name("HEX")
                ->group("Payload");
  auto* b = cmd.add_option("--base64", f.base64, "Payload given as Base64")
                ->type_name("B64")
                ->group("Payload");
  std::vector<CLI::Option*> all{m, fi, s, h, b};
  for (auto* a : all) {
    for (auto* other : all) {
      if (a != other) {
        a->excludes(other);
      }
    }
  }
}

void print_signed_request(Context& ctx, const openapi::SignedRequest& r) {
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["method"] = r.method;
    j["url"] = r.url;
    if (r.method == "POST") {
      j["content_type"] = "application/x-www-form-urlencoded";
      j["body"] = r.body;
    }
    j["string_to_sign"] = r.string_to_sign;
    j["signature"] = r.signature;
    ctx.out.line(j.dump());
    return;
  }
  ctx.out.line(r.method + " " + r.url);
  if (r.method == "POST") {
    ctx.out.line("Content-Type: application/x-www-form-urlencoded");
    ctx.out.line("");
    ctx.out.line(r.body);
  }
}

Result<std::optional<std::string>> call_or_print(Context& ctx,
                                                 const ApiFlags& f,
                                                 const ApiSetup& setup,
                                                 std::string_view action,
                                                 const openapi::Params& params) {
  if (f.timestamp) {
    const auto t = parse_utc_iso8601(*f.timestamp); // exactly the seconds form, a real date
    if (!t || utc_iso8601(*t) != *f.timestamp) {
      return Error(Errc::usage, "--timestamp '" + *f.timestamp
                                    + "' is not ISO 8601 UTC like 2024-01-01T00:00:00Z");
    }
  }
  if (f.nonce && f.nonce->empty()) {
    return Error(Errc::usage, "--nonce must not be empty");
  }
  std::string nonce;
  if (f.nonce) {
    nonce = *f.nonce;
  } else {
    ALIOT_TRY_ASSIGN(auto fresh, openapi::new_nonce());
    nonce = std::move(fresh);
  }
  ALIOT_TRY_ASSIGN(auto signed_req,
                   openapi::sign_request(setup.config, action, params, nonce,
                                         f.timestamp.value_or(openapi::now_timestamp())));
  const auto& req = signed_req;
  if (f.dry_run) {
    print_signed_request(ctx, req);
    return std::optional<std::string>{};
  }
  ctx.out.debug("OpenAPI " + std::string(action) + " " + req.method + " " + req.url);
  openapi::Client client(setup.config, setup.http, ctx.out.logger());
  ALIOT_TRY_ASSIGN(auto body, client.send(action, req));
  return std::optional<std::string>(std::move(body));
}

} // namespace aliot::cli
