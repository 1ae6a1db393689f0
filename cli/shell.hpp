// Quoting for POSIX shells (export lines, ready-made client arguments, completion scripts).
#pragma once

#include <string>
#include <string_view>

namespace aliot::cli {

// 'text' with every ' written as '\'' (always quoted).
inline std::string single_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  out += "'";
  return out;
}

// The text as is when it needs no quoting, else single_quote().
inline std::string shell_quote(std::string_view s) {
  constexpr std::string_view k_plain = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_./:@=,+";
  if (!s.empty() && s.find_first_not_of(k_plain) == std::string_view::npos) {
    return std::string(s);
  }
  return single_quote(s);
}

} // namespace aliot::cli
