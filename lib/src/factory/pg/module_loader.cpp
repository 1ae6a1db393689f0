// The PostgreSQL module (module.hpp) loaded on first use: only a postgresql:// pool loads libpq.
#include "factory/pg/module.hpp"
#include "util/module.hpp"

#include <mutex>
#include <string>

namespace aliot::factory::pg {

namespace {

struct Loaded {
  const Api* api = nullptr;
  std::string error;
};

const Loaded& load() {
  static Loaded l;
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef ALIOT_PG_MODULE_BUILD
    const char* build = ALIOT_PG_MODULE_BUILD;
#else
    const char* build = nullptr;
#endif
    // Never unloaded: the connections live as long as the process.
    auto m = util::open_module("the PostgreSQL module", "libaliot-pg.so", "aliot_pg_module_v1",
                               build, ALIOT_PG_MODULE_INSTALL);
    if (m.symbol == nullptr) {
      l.error = m.error;
      return;
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    l.api = reinterpret_cast<decltype(&aliot_pg_module_v1)>(m.symbol)();
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
