// Test support: temporary directories, running the built `aliot` (and any peer program) as a
// real process with pipes, and background processes (brokers, emulators, subscribers).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aliot::test {

using Env = std::map<std::string, std::string>;

struct ProcResult {
  int status = -1; // exit status, or 128+signal
  std::string out;
  std::string err;
  bool timed_out = false;
};

struct RunOptions {
  std::string input;     // written to stdin, then stdin is closed
  Env env;               // added to the base environment
  bool clean_env = true; // base = PATH + HOME + XDG_CONFIG_HOME (empty dir); else inherit
  double timeout_s = 60; // the process is killed after this
  std::string cwd;
};

// Runs argv[0] (looked up in PATH) and collects everything.
ProcResult run(const std::vector<std::string>& argv, const RunOptions& opts = {});
// Runs the built aliot binary.
ProcResult run_aliot(const std::vector<std::string>& args, const RunOptions& opts = {});
// Runs `bash -c script`.
ProcResult sh(const std::string& script, const RunOptions& opts = {});

std::string aliot_bin();
std::string data_path(const std::string& name); // tests/data/<name>
bool have_program(const std::string& name);

class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return m_path; }
  std::string file(const std::string& name) const { return m_path + "/" + name; }
  // Writes a file with the given mode and returns its path.
  std::string
  write(const std::string& name, const std::string& content, unsigned mode = 0600) const;
  std::string read(const std::string& name) const;

private:
  std::string m_path;
};

// A process running in the background with its stdout/stderr captured.
class Background {
public:
  Background(const std::vector<std::string>& argv, const RunOptions& opts = {});
  ~Background(); // SIGTERM, then SIGKILL after 3 s
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  pid_t pid() const { return m_pid; }
  // Waits for a complete stdout line (without '\n'); nullopt on timeout or EOF.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Waits until stdout contains `needle` (returns everything read so far, or nullopt).
  std::optional<std::string> wait_for(const std::string& needle, std::chrono::milliseconds timeout);
  // The same for stderr (a command's -v progress lines: "waiting for a unit").
  std::optional<std::string> wait_for_err(const std::string& needle,
                                          std::chrono::milliseconds timeout);
  void signal(int sig) const;
  // Waits for exit (collecting the remaining output); returns the status or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  const std::string& out() const { return m_out; }
  const std::string& err() const { return m_err; }

private:
  void pump(int timeout_ms);
  pid_t m_pid = -1;
  int m_out_fd = -1;
  int m_err_fd = -1;
  std::string m_out;
  std::string m_err;
  std::size_t m_consumed = 0;
  std::optional<int> m_status;
};

// A free TCP port on 127.0.0.1 (bind to port 0, read it back, close).
int free_port();
// Whether something accepts a TCP connection on 127.0.0.1:port right now.
bool port_open(int port);
// Polls port_open every 20 ms until it answers (true) or `timeout` passes (false).
// A python3 program that accepts every TCP connection on a free loopback port and holds it open
// without reading or answering; it prints the port, then "accepted" for each connection (for
// `Background({"python3", "-c", k_stalled_tcp_server})`: a server that stalls every request).
extern const char* const k_stalled_tcp_server;

bool wait_port(int port, std::chrono::milliseconds timeout = std::chrono::seconds(10));

// ASCII lower case (hex digests differ in case between tools).
std::string lower(std::string s);

} // namespace aliot::test
