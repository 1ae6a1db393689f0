// Rendering one message: mosquitto_sub's three output forms byte for byte, JSON Lines, and the
// pretty form for a terminal (see message.hpp).
#include "render/message.hpp"

#include <aliot/encoding.hpp>
#include <aliot/time.hpp>

#include <nlohmann/json.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <utility>
#include <vector>

namespace aliot::cli::render {

namespace {

// ---------------------------------------------------------------------------------------------
// mosquitto_sub -F (client/sub_client_output.c of mosquitto 2.0, followed step by step so the
// bytes are the same, including its field-width quirks).

struct Clock {
  std::tm tm{};
  long ns = 0;
  std::time_t s = 0;
};

Clock local_clock(std::chrono::system_clock::time_point t) {
  Clock c;
  const auto since = t.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  c.s = static_cast<std::time_t>(secs.count());
  c.ns =
      static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count());
  if (c.ns < 0) {
    c.ns += 1000000000L;
    --c.s;
  }
  ::localtime_r(&c.s, &c.tm);
  return c;
}

std::string strftime_text(const char* fmt, const std::tm& tm) {
  char buf[100];
  const std::size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

void put_blank(std::string& out, char pad, int width) {
  out.append(static_cast<std::size_t>(std::max(width, 0)), pad);
}

// printf's %d, %-Nd, %0Nd and %Nd (the width is at most 4096: render_format bounds it).
void put_int(std::string& out, int value, char align, char pad, int width) {
  char buf[4200];
  const int w = std::min(width, 4096);
  if (width == 0) {
    std::snprintf(buf, sizeof buf, "%d", value);
  } else if (align == '-') {
    std::snprintf(buf, sizeof buf, "%-*d", w, value);
  } else if (pad == '0') {
    std::snprintf(buf, sizeof buf, "%0*d", w, value);
  } else {
    std::snprintf(buf, sizeof buf, "%*d", w, value);
  }
  out += buf;
}

// printf("%-*.*s") on a C string: `value` up to its first NUL, at most `precision` bytes, padded
// with blanks to `width`.
void put_str(std::string& out, std::string_view value, char align, int width, int precision) {
  value = value.substr(0, value.find('\0'));
  if (precision >= 0 && value.size() > static_cast<std::size_t>(precision)) {
    value = value.substr(0, static_cast<std::size_t>(precision));
  }
  const int pad = width - static_cast<int>(value.size());
  if (align != '-') {
    put_blank(out, ' ', pad);
  }
  out += value;
  if (align == '-') {
    put_blank(out, ' ', pad);
  }
}

// write_payload(): hex 0 raw, 1 lower-case hex, 2 upper-case hex.
void put_payload(
    std::string& out, std::string_view payload, int hex, char align, char pad, int width) {
  long len = static_cast<long>(payload.size());
  long padlen = 0;
  if (width > 0) {
    if (len > width) {
      len = width;
    }
    if (hex > 0) {
      len /= 2;
      padlen = width - len * 2;
    } else {
      padlen = width - len;
    }
  } else {
    padlen = width - len;
  }
  if (align != '-') {
    out.append(static_cast<std::size_t>(std::max(padlen, 0L)), pad);
  }
  static constexpr char k_lower[] = "0123456789abcdef";
  static constexpr char k_upper[] = "0123456789ABCDEF";
  const auto bytes = payload.substr(0, static_cast<std::size_t>(len));
  if (hex == 0) {
    out += bytes;
  } else {
    const char* digits = hex == 1 ? k_lower : k_upper;
    for (const char ch : bytes) {
      const auto b = static_cast<unsigned char>(ch);
      out += digits[b >> 4];
      out += digits[b & 0xf];
    }
  }
  if (align == '-') {
    out.append(static_cast<std::size_t>(std::max(padlen, 0L)), ' ');
  }
}

// A JSON string as cJSON prints it: '"', '\\' and bytes below 0x20 escaped, every other byte as
// it is (mosquitto_sub prints a payload's bytes unchanged; a NUL is escaped here, where cJSON
// would end the string).
void put_cjson_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += ch;
      }
    }
  }
  out += '"';
}

// A number as cJSON prints it (print_number of cJSON 1.7).
void put_cjson_number(std::string& out, double d) {
  char buf[64];
  int as_int = 0;
  if (d >= static_cast<double>(INT_MAX)) {
    as_int = INT_MAX;
  } else if (d <= static_cast<double>(INT_MIN)) {
    as_int = INT_MIN;
  } else {
    as_int = static_cast<int>(d);
  }
  if (std::isnan(d) || std::isinf(d)) {
    std::snprintf(buf, sizeof buf, "null");
  } else if (d == static_cast<double>(as_int)) {
    std::snprintf(buf, sizeof buf, "%d", as_int);
  } else {
    std::snprintf(buf, sizeof buf, "%1.15g", d);
    const double back = std::strtod(buf, nullptr);
    const double max_val = std::max(std::fabs(back), std::fabs(d));
    if (!(std::fabs(back - d) <= max_val * DBL_EPSILON)) {
      std::snprintf(buf, sizeof buf, "%1.17g", d);
    }
  }
  out += buf;
}

// A parsed payload as cJSON_PrintUnformatted prints it. Depth is bounded by the caller.
void put_cjson(std::string& out, const nlohmann::ordered_json& j) {
  switch (j.type()) {
  case nlohmann::ordered_json::value_t::object: {
    out += '{';
    bool first = true;
    for (const auto& [k, v] : j.items()) {
      if (!first) {
        out += ',';
      }
      first = false;
      put_cjson_string(out, k);
      out += ':';
      put_cjson(out, v);
    }
    out += '}';
    break;
  }
  case nlohmann::ordered_json::value_t::array: {
    out += '[';
    bool first = true;
    for (const auto& v : j) {
      if (!first) {
        out += ',';
      }
      first = false;
      put_cjson(out, v);
    }
    out += ']';
    break;
  }
  case nlohmann::ordered_json::value_t::string:
    put_cjson_string(out, j.get_ref<const std::string&>());
    break;
  case nlohmann::ordered_json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; break;
  case nlohmann::ordered_json::value_t::number_integer:
  case nlohmann::ordered_json::value_t::number_unsigned:
  case nlohmann::ordered_json::value_t::number_float: put_cjson_number(out, j.get<double>()); break;
  default: out += "null"; break;
  }
}

// The deepest nesting of [ and { outside strings: parsers and printers recurse on it.
std::size_t json_depth(std::string_view s) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : s) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

constexpr std::size_t k_max_depth = 64;

std::optional<nlohmann::ordered_json> parse_json(std::string_view payload) {
  if (json_depth(payload) > k_max_depth || !enc::is_valid_utf8(payload)) {
    return std::nullopt;
  }
  auto j = nlohmann::ordered_json::parse(payload.begin(), payload.end(), nullptr, false);
  if (j.is_discarded()) {
    return std::nullopt;
  }
  return j;
}

// %j and %J: json_print() of mosquitto_sub built with cJSON (Debian's), unformatted.
bool put_message_json(std::string& out, const Message& m, const Clock& c, bool escaped) {
  std::string tst = strftime_text("%Y-%m-%dT%H:%M:%S", c.tm);
  char us[32];
  std::snprintf(us, sizeof us, ".%06ldZ", c.ns / 1000);
  tst += us;
  tst += strftime_text("%z", c.tm);
  std::string o = "{\"tst\":";
  put_cjson_string(o, tst);
  o += ",\"topic\":";
  put_cjson_string(o, m.topic);
  o += ",\"qos\":" + std::to_string(m.qos);
  o += ",\"retain\":" + std::to_string(m.retained ? 1 : 0);
  o += ",\"payloadlen\":" + std::to_string(m.payload.size());
  if (m.qos > 0) {
    o += ",\"mid\":" + std::to_string(m.mid);
  }
  o += ",\"payload\":";
  if (m.payload.empty()) {
    o += "null";
  } else if (escaped) {
    put_cjson_string(o, m.payload);
  } else {
    auto j = parse_json(m.payload);
    if (!j) {
      return false;
    }
    put_cjson(o, *j);
  }
  o += '}';
  out += o;
  return true;
}

void put_percent(std::string& out,
                 const Options& opt,
                 const Message& m,
                 const Clock& c,
                 char letter,
                 char align,
                 char pad,
                 int width,
                 int precision) {
  switch (letter) {
  case '%': out += '%'; break;
  case 'A':
  case 'E':
  case 'F':
  case 'S': put_blank(out, pad, width); break; // MQTT v5 properties: MQTT 3.1.1 has none
  case 'C': put_blank(out, ' ', width); break;
  case 'I': put_str(out, strftime_text("%FT%T%z", c.tm), align, width, precision); break;
  case 'j': put_message_json(out, m, c, true); break;
  case 'J':
    if (!put_message_json(out, m, c, false) && opt.warn) {
      opt.warn("-F %J: the payload on " + enc::printable(m.topic) + " is not valid JSON");
    }
    break;
  case 'l': put_int(out, static_cast<int>(m.payload.size()), align, pad, width); break;
  case 'm': put_int(out, m.mid, align, pad, width); break;
  case 'p': put_payload(out, m.payload, 0, align, pad, width); break;
  case 'q': out += static_cast<char>('0' + m.qos); break;
  case 'r': out += m.retained ? '1' : '0'; break;
  case 't': put_str(out, m.topic, align, width, precision); break;
  case 'U': {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(c.s), c.ns);
    out += buf;
    break;
  }
  case 'x': put_payload(out, m.payload, 1, align, pad, width); break;
  case 'X': put_payload(out, m.payload, 2, align, pad, width); break;
  default: break; // %D %P %R (v5 properties) and unknown letters print nothing, as there
  }
}

std::string render_format(const Options& opt, const Message& m) {
  const Clock c = local_clock(m.time);
  const std::string& f = opt.format;
  const std::size_t len = f.size();
  std::string out;
  for (std::size_t i = 0; i < len; ++i) {
    if (f[i] == '%') {
      char align = 0;
      char pad = ' ';
      int width = 0;
      int precision = -1;
      if (i < len - 1) {
        ++i;
        if (f[i] == '-') {
          align = f[i];
          if (i < len - 1) {
            ++i;
          }
        }
        if (f[i] == '0') {
          pad = '0';
          if (i < len - 1) {
            ++i;
          }
        }
        while (i < len - 1 && f[i] >= '0' && f[i] <= '9') {
          width = std::min(width * 10 + (f[i] - '0'), 4096);
          ++i;
        }
        if (f[i] == '.') {
          if (i < len - 1) {
            ++i;
            precision = 0;
            while (i < len - 1 && f[i] >= '0' && f[i] <= '9') {
              precision = std::min(precision * 10 + (f[i] - '0'), 4096);
              ++i;
            }
          }
        }
        if (i < len) {
          put_percent(out, opt, m, c, f[i], align, pad, width, precision);
        }
      }
    } else if (f[i] == '@') {
      if (i < len - 1) {
        ++i;
        if (f[i] == '@') {
          out += '@';
        } else if (f[i] == 'N') {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%09ld", c.ns);
          out += buf;
        } else {
          const char strf[3] = {'%', f[i], '\0'};
          out += strftime_text(strf, c.tm);
        }
      }
    } else if (f[i] == '\\') {
      if (i < len - 1) {
        ++i;
        switch (f[i]) {
        case '\\': out += '\\'; break;
        case '0': out += '\0'; break;
        case 'a': out += '\a'; break;
        case 'e': out += '\033'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        default: break;
        }
      }
    } else {
      out += f[i];
    }
  }
  if (opt.eol) {
    out += '\n';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pretty: a header line, then the payload folded to the width.

// Styles (SGR parameters); empty = plain.
constexpr const char* k_dim = "2";
constexpr const char* k_bold = "1";
constexpr const char* k_key = "1;34";
constexpr const char* k_string = "32";
constexpr const char* k_number = "36";
constexpr const char* k_literal = "35";
constexpr const char* k_down = "1;36";
constexpr const char* k_up = "1;33";
constexpr const char* k_warn = "33";

struct Span {
  const char* style = nullptr;
  std::string text; // printable text: no control characters
};
using Line = std::vector<Span>;

std::size_t columns_of(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++n; // one column per code point (East Asian wide characters count one)
    }
  }
  return n;
}

class Writer {
public:
  Writer(bool color, std::size_t width)
      : m_color(color)
      , m_width(width) {}

  // One logical line, folded to the width: continuation lines start with `indent` blanks.
  void line(const Line& spans, std::size_t indent) {
    std::size_t col = 0;
    for (const auto& s : spans) {
      std::size_t start = 0;
      const std::string& t = s.text;
      while (start < t.size()) {
        if (col >= m_width && col > indent) {
          m_out += '\n';
          m_out.append(indent, ' ');
          col = indent;
        }
        // As many code points as fit.
        std::size_t end = start;
        std::size_t room = m_width > col ? m_width - col : 1;
        while (end < t.size() && room > 0) {
          ++end;
          while (end < t.size() && (static_cast<unsigned char>(t[end]) & 0xC0) == 0x80) {
            ++end;
          }
          --room;
          ++col;
        }
        put(s.style, std::string_view(t).substr(start, end - start));
        start = end;
      }
    }
    m_out += '\n';
  }

  std::string take() { return std::move(m_out); }

private:
  void put(const char* style, std::string_view text) {
    if (m_color && style != nullptr) {
      m_out += "\033[";
      m_out += style;
      m_out += 'm';
      m_out += text;
      m_out += "\033[0m";
    } else {
      m_out += text;
    }
  }

  bool m_color;
  std::size_t m_width;
  std::string m_out;
};

// Pretty-printed JSON, two blanks a level, as lines of spans.
class JsonLines {
public:
  explicit JsonLines(std::size_t indent)
      : m_base(indent) {}

  std::vector<Line> take(const nlohmann::ordered_json& j) {
    m_lines.clear();
    m_lines.emplace_back();
    pad(0);
    value(j, 0);
    return std::move(m_lines);
  }

private:
  void pad(std::size_t level) {
    m_lines.back().push_back({nullptr, std::string(m_base + 2 * level, ' ')});
  }
  void add(const char* style, std::string text) {
    m_lines.back().push_back({style, std::move(text)});
  }
  void newline(std::size_t level) {
    m_lines.emplace_back();
    pad(level);
  }

  static std::string quoted(const std::string& s) {
    // dump() escapes C0 controls, '"' and '\\'; printable() then shows C1 controls as \xHH.
    return enc::printable(nlohmann::ordered_json(s).dump());
  }

  void value(const nlohmann::ordered_json& j, std::size_t level) {
    using T = nlohmann::ordered_json::value_t;
    switch (j.type()) {
    case T::object: {
      if (j.empty()) {
        add(nullptr, "{}");
        return;
      }
      add(nullptr, "{");
      std::size_t k = 0;
      for (const auto& [key, v] : j.items()) {
        newline(level + 1);
        add(k_key, quoted(key));
        add(nullptr, ": ");
        value(v, level + 1);
        if (++k < j.size()) {
          add(nullptr, ",");
        }
      }
      newline(level);
      add(nullptr, "}");
      return;
    }
    case T::array: {
      if (j.empty()) {
        add(nullptr, "[]");
        return;
      }
      add(nullptr, "[");
      std::size_t k = 0;
      for (const auto& v : j) {
        newline(level + 1);
        value(v, level + 1);
        if (++k < j.size()) {
          add(nullptr, ",");
        }
      }
      newline(level);
      add(nullptr, "]");
      return;
    }
    case T::string: add(k_string, quoted(j.get_ref<const std::string&>())); return;
    case T::boolean:
    case T::null: add(k_literal, j.dump()); return;
    default: add(k_number, j.dump()); return;
    }
  }

  std::size_t m_base;
  std::vector<Line> m_lines;
};

constexpr std::size_t k_indent = 2;
constexpr std::size_t k_max_lines = 200;
constexpr std::size_t k_max_hex = 512;

bool is_text(std::string_view s) {
  if (!enc::is_valid_utf8(s)) {
    return false;
  }
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c == 0x7f) {
      return false;
    }
  }
  return true;
}

std::string bytes_text(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " byte" : " bytes");
}

// The longest prefix of `s` of at most `n` bytes that ends on a code point boundary.
std::string_view utf8_prefix(std::string_view s, std::size_t n) {
  if (s.size() <= n) {
    return s;
  }
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
  }
  return s.substr(0, n);
}

std::string clock_text(std::chrono::system_clock::time_point t) {
  const Clock c = local_clock(t);
  char ms[32];
  std::snprintf(ms, sizeof ms, ".%03ld", c.ns / 1000000);
  return strftime_text("%H:%M:%S", c.tm) + ms;
}

void hex_lines(std::vector<Line>& lines, std::string_view bytes, std::size_t width) {
  // 16 bytes a line needs 2 + 4 + 2 + 16*3 + 1 + 2 + 16 = 75 columns; 8 a line below that.
  const std::size_t per = width >= 76 ? 16 : 8;
  static constexpr char k_hex[] = "0123456789abcdef";
  for (std::size_t off = 0; off < bytes.size(); off += per) {
    char o[32];
    std::snprintf(o, sizeof o, "%04zx", off);
    Line l;
    l.push_back({nullptr, std::string(k_indent, ' ')});
    l.push_back({k_dim, o});
    std::string hex = " ";
    std::string ascii;
    for (std::size_t k = 0; k < per; ++k) {
      if (k == per / 2) {
        hex += ' ';
      }
      if (off + k < bytes.size()) {
        const auto b = static_cast<unsigned char>(bytes[off + k]);
        hex += ' ';
        hex += k_hex[b >> 4];
        hex += k_hex[b & 0xf];
        ascii += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
      } else {
        hex += "   ";
      }
    }
    if (width >= 46) { // 8 a line with its characters: 2 + 4 + 2 + 8*3 + 1 + 2 + 10 columns
      l.push_back({nullptr, hex + "  "});
      l.push_back({k_dim, "|" + ascii + "|"});
    } else {
      l.push_back({nullptr, hex});
    }
    lines.push_back(std::move(l));
  }
}

std::string render_pretty(const Options& opt, const Message& m) {
  const std::size_t width = static_cast<std::size_t>(std::clamp(opt.width, 20, 1000));
  Line head;
  head.push_back({k_dim, clock_text(m.time)});
  if (m.direction != Direction::none) {
    head.push_back({nullptr, " "});
    head.push_back(m.direction == Direction::cloud_to_device ? Span{k_down, "↓"} : Span{k_up, "↑"});
  }
  head.push_back({nullptr, " "});
  head.push_back({k_dim, "q" + std::to_string(m.qos)});
  head.push_back({nullptr, " "});
  const std::string shown = abbreviate_topic(m.topic, opt.product_key, opt.device_name);
  const auto ell = shown.find("…");
  if (ell == std::string::npos) {
    head.push_back({k_bold, enc::printable(shown)});
  } else {
    head.push_back({k_bold, enc::printable(shown.substr(0, ell))});
    head.push_back({k_dim, "…"});
    head.push_back({k_bold, enc::printable(shown.substr(ell + std::string("…").size()))});
  }
  if (m.retained) {
    head.push_back({k_literal, " retained"});
  }
  auto columns_of_line = [](const Line& l) {
    std::size_t n = 0;
    for (const auto& s : l) {
      n += columns_of(s.text);
    }
    return n;
  };
  std::vector<Line> body;
  if (!m.note.empty()) {
    // After the topic when it fits, else on a line of its own under the header.
    const std::string note = enc::printable(m.note);
    if (columns_of_line(head) + 1 + columns_of(note) <= width) {
      head.push_back({k_dim, " " + note});
    } else {
      body.push_back(Line{{nullptr, std::string(k_indent, ' ')}, {k_dim, note}});
    }
  }

  std::string tail; // "… N more bytes" when cut
  const std::string_view p = m.payload;
  if (p.empty()) {
    head.push_back({k_dim, "  (empty)"});
  } else if (auto j = (p.size() <= opt.max_bytes
                       && (p.find_first_not_of(" \t\r\n") != std::string_view::npos)
                       && (p[p.find_first_not_of(" \t\r\n")] == '{'
                           || p[p.find_first_not_of(" \t\r\n")] == '['))
                          ? parse_json(p)
                          : std::nullopt) {
    auto lines = JsonLines(k_indent).take(*j);
    body.insert(body.end(), lines.begin(), lines.end());
  } else if (is_text(p)) {
    const auto shown_bytes = utf8_prefix(p, opt.max_bytes);
    if (shown_bytes.size() < p.size()) {
      tail = bytes_text(p.size() - shown_bytes.size()) + " more";
    }
    std::size_t start = 0;
    std::vector<std::string> texts;
    while (start <= shown_bytes.size()) {
      auto nl = shown_bytes.find('\n', start);
      if (nl == std::string_view::npos) {
        nl = shown_bytes.size();
      }
      auto piece = shown_bytes.substr(start, nl - start);
      if (!piece.empty() && piece.back() == '\r') {
        piece.remove_suffix(1);
      }
      texts.push_back(enc::printable(piece));
      start = nl + 1;
    }
    if (texts.size() > 1 && texts.back().empty()) {
      texts.pop_back(); // a final newline ends the last line
    }
    if (texts.size() == 1 && tail.empty() && body.empty()
        && columns_of_line(head) + 2 + columns_of(texts[0]) <= width) {
      head.push_back({nullptr, "  " + texts[0]}); // a short one-line payload: on the header line
    } else {
      for (auto& t : texts) {
        body.push_back(Line{{nullptr, std::string(k_indent, ' ')}, {nullptr, std::move(t)}});
      }
    }
  } else {
    head.push_back({k_warn, "  binary, " + bytes_text(p.size())});
    const auto cut = p.substr(0, std::min(p.size(), k_max_hex));
    if (cut.size() < p.size()) {
      tail = bytes_text(p.size() - cut.size()) + " more";
    }
    hex_lines(body, cut, width);
  }

  Writer w(opt.color, width);
  w.line(head, k_indent);
  std::size_t n = 0;
  for (const auto& l : body) {
    if (++n > k_max_lines) {
      tail = std::to_string(body.size() - k_max_lines) + " more lines";
      break;
    }
    w.line(l, k_indent);
  }
  if (!tail.empty()) {
    w.line(Line{{nullptr, std::string(k_indent, ' ')},
                {k_dim, "… " + tail + " (--raw or -o json prints everything)"}},
           k_indent);
  }
  return w.take();
}

std::string render_json(const Message& m) {
  nlohmann::ordered_json j;
  j["ts"] = utc_iso8601(m.time, true);
  j["topic"] = m.topic;
  j["qos"] = m.qos;
  if (enc::is_valid_utf8(m.payload)) {
    j["payload"] = m.payload;
  } else {
    j["payload_base64"] = enc::base64_encode(m.payload);
  }
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

} // namespace

Renderer::Renderer(Options options)
    : m_options(std::move(options)) {}

std::string Renderer::render(const Message& m) const {
  switch (m_options.mode) {
  case Mode::payload: return m.payload.empty() ? std::string() : m.payload + "\n";
  case Mode::verbose:
    return m.payload.empty() ? m.topic + " (null)\n" : m.topic + " " + m.payload + "\n";
  case Mode::format: return render_format(m_options, m);
  case Mode::json: return render_json(m);
  case Mode::pretty: return render_pretty(m_options, m);
  }
  return {};
}

std::string format_error(std::string_view f) {
  const std::size_t len = f.size();
  const std::string incomplete = "incomplete format specifier at the end";
  auto shown = [](char c) {
    return enc::printable(std::string_view(&c, 1));
  };
  for (std::size_t i = 0; i < len; ++i) {
    if (f[i] == '%') {
      if (i == len - 1) {
        return incomplete;
      }
      if (f[i + 1] == '0' || f[i + 1] == '-') {
        if (++i == len - 1) {
          return incomplete;
        }
      }
      while (f[i + 1] >= '0' && f[i + 1] <= '9') {
        if (++i == len - 1) {
          return incomplete;
        }
      }
      if (f[i + 1] == '.') {
        if (++i == len - 1) {
          return incomplete;
        }
        while (f[i + 1] >= '0' && f[i + 1] <= '9') {
          if (++i == len - 1) {
            return incomplete;
          }
        }
      }
      if (std::string_view("%ACDEFIlmPpqRSrtjJUxX").find(f[i + 1]) == std::string_view::npos) {
        return "invalid format specifier '%" + shown(f[i + 1]) + "'";
      }
      ++i;
    } else if (f[i] == '@') {
      if (i == len - 1) {
        return incomplete;
      }
      ++i;
    } else if (f[i] == '\\') {
      if (i == len - 1) {
        return "incomplete escape at the end";
      }
      if (std::string_view("\\0aenrtv").find(f[i + 1]) == std::string_view::npos) {
        return "invalid escape '\\" + shown(f[i + 1]) + "'";
      }
      ++i;
    }
  }
  return {};
}

std::string abbreviate_topic(std::string_view topic, std::string_view pk, std::string_view dn) {
  if (pk.empty() || dn.empty()) {
    return std::string(topic);
  }
  const std::string device = "/" + std::string(pk) + "/" + std::string(dn) + "/";
  for (const std::string_view prefix : {"", "/sys", "/ota/device"}) {
    if (topic.substr(0, prefix.size()) == prefix
        && topic.substr(prefix.size(), device.size()) == device) {
      return std::string(prefix) + "/…/" + std::string(topic.substr(prefix.size() + device.size()));
    }
  }
  return std::string(topic);
}

Mode choose_mode(const Choice& c) {
  if (c.format_given) {
    return Mode::format;
  }
  if (c.json) {
    return Mode::json;
  }
  const Mode plain = c.verbose_topic ? Mode::verbose : Mode::payload;
  if (c.raw) {
    return plain;
  }
  if (c.pretty) {
    return Mode::pretty;
  }
  if (c.output_given) {
    return plain; // -o text: mosquitto_sub's bytes even on a terminal
  }
  return c.stdout_tty ? Mode::pretty : plain;
}

bool color_wanted(bool no_color_flag, bool no_color_env, bool stdout_tty) {
  return stdout_tty && !no_color_flag && !no_color_env;
}

int terminal_width(int fd, const char* columns_env) {
  int w = 0;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    w = ws.ws_col;
  } else if (columns_env != nullptr) {
    w = std::atoi(columns_env);
  }
  if (w <= 0) {
    w = 80;
  }
  return std::clamp(w, 20, 1000);
}

} // namespace aliot::cli::render
