#include "app.hpp"

#include "commands/commands.hpp"
#include "usage.hpp"

#include <aliot/version.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <set>
#include <string_view>
#include <vector>

namespace aliot::cli {

namespace {

// The deepest subcommand the parser reached (for error messages that name the command).
std::string command_path(const CLI::App& root) {
  std::string path = "aliot";
  const CLI::App* cur = &root;
  while (true) {
    auto subs = cur->get_subcommands();
    if (subs.empty()) {
      break;
    }
    cur = subs.front();
    path += " " + cur->get_name();
  }
  return path;
}

// `aliot --version`, as `curl --version` does: the release on the first line (scripts match
// `aliot <version>`), then the commit and the libraries libaliot runs with. Under -o json one
// object with the same facts.
std::string version_report(bool json) {
  const auto libs = runtime_library_versions();
  if (json) {
    nlohmann::ordered_json j = {{"version", k_version}, {"commit", build_commit()}};
    auto& l = j["libraries"] = nlohmann::ordered_json::object();
    for (const auto& lib : libs) {
      l[lib.name] = lib.version;
    }
    return j.dump() + "\n";
  }
  std::string s = fmt::format("aliot {}\nCommit: {}\nLibraries:", k_version, build_commit());
  for (const auto& lib : libs) {
    s += fmt::format(" {}/{}", lib.name, lib.version);
  }
  return s + "\n";
}

// CLI11's help, with the options an option needs or excludes listed in the order the command
// declares them. CLI11 keeps them in a set ordered by address, so its own help lists them in
// whatever order the allocator placed the options, which changes with what else was built
// before.
class HelpFormatter : public CLI::Formatter {
public:
  std::string
  make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    const CLI::App* outer = m_app;
    m_app = app;
    std::string help = CLI::Formatter::make_help(app, std::move(name), mode);
    m_app = outer;
    return help;
  }

  // As CLI::Formatter::make_option_opts, but Needs and Excludes in declaration order.
  std::string make_option_opts(const CLI::Option* opt) const override {
    if (!opt->get_option_text().empty()) {
      return " " + opt->get_option_text();
    }
    std::string out;
    if (opt->get_type_size() != 0) {
      if (!opt->get_type_name().empty()) {
        out += " " + get_label(opt->get_type_name());
      }
      if (!opt->get_default_str().empty()) {
        out += "=" + opt->get_default_str();
      }
      if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) {
        out += " ...";
      } else if (opt->get_expected_min() > 1) {
        out += " x " + std::to_string(opt->get_expected());
      }
      if (opt->get_required()) {
        out += " " + get_label("REQUIRED");
      }
    }
    if (!opt->get_envname().empty()) {
      out += " (" + get_label("Env") + ":" + opt->get_envname() + ")";
    }
    const auto list = [&](const std::string& label, const std::set<CLI::Option*>& set) {
      if (set.empty()) {
        return;
      }
      out += " " + get_label(label) + ":";
      for (const auto* o : in_declaration_order(set)) {
        out += " " + o->get_name();
      }
    };
    list("Needs", opt->get_needs());
    list("Excludes", opt->get_excludes());
    return out;
  }

private:
  std::vector<const CLI::Option*> in_declaration_order(const std::set<CLI::Option*>& set) const {
    std::vector<const CLI::Option*> declared;
    if (m_app != nullptr) {
      declared = m_app->get_options();
    }
    const auto rank = [&](const CLI::Option* o) {
      return static_cast<std::size_t>(std::find(declared.begin(), declared.end(), o)
                                      - declared.begin());
    };
    std::vector<const CLI::Option*> v(set.begin(), set.end());
    std::stable_sort(v.begin(), v.end(), [&](const CLI::Option* a, const CLI::Option* b) {
      const auto ra = rank(a);
      const auto rb = rank(b);
      return ra != rb ? ra < rb : a->get_name() < b->get_name();
    });
    return v;
  }

  mutable const CLI::App* m_app = nullptr; // the command whose help is being made
};

// `aliot help [CMD [SUB...]]`, as gh, git and az have it: run() reads it as `aliot CMD [SUB...]
// --help` before parsing (help_command_words), so the parser meets this command only for
// `aliot help --help`. It is in the tree for the top-level help, the man pages and completions.
void add_help_command(CLI::App& parent, Context& ctx) {
  auto words = std::make_shared<std::vector<std::string>>();
  std::vector<std::string> names;
  for (const auto* sub : parent.get_subcommands(
           [](const CLI::App* a) { return !a->get_name().empty() && !a->get_group().empty(); })) {
    names.push_back(sub->get_name());
  }
  auto* cmd = parent.add_subcommand("help", "Show the help of a command (= aliot CMD --help)");
  auto* c = cmd->add_option("command", *words, "The command and its subcommands, e.g. rrpc serve")
                ->type_name("CMD");
  ctx.docs.completes_to(c, names);
  ctx.docs.attach(cmd, {"Prints the same help as `aliot CMD [SUB] --help`; `aliot help` alone "
                        "prints the top-level help. An unknown command is a usage error (exit 2) "
                        "with the nearest names suggested.\n\n"
                        "-h and --help print help only when given alone (after command words): "
                        "among other arguments they are a usage error (exit 2), since `-h` is not "
                        "the broker's host as in mosquitto_pub; use --host HOST or "
                        "ALIOT_MQTT_HOST.",
                        {{"aliot help rrpc serve", "The same as aliot rrpc serve --help"}},
                        {}});
  cmd->callback([&ctx] {
    ctx.action = []() -> Result<void> {
      return Error(Errc::internal, "the help command was not rewritten before parsing",
                   "this is a bug in aliot: please report it with the command you ran");
    };
  });
}

// THE list of commands, in the order `aliot --help` shows them. `whole_tree`: the command
// renders the whole command tree (so every command is built for it).
struct Command {
  std::string_view name;
  void (*add)(CLI::App& parent, Context& ctx);
  bool whole_tree;
};
constexpr std::array k_commands{
    Command{"sign", add_sign_command, false},
    Command{"config", add_config_command, false},
    Command{"connect", add_connect_command, false},
    Command{"pub", add_pub_command, false},
    Command{"sub", add_sub_command, false},
    Command{"register", add_register_command, false},
    Command{"rrpc", add_rrpc_command, false},
    Command{"prop", add_prop_command, false},
    Command{"event", add_event_command, false},
    Command{"thing", add_thing_command, false},
    Command{"ntp", add_ntp_command, false},
    Command{"ota", add_ota_command, false},
    Command{"shell", add_shell_command, false},
    Command{"cloud", add_cloud_command, false},
    Command{"burn", add_burn_command, false},
    Command{"ports", add_ports_command, false},
    Command{"pool", add_pool_command, false},
    Command{"journal", add_journal_command, false},
    Command{"emulate", add_emulate_command, false},
    Command{"bench", add_bench_command, false},
    Command{"help", add_help_command, false}, // `help CMD` builds CMD (see run())
    Command{"completion", add_completion_command, true},
    Command{"__gen-docs", add_gen_docs_command, true}, // hidden
};

// The root command: its global options, no commands yet.
std::unique_ptr<CLI::App> build_root(Context& ctx) {
  auto app = std::make_unique<CLI::App>(
      "aliot: register, connect, publish, subscribe, RRPC and factory burning for devices on "
      "Alibaba Cloud IoT Platform",
      "aliot");
  app->formatter(std::make_shared<HelpFormatter>()); // inherited by every command
  app->fallthrough(); // global options are accepted after the subcommand too
  app->set_version_flag("--version", std::string("aliot ") + k_version);
  app->require_subcommand(1);
  auto& g = ctx.globals;
  auto* out = app->add_option("-o,--output", g.output, "Output format: text, or json (JSON Lines)")
                  ->type_name("FORMAT");
  ctx.docs.choices(out, {"text", "json"});
  app->add_flag("-v,--verbose", g.verbose, "More output on stderr (repeat: info, debug, trace)");
  app->add_flag("--quiet", g.quiet, "Only errors on stderr");
  app->add_flag("--no-color", g.no_color, "No colour (also NO_COLOR)");
  app->add_flag("--strict", g.strict,
                "Refuse what would warn: secret files that other users can read, a pub topic "
                "of no topic class (--topic-classes)");
  app->add_option("--profile", g.profile, "Profile in the config file (also ALIOT_PROFILE)")
      ->type_name("NAME");
  auto* cfg = app->add_option("--config", g.config,
                              "Config file (default $XDG_CONFIG_HOME/aliot/config.json)")
                  ->type_name("FILE");
  ctx.docs.kind(cfg, ValueKind::file);
  return app;
}

void add_all_commands(CLI::App& app, Context& ctx) {
  for (const auto& c : k_commands) {
    c.add(app, ctx);
  }
}

} // namespace

std::unique_ptr<CLI::App> build_app(Context& ctx) {
  auto app = build_root(ctx);
  add_all_commands(*app, ctx);
  return app;
}

std::unique_ptr<CLI::App> build_app_for(int argc, const char* const* argv, Context& ctx) {
  auto app = build_root(ctx);
  const auto words = top_level_words(*app, argc, argv);
  if (!words.command && !words.stopped && words.version) {
    // The version flag fires before help, the required command and leftover words are
    // looked at: nothing below the root is reached.
    return app;
  }
  if (words.command) {
    for (const auto& c : k_commands) {
      if (c.name == *words.command && !c.whole_tree) {
        c.add(*app, ctx);
        return app;
      }
    }
  }
  // No command word (the top-level help and errors list or need every command), an unknown
  // one (suggestions come from every name), or a command that renders the whole tree.
  add_all_commands(*app, ctx);
  return app;
}

int run(int argc, const char* const* argv, Context& ctx) {
  std::unique_ptr<CLI::App> app;
  try {
    // `aliot help pub` builds what `aliot pub --help` builds (run() below reads it so again).
    std::vector<const char*> args(argv, argv + argc);
    Context scratch; // the root's options only, to read argv with; ctx stays untouched
    const auto help_words = help_command_words(*build_root(scratch), argc, argv);
    if (help_words) {
      args.clear();
      for (const auto& w : *help_words) {
        args.push_back(w.c_str());
      }
    }
    app = build_app_for(static_cast<int>(args.size()), args.data(), ctx);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "aliot: error: internal: building the command line failed: %s\n",
                 e.what());
    return 1;
  }
  return run(*app, argc, argv, ctx);
}

int run(CLI::App& root, int argc, const char* const* argv, Context& ctx) {
  // `aliot help pub` is `aliot pub --help` from here on.
  const auto help_words = help_command_words(root, argc, argv);
  std::vector<const char*> help_argv;
  if (help_words) {
    for (const auto& w : *help_words) {
      help_argv.push_back(w.c_str());
    }
    help_argv.push_back(nullptr);
    argc = static_cast<int>(help_words->size());
    argv = help_argv.data();
  }
  CLI::App* app = &root;
  auto& o = ctx.out;
  o.color = !ctx.globals.no_color && ctx.env.find("NO_COLOR") == ctx.env.end()
            && ::isatty(STDERR_FILENO) != 0;
  // Errors found before the globals are parsed: the output format from argv itself.
  auto early_error = [&](const Error& e) {
    Output early = o;
    early.format = json_requested(argc, argv) ? Format::json : Format::text;
    early.color = early.color && !json_requested(argc, argv);
    for (int i = 1; i < argc; ++i) {
      if (std::string_view(argv[i]) == "--no-color") {
        early.color = false;
      }
    }
    early.error(e);
    return exit_status(e.code());
  };
  auto usage_error = [&](const Error& e) {
    early_error(e);
    return exit_status(Errc::usage);
  };
  if (auto unknown = unknown_command(*app, argc, argv)) {
    return usage_error(*unknown);
  }
  if (auto help = help_words ? std::nullopt : help_among_arguments(*app, argc, argv)) {
    return usage_error(*help); // `pub -h 127.0.0.1 ...`: mosquitto's -h is our --host
  }
  // Help and the version are results too: written into a full disk they reached nobody.
  const auto checked = [&](int status) {
    errno = 0;
    std::cout.flush();
    const bool flushed = std::fflush(stdout) == 0 && std::ferror(stdout) == 0 && std::cout.good();
    if (flushed) {
      return status;
    }
    const int err = errno != 0 ? errno : EIO;
    return early_error(
        Error(Errc::io, std::string("writing to standard output failed: ") + std::strerror(err),
              "check the disk or the pipe standard output goes to"));
  };
  try {
    app->parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return checked(app->exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    return checked(app->exit(e));
  } catch (const CLI::CallForVersion&) {
    // Every argument has been read by now (-o may come before or after --version), but the
    // version flag's callback runs before -o's value is stored in the globals.
    const CLI::Option* out = app->get_option("--output");
    bool json = false;
    try {
      json = out->count() > 0 && out->as<std::string>() == "json";
    } catch (const CLI::ParseError& e) {
      return usage_error(parse_error(command_path(*app), e.what())); // -o xml --version
    }
    std::fputs(version_report(json).c_str(), stdout);
    return checked(0);
  } catch (const CLI::ParseError& e) {
    const std::string cmd = command_path(*app);
    std::string msg = e.what();
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr
        && msg.find("subcommand") != std::string::npos) {
      return usage_error(Error(Errc::usage,
                               cmd == "aliot" ? "a command is required"
                                              : cmd.substr(6) + ": a command is required",
                               "run '" + cmd + " --help' for the commands"));
    }
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      // The parser checks what is required before what is unexpected; a misspelt flag is the
      // likelier cause of both, so it is the one reported.
      const auto extra = app->remaining(true);
      if (!extra.empty()) {
        msg = extra.size() == 1 ? "The following argument was not expected: " + extra.front()
                                : "The following arguments were not expected:";
        for (std::size_t k = 0; extra.size() > 1 && k < extra.size(); ++k) {
          msg += " " + extra[k];
        }
      }
    }
    return usage_error(parse_error(cmd, msg));
  }

  o.format = ctx.globals.output == "json" ? Format::json : Format::text;
  ctx.globals.output_given = root.get_option("--output")->count() > 0;
  o.verbosity = ctx.globals.verbose;
  o.quiet = ctx.globals.quiet;
  o.color = !ctx.globals.no_color && ctx.env.find("NO_COLOR") == ctx.env.end()
            && ::isatty(STDERR_FILENO) != 0;

  if (!ctx.action) {
    std::fprintf(stderr, "aliot: error: internal: the command has no action\n");
    return 1;
  }
  try {
    auto r = ctx.action();
    if (!r) {
      o.error(r.error());
      return exit_status(r.error().code());
    }
    // What the command printed must have reached its reader: a secret printed into a full disk
    // or a closed pipe is lost, and exit 0 would say otherwise.
    errno = 0;
    const bool flushed = std::fflush(stdout) == 0 && std::ferror(stdout) == 0;
    const int e =
        o.write_errno() != 0 ? o.write_errno() : (flushed ? 0 : (errno != 0 ? errno : EIO));
    if (e != 0 && !(e == EPIPE && o.closed_pipe_ends_stream)) {
      o.error(
          Error(Errc::io,
                std::string("writing the result to standard output failed: ") + std::strerror(e),
                "what was printed reached nobody; check the disk or the pipe (a result "
                "written to --out is in that file)"));
      return exit_status(Errc::io);
    }
  } catch (const std::exception& e) {
    o.error(Error(Errc::internal, std::string("unexpected failure: ") + e.what(),
                  "this is a bug in aliot: please report it with the command you ran"));
    return 1;
  }
  return 0;
}

} // namespace aliot::cli
