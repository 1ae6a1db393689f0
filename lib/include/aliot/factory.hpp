// The factory journal (spec/serial-protocol.md 5.4), the part `aliot burn --triplet` needs: one
// SQLite file per station (WAL, synchronous=FULL), a job per unit, a hash-chained event log, and
// the binding of each triplet to exactly one hardware identity. The write intent is durable before
// the first byte of a secret is sent; a triplet that left the host is never given to another unit.
// No secret is ever written to the journal: it records ProductKey, DeviceName and fingerprint.
#pragma once

#include <aliot/error.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::factory {

class Pool; // aliot/factory/pool.hpp

// ---- Where the journal lives ----

// The station's default journal: `$XDG_STATE_HOME/aliot/factory.db`, else
// `$HOME/.local/state/aliot/factory.db` (XDG Base Directory: an unset, empty or relative
// XDG_STATE_HOME is ignored). Pure: the caller passes the environment's values (the library reads
// no environment). Errc::config when neither gives an absolute directory.
Result<std::string> default_journal_path(const std::optional<std::string>& xdg_state_home,
                                         const std::optional<std::string>& home);

// Creates the directory that will hold `file` and any missing parent, each new one 0700
// (existing directories are left as they are). Errc::io naming the directory on failure.
Result<void> create_parent_dir(const std::string& file);

struct JobInfo {
  std::string station, operator_id, port, dialect;
};

struct UnitInfo {
  std::string mac, chip_id, firmware, sn;
};

// The time the journal stamps on jobs, bindings and events.
using WallClock = std::function<std::chrono::system_clock::time_point()>;

// The job states: STARTED, WRITE_INTENT (the triplet may have left the host), PASS, FAIL,
// ABORTED (recovered: it stopped before its write intent) and IN_DOUBT (recovered: it stopped at
// or after its write intent; the triplet stays tied to the unit's MAC). PASS, FAIL, ABORTED and
// IN_DOUBT are terminal.

// One job as `journal export` shows it (no secrets: ProductKey, DeviceName, fingerprint).
struct JobRecord {
  std::string job_id, station, operator_id, port, dialect;
  std::string mac, chip_id, firmware, sn;
  std::string product_key, device_name, fp;
  std::string state, error_class, error_detail;
  int verify_level = 0;
  std::string started_at, ended_at; // RFC 3339 UTC; ended_at empty while running
};

// One event of the hash-chained log.
struct EventRecord {
  long long seq = 0;
  std::string ts, job_id, type, data_json, prev_hash, hash;
};

// A triplet's binding to a unit (the journal's `binding` row).
struct Binding {
  std::string product_key, device_name, mac, fp;
  std::string state; // TRANSMITTED, BOUND or QUARANTINED
  std::string first_job;
};

// A job recovery kept in doubt: its triplet may be in the unit, so it stays tied to the MAC.
struct InDoubt {
  std::string job_id, mac, product_key, device_name, fp;
};

// What Journal::recover() did (the CLI prints the counts).
struct RecoveryReport {
  // false: another aliot process has this journal (or the pool) open, so nothing was touched
  // (its jobs in flight may be alive); the counts are then all zero.
  bool exclusive = true;
  int aborted = 0;           // jobs stopped before their write intent, now ABORTED
  int in_doubt = 0;          // jobs stopped at or after their write intent, now IN_DOUBT
  int released = 0;          // pool reservations given back (AVAILABLE)
  int transmitted = 0;       // pool reservations the journal shows sent, now TRANSMITTED
  int quarantined = 0;       // pool reservations the journal binds to another unit, set aside
  int others = 0;            // pool reservations of jobs this journal does not hold (another
                             // station's): left RESERVED for that station's recovery
  std::vector<InDoubt> kept; // the in-doubt jobs, one per unit
};

// Where the hash chain over the events first breaks.
struct ChainBreak {
  long long seq = 0;  // the first event that does not follow from the one before it
  std::string reason; // what does not match
};

class Journal {
public:
  // Opens or creates the journal (Errc::io on failure). `clock` defaults to the system clock.
  static Result<std::unique_ptr<Journal>> open(const std::string& path, WallClock clock = {});
  virtual ~Journal() = default;

  // JOB_START; returns the job id.
  virtual Result<std::string> start_job(const JobInfo& job) = 0;
  // IDENTIFIED + WRITE_INTENT in one durable transaction, after checking the bindings: the
  // triplet must not be bound to another MAC (or burned with another secret: Errc::usage, the
  // triplet given is not usable), and the MAC must not hold another triplet of the product
  // (Errc::device, the unit's state, as when the unit itself reports other credentials). The
  // triplet is bound to the MAC from here on, whatever happens next.
  virtual Result<void> write_intent(const std::string& job,
                                    const UnitInfo& unit,
                                    const std::string& pk,
                                    const std::string& dn,
                                    const std::string& fp) = 0;
  // PASS (the binding becomes BOUND) or FAIL{class,detail}.
  virtual Result<void> finish(const std::string& job,
                              bool pass,
                              int verify_level,
                              const std::string& error_class,
                              const std::string& detail) = 0;
  // The MAC the DeviceName is bound to, if any.
  virtual Result<std::optional<std::string>> bound_mac(const std::string& pk,
                                                       const std::string& dn) = 0;
  // Recomputes every event's hash from the one before it (hash = SHA-256 over the previous hash,
  // ts, job, type and data, one per line): nullopt when the whole chain holds, else the first
  // event that breaks it. Deleting the newest events is not detectable this way: keep head()'s
  // hash and give it to check_journals.
  virtual Result<std::optional<ChainBreak>> verify_chain() = 0;

  // ---- Station additions (issue 14) ----

  // The triplet of product `pk` the journal binds to `mac` (TRANSMITTED, BOUND or QUARANTINED),
  // if any: a unit that comes back gets this one again.
  virtual Result<std::optional<Binding>> bound_triplet(const std::string& pk,
                                                       const std::string& mac) = 0;

  // Startup recovery (spec 5.4) for every job not in a terminal state: one that stopped before
  // its write intent becomes ABORTED (event ABORTED) and, with `pool`, its reservation is
  // released; one that stopped at or after it becomes IN_DOUBT (event IN_DOUBT{mac,...}) and its
  // triplet stays tied to the MAC. With `pool`, every RESERVED row is reconciled with the
  // journal: a write intent for it makes it TRANSMITTED (tied to its MAC; QUARANTINED when the
  // journal binds it to another unit), none releases it
  // (an issued secret of `burn --register` stays tied to its MAC instead: its name is that
  // unit's). Runs only when no other aliot process has the journal or the pool open
  // (RecoveryReport::exclusive). Idempotent. `pool` may be null.
  virtual Result<RecoveryReport> recover(Pool* pool) = 0;

  // The jobs (by start time) and the events (by seq) at or after `since` (all when unset).
  virtual Result<std::vector<JobRecord>>
  jobs(std::optional<std::chrono::system_clock::time_point> since = {}) = 0;
  virtual Result<std::vector<EventRecord>>
  events(std::optional<std::chrono::system_clock::time_point> since = {}) = 0;
  // Every binding (a journal check across stations compares them).
  virtual Result<std::vector<Binding>> bindings() = 0;

  // ---- Issue 23 ----

  // Whether `job` is one of this journal's jobs (a pool row reserved for a job of another
  // station is not this station's to release).
  virtual Result<bool> has_job(const std::string& job) = 0;
  // The event POOL_QUARANTINED{product_key,device_name,reason} in `job`'s chain: a pool row the
  // job passed over because it was damaged (Pool::reserve's set_aside).
  virtual Result<void> note_set_aside(const std::string& job,
                                      const std::string& pk,
                                      const std::string& dn,
                                      const std::string& reason) = 0;
  // The newest event (seq and hash: the head of the chain), nullopt for an empty journal. Keep
  // the hash at the end of a shift: `journal check --head HASH` proves later that no event up to
  // it was cut.
  virtual Result<std::optional<EventRecord>> head() = 0;
};

// ---- `journal export` ----

enum class ExportFormat { jsonl, csv };

// The lines of an export: one compact JSON object per record (an event's data as an object), or a
// CSV header and one RFC 4180 row per record. Records hold no secret, so neither does the export.
std::vector<std::string> export_lines(const std::vector<JobRecord>& jobs, ExportFormat format);
std::vector<std::string> export_lines(const std::vector<EventRecord>& events, ExportFormat format);

// ---- `journal check` across one or several stations' journals (rule (e)) ----

struct Violation {
  std::string rule;    // "triplet-two-units", "unit-two-triplets", "triplet-two-secrets",
                       // "broken-chain", "binding-not-in-chain", "job-not-in-chain",
                       // "head-not-found"
  std::string message; // one line naming the triplet, the MACs and the journals
};

struct CheckReport {
  std::size_t journals = 0, jobs = 0, bindings = 0, events = 0;
  std::vector<Violation> violations; // empty: every rule holds
};

// Opens each journal read-only (a missing or unreadable one is Errc::io) and checks each one's
// hash chain, then, with the bindings the chain itself records (each WRITE_INTENT and the unit
// IDENTIFIED before it: the binding table is not covered by the chain, so it is only compared):
// a triplet bound to two MACs anywhere, or burned with two fingerprints; a MAC holding two
// triplets of one product. Per journal, the binding table and the jobs must agree with the chain:
// a binding row the chain does not show, or a write intent without its binding row
// (binding-not-in-chain: a row deleted or its MAC/fingerprint edited), a job whose state has no
// event (job-not-in-chain: the newest events deleted). Each of `heads` (hashes `journal export`
// printed) must be an event of an intact chain of one of the journals (head-not-found: the
// chain was cut back before it).
Result<CheckReport> check_journals(const std::vector<std::string>& paths,
                                   const std::vector<std::string>& heads = {});

} // namespace aliot::factory
