// How traces and errors name an AT command: "AT" and the body up to its first '=' or '?'
// ("AT+IDMAU=" for "+IDMAU=\"...\""), never its parameters (they may hold a secret).
#pragma once

#include <string>
#include <string_view>

namespace aliot::serial::detail {

inline std::string command_label(std::string_view body) {
  std::string out = "AT";
  for (char c : body) {
    out.push_back(c);
    if (c == '=' || c == '?') {
      break;
    }
  }
  return out;
}

} // namespace aliot::serial::detail
