// Fault tests' shared parts: an emulator that can be killed with SIGKILL and restarted on the
// same state directory and ports, and small process helpers.
#pragma once

#include "support.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace aliot::test {

inline std::vector<std::string> cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    out.push_back(l);
  }
  return out;
}

// Waits until the process's stderr holds `needle` at least `times` times (false on timeout).
inline bool wait_err(Background& p,
                     const std::string& needle,
                     std::chrono::milliseconds timeout,
                     std::size_t times = 1) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    std::size_t n = 0;
    for (auto pos = p.err().find(needle); pos != std::string::npos;
         pos = p.err().find(needle, pos + 1)) {
      ++n;
    }
    if (n >= times) {
      return true;
    }
    p.wait_for("\x01never", std::chrono::milliseconds(50));
  }
  return false;
}

// `aliot emulate cloud` on a state directory and five fixed loopback ports, so that it can be
// killed (SIGKILL to the launcher and its broker, the whole process group) and started again
// where the devices expect it.
class KillableEmulator {
public:
  KillableEmulator()
      : m_state(m_dir.path() + "/state") {
    for (int i = 0; i < 5; ++i) {
      int p = 0;
      do {
        p = free_port();
      } while (std::find(m_ports.begin(), m_ports.end(), p) != m_ports.end());
      m_ports.push_back(p);
    }
    start();
  }
  ~KillableEmulator() {
    if (m_proc) {
      m_proc->signal(SIGTERM);
      m_proc->wait(std::chrono::seconds(10));
    }
  }
  KillableEmulator(const KillableEmulator&) = delete;
  KillableEmulator& operator=(const KillableEmulator&) = delete;

  void start() {
    m_proc = std::make_unique<Background>(std::vector<std::string>{
        aliot_bin(), "emulate", "cloud", "--dir", m_state, "--mqtt-port",
        std::to_string(m_ports[0]), "--mqtts-port", std::to_string(m_ports[1]), "--https-port",
        std::to_string(m_ports[2]), "--api-port", std::to_string(m_ports[3]), "--amqp-port",
        std::to_string(m_ports[4])});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      auto line = m_proc->read_line(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (!line) {
        break;
      }
      const std::string prefix = "export ";
      const auto eq = line->find('=');
      if (line->rfind(prefix, 0) != 0 || eq == std::string::npos) {
        continue;
      }
      std::string v = line->substr(eq + 1);
      if (v.size() >= 2 && v.front() == '\'') {
        v = v.substr(1, v.size() - 2);
      }
      m_env[line->substr(prefix.size(), eq - prefix.size())] = v;
      if (line->find("ALIOT_API_ENDPOINT") != std::string::npos) {
        return;
      }
    }
    throw std::runtime_error("aliot emulate cloud did not start: " + m_proc->err());
  }

  // SIGKILL to the launcher and the broker at once (no clean shutdown, no DISCONNECTs sent).
  void kill9() {
    ::kill(-m_proc->pid(), SIGKILL);
    m_proc->wait(std::chrono::seconds(10));
    m_proc.reset();
  }

  const Env& env() const { return m_env; }
  const std::string& dir() const { return m_state; }

  ProcResult admin(const std::vector<std::string>& args, const Env& env = {}) const {
    std::vector<std::string> a{"emulate", "cloud", args.front(), "--dir", m_state};
    a.insert(a.end(), args.begin() + 1, args.end());
    return run_aliot(a, {.env = env});
  }

private:
  TempDir m_dir;
  std::string m_state;
  std::vector<int> m_ports;
  std::unique_ptr<Background> m_proc;
  Env m_env;
};

} // namespace aliot::test
