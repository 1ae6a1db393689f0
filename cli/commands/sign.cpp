// `aliot sign`: the MQTT connection parameters of a device.
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"
#include "shell.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace aliot::cli {

namespace {

struct SignOptions {
  DeviceFlags device;
  std::optional<std::string> for_tool;
};

// Whether `$(aliot sign --for mosquitto)` passes the word through unchanged: command
// substitution splits on whitespace (IFS) and expands globs, and keeps quotes as text.
bool survives_substitution(std::string_view arg) {
  return !arg.empty() && arg.find_first_of(" \t\n*?[") == std::string_view::npos;
}

// mosquitto: words as they are, for `mosquitto_sub $(aliot sign ... --for mosquitto)`;
// mosquitto-eval: shell-quoted, for `eval "mosquitto_sub $(...)"`;
// mosquitto-lines: one argument per line, for `mapfile -t` or `xargs -d '\n'`.
Result<void>
print_client_args(Context& ctx, const std::string& form, const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (form == "mosquitto-lines") {
      if (a.find_first_of("\r\n") != std::string::npos) {
        return Error(Errc::usage,
                     "an argument contains a line break: --for mosquitto-lines "
                     "cannot carry it",
                     "use --for mosquitto-eval");
      }
      out += a + "\n";
      continue;
    }
    if (!out.empty()) {
      out += ' ';
    }
    if (form == "mosquitto-eval") {
      out += shell_quote(a);
    } else if (survives_substitution(a)) {
      out += a;
    } else {
      return Error(Errc::usage,
                   "the argument '" + a
                       + "' contains whitespace or a glob character, which "
                         "$(aliot sign --for mosquitto) would split or expand",
                   "use --for mosquitto-eval with eval, or --for mosquitto-lines with mapfile");
    }
  }
  if (form == "mosquitto-lines") {
    return ctx.out.raw(out) ? ok() : Error(Errc::io, "cannot write to standard output");
  }
  ctx.out.line(out);
  return ok();
}

Result<void> run_sign(Context& ctx, const SignOptions& o) {
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(o.device, ctx));
  ALIOT_TRY_ASSIGN(auto signed_cred, dc.credentials());
  const auto& cred = signed_cred;
  const auto& ep = dc.endpoint;
  if (o.for_tool) {
    std::vector<std::string> args{
        "-h", ep.host,       "-p", std::to_string(ep.port), "-i", cred.client_id,
        "-u", cred.username, "-P", cred.password.reveal(),  "-k", std::to_string(dc.keepalive),
        "-V", "mqttv311"};
    if (ep.tls) {
      if (ep.ca_file.empty()) {
        args.insert(args.end(), {"--capath", "/etc/ssl/certs"});
      } else {
        args.insert(args.end(), {"--cafile", ep.ca_file});
      }
      if (ep.insecure) {
        args.emplace_back("--insecure");
      }
    }
    return print_client_args(ctx, *o.for_tool, args);
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
  ctx.docs.choices(f, {"mosquitto", "mosquitto-eval", "mosquitto-lines"});
  ctx.docs.attach(
      cmd, {"Computes the MQTT CONNECT client identifier, user name and password exactly as the "
            "platform expects them (HMAC of the sorted sign content keyed with the DeviceSecret), "
            "together with the host and port to use.\n\n"
            "The password is the lower-case hex HMAC; the platform compares it case-insensitively."
            "\n\n"
            "--for mosquitto prints the mosquitto_sub/mosquitto_pub arguments unquoted, for "
            "$(...) as in the example below: none of them contains whitespace or a glob character "
            "(a CA file path that does is refused). --for mosquitto-eval prints them shell-quoted "
            "for eval; --for mosquitto-lines prints one argument per line for mapfile -t or "
            "xargs -d '\\n'.",
            {{"aliot sign --triplet device.json", "Show the connection parameters of a device"},
             {"aliot sign -k a1FakePK001 -d FakeDevice01 --device-secret-file ds.txt --sign-method "
              "hmacsha1 -o json",
              "The same as JSON with the keys host, port, tls, clientId, username, password"},
             {"mosquitto_sub $(aliot sign --triplet device.json --for mosquitto) -t "
              "/a1FakePK001/FakeDevice01/user/get",
              "Log in with mosquitto_sub as the device"},
             {"eval \"mosquitto_pub $(aliot sign --triplet device.json --for mosquitto-eval) -t "
              "/a1FakePK001/FakeDevice01/user/update -m hi\"",
              "The same through eval, where every argument is shell-quoted"},
             {"mapfile -t args < <(aliot sign --triplet device.json --for mosquitto-lines)",
              "One argument per line into a bash array: mosquitto_sub \"${args[@]}\" -t ..."}},
            {"aliot-connect"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_sign); });
}

} // namespace aliot::cli
