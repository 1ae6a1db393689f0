// Parsing a pool import file (no database): the console's CSV layouts and `register --out` JSON
// lines, every row validated, duplicates within the file refused.
#pragma once

#include <aliot/error.hpp>
#include <aliot/secret.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::factory::detail {

struct ImportRow {
  std::size_t line = 0; // 1-based, in the file
  std::string product_key, device_name;
  Secret device_secret, product_secret;
};

struct ParsedImport {
  std::string format; // "csv" or "jsonl"
  std::vector<ImportRow> rows;
};

// `origin` names the file in messages ("FILE line N: ..."). A malformed or truncated row is
// Errc::config; an invalid value, a duplicate or a row of another product than `product_key` is
// Errc::usage; a file without a row is Errc::usage.
Result<ParsedImport> parse_import(std::string_view text,
                                  const std::string& origin,
                                  const std::optional<std::string>& product_key);

} // namespace aliot::factory::detail
