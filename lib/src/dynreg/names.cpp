// The device names of a batch: a plain list or the console's CSV.
#include "util/csv.hpp"

#include <aliot/config.hpp>
#include <aliot/dynreg_batch.hpp>
#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace aliot::dynreg {

Result<std::vector<std::string>> parse_names(std::string_view text, std::string_view origin) {
  if (text.starts_with("\xEF\xBB\xBF")) {
    text.remove_prefix(3); // UTF-8 BOM (spreadsheet exports)
  }
  // The console's CSV when the first line names a DeviceName column.
  int column = -1;
  const std::string_view first = text.substr(0, text.find('\n'));
  if (auto header = csv::parse(first, origin); header && !header->empty()) {
    const auto& cells = header->front().fields;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (enc::iequals(cells[i], "DeviceName")) {
        column = static_cast<int>(i);
      }
    }
  }
  std::vector<std::string> names;
  if (column >= 0) {
    csv::Options o;
    o.comment = '#';
    ALIOT_TRY_ASSIGN(auto records, csv::parse(text, origin, o));
    for (std::size_t r = 1; r < records.size(); ++r) {
      const auto& cells = records[r].fields;
      if (static_cast<std::size_t>(column) < cells.size() && !cells[column].empty()) {
        names.push_back(cells[column]);
      }
    }
    return names;
  }
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    const std::string_view t = enc::trim(line);
    if (!t.empty() && t[0] != '#') {
      names.emplace_back(t);
    }
  }
  return names;
}

Result<std::vector<std::string>> read_names(const std::string& path, std::string_view origin) {
  // A names file lists at most some hundred thousand devices: 64 MiB is far past any real one.
  ALIOT_TRY_ASSIGN(auto text, config::read_bounded(path, std::size_t{64} << 20U,
                                                   "reading " + std::string(origin), Errc::io));
  return parse_names(text, origin);
}

Result<std::vector<std::string>> unique_device_names(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  for (const auto& n : names) {
    ALIOT_TRY(validate_device_name(n));
    if (seen.insert(n).second) {
      out.push_back(n);
    }
  }
  return out;
}

Result<std::vector<std::string>> device_names(std::vector<std::string> given,
                                              const std::optional<std::string>& names_file,
                                              const std::optional<std::string>& fallback) {
  if (names_file) {
    ALIOT_TRY_ASSIGN(auto n, read_names(*names_file, "--names " + *names_file));
    given.insert(given.end(), n.begin(), n.end());
  }
  if (given.empty() && fallback) {
    given.push_back(*fallback);
  }
  if (given.empty()) {
    return Error(Errc::usage, "no device to register", "give -d DN (repeatable) or --names FILE");
  }
  return unique_device_names(given);
}

} // namespace aliot::dynreg
