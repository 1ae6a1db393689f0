#include "usage.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>
#include <vector>

namespace aliot::cli {

namespace {

// Edit distance (insertions, deletions, substitutions and swaps of neighbours count one).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// An option of `app` or of the commands above it (global options are accepted anywhere).
const CLI::Option* find_option(const CLI::App* app, const std::string& name) {
  for (; app != nullptr; app = app->get_parent()) {
    if (const auto* o = app->get_option_no_throw(name)) {
      return o;
    }
  }
  return nullptr;
}

bool takes_value(const CLI::Option* o) {
  return o != nullptr && o->get_type_size_min() > 0 && o->get_expected_min() > 0;
}

// Whether argv[i] is an option (of `at` or a command above it); moves `i` past its value when
// the value is the next word. -ojson and -vvv carry everything in one word.
bool skip_option(const CLI::App* at, int argc, const char* const* argv, int& i) {
  const std::string t = argv[i];
  if (t.size() <= 1 || t[0] != '-') {
    return false;
  }
  if (t.starts_with("--")) {
    if (t.find('=') == std::string::npos && takes_value(find_option(at, t)) && i + 1 < argc) {
      ++i;
    }
  } else if (t.size() == 2 && takes_value(find_option(at, t)) && i + 1 < argc) {
    ++i; // -o json
  }
  return true;
}

// Whether the option word `t` (`-o`, `-ojson`, `--output=json`, `--no-color`) is one of the
// root's global options.
bool global_option(const CLI::App& root, const std::string& t) {
  std::string name = t;
  if (t.starts_with("--")) {
    name = t.substr(0, t.find('='));
  } else if (t.size() > 2) {
    name = t.substr(0, 2); // -ojson, -vv
  }
  return root.get_option_no_throw(name) != nullptr && name != "-h" && name != "--help";
}

} // namespace

TopLevelWords top_level_words(const CLI::App& root, int argc, const char* const* argv) {
  TopLevelWords w;
  for (int i = 1; i < argc; ++i) {
    const std::string_view t = argv[i];
    if (t == "--") {
      w.stopped = true;
      break;
    }
    if (skip_option(&root, argc, argv, i)) {
      w.version = w.version || t == "--version";
      continue;
    }
    w.command = std::string(t);
    break;
  }
  return w;
}

// Whether the command line asks for JSON (-o json, -ojson, --output json, --output=json; the
// last one wins), read from argv itself: when the parser failed, the globals were never set.
bool json_requested(int argc, const char* const* argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view t = argv[i];
    if (t == "--") {
      break;
    }
    if ((t == "-o" || t == "--output") && i + 1 < argc) {
      json = std::string_view(argv[++i]) == "json";
    } else if (t.starts_with("--output=")) {
      json = t.substr(9) == "json";
    } else if (t.size() > 2 && t[0] == '-' && t[1] == 'o') {
      json = t.substr(t[2] == '=' ? 3 : 2) == "json";
    }
  }
  return json;
}

// Walks the command line down the command tree as the parser will, skipping options and their
// values: the first word that should name a command and names none is an unknown command
// (with the nearest names as a suggestion). Done before parsing, so that `aliot nosuchcmd
// --help` is this error rather than the top-level help, and generic over the tree: a command
// added anywhere is found (and suggested) without a line here.
std::optional<Error> unknown_command(const CLI::App& root, int argc, const char* const* argv) {
  const CLI::App* at = &root;
  std::string path; // below "aliot", e.g. "emulate cloud"
  for (int i = 1; i < argc; ++i) {
    const std::string t = argv[i];
    if (t == "--") {
      break;
    }
    if (skip_option(at, argc, argv, i)) {
      continue;
    }
    const auto subs = at->get_subcommands([](const CLI::App* a) { return !a->get_name().empty(); });
    if (subs.empty()) {
      return std::nullopt; // a command that takes words of its own
    }
    const CLI::App* next = nullptr;
    for (const auto* sub : subs) {
      if (sub->check_name(t)) {
        next = sub;
      }
    }
    if (next != nullptr) {
      at = next;
      path += (path.empty() ? "" : " ") + next->get_name();
      continue;
    }
    if (!at->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty()) {
      return std::nullopt; // the word is a positional argument of this command
    }
    std::size_t best = std::string::npos;
    std::vector<std::string> near;
    for (const auto* sub : subs) {
      if (sub->get_group().empty()) {
        continue; // hidden
      }
      const std::size_t d = edit_distance(t, sub->get_name());
      if (d > 2 || d >= sub->get_name().size()) {
        continue;
      }
      if (d < best) {
        best = d;
        near.clear();
      }
      if (d == best) {
        near.push_back(sub->get_name());
      }
    }
    const std::string prefix = path.empty() ? "" : path + " ";
    const std::string where = "aliot" + (path.empty() ? "" : " " + path);
    std::string hint;
    if (!near.empty()) {
      hint = "did you mean ";
      for (std::size_t k = 0; k < near.size(); ++k) {
        hint +=
            (k == 0 ? "" : (k + 1 == near.size() ? " or " : ", ")) + ("'" + prefix + near[k]) + "'";
      }
      hint += "?";
    } else {
      hint = "run '" + where + " --help' for the commands";
    }
    return Error(Errc::usage, "unknown command '" + prefix + t + "'", hint);
  }
  return std::nullopt;
}

// -h/--help with nothing else but command words is help; with anything else (an option, a
// positional word, words after --) it is a mistake, most likely mosquitto's `-h HOST`.
std::optional<Error> help_among_arguments(const CLI::App& root, int argc, const char* const* argv) {
  const CLI::App* at = &root;
  std::string path = "aliot";
  std::optional<std::string> help;
  bool other = false;
  for (int i = 1; i < argc; ++i) {
    const std::string t = argv[i];
    if (t == "--") {
      other = other || i + 1 < argc;
      break;
    }
    if (t == "-h" || t == "--help") {
      help = help.value_or(t);
      continue;
    }
    if (t == "--version") {
      continue; // it wins over help, as it always has
    }
    if (skip_option(at, argc, argv, i)) {
      // Its value, if any, is skipped with it: `-m -h` publishes "-h". The global options (-o,
      // -v, --no-color...) say how to print, not what to do: `-o json pub --help` is help.
      other = other || !global_option(root, t);
      continue;
    }
    const CLI::App* next = nullptr;
    if (!other) {
      for (const auto* sub :
           at->get_subcommands([](const CLI::App* a) { return !a->get_name().empty(); })) {
        if (sub->check_name(t)) {
          next = sub;
        }
      }
    }
    if (next == nullptr) {
      other = true; // a positional argument
      continue;
    }
    at = next;
    path += " " + next->get_name();
  }
  if (!help || !other) {
    return std::nullopt;
  }
  const std::string broker = "the broker is --host HOST (or ALIOT_MQTT_HOST)";
  if (*help == "-h") {
    return Error(Errc::usage, "-h is help in aliot, not --host",
                 broker + "; for help run '" + path + " -h' alone");
  }
  return Error(Errc::usage, "--help takes no other arguments",
               "for help run '" + path + " --help' alone; " + broker);
}

std::optional<std::vector<std::string>>
help_command_words(const CLI::App& root, int argc, const char* const* argv) {
  int at = -1; // where the word `help` is: the first word that is not a global option
  for (int i = 1; i < argc && at < 0; ++i) {
    if (std::string_view(argv[i]) == "--") {
      return std::nullopt;
    }
    if (!skip_option(&root, argc, argv, i)) {
      if (std::string_view(argv[i]) != "help") {
        return std::nullopt;
      }
      at = i;
    }
  }
  if (at < 0) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (int i = 0; i < argc; ++i) {
    const std::string_view t = argv[i];
    if (i > at && (t == "-h" || t == "--help")) {
      return std::nullopt; // `aliot help --help`: the help command's own help
    }
    if (i != at) {
      out.emplace_back(t);
    }
  }
  out.emplace_back("--help");
  return out;
}

// A parse error in the one error form: `aliot: error: <command>: <what>` (the command named
// when it is not the top level), a hint to its --help, exit 2.
Error parse_error(const std::string& cmd, std::string msg) {
  if (!msg.empty() && msg.size() > 1 && std::isupper(static_cast<unsigned char>(msg[0])) != 0
      && std::islower(static_cast<unsigned char>(msg[1])) != 0) {
    msg[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(msg[0])));
  }
  const std::string sub = cmd == "aliot" ? "" : cmd.substr(6) + ": ";
  return Error(Errc::usage, sub + msg, "run '" + cmd + " --help' for usage");
}

} // namespace aliot::cli
