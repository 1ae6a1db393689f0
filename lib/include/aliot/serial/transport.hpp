// The byte link to a unit: the Transport interface the AT channel talks through, and the real
// serial port (raw termios, poll() deadlines, exclusive use).
#pragma once

#include <aliot/error.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::serial {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class Transport {
public:
  virtual ~Transport() = default;
  // Writes everything before `deadline`.
  virtual Result<void> write(std::string_view bytes, Clock::time_point deadline) = 0;
  // Waits until bytes are available or `deadline` passes; returns "" on timeout.
  virtual Result<std::string> read(Clock::time_point deadline) = 0;
  // Discards unread input.
  virtual void discard_input() = 0;
  // True once the device went away (POLLHUP, EIO, ENXIO): every later call fails.
  virtual bool link_lost() const = 0;
  virtual const std::string& name() const = 0;
};

struct PortOptions {
  unsigned baud = 115200;
  // When set and true, reads and writes stop with Errc::interrupted (checked at least every 50 ms).
  const std::atomic<bool>* cancel = nullptr;
};

// Opens a serial port: O_NOCTTY|O_NONBLOCK|O_CLOEXEC, flock(LOCK_EX|LOCK_NB) + TIOCEXCL, raw
// 8N1, any baud rate (termios2 for non-standard ones), input and output flushed. A busy port is
// an Errc::device error naming the holder when /proc tells.
Result<std::unique_ptr<Transport>> open_port(const std::string& path, const PortOptions& opts);

// Processes that have `path` open (other than this one), as "pid 123 (aliot)".
std::vector<std::string> port_holders(const std::string& path);

} // namespace aliot::serial
