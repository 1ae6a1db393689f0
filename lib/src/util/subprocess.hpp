// Starting a program as a child process: the one way aliot does it (the emulator's mosquitto
// broker, `rrpc serve --exec`'s command). posix_spawn, so nothing runs between fork and exec in
// a process with threads (no allocation, no locks), and a program that cannot be started is an
// Error naming it, not exit status 127.
//
// The child gets: the given argv and environment (none inherited unless asked), stdin, stdout
// and stderr each /dev/null, this process's own, a pipe to or from us, or a file (opened here, so
// an unwritable log is our error); an empty signal mask and the default actions of SIGINT,
// SIGQUIT, SIGTERM and SIGPIPE (a parent that blocks or ignores them does not pass that on); and,
// when asked, a process group of its own, so that a kill reaches what it started too.
//
// Lib-internal (lib/src): the emulator's launcher includes it too.
#pragma once

#include <aliot/error.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aliot::proc {

struct Stdio {
  enum class Kind { null, inherit, pipe, file };
  Kind kind = Kind::null;
  std::string path;    // Kind::file: opened for writing (O_CREAT, 0600), or reading for stdin
  bool append = false; // Kind::file: append instead of truncate

  static Stdio null() { return {}; }
  static Stdio inherit() { return {Kind::inherit, {}, false}; }
  static Stdio pipe() { return {Kind::pipe, {}, false}; }
  static Stdio file(std::string path, bool append = false) {
    return {Kind::file, std::move(path), append};
  }
};

struct Options {
  // argv[0] is the program: a path, or a name searched in this process's PATH.
  std::vector<std::string> argv;
  // "NAME=value" entries; nullopt: this process's environment.
  std::optional<std::vector<std::string>> env;
  Stdio in, out, err;
  // The child leads a new process group (its pid): signal() and the deadline of run() then
  // reach everything it started that stayed in the group.
  bool own_group = false;
};

// How a child ended.
struct Exit {
  int code = -1;  // the exit status, -1 when killed by a signal
  int signal = 0; // the signal that killed it, 0 when it exited
  bool ok() const { return signal == 0 && code == 0; }
  // "exit status 3", "signal 9 (Killed)".
  std::string describe() const;
  static Exit from_wait_status(int status);
};

class Child {
public:
  // Errc::io naming the program (and why) when it cannot be started, or a file to redirect to
  // cannot be opened.
  static Result<Child> spawn(const Options& options);

  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  // A child still running is killed (SIGKILL, its group when it leads one) and reaped.
  ~Child();

  pid_t pid() const { return m_pid; }
  // Our ends of the pipes (close-on-exec), -1 when that stream is not a pipe or was closed.
  int in_fd() const { return m_in; }
  int out_fd() const { return m_out; }
  void close_in();
  void close_out();

  // The exit once it ended (reaped then), nullopt while it runs.
  std::optional<Exit> poll();
  // Waits until it ends.
  Exit wait();
  // Sends `sig` to the child, or to its process group when it leads one; nothing once reaped.
  void signal(int sig);
  // SIGTERM, up to `grace` to exit, then SIGKILL; the exit.
  Exit stop(std::chrono::milliseconds grace);

private:
  Child() = default;
  void release();

  pid_t m_pid = -1;
  bool m_group = false;
  std::optional<Exit> m_exit;
  int m_in = -1, m_out = -1;
};

// What run() saw.
struct Captured {
  Exit exit;
  std::string out;        // its stdout, at most max_output bytes
  bool truncated = false; // it wrote more (the rest was read and dropped)
  bool timed_out = false; // still running at the deadline: killed (its group with own_group)
};

// Runs the program to its end: `input` written to its stdin (then closed; a program that does not
// read it is fine), its stdout collected, both bounded by `deadline`. stdin and stdout of
// `options` are made pipes. After its stdout closes it has until the deadline to exit.
Result<Captured> run(Options options,
                     std::string_view input,
                     std::size_t max_output,
                     std::chrono::steady_clock::time_point deadline);

} // namespace aliot::proc
