// The simulated switch (spec/serial-protocol.md, "Simulator design"): a DeviceModel with no I/O
// and a virtual clock, the `alsw1` and `smartliving` personas, an NV store with A/B slots and a
// lock flag (optionally in a state file), the seeded fault plan, and a pty runner for
// `aliot emulate switch`. It has its own line parser and CRC code: it shares no codec with the
// host, so the two cannot share a bug.
#pragma once

#include <aliot/error.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::switchsim {

using Micros = std::int64_t; // virtual time

struct Identity {
  std::string model = "ALSW-1", hwrev = "B2", fwver = "1.4.0", mac = "0C:8B:95:A1:F3:E2",
              chipid = "0C8B95A1F3E2", sn = "SN2401000123";
};
// Seed 0 gives the identity of the spec's reference session; any other seed a MAC 02:xx:...
Identity identity_from_seed(std::uint64_t seed);

struct Slot {
  bool written = false;
  std::uint64_t seq = 0;
  std::string pk, dn, ds, ps;
  std::uint32_t crc = 0;
};

struct NvState {
  Identity id;
  std::array<Slot, 2> slots;
  bool locked = false;
};

std::uint32_t slot_crc(const Slot& s);
// The slot with the highest sequence number and a valid CRC, or nullptr.
const Slot* active_slot(const NvState& nv);
std::string state_to_json(const NvState& nv);
Result<NvState> state_from_json(std::string_view text);
Result<NvState> load_state(const std::string& path);
Result<void> save_state(const std::string& path, const NvState& nv);

// One rule of a fault plan: which command (regex on its key: "IDMAU=", "IDMAU?", "IDMCOMMIT",
// "RST", "" for a bare AT), which occurrence, with what probability, and what goes wrong.
struct FaultAction {
  bool drop = false;
  Micros delay_us = 0;
  Micros byte_delay_us = 0;
  int garble_bits = 0, garble_insert = 0;
  std::optional<std::size_t> truncate_after;
  bool bad_crc = false;
  bool echo = false;
  std::optional<std::string> urc;
  int busy = 0;
  std::optional<int> error;
  bool flash_fail = false;
  bool tear_commit = false;
  std::optional<std::pair<std::string, int>> corrupt_commit; // field, bit
  std::optional<std::size_t> unplug_after;
  std::optional<int> reboot_garbage;
};

struct FaultRule {
  std::string cmd; // the regex as written
  std::regex re;
  int nth = 0; // 0 = every occurrence
  double p = 1.0;
  FaultAction action;
  int seen = 0;  // commands that matched `cmd`
  int fired = 0; // times `action` was applied (a test asserts its fault happened)
};

struct FaultPlan {
  std::uint64_t seed = 0;
  std::vector<FaultRule> rules;
};
Result<FaultPlan> parse_fault_plan(std::string_view json);

struct Timing {
  Micros cmd_us = 2000;     // every command
  Micros commit_us = 40000; // AT+IDMCOMMIT (flash write)
  Micros boot_us = 100000;  // reset to 'ready'
};

class DeviceModel {
public:
  struct Hooks {
    std::function<void(std::string_view)> emit;         // bytes to the host
    std::function<void()> unplug;                       // the cable was pulled
    std::function<void(const NvState&)> persist;        // the NV store changed
    std::function<void(const std::string&)> transcript; // secrets redacted
  };
  DeviceModel(std::string persona, NvState nv, Timing t, FaultPlan plan, Hooks h);

  // Boots (RAM state cleared), emitting `garbage` random bytes and then 'ready'.
  void power_on(Micros now, int garbage = 0);
  void feed(std::string_view bytes, Micros now);
  // Runs everything scheduled up to `now`.
  void advance(Micros now);
  std::optional<Micros> next_event() const;

  const NvState& nv() const { return m_nv; }
  // The plan with its counters (FaultRule::seen, FaultRule::fired).
  const FaultPlan& faults() const { return m_plan; }
  const std::string& persona() const { return m_persona; }
  Micros device_delay_total() const { return m_delay_total; }

private:
  struct Resp {
    std::vector<std::string> lines;
    Micros delay = 0;
    bool silent = false;     // no answer at all
    int reboot_after = -1;   // reboot (with this much garbage) after the answer
    bool reboot_now = false; // power lost: no answer, reboot at once

    // Answers the `info` lines, then OK.
    Resp& answer_ok(std::vector<std::string> info = {});
    // Answers +CME ERROR:n.
    Resp& answer_cme(int n);
  };
  void on_line(std::string line, Micros now);
  Resp handle_alsw1(const std::string& key, std::string_view args, const FaultAction* fa);
  Resp handle_smartliving(const std::string& key, std::string_view args, const FaultAction* fa);
  void respond(const std::string& raw, Resp r, const FaultAction* fa, Micros now);
  void schedule(Micros at, std::function<void()> fn);
  void reboot(Micros at, int garbage);
  const FaultAction* match_fault(const std::string& key);
  void note_fired(FaultRule& r);
  void store(const std::string& pk,
             const std::string& dn,
             const std::string& ds,
             const std::string& ps,
             const FaultAction* fa,
             bool torn);
  void persist();
  void log(const std::string& s);

  std::string m_persona;
  NvState m_nv;
  Timing m_t;
  FaultPlan m_plan;
  Hooks m_h;
  std::mt19937_64 m_rng;
  std::multimap<Micros, std::function<void()>> m_events;
  std::string m_line;
  bool m_overflow = false;
  bool m_booting = true;
  bool m_unplugged = false;
  bool m_echo = false;
  bool m_crc = false;
  int m_busy_left = 0;
  std::optional<std::array<std::string, 4>> m_staged;
  Micros m_free_at = 0; // answers go out in order
  Micros m_delay_total = 0;
  // unplug armed for the line being received
  std::optional<std::size_t> m_unplug_at;
  bool m_key_known = false;
};

// One unit of a fixture's sequence (`emulate switch --units`): its identity seed and its fault
// plan. The same seed twice is the same unit coming back (same MAC, same flash).
struct UnitSpec {
  std::uint64_t seed = 0;
  std::optional<std::string> faults_file;
  std::optional<std::string> mac; // instead of the seed's MAC (and chip id)
};
// JSON Lines: {"seed":N[,"mac":"02:00:00:00:00:01"][,"faults":"plan.json"]} per unit; blank
// lines are skipped. A MAC must be six octets XX:XX:XX:XX:XX:XX.
Result<std::vector<UnitSpec>> parse_units(std::string_view text);

struct PtyOptions {
  std::string link;
  std::string persona = "alsw1";
  std::optional<std::string> state_file;
  std::optional<std::string> faults_file;
  std::uint64_t seed = 0;
  bool wire_time = false;
  unsigned baud = 115200;
  Timing timing;
  Micros replug_us = 300000;
  // A fixture fed unit after unit: each unit is on the link until the host closes the port after
  // talking to it, or until it is unplugged (a fault); then the link disappears for replug_us and
  // the next unit arrives. After the last one the link stays away. Each unit's flash is kept in
  // state_dir/<MAC>.json (hex digits only) when state_dir is set.
  std::vector<UnitSpec> units;
  std::optional<std::string> state_dir;
  // A unit of `units` arrived (on the link) or left.
  std::function<void(std::size_t index, bool arrived, const Identity&)> on_unit;
};

struct PtyStats {
  std::uint64_t bytes_in = 0, bytes_out = 0;
  Micros device_delay_us = 0;
};

// Creates the pty and the symlink, runs the model until *stop, then removes the link.
Result<void> run_pty(const PtyOptions& o,
                     const std::atomic<bool>* stop,
                     const std::function<void(const std::string& slave, const Identity&)>& ready,
                     const std::function<void(int level, const std::string&)>& log,
                     PtyStats* stats);

} // namespace aliot::switchsim
