// An in-memory serial Transport for tests: every write is handed to `on_write`, which may answer
// with push(); read() returns what was pushed, or "" at once (the deadline counts as passed).
#pragma once

#include <aliot/serial/transport.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace aliot::test {

class FakeTransport final : public serial::Transport {
public:
  explicit FakeTransport(std::function<void(FakeTransport&, std::string_view)> on_write = {});
  Result<void> write(std::string_view bytes, serial::Clock::time_point deadline) override;
  Result<std::string> read(serial::Clock::time_point deadline) override;
  void discard_input() override { m_inbox.clear(); }
  bool link_lost() const override { return m_unplugged; }
  const std::string& name() const override { return m_name; }

  void push(std::string_view bytes) { m_inbox += bytes; }
  void unplug() { m_unplugged = true; }
  const std::string& written() const { return m_written; }

private:
  std::function<void(FakeTransport&, std::string_view)> m_on_write;
  std::string m_inbox;
  std::string m_written;
  std::string m_name = "fake";
  bool m_unplugged = false;
};

} // namespace aliot::test
