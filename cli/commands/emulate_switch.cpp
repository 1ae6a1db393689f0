// Placeholder until the command is implemented.
#include "commands/commands.hpp"

namespace aliot::cli {

void add_emulate_switch_command(CLI::App& /*parent*/, Context& /*ctx*/) {}

} // namespace aliot::cli
