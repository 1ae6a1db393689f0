// `aliot pool`: the station's credential pool (init, import, status), an SQLite file or a
// PostgreSQL server shared by stations. The flows are in lib (aliot/factory/pool.hpp,
// aliot/factory/pool_server.hpp); this file reads options and renders.
#include "commands/commands.hpp"
#include "commands/pool_render.hpp"
#include "commands/pool_uri.hpp"
#include "context.hpp"

#include <aliot/factory.hpp>
#include <aliot/factory/pool.hpp>
#include <aliot/factory/pool_server.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace aliot::cli {

namespace {

struct PoolOptions {
  std::string pool;
  std::string file;
  std::string file_arg; // the same file given as an argument
  std::optional<std::string> product_key;
  std::optional<std::string> journal;
  std::string station_role = "aliot_station";
};

Result<void> run_init(Context& ctx, const PoolOptions& o) {
  if (!factory::is_server_uri(o.pool)) {
    return Error(Errc::usage, "pool init --pool " + o.pool + ": not a postgresql:// URI",
                 "a pool file is created by its first import: aliot pool import --pool FILE --csv "
                 "BATCH");
  }
  ALIOT_TRY(check_pool_uri(ctx, o.pool));
  ALIOT_TRY_ASSIGN(auto r, factory::init_server_pool(o.pool, o.station_role));
  const auto shown = factory::redact_uri(o.pool);
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["pool"] = shown;
    j["owner"] = r.owner;
    j["station_role"] = r.station_role;
    j["role_created"] = r.role_created;
    ctx.out.line(j.dump());
    return ok();
  }
  ctx.out.fields({{"pool", shown},
                  {"owner", r.owner},
                  {"station role", r.station_role + (r.role_created ? " (created)" : "")}});
  ctx.out.note("a station logs in with a role of its own: CREATE ROLE st1 LOGIN PASSWORD '...' IN "
               "ROLE "
               + r.station_role);
  return ok();
}

Result<void> run_import(Context& ctx, PoolOptions o) {
  if (o.file.empty() == o.file_arg.empty()) {
    return Error(Errc::usage, "pool import: give the file once: --csv FILE or FILE");
  }
  if (o.file.empty()) {
    o.file = o.file_arg;
  }
  ALIOT_TRY(check_pool_uri(ctx, o.pool));
  std::unique_ptr<factory::Journal> journal;
  if (o.journal) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(*o.journal, ec)) {
      return Error(Errc::io, "factory journal " + *o.journal + ": no such file");
    }
    ALIOT_TRY_ASSIGN(auto j, factory::Journal::open(*o.journal));
    journal = std::move(j);
  }
  // The file holds DeviceSecrets: the rule for every file that holds a secret (the pool itself
  // is refused by factory::Pool when others can read it).
  ALIOT_TRY(ctx.check_secret_file(o.file, "--csv file " + o.file));
  ALIOT_TRY_ASSIGN(auto pool, factory::Pool::open(o.pool));
  factory::ImportOptions opts;
  opts.product_key = o.product_key;
  opts.journal = journal.get();
  ALIOT_TRY_ASSIGN(auto rep, pool->import_file(o.file, opts));
  const bool server = factory::is_server_uri(o.pool);
  const auto shown = server ? factory::redact_uri(o.pool) : o.pool;
  if (rep.already_imported) {
    // A re-run of an import that went through: nothing to do, and not an error.
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["pool"] = shown;
      j["file"] = o.file;
      j["format"] = rep.format;
      j["sha256"] = rep.sha256;
      j["imported"] = 0;
      j["already_imported"] = true;
      j["rows"] = rep.rows;
      j["imported_at"] = rep.imported_at;
      j["products"] = nlohmann::ordered_json::array();
      for (const auto& c : rep.products) {
        j["products"].push_back(counts_json(c));
      }
      ctx.out.line(j.dump());
      return ok();
    }
    ctx.out.fields(
        {{"imported", fmt::format("already imported ({} rows, at {})", rep.rows, rep.imported_at)},
         {"file", o.file},
         {"sha256", rep.sha256},
         {"pool", shown}});
    print_counts(ctx, rep.products);
    return ok();
  }
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["pool"] = shown;
    j["file"] = o.file;
    j["format"] = rep.format;
    j["sha256"] = rep.sha256;
    j["imported"] = rep.rows;
    j["products"] = nlohmann::ordered_json::array();
    for (const auto& c : rep.products) {
      j["products"].push_back(server ? server_counts_json(c) : counts_json(c));
    }
    ctx.out.line(j.dump());
    return ok();
  }
  ctx.out.fields({{"imported", std::to_string(rep.rows) + " triplets (" + rep.format + ")"},
                  {"file", o.file},
                  {"sha256", rep.sha256},
                  {"pool", shown}});
  print_counts(ctx, rep.products, server);
  return ok();
}

Result<void> run_status(Context& ctx, const PoolOptions& o) {
  ALIOT_TRY(check_pool_uri(ctx, o.pool));
  const bool server = factory::is_server_uri(o.pool);
  ALIOT_TRY_ASSIGN(auto pool, factory::Pool::open_existing(o.pool));
  ALIOT_TRY_ASSIGN(auto found, pool->check());
  if (!found.integrity.empty()) {
    return Error(Errc::io,
                 fmt::format("credential pool {} is damaged: PRAGMA quick_check: {}{}", o.pool,
                             found.integrity.front(),
                             found.integrity.size() > 1 ? fmt::format(" (and {} more findings)",
                                                                      found.integrity.size() - 1)
                                                        : std::string()),
                 "do not burn from it: restore the pool from its backup");
  }
  ALIOT_TRY_ASSIGN(auto counts, pool->status());
  print_counts(ctx, counts, server);
  if (!found.damaged.empty()) {
    std::string names;
    for (std::size_t i = 0; i < found.damaged.size() && i < 5; ++i) {
      const auto& d = found.damaged[i];
      names += (i == 0 ? "" : ", ") + d.product_key + "/" + d.device_name + " (" + d.state + ")";
    }
    if (found.damaged.size() > 5) {
      names += fmt::format(" and {} more", found.damaged.size() - 5);
    }
    return Error(Errc::io,
                 fmt::format("credential pool {}: {} triplet{} whose stored secret no longer "
                             "matches its fingerprint (edited or damaged): {}",
                             pool->path(), found.damaged.size(),
                             found.damaged.size() == 1 ? "" : "s", names),
                 "a burn sets each one aside (QUARANTINED) when it comes to it; restore the pool "
                 "from its backup to get them back");
  }
  return ok();
}

CLI::Option* add_pool_option(CLI::App* cmd, Context& ctx, PoolOptions& o) {
  auto* p = cmd->add_option("--pool", o.pool,
                            "The credential pool: the station's SQLite file (mode 0600), or a "
                            "postgresql:// URI of the server shared by several stations")
                ->required()
                ->type_name("DB|URI");
  ctx.docs.kind(p, ValueKind::file);
  return p;
}

} // namespace

void add_pool_command(CLI::App& parent, Context& ctx) {
  auto* cmd = parent.add_subcommand("pool", "The station's credential pool: init, import, status");
  cmd->require_subcommand(1);
  ctx.docs.attach(
      cmd, {"A pool holds the triplets a station burns (`aliot burn --pool DB`), one SQLite file "
            "per station, created mode 0600 because it holds the secrets (a pool others can read "
            "is refused), or one PostgreSQL database shared by several stations (`--pool "
            "postgresql://...`, made by `aliot pool init`). Each triplet is AVAILABLE, RESERVED "
            "for a unit, TRANSMITTED (its write "
            "intent is in the journal: it may be in the unit and is never given to another), "
            "BOUND (the unit passed), FAILED (transmitted, the unit failed: it stays that unit's) "
            "or QUARANTINED (set aside: its secret no longer matched its fingerprint, or the "
            "journal binds it to another unit; never given out again).",
            {{"aliot pool import --pool station1.db --csv batch.csv -k a1FakePK001",
              "Import the console's batch-registration CSV"},
             {"aliot pool status --pool station1.db", "Count the triplets per state"}},
            {"aliot-burn", "aliot-journal", "aliot-register"}});

  auto ini = std::make_shared<PoolOptions>();
  auto* in = cmd->add_subcommand("init", "Create the pool on a PostgreSQL server (its owner)");
  add_pool_option(in, ctx, *ini);
  in->add_option("--station-role", ini->station_role,
                 "The group role the stations' login roles are members of (default "
                 "aliot_station)")
      ->type_name("ROLE");
  ctx.docs.attach(
      in, {"Run once by the role that owns the pool's database (it needs CREATEROLE): creates the "
           "schema aliot (the triplets, the batches imported, the bindings), the functions a "
           "station calls (SECURITY DEFINER, search path pinned) and the NOLOGIN group role "
           "aliot_station (--station-role), which may execute those functions and nothing else: "
           "no station can SELECT a table, so none can read a secret it was not handed for a "
           "unit. Run again, it brings the functions up to date and changes no row.\n\n"
           "Then give each station a login role in that group: CREATE ROLE st3 LOGIN PASSWORD "
           "'...' IN ROLE aliot_station; and import the batches as the owner (aliot pool import "
           "--pool URI FILE). See docs/station.md, \"Several stations\".\n\n"
           "A URI without sslmode=require or verify-full to another host warns (refused under "
           "--strict): the secrets would cross the network in clear.\n\n"
           "Exit status: 0 created or up to date, 2 not a postgresql:// URI or a bad role name, 3 "
           "the role may not create the schema or the role, 4 the server refused the login, 5 "
           "the server cannot be reached.",
           {{"aliot pool init --pool 'postgresql://aliot@db.factory/aliot?sslmode=verify-full'",
             "Create the pool and the role aliot_station"}},
           {"aliot-burn"}});
  in->callback([&ctx, ini] { set_action(ctx, ini, run_init); });

  auto imp = std::make_shared<PoolOptions>();
  auto* i = cmd->add_subcommand("import", "Import triplets into the pool (all or none)");
  add_pool_option(i, ctx, *imp);
  auto* f = i->add_option("--csv", imp->file,
                          "The file: the console's CSV or `aliot register --out` JSON lines")
                ->type_name("FILE");
  ctx.docs.kind(f, ValueKind::file);
  auto* fa = i->add_option("file", imp->file_arg, "The file, as --csv")->type_name("FILE");
  ctx.docs.kind(fa, ValueKind::file);
  i->add_option("-k,--product-key", imp->product_key,
                "Every row must be of this product (and the product of a file without a "
                "ProductKey column)")
      ->type_name("PK");
  auto* jr = i->add_option("--journal", imp->journal,
                           "Also refuse DeviceNames this station journal already binds")
                 ->type_name("DB");
  ctx.docs.kind(jr, ValueKind::file);
  ctx.docs.attach(
      i,
      {"Reads the console's batch-registration CSV (header read case-insensitively: "
       "ProductKey, DeviceName, DeviceSecret, optional ProductSecret; other columns such as "
       "IotId are ignored; without a ProductKey column -k gives the product) or the JSON lines "
       "`aliot register --out` writes. A UTF-8 BOM and CRLF line ends are accepted.\n\n"
       "Every row is checked (ProductKey, DeviceName characters and length, DeviceSecret "
       "length). A DeviceName that repeats in the file, is already in the pool or is bound in "
       "--journal, a row of another product than -k, or a truncated row refuses the whole "
       "import, naming the line: the pool is left as it was. The file's SHA-256 is recorded: "
       "importing the same file again into a pool file (same SHA-256, its rows all in the pool) "
       "changes nothing and says \"already imported (N rows, at TIME)\", exit 0, so a script may "
       "re-run it; another file that shares DeviceNames with the pool is still refused.\n\n"
       "On a PostgreSQL pool (--pool postgresql://..., as the owner) the server refuses a batch "
       "whose SHA-256 was already imported, or any DeviceName already in the pool, whichever "
       "station imports it (exit 2): on a shared pool a second import is a second station's "
       "mistake to surface, not a re-run to absorb.\n\n"
       "Exit status: 0 imported or already imported, 2 a row refused, 3 a malformed or truncated "
       "file, 10 the pool "
       "or the file could not be read or written.",
       {{"aliot pool import --pool station1.db --csv batch.csv", "Import the console's batch CSV"},
        {"aliot pool import --pool station1.db --csv secrets.jsonl -k a1FakePK001",
         "Import what `aliot register --out secrets.jsonl` wrote"}},
       {"aliot-burn", "aliot-register"}});
  i->callback([&ctx, imp] {
    ctx.action = [&ctx, imp] {
      return run_import(ctx, *imp);
    };
  });

  auto st = std::make_shared<PoolOptions>();
  auto* s = cmd->add_subcommand("status", "Count the pool's triplets per product and state");
  add_pool_option(s, ctx, *st);
  ctx.docs.attach(s,
                  {"One row per product: AVAILABLE, RESERVED, TRANSMITTED, BOUND, FAILED and "
                   "QUARANTINED triplets; under -o json one JSON object per product.\n\n"
                   "On a PostgreSQL pool, also per station (the role it logs in with: a station "
                   "sees its own) with its oldest reservation, and each JSON object has "
                   "\"stations\" and \"oldest_reserved\".\n\n"
                   "The file is checked first: a missing or empty (0-byte) file, or one that is "
                   "not an aliot pool, is refused, and so is one that SQLite's PRAGMA quick_check "
                   "finds damaged. Then every triplet's secret is checked against the fingerprint "
                   "stored at import: the rows that no longer match (the file was edited or "
                   "rotted) are named after the table. (A burn checks the same before it takes a "
                   "triplet, sets a damaged one aside as QUARANTINED with a warning, and takes the "
                   "next.)\n\n"
                   "Exit status: 0 the pool is sound, 10 the file is missing, empty, not a pool, "
                   "damaged, or holds triplets that do not match their fingerprints.",
                   {{"aliot pool status --pool station1.db", "The table"},
                    {"aliot pool status --pool station1.db -o json", "One JSON line per product"}},
                   {"aliot-burn"}});
  s->callback([&ctx, st] { set_action(ctx, st, run_status); });
}

} // namespace aliot::cli
