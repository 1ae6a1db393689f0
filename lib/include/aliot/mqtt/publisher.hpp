// Streams of publishes over a connected Session: every line of an input (`aliot pub -l`) or one
// payload N times (`aliot pub --repeat`). Each keeps a bounded window of outstanding publishes,
// so the memory it holds does not grow with the stream, may be paced, and returns only when
// every publish is written (QoS 0) or acknowledged by PUBACK (QoS 1).
//
// Errors: the Session's (network 5 when the connection is lost, naming how many publishes were
// unacknowledged; timeout 6 when the window stays full or the final acknowledgements do not
// come within `ack_timeout`; interrupted 130 when the session's interrupt flag is set), usage 2
// for a line over the platform's 256 KB (naming the line), io 10 when the input cannot be read.
// Nothing is retried: a lost connection ends the stream.
#pragma once

#include <aliot/error.hpp>
#include <aliot/mqtt.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace aliot::mqtt {

struct StreamOptions {
  std::string topic; // the full topic, already checked
  int qos = 0;
  // Publishes outstanding at most (not yet written at QoS 0, not yet acknowledged at QoS 1).
  std::size_t window = 100;
  // How long the window may stay full with nothing acknowledged, and how long the last
  // acknowledgements may take, before Errc::timeout.
  std::chrono::milliseconds ack_timeout{10000};
  // The least time between the starts of two messages (0: as fast as the session takes them).
  std::chrono::microseconds pace{0};
  // publish_repeated only: wait until each message is written (QoS 0) or acknowledged (QoS 1)
  // and then `pace` before the next (`--interval`); otherwise the pace is a steady rate from the
  // first message on (`--rate`), which the sends themselves do not stretch.
  bool settle_each = false;
};

// Publishes each line read from `fd` as one message, as soon as it is read, until end of input:
// lines end at '\n', a '\r' before it is dropped, empty lines are empty messages, and a last line
// without '\n' is a message too. Between lines the pace is kept as a minimum spacing. Returns
// the number of messages published, all of them acknowledged.
Result<long> publish_lines(Session& session, int fd, const StreamOptions& options);

// Publishes `payload` `count` times. Returns `count`, every message acknowledged.
Result<long> publish_repeated(Session& session,
                              std::string_view payload,
                              long count,
                              const StreamOptions& options);

} // namespace aliot::mqtt
