// Serial provisioning of a switch (spec/serial-protocol.md): the AT line codec (ALSW-PROV/1
// framing, quote-aware parameters, \HH escapes, CRC-16/CCITT-FALSE), transports (a real tty and
// an in-memory fake), the Dialect interface with `alsw1` and `smartliving`, and the burn flow
// for one unit. Secrets never reach a log: traces print Secret::redacted in their place.
#pragma once

#include <aliot/error.hpp>
#include <aliot/log.hpp>
#include <aliot/secret.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aliot::serial {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------------------------
// Codec: pure functions, no I/O.

// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0).
std::uint16_t crc16(std::string_view bytes);
// "text*XXXX" (4 upper-case hex digits over every byte of `text`).
std::string with_crc(std::string_view text);

// A line as received: the text without a CRC suffix, and what the suffix said.
struct CheckedLine {
  std::string text;
  bool has_crc = false;
  bool crc_ok = false;
};
// Splits a trailing "*XXXX" (upper-case hex) off and checks it.
CheckedLine check_crc(std::string_view line);

// A quoted AT string: printable ASCII except '"' and '\' as themselves, everything else \HH.
std::string quote(std::string_view value);

struct Param {
  bool quoted = false;
  std::string value; // unescaped
};
// Parses "p1,p2,..." (quoted strings may contain ',' and '*'); Errc::device on malformed input.
Result<std::vector<Param>> parse_params(std::string_view text);

// fp = lowercase_hex(SHA-256("ALIOT-FP1\n" pk "\n" dn "\n" ds "\n" ps))[0:16].
std::string
fingerprint(std::string_view pk, std::string_view dn, const Secret& ds, const Secret& ps);
// lowercase_hex(HMAC-SHA256(key, "ALIOT-CHK1\n" pk "\n" dn "\n" nonce)).
std::string challenge_response(const Secret& key,
                               std::string_view pk,
                               std::string_view dn,
                               std::string_view nonce);

// ---------------------------------------------------------------------------------------------
// Transports.

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

// An in-memory transport for unit tests: every write is handed to `on_write`, which may answer
// with push(); read() returns what was pushed, or "" at once (the deadline counts as passed).
class FakeTransport final : public Transport {
public:
  explicit FakeTransport(std::function<void(FakeTransport&, std::string_view)> on_write = {});
  Result<void> write(std::string_view bytes, Clock::time_point deadline) override;
  Result<std::string> read(Clock::time_point deadline) override;
  void discard_input() override { m_inbox.clear(); }
  bool link_lost() const override { return m_unplugged; }
  const std::string& name() const override { return m_name; }

  void push(std::string_view bytes) { m_inbox += bytes; }
  void unplug() { m_unplugged = true; }
  const std::string& written() const { return m_written; }

private:
  std::function<void(FakeTransport&, std::string_view)> m_on_write;
  std::string m_inbox;
  std::string m_written;
  std::string m_name = "fake";
  bool m_unplugged = false;
};

// A serial port the system knows, for `aliot ports`.
struct PortInfo {
  std::string path;                                    // /dev/ttyUSB0
  std::vector<std::string> by_id;                      // /dev/serial/by-id/...
  std::vector<std::string> by_path;                    // /dev/serial/by-path/...
  std::string driver;                                  // ftdi_sio, cp210x, ...
  std::string vid, pid, serial, manufacturer, product; // USB facts, "" when unknown
};
// `sys_root` and `dev_root` are "/sys" and "/dev" except in tests.
std::vector<PortInfo> list_ports(const std::string& sys_root = "/sys",
                                 const std::string& dev_root = "/dev");

// ---------------------------------------------------------------------------------------------
// The AT channel: one command at a time, its info lines, its final result; URCs and noise apart.

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

// ---------------------------------------------------------------------------------------------
// Dialects.

struct DeviceInfo {
  std::string model, hwrev, firmware, mac, chip_id, sn;
};

struct Credentials {
  std::string product_key;
  std::string device_name;
  Secret device_secret;
  Secret product_secret; // empty when absent
};

// Field limits of the store: PK <= 20, DN 4..32, DS <= 64, PS <= 64 (Errc::usage).
Result<void> validate_credentials(const Credentials& c);

enum class StoreState { empty = 0, staged = 1, committed = 2, locked = 3 };
std::string_view state_name(StoreState s);

struct Readback {
  StoreState state = StoreState::empty;
  std::string product_key, device_name;
  std::size_t ds_len = 0, ps_len = 0;
  std::string fingerprint; // digest dialects
  bool plaintext = false;  // echo dialects: the secrets themselves (compare in memory only)
  Secret device_secret, product_secret;
};

struct Capabilities {
  bool digest_readback = false; // fingerprint readback (level 3)
  bool challenge = false;       // HMAC challenge (level 4)
  bool commit = false;          // two-phase write
  bool lock = false;
  bool reboot = false;
  bool crc = false;
};

enum class CrcMode { require, prefer, off };

struct ChallengeAnswer {
  std::string hmac_ds, hmac_ps;
};

class Dialect {
public:
  explicit Dialect(AtChannel& ch)
      : m_ch(ch) {}
  virtual ~Dialect() = default;
  Dialect(const Dialect&) = delete;
  Dialect& operator=(const Dialect&) = delete;
  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;
  // Wakes the device up (AT until OK), echo off, CRC per `crc` (after every boot).
  virtual Result<void> sync(CrcMode crc) = 0;
  virtual Result<DeviceInfo> identify() = 0;
  virtual Result<void> stage(const Credentials& c) = 0;
  virtual Result<Readback> readback() = 0;
  virtual Result<ChallengeAnswer> challenge(std::string_view nonce);
  // Returns the fingerprint the device reports for what it wrote.
  virtual Result<std::string> commit();
  virtual Result<void> lock();
  // Reboots and waits for the device to come back (then sync() again).
  virtual Result<void> reboot();

  // The +CME ERROR code of the last failed command (0 if none).
  int last_cme() const { return m_last_cme; }
  // The device rebooted on its own (a "ready" URC) since the last sync().
  bool rebooted() const { return m_ch.boot_seen(); }
  bool link_lost() const { return m_ch.transport().link_lost(); }
  AtChannel& channel() { return m_ch; }

protected:
  AtChannel& m_ch;
  int m_last_cme = 0;
};

// "alsw1" or "smartliving"; Errc::usage for another name.
Result<std::unique_ptr<Dialect>> make_dialect(std::string_view name, AtChannel& ch);
std::vector<std::string> dialect_names();

// ---------------------------------------------------------------------------------------------
// The flow for one unit (spec 5.2): sync, identify, inspect, write intent, stage, readback,
// challenge, commit, reboot, verify, lock.

struct BurnPlan {
  Credentials credentials;
  bool lock = false;
  bool reboot = true;
  CrcMode crc = CrcMode::prefer;
};

struct StepTime {
  std::string step;
  double ms = 0;
};

struct BurnReport {
  DeviceInfo device;
  std::string product_key, device_name, fingerprint;
  int verify_level = 0; // 1..5 (spec "Verification levels")
  bool locked = false;
  bool resumed = false; // the unit already held this triplet (a re-run)
  std::vector<StepTime> steps;
  double total_ms = 0;
};

struct BurnHooks {
  // Called after identify/inspect and before the first byte of the secret is sent: the journal's
  // durable write intent. An error stops the burn.
  std::function<Result<void>(const DeviceInfo&, const std::string& fp)> write_intent;
  // Progress ("staged", "committed", ...) with the level reached so far.
  std::function<void(std::string_view event, int level)> progress;
  // Source of challenge nonces (32 lower-case hex); random by default.
  std::function<std::string()> nonce;
};

// Errc::device for port, protocol and device-state failures, Errc::verify when the unit does not
// hold what was burned, Errc::usage for credentials the dialect cannot carry.
Result<BurnReport>
burn(Dialect& d, const BurnPlan& plan, const BurnHooks& hooks, const Logger& log);

} // namespace aliot::serial
