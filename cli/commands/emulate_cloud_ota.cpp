// `aliot emulate cloud add-firmware`: a firmware package for the emulator's OTA jobs, added
// without the OpenAPI (aliot/emu/ota.hpp holds the flow). Options and rendering only.
#include "commands/commands.hpp"
#include "context.hpp"
#include "emulate_cloud.hpp"

#include <aliot/emu/ota.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct FirmwareOptions {
  std::string dir, pk, version, file, module, name;
  std::string sign_method = "MD5";
};

Result<void> run_add_firmware(Context& ctx, const FirmwareOptions& o) {
  if (o.dir.empty()) {
    return Error{Errc::usage, "--dir is required: the emulator's state directory"};
  }
  ALIOT_TRY_ASSIGN(auto fw, emu::ota::add_firmware(o.dir, o.pk, o.version, o.file, o.module,
                                                   o.sign_method, o.name));
  nlohmann::ordered_json j{{"FirmwareId", fw.id},
                           {"ProductKey", o.pk},
                           {"DestVersion", o.version},
                           {"ModuleName", o.module.empty() ? "default" : o.module},
                           {"FirmwareSize", fw.digests.size},
                           {"SignMethod", fw.sign_method},
                           {"FirmwareSign", fw.sign},
                           {"Md5", fw.digests.md5}};
  ctx.out.line(j.dump(ctx.out.json() ? -1 : 2));
  return ok();
}

} // namespace

void add_emulate_cloud_ota_verbs(CLI::App& cmd, Context& ctx) {
  auto o = std::make_shared<FirmwareOptions>();
  auto* sub = cmd.add_subcommand("add-firmware", "Add a firmware package for OTA upgrade jobs");
  emulate_cloud_dir_option(sub, o->dir, ctx);
  sub->add_option("-k,--product-key", o->pk, "ProductKey of the package's product")
      ->required()
      ->type_name("PK");
  sub->add_option("--version", o->version, "The version the package upgrades to")
      ->required()
      ->type_name("V");
  auto* f = sub->add_option("--file", o->file, "The firmware file (at most 256 MiB)")
                ->required()
                ->type_name("FILE");
  ctx.docs.kind(f, ValueKind::file);
  sub->add_option("--module", o->module, "The OTA module it upgrades (default: the whole device)")
      ->type_name("M");
  sub->add_option("--sign-method", o->sign_method, "MD5 (default) or SHA256")->type_name("METHOD");
  sub->add_option("--name", o->name, "The package's FirmwareName (default PK-VERSION)")
      ->type_name("NAME");
  ctx.docs.attach(sub, {"Copies the file into the state directory (ota/files) and records a "
                        "firmware package as CreateOTAFirmware does: its size, MD5 and "
                        "signature are computed from the file. Prints the package "
                        "(FirmwareId, FirmwareSize, SignMethod, FirmwareSign, Md5) as JSON; "
                        "CreateOTAStaticUpgradeJob or CreateOTADynamicUpgradeJob then push it to "
                        "devices, which download it from the emulator's HTTPS server.",
                        {{"aliot emulate cloud add-firmware --dir ./emu-state -k a1FakePK001 "
                          "--version 1.1.0 --file fw.bin",
                          "Add version 1.1.0 of a1FakePK001's firmware"}},
                        {}});
  sub->callback([&ctx, o] { set_action(ctx, o, run_add_firmware); });
}

} // namespace aliot::cli
