// cli.lazy_tree: `aliot` builds only the part of the command tree a command line reaches
// (build_app_for). Every command line here is run twice in process, once on the whole tree
// (build_app) and once as `aliot` runs it, and the two must agree to the byte: exit status,
// standard output and standard error (help texts, errors and their hints, suggestions for a
// misspelt command, the version, what a command printed).
#include "app.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace aliot::cli {
namespace {

using Args = std::vector<std::string>;

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

std::vector<const char*> argv_of(const Args& args) {
  std::vector<const char*> argv{"aliot"};
  for (const auto& a : args) {
    argv.push_back(a.c_str());
  }
  argv.push_back(nullptr);
  return argv;
}

// `aliot ARGS...` in this process, with an empty environment (no config file, no NO_COLOR).
Outcome run_in_process(const Args& args, bool whole_tree) {
  const auto argv = argv_of(args);
  const int argc = static_cast<int>(argv.size()) - 1;
  Context ctx;
  Outcome r;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  if (whole_tree) {
    auto app = build_app(ctx);
    r.status = run(*app, argc, argv.data(), ctx);
  } else {
    r.status = run(argc, argv.data(), ctx);
  }
  r.out = ::testing::internal::GetCapturedStdout();
  r.err = ::testing::internal::GetCapturedStderr();
  return r;
}

std::string joined(const Args& args) {
  std::string s = "aliot";
  for (const auto& a : args) {
    s += " " + a;
  }
  return s;
}

// The names of the top-level commands a tree holds, in order.
std::vector<std::string> commands_of(const CLI::App& app) {
  std::vector<std::string> names;
  for (const auto* sub :
       app.get_subcommands([](const CLI::App* a) { return !a->get_name().empty(); })) {
    names.push_back(sub->get_name());
  }
  return names;
}

// Every command path of the whole tree ("pub", "emulate cloud", ...), hidden ones included.
void collect_paths(const CLI::App& app, Args prefix, std::vector<Args>& paths) {
  for (const auto* sub :
       app.get_subcommands([](const CLI::App* a) { return !a->get_name().empty(); })) {
    Args path = prefix;
    path.push_back(sub->get_name());
    paths.push_back(path);
    collect_paths(*sub, path, paths);
  }
}

std::vector<Args> every_command_path() {
  Context ctx;
  auto app = build_app(ctx);
  std::vector<Args> paths;
  collect_paths(*app, {}, paths);
  return paths;
}

void expect_same(const Args& args) {
  const Outcome whole = run_in_process(args, true);
  const Outcome lazy = run_in_process(args, false);
  EXPECT_EQ(lazy.status, whole.status) << joined(args);
  EXPECT_EQ(lazy.out, whole.out) << joined(args);
  EXPECT_EQ(lazy.err, whole.err) << joined(args);
}

TEST(LazyTree, EveryHelpTextIsTheSame) {
  const auto paths = every_command_path();
  ASSERT_GT(paths.size(), 20U);
  for (const auto& path : paths) {
    Args help = path;
    help.emplace_back("--help");
    expect_same(help);
    Args h = path;
    h.emplace_back("-h");
    expect_same(h);
    Args before = {"--help"};
    before.insert(before.end(), path.begin(), path.end());
    expect_same(before);
  }
  expect_same({"--help"});
  expect_same({"-h"});
  expect_same({"-o", "json", "--help"});
}

TEST(LazyTree, HelpOfACommandIsItsOwnAndComplete) {
  // Not vacuous: the lazy run prints pub's help, with its options and examples.
  const Outcome lazy = run_in_process({"pub", "--help"}, false);
  EXPECT_EQ(lazy.status, 0);
  EXPECT_NE(lazy.out.find("Usage: aliot pub [OPTIONS]"), std::string::npos) << lazy.out;
  EXPECT_NE(lazy.out.find("--topic"), std::string::npos) << lazy.out;
  EXPECT_NE(lazy.out.find("Examples:"), std::string::npos) << lazy.out;
  // The top-level help still lists every command.
  const Outcome top = run_in_process({"--help"}, false);
  for (const std::string name : {"sign", "pub", "sub", "register", "emulate", "completion"}) {
    EXPECT_NE(top.out.find("  " + name + " "), std::string::npos) << name << "\n" << top.out;
  }
}

TEST(LazyTree, EveryCommandWithoutArgumentsIsTheSame) {
  // Each fails (a required option or command is missing, no ProductKey in an empty environment)
  // or prints what it found (ports), without reaching the network.
  for (const auto& path : every_command_path()) {
    if (path.size() == 1 && path.front() != "__gen-docs") {
      expect_same(path);
    }
  }
  expect_same({});
}

TEST(LazyTree, VersionIsTheSame) {
  for (const Args& args : std::vector<Args>{
           {"--version"},
           {"-o", "json", "--version"},
           {"--version", "-o", "json"},
           {"-ojson", "--version"},
           {"--output=json", "--version"},
           {"--output", "text", "--version"},
           {"-v", "--quiet", "--version"},
           {"--version", "--help"},
           {"--help", "--version"},
           {"--version", "--bogus"},
           {"--version", "-o", "xml"},
           {"--version", "-o"},
           {"--profile", "--version"},
           {"--config", "--version", "-o", "json"},
           {"--version", "pub"},
           {"pub", "--version"},
           {"-o", "json", "pub", "--version"},
           {"--", "--version"},
       }) {
    expect_same(args);
  }
  const Outcome json = run_in_process({"-o", "json", "--version"}, false);
  EXPECT_EQ(json.status, 0);
  EXPECT_EQ(json.out.rfind("{\"version\":", 0), 0U) << json.out;
  // A bad output format is the usage error every other command line gets (it once aborted).
  const Outcome bad = run_in_process({"--version", "-o", "xml"}, false);
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.out, "");
  EXPECT_NE(bad.err.find("aliot: error: --output: xml not in {text,json}"), std::string::npos)
      << bad.err;
}

TEST(LazyTree, ExclusionsAreListedInDeclarationOrder) {
  // CLI11 keeps them in a set ordered by address: without the help formatter's order the list
  // changed with what else had been built (the whole tree or one command).
  for (const bool whole : {true, false}) {
    const Outcome r = run_in_process({"pub", "--help"}, whole);
    EXPECT_NE(r.out.find("-m,--message TEXT Excludes: --file --stdin --lines --hex --base64\n"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("-l,--lines Excludes: --message --file --stdin --hex --base64 --repeat"),
              std::string::npos)
        << r.out;
  }
}

TEST(LazyTree, MisspeltCommandsStillSuggest) {
  for (const Args& args : std::vector<Args>{
           {"pbu"},
           {"pbu", "--help"},
           {"-o", "json", "pbu"},
           {"--profile", "p", "sbu", "-t", "x"},
           {"emulate", "clod"},
           {"rrpc", "cal"},
           {"cloud", "pbu"},
           {"nosuchcommand"},
           {"PUB"},
           {"help"},
       }) {
    expect_same(args);
  }
  const Outcome r = run_in_process({"pbu"}, false);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown command 'pbu'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'pub'?"), std::string::npos) << r.err;
}

TEST(LazyTree, GlobalOptionsBeforeAndAfterTheCommandWord) {
  for (const Args& args : std::vector<Args>{
           {"-o", "json", "pub", "--bogus"},
           {"pub", "-o", "json", "--bogus"},
           {"pub", "--bogus", "-o", "json"},
           {"--output=json", "pub", "-t"},
           {"-o", "xml", "pub"},
           {"pub", "-o", "xml"},
           {"-o", "pub"},
           {"-o"},
           {"--config"},
           {"-vv", "--quiet", "--no-color", "--strict", "pub"},
           {"--profile", "dev", "sub", "--profile", "other"},
           {"pub", "sub"},
           {"pub", "-t", "x", "-m", "x", "-f", "y"},
           {"sign", "pub"},
           {"burn", "emulate"},
           {"--", "pub"},
           {"-o", "json", "emulate"},
           {"emulate", "-o", "json"},
           {"-o", "json", "sign", "-k", "a1PK", "-d", "dev1"},
           {"sign", "-k", "a1PK", "-d", "dev1", "--device-secret", "s3cret", "--timestamp",
            "1700000000000"},
           {"--quiet", "-o", "json", "sign", "-k", "a1PK", "-d", "dev1", "--device-secret",
            "s3cret", "--timestamp", "1700000000000", "--for", "mosquitto"},
           {"sign", "-k", "a1PK", "-d", "dev1", "--device-secret", "s3cret", "-o", "json",
            "--timestamp", "1700000000000"},
           {"completion", "fish"},
           {"completion", "zsh", "-o", "json"},
       }) {
    expect_same(args);
  }
}

TEST(LazyTree, BuildsOnlyWhatTheCommandLineReaches) {
  Context whole_ctx;
  const auto all = commands_of(*build_app(whole_ctx));
  ASSERT_EQ(all.front(), "sign");
  const auto tree = [](const Args& args) {
    const auto argv = argv_of(args);
    Context ctx;
    return commands_of(*build_app_for(static_cast<int>(argv.size()) - 1, argv.data(), ctx));
  };
  // Each name of the command table builds that command (the table's names are the commands'),
  // alone unless it renders the whole tree.
  for (const auto& name : all) {
    const auto got = tree({"-o", "json", name, "--help"});
    if (name == "completion" || name == "__gen-docs") {
      EXPECT_EQ(got, all) << name;
    } else {
      EXPECT_EQ(got, std::vector<std::string>{name}) << name;
    }
  }
  EXPECT_EQ(tree({"--version"}), std::vector<std::string>{});
  EXPECT_EQ(tree({"-o", "json", "--version"}), std::vector<std::string>{});
  EXPECT_EQ(tree({"--config", "c.json", "pub", "--version"}), std::vector<std::string>{"pub"});
  EXPECT_EQ(tree({}), all);
  EXPECT_EQ(tree({"--help"}), all);
  EXPECT_EQ(tree({"pbu"}), all);
  EXPECT_EQ(tree({"-o", "pub"}), all); // "pub" is -o's value: no command word
  EXPECT_EQ(tree({"--", "pub"}), all);
  EXPECT_EQ(tree({"--profile", "--version"}), all); // "--version" is --profile's value
}

} // namespace
} // namespace aliot::cli
