// Renderers: plain functions of the model. Output is deterministic (no dates, no paths, no
// version), so the committed man/ and completions/ can be compared byte for byte.
#pragma once

#include "docgen/model.hpp"
#include "exit_codes.hpp"

#include <map>
#include <span>
#include <string>
#include <vector>

namespace aliot::cli::docgen {

struct NamedText {
  std::string name;
  std::string description;
};

// What aliot.1 shows besides the command tree.
struct ManInputs {
  std::string description; // aliot.1's DESCRIPTION after the tag line: the global conventions
  std::span<const ExitCodeDoc> exit_codes;
  std::vector<NamedText> environment; // ALIOT_* settings and the other variables aliot reads
  std::vector<NamedText> files;
};

// The inputs of the real program: the exit-code table, config::keys(), the config file and the
// factory journal.
ManInputs default_man_inputs();

// File name ("aliot.1", "aliot-rrpc-call.1") -> page text, for every command in the tree.
std::map<std::string, std::string> render_man(const CommandModel& root, const ManInputs& in);

std::string render_bash(const CommandModel& root);
std::string render_zsh(const CommandModel& root);
std::string render_fish(const CommandModel& root);

// File name ("aliot.bash", "_aliot", "aliot.fish") -> script.
std::map<std::string, std::string> render_completions(const CommandModel& root);

// The candidates for a serial port, shared by every shell: globs, expanded by the shell.
inline constexpr const char* k_serial_port_globs[] = {"/dev/ttyUSB*", "/dev/ttyACM*", "/dev/ttyS*",
                                                      "/dev/serial/by-id/*"};

} // namespace aliot::cli::docgen
