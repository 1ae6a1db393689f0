// `aliot ntp`: the device asks the platform for its clock (/ext/ntp/${pk}/${dn}/request) and prints
// the offset and the round trip.
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/thing.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct NtpFlags {
  DeviceFlags device;
  double timeout_s = 10;
};

std::string ms_text(double ms) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  return buf;
}

Result<void> run_ntp(Context& ctx, const NtpFlags& f) {
  if (f.timeout_s <= 0) {
    return Error(Errc::usage, "--timeout must be positive");
  }
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(f.device, ctx));
  const auto timeout = std::chrono::milliseconds(static_cast<long>(f.timeout_s * 1000));
  auto s = device_session(ctx);
  ALIOT_TRY_ASSIGN(const auto cp, connect_params(dc));
  ALIOT_TRY(s.connect(cp, mqtt::after(timeout)));
  auto t = thing::ntp(s, dc.identity.product_key, dc.identity.device_name, mqtt::after(timeout));
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  if (!t) {
    if (t.error().code() == Errc::timeout) {
      return Error(Errc::timeout,
                   t.error().message() + " within " + fmt_seconds(f.timeout_s) + " s",
                   "the platform answers NTP on /ext/ntp/${pk}/${dn}/response");
    }
    return std::move(t).error();
  }
  const auto c = thing::clock_offset(*t);
  const auto server_now =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(t->server_send));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["offset_ms"] = c.offset_ms;
    j["round_trip_ms"] = c.round_trip_ms;
    j["server_time"] = utc_iso8601(server_now, true);
    j["deviceSendTime"] = t->device_send;
    j["serverRecvTime"] = t->server_recv;
    j["serverSendTime"] = t->server_send;
    j["deviceRecvTime"] = t->device_recv;
    ctx.out.line(j.dump());
    return ok();
  }
  ctx.out.fields({{"offset", ms_text(c.offset_ms)},
                  {"round_trip", ms_text(c.round_trip_ms)},
                  {"server_time", utc_iso8601(server_now, true)}});
  return ok();
}

} // namespace

void add_ntp_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<NtpFlags>();
  auto* cmd =
      parent.add_subcommand("ntp", "Ask the platform for the time: clock offset and round trip");
  add_device_options(*cmd, opts->device, ctx);
  cmd->add_option("--timeout", opts->timeout_s,
                  "Seconds to wait for CONNACK, SUBACK and the response (default 10)")
      ->type_name("SECONDS");
  ctx.docs.attach(
      cmd,
      {"Logs in as the device, subscribes to /ext/ntp/${pk}/${dn}/response and publishes "
       "{\"deviceSendTime\":\"MS\"} on /ext/ntp/${pk}/${dn}/request. From the response's "
       "serverRecvTime and serverSendTime and the time it arrived it prints the offset of the "
       "platform's clock from this machine's ((serverRecv - deviceSend) + (serverSend - "
       "deviceRecv)) / 2, the round trip (deviceRecv - deviceSend) - (serverSend - serverRecv) and "
       "the server's time. Under -o json one line {\"offset_ms\", \"round_trip_ms\", "
       "\"server_time\", \"deviceSendTime\", \"serverRecvTime\", \"serverSendTime\", "
       "\"deviceRecvTime\"}. No response "
       "within --timeout is exit 6.",
       {{"aliot ntp --triplet device.json", "Check the clock path of a unit"},
        {"aliot ntp -o json | jq .offset_ms", "The offset alone"}},
       {"aliot-prop"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_ntp); });
}

} // namespace aliot::cli
