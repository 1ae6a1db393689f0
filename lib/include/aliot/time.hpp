// UTC time as text, formatted and parsed in one place: ISO 8601 / RFC 3339 in UTC
// ("2026-11-28T18:09:51Z", with milliseconds "2026-11-28T18:09:51.123Z").
#pragma once

#include <aliot/error.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace aliot {

// 2026-11-28T18:09:51Z, or with `with_ms` 2026-11-28T18:09:51.123Z (milliseconds truncated).
std::string utc_iso8601(std::chrono::system_clock::time_point t, bool with_ms = false);
// The same for whole seconds since the epoch (any year a 64-bit time_t holds, e.g. a
// certificate's notAfter of 9999-12-31).
std::string utc_iso8601(long long unix_seconds);
// 2026-11-28 18:09:51: the date and time of `t` in UTC, space-separated, no zone (the platform's
// "Gmt..." fields, which are UTC+8 times the caller shifts).
std::string utc_datetime(std::chrono::system_clock::time_point t);

// What parse_utc_iso8601 accepts besides YYYY-MM-DDTHH:MM:SS[.fraction]Z.
struct TimeSyntax {
  bool offset = false;    // ±HH:MM instead of Z (the time is converted to UTC)
  bool date_only = false; // YYYY-MM-DD alone: midnight UTC
  bool lenient = false;   // 't'/'z' in lower case, or a space instead of 'T' (RFC 3339 5.6)
};

// A UTC time from ISO 8601 text, by default exactly YYYY-MM-DDTHH:MM:SS[.fraction]Z (any number
// of fraction digits, kept to the millisecond). Real dates only (2026-02-29 is not one), years
// 1970-2200. Errc::usage naming the text and showing the form otherwise.
Result<std::chrono::system_clock::time_point> parse_utc_iso8601(std::string_view text,
                                                                TimeSyntax syntax = {});

} // namespace aliot
