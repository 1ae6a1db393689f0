#include <aliot/encoding.hpp>

#include <array>
#include <cctype>
#include <cstdio>

namespace aliot::enc {

namespace {

constexpr std::string_view k_hex_lower = "0123456789abcdef";
constexpr std::string_view k_hex_upper = "0123456789ABCDEF";
constexpr std::string_view k_b64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string hex_with(std::string_view bytes, std::string_view digits) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4U]);
    out.push_back(digits[c & 0x0FU]);
  }
  return out;
}

bool unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~';
}

} // namespace

std::string hex_lower(std::string_view bytes) {
  return hex_with(bytes, k_hex_lower);
}
std::string hex_upper(std::string_view bytes) {
  return hex_with(bytes, k_hex_upper);
}

Result<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return Error(Errc::usage, "hex text has an odd number of digits");
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hex_digit(hex[i]);
    const int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Error(Errc::usage, "hex text has a character that is not a hex digit at offset "
                                    + std::to_string(hi < 0 ? i : i + 1));
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  while (i + 3 <= bytes.size()) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16U)
                       | (static_cast<unsigned char>(bytes[i + 1]) << 8U)
                       | static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(k_b64[(v >> 18U) & 63U]);
    out.push_back(k_b64[(v >> 12U) & 63U]);
    out.push_back(k_b64[(v >> 6U) & 63U]);
    out.push_back(k_b64[v & 63U]);
    i += 3;
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const unsigned v = static_cast<unsigned char>(bytes[i]) << 16U;
    out.push_back(k_b64[(v >> 18U) & 63U]);
    out.push_back(k_b64[(v >> 12U) & 63U]);
    out += "==";
  } else if (rest == 2) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16U)
                       | (static_cast<unsigned char>(bytes[i + 1]) << 8U);
    out.push_back(k_b64[(v >> 18U) & 63U]);
    out.push_back(k_b64[(v >> 12U) & 63U]);
    out.push_back(k_b64[(v >> 6U) & 63U]);
    out.push_back('=');
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::array<int, 256> table{};
  table.fill(-1);
  for (std::size_t i = 0; i < k_b64.size(); ++i) {
    table[static_cast<unsigned char>(k_b64[i])] = static_cast<int>(i);
  }
  if (text.size() % 4 != 0) {
    return Error(Errc::usage, "base64 text length is not a multiple of 4");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + static_cast<std::size_t>(k)];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad > 0) {
        return Error(Errc::usage, "base64 text has data after padding");
      }
      v[k] = table[static_cast<unsigned char>(c)];
      if (v[k] < 0) {
        return Error(Errc::usage, "base64 text has an invalid character at offset "
                                      + std::to_string(i + static_cast<std::size_t>(k)));
      }
    }
    const unsigned w = (static_cast<unsigned>(v[0]) << 18U) | (static_cast<unsigned>(v[1]) << 12U)
                       | (static_cast<unsigned>(v[2]) << 6U) | static_cast<unsigned>(v[3]);
    // Strict (RFC 4648 section 3.5): the bits the padding leaves over must be zero, so one byte
    // string has exactly one encoding.
    if ((pad == 1 && (w & 0xFFU) != 0) || (pad == 2 && (w & 0xFFFFU) != 0)) {
      return Error(Errc::usage, "base64 text has non-zero bits before its padding");
    }
    out.push_back(static_cast<char>((w >> 16U) & 0xFFU));
    if (pad < 2) {
      out.push_back(static_cast<char>((w >> 8U) & 0xFFU));
    }
    if (pad < 1) {
      out.push_back(static_cast<char>(w & 0xFFU));
    }
  }
  return out;
}

std::string percent_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  for (unsigned char c : bytes) {
    if (unreserved(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(k_hex_upper[c >> 4U]);
      out.push_back(k_hex_upper[c & 0x0FU]);
    }
  }
  return out;
}

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return Error(Errc::usage, "percent-encoding is cut short at offset " + std::to_string(i));
      }
      const int hi = hex_digit(text[i + 1]);
      const int lo = hex_digit(text[i + 2]);
      if (hi < 0 || lo < 0) {
        return Error(Errc::usage, "bad percent-encoding at offset " + std::to_string(i));
      }
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) {
      out.push_back('&');
    }
    out += percent_encode(k);
    out.push_back('=');
    out += percent_encode(v);
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> form_decode(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = body.size();
    }
    const std::string_view item = body.substr(pos, amp - pos);
    if (!item.empty()) {
      const std::size_t eq = item.find('=');
      ALIOT_TRY_ASSIGN(auto key, percent_decode(item.substr(0, eq), true));
      std::string value;
      if (eq != std::string_view::npos) {
        ALIOT_TRY_ASSIGN(auto v, percent_decode(item.substr(eq + 1), true));
        value = std::move(v);
      }
      out.emplace_back(std::move(key), std::move(value));
    }
    pos = amp + 1;
  }
  return out;
}

namespace {

// The length of the well-formed UTF-8 sequence starting at s[i] (no overlongs, no surrogates,
// nothing past U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_sequence_at(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  unsigned cp = 0;
  if (c < 0x80) {
    return 1;
  }
  if ((c & 0xE0U) == 0xC0) {
    n = 1;
    cp = c & 0x1FU;
  } else if ((c & 0xF0U) == 0xE0) {
    n = 2;
    cp = c & 0x0FU;
  } else if ((c & 0xF8U) == 0xF0) {
    n = 3;
    cp = c & 0x07U;
  } else {
    return 0;
  }
  if (i + n >= s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k <= n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0U) != 0x80) {
      return 0;
    }
    cp = (cp << 6U) | (cc & 0x3FU);
  }
  if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF
      || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n + 1;
}

} // namespace

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_at(s, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

namespace {

// A control character a terminal acts on: C0 (U+0000-U+001F), DEL, or C1 (U+0080-U+009F, in
// UTF-8 the two bytes C2 80 to C2 9F).
bool is_control(std::string_view seq) {
  const auto c = static_cast<unsigned char>(seq[0]);
  if (seq.size() == 1) {
    return c < 0x20 || c == 0x7F;
  }
  return seq.size() == 2 && c == 0xC2 && static_cast<unsigned char>(seq[1]) <= 0x9F;
}

} // namespace

std::string printable(std::string_view s) {
  static constexpr std::string_view k_hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  const auto escape = [&](std::string_view bytes) {
    for (const char b : bytes) {
      const auto c = static_cast<unsigned char>(b);
      out += "\\x";
      out.push_back(k_hex[c >> 4U]);
      out.push_back(k_hex[c & 0x0FU]);
    }
  };
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_at(s, i);
    if (n == 0) {
      escape(s.substr(i, 1));
      ++i;
      continue;
    }
    const std::string_view seq = s.substr(i, n);
    if (is_control(seq)) {
      escape(seq);
    } else {
      out.append(seq);
    }
    i += n;
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string_view trim(std::string_view s, std::string_view ws) {
  const auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) {
    return {};
  }
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

} // namespace aliot::enc
