// The device names of a batch: a plain list or the console's CSV.
#include <aliot/dynreg_batch.hpp>
#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace aliot::dynreg {

namespace {

std::vector<std::string> split_csv(std::string_view line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back(enc::trim(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.emplace_back(enc::trim(cur));
  return out;
}

} // namespace

std::vector<std::string> parse_names(std::string_view text) {
  std::vector<std::string> names;
  bool first = true;
  int column = -1; // CSV column of DeviceName, -1: plain list
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (first) {
      first = false;
      if (line.starts_with("\xEF\xBB\xBF")) {
        line.remove_prefix(3); // UTF-8 BOM (spreadsheet exports)
      }
      const auto cells = split_csv(line);
      for (std::size_t i = 0; i < cells.size(); ++i) {
        if (enc::iequals(cells[i], "DeviceName")) {
          column = static_cast<int>(i);
        }
      }
      if (column >= 0) {
        continue; // header
      }
    }
    const std::string_view t = enc::trim(line);
    if (t.empty() || t[0] == '#') {
      continue;
    }
    if (column >= 0) {
      const auto cells = split_csv(line);
      if (static_cast<std::size_t>(column) < cells.size() && !cells[column].empty()) {
        names.push_back(cells[column]);
      }
    } else {
      names.emplace_back(t);
    }
  }
  return names;
}

Result<std::vector<std::string>> read_names(const std::string& path, std::string_view origin) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(Errc::io, "reading " + std::string(origin) + ": cannot open it");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return Error(Errc::io, "reading " + std::string(origin) + ": read error");
  }
  return parse_names(text.str());
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
    auto n = read_names(*names_file, "--names " + *names_file);
    if (!n) {
      return std::move(n).error();
    }
    given.insert(given.end(), n->begin(), n->end());
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
