// Rendering of `aliot burn`: a unit's result as fields, as one JSON object, as one line of the
// station loop, and the loop's summary. No flow here: the outcomes come from lib's Station.
#include "commands/burn_render.hpp"

#include <aliot/encoding.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace aliot::cli {

namespace {

double tenths(double ms) {
  return std::round(ms * 10) / 10;
}

nlohmann::ordered_json unit_json(const BurnView& v, const factory::UnitOutcome& u) {
  nlohmann::ordered_json j;
  j["result"] = u.pass ? "PASS" : "FAIL";
  j["ok"] = u.pass;
  j["port"] = v.port;
  j["dialect"] = v.dialect;
  j["source"] = v.source;
  j["job"] = u.job;
  if (u.identified) {
    j["mac"] = u.device.mac;
    j["chip_id"] = u.device.chip_id;
    j["model"] = u.device.model;
    j["hwrev"] = u.device.hwrev;
    j["firmware"] = u.device.firmware;
    j["sn"] = u.device.sn;
  }
  if (u.chosen) {
    j["product_key"] = u.product_key;
    j["device_name"] = u.device_name;
  }
  if (!u.fingerprint.empty()) {
    j["fingerprint"] = u.fingerprint;
  }
  if (u.pass) {
    j["verify_level"] = u.verify_level;
    j["locked"] = u.locked;
    j["resumed"] = u.resumed;
    auto& steps = j["steps_ms"];
    steps = nlohmann::ordered_json::object();
    for (const auto& s : u.steps) {
      steps[s.step] = tenths(s.ms);
    }
    j["total_ms"] = tenths(u.total_ms);
  } else if (u.error) {
    j["intent_written"] = u.intent_written;
    j["exit_class"] = std::string(errc_name(u.error->code()));
    j["exit_status"] = exit_status(u.error->code());
    j["message"] = u.error->message();
  }
  return j;
}

} // namespace

void render_unit(const Context& ctx, const BurnView& v, const factory::UnitOutcome& u) {
  if (ctx.out.json()) {
    ctx.out.line(unit_json(v, u).dump());
    return;
  }
  if (!u.pass) {
    return; // the error line says it all (stderr)
  }
  std::string steps;
  for (const auto& s : u.steps) {
    steps += fmt::format("{}{} {:.0f} ms", steps.empty() ? "" : ", ", s.step, s.ms);
  }
  // What the unit and the pool reported, shown so that it cannot act on the terminal.
  const auto p = [](const std::string& s) {
    return enc::printable(s);
  };
  ctx.out.fields({{"result", "PASS"},
                  {"mac", p(u.device.mac)},
                  {"chip_id", p(u.device.chip_id)},
                  {"firmware", p(u.device.model + " " + u.device.hwrev + " " + u.device.firmware)},
                  {"device_name", p(u.device_name + " (" + u.product_key + ")")},
                  {"fingerprint", u.fingerprint},
                  {"verify_level", std::to_string(u.verify_level) + (u.locked ? ", locked" : "")
                                       + (u.resumed ? ", resumed" : "")},
                  {"steps", steps},
                  {"total", fmt::format("{:.0f} ms", u.total_ms)}});
}

void render_loop_unit(const Context& ctx, const BurnView& v, const factory::UnitOutcome& u) {
  if (ctx.out.json()) {
    ctx.out.line(unit_json(v, u).dump());
    return;
  }
  const std::string dn = u.chosen ? enc::printable(u.device_name) : "-";
  const std::string mac = u.identified ? enc::printable(u.device.mac) : "-";
  if (u.pass) {
    ctx.out.line(fmt::format("PASS  {}  {}  {:.0f} ms  level {}{}{}", dn, mac, u.total_ms,
                             u.verify_level, u.locked ? ", locked" : "",
                             u.resumed ? ", resumed" : ""));
  } else {
    ctx.out.line(fmt::format("FAIL  {}  {}  {}: {}", dn, mac,
                             u.error ? errc_name(u.error->code()) : "error",
                             u.error ? u.error->message() : std::string()));
  }
}

void render_summary(const Context& ctx, const factory::StationSummary& s) {
  const double per_min = s.seconds > 0 ? s.units * 60.0 / s.seconds : 0.0;
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["summary"] = {{"units", s.units},
                    {"pass", s.pass},
                    {"fail", s.fail},
                    {"seconds", tenths(s.seconds * 1000) / 1000},
                    {"units_per_min", tenths(per_min)},
                    {"interrupted_in_unit", s.interrupted_in_unit}};
    ctx.out.line(j.dump());
  }
  ctx.out.note(fmt::format("station stopped: {} units, {} pass, {} fail in {:.1f} s ({:.1f}/min)",
                           s.units, s.pass, s.fail, s.seconds, per_min));
}

} // namespace aliot::cli
