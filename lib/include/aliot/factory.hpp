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

namespace aliot::factory {

struct JobInfo {
  std::string station, operator_id, port, dialect;
};

struct UnitInfo {
  std::string mac, chip_id, firmware, sn;
};

// The time the journal stamps on jobs, bindings and events.
using WallClock = std::function<std::chrono::system_clock::time_point()>;

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
  // event that breaks it. Deleting the newest events is not detectable this way.
  virtual Result<std::optional<ChainBreak>> verify_chain() = 0;
};

} // namespace aliot::factory
