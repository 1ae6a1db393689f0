#include "docs.hpp"

#include <CLI/CLI.hpp>

namespace aliot::cli {

void DocRegistry::attach(CLI::App* cmd, CommandDoc doc) {
  if (!doc.examples.empty()) {
    std::string footer = "\nExamples:\n";
    for (const auto& ex : doc.examples) {
      footer += "  # " + ex.explanation + "\n  " + ex.command + "\n";
    }
    cmd->footer(footer);
  }
  m_docs[cmd] = std::move(doc);
}

void DocRegistry::choices(CLI::Option* opt, std::vector<std::string> values) {
  opt->check(CLI::IsMember(values));
  auto& f = m_facts[opt];
  f.kind = ValueKind::choice;
  f.choices = std::move(values);
}

void DocRegistry::completes_to(CLI::Option* opt, std::vector<std::string> values) {
  auto& f = m_facts[opt];
  f.kind = ValueKind::choice;
  f.choices = std::move(values);
}

void DocRegistry::kind(CLI::Option* opt, ValueKind kind) {
  m_facts[opt].kind = kind;
}

const CommandDoc* DocRegistry::doc(const CLI::App* cmd) const {
  auto it = m_docs.find(cmd);
  return it == m_docs.end() ? nullptr : &it->second;
}

OptionFacts DocRegistry::facts(const CLI::Option* opt) const {
  auto it = m_facts.find(opt);
  if (it != m_facts.end()) {
    return it->second;
  }
  OptionFacts f;
  f.kind = opt->get_type_size_max() == 0 ? ValueKind::none : ValueKind::text;
  return f;
}

} // namespace aliot::cli
