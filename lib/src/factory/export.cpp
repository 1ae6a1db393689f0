// `journal export`: the journal's jobs and events as JSON Lines or CSV, and --since's time.
#include <aliot/factory.hpp>

#include <nlohmann/json.hpp>

#include <cctype>
#include <ctime>
#include <string>
#include <utility>

namespace aliot::factory {

namespace {

using Row = std::vector<std::pair<const char*, nlohmann::ordered_json>>;

Row row_of(const JobRecord& j) {
  return {{"job", j.job_id},
          {"station", j.station},
          {"operator", j.operator_id},
          {"port", j.port},
          {"dialect", j.dialect},
          {"mac", j.mac},
          {"chip_id", j.chip_id},
          {"firmware", j.firmware},
          {"sn", j.sn},
          {"product_key", j.product_key},
          {"device_name", j.device_name},
          {"fp", j.fp},
          {"state", j.state},
          {"error_class", j.error_class},
          {"error_detail", j.error_detail},
          {"verify_level", j.verify_level},
          {"started_at", j.started_at},
          {"ended_at", j.ended_at}};
}

Row row_of(const EventRecord& e, bool json) {
  nlohmann::ordered_json data = e.data_json;
  if (json) {
    data = nlohmann::ordered_json::parse(e.data_json, nullptr, false);
    if (data.is_discarded()) {
      data = e.data_json; // kept as text: the export shows what is there
    }
  }
  return {{"seq", e.seq}, {"ts", e.ts},          {"job", e.job_id}, {"type", e.type},
          {"data", data}, {"prev", e.prev_hash}, {"hash", e.hash}};
}

std::string csv_field(const nlohmann::ordered_json& v) {
  std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s.find_first_of(",\"\r\n") == std::string::npos) {
    return s;
  }
  std::string q = "\"";
  for (char c : s) {
    q += c;
    if (c == '"') {
      q += '"';
    }
  }
  return q + "\"";
}

template <class R, class F>
std::vector<std::string> lines_of(const std::vector<R>& records, ExportFormat format, F to_row) {
  std::vector<std::string> out;
  if (format == ExportFormat::jsonl) {
    for (const auto& r : records) {
      nlohmann::ordered_json j;
      for (auto& [k, v] : to_row(r)) {
        j[k] = std::move(v);
      }
      out.push_back(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    return out;
  }
  std::string header;
  for (const auto& [k, v] : to_row(R{})) {
    header += (header.empty() ? "" : ",") + std::string(k);
  }
  out.push_back(header);
  for (const auto& r : records) {
    std::string line;
    bool first = true;
    for (const auto& [k, v] : to_row(r)) {
      line += (first ? "" : ",") + csv_field(v);
      first = false;
    }
    out.push_back(line);
  }
  return out;
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int& out) {
  if (at + n > s.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) {
      return false;
    }
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

} // namespace

std::vector<std::string> export_lines(const std::vector<JobRecord>& jobs, ExportFormat format) {
  return lines_of(jobs, format, [](const JobRecord& j) { return row_of(j); });
}

std::vector<std::string> export_lines(const std::vector<EventRecord>& events, ExportFormat format) {
  const bool json = format == ExportFormat::jsonl;
  return lines_of(events, format, [json](const EventRecord& e) { return row_of(e, json); });
}

Result<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  auto bad = [&] {
    return Error(Errc::usage, "'" + std::string(s) + "' is not an RFC 3339 time",
                 "for example 2026-11-28T08:00:00Z, 2026-11-28T16:00:00+08:00 or 2026-11-28");
  };
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-'
      || !digits(s, 8, 2, d) || mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1970 || y > 2200) {
    return bad();
  }
  std::size_t at = 10;
  long long offset_s = 0;
  long long ms = 0;
  if (s.size() > 10) {
    if ((s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) || s.size() < 19
        || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec) || h > 23
        || mi > 59 || sec > 60) {
      return bad();
    }
    at = 19;
    if (at < s.size() && s[at] == '.') {
      std::size_t n = 0;
      long long scale = 100;
      for (++at; at < s.size() && std::isdigit(static_cast<unsigned char>(s[at])) != 0; ++at, ++n) {
        ms += (s[at] - '0') * scale;
        scale /= 10;
      }
      if (n == 0) {
        return bad();
      }
    }
    if (at == s.size()) {
      return bad(); // a time needs its offset
    }
    if (s[at] == 'Z' || s[at] == 'z') {
      ++at;
    } else if (s[at] == '+' || s[at] == '-') {
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
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const std::time_t t = ::timegm(&tm);
  if (tm.tm_mday != d) {
    return bad(); // 2026-02-30
  }
  return std::chrono::system_clock::from_time_t(t) - std::chrono::seconds(offset_s)
         + std::chrono::milliseconds(ms);
}

} // namespace aliot::factory
