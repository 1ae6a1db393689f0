// Small helpers of the thing module for reading untrusted JSON.
#pragma once

#include <aliot/encoding.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace aliot::thing::json_util {

// The member `key` as text: strings as they are, numbers and other values as JSON, absent or
// null as "".
template <class Json>
std::string text(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return {};
  }
  if (it->is_string()) {
    return it->template get<std::string>();
  }
  return it->dump();
}

// At most 200 bytes of what a peer sent, printable on one line.
inline std::string excerpt(std::string_view bytes) {
  constexpr std::size_t k_max = 200;
  if (bytes.size() <= k_max) {
    return enc::printable(bytes);
  }
  return enc::printable(bytes.substr(0, k_max)) + "...";
}

} // namespace aliot::thing::json_util
