#include "docgen/model.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli::docgen {

namespace {

std::string value_name_of(const CLI::Option& opt) {
  // get_type_name() appends validator text ("FORMAT:{text,json}"); keep the name only.
  std::string t = opt.get_type_name();
  const auto colon = t.find(':');
  if (colon != std::string::npos) {
    t.resize(colon);
  }
  return t.empty() ? std::string("VALUE") : t;
}

OptionModel
option_model(const CLI::Option& opt, const std::string& group_override, const DocRegistry& docs) {
  OptionModel m;
  m.short_names = opt.get_snames();
  m.long_names = opt.get_lnames();
  m.positional = opt.get_positional() && !opt.nonpositional();
  if (opt.get_positional()) {
    m.positional_name = opt.get_name(true);
  }
  m.description = opt.get_description();
  m.group = group_override.empty() ? opt.get_group() : group_override;
  m.default_value = opt.get_default_str();
  m.envname = opt.get_envname();
  m.required = opt.get_required();
  const auto policy = opt.get_multi_option_policy();
  m.repeatable = opt.get_expected_max() > 1 || policy == CLI::MultiOptionPolicy::TakeAll
                 || policy == CLI::MultiOptionPolicy::Join;
  // add_flag() sets expected(0); a counting flag (-vvv) also has MultiOptionPolicy::TakeAll.
  const bool flag = opt.get_expected_max() == 0 || opt.get_type_size_max() == 0;
  if (flag) {
    m.kind = ValueKind::none;
  } else {
    const OptionFacts facts = docs.facts(&opt);
    m.kind = facts.kind == ValueKind::none ? ValueKind::text : facts.kind;
    m.choices = facts.choices;
    m.value_name = value_name_of(opt);
  }
  return m;
}

void collect_options(const CLI::App& app,
                     const std::string& group_override,
                     const DocRegistry& docs,
                     std::vector<OptionModel>& out) {
  const CLI::Option* help = app.get_help_ptr();
  const CLI::Option* help_all = app.get_help_all_ptr();
  for (const CLI::Option* opt : app.get_options()) {
    if (opt == help || opt == help_all || opt->get_group().empty()) {
      continue; // --help is added by every renderer; group "" is hidden
    }
    out.push_back(option_model(*opt, group_override, docs));
  }
  // Option groups are nameless sub-apps; their options belong to this command.
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App* a) { return a->get_name().empty(); })) {
    collect_options(*sub, sub->get_group(), docs, out);
  }
}

CommandModel command_model(const CLI::App& app, const std::string& path, const DocRegistry& docs) {
  CommandModel m;
  m.name = app.get_name();
  m.path = path;
  m.summary = app.get_description();
  m.doc = docs.doc(&app);
  m.requires_subcommand = app.get_require_subcommand_min() > 0;
  collect_options(app, {}, docs, m.options);
  for (const CLI::App* sub : app.get_subcommands(
           [](const CLI::App* a) { return !a->get_name().empty() && !a->get_group().empty(); })) {
    m.children.push_back(command_model(*sub, path + " " + sub->get_name(), docs));
  }
  return m;
}

void flatten_into(const CommandModel& c, std::vector<const CommandModel*>& out) {
  out.push_back(&c);
  for (const auto& child : c.children) {
    flatten_into(child, out);
  }
}

const char* kind_name(ValueKind k) {
  switch (k) {
  case ValueKind::none: return "none";
  case ValueKind::file: return "file";
  case ValueKind::directory: return "directory";
  case ValueKind::serial_port: return "serial_port";
  case ValueKind::choice: return "choice";
  case ValueKind::text: return "text";
  }
  return "text";
}

nlohmann::ordered_json to_json(const CommandModel& c) {
  nlohmann::ordered_json j;
  j["path"] = c.path;
  j["summary"] = c.summary;
  j["requires_subcommand"] = c.requires_subcommand;
  if (c.doc != nullptr) {
    j["description"] = c.doc->description;
    auto& ex = j["examples"] = nlohmann::ordered_json::array();
    for (const auto& e : c.doc->examples) {
      ex.push_back({{"command", e.command}, {"explanation", e.explanation}});
    }
    j["see_also"] = c.doc->see_also;
  }
  auto& opts = j["options"] = nlohmann::ordered_json::array();
  for (const auto& o : c.options) {
    nlohmann::ordered_json jo;
    jo["names"] = o.display_names();
    jo["value_name"] = o.value_name;
    jo["kind"] = kind_name(o.kind);
    jo["choices"] = o.choices;
    jo["description"] = o.description;
    jo["group"] = o.group;
    jo["default"] = o.default_value;
    jo["env"] = o.envname;
    jo["required"] = o.required;
    jo["positional"] = o.positional;
    jo["repeatable"] = o.repeatable;
    opts.push_back(std::move(jo));
  }
  auto& children = j["commands"] = nlohmann::ordered_json::array();
  for (const auto& child : c.children) {
    children.push_back(to_json(child));
  }
  return j;
}

} // namespace

std::string OptionModel::display_names() const {
  if (positional) {
    return positional_name;
  }
  std::string s;
  for (const auto& n : short_names) {
    s += (s.empty() ? "-" : ", -") + n;
  }
  for (const auto& n : long_names) {
    s += (s.empty() ? "--" : ", --") + n;
  }
  return s;
}

std::string OptionModel::primary_name() const {
  if (!long_names.empty()) {
    return "--" + long_names.front();
  }
  if (!short_names.empty()) {
    return "-" + short_names.front();
  }
  return positional_name;
}

std::string CommandModel::page_name() const {
  std::string s = path;
  for (char& c : s) {
    if (c == ' ') {
      c = '-';
    }
  }
  return s;
}

std::string CommandModel::sub_path() const {
  const auto space = path.find(' ');
  return space == std::string::npos ? std::string() : path.substr(space + 1);
}

CommandModel build_model(const CLI::App& root, const DocRegistry& docs) {
  return command_model(root, root.get_name(), docs);
}

std::vector<const CommandModel*> flatten(const CommandModel& root) {
  std::vector<const CommandModel*> out;
  flatten_into(root, out);
  return out;
}

std::string dump_json(const CommandModel& root) {
  return to_json(root).dump(2) + "\n";
}

} // namespace aliot::cli::docgen
