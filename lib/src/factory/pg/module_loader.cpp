// The PostgreSQL module (module.hpp) loaded on first use: only a postgresql:// pool loads libpq.
#include "factory/pg/module.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace aliot::factory::pg {

namespace {

namespace fs = std::filesystem;

struct Loaded {
  const Api* api = nullptr;
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
#ifdef ALIOT_PG_MODULE_BUILD
  c.emplace_back(ALIOT_PG_MODULE_BUILD);
#endif
  const std::string here = self_dir();
  if (!here.empty()) {
    c.push_back(here + "/../lib/aliot/libaliot-pg.so");
    c.push_back(here + "/../lib64/aliot/libaliot-pg.so");
    c.push_back(here + "/../lib/x86_64-linux-gnu/aliot/libaliot-pg.so");
  }
#ifdef ALIOT_PG_MODULE_INSTALL
  c.emplace_back(ALIOT_PG_MODULE_INSTALL);
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
      // Never unloaded: the connections live as long as the process.
      void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (lib == nullptr) {
        const char* why = dlerror();
        l.error = "cannot load " + path + ": " + (why != nullptr ? why : "unknown error");
        return;
      }
      void* sym = dlsym(lib, "aliot_pg_module_v1");
      if (sym == nullptr) {
        l.error = path + " has no aliot_pg_module_v1 (another aliot version?)";
        return;
      }
      // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
      l.api = reinterpret_cast<decltype(&aliot_pg_module_v1)>(sym)();
      return;
    }
    l.error = "the PostgreSQL module libaliot-pg.so was not found (looked in " + tried + ")";
  });
  return l;
}

} // namespace

Result<const Api*> api() {
  const Loaded& l = load();
  if (l.api == nullptr) {
    return Error(Errc::config, l.error,
                 "reinstall aliot: the package ships the PostgreSQL module (libpq)");
  }
  return l.api;
}

} // namespace aliot::factory::pg
