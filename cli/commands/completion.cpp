// `aliot completion bash|zsh|fish` prints a completion script; the hidden `aliot __gen-docs`
// writes the man pages and completion scripts (the `update-docs` build target runs it against the
// source tree). Both render the live command tree, so nothing is written twice.
#include "commands/commands.hpp"
#include "context.hpp"
#include "docgen/model.hpp"
#include "docgen/render.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aliot::cli {

namespace {

struct CompletionOptions {
  std::string shell;
};

struct GenDocsOptions {
  std::optional<std::string> man_dir;
  std::optional<std::string> completion_dir;
  bool dump_json = false;
};

Result<void> run_completion(const CLI::App& root, Context& ctx, const CompletionOptions& o) {
  const auto model = docgen::build_model(root, ctx.docs);
  if (o.shell == "bash") {
    ctx.out.raw(docgen::render_bash(model));
  } else if (o.shell == "zsh") {
    ctx.out.raw(docgen::render_zsh(model));
  } else {
    ctx.out.raw(docgen::render_fish(model));
  }
  return ok();
}

Result<std::string> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    return Error(Errc::io, "cannot read " + p.string());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `files` into `dir` (only those whose content changed) and removes the files matching
// `is_ours` that the tree no longer produces.
Result<void> sync_dir(Context& ctx,
                      const std::filesystem::path& dir,
                      const std::map<std::string, std::string>& files,
                      bool (*is_ours)(const std::string&)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Error(Errc::io, "cannot create " + dir.string() + ": " + ec.message());
  }
  std::vector<fs::path> stale; // collected first: no removing while iterating
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && is_ours(name) && files.find(name) == files.end()) {
      stale.push_back(entry.path());
    }
  }
  std::sort(stale.begin(), stale.end());
  for (const auto& p : stale) {
    fs::remove(p, ec);
    ctx.out.line("removed " + p.string());
  }
  for (const auto& [name, text] : files) {
    const fs::path p = dir / name;
    if (fs::exists(p)) {
      auto old = read_all(p);
      if (old && *old == text) {
        continue;
      }
    }
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      return Error(Errc::io, "cannot write " + p.string());
    }
    ctx.out.line("updated " + p.string());
  }
  return ok();
}

bool is_man_page(const std::string& name) {
  return name.size() > 2 && name.compare(name.size() - 2, 2, ".1") == 0
         && (name == "aliot.1" || name.starts_with("aliot-"));
}

bool is_completion(const std::string& name) {
  return name == "aliot.bash" || name == "_aliot" || name == "aliot.fish";
}

Result<void> run_gen_docs(const CLI::App& root, Context& ctx, const GenDocsOptions& o) {
  const auto model = docgen::build_model(root, ctx.docs);
  if (o.dump_json) {
    ctx.out.raw(docgen::dump_json(model));
  }
  if (o.man_dir) {
    ALIOT_TRY(sync_dir(ctx, *o.man_dir, docgen::render_man(model, docgen::default_man_inputs()),
                       is_man_page));
  }
  if (o.completion_dir) {
    ALIOT_TRY(sync_dir(ctx, *o.completion_dir, docgen::render_completions(model), is_completion));
  }
  if (!o.dump_json && !o.man_dir && !o.completion_dir) {
    return Error(Errc::usage, "nothing to do: give --man-dir, --completion-dir or --dump-json");
  }
  return ok();
}

} // namespace

void add_completion_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<CompletionOptions>();
  auto* cmd = parent.add_subcommand("completion",
                                    "Print the shell completion script for bash, zsh or fish");
  auto* shell = cmd->add_option("shell", opts->shell, "The shell to complete for")
                    ->type_name("SHELL")
                    ->required();
  ctx.docs.choices(shell, {"bash", "zsh", "fish"});
  ctx.docs.attach(
      cmd, {"Prints a script that completes aliot's commands, nested verbs, options and option "
            "values (choices, files, serial ports) in the given shell. The scripts are generated "
            "from the same command tree as --help and the man pages.\n\n"
            "Installed packages already put them into the standard places "
            "(bash-completion, zsh site-functions, fish vendor_completions.d).",
            {{"source <(aliot completion bash)", "Enable completion in the current bash session"},
             {"aliot completion zsh > \"${fpath[1]}/_aliot\"",
              "Install the zsh completion for your user (then start a new shell)"},
             {"aliot completion fish > ~/.config/fish/completions/aliot.fish",
              "Install the fish completion for your user"}},
            {}});
  const CLI::App* root = &parent;
  cmd->callback([&ctx, opts, root] {
    set_action(ctx, opts, [root](Context& c, const CompletionOptions& o) {
      return run_completion(*root, c, o);
    });
  });
}

void add_gen_docs_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<GenDocsOptions>();
  auto* cmd = parent.add_subcommand("__gen-docs", "Write the man pages and completion scripts");
  cmd->group(""); // hidden
  auto* man =
      cmd->add_option("--man-dir", opts->man_dir, "Write aliot.1 and aliot-<command>.1 here")
          ->type_name("DIR");
  ctx.docs.kind(man, ValueKind::directory);
  auto* comp = cmd->add_option("--completion-dir", opts->completion_dir,
                               "Write aliot.bash, _aliot and aliot.fish here")
                   ->type_name("DIR");
  ctx.docs.kind(comp, ValueKind::directory);
  cmd->add_flag("--dump-json", opts->dump_json, "Print the command model as JSON");
  const CLI::App* root = &parent;
  cmd->callback([&ctx, opts, root] {
    set_action(ctx, opts,
               [root](Context& c, const GenDocsOptions& o) { return run_gen_docs(*root, c, o); });
  });
}

} // namespace aliot::cli
