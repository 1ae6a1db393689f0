#include "support.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ; // NOLINT

namespace aliot::test {

namespace {

std::vector<std::string> make_env(const RunOptions& opts) {
  Env base;
  if (opts.clean_env) {
    const char* path = std::getenv("PATH");
    base["PATH"] = path != nullptr ? path : "/usr/bin:/bin";
    const char* home = std::getenv("HOME");
    base["HOME"] = home != nullptr ? home : "/root";
    base["XDG_CONFIG_HOME"] = "/nonexistent-aliot-test-config";
    for (const char* keep : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TMPDIR"}) {
      if (const char* v = std::getenv(keep)) {
        base[keep] = v;
      }
    }
  } else {
    for (char** e = environ; *e != nullptr; ++e) {
      const char* eq = std::strchr(*e, '=');
      if (eq != nullptr) {
        base[std::string(static_cast<const char*>(*e), eq)] = eq + 1;
      }
    }
  }
  for (const auto& [k, v] : opts.env) {
    base[k] = v;
  }
  std::vector<std::string> out;
  out.reserve(base.size());
  for (const auto& [k, v] : base) {
    out.push_back(k + "=" + v);
  }
  return out;
}

struct Spawned {
  pid_t pid;
  int in_fd;
  int out_fd;
  int err_fd;
};

Spawned spawn(const std::vector<std::string>& argv, const RunOptions& opts) {
  int in_p[2];
  int out_p[2];
  int err_p[2];
  if (pipe2(in_p, O_CLOEXEC) != 0 || pipe2(out_p, O_CLOEXEC) != 0 || pipe2(err_p, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_p[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
  if (!opts.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&fa, opts.cwd.c_str());
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &def);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  auto envs = make_env(opts);
  std::vector<char*> envp;
  for (auto& e : envs) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in_p[0]);
  close(out_p[1]);
  close(err_p[1]);
  if (rc != 0) {
    close(in_p[1]);
    close(out_p[0]);
    close(err_p[0]);
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  return {pid, in_p[1], out_p[0], err_p[0]};
}

int decode_status(int st) {
  if (WIFEXITED(st)) {
    return WEXITSTATUS(st);
  }
  if (WIFSIGNALED(st)) {
    return 128 + WTERMSIG(st);
  }
  return -1;
}

} // namespace

ProcResult run(const std::vector<std::string>& argv, const RunOptions& opts) {
  ProcResult r;
  Spawned s = spawn(argv, opts);
  fcntl(s.in_fd, F_SETFL, O_NONBLOCK);
  std::size_t in_off = 0;
  if (opts.input.empty()) {
    close(s.in_fd);
    s.in_fd = -1;
  }
  const auto deadline = std::chrono::steady_clock::now()
                        + std::chrono::milliseconds(static_cast<long>(opts.timeout_s * 1000));
  bool out_open = true;
  bool err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[3];
    int n = 0;
    int oi = -1;
    int ei = -1;
    int ii = -1;
    if (out_open) {
      oi = n;
      fds[n++] = {s.out_fd, POLLIN, 0};
    }
    if (err_open) {
      ei = n;
      fds[n++] = {s.err_fd, POLLIN, 0};
    }
    if (s.in_fd >= 0) {
      ii = n;
      fds[n++] = {s.in_fd, POLLOUT, 0};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      kill(-s.pid, SIGKILL);
      kill(s.pid, SIGKILL);
      break;
    }
    const int pr =
        poll(fds, static_cast<nfds_t>(n), static_cast<int>(std::min<long>(left.count(), 200)));
    if (pr < 0 && errno != EINTR) {
      break;
    }
    if (oi >= 0 && (fds[oi].revents & (POLLIN | POLLHUP)) != 0) {
      const ssize_t k = read(s.out_fd, buf, sizeof buf);
      if (k <= 0) {
        out_open = false;
      } else {
        r.out.append(buf, static_cast<std::size_t>(k));
      }
    }
    if (ei >= 0 && (fds[ei].revents & (POLLIN | POLLHUP)) != 0) {
      const ssize_t k = read(s.err_fd, buf, sizeof buf);
      if (k <= 0) {
        err_open = false;
      } else {
        r.err.append(buf, static_cast<std::size_t>(k));
      }
    }
    if (ii >= 0 && fds[ii].revents != 0) {
      const ssize_t k = write(s.in_fd, opts.input.data() + in_off, opts.input.size() - in_off);
      if (k < 0 && errno != EAGAIN) {
        close(s.in_fd);
        s.in_fd = -1;
      } else if (k > 0) {
        in_off += static_cast<std::size_t>(k);
        if (in_off == opts.input.size()) {
          close(s.in_fd);
          s.in_fd = -1;
        }
      }
    }
  }
  if (s.in_fd >= 0) {
    close(s.in_fd);
  }
  close(s.out_fd);
  close(s.err_fd);
  int st = 0;
  waitpid(s.pid, &st, 0);
  r.status = decode_status(st);
  return r;
}

ProcResult run_aliot(const std::vector<std::string>& args, const RunOptions& opts) {
  std::vector<std::string> argv{aliot_bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, opts);
}

ProcResult sh(const std::string& script, const RunOptions& opts) {
  return run({"bash", "-c", script}, opts);
}

std::string aliot_bin() {
  return ALIOT_BIN;
}

std::string data_path(const std::string& name) {
  return std::string(ALIOT_SOURCE_DIR) + "/tests/data/" + name;
}

bool have_program(const std::string& name) {
  return run({"bash", "-c", "command -v " + name}).status == 0;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "aliot-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

std::string
TempDir::write(const std::string& name, const std::string& content, unsigned mode) const {
  const std::string p = file(name);
  {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << content;
  }
  chmod(p.c_str(), static_cast<mode_t>(mode));
  return p;
}

std::string TempDir::read(const std::string& name) const {
  std::ifstream f(file(name), std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Background::Background(const std::vector<std::string>& argv, const RunOptions& opts) {
  Spawned s = spawn(argv, opts);
  close(s.in_fd);
  m_pid = s.pid;
  m_out_fd = s.out_fd;
  m_err_fd = s.err_fd;
}

Background::~Background() {
  if (!m_status) {
    kill(m_pid, SIGTERM);
    if (!wait(std::chrono::milliseconds(3000))) {
      kill(-m_pid, SIGKILL);
      kill(m_pid, SIGKILL);
      wait(std::chrono::milliseconds(3000));
    }
  }
  if (m_out_fd >= 0) {
    close(m_out_fd);
  }
  if (m_err_fd >= 0) {
    close(m_err_fd);
  }
}

void Background::pump(int timeout_ms) {
  pollfd fds[2];
  int n = 0;
  if (m_out_fd >= 0) {
    fds[n++] = {m_out_fd, POLLIN, 0};
  }
  if (m_err_fd >= 0) {
    fds[n++] = {m_err_fd, POLLIN, 0};
  }
  if (n == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
    return;
  }
  if (poll(fds, static_cast<nfds_t>(n), timeout_ms) <= 0) {
    return;
  }
  char buf[65536];
  for (int i = 0; i < n; ++i) {
    if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    const ssize_t k = read(fds[i].fd, buf, sizeof buf);
    const bool is_out = fds[i].fd == m_out_fd;
    if (k <= 0) {
      close(fds[i].fd);
      (is_out ? m_out_fd : m_err_fd) = -1;
    } else {
      (is_out ? m_out : m_err).append(buf, static_cast<std::size_t>(k));
    }
  }
}

std::optional<std::string> Background::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const std::size_t nl = m_out.find('\n', m_consumed);
    if (nl != std::string::npos) {
      std::string line = m_out.substr(m_consumed, nl - m_consumed);
      m_consumed = nl + 1;
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (m_out_fd < 0)) {
      return std::nullopt;
    }
    pump(static_cast<int>(std::min<long>(left.count(), 100)));
  }
}

const char* const k_stalled_tcp_server = R"(
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    print("accepted", flush=True)
)";

std::optional<std::string> Background::wait_for(const std::string& needle,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (m_out.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || m_out_fd < 0) {
      return std::nullopt;
    }
    pump(static_cast<int>(std::min<long>(left.count(), 100)));
  }
  return m_out;
}

std::optional<std::string> Background::wait_for_err(const std::string& needle,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (m_err.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || m_err_fd < 0) {
      return std::nullopt;
    }
    pump(static_cast<int>(std::min<long>(left.count(), 100)));
  }
  return m_err;
}

void Background::signal(int sig) const {
  kill(m_pid, sig);
}

std::optional<int> Background::wait(std::chrono::milliseconds timeout) {
  if (m_status) {
    return m_status;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int st = 0;
    const pid_t r = waitpid(m_pid, &st, WNOHANG);
    if (r == m_pid) {
      // Drain what is left; a grandchild may hold the pipes open, so bound the wait.
      for (int i = 0; i < 40 && (m_out_fd >= 0 || m_err_fd >= 0); ++i) {
        pump(50);
      }
      m_status = decode_status(st);
      return m_status;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    pump(20);
  }
}

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool port_open(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

bool wait_port(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!port_open(port)) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string lower(std::string s) {
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

} // namespace aliot::test
