// Where everything a command says goes: results to stdout, everything else to stderr, in text
// or JSON Lines. No CLI11 or JSON types here (this header is included everywhere).
#pragma once

#include <aliot/error.hpp>
#include <aliot/log.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace aliot::cli {

enum class Format { text, json };

class Output {
public:
  Format format = Format::text;
  int verbosity = 0; // -v count
  bool quiet = false;
  bool color = false;

  bool json() const { return format == Format::json; }

  // One result line on stdout, flushed (pipes see it at once). False when stdout refused it (a
  // reader that went away: EPIPE, or a full disk): a streaming command stops there.
  bool line(std::string_view text) const;
  // Result lines `name  value`, the values aligned two columns after the longest name.
  void fields(std::initializer_list<std::pair<std::string_view, std::string>> rows) const;
  // Raw bytes on stdout, flushed; false as for line().
  bool raw(std::string_view bytes) const;
  // The errno of the first write to stdout that failed, or 0. Every command's output is checked
  // once more when it ends: a result that reached nobody is an error (exit 10), except a closed
  // pipe under a streaming command that declared the reader's leaving a normal end.
  int write_errno() const { return m_write_errno; }
  bool closed_pipe_ends_stream = false;

  // `aliot: error: ...` (+ hint) on stderr; under -o json also the JSON error line.
  void error(const Error& e) const;
  void warn(std::string_view message) const;
  void info(std::string_view message) const;  // shown with -v
  void debug(std::string_view message) const; // shown with -vv
  void trace(std::string_view message) const; // shown with -vvv
  // `aliot: message` on stderr unless -q (a closing summary).
  void note(std::string_view message) const;
  // Bytes on stderr as they are, no newline, flushed, unless -q (a progress line redrawn with
  // \r on a terminal).
  void status(std::string_view text) const;

  // A Logger for library calls, writing to stderr with the verbosity above.
  Logger logger() const;

private:
  bool written(bool ok) const;
  mutable int m_write_errno = 0;
};

} // namespace aliot::cli
