// `aliot emulate cloud status`: the registry's products and devices and, while an emulator runs
// on the directory, its devices online and broker sessions (aliot/emu/admin.hpp). Options and
// rendering only.
#include "commands/commands.hpp"
#include "context.hpp"
#include "emulate_cloud.hpp"

#include <aliot/emu/admin.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct StatusOptions {
  std::string dir;
};

Result<void> run_status(Context& ctx, const StatusOptions& o) {
  ALIOT_TRY_ASSIGN(auto st, emu::admin::status(o.dir));
  if (ctx.out.json()) {
    nlohmann::ordered_json j{
        {"products", st.products}, {"devices", st.devices}, {"running", st.running}};
    if (st.running) {
      j["online"] = st.online;
      j["sessions"] = st.sessions;
      j["fd_limit"] = st.fd_limit;
      j["api_endpoint"] = st.api_endpoint;
    }
    ctx.out.line(j.dump());
    return ok();
  }
  ctx.out.line("products  " + std::to_string(st.products));
  ctx.out.line("devices   " + std::to_string(st.devices));
  if (!st.running) {
    ctx.out.line("running   no");
    return ok();
  }
  ctx.out.line("running   yes (" + st.api_endpoint + ")");
  ctx.out.line("online    " + std::to_string(st.online));
  ctx.out.line("sessions  " + std::to_string(st.sessions));
  ctx.out.line("fd limit  "
               + (st.fd_limit < 0 ? std::string("unlimited") : std::to_string(st.fd_limit)));
  return ok();
}

} // namespace

void add_emulate_cloud_status_verb(CLI::App& cloud, Context& ctx) {
  auto o = std::make_shared<StatusOptions>();
  auto* sub = cloud.add_subcommand("status", "Show the registry's counts and the devices online");
  emulate_cloud_dir_option(sub, o->dir, ctx);
  ctx.docs.attach(sub,
                  {"Prints the registry's products and devices and, while an emulator runs on "
                   "the directory, the devices online now (one connection each), the broker's "
                   "MQTT sessions (devices, operator logins, registrations) and its descriptor "
                   "limit, as the running emulator's GET $ALIOT_API_ENDPOINT/emu/status reports "
                   "them. With -o json one object: products, devices, running and, when "
                   "running, online, sessions, fd_limit, api_endpoint.",
                   {{"aliot emulate cloud status --dir ./emu-state",
                     "How many devices are registered and online"},
                    {"aliot -o json emulate cloud status --dir ./emu-state",
                     "The same as one JSON object, for a script"}},
                   {}});
  sub->callback([&ctx, o] { set_action(ctx, o, run_status); });
}

} // namespace aliot::cli
