// A progress line on standard error for long runs over many items: a bar, done/total, failures,
// rate and ETA, redrawn at most every 100 ms and cleared before any other output. Shown only on a
// terminal and not with -q. Not thread-safe: callers serialize.
#pragma once

#include "output.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

namespace aliot::cli {

class Progress {
public:
  // `wanted`: whether the run calls for one (e.g. more than one item).
  Progress(const Output& out, bool wanted, std::size_t total)
      : m_out(out)
      , m_enabled(wanted && !out.quiet && ::isatty(STDERR_FILENO) != 0)
      , m_total(total)
      , m_start(std::chrono::steady_clock::now()) {}

  // `force`: draw now even if the last draw was less than 100 ms ago.
  void update(std::size_t done, std::size_t failed, bool force = false) {
    const auto now = std::chrono::steady_clock::now();
    if (!m_enabled || (!force && now - m_last < std::chrono::milliseconds(100))) {
      return;
    }
    m_last = now;
    const double secs = std::chrono::duration<double>(now - m_start).count();
    const double rate = secs > 0 ? static_cast<double>(done + failed) / secs : 0;
    const std::size_t left = m_total - std::min(m_total, done + failed);
    const int width = 24;
    const auto filled = static_cast<int>(m_total == 0 ? width : width * (done + failed) / m_total);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    char buf[200];
    std::snprintf(buf, sizeof buf, "\r[%s] %zu/%zu done, %zu failed, %.1f/s, ETA %.0fs\033[K",
                  bar.c_str(), done, m_total, failed, rate, rate > 0 ? left / rate : 0.0);
    m_out.status(buf);
    m_shown = true;
  }

  // Clears the line so ordinary output can follow.
  void clear() {
    if (m_shown) {
      m_out.status("\r\033[K");
      m_shown = false;
    }
  }

private:
  const Output& m_out;
  bool m_enabled;
  std::size_t m_total;
  std::chrono::steady_clock::time_point m_start;
  std::chrono::steady_clock::time_point m_last{};
  bool m_shown = false;
};

} // namespace aliot::cli
