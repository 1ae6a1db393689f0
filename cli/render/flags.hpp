// The output flags every command that prints messages shares (--pretty, --raw, -F FORMAT,
// --verbose-topic) and the Renderer they choose with -o, the terminal and NO_COLOR.
#pragma once

#include "context.hpp"
#include "render/message.hpp"

#include <optional>
#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli::render {

struct Flags {
  bool pretty = false;
  bool raw = false;
  std::optional<std::string> format;
  bool verbose_topic = false;
};

// --pretty and --raw; with `mosquitto_sub_like` also -F/--format and --verbose-topic (the
// commands whose text output is mosquitto_sub's).
void add_flags(CLI::App& cmd, Flags& flags, bool mosquitto_sub_like = true);

// The renderer for stdout: the mode by choose_mode(), colour and width from the terminal, the
// device pk/dn abbreviated in pretty topics (empty: whole topics); %J's complaints as warnings.
Renderer make(const Context& ctx,
              const Flags& flags,
              const std::string& pk = {},
              const std::string& dn = {});

} // namespace aliot::cli::render
