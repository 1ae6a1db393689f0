// The renderers on a hand-made model and on the live tree: escaping, determinism, structure.
#include "docgen/render.hpp"

#include "app.hpp"
#include "docgen/model.hpp"

#include <aliot/version.hpp>

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

namespace aliot::cli::docgen {
namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

struct Sample {
  CommandDoc root_doc;
  CommandDoc doc{".leading dot, a back\\slash and 30\xe2\x80\x93"
                 "1200 s\n\n'quoted line start\n\n- first point\n- second point",
                 {{"tool run --fast -n 2", "Run it fast"}},
                 {"tool-other", "mosquitto_sub(1)"}};
  CommandModel root;

  Sample() {
    root.name = "tool";
    root.path = "tool";
    root.summary = "tool: does things";
    OptionModel out;
    out.short_names = {"o"};
    out.long_names = {"output"};
    out.value_name = "FORMAT";
    out.kind = ValueKind::choice;
    out.choices = {"text", "json"};
    out.description = "Output format";
    root.options.push_back(out);
    CommandModel run;
    run.name = "run";
    run.path = "tool run";
    run.summary = "Run the thing";
    run.doc = &doc;
    OptionModel fast;
    fast.long_names = {"fast"};
    fast.description = "Go fast";
    fast.group = "Options";
    run.options.push_back(fast);
    OptionModel n;
    n.short_names = {"n"};
    n.long_names = {"count"};
    n.value_name = "N";
    n.kind = ValueKind::text;
    n.default_value = "1";
    n.envname = "TOOL_COUNT";
    n.required = true;
    n.description = "How many";
    n.group = "Options";
    run.options.push_back(n);
    OptionModel port;
    port.long_names = {"port"};
    port.value_name = "DEV";
    port.kind = ValueKind::serial_port;
    port.description = "Serial port";
    port.group = "Serial";
    run.options.push_back(port);
    OptionModel file;
    file.positional = true;
    file.positional_name = "FILE";
    file.value_name = "FILE";
    file.kind = ValueKind::file;
    file.description = "Input";
    run.options.push_back(file);
    root.children.push_back(run);
  }
};

TEST(ManRender, EscapesHyphensBackslashesLineStartsAndNonAscii) {
  Sample s;
  const auto pages = render_man(s.root, ManInputs{});
  ASSERT_EQ(pages.size(), 2U);
  const std::string& page = pages.at("tool-run.1");
  EXPECT_TRUE(contains(page, "\\&.leading dot")) << page;
  EXPECT_TRUE(contains(page, "\\&'quoted line start")) << page;
  EXPECT_TRUE(contains(page, "back\\eslash")) << page;
  EXPECT_TRUE(contains(page, "30\\[u2013]1200")) << page;
  EXPECT_TRUE(contains(page, "\\fB\\-n\\fR, \\fB\\-\\-count\\fR \\fIN\\fR")) << page;
  EXPECT_TRUE(contains(page, ".IP \\(bu 2\nfirst point\n")) << page;
  EXPECT_FALSE(contains(page, "\xe2\x80\x93")) << "raw UTF-8 left in the page";
}

TEST(ManRender, CommandPageHasSectionsExamplesFactsAndSeeAlso) {
  Sample s;
  const auto pages = render_man(s.root, ManInputs{});
  const std::string& page = pages.at("tool-run.1");
  EXPECT_TRUE(contains(page, ".TH TOOL\\-RUN 1 \"\" \"aliot\" \"User Commands\"\n")) << page;
  EXPECT_TRUE(contains(page, ".SH NAME\ntool\\-run \\- Run the thing\n")) << page;
  EXPECT_TRUE(contains(
      page, "\\fBtool run\\fR \\fB\\-\\-count\\fR \\fIN\\fR [\\fIoptions\\fR] [\\fIFILE\\fR]"))
      << page;
  EXPECT_TRUE(contains(page, ".SH ARGUMENTS\n.TP\n\\fIFILE\\fR\nInput\n")) << page;
  EXPECT_TRUE(contains(page, ".SS Serial\n")) << page;
  EXPECT_TRUE(contains(page, "Default: \\fB1\\fR. Environment: \\fBTOOL_COUNT\\fR. Required."))
      << page;
  EXPECT_TRUE(contains(
      page,
      ".SH EXAMPLES\n.PP\nRun it fast:\n.PP\n.RS 4\n.EX\ntool run \\-\\-fast \\-n 2\n.EE\n.RE\n"))
      << page;
  EXPECT_TRUE(contains(page, "\\fBtool\\fR(1), \\fBtool\\-other\\fR(1), \\fBmosquitto_sub\\fR(1)"))
      << page;
  EXPECT_TRUE(contains(page, "(\\fB\\-\\-output\\fR) are accepted here too")) << page;
}

TEST(ManRender, RootPageListsCommandsExitCodesEnvironmentAndFiles) {
  Sample s;
  ManInputs in;
  in.exit_codes = exit_codes();
  in.environment = {{"TOOL_COUNT", "How many"}};
  in.files = {{"./tool.db", "The journal"}};
  const std::string page = render_man(s.root, in).at("tool.1");
  EXPECT_TRUE(contains(page, ".SH NAME\ntool \\- does things\n")) << page;
  EXPECT_TRUE(contains(page, ".TP\n\\fBrun\\fR\nRun the thing; see \\fBtool\\-run\\fR(1).\n"))
      << page;
  EXPECT_TRUE(contains(page, ".TP\n\\fB0\\fR (ok)\n")) << page;
  EXPECT_TRUE(contains(page, ".TP\n\\fB130\\fR (interrupted)\n")) << page;
  EXPECT_TRUE(contains(page, ".SH ENVIRONMENT\n")) << page;
  EXPECT_TRUE(contains(page, ".TP\n\\fBTOOL_COUNT\\fR\nHow many\n")) << page;
  EXPECT_TRUE(contains(page, ".TP\n\\fI./tool.db\\fR\nThe journal\n")) << page;
  EXPECT_TRUE(contains(page, "One of: \\fBtext\\fR, \\fBjson\\fR.")) << page;
}

TEST(CompletionRender, ScriptsCarryChoicesFilesAndPorts) {
  Sample s;
  const std::string bash = render_bash(s.root);
  EXPECT_TRUE(contains(bash, "'run|--count'|'run|-n') REPLY='text' ;;")) << bash;
  EXPECT_TRUE(contains(bash, "'|--output'|'|-o') REPLY='choice:text json' ;;")) << bash;
  EXPECT_TRUE(contains(bash, "'run|--port') REPLY='serial_port' ;;")) << bash;
  EXPECT_TRUE(contains(bash, "'') REPLY='run' ;;")) << bash;
  EXPECT_TRUE(contains(bash, "'run') REPLY='file' ;;")) << bash;
  EXPECT_TRUE(contains(bash, "/dev/ttyUSB* /dev/ttyACM* /dev/ttyS* /dev/serial/by-id/*")) << bash;
  EXPECT_TRUE(contains(bash, "complete -F _tool tool\n")) << bash;

  const std::string zsh = render_zsh(s.root);
  EXPECT_TRUE(contains(zsh, "#compdef tool\n")) << zsh;
  EXPECT_TRUE(contains(zsh, "'(-o --output)'{-o,--output=}'[Output format]:FORMAT:(text json)'"))
      << zsh;
  EXPECT_TRUE(contains(zsh, "'--port=[Serial port]:DEV:_aliot_serial_ports'")) << zsh;
  EXPECT_TRUE(contains(zsh, "'::FILE:_files'")) << zsh;
  EXPECT_TRUE(contains(zsh, "run) _tool_run && ret=0 ;;")) << zsh;

  const std::string fish = render_fish(s.root);
  EXPECT_TRUE(
      contains(fish, "complete -c tool -s o -l output -x -a 'text json' -d 'Output format'\n"))
      << fish;
  EXPECT_TRUE(
      contains(fish, "complete -c tool -n '__tool_at \\'tool\\'' -a 'run' -d 'Run the thing'\n"))
      << fish;
  EXPECT_TRUE(contains(fish, "-l port -x -a '(__aliot_serial_ports)'")) << fish;
  EXPECT_TRUE(contains(fish, "complete -c tool -n '__tool_at \\'tool run\\'' -F\n")) << fish;
}

// The live tree: two renders are identical, and nothing depends on the date, the build or the
// version (the committed copies would go stale on every release otherwise).
TEST(LiveTree, RenderingIsDeterministicAndFreeOfPathsAndVersion) {
  auto render_all = [] {
    Context ctx;
    auto app = build_app(ctx);
    const auto model = build_model(*app, ctx.docs);
    auto files = render_man(model, default_man_inputs());
    for (auto& [name, text] : render_completions(model)) {
      files["completions/" + name] = text;
    }
    return files;
  };
  const auto a = render_all();
  const auto b = render_all();
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.count("aliot.1"));
  EXPECT_TRUE(a.count("aliot-sign.1"));
  EXPECT_TRUE(a.count("aliot-rrpc.1"));
  EXPECT_TRUE(a.count("completions/aliot.bash"));
  EXPECT_TRUE(a.count("completions/_aliot"));
  EXPECT_TRUE(a.count("completions/aliot.fish"));
  EXPECT_FALSE(a.count("aliot-__gen-docs.1"));
  for (const auto& [name, text] : a) {
    EXPECT_FALSE(contains(text, ALIOT_SOURCE_DIR)) << name;
    EXPECT_FALSE(contains(text, ALIOT_BINARY_DIR)) << name;
    EXPECT_FALSE(contains(text, "__gen-docs --")) << name << " mentions the hidden command's use";
    const auto th = text.find(".TH ");
    if (th != std::string::npos) {
      const std::string line = text.substr(th, text.find('\n', th) - th);
      EXPECT_FALSE(contains(line, k_version)) << name << ": " << line;
      EXPECT_TRUE(contains(line, " 1 \"\" ")) << name << ": no date in " << line;
    }
  }
}

TEST(LiveTree, NestedVerbsGetTheirOwnPages) {
  Context ctx;
  auto app = build_app(ctx);
  const auto model = build_model(*app, ctx.docs);
  const auto pages = render_man(model, default_man_inputs());
  for (const auto* c : flatten(model)) {
    EXPECT_TRUE(pages.count(c->page_name() + ".1")) << c->path;
  }
  EXPECT_EQ(pages.size(), flatten(model).size());
}

} // namespace
} // namespace aliot::cli::docgen
