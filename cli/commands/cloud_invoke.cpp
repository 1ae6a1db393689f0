// `aliot cloud invoke NAME` (InvokeThingService) and `aliot cloud events NAME`
// (QueryDeviceEventData): the backend calls a device's service and reads its events.
#include "commands/cloud_thing.hpp"
#include "commands/commands.hpp"

#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct InvokeFlags : CloudThingFlags {
  std::string name;
  std::string args = "{}";
};

struct EventsFlags : CloudThingFlags {
  std::string name;
  std::optional<std::string> start;
  std::optional<std::string> end;
  int limit = 10;
  bool asc = false;
  std::optional<std::string> type;
};

nlohmann::ordered_json json_or_text(const std::string& text) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  return j.is_discarded() ? nlohmann::ordered_json(enc::printable(text)) : j;
}

Result<void> run_invoke(Context& ctx, const InvokeFlags& f) {
  ALIOT_TRY(thing::check_identifier(f.name, "service"));
  ALIOT_TRY_ASSIGN(auto args, thing::params_from_json(f.args, "--args"));
  ALIOT_TRY_ASSIGN(auto device, cloud_device(ctx, f));
  auto called = cloud_thing_call(ctx, f, "InvokeThingService",
                                 thing::cloud::invoke_params(device, f.name, args));
  if (!called && called.error().code() == Errc::remote
      && called.error().message().find("Timeout: ") != std::string::npos) {
    // The platform's code for a sync service the device did not answer in time (as rrpc call's
    // RrpcCode TIMEOUT): nothing came back, exit 6.
    return Error(Errc::timeout, called.error().message(),
                 "the device must answer thing.service." + f.name
                     + " over RRPC within the platform's 8 s");
  }
  ALIOT_TRY_ASSIGN(auto body, std::move(called));
  if (!body) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto r, thing::cloud::parse_invoke(*body));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["message_id"] = r.message_id;
    j["sync"] = r.result.has_value();
    if (r.result) {
      j["result"] = json_or_text(*r.result);
    }
    j["request_id"] = r.request_id;
    ctx.out.line(j.dump());
  } else if (r.result) {
    ctx.out.line(enc::printable(*r.result));
  } else {
    ctx.out.line(enc::printable(r.message_id));
  }
  return ok();
}

Result<void> run_events(Context& ctx, const EventsFlags& f) {
  ALIOT_TRY(thing::check_identifier(f.name, "event"));
  if (f.limit < 1 || f.limit > 50) {
    return Error(Errc::usage, "--limit must be 1 to 50 (the platform's page size)");
  }
  if (f.type && *f.type != "info" && *f.type != "alert" && *f.type != "error") {
    return Error(Errc::usage, "--type '" + *f.type + "' is not an event type",
                 "give info, alert or error");
  }
  ALIOT_TRY_ASSIGN(auto device, cloud_device(ctx, f));
  thing::cloud::Window w;
  w.end_ms = now_epoch_ms();
  if (f.end) {
    ALIOT_TRY_ASSIGN(w.end_ms, parse_time_ms(*f.end, "--end"));
  }
  w.start_ms = w.end_ms - 24LL * 3600 * 1000;
  if (f.start) {
    ALIOT_TRY_ASSIGN(w.start_ms, parse_time_ms(*f.start, "--start"));
  }
  w.page_size = f.limit;
  w.ascending = f.asc;
  ALIOT_TRY_ASSIGN(auto body, cloud_thing_call(ctx, f, "QueryDeviceEventData",
                                               thing::cloud::event_data_params(
                                                   device, f.name, w, f.type.value_or(""))));
  if (!body) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto page, thing::cloud::parse_event_data(*body));
  for (const auto& r : page.records) {
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["identifier"] = r.identifier.empty() ? f.name : r.identifier;
      j["time"] = time_text(r.time);
      j["type"] = r.event_type;
      j["output"] = json_or_text(r.value);
      ctx.out.line(j.dump());
    } else {
      ctx.out.line(time_text(r.time) + "  " + enc::printable(r.event_type) + "  "
                   + enc::printable(r.value));
    }
  }
  if (page.next_valid) {
    ctx.out.note("more events: repeat with --" + std::string(f.asc ? "start " : "end ")
                 + enc::printable(page.next_time));
  }
  return ok();
}

} // namespace

void add_cloud_invoke_command(CLI::App& cloud, Context& ctx) {
  auto inv = std::make_shared<InvokeFlags>();
  auto* cmd = cloud.add_subcommand("invoke", "Call a device's service (InvokeThingService)");
  cmd->add_option("NAME", inv->name, "The service's identifier in the thing model")
      ->type_name("NAME")
      ->required();
  cmd->add_option("--args", inv->args, "The service's input parameters as a JSON object")
      ->type_name("JSON");
  add_cloud_thing_options(*cmd, *inv, ctx);
  ctx.docs.attach(
      cmd, {"Calls InvokeThingService. The platform sends thing.service.NAME to the device: an "
            "async service on /sys/${pk}/${dn}/thing/service/NAME (the call returns at once and "
            "prints the MessageId), a sync one over RRPC (the platform waits up to 8 s for the "
            "device's answer and this prints the answer's data). Under -o json one line "
            "{message_id, sync, result, request_id}. A device that does not answer a sync call "
            "in time is exit 6, an offline device or another refusal exit 7 with the platform's "
            "message.",
            {{"aliot cloud invoke -k a1FakePK001 -d dev1 add --args '{\"x\":1,\"y\":2}'",
              "Call a service"}},
            {"aliot-thing"}});
  cmd->callback([&ctx, inv] { set_action(ctx, inv, run_invoke); });

  auto ev = std::make_shared<EventsFlags>();
  auto* e =
      cloud.add_subcommand("events", "Read a device's reported events (QueryDeviceEventData)");
  e->add_option("NAME", ev->name, "The event's identifier in the thing model")
      ->type_name("NAME")
      ->required();
  e->add_option("--start", ev->start,
                "From this time (ms since the epoch or ISO 8601; default 24 h before --end)")
      ->type_name("TIME");
  e->add_option("--end", ev->end, "Up to this time (default now)")->type_name("TIME");
  e->add_option("--limit", ev->limit, "At most N events (1-50, default 10)")->type_name("N");
  e->add_flag("--asc", ev->asc, "Oldest first (default newest first)");
  auto* type = e->add_option("--type", ev->type, "Only events of this type: info, alert or error")
                   ->type_name("TYPE");
  ctx.docs.completes_to(type, {"info", "alert", "error"});
  add_cloud_thing_options(*e, *ev, ctx);
  ctx.docs.attach(
      e,
      {"Calls QueryDeviceEventData and prints one line per event: `TIME  TYPE  OUTPUT` (TIME in "
       "ISO 8601 UTC, OUTPUT the event's output parameters as JSON), or under -o json "
       "{identifier, time, type, output}; a note on stderr when more pages remain.",
       {{"aliot cloud events -k a1FakePK001 -d dev1 Overheat", "The last day's Overheat events"}},
       {"aliot-event"}});
  e->callback([&ctx, ev] { set_action(ctx, ev, run_events); });
}

} // namespace aliot::cli
