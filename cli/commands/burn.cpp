// `aliot burn`: put a triplet into the switch on a serial port, prove the unit holds it, and
// (with --lock) lock its credential store; one unit, or with --loop the station mode. The flows
// are lib's (factory::Station); burn_setup.cpp resolves the sources, burn_render.cpp shows.
#include "commands/burn_render.hpp"
#include "commands/burn_setup.hpp"
#include "commands/commands.hpp"
#include "context.hpp"

#include <aliot/factory/station.hpp>
#include <aliot/serial/burn.hpp>

#include <CLI/CLI.hpp>

namespace aliot::cli {

namespace {

Result<void> run_burn(Context& ctx, const BurnOptions& o) {
  serial::BurnPlan plan;
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
  ALIOT_TRY_ASSIGN(auto setup, burn_setup(ctx, o));
  auto& [journal, pool, source, at_point] = setup;
  factory::StationOptions so;
  so.port = o.port;
  so.baud = o.baud;
  so.dialect = o.dialect;
  so.plan = std::move(plan);
  so.job = {o.station, o.operator_id, o.port, o.dialect};
  so.stop = ctx.interrupted;
  so.at_point = at_point;
  factory::Station station(std::move(so), *journal, *source, ctx.out.logger());
  const BurnView view{o.port, o.dialect, std::string(source->kind())};
  if (!o.loop) {
    const auto u = station.burn_one();
    render_unit(ctx, view, u);
    return u.error ? Result<void>(*u.error) : ok();
  }
  const auto summary = station.run(
      [&](const factory::UnitOutcome& u) {
        render_loop_unit(ctx, view, u);
        if (u.error) {
          ctx.out.warn((u.identified ? u.device.mac + ": " : std::string()) + u.error->message());
        }
      },
      [&](std::string_view what) { ctx.out.info(what); });
  render_summary(ctx, summary);
  if (summary.interrupted_in_unit) {
    return Error(Errc::interrupted, "burn --loop: stopped in the middle of a unit (its job FAILed)",
                 "the unit keeps its triplet in the journal: put it back on the fixture");
  }
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
                ->type_name("FILE");
  ctx.docs.kind(t, ValueKind::file);
  auto* pl =
      cmd->add_option("--pool", opts->pool,
                      "Take each unit's triplet from this credential pool (an SQLite file, or "
                      "a postgresql:// URI shared by stations; see 'aliot pool')")
          ->type_name("DB|URI")
          ->excludes(t);
  ctx.docs.kind(pl, ValueKind::file);
  cmd->add_flag("--register", opts->register_at_station,
                "Register each unit at the station (one-type-one-secret, HTTPS); the issued "
                "secret is kept in --pool")
      ->excludes(t);
  cmd->add_option("-k,--product-key", opts->product_key,
                  "ProductKey of the units (--register; --pool with several products)")
      ->type_name("PK");
  auto* psf = cmd->add_option("--product-secret-file", opts->product_secret_file,
                              "--register: read the ProductSecret from FILE ('-' = stdin)")
                  ->type_name("FILE");
  ctx.docs.kind(psf, ValueKind::file);
  cmd->add_option("--name-template", opts->name_template,
                  "--register: the DeviceName of a unit; {mac} (MAC without colons), {chip} "
                  "(chip id); default SW-{mac}")
      ->type_name("T");
  cmd->add_flag("--lock", opts->lock,
                "Lock the unit's credential store after verifying (irreversible)");
  cmd->add_flag("--no-reboot", opts->no_reboot, "Skip the reboot and the verification after it");
  cmd->add_flag("--loop", opts->loop,
                "Station mode: burn unit after unit as they arrive on the port, until Ctrl-C");
  auto* crc = cmd->add_option("--crc", opts->crc, "Per-line CRC: require, prefer (default) or off")
                  ->type_name("MODE");
  ctx.docs.choices(crc, {"require", "prefer", "off"});
  auto* jr = cmd->add_option("--journal", opts->journal,
                             "The station's factory journal (SQLite; default "
                             "$XDG_STATE_HOME/aliot/factory.db)")
                 ->type_name("DB");
  ctx.docs.kind(jr, ValueKind::file);
  cmd->add_option("--station", opts->station, "Station id recorded in the journal")
      ->type_name("ID");
  cmd->add_option("--operator", opts->operator_id, "Operator id recorded in the journal")
      ->type_name("ID");
  ctx.docs.attach(
      cmd, {"Burns a triplet into the switch on the fixture over its serial port and proves the "
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
            "never burned into another unit. The journal holds no secrets. On start, jobs a crash "
            "left in flight are recovered: before their write intent they are aborted and their "
            "triplet goes back to the pool; after it the triplet stays the unit's.\n\n"
            "The triplet comes from --triplet, or per unit from --pool (the one the pool ties to "
            "the unit's MAC, else the next free one), or with --register from the platform: the "
            "unit's DeviceName is made by --name-template from its MAC or chip id, registered by "
            "one-type-one-secret (ProductSecret and endpoint as for 'aliot register'), and the "
            "issued secret is stored in the pool (default: pool.db next to the journal) before "
            "anything is sent; a unit that comes back gets that secret again, never a second "
            "registration.\n\n"
            "--loop is the station mode: it waits for a unit (the port appears and the unit "
            "answers AT), burns it, prints one line (PASS/FAIL, DeviceName, MAC, time; a JSON "
            "object under -o json), waits for it to leave (the port disappears, or the unit stops "
            "answering or answers with another MAC) and for the next, until Ctrl-C; then a "
            "summary (units, pass, fail, units per minute). Under -o json a failed unit is a JSON "
            "object on stdout too (ok false, exit_class, message).\n\n"
            "Exit status: 0 PASS (with --loop: stopped between units), 8 port, device or "
            "protocol failure, 9 the unit does not hold what was burned, 2 an invalid triplet, 3 "
            "an unreadable triplet file, 130 interrupted during a unit.",
            {{"aliot burn --port /dev/ttyUSB0 --triplet device.json",
              "Burn and verify one unit (alsw1 firmware)"},
             {"aliot burn --port /dev/ttyUSB0 --triplet device.json --lock -o json",
              "Burn, verify, lock; the result as one JSON line"},
             {"aliot burn --port /dev/ttyUSB0 --dialect smartliving --triplet device.json",
              "A module with Alibaba's smartliving AT firmware"},
             {"aliot burn --port /dev/ttyUSB0 --pool pool.db --loop",
              "The station: unit after unit from a pool imported with 'aliot pool import'"},
             {"aliot burn --port /dev/ttyUSB0 --register -k a1BcDeFgHiJ --loop -o json",
              "Register each unit at the station as SW-<MAC> and burn it"}},
            {"aliot-ports", "aliot-emulate"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_burn); });
}

} // namespace aliot::cli
