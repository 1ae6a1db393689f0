// The OpenAPI actions of OTA (product Iot, 2018-01-20): GenerateOTAUploadURL and the OSS
// PostObject form, CreateOTAFirmware, CreateOTAStaticUpgradeJob, QueryOTAJob, ListOTATaskByJob,
// CancelOTATaskByJob. Parameters and the decoding of their success bodies.
#include "thing/json_util.hpp"

#include <aliot/crypto.hpp>
#include <aliot/encoding.hpp>
#include <aliot/ota.hpp>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>

namespace aliot::ota::cloud {

namespace {

using json = nlohmann::json;
using thing::json_util::text;

Result<json> data_of(std::string_view body, std::string_view action) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, "OpenAPI " + std::string(action) + ": the reply is not JSON");
  }
  auto d = j.find("Data");
  if (d == j.end() || !d->is_object()) {
    return Error(Errc::remote, "OpenAPI " + std::string(action) + ": the reply has no Data");
  }
  return *d;
}

int int_of(const json& j, const char* key) {
  const std::string t = text(j, key);
  if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos) {
    return 0;
  }
  return std::stoi(t);
}

} // namespace

openapi::Params upload_url_params(std::string_view file_suffix) {
  openapi::Params p;
  if (!file_suffix.empty()) {
    p.emplace_back("FileSuffix", std::string(file_suffix));
  }
  return p;
}

Result<UploadUrl> parse_upload_url(std::string_view body) {
  ALIOT_TRY_ASSIGN(auto d, data_of(body, "GenerateOTAUploadURL"));
  UploadUrl u;
  u.host = text(d, "Host");
  u.key = text(d, "Key");
  u.policy = text(d, "Policy");
  u.oss_access_key_id = text(d, "OSSAccessKeyId");
  u.signature = text(d, "Signature");
  u.firmware_url = text(d, "FirmwareUrl");
  u.object_storage = text(d, "ObjectStorage");
  if (u.host.empty() || u.key.empty() || u.firmware_url.empty()) {
    return Error(Errc::remote, "OpenAPI GenerateOTAUploadURL: the reply lacks Host, Key or "
                               "FirmwareUrl");
  }
  return u;
}

Result<Form>
post_object_form(const UploadUrl& u, std::string_view file_name, std::string_view content) {
  ALIOT_TRY_ASSIGN(auto boundary, crypto::random_hex(16));
  boundary = "----aliot" + boundary;
  std::string b;
  auto field = [&](const char* name, const std::string& value) {
    b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n"
         + value + "\r\n";
  };
  // OSS PostObject: the fields before the file, which comes last.
  field("key", u.key);
  field("OSSAccessKeyId", u.oss_access_key_id);
  field("policy", u.policy);
  field("Signature", u.signature);
  field("success_action_status", "200");
  std::string name(file_name);
  for (auto& c : name) {
    if (c == '"' || c == '\r' || c == '\n' || c == '\\') {
      c = '_';
    }
  }
  b += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name
       + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
  b.append(content);
  b += "\r\n--" + boundary + "--\r\n";
  return Form{"multipart/form-data; boundary=" + boundary, std::move(b)};
}

openapi::Params create_firmware_params(const Firmware& f) {
  openapi::Params p;
  p.emplace_back("ProductKey", f.product_key);
  p.emplace_back("DestVersion", f.version);
  p.emplace_back("FirmwareName", f.name);
  p.emplace_back("FirmwareUrl", f.url);
  // The OpenAPI spells the methods MD5 and SHA256.
  p.emplace_back("SignMethod", f.sign_method == SignMethod::md5 ? "MD5" : "SHA256");
  p.emplace_back("FirmwareSign", f.sign);
  p.emplace_back("FirmwareSize", std::to_string(f.size));
  p.emplace_back("Type", "0"); // the whole firmware, not a difference
  p.emplace_back("NeedToVerify", "false");
  if (!f.module.empty()) {
    p.emplace_back("ModuleName", f.module);
  }
  return p;
}

namespace {

// The id a create action's reply names in its Data: an empty or missing one is a malformed reply.
Result<std::string> created_id(std::string_view body, const char* action, const char* field) {
  ALIOT_TRY_ASSIGN(auto d, data_of(body, action));
  std::string id = text(d, field);
  if (id.empty()) {
    return Error(Errc::remote, std::string("OpenAPI ") + action + ": the reply has no " + field);
  }
  return id;
}

} // namespace

Result<std::string> parse_firmware_id(std::string_view body) {
  return created_id(body, "CreateOTAFirmware", "FirmwareId");
}

Result<std::string> read_firmware(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    return Error(Errc::io, "cannot read " + path + ": " + ec.message());
  }
  if (size == 0 || size > k_max_firmware_bytes) {
    return Error(Errc::usage,
                 path + " is " + std::to_string(size) + " bytes: a firmware is 1 byte to 1000 MB");
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return Error(Errc::io, "cannot read " + path);
  }
  return bytes;
}

Result<std::string> digest(std::string_view bytes, SignMethod method) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  std::size_t len = 0;
  if (EVP_Q_digest(nullptr, method == SignMethod::md5 ? "MD5" : "SHA256", nullptr, bytes.data(),
                   bytes.size(), out.data(), &len)
      != 1) {
    return Error(Errc::config,
                 std::string("OpenSSL refuses ") + std::string(sign_method_name(method)),
                 "a FIPS-only OpenSSL refuses MD5: use --sign-method sha256");
  }
  return enc::hex_lower(std::string_view(reinterpret_cast<const char*>(out.data()), len));
}

Result<std::string> upload(openapi::Client& api,
                           const http::ClientOptions& http,
                           Firmware& f,
                           std::string_view file_name,
                           std::string_view content,
                           const Logger& logger) {
  if (content.empty() || content.size() > k_max_firmware_bytes) {
    return Error(Errc::usage, "a firmware file is 1 byte to 1000 MB (the platform's limit)");
  }
  ALIOT_TRY_ASSIGN(f.sign, digest(content, f.sign_method));
  f.size = content.size();
  std::string suffix = "bin";
  ALIOT_TRY_ASSIGN(auto body, api.call("GenerateOTAUploadURL", upload_url_params(suffix)));
  ALIOT_TRY_ASSIGN(auto u, parse_upload_url(body));
  ALIOT_TRY_ASSIGN(auto form, post_object_form(u, file_name, content));
  http::ClientOptions o = http;
  o.max_body_bytes = 64 * 1024;
  http::Client client(o, logger);
  http::Request req;
  req.method = "POST";
  req.url = u.host;
  req.headers.emplace_back("Content-Type", form.content_type);
  req.body = std::move(form.body);
  ALIOT_TRY_ASSIGN(auto resp, client.send(req));
  if (resp.status < 200 || resp.status > 299) {
    return Error(Errc::remote, "uploading the firmware to " + http::url_host(u.host) + ": HTTP "
                                   + std::to_string(resp.status) + " "
                                   + thing::json_util::excerpt(resp.body));
  }
  f.url = u.firmware_url;
  ALIOT_TRY_ASSIGN(auto created, api.call("CreateOTAFirmware", create_firmware_params(f)));
  return parse_firmware_id(created);
}

Result<std::vector<FirmwareRef>> parse_firmware_list(std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, "OpenAPI ListOTAFirmware: the reply is not JSON");
  }
  const json* holder = &j;
  if (!j.contains("FirmwareInfo") && j.contains("Data") && j["Data"].is_object()) {
    holder = &j["Data"];
  }
  std::vector<FirmwareRef> out;
  auto info = holder->find("FirmwareInfo");
  if (info == holder->end() || !info->is_object()) {
    return out;
  }
  auto list = info->find("SimpleFirmwareInfo");
  if (list == info->end()) {
    return out;
  }
  std::vector<json> items;
  if (list->is_array()) {
    items.assign(list->begin(), list->end());
  } else if (list->is_object()) {
    items.push_back(*list);
  }
  for (const auto& e : items) {
    if (e.is_object()) {
      out.push_back({text(e, "FirmwareId"), text(e, "ProductKey"), text(e, "DestVersion"),
                     text(e, "ModuleName")});
    }
  }
  return out;
}

Result<std::string> find_firmware(openapi::Client& api,
                                  std::string_view product_key,
                                  std::string_view version,
                                  std::string_view module) {
  std::vector<std::string> ids;
  for (int page = 1; page <= 50; ++page) {
    openapi::Params p{{"CurrentPage", std::to_string(page)},
                      {"PageSize", "200"},
                      {"DestVersion", std::string(version)}};
    ALIOT_TRY_ASSIGN(auto body, api.call("ListOTAFirmware", p));
    ALIOT_TRY_ASSIGN(auto list, parse_firmware_list(body));
    for (const auto& f : list) {
      const bool default_module = f.module.empty() || f.module == "default";
      if (f.product_key == product_key && f.version == version
          && (module.empty() ? default_module : f.module == module)) {
        ids.push_back(f.id);
      }
    }
    if (list.size() < 200) {
      break;
    }
  }
  const std::string what = "firmware " + std::string(version)
                           + (module.empty() ? "" : " of module " + std::string(module))
                           + " of product " + std::string(product_key);
  if (ids.empty()) {
    return Error(Errc::usage, "no " + what, "upload it first: aliot cloud ota upload");
  }
  if (ids.size() > 1) {
    return Error(Errc::usage, std::to_string(ids.size()) + " of " + what,
                 "give the one to push with --firmware-id");
  }
  return ids.front();
}

Result<openapi::Params> static_job_params(const Job& j) {
  if (j.device_names.empty() == j.src_versions.empty()) {
    return Error(Errc::usage, "an upgrade job targets devices or source versions (one of them)");
  }
  if (j.device_names.size() > 100) {
    return Error(Errc::usage, "at most 100 devices per job (the platform's limit)",
                 "use --from-version, or several jobs");
  }
  openapi::Params p;
  p.emplace_back("ProductKey", j.product_key);
  p.emplace_back("FirmwareId", j.firmware_id);
  if (!j.device_names.empty()) {
    p.emplace_back("TargetSelection", "SPECIFIC");
    for (std::size_t i = 0; i < j.device_names.size(); ++i) {
      p.emplace_back("TargetDeviceName." + std::to_string(i + 1), j.device_names[i]);
    }
  } else {
    p.emplace_back("TargetSelection", "ALL");
    for (std::size_t i = 0; i < j.src_versions.size(); ++i) {
      p.emplace_back("SrcVersion." + std::to_string(i + 1), j.src_versions[i]);
    }
  }
  if (j.timeout_minutes > 0) {
    p.emplace_back("TimeoutInMinutes", std::to_string(j.timeout_minutes));
  }
  return p;
}

Result<std::string> parse_job_id(std::string_view body) {
  return created_id(body, "CreateOTAStaticUpgradeJob", "JobId");
}

openapi::Params query_job_params(std::string_view job_id) {
  return {{"JobId", std::string(job_id)}};
}

Result<JobInfo> parse_job(std::string_view body) {
  ALIOT_TRY_ASSIGN(auto d, data_of(body, "QueryOTAJob"));
  JobInfo j;
  j.job_id = text(d, "JobId");
  j.status = text(d, "JobStatus");
  j.firmware_id = text(d, "FirmwareId");
  j.dest_version = text(d, "DestVersion");
  return j;
}

openapi::Params list_tasks_params(std::string_view job_id, int page, int page_size) {
  return {{"JobId", std::string(job_id)},
          {"CurrentPage", std::to_string(page)},
          {"PageSize", std::to_string(page_size)}};
}

Result<TaskPage> parse_tasks(std::string_view body) {
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::remote, "OpenAPI ListOTATaskByJob: the reply is not JSON");
  }
  TaskPage page;
  page.total = int_of(j, "Total");
  page.page_count = int_of(j, "PageCount");
  page.current_page = int_of(j, "CurrentPage");
  // Data.SimpleOTATaskInfo: a list, or one object (a list of one through an XML gateway).
  std::vector<json> items;
  if (auto d = j.find("Data"); d != j.end() && d->is_object()) {
    if (auto l = d->find("SimpleOTATaskInfo"); l != d->end()) {
      if (l->is_array()) {
        for (const auto& e : *l) {
          items.push_back(e);
        }
      } else if (l->is_object()) {
        items.push_back(*l);
      }
    }
  }
  for (const auto& e : items) {
    if (!e.is_object()) {
      continue;
    }
    Task t;
    t.task_id = text(e, "TaskId");
    t.device_name = text(e, "DeviceName");
    t.product_key = text(e, "ProductKey");
    t.status = text(e, "TaskStatus");
    t.progress = text(e, "Progress");
    t.src_version = text(e, "SrcVersion");
    t.dest_version = text(e, "DestVersion");
    t.desc = text(e, "TaskDesc");
    page.tasks.push_back(std::move(t));
  }
  return page;
}

openapi::Params cancel_tasks_params(std::string_view job_id) {
  return {{"JobId", std::string(job_id)},
          {"CancelQueuedTask", "true"},
          {"CancelNotifiedTask", "true"},
          {"CancelInProgressTask", "true"}};
}

bool final_status(std::string_view s) {
  return s == "SUCCEEDED" || s == "FAILED" || s == "CANCELED" || s == "TIMEOUT";
}

Result<std::vector<Task>> list_all_tasks(openapi::Client& api, std::string_view job_id) {
  std::vector<Task> out;
  for (int page = 1; page <= 1000; ++page) {
    ALIOT_TRY_ASSIGN(auto body, api.call("ListOTATaskByJob", list_tasks_params(job_id, page, 100)));
    ALIOT_TRY_ASSIGN(auto p, parse_tasks(body));
    out.insert(out.end(), p.tasks.begin(), p.tasks.end());
    if (p.tasks.empty() || page >= p.page_count) {
      break;
    }
  }
  return out;
}

Summary summarize(std::string_view job_id, const std::vector<Task>& tasks) {
  Summary s;
  s.finished = !tasks.empty();
  std::map<std::string, int> counts;
  std::string first; // the first task that did not succeed
  for (const auto& t : tasks) {
    s.finished = s.finished && final_status(t.status);
    ++counts[t.status];
    if (final_status(t.status) && t.status != "SUCCEEDED" && first.empty()) {
      first = enc::printable(t.device_name) + " " + t.status
              + (t.desc.empty() ? "" : " (" + enc::printable(t.desc) + ")");
    }
  }
  for (const auto& [status, n] : counts) {
    s.counts += (s.counts.empty() ? "" : ", ") + std::to_string(n) + " " + enc::printable(status);
  }
  if (!s.finished) {
    return s;
  }
  const std::string what = "job " + std::string(job_id) + ": " + s.counts + "; first: " + first;
  if (counts["FAILED"] + counts["CANCELED"] > 0) {
    s.outcome = Error(Errc::remote, what);
  } else if (counts["TIMEOUT"] > 0) {
    s.outcome = Error(Errc::timeout, what);
  }
  return s;
}

} // namespace aliot::ota::cloud
