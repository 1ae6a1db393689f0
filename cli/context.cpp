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

Result<void> put_secret_file(const Context& ctx,
                             config::Sources& s,
                             std::string_view key,
                             const std::optional<std::string>& file,
                             std::string_view what,
                             std::string_view flag) {
  if (!file) {
    return ok();
  }
  auto sec = ctx.secret_from_file(*file, what);
  if (!sec) {
    return std::move(sec).error();
  }
  s.flags[std::string(key)] = config::Value{sec->reveal(), "flag " + std::string(flag), true};
  return ok();
}

Result<config::Settings> Context::settings(config::Sources sources) const {
  sources.env = env;
  sources.strict = globals.strict;
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
    auto read = config::read_bounded("-", config::k_max_small_file, config::file_name("-", what),
                                     Errc::config);
    if (!read) {
      return std::move(read).error();
    }
    std::string text = std::move(*read);
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
  ALIOT_TRY(check_secret_file(path, std::string(what) + " file " + path));
  return std::move(f->value);
}

Result<void> Context::check_secret_file(const std::string& path, std::string_view name) const {
  auto w = config::check_secret_file_mode(path, name, globals.strict);
  if (!w) {
    return std::move(w).error();
  }
  if (*w) {
    out.warn(**w);
  }
  return ok();
}

} // namespace aliot::cli
