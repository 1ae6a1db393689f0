// Splitting and parsing the lines of `aliot shell` (shell_args.hpp).
#include "commands/shell_args.hpp"

#include <aliot/topic.hpp>

#include <fstream>

namespace aliot::cli {

Result<std::vector<std::string>> split_words(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote == '\'') {
      if (c == '\'') {
        quote = 0;
      } else {
        cur.push_back(c);
      }
    } else if (c == '\\' && i + 1 < line.size()) {
      cur.push_back(line[++i]);
      in_word = true;
    } else if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else {
        cur.push_back(c);
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) {
        words.push_back(std::move(cur));
        cur.clear();
        in_word = false;
      }
    } else {
      cur.push_back(c);
      in_word = true;
    }
  }
  if (quote != 0) {
    return Error(Errc::usage, std::string("unterminated ") + quote + " quote");
  }
  if (in_word) {
    words.push_back(std::move(cur));
  }
  return words;
}

Result<Args>
parse_args(const std::string& cmd, const std::vector<std::string>& w, std::size_t from) {
  Args a;
  for (std::size_t i = from; i < w.size(); ++i) {
    const std::string& s = w[i];
    auto value = [&](std::optional<std::string>& out) -> Result<void> {
      if (i + 1 >= w.size()) {
        return Error(Errc::usage, cmd + ": " + s + " needs a value");
      }
      out = w[++i];
      return ok();
    };
    if (s == "-q" || s == "--qos") {
      ALIOT_TRY(value(a.qos));
    } else if (s == "-f" || s == "--file") {
      ALIOT_TRY(value(a.file));
    } else if (s == "--reply") {
      ALIOT_TRY(value(a.reply));
    } else if (s == "--timeout") {
      ALIOT_TRY(value(a.timeout));
    } else if (s == "--group") {
      ALIOT_TRY(value(a.group));
    } else if (s == "--echo") {
      a.echo = true;
    } else if (s.size() > 1 && s[0] == '-' && s != "-") {
      return Error(Errc::usage, cmd + ": unknown option " + s, "type `help`");
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

Result<int> qos_of(const Args& a) {
  if (!a.qos || *a.qos == "0") {
    return 0;
  }
  if (*a.qos == "1") {
    return 1;
  }
  if (*a.qos == "2") {
    return Error(Errc::usage, "QoS 2 is not supported: the platform has QoS 0 and 1 only");
  }
  return Error(Errc::usage, "QoS '" + *a.qos + "' is not valid: use 0 or 1");
}

Result<void> need(const std::string& cmd, const Args& a, std::size_t n, const char* usage) {
  if (a.pos.size() != n) {
    return Error(Errc::usage, cmd + ": expected " + usage);
  }
  return ok();
}

Result<std::string> payload_of(const std::string& cmd, const Args& a, std::size_t at) {
  if (a.file && a.pos.size() == at) {
    std::ifstream in(*a.file, std::ios::binary);
    if (!in) {
      return Error(Errc::io, cmd + ": cannot read " + *a.file);
    }
    std::string data;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      data.append(buf, static_cast<std::size_t>(in.gcount()));
      if (data.size() > topic::k_max_payload) {
        return Error(Errc::usage, cmd + ": " + *a.file + " is over the platform's 256 KB");
      }
    }
    return data;
  }
  if (a.file || a.pos.size() != at + 1) {
    return Error(Errc::usage, cmd + ": give the message, or -f FILE");
  }
  if (a.pos[at].size() > topic::k_max_payload) {
    return Error(Errc::usage, cmd + ": the message is over the platform's 256 KB");
  }
  return a.pos[at];
}

} // namespace aliot::cli
