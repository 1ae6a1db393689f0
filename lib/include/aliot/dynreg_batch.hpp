// Dynamic registration of many devices: the names file, one registrar per worker (HTTPS or
// MQTT), and the batch runner that resumes from the results file. Every issued secret is
// appended to the results file and synced (file, and directory on creation) BEFORE it is handed
// to the caller for printing, so a secret the platform issued once is never lost; a re-run with
// the same file skips the devices already in it. The batch knows where each secret landed (the
// results file, the caller's output, neither) and stops at the first that would reach nowhere;
// a stop request lets the requests already sent finish and keeps their secrets.
#pragma once

#include <aliot/config.hpp>
#include <aliot/dynreg.hpp>
#include <aliot/error.hpp>
#include <aliot/http.hpp>
#include <aliot/identity.hpp>
#include <aliot/log.hpp>
#include <aliot/secret.hpp>
#include <aliot/sign.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace aliot::dynreg {

// ---- Device names ----

// One DeviceName a line (surrounding blanks trimmed; blank lines and '#' comments skipped), or
// CSV whose first row names a DeviceName column (the console's batch file, read by the one
// RFC 4180 reader pool import uses too: a UTF-8 BOM, CRLF, quoted cells holding commas or line
// ends, "" inside quotes; rows with an empty cell there are skipped). Names come back in file
// order, neither validated nor deduplicated. In CSV, a quote that is not closed is Errc::config
// "<origin> line N: a quoted field opened on this line is not closed".
Result<std::vector<std::string>> parse_names(std::string_view text,
                                             std::string_view origin = "the names");

// Reads a names file. `origin` names it in errors ("--names devices.csv"); Errc::io.
Result<std::vector<std::string>> read_names(const std::string& path, std::string_view origin);

// Validates every DeviceName (Errc::usage naming the rule broken) and drops repeats, keeping
// the first occurrence's place.
Result<std::vector<std::string>> unique_device_names(const std::vector<std::string>& names);

// The devices of a run: `given` (-d), then those of `names_file` (--names), or else `fallback`
// (the configured DeviceName); validated, repeats dropped. Errc::usage when there are none.
Result<std::vector<std::string>> device_names(std::vector<std::string> given,
                                              const std::optional<std::string>& names_file,
                                              const std::optional<std::string>& fallback);

// ---- One device, for one worker ----

enum class Via { https, mqtt };

struct Settings {
  std::string product_key;
  Secret product_secret;
  sign::Method method = sign::Method::hmacsha256;
  std::optional<std::string> random; // the same random for every device; default: new_random()
  Via via = Via::https;
  std::string auth_endpoint; // Via::https: base URL of the registration service
  http::ClientOptions http;  // Via::https
  MqttOptions mqtt;          // Via::mqtt
  // Where a reply whose credentials are refused (not text aliot accepts) is kept.
  std::string quarantine_dir;
};

// What a run takes from its own options rather than from the configuration.
struct Choices {
  Via via = Via::https;
  bool preregistered = true; // false: MQTT regnwl
  std::optional<std::string> random;
  std::optional<std::string> client_id; // MQTT client id before the options
  int securemode = 2;
  bool insecure = false;
  bool allow_insecure_http = false; // a plain http:// registration endpoint (testing only)
  std::chrono::milliseconds timeout{10000};
  // When set and it becomes true, a request in flight is abandoned (Errc::interrupted) even if
  // its answer is on its way: the second SIGINT/SIGTERM, never the first (after the first, a
  // request already sent is finished, bounded by `timeout`, so the secret it brings is kept).
  const std::atomic<bool>* abandon = nullptr;
  // Where a reply with credentials that are not text aliot accepts is kept (0600, created
  // 0700 if missing); see default_quarantine_dir.
  std::string quarantine_dir;
  int jobs = 1; // workers of a batch (checked here, used by BatchOptions)
};

// `$XDG_STATE_HOME/aliot/quarantine`, else `$HOME/.local/state/aliot/quarantine` (an unset,
// empty or relative XDG_STATE_HOME is ignored). Pure: the caller passes the environment's
// values. Empty when neither gives an absolute directory.
std::string default_quarantine_dir(const std::optional<std::string>& xdg_state_home,
                                   const std::optional<std::string>& home);

// Settings from the resolved configuration (product_key, product_secret, sign_method, region,
// instance, auth_endpoint, ca_file, mqtt_host, mqtt_port) and the choices. Errc::usage for a
// choice out of range (checked first: regnwl over HTTPS, securemode, jobs 1-64, a timeout under
// 100 ms, an empty random, a plain http:// registration endpoint without allow_insecure_http) or
// a malformed value, Errc::config when the ProductKey or ProductSecret is missing. Warns through
// `log` that `insecure` skips certificate verification and that an allowed http:// endpoint is
// clear text.
Result<Settings>
settings_from(const config::Settings& cfg, const Choices& c, const Logger& log = {});

// The request for one device (a fresh random unless `s.random` is set).
Result<Request> request_for(const Settings& s, std::string_view device_name);

// What registering one device would send, without sending it (a dry run): over HTTPS the URL
// and the signed form body, over MQTT the CONNECT client id, user name and password.
using Unsent = std::variant<HttpsRequest, sign::MqttCredentials>;
Result<Unsent> unsent_request(const Settings& s, std::string_view device_name);

// Registers one device. A Registrar is used by one thread at a time. Errc::interrupted only when
// the abandon flag cut a request short: sent, its answer not read.
using Registrar = std::function<Result<Triplet>(std::string_view device_name)>;
// Called once in each worker thread.
using RegistrarFactory = std::function<Registrar()>;

// HTTPS: one client whose connection is reused from device to device; MQTT: one session per
// device (the platform closes a registration connection after its reply).
Registrar make_registrar(const Settings& s, const Logger& log = {});

// ---- The batch ----

// Counts so far (skipped devices are neither ok nor failed).
struct BatchProgress {
  std::size_t total = 0;   // devices in the batch
  std::size_t skipped = 0; // already in the results file
  std::size_t ok = 0;
  std::size_t failed = 0;
};

// What became of one device.
struct DeviceResult {
  std::size_t index = 0; // in Batch::names()
  std::string device_name;
  // The credentials the platform issued, and their compact console JSON (the results file's
  // line). Present also when only saving them failed: they must then be shown, since the
  // platform will not issue them again.
  std::optional<Triplet> triplet;
  std::string line;
  // Whether the line is durable in the results file.
  bool saved = false;
  // Registration or saving failed (Errc::interrupted when the abandon flag cut a request short:
  // sent, its answer not read).
  std::optional<Error> error;

  bool ok() const { return !error; }
};

struct BatchOptions {
  int jobs = 1; // worker threads (the calling thread watches the flags and waits for them)
  // Checked before each device (under the batch's lock, so no device starts once it is seen):
  // the first SIGINT/SIGTERM. The requests already sent are finished and their secrets kept.
  const std::atomic<bool>* stop = nullptr;
  // The second SIGINT/SIGTERM: the registrars abandon their requests (their own flag); the
  // batch only watches it to say so.
  const std::atomic<bool>* abandon = nullptr;
  // Called once, serialized with on_result, when the batch first sees `stop` (or `abandon`)
  // while requests are in flight: how many.
  std::function<void(std::size_t in_flight)> on_stopping;
  std::function<void(std::size_t in_flight)> on_abandoning;
};

struct BatchSummary {
  BatchProgress counts;
  std::chrono::duration<double> elapsed{0};
  // The error of the first failed device in list order (not in time order), if any.
  std::optional<Error> first_error;
  // Where the secrets the platform issued in this run landed (issued = the sum of the four).
  std::size_t issued = 0;
  std::size_t saved_and_shown = 0; // in the results file and shown by on_result
  std::size_t saved_only = 0;      // in the results file; on_result could not show it
  std::size_t shown_only = 0;      // no results file: shown by on_result
  // Secrets the platform issued that could not be saved in the results file: they reached only
  // on_result (the caller prints them). The first such failure stops the batch from starting
  // new devices; those already in flight finish.
  std::size_t unsaved = 0;
  std::optional<Error> save_error; // the first failure to save, in time order
  // Devices whose secret reached neither the results file nor on_result's reader (in time
  // order). The first stops the batch from starting new devices; those in flight finish.
  std::vector<std::string> lost;
  // Devices whose request was sent and abandoned (the abandon flag) before its answer was read:
  // the platform may have issued their secrets.
  std::vector<std::string> abandoned;
  // Devices whose request timed out (Errc::timeout): an answer, if one came, was not read.
  std::vector<std::string> timed_out;
  // Devices not started because the batch stopped early.
  std::size_t not_started = 0;
};

// How a finished batch ends, most important first: secrets that reached nowhere (Errc::io,
// naming the devices); secrets that reached only on_result because saving them in `out_path`
// failed (Errc::io: they must be kept from the output, the platform will not send them again);
// requests abandoned with their answers unread (Errc::interrupted, naming the devices to check
// on the console, with those whose request timed out after the stop); `interrupted`
// (Errc::interrupted; with a results file, re-running resumes); the first failed device (of a batch
// of many: its code, with how many failed, since each was reported as it came); else ok.
Result<void>
batch_outcome(const BatchSummary& s, bool interrupted, const std::optional<std::string>& out_path);

// The JSON line that stands for a failed device of a batch beside the triplets, so one stream
// says what became of every device: {"ProductKey","DeviceName","ok":false,"error":{"code",
// "exit_status","message"[,"hint"]}} (text that is not UTF-8 replaced).
std::string
failed_device_line(std::string_view product_key, std::string_view device_name, const Error& e);

class Batch {
public:
  // Opens the results file if `out_path` is given (creating it 0600, syncing its directory,
  // repairing a torn last line) and marks the devices of `names` already in it as skipped.
  static Result<Batch> open(std::string product_key,
                            std::vector<std::string> names,
                            std::optional<std::string> out_path);

  const std::vector<std::string>& names() const { return m_names; }
  bool is_skipped(std::size_t index) const { return m_skipped[index]; }
  std::size_t skipped() const { return m_skip_count; }
  // Whether opening the results file had to repair its last line.
  bool repaired() const { return m_out && m_out->repaired(); }

  // Called once per device that was not skipped, serialized (never two at once), after the
  // result is durable in the results file. Returns whether the issued credentials reached the
  // caller's reader (the line was written): false for a failed write, and for an empty
  // OnResult, which shows nothing.
  using OnResult = std::function<bool(const DeviceResult&, const BatchProgress&)>;

  // Registers every device not skipped with min(jobs, devices left) workers, each with its own
  // registrar from `make`. A failed device does not stop the batch; Errc::interrupted from a
  // registrar, the stop flag, a result that could not be saved in the results file, or one that
  // reached neither the results file nor the reader does: no new device starts, the requests in
  // flight finish (devices not started are left out of the counts).
  BatchSummary
  run(const RegistrarFactory& make, const BatchOptions& opts, const OnResult& on_result);

private:
  Batch() = default;
  std::string m_product_key;
  std::vector<std::string> m_names;
  std::vector<bool> m_skipped;
  std::size_t m_skip_count = 0;
  std::optional<OutFile> m_out;
};

} // namespace aliot::dynreg
