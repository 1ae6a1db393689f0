// `aliot cloud ota upload|push|status`: the backend's side of firmware over the air (OpenAPI
// through lib's aliot::ota::cloud; this file is options, rendering and exit codes).
#include "commands/cloud_common.hpp"
#include "commands/commands.hpp"
#include "commands/device_session.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/encoding.hpp>
#include <aliot/identity.hpp>
#include <aliot/ota.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

namespace aliot::cli {

namespace {

struct UploadFlags {
  ApiFlags api;
  std::string product_key;
  std::string version;
  std::string file;
  std::string module;
  std::optional<std::string> name;
  std::string sign_method = "md5";
};

struct PushFlags {
  ApiFlags api;
  std::string product_key;
  std::vector<std::string> devices;
  std::vector<std::string> from_versions;
  std::optional<std::string> firmware_id;
  std::optional<std::string> version;
  std::string module;
  int timeout_minutes = 0;
};

struct StatusFlags {
  ApiFlags api;
  std::string job_id;
  std::optional<Duration> wait;
  Duration interval = duration_of(std::chrono::seconds(2));
};

Result<void> run_upload(Context& ctx, const UploadFlags& f) {
  ALIOT_TRY(validate_product_key(f.product_key));
  ALIOT_TRY(ota::check_version(f.version, "--version"));
  if (!f.module.empty()) {
    ALIOT_TRY(ota::check_version(f.module, "--module"));
  }
  if (f.api.dry_run) {
    return Error(Errc::usage, "--dry-run is not available for upload (three requests)");
  }
  ALIOT_TRY_ASSIGN(auto method, ota::parse_sign_method(f.sign_method));
  ALIOT_TRY_ASSIGN(auto bytes, ota::cloud::read_firmware(f.file));
  ALIOT_TRY_ASSIGN(auto setup, resolve_api(f.api, ctx));
  openapi::Client api(setup.config, setup.http, ctx.out.logger());
  const std::string base = std::filesystem::path(f.file).filename().string();
  ota::cloud::Firmware fw;
  fw.product_key = f.product_key;
  fw.version = f.version;
  fw.module = f.module;
  fw.name = f.name ? *f.name : base;
  fw.sign_method = method;
  ALIOT_TRY_ASSIGN(auto id, ota::cloud::upload(api, setup.http, fw, base, bytes, ctx.out.logger()));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["firmware_id"] = id;
    j["version"] = fw.version;
    j["module"] = fw.module;
    j["size"] = fw.size;
    j["sign_method"] = ota::sign_method_name(fw.sign_method);
    j["sign"] = fw.sign;
    j["url"] = fw.url;
    ctx.out.line(j.dump());
  } else {
    ctx.out.line(enc::printable(id));
  }
  return ok();
}

Result<void> run_push(Context& ctx, const PushFlags& f) {
  ALIOT_TRY(validate_product_key(f.product_key));
  for (const auto& d : f.devices) {
    ALIOT_TRY(validate_device_name(d));
  }
  if (f.firmware_id.has_value() == f.version.has_value()) {
    return Error(Errc::usage, "give the firmware by --version V or --firmware-id ID (one of them)");
  }
  ota::cloud::Job job;
  job.product_key = f.product_key;
  ALIOT_TRY_ASSIGN(auto setup, resolve_api(f.api, ctx));
  if (f.version) {
    ALIOT_TRY(ota::check_version(*f.version, "--version"));
    if (f.api.dry_run) {
      return Error(Errc::usage, "--dry-run needs --firmware-id (--version is looked up first)");
    }
    openapi::Client api(setup.config, setup.http, ctx.out.logger());
    ALIOT_TRY_ASSIGN(job.firmware_id,
                     ota::cloud::find_firmware(api, f.product_key, *f.version, f.module));
  } else {
    job.firmware_id = *f.firmware_id;
  }
  job.device_names = f.devices;
  job.src_versions = f.from_versions;
  job.timeout_minutes = f.timeout_minutes;
  ALIOT_TRY_ASSIGN(auto params, ota::cloud::static_job_params(job));
  ALIOT_TRY_ASSIGN(auto body,
                   call_or_print(ctx, f.api, setup, "CreateOTAStaticUpgradeJob", params));
  if (!body) {
    return ok();
  }
  ALIOT_TRY_ASSIGN(auto id, ota::cloud::parse_job_id(*body));
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["job_id"] = id;
    j["firmware_id"] = job.firmware_id;
    ctx.out.line(j.dump());
  } else {
    ctx.out.line(enc::printable(id));
  }
  return ok();
}

nlohmann::ordered_json task_json(const std::string& job, const ota::cloud::Task& t) {
  nlohmann::ordered_json j;
  j["ts"] = rfc3339_now();
  j["job_id"] = job;
  j["device_name"] = t.device_name;
  j["status"] = t.status;
  j["progress"] = t.progress;
  j["src_version"] = t.src_version;
  j["dest_version"] = t.dest_version;
  j["desc"] = t.desc;
  return j;
}

std::string task_line(const ota::cloud::Task& t) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-32s %-12s %4s%%  %s", enc::printable(t.device_name).c_str(),
                enc::printable(t.status).c_str(), enc::printable(t.progress).c_str(),
                enc::printable(t.desc).substr(0, 120).c_str());
  return buf;
}

Result<void> run_status(Context& ctx, const StatusFlags& f) {
  if (f.job_id.empty() || f.job_id.size() > 64) {
    return Error(Errc::usage, "JOB is the JobId printed by `aliot cloud ota push`");
  }
  if (f.api.dry_run) {
    return Error(Errc::usage, "--dry-run is not available for status");
  }
  ALIOT_TRY(check_duration(f.interval, "--interval", std::chrono::milliseconds(100),
                           std::chrono::minutes(10)));
  ALIOT_TRY_ASSIGN(auto setup, resolve_api(f.api, ctx));
  openapi::Client api(setup.config, setup.http, ctx.out.logger());
  const bool tty = !ctx.out.json() && ::isatty(STDOUT_FILENO) != 0;
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, std::string> seen; // device -> "status progress" last printed
  std::size_t drawn = 0;                   // table lines to redraw on a terminal
  for (;;) {
    ALIOT_TRY_ASSIGN(auto tasks, ota::cloud::list_all_tasks(api, f.job_id));
    const auto summary = ota::cloud::summarize(f.job_id, tasks);
    if (tty) {
      std::string frame;
      if (drawn > 0) {
        frame += "\x1b[" + std::to_string(drawn) + "F\x1b[J";
      }
      for (const auto& t : tasks) {
        frame += task_line(t) + "\n";
      }
      drawn = tasks.size();
      ctx.out.raw(frame);
    } else {
      for (const auto& t : tasks) {
        const std::string key = t.status + " " + t.progress + " " + t.desc;
        if (seen[t.device_name] == key) {
          continue;
        }
        seen[t.device_name] = key;
        ctx.out.line(ctx.out.json() ? task_json(f.job_id, t).dump() : task_line(t));
      }
    }
    if (!f.wait) {
      return ok();
    }
    if (summary.finished) {
      ctx.out.note("job " + f.job_id + ": " + summary.counts);
      return summary.outcome;
    }
    if (std::chrono::steady_clock::now() - start >= f.wait->value) {
      return Error(Errc::timeout,
                   "job " + f.job_id + " did not finish within " + fmt_duration(f.wait->value));
    }
    for (auto waited = std::chrono::milliseconds(0); waited < f.interval.value;
         waited += std::chrono::milliseconds(50)) {
      if (ctx.is_interrupted()) {
        return Error(Errc::interrupted, "interrupted");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

} // namespace

void add_cloud_ota_command(CLI::App& cloud, Context& ctx) {
  auto* ota = cloud.add_subcommand("ota", "Firmware over the air: upload, push, follow a job");
  ota->require_subcommand(1);
  ctx.docs.attach(
      ota, {"The platform's OTA service from the backend (OpenAPI).",
            {{"aliot cloud ota upload -k PK --version 1.1.0 --file fw.bin", "Upload a firmware"}},
            {"aliot-ota"}});

  auto u = std::make_shared<UploadFlags>();
  auto* up = ota->add_subcommand("upload", "Upload a firmware file (prints its FirmwareId)");
  up->add_option("-k,--product-key", u->product_key, "ProductKey")->type_name("PK")->required();
  up->add_option("--version", u->version, "The firmware's version")->type_name("V")->required();
  up->add_option("--file", u->file, "The firmware file")->type_name("FILE")->required();
  up->add_option("--module", u->module, "Its module (default: the default module)")->type_name("M");
  up->add_option("--name", u->name, "FirmwareName (default: the file's name)")->type_name("NAME");
  auto* sm =
      up->add_option("--sign-method", u->sign_method, "The sign method: md5 (default) or sha256")
          ->type_name("METHOD");
  ctx.docs.completes_to(sm, {"md5", "sha256"});
  add_api_options(*up, u->api, ctx);
  ctx.docs.attach(
      up,
      {"GenerateOTAUploadURL, the file to the returned Host by OSS PostObject, then "
       "CreateOTAFirmware with the FirmwareUrl, the size and the sign computed here. Prints the "
       "FirmwareId (-o json: firmware_id, version, module, size, sign_method, sign, url).",
       {{"aliot cloud ota upload -k PK --version 1.1.0 --file build/fw.bin", "Upload a build"}},
       {"aliot-cloud-ota-push"}});
  up->callback([&ctx, u] { set_action(ctx, u, run_upload); });

  auto p = std::make_shared<PushFlags>();
  auto* push = ota->add_subcommand("push", "Create a static upgrade job (prints its JobId)");
  push->add_option("-k,--product-key", p->product_key, "ProductKey")->type_name("PK")->required();
  push->add_option("-d,--device-name", p->devices, "A device to upgrade (repeatable, up to 100)")
      ->type_name("DN");
  push->add_option("--from-version", p->from_versions,
                   "Upgrade the product's devices running this version (repeatable)")
      ->type_name("V");
  push->add_option("--firmware-id", p->firmware_id, "The firmware (from `cloud ota upload`)")
      ->type_name("ID");
  push->add_option("--version", p->version, "The firmware by its version (ListOTAFirmware)")
      ->type_name("V");
  push->add_option("--module", p->module, "With --version: the firmware's module")->type_name("M");
  push->add_option("--task-timeout", p->timeout_minutes,
                   "Minutes a device has for its upgrade (TimeoutInMinutes; default none)")
      ->type_name("MINUTES");
  add_api_options(*push, p->api, ctx);
  ctx.docs.attach(
      push,
      {"CreateOTAStaticUpgradeJob: the devices given with -d (TargetSelection SPECIFIC) or the "
       "product's devices reporting a --from-version (ALL with SrcVersion), of the firmware given "
       "by "
       "--firmware-id or by --version (looked up with ListOTAFirmware). Prints the JobId.",
       {{"aliot cloud ota push -k PK -d dev1 -d dev2 --firmware-id ID", "Two devices"},
        {"aliot cloud ota push -k PK -d dev1 --version 1.1.0", "The firmware by its version"},
        {"aliot cloud ota push -k PK --from-version 1.0.0 --firmware-id ID", "By version"}},
       {"aliot-cloud-ota-status"}});
  push->callback([&ctx, p] { set_action(ctx, p, run_push); });

  auto s = std::make_shared<StatusFlags>();
  auto* st = ota->add_subcommand("status", "The job's per-device tasks");
  st->add_option("JOB", s->job_id, "The JobId")->type_name("JOB")->required();
  add_duration_option(*st, "-W,--wait", s->wait,
                      "Follow the job until every task is final, at most DURATION (then exit 6)");
  add_duration_option(*st, "--interval", s->interval, "With --wait: poll every (default 2s)");
  add_api_options(*st, s->api, ctx);
  ctx.docs.attach(
      st, {"ListOTATaskByJob: one line per device (status, progress %, description); under -o json "
           "one JSON line per task {ts, job_id, device_name, status, progress, src_version, "
           "dest_version, desc}. With -W/--wait DURATION it polls: a refreshing table on a "
           "terminal, a line "
           "per change otherwise; exits 0 when every task SUCCEEDED, 7 when any FAILED or was "
           "CANCELED, 6 when any TIMEOUT or DURATION passed.",
           {{"aliot cloud ota status JOB -W 10m", "Follow a job in CI (at most 10 minutes)"}},
           {"aliot-cloud-ota-push", "aliot-ota-watch"}});
  st->callback([&ctx, s] { set_action(ctx, s, run_status); });
}

} // namespace aliot::cli
