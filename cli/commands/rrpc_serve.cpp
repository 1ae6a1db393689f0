// Placeholder until the command is implemented.
#include "commands/commands.hpp"

namespace aliot::cli {

void add_rrpc_serve_command(CLI::App& /*parent*/, Context& /*ctx*/) {}

} // namespace aliot::cli
