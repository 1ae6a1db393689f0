// `aliot burn`: from the options to the journal, the pool and the credential source.
#include "commands/burn_setup.hpp"

#include "commands/pool_uri.hpp"

#include <aliot/config.hpp>
#include <aliot/dynreg_batch.hpp>
#include <aliot/identity.hpp>

#include <unistd.h>

#include <csignal>
#include <filesystem>

namespace aliot::cli {

namespace {

// The console's JSON; a malformed file is Errc::config, an invalid value Errc::usage.
Result<serial::Credentials> read_triplet(Context& ctx, const std::string& path) {
  ALIOT_TRY_ASSIGN(const auto text, ctx.read_secret(path, "triplet"));
  const std::string where = "triplet file " + path;
  ALIOT_TRY_ASSIGN(auto t, read_triplet_json(text.reveal(), where));
  if (t.device_secret.empty()) {
    return Error(Errc::config, where + ": field \"DeviceSecret\" is missing");
  }
  serial::Credentials c{t.product_key, t.device_name, std::move(t.device_secret),
                        std::move(t.product_secret)};
  if (auto v = serial::validate_credentials(c); !v) {
    return Error(Errc::usage, where + ": " + v.error().message());
  }
  return c;
}

// ALIOT_TEST_KILL_AT=<point>: the process kills itself (SIGKILL) at that point of the flow, so
// the crash tests reach every point ("job", "identified", "registered", "chosen", "intent",
// "staged", "committed", "verified", "finished").
std::function<void(std::string_view)> test_kill_hook(const Context& ctx) {
  const auto at = ctx.env.find("ALIOT_TEST_KILL_AT");
  if (at == ctx.env.end() || at->second.empty()) {
    return {};
  }
  return [where = at->second](std::string_view point) {
    if (point == where) {
      ::kill(::getpid(), SIGKILL);
    }
  };
}

// The ProductKey of --pool: -k, else the pool's only product.
Result<std::string> pool_product(const BurnOptions& o, factory::Pool& pool) {
  if (o.product_key) {
    return *o.product_key;
  }
  ALIOT_TRY_ASSIGN(auto st, pool.status());
  if (st.size() != 1) {
    return Error(Errc::usage, "--pool " + pool.path() + " holds " + std::to_string(st.size())
                                  + " products: name the one to burn with -k");
  }
  return st.front().product_key;
}

// Registration at the station: the ProductSecret and the auth endpoint from the configuration
// (as `aliot register`), HTTPS.
Result<factory::RegisterFn> registrar(Context& ctx, const BurnOptions& o) {
  config::Sources s;
  put_flag(s, "product_key", o.product_key, "-k");
  ALIOT_TRY(put_secret_file(ctx, s, "product_secret", o.product_secret_file, "ProductSecret",
                            "--product-secret-file"));
  ALIOT_TRY_ASSIGN(auto cfg, ctx.settings(std::move(s)));
  dynreg::Choices choices;
  // A registration already sent is finished after a first signal (its secret goes into the
  // pool); a second abandons it.
  choices.abandon = ctx.abandon;
  const auto xdg = ctx.env.find("XDG_STATE_HOME");
  const auto home = ctx.env.find("HOME");
  choices.quarantine_dir = dynreg::default_quarantine_dir(
      xdg == ctx.env.end() ? std::nullopt : std::optional(xdg->second),
      home == ctx.env.end() ? std::nullopt : std::optional(home->second));
  ALIOT_TRY_ASSIGN(auto settings, dynreg::settings_from(cfg, choices, ctx.out.logger()));
  auto reg = dynreg::make_registrar(settings, ctx.out.logger());
  return factory::RegisterFn([reg](const std::string& dn) -> Result<Secret> {
    ALIOT_TRY_ASSIGN(auto t, reg(dn));
    return t.device_secret;
  });
}
} // namespace

Result<BurnSetup> burn_setup(Context& ctx, const BurnOptions& o) {
  if (!o.triplet.empty() + (o.pool || o.register_at_station) != 1) {
    return Error(Errc::usage,
                 "burn: give the triplet's source: --triplet FILE, --pool DB or --register");
  }
  if (o.register_at_station && !o.product_key) {
    return Error(Errc::usage, "--register: -k PK names the product to register the units in");
  }
  BurnSetup s;
  s.at_point = test_kill_hook(ctx);
  std::optional<serial::Credentials> cred;
  if (!o.triplet.empty()) {
    ALIOT_TRY_ASSIGN(auto c, read_triplet(ctx, o.triplet));
    cred = std::move(c);
  }
  std::optional<factory::RegisterFn> reg;
  if (o.register_at_station) {
    ALIOT_TRY_ASSIGN(auto r, registrar(ctx, o));
    reg = std::move(r);
  }
  std::string journal_path = o.journal.value_or("");
  if (journal_path.empty()) {
    auto env = [&](const char* name) -> std::optional<std::string> {
      const auto it = ctx.env.find(name);
      return it == ctx.env.end() ? std::nullopt : std::optional(it->second);
    };
    ALIOT_TRY_ASSIGN(auto d, factory::default_journal_path(env("XDG_STATE_HOME"), env("HOME")));
    ALIOT_TRY(factory::create_parent_dir(d));
    journal_path = d;
  }
  ALIOT_TRY_ASSIGN(auto journal, factory::Journal::open(journal_path));
  s.journal = std::move(journal);
  if (o.pool) {
    ALIOT_TRY(check_pool_uri(ctx, *o.pool));
  }
  if (o.pool || o.register_at_station) {
    const auto dir = std::filesystem::path(journal_path).parent_path();
    ALIOT_TRY_ASSIGN(auto p, factory::Pool::open(o.pool.value_or(
                                 (dir.empty() ? "" : dir.string() + "/") + "pool.db")));
    s.pool = std::move(p);
  }
  ALIOT_TRY_ASSIGN(auto rec, s.journal->recover(s.pool.get()));
  if (rec.aborted + rec.in_doubt > 0) {
    ctx.out.note("recovered " + std::to_string(rec.aborted)
                 + " job(s) stopped before their "
                   "write intent (aborted) and "
                 + std::to_string(rec.in_doubt) + " after it (kept for their units)");
  }
  if (s.pool) {
    ALIOT_TRY_ASSIGN(auto pk, pool_product(o, *s.pool));
    s.source = factory::pool_source(*s.journal, *s.pool, pk, reg.value_or(factory::RegisterFn()),
                                    o.name_template, s.at_point);
  } else {
    s.source = factory::fixed_triplet_source(*s.journal, std::move(*cred));
  }
  return s;
}

} // namespace aliot::cli
