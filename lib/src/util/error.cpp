#include <aliot/encoding.hpp>
#include <aliot/error.hpp>

namespace aliot {

std::string detail::as_text(std::string text) {
  return enc::printable(text);
}

int exit_status(Errc code) {
  return static_cast<int>(code);
}

std::string_view errc_name(Errc code) {
  switch (code) {
  case Errc::internal: return "internal";
  case Errc::usage: return "usage";
  case Errc::config: return "config";
  case Errc::auth: return "auth";
  case Errc::network: return "network";
  case Errc::timeout: return "timeout";
  case Errc::remote: return "remote";
  case Errc::device: return "device";
  case Errc::verify: return "verify";
  case Errc::io: return "io";
  case Errc::interrupted: return "interrupted";
  }
  return "internal";
}

} // namespace aliot
