// `aliot emulate cloud add-*`: the verbs that edit the emulator's registry (products, devices,
// AccessKeys, topic categories, consumer groups) through aliot/emu/admin.hpp, which validates
// them as the platform does and makes up what is not given. Options and rendering only.
#include "commands/commands.hpp"
#include "context.hpp"
#include "emulate_cloud.hpp"

#include <aliot/emu/admin.hpp>
#include <aliot/identity.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace aliot::cli {

namespace {

struct ProductOptions {
  std::string dir, pk;
  std::optional<std::string> dynreg;
  std::optional<std::string> secret_file;
};

struct DeviceOptions {
  std::string dir, pk, dn;
  bool disabled = false;
  std::optional<std::string> secret_file;
  std::optional<std::string> names_file;
};

struct AccessKeyOptions {
  std::string dir;
  std::optional<std::string> id;
};

struct TopicOptions {
  std::string dir, pk, topic, access;
};

struct GroupOptions {
  std::string dir, pk, group;
  bool device_status = false;
};

struct ThingModelOptions {
  std::string dir, pk, file;
};

// A secret from a file, else from the environment variable; nullopt when neither gives one.
emu::admin::GivenSecret given_secret(Context& ctx,
                                     const std::optional<std::string>& file,
                                     const std::string& env,
                                     std::string_view what) {
  return [&ctx, &file, env, what]() -> Result<std::optional<std::string>> {
    if (!file) {
      return env_of(ctx, env);
    }
    ALIOT_TRY_ASSIGN(auto s, ctx.read_secret(*file, what));
    return std::optional(s.reveal());
  };
}

void print_json(Context& ctx, const nlohmann::ordered_json& j) {
  ctx.out.line(j.dump(ctx.out.json() ? -1 : 2));
}

Result<void> run_add_product(Context& ctx, const ProductOptions& o) {
  const auto dynreg = o.dynreg ? std::optional(*o.dynreg == "on") : std::nullopt;
  ALIOT_TRY_ASSIGN(auto r,
                   emu::admin::add_product(
                       o.dir, o.pk,
                       given_secret(ctx, o.secret_file, "ALIOT_PRODUCT_SECRET", "ProductSecret"),
                       dynreg));
  if (r.generated) {
    print_json(ctx, {{"ProductKey", o.pk}, {"ProductSecret", r.secret}});
  }
  ctx.out.info("product " + o.pk + (r.created ? " added to " : " updated in ") + o.dir);
  return ok();
}

// --names: every DeviceName checked first, then all added in one transaction, or none.
Result<void> run_add_devices(Context& ctx, const DeviceOptions& o) {
  ALIOT_TRY_ASSIGN(auto batch, emu::admin::add_devices(o.dir, o.pk, *o.names_file, !o.disabled));
  for (auto& d : batch.devices) {
    Triplet t{o.pk, d.dn, Secret(std::move(d.secret)), std::nullopt, Secret()};
    ctx.out.line(triplet_json(t, false));
  }
  ctx.out.note(std::to_string(batch.devices.size()) + " devices added to product " + o.pk + " in "
               + o.dir);
  return ok();
}

Result<void> run_add_device(Context& ctx, const DeviceOptions& o) {
  ALIOT_TRY(validate_product_key(o.pk)); // before a missing -d is reported
  if (o.names_file) {
    return run_add_devices(ctx, o);
  }
  if (o.dn.empty()) {
    return Error(Errc::usage, "add-device needs a DeviceName",
                 "give -d DN, or --names FILE for many devices");
  }
  ALIOT_TRY_ASSIGN(auto secret,
                   emu::admin::add_device(
                       o.dir, o.pk, o.dn,
                       given_secret(ctx, o.secret_file, "ALIOT_DEVICE_SECRET", "DeviceSecret"),
                       !o.disabled));
  Triplet t{o.pk, o.dn, Secret(std::move(secret)), std::nullopt, Secret()};
  ctx.out.line(triplet_json(t, !ctx.out.json()));
  return ok();
}

Result<void> run_add_access_key(Context& ctx, const AccessKeyOptions& o) {
  ALIOT_TRY_ASSIGN(auto key,
                   emu::admin::add_access_key(o.dir, o.id, env_of(ctx, "ALIOT_ACCESS_KEY_SECRET")));
  print_json(ctx, {{"AccessKeyId", key.id}, {"AccessKeySecret", key.secret}});
  return ok();
}

Result<void> run_add_topic(Context& ctx, const TopicOptions& o) {
  ALIOT_TRY_ASSIGN(auto rel, emu::admin::add_topic(o.dir, o.pk, o.topic, o.access));
  ctx.out.info("topic /" + o.pk + "/${deviceName}/" + rel + " (" + o.access + ") added");
  return ok();
}

Result<void> run_add_group(Context& ctx, const GroupOptions& o) {
  ALIOT_TRY(emu::admin::add_consumer_group(o.dir, o.pk, o.group, o.device_status));
  ctx.out.info("consumer group " + o.group + " added to product " + o.pk
               + (o.device_status ? " (with device status messages)" : ""));
  return ok();
}

Result<void> run_add_thing_model(Context& ctx, const ThingModelOptions& o) {
  ALIOT_TRY_ASSIGN(auto n, emu::admin::add_thing_model(o.dir, o.pk, o.file));
  ctx.out.note("thing model of " + o.pk + " stored: " + std::to_string(n.properties)
               + " properties, " + std::to_string(n.events) + " events, "
               + std::to_string(n.services) + " services");
  return ok();
}

CLI::Option* pk_option(CLI::App* cmd, std::string& pk) {
  return cmd->add_option("-k,--product-key", pk, "ProductKey")->required()->type_name("PK");
}

} // namespace

void add_emulate_cloud_registry_verbs(CLI::App& cmd_ref, Context& ctx) {
  CLI::App* cmd = &cmd_ref;
  {
    auto o = std::make_shared<ProductOptions>();
    auto* sub = cmd->add_subcommand("add-product", "Add (or update) a product in the registry");
    emulate_cloud_dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    auto* d = sub->add_option("--dynamic-registration", o->dynreg,
                              "Whether one-type-one-secret registration is on (default on)")
                  ->type_name("SWITCH");
    ctx.docs.choices(d, {"on", "off"});
    auto* f = sub->add_option("--product-secret-file", o->secret_file,
                              "File holding the ProductSecret ('-' = stdin); else "
                              "ALIOT_PRODUCT_SECRET, else one is generated and printed")
                  ->type_name("FILE");
    ctx.docs.kind(f, ValueKind::file);
    ctx.docs.attach(sub, {"Adds a product with the default topic categories user/get "
                          "(subscribe), user/update and user/update/error (publish). Adding an "
                          "existing product updates its registration switch, and its secret "
                          "when one is given.",
                          {{"ALIOT_PRODUCT_SECRET=ps123 aliot emulate cloud add-product --dir "
                            "./emu-state -k a1FakePK001",
                            "Add a product with a known ProductSecret"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_product); });
  }
  {
    auto o = std::make_shared<DeviceOptions>();
    auto* sub = cmd->add_subcommand("add-device", "Add (or replace) a device in the registry");
    emulate_cloud_dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    auto* dn = sub->add_option("-d,--device-name", o->dn, "DeviceName")->type_name("DN");
    auto* names = sub->add_option("--names", o->names_file,
                                  "Add many devices in one transaction: a file with one "
                                  "DeviceName a line, or CSV with a DeviceName column ('-' = "
                                  "stdin)")
                      ->type_name("FILE");
    ctx.docs.kind(names, ValueKind::file);
    dn->excludes(names);
    sub->add_flag("--disabled", o->disabled, "Add the device disabled (its logins are refused)");
    auto* f = sub->add_option("--device-secret-file", o->secret_file,
                              "File holding the DeviceSecret ('-' = stdin); else "
                              "ALIOT_DEVICE_SECRET, else one is generated")
                  ->type_name("FILE");
    ctx.docs.kind(f, ValueKind::file);
    f->excludes(names);
    ctx.docs.attach(sub, {"Adds a device (not yet activated) and prints its triplet JSON. "
                          "Replacing a device resets its activation.\n\n"
                          "With --names, adds every device of the file in one transaction, as "
                          "the console's batch add does, each with a generated DeviceSecret, and "
                          "prints their triplets as JSON lines. Every name is checked first: a "
                          "name the platform refuses, a repeated name or a device the product "
                          "already has fails the whole batch, naming its line; nothing is added.",
                          {{"aliot emulate cloud add-device --dir ./emu-state -k a1FakePK001 -d "
                            "dev1 > dev1.json",
                            "Add a device with a generated secret and keep its triplet"},
                           {"aliot emulate cloud add-device --dir ./emu-state -k a1FakePK001 "
                            "--names devices.txt > triplets.jsonl",
                            "Add every device of devices.txt and keep their triplets"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_device); });
  }
  {
    auto o = std::make_shared<AccessKeyOptions>();
    auto* sub = cmd->add_subcommand("add-access-key", "Add an AccessKey for the OpenAPI");
    emulate_cloud_dir_option(sub, o->dir, ctx);
    sub->add_option("--access-key-id", o->id, "AccessKey id (default: generated)")->type_name("ID");
    ctx.docs.attach(sub, {"Adds an AccessKey (secret from ALIOT_ACCESS_KEY_SECRET, else "
                          "generated) and prints {\"AccessKeyId\",\"AccessKeySecret\"}.",
                          {{"aliot emulate cloud add-access-key --dir ./emu-state "
                            "--access-key-id LTAItest",
                            "Add an AccessKey with a generated secret"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_access_key); });
  }
  {
    auto o = std::make_shared<TopicOptions>();
    auto* sub = cmd->add_subcommand("add-topic", "Add a custom topic category to a product");
    emulate_cloud_dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    sub->add_option("--topic", o->topic, "Category relative to the device, e.g. user/cmd")
        ->required()
        ->type_name("TOPIC");
    auto* a = sub->add_option("--access", o->access, "Device permission")->required();
    ctx.docs.choices(a, {"pub", "sub", "all"});
    ctx.docs.attach(sub, {"Adds (or replaces) a topic category /${productKey}/${deviceName}/"
                          "user/NAME with the device's permission; wildcards only with sub.",
                          {{"aliot emulate cloud add-topic --dir ./emu-state -k a1FakePK001 "
                            "--topic user/cmd --access all",
                            "Let devices publish and subscribe user/cmd"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_topic); });
  }
  {
    auto o = std::make_shared<GroupOptions>();
    auto* sub =
        cmd->add_subcommand("add-consumer-group", "Add an AMQP consumer group to a product");
    emulate_cloud_dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    sub->add_option("--consumer-group", o->group, "Consumer group id")->required()->type_name("ID");
    sub->add_flag("--device-status", o->device_status,
                  "The group also receives the devices' online/offline status messages");
    ctx.docs.attach(sub, {"Records that the consumer group receives the product's device "
                          "messages (for the AMQP server-side subscription). With "
                          "--device-status it also receives each device's online and offline "
                          "status messages on /as/mqtt/status/${productKey}/${deviceName}, as a "
                          "subscription with device status notifications does; adding an "
                          "existing group with it turns them on.",
                          {{"aliot emulate cloud add-consumer-group --dir ./emu-state -k "
                            "a1FakePK001 --consumer-group DEFAULT_GROUP",
                            "Add a consumer group"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_group); });
  }
  {
    auto o = std::make_shared<ThingModelOptions>();
    auto* sub = cmd->add_subcommand("add-thing-model",
                                    "Give a product its thing model (TSL JSON) to check against");
    emulate_cloud_dir_option(sub, o->dir, ctx);
    pk_option(sub, o->pk);
    auto* f = sub->add_option("tsl", o->file, "The TSL JSON the console exports ('-' = stdin)")
                  ->required()
                  ->type_name("FILE");
    ctx.docs.kind(f, ValueKind::file);
    ctx.docs.attach(sub, {"Stores the product's thing model (properties, events and services with "
                          "their data types and specs, as the console exports it). From then on "
                          "the emulator checks the product's property and event posts, "
                          "SetDeviceProperty and InvokeThingService against it and answers "
                          "with the platform's error codes; a service with callType sync is "
                          "called over RRPC. Without a thing model, properties are accepted as "
                          "they come. Adding it again replaces it; a running emulator sees it at "
                          "once.",
                          {{"aliot emulate cloud add-thing-model --dir ./emu-state -k "
                            "a1FakePK001 tsl.json",
                            "Check a1FakePK001's devices against tsl.json"}},
                          {}});
    sub->callback([&ctx, o] { set_action(ctx, o, run_add_thing_model); });
  }
}

} // namespace aliot::cli
