// The library never prints: it reports through an injected Logger whose sink the caller owns.
// Messages must never contain a secret (use Secret::redacted).
#pragma once

#include <functional>
#include <string_view>
#include <utility>

namespace aliot {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3, trace = 4 };

class Logger {
public:
  using Sink = std::function<void(LogLevel, std::string_view)>;

  Logger() = default;
  Logger(LogLevel max, Sink sink)
      : m_max(max)
      , m_sink(std::move(sink)) {}

  bool enabled(LogLevel level) const { return m_sink && level <= m_max; }

  void log(LogLevel level, std::string_view message) const {
    if (enabled(level)) {
      m_sink(level, message);
    }
  }

  void warn(std::string_view m) const { log(LogLevel::warn, m); }
  void info(std::string_view m) const { log(LogLevel::info, m); }
  void debug(std::string_view m) const { log(LogLevel::debug, m); }
  void trace(std::string_view m) const { log(LogLevel::trace, m); }

private:
  LogLevel m_max = LogLevel::warn;
  Sink m_sink;
};

} // namespace aliot
