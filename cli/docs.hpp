// Prose kept next to each command (description, examples, see-also) and facts about options
// that CLI11 does not record (choices, value kinds). The man pages, the completions and the
// --help footer are all generated from this plus the CLI11 tree: nothing is written twice.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace aliot::cli {

struct Example {
  std::string command;     // "aliot pub -t user/update -m hello"
  std::string explanation; // "Publish one message to the device's update topic"
};

struct CommandDoc {
  std::string description; // paragraphs for the man page (blank line between paragraphs)
  std::vector<Example> examples;
  std::vector<std::string> see_also; // "aliot-sub"
};

// How a shell should complete an option's value.
enum class ValueKind { none, file, directory, serial_port, choice, text };

struct OptionFacts {
  ValueKind kind = ValueKind::text;
  std::vector<std::string> choices;
};

class DocRegistry {
public:
  // Records the prose of a command and appends its examples to its --help footer.
  void attach(CLI::App* cmd, CommandDoc doc);
  // Restricts an option to `choices` (checked by CLI11) and records them for completion.
  void choices(CLI::Option* opt, std::vector<std::string> choices);
  // Records the values a shell should offer, leaving validation to the command (for example
  // -q, whose QoS 2 gets a message of its own).
  void completes_to(CLI::Option* opt, std::vector<std::string> values);
  void kind(CLI::Option* opt, ValueKind kind);

  const CommandDoc* doc(const CLI::App* cmd) const;
  OptionFacts facts(const CLI::Option* opt) const;

private:
  std::map<const CLI::App*, CommandDoc> m_docs;
  std::map<const CLI::Option*, OptionFacts> m_facts;
};

} // namespace aliot::cli
