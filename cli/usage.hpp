// Command-line mistakes in the one error form (spec/cli.md "Errors"): what the parser could not
// take, found and worded the same way every other error is, exit 2.
#pragma once

#include <aliot/error.hpp>

#include <optional>
#include <string>

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

// A parser message as an Error: "<command>: <what>" (the command named below the top level)
// with a hint to its --help.
Error parse_error(const std::string& cmd, std::string msg);

} // namespace aliot::cli
