// The terminal side of `aliot shell`: line editing, history and completion through libedit's
// readline-compatible callback interface, so the caller's loop keeps the device session running
// while the user types, and a message that arrives is printed above the prompt with the line
// being edited redrawn after it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::cli {

class LineEditor {
public:
  // `on_line` gets each line the user entered, or nullopt at end of input (Ctrl-D).
  // `complete(line, word_start)` returns the candidates for the word at `word_start`.
  LineEditor(std::string prompt,
             std::function<void(std::optional<std::string>)> on_line,
             std::function<std::vector<std::string>(std::string_view, int)> complete);
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  // Why libedit cannot be used (it is loaded on first use), or "".
  static std::string load_error();

  // Reads what the terminal has (call when standard input is readable).
  void read_char();
  void set_prompt(const std::string& prompt);
  // Prints `text` (whole lines) above the prompt and redraws the prompt and the line being edited.
  void print_above(std::string_view text);
  // Loads the history file (missing is fine); returns an error text when it cannot be read.
  std::string load_history(const std::string& path);
  // Adds a line to the history unless it would keep a secret (see keeps_secret).
  void remember(const std::string& line);
  // Writes the history to `path` (0600, atomically); an error text or "".
  std::string save_history(const std::string& path);
};

// Whether a history line holds a secret typed as an argument (a --*secret*/--*token*/--password
// flag, or a *SECRET*= assignment): such lines are never written to the history file.
bool keeps_secret(std::string_view line);

// $XDG_STATE_HOME/aliot/history, else ~/.local/state/aliot/history ("" when neither is known).
std::string history_path(const std::function<std::optional<std::string>(const char*)>& getenv);

} // namespace aliot::cli
