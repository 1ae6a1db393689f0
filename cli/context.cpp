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
  ALIOT_TRY_ASSIGN(const auto sec, ctx.read_secret(*file, what));
  s.flags[std::string(key)] = config::Value{sec.reveal(), "flag " + std::string(flag), true};
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

Result<Secret> Context::read_secret(const std::string& path, std::string_view what) const {
  ALIOT_TRY_ASSIGN(auto r, config::read_secret(path, what, globals.strict));
  if (r.warning) {
    out.warn(*r.warning);
  }
  return std::move(r.value);
}

Result<void> Context::check_secret_file(const std::string& path, std::string_view name) const {
  ALIOT_TRY_ASSIGN(auto w, config::check_secret_file_mode(path, name, globals.strict));
  if (w) {
    out.warn(*w);
  }
  return ok();
}

} // namespace aliot::cli
