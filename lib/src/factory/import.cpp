// Pool import files: the header of a CSV is read case-insensitively (blanks, '_' and '-' in a
// column name ignored), so the console's batch-registration file (ProductKey, DeviceName,
// DeviceSecret), an export of QueryPageByApplyId (DeviceName, DeviceSecret, IotId; the product
// from -k) and files with a ProductSecret column all read; a file whose first row is a JSON object
// is the JSON lines `aliot register --out` writes.
#include "factory/import.hpp"

#include "util/csv.hpp"

#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>
#include <aliot/serial/dialect.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

namespace aliot::factory::detail {

namespace {

struct Line {
  std::size_t number = 0;
  std::string_view text;
};

// Lines without their '\n' and a trailing '\r'; blank ones left out.
std::vector<Line> lines_of(std::string_view text) {
  std::vector<Line> out;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      out.push_back({number, line});
    }
  }
  return out;
}

// "Product Key" / "product_key" / "ProductKey" -> "productkey".
std::string column_key(std::string_view name) {
  std::string k;
  for (unsigned char c : name) {
    if (c != ' ' && c != '_' && c != '-' && c != '\t') {
      k += static_cast<char>(std::tolower(c));
    }
  }
  return k;
}

Result<void>
check_row(ImportRow& r, const std::string& where, const std::optional<std::string>& product_key) {
  if (product_key && r.product_key.empty()) {
    r.product_key = *product_key;
  }
  if (r.product_key.empty()) {
    return Error(Errc::usage, where + ": no ProductKey (the file has no ProductKey column)",
                 "give the product with -k PK");
  }
  if (product_key && r.product_key != *product_key) {
    return Error(Errc::usage,
                 where + ": ProductKey " + r.product_key + " is not the product " + *product_key
                     + " given with -k",
                 "nothing was imported");
  }
  if (auto v = validate_product_key(r.product_key); !v) {
    return Error(Errc::usage, where + ": " + v.error().message());
  }
  if (auto v = validate_device_name(r.device_name); !v) {
    return Error(Errc::usage, where + ": " + v.error().message());
  }
  if (auto v = validate_device_secret(r.device_secret); !v) {
    return Error(Errc::usage, where + ": " + v.error().message());
  }
  if (!r.product_secret.empty()) {
    if (auto v = validate_device_secret(r.product_secret, "ProductSecret"); !v) {
      return Error(Errc::usage, where + ": " + v.error().message());
    }
  }
  // the switch's store limits (what a burn would refuse later)
  if (auto v = serial::validate_credentials(
          {r.product_key, r.device_name, r.device_secret, r.product_secret});
      !v) {
    return Error(Errc::usage, where + ": " + v.error().message());
  }
  return ok();
}

// The console's layouts, read by the one CSV reader (util/csv: RFC 4180, quoted fields may hold
// commas and line ends; an unclosed quote is refused naming the line it opened on).
Result<std::vector<ImportRow>> parse_csv(std::string_view text, const std::string& origin) {
  auto records = csv::parse(text, origin);
  if (!records) {
    return Error(Errc::config, records.error().message(), "nothing was imported");
  }
  if (records->empty()) {
    return Error(Errc::usage, origin + ": no triplet in the file");
  }
  const auto& head = records->front();
  const std::vector<std::string>* header = &head.fields;
  const std::string at0 = origin + " line " + std::to_string(head.line);
  std::map<std::string, std::size_t> col;
  for (std::size_t i = 0; i < header->size(); ++i) {
    auto k = column_key((*header)[i]);
    if (k == "pk") {
      k = "productkey";
    } else if (k == "dn") {
      k = "devicename";
    } else if (k == "ds") {
      k = "devicesecret";
    } else if (k == "ps") {
      k = "productsecret";
    }
    if (!col.emplace(k, i).second && !k.empty()) {
      return Error(Errc::config, at0 + ": the column " + (*header)[i] + " appears twice");
    }
  }
  for (const char* need : {"devicename", "devicesecret"}) {
    if (col.count(need) == 0) {
      return Error(Errc::config,
                   at0 + ": the header has no "
                       + (std::string(need) == "devicename" ? "DeviceName" : "DeviceSecret")
                       + " column",
                   "the console's CSV starts with ProductKey,DeviceName,DeviceSecret");
    }
  }
  std::vector<ImportRow> rows;
  for (std::size_t n = 1; n < records->size(); ++n) {
    const auto& l = (*records)[n];
    const std::string where = origin + " line " + std::to_string(l.line);
    const auto* f = &l.fields;
    if (f->size() < header->size()) {
      return Error(Errc::config,
                   where + ": truncated row (" + std::to_string(f->size()) + " of "
                       + std::to_string(header->size()) + " fields)",
                   "nothing was imported");
    }
    for (std::size_t i = header->size(); i < f->size(); ++i) {
      if (!(*f)[i].empty()) {
        return Error(Errc::config, where + ": more fields than the header names",
                     "nothing was imported");
      }
    }
    auto get = [&](const char* k) {
      auto it = col.find(k);
      return it == col.end() ? std::string() : (*f)[it->second];
    };
    ImportRow r;
    r.line = l.line;
    r.product_key = get("productkey");
    r.device_name = get("devicename");
    r.device_secret = Secret(get("devicesecret"));
    r.product_secret = Secret(get("productsecret"));
    if (r.device_name.empty() || r.device_secret.empty()) {
      return Error(Errc::config,
                   where + ": truncated row (no "
                       + (r.device_name.empty() ? "DeviceName" : "DeviceSecret") + ")",
                   "nothing was imported");
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

Result<std::vector<ImportRow>> parse_jsonl(const std::vector<Line>& lines,
                                           const std::string& origin) {
  std::vector<ImportRow> rows;
  for (const auto& l : lines) {
    const std::string where = origin + " line " + std::to_string(l.number);
    auto t = read_triplet_json(l.text, where);
    if (!t) {
      return Error(Errc::config, t.error().message() + " (a truncated or malformed line)",
                   "nothing was imported");
    }
    if (t->device_secret.empty()) {
      return Error(Errc::usage,
                   where + ": no DeviceSecret (a ClientId/DeviceToken cannot be burned)",
                   "nothing was imported");
    }
    ImportRow r;
    r.line = l.number;
    r.product_key = t->product_key;
    r.device_name = t->device_name;
    r.device_secret = std::move(t->device_secret);
    r.product_secret = std::move(t->product_secret);
    rows.push_back(std::move(r));
  }
  return rows;
}

} // namespace

Result<ParsedImport> parse_import(std::string_view text,
                                  const std::string& origin,
                                  const std::optional<std::string>& product_key) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);
  }
  const auto lines = lines_of(text);
  if (lines.empty()) {
    return Error(Errc::usage, origin + ": no triplet in the file");
  }
  ParsedImport out;
  const bool json = enc::trim(lines.front().text, " \t").substr(0, 1) == "{";
  out.format = json ? "jsonl" : "csv";
  ALIOT_TRY_ASSIGN(auto rows, json ? parse_jsonl(lines, origin) : parse_csv(text, origin));
  if (rows.empty()) {
    return Error(Errc::usage, origin + ": no triplet in the file (a header only)");
  }
  std::map<std::pair<std::string, std::string>, std::size_t> seen;
  for (auto& r : rows) {
    const std::string where = origin + " line " + std::to_string(r.line);
    ALIOT_TRY(check_row(r, where, product_key));
    auto [it, fresh] = seen.emplace(std::make_pair(r.product_key, r.device_name), r.line);
    if (!fresh) {
      return Error(Errc::usage,
                   where + ": DeviceName " + r.device_name + " repeats line "
                       + std::to_string(it->second),
                   "nothing was imported: remove the duplicate");
    }
  }
  out.rows = std::move(rows);
  return out;
}

} // namespace aliot::factory::detail
