#include "app.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <cstring>

extern char** environ; // NOLINT(readability-redundant-declaration)

namespace {

std::atomic<bool> g_interrupted{
    false};                         // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
std::atomic<bool> g_abandon{false}; // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

// The first SIGINT/SIGTERM asks a command to stop; a second one, to abandon what is in flight.
extern "C" void on_signal(int /*sig*/) {
  if (g_interrupted.exchange(true)) {
    g_abandon.store(true);
  }
}

} // namespace

int main(int argc, char** argv) {
  // Secrets live in this process's memory (DeviceSecrets, ProductSecrets, AccessKey secrets):
  // no core file is written and no other process of the user may read its memory.
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN); // a closed pipe is an error return, not a silent death
  // Past `ulimit -f` a write fails with EFBIG instead of killing aliot between registering a
  // device and printing its secret.
  std::signal(SIGXFSZ, SIG_IGN);

  aliot::cli::Context ctx;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const char* eq = std::strchr(*e, '=');
    if (eq != nullptr) {
      ctx.env.emplace(std::string(static_cast<const char*>(*e), eq), std::string(eq + 1));
    }
  }
  ctx.interrupted = &g_interrupted;
  ctx.abandon = &g_abandon;
  return aliot::cli::run(argc, argv, ctx);
}
