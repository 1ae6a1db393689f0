// `aliot prop post|batch-post|get-desired|delete-desired`: the device reports its properties
// (Alink thing.event.property.post, the batch thing.event.property.batch.post), reads and clears
// their desired values (thing.property.desired.get|delete) and exits by the platform's reply.
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

Result<void> run_prop_batch_post(Context& ctx, const ThingPostFlags& f) {
  ALIOT_TRY_ASSIGN(auto params, read_thing_params(f, false));
  ALIOT_TRY_ASSIGN(params, thing::batch_params(params));
  return run_thing_post(
      ctx, f,
      [](const Triplet& t) {
        return thing::property_batch_post_topic(t.product_key, t.device_name);
      },
      thing::property_batch_post_method(), params, "batch post");
}

Result<void> run_prop_get_desired(Context& ctx, const ThingPostFlags& f) {
  ALIOT_TRY_ASSIGN(auto params, thing::desired_get_params(f.pairs));
  return run_thing_post(
      ctx, f,
      [](const Triplet& t) { return thing::desired_get_topic(t.product_key, t.device_name); },
      thing::desired_get_method(), params, "desired get", true);
}

Result<void> run_prop_delete_desired(Context& ctx, const ThingPostFlags& f) {
  ALIOT_TRY_ASSIGN(auto params, thing::desired_delete_params(f.pairs));
  return run_thing_post(
      ctx, f,
      [](const Triplet& t) { return thing::desired_delete_topic(t.product_key, t.device_name); },
      thing::desired_delete_method(), params, "desired delete");
}

void add_batch_post(CLI::App& prop, Context& ctx) {
  auto opts = std::make_shared<ThingPostFlags>();
  auto* cmd = prop.add_subcommand(
      "batch-post", "Post timed property values and events in one message and wait for the reply");
  add_thing_post_options(*cmd, *opts, ctx);
  ctx.docs.attach(
      cmd, {"Logs in as the device and publishes the batch given by --params or -f (method "
            "thing.event.property.batch.post) on /sys/${pk}/${dn}/thing/event/property/batch/post: "
            "{\"properties\":{\"Id\":[{\"value\":v,\"time\":ms}...]},\"events\":{\"Id\":"
            "[{\"value\":{...},\"time\":ms}...]}}, at least one of the two, each point with a "
            "value and an optional time (ms since 1970). What does not fit that shape is exit 2 "
            "before any login. Waits for the reply and exits like `aliot prop post`.",
            {{"aliot prop batch-post --params "
              "'{\"properties\":{\"Temp\":[{\"value\":21.5,\"time\":1700000000000}]}}'",
              "Report a property's value at a given time"},
             {"aliot prop batch-post -f batch.json", "The batch from a file"}},
            {"aliot-cloud", "aliot-event"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_prop_batch_post); });
}

void add_desired(CLI::App& prop, Context& ctx) {
  auto get = std::make_shared<ThingPostFlags>();
  auto* cmd =
      prop.add_subcommand("get-desired", "Print the desired values the platform holds for the "
                                         "device");
  cmd->add_option("ID", get->pairs, "Property identifiers (none: all of them)")->type_name("ID");
  add_thing_request_options(*cmd, *get, ctx);
  ctx.docs.attach(
      cmd,
      {"Logs in as the device and publishes thing.property.desired.get with the identifiers as "
       "params ([\"Temp\",...]; [] asks for all) on /sys/${pk}/${dn}/thing/property/desired/"
       "get, waits for the reply and prints its data, one line of JSON "
       "{\"Id\":{\"value\",\"version\"}} ({} when none is desired). Exit codes and -o json "
       "as for `aliot prop post`.",
       {{"aliot prop get-desired Temp Power", "The desired values of two properties"}},
       {"aliot-cloud"}});
  cmd->callback([&ctx, get] { set_action(ctx, get, run_prop_get_desired); });

  auto del = std::make_shared<ThingPostFlags>();
  cmd = prop.add_subcommand("delete-desired", "Clear desired values the platform holds");
  cmd->add_option("ID", del->pairs,
                  "ID or ID=VERSION: clear the property's desired value (only that version "
                  "of it with =VERSION)")
      ->type_name("ID[=VERSION]")
      ->required();
  add_thing_request_options(*cmd, *del, ctx);
  ctx.docs.attach(
      cmd,
      {"Logs in as the device and publishes thing.property.desired.delete with params "
       "{\"Id\":{}} or {\"Id\":{\"version\":N}} for each ID[=VERSION] on "
       "/sys/${pk}/${dn}/thing/property/desired/delete, then waits for the reply. Exit codes and "
       "output as for `aliot prop post`.",
       {{"aliot prop delete-desired Temp Power=3", "Clear two desired values"}},
       {"aliot-cloud"}});
  cmd->callback([&ctx, del] { set_action(ctx, del, run_prop_delete_desired); });
}

} // namespace

void add_prop_command(CLI::App& parent, Context& ctx) {
  auto* prop = parent.add_subcommand(
      "prop", "Report the device's thing-model properties, read their desired values");
  prop->require_subcommand(1);
  ctx.docs.attach(prop, {"The device's properties in the thing model (Alink JSON).",
                         {{"aliot prop post Temp=21.5 Power=1", "Report two properties"},
                          {"aliot prop get-desired Temp", "What the cloud wants Temp to be"}},
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
  add_batch_post(*prop, ctx);
  add_desired(*prop, ctx);
}

} // namespace aliot::cli
