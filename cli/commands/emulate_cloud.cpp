// `aliot emulate cloud`: the local Aliyun IoT platform. Options and rendering only: the launcher
// lives in the emulator's library (aliot/emu/launcher.hpp); the `add-*` verbs that edit its
// registry are in emulate_cloud_registry.cpp.
#include "emulate_cloud.hpp"

#include "commands/commands.hpp"
#include "context.hpp"
#include "shell.hpp"

#include <aliot/emu/launcher.hpp>

#include <CLI/CLI.hpp>

namespace aliot::cli {

namespace {

struct CloudOptions {
  std::string dir;
  std::optional<int> mqtt_port, mqtts_port, https_port, api_port, amqp_port;
};

Result<void> run_cloud(Context& ctx, const CloudOptions& o) {
  emu::LaunchOptions lo;
  lo.dir = o.dir;
  lo.mqtt_port = o.mqtt_port;
  lo.mqtts_port = o.mqtts_port;
  lo.https_port = o.https_port;
  lo.api_port = o.api_port;
  lo.amqp_port = o.amqp_port;
  lo.mosquitto = env_of(ctx, "ALIOT_MOSQUITTO");
  lo.plugin = env_of(ctx, "ALIOT_EMU_PLUGIN");
  lo.search_path = env_of(ctx, "PATH").value_or("/usr/bin:/bin");
  lo.report = [&ctx](const std::string& line) {
    ctx.out.note("emulator: " + line);
  };
  return emu::run(
      lo, [&ctx] { return ctx.is_interrupted(); },
      [&ctx](const emu::Endpoints& ep) {
        for (const auto& [name, value] : ep.exports()) {
          ctx.out.line("export " + name + "="
                       + (name == "ALIOT_CA_FILE" ? shell_quote(value) : value));
        }
        ctx.out.info("emulator running: state in " + ep.dir + ", broker log " + ep.log_file
                     + "; SIGINT or SIGTERM stops it");
      });
}

} // namespace

std::optional<std::string> env_of(const Context& ctx, const std::string& name) {
  auto it = ctx.env.find(name);
  if (it == ctx.env.end() || it->second.empty()) {
    return std::nullopt;
  }
  return it->second;
}

CLI::Option* emulate_cloud_dir_option(CLI::App* cmd, std::string& dir, Context& ctx) {
  auto* o = cmd->add_option("--dir", dir,
                            "The emulator's state directory (registry, certificates); required")
                ->type_name("DIR");
  ctx.docs.kind(o, ValueKind::directory);
  return o;
}

void add_emulate_cloud_command(CLI::App& emulate, Context& ctx) {
  auto opts = std::make_shared<CloudOptions>();
  auto* cmd = emulate.add_subcommand("cloud", "Run a local Aliyun IoT platform (MQTT, TLS, "
                                              "dynamic registration, OpenAPI)");
  cmd->require_subcommand(0, 1);
  emulate_cloud_dir_option(cmd, opts->dir, ctx);
  for (auto [flag, field, desc] :
       {std::tuple{"--mqtt-port", &opts->mqtt_port, "Port of plain MQTT (default: a free one)"},
        std::tuple{"--mqtts-port", &opts->mqtts_port,
                   "Port of MQTT over TLS (default: a free one)"},
        std::tuple{"--https-port", &opts->https_port,
                   "Port of HTTPS dynamic registration (default: a free one)"},
        std::tuple{"--api-port", &opts->api_port,
                   "Port of the HTTP OpenAPI and /emu endpoints (default: a free one)"},
        std::tuple{"--amqp-port", &opts->amqp_port,
                   "Port of the AMQP 1.0 endpoint over TLS (default: a free one)"}}) {
    auto* o = cmd->add_option(flag, *field, desc)->type_name("PORT")->check(CLI::Range(1, 65535));
    ctx.docs.kind(o, ValueKind::text);
  }
  ctx.docs.attach(
      cmd,
      {"Starts a local emulator of the platform: Debian's mosquitto broker with aliot's plugin "
       "(libaliot_emu.so), listening on 127.0.0.1 only. It checks device logins exactly as the "
       "platform does (signed clientId/username/password, keepalive 30-1200 s, one connection "
       "per device), enforces topic rights (a refused SUBSCRIBE gets SUBACK 0x80, a refused or "
       "over-256-KB PUBLISH is dropped), serves dynamic registration over HTTPS and over MQTT "
       "on the TLS port only (register, regnwl; refused on the plain port) and token logins "
       "(connwl), RRPC, and the OpenAPI actions RRpc, Pub, RegisterDevice, "
       "QueryDeviceDetail and GetDeviceStatus with signature version 1.0. Every refused login "
       "gets CONNACK 5 (not authorized); the emulator says why on standard error, one line a "
       "refusal (`aliot: emulator: login refused: client 'ID' user 'DN&PK': REASON`: unknown "
       "product, unknown device, wrong signature, unsupported sign method, disabled device, "
       "malformed client id or user name, keepalive out of range...; never the password), and "
       "so does a device kicked by a newer login of its own; the broker log has them too.\n\n"
       "State lives in --dir: registry.db (SQLite: products, devices, AccessKeys, topic "
       "categories; 0600), a CA and a server "
       "certificate for localhost and 127.0.0.1 "
       "(RSA 2048 with SHA-256 like the platform's, made on first start and remade when the "
       "directory holds others), mosquitto.conf and mosquitto.log. The add-* verbs edit the "
       "registry, and a running emulator sees the change at once. One emulator per directory: "
       "while one runs (it holds DIR/emulator.lock) a second on the same --dir refuses "
       "(exit 2); one that crashed holds nothing.\n\n"
       "When every endpoint answers it prints `export ALIOT_MQTT_HOST=...`, ALIOT_MQTT_PORT "
       "(TLS), ALIOT_MQTT_TCP_PORT, ALIOT_CA_FILE, ALIOT_AUTH_ENDPOINT, ALIOT_AMQP_ENDPOINT "
       "(amqps://localhost:PORT) and, last, ALIOT_API_ENDPOINT on stdout, then runs until "
       "SIGINT or SIGTERM (exit 0).\n\n"
       "AMQP server-side subscription: every device message (after the topic-rights check) goes "
       "to each consumer group of its product (add-consumer-group); consumers log in with the "
       "signed SASL PLAIN of the platform (aliot cloud sub), share a group's messages, and get "
       "unaccepted ones again.\n\n"
       "Seeing what devices sent: GET $ALIOT_API_ENDPOINT/emu/messages?topic=FILTER&since=SEQ, "
       "authenticated with an AccessKey (HTTP Basic, AccessKeyId:secret; add-access-key), "
       "returns {\"messages\":[{\"seq\",\"ts\",\"topic\",\"qos\",\"payload_base64\",\"client\"}],"
       "\"next\":SEQ} (the last 10000 messages); or log in over MQTT with user name "
       "operator/<AccessKeyId> and the AccessKey secret as password, which may subscribe to "
       "and publish on any topic.\n\n"
       "The broker is found in PATH or /usr/sbin (ALIOT_MOSQUITTO overrides it), the plugin next "
       "to the build or install tree (ALIOT_EMU_PLUGIN overrides it).",
       {{"aliot emulate cloud --dir ./emu-state", "Start the emulator and print the exports"},
        {"aliot emulate cloud --dir ./emu-state --mqtt-port 1883 --mqtts-port 8883",
         "Use fixed MQTT ports"},
        {"curl -u \"$ALIOT_ACCESS_KEY_ID:$ALIOT_ACCESS_KEY_SECRET\" "
         "\"$ALIOT_API_ENDPOINT/emu/messages?topic=/a1FakePK001/%23\"",
         "List what the devices of a product sent"}},
       {"aliot-sign", "aliot-rrpc"}});
  cmd->callback([&ctx, opts, cmd] {
    if (cmd->get_subcommands().empty()) {
      set_action(ctx, opts, run_cloud);
    }
  });

  add_emulate_cloud_registry_verbs(*cmd, ctx);
  add_emulate_cloud_status_verb(*cmd, ctx);
  add_emulate_cloud_ota_verbs(*cmd, ctx);
}

} // namespace aliot::cli
