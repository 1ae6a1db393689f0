// libedit behind LineEditor (shell_line.hpp).
#include "commands/shell_line.hpp"

#include <dlfcn.h>
#include <editline/readline.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>

namespace aliot::cli {

namespace {

// libedit is loaded when a shell starts at a terminal, not linked: every other command (and
// `aliot --version`) starts without it and the four libraries it pulls in (docs/performance.md).
// Its readline interface, resolved by name; the declarations of <editline/readline.h> give the
// types.
struct Edit {
  decltype(&::rl_callback_handler_install) callback_handler_install = nullptr;
  decltype(&::rl_callback_handler_remove) callback_handler_remove = nullptr;
  decltype(&::rl_callback_read_char) callback_read_char = nullptr;
  decltype(&::rl_set_prompt) set_prompt = nullptr;
  decltype(&::rl_forced_update_display) forced_update_display = nullptr;
  decltype(&::rl_completion_matches) completion_matches = nullptr;
  decltype(&::stifle_history) stifle_history = nullptr;
  decltype(&::read_history) read_history = nullptr;
  decltype(&::write_history) write_history = nullptr;
  decltype(&::add_history) add_history = nullptr;
  decltype(&::rl_readline_name) readline_name = nullptr;
  decltype(&::rl_basic_word_break_characters) basic_word_break_characters = nullptr;
  decltype(&::rl_attempted_completion_function) attempted_completion_function = nullptr;
  decltype(&::rl_attempted_completion_over) attempted_completion_over = nullptr;
  decltype(&::rl_line_buffer) line_buffer = nullptr;
  std::string error;
};

template <class T>
bool resolve(void* lib, const char* name, T& out, std::string& error) {
  void* sym = ::dlsym(lib, name);
  if (sym == nullptr) {
    error = std::string("libedit.so.2 has no ") + name;
    return false;
  }
  out = reinterpret_cast<T>(sym); // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
  return true;
}

const Edit& edit() {
  static const Edit e = [] {
    Edit x;
    // Never unloaded. The soname of Debian's libedit2.
    void* lib = ::dlopen("libedit.so.2", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      x.error = std::string("cannot load libedit (the libedit2 package): ")
                + (why != nullptr ? why : "libedit.so.2 not found");
      return x;
    }
    std::string& err = x.error;
    resolve(lib, "rl_callback_handler_install", x.callback_handler_install, err)
        && resolve(lib, "rl_callback_handler_remove", x.callback_handler_remove, err)
        && resolve(lib, "rl_callback_read_char", x.callback_read_char, err)
        && resolve(lib, "rl_set_prompt", x.set_prompt, err)
        && resolve(lib, "rl_forced_update_display", x.forced_update_display, err)
        && resolve(lib, "rl_completion_matches", x.completion_matches, err)
        && resolve(lib, "stifle_history", x.stifle_history, err)
        && resolve(lib, "read_history", x.read_history, err)
        && resolve(lib, "write_history", x.write_history, err)
        && resolve(lib, "add_history", x.add_history, err)
        && resolve(lib, "rl_readline_name", x.readline_name, err)
        && resolve(lib, "rl_basic_word_break_characters", x.basic_word_break_characters, err)
        && resolve(lib, "rl_attempted_completion_function", x.attempted_completion_function, err)
        && resolve(lib, "rl_attempted_completion_over", x.attempted_completion_over, err)
        && resolve(lib, "rl_line_buffer", x.line_buffer, err);
    return x;
  }();
  return e;
}

// The one editor of the process (libedit's readline interface is process-wide).
struct Current {
  std::function<void(std::optional<std::string>)> on_line;
  std::function<std::vector<std::string>(std::string_view, int)> complete;
  std::vector<std::string> matches;
  std::string prompt;
  bool got_line = false;
};
Current* g_current = nullptr;

void line_handler(char* line) {
  if (g_current == nullptr) {
    std::free(line);
    return;
  }
  g_current->got_line = true;
  std::optional<std::string> text;
  if (line != nullptr) {
    text = std::string(line);
    std::free(line);
  }
  g_current->on_line(std::move(text));
}

char* generator(const char* text, int state) {
  static std::size_t next = 0;
  if (state == 0) {
    next = 0;
  }
  const std::string_view prefix(text);
  while (g_current != nullptr && next < g_current->matches.size()) {
    const std::string& m = g_current->matches[next++];
    if (m.compare(0, prefix.size(), prefix) == 0) {
      return strdup(m.c_str());
    }
  }
  return nullptr;
}

char** attempted_completion(const char* text, int start, int /*end*/) {
  const Edit& e = edit();
  *e.attempted_completion_over = 1; // never fall back to file names
  if (g_current == nullptr) {
    return nullptr;
  }
  const char* buffer = *e.line_buffer;
  const std::string_view line(buffer != nullptr ? buffer : "");
  g_current->matches = g_current->complete(line, start);
  return e.completion_matches(text, generator);
}

} // namespace

LineEditor::LineEditor(std::string prompt,
                       std::function<void(std::optional<std::string>)> on_line,
                       std::function<std::vector<std::string>(std::string_view, int)> complete) {
  const Edit& e = edit();
  g_current = new Current{std::move(on_line), std::move(complete), {}, std::move(prompt)};
  *e.readline_name = "aliot";
  *e.basic_word_break_characters = " \t\n\"'";
  *e.attempted_completion_function = attempted_completion;
  e.stifle_history(1000);
  e.callback_handler_install(g_current->prompt.c_str(), line_handler);
}

LineEditor::~LineEditor() {
  edit().callback_handler_remove();
  delete g_current;
  g_current = nullptr;
}

void LineEditor::read_char() {
  edit().callback_read_char();
  if (g_current->got_line) {
    // libedit leaves unbuffered (character at a time) mode when it hands over a line; installing
    // the handler again restores it, clears the line and draws the prompt, so the next key is
    // read at once and the loop goes on receiving while the user types.
    g_current->got_line = false;
    edit().callback_handler_install(g_current->prompt.c_str(), line_handler);
  }
}

void LineEditor::set_prompt(const std::string& prompt) {
  if (prompt == g_current->prompt) {
    return;
  }
  g_current->prompt = prompt;
  edit().set_prompt(g_current->prompt.c_str());
  print_above("");
}

void LineEditor::print_above(std::string_view text) {
  // Back to the start of the prompt's line, clear it, print, and let libedit draw the prompt and
  // the edited line again below (EL_REFRESH keeps the line and the cursor).
  std::string out = "\r\033[K";
  out += text;
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  edit().forced_update_display();
}

std::string LineEditor::load_history(const std::string& path) {
  if (path.empty() || ::access(path.c_str(), F_OK) != 0) {
    return {};
  }
  if (edit().read_history(path.c_str()) != 0) {
    return "cannot read the history " + path;
  }
  return {};
}

void LineEditor::remember(const std::string& line) {
  if (line.find_first_not_of(" \t") == std::string::npos || keeps_secret(line)) {
    return;
  }
  edit().add_history(line.c_str());
}

std::string LineEditor::save_history(const std::string& path) {
  if (path.empty()) {
    return {};
  }
  // The directory, 0700 as XDG asks of state directories.
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return "cannot create " + dir + ": " + std::strerror(errno);
    }
  }
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return "cannot write " + tmp + ": " + std::strerror(errno);
  }
  ::close(fd);
  if (edit().write_history(tmp.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return "cannot write the history " + tmp;
  }
  const int sync_fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = sync_fd >= 0 && ::fsync(sync_fd) == 0;
  if (sync_fd >= 0) {
    ::close(sync_fd);
  }
  if (!synced || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "cannot write the history " + path + ": " + why;
  }
  return {};
}

std::string LineEditor::load_error() {
  return edit().error;
}

bool keeps_secret(std::string_view line) {
  static const std::regex secret(
      R"((^|\s)--?[A-Za-z0-9_-]*(secret|token|password)|[A-Za-z0-9_]*(SECRET|TOKEN|PASSWORD)[A-Za-z0-9_]*=)",
      std::regex::icase);
  return std::regex_search(line.begin(), line.end(), secret);
}

std::string history_path(const std::function<std::optional<std::string>(const char*)>& getenv) {
  if (auto s = getenv("XDG_STATE_HOME"); s && !s->empty() && (*s)[0] == '/') {
    return *s + "/aliot/history";
  }
  if (auto h = getenv("HOME"); h && !h->empty()) {
    return *h + "/.local/state/aliot/history";
  }
  return {};
}

} // namespace aliot::cli
