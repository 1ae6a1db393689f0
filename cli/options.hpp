// Option groups shared by every device-side command (identity, endpoint, TLS, signing) and
// their resolution into what the library needs, with flag > env > profile > default.
#pragma once

#include "context.hpp"

#include <aliot/endpoint.hpp>
#include <aliot/identity.hpp>
#include <aliot/sign.hpp>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace aliot::cli {

struct DeviceFlags {
  std::optional<std::string> product_key;
  std::optional<std::string> device_name;
  std::optional<std::string> device_secret;
  std::optional<std::string> device_secret_file;
  std::optional<std::string> device_token;
  std::optional<std::string> triplet;
  std::optional<std::string> client_id;
  // endpoint
  std::optional<std::string> region;
  std::optional<std::string> instance;
  std::optional<std::string> host;
  std::optional<int> port;
  bool tcp = false;
  std::optional<std::string> ca_file;
  bool insecure = false;
  // signing and session
  std::optional<std::string> sign_method;
  std::optional<std::string> timestamp;
  bool no_timestamp = false;
  std::optional<int> keepalive;
  bool clean_session = true;
};

// The connection options every command that reaches the platform shares (device-side, cloud
// API, registration, AMQP), declared here once with one help text each; the caller puts them in
// its help group. --ca-file: the device, HTTPS and registration connections trust the bundle
// instead of the system store, the AMQP consumer in addition to it.
enum class CaTrust { instead, also };
CLI::Option* add_region_option(CLI::App& cmd, std::optional<std::string>& region);
CLI::Option* add_instance_option(CLI::App& cmd, std::optional<std::string>& instance);
CLI::Option* add_ca_file_option(CLI::App& cmd,
                                std::optional<std::string>& ca_file,
                                Context& ctx,
                                CaTrust trust = CaTrust::instead);
CLI::Option* add_insecure_option(CLI::App& cmd, bool& insecure);

// -k -d --device-secret --device-secret-file --device-token --triplet --client-id
void add_identity_options(CLI::App& cmd, DeviceFlags& f, Context& ctx);
// --region --instance --host --port --tcp --ca-file --insecure
void add_endpoint_options(CLI::App& cmd, DeviceFlags& f, Context& ctx);
// --sign-method --timestamp --no-timestamp --keepalive --clean-session
void add_sign_options(CLI::App& cmd, DeviceFlags& f, Context& ctx);
// All three.
void add_device_options(CLI::App& cmd, DeviceFlags& f, Context& ctx);

// Everything needed to log in as a device.
struct DeviceConfig {
  Triplet identity; // secret or (client_id + token)
  MqttEndpoint endpoint;
  sign::MqttParams params; // filled except the secret
  int keepalive = 300;
  bool clean_session = true;
  config::Settings settings;

  bool uses_token() const { return identity.device_secret.empty(); }
  Result<sign::MqttCredentials> credentials() const;
};

// Flag-level config values of the device flags (used by `config show` as well).
config::Sources device_sources(const DeviceFlags& f);

// device_sources() plus what the flags point to: the --device-secret-file and the --triplet file
// (its values between flags and the environment, origin "triplet FILE").
Result<config::Sources> read_device_sources(const DeviceFlags& f, Context& ctx);

Result<DeviceConfig> resolve_device(const DeviceFlags& f, Context& ctx);

// A message's payload, from exactly one of these (`pub` and the cloud commands).
struct PayloadFlags {
  std::optional<std::string> message;
  std::optional<std::string> file;
  bool stdin_all = false;
  std::optional<std::string> hex;
  std::optional<std::string> base64;
};

// The payload bytes; Errc::io for an unreadable file or standard input, Errc::usage for bad hex
// or Base64, no payload, or a payload over the platform's limit.
Result<std::string> read_payload(const PayloadFlags& f);
// Errc::usage (with the hint to split it) for a payload over the platform's 256 KB.
Result<void> check_payload_size(std::string_view payload);

// Milliseconds since the epoch, as text.
std::string now_ms();

// ---- durations (spec/cli.md "Durations") ----
// Every flag that takes a time takes one syntax: a number with a unit, `500ms`, `8s`, `2m`,
// `1h` (a decimal fraction is allowed: `1.5s`); a bare number is seconds.
struct Duration {
  std::chrono::milliseconds value{0};
  bool bare = false; // written without a unit, so read as seconds
  std::string text;  // as written (for messages)
  double seconds() const { return static_cast<double>(value.count()) / 1000.0; }
};
// Errc::usage naming `flag` for empty text, a sign, an unknown unit or a value past 1000 hours.
Result<Duration> parse_duration(std::string_view text, std::string_view flag);
// A duration for messages: `500ms`, `8s`, `1.5s`, `2m`, `90s`.
std::string fmt_duration(std::chrono::milliseconds d);
// Declares a DURATION option: bad syntax is a usage error (exit 2) naming the flag at parse time.
CLI::Option* add_duration_option(CLI::App& cmd,
                                 const std::string& names,
                                 Duration& out,
                                 const std::string& description);
CLI::Option* add_duration_option(CLI::App& cmd,
                                 const std::string& names,
                                 std::optional<Duration>& out,
                                 const std::string& description);
// A duration from a literal (defaults): `Duration{}` of `ms` milliseconds, written with a unit.
Duration duration_of(std::chrono::milliseconds ms);
// Errc::usage unless min <= d <= max. A bare number past `max` that would fit as milliseconds
// (`rrpc call --timeout 5000`) is refused with the hint to write `5000ms`, so no script waits
// 5000 seconds for what it meant as 5 s.
Result<void> check_duration(const Duration& d,
                            std::string_view flag,
                            std::chrono::milliseconds min,
                            std::chrono::milliseconds max,
                            std::string_view why_max = "");

// ---- readiness (spec/cli.md "Readiness") ----
// Says once that a waiting command is ready (subscribed, link attached): under -o json a line
// {"event":"ready","ts",...fields} on stdout, in text `aliot: ready: TEXT` on stderr (not under
// --quiet). False when stdout refused the line.
bool print_ready(Context& ctx, const nlohmann::ordered_json& fields, std::string_view text);

} // namespace aliot::cli
