// `aliot cloud`: the backend's side of a device topic. `cloud pub` sends a message to a device
// through the OpenAPI action Pub.
#include "commands/cloud_common.hpp"
#include "commands/commands.hpp"
#include "context.hpp"

#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace aliot::cli {

namespace {

struct CloudPubOptions {
  ApiFlags api;
  PayloadFlags payload;
  std::optional<std::string> product_key;
  std::optional<std::string> device_name;
  std::string topic;
  int qos = 0;
  Duration timeout = duration_of(std::chrono::seconds(30));
};

// The ProductKey of /pk/dn/... or /broadcast/pk/... topics.
std::string product_key_of(const std::string& full) {
  std::vector<std::string> levels;
  std::size_t pos = 1;
  while (pos <= full.size()) {
    const std::size_t slash = full.find('/', pos);
    levels.push_back(
        full.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos) {
      break;
    }
    pos = slash + 1;
  }
  if (full.starts_with("/broadcast/") && levels.size() > 1) {
    return levels[1];
  }
  if (full.starts_with("/sys/") && levels.size() > 1) {
    return levels[1];
  }
  return levels.empty() ? std::string() : levels[0];
}

Result<void> run_cloud_pub(Context& ctx, const CloudPubOptions& o) {
  if (o.qos != 0 && o.qos != 1) {
    return Error(Errc::usage,
                 "-q " + std::to_string(o.qos) + ": the platform has QoS 0 and 1 only");
  }
  ALIOT_TRY_ASSIGN(auto target, resolve_target(ctx, o.product_key, o.device_name));
  std::string pk = target.product_key;
  const std::string dn = target.device_name;
  const bool relative = !o.topic.empty() && o.topic.front() != '/';
  if (relative && (pk.empty() || dn.empty())) {
    return Error(Errc::usage, "topic '" + o.topic + "' is relative to a device",
                 "give -k PK and -d DN, or a full topic like /PK/DN/user/get");
  }
  const std::string full = topic::expand(o.topic, pk, dn);
  ALIOT_TRY(topic::validate_shape(full, topic::Use::publish));
  if (pk.empty()) {
    pk = product_key_of(full);
  }
  if (pk.empty()) {
    return Error(Errc::usage, "no ProductKey for topic " + full, "give -k PK");
  }
  ALIOT_TRY(validate_product_key(pk));

  openapi::PubRequest r;
  r.product_key = pk;
  r.topic = full;
  r.qos = o.qos;
  ALIOT_TRY_ASSIGN(auto payload, read_payload(o.payload));
  r.payload = std::move(payload);

  ALIOT_TRY(check_duration(o.timeout, "--timeout", std::chrono::milliseconds(100),
                           std::chrono::minutes(10)));
  const long timeout_ms = static_cast<long>(o.timeout.value.count());
  ALIOT_TRY_ASSIGN(auto setup, resolve_api(o.api, ctx));
  setup.http.timeout_ms = timeout_ms;
  setup.http.connect_timeout_ms = std::min(timeout_ms, setup.http.connect_timeout_ms);
  ALIOT_TRY_ASSIGN(auto body, call_or_print(ctx, o.api, setup, "Pub", openapi::pub_params(r)));
  if (!body.has_value()) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto res, openapi::parse_pub(*body));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["message_id"] = res.message_id;
    j["topic"] = full;
    j["qos"] = r.qos;
    j["request_id"] = res.request_id;
    ctx.out.line(j.dump());
  } else {
    ctx.out.line(enc::printable(res.message_id));
  }
  return ok();
}

void add_cloud_pub_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<CloudPubOptions>();
  auto* cmd =
      parent.add_subcommand("pub", "Send a message to a device topic from the cloud (OpenAPI Pub)");
  cmd->add_option("-t,--topic", opts->topic,
                  "Topic: full (/PK/DN/user/get) or relative to -k/-d (user/get)")
      ->type_name("TOPIC")
      ->required();
  auto* q = cmd->add_option("-q,--qos", opts->qos, "QoS 0 or 1 (default 0)")->type_name("QOS");
  (void)q;
  cmd->add_option("-k,--product-key", opts->product_key,
                  "ProductKey (default: taken from the topic)")
      ->type_name("PK")
      ->group("Device");
  cmd->add_option("-d,--device-name", opts->device_name, "DeviceName for relative topics")
      ->type_name("DN")
      ->group("Device");
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "How long to wait for the platform's answer, 100ms to 10m (default 30s; a "
                      "bare number is seconds)");
  add_payload_options(*cmd, opts->payload, ctx);
  add_api_options(*cmd, opts->api, ctx);
  ctx.docs.attach(
      cmd, {"Calls the cloud OpenAPI action Pub: the platform delivers the payload to the devices "
            "subscribed to the topic, for example /${pk}/${dn}/user/get, a topic a device may "
            "subscribe to but not publish to. Prints the MessageId the platform assigned (with -o "
            "json: {message_id, topic, qos, request_id}).\n\n"
            "The AccessKey secret comes from ALIOT_ACCESS_KEY_SECRET, --access-key-secret-file or "
            "the profile. --dry-run prints the signed request; --nonce and --timestamp fix its "
            "inputs. A platform that does not answer within --timeout is exit 6; SIGINT or "
            "SIGTERM abandons the call at once (exit 130).",
            {{"aliot cloud pub -k a1FakePK001 -d FakeDevice01 -t user/get -m '{\"cmd\":\"ping\"}'",
              "Send a command to the device's user/get topic"},
             {"aliot cloud pub -t /a1FakePK001/FakeDevice01/user/get -f cmd.bin -q 1",
              "Send a file's bytes with QoS 1"}},
            {"aliot-rrpc-call"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_cloud_pub); });
}

} // namespace

void add_cloud_command(CLI::App& parent, Context& ctx) {
  auto* cmd = parent.add_subcommand("cloud", "Act as the backend: send messages to devices");
  cmd->require_subcommand(1);
  ctx.docs.attach(
      cmd, {"The cloud side of device topics, through the OpenAPI with an AccessKey.",
            {{"aliot cloud pub -k PK -d DN -t user/get -m hello", "Send a message to a device"}},
            {"aliot-rrpc-call"}});
  add_cloud_pub_command(*cmd, ctx);
  add_cloud_sub_command(*cmd, ctx);
  add_cloud_prop_command(*cmd, ctx);
  add_cloud_invoke_command(*cmd, ctx);
  add_cloud_broadcast_command(*cmd, ctx);
  add_cloud_ota_command(*cmd, ctx);
}

} // namespace aliot::cli
