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

std::string screen_pool(const BurnOptions& o, const BurnSetup& s) {
  return o.pool.value_or(s.pool ? s.pool->path() : std::string());
}

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
  auto& journal = setup.journal;
  auto& source = setup.source;
  factory::StationOptions so;
  so.port = o.port;
  so.baud = o.baud;
  so.dialect = o.dialect;
  so.plan = std::move(plan);
  so.job = {o.station, o.operator_id, o.port, o.dialect};
  so.stop = ctx.interrupted;
  so.at_point = setup.at_point;
  so.low_water = o.low_water;
  const BurnView view{o.port, o.dialect, std::string(source->kind())};
  if (!o.loop) {
    factory::Station station(std::move(so), *journal, *source, ctx.out.logger());
    const auto u = station.burn_one();
    render_unit(ctx, view, u);
    return u.error ? Result<void>(*u.error) : ok();
  }
  LoopScreen screen(ctx, view, screen_pool(o, setup), setup.product_key, o.low_water);
  factory::Station station(std::move(so), *journal, *source, screen.logger());
  factory::StationEvents ev;
  ev.unit = [&](const factory::UnitOutcome& u) {
    screen.unit(u);
  };
  ev.wait = [&](std::string_view what) {
    screen.wait(what);
  };
  ev.stage = [&](std::string_view point) {
    screen.stage(point);
  };
  ev.left = [&](long long n) {
    screen.left(n);
  };
  ev.low_water = [&](long long n) {
    screen.low_water(n);
  };
  const auto summary = station.run(ev);
  screen.end(summary);
  if (summary.interrupted_in_unit) {
    return Error(Errc::interrupted, "burn --loop: stopped in the middle of a unit (its job FAILed)",
                 "the unit keeps its triplet in the journal: put it back on the fixture");
  }
  if (summary.pool_empty) {
    // A unit would only FAIL: the line stops here rather than cycle units through the station.
    return Error(Errc::config,
                 "the pool " + screen_pool(o, setup) + " has no free triplet of "
                     + setup.product_key + " left: the station stopped before taking another unit",
                 "import more triplets (aliot pool import --pool " + screen_pool(o, setup)
                     + " --csv FILE) and start the station again");
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
  cmd->add_option("--low-water", opts->low_water,
                  "--loop --pool: warn once when N or fewer free triplets are left (default 20; "
                  "0: never)")
      ->type_name("N")
      ->check(CLI::Range(0LL, 1000000000LL));
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
            "summary (units, pass, fail, units per minute, triplets left). Each unit is one line, "
            "once: PASS, or FAIL with its cause (a hint follows on stderr, once until the cause "
            "changes). Under -o json a unit is a JSON object on stdout (a failed one: ok false, "
            "exit_class, message). On a terminal a status line on stderr shows what the station "
            "does (waiting for a unit, burning and the stage, done), the units done and failed "
            "and the triplets left, PASS in green and FAIL in red (no colour with NO_COLOR or "
            "--no-color); piped, only the lines.\n\n"
            "With --pool the loop watches the pool: when N or fewer free triplets of the product "
            "are left (--low-water N, default 20) it warns once on stderr (under -o json also "
            "{\"event\":\"low_water\",\"left\":N,...} on stdout), again only after the pool "
            "was refilled above N. When none is left it stops before waiting for another unit "
            "(a unit would only fail): {\"event\":\"pool_empty\",...} under -o json, the "
            "summary, and \"the pool ... has no free triplet of PK left\", exit 3.\n\n"
            "--register needs the platform ready for it: the product -k with dynamic "
            "registration switched on, and every unit's DeviceName (what --name-template makes) "
            "already added to the product (pre-registration): registration over HTTPS hands out "
            "the DeviceSecret of a device that exists. A name the product does not hold FAILs "
            "the unit (exit 7) with a hint saying so. Registration without pre-registration "
            "yields a ClientId and token, not a secret a unit can hold: import a pool instead.\n\n"
            "Exit status: 0 PASS (with --loop: stopped between units), 8 port, device or "
            "protocol failure, 9 the unit does not hold what was burned, 2 an invalid triplet, 3 "
            "an unreadable triplet file, or with --loop the pool has no free triplet left, 7 the "
            "platform refused a registration, 130 interrupted during a unit.",
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
