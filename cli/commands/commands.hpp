// One declaration per top-level command; each lives in cli/commands/<name>.cpp and is listed
// once in build_app() (cli/app.cpp).
#pragma once

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli {

struct Context;

void add_sign_command(CLI::App& parent, Context& ctx);
void add_config_command(CLI::App& parent, Context& ctx);

} // namespace aliot::cli
