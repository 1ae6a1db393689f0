// Shared by the `aliot emulate cloud` command and its registry verbs.
#pragma once

#include "context.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace aliot::cli {

// --dir, not ->required(): with fallthrough the parent's --dir would swallow the verb's; each
// action checks it instead.
CLI::Option* emulate_cloud_dir_option(CLI::App* cmd, std::string& dir, Context& ctx);
// The value of an environment variable (as captured in ctx.env), nullopt when unset or empty.
std::optional<std::string> env_of(const Context& ctx, const std::string& name);
// The add-product, add-device, add-access-key, add-topic and add-consumer-group verbs.
void add_emulate_cloud_registry_verbs(CLI::App& cloud, Context& ctx);
// The status verb (emulate_cloud_status.cpp).
void add_emulate_cloud_status_verb(CLI::App& cloud, Context& ctx);
// add-firmware (emulate_cloud_ota.cpp).
void add_emulate_cloud_ota_verbs(CLI::App& cloud, Context& ctx);

} // namespace aliot::cli
