// Firmware over the air (docs/protocol.md, "OTA"): the device's topics and messages, the
// download of a pushed firmware (HTTPS, resumed by Range, size and signature checked), the
// device's upgrade flow over a connected mqtt::Session, and the cloud's OpenAPI actions.
//
// Device side, as the platform documents it and LinkSDK C's ota component speaks it:
// - version report  /ota/device/inform/${pk}/${dn}    {"id","params":{"version","module"?}}
// - progress        /ota/device/progress/${pk}/${dn}  {"id","params":{"step","desc","module"?}}
//   step 1..100 is the percentage; -1 upgrade failed, -2 download failed, -3 verify failed,
//   -4 flash failed.
// - the push        /ota/device/upgrade/${pk}/${dn}   {"code":"1000","data":{...},"id","message"}
// - the request     /sys/${pk}/${dn}/thing/ota/firmware/get  ({"id","version","params":
//   {"module"?},"method":"thing.ota.firmware.get"}), answered on `_reply` with the same data
//   ({} when there is nothing to upgrade to).
// The data: version, size, url, sign, signMethod (Md5|SHA256), md5 (older pushes), module,
// extData, isDiff; or for several files a `files` list of {fileName, fileSize, fileUrl,
// fileSign} beside one signMethod. Everything received is untrusted: bounded, parsed without
// exceptions, invalid UTF-8 is an error.
#pragma once

#include <aliot/config.hpp>
#include <aliot/error.hpp>
#include <aliot/http.hpp>
#include <aliot/mqtt.hpp>
#include <aliot/openapi.hpp>
#include <aliot/openapi_client.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::ota {

// The platform's limits: a firmware file is at most 1000 MB; a multi-file push carries at most
// 20 files (LinkSDK's OTA_ARRAY_MAX); versions are 1-64 characters.
inline constexpr std::uint64_t k_max_firmware_bytes = 1000ULL * 1024 * 1024;
inline constexpr std::size_t k_max_files = 20;
inline constexpr std::size_t k_max_version = 64;
inline constexpr std::size_t k_max_url = 2048;

// The negative steps of a progress report.
enum class Failure : int { upgrade = -1, download = -2, verify = -3, flash = -4 };

enum class SignMethod { md5, sha256 };
// "Md5" / "SHA256", as the push spells them.
std::string_view sign_method_name(SignMethod m);
// "Md5", "MD5", "md5", "SHA256", "Sha256", "sha256"; Errc::remote otherwise.
Result<SignMethod> parse_sign_method(std::string_view text);

// ---- Topics ----
std::string inform_topic(std::string_view pk, std::string_view dn);
std::string progress_topic(std::string_view pk, std::string_view dn);
std::string upgrade_topic(std::string_view pk, std::string_view dn);
std::string firmware_get_topic(std::string_view pk, std::string_view dn);
std::string firmware_get_reply_topic(std::string_view pk, std::string_view dn);

// ---- What the device sends ----
// Errc::usage for an empty version, one over 64 characters or with other than letters, digits,
// '.', '-', '_'; a module likewise (empty = the default module).
Result<void> check_version(std::string_view version, std::string_view what);
std::string inform_payload(std::string_view id, std::string_view version, std::string_view module);
// step: 1..100 or a Failure; Errc::usage otherwise. desc is cut to 128 bytes.
Result<std::string>
progress_payload(std::string_view id, int step, std::string_view desc, std::string_view module);
std::string firmware_get_payload(std::string_view id, std::string_view module);

// ---- What the platform sends ----
struct File {
  std::string name; // fileName, or empty for a single-file push
  std::uint64_t size = 0;
  std::string url;
  std::string sign; // lower-case hex
};
struct Upgrade {
  std::string id;
  std::string version;
  std::string module; // empty: the default module
  SignMethod sign_method = SignMethod::md5;
  std::vector<File> files; // one for a single-file push
  std::string ext_data;    // extData as JSON text, empty when absent
  bool diff = false;
  std::uint64_t total_size() const;
};
// The push on /ota/device/upgrade: Errc::remote naming what is wrong for a payload over the
// platform's 256 KB, not JSON, without data, a version, a url (http/https), a size (1 byte to
// 1000 MB) or a sign of the method's length, more than 20 files or a file name with '/'.
Result<Upgrade> parse_upgrade(std::string_view payload);
// The firmware/get reply: nullopt when its data is empty (nothing to upgrade to); Errc::remote for
// a code other than 200 or malformed data.
Result<std::optional<Upgrade>> parse_firmware_get_reply(std::string_view payload);

// ---- Signature ----
// The lower-case hex digest of a file (read in chunks). Errc::io when it cannot be read.
Result<std::string> file_digest(const std::string& path, SignMethod method);
// Errc::verify when the file's size or digest is not the announced one (the message says which
// and both values).
Result<void> verify_file(const std::string& path, const File& file, SignMethod method);

// ---- Download ----
struct DownloadOptions {
  http::ClientOptions http; // CA file, insecure, stop flag; timeout_ms is per attempt
  int max_retries = 5;      // resumed attempts after a dropped connection
  std::chrono::milliseconds retry_delay{500};
  // Called as bytes arrive (offset reached, file size).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};
struct DownloadResult {
  std::uint64_t bytes = 0;
  int resumes = 0; // how many times it went on from an offset with Range
};
// Downloads `file` to `path` (written as `path`.XXXXXX, renamed once its size and signature are
// checked). A dropped connection is resumed with `Range: bytes=N-` up to max_retries times (a
// server that answers 200 instead of 206 starts it over). Errors: Errc::network when the
// connection failed past the retries, Errc::remote for an HTTP status other than 200/206 or a 206
// that does not start at the offset, Errc::verify for more bytes than announced, a body shorter
// than announced or a signature mismatch, Errc::io for the local file.
Result<DownloadResult> download(const File& file,
                                SignMethod method,
                                const std::string& path,
                                const DownloadOptions& options,
                                const Logger& logger = {});

// ---- The device's upgrade flow ----
struct WatchEvent {
  enum class Kind { ready, push, progress, downloaded, applying, reported, skipped };
  Kind kind = Kind::ready;
  const Upgrade* upgrade = nullptr;
  int step = 0;            // progress
  std::string detail;      // ready: the filters; downloaded: the path; skipped: why
  std::uint64_t bytes = 0; // downloaded
  int resumes = 0;         // downloaded
};
struct WatchOptions {
  std::string current_version; // reported first when set; a push to it is skipped
  std::string module;
  std::string dir = "."; // where the firmware goes
  DownloadOptions download;
  // Applies the downloaded files (paths in push order). Errc::device fails the upgrade (-4).
  std::function<Result<void>(const Upgrade&, const std::vector<std::string>&)> apply;
  // Simulated failure: once progress reaches this percentage, report -1 and stop (Errc::device).
  std::optional<int> fail_at;
  int progress_every = 10; // report a step at most every this many percent
  std::function<void(const WatchEvent&)> report;
  mqtt::Deadline subscribe_deadline;
  mqtt::Deadline deadline; // waiting for a push (Errc::timeout)
};
struct WatchResult {
  Upgrade upgrade;
  std::vector<std::string> files;
};
// Subscribes to the push and the firmware/get reply, reports the current version, asks with
// firmware/get, waits for a push, downloads and checks each file, reports progress, applies and
// reports the new version. A failure is reported to the platform (the step of its class, with a
// desc) before it is returned: download -2 (Errc::network/remote/timeout), verify -3
// (Errc::verify), apply -4 (Errc::device), simulated -1 (Errc::device).
Result<WatchResult> watch_once(mqtt::Session& session,
                               std::string_view pk,
                               std::string_view dn,
                               const WatchOptions& options);

// Applies a firmware with a command: `sh -c 'COMMAND "$@"' aliot-ota FILE...` (the files as its
// arguments), ALIOT_OTA_VERSION and ALIOT_OTA_MODULE in its environment beside `env` without the
// variables that hold secrets; its stdout and stderr go to this process's stderr. Errc::device
// when it exits non-zero, is killed, or runs past `limit` (then killed with its process group).
Result<void> exec_apply(const std::string& command,
                        const Upgrade& upgrade,
                        const std::vector<std::string>& files,
                        const config::Env& env,
                        std::chrono::milliseconds limit);

// ---- Cloud side (OpenAPI) ----
namespace cloud {

struct UploadUrl {
  std::string host;
  std::string key;
  std::string policy;
  std::string oss_access_key_id;
  std::string signature;
  std::string firmware_url;
  std::string object_storage;
};
openapi::Params upload_url_params(std::string_view file_suffix);
Result<UploadUrl> parse_upload_url(std::string_view body);
// The OSS PostObject form (multipart/form-data) carrying `content` as the file: the body and its
// Content-Type header value.
struct Form {
  std::string content_type;
  std::string body;
};
Result<Form>
post_object_form(const UploadUrl& u, std::string_view file_name, std::string_view content);

struct Firmware {
  std::string product_key;
  std::string version; // DestVersion
  std::string name;    // FirmwareName
  std::string url;     // FirmwareUrl
  std::string module;  // ModuleName (empty: default)
  SignMethod sign_method = SignMethod::md5;
  std::string sign;
  std::uint64_t size = 0;
};
openapi::Params create_firmware_params(const Firmware& f);
// Data.FirmwareId.
Result<std::string> parse_firmware_id(std::string_view body);

// A firmware file's bytes: Errc::io when it cannot be read, Errc::usage when it is empty or over
// the platform's 1000 MB.
Result<std::string> read_firmware(const std::string& path);
// The lower-case hex digest of bytes in memory.
Result<std::string> digest(std::string_view bytes, SignMethod method);
// The platform's upload of a firmware: GenerateOTAUploadURL, the file to its Host by OSS
// PostObject (a multipart form over `http`; any status but 2xx is Errc::remote), then
// CreateOTAFirmware with the FirmwareUrl, the file's size and its sign (computed here; `f`'s
// url, sign and size are filled in). Returns the FirmwareId.
Result<std::string> upload(openapi::Client& api,
                           const http::ClientOptions& http,
                           Firmware& f,
                           std::string_view file_name,
                           std::string_view content,
                           const Logger& logger = {});

// The FirmwareId of the product's firmware of `version` (and `module`): ListOTAFirmware with
// DestVersion. Errc::usage when there is none, or more than one (give --firmware-id then).
Result<std::string> find_firmware(openapi::Client& api,
                                  std::string_view product_key,
                                  std::string_view version,
                                  std::string_view module);
// The body of ListOTAFirmware: FirmwareInfo.SimpleFirmwareInfo[] (FirmwareId, ProductKey,
// DestVersion, ModuleName), top-level or under Data.
struct FirmwareRef {
  std::string id;
  std::string product_key;
  std::string version;
  std::string module;
};
Result<std::vector<FirmwareRef>> parse_firmware_list(std::string_view body);

struct Job {
  std::string product_key;
  std::string firmware_id;
  std::vector<std::string> device_names; // TargetSelection=SPECIFIC
  std::vector<std::string> src_versions; // TargetSelection=ALL filtered by version
  int timeout_minutes = 0;               // 0: none
};
Result<openapi::Params> static_job_params(const Job& j);
// Data.JobId.
Result<std::string> parse_job_id(std::string_view body);

struct JobInfo {
  std::string job_id;
  std::string status; // JobStatus
  std::string firmware_id;
  std::string dest_version;
};
openapi::Params query_job_params(std::string_view job_id);
Result<JobInfo> parse_job(std::string_view body);

struct Task {
  std::string task_id;
  std::string device_name;
  std::string product_key;
  std::string status; // QUEUED, NOTIFIED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELED, TIMEOUT
  std::string progress;
  std::string src_version;
  std::string dest_version;
  std::string desc;
};
struct TaskPage {
  std::vector<Task> tasks;
  int total = 0;
  int page_count = 0;
  int current_page = 0;
};
openapi::Params list_tasks_params(std::string_view job_id, int page, int page_size);
Result<TaskPage> parse_tasks(std::string_view body);
openapi::Params cancel_tasks_params(std::string_view job_id);

// SUCCEEDED, FAILED, CANCELED, TIMEOUT (the task will not move again).
bool final_status(std::string_view status);

// Every task of a job: ListOTATaskByJob page after page (100 a page).
Result<std::vector<Task>> list_all_tasks(openapi::Client& api, std::string_view job_id);

// Where a job's tasks stand: counts by status ("2 SUCCEEDED, 1 FAILED"), whether every task is
// final, and the outcome once they are: ok when all SUCCEEDED, Errc::remote when one FAILED or
// was CANCELED, Errc::timeout when one TIMEOUT (naming the first such device and its desc).
struct Summary {
  std::string counts;
  bool finished = false;
  Result<void> outcome = ok();
};
Summary summarize(std::string_view job_id, const std::vector<Task>& tasks);

} // namespace cloud

} // namespace aliot::ota
