// The factory station: one job per unit around serial::burn, and the loop that waits for units
// to arrive and leave (spec/serial-protocol.md 5.2).
#include <aliot/factory/pool.hpp>
#include <aliot/factory/station.hpp>
#include <aliot/identity.hpp>
#include <aliot/serial/transport.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <thread>
#include <utility>

namespace aliot::factory {

namespace {

class FixedTriplet final : public CredentialSource {
public:
  FixedTriplet(Journal& j, serial::Credentials c)
      : m_j(j)
      , m_c(std::move(c)) {}
  std::string_view kind() const override { return "triplet"; }
  Result<serial::Credentials>
  choose(const std::string&, const UnitInfo&, const serial::Readback&) override {
    return m_c; // a unit holding anything else is refused by the burn (foreign credentials)
  }
  Result<void> write_intent(const std::string& job,
                            const UnitInfo& unit,
                            const serial::Credentials& c,
                            const std::string& fp) override {
    return m_j.write_intent(job, unit, c.product_key, c.device_name, fp);
  }
  Result<void> finish(const std::string& job,
                      bool pass,
                      int level,
                      const std::string& cls,
                      const std::string& detail) override {
    return m_j.finish(job, pass, level, cls, detail);
  }

private:
  Journal& m_j;
  serial::Credentials m_c;
};

class PoolSource final : public CredentialSource {
public:
  PoolSource(Journal& j,
             Pool& p,
             std::string pk,
             RegisterFn reg,
             std::string name_template,
             std::function<void(std::string_view)> at_point)
      : m_j(j)
      , m_p(p)
      , m_pk(std::move(pk))
      , m_reg(std::move(reg))
      , m_template(std::move(name_template))
      , m_at(std::move(at_point)) {}
  std::string_view kind() const override { return m_reg ? "register" : "pool"; }
  void set_logger(Logger log) override { m_log = std::move(log); }
  Result<std::optional<long long>> free_left() override {
    if (m_reg) {
      return std::optional<long long>(); // every unit gets a name of its own
    }
    ALIOT_TRY_ASSIGN(const auto all, m_p.status());
    for (const auto& c : all) {
      if (c.product_key == m_pk) {
        return std::optional<long long>(c.available);
      }
    }
    return std::optional<long long>(0);
  }

  Result<serial::Credentials>
  choose(const std::string& job, const UnitInfo& unit, const serial::Readback& held) override {
    m_dn.clear();
    ALIOT_TRY_ASSIGN(auto tied, m_p.tied_to(m_pk, unit.mac));
    ALIOT_TRY_ASSIGN(auto bound, m_j.bound_triplet(m_pk, unit.mac));
    if (bound && (!tied || tied->device_name != bound->device_name)) {
      return Error(Errc::usage,
                   "the journal ties the unit " + unit.mac + " to " + bound->device_name
                       + ", which the pool " + m_p.path() + " does not hold for it",
                   "burn it with that triplet (--triplet), or use the pool it came from");
    }
    if (!tied && held.state != serial::StoreState::empty) {
      return Error(Errc::device,
                   "the unit " + unit.mac + " already holds other credentials ("
                       + std::string(serial::state_name(held.state)) + ", DeviceName "
                       + held.device_name + ") that this station did not give it",
                   "it was provisioned elsewhere: set it aside, or erase it for rework first");
    }
    Result<PoolEntry> e = Error(Errc::internal, "no triplet");
    if (tied || !m_reg) {
      e = m_p.reserve(m_pk, unit.mac, job); // the tied one first, else the next free one
    } else {
      ALIOT_TRY_ASSIGN(auto dn, device_name_for(m_template, unit));
      auto reg = m_reg(dn);
      if (!reg) {
        return registration_refused(std::move(reg).error(), dn);
      }
      const Secret ds = std::move(*reg);
      if (m_at) {
        m_at("registered");
      }
      e = m_p.record_issued(m_pk, dn, ds, Secret(), unit.mac, job);
    }
    if (!e) {
      return std::move(e).error();
    }
    m_dn = e->device_name; // finish() gives it back if what follows fails
    for (const auto& dn : e->set_aside) {
      // One line and one journal event per damaged row: the burn goes on with the next one.
      const std::string why = "its stored secret no longer matches its stored fingerprint (the "
                              "pool file was edited or is damaged)";
      m_log.warn("the pool " + m_p.path() + ": the triplet " + dn + " of " + m_pk + " was set "
                 + "aside (QUARANTINED): " + why + "; took the next one");
      ALIOT_TRY(m_j.note_set_aside(job, m_pk, dn, why));
    }
    return serial::Credentials{e->product_key, e->device_name, e->device_secret, e->product_secret};
  }

  Result<void> write_intent(const std::string& job,
                            const UnitInfo& unit,
                            const serial::Credentials& c,
                            const std::string& fp) override {
    ALIOT_TRY(m_j.write_intent(job, unit, c.product_key, c.device_name, fp));
    return m_p.mark_transmitted(c.product_key, c.device_name, job);
  }

  Result<void> finish(const std::string& job,
                      bool pass,
                      int level,
                      const std::string& cls,
                      const std::string& detail) override {
    ALIOT_TRY(m_j.finish(job, pass, level, cls, detail));
    if (m_dn.empty()) {
      return ok(); // nothing was taken from the pool
    }
    const std::string dn = std::exchange(m_dn, {});
    return pass ? m_p.mark_bound(m_pk, dn, job) : m_p.mark_failed(m_pk, dn, job, &m_j);
  }

private:
  // A registration the platform refused because the product does not hold the DeviceName: at
  // the station that is the product's setup, not the unit (every unit would fail the same way),
  // so the hint says what the product needs.
  Error registration_refused(Error e, const std::string& dn) const {
    const auto has = [&](std::string_view w) {
      const std::string& m = e.message();
      return std::search(m.begin(), m.end(), w.begin(), w.end(),
                         [](char a, char b) {
                           return std::tolower(static_cast<unsigned char>(a))
                                  == std::tolower(static_cast<unsigned char>(b));
                         })
             != m.end();
    };
    const bool no_device = e.code() == Errc::remote && has("device")
                           && (has("not found") || has("not exist") || has("pre-register")
                               || has("register it first"));
    if (!no_device) {
      return e;
    }
    return Error(Errc::remote,
                 e.message() + ": the product " + m_pk + " has no device " + dn
                     + " to register (--register needs every unit's DeviceName pre-registered)",
                 "add the DeviceNames --name-template " + m_template + " makes to the product "
                     + m_pk
                     + " before the units arrive (console: Devices, batch add from a list of "
                       "names), with the product's dynamic registration switched on; or burn a "
                       "pool of issued triplets (aliot pool import, burn --pool)");
  }

  Journal& m_j;
  Pool& m_p;
  std::string m_pk;
  RegisterFn m_reg;
  std::string m_template;
  std::function<void(std::string_view)> m_at;
  Logger m_log;
  std::string m_dn; // the triplet taken for the current job
};

UnitInfo unit_of(const serial::DeviceInfo& d) {
  return {d.mac, d.chip_id, d.firmware, d.sn};
}

// The device node behind a path (0 when there is none).
std::uint64_t node_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_rdev) : 0;
}

} // namespace

std::unique_ptr<CredentialSource> pool_source(Journal& journal,
                                              Pool& pool,
                                              std::string pk,
                                              RegisterFn register_fn,
                                              std::string name_template,
                                              std::function<void(std::string_view)> at_point) {
  return std::make_unique<PoolSource>(journal, pool, std::move(pk), std::move(register_fn),
                                      std::move(name_template), std::move(at_point));
}

Result<std::string> device_name_for(std::string_view name_template, const UnitInfo& unit) {
  std::string out;
  for (std::size_t i = 0; i < name_template.size(); ++i) {
    if (name_template[i] != '{') {
      out += name_template[i];
      continue;
    }
    const auto close = name_template.find('}', i);
    const auto key = close == std::string_view::npos ? std::string_view()
                                                     : name_template.substr(i + 1, close - i - 1);
    if (key == "mac") {
      for (char c : unit.mac) {
        if (c != ':') {
          out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
      }
    } else if (key == "chip") {
      out += unit.chip_id;
    } else {
      return Error(Errc::usage,
                   "--name-template " + std::string(name_template)
                       + ": unknown or unclosed placeholder at column " + std::to_string(i + 1),
                   "the placeholders are {mac} (the MAC without colons) and {chip} (the chip id)");
    }
    i = close;
  }
  if (auto v = validate_device_name(out); !v) {
    return Error(Errc::usage, "--name-template " + std::string(name_template) + " makes \"" + out
                                  + "\" for the unit " + unit.mac + ": " + v.error().message());
  }
  return out;
}

std::unique_ptr<CredentialSource> fixed_triplet_source(Journal& journal, serial::Credentials c) {
  return std::make_unique<FixedTriplet>(journal, std::move(c));
}

// An open port with its AT channel and dialect.
struct Station::Port {
  std::unique_ptr<serial::Transport> transport;
  std::unique_ptr<serial::AtChannel> channel;
  std::unique_ptr<serial::Dialect> dialect;
};

Station::Station(StationOptions o, Journal& journal, CredentialSource& source, Logger log)
    : m_o(std::move(o))
    , m_journal(journal)
    , m_source(source)
    , m_log(std::move(log)) {
  m_source.set_logger(m_log);
}

bool Station::stopped() const {
  return m_o.stop != nullptr && m_o.stop->load();
}

void Station::point(std::string_view p) const {
  if (m_o.at_point) {
    m_o.at_point(p);
  }
  if (m_stage) {
    m_stage(p);
  }
}

namespace {

Result<std::unique_ptr<Station::Port>> open_unit(const StationOptions& o, const Logger& log);

} // namespace

UnitOutcome Station::burn_one() {
  return run_job([&](const serial::BurnHooks& h) -> Result<serial::BurnReport> {
    ALIOT_TRY_ASSIGN(auto port, open_unit(m_o, m_log));
    return serial::burn(*port->dialect, m_o.plan, h, m_log);
  });
}

UnitOutcome
Station::run_job(const std::function<Result<serial::BurnReport>(const serial::BurnHooks&)>& burn) {
  UnitOutcome out;
  auto job = m_journal.start_job(m_o.job);
  if (!job) {
    out.error = job.error();
    return out;
  }
  out.job = *job;
  point("job");
  serial::Credentials chosen;
  serial::BurnHooks hooks;
  hooks.identified = [&](const serial::DeviceInfo& d) {
    out.device = d;
    out.identified = true;
    point("identified");
  };
  hooks.choose_credentials = [&](const serial::DeviceInfo& d,
                                 const serial::Readback& held) -> Result<serial::Credentials> {
    auto c = m_source.choose(out.job, unit_of(d), held);
    if (!c) {
      return c;
    }
    chosen = *c;
    out.chosen = true;
    out.product_key = c->product_key;
    out.device_name = c->device_name;
    point("chosen");
    return c;
  };
  hooks.write_intent = [&](const serial::DeviceInfo& d, const std::string& fp) -> Result<void> {
    out.fingerprint = fp;
    ALIOT_TRY(m_source.write_intent(out.job, unit_of(d), chosen, fp));
    out.intent_written = true;
    point("intent");
    return ok();
  };
  hooks.progress = [&](std::string_view ev, int) {
    if (ev == "staged") {
      point("staged");
    } else if (ev == "committed") {
      point("committed");
    } else if (ev == "verified after reboot") {
      point("verified");
    }
  };
  auto rep = burn(hooks);
  if (rep) {
    out.pass = true;
    out.device = rep->device;
    out.identified = true;
    out.product_key = rep->product_key;
    out.device_name = rep->device_name;
    out.fingerprint = rep->fingerprint;
    out.verify_level = rep->verify_level;
    out.locked = rep->locked;
    out.resumed = rep->resumed;
    out.steps = rep->steps;
    out.total_ms = rep->total_ms;
    if (auto f = m_source.finish(out.job, true, out.verify_level, {}, {}); !f) {
      out.pass = false;
      out.error = f.error();
    }
  } else {
    Error e = rep.error();
    if (stopped()) {
      e = Error(Errc::interrupted, "burn interrupted: " + e.message());
    }
    if (auto f = m_source.finish(out.job, false, 0, std::string(errc_name(e.code())), e.message());
        !f) {
      m_log.warn(f.error().message());
    }
    out.error = std::move(e);
  }
  point("finished");
  return out;
}

namespace {

Result<std::unique_ptr<Station::Port>> open_unit(const StationOptions& o, const Logger& log) {
  ALIOT_TRY_ASSIGN(auto t, serial::open_port(o.port, serial::PortOptions{o.baud, o.stop}));
  auto p = std::make_unique<Station::Port>();
  p->transport = std::move(t);
  p->channel = std::make_unique<serial::AtChannel>(*p->transport, log);
  ALIOT_TRY_ASSIGN(auto d, serial::make_dialect(o.dialect, *p->channel));
  p->dialect = std::move(d);
  return p;
}

} // namespace

void Station::nap() const {
  const auto until = serial::Clock::now() + m_o.poll;
  while (!stopped() && serial::Clock::now() < until) {
    std::this_thread::sleep_for(std::min(m_o.poll, std::chrono::milliseconds(10)));
  }
}

std::unique_ptr<Station::Port> Station::wait_arrival() {
  while (!stopped()) {
    if (node_of(m_o.port) == 0) {
      nap();
      continue;
    }
    auto p = open_unit(m_o, m_log);
    if (p && (*p)->dialect->sync(m_o.plan.crc)) {
      return std::move(*p);
    }
    nap();
  }
  return nullptr;
}

void Station::wait_departure(std::uint64_t node, const std::string& mac) {
  auto last_probe = serial::Clock::now();
  while (!stopped()) {
    const std::uint64_t now = node_of(m_o.port);
    if (now == 0 || now != node) {
      return; // unplugged, or another adapter behind the path
    }
    if (serial::Clock::now() - last_probe > std::chrono::seconds(1)) {
      // The adapter stays on the fixture: the unit left when it stops answering or another
      // one answers.
      auto p = open_unit(m_o, m_log);
      if (p) {
        if (!(*p)->dialect->sync(m_o.plan.crc)) {
          return;
        }
        auto id = (*p)->dialect->identify();
        if (!id || id->mac != mac) {
          return;
        }
      }
      last_probe = serial::Clock::now();
    }
    nap();
  }
}

StationSummary Station::run(const std::function<void(const UnitOutcome&)>& on_unit,
                            const std::function<void(std::string_view)>& on_wait) {
  StationEvents ev;
  ev.unit = on_unit;
  ev.wait = on_wait;
  return run(ev);
}

bool Station::check_left(const StationEvents& ev, StationSummary& s) {
  auto left = m_source.free_left();
  if (!left) {
    // Not a reason to stop: the next reserve says what is wrong with the pool, per unit.
    m_log.warn(left.error().message());
    return true;
  }
  if (!*left) {
    return true; // a source that does not run out
  }
  const long long n = **left;
  s.left = n;
  if (ev.left) {
    ev.left(n);
  }
  if (n <= 0) {
    s.pool_empty = true;
    return false;
  }
  const bool low = n <= m_o.low_water;
  if (low && !m_low && ev.low_water) {
    ev.low_water(n);
  }
  m_low = low;
  return true;
}

StationSummary Station::run(const StationEvents& ev) {
  StationSummary s;
  const auto t0 = serial::Clock::now();
  const auto& on_unit = ev.unit;
  const auto& on_wait = ev.wait;
  while (!stopped()) {
    if (!check_left(ev, s)) {
      break; // nothing to burn: stop before taking another unit
    }
    if (on_wait) {
      on_wait("waiting for a unit");
    }
    auto port = wait_arrival();
    if (!port) {
      break;
    }
    const std::uint64_t node = node_of(m_o.port);
    m_stage = ev.stage;
    auto out = run_job([&](const serial::BurnHooks& h) {
      return serial::burn(*port->dialect, m_o.plan, h, m_log);
    });
    m_stage = nullptr;
    port.reset(); // the port is closed: the unit may go
    ++s.units;
    ++(out.pass ? s.pass : s.fail);
    if (!out.pass && out.error && out.error->code() == Errc::interrupted) {
      s.interrupted_in_unit = true;
    }
    if (on_unit) {
      on_unit(out);
    }
    if (stopped()) {
      break;
    }
    if (!check_left(ev, s)) {
      break; // the unit just burned may stay on the fixture: nothing is sent to it again
    }
    if (on_wait) {
      on_wait("waiting for the unit to leave");
    }
    wait_departure(node, out.identified ? out.device.mac : std::string());
  }
  s.seconds = std::chrono::duration<double>(serial::Clock::now() - t0).count();
  return s;
}

} // namespace aliot::factory
