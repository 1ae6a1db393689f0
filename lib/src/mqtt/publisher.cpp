// Streams of publishes over a Session (aliot/mqtt/publisher.hpp). The line stream drives the
// session and the input in one poll() per pass (Session::step_with): it reads input only while
// the window has room, publishes every complete line the window takes, and otherwise waits for
// acknowledgements, so a pipe that never ends holds at most one read chunk and the window.
#include <aliot/mqtt/publisher.hpp>
#include <aliot/topic.hpp>

#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace aliot::mqtt {

namespace {

constexpr std::chrono::milliseconds k_slice{100};
constexpr std::size_t k_chunk = 64 * 1024;

std::chrono::milliseconds until(Deadline t) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now());
  return std::clamp(left, std::chrono::milliseconds(0), k_slice);
}

// Waits until `t` while the session stays serviced (PUBACKs, pings).
Result<void> pause_until(Session& s, Deadline t) {
  while (Clock::now() < t) {
    ALIOT_TRY(s.step_with(-1, std::min(std::chrono::milliseconds(50), until(t))));
  }
  return ok();
}

Error oversize(long line, std::size_t bytes) {
  return Error(Errc::usage,
               fmt::format("line {}: payload of {} bytes is over the platform's limit of 256 KB "
                           "(262144 bytes)",
                           line, bytes),
               "the platform discards larger messages; split the payload");
}

} // namespace

Result<long> publish_lines(Session& s, int fd, const StreamOptions& o) {
  const std::size_t window = std::max<std::size_t>(o.window, 1);
  std::string buf;       // input read and not yet published
  std::size_t start = 0; // where the next line begins in buf
  bool eof = false;
  long count = 0;
  auto next_at = Clock::now();
  // While the window is full: when it has been full too long (max: it is not full).
  Deadline stalled_until = Deadline::max();
  while (true) {
    // Publish every complete line the window and the pace allow.
    bool paced = false;
    while (s.pending() < window) {
      std::size_t nl = buf.find('\n', start);
      if (nl == std::string::npos && (!eof || start == buf.size())) {
        break;
      }
      const std::size_t end = nl == std::string::npos ? buf.size() : nl;
      if (o.pace.count() > 0) {
        const auto now = Clock::now();
        if (now < next_at) {
          paced = true;
          break;
        }
        next_at = std::max(next_at + o.pace, now);
      }
      std::string_view line(buf.data() + start, end - start);
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      if (line.size() > topic::k_max_payload) {
        return oversize(count + 1, line.size());
      }
      ALIOT_TRY(s.publish_async(o.topic, line, o.qos));
      ++count;
      start = nl == std::string::npos ? buf.size() : nl + 1;
    }
    if (start == buf.size()) {
      buf.clear();
      start = 0;
    } else if (start >= k_chunk) {
      buf.erase(0, start);
      start = 0;
    }
    if (eof && buf.empty()) {
      break;
    }
    const bool room = s.pending() < window;
    if (room) {
      stalled_until = Deadline::max();
    } else if (stalled_until == Deadline::max()) {
      stalled_until = after(o.ack_timeout);
    } else if (Clock::now() >= stalled_until) {
      return Error(Errc::timeout,
                   fmt::format("publishing: {} message(s) not acknowledged (no PUBACK) in time",
                               s.pending()));
    }
    // Read more only when the window has room and no complete line is waiting.
    const bool want_input = room && !paced && !eof;
    if (want_input && buf.size() - start > topic::k_max_payload) {
      return oversize(count + 1, buf.size() - start);
    }
    const auto wait = paced ? until(next_at) : k_slice;
    auto ready = s.step_with(want_input ? fd : -1, wait);
    if (!ready) {
      if (ready.error().code() == Errc::network && s.pending() > 0) {
        return Error(Errc::network, fmt::format("{} message(s) unacknowledged: {}", s.pending(),
                                                ready.error().message()));
      }
      return std::move(ready).error();
    }
    if (*ready) {
      const std::size_t had = buf.size();
      buf.resize(had + k_chunk);
      const ssize_t n = ::read(fd, buf.data() + had, k_chunk);
      const int e = errno;
      buf.resize(had + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
      if (n == 0) {
        eof = true;
      } else if (n < 0 && e != EINTR && e != EAGAIN) {
        return Error(Errc::io, fmt::format("reading line {}: {}", count + 1, std::strerror(e)));
      }
    }
  }
  ALIOT_TRY(s.flush(after(o.ack_timeout)));
  return count;
}

Result<long>
publish_repeated(Session& s, std::string_view payload, long count, const StreamOptions& o) {
  const std::size_t window = std::max<std::size_t>(o.window, 1);
  auto next_at = Clock::now();
  for (long i = 0; i < count; ++i) {
    if (s.interrupted()) {
      return Error(Errc::interrupted, "interrupted");
    }
    ALIOT_TRY(s.publish_async(o.topic, payload, o.qos));
    if (s.pending() >= window) {
      ALIOT_TRY(s.wait_pending(window / 2, after(o.ack_timeout)));
    }
    if (i + 1 == count || o.pace.count() == 0) {
      continue;
    }
    if (o.settle_each) {
      ALIOT_TRY(s.flush(after(o.ack_timeout)));
      ALIOT_TRY(pause_until(s, Clock::now() + o.pace));
    } else {
      next_at += o.pace;
      ALIOT_TRY(pause_until(s, next_at));
    }
  }
  ALIOT_TRY(s.flush(after(o.ack_timeout)));
  return count;
}

} // namespace aliot::mqtt
