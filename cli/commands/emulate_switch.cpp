// `aliot emulate switch`: a simulated switch (alsw1 or smartliving firmware) on a pseudo-terminal.
#include "commands/commands.hpp"
#include "context.hpp"

#include <aliot/config.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <switch_sim.hpp>

namespace aliot::cli {

namespace {

struct SwitchOptions {
  std::string link;
  std::string dialect = "alsw1";
  std::optional<std::string> state;
  std::optional<std::string> faults;
  std::uint64_t seed = 0;
  bool wire_time = false;
  unsigned baud = 115200;
  int boot_ms = 100;
  int commit_ms = 40;
  int cmd_ms = 2;
  std::optional<std::string> units;
  std::optional<std::string> state_dir;
  int replug_ms = 300;
};

Result<void> run_emulate_switch(Context& ctx, const SwitchOptions& o) {
  switchsim::PtyOptions po;
  po.link = o.link;
  po.persona = o.dialect;
  po.state_file = o.state;
  po.faults_file = o.faults;
  po.seed = o.seed;
  po.wire_time = o.wire_time;
  po.baud = o.baud;
  po.timing.boot_us = static_cast<switchsim::Micros>(o.boot_ms) * 1000;
  po.timing.commit_us = static_cast<switchsim::Micros>(o.commit_ms) * 1000;
  po.timing.cmd_us = static_cast<switchsim::Micros>(o.cmd_ms) * 1000;
  po.replug_us = static_cast<switchsim::Micros>(o.replug_ms) * 1000;
  if (o.units) {
    ALIOT_TRY_ASSIGN(auto text, config::read_text_file(*o.units, "units file"));
    auto units = switchsim::parse_units(text);
    if (!units) {
      return Error(Errc::usage, "--units " + *o.units + ": " + units.error().message());
    }
    po.units = std::move(*units);
    po.state_dir = o.state_dir;
  }
  po.on_unit = [&](std::size_t i, bool arrived, const switchsim::Identity& id) {
    const std::string n = std::to_string(i + 1) + "/" + std::to_string(po.units.size());
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["event"] = arrived ? "arrived" : "left";
      j["unit"] = i + 1;
      j["mac"] = id.mac;
      ctx.out.line(j.dump());
    } else {
      ctx.out.line("unit " + n + (arrived ? " arrived: MAC " : " left: MAC ") + id.mac);
    }
    if (!arrived && i + 1 == po.units.size()) {
      ctx.out.line(ctx.out.json() ? R"({"event":"done"})" : "units done");
    }
  };
  switchsim::PtyStats stats;
  auto ready = [&](const std::string& slave, const switchsim::Identity& id) {
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["event"] = "ready";
      j["link"] = o.link;
      j["pty"] = slave;
      j["dialect"] = o.dialect;
      j["mac"] = id.mac;
      ctx.out.line(j.dump());
    } else {
      ctx.out.line("switch ready: " + o.link + " -> " + slave + " (" + o.dialect + ", MAC " + id.mac
                   + ")");
    }
  };
  auto log = [&](int level, const std::string& s) {
    if (level <= 2) {
      ctx.out.info(s);
    } else {
      ctx.out.debug(s);
    }
  };
  auto r = switchsim::run_pty(po, ctx.interrupted, ready, log, &stats);
  ctx.out.info(fmt::format("switch stopped: {} bytes in, {} bytes out, device delays {:.1f} ms",
                           stats.bytes_in, stats.bytes_out,
                           static_cast<double>(stats.device_delay_us) / 1000.0));
  return r;
}

} // namespace

void add_emulate_switch_command(CLI::App& emulate, Context& ctx) {
  auto opts = std::make_shared<SwitchOptions>();
  auto* cmd = emulate.add_subcommand("switch", "Run a simulated switch on a pseudo-terminal");
  auto* link = cmd->add_option("--link", opts->link, "Create the pty and a symlink to it at PATH")
                   ->required()
                   ->type_name("PATH");
  ctx.docs.kind(link, ValueKind::file);
  auto* d =
      cmd->add_option("--dialect", opts->dialect, "Firmware to simulate: alsw1 or smartliving")
          ->type_name("NAME");
  ctx.docs.choices(d, {"alsw1", "smartliving"});
  auto* st = cmd->add_option(
                    "--state", opts->state,
                    "Keep the unit's identity and flash (A/B slots, lock) in FILE across restarts")
                 ->type_name("FILE");
  ctx.docs.kind(st, ValueKind::file);
  auto* f = cmd->add_option("--faults", opts->faults,
                            "Inject the faults of a seeded fault plan (JSON; its format: man "
                            "aliot-emulate-switch)")
                ->type_name("PLAN");
  ctx.docs.kind(f, ValueKind::file);
  cmd->add_option("--seed", opts->seed,
                  "Identity seed (0: the unit of the spec's reference session)")
      ->type_name("N");
  cmd->add_flag("--wire-time", opts->wire_time, "Take as long as the bytes would take at --baud");
  cmd->add_option("--baud", opts->baud, "Baud rate for --wire-time (default 115200)")
      ->type_name("N")
      ->check(CLI::Range(300U, 4000000U));
  cmd->add_option("--boot-ms", opts->boot_ms, "Time from reset to 'ready' (default 100)")
      ->type_name("MS")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--commit-ms", opts->commit_ms, "Time a flash commit takes (default 40)")
      ->type_name("MS")
      ->check(CLI::Range(0, 10000));
  cmd->add_option("--cmd-ms", opts->cmd_ms, "Time any other command takes (default 2)")
      ->type_name("MS")
      ->check(CLI::Range(0, 10000));
  auto* u = cmd->add_option("--units", opts->units,
                            "A fixture fed unit after unit: one "
                            "{\"seed\":N[,\"mac\":MAC][,\"faults\":PLAN]} a line")
                ->type_name("FILE");
  ctx.docs.kind(u, ValueKind::file);
  auto* sd = cmd->add_option("--state-dir", opts->state_dir,
                             "With --units: keep each unit's flash in DIR/<MAC>.json")
                 ->type_name("DIR")
                 ->needs(u)
                 ->excludes(st);
  ctx.docs.kind(sd, ValueKind::directory);
  cmd->add_option("--replug-ms", opts->replug_ms,
                  "Time the link is away when a unit is unplugged or swapped (default 300)")
      ->type_name("MS")
      ->check(CLI::Range(0, 60000));
  ctx.docs.attach(
      cmd,
      {"Simulates the switch on the fixture: a pseudo-terminal that speaks the alsw1 line "
       "protocol (or Alibaba's smartliving module firmware), with a flash store of two "
       "slots and a lock flag. Any program can open the link like a serial port; "
       "'aliot burn --port PATH' burns a triplet into it.\n\n"
       "Prints one ready line on stdout once the link exists, then runs until SIGINT or "
       "SIGTERM and removes the link. One switch per link: while one runs (it holds "
       "PATH.lock), a second on the same PATH refuses (exit 2) and leaves the link alone; "
       "a switch that crashed holds nothing. With --state the unit's identity and flash survive "
       "restarts (the file holds the simulated secrets: it is written 0600). A fault plan "
       "makes the unit drop, delay, garble or refuse answers, fail or tear a flash commit, "
       "or be unplugged, deterministically from its seed.\n\n"
       "With --units the link is a fixture fed one unit after another: a unit stays until "
       "the program on the port closes it after talking to it (or it is unplugged by its "
       "fault plan); then the link disappears for --replug-ms and the next unit arrives. A "
       "seed listed twice is the same unit coming back. Each arrival and departure is a line "
       "on stdout, and \"units done\" after the last.\n\n"
       "The fault plan (--faults FILE, or \"faults\" in a --units line) is one JSON object: "
       "{\"seed\": N, \"rules\": [{\"match\": {...}, \"action\": {...}}, ...]}. \"seed\" (default "
       "0) seeds the plan's random choices (probabilities, garbled bits and bytes, reboot "
       "noise): the same plan and seed misbehave the same way every run. Each command is "
       "matched by its key: what follows AT+, upper-case, with its ? / = / =? suffix and "
       "without arguments (\"IDMAU=\", \"IDMAU?\", \"IDMCHK=\", \"IDMCOMMIT\", \"IDMLOCK=\", "
       "\"DEVINFO?\", \"PROTO?\", \"CRC=\", \"RST\"; \"E0\" for ATE0, \"\" for a bare AT). "
       "\"match\": \"cmd\" a regular expression (ECMAScript) over the whole key (default .*: "
       "every command; escape ? as \\\\?), \"nth\" fire on the Nth matching command only "
       "(default 0: every one), \"p\" the probability it fires (default 1). For each command "
       "the first rule that fires applies; a rule counts every command it matches.\n\n"
       "Actions (one or more in a rule's \"action\"): \"drop\":true no answer at all; "
       "\"delay_ms\":N answer N ms late; \"byte_delay_us\":N each answer byte N us apart; "
       "\"garble\":{\"bits\":N,\"insert\":M} flip N bits and insert M stray bytes in the "
       "answer; \"truncate_after\":N cut the answer after N bytes; \"bad_crc\":true a wrong "
       "CRC on the answer's lines; \"echo\":true echo the command first; \"urc\":\"TEXT\" an "
       "unsolicited line before the answer; \"busy\":N answer +CME ERROR:804 (busy) N times; "
       "\"error\":N answer +CME ERROR:N; \"flash_fail\":true a commit fails (+CME ERROR:23); "
       "\"tear_commit\":true power lost half way through the commit (a torn slot, then a "
       "reboot); \"corrupt_commit\":{\"field\":\"ds\",\"bit\":N} the commit writes bit N of "
       "pk/dn/ds/ps flipped (with a valid slot CRC) and answers the intended fingerprint; "
       "\"unplug\":{\"after_bytes\":N} the unit is unplugged after N bytes of the command "
       "arrived (the link disappears); \"reboot\":{\"garbage_bytes\":N} a spontaneous reset "
       "with N bytes of boot noise (on RST: the noise of its reboot). An unknown action is "
       "refused (exit 2).\n\n"
       "Example: {\"seed\": 7, \"rules\": [{\"match\": {\"cmd\": \"DEVINFO\\\\?\", "
       "\"nth\": 1}, \"action\": {\"drop\": true}}, {\"match\": {\"cmd\": \"IDMCOMMIT\", "
       "\"p\": 0.5}, \"action\": {\"flash_fail\": true}}]} drops the first identity query "
       "and fails half the commits, the same half for seed 7.",
       {{"aliot emulate switch --link /tmp/dut0", "A simulated alsw1 switch at /tmp/dut0"},
        {"aliot emulate switch --link /tmp/dut0 --state unit.json --faults plan.json --seed 7",
         "A unit that keeps its flash in unit.json and misbehaves as plan.json says"},
        {"aliot emulate switch --link /tmp/dut0 --dialect smartliving --wire-time",
         "A smartliving module that takes the wire time of 115200 baud"}},
       {"aliot-burn"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_emulate_switch); });
}

} // namespace aliot::cli
