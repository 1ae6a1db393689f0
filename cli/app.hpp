#pragma once

#include "context.hpp"

#include <memory>

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli {

// The root command with global options and THE list of commands.
std::unique_ptr<CLI::App> build_app(Context& ctx);

// Parses argv, runs the chosen command, and returns the process exit status.
int run(int argc, const char* const* argv, Context& ctx);

} // namespace aliot::cli
