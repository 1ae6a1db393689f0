// RFC 4180 records (see csv.hpp).
#include "util/csv.hpp"

#include <utility>

namespace aliot::csv {

namespace {

bool blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// The line starting at `at` (without its LF and a CR before it).
std::string_view line_at(std::string_view text, std::size_t at) {
  const auto nl = text.find('\n', at);
  std::string_view line = text.substr(at, nl == std::string_view::npos ? nl : nl - at);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

} // namespace

Result<std::vector<Record>>
parse(std::string_view text, std::string_view origin, const Options& options) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);
  }
  std::vector<Record> out;
  std::size_t line = 1;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::string_view first = trimmed(line_at(text, i));
    if ((options.skip_blank && first.empty())
        || (options.comment != 0 && !first.empty() && first.front() == options.comment)) {
      const auto nl = text.find('\n', i);
      i = nl == std::string_view::npos ? text.size() : nl + 1;
      ++line;
      continue;
    }
    Record rec;
    rec.line = line;
    std::string cur;
    bool quoted = false;     // inside a quoted field
    bool was_quoted = false; // the current field was quoted
    std::size_t opened = 0;  // the line the open quote is on
    bool end = false;
    while (!end) {
      if (i >= text.size()) {
        if (quoted) {
          return Error(Errc::config,
                       std::string(origin) + " line " + std::to_string(opened)
                           + ": a quoted field opened on this line is not closed",
                       "close the quote (a '\"' inside a quoted field is written \"\")");
        }
        end = true;
        break;
      }
      const char c = text[i++];
      if (quoted) {
        if (c == '"') {
          if (i < text.size() && text[i] == '"') {
            cur += '"';
            ++i;
          } else {
            quoted = false;
          }
        } else {
          if (c == '\n') {
            ++line;
          }
          cur += c;
        }
        continue;
      }
      if (c == '\n' || (c == '\r' && (i >= text.size() || text[i] == '\n'))) {
        if (c == '\r' && i < text.size()) {
          ++i;
        }
        ++line;
        end = true;
      } else if (c == ',') {
        rec.fields.push_back(was_quoted ? std::move(cur) : std::string(trimmed(cur)));
        cur.clear();
        was_quoted = false;
      } else if (c == '"' && !was_quoted && trimmed(cur).empty()) {
        quoted = true;
        was_quoted = true;
        opened = line;
        cur.clear();
      } else if (!(was_quoted && blank(c))) {
        cur += c;
      }
    }
    rec.fields.push_back(was_quoted ? std::move(cur) : std::string(trimmed(cur)));
    out.push_back(std::move(rec));
  }
  return out;
}

} // namespace aliot::csv
