// The OTA actions of the OpenAPI (docs/protocol.md, "Firmware over the air", OpenAPI):
//   GenerateOTAUploadURL  -> Data {Key, Host, Policy, OSSAccessKeyId, Signature, FirmwareUrl,
//                         ObjectStorage}; the file then goes to Host as an OSS PostObject
//                         (multipart: key, policy, OSSAccessKeyId, signature, file) on the
//                         emulator's HTTPS server.
//   CreateOTAFirmware     FirmwareName, DestVersion, ProductKey, FirmwareUrl (one the emulator
//                         issued), [FirmwareSign, SignMethod MD5|SHA256, FirmwareSize,
//                         ModuleName, SrcVersion, Type, FirmwareDesc, Udi] -> Data.FirmwareId
//   QueryOTAFirmware      FirmwareId -> FirmwareInfo
//   ListOTAFirmware       CurrentPage, PageSize, [ProductKey, DestVersion] ->
//                         FirmwareInfo.SimpleFirmwareInfo[]
//   CreateOTAStaticUpgradeJob  FirmwareId, ProductKey, TargetSelection ALL|SPECIFIC,
//                         [TargetDeviceName.N, SrcVersion.N, TimeoutInMinutes 1-1440, NeedPush]
//   CreateOTADynamicUpgradeJob FirmwareId, ProductKey, [SrcVersion.N, TimeoutInMinutes,
//                         DynamicMode 1|2, NeedPush] -> Data.JobId
//   QueryOTAJob           JobId -> Data {JobStatus, SelectionType, ...}
//   ListOTATaskByJob      JobId, [TaskStatus, DeviceNames.N, CurrentPage, PageSize ≤ 100] ->
//                         Data.SimpleOTATaskInfo[]
//   CancelOTATaskByJob    JobId, [CancelQueuedTask, CancelNotifiedTask, CancelInProgressTask]
// Error codes the stored documentation does not list are UNCONFIRMED (iot.ota.*).
#include "http_call.hpp"
#include "ota.hpp"

#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>

namespace aliot::emu {

namespace {

using otax::json;

constexpr const char* k_bad_param = "iot.common.InvalidFormattedParameter"; // UNCONFIRMED
constexpr const char* k_no_firmware = "iot.ota.FirmwareNotExist";           // UNCONFIRMED
constexpr const char* k_no_job = "iot.ota.JobNotExist";                     // UNCONFIRMED
constexpr const char* k_no_product = "iot.prod.NotExistedProduct";

void success(Call& c, json extra = json::object()) {
  json j{{"RequestId", c.rid}, {"Success", true}};
  for (auto& [k, v] : extra.items()) {
    j[k] = v;
  }
  send_json(c.res, 200, j);
}

bool state_error(Call& c, const Error& e) {
  biz_error(c.res, c.rid, "iot.system.SystemException", e.message());
  return false;
}

std::vector<std::string> repeated(const Params& ps, const std::string& name) {
  std::vector<std::string> out;
  for (int i = 1; i <= 1000; ++i) {
    auto v = param(ps, name + "." + std::to_string(i));
    if (!v) {
      break;
    }
    if (!v->empty()) {
      out.push_back(*v);
    }
  }
  return out;
}

std::optional<long long>
int_param(Call& c, const char* name, long long lo, long long hi, long long def) {
  auto v = param(c.ps, name);
  if (!v || v->empty()) {
    return def;
  }
  if (v->size() > 12 || v->find_first_not_of("0123456789") != std::string::npos) {
    biz_error(c.res, c.rid, k_bad_param, std::string(name) + " is not a whole number.");
    return std::nullopt;
  }
  const long long n = std::atoll(v->c_str());
  if (n < lo || n > hi) {
    biz_error(c.res, c.rid, k_bad_param,
              std::string(name) + " must be " + std::to_string(lo) + " to " + std::to_string(hi)
                  + ".");
    return std::nullopt;
  }
  return n;
}

bool bool_param(Call& c, const char* name, bool def) {
  auto v = param(c.ps, name);
  if (!v || v->empty()) {
    return def;
  }
  return *v == "true" || *v == "True" || *v == "1";
}

bool valid_version(const std::string& v) {
  return !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
  });
}

bool is_hex(const std::string& s, std::size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

// The stored file a FirmwareUrl the emulator issued names (".../ota/files/NAME"); empty if none.
std::string file_of_url(const std::string& url) {
  const std::string mark = "/ota/files/";
  if (!url.starts_with("https://127.0.0.1:") && !url.starts_with("https://localhost:")) {
    return {};
  }
  const auto p = url.find(mark);
  if (p == std::string::npos) {
    return {};
  }
  std::string name = url.substr(p + mark.size());
  name = name.substr(0, name.find('?'));
  if (name.empty() || name.size() > 80
      || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
             != std::string::npos
      || name[0] == '.') {
    return {};
  }
  return name;
}

std::string utc(long long ms) {
  return format_time(ms, true);
}

json firmware_info(const json& fw, bool full) {
  json j{{"FirmwareId", fw.value("FirmwareId", "")},
         {"FirmwareName", fw.value("FirmwareName", "")},
         {"ProductKey", fw.value("ProductKey", "")},
         {"DestVersion", fw.value("DestVersion", "")},
         {"SrcVersion", fw.value("SrcVersion", "")},
         {"ModuleName", fw.value("ModuleName", "default")},
         {"Type", fw.value("Type", 0)},
         {"Status", fw.value("Status", 1)},
         {"UtcCreate", utc(fw.value("UtcCreate", 0LL))},
         {"UtcModified", utc(fw.value("UtcCreate", 0LL))}};
  if (full) {
    j["FirmwareUrl"] = otax::file_url(fw.value("File", ""));
    j["FirmwareSize"] = fw.value("FirmwareSize", 0LL);
    j["FirmwareSign"] = fw.value("FirmwareSign", "");
    j["SignMethod"] = fw.value("SignMethod", "MD5");
    j["Md5"] = fw.value("Md5", "");
    j["FirmwareDesc"] = fw.value("FirmwareDesc", "");
    j["Udi"] = fw.value("Udi", "");
    j["VerifyProgress"] = 100;
  }
  return j;
}

void action_upload_url(Call& c) {
  auto suffix = param(c.ps, "FileSuffix").value_or("bin");
  if (suffix.empty() || suffix.size() > 8
      || suffix.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.") != std::string::npos) {
    biz_error(c.res, c.rid, k_bad_param, "FileSuffix is not a file suffix such as bin.");
    return;
  }
  auto r = crypto::random_alnum(24);
  auto sig = crypto::random_hex(16);
  if (!r || !sig) {
    biz_error(c.res, c.rid, "iot.system.SystemException", "no randomness");
    return;
  }
  const std::string name = *r + "." + suffix;
  const std::string key = "ota/" + name;
  const long long now = now_ms();
  auto done = ota::update_state(emu().dir, [&](json& st) -> Result<void> {
    auto& up = st["uploads"];
    for (auto it = up.begin(); it != up.end();) { // issued keys live an hour
      it = it->value("Expires", 0LL) < now ? up.erase(it) : std::next(it);
    }
    if (up.size() >= 1000) {
      return Error{Errc::usage, "too many upload URLs issued in the last hour"};
    }
    up[key] = json{{"Signature", *sig}, {"Expires", now + 3600 * 1000LL}};
    return ok();
  });
  if (!done) {
    state_error(c, done.error());
    return;
  }
  const std::string policy =
      enc::base64_encode(json{{"expiration", utc(now + 3600 * 1000LL)},
                              {"conditions", json::array({json::array({"eq", "$key", key})})}}
                             .dump());
  success(c, {{"Data",
               {{"Key", key},
                {"Host", "https://127.0.0.1:" + std::to_string(emu().https_port) + "/ota/upload"},
                {"Policy", policy},
                {"OSSAccessKeyId", "STS.emulator"},
                {"Signature", *sig},
                {"FirmwareUrl", otax::file_url(name)},
                {"ObjectStorage", "OSS"}}}});
}

void action_create_firmware(Call& c) {
  if (!require(c, {"FirmwareName", "DestVersion", "ProductKey", "FirmwareUrl"})) {
    return;
  }
  const std::string pk = *param(c.ps, "ProductKey");
  if (c.view->product(pk) == nullptr) {
    biz_error(c.res, c.rid, k_no_product, "The product " + pk + " does not exist.");
    return;
  }
  const std::string name = *param(c.ps, "FirmwareName");
  const std::string version = *param(c.ps, "DestVersion");
  if (name.size() > 120 || !valid_version(version)) {
    biz_error(c.res, c.rid, k_bad_param,
              "DestVersion takes letters, digits, '.', '-', '_' (1 to 64); FirmwareName 1 to 40 "
              "characters.");
    return;
  }
  const std::string module = param(c.ps, "ModuleName").value_or("");
  if (!module.empty() && !valid_version(module)) {
    biz_error(c.res, c.rid, k_bad_param, "ModuleName is not a module name.");
    return;
  }
  const std::string src = param(c.ps, "SrcVersion").value_or("");
  const std::string method = ota::api_sign_method(param(c.ps, "SignMethod").value_or("MD5"));
  if (method.empty()) {
    biz_error(c.res, c.rid, k_bad_param, "SignMethod must be MD5 or SHA256.");
    return;
  }
  const std::string file = file_of_url(*param(c.ps, "FirmwareUrl"));
  if (file.empty()) {
    biz_error(c.res, c.rid, k_bad_param,
              "FirmwareUrl is not a file uploaded to this emulator (GenerateOTAUploadURL).");
    return;
  }
  auto dg = ota::file_digests(ota::files_dir(emu().dir) + "/" + file);
  if (!dg) {
    biz_error(c.res, c.rid, k_bad_param,
              "FirmwareUrl names no uploaded file: " + dg.error().message());
    return;
  }
  std::string sign = param(c.ps, "FirmwareSign").value_or("");
  if (!sign.empty() && !is_hex(sign, method == "MD5" ? 32 : 64)) {
    biz_error(c.res, c.rid, k_bad_param, "FirmwareSign is not a " + method + " digest in hex.");
    return;
  }
  if (sign.empty()) {
    sign = method == "MD5" ? dg->md5 : dg->sha256;
  }
  std::transform(sign.begin(), sign.end(), sign.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  auto size = int_param(c, "FirmwareSize", 0, 1LL << 40, static_cast<long long>(dg->size));
  auto type = size ? int_param(c, "Type", 0, 1, 0) : std::nullopt;
  if (!type) {
    return;
  }
  const std::string udi = param(c.ps, "Udi").value_or("");
  const std::string desc = param(c.ps, "FirmwareDesc").value_or("");
  if (udi.size() > 4096 || desc.size() > 400) {
    biz_error(c.res, c.rid, k_bad_param, "Udi is at most 4096 characters, FirmwareDesc 100.");
    return;
  }
  const long long now = now_ms();
  std::string id;
  auto done = ota::update_state(emu().dir, [&](json& st) -> Result<void> {
    if (st["firmware"].size() >= ota::k_max_firmware) {
      return Error{Errc::usage, "500 firmware packages already: the platform's limit"};
    }
    id = ota::new_id(st, "0100");
    st["firmware"].push_back(json{{"FirmwareId", id},
                                  {"FirmwareName", name},
                                  {"ProductKey", pk},
                                  {"DestVersion", version},
                                  {"SrcVersion", src},
                                  {"ModuleName", module},
                                  {"File", file},
                                  {"FirmwareSize", *size},
                                  {"FirmwareSign", sign},
                                  {"SignMethod", method},
                                  {"Md5", dg->md5},
                                  {"Type", *type},
                                  {"FirmwareDesc", desc},
                                  {"Udi", udi},
                                  {"Status", 1},
                                  {"UtcCreate", now}});
    return ok();
  });
  if (!done) {
    biz_error(c.res, c.rid, "iot.ota.FirmwareCountExceed", done.error().message()); // UNCONFIRMED
    return;
  }
  success(c, {{"Data", {{"FirmwareId", id}, {"UtcCreate", utc(now)}}}});
}

void action_query_firmware(Call& c) {
  if (!require(c, {"FirmwareId"})) {
    return;
  }
  auto st = ota::read_state(emu().dir);
  if (!st) {
    state_error(c, st.error());
    return;
  }
  const auto* fw = otax::find_by((*st)["firmware"], "FirmwareId", *param(c.ps, "FirmwareId"));
  if (fw == nullptr) {
    biz_error(c.res, c.rid, k_no_firmware, "The firmware does not exist.");
    return;
  }
  success(c, {{"FirmwareInfo", firmware_info(*fw, true)}});
}

// Page `page` (from 1) of `size` of `all`, with the platform's paging fields.
void paged(Call& c,
           const json& all,
           long long page,
           long long size,
           const char* outer,
           const char* inner) {
  json items = json::array();
  const long long total = static_cast<long long>(all.size());
  for (long long i = (page - 1) * size; i < total && i < page * size; ++i) {
    items.push_back(all[static_cast<std::size_t>(i)]);
  }
  json data = inner != nullptr ? json{{inner, items}} : items;
  success(c, {{outer, data},
              {"Total", total},
              {"PageSize", size},
              {"PageCount", (total + size - 1) / size},
              {"CurrentPage", page}});
}

void action_list_firmware(Call& c) {
  auto page = int_param(c, "CurrentPage", 1, 100000, 1);
  auto size = page ? int_param(c, "PageSize", 1, 200, 10) : std::nullopt;
  if (!size) {
    return;
  }
  auto st = ota::read_state(emu().dir);
  if (!st) {
    state_error(c, st.error());
    return;
  }
  const auto pk = param(c.ps, "ProductKey");
  const auto dest = param(c.ps, "DestVersion");
  json all = json::array();
  for (const auto& fw : (*st)["firmware"]) {
    if ((pk && !pk->empty() && fw.value("ProductKey", "") != *pk)
        || (dest && !dest->empty() && fw.value("DestVersion", "") != *dest)) {
      continue;
    }
    all.push_back(firmware_info(fw, false));
  }
  paged(c, all, *page, *size, "FirmwareInfo", "SimpleFirmwareInfo");
}

// Pushes the notices of `job`'s QUEUED tasks to the devices online now (NOTIFIED).
void push_now(const std::string& job_id, const std::string& pk) {
  auto online = on_broker<std::vector<std::string>>([pk] { return broker_online_devices(pk); });
  if (!online || online->empty()) {
    return;
  }
  std::vector<std::pair<std::string, std::string>> sends; // dn, notice
  const long long now = now_ms();
  (void)ota::update_state(emu().dir, [&](json& st) -> Result<void> {
    for (auto& t : st["tasks"]) {
      const std::string dn = t.value("DeviceName", "");
      if (t.value("JobId", "") != job_id || t.value("TaskStatus", "") != "QUEUED"
          || std::find(online->begin(), online->end(), dn) == online->end()) {
        continue;
      }
      const auto* fw = otax::find_by(st["firmware"], "FirmwareId", t.value("FirmwareId", ""));
      if (fw == nullptr) {
        continue;
      }
      t["TaskStatus"] = "NOTIFIED";
      t["UtcModified"] = now;
      sends.emplace_back(dn, otax::notice(*fw));
    }
    return ok();
  });
  if (sends.empty()) {
    return;
  }
  on_broker<bool>([pk, sends] {
    for (const auto& [dn, n] : sends) {
      broker_deliver(pk, dn, "/ota/device/upgrade/" + pk + "/" + dn, n, false);
    }
    return true;
  });
}

void action_create_job(Call& c, bool dynamic) {
  if (!require(c, {"FirmwareId", "ProductKey"})) {
    return;
  }
  const std::string pk = *param(c.ps, "ProductKey");
  const Product* p = c.view->product(pk);
  if (p == nullptr) {
    biz_error(c.res, c.rid, k_no_product, "The product " + pk + " does not exist.");
    return;
  }
  std::string selection = dynamic ? "ALL" : param(c.ps, "TargetSelection").value_or("");
  if (!dynamic && selection != "ALL" && selection != "SPECIFIC") {
    biz_error(c.res, c.rid, k_bad_param,
              "TargetSelection must be ALL or SPECIFIC (GRAY and GROUP are not emulated).");
    return;
  }
  const auto names = repeated(c.ps, "TargetDeviceName");
  const auto srcs = repeated(c.ps, "SrcVersion");
  if (selection == "SPECIFIC" && names.empty()) {
    pop_error(c.res, 400, c.rid, "MissingTargetDeviceName",
              "TargetDeviceName.1 is mandatory for SPECIFIC.");
    return;
  }
  for (const auto& dn : names) {
    if (c.view->device(pk, dn) == nullptr) {
      biz_error(c.res, c.rid, "iot.device.NotExistedDevice",
                "The device " + dn + " does not exist.");
      return;
    }
  }
  auto timeout = int_param(c, "TimeoutInMinutes", 1, 1440, 0);
  auto mode = timeout ? int_param(c, "DynamicMode", 1, 2, 1) : std::nullopt;
  if (!mode) {
    return;
  }
  const bool need_push = bool_param(c, "NeedPush", true);
  // ALL: the product's devices that reported a version or are online now (UNCONFIRMED: the
  // platform takes every device of the product; the emulator's registry is not enumerated).
  std::vector<std::string> devices;
  const bool all = selection == "ALL" && (!dynamic || *mode == 1);
  if (selection == "SPECIFIC") {
    devices = names;
  } else if (all) {
    auto online = on_broker<std::vector<std::string>>([pk] { return broker_online_devices(pk); });
    if (online) {
      devices = *online;
    }
  }
  const long long now = now_ms();
  std::string id;
  std::string error_code = k_no_firmware;
  auto done = ota::update_state(emu().dir, [&](json& st) -> Result<void> {
    otax::apply_timeouts(st, now);
    const auto* fw = otax::find_by(st["firmware"], "FirmwareId", *param(c.ps, "FirmwareId"));
    if (fw == nullptr || fw->value("ProductKey", "") != pk) {
      return Error{Errc::usage, "The firmware does not exist in product " + pk + "."};
    }
    error_code = k_bad_param;
    if (st["jobs"].size() >= ota::k_max_jobs) {
      return Error{Errc::usage, "1000 jobs already: the emulator's limit"};
    }
    const std::string module =
        fw->value("ModuleName", "").empty() ? "default" : fw->value("ModuleName", "");
    id = ota::new_id(st, "0200");
    json job{{"JobId", id},
             {"FirmwareId", fw->value("FirmwareId", "")},
             {"ProductKey", pk},
             {"JobType", "UPGRADE_FIRMWARE"},
             {"SelectionType", dynamic ? "DYNAMIC" : "STATIC"},
             {"TargetSelection", selection},
             {"SrcVersions", srcs},
             {"DestVersion", fw->value("DestVersion", "")},
             {"Module", module},
             {"TimeoutInMinutes", *timeout},
             {"DynamicMode", *mode},
             {"NeedPush", need_push},
             {"Canceled", false},
             {"UtcCreate", now},
             {"UtcModified", now}};
    if (all) {
      for (const auto& [key, mods] : st["versions"].items()) {
        if (key.starts_with(pk + "/") && mods.contains(module)
            && std::find(devices.begin(), devices.end(), key.substr(pk.size() + 1))
                   == devices.end()) {
          devices.push_back(key.substr(pk.size() + 1));
        }
      }
    }
    for (const auto& dn : devices) {
      std::string current;
      const std::string key = pk + "/" + dn;
      if (st["versions"].contains(key) && st["versions"][key].contains(module)) {
        current = st["versions"][key][module].get<std::string>();
      }
      if (!srcs.empty() && std::find(srcs.begin(), srcs.end(), current) == srcs.end()) {
        continue;
      }
      if (current == job.value("DestVersion", "")) {
        continue;
      }
      if (!otax::add_task(st, job, dn, current, now)) {
        return Error{Errc::usage, "too many tasks: the emulator keeps at most 100000"};
      }
    }
    st["jobs"].push_back(job);
    return ok();
  });
  if (!done) {
    biz_error(c.res, c.rid, error_code, done.error().message());
    return;
  }
  if (need_push) {
    push_now(id, pk);
  }
  success(c, {{"Data", {{"JobId", id}, {"UtcCreate", utc(now)}}}});
}

std::string job_status(const json& st, const json& job) {
  if (job.value("Canceled", false)) {
    return "CANCELED";
  }
  if (job.value("SelectionType", "") == "DYNAMIC") {
    return "IN_PROGRESS";
  }
  for (const auto& t : st["tasks"]) {
    if (t.value("JobId", "") == job.value("JobId", "")
        && otax::unfinished(t.value("TaskStatus", ""))) {
      return "IN_PROGRESS";
    }
  }
  return "COMPLETED";
}

// Runs `fn` on the state with the job `JobId` (timeouts applied and kept); false after an error
// reply.
bool with_job(Call& c, const std::function<void(json& st, json& job)>& fn) {
  if (!require(c, {"JobId"})) {
    return false;
  }
  bool found = false;
  auto done = ota::update_state(emu().dir, [&](json& st) -> Result<void> {
    otax::apply_timeouts(st, now_ms());
    auto* job = otax::find_by(st["jobs"], "JobId", *param(c.ps, "JobId"));
    if (job != nullptr) {
      found = true;
      fn(st, *job);
    }
    return ok();
  });
  if (!done) {
    return state_error(c, done.error());
  }
  if (!found) {
    biz_error(c.res, c.rid, k_no_job, "The job does not exist.");
  }
  return found;
}

void action_query_job(Call& c) {
  json data;
  if (!with_job(c, [&](json& st, json& job) {
        data = json{{"JobId", job["JobId"]},
                    {"FirmwareId", job["FirmwareId"]},
                    {"ProductKey", job["ProductKey"]},
                    {"JobStatus", job_status(st, job)},
                    {"JobType", job["JobType"]},
                    {"SelectionType", job["SelectionType"]},
                    {"TargetSelection", job["TargetSelection"]},
                    {"SrcVersions", {{"SrcVersion", job["SrcVersions"]}}},
                    {"DestVersion", job["DestVersion"]},
                    {"TimeoutInMinutes", job["TimeoutInMinutes"]},
                    {"UtcCreate", utc(job.value("UtcCreate", 0LL))},
                    {"UtcModified", utc(job.value("UtcModified", 0LL))},
                    {"UtcStartTime", utc(job.value("UtcCreate", 0LL))}};
        if (job["SelectionType"] == "DYNAMIC") {
          data["DynamicMode"] = job["DynamicMode"];
        }
      })) {
    return;
  }
  success(c, {{"Data", data}});
}

void action_list_tasks(Call& c) {
  auto page = int_param(c, "CurrentPage", 1, 100000, 1);
  auto size = page ? int_param(c, "PageSize", 1, 100, 10) : std::nullopt;
  if (!size) {
    return;
  }
  const auto status = param(c.ps, "TaskStatus").value_or("");
  const auto names = repeated(c.ps, "DeviceNames");
  json all = json::array();
  if (!with_job(c, [&](json& st, json& job) {
        for (const auto& t : st["tasks"]) {
          if (t.value("JobId", "") != job.value("JobId", "")
              || (!status.empty() && t.value("TaskStatus", "") != status)
              || (!names.empty()
                  && std::find(names.begin(), names.end(), t.value("DeviceName", ""))
                         == names.end())) {
            continue;
          }
          all.push_back(json{
              {"TaskId", t["TaskId"]},
              {"JobId", t["JobId"]},
              {"FirmwareId", t["FirmwareId"]},
              {"ProductKey", t["ProductKey"]},
              {"DeviceName", t["DeviceName"]},
              {"IotId",
               c.view->device(t.value("ProductKey", ""), t.value("DeviceName", "")) != nullptr
                   ? c.view->device(t.value("ProductKey", ""), t.value("DeviceName", ""))->iot_id
                   : ""},
              {"SrcVersion", t["SrcVersion"]},
              {"DestVersion", t["DestVersion"]},
              {"TaskStatus", t["TaskStatus"]},
              {"TaskDesc", t["TaskDesc"]},
              {"Progress", t["Progress"]},
              {"UtcCreate", utc(t.value("UtcCreate", 0LL))},
              {"UtcModified", utc(t.value("UtcModified", 0LL))}});
        }
      })) {
    return;
  }
  paged(c, all, *page, *size, "Data", "SimpleOTATaskInfo");
}

void action_cancel(Call& c) {
  bool queued = bool_param(c, "CancelQueuedTask", false);
  bool notified = bool_param(c, "CancelNotifiedTask", false);
  bool running = bool_param(c, "CancelInProgressTask", false);
  if (!queued && !notified && !running) { // UNCONFIRMED: none given cancels every unfinished one
    queued = notified = running = true;
  }
  const long long now = now_ms();
  if (!with_job(c, [&](json& st, json& job) {
        for (auto& t : st["tasks"]) {
          const std::string s = t.value("TaskStatus", "");
          if (t.value("JobId", "") == job.value("JobId", "")
              && ((s == "QUEUED" && queued) || (s == "NOTIFIED" && notified)
                  || (s == "IN_PROGRESS" && running))) {
            t["TaskStatus"] = "CANCELED";
            t["UtcModified"] = now;
          }
        }
        job["Canceled"] = true;
        job["UtcModified"] = now;
      })) {
    return;
  }
  success(c);
}

} // namespace

bool ota_action_unguarded(const std::string& action, Call& c);

bool ota_action(const std::string& action, Call& c) {
  try {
    return ota_action_unguarded(action, c);
  } catch (const std::exception& e) {
    biz_error(c.res, c.rid, "iot.system.SystemException", e.what());
    return true;
  }
}

bool ota_action_unguarded(const std::string& action, Call& c) {
  if (action == "GenerateOTAUploadURL") {
    action_upload_url(c);
  } else if (action == "CreateOTAFirmware") {
    action_create_firmware(c);
  } else if (action == "QueryOTAFirmware") {
    action_query_firmware(c);
  } else if (action == "ListOTAFirmware") {
    action_list_firmware(c);
  } else if (action == "CreateOTAStaticUpgradeJob") {
    action_create_job(c, false);
  } else if (action == "CreateOTADynamicUpgradeJob") {
    action_create_job(c, true);
  } else if (action == "QueryOTAJob") {
    action_query_job(c);
  } else if (action == "ListOTATaskByJob") {
    action_list_tasks(c);
  } else if (action == "CancelOTATaskByJob") {
    action_cancel(c);
  } else {
    return false;
  }
  return true;
}

// POST /ota/upload (OSS PostObject) and GET /ota/files/NAME (with Range) on the HTTPS server.
void ota_routes(httplib::SSLServer& sv, const std::string& dir) {
  (void)::mkdir((dir + "/ota").c_str(), 0700);
  (void)::mkdir(ota::files_dir(dir).c_str(), 0700);
  sv.set_mount_point("/ota/files", ota::files_dir(dir));
  // An upload is read whole: bounded by the largest firmware file plus its form.
  sv.set_payload_max_length(ota::k_max_file + (1U << 20));
  sv.Post("/ota/upload", [dir](const httplib::Request& req, httplib::Response& res) {
    auto fail = [&res](int status, const std::string& code, const std::string& msg) {
      res.status = status;
      res.set_content("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code
                          + "</Code><Message>" + msg + "</Message></Error>",
                      "application/xml");
    };
    if (!req.is_multipart_form_data() || !req.has_file("key") || !req.has_file("file")) {
      fail(400, "InvalidArgument", "a PostObject form needs key and file");
      return;
    }
    const std::string key = req.get_file_value("key").content;
    const std::string sig =
        req.has_file("Signature")
            ? req.get_file_value("Signature").content
            : (req.has_file("signature") ? req.get_file_value("signature").content : "");
    const std::string body = req.get_file_value("file").content;
    if (body.size() > ota::k_max_file) {
      fail(400, "EntityTooLarge", "over 256 MiB");
      return;
    }
    bool issued = false;
    const long long now = now_ms();
    (void)ota::update_state(dir, [&](json& st) -> Result<void> {
      auto& up = st["uploads"];
      if (up.contains(key) && up[key].value("Expires", 0LL) >= now
          && crypto::equal_ct(up[key].value("Signature", ""), sig)) {
        issued = true;
        up.erase(key);
      }
      return ok();
    });
    if (!issued || !key.starts_with("ota/")) {
      fail(403, "AccessDenied",
           "the key, signature or policy is not one GenerateOTAUploadURL issued");
      return;
    }
    auto w = config::write_file_atomic(ota::files_dir(dir) + "/" + key.substr(4), body, 0600);
    if (!w) {
      fail(500, "InternalError", w.error().message());
      return;
    }
    const std::string status = req.has_file("success_action_status")
                                   ? req.get_file_value("success_action_status").content
                                   : "204";
    res.status = status == "200" ? 200 : status == "201" ? 201 : 204;
  });
}

} // namespace aliot::emu
