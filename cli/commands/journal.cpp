// `aliot journal`: the station journal's export and the uniqueness check across stations. The
// flows are in lib (aliot/factory.hpp); this file reads options and renders.
#include "commands/commands.hpp"
#include "context.hpp"

#include <aliot/factory.hpp>
#include <aliot/time.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace aliot::cli {

namespace {

struct ExportOptions {
  std::optional<std::string> journal;
  std::string format; // empty: json lines
  bool events = false;
  std::optional<std::string> since;
};

struct CheckOptions {
  std::vector<std::string> journals;
  std::vector<std::string> heads;
};

std::optional<std::string> env_value(const Context& ctx, const char* name) {
  auto it = ctx.env.find(name);
  return it == ctx.env.end() ? std::nullopt : std::optional<std::string>(it->second);
}

Result<void> run_export(Context& ctx, const ExportOptions& o) {
  if (o.format == "csv" && ctx.out.json()) {
    return Error(Errc::usage, "--format csv and -o json: choose one");
  }
  std::optional<std::chrono::system_clock::time_point> since;
  if (o.since) {
    // RFC 3339: an offset or a date alone (its midnight UTC) too.
    auto t = parse_utc_iso8601(*o.since, {.offset = true, .date_only = true, .lenient = true});
    if (!t) {
      return Error(Errc::usage, "--since: " + t.error().message(), t.error().hint());
    }
    since = *t;
  }
  std::string path;
  if (o.journal) {
    path = *o.journal;
  } else {
    ALIOT_TRY_ASSIGN(auto d, factory::default_journal_path(env_value(ctx, "XDG_STATE_HOME"),
                                                           env_value(ctx, "HOME")));
    path = std::move(d);
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Error(Errc::io, "factory journal " + path + ": no such file",
                 o.journal ? "" : "no burn has run here yet; or give --journal DB");
  }
  ALIOT_TRY_ASSIGN(auto j, factory::Journal::open(path));
  const auto format = o.format == "csv" ? factory::ExportFormat::csv : factory::ExportFormat::jsonl;
  std::vector<std::string> lines;
  if (o.events) {
    ALIOT_TRY_ASSIGN(auto ev, j->events(since));
    lines = factory::export_lines(ev, format);
  } else {
    ALIOT_TRY_ASSIGN(auto jobs, j->jobs(since));
    lines = factory::export_lines(jobs, format);
  }
  for (const auto& l : lines) {
    if (!ctx.out.line(l)) {
      return ok(); // the end-of-command check reports the failed write
    }
  }
  // The anchor of the chain: kept with the export, it lets `journal check --head` prove later
  // that no event up to here was cut from the journal.
  ALIOT_TRY_ASSIGN(auto head, j->head());
  if (head) {
    ctx.out.note(fmt::format("journal head: event {} {} (check later: aliot journal check --head "
                             "{} {})",
                             head->seq, head->hash, head->hash, path));
  }
  return ok();
}

Result<void> run_check(Context& ctx, const CheckOptions& o) {
  for (const auto& h : o.heads) {
    if (h.size() != 64 || h.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return Error(Errc::usage, "--head " + h + ": not an event hash (64 lower-case hex digits)",
                   "give the hash `aliot journal export` printed as the journal head");
    }
  }
  ALIOT_TRY_ASSIGN(auto rep, factory::check_journals(o.journals, o.heads));
  for (const auto& v : rep.violations) {
    if (ctx.out.json()) {
      nlohmann::ordered_json j;
      j["violation"] = v.rule;
      j["message"] = v.message;
      ctx.out.line(j.dump());
    } else {
      ctx.out.line("VIOLATION " + v.rule + ": " + v.message);
    }
  }
  const std::string counts =
      fmt::format("{} journal{}, {} jobs, {} bindings, {} events", rep.journals,
                  rep.journals == 1 ? "" : "s", rep.jobs, rep.bindings, rep.events);
  if (!rep.violations.empty()) {
    return Error(Errc::verify,
                 fmt::format("{} violation{} of the never-twice rules in {}", rep.violations.size(),
                             rep.violations.size() == 1 ? "" : "s", counts),
                 "a triplet must be bound to one unit and a unit hold one triplet per product, "
                 "and a journal must agree with its own event chain: see the lines above");
  }
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["result"] = "ok";
    j["journals"] = rep.journals;
    j["jobs"] = rep.jobs;
    j["bindings"] = rep.bindings;
    j["events"] = rep.events;
    j["violations"] = 0;
    ctx.out.line(j.dump());
  } else {
    ctx.out.line("ok: " + counts + ", no violation");
  }
  return ok();
}

} // namespace

void add_journal_command(CLI::App& parent, Context& ctx) {
  auto* cmd =
      parent.add_subcommand("journal", "The station journal: export, check across stations");
  cmd->require_subcommand(1);
  ctx.docs.attach(
      cmd,
      {"The factory journal is one SQLite file per station (default "
       "$XDG_STATE_HOME/aliot/factory.db, else ~/.local/state/aliot/factory.db) that "
       "`aliot burn` keeps: a job per unit, the binding of each triplet to the one unit "
       "(MAC) it went to, and a SHA-256 hash-chained event log. It holds no secrets: "
       "ProductKey, DeviceName and the triplet's fingerprint only.",
       {{"aliot journal export -o json > shift.jsonl", "The jobs of the station, as JSON lines"},
        {"aliot journal check station1.db station2.db",
         "Check the never-twice rules across two stations"}},
       {"aliot-burn", "aliot-pool"}});

  auto ex = std::make_shared<ExportOptions>();
  auto* e = cmd->add_subcommand("export", "Export the journal's jobs or events (no secrets)");
  auto* jr = e->add_option("--journal", ex->journal,
                           "The journal (default $XDG_STATE_HOME/aliot/factory.db)")
                 ->type_name("DB");
  ctx.docs.kind(jr, ValueKind::file);
  auto* f = e->add_option("--format", ex->format, "Format: json (JSON Lines, the default) or csv")
                ->type_name("FORMAT");
  ctx.docs.choices(f, {"json", "csv"});
  e->add_flag("--events", ex->events, "The hash-chained event log instead of the jobs");
  e->add_option("--since", ex->since, "Only jobs started (events stamped) at or after this time")
      ->type_name("RFC3339");
  ctx.docs.attach(
      e, {"Writes the journal's jobs (one per unit: station, operator, port, MAC, chip id, "
          "firmware, serial number, ProductKey, DeviceName, fingerprint, state, error, "
          "verification level, start and end) or, with --events, its event log (seq, time, job, "
          "type, data, prev and hash of the SHA-256 chain) as JSON Lines (the default, also -o "
          "json) or CSV (--format csv: a header, then one RFC 4180 row per record). No secret is "
          "in the journal, so none is in the export.\n\n"
          "Then, on stderr, the journal's head: the newest event's seq and hash (\"journal head: "
          "event N HASH\"). Keep it with the export: `aliot journal check --head HASH` proves "
          "later that no event up to it was deleted.",
          {{"aliot journal export --since 2026-11-28T06:00:00+08:00",
            "This shift's jobs as JSON lines"},
           {"aliot journal export --journal station1.db --format csv > jobs.csv",
            "A station's jobs as CSV"},
           {"aliot journal export --events -o json", "The event log with its hash chain"}},
          {"aliot-burn"}});
  e->callback([&ctx, ex] { set_action(ctx, ex, run_export); });

  auto ch = std::make_shared<CheckOptions>();
  auto* c = cmd->add_subcommand("check", "Check the never-twice rules across stations' journals");
  auto* js = c->add_option("journals", ch->journals, "Station journals (SQLite files)")
                 ->required()
                 ->type_name("JOURNAL");
  ctx.docs.kind(js, ValueKind::file);
  c->add_option("--head", ch->heads,
                "A head hash `journal export` printed: the chain must still reach it (repeatable)")
      ->type_name("HASH");
  ctx.docs.attach(
      c, {"Reads one or several stations' journals (read-only) and checks each journal's hash "
          "chain, then, across all of them, with the bindings the chain itself records (each "
          "write intent and the unit identified before it): a triplet bound to two units (MACs), "
          "or burned with two different secrets (fingerprints); a unit holding two triplets of "
          "one product. The binding and job tables, which the chain does not cover, must agree "
          "with it: a binding row deleted or its MAC or fingerprint edited "
          "(binding-not-in-chain), a job whose state has no event, as when the newest events "
          "were deleted (job-not-in-chain). Each violation is one line on stdout (a JSON object "
          "under -o json).\n\n"
          "Deleting the newest events together with their jobs and bindings leaves a shorter "
          "chain that is still whole: `aliot journal export` prints the journal's head hash on "
          "stderr; keep it, and --head HASH later proves the chain still reaches it "
          "(head-not-found otherwise).\n\n"
          "Exit status: 0 every rule holds (a summary line), 2 a --head that is not a hash, 9 a "
          "violation, 10 a journal that is missing or not a journal.",
          {{"aliot journal check station1.db station2.db station3.db",
            "At the end of the shift, across the line"},
           {"aliot journal check --head \"$HEAD\" station1.db",
            "Prove nothing was cut since the export that printed that head"}},
          {"aliot-burn"}});
  c->callback([&ctx, ch] { set_action(ctx, ch, run_check); });
}

} // namespace aliot::cli
