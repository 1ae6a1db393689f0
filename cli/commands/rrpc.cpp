// `aliot rrpc`: the cloud side (`call`, OpenAPI RRpc) and the device side (`serve`).
#include "commands/commands.hpp"
#include "context.hpp"

#include <CLI/CLI.hpp>

namespace aliot::cli {

void add_rrpc_command(CLI::App& parent, Context& ctx) {
  auto* cmd =
      parent.add_subcommand("rrpc", "Call a device synchronously (RRPC), or answer as the device");
  cmd->require_subcommand(1);
  ctx.docs.attach(
      cmd, {"RRPC is the platform's synchronous request/response to a device: the "
            "cloud calls the OpenAPI action RRpc, the platform publishes the request on "
            "/sys/${pk}/${dn}/rrpc/request/${messageId}, and the device answers on the "
            "matching response topic within the timeout.",
            {{"aliot rrpc serve --triplet device.json --echo", "Answer requests as the device"},
             {"aliot rrpc call -k PK -d DN -m ping", "Call the device from the cloud side"}},
            {}});
  add_rrpc_call_command(*cmd, ctx);
  add_rrpc_serve_command(*cmd, ctx);
}

} // namespace aliot::cli
