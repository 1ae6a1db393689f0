// One declaration per top-level command; each lives in cli/commands/<name>.cpp and is listed
// once in the command table of cli/app.cpp.
#pragma once

namespace CLI {
class App;
} // namespace CLI

namespace aliot::cli {

struct Context;

void add_sign_command(CLI::App& parent, Context& ctx);
void add_config_command(CLI::App& parent, Context& ctx);
void add_emulate_command(CLI::App& parent, Context& ctx);
void add_rrpc_command(CLI::App& parent, Context& ctx);
void add_burn_command(CLI::App& parent, Context& ctx);
void add_ports_command(CLI::App& parent, Context& ctx);
void add_pool_command(CLI::App& parent, Context& ctx);
void add_journal_command(CLI::App& parent, Context& ctx);
void add_completion_command(CLI::App& parent, Context& ctx);
void add_gen_docs_command(CLI::App& parent, Context& ctx); // hidden: __gen-docs
void add_register_command(CLI::App& parent, Context& ctx);
void add_cloud_command(CLI::App& parent, Context& ctx);
void add_cloud_sub_command(CLI::App& cloud, Context& ctx);
void add_connect_command(CLI::App& parent, Context& ctx);
void add_pub_command(CLI::App& parent, Context& ctx);
void add_sub_command(CLI::App& parent, Context& ctx);
void add_prop_command(CLI::App& parent, Context& ctx);
void add_event_command(CLI::App& parent, Context& ctx);
void add_thing_command(CLI::App& parent, Context& ctx);
void add_ntp_command(CLI::App& parent, Context& ctx);
void add_bench_command(CLI::App& parent, Context& ctx);
void add_ota_command(CLI::App& parent, Context& ctx);
void add_shell_command(CLI::App& parent, Context& ctx);

// Nested verbs implemented in their own files (called by their parent command).
void add_emulate_cloud_command(CLI::App& emulate, Context& ctx);
void add_emulate_switch_command(CLI::App& emulate, Context& ctx);
void add_rrpc_call_command(CLI::App& rrpc, Context& ctx);
void add_rrpc_serve_command(CLI::App& rrpc, Context& ctx);
void add_cloud_prop_command(CLI::App& cloud, Context& ctx);
void add_cloud_invoke_command(CLI::App& cloud, Context& ctx); // invoke and events
void add_cloud_broadcast_command(CLI::App& cloud, Context& ctx);
void add_cloud_ota_command(CLI::App& cloud, Context& ctx);

} // namespace aliot::cli
