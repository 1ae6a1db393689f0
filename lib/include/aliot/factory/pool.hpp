// The station's credential pool (spec/serial-protocol.md 5.4): the triplets a station burns,
// one SQLite file of its own (`--pool DB`), created 0600 and refused when group or others can
// read it, because it holds the secrets. The journal (aliot/factory.hpp) holds none.
//
// Why two files, and the order of the writes. SQLite can ATTACH the pool to the journal and
// update both in one transaction, but in WAL mode that transaction is atomic only within each
// file: after a crash in the middle of the COMMIT, one file may have it and the other not
// (sqlite.org/lang_attach.html, sqlite.org/atomiccommit.html). So the pool stays a file of its
// own and each step is durable in one file before the next begins:
//
//   pool.reserve()            AVAILABLE -> RESERVED (job, MAC)          fsync (pool)
//   journal.write_intent()    binding TRANSMITTED, event WRITE_INTENT    fsync (journal)
//   pool.mark_transmitted()   RESERVED -> TRANSMITTED                    fsync (pool)
//   ... the secret goes to the unit ...
//   journal.finish(PASS)      binding BOUND                              fsync (journal)
//   pool.mark_bound()         -> BOUND                                   fsync (pool)
//
// A crash between two steps leaves a RESERVED row; Journal::recover(&pool) reconciles it with
// the journal: a write intent for it makes it TRANSMITTED (tied to that MAC for good), none
// gives it back (AVAILABLE) when the row's job is one of this journal's. The journal is the
// authority on what may have left the host; on a pool shared by stations, only the station whose
// journal holds the row's job can know there was no write intent, so only its recovery releases
// the row (another station's leaves it RESERVED).
#pragma once

#include <aliot/error.hpp>
#include <aliot/factory.hpp>
#include <aliot/secret.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aliot::factory {

// AVAILABLE: free. RESERVED: taken for a job and a MAC, not sent yet (or, for a secret issued at
// the station, not sent yet and tied to the unit its name was made for). TRANSMITTED: its write
// intent is journaled; it may be in the unit; tied to the MAC for good. BOUND: the unit passed.
// FAILED: transmitted, but the job failed; still tied to the MAC (the unit gets it again when it
// comes back). QUARANTINED: set aside by a supervisor (never reserved again).
enum class PoolState { available, reserved, transmitted, bound, failed, quarantined };

// "AVAILABLE", "RESERVED", ...
const char* pool_state_name(PoolState s);

// One triplet of the pool. Holds the secrets: never log it.
struct PoolEntry {
  std::string product_key, device_name;
  Secret device_secret;
  Secret product_secret; // empty when the source had none
  std::string fp;        // the alsw1 fingerprint of the triplet (serial::fingerprint)
  PoolState state = PoolState::available;
  std::string mac, job_id; // the unit and the job it is tied to (empty while AVAILABLE)
  bool issued = false;     // issued by the platform at the station (record_issued)
  // reserve() only: the AVAILABLE rows it passed over on the way because their stored secret no
  // longer gives their stored fingerprint (the file was edited or damaged), now QUARANTINED.
  std::vector<std::string> set_aside;
};

// What Pool::check() found. Both empty: the file is sound and every row's secret is what was
// imported.
struct PoolCheck {
  std::vector<std::string> integrity; // PRAGMA quick_check's findings ("ok" is none)
  struct Row {
    std::string product_key, device_name, state;
  };
  std::vector<Row> damaged; // rows (not QUARANTINED) whose secret does not give their fingerprint
};

// A server pool's station (the role it logs in with): the triplets of a product it holds.
struct StationCounts {
  std::string station;
  long long reserved = 0, transmitted = 0, bound = 0, failed = 0, quarantined = 0;
  std::string oldest_reserved; // UTC ISO 8601 of its oldest RESERVED row ("" when none)
};

// Per product, how many triplets are in each state.
struct PoolCounts {
  std::string product_key;
  long long available = 0, reserved = 0, transmitted = 0, bound = 0, failed = 0, quarantined = 0;
  // A server pool only (aliot/factory/pool_server.hpp): per station (a station's role sees its
  // own), and the oldest RESERVED row's time ("" when none).
  std::vector<StationCounts> stations;
  std::string oldest_reserved;
};

struct ImportOptions {
  // -k: every row must be of this product (Errc::usage naming the row otherwise); also the
  // ProductKey of a layout without that column.
  std::optional<std::string> product_key;
  // A station journal: a DeviceName it already binds refuses the import too.
  Journal* journal = nullptr;
};

struct ImportReport {
  std::string format;               // "csv" or "jsonl"
  std::string sha256;               // of the file's bytes, recorded with each row
  std::size_t rows = 0;             // triplets imported
  std::vector<PoolCounts> products; // the pool's counts after the import
};

class Pool {
public:
  // A postgresql:// or postgres:// URI opens the pool on that server instead (see
  // aliot/factory/pool_server.hpp; Errc::network when it cannot be reached). A file path:
  // opens or creates the pool (created 0600; its -wal and -shm files take the same mode). A pool
  // that group or others may read is refused (Errc::config, hint chmod 600); other failures are
  // Errc::io. `clock` defaults to the system clock.
  // A file that holds an SQLite database without a pool (a journal given as --pool) is refused
  // (Errc::io, "not an aliot pool") and left untouched.
  static Result<std::unique_ptr<Pool>> open(const std::string& path, WallClock clock = {});
  // An existing pool only (`pool status`; a URI as open()): a missing file, an empty (0-byte) one,
  // or one that is not an SQLite database holding a pool is refused (Errc::io) without creating
  // anything.
  static Result<std::unique_ptr<Pool>> open_existing(const std::string& path);
  virtual ~Pool() = default;

  virtual const std::string& path() const = 0;

  // Imports a file: the console's batch-registration CSV (header case-insensitive: ProductKey,
  // DeviceName, DeviceSecret, optional ProductSecret; other columns such as IotId ignored; without
  // a ProductKey column -k gives it) or the JSON lines `aliot register --out` writes. A UTF-8 BOM
  // and CRLF line ends are accepted; blank lines are skipped. Read bounded (64 MiB). Every row is
  // validated (ProductKey, DeviceName charset and length, DeviceSecret length); a duplicate
  // DeviceName within the file, against the pool or bound in `opts.journal`, a row of another
  // product than -k, a truncated or malformed row: the whole import is refused (Errc::usage, or
  // Errc::io/config for an unreadable/undecodable file) naming the line, and the pool is left
  // unchanged. One transaction; records the file's SHA-256.
  virtual Result<ImportReport> import_file(const std::string& file, const ImportOptions& opts) = 0;
  // The same over bytes already read (`origin` names them in messages).
  virtual Result<ImportReport>
  import_text(std::string_view text, const std::string& origin, const ImportOptions& opts) = 0;

  // The triplet of `pk` the pool ties to `mac` (RESERVED, TRANSMITTED, FAILED or BOUND), if any.
  virtual Result<std::optional<PoolEntry>> tied_to(const std::string& pk,
                                                   const std::string& mac) = 0;

  // The triplet for this unit, durably, in one transaction: the one the pool already ties to
  // `mac` (its job becomes `job` while it is RESERVED), else the next AVAILABLE one of `pk` (in
  // import order), now RESERVED for `job` and `mac`. The row's secret is checked against its
  // stored fingerprint first: an AVAILABLE row that fails is QUARANTINED and the next one taken
  // (named in PoolEntry::set_aside); a row tied to `mac` that fails is QUARANTINED and refused
  // (Errc::device). Errc::config when no AVAILABLE triplet of `pk` is left ("the pool ... has
  // no free triplet of PK"); Errc::device when the one tied to `mac` is QUARANTINED.
  //
  // The row carries `job`, and through it the station: a job lives in exactly one station's
  // journal, and only that journal's recovery gives a RESERVED row back (Journal::recover).
  virtual Result<PoolEntry>
  reserve(const std::string& pk, const std::string& mac, const std::string& job) = 0;

  // One-type-one-secret at the station: stores the credentials the platform just issued for
  // (pk, dn), RESERVED for `job` and `mac`, durably before it returns (so a crash never loses a
  // secret the platform will not issue again). The same (pk, dn) recorded again with the same
  // secret and MAC returns the stored row; with another secret or MAC it is refused
  // (Errc::usage) and nothing is overwritten.
  virtual Result<PoolEntry> record_issued(const std::string& pk,
                                          const std::string& dn,
                                          const Secret& device_secret,
                                          const Secret& product_secret,
                                          const std::string& mac,
                                          const std::string& job) = 0;

  // After the journal's write intent: RESERVED -> TRANSMITTED (a later state is kept).
  virtual Result<void>
  mark_transmitted(const std::string& pk, const std::string& dn, const std::string& job) = 0;
  // At PASS (COMMITTED): -> BOUND.
  virtual Result<void>
  mark_bound(const std::string& pk, const std::string& dn, const std::string& job) = 0;
  // The job failed. Without a write intent in `journal` (when given) a RESERVED row is released
  // as release() does; a row past its write intent (TRANSMITTED, or RESERVED with one journaled)
  // becomes FAILED and stays tied to its MAC. A RESERVED row the journal binds to another unit
  // (burned elsewhere, then imported without --journal) becomes QUARANTINED, tied to no unit.
  virtual Result<void> mark_failed(const std::string& pk,
                                   const std::string& dn,
                                   const std::string& job,
                                   Journal* journal) = 0;
  // Gives a RESERVED row back (AVAILABLE), only when it has no write intent: Errc::usage for a
  // row in another state, or one `journal` (when given) shows a write intent for (that row then
  // becomes TRANSMITTED, or QUARANTINED when the journal binds it to another unit). A secret
  // issued at the station stays RESERVED and tied to its MAC.
  virtual Result<void> release(const std::string& pk,
                               const std::string& dn,
                               const std::string& job,
                               Journal* journal) = 0;

  // Counts per product (ordered by ProductKey).
  virtual Result<std::vector<PoolCounts>> status() = 0;
  // `pool status`'s check: PRAGMA quick_check over the file, then every row's secret against its
  // stored fingerprint. Errc::io when the file cannot be read at all.
  virtual Result<PoolCheck> check() = 0;
  // Every row in `state` (secrets included): recovery and tests use it.
  virtual Result<std::vector<PoolEntry>> rows(PoolState state) = 0;
};

} // namespace aliot::factory
