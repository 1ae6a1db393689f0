// `aliot emulate`: local emulators of the platform (`cloud`) and of the switch (`switch`).
#include "commands/commands.hpp"
#include "context.hpp"

#include <CLI/CLI.hpp>

namespace aliot::cli {

void add_emulate_command(CLI::App& parent, Context& ctx) {
  auto* cmd =
      parent.add_subcommand("emulate", "Run a local emulator of the platform or of the switch");
  cmd->require_subcommand(1);
  ctx.docs.attach(cmd, {"Local emulators, so everything aliot does can be tried and tested with no "
                        "cloud account and no hardware: 'emulate cloud' runs the platform on the "
                        "mosquitto broker, 'emulate switch' a switch on a pseudo-terminal.",
                        {{"aliot emulate cloud --dir ./emu-state", "Start a local platform"},
                         {"aliot emulate switch --link /tmp/dut0", "Start a simulated switch"}},
                        {}});
  add_emulate_cloud_command(*cmd, ctx);
  add_emulate_switch_command(*cmd, ctx);
}

} // namespace aliot::cli
