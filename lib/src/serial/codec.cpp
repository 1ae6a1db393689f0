// The ALSW-PROV/1 line codec: CRC-16/CCITT-FALSE, \HH escapes, quote-aware parameter parsing,
// and the fingerprint / challenge digests.
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/serial/codec.hpp>

#include <array>
#include <cstdio>

namespace aliot::serial {

namespace {

constexpr std::array<std::uint16_t, 256> make_table() {
  std::array<std::uint16_t, 256> t{};
  for (unsigned i = 0; i < 256; ++i) {
    auto c = static_cast<std::uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) {
      c = (c & 0x8000) != 0 ? static_cast<std::uint16_t>((c << 1) ^ 0x1021)
                            : static_cast<std::uint16_t>(c << 1);
    }
    t[i] = c;
  }
  return t;
}

constexpr auto k_table = make_table();

bool is_hexup(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

} // namespace

std::uint16_t crc16(std::string_view bytes) {
  std::uint16_t crc = 0xFFFF;
  for (unsigned char b : bytes) {
    crc = static_cast<std::uint16_t>((crc << 8) ^ k_table[((crc >> 8) ^ b) & 0xFF]);
  }
  return crc;
}

std::string with_crc(std::string_view text) {
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "*%04X", static_cast<unsigned>(crc16(text)));
  return std::string(text) + suffix;
}

CheckedLine check_crc(std::string_view line) {
  CheckedLine out;
  const auto n = line.size();
  if (n >= 5 && line[n - 5] == '*' && is_hexup(line[n - 4]) && is_hexup(line[n - 3])
      && is_hexup(line[n - 2]) && is_hexup(line[n - 1])) {
    out.has_crc = true;
    out.text = std::string(line.substr(0, n - 5));
    unsigned v = 0;
    for (std::size_t i = n - 4; i < n; ++i) {
      v = v * 16 + static_cast<unsigned>(enc::hex_digit(line[i]));
    }
    out.crc_ok = v == crc16(out.text);
    return out;
  }
  out.text = std::string(line);
  return out;
}

std::string quote(std::string_view value) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (unsigned char c : value) {
    if (c >= 0x20 && c <= 0x7E && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('\\');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xF]);
    }
  }
  out.push_back('"');
  return out;
}

Result<std::vector<Param>> parse_params(std::string_view text) {
  std::vector<Param> out;
  std::size_t i = 0;
  const auto bad = [&](const std::string& why) {
    return Error(Errc::device,
                 "malformed parameters: " + why + " at column " + std::to_string(i + 1));
  };
  while (true) {
    Param p;
    if (i < text.size() && text[i] == '"') {
      p.quoted = true;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
          closed = true;
          ++i;
          break;
        }
        if (c == '\\') {
          const int hi = i + 1 < text.size() ? enc::hex_digit(text[i + 1]) : -1;
          const int lo = i + 2 < text.size() ? enc::hex_digit(text[i + 2]) : -1;
          if (hi < 0 || lo < 0) {
            return bad("a backslash not followed by two hex digits");
          }
          p.value.push_back(static_cast<char>(hi * 16 + lo));
          i += 3;
          continue;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u > 0x7E) {
          return bad("a raw control or non-ASCII byte in a quoted string");
        }
        p.value.push_back(c);
        ++i;
      }
      if (!closed) {
        return bad("an unterminated quoted string");
      }
    } else {
      while (i < text.size() && text[i] != ',') {
        const char c = text[i];
        if (c == '"') {
          return bad("a quote inside an unquoted value");
        }
        p.value.push_back(c);
        ++i;
      }
    }
    out.push_back(std::move(p));
    if (i == text.size()) {
      break;
    }
    if (text[i] != ',') {
      return bad("expected ',' after a quoted string");
    }
    ++i;
  }
  return out;
}

Result<std::string>
fingerprint(std::string_view pk, std::string_view dn, const Secret& ds, const Secret& ps) {
  std::string msg = "ALIOT-FP1\n";
  msg.append(pk)
      .append("\n")
      .append(dn)
      .append("\n")
      .append(ds.reveal())
      .append("\n")
      .append(ps.reveal());
  const std::string digest = crypto::sha256_hex(msg);
  std::fill(msg.begin(), msg.end(), '\0');
  return digest.substr(0, 16);
}

Result<std::string> challenge_response(const Secret& key,
                                       std::string_view pk,
                                       std::string_view dn,
                                       std::string_view nonce) {
  std::string msg = "ALIOT-CHK1\n";
  msg.append(pk).append("\n").append(dn).append("\n").append(nonce);
  return crypto::hmac_hex(crypto::Hmac::sha256, key.reveal(), msg);
}

} // namespace aliot::serial
