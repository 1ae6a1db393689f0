// aliot::amqp::consume: loads the AMQP module (module.hpp) on first use and calls its consumer.
#include "module.hpp"
#include "util/module.hpp"

#include <mutex>
#include <string>

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

struct Loaded {
  module::ConsumeFn consume = nullptr;
  std::string error;
};

const Loaded& load() {
  static Loaded l;
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef ALIOT_AMQP_MODULE_BUILD
    const char* build = ALIOT_AMQP_MODULE_BUILD;
#else
    const char* build = nullptr;
#endif
#ifdef ALIOT_AMQP_MODULE_INSTALL
    const char* install = ALIOT_AMQP_MODULE_INSTALL;
#else
    const char* install = nullptr;
#endif
    // Never unloaded: proton keeps process-wide state.
    auto m = util::open_module("the AMQP module", "libaliot-amqp.so", "aliot_amqp_module_v2", build,
                               install);
    if (m.symbol == nullptr) {
      l.error = m.error;
      return;
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    l.consume = reinterpret_cast<decltype(&aliot_amqp_module_v2)>(m.symbol)();
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
