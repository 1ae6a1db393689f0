// Child processes over posix_spawn (see subprocess.hpp).
#include "util/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

extern char** environ; // NOLINT: POSIX

namespace aliot::proc {

namespace {

// A write to a child that has closed its stdin must not kill the host program with SIGPIPE:
// libaliot is a library, and a program that links it need not ignore SIGPIPE as aliot does.
// SIGPIPE is blocked in this thread for the write, and one the write raised is taken back before
// the old mask returns (one that was already pending is left for its owner).
ssize_t write_without_sigpipe(int fd, const char* data, std::size_t n) {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  const ssize_t r = ::write(fd, data, n);
  const int saved = errno;
  if (r < 0 && saved == EPIPE && !was_pending) {
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return r;
}

} // namespace

namespace {

void close_fd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

// What spawn() opened for the child, closed on every path.
struct Fds {
  int child[3] = {-1, -1, -1}; // the child's stdin, stdout, stderr (dup2'ed there)
  int parent_in = -1;          // our end of its stdin pipe
  int parent_out = -1;         // our end of its stdout pipe
  ~Fds() {
    for (int& fd : child) {
      close_fd(fd);
    }
    close_fd(parent_in);
    close_fd(parent_out);
  }
};

Error cannot(const std::string& what, int err) {
  return Error(Errc::io, what + ": " + std::strerror(err));
}

// The posix_spawn attributes and file actions, released on every path.
struct Spawn {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  Spawn() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~Spawn() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  Spawn(const Spawn&) = delete;
  Spawn& operator=(const Spawn&) = delete;
};

} // namespace

std::string Exit::describe() const {
  if (signal != 0) {
    const char* name = ::strsignal(signal);
    return "signal " + std::to_string(signal)
           + (name != nullptr ? std::string(" (") + name + ")" : "");
  }
  return "exit status " + std::to_string(code);
}

Exit Exit::from_wait_status(int status) {
  Exit e;
  if (WIFSIGNALED(status)) {
    e.signal = WTERMSIG(status);
  } else {
    e.code = WEXITSTATUS(status);
  }
  return e;
}

Result<Child> Child::spawn(const Options& o) {
  if (o.argv.empty() || o.argv[0].empty()) {
    return Error(Errc::internal, "no program to start");
  }
  const std::string& program = o.argv[0];
  Fds fds;
  // Redirections, made here so that their errors are ours to name.
  const Stdio* streams[3] = {&o.in, &o.out, &o.err};
  for (int i = 0; i < 3; ++i) {
    const Stdio& s = *streams[i];
    switch (s.kind) {
    case Stdio::Kind::inherit: break;
    case Stdio::Kind::null:
      fds.child[i] = ::open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fds.child[i] < 0) {
        return cannot("cannot open /dev/null for " + program, errno);
      }
      break;
    case Stdio::Kind::file: {
      const int flags = i == 0 ? O_RDONLY : O_WRONLY | O_CREAT | (s.append ? O_APPEND : O_TRUNC);
      fds.child[i] = ::open(s.path.c_str(), flags | O_CLOEXEC, 0600);
      if (fds.child[i] < 0) {
        return cannot("cannot open " + s.path + " for " + program, errno);
      }
      break;
    }
    case Stdio::Kind::pipe: {
      if (i == 2) {
        return Error(Errc::internal, "stderr cannot be a pipe");
      }
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) {
        return cannot("cannot make a pipe for " + program, errno);
      }
      fds.child[i] = i == 0 ? p[0] : p[1];
      (i == 0 ? fds.parent_in : fds.parent_out) = i == 0 ? p[1] : p[0];
      break;
    }
    }
  }

  Spawn sp;
  for (int i = 0; i < 3; ++i) {
    // dup2 onto 0-2 clears close-on-exec there; the originals stay close-on-exec.
    if (fds.child[i] < 0) {
      continue;
    }
    if (const int rc = posix_spawn_file_actions_adddup2(&sp.actions, fds.child[i], i); rc != 0) {
      return cannot("cannot prepare " + program, rc);
    }
  }
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&sp.attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGQUIT, SIGTERM, SIGPIPE}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&sp.attr, &defaults);
  if (o.own_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&sp.attr, 0);
  }
  posix_spawnattr_setflags(&sp.attr, flags);

  std::vector<char*> argv;
  argv.reserve(o.argv.size() + 1);
  for (const auto& a : o.argv) {
    argv.push_back(const_cast<char*>(a.c_str())); // NOLINT: posix_spawn's signature
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (o.env) {
    envp.reserve(o.env->size() + 1);
    for (const auto& kv : *o.env) {
      envp.push_back(const_cast<char*>(kv.c_str())); // NOLINT
    }
    envp.push_back(nullptr);
  }
  char** env = o.env ? envp.data() : environ;
  pid_t pid = -1;
  const bool search = program.find('/') == std::string::npos;
  const int rc = search
                     ? posix_spawnp(&pid, program.c_str(), &sp.actions, &sp.attr, argv.data(), env)
                     : posix_spawn(&pid, program.c_str(), &sp.actions, &sp.attr, argv.data(), env);
  if (rc != 0) {
    return cannot("cannot start " + program, rc);
  }
  Child c;
  c.m_pid = pid;
  c.m_group = o.own_group;
  c.m_in = std::exchange(fds.parent_in, -1);
  c.m_out = std::exchange(fds.parent_out, -1);
  return c;
}

Child::Child(Child&& o) noexcept
    : m_pid(std::exchange(o.m_pid, -1))
    , m_group(o.m_group)
    , m_exit(std::move(o.m_exit))
    , m_in(std::exchange(o.m_in, -1))
    , m_out(std::exchange(o.m_out, -1)) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    release();
    m_pid = std::exchange(o.m_pid, -1);
    m_group = o.m_group;
    m_exit = std::move(o.m_exit);
    m_in = std::exchange(o.m_in, -1);
    m_out = std::exchange(o.m_out, -1);
  }
  return *this;
}

Child::~Child() {
  release();
}

void Child::release() {
  close_in();
  close_out();
  if (m_pid > 0 && !m_exit) {
    signal(SIGKILL);
    wait();
  }
  m_pid = -1;
}

void Child::close_in() {
  close_fd(m_in);
}

void Child::close_out() {
  close_fd(m_out);
}

std::optional<Exit> Child::poll() {
  if (m_exit || m_pid <= 0) {
    return m_exit;
  }
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(m_pid, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (r == m_pid) {
    m_exit = Exit::from_wait_status(status);
  }
  return m_exit;
}

Exit Child::wait() {
  if (m_exit || m_pid <= 0) {
    return m_exit.value_or(Exit{});
  }
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(m_pid, &status, 0)) < 0 && errno == EINTR) {
  }
  m_exit = r == m_pid ? Exit::from_wait_status(status) : Exit{};
  return *m_exit;
}

void Child::signal(int sig) {
  if (m_pid <= 0 || m_exit) {
    return; // reaped: the pid may be someone else's now
  }
  ::kill(m_group ? -m_pid : m_pid, sig);
}

Exit Child::stop(std::chrono::milliseconds grace) {
  if (auto e = poll()) {
    return *e;
  }
  signal(SIGTERM);
  const auto until = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < until) {
    if (auto e = poll()) {
      return *e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  signal(SIGKILL);
  return wait();
}

Result<Captured> run(Options options,
                     std::string_view input,
                     std::size_t max_output,
                     std::chrono::steady_clock::time_point deadline) {
  options.in = Stdio::pipe();
  options.out = Stdio::pipe();
  ALIOT_TRY_ASSIGN(auto child, Child::spawn(options));
  Captured got;
  std::size_t written = 0;
  if (input.empty()) {
    child.close_in();
  } else {
    ::fcntl(child.in_fd(), F_SETFL, O_NONBLOCK);
  }
  using Clock = std::chrono::steady_clock;
  const auto left_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  };
  while (child.out_fd() >= 0) {
    const auto left = left_ms();
    if (left <= 0) {
      got.timed_out = true;
      break;
    }
    pollfd fds[2] = {{child.out_fd(), POLLIN, 0}, {child.in_fd(), POLLOUT, 0}};
    const int rc = ::poll(fds, child.in_fd() >= 0 ? 2 : 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (child.in_fd() >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n =
          write_without_sigpipe(child.in_fd(), input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        written = input.size(); // it does not read its input: fine
      }
      if (written >= input.size()) {
        child.close_in();
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buf[65536];
      const ssize_t n = ::read(child.out_fd(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        child.close_out();
        break;
      }
      const auto len = static_cast<std::size_t>(n);
      if (got.out.size() + len > max_output) {
        got.truncated = true; // read on, so it is not blocked on a full pipe
      } else {
        got.out.append(buf, len);
      }
    }
  }
  child.close_in();
  child.close_out();
  // Its stdout closed (or time is up): the rest of the deadline to exit.
  while (!got.timed_out) {
    if (auto e = child.poll()) {
      got.exit = *e;
      return got;
    }
    if (Clock::now() >= deadline) {
      got.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  child.signal(SIGKILL);
  got.exit = child.wait();
  return got;
}

} // namespace aliot::proc
