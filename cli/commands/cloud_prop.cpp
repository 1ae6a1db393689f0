// `aliot cloud prop set|get`: the backend sets a device's properties (SetDeviceProperty) and reads
// them (QueryDevicePropertyStatus, --history: QueryDevicePropertyData).
#include "commands/cloud_thing.hpp"
#include "commands/commands.hpp"
#include "commands/thing_post.hpp"

#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct PropSetFlags : CloudThingFlags {
  ThingPostFlags params; // pairs, --params, -f only
};

struct PropGetFlags : CloudThingFlags {
  std::vector<std::string> names;
  bool history = false;
  std::optional<std::string> start;
  std::optional<std::string> end;
  int limit = 10;
  bool asc = false;
};

Result<void> run_prop_set(Context& ctx, const PropSetFlags& f) {
  ALIOT_TRY_ASSIGN(auto items, read_thing_params(f.params, false));
  ALIOT_TRY_ASSIGN(auto device, cloud_device(ctx, f));
  ALIOT_TRY_ASSIGN(auto body, cloud_thing_call(ctx, f, "SetDeviceProperty",
                                               thing::cloud::set_property_params(device, items)));
  if (!body) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto r, thing::cloud::parse_message_id(*body));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["message_id"] = r.message_id;
    j["items"] = nlohmann::ordered_json::parse(items);
    j["request_id"] = r.request_id;
    ctx.out.line(j.dump());
  } else {
    ctx.out.line(enc::printable(r.message_id));
  }
  return ok();
}

Result<void> run_history(Context& ctx, const PropGetFlags& f, const thing::cloud::Device& d) {
  if (f.names.size() != 1) {
    return Error(Errc::usage, "--history reads one property",
                 "give its identifier: --history Temp");
  }
  ALIOT_TRY(thing::check_identifier(f.names.front(), "property"));
  if (f.limit < 1 || f.limit > 50) {
    return Error(Errc::usage, "--limit must be 1 to 50 (the platform's page size)");
  }
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
  ALIOT_TRY_ASSIGN(auto body,
                   cloud_thing_call(ctx, f, "QueryDevicePropertyData",
                                    thing::cloud::property_data_params(d, f.names.front(), w)));
  if (!body) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto page, thing::cloud::parse_property_data(*body));
  for (const auto& r : page.records) {
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["identifier"] = f.names.front();
      j["time"] = time_text(r.time);
      j["value"] = r.value;
      ctx.out.line(j.dump());
    } else {
      ctx.out.line(time_text(r.time) + "  " + enc::printable(r.value));
    }
  }
  if (page.next_valid) {
    ctx.out.note("more values: repeat with --" + std::string(f.asc ? "start " : "end ")
                 + enc::printable(page.next_time));
  }
  return ok();
}

Result<void> run_prop_get(Context& ctx, const PropGetFlags& f) {
  ALIOT_TRY_ASSIGN(auto device, cloud_device(ctx, f));
  if (f.history) {
    return run_history(ctx, f, device);
  }
  if (f.start || f.end) {
    return Error(Errc::usage, "--start and --end go with --history");
  }
  for (const auto& n : f.names) {
    ALIOT_TRY(thing::check_identifier(n, "property"));
  }
  ALIOT_TRY_ASSIGN(auto body, cloud_thing_call(ctx, f, "QueryDevicePropertyStatus",
                                               thing::cloud::property_status_params(device)));
  if (!body) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto list, thing::cloud::parse_property_status(*body));
  std::size_t shown = 0;
  for (const auto& p : list) {
    if (!f.names.empty()
        && std::find(f.names.begin(), f.names.end(), p.identifier) == f.names.end()) {
      continue;
    }
    if (p.reported) {
      ++shown;
    }
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["identifier"] = p.identifier;
      j["value"] = p.reported ? nlohmann::ordered_json(p.value) : nlohmann::ordered_json();
      j["time"] =
          p.time.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(time_text(p.time));
      j["data_type"] = p.data_type;
      j["name"] = p.name;
      j["unit"] = p.unit;
      ctx.out.line(j.dump());
    } else {
      ctx.out.line(enc::printable(p.identifier) + "  "
                   + (p.reported ? enc::printable(p.value) : std::string("-")) + "  "
                   + (p.time.empty() ? "-" : time_text(p.time)));
    }
  }
  if (shown < f.names.size()) {
    return Error(Errc::remote,
                 "the platform has no value of " + std::to_string(f.names.size() - shown)
                     + " of the properties asked for",
                 "the device reports them with a property post");
  }
  return ok();
}

} // namespace

void add_cloud_prop_command(CLI::App& cloud, Context& ctx) {
  auto* prop = cloud.add_subcommand("prop", "Set and read a device's thing-model properties");
  prop->require_subcommand(1);
  ctx.docs.attach(prop, {"A device's properties from the backend (OpenAPI).",
                         {{"aliot cloud prop get -k PK -d DN", "Read the latest values"}},
                         {"aliot-prop", "aliot-thing"}});

  auto set = std::make_shared<PropSetFlags>();
  auto* s = prop->add_subcommand("set", "Set properties on the device (SetDeviceProperty)");
  s->add_option("PAIRS", set->params.pairs,
                "Properties as KEY=VALUE (VALUE is JSON when it parses, else text)")
      ->type_name("KEY=VALUE");
  s->add_option("--params", set->params.params, "The properties as one JSON object")
      ->type_name("JSON");
  s->add_option("-f,--file", set->params.file, "Read the JSON object from FILE ('-': stdin)")
      ->type_name("FILE");
  add_cloud_thing_options(*s, *set, ctx);
  ctx.docs.attach(
      s, {"Calls SetDeviceProperty with Items, the JSON object of the properties: the platform "
          "sends it to the device as thing.service.property.set on "
          "/sys/${pk}/${dn}/thing/service/property/set. Prints the MessageId (with -o json: "
          "{message_id, items, request_id}). The stored values change once the device reports "
          "them (`aliot thing serve` does after applying).",
          {{"aliot cloud prop set -k a1FakePK001 -d dev1 Temp=25", "Set one property"},
           {"aliot cloud prop set -k PK -d DN --params '{\"Power\":1,\"Mode\":\"eco\"}'",
            "Set two from JSON"}},
          {"aliot-thing", "aliot-prop"}});
  s->callback([&ctx, set] { set_action(ctx, set, run_prop_set); });

  auto get = std::make_shared<PropGetFlags>();
  auto* g = prop->add_subcommand(
      "get", "Read the device's latest property values (QueryDevicePropertyStatus)");
  g->add_option("NAMES", get->names, "Only these properties (with --history: exactly one)")
      ->type_name("NAME");
  g->add_flag("--history", get->history,
              "The stored values of one property over time (QueryDevicePropertyData)");
  g->add_option("--start", get->start,
                "--history from this time (ms since the epoch or ISO 8601; default 24 h before "
                "--end)")
      ->type_name("TIME");
  g->add_option("--end", get->end, "--history up to this time (default now)")->type_name("TIME");
  g->add_option("--limit", get->limit, "--history: at most N values (1-50, default 10)")
      ->type_name("N");
  g->add_flag("--asc", get->asc, "--history: oldest first (default newest first)");
  add_cloud_thing_options(*g, *get, ctx);
  ctx.docs.attach(
      g, {"Calls QueryDevicePropertyStatus and prints one line per property: `IDENTIFIER  VALUE "
          "TIME` (TIME in ISO 8601 UTC; VALUE and TIME '-' for a property of the thing model never "
          "reported), or under -o json one object per line {identifier, value, time, data_type, "
          "name, unit} (value and time null when never reported). Names given: only those, "
          "exit 7 when one has no value. --history NAME calls QueryDevicePropertyData: `TIME  "
          "VALUE` lines ({identifier, time, value} under -o json), a note on stderr when more "
          "pages remain.",
          {{"aliot cloud prop get -k a1FakePK001 -d dev1", "Every property's latest value"},
           {"aliot cloud prop get -k PK -d DN Temp --history --limit 50", "Temp's last 50 values"}},
          {"aliot-prop"}});
  g->callback([&ctx, get] { set_action(ctx, get, run_prop_get); });
}

} // namespace aliot::cli
