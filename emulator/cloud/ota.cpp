// The device side of OTA (ota.hpp). Every device payload is untrusted: parsed with a size bound,
// each field checked for its type and length; anything else is ignored (the platform answers
// nothing on inform and progress) and never reaches the state.
#include "ota.hpp"

#include "state.hpp"

#include <aliot/emu/tsl.hpp>

#include <cstdlib>

namespace aliot::emu {

namespace otax {

long long minute_ms() {
  static const long long v = [] {
    const char* s = std::getenv("ALIOT_EMU_OTA_MINUTE_MS");
    const long long n = s != nullptr ? std::atoll(s) : 0;
    return n > 0 && n <= 60000 ? n : 60000LL;
  }();
  return v;
}

const json* find_by(const json& list, const char* key, const std::string& id) {
  for (const auto& x : list) {
    if (x.value(key, "") == id) {
      return &x;
    }
  }
  return nullptr;
}

json* find_by(json& list, const char* key, const std::string& id) {
  for (auto& x : list) {
    if (x.value(key, "") == id) {
      return &x;
    }
  }
  return nullptr;
}

void apply_timeouts(json& st, long long now) {
  for (auto& t : st["tasks"]) {
    const long long minutes = t.value("TimeoutInMinutes", 0LL);
    const long long started = t.value("Started", 0LL);
    if (t.value("TaskStatus", "") == "IN_PROGRESS" && minutes > 0 && started > 0
        && now - started > minutes * minute_ms()) {
      t["TaskStatus"] = "TIMEOUT";
      t["TaskDesc"] = "the device did not finish within " + std::to_string(minutes) + " minutes";
      t["UtcModified"] = now;
    }
  }
}

std::string file_url(const std::string& file) {
  return "https://127.0.0.1:" + std::to_string(emu().https_port) + "/ota/files/" + file;
}

json notice_data(const json& fw) {
  const std::string method = fw.value("SignMethod", "MD5");
  json d{{"size", fw.value("FirmwareSize", 0LL)},
         {"version", fw.value("DestVersion", "")},
         {"url", file_url(fw.value("File", ""))},
         {"md5", fw.value("Md5", "")},
         {"sign", fw.value("FirmwareSign", "")},
         // LinkSDK 4 takes exactly "Md5", "SHA256" or "Sha256" (docs/protocol.md).
         {"signMethod", method == "SHA256" ? "SHA256" : "Md5"}};
  if (fw.value("Type", 0) == 1) {
    d["isDiff"] = 1;
  }
  const std::string module = fw.value("ModuleName", "");
  if (!module.empty()) {
    d["module"] = module;
  }
  const std::string udi = fw.value("Udi", "");
  if (!udi.empty()) {
    d["extData"] = json{{"_package_udi", udi}};
  }
  return d;
}

std::string notice(const json& fw) {
  return json{{"code", "1000"},
              {"data", notice_data(fw)},
              {"id", emu().next_message_id()},
              {"message", "success"}}
      .dump();
}

bool add_task(
    json& st, const json& job, const std::string& dn, const std::string& src, long long now) {
  auto& tasks = st["tasks"];
  if (tasks.size() >= ota::k_max_tasks) {
    return false;
  }
  const std::string pk = job.value("ProductKey", "");
  const std::string module = job.value("Module", "default");
  for (auto& t : tasks) {
    if (t.value("ProductKey", "") == pk && t.value("DeviceName", "") == dn
        && t.value("Module", "default") == module && unfinished(t.value("TaskStatus", ""))) {
      t["TaskStatus"] = "CANCELED";
      t["TaskDesc"] = "replaced by job " + job.value("JobId", "");
      t["UtcModified"] = now;
    }
  }
  tasks.push_back(json{{"TaskId", ota::new_id(st, "0300")},
                       {"JobId", job.value("JobId", "")},
                       {"FirmwareId", job.value("FirmwareId", "")},
                       {"ProductKey", pk},
                       {"DeviceName", dn},
                       {"Module", module},
                       {"SrcVersion", src},
                       {"DestVersion", job.value("DestVersion", "")},
                       {"TaskStatus", "QUEUED"},
                       {"TaskDesc", ""},
                       {"Progress", "0"},
                       {"TimeoutInMinutes", job.value("TimeoutInMinutes", 0LL)},
                       {"Started", 0},
                       {"UtcCreate", now},
                       {"UtcModified", now}});
  return true;
}

} // namespace otax

namespace {

using otax::json;

constexpr std::size_t k_max_payload = 64 * 1024;
constexpr std::size_t k_max_version = 64; // DestVersion's limit
constexpr std::size_t k_max_module = 64;
constexpr std::size_t k_max_desc = 1024;

// A short string field, or nullopt when absent, not a string, too long or empty.
std::optional<std::string> text_field(const nlohmann::json& o, const char* key, std::size_t max) {
  if (!o.is_object() || !o.contains(key) || !o[key].is_string()) {
    return std::nullopt;
  }
  auto s = o[key].get<std::string>();
  if (s.empty() || s.size() > max) {
    return std::nullopt;
  }
  return s;
}

// `step` as LinkSDK sends it ("-3", a string) or as a number; -1000..100.
std::optional<int> step_field(const nlohmann::json& o) {
  if (!o.is_object() || !o.contains("step")) {
    return std::nullopt;
  }
  const auto& v = o["step"];
  long long n = 0;
  if (v.is_number_integer()) {
    n = v.get<long long>();
  } else if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s.empty() || s.size() > 6) {
      return std::nullopt;
    }
    std::size_t i = s[0] == '-' ? 1 : 0;
    if (i == s.size()) {
      return std::nullopt;
    }
    for (std::size_t k = i; k < s.size(); ++k) {
      if (s[k] < '0' || s[k] > '9') {
        return std::nullopt;
      }
    }
    n = std::atoll(s.c_str());
  } else {
    return std::nullopt;
  }
  if (n < -1000 || n > 100) {
    return std::nullopt;
  }
  return static_cast<int>(n);
}

const char* step_meaning(int step) {
  switch (step) {
  case -1: return "upgrade failed";
  case -2: return "download failed";
  case -3: return "verification failed";
  case -4: return "flashing failed";
  default: return "failed";
  }
}

// The device's unfinished task for `module`, newest first.
json* active_task(json& st,
                  const std::string& pk,
                  const std::string& dn,
                  const std::string& module) {
  auto& tasks = st["tasks"];
  for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) {
    if (it->value("ProductKey", "") == pk && it->value("DeviceName", "") == dn
        && it->value("Module", "default") == module
        && otax::unfinished(it->value("TaskStatus", ""))) {
      return &*it;
    }
  }
  return nullptr;
}

// The notice for a task that has not started (QUEUED/NOTIFIED -> NOTIFIED); nullopt otherwise.
std::optional<std::string> notify(json& st, json& task, long long now) {
  const auto* fw = otax::find_by(st["firmware"], "FirmwareId", task.value("FirmwareId", ""));
  if (fw == nullptr) {
    return std::nullopt;
  }
  if (task.value("TaskStatus", "") == "QUEUED") {
    task["TaskStatus"] = "NOTIFIED";
    task["UtcModified"] = now;
  }
  return otax::notice(*fw);
}

void on_inform(json& st,
               const std::string& pk,
               const std::string& dn,
               const std::string& version,
               const std::string& module,
               long long now,
               std::vector<Outgoing>& out) {
  auto& versions = st["versions"];
  const std::string key = pk + "/" + dn;
  if (versions.contains(key) || versions.size() < ota::k_max_versions) {
    versions[key][module] = version;
  }
  if (auto* t = active_task(st, pk, dn, module)) {
    if (t->value("DestVersion", "") == version) {
      (*t)["TaskStatus"] = "SUCCEEDED";
      (*t)["Progress"] = "100";
      (*t)["UtcModified"] = now;
      return;
    }
    if ((*t)["TaskStatus"] != "IN_PROGRESS") {
      if (auto n = notify(st, *t, now)) {
        out.push_back({"/ota/device/upgrade/" + pk + "/" + dn, *n});
      }
    }
    return;
  }
  // Dynamic jobs take a device that reports a source version they upgrade (once per job).
  for (const auto& job : st["jobs"]) {
    if (job.value("SelectionType", "") != "DYNAMIC" || job.value("Canceled", false)
        || job.value("ProductKey", "") != pk || job.value("Module", "default") != module
        || job.value("DestVersion", "") == version) {
      continue;
    }
    const auto& srcs = job["SrcVersions"];
    if (!srcs.empty() && std::find(srcs.begin(), srcs.end(), version) == srcs.end()) {
      continue;
    }
    bool had = false;
    for (const auto& t : st["tasks"]) {
      had = had
            || (t.value("JobId", "") == job.value("JobId", "") && t.value("DeviceName", "") == dn);
    }
    if (had) {
      continue;
    }
    const json j = job;
    if (otax::add_task(st, j, dn, version, now)) {
      if (auto n = notify(st, st["tasks"].back(), now)) {
        out.push_back({"/ota/device/upgrade/" + pk + "/" + dn, *n});
      }
    }
    return;
  }
}

} // namespace

OtaOutcome ota_device_message(const std::string& dir,
                              const std::string& pk,
                              const std::string& dn,
                              const std::string& topic,
                              const std::string& payload,
                              long long now) {
  OtaOutcome r;
  const std::string tail = pk + "/" + dn;
  const bool inform = topic == "/ota/device/inform/" + tail;
  const bool progress = topic == "/ota/device/progress/" + tail;
  const bool get = topic == "/sys/" + tail + "/thing/ota/firmware/get";
  if (!inform && !progress && !get) {
    return r;
  }
  r.handled = true;
  auto j = tsl::parse_json(payload, k_max_payload);
  if (!j || !j->is_object()) {
    return r; // not JSON: the platform drops it (firmware/get gets no reply either)
  }
  const nlohmann::json params = j->contains("params") ? (*j)["params"] : nlohmann::json();
  const std::string module = text_field(params, "module", k_max_module).value_or("default");
  auto edit = [&](json& st) -> Result<void> {
    otax::apply_timeouts(st, now);
    if (inform) {
      if (auto v = text_field(params, "version", k_max_version)) {
        on_inform(st, pk, dn, *v, module, now, r.replies);
      }
    } else if (progress) {
      auto step = step_field(params);
      auto* t = step ? active_task(st, pk, dn, module) : nullptr;
      if (t != nullptr) {
        const std::string desc = text_field(params, "desc", k_max_desc).value_or("");
        if (*step < 0) {
          (*t)["TaskStatus"] = "FAILED";
          (*t)["Progress"] = std::to_string(*step);
          (*t)["TaskDesc"] = "step " + std::to_string(*step) + " (" + step_meaning(*step) + ")"
                             + (desc.empty() ? "" : ": " + desc);
        } else {
          (*t)["TaskStatus"] = "IN_PROGRESS";
          (*t)["Progress"] = std::to_string(*step);
          (*t)["TaskDesc"] = desc;
          if ((*t).value("Started", 0LL) == 0) {
            (*t)["Started"] = now;
          }
        }
        (*t)["UtcModified"] = now;
      }
    } else {
      json data = json::object();
      if (auto* t = active_task(st, pk, dn, module)) {
        const auto* fw = otax::find_by(st["firmware"], "FirmwareId", t->value("FirmwareId", ""));
        if (fw != nullptr) {
          data = otax::notice_data(*fw);
          if ((*t)["TaskStatus"] == "QUEUED") {
            (*t)["TaskStatus"] = "NOTIFIED";
            (*t)["UtcModified"] = now;
          }
        }
      }
      json id = j->contains("id") && ((*j)["id"].is_string() || (*j)["id"].is_number_integer())
                    ? json((*j)["id"])
                    : json("");
      if (id.is_string() && id.get<std::string>().size() > 64) {
        id = "";
      }
      r.replies.push_back({topic + "_reply", json{{"code", 200},
                                                  {"data", data},
                                                  {"id", id},
                                                  {"message", "success"},
                                                  {"method", "thing.ota.firmware.get"},
                                                  {"version", "1.0"}}
                                                 .dump()});
    }
    return ok();
  };
  Result<void> edited = ok();
  try {
    edited = ota::update_state(dir, edit);
  } catch (const std::exception& e) { // never let a device's message take the broker down
    edited = Error{Errc::internal, e.what()};
    r.replies.clear();
  }
  if (!edited) {
    std::fprintf(stderr, "aliot: emulator: OTA state: %s\n", edited.error().message().c_str());
  }
  return r;
}

} // namespace aliot::emu
