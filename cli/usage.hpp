// Command-line mistakes in the one error form (spec/cli.md "Errors"): what the parser could not
// take, found and worded the same way every other error is, exit 2.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli {

// What the command line names at the top level, read as unknown_command() reads it (the root's
// options and their values skipped): the first command word, and whether --version came before
// it. `stopped` when `--` came first (the parser then still looks words up as commands).
struct TopLevelWords {
  std::optional<std::string> command;
  bool version = false;
  bool stopped = false;
};
TopLevelWords top_level_words(const CLI::App& root, int argc, const char* const* argv);

// Whether argv asks for JSON output (-o json, -ojson, --output json, --output=json; the last
// wins): read from argv itself, for errors found before or while the globals are parsed.
bool json_requested(int argc, const char* const* argv);

// The first word of argv that should name a command under the one before it and names none:
// "unknown command 'emulate clod'" with the nearest names as a hint ("did you mean 'emulate
// cloud'?"). Walks the command tree as the parser will (options and their values skipped), so
// it covers every command, present and future.
std::optional<Error> unknown_command(const CLI::App& root, int argc, const char* const* argv);

// `-h`/`--help` among other arguments (spec/cli.md "Global conventions"): `-h` alone is help,
// but mosquitto's users type `-h HOST`, and help printed instead of the publish they asked for
// would exit 0 having done nothing. Walks argv as the parser will (an option's value is not an
// argument of its own, so `-m -h` is a payload); command words and the global options (-o,
// -v, --quiet, --no-color...: how to print, not what to do) do not count as other arguments.
std::optional<Error> help_among_arguments(const CLI::App& root, int argc, const char* const* argv);

// `aliot help [CMD [SUB...]]` (as gh, git and az have it) rewritten as `aliot [CMD [SUB...]]
// --help`: the first command word `help` removed and --help put where the command words end.
// Returns nullopt when the command line does not start with the word `help`. The word asked for
// help, so other arguments beside it are ignored as CLI11 ignores them beside --help.
std::optional<std::vector<std::string>>
help_command_words(const CLI::App& root, int argc, const char* const* argv);

// A parser message as an Error: "<command>: <what>" (the command named below the top level)
// with a hint to its --help.
Error parse_error(const std::string& cmd, std::string msg);

} // namespace aliot::cli
