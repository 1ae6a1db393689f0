// The command tree as plain data: built once from the CLI11 app and the DocRegistry, then
// rendered into man pages and shell completions by plain functions. Nothing here depends on
// CLI11, so the renderers stay cheap to compile and easy to test on hand-made models.
#pragma once

#include "docs.hpp"

#include <map>
#include <string>
#include <vector>

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli::docgen {

struct OptionModel {
  std::vector<std::string> short_names; // "k" (no dash)
  std::vector<std::string> long_names;  // "product-key" (no dashes)
  std::string positional_name;          // for positionals: "FILE"
  std::string value_name;               // "PK"; empty for flags
  std::string description;
  std::string group; // "Identity"; "Options" when CLI11's default
  std::string default_value;
  std::string envname;
  ValueKind kind = ValueKind::none; // none = a flag that takes no value
  std::vector<std::string> choices;
  bool required = false;
  bool positional = false;
  bool repeatable = false; // may be given more than once (flag counts, multi-value options)

  bool takes_value() const { return kind != ValueKind::none; }
  // "-k, --product-key" / "--quiet" / "FILE"
  std::string display_names() const;
  // The first long name with dashes ("--product-key"), else the short one ("-v").
  std::string primary_name() const;
};

struct CommandModel {
  std::string name;    // "call"
  std::string path;    // "aliot rrpc call"
  std::string summary; // one line, from CLI11's description
  const CommandDoc* doc = nullptr;
  std::vector<OptionModel> options; // in CLI11 order (the order of --help)
  std::vector<CommandModel> children;
  bool requires_subcommand = false;

  // "aliot-rrpc-call": the man page's name.
  std::string page_name() const;
  // "rrpc call": the path without the program name; empty for the root.
  std::string sub_path() const;
};

// Walks the tree. Hidden commands (group "") and the help options are left out.
CommandModel build_model(const CLI::App& root, const DocRegistry& docs);

// Every command in the tree, parents before children, in tree order (root first).
std::vector<const CommandModel*> flatten(const CommandModel& root);

// Text for --dump-json (debugging the generator).
std::string dump_json(const CommandModel& root);

} // namespace aliot::cli::docgen
