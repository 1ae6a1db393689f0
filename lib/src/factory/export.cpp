// `journal export`: the journal's jobs and events as JSON Lines or CSV, and --since's time.
#include <aliot/factory.hpp>

#include <nlohmann/json.hpp>

#include <cctype>
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
  // Appended piece by piece: `"," + std::string(...)` trips GCC 12's -Wrestrict false positive
  // in optimised builds.
  for (const auto& [k, v] : to_row(R{})) {
    if (!header.empty()) {
      header += ',';
    }
    header += k;
  }
  out.push_back(header);
  for (const auto& r : records) {
    std::string line;
    bool first = true;
    for (const auto& [k, v] : to_row(r)) {
      if (!first) {
        line += ',';
      }
      line += csv_field(v);
      first = false;
    }
    out.push_back(line);
  }
  return out;
}

} // namespace

std::vector<std::string> export_lines(const std::vector<JobRecord>& jobs, ExportFormat format) {
  return lines_of(jobs, format, [](const JobRecord& j) { return row_of(j); });
}

std::vector<std::string> export_lines(const std::vector<EventRecord>& events, ExportFormat format) {
  const bool json = format == ExportFormat::jsonl;
  return lines_of(events, format, [json](const EventRecord& e) { return row_of(e, json); });
}

} // namespace aliot::factory
