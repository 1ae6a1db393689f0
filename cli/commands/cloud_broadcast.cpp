// `aliot cloud broadcast -k PK`: a message to every online device of a product (PubBroadcast).
#include "commands/cloud_thing.hpp"
#include "commands/commands.hpp"

#include <aliot/topic.hpp>

#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct BroadcastFlags : CloudThingFlags {
  PayloadFlags payload;
  std::optional<std::string> topic;
};

Result<void> run_broadcast(Context& ctx, const BroadcastFlags& f) {
  ALIOT_TRY_ASSIGN(auto t, resolve_target(ctx, f.product_key, std::nullopt));
  if (t.product_key.empty()) {
    return Error(Errc::usage, "no ProductKey given", "give -k PK");
  }
  ALIOT_TRY(validate_product_key(t.product_key));
  thing::cloud::Broadcast b;
  b.product_key = t.product_key;
  if (f.topic) {
    const std::string prefix = "/broadcast/" + t.product_key + "/";
    std::string full = f.topic->starts_with("/") ? *f.topic : prefix + *f.topic;
    if (!full.starts_with(prefix) || full.size() == prefix.size()) {
      return Error(Errc::usage,
                   "--topic " + *f.topic + " is not a broadcast topic of " + t.product_key,
                   "give /broadcast/" + t.product_key + "/NAME, or NAME alone");
    }
    ALIOT_TRY(topic::validate_shape(full, topic::Use::publish));
    b.topic = std::move(full);
  }
  ALIOT_TRY_ASSIGN(b.payload, read_payload(f.payload));
  ALIOT_TRY_ASSIGN(auto body,
                   cloud_thing_call(ctx, f, "PubBroadcast", thing::cloud::broadcast_params(b)));
  if (!body) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto r, thing::cloud::parse_message_id(*body));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["message_id"] = r.message_id;
    if (b.topic) {
      j["topic"] = *b.topic;
    }
    j["request_id"] = r.request_id;
    ctx.out.line(j.dump());
  } else {
    ctx.out.line(enc::printable(r.message_id));
  }
  return ok();
}

} // namespace

void add_cloud_broadcast_command(CLI::App& cloud, Context& ctx) {
  auto opts = std::make_shared<BroadcastFlags>();
  auto* cmd = cloud.add_subcommand(
      "broadcast", "Send a message to every online device of a product (PubBroadcast)");
  cmd->add_option("-k,--product-key", opts->product_key, "ProductKey of the product")
      ->type_name("PK")
      ->group("Device");
  cmd->add_option("-t,--topic", opts->topic,
                  "Deliver on /broadcast/${pk}/NAME to its subscribers (NAME or the full topic)")
      ->type_name("TOPIC");
  cmd->add_option("--timeout", opts->timeout_ms,
                  "Milliseconds to wait for the platform's answer (100-600000, default 30000)")
      ->type_name("MS");
  add_payload_options(*cmd, opts->payload, ctx);
  add_api_options(*cmd, opts->api, ctx);
  ctx.docs.attach(
      cmd, {"Calls PubBroadcast and prints the MessageId (-o json: {message_id, topic, "
            "request_id}). Without --topic the platform delivers the payload to every online "
            "device of the product on /sys/${pk}/${dn}/broadcast/request/${MessageId}, which "
            "devices receive without subscribing; with --topic (TopicFullName) to the devices "
            "subscribed to /broadcast/${pk}/NAME. The platform limits how often a product may "
            "be broadcast to: a refusal is exit 7 with its message.",
            {{"aliot cloud broadcast -k a1FakePK001 -m 'reboot at 02:00'", "Every online device"},
             {"aliot cloud broadcast -k a1FakePK001 -t notice -m hello",
              "The subscribers of /broadcast/a1FakePK001/notice"}},
            {"aliot-sub"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_broadcast); });
}

} // namespace aliot::cli
