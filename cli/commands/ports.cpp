// `aliot ports`: the serial ports of this machine.
#include "commands/commands.hpp"
#include "context.hpp"

#include <aliot/serial/ports.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct PortsOptions {};

Result<void> run_ports(Context& ctx, const PortsOptions& /*o*/) {
  const auto ports = serial::list_ports();
  if (ports.empty()) {
    ctx.out.info("no serial ports found");
  }
  for (const auto& p : ports) {
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["path"] = p.path;
      j["by_id"] = p.by_id;
      j["by_path"] = p.by_path;
      j["driver"] = p.driver;
      j["vid"] = p.vid;
      j["pid"] = p.pid;
      j["serial"] = p.serial;
      j["manufacturer"] = p.manufacturer;
      j["product"] = p.product;
      ctx.out.line(j.dump());
      continue;
    }
    std::string line = p.path;
    if (!p.vid.empty()) {
      line += "  " + p.vid + ":" + p.pid;
    }
    if (!p.manufacturer.empty() || !p.product.empty()) {
      line += "  " + p.manufacturer + (p.manufacturer.empty() ? "" : " ") + p.product;
    }
    if (!p.serial.empty()) {
      line += "  serial " + p.serial;
    }
    if (!p.driver.empty()) {
      line += "  (" + p.driver + ")";
    }
    ctx.out.line(line);
    for (const auto& l : p.by_id) {
      ctx.out.line("    " + l);
    }
    for (const auto& l : p.by_path) {
      ctx.out.line("    " + l);
    }
  }
  return ok();
}

} // namespace

void add_ports_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<PortsOptions>();
  auto* cmd = parent.add_subcommand("ports", "List the serial ports of this machine");
  ctx.docs.attach(cmd, {"Lists the serial ports the kernel knows, with their stable names under "
                        "/dev/serial/by-id and /dev/serial/by-path (use those in station "
                        "configuration: they survive replugging) and, for USB adapters, the "
                        "vendor and product id, the maker and the serial number.",
                        {{"aliot ports", "List the serial ports"},
                         {"aliot ports -o json", "One JSON object per port"}},
                        {"aliot-burn"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_ports); });
}

} // namespace aliot::cli
