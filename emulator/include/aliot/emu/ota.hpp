// The emulator's firmware-over-the-air state (docs/protocol.md, "Firmware over the air"): the
// firmware packages, the upgrade jobs, each device's task and the versions devices reported, in
// DIR/ota/ota.json, and the firmware files in DIR/ota/files/. Shared by the broker plugin (the
// device topics and the OpenAPI actions) and `aliot emulate cloud add-firmware`, possibly in two
// processes at once: every change holds DIR/ota/ota.lock (flock) while it reads, edits and
// rewrites the file atomically (write, fsync, rename), so a crash leaves the old or the new state.
#pragma once

#include <aliot/error.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace aliot::emu::ota {

using json = nlohmann::ordered_json;

// Limits (the platform's: 500 packages an account; the emulator's own for the rest).
constexpr std::size_t k_max_firmware = 500;
constexpr std::size_t k_max_jobs = 1000;
constexpr std::size_t k_max_tasks = 100000;
constexpr std::size_t k_max_versions = 100000;     // reported (device, module) versions
constexpr std::uint64_t k_max_file = 256ull << 20; // one firmware file: 256 MiB
constexpr std::size_t k_max_state = 64u << 20;     // ota.json

std::string ota_dir(const std::string& dir);   // DIR/ota
std::string files_dir(const std::string& dir); // DIR/ota/files

// The state, empty when there is none yet: {"next", "firmware": [], "jobs": [], "tasks": [],
// "versions": {"PK/DN": {"module": "version"}}, "uploads": {}}.
Result<json> read_state(const std::string& dir);
// Locks, reads, lets `edit` change the state (an error leaves the file untouched), rewrites it.
Result<void> update_state(const std::string& dir, const std::function<Result<void>(json&)>& edit);

struct Digests {
  std::uint64_t size = 0;
  std::string md5, sha256; // lower-case hex
};
// Size and digests of a file (at most k_max_file bytes; Errc::usage past it, Errc::io when it
// cannot be read).
Result<Digests> file_digests(const std::string& path);
Digests bytes_digests(std::string_view bytes);

// A fresh id: `prefix` + 20 alphanumerics.
std::string new_id(json& state, const std::string& prefix);

// The platform's spelling of a sign method in the OpenAPI (MD5, SHA256) from any case; empty
// when it is neither.
std::string api_sign_method(const std::string& s);

struct AddedFirmware {
  std::string id;
  std::string file; // its name in files_dir
  Digests digests;
  std::string sign_method, sign;
};
// `aliot emulate cloud add-firmware`: copies `path` into DIR/ota/files and records a package of
// product `pk` (which must exist) upgrading `module` (empty: default) to `version`, signed with
// `sign_method` (MD5 or SHA256, any case). Errc::usage for a bad name, version, method, file.
Result<AddedFirmware> add_firmware(const std::string& dir,
                                   const std::string& pk,
                                   const std::string& version,
                                   const std::string& path,
                                   const std::string& module,
                                   const std::string& sign_method,
                                   const std::string& name);

} // namespace aliot::emu::ota
