#include "options.hpp"

#include <aliot/config.hpp>
#include <aliot/encoding.hpp>
#include <aliot/time.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

namespace aliot::cli {

namespace {

Result<int> parse_int(const std::string& text, const std::string& what) {
  int v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end) {
    return Error(Errc::usage, what + " '" + text + "' is not a whole number");
  }
  return v;
}

} // namespace

CLI::Option* add_region_option(CLI::App& cmd, std::optional<std::string>& region) {
  return cmd.add_option("--region", region, "Region id (default cn-shanghai)")->type_name("ID");
}

CLI::Option* add_instance_option(CLI::App& cmd, std::optional<std::string>& instance) {
  return cmd
      .add_option("--instance", instance, "IotInstanceId of a new public or Enterprise instance")
      ->type_name("ID");
}

CLI::Option* add_ca_file_option(CLI::App& cmd,
                                std::optional<std::string>& ca_file,
                                Context& ctx,
                                CaTrust trust) {
  auto* ca = cmd.add_option("--ca-file", ca_file,
                            trust == CaTrust::instead
                                ? "Trust this CA bundle instead of the system store (also "
                                  "ALIOT_CA_FILE)"
                                : "Also trust this CA bundle (also ALIOT_CA_FILE)")
                 ->type_name("FILE");
  ctx.docs.kind(ca, ValueKind::file);
  return ca;
}

CLI::Option* add_insecure_option(CLI::App& cmd, bool& insecure) {
  return cmd.add_flag("--insecure", insecure,
                      "Do not verify the server certificate (testing only)");
}

void add_identity_options(CLI::App& cmd, DeviceFlags& f, Context& ctx) {
  (void)ctx;
  cmd.add_option("-k,--product-key", f.product_key, "ProductKey of the device")
      ->type_name("PK")
      ->group("Identity");
  cmd.add_option("-d,--device-name", f.device_name, "DeviceName of the device")
      ->type_name("DN")
      ->group("Identity");
  cmd.add_option(
         "--device-secret", f.device_secret,
         "DeviceSecret given inline (visible to other users; prefer a file or the environment)")
      ->type_name("SECRET")
      ->group("Identity");
  auto* dsf = cmd.add_option("--device-secret-file", f.device_secret_file,
                             "Read the DeviceSecret from a file ('-' for standard input)")
                  ->type_name("FILE")
                  ->group("Identity");
  ctx.docs.kind(dsf, ValueKind::file);
  cmd.add_option("--device-token", f.device_token,
                 "DeviceToken from registration without pre-registration (use with --client-id)")
      ->type_name("TOKEN")
      ->group("Identity");
  auto* tr = cmd.add_option("--triplet", f.triplet,
                            "The console's device JSON {ProductKey, DeviceName, DeviceSecret} ('-' "
                            "for standard input)")
                 ->type_name("FILE")
                 ->group("Identity");
  ctx.docs.kind(tr, ValueKind::file);
  cmd.add_option("--client-id", f.client_id, "Custom client id (default: ${pk}.${dn})")
      ->type_name("ID")
      ->group("Identity");
}

void add_endpoint_options(CLI::App& cmd, DeviceFlags& f, Context& ctx) {
  add_region_option(cmd, f.region)->group("Endpoint");
  add_instance_option(cmd, f.instance)->group("Endpoint");
  cmd.add_option("--host", f.host, "MQTT host (overrides region and instance)")
      ->type_name("HOST")
      ->group("Endpoint");
  cmd.add_option("--port", f.port, "MQTT port (default 1883)")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535))
      ->group("Endpoint");
  cmd.add_flag("--tcp", f.tcp, "Plain MQTT without TLS (securemode=3)")->group("Endpoint");
  add_ca_file_option(cmd, f.ca_file, ctx)->group("Endpoint");
  add_insecure_option(cmd, f.insecure)->group("Endpoint");
}

void add_sign_options(CLI::App& cmd, DeviceFlags& f, Context& ctx) {
  auto* sm = cmd.add_option("--sign-method", f.sign_method, "Signature method (default hmacsha256)")
                 ->type_name("METHOD")
                 ->group("Signing");
  ctx.docs.choices(sm, {"hmacsha256", "hmacsha1", "hmacmd5"});
  auto* ts =
      cmd.add_option("--timestamp", f.timestamp, "Timestamp in milliseconds to sign (default: now)")
          ->type_name("MS")
          ->group("Signing");
  auto* nts = cmd.add_flag("--no-timestamp", f.no_timestamp, "Sign and send no timestamp")
                  ->group("Signing");
  ts->excludes(nts);
  cmd.add_option("--keepalive", f.keepalive, "MQTT keepalive in seconds, 30-1200 (default 300)")
      ->type_name("SECONDS")
      ->group("Signing");
  cmd.add_option("--clean-session", f.clean_session, "MQTT clean session (default true)")
      ->type_name("BOOL")
      ->group("Signing");
}

void add_device_options(CLI::App& cmd, DeviceFlags& f, Context& ctx) {
  add_identity_options(cmd, f, ctx);
  add_endpoint_options(cmd, f, ctx);
  add_sign_options(cmd, f, ctx);
}

config::Sources device_sources(const DeviceFlags& f) {
  config::Sources s;
  put_flag(s, "product_key", f.product_key, "--product-key");
  put_flag(s, "device_name", f.device_name, "--device-name");
  put_flag(s, "device_secret", f.device_secret, "--device-secret");
  put_flag(s, "device_secret_file", f.device_secret_file, "--device-secret-file");
  put_flag(s, "device_token", f.device_token, "--device-token");
  put_flag(s, "client_id", f.client_id, "--client-id");
  put_flag(s, "region", f.region, "--region");
  put_flag(s, "instance", f.instance, "--instance");
  put_flag(s, "mqtt_host", f.host, "--host");
  if (f.port) {
    s.flags[f.tcp ? "mqtt_tcp_port" : "mqtt_port"] =
        config::Value{std::to_string(*f.port), "flag --port", false};
  }
  put_flag(s, "ca_file", f.ca_file, "--ca-file");
  put_flag(s, "sign_method", f.sign_method, "--sign-method");
  if (f.keepalive) {
    s.flags["keepalive"] = config::Value{std::to_string(*f.keepalive), "flag --keepalive", false};
  }
  return s;
}

Result<sign::MqttCredentials> DeviceConfig::credentials() const {
  if (uses_token()) {
    return sign::token_credentials(identity.client_id.value_or(params.client_id),
                                   identity.product_key, identity.device_name,
                                   identity.device_token);
  }
  return sign::mqtt_credentials(params, identity.device_secret);
}

Result<void> check_payload_size(std::string_view payload) {
  if (payload.size() > topic::k_max_payload) {
    return Error(Errc::usage,
                 "payload of " + std::to_string(payload.size())
                     + " bytes is over the platform's limit of 256 KB (262144 bytes)",
                 "the platform discards larger messages; split the payload");
  }
  return ok();
}

namespace {

// All of standard input, bounded: one byte over the limit is enough to refuse it.
// The payload of a file or of standard input ("-"), read only up to the platform's limit.
Result<std::string> read_payload_file(const std::string& path) {
  ALIOT_TRY_ASSIGN(auto r, config::read_capped(path, topic::k_max_payload,
                                               config::file_name(path, "payload file")));
  if (r.more) {
    return Error(Errc::usage,
                 "payload of more than " + std::to_string(topic::k_max_payload)
                     + " bytes is over the platform's limit of 256 KB (262144 bytes)",
                 "the platform discards larger messages; split the payload");
  }
  return std::move(r.bytes);
}

} // namespace

Result<std::string> read_payload(const PayloadFlags& f) {
  std::string out;
  if (f.message) {
    out = *f.message;
  } else if (f.file || f.stdin_all) {
    ALIOT_TRY_ASSIGN(auto read, read_payload_file(f.file ? *f.file : "-"));
    out = std::move(read);
  } else if (f.hex) {
    auto d = enc::hex_decode(*f.hex);
    if (!d) {
      return Error(Errc::usage, "--hex: " + d.error().message());
    }
    out = std::move(*d);
  } else if (f.base64) {
    auto d = enc::base64_decode(*f.base64);
    if (!d) {
      return Error(Errc::usage, "--base64: " + d.error().message());
    }
    out = std::move(*d);
  } else {
    return Error(Errc::usage, "no payload",
                 "give one of -m TEXT, -f FILE, -s (standard input), --hex HEX, --base64 B64");
  }
  ALIOT_TRY(check_payload_size(out));
  return out;
}

std::string now_ms() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

Result<Duration> parse_duration(std::string_view text, std::string_view flag) {
  const std::string f(flag);
  const std::string shown(text);
  const std::string form = "write a number with a unit: 500ms, 8s, 2m, 1h (a bare number is "
                           "seconds)";
  if (text.empty()) {
    return Error(Errc::usage, f + ": an empty duration", form);
  }
  if (text.size() > 32) {
    return Error(Errc::usage, f + ": '" + shown.substr(0, 32) + "...' is not a duration", form);
  }
  std::size_t digits = 0;
  while (digits < text.size()
         && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
    ++digits;
  }
  const std::string_view number = text.substr(0, digits);
  const std::string_view unit = text.substr(digits);
  const auto dots = std::count(number.begin(), number.end(), '.');
  if (number.empty() || dots > 1 || number.front() == '.' || number.back() == '.') {
    return Error(Errc::usage,
                 f + ": '" + enc::printable(shown) + "' is not a duration"
                     + (text.front() == '-' ? " (it must not be negative)" : ""),
                 form);
  }
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m" || unit == "min") {
    scale = 60000;
  } else if (unit == "h") {
    scale = 3600000;
  } else {
    return Error(Errc::usage,
                 f + ": '" + enc::printable(shown) + "' has an unknown unit '"
                     + enc::printable(std::string(unit)) + "'",
                 form);
  }
  double n = 0;
  const auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc() || p != number.data() + number.size()) {
    return Error(Errc::usage, f + ": '" + enc::printable(shown) + "' is not a duration", form);
  }
  const double ms = std::round(n * scale);
  if (ms > 1000.0 * 3600000.0) {
    return Error(Errc::usage, f + ": " + shown + " is longer than 1000 hours");
  }
  Duration d;
  d.value = std::chrono::milliseconds(static_cast<long long>(ms));
  d.bare = unit.empty();
  d.text = shown;
  return d;
}

std::string fmt_duration(std::chrono::milliseconds d) {
  const long long ms = d.count();
  if (ms % 1000 != 0) {
    if (ms < 1000) {
      return std::to_string(ms) + "ms";
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(ms) / 1000.0);
    return std::string(buf) + "s";
  }
  const long long s = ms / 1000;
  if (s >= 3600 && s % 3600 == 0) {
    return std::to_string(s / 3600) + "h";
  }
  if (s >= 60 && s % 60 == 0) {
    return std::to_string(s / 60) + "m";
  }
  return std::to_string(s) + "s";
}

Duration duration_of(std::chrono::milliseconds ms) {
  Duration d;
  d.value = ms;
  d.text = fmt_duration(ms);
  return d;
}

namespace {

template <class Store>
CLI::Option* duration_option(CLI::App& cmd,
                             const std::string& names,
                             Store store,
                             const std::string& description) {
  auto* opt = cmd.add_option_function<std::string>(
      names,
      [store](const std::string& text) {
        // Checked by the validator first: only a valid duration gets here.
        auto d = parse_duration(text, "");
        if (d) {
          store(std::move(*d));
        }
      },
      description);
  std::string flag = opt->get_name();
  opt->type_name("DURATION");
  opt->check(CLI::Validator(
      [flag](std::string& text) -> std::string {
        auto d = parse_duration(text, flag);
        if (d) {
          return {};
        }
        // CLI11 puts the option's name in front: say the rest, with the fix.
        std::string msg = d.error().message().substr(flag.size() + 2);
        return d.error().hint().empty() ? msg : msg + "; " + d.error().hint();
      },
      "", "DURATION"));
  return opt;
}

} // namespace

CLI::Option* add_duration_option(CLI::App& cmd,
                                 const std::string& names,
                                 Duration& out,
                                 const std::string& description) {
  return duration_option(
      cmd, names, [&out](Duration d) { out = std::move(d); }, description);
}

CLI::Option* add_duration_option(CLI::App& cmd,
                                 const std::string& names,
                                 std::optional<Duration>& out,
                                 const std::string& description) {
  return duration_option(
      cmd, names, [&out](Duration d) { out = std::move(d); }, description);
}

Result<void> check_duration(const Duration& d,
                            std::string_view flag,
                            std::chrono::milliseconds min,
                            std::chrono::milliseconds max,
                            std::string_view why_max) {
  const std::string f(flag);
  const std::string range = fmt_duration(min) + " to " + fmt_duration(max);
  if (d.value >= min && d.value <= max) {
    return ok();
  }
  std::string why = why_max.empty() ? "" : " (" + std::string(why_max) + ")";
  if (d.bare && d.value > max) {
    const auto as_ms = std::chrono::milliseconds(d.value.count() / 1000);
    if (as_ms >= min && as_ms <= max) {
      return Error(Errc::usage,
                   f + " " + d.text + " means " + d.text + " seconds (a bare number is seconds), "
                       + "more than " + fmt_duration(max) + why,
                   "for milliseconds write " + f + " " + d.text + "ms");
    }
  }
  return Error(Errc::usage, f + " " + d.text + " is outside " + range + why,
               "write a duration from " + range + ": 500ms, 8s, 2m (a bare number is seconds)");
}

bool print_ready(Context& ctx, const nlohmann::ordered_json& fields, std::string_view text) {
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["event"] = "ready";
    j["ts"] = utc_iso8601(std::chrono::system_clock::now(), true);
    for (const auto& [k, v] : fields.items()) {
      j[k] = v;
    }
    return ctx.out.line(j.dump());
  }
  ctx.out.note("ready: " + std::string(text));
  return true;
}

Result<config::Sources> read_device_sources(const DeviceFlags& f, Context& ctx) {
  config::Sources sources = device_sources(f);
  if (f.device_secret) {
    ctx.out.warn("--device-secret puts the secret in the process list where other users can "
                 "read it; prefer --device-secret-file or ALIOT_DEVICE_SECRET");
  }
  if (f.device_token) {
    ctx.out.warn("--device-token puts the token in the process list; prefer ALIOT_DEVICE_TOKEN");
  }
  if (f.device_secret_file) {
    ALIOT_TRY_ASSIGN(const auto s, ctx.read_secret(*f.device_secret_file, "DeviceSecret"));
    sources.flags["device_secret"] = config::Value{s.reveal(), "flag --device-secret-file", true};
  }
  if (f.triplet) {
    ALIOT_TRY_ASSIGN(const auto text, ctx.read_secret(*f.triplet, "triplet"));
    ALIOT_TRY_ASSIGN(auto t, parse_triplet_json(text.reveal(), "triplet file " + *f.triplet));
    const std::string origin = "triplet " + *f.triplet;
    sources.files["product_key"] = config::Value{t.product_key, origin, false};
    sources.files["device_name"] = config::Value{t.device_name, origin, false};
    if (!t.device_secret.empty()) {
      sources.files["device_secret"] = config::Value{t.device_secret.reveal(), origin, true};
    } else {
      sources.files["device_token"] = config::Value{t.device_token.reveal(), origin, true};
      sources.files["client_id"] = config::Value{t.client_id.value_or(""), origin, false};
    }
  }
  return sources;
}

Result<DeviceConfig> resolve_device(const DeviceFlags& f, Context& ctx) {
  ALIOT_TRY_ASSIGN(auto sources, read_device_sources(f, ctx));
  ALIOT_TRY_ASSIGN(auto settings, ctx.settings(std::move(sources)));
  DeviceConfig dc;
  const auto& s = settings;
  dc.identity.product_key = s.text("product_key").value_or("");
  dc.identity.device_name = s.text("device_name").value_or("");
  if (dc.identity.product_key.empty()) {
    return Error(Errc::config, "no ProductKey",
                 "give -k PK, --triplet FILE, ALIOT_PRODUCT_KEY or a profile");
  }
  if (dc.identity.device_name.empty()) {
    return Error(Errc::config, "no DeviceName",
                 "give -d DN, --triplet FILE, ALIOT_DEVICE_NAME or a profile");
  }
  ALIOT_TRY(validate_product_key(dc.identity.product_key));
  ALIOT_TRY(validate_device_name(dc.identity.device_name));

  dc.identity.device_secret = s.secret("device_secret");
  if (dc.identity.device_secret.empty()) {
    if (auto file = s.get("device_secret_file"); file && !file->text.empty()) {
      ALIOT_TRY_ASSIGN(dc.identity.device_secret, ctx.read_secret(file->text, "DeviceSecret"));
    }
  }
  if (dc.identity.device_secret.empty()) {
    dc.identity.device_token = s.secret("device_token");
    if (dc.identity.device_token.empty()) {
      return Error(
          Errc::config,
          "no DeviceSecret for " + dc.identity.product_key + "/" + dc.identity.device_name,
          "give --device-secret-file FILE, --triplet FILE, ALIOT_DEVICE_SECRET or a profile");
    }
    auto cid = s.text("client_id");
    if (!cid) {
      return Error(Errc::config, "a DeviceToken needs the ClientId the platform assigned",
                   "give --client-id ID (from the registration result)");
    }
    dc.identity.client_id = *cid;
  } else {
    ALIOT_TRY(validate_device_secret(dc.identity.device_secret));
  }

  EndpointInput in;
  in.product_key = dc.identity.product_key;
  in.region = s.text("region").value_or(k_default_region);
  in.instance = s.text("instance");
  in.host = s.text("mqtt_host");
  in.tcp = f.tcp;
  in.ca_file = s.text("ca_file").value_or("");
  in.insecure = f.insecure;
  if (f.insecure) {
    ctx.out.warn(k_insecure_warning);
  }
  if (f.port) {
    in.port = *f.port;
  }
  if (auto p = s.text("mqtt_port")) {
    ALIOT_TRY_ASSIGN(auto port, parse_port(*p, "MQTT port"));
    in.tls_port = port;
  }
  if (auto p = s.text("mqtt_tcp_port")) {
    ALIOT_TRY_ASSIGN(auto port, parse_port(*p, "MQTT TCP port"));
    in.tcp_port = port;
  }
  ALIOT_TRY_ASSIGN(auto ep, resolve_mqtt_endpoint(in));
  dc.endpoint = std::move(ep);

  ALIOT_TRY_ASSIGN(auto method, sign::parse_method(s.text("sign_method").value_or("hmacsha256")));
  dc.params.product_key = dc.identity.product_key;
  dc.params.device_name = dc.identity.device_name;
  dc.params.client_id = s.text("client_id").value_or("");
  if (dc.params.client_id.size() > 64) {
    return Error(Errc::usage, "client id '" + dc.params.client_id
                                  + "' is longer than the platform's 64 characters");
  }
  if (dc.params.client_id.find_first_of("|,=") != std::string::npos) {
    return Error(Errc::usage,
                 "client id '" + dc.params.client_id + "' may not contain '|', ',' or '='");
  }
  dc.params.method = method;
  dc.params.securemode = f.tcp ? 3 : 2;
  if (!f.no_timestamp) {
    if (f.timestamp) {
      auto n = parse_int(*f.timestamp, "--timestamp");
      if (!n && f.timestamp->find_first_not_of("0123456789") != std::string::npos) {
        return Error(Errc::usage, "--timestamp '" + *f.timestamp
                                      + "' must be milliseconds since the epoch (digits only)");
      }
      dc.params.timestamp = *f.timestamp;
    } else {
      dc.params.timestamp = now_ms();
    }
  }
  ALIOT_TRY_ASSIGN(auto ka, parse_int(s.text("keepalive").value_or("300"), "keepalive"));
  if (ka < 30 || ka > 1200) {
    return Error(Errc::usage,
                 "keepalive " + std::to_string(ka) + " s is outside the platform's 30-1200 s",
                 "the platform refuses the connection otherwise; 300 is recommended");
  }
  dc.keepalive = ka;
  dc.clean_session = f.clean_session;
  dc.settings = std::move(settings);
  return dc;
}

} // namespace aliot::cli
