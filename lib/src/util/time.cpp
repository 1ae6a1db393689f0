#include <aliot/encoding.hpp>
#include <aliot/time.hpp>

#include <cstdio>
#include <ctime>

namespace aliot {

namespace {

std::tm utc_tm(long long unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm;
}

std::string date_time(long long unix_seconds, char sep) {
  const std::tm tm = utc_tm(unix_seconds);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

// Whole seconds (rounded towards the past) and the milliseconds within that second.
std::pair<long long, int> split(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  long long secs = ms / 1000;
  long long rest = ms % 1000;
  if (rest < 0) {
    rest += 1000;
    --secs;
  }
  return {secs, static_cast<int>(rest)};
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's days_from_civil).
long long days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const long long yoe = y - era * 400;
  const long long doy = (153LL * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

} // namespace

std::string utc_iso8601(std::chrono::system_clock::time_point t, bool with_ms) {
  const auto [secs, ms] = split(t);
  std::string out = date_time(secs, 'T');
  if (with_ms) {
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", ms);
    out += frac;
  }
  out += 'Z';
  return out;
}

std::string utc_iso8601(long long unix_seconds) {
  return date_time(unix_seconds, 'T') + 'Z';
}

std::string utc_datetime(std::chrono::system_clock::time_point t) {
  return date_time(split(t).first, ' ');
}

Result<std::chrono::system_clock::time_point> parse_utc_iso8601(std::string_view s,
                                                                TimeSyntax syntax) {
  auto bad = [&] {
    std::string forms = "give a UTC time like 2026-11-28T08:00:00Z or 2026-11-28T08:00:00.250Z";
    if (syntax.offset) {
      forms += ", or with an offset like 2026-11-28T16:00:00+08:00";
    }
    if (syntax.date_only) {
      forms += ", or a date like 2026-11-28";
    }
    return Error(Errc::usage, "'" + std::string(s.substr(0, 64)) + "' is not an ISO 8601 time",
                 forms);
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-'
      || !digits(s, 8, 2, d) || y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1
      || d > days_in_month(y, mo)) {
    return bad();
  }
  long long offset_s = 0;
  long long ms = 0;
  std::size_t at = 10;
  if (s.size() == 10) {
    if (!syntax.date_only) {
      return bad();
    }
  } else {
    const char t = s[10];
    if (!(t == 'T' || (syntax.lenient && (t == 't' || t == ' '))) || s.size() < 19
        || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':'
        || !digits(s, 17, 2, sec) || h > 23 || mi > 59 || sec > 60) { // 60: a leap second
      return bad();
    }
    at = 19;
    if (at < s.size() && s[at] == '.') {
      std::size_t n = 0;
      long long scale = 100;
      for (++at; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, ++n) {
        ms += (s[at] - '0') * scale;
        scale /= 10;
      }
      if (n == 0) {
        return bad();
      }
    }
    if (at == s.size()) {
      return bad(); // a time needs its zone
    }
    if (s[at] == 'Z' || (syntax.lenient && s[at] == 'z')) {
      ++at;
    } else if (syntax.offset && (s[at] == '+' || s[at] == '-')) {
      int oh = 0, om = 0;
      if (!digits(s, at + 1, 2, oh) || at + 3 >= s.size() || s[at + 3] != ':'
          || !digits(s, at + 4, 2, om) || oh > 23 || om > 59) {
        return bad();
      }
      offset_s = (s[at] == '+' ? 1 : -1) * (oh * 3600LL + om * 60LL);
      at += 6;
    } else {
      return bad();
    }
  }
  if (at != s.size()) {
    return bad();
  }
  const long long secs = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec;
  return std::chrono::system_clock::time_point(std::chrono::seconds(secs - offset_s))
         + std::chrono::milliseconds(ms);
}

} // namespace aliot
