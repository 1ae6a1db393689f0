#include "docgen/render.hpp"

namespace aliot::cli::docgen {

std::map<std::string, std::string> render_completions(const CommandModel& root) {
  return {{root.name + ".bash", render_bash(root)},
          {"_" + root.name, render_zsh(root)},
          {root.name + ".fish", render_fish(root)}};
}

} // namespace aliot::cli::docgen
