// Prints the MQTT password of the credentials on its command line, computed by libaliot.
#include <aliot/sign.hpp>

#include <cstdio>
#include <optional>
#include <string_view>

int main(int argc, char** argv) {
  if (argc < 6 || argc > 7) {
    std::fprintf(stderr, "usage: %s METHOD PK DN SECRET CLIENT_ID [TIMESTAMP]\n", argv[0]);
    return 2;
  }
  auto method = aliot::sign::parse_method(argv[1]);
  if (!method) {
    std::fprintf(stderr, "%s\n", method.error().message().c_str());
    return 2;
  }
  const std::optional<std::string_view> ts =
      argc == 7 ? std::optional<std::string_view>(argv[6]) : std::nullopt;
  const auto content = aliot::sign::mqtt_sign_content(argv[2], argv[3], argv[5], ts);
  const auto password = aliot::sign::mqtt_password(*method, aliot::Secret(argv[4]), content);
  if (!password) {
    std::fprintf(stderr, "%s\n", password.error().message().c_str());
    return 1;
  }
  std::printf("%s\n", password->c_str());
  return 0;
}
