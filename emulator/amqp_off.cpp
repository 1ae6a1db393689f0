// The emulator's AMQP endpoint in an aliot built with ALIOT_AMQP=OFF (emulator/CMakeLists.txt
// compiles this instead of cloud/amqp_server.cpp): there is none. The launcher asks for none
// (amqp port 0); a plugin configuration that asks for one is refused at start.
#include "amqp_server.hpp"

namespace aliot::emu {

bool start_amqp(const AmqpOptions& o, std::string& why) {
  if (o.port <= 0) {
    return true;
  }
  why = "this aliot was built without AMQP (ALIOT_AMQP=OFF): no AMQP endpoint on port "
        + std::to_string(o.port);
  return false;
}

void amqp_publish(const std::string& /*pk*/,
                  const std::string& /*topic*/,
                  const std::string& /*payload*/) {}

void amqp_publish_status(const std::string& /*pk*/,
                         const std::string& /*topic*/,
                         const std::string& /*payload*/) {}

void stop_amqp() {}

} // namespace aliot::emu
