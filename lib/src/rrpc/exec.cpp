// `sh -c COMMAND` as the answerer of one RRPC request, bounded by the platform's deadline.
#include <aliot/rrpc.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace aliot::rrpc {

namespace {

std::string deadline_text(std::chrono::milliseconds limit) {
  if (limit == k_deadline) {
    return "the platform's 8 s RRPC deadline";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(limit.count()) / 1000.0);
  return std::string("its ") + buf + " s deadline";
}

// The command answers a request; it is not the device: the variables that carry a secret
// (DeviceSecret, device token, ProductSecret, AccessKey secret) stay out of its environment.
bool holds_secret(std::string_view name) {
  for (const auto& k : config::keys()) {
    if (k.secret && !k.env.empty() && name == k.env) {
      return true;
    }
  }
  return false;
}

} // namespace

Result<std::string> run_command(const std::string& command,
                                const std::string& input,
                                const config::Env& env,
                                const Request& request,
                                std::string_view request_topic,
                                std::chrono::milliseconds limit) {
  int in_pipe[2];
  int out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    return Error(Errc::io, std::string("pipe: ") + std::strerror(errno));
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    const int e = errno;
    close(in_pipe[0]);
    close(in_pipe[1]);
    return Error(Errc::io, std::string("pipe: ") + std::strerror(e));
  }
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) {
    if (name != "ALIOT_RRPC_ID" && name != "ALIOT_RRPC_TOPIC" && !holds_secret(name)) {
      env_strings.push_back(name + "=" + value);
    }
  }
  env_strings.push_back("ALIOT_RRPC_ID=" + request.id);
  env_strings.push_back("ALIOT_RRPC_TOPIC=" + std::string(request_topic));
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]}) {
      close(fd);
    }
    return Error(Errc::io, std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    // Its own process group, so that the deadline kills what the command started too (a
    // pipeline, a backgrounded helper), not only the shell.
    setpgid(0, 0);
    dup2(in_pipe[0], STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    execve("/bin/sh", const_cast<char* const*>(argv), envp.data()); // NOLINT
    _exit(127);
  }
  setpgid(pid, pid); // also here: whichever of parent and child runs first
  close(in_pipe[0]);
  close(out_pipe[1]);
  int in_fd = in_pipe[1];
  const int out_fd = out_pipe[0];
  fcntl(in_fd, F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (input.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  std::string out;
  bool too_big = false;
  const auto deadline = mqtt::after(limit);
  bool timed_out = false;
  while (true) {
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mqtt::Clock::now())
            .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    const int rc = poll(fds, in_fd >= 0 ? 2 : 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) != 0) {
      const ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      if (n > 0) {
        written += static_cast<std::size_t>(n);
      }
      if (n < 0 && errno != EAGAIN) {
        written = input.size(); // the command does not read its input: fine
      }
      if (written >= input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buf[65536];
      const ssize_t n = read(out_fd, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      if (out.size() + static_cast<std::size_t>(n) > k_max_reply) {
        too_big = true;
      } else {
        out.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  if (in_fd >= 0) {
    close(in_fd);
  }
  close(out_fd);
  int status = 0;
  // stdout closed (or time is up): give the command the rest of the deadline to exit
  while (!timed_out && waitpid(pid, &status, WNOHANG) == 0) {
    if (mqtt::Clock::now() >= deadline) {
      timed_out = true;
      break;
    }
    usleep(2000);
  }
  if (timed_out) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    return Error(Errc::timeout, "the command ran past " + deadline_text(limit) + " and was killed");
  }
  if (WIFSIGNALED(status)) {
    return Error(Errc::remote,
                 "the command was killed by signal " + std::to_string(WTERMSIG(status)));
  }
  if (WEXITSTATUS(status) != 0) {
    return Error(Errc::remote,
                 "the command failed with exit status " + std::to_string(WEXITSTATUS(status)));
  }
  if (too_big) {
    return Error(Errc::usage, "the reply is over the platform's limit of 256 KB");
  }
  return out;
}

} // namespace aliot::rrpc
