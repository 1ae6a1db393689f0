// `aliot event post NAME`: the device reports a thing-model event (thing.event.NAME.post) and
// exits by the platform's reply.
#include "commands/commands.hpp"
#include "commands/thing_post.hpp"

namespace aliot::cli {

namespace {

struct EventPostFlags : ThingPostFlags {
  std::string name;
};

Result<void> run_event_post(Context& ctx, const EventPostFlags& f) {
  ALIOT_TRY(thing::check_identifier(f.name, "event"));
  ALIOT_TRY_ASSIGN(auto params, read_thing_params(f, true));
  const std::string name = f.name;
  return run_thing_post(
      ctx, f,
      [name](const Triplet& t) {
        return thing::event_post_topic(t.product_key, t.device_name, name);
      },
      thing::event_post_method(f.name), params, "event " + f.name);
}

} // namespace

void add_event_command(CLI::App& parent, Context& ctx) {
  auto* event = parent.add_subcommand("event", "Report the device's thing-model events");
  event->require_subcommand(1);
  ctx.docs.attach(event,
                  {"The device's events in the thing model (Alink JSON).",
                   {{"aliot event post Overheat --params '{\"Temp\":90}'", "Report an event"}},
                   {"aliot-prop", "aliot-thing"}});
  auto opts = std::make_shared<EventPostFlags>();
  auto* cmd = event->add_subcommand("post", "Post an event and wait for the platform's reply");
  cmd->add_option("NAME", opts->name, "The event's identifier in the thing model")
      ->type_name("NAME")
      ->required();
  cmd->add_option("PAIRS", opts->pairs,
                  "Output parameters as KEY=VALUE (VALUE is JSON when it parses, else text)")
      ->type_name("KEY=VALUE");
  add_thing_post_options(*cmd, *opts, ctx);
  ctx.docs.attach(
      cmd,
      {"Logs in as the device and publishes {\"id\",\"version\":\"1.0\",\"params\",\"sys\":"
       "{\"ack\":1},\"method\":\"thing.event.NAME.post\"} on "
       "/sys/${pk}/${dn}/thing/event/NAME/post, the params being the event's output parameters "
       "as given (as the Link SDKs send them), then waits for the reply carrying its id. Exit 0 "
       "on code 200, exit 7 with the platform's message on another code, exit 6 when no reply "
       "came within --timeout; --no-ack sends sys.ack 0 and waits for nothing. Output as for "
       "`aliot prop post`.",
       {{"aliot event post Overheat --params '{\"Temp\":90}'", "Report an event"},
        {"aliot event post Boot Reason=power", "Event parameters as KEY=VALUE"}},
       {"aliot-prop", "aliot-cloud"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_event_post); });
}

} // namespace aliot::cli
