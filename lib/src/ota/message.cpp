// The OTA topics and messages of a device (ota.hpp): what it publishes, and the push and the
// firmware/get reply it receives (untrusted: bounded and checked before anything is used).
#include "thing/json_util.hpp"

#include <aliot/encoding.hpp>
#include <aliot/ota.hpp>
#include <aliot/topic.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace aliot::ota {

namespace {

using json = nlohmann::json;

std::string pk_dn(std::string_view pk, std::string_view dn) {
  return std::string(pk) + "/" + std::string(dn);
}

Error bad_push(const std::string& why) {
  return Error(Errc::remote, "the firmware push is malformed: " + why,
               "the platform (or whoever published on the upgrade topic) sent it: check the "
               "firmware and the job");
}

bool lower_hex(std::string& s) {
  for (auto& c : s) {
    if (enc::hex_digit(c) < 0) {
      return false;
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return true;
}

// A member that is a non-negative integer (number or decimal text).
std::optional<std::uint64_t> size_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) {
    return std::nullopt;
  }
  if (it->is_number_unsigned()) {
    return it->get<std::uint64_t>();
  }
  if (it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 12
        || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    return std::stoull(s);
  }
  return std::nullopt;
}

std::optional<std::string> string_of(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

// One file of a push: the single-file keys (size, url, sign, md5) or the multi-file ones
// (fileSize, fileUrl, fileSign, fileName); LinkSDK reads the plain keys for a list of one, so
// both are taken.
Result<File> file_of(const json& j, SignMethod method, bool listed, std::size_t index) {
  const std::string where = listed ? "files[" + std::to_string(index) + "]: " : std::string();
  File f;
  auto size = size_of(j, "fileSize");
  if (!size) {
    size = size_of(j, "size");
  }
  if (!size || *size == 0 || *size > k_max_firmware_bytes) {
    return bad_push(where + "no size of 1 byte to 1000 MB");
  }
  f.size = *size;
  auto url = string_of(j, "fileUrl");
  if (!url) {
    url = string_of(j, "url");
  }
  if (!url || url->size() > k_max_url
      || !(url->starts_with("https://") || url->starts_with("http://"))) {
    return bad_push(where + "no http(s) url (of at most 2048 bytes)");
  }
  for (char c : *url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad_push(where + "the url holds a space or a control character");
    }
  }
  f.url = *url;
  auto sign = string_of(j, "fileSign");
  if (!sign) {
    sign = string_of(j, "sign");
  }
  if (!sign && method == SignMethod::md5) {
    sign = string_of(j, listed ? "fileMd5" : "md5");
  }
  const std::size_t want = method == SignMethod::md5 ? 32 : 64;
  if (!sign || sign->size() != want || !lower_hex(*sign)) {
    return bad_push(where + "no sign of " + std::to_string(want) + " hex digits ("
                    + std::string(sign_method_name(method)) + ")");
  }
  f.sign = *sign;
  if (auto name = string_of(j, "fileName")) {
    if (name->empty() || name->size() > 255 || name->find('/') != std::string::npos || *name == "."
        || *name == ".." || name->find('\0') != std::string::npos) {
      return bad_push(where + "the fileName is not a plain file name");
    }
    f.name = *name;
  } else if (listed) {
    return bad_push(where + "no fileName");
  }
  return f;
}

Result<Upgrade> upgrade_of(const json& data) {
  if (!data.is_object()) {
    return bad_push("its data is not an object");
  }
  Upgrade u;
  auto version = string_of(data, "version");
  if (!version || version->empty() || version->size() > k_max_version) {
    return bad_push("no version (1 to 64 characters)");
  }
  u.version = *version;
  if (auto m = string_of(data, "module")) {
    if (m->size() > k_max_version) {
      return bad_push("the module is over 64 characters");
    }
    u.module = *m;
  }
  auto sm = string_of(data, "signMethod");
  if (!sm) {
    // Older pushes carried only md5.
    if (data.contains("md5")) {
      sm = "Md5";
    } else {
      return bad_push("no signMethod");
    }
  }
  auto method = parse_sign_method(*sm);
  if (!method) {
    return bad_push("signMethod '" + enc::printable(*sm) + "' is neither Md5 nor SHA256");
  }
  u.sign_method = *method;
  if (auto ext = data.find("extData"); ext != data.end() && !ext->is_null()) {
    u.ext_data = ext->dump();
  }
  if (auto d = data.find("isDiff"); d != data.end()) {
    u.diff = (d->is_number_integer() && d->get<long long>() == 1)
             || (d->is_string() && d->get<std::string>() == "1")
             || (d->is_boolean() && d->get<bool>());
  }
  if (auto files = data.find("files"); files != data.end()) {
    if (!files->is_array() || files->empty()) {
      return bad_push("files is not a list of files");
    }
    if (files->size() > k_max_files) {
      return bad_push("more than " + std::to_string(k_max_files) + " files");
    }
    std::size_t i = 0;
    for (const auto& f : *files) {
      if (!f.is_object()) {
        return bad_push("files[" + std::to_string(i) + "] is not an object");
      }
      ALIOT_TRY_ASSIGN(auto file, file_of(f, u.sign_method, true, i));
      for (const auto& other : u.files) {
        if (other.name == file.name) {
          return bad_push("the file name " + enc::printable(file.name) + " is there twice");
        }
      }
      u.files.push_back(std::move(file));
      ++i;
    }
  } else {
    ALIOT_TRY_ASSIGN(auto file, file_of(data, u.sign_method, false, 0));
    u.files.push_back(std::move(file));
  }
  return u;
}

Result<json> parse_object(std::string_view payload) {
  if (payload.size() > topic::k_max_payload) {
    return bad_push("over the platform's 256 KB");
  }
  if (!enc::is_valid_utf8(payload)) {
    return bad_push("not UTF-8 text");
  }
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return bad_push("not a JSON object: " + thing::json_util::excerpt(payload));
  }
  return j;
}

} // namespace

std::uint64_t Upgrade::total_size() const {
  std::uint64_t n = 0;
  for (const auto& f : files) {
    n += f.size;
  }
  return n;
}

std::string_view sign_method_name(SignMethod m) {
  return m == SignMethod::md5 ? "Md5" : "SHA256";
}

Result<SignMethod> parse_sign_method(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  if (t == "md5") {
    return SignMethod::md5;
  }
  if (t == "sha256") {
    return SignMethod::sha256;
  }
  return Error(Errc::remote, "unknown sign method '" + enc::printable(text) + "'");
}

std::string inform_topic(std::string_view pk, std::string_view dn) {
  return "/ota/device/inform/" + pk_dn(pk, dn);
}
std::string progress_topic(std::string_view pk, std::string_view dn) {
  return "/ota/device/progress/" + pk_dn(pk, dn);
}
std::string upgrade_topic(std::string_view pk, std::string_view dn) {
  return "/ota/device/upgrade/" + pk_dn(pk, dn);
}
std::string firmware_get_topic(std::string_view pk, std::string_view dn) {
  return "/sys/" + pk_dn(pk, dn) + "/thing/ota/firmware/get";
}
std::string firmware_get_reply_topic(std::string_view pk, std::string_view dn) {
  return firmware_get_topic(pk, dn) + "_reply";
}

Result<void> check_version(std::string_view version, std::string_view what) {
  if (version.empty() || version.size() > k_max_version) {
    return Error(Errc::usage, std::string(what) + " must be 1 to 64 characters");
  }
  for (char c : version) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      return Error(Errc::usage,
                   std::string(what) + " '" + enc::printable(version)
                       + "' holds a character other than letters, digits, '.', '-' and '_'",
                   "the platform's rule for firmware versions and module names");
    }
  }
  return ok();
}

std::string inform_payload(std::string_view id, std::string_view version, std::string_view module) {
  nlohmann::ordered_json j;
  j["id"] = std::string(id);
  j["params"]["version"] = std::string(version);
  if (!module.empty()) {
    j["params"]["module"] = std::string(module);
  }
  return j.dump();
}

Result<std::string>
progress_payload(std::string_view id, int step, std::string_view desc, std::string_view module) {
  if (!(step >= 1 && step <= 100) && !(step >= -4 && step <= -1)) {
    return Error(Errc::usage, "progress step " + std::to_string(step)
                                  + " is neither 1..100 nor a failure code -1..-4");
  }
  std::string d(desc.substr(0, 128));
  // Never cut inside a UTF-8 sequence.
  while (!d.empty() && !enc::is_valid_utf8(d)) {
    d.pop_back();
  }
  nlohmann::ordered_json j;
  j["id"] = std::string(id);
  j["params"]["step"] = std::to_string(step);
  j["params"]["desc"] = d;
  if (!module.empty()) {
    j["params"]["module"] = std::string(module);
  }
  return j.dump();
}

std::string firmware_get_payload(std::string_view id, std::string_view module) {
  nlohmann::ordered_json j;
  j["id"] = std::string(id);
  j["version"] = "1.0";
  j["params"] = nlohmann::ordered_json::object();
  if (!module.empty()) {
    j["params"]["module"] = std::string(module);
  }
  j["method"] = "thing.ota.firmware.get";
  return j.dump();
}

Result<Upgrade> parse_upgrade(std::string_view payload) {
  ALIOT_TRY_ASSIGN(auto j, parse_object(payload));
  auto data = j.find("data");
  if (data == j.end()) {
    return bad_push("no data");
  }
  ALIOT_TRY_ASSIGN(auto u, upgrade_of(*data));
  u.id = thing::json_util::text(j, "id");
  return u;
}

Result<std::optional<Upgrade>> parse_firmware_get_reply(std::string_view payload) {
  ALIOT_TRY_ASSIGN(auto j, parse_object(payload));
  const std::string code = thing::json_util::text(j, "code");
  if (code != "200") {
    return Error(Errc::remote, "firmware/get refused: code " + enc::printable(code) + ": "
                                   + enc::printable(thing::json_util::text(j, "message")));
  }
  auto data = j.find("data");
  if (data == j.end() || data->is_null() || (data->is_object() && data->empty())) {
    return std::optional<Upgrade>();
  }
  ALIOT_TRY_ASSIGN(auto u, upgrade_of(*data));
  u.id = thing::json_util::text(j, "id");
  return std::optional<Upgrade>(std::move(u));
}

} // namespace aliot::ota
