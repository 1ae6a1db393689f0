// `aliot sign`: the MQTT connection parameters of a device.
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"
#include "shell.hpp"

#include <CLI/CLI.hpp>

namespace aliot::cli {

namespace {

struct SignOptions {
  DeviceFlags device;
  std::optional<std::string> for_tool;
};

Result<void> run_sign(Context& ctx, const SignOptions& o) {
  auto dc = resolve_device(o.device, ctx);
  if (!dc) {
    return std::move(dc).error();
  }
  const auto cred = dc->credentials();
  const auto& ep = dc->endpoint;
  if (o.for_tool) {
    std::string args = "-h " + shell_quote(ep.host) + " -p " + std::to_string(ep.port) + " -i "
                       + shell_quote(cred.client_id) + " -u " + shell_quote(cred.username) + " -P "
                       + shell_quote(cred.password.reveal()) + " -k "
                       + std::to_string(dc->keepalive) + " -V mqttv311";
    if (ep.tls) {
      args +=
          ep.ca_file.empty() ? " --capath /etc/ssl/certs" : " --cafile " + shell_quote(ep.ca_file);
      if (ep.insecure) {
        args += " --insecure";
      }
    }
    ctx.out.line(args);
    return ok();
  }
  print_mqtt_login(ctx, ep, cred);
  return ok();
}

} // namespace

void add_sign_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<SignOptions>();
  auto* cmd =
      parent.add_subcommand("sign", "Print the signed MQTT connection parameters of a device");
  add_device_options(*cmd, opts->device, ctx);
  auto* f = cmd->add_option("--for", opts->for_tool,
                            "Print ready arguments for another MQTT client instead")
                ->type_name("TOOL");
  ctx.docs.choices(f, {"mosquitto"});
  ctx.docs.attach(
      cmd, {"Computes the MQTT CONNECT client identifier, user name and password exactly as the "
            "platform expects them (HMAC of the sorted sign content keyed with the DeviceSecret), "
            "together with the host and port to use.\n\n"
            "The password is the lower-case hex HMAC; the platform compares it case-insensitively.",
            {{"aliot sign --triplet device.json", "Show the connection parameters of a device"},
             {"aliot sign -k a1FakePK001 -d FakeDevice01 --device-secret-file ds.txt --sign-method "
              "hmacsha1 -o json",
              "The same as JSON with the keys host, port, tls, clientId, username, password"},
             {"mosquitto_sub $(aliot sign --triplet device.json --for mosquitto) -t "
              "/a1FakePK001/FakeDevice01/user/get",
              "Log in with mosquitto_sub as the device"}},
            {"aliot-connect"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_sign); });
}

} // namespace aliot::cli
