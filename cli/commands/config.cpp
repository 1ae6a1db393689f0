// `aliot config show`: each effective setting and where it came from.
#include "commands/commands.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/encoding.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct ConfigShowOptions {
  DeviceFlags device;
};

Result<void> run_config_show(Context& ctx, const ConfigShowOptions& o) {
  ALIOT_TRY_ASSIGN(auto sources, read_device_sources(o.device, ctx));
  ALIOT_TRY_ASSIGN(auto settings, ctx.settings(std::move(sources)));
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  std::vector<std::array<std::string, 3>> rows;
  for (const auto& key : config::keys()) {
    auto v = settings.get(key.name);
    std::string value = v ? (v->secret ? std::string(Secret::redacted) : v->text) : "";
    std::string origin = v ? v->origin : "unset";
    if (ctx.out.json()) {
      j[std::string(key.name)] = {{"value", v ? nlohmann::ordered_json(value) : nullptr},
                                  {"origin", origin},
                                  {"env", std::string(key.env)}};
    } else {
      // Values come from the environment and files: shown so that they cannot act on a terminal.
      rows.push_back(
          {std::string(key.name), v ? enc::printable(value) : "-", enc::printable(origin)});
    }
  }
  if (ctx.out.json()) {
    nlohmann::ordered_json root;
    root["config_file"] = settings.config_path();
    root["profile"] = settings.profile();
    root["settings"] = j;
    ctx.out.line(root.dump());
    return ok();
  }
  ctx.out.line("config file  " + enc::printable(settings.config_path()));
  ctx.out.line(
      "profile      "
      + (settings.profile().empty() ? std::string("-") : enc::printable(settings.profile())));
  for (const auto& r : rows) {
    std::string l = r[0];
    l.resize(20, ' ');
    std::string v = r[1];
    if (v.size() < 36) {
      v.resize(36, ' ');
    }
    ctx.out.line(l + v + "  " + r[2]);
  }
  return ok();
}

} // namespace

void add_config_command(CLI::App& parent, Context& ctx) {
  auto* cmd = parent.add_subcommand("config", "Inspect aliot's configuration");
  cmd->require_subcommand(1);
  ctx.docs.attach(
      cmd, {"Configuration comes from flags, ALIOT_* environment variables and a "
            "profile in $XDG_CONFIG_HOME/aliot/config.json, in that order of "
            "precedence. The file looks like {\"default_profile\": \"lab\", "
            "\"profiles\": {\"lab\": {\"product_key\": \"...\", \"region\": \"cn-shanghai\"}}}.",
            {{"aliot config show", "Show every effective setting and its origin"}},
            {"aliot-sign"}});

  auto opts = std::make_shared<ConfigShowOptions>();
  auto* show = cmd->add_subcommand("show", "Show each effective setting and where it came from");
  add_device_options(*show, opts->device, ctx);
  ctx.docs.attach(
      show, {"Prints every setting aliot knows with its effective value and its "
             "origin (flag, env, triplet, profile or default). Secrets are shown as "
             "<redacted>.",
             {{"aliot config show", "Show the effective settings"},
              {"aliot --profile lab config show -o json", "The same for profile lab, as JSON"}},
             {"aliot-sign"}});
  show->callback([&ctx, opts] { set_action(ctx, opts, run_config_show); });
}

} // namespace aliot::cli
