// `aliot burn`: put a triplet into the switch on a serial port, prove the unit holds it, and
// (with --lock) lock its credential store. One unit per run.
#include "commands/commands.hpp"
#include "context.hpp"

#include <aliot/config.hpp>
#include <aliot/factory.hpp>
#include <aliot/identity.hpp>
#include <aliot/serial/burn.hpp>
#include <aliot/serial/transport.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <iterator>

namespace aliot::cli {

namespace {

struct BurnOptions {
  std::string port;
  unsigned baud = 115200;
  std::string dialect = "alsw1";
  std::string triplet;
  bool lock = false;
  bool no_reboot = false;
  std::string crc = "prefer";
  std::string journal = "aliot-factory.db";
  std::string station;
  std::string operator_id;
};

// The console's JSON; a malformed file is Errc::config, an invalid value Errc::usage.
Result<serial::Credentials> read_triplet(const std::string& path) {
  auto read = config::read_text_file(path, "triplet file");
  if (!read) {
    return std::move(read).error();
  }
  std::string text = std::move(*read);
  const std::string where = "triplet file " + path;
  auto t = read_triplet_json(text, where);
  std::fill(text.begin(), text.end(), '\0');
  if (!t) {
    return std::move(t).error();
  }
  if (t->device_secret.empty()) {
    return Error(Errc::config, where + ": field \"DeviceSecret\" is missing");
  }
  serial::Credentials c{t->product_key, t->device_name, std::move(t->device_secret),
                        std::move(t->product_secret)};
  if (auto v = serial::validate_credentials(c); !v) {
    return Error(Errc::usage, where + ": " + v.error().message());
  }
  return c;
}

Result<void> burn_one(Context& ctx,
                      const BurnOptions& o,
                      const serial::BurnPlan& plan,
                      factory::Journal& journal,
                      const std::string& job);

Result<void> run_burn(Context& ctx, const BurnOptions& o) {
  ALIOT_TRY(ctx.check_secret_file(o.triplet, "triplet file " + o.triplet));
  auto cred = read_triplet(o.triplet);
  if (!cred) {
    return std::move(cred).error();
  }
  serial::BurnPlan plan;
  plan.credentials = std::move(*cred);
  plan.lock = o.lock;
  plan.reboot = !o.no_reboot;
  plan.crc = o.crc == "require" ? serial::CrcMode::require
             : o.crc == "off"   ? serial::CrcMode::off
                                : serial::CrcMode::prefer;
  if (o.dialect == "smartliving") {
    if (o.lock) {
      return Error(Errc::usage, "--lock: the smartliving dialect has no lock");
    }
    if (plan.crc == serial::CrcMode::require) {
      return Error(Errc::usage, "--crc require: the smartliving dialect has no CRC lines");
    }
  }
  auto journal = factory::Journal::open(o.journal);
  if (!journal) {
    return std::move(journal).error();
  }
  auto job = (*journal)->start_job({o.station, o.operator_id, o.port, o.dialect});
  if (!job) {
    return std::move(job).error();
  }
  auto result = burn_one(ctx, o, plan, **journal, *job);
  if (!result) {
    const auto& e = result.error();
    if (auto f = (*journal)->finish(*job, false, 0, std::string(errc_name(e.code())), e.message());
        !f) {
      ctx.out.warn(f.error().message());
    }
  }
  return result;
}

Result<void> burn_one(Context& ctx,
                      const BurnOptions& o,
                      const serial::BurnPlan& plan,
                      factory::Journal& journal,
                      const std::string& job) {
  auto port = serial::open_port(o.port, serial::PortOptions{o.baud, ctx.interrupted});
  if (!port) {
    return std::move(port).error();
  }
  const Logger log = ctx.out.logger();
  serial::AtChannel ch(**port, log);
  auto dialect = serial::make_dialect(o.dialect, ch);
  if (!dialect) {
    return std::move(dialect).error();
  }
  serial::BurnHooks hooks;
  hooks.write_intent = [&](const serial::DeviceInfo& d, const std::string& fp) {
    return journal.write_intent(job, {d.mac, d.chip_id, d.firmware, d.sn},
                                plan.credentials.product_key, plan.credentials.device_name, fp);
  };
  auto rep = serial::burn(**dialect, plan, hooks, log);
  if (!rep) {
    if (ctx.is_interrupted()) {
      return Error(Errc::interrupted, "burn interrupted: " + rep.error().message());
    }
    return std::move(rep).error();
  }
  const auto& r = *rep;
  ALIOT_TRY(journal.finish(job, true, r.verify_level, {}, {}));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["result"] = "PASS";
    j["port"] = o.port;
    j["dialect"] = o.dialect;
    j["mac"] = r.device.mac;
    j["chip_id"] = r.device.chip_id;
    j["model"] = r.device.model;
    j["hwrev"] = r.device.hwrev;
    j["firmware"] = r.device.firmware;
    j["sn"] = r.device.sn;
    j["product_key"] = r.product_key;
    j["device_name"] = r.device_name;
    j["fingerprint"] = r.fingerprint;
    j["verify_level"] = r.verify_level;
    j["locked"] = r.locked;
    j["resumed"] = r.resumed;
    auto& steps = j["steps_ms"];
    steps = nlohmann::ordered_json::object();
    for (const auto& s : r.steps) {
      steps[s.step] = std::round(s.ms * 10) / 10;
    }
    j["total_ms"] = std::round(r.total_ms * 10) / 10;
    ctx.out.line(j.dump());
    return ok();
  }
  std::string steps;
  for (const auto& s : r.steps) {
    steps += fmt::format("{}{} {:.0f} ms", steps.empty() ? "" : ", ", s.step, s.ms);
  }
  ctx.out.fields({{"result", "PASS"},
                  {"mac", r.device.mac},
                  {"chip_id", r.device.chip_id},
                  {"firmware", r.device.model + " " + r.device.hwrev + " " + r.device.firmware},
                  {"device_name", r.device_name + " (" + r.product_key + ")"},
                  {"fingerprint", r.fingerprint},
                  {"verify_level", std::to_string(r.verify_level) + (r.locked ? ", locked" : "")
                                       + (r.resumed ? ", resumed" : "")},
                  {"steps", steps},
                  {"total", fmt::format("{:.0f} ms", r.total_ms)}});
  return ok();
}

} // namespace

void add_burn_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<BurnOptions>();
  auto* cmd = parent.add_subcommand(
      "burn", "Burn a triplet into the switch on a serial port and verify it");
  auto* port = cmd->add_option("--port", opts->port,
                               "Serial port of the unit (/dev/ttyUSB0, /dev/serial/by-path/...)")
                   ->required()
                   ->type_name("DEV");
  ctx.docs.kind(port, ValueKind::serial_port);
  cmd->add_option("--baud", opts->baud, "Baud rate (default 115200)")
      ->type_name("N")
      ->check(CLI::Range(300U, 4000000U));
  auto* d = cmd->add_option("--dialect", opts->dialect,
                            "The unit's firmware: alsw1 (default) or smartliving")
                ->type_name("NAME");
  ctx.docs.choices(d, {"alsw1", "smartliving"});
  auto* t = cmd->add_option("--triplet", opts->triplet,
                            "The triplet to burn: the console's device JSON ('-' = stdin)")
                ->required()
                ->type_name("FILE");
  ctx.docs.kind(t, ValueKind::file);
  cmd->add_flag("--lock", opts->lock,
                "Lock the unit's credential store after verifying (irreversible)");
  cmd->add_flag("--no-reboot", opts->no_reboot, "Skip the reboot and the verification after it");
  auto* crc = cmd->add_option("--crc", opts->crc, "Per-line CRC: require, prefer (default) or off")
                  ->type_name("MODE");
  ctx.docs.choices(crc, {"require", "prefer", "off"});
  auto* jr = cmd->add_option("--journal", opts->journal,
                             "The station's factory journal (SQLite; default ./aliot-factory.db)")
                 ->type_name("DB");
  ctx.docs.kind(jr, ValueKind::file);
  cmd->add_option("--station", opts->station, "Station id recorded in the journal")
      ->type_name("ID");
  cmd->add_option("--operator", opts->operator_id, "Operator id recorded in the journal")
      ->type_name("ID");
  ctx.docs.attach(
      cmd, {"Burns one triplet into the switch on the fixture over its serial port and proves the "
            "unit holds it: sync, identify (MAC, chip id, firmware), inspect the credential store, "
            "stage, read back the fingerprint, answer an HMAC challenge over a fresh nonce, commit "
            "to flash, reboot, verify again, and with --lock lock the store.\n\n"
            "The secret is never printed or traced (-vvv shows <redacted>); with the smartliving "
            "dialect, whose readback is plaintext, the comparison happens in memory only. A unit "
            "that already holds this triplet is verified and passes again (a re-run); a unit "
            "holding other credentials is refused.\n\n"
            "Every unit is a job in the station's journal (--journal): the binding of the triplet "
            "to the unit's MAC is written durably before the first byte of the secret is sent, so "
            "a unit that comes back gets the same triplet and a triplet that left the host is "
            "never burned into another unit. The journal holds no secrets.\n\n"
            "Exit status: 0 PASS, 8 port, device or protocol failure, 9 the unit does not hold "
            "what was burned, 2 an invalid triplet, 3 an unreadable triplet file.",
            {{"aliot burn --port /dev/ttyUSB0 --triplet device.json",
              "Burn and verify one unit (alsw1 firmware)"},
             {"aliot burn --port /dev/ttyUSB0 --triplet device.json --lock -o json",
              "Burn, verify, lock; the result as one JSON line"},
             {"aliot burn --port /dev/ttyUSB0 --dialect smartliving --triplet device.json",
              "A module with Alibaba's smartliving AT firmware"}},
            {"aliot-ports", "aliot-emulate"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_burn); });
}

} // namespace aliot::cli
