// What every command shares: global options, output, the doc registry, the environment, the
// interrupt flag, and the action the parsed command will run.
#pragma once

#include "docs.hpp"
#include "output.hpp"

#include <aliot/config.hpp>
#include <aliot/error.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace aliot::cli {

struct GlobalOptions {
  std::string output = "text";
  bool output_given = false; // -o given (-o text: mosquitto_sub's bytes even on a terminal)
  int verbose = 0;
  bool quiet = false;
  bool no_color = false;
  bool strict = false;
  std::optional<std::string> profile;
  std::optional<std::string> config;
};

struct Context {
  GlobalOptions globals;
  Output out;
  DocRegistry docs;
  config::Env env;                                // the process environment, captured once in main
  const std::atomic<bool>* interrupted = nullptr; // set by SIGINT/SIGTERM
  // Set by a second SIGINT/SIGTERM: give up on requests in flight (a command that finishes them
  // after the first, as `register` does, abandons them then).
  const std::atomic<bool>* abandon = nullptr;
  std::function<Result<void>()> action; // set by the chosen command's callback

  bool is_interrupted() const { return interrupted != nullptr && interrupted->load(); }

  // Settings (flag > env > profile > default) for the given flag-level values.
  Result<config::Settings> settings(config::Sources sources) const;

  // config::read_secret under --strict, showing its warning: a secret (`what`: "DeviceSecret",
  // "triplet") from a file or '-' (standard input).
  Result<Secret> read_secret(const std::string& path, std::string_view what) const;

  // The same mode rule for a file holding secrets that the library reads or writes itself
  // (`register --out`, `pool import --csv`): config::check_secret_file_mode, warning shown.
  // `name` names the file in the message.
  Result<void> check_secret_file(const std::string& path, std::string_view name) const;
};

// A flag's value as a settings source (`origin` "flag FLAG"), when the flag was given.
void put_flag(config::Sources& s,
              std::string_view key,
              const std::optional<std::string>& value,
              std::string_view flag);

// A secret read from a flag's file (Context::read_secret: '-' = stdin, the mode rule) as a
// settings source (`origin` "flag FLAG", redacted), when the flag was given.
Result<void> put_secret_file(const Context& ctx,
                             config::Sources& s,
                             std::string_view key,
                             const std::optional<std::string>& file,
                             std::string_view what,
                             std::string_view flag);

// Sets `ctx.action` from a command callback: the action runs after parsing has fully succeeded.
template <class Opts, class Fn>
void set_action(Context& ctx, std::shared_ptr<Opts> opts, Fn fn) {
  ctx.action = [&ctx, opts, fn] {
    return fn(ctx, *opts);
  };
}

} // namespace aliot::cli
