#include "output.hpp"

#include <aliot/encoding.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <iostream>

namespace aliot::cli {

namespace {

// Every line aliot writes to stderr: the message may quote a server, a device or a broker, so
// its control characters and bytes that are not UTF-8 are shown as \xHH (enc::printable).
void write_err(std::string_view prefix, std::string_view msg, bool color, const char* ansi) {
  std::string out;
  if (color) {
    out += ansi;
  }
  out += prefix;
  if (color) {
    out += "\033[0m";
  }
  out += enc::printable(msg);
  out += '\n';
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

} // namespace

bool Output::written(bool ok) const {
  if (!ok && m_write_errno == 0) {
    m_write_errno = errno != 0 ? errno : EIO;
  }
  return ok;
}

bool Output::line(std::string_view text) const {
  errno = 0;
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return written(std::fflush(stdout) == 0 && std::ferror(stdout) == 0);
}

void Output::fields(std::initializer_list<std::pair<std::string_view, std::string>> rows) const {
  std::size_t width = 0;
  for (const auto& r : rows) {
    width = std::max(width, r.first.size());
  }
  for (const auto& [name, value] : rows) {
    std::string l(name);
    l.resize(width + 2, ' ');
    line(l + value);
  }
}

bool Output::raw(std::string_view bytes) const {
  errno = 0;
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  return written(std::fflush(stdout) == 0 && std::ferror(stdout) == 0);
}

void Output::error(const Error& e) const {
  write_err("aliot: error: ", e.message(), color, "\033[1;31m");
  if (!e.hint().empty()) {
    write_err("aliot: hint: ", e.hint(), color, "\033[1;36m");
  }
  if (json()) {
    nlohmann::json j;
    j["error"] = {{"code", std::string(errc_name(e.code()))},
                  {"exit_status", exit_status(e.code())},
                  {"message", e.message()}};
    const std::string s = j.dump() + "\n";
    std::fwrite(s.data(), 1, s.size(), stderr);
    std::fflush(stderr);
  }
}

void Output::warn(std::string_view message) const {
  if (!quiet) {
    write_err("aliot: warning: ", message, color, "\033[1;33m");
  }
}

void Output::info(std::string_view message) const {
  if (!quiet && verbosity >= 1) {
    write_err("aliot: ", message, false, "");
  }
}

void Output::debug(std::string_view message) const {
  if (!quiet && verbosity >= 2) {
    write_err("aliot: debug: ", message, false, "");
  }
}

void Output::trace(std::string_view message) const {
  if (!quiet && verbosity >= 3) {
    write_err("aliot: trace: ", message, false, "");
  }
}

void Output::note(std::string_view message) const {
  if (!quiet) {
    write_err("aliot: ", message, false, "");
  }
}

void Output::status(std::string_view text) const {
  if (!quiet) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  }
}

Logger Output::logger() const {
  LogLevel max = LogLevel::warn;
  if (quiet) {
    max = LogLevel::error;
  } else if (verbosity >= 3) {
    max = LogLevel::trace;
  } else if (verbosity == 2) {
    max = LogLevel::debug;
  } else if (verbosity == 1) {
    max = LogLevel::info;
  }
  Output copy = *this;
  return Logger(max, [copy](LogLevel level, std::string_view msg) {
    switch (level) {
    case LogLevel::error: write_err("aliot: error: ", msg, copy.color, "\033[1;31m"); break;
    case LogLevel::warn: copy.warn(msg); break;
    case LogLevel::info: write_err("aliot: ", msg, false, ""); break;
    case LogLevel::debug: write_err("aliot: debug: ", msg, false, ""); break;
    case LogLevel::trace: write_err("aliot: trace: ", msg, false, ""); break;
    }
  });
}

} // namespace aliot::cli
