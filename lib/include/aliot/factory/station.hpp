// The factory station (spec/serial-protocol.md 5.2 and 5.4): one unit after another on a
// fixture's serial port. Per unit: a job in the journal, identify, choose the triplet (the one the
// journal ties to this MAC, else one from the credential source: a fixed triplet, the next of a
// pool, or one registered for the unit at the station), the durable write intent, the burn, and
// the job's end (PASS, or FAIL with its cause; a triplet that never left the host goes back).
// The loop waits for a unit to arrive, burns it, waits for it to leave, until stopped.
#pragma once

#include <aliot/error.hpp>
#include <aliot/factory.hpp>
#include <aliot/log.hpp>
#include <aliot/serial/burn.hpp>
#include <aliot/serial/dialect.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::factory {

// Where each unit's triplet comes from, and where its fate is recorded. One source serves one
// station (one thread).
class CredentialSource {
public:
  virtual ~CredentialSource() = default;
  // "triplet", "pool" or "register" (shown in the results).
  virtual std::string_view kind() const = 0;
  // The triplet for `unit` (identified, its store inspected: `held`), in job `job`: the one the
  // journal ties to its MAC if any, else a new one. A unit that holds credentials the journal
  // does not tie to it is Errc::device (foreign credentials), and takes nothing from the source.
  virtual Result<serial::Credentials>
  choose(const std::string& job, const UnitInfo& unit, const serial::Readback& held) = 0;
  // The durable write intent: from here on the triplet is the unit's, whatever happens.
  virtual Result<void> write_intent(const std::string& job,
                                    const UnitInfo& unit,
                                    const serial::Credentials& c,
                                    const std::string& fp) = 0;
  // PASS, or FAIL{class,detail}; a triplet reserved for the job and never sent is released.
  virtual Result<void> finish(const std::string& job,
                              bool pass,
                              int verify_level,
                              const std::string& error_class,
                              const std::string& detail) = 0;
  // Where the source's warnings go (a damaged pool row set aside); the Station gives its own.
  virtual void set_logger(Logger /*log*/) {}
  // How many triplets it still has for units it has not served yet (a pool's AVAILABLE rows of
  // its product); nullopt for a source that does not run out (a fixed triplet, registration).
  virtual Result<std::optional<long long>> free_left() { return std::optional<long long>(); }
};

// The source of `aliot burn --triplet`: one given triplet, checked against the journal's
// bindings (never to a second unit).
std::unique_ptr<CredentialSource> fixed_triplet_source(Journal& journal, serial::Credentials c);

class Pool; // aliot/factory/pool.hpp

// Registers one DeviceName by one-type-one-secret (dynreg::Registrar, HTTPS): the issued
// DeviceSecret.
using RegisterFn = std::function<Result<Secret>(const std::string& device_name)>;

// The source of `aliot burn --pool` (no `register_fn`) and `--register` (with it), for product
// `pk`. A unit whose MAC the pool ties to a triplet gets that one again (resume, or re-stage into
// an empty store); otherwise, with an empty store: the next AVAILABLE triplet, reserved for this
// MAC, or, registering, the DeviceName `name_template` makes from the unit, registered and
// recorded durably in the pool (Pool::record_issued) before anything is sent to the unit. The
// journal's write intent is followed by Pool::mark_transmitted; PASS by mark_bound; FAIL by
// mark_failed (a reservation without a write intent goes back to the pool). `at_point` is told
// "registered" between the platform's answer and the record (the crash tests stop there).
std::unique_ptr<CredentialSource> pool_source(Journal& journal,
                                              Pool& pool,
                                              std::string pk,
                                              RegisterFn register_fn = {},
                                              std::string name_template = "SW-{mac}",
                                              std::function<void(std::string_view)> at_point = {});

// The DeviceName a template makes for a unit: {mac} is the MAC without colons (upper-case),
// {chip} the chip id; checked by the DeviceName rules (Errc::usage naming the template).
Result<std::string> device_name_for(std::string_view name_template, const UnitInfo& unit);

struct StationOptions {
  std::string port;
  unsigned baud = 115200;
  std::string dialect = "alsw1";
  serial::BurnPlan plan; // lock, reboot, crc (its credentials are not used)
  JobInfo job;           // station, operator, port, dialect recorded per job
  // SIGINT/SIGTERM: a wait ends at once, a burn stops at its next read (Errc::interrupted).
  const std::atomic<bool>* stop = nullptr;
  std::chrono::milliseconds poll{20}; // how often the loop looks at the port
  // run(): the source's free triplets at or under this many is "low" (StationEvents::low_water,
  // once per crossing); 0 never warns. None left stops the loop before it takes another unit.
  long long low_water = 20;
  // Test hook: called at each point of the flow ("job", "identified", "chosen", "intent",
  // "staged", "committed", "verified", "finished"); a test kills the process there.
  std::function<void(std::string_view point)> at_point;
};

// One unit's result, as far as it got.
struct UnitOutcome {
  std::string job;
  bool pass = false;
  bool identified = false;     // `device` is known
  bool chosen = false;         // product_key/device_name are known
  bool intent_written = false; // the triplet is the unit's for good
  serial::DeviceInfo device;
  std::string product_key, device_name, fingerprint;
  int verify_level = 0;
  bool locked = false;
  bool resumed = false; // the unit already held its triplet
  std::vector<serial::StepTime> steps;
  double total_ms = 0;
  std::optional<Error> error;
};

struct StationSummary {
  int units = 0, pass = 0, fail = 0;
  double seconds = 0;               // from the start of the loop to its end
  bool interrupted_in_unit = false; // stopped in the middle of a unit (that unit FAILed)
  // Stopped because the source has no free triplet left (checked before waiting for each unit).
  bool pool_empty = false;
  std::optional<long long> left; // the source's free triplets at the end, when it counts them
};

// What the loop reports as it goes (each optional), for a status line and the log. Called on the
// loop's thread.
struct StationEvents {
  std::function<void(const UnitOutcome&)> unit; // every unit's outcome
  // "waiting for a unit" / "waiting for the unit to leave"
  std::function<void(std::string_view)> wait;
  // A unit is being burned; the point of the flow it passed: "job", "identified", "chosen",
  // "intent", "staged", "committed", "verified", "finished".
  std::function<void(std::string_view)> stage;
  // The source's free triplets, at the start and after each unit (sources that count them).
  std::function<void(long long left)> left;
  // The free triplets went from over StationOptions::low_water to at or under it (or start
  // there): once per crossing.
  std::function<void(long long left)> low_water;
};

class Station {
public:
  Station(StationOptions o, Journal& journal, CredentialSource& source, Logger log);

  // Burns the unit on the port now (no waiting): one job.
  UnitOutcome burn_one();

  // The station mode: wait for a unit (the port appears and the unit answers AT), burn it,
  // report it, wait for it to leave (the port disappears or is replaced, or the unit stops
  // answering or answers with another MAC), until `stop`. `on_unit` gets every unit's outcome;
  // `on_wait` is told "waiting for a unit" / "waiting for the unit to leave" (for a status line).
  StationSummary run(const std::function<void(const UnitOutcome&)>& on_unit,
                     const std::function<void(std::string_view)>& on_wait = {});
  // The same with every event. With a source that counts its triplets, the loop stops before
  // waiting for another unit once none is left (StationSummary::pool_empty): a unit would only
  // FAIL, and the line must not keep cycling units through a station that cannot burn.
  StationSummary run(const StationEvents& ev);

  struct Port; // an open port, its AT channel and dialect

private:
  UnitOutcome
  run_job(const std::function<Result<serial::BurnReport>(const serial::BurnHooks&)>& burn);
  std::unique_ptr<Port> wait_arrival();
  void wait_departure(std::uint64_t node, const std::string& mac);
  void nap() const;
  bool stopped() const;
  void point(std::string_view p) const;

  // false: no triplet left (stop); warns of a low pool once per crossing.
  bool check_left(const StationEvents& ev, StationSummary& s);

  StationOptions m_o;
  bool m_low = false; // the last count was at or under low_water
  std::function<void(std::string_view)> m_stage;
  Journal& m_journal;
  CredentialSource& m_source;
  Logger m_log;
};

} // namespace aliot::factory
