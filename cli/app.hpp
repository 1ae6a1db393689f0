#pragma once

#include "context.hpp"

#include <memory>

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli {

// The root command with global options and every command (THE list is in app.cpp).
std::unique_ptr<CLI::App> build_app(Context& ctx);

// The part of the tree this command line reaches: the root with only the named command (each
// command builds dozens of options), the root alone for `aliot --version`, the whole tree when
// no command or an unknown one is named (help and suggestions list every command) and for the
// commands that render the tree (completion, __gen-docs). Parsing either gives the same result.
std::unique_ptr<CLI::App> build_app_for(int argc, const char* const* argv, Context& ctx);

// Parses argv on the tree build_app_for() builds, runs the chosen command, and returns the
// process exit status.
int run(int argc, const char* const* argv, Context& ctx);

// The same on a given tree (`root` from build_app or build_app_for).
int run(CLI::App& root, int argc, const char* const* argv, Context& ctx);

} // namespace aliot::cli
