// cli.policy: house rules checked over the live command tree (build_app), so a command added
// without a description, an example or with a clashing short flag fails here, naming it.
#include "app.hpp"
#include "docgen/model.hpp"
#include "exit_codes.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <set>

namespace aliot::cli {
namespace {

// The short letters every command agrees on (cli.md, mosquitto's letters).
const std::map<std::string, std::string> k_short_flags = {
    {"k", "product-key"}, {"d", "device-name"}, {"t", "topic"}, {"m", "message"}, {"f", "file"},
    {"s", "stdin"},       {"l", "lines"},       {"q", "qos"},   {"C", "count"},   {"W", "wait"},
    {"o", "output"},      {"v", "verbose"},     {"j", "jobs"},  {"c", "devices"}, {"F", "format"},
};

class Policy : public ::testing::Test {
protected:
  void SetUp() override {
    m_app = build_app(m_ctx);
    m_model = docgen::build_model(*m_app, m_ctx.docs);
    m_all = docgen::flatten(m_model);
  }

  // Every option of every command, with the command's path.
  template <class Fn>
  void each_option(Fn fn) const {
    for (const auto* c : m_all) {
      for (const auto& o : c->options) {
        fn(*c, o);
      }
    }
  }

  Context m_ctx;
  std::unique_ptr<CLI::App> m_app;
  docgen::CommandModel m_model;
  std::vector<const docgen::CommandModel*> m_all;
};

// "Capital first, no trailing period" (style-anchors 7.5); empty is reported separately.
std::string style_problem(const std::string& text) {
  if (text.empty()) {
    return "no description";
  }
  if (std::islower(static_cast<unsigned char>(text.front())) != 0) {
    return "description starts in lower case: \"" + text + "\"";
  }
  if (text.back() == '.') {
    return "description ends with a period: \"" + text + "\"";
  }
  return {};
}

std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) {
    s += "\n  " + x;
  }
  return s;
}

TEST_F(Policy, TreeHasTheCommandsAndNestedVerbs) {
  std::set<std::string> paths;
  for (const auto* c : m_all) {
    paths.insert(c->path);
  }
  for (const char* p : {"aliot sign", "aliot rrpc", "aliot emulate", "aliot completion"}) {
    EXPECT_TRUE(paths.count(p)) << p;
  }
  EXPECT_FALSE(paths.count("aliot __gen-docs")) << "hidden commands stay out of the docs";
}

TEST_F(Policy, EveryCommandHasADescriptionInHouseStyle) {
  std::vector<std::string> bad;
  for (const auto* c : m_all) {
    if (c == &m_model) {
      continue; // the root's description is the program's tag line
    }
    if (auto p = style_problem(c->summary); !p.empty()) {
      bad.push_back(c->path + ": " + p);
    }
    if (c->doc == nullptr || c->doc->description.empty()) {
      bad.push_back(c->path + ": no CommandDoc description (ctx.docs.attach)");
    }
  }
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

TEST_F(Policy, EveryOptionHasADescriptionInHouseStyle) {
  std::vector<std::string> bad;
  each_option([&](const docgen::CommandModel& c, const docgen::OptionModel& o) {
    if (auto p = style_problem(o.description); !p.empty()) {
      bad.push_back(c.path + " " + o.primary_name() + ": " + p);
    }
  });
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

TEST_F(Policy, ValueNamesAreUppercaseNouns) {
  std::vector<std::string> bad;
  each_option([&](const docgen::CommandModel& c, const docgen::OptionModel& o) {
    if (!o.takes_value()) {
      return;
    }
    for (char ch : o.value_name) {
      if (std::islower(static_cast<unsigned char>(ch)) != 0) {
        bad.push_back(c.path + " " + o.primary_name() + ": value name " + o.value_name);
        break;
      }
    }
  });
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

TEST_F(Policy, EveryVisibleCommandHasAnExample) {
  std::vector<std::string> bad;
  for (const auto* c : m_all) {
    if (c == &m_model) {
      continue;
    }
    if (c->doc == nullptr || c->doc->examples.empty()) {
      bad.push_back(c->path + ": no example");
      continue;
    }
    for (const auto& ex : c->doc->examples) {
      if (ex.command.empty() || ex.explanation.empty()) {
        bad.push_back(c->path + ": an example without a command or an explanation");
      }
    }
  }
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

// --help and the man page show the same examples: attach() put them into the footer.
TEST_F(Policy, HelpFooterShowsTheSameExamplesAsTheManPage) {
  std::vector<std::string> bad;
  std::function<void(const CLI::App&)> walk = [&](const CLI::App& app) {
    if (const auto* doc = m_ctx.docs.doc(&app)) {
      const std::string footer = app.get_footer();
      for (const auto& ex : doc->examples) {
        if (footer.find(ex.command) == std::string::npos) {
          bad.push_back(app.get_name() + ": --help lacks the example " + ex.command);
        }
      }
    }
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      walk(*sub);
    }
  };
  walk(*m_app);
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

TEST_F(Policy, AShortFlagMeansTheSameLongOptionEverywhere) {
  std::map<std::string, std::set<std::string>> meanings; // "k" -> {"product-key (aliot sign)"}
  std::map<std::string, std::set<std::string>> longs;
  std::vector<std::string> bad;
  each_option([&](const docgen::CommandModel& c, const docgen::OptionModel& o) {
    for (const auto& s : o.short_names) {
      const std::string l = o.long_names.empty() ? std::string("(none)") : o.long_names.front();
      longs[s].insert(l);
      meanings[s].insert("--" + l + " in '" + c.path + "'");
      auto it = k_short_flags.find(s);
      if (it == k_short_flags.end()) {
        bad.push_back("-" + s + " (" + c.path
                      + "): a new short flag; add it to k_short_flags "
                        "after agreeing on its meaning");
      } else if (l != it->second) {
        bad.push_back("-" + s + " means --" + l + " in '" + c.path + "', but --" + it->second
                      + " everywhere else");
      }
    }
  });
  for (const auto& [s, ls] : longs) {
    if (ls.size() > 1) {
      std::string where;
      for (const auto& m : meanings[s]) {
        where += "; " + m;
      }
      bad.push_back("-" + s + " has several meanings" + where);
    }
  }
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

TEST_F(Policy, NoCommandOptionShadowsAGlobalOne) {
  std::set<std::string> globals;
  for (const auto& o : m_model.options) {
    for (const auto& s : o.short_names) {
      globals.insert("-" + s);
    }
    for (const auto& l : o.long_names) {
      globals.insert("--" + l);
    }
  }
  std::vector<std::string> bad;
  for (const auto* c : m_all) {
    if (c == &m_model) {
      continue;
    }
    for (const auto& o : c->options) {
      std::vector<std::string> names;
      for (const auto& s : o.short_names) {
        names.push_back("-" + s);
      }
      for (const auto& l : o.long_names) {
        names.push_back("--" + l);
      }
      for (const auto& n : names) {
        // The one exception: the firmware commands' --version V is the firmware's version (the
        // platform's DestVersion, the contract: `aliot ota report --version 1.0.0`).
        const bool firmware =
            n == "--version"
            && (c->path.starts_with("aliot ota ") || c->path.starts_with("aliot cloud ota ")
                || c->path == "aliot emulate cloud add-firmware");
        if (globals.count(n) && !firmware) {
          bad.push_back(c->path + " " + n + " shadows the global option " + n);
        }
      }
    }
  }
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

TEST_F(Policy, HiddenCommandsStartWithTwoUnderscores) {
  std::vector<std::string> bad;
  std::function<void(const CLI::App&, const std::string&)> walk = [&](const CLI::App& app,
                                                                      const std::string& path) {
    for (const auto* sub :
         app.get_subcommands([](const CLI::App* a) { return !a->get_name().empty(); })) {
      const std::string& n = sub->get_name();
      const bool hidden = sub->get_group().empty();
      const bool underscored = n.rfind("__", 0) == 0;
      if (hidden != underscored) {
        bad.push_back(
            path + " " + n
            + (hidden ? ": hidden but not named __*" : ": named __* but not hidden (group \"\")"));
      }
      walk(*sub, path + " " + n);
    }
  };
  walk(*m_app, "aliot");
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
  EXPECT_EQ(m_app->get_subcommands([](const CLI::App* a) { return a->get_name() == "__gen-docs"; })
                .size(),
            1U);
}

TEST_F(Policy, SeeAlsoNamesPagesThatExist) {
  std::set<std::string> pages;
  for (const auto* c : m_all) {
    pages.insert(c->page_name());
  }
  std::vector<std::string> bad;
  for (const auto* c : m_all) {
    if (c->doc == nullptr) {
      continue;
    }
    for (const auto& ref : c->doc->see_also) {
      if (ref.find('(') == std::string::npos && !pages.count(ref)) {
        bad.push_back(c->path + ": see-also " + ref + " is not a command page");
      }
    }
  }
  EXPECT_TRUE(bad.empty()) << join_lines(bad);
}

TEST_F(Policy, ChoicesAreRecordedForTheCompletions) {
  // Options restricted to a set must record it through ctx.docs.choices, or the completions
  // cannot offer the values. Spot checks of the contract's enumerations.
  auto find = [&](const std::string& path, const std::string& lname) -> const docgen::OptionModel* {
    for (const auto* c : m_all) {
      if (c->path != path) {
        continue;
      }
      for (const auto& o : c->options) {
        if (!o.long_names.empty() && o.long_names.front() == lname) {
          return &o;
        }
      }
    }
    return nullptr;
  };
  const auto* out = find("aliot", "output");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->choices, (std::vector<std::string>{"text", "json"}));
  const auto* sm = find("aliot sign", "sign-method");
  ASSERT_NE(sm, nullptr);
  EXPECT_EQ(sm->choices, (std::vector<std::string>{"hmacsha256", "hmacsha1", "hmacmd5"}));
  for (const char* path : {"aliot pub", "aliot sub"}) {
    if (const auto* q = find(path, "qos")) {
      EXPECT_EQ(q->choices, (std::vector<std::string>{"0", "1"})) << path;
    }
  }
}

// Every Errc, found through lib's own errc_name (unknown values map to "internal").
std::vector<Errc> all_errc() {
  std::vector<Errc> v;
  for (int i = 1; i < 256; ++i) {
    const auto e = static_cast<Errc>(i);
    if (i == static_cast<int>(Errc::internal) || errc_name(e) != "internal") {
      v.push_back(e);
    }
  }
  return v;
}

TEST(ExitCodes, TableCoversEveryErrcOnceInOrder) {
  const auto table = exit_codes();
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(table.front().code(), 0);
  EXPECT_EQ(table.front().name(), "ok");
  std::map<Errc, int> seen;
  int last = -1;
  for (const auto& e : table) {
    EXPECT_GT(e.code(), last) << "codes ascend and are unique: " << e.name();
    last = e.code();
    EXPECT_FALSE(e.meaning.empty()) << e.name();
    EXPECT_EQ(e.meaning.back() == '.', false) << e.name();
    if (e.errc) {
      ++seen[*e.errc];
      EXPECT_EQ(e.code(), exit_status(*e.errc));
    }
  }
  const auto errcs = all_errc();
  for (auto e : errcs) {
    EXPECT_EQ(seen[e], 1) << errc_name(e) << " must appear exactly once";
  }
  EXPECT_EQ(seen.size(), errcs.size());
  EXPECT_EQ(table.back().code(), 130);
}

} // namespace
} // namespace aliot::cli
