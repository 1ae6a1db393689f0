// The one CSV reader (RFC 4180) for the files operators hand to aliot: the device names of
// `register --names` and the triplets of `pool import`. Bytes from outside: every input is read
// whole and bounded by the caller; nothing here throws or reads past the text.
#pragma once

#include <aliot/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::csv {

// One record: its fields, and the line (1-based) it starts on (a quoted field may hold line ends,
// so a record may span lines).
struct Record {
  std::size_t line = 0;
  std::vector<std::string> fields;
};

struct Options {
  // Skip a record whose first line is blank (only blanks and tabs).
  bool skip_blank = true;
  // Skip a record whose first line starts (after blanks) with this character (0: none).
  char comment = 0;
};

// Splits `text` into records, RFC 4180 with the leniencies spreadsheets need:
// - a UTF-8 BOM at the start is dropped; records end at LF or CRLF (a lone CR is data);
// - a field is quoted when its first character that is not a blank is '"': inside, ',' and line
//   ends are data and "" is one '"'; blanks after the closing quote are dropped, other characters
//   after it are kept (Python's csv does the same);
// - an unquoted field is trimmed of blanks and tabs at both ends, and a '"' inside it is data;
// - a quote that is not closed by the end of the text is an error: Errc::config,
//   "<origin> line N: a quoted field opened on this line is not closed", N the line it opened on.
Result<std::vector<Record>>
parse(std::string_view text, std::string_view origin, const Options& options = {});

} // namespace aliot::csv
