// The AT channel over a Transport: one command at a time, its info lines, its final result; URCs
// and noise apart. Secrets never reach a log: traces print Secret::redacted in their place.
#pragma once

#include <aliot/error.hpp>
#include <aliot/log.hpp>
#include <aliot/serial/transport.hpp>

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::serial {

struct Reply {
  enum class Final { ok, error, cme };
  Final final = Final::ok;
  int cme = 0;                   // with Final::cme
  std::vector<std::string> info; // the "+NAME:" lines of the pending command (CRC removed)

  bool ok() const { return final == Final::ok; }
};

// What a trace shows of a command or its answer.
struct Redact {
  std::string tx;  // if set, traced instead of the command (e.g. "AT+IDMAU=<redacted>")
  bool rx = false; // trace info lines as <redacted>
};

class AtChannel {
public:
  AtChannel(Transport& t, const Logger& log);

  // Sends "AT<body>" (+ CRC in CRC mode) and waits for the final result. Information lines that
  // start with `info_prefix` are collected; everything else is a URC or noise. Retries `tries`
  // times on a timeout, a corrupt answer, +CME ERROR:803 (CRC) or +CME ERROR:804 (busy).
  Result<Reply> command(std::string_view body,
                        milliseconds timeout,
                        std::string_view info_prefix = {},
                        const Redact& redact = {},
                        int tries = 3);
  // One attempt; `fault` says why it failed (for callers with their own retry rules).
  enum class Fault { none, timeout, corrupt, link_lost };
  Result<Reply> exchange(std::string_view body,
                         milliseconds timeout,
                         std::string_view info_prefix,
                         const Redact& redact,
                         Fault& fault);

  // Waits for the URC `text` (e.g. "ready"); true if it came (or came since the last clear).
  Result<bool> wait_urc(std::string_view text, milliseconds timeout);

  bool crc() const { return m_crc; }
  void set_crc(bool on) { m_crc = on; }
  // Set whenever a "ready" URC arrives (the device rebooted: CRC mode is off again).
  bool boot_seen() const { return m_boot_seen; }
  void clear_boot_seen() { m_boot_seen = false; }
  // Drops buffered input and the partial line.
  void discard();

  Transport& transport() { return m_t; }
  const Logger& log() const { return m_log; }
  // Total bytes written and read (for the benchmark).
  std::size_t bytes_out() const { return m_bytes_out; }
  std::size_t bytes_in() const { return m_bytes_in; }

private:
  Result<std::optional<std::string>> next_line(Clock::time_point deadline);
  void note_urc(const std::string& line);

  Transport& m_t;
  const Logger& m_log;
  std::string m_buf;
  std::deque<std::string> m_urcs;
  bool m_crc = false;
  bool m_boot_seen = false;
  std::size_t m_bytes_out = 0;
  std::size_t m_bytes_in = 0;
};

} // namespace aliot::serial
