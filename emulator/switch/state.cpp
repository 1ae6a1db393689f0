// The simulator's persistent state (JSON, 0600, written atomically) and the fault plan format.
#include "switch_sim.hpp"

#include <aliot/config.hpp>

#include <nlohmann/json.hpp>

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace aliot::switchsim {

using nlohmann::json;

std::string state_to_json(const NvState& nv) {
  json j;
  j["identity"] = {{"model", nv.id.model}, {"hwrev", nv.id.hwrev},   {"fwver", nv.id.fwver},
                   {"mac", nv.id.mac},     {"chipid", nv.id.chipid}, {"sn", nv.id.sn}};
  j["locked"] = nv.locked;
  j["slots"] = json::array();
  for (const auto& s : nv.slots) {
    if (!s.written) {
      j["slots"].push_back(nullptr);
      continue;
    }
    j["slots"].push_back(
        {{"seq", s.seq}, {"pk", s.pk}, {"dn", s.dn}, {"ds", s.ds}, {"ps", s.ps}, {"crc32", s.crc}});
  }
  return j.dump(2) + "\n";
}

Result<NvState> state_from_json(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::config, "switch state: not a JSON object");
  }
  try {
    NvState nv;
    const auto& id = j.at("identity");
    nv.id.model = id.at("model").get<std::string>();
    nv.id.hwrev = id.at("hwrev").get<std::string>();
    nv.id.fwver = id.at("fwver").get<std::string>();
    nv.id.mac = id.at("mac").get<std::string>();
    nv.id.chipid = id.at("chipid").get<std::string>();
    nv.id.sn = id.at("sn").get<std::string>();
    nv.locked = j.value("locked", false);
    const auto& slots = j.at("slots");
    for (std::size_t i = 0; i < 2 && i < slots.size(); ++i) {
      if (slots[i].is_null()) {
        continue;
      }
      Slot& s = nv.slots[i];
      s.written = true;
      s.seq = slots[i].at("seq").get<std::uint64_t>();
      s.pk = slots[i].at("pk").get<std::string>();
      s.dn = slots[i].at("dn").get<std::string>();
      s.ds = slots[i].at("ds").get<std::string>();
      s.ps = slots[i].at("ps").get<std::string>();
      s.crc = slots[i].at("crc32").get<std::uint32_t>();
    }
    return nv;
  } catch (const std::exception& e) {
    return Error(Errc::config, std::string("switch state: ") + e.what());
  }
}

Result<NvState> load_state(const std::string& path) {
  ALIOT_TRY_ASSIGN(auto text, config::read_text_file(path, "switch state file"));
  auto nv = state_from_json(text);
  if (!nv) {
    return Error(Errc::config, path + ": " + nv.error().message());
  }
  return nv;
}

Result<void> save_state(const std::string& path, const NvState& nv) {
  return config::write_file_atomic(path, state_to_json(nv), 0600);
}

Result<FaultPlan> parse_fault_plan(std::string_view text) {
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(Errc::usage, "fault plan: not a JSON object");
  }
  FaultPlan plan;
  try {
    plan.seed = j.value("seed", std::uint64_t{0});
    for (const auto& r : j.value("rules", json::array())) {
      FaultRule rule;
      const auto& m = r.at("match");
      rule.cmd = m.value("cmd", std::string(".*"));
      try {
        rule.re = std::regex(rule.cmd);
      } catch (const std::regex_error&) {
        return Error(Errc::usage, "fault plan: bad command regex '" + rule.cmd + "'");
      }
      rule.nth = m.value("nth", 0);
      rule.p = m.value("p", 1.0);
      const auto& a = r.at("action");
      auto& fa = rule.action;
      bool any = false;
      for (const auto& [k, v] : a.items()) {
        any = true;
        if (k == "drop") {
          fa.drop = v.get<bool>();
        } else if (k == "delay_ms") {
          fa.delay_us = v.get<Micros>() * 1000;
        } else if (k == "byte_delay_us") {
          fa.byte_delay_us = v.get<Micros>();
        } else if (k == "garble") {
          fa.garble_bits = v.value("bits", 0);
          fa.garble_insert = v.value("insert", 0);
        } else if (k == "truncate_after") {
          fa.truncate_after = v.get<std::size_t>();
        } else if (k == "bad_crc") {
          fa.bad_crc = v.get<bool>();
        } else if (k == "echo") {
          fa.echo = v.get<bool>();
        } else if (k == "urc") {
          fa.urc = v.is_string() ? v.get<std::string>() : v.at("text").get<std::string>();
        } else if (k == "busy") {
          fa.busy = v.is_number() ? v.get<int>() : v.value("count", 1);
        } else if (k == "error") {
          fa.error = v.is_number() ? v.get<int>() : v.at("code").get<int>();
        } else if (k == "flash_fail") {
          fa.flash_fail = v.get<bool>();
        } else if (k == "tear_commit") {
          fa.tear_commit = v.get<bool>();
        } else if (k == "corrupt_commit") {
          fa.corrupt_commit =
              std::make_pair(v.value("field", std::string("ds")), v.value("bit", 0));
        } else if (k == "unplug") {
          fa.unplug_after = v.value("after_bytes", std::size_t{0});
        } else if (k == "reboot") {
          fa.reboot_garbage = v.value("garbage_bytes", 0);
        } else {
          return Error(Errc::usage, "fault plan: unknown action '" + k + "'");
        }
      }
      if (!any) {
        return Error(Errc::usage, "fault plan: a rule without an action");
      }
      plan.rules.push_back(std::move(rule));
    }
  } catch (const std::exception& e) {
    return Error(Errc::usage, std::string("fault plan: ") + e.what());
  }
  return plan;
}

Result<std::vector<UnitSpec>> parse_units(std::string_view text) {
  std::vector<UnitSpec> units;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    const auto line = text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    try {
      const auto j = json::parse(line);
      UnitSpec u;
      u.seed = j.at("seed").get<std::uint64_t>();
      if (j.contains("faults")) {
        u.faults_file = j.at("faults").get<std::string>();
      }
      if (j.contains("mac")) {
        const auto mac = j.at("mac").get<std::string>();
        bool ok = mac.size() == 17;
        for (std::size_t i = 0; ok && i < mac.size(); ++i) {
          ok = i % 3 == 2 ? mac[i] == ':' : std::isxdigit(static_cast<unsigned char>(mac[i])) != 0;
        }
        if (!ok) {
          throw std::runtime_error("\"mac\": \"" + mac + "\" is not six octets XX:XX:XX:XX:XX:XX");
        }
        u.mac = mac;
      }
      units.push_back(std::move(u));
    } catch (const std::exception& e) {
      return Error(Errc::usage, "units line " + std::to_string(line_no) + ": " + e.what());
    }
  }
  if (units.empty()) {
    return Error(Errc::usage, "units: no unit (one {\"seed\":N} a line)");
  }
  return units;
}

} // namespace aliot::switchsim
