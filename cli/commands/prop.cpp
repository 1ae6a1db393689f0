// `aliot prop post`: the device reports its properties (Alink thing.event.property.post) and
// exits by the platform's reply.
#include "commands/commands.hpp"
#include "commands/thing_post.hpp"

namespace aliot::cli {

namespace {

Result<void> run_prop_post(Context& ctx, const ThingPostFlags& f) {
  ALIOT_TRY_ASSIGN(auto params, read_thing_params(f, false));
  return run_thing_post(
      ctx, f,
      [](const Triplet& t) { return thing::property_post_topic(t.product_key, t.device_name); },
      thing::property_post_method(), params, "property post");
}

} // namespace

void add_prop_command(CLI::App& parent, Context& ctx) {
  auto* prop = parent.add_subcommand("prop", "Report the device's thing-model properties");
  prop->require_subcommand(1);
  ctx.docs.attach(prop, {"The device's properties in the thing model (Alink JSON).",
                         {{"aliot prop post Temp=21.5 Power=1", "Report two properties"}},
                         {"aliot-event", "aliot-thing", "aliot-cloud"}});
  auto opts = std::make_shared<ThingPostFlags>();
  auto* cmd =
      prop->add_subcommand("post", "Post property values and wait for the platform's reply");
  cmd->add_option("PAIRS", opts->pairs,
                  "Properties as KEY=VALUE; VALUE is JSON when it parses (21.5, true, \"1\", "
                  "{\"a\":1}), else text")
      ->type_name("KEY=VALUE");
  add_thing_post_options(*cmd, *opts, ctx);
  ctx.docs.attach(
      cmd,
      {"Logs in as the device and publishes {\"id\",\"version\":\"1.0\",\"params\",\"sys\":"
       "{\"ack\":1},\"method\":\"thing.event.property.post\"} on "
       "/sys/${pk}/${dn}/thing/event/property/post, then waits for the reply carrying its id on "
       "the topic's _reply. Exit 0 when the reply's code is 200; another code (460: malformed "
       "params, 6xxx: the params do not fit the product's thing model) is exit 7 with the "
       "platform's message; no reply within --timeout is exit 6. --no-ack sends sys.ack 0 and "
       "exits once the message is written.\n\n"
       "Prints nothing on success in text (-v shows the reply); under -o json one line "
       "{\"id\",\"topic\",\"ack\",\"code\",\"message\",\"data\"}.",
       {{"aliot prop post --triplet device.json Temp=21.5 Power=1", "Report two properties"},
        {"aliot prop post --params '{\"Temp\":21.5,\"Label\":\"hall\"}'",
         "The params as one JSON object"},
        {"aliot prop post -f props.json --no-ack", "Fire and forget, from a file"}},
       {"aliot-cloud", "aliot-thing"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_prop_post); });
}

} // namespace aliot::cli
