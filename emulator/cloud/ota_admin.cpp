// `aliot emulate cloud add-firmware` (aliot/emu/ota.hpp): a firmware package added to a state
// directory without the OpenAPI, as the console's "add package" does.
#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/emu/admin.hpp>
#include <aliot/emu/ota.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace aliot::emu::ota {

namespace {

bool valid_name(const std::string& v) {
  return !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
  });
}

// Copies `from` to `to` (0600, written atomically), at most k_max_file bytes.
Result<void> copy_file(const std::string& from, const std::string& to) {
  std::FILE* f = std::fopen(from.c_str(), "rb");
  if (f == nullptr) {
    return Error{Errc::usage, "cannot open " + from + ": " + std::strerror(errno)};
  }
  std::string bytes;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    bytes.append(buf, n);
    if (bytes.size() > k_max_file) {
      std::fclose(f);
      return Error{Errc::usage,
                   from + " is over 256 MiB, the emulator's limit for a firmware file"};
    }
  }
  const bool err = std::ferror(f) != 0;
  std::fclose(f);
  if (err) {
    return Error{Errc::io, "cannot read " + from};
  }
  return config::write_file_atomic(to, bytes, 0600);
}

} // namespace

Result<AddedFirmware> add_firmware(const std::string& dir,
                                   const std::string& pk,
                                   const std::string& version,
                                   const std::string& path,
                                   const std::string& module,
                                   const std::string& sign_method,
                                   const std::string& name) {
  if (!valid_name(version)) {
    return Error{Errc::usage,
                 "version '" + version
                     + "' is not a firmware version: 1 to 64 letters, digits, '.', '-', '_'"};
  }
  if (!module.empty() && !valid_name(module)) {
    return Error{Errc::usage,
                 "module '" + module
                     + "' is not a module name: 1 to 64 letters, digits, '.', '-', '_'"};
  }
  const std::string method = api_sign_method(sign_method);
  if (method.empty()) {
    return Error{Errc::usage, "sign method '" + sign_method + "' is neither MD5 nor SHA256"};
  }
  {
    ALIOT_TRY_ASSIGN(auto reg, admin::open_registry(dir));
    if (reg->current()->product(pk) == nullptr) {
      return Error{Errc::usage,
                   "unknown product " + pk + ": add it first (emulate cloud add-product)"};
    }
  }
  ALIOT_TRY_ASSIGN(auto digests, file_digests(path));
  ALIOT_TRY_ASSIGN(auto random, crypto::random_alnum(24));
  AddedFirmware out;
  out.file = random + ".bin";
  out.digests = digests;
  out.sign_method = method;
  out.sign = method == "MD5" ? digests.md5 : digests.sha256;
  (void)::mkdir(ota_dir(dir).c_str(), 0700);
  (void)::mkdir(files_dir(dir).c_str(), 0700);
  ALIOT_TRY(copy_file(path, files_dir(dir) + "/" + out.file));
  const long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  ALIOT_TRY(update_state(dir, [&](json& st) -> Result<void> {
    if (st["firmware"].size() >= k_max_firmware) {
      return Error{Errc::usage, "500 firmware packages already: the platform's limit"};
    }
    out.id = new_id(st, "0100");
    st["firmware"].push_back(json{{"FirmwareId", out.id},
                                  {"FirmwareName", name.empty() ? pk + "-" + version : name},
                                  {"ProductKey", pk},
                                  {"DestVersion", version},
                                  {"SrcVersion", ""},
                                  {"ModuleName", module},
                                  {"File", out.file},
                                  {"FirmwareSize", digests.size},
                                  {"FirmwareSign", out.sign},
                                  {"SignMethod", method},
                                  {"Md5", digests.md5},
                                  {"Type", 0},
                                  {"FirmwareDesc", ""},
                                  {"Udi", ""},
                                  {"Status", 1},
                                  {"UtcCreate", now}});
    return ok();
  }));
  return out;
}

} // namespace aliot::emu::ota
