// One of aliot's own modules (a shared object loaded on first use, so that the commands which do
// not need its library never load it): libaliot-amqp.so (Qpid Proton) and libaliot-pg.so (libpq).
// Found in this build tree first (tests, a developer's aliot: `build_path`), else next to the
// program (../lib/aliot, ../lib64/aliot, ../lib/x86_64-linux-gnu/aliot: an installed tree moved
// as a whole), else at `install_path`. Lib-internal.
#pragma once

#include <string>
#include <string_view>

namespace aliot::util {

struct ModuleSymbol {
  void* symbol = nullptr; // the entry point; null when `error` says why
  std::string error;      // "the PostgreSQL module libaliot-pg.so was not found (looked in ...)"
};

// dlopen()s the first candidate that exists (RTLD_NOW | RTLD_LOCAL, never unloaded: a module's
// library may keep process-wide state) and returns `symbol` from it. `what` names the module in
// messages ("the AMQP module"); `build_path`/`install_path` may be null.
ModuleSymbol open_module(std::string_view what,
                         std::string_view file,
                         const char* symbol,
                         const char* build_path,
                         const char* install_path);

} // namespace aliot::util
