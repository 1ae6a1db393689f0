// `aliot register`: one-type-one-secret (dynamic registration), from one device to a batch.
// The flows (HTTPS, MQTT, the batch that makes each result durable in --out before it is
// printed, and resumes from it) are in aliot/dynreg.hpp and aliot/dynreg_batch.hpp, the
// rendering in register_render.hpp; this file declares and resolves the options.
#include "commands/commands.hpp"
#include "commands/register_render.hpp"
#include "context.hpp"
#include "options.hpp"

#include <aliot/dynreg.hpp>
#include <aliot/dynreg_batch.hpp>

#include <CLI/CLI.hpp>

#include <chrono>

namespace aliot::cli {

namespace {

std::string quarantine_dir(const Context& ctx) {
  auto env = [&](const char* name) -> std::optional<std::string> {
    const auto it = ctx.env.find(name);
    return it == ctx.env.end() ? std::nullopt : std::optional(it->second);
  };
  return dynreg::default_quarantine_dir(env("XDG_STATE_HOME"), env("HOME"));
}

struct RegisterOptions {
  std::optional<std::string> product_key;
  std::vector<std::string> device_names;
  std::optional<std::string> names_file;
  std::optional<std::string> product_secret_file;
  std::string via = "https";
  bool no_preregister = false;
  std::optional<std::string> out;
  bool show_secrets = false;
  bool dry_run = false;
  std::optional<std::string> sign_method;
  std::optional<std::string> region;
  std::optional<std::string> instance;
  std::optional<std::string> host;
  std::optional<int> port;
  std::optional<std::string> ca_file;
  Duration timeout = duration_of(std::chrono::seconds(10));
  dynreg::Choices run; // -j --random --client-id --securemode --insecure
};

Result<void> run_register(Context& ctx, const RegisterOptions& o) {
  config::Sources s;
  const auto port = o.port ? std::optional(std::to_string(*o.port)) : std::nullopt;
  for (const auto& [key, value, flag] : {std::tuple{"product_key", &o.product_key, "-k"},
                                         {"region", &o.region, "--region"},
                                         {"instance", &o.instance, "--instance"},
                                         {"ca_file", &o.ca_file, "--ca-file"},
                                         {"sign_method", &o.sign_method, "--sign-method"},
                                         {"mqtt_host", &o.host, "--host"},
                                         {"client_id", &o.run.client_id, "--client-id"},
                                         {"mqtt_port", &port, "--port"}}) {
    put_flag(s, key, *value, flag);
  }
  ALIOT_TRY(put_secret_file(ctx, s, "product_secret", o.product_secret_file, "ProductSecret",
                            "--product-secret-file"));
  ALIOT_TRY_ASSIGN(auto cfg, ctx.settings(std::move(s)));
  dynreg::Choices choices = o.run;
  choices.via = o.via == "mqtt" ? dynreg::Via::mqtt : dynreg::Via::https;
  choices.preregistered = !o.no_preregister;
  ALIOT_TRY(check_duration(o.timeout, "--timeout", std::chrono::milliseconds(100),
                           std::chrono::minutes(10)));
  choices.timeout = o.timeout.value;
  choices.abandon = ctx.abandon;
  choices.quarantine_dir = quarantine_dir(ctx);
  ALIOT_TRY_ASSIGN(auto settings, dynreg::settings_from(cfg, choices, ctx.out.logger()));
  ALIOT_TRY_ASSIGN(auto names,
                   dynreg::device_names(o.device_names, o.names_file, cfg.text("device_name")));
  if (o.dry_run) {
    for (const auto& dn : names) {
      ALIOT_TRY(print_dry_run(ctx, settings, dn));
    }
    return ok();
  }

  if (o.out) { // an existing results file holds secrets already, and gets more
    ALIOT_TRY(ctx.check_secret_file(*o.out, "--out file " + *o.out));
  }
  ALIOT_TRY_ASSIGN(auto batch, dynreg::Batch::open(settings.product_key, std::move(names), o.out));
  BatchView view(ctx, batch, settings.product_key, o.out, o.show_secrets);
  const auto summary = batch.run([&] { return dynreg::make_registrar(settings, ctx.out.logger()); },
                                 {.jobs = o.run.jobs,
                                  .stop = ctx.interrupted,
                                  .abandon = ctx.abandon,
                                  .on_stopping = [&](std::size_t n) { view.stopping(n); },
                                  .on_abandoning =
                                      [&](std::size_t n) {
                                        view.abandoning(n);
                                      }},
                                 [&](const dynreg::DeviceResult& r,
                                     const dynreg::BatchProgress& p) { return view.result(r, p); });
  view.finish(summary);
  return dynreg::batch_outcome(summary, ctx.is_interrupted(), o.out);
}

} // namespace

void add_register_command(CLI::App& parent, Context& ctx) {
  auto opts = std::make_shared<RegisterOptions>();
  auto* cmd = parent.add_subcommand(
      "register", "Get device secrets by one-type-one-secret (dynamic registration)");
  cmd->add_option("-k,--product-key", opts->product_key, "ProductKey of the product")
      ->type_name("PK")
      ->group("Identity");
  cmd->add_option("-d,--device-name", opts->device_names, "DeviceName to register (repeatable)")
      ->type_name("DN")
      ->group("Identity");
  auto* names = cmd->add_option("--names", opts->names_file,
                                "File of DeviceNames: one a line, or CSV with a DeviceName column")
                    ->type_name("FILE")
                    ->group("Identity");
  ctx.docs.kind(names, ValueKind::file);
  auto* psf = cmd->add_option("--product-secret-file", opts->product_secret_file,
                              "Read the ProductSecret from a file ('-' for standard input; also "
                              "ALIOT_PRODUCT_SECRET)")
                  ->type_name("FILE")
                  ->group("Identity");
  ctx.docs.kind(psf, ValueKind::file);
  auto* via = cmd->add_option("--via", opts->via,
                              "Transport: https (POST /auth/register/device, the default) or mqtt")
                  ->type_name("TRANSPORT");
  ctx.docs.choices(via, {"https", "mqtt"});
  cmd->add_flag("--no-preregister", opts->no_preregister,
                "With --via mqtt: register a device that is not pre-created "
                "(authType=regnwl); yields ClientId and DeviceToken");
  auto* outf = cmd->add_option("--out", opts->out,
                               "Append each result as a JSON line to FILE (created 0600, synced "
                               "before it is printed); devices already in it are skipped")
                   ->type_name("FILE");
  ctx.docs.kind(outf, ValueKind::file);
  cmd->add_flag("--show-secrets", opts->show_secrets,
                "With --out: print each result with its secret on standard output too (by "
                "default --out keeps secrets off standard output)")
      ->needs(outf);
  cmd->add_option("-j,--jobs", opts->run.jobs, "Register N devices at a time (default 1)")
      ->type_name("N");
  cmd->add_flag("--dry-run", opts->dry_run,
                "Print the exact request (URL and form body, or MQTT clientId, username, "
                "password) without sending it");
  cmd->add_option("--random", opts->run.random,
                  "The random value to sign (default: 15 fresh alphanumerics per device)")
      ->type_name("TEXT")
      ->group("Signing");
  auto* sm =
      cmd->add_option("--sign-method", opts->sign_method, "Signature method (default hmacsha256)")
          ->type_name("METHOD")
          ->group("Signing");
  ctx.docs.choices(sm, {"hmacsha256", "hmacsha1", "hmacmd5"});
  cmd->add_option("--client-id", opts->run.client_id,
                  "With --via mqtt: client id before the options (default ${dn}.${pk})")
      ->type_name("ID")
      ->group("Signing");
  cmd->add_option("--securemode", opts->run.securemode,
                  "With --via mqtt: securemode option, 2 (what the SDKs send) or -2 (documented "
                  "for instances)")
      ->type_name("N")
      ->group("Signing");
  add_region_option(*cmd, opts->region)->group("Endpoint");
  add_instance_option(*cmd, opts->instance)->group("Endpoint");
  cmd->add_option("--host", opts->host,
                  "With --via mqtt: MQTT host (overrides region and instance)")
      ->type_name("HOST")
      ->group("Endpoint");
  cmd->add_option("--port", opts->port, "With --via mqtt: MQTT over TLS port")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535))
      ->group("Endpoint");
  add_ca_file_option(*cmd, opts->ca_file, ctx)->group("Endpoint");
  add_insecure_option(*cmd, opts->run.insecure)->group("Endpoint");
  cmd->add_flag("--allow-insecure-http", opts->run.allow_insecure_http,
                "Allow a plain http:// registration endpoint: the ProductSecret-signed request "
                "and the new DeviceSecret cross the network in clear text (testing only)")
      ->group("Endpoint");
  add_duration_option(*cmd, "--timeout", opts->timeout,
                      "Give up on one device after this long (default 10s)")
      ->group("Endpoint");
  ctx.docs.attach(
      cmd,
      {"Registers devices of a product with dynamic registration switched on, using the "
       "ProductSecret (ALIOT_PRODUCT_SECRET, --product-secret-file or product_secret in a "
       "profile), and prints each result in the console's triplet shape "
       "{\"ProductKey\",\"DeviceName\",\"DeviceSecret\"} (or ClientId and DeviceToken with "
       "--no-preregister), usable directly with --triplet.\n\n"
       "--via https (the default) sends POST ${ALIOT_AUTH_ENDPOINT}/auth/register/device "
       "(default https://iot-auth.${region}.aliyuncs.com); proxies from the environment are "
       "used. --via mqtt connects over TLS with authType=register (or regnwl with "
       "--no-preregister) and takes the reply the platform pushes on /ext/register (or "
       "/ext/regnwl).\n\n"
       "The platform issues a secret once. With --out FILE each result is appended as one JSON "
       "line and synced to disk before it is printed; the file is created 0600, and standard "
       "output gets the outcome without the secret, {\"ProductKey\",\"DeviceName\",\"ok\":"
       "true,\"saved_in\":FILE}, so a CI log does not hold secrets (--show-secrets prints the "
       "whole result as without --out). Running the same "
       "command again with the same --out skips the devices already in it, and a line torn by a "
       "crash is repaired, so an interrupted batch is finished by re-running it. If a line cannot "
       "be "
       "saved (a full disk), it is cut back out of the file, the batch starts no new device, the "
       "secrets not saved are printed whole (they are nowhere else), and the exit status is 10. "
       "Without --out, the first "
       "secret that cannot be written to standard output (a closed pipe, a full disk) stops the "
       "batch the same way. Either way the summary says where the issued secrets are, and names "
       "every device whose secret reached neither --out nor standard output.\n\n"
       "The first SIGINT or SIGTERM starts no new device and finishes the requests already sent "
       "(each bounded by --timeout), saving and printing their secrets (\"stopping: finishing N "
       "requests in flight\"); a second one abandons them and names their devices as sent with "
       "the answer not read, to check on the console. Exit status 130.\n\n"
       "A DeviceSecret (or ClientId, DeviceToken) from the platform that is not text aliot "
       "accepts (control characters, blanks, bytes that are not printable ASCII, more than 64 "
       "characters) is refused (exit 7), and the platform's raw reply is kept in a 0600 file "
       "under $XDG_STATE_HOME/aliot/quarantine (else ~/.local/state/aliot/quarantine), named in "
       "the error.\n\n"
       "Batches: -d is repeatable, --names reads a list or the console's CSV, -j N registers N "
       "at a time with one reused connection each. A progress bar shows on a terminal; -o json "
       "prints one line per device (a failed one as {\"ProductKey\",\"DeviceName\",\"ok\":false,"
       "\"error\":{\"code\",\"exit_status\",\"message\"}}); a summary ends the run on standard "
       "error. A failed device "
       "does not stop the batch; the exit status is that of the first failure (7 refused by the "
       "platform, 4 bad sign or ProductSecret, 5 network, 6 timeout).",
       {{"ALIOT_PRODUCT_SECRET=... aliot register -k a1FakePK001 -d FakeDevice01",
         "Register one device and print its triplet"},
        {"aliot register -k a1FakePK001 --names devices.csv -j 8 --out secrets.jsonl "
         "--product-secret-file ps.txt",
         "Register a batch, keeping every secret in secrets.jsonl only (re-run to resume)"},
        {"aliot register -k a1FakePK001 -d FakeDevice01 --via mqtt --no-preregister",
         "Register without pre-creating the device: get a ClientId and DeviceToken"},
        {"aliot register -k a1FakePK001 -d FakeDevice01 --random RandA1234567890 "
         "--sign-method hmacsha1 --dry-run",
         "Print the exact HTTPS request without sending it"}},
       {"aliot-sign", "aliot-connect"}});
  cmd->callback([&ctx, opts] { set_action(ctx, opts, run_register); });
}

} // namespace aliot::cli
