// How a command shows one MQTT/AMQP message: mosquitto_sub's bytes (payload only, or `-v`'s
// "topic payload"), mosquitto_sub's -F format strings, JSON Lines, or, for a person at a
// terminal, a readable block (time, direction, QoS, the topic with the device part abbreviated,
// the payload pretty-printed as JSON, shown as text, or as a hex dump, folded to the width).
// Used by `sub`, `rrpc serve`, `cloud sub` and `shell`. No CLI11 or JSON types here.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace aliot::cli::render {

// Which way the message went, from the device's point of view (pretty mode marks it).
enum class Direction {
  none,            // no mark
  cloud_to_device, // "↓": what a device receives (sub, rrpc serve requests)
  device_to_cloud, // "↑": what a device sends (cloud sub, a device's publish in the shell)
};

struct Message {
  std::string topic;
  std::string payload; // raw bytes, untrusted
  int qos = 0;
  bool retained = false;
  int mid = 0; // MQTT packet id (0 for QoS 0 or unknown): -F %m
  Direction direction = Direction::none;
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now(); // received
  // Pretty mode only: a short word shown after the topic ("request 1234", a message id); shown
  // through enc::printable.
  std::string note;
};

enum class Mode {
  payload, // mosquitto_sub: the payload and "\n" (nothing for an empty payload)
  verbose, // mosquitto_sub -v: "topic payload\n" ("topic (null)\n" for an empty payload)
  format,  // mosquitto_sub -F FORMAT (Options::format)
  json,    // one JSON line: {"ts","topic","qos","payload"|"payload_base64"} (sub's -o json)
  pretty,  // for a person at a terminal
};

struct Options {
  Mode mode = Mode::payload;
  std::string format; // Mode::format: mosquitto_sub's -F string (%t %p %q %r %l %m %I %U %j...)
  bool eol = true;    // Mode::format: a newline after each message (mosquitto_sub without -N)
  bool color = false; // pretty: ANSI colours (never with NO_COLOR / --no-color / no terminal)
  int width = 80;     // pretty: the terminal's columns; lines longer are folded
  // pretty: the device whose topics are abbreviated: /PK/DN/user/get -> …/user/get,
  // /sys/PK/DN/thing/... -> /sys/…/thing/... (empty: topics shown whole).
  std::string product_key;
  std::string device_name;
  std::size_t max_bytes = 16 * 1024; // pretty: payload bytes shown before "… N more bytes"
  // Mode::format %J: where "payload is not valid JSON" goes (mosquitto_sub prints it on stderr).
  std::function<void(std::string_view)> warn;
};

class Renderer {
public:
  explicit Renderer(Options options);
  // The bytes to write for one message (complete lines; empty for mosquitto_sub's silent cases).
  std::string render(const Message& m) const;
  const Options& options() const { return m_options; }

private:
  Options m_options;
};

// Why mosquitto_sub would refuse this -F string ("invalid format specifier '%Z'", an incomplete
// one, an unknown escape), or empty when it is valid.
std::string format_error(std::string_view format);

// The topic as pretty mode shows it: the device part of pk/dn's topics as "…".
std::string abbreviate_topic(std::string_view topic, std::string_view pk, std::string_view dn);

// What the command line asked for, and where stdout goes: the mode every message command uses.
struct Choice {
  bool pretty = false;        // --pretty
  bool raw = false;           // --raw
  bool format_given = false;  // -F FORMAT
  bool json = false;          // -o json
  bool output_given = false;  // -o given explicitly (-o text: mosquitto_sub's bytes)
  bool verbose_topic = false; // --verbose-topic (the topic before the payload)
  bool stdout_tty = false;
};
// -F > -o json > --raw > --pretty > explicit -o text > a terminal on stdout (pretty) > payload /
// verbose.
Mode choose_mode(const Choice& c);

// Colour for pretty output on stdout: a terminal, and neither --no-color nor NO_COLOR.
bool color_wanted(bool no_color_flag, bool no_color_env, bool stdout_tty);
// The columns of the terminal on `fd` (TIOCGWINSZ), else $COLUMNS, else 80; 20..1000.
int terminal_width(int fd, const char* columns_env);

} // namespace aliot::cli::render
