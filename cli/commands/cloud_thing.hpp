// What the cloud's thing-model commands (`cloud prop`, `cloud invoke`, `cloud events`,
// `cloud broadcast`) share: -k/-d, --timeout, the call through call_or_print, time windows.
#pragma once

#include "commands/cloud_common.hpp"
#include "context.hpp"

#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>
#include <aliot/thing.hpp>
#include <aliot/time.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

namespace aliot::cli {

struct CloudThingFlags {
  ApiFlags api;
  std::optional<std::string> product_key;
  std::optional<std::string> device_name;
  long timeout_ms = 30000;
};

// -k -d (group Device), --timeout MS, the API options.
inline void add_cloud_thing_options(CLI::App& cmd, CloudThingFlags& f, Context& ctx) {
  cmd.add_option("-k,--product-key", f.product_key, "ProductKey of the device")
      ->type_name("PK")
      ->group("Device");
  cmd.add_option("-d,--device-name", f.device_name, "DeviceName of the device")
      ->type_name("DN")
      ->group("Device");
  cmd.add_option("--timeout", f.timeout_ms,
                 "Milliseconds to wait for the platform's answer (100-600000, default 30000)")
      ->type_name("MS");
  add_api_options(cmd, f.api, ctx);
}

// The device of -k/-d (or the environment, or the profile); both are required.
inline Result<thing::cloud::Device> cloud_device(Context& ctx, const CloudThingFlags& f) {
  ALIOT_TRY_ASSIGN(auto t, resolve_target(ctx, f.product_key, f.device_name));
  if (t.product_key.empty() || t.device_name.empty()) {
    return Error(Errc::usage, "no device given", "give -k PK and -d DN");
  }
  ALIOT_TRY(validate_product_key(t.product_key));
  ALIOT_TRY(validate_device_name(t.device_name));
  return thing::cloud::Device{t.product_key, t.device_name};
}

// Signs and sends `action` (or prints it under --dry-run: then nullopt).
inline Result<std::optional<std::string>> cloud_thing_call(Context& ctx,
                                                           const CloudThingFlags& f,
                                                           std::string_view action,
                                                           const openapi::Params& params) {
  if (f.timeout_ms < 100 || f.timeout_ms > 600000) {
    return Error(Errc::usage, "--timeout " + std::to_string(f.timeout_ms) + " is out of range",
                 "give 100 to 600000 milliseconds");
  }
  ALIOT_TRY_ASSIGN(auto setup, resolve_api(f.api, ctx));
  setup.http.timeout_ms = f.timeout_ms;
  setup.http.connect_timeout_ms = std::min(f.timeout_ms, setup.http.connect_timeout_ms);
  return call_or_print(ctx, f.api, setup, action, params);
}

// A time for --start/--end: milliseconds since the epoch, or ISO 8601 UTC.
inline Result<std::int64_t> parse_time_ms(const std::string& text, const char* option) {
  if (!text.empty() && text.size() <= 15
      && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::stoll(text);
  }
  auto t = parse_utc_iso8601(text, TimeSyntax{.offset = true, .date_only = true});
  if (!t) {
    return Error(Errc::usage, std::string(option) + " '" + text + "' is not a time",
                 "give milliseconds since the epoch or 2026-12-07T08:00:00Z");
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

inline std::int64_t now_epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "1733558400123" -> "2024-12-07T08:00:00.123Z"; anything else as printable text.
inline std::string time_text(const std::string& ms) {
  if (ms.empty() || ms.size() > 15
      || !std::all_of(ms.begin(), ms.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return enc::printable(ms);
  }
  return utc_iso8601(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(std::stoll(ms))), true);
}

} // namespace aliot::cli
