// The batch add of `aliot emulate cloud add-device --names` (see aliot/emu/device_batch.hpp).
#include <aliot/config.hpp>
#include <aliot/crypto.hpp>
#include <aliot/dynreg_batch.hpp>
#include <aliot/emu/device_batch.hpp>
#include <aliot/identity.hpp>

#include <map>
#include <string_view>

namespace aliot::emu {

namespace {

constexpr const char* k_nothing = "nothing was added; fix the file and run the command again";

// Whether `line` holds `name` as a whole cell (a comment line holds nothing).
bool holds(std::string_view line, std::string_view name) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos || line[first] == '#') {
    return false;
  }
  auto edge = [](char c) {
    return c == ',' || c == '"' || c == ' ' || c == '\t' || c == '\r';
  };
  for (auto at = line.find(name); at != std::string_view::npos; at = line.find(name, at + 1)) {
    const auto end = at + name.size();
    if ((at == 0 || edge(line[at - 1])) && (end == line.size() || edge(line[end]))) {
      return true;
    }
  }
  return false;
}

// The line of `text` each name came from: names come back from parse_names in file order, each
// from a line of its own; 0 if not found.
std::vector<std::size_t> lines_of(std::string_view text, const std::vector<std::string>& names) {
  std::vector<std::size_t> out;
  std::size_t line_no = 1;
  std::size_t pos = 0;
  for (const auto& n : names) {
    std::size_t found = 0;
    for (std::size_t p = pos, no = line_no; p < text.size(); ++no) {
      const auto eol = text.find('\n', p);
      const auto end = eol == std::string_view::npos ? text.size() : eol;
      if (holds(text.substr(p, end - p), n)) {
        found = no;
        pos = end + 1;
        line_no = no + 1;
        break;
      }
      p = end + 1;
    }
    out.push_back(found);
  }
  return out;
}

std::string where(const DeviceBatch& b, std::size_t i) {
  return b.origin + (b.lines[i] > 0 ? " line " + std::to_string(b.lines[i]) : std::string()) + ": ";
}

} // namespace

Result<DeviceBatch> read_device_batch(const std::string& path) {
  DeviceBatch b;
  b.origin = "--names " + path;
  ALIOT_TRY_ASSIGN(auto text, config::read_bounded(path, std::size_t{64} << 20U,
                                                   "reading " + b.origin, Errc::io));
  ALIOT_TRY_ASSIGN(const auto names, dynreg::parse_names(text, b.origin));
  if (names.empty()) {
    return Error(Errc::usage, b.origin + " names no device",
                 "one DeviceName a line, or CSV with a DeviceName column");
  }
  b.lines = lines_of(text, names);
  std::map<std::string_view, std::size_t> seen;
  b.devices.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (auto v = validate_device_name(names[i]); !v) {
      return Error(Errc::usage, where(b, i) + v.error().message(), k_nothing);
    }
    if (auto [it, fresh] = seen.emplace(names[i], i); !fresh) {
      const std::size_t first = b.lines[it->second];
      return Error(Errc::usage,
                   where(b, i) + "DeviceName " + names[i] + " repeats"
                       + (first > 0 ? " line " + std::to_string(first) : std::string()),
                   k_nothing);
    }
    ALIOT_TRY_ASSIGN(auto secret, crypto::random_alnum(32));
    b.devices.push_back({names[i], std::move(secret)});
  }
  return b;
}

Result<void>
add_device_batch(Registry& reg, const std::string& pk, const DeviceBatch& batch, bool enabled) {
  ALIOT_TRY_ASSIGN(auto taken, reg.create_devices(pk, batch.devices, enabled));
  if (taken) {
    const std::size_t i = *taken;
    return Error(Errc::usage,
                 where(batch, i) + "device " + pk + "/" + batch.devices[i].dn
                     + " is already in the emulator registry",
                 k_nothing);
  }
  return ok();
}

} // namespace aliot::emu
