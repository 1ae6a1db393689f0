// A secret (DeviceSecret, ProductSecret, AccessKey secret, device token) that never prints
// itself: there is no stream operator and no fmt formatter, so it cannot reach a log by
// accident. Only reveal() yields the text; the buffer is wiped when the object dies.
#pragma once

#include <string>
#include <string_view>

namespace aliot {

class Secret {
public:
  Secret() = default;
  explicit Secret(std::string value)
      : m_value(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(const Secret& other);
  Secret& operator=(Secret&& other) noexcept;
  ~Secret();

  const std::string& reveal() const { return m_value; }
  bool empty() const { return m_value.empty(); }
  std::size_t size() const { return m_value.size(); }

  // What logs, traces and `config show` print in place of the value.
  static constexpr std::string_view redacted = "<redacted>";

  friend bool operator==(const Secret& a, const Secret& b);

private:
  void wipe();
  std::string m_value;
};

} // namespace aliot
