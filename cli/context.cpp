#include "context.hpp"

#include <aliot/config.hpp>

#include <iostream>
#include <iterator>

namespace aliot::cli {

void put_flag(config::Sources& s,
              std::string_view key,
              const std::optional<std::string>& value,
              std::string_view flag) {
  if (value) {
    s.flags[std::string(key)] = config::Value{*value, "flag " + std::string(flag), false};
  }
}

Result<config::Settings> Context::settings(config::Sources sources) const {
  sources.env = env;
  if (globals.config) {
    sources.config_path = globals.config;
  }
  if (globals.profile) {
    sources.profile = globals.profile;
  }
  auto s = config::resolve(sources);
  if (s) {
    for (const auto& w : s->warnings()) {
      out.warn(w);
    }
  }
  return s;
}

Result<Secret> Context::secret_from_file(const std::string& path, std::string_view what) const {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
    if (text.empty()) {
      return Error(Errc::config, std::string(what) + " from standard input is empty");
    }
    return Secret(std::move(text));
  }
  auto f = config::read_secret_file(path);
  if (!f) {
    return std::move(f).error();
  }
  if (f->others_can_read) {
    if (globals.strict) {
      return Error(Errc::config,
                   std::string(what) + " file " + path + " is readable by other users",
                   "chmod 600 " + path);
    }
    out.warn(std::string(what) + " file " + path + " is readable by other users: chmod 600 it");
  }
  return std::move(f->value);
}

} // namespace aliot::cli
