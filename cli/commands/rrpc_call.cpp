// `aliot rrpc call`: the cloud asks a device and waits for its answer (OpenAPI RRpc).
#include "commands/cloud_common.hpp"
#include "commands/commands.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>
#include <aliot/topic.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct RrpcCallOptions {
  ApiFlags api;
  PayloadFlags payload;
  std::optional<std::string> product_key;
  std::optional<std::string> device_name;
  Duration timeout = duration_of(std::chrono::seconds(5));
  std::optional<std::string> topic;
};

Result<void> run_rrpc_call(Context& ctx, const RrpcCallOptions& o) {
  ALIOT_TRY(check_duration(o.timeout, "--timeout", std::chrono::seconds(1), std::chrono::seconds(8),
                           "the platform's RRpc API waits 1s to 8s for the device"));
  ALIOT_TRY_ASSIGN(auto target, resolve_target(ctx, o.product_key, o.device_name));
  openapi::RrpcRequest r;
  r.product_key = target.product_key;
  r.device_name = target.device_name;
  if (r.product_key.empty()) {
    return Error(Errc::config, "no ProductKey", "give -k PK, ALIOT_PRODUCT_KEY or a profile");
  }
  if (r.device_name.empty()) {
    return Error(Errc::config, "no DeviceName", "give -d DN, ALIOT_DEVICE_NAME or a profile");
  }
  ALIOT_TRY(validate_product_key(r.product_key));
  ALIOT_TRY(validate_device_name(r.device_name));
  r.timeout_ms = static_cast<int>(o.timeout.value.count());
  if (o.topic) {
    const std::string full = topic::expand(*o.topic, r.product_key, r.device_name);
    ALIOT_TRY(topic::validate_shape(full, topic::Use::publish));
    r.topic = full;
  }
  ALIOT_TRY_ASSIGN(auto payload, read_payload(o.payload));
  r.payload = std::move(payload);

  ALIOT_TRY_ASSIGN(auto setup, resolve_api(o.api, ctx));
  // The HTTP call must outlive the platform's own wait for the device.
  setup.http.timeout_ms = r.timeout_ms + 15000;
  ALIOT_TRY_ASSIGN(auto body, call_or_print(ctx, o.api, setup, "RRpc", openapi::rrpc_params(r)));
  if (!body.has_value()) {
    return ok(); // dry run
  }
  ALIOT_TRY_ASSIGN(auto res, openapi::parse_rrpc(*body));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["rrpc_code"] = res.rrpc_code;
    j["message_id"] = res.message_id;
    if (res.rrpc_code == "SUCCESS") {
      if (enc::is_valid_utf8(res.payload)) {
        j["payload"] = res.payload;
      } else {
        j["payload_base64"] = enc::base64_encode(res.payload);
      }
    }
    j["request_id"] = res.request_id;
    ctx.out.line(j.dump());
  }
  const std::string device = r.product_key + "/" + r.device_name;
  if (res.rrpc_code == "SUCCESS") {
    if (!ctx.out.json()) {
      ctx.out.raw(res.payload + "\n"); // a line, as `sub` prints a payload
    }
    return ok();
  }
  if (res.rrpc_code == "TIMEOUT") {
    return Error(Errc::timeout,
                 "rrpc call to " + device + ": the device did not answer within "
                     + fmt_duration(o.timeout.value) + " (RrpcCode TIMEOUT)",
                 "the device must reply on "
                     + (r.topic ? "the same /ext/rrpc/<id>" + *r.topic + " topic"
                                : "/sys/" + device + "/rrpc/response/<messageId>")
                     + " in time; try a longer --timeout");
  }
  if (res.rrpc_code == "OFFLINE") {
    return Error(Errc::remote,
                 "rrpc call to " + device + ": the device is offline (RrpcCode OFFLINE)",
                 "start the device (for example: aliot rrpc serve) and call again");
  }
  if (res.rrpc_code == "HALFCONN") {
    return Error(Errc::remote,
                 "rrpc call to " + device
                     + ": the device connection is half-open (RrpcCode HALFCONN)",
                 "the device lost its connection less than one keepalive ago; retry later");
  }
  return Error(Errc::remote,
               "rrpc call to " + device + ": the platform answered RrpcCode " + res.rrpc_code);
}

} // namespace

void add_rrpc_call_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<RrpcCallOptions>();
  auto* cmd = parent.add_subcommand(
      "call", "Ask a device synchronously from the cloud (OpenAPI RRpc) and print its answer");
  cmd->add_option("-k,--product-key", opts->product_key, "ProductKey of the device")
      ->type_name("PK")
      ->group("Device");
  cmd->add_option("-d,--device-name", opts->device_name, "DeviceName of the device")
      ->type_name("DN")
      ->group("Device");
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "How long the platform waits for the device, 1s to 8s (default 5s; "
                      "500ms, 8s; a bare number is seconds)");
  cmd->add_option("--topic", opts->topic,
                  "Custom-topic RRPC: the device's custom topic (relative topics are under "
                  "/${pk}/${dn}/); the request arrives on /ext/rrpc/<id><topic>")
      ->type_name("TOPIC");
  add_payload_options(*cmd, opts->payload, ctx);
  add_api_options(*cmd, opts->api, ctx);
  ctx.docs.attach(
      cmd,
      {"Calls the cloud OpenAPI action RRpc: the platform publishes the request on "
       "/sys/${pk}/${dn}/rrpc/request/${messageId} (or /ext/rrpc/${messageId}${topic} with "
       "--topic) and waits up to --timeout for the device's answer.\n\n"
       "The answer is printed on standard output as it came, followed by a newline. With -o json "
       "one line "
       "{rrpc_code, message_id, payload or payload_base64, request_id} is printed instead.\n\n"
       "Exit status: 0 when the device answered (SUCCESS), 6 when it did not answer in time "
       "(TIMEOUT), 7 when it is offline (OFFLINE, HALFCONN, UNKNOWN) or the API refused the "
       "call, 4 when the AccessKey or its signature was rejected, 2 for a timeout outside "
       "1s-8s. --timeout takes a duration (2500ms, 8s); a bare number is seconds, so the "
       "milliseconds of older versions (--timeout 5000) are refused with the hint to write "
       "5000ms.\n\n"
       "The AccessKey secret comes from ALIOT_ACCESS_KEY_SECRET, --access-key-secret-file or "
       "the profile. --dry-run prints the signed request; --nonce and --timestamp fix its inputs "
       "so the signature is reproducible.",
       {{"aliot rrpc call -k a1FakePK001 -d FakeDevice01 -m ping",
         "Ask the device and print its answer"},
        {"aliot rrpc call -k a1FakePK001 -d FakeDevice01 --base64 AAEC --timeout 8s -o json",
         "Send binary bytes, wait up to 8 s, print the reply as JSON"},
        {"aliot rrpc call -k a1FakePK001 -d FakeDevice01 --topic user/rrpc -m ping",
         "Custom-topic RRPC on /a1FakePK001/FakeDevice01/user/rrpc"},
        {"aliot rrpc call -k a1FakePK001 -d FakeDevice01 -m 'hello aliot' --dry-run --nonce "
         "a0a0a0a0-0000-4000-8000-000000000001 --timestamp 2024-01-01T00:00:00Z",
         "Print the signed request without sending it"}},
       {"aliot-rrpc-serve", "aliot-cloud-pub"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_rrpc_call); });
}

} // namespace aliot::cli
