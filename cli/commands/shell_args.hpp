// The words of a line typed in `aliot shell`, and the few options its commands take.
#pragma once

#include <aliot/error.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::cli {

// Words as a POSIX shell splits them: blanks separate, '...' and "..." quote, backslash escapes
// (outside single quotes); an unterminated quote is Errc::usage.
Result<std::vector<std::string>> split_words(std::string_view line);

// A command's words after its name: positional arguments and the options the commands take.
struct Args {
  std::vector<std::string> pos;
  std::optional<std::string> qos;
  std::optional<std::string> file;
  std::optional<std::string> reply;
  std::optional<std::string> timeout;
  std::optional<std::string> group;
  bool echo = false;
};

// The words from `from` on; an unknown option or one without its value is Errc::usage.
Result<Args>
parse_args(const std::string& cmd, const std::vector<std::string>& w, std::size_t from);
// -q: 0 (absent) or 1; 2 and anything else Errc::usage.
Result<int> qos_of(const Args& a);
// Errc::usage unless there are exactly `n` positional arguments.
Result<void> need(const std::string& cmd, const Args& a, std::size_t n, const char* usage);
// The message: positional argument `at`, or -f FILE (bounded by the platform's 256 KB).
Result<std::string> payload_of(const std::string& cmd, const Args& a, std::size_t at);

} // namespace aliot::cli
