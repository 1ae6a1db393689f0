#include "fake_transport.hpp"

#include <utility>

namespace aliot::test {

FakeTransport::FakeTransport(std::function<void(FakeTransport&, std::string_view)> on_write)
    : m_on_write(std::move(on_write)) {}

Result<void> FakeTransport::write(std::string_view bytes, serial::Clock::time_point /*deadline*/) {
  if (m_unplugged) {
    return Error(Errc::device, "serial port fake: the device went away (unplugged or powered off)");
  }
  m_written += bytes;
  if (m_on_write) {
    m_on_write(*this, bytes);
  }
  return ok();
}

Result<std::string> FakeTransport::read(serial::Clock::time_point /*deadline*/) {
  if (m_unplugged && m_inbox.empty()) {
    return Error(Errc::device, "serial port fake: the device went away (unplugged or powered off)");
  }
  std::string out;
  out.swap(m_inbox);
  return out;
}

} // namespace aliot::test
