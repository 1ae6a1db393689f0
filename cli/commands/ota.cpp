// `aliot ota report|watch`: the device's side of firmware over the air (the flows are lib's
// aliot::ota; this file is options, rendering and exit codes).
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/ota.hpp>
#include <aliot/thing.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct ReportFlags {
  DeviceFlags device;
  std::string version;
  std::string module;
  Duration timeout = duration_of(std::chrono::seconds(10));
};

struct WatchFlags {
  DeviceFlags device;
  std::string version;
  std::string module;
  std::optional<std::string> exec;
  bool simulate = false;
  std::optional<int> fail_at;
  std::string dir = ".";
  std::optional<Duration> wait;
  Duration timeout = duration_of(std::chrono::seconds(10));
  Duration exec_timeout = duration_of(std::chrono::minutes(10));
  long count = 1;
  int retries = 5;
  std::optional<std::string> proxy;
};

Result<mqtt::Session> login(Context& ctx, const DeviceConfig& dc, std::chrono::milliseconds t) {
  auto s = device_session(ctx);
  ALIOT_TRY_ASSIGN(const auto cp, connect_params(dc));
  ALIOT_TRY(s.connect(cp, mqtt::after(t)));
  return s;
}

Result<void> run_report(Context& ctx, const ReportFlags& f) {
  ALIOT_TRY(ota::check_version(f.version, "--version"));
  if (!f.module.empty()) {
    ALIOT_TRY(ota::check_version(f.module, "--module"));
  }
  ALIOT_TRY(check_duration(f.timeout, "--timeout", std::chrono::milliseconds(100),
                           std::chrono::minutes(10)));
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(f.device, ctx));
  ALIOT_TRY_ASSIGN(auto s, login(ctx, dc, f.timeout.value));
  const auto& id = dc.identity;
  const std::string topic = ota::inform_topic(id.product_key, id.device_name);
  const std::string msg_id = thing::new_id();
  auto r = s.publish(topic, ota::inform_payload(msg_id, f.version, f.module), 1,
                     mqtt::after(f.timeout.value));
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  ALIOT_TRY(r);
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["id"] = msg_id;
    j["topic"] = topic;
    j["version"] = f.version;
    j["module"] = f.module;
    ctx.out.line(j.dump());
  } else {
    ctx.out.info("reported version " + f.version + " on " + topic);
  }
  return ok();
}

void render(Context& ctx, const DeviceConfig& dc, const ota::WatchEvent& e) {
  using K = ota::WatchEvent::Kind;
  if (e.kind == K::ready) {
    nlohmann::ordered_json fields;
    fields["product_key"] = dc.identity.product_key;
    fields["device_name"] = dc.identity.device_name;
    fields["topics"] = nlohmann::ordered_json::array();
    for (std::size_t pos = 0; pos <= e.detail.size();) {
      const auto comma = e.detail.find(',', pos);
      fields["topics"].push_back(e.detail.substr(pos, comma - pos));
      pos = comma == std::string::npos ? e.detail.size() + 1 : comma + 1;
    }
    print_ready(ctx, fields,
                dc.identity.product_key + "/" + dc.identity.device_name
                    + " waiting for a firmware push on " + e.detail);
    return;
  }
  const char* names[] = {"ready",    "push",     "progress", "downloaded",
                         "applying", "reported", "skipped"};
  const std::string version = e.upgrade != nullptr ? e.upgrade->version : std::string();
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["ts"] = rfc3339_now();
    j["event"] = names[static_cast<int>(e.kind)];
    if (e.upgrade != nullptr) {
      j["version"] = version;
      j["module"] = e.upgrade->module;
    }
    if (e.kind == K::push) {
      j["sign_method"] = ota::sign_method_name(e.upgrade->sign_method);
      j["size"] = e.upgrade->total_size();
      j["files"] = e.upgrade->files.size();
    } else if (e.kind == K::progress) {
      j["step"] = e.step;
      j["desc"] = e.detail;
    } else if (e.kind == K::downloaded) {
      j["path"] = e.detail;
      j["bytes"] = e.bytes;
      j["resumes"] = e.resumes;
    } else if (e.kind == K::skipped) {
      j["why"] = e.detail;
    }
    ctx.out.line(j.dump());
    return;
  }
  switch (e.kind) {
  case K::push:
    ctx.out.info("push: version " + version + ", " + std::to_string(e.upgrade->total_size())
                 + " bytes in " + std::to_string(e.upgrade->files.size()) + " file(s)");
    break;
  case K::progress: ctx.out.info("progress " + std::to_string(e.step) + ": " + e.detail); break;
  case K::downloaded:
    ctx.out.info("downloaded " + e.detail + " (" + std::to_string(e.bytes) + " bytes, "
                 + std::to_string(e.resumes) + " resume(s)), verified");
    break;
  case K::applying: ctx.out.info("applying " + version); break;
  case K::reported: ctx.out.line(version); break;
  case K::skipped: ctx.out.warn("skipped " + e.detail); break;
  case K::ready: break;
  }
}

Result<void> run_watch(Context& ctx, const WatchFlags& f) {
  if (!f.version.empty()) {
    ALIOT_TRY(ota::check_version(f.version, "--version"));
  }
  if (!f.module.empty()) {
    ALIOT_TRY(ota::check_version(f.module, "--module"));
  }
  if (f.exec.has_value() == f.simulate) {
    return Error(Errc::usage, "give --exec CMD or --simulate (one of them)",
                 "--exec runs CMD FILE to apply the firmware; --simulate applies nothing (CI)");
  }
  if (f.fail_at && (!f.simulate || *f.fail_at < 1 || *f.fail_at > 100)) {
    return Error(Errc::usage, "--fail-at takes a percentage 1-100 and goes with --simulate");
  }
  if (f.count < 1 || f.retries < 0 || f.retries > 100) {
    return Error(Errc::usage, "--count must be at least 1, --retries 0-100");
  }
  ALIOT_TRY(check_duration(f.timeout, "--timeout", std::chrono::milliseconds(100),
                           std::chrono::minutes(10)));
  ALIOT_TRY_ASSIGN(auto dc, resolve_device(f.device, ctx));
  ALIOT_TRY_ASSIGN(auto s, login(ctx, dc, f.timeout.value));

  ota::WatchOptions o;
  o.current_version = f.version;
  o.module = f.module;
  o.dir = f.dir;
  o.fail_at = f.fail_at;
  o.download.max_retries = f.retries;
  o.download.http.ca_file = dc.endpoint.ca_file;
  o.download.http.insecure = dc.endpoint.insecure;
  o.download.http.stop = ctx.interrupted;
  o.download.http.timeout_ms = 30L * 60 * 1000;
  o.download.http.connect_timeout_ms = static_cast<long>(f.timeout.value.count());
  if (f.proxy) {
    o.download.http.proxy = *f.proxy;
  }
  if (f.exec) {
    const std::string cmd = *f.exec;
    const auto limit = f.exec_timeout.value;
    o.apply = [&ctx, cmd, limit](const ota::Upgrade& u, const std::vector<std::string>& files) {
      return ota::exec_apply(cmd, u, files, ctx.env, limit);
    };
  }
  o.report = [&ctx, &dc](const ota::WatchEvent& e) {
    render(ctx, dc, e);
  };
  o.subscribe_deadline = mqtt::after(f.timeout.value);
  const auto start = mqtt::Clock::now();
  o.deadline = f.wait ? start + f.wait->value : mqtt::Clock::time_point::max();
  for (long i = 0; i < f.count; ++i) {
    auto r = ota::watch_once(s, dc.identity.product_key, dc.identity.device_name, o);
    if (!r) {
      s.disconnect(mqtt::after(std::chrono::seconds(1)));
      if (r.error().code() == Errc::timeout && f.wait) {
        return Error(Errc::timeout, r.error().message() + " within " + fmt_duration(f.wait->value),
                     r.error().hint());
      }
      return std::move(r).error();
    }
    o.current_version = r->upgrade.version;
  }
  s.disconnect(mqtt::after(std::chrono::seconds(1)));
  return ok();
}

} // namespace

void add_ota_command(CLI::App& parent, Context& ctx) {
  auto* ota = parent.add_subcommand("ota", "Firmware over the air, the device's side");
  ota->require_subcommand(1);
  ctx.docs.attach(ota,
                  {"The device's side of the platform's OTA service: report the firmware version, "
                   "wait for a push, download, verify, apply, report progress.",
                   {{"aliot ota report --version 1.0.0", "Announce the running version"},
                    {"aliot ota watch --version 1.0.0 --exec ./flash.sh", "Take one upgrade"}},
                   {"aliot-cloud"}});

  auto r = std::make_shared<ReportFlags>();
  auto* report = ota->add_subcommand("report", "Report the device's firmware version");
  report->add_option("--version", r->version, "The running firmware version")
      ->type_name("V")
      ->required();
  report->add_option("--module", r->module, "The module (default: the default module)")
      ->type_name("M");
  add_duration_option(*report, "--timeout", r->timeout,
                      "Time for CONNACK and the PUBACK (default 10s)");
  add_device_options(*report, r->device, ctx);
  ctx.docs.attach(
      report,
      {"Logs in as the device and publishes {\"id\",\"params\":{\"version\",\"module\"}} on "
       "/ota/device/inform/${pk}/${dn} at QoS 1; exits 0 once the platform acknowledged it (the "
       "platform then knows the version: a job's task to it succeeds, a station reads it back "
       "with the device's details). Under -o json prints {\"id\",\"topic\",\"version\","
       "\"module\"}.",
       {{"aliot ota report --version 1.0.0 --triplet unit.json", "Announce the running version"},
        {"aliot ota report --version 2.1 --module MCU", "Version of a module"}},
       {"aliot-ota-watch"}});
  report->callback([&ctx, r] { set_action(ctx, r, run_report); });

  auto w = std::make_shared<WatchFlags>();
  auto* watch = ota->add_subcommand("watch", "Wait for a firmware push and take the upgrade");
  watch
      ->add_option("--version", w->version,
                   "The running version: reported first; a push to it is skipped")
      ->type_name("CURRENT");
  watch->add_option("--module", w->module, "The module to upgrade (default: the default one)")
      ->type_name("M");
  watch->add_option("--exec", w->exec, "Apply with `CMD FILE...` (via sh); non-zero fails it (-4)")
      ->type_name("CMD");
  watch->add_flag("--simulate", w->simulate, "Download and verify, apply nothing (CI)");
  watch
      ->add_option("--fail-at", w->fail_at,
                   "With --simulate: fail (report -1) once progress reaches this percentage")
      ->type_name("STEP");
  watch->add_option("--dir", w->dir, "Where the firmware files go (default .)")->type_name("DIR");
  add_duration_option(*watch, "-W,--wait", w->wait,
                      "Give up (exit 6) when no push arrived within DURATION");
  add_duration_option(*watch, "--timeout", w->timeout,
                      "Time for CONNACK, SUBACK and each HTTP connect (default 10s)");
  add_duration_option(*watch, "--exec-timeout", w->exec_timeout,
                      "Time the --exec command may run (default 10m)");
  watch->add_option("-C,--count", w->count, "Take this many upgrades, then exit (default 1)")
      ->type_name("N");
  watch
      ->add_option("--retries", w->retries,
                   "Resumed attempts (Range) after a dropped download (default 5)")
      ->type_name("N");
  watch
      ->add_option("--proxy", w->proxy,
                   "HTTP proxy for the download (default: https_proxy/all_proxy)")
      ->type_name("URL");
  add_device_options(*watch, w->device, ctx);
  ctx.docs.attach(
      watch,
      {"Subscribes to /ota/device/upgrade/${pk}/${dn} and firmware/get_reply, says it is ready "
       "(the readiness line), reports --version on /ota/device/inform and asks with "
       "/sys/${pk}/${dn}/thing/ota/firmware/get, then waits for a push. It downloads each file "
       "over HTTP(S) (the MQTT CA file, or the system store; a proxy from --proxy or the "
       "environment), resuming with Range after a dropped connection (--retries), refuses a "
       "file larger or shorter than announced and checks its Md5/SHA256 sign, reporting "
       "progress steps on /ota/device/progress every 10 %. Then it runs --exec CMD FILE... (or "
       "nothing with --simulate) and reports the new version. A failure is reported to the "
       "platform first: -2 download failed (exit 5 network, 6 timeout, 7 bad HTTP reply), -3 "
       "verify failed (exit 9), -4 the --exec command failed (exit 8), -1 the simulated "
       "--fail-at failure (exit 8). Under -o json one line per event: ready, push, progress, "
       "downloaded, applying, reported, skipped; in text the new version on stdout.",
       {{"aliot ota watch --version 1.0.0 --exec ./flash.sh -W 10m", "Take one upgrade"},
        {"aliot ota watch --version 1.0.0 --simulate -o json", "CI: prove the push and download"},
        {"aliot ota watch --simulate --fail-at 50", "CI: a device that fails half way"}},
       {"aliot-ota-report", "aliot-cloud-ota"}});
  watch->callback([&ctx, w] { set_action(ctx, w, run_watch); });
}

} // namespace aliot::cli
