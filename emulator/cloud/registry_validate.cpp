// The emulator registry's validators: names, topic categories, AccessKey ids and consumer groups
// as the platform accepts them, and the IotId a device gets (see aliot/emu/registry.hpp).
#include "rules.hpp"

#include <aliot/crypto.hpp>
#include <aliot/emu/registry.hpp>

#include <string>
#include <vector>

namespace aliot::emu {

Result<std::string> make_iot_id(const std::string& pk, const std::string& dn) {
  return crypto::sha256_hex(pk + "/" + dn).substr(0, 20) + "000100";
}

Result<std::string> validate_category(std::string_view topic, std::string_view access) {
  const std::string shown(topic);
  if (access != "pub" && access != "sub" && access != "all") {
    return Error(Errc::usage, "invalid access '" + std::string(access) + "': pub, sub or all");
  }
  const std::string rel = normalize_category(topic);
  if (rel.rfind("user/", 0) != 0 || rel.size() <= 5) {
    return Error(Errc::usage,
                 "invalid topic category '" + shown
                     + "': it must be user/NAME (relative to /${productKey}/${deviceName}/)");
  }
  std::vector<std::string> levels;
  std::size_t start = 0;
  while (true) {
    const auto slash = rel.find('/', start);
    levels.push_back(rel.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) {
      break;
    }
    start = slash + 1;
  }
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const auto& l = levels[i];
    if (l == "+" || (l == "#" && i + 1 == levels.size())) {
      if (access != "sub") {
        return Error(Errc::usage, "invalid topic category '" + shown
                                      + "': wildcards are allowed only with --access sub");
      }
      continue;
    }
    if (l.empty()
        || l.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789_")
               != std::string::npos) {
      return Error(Errc::usage, "invalid topic category '" + shown
                                    + "': levels may hold only letters, digits and '_'");
    }
  }
  return rel;
}

Result<void> validate_access_key_id(std::string_view id) {
  if (id.empty() || id.find_first_of(" \t\r\n/&") != std::string_view::npos) {
    return Error(Errc::usage,
                 "invalid AccessKey id '" + std::string(id) + "': no spaces, '/' or '&'");
  }
  return ok();
}

Result<void> validate_consumer_group(std::string_view id) {
  if (id.empty() || id.size() > 64 || id.find_first_of(" \t|,") != std::string_view::npos) {
    return Error(Errc::usage, "invalid consumer group id '" + std::string(id) + "'");
  }
  return ok();
}
} // namespace aliot::emu
