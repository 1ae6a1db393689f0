// What a switch answers, byte for byte: the whole burn flow of either dialect against a device
// whose every answer comes from the fuzzer (garbage, truncated lines, bad CRCs, \HH escapes and raw
// bytes in the SN, MAC or +PROTO:). The first byte picks the dialect; then each answer is the next
// chunk up to a 0x00 byte, handed back when the host writes a command.
#include "fake_transport.hpp"
#include "fuzz_support.hpp"

#include <aliot/log.hpp>
#include <aliot/serial/burn.hpp>
#include <aliot/serial/channel.hpp>
#include <aliot/serial/dialect.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aliot;
  if (size < 1) {
    return 0;
  }
  const std::string_view dialect = (data[0] & 1U) != 0 ? "smartliving" : "alsw1";
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

  test::FakeTransport fake([&rest](test::FakeTransport& t, std::string_view /*written*/) {
    if (rest.empty()) {
      return;
    }
    const auto cut = rest.find('\0');
    t.push(rest.substr(0, cut));
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
  });
  // Everything a trace shows of the device's bytes is text too (a terminal, a log file).
  Logger log(LogLevel::trace, [](LogLevel, std::string_view m) {
    if (!enc::is_valid_utf8(m)) {
      fuzz::fail("a trace line is not valid UTF-8");
    }
  });
  serial::AtChannel ch(fake, log);
  auto d = serial::make_dialect(dialect, ch);
  if (!d) {
    fuzz::fail("make_dialect refused a known dialect");
  }
  serial::BurnPlan plan;
  plan.credentials = serial::Credentials{"a1BcDeFgHiJ", "SW-0C8B95A1F3E2",
                                         Secret("0123456789abcdefABCDEF0123456789"), Secret()};
  plan.lock = (data[0] & 2U) != 0;
  serial::BurnHooks hooks;
  hooks.nonce = [] {
    return std::string("00112233445566778899aabbccddeeff");
  };
  fuzz::check(serial::burn(**d, plan, hooks, log));
  return 0;
}
