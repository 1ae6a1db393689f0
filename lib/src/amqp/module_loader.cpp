// aliot::amqp::consume: loads the AMQP module (module.hpp) on first use and calls its consumer.
#include "module.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace aliot::amqp {

#ifdef ALIOT_NO_AMQP

// Built with ALIOT_AMQP=OFF: no module to load. Errc::config (exit 3), like a missing module: this
// installation cannot subscribe, whatever the command line.
Result<ConsumeStats> consume(const ConsumerOptions& /*o*/, const Handler& /*handler*/) {
  return Error(Errc::config, "this aliot was built without AMQP (ALIOT_AMQP=OFF)",
               "use an aliot built with ALIOT_AMQP=ON (the default; needs Qpid Proton C++), "
               "such as the Debian package");
}

#else

namespace {

namespace fs = std::filesystem;

struct Loaded {
  module::ConsumeFn consume = nullptr;
  std::string error;
};

// The directory of the running program, for an installed tree moved as a whole.
std::string self_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
  if (n <= 0) {
    return {};
  }
  return fs::path(std::string(buf, static_cast<std::size_t>(n))).parent_path().string();
}

std::vector<std::string> candidates() {
  std::vector<std::string> c;
#ifdef ALIOT_AMQP_MODULE_BUILD
  c.emplace_back(ALIOT_AMQP_MODULE_BUILD);
#endif
  const std::string here = self_dir();
  if (!here.empty()) {
    c.push_back(here + "/../lib/aliot/libaliot-amqp.so");
    c.push_back(here + "/../lib64/aliot/libaliot-amqp.so");
    c.push_back(here + "/../lib/x86_64-linux-gnu/aliot/libaliot-amqp.so");
  }
#ifdef ALIOT_AMQP_MODULE_INSTALL
  c.emplace_back(ALIOT_AMQP_MODULE_INSTALL);
#endif
  return c;
}

const Loaded& load() {
  static Loaded l;
  static std::once_flag once;
  std::call_once(once, [] {
    std::string tried;
    for (const auto& path : candidates()) {
      std::error_code ec;
      if (!fs::exists(path, ec)) {
        tried += (tried.empty() ? "" : ", ") + path;
        continue;
      }
      // Never unloaded: proton keeps process-wide state.
      void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr) {
        const char* why = dlerror();
        l.error = "cannot load " + path + ": " + (why != nullptr ? why : "unknown error");
        return;
      }
      void* sym = dlsym(lib, "aliot_amqp_module_v2");
      if (sym == nullptr) {
        l.error = path + " has no aliot_amqp_module_v2 (another aliot version?)";
        return;
      }
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
      l.consume = reinterpret_cast<decltype(&aliot_amqp_module_v2)>(sym)();
      return;
    }
    l.error = "the AMQP module libaliot-amqp.so was not found (looked in " + tried + ")";
  });
  return l;
}

} // namespace

Result<ConsumeStats> consume(const ConsumerOptions& o, const Handler& handler) {
  const Loaded& l = load();
  if (l.consume == nullptr) {
    return Error(Errc::config, l.error, "reinstall aliot: the package ships the AMQP module");
  }
  return l.consume(o, handler);
}

#endif

} // namespace aliot::amqp
