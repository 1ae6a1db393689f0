// Rendering of `aliot burn`: a unit's result as fields, as one JSON object, as one line of the
// station loop, and the loop's summary. No flow here: the outcomes come from lib's Station.
#include "commands/burn_render.hpp"

#include <aliot/encoding.hpp>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>

namespace aliot::cli {

namespace {

double tenths(double ms) {
  return std::round(ms * 10) / 10;
}

nlohmann::ordered_json unit_json(const BurnView& v, const factory::UnitOutcome& u) {
  nlohmann::ordered_json j;
  j["result"] = u.pass ? "PASS" : "FAIL";
  j["ok"] = u.pass;
  j["port"] = v.port;
  j["dialect"] = v.dialect;
  j["source"] = v.source;
  j["job"] = u.job;
  if (u.identified) {
    j["mac"] = u.device.mac;
    j["chip_id"] = u.device.chip_id;
    j["model"] = u.device.model;
    j["hwrev"] = u.device.hwrev;
    j["firmware"] = u.device.firmware;
    j["sn"] = u.device.sn;
  }
  if (u.chosen) {
    j["product_key"] = u.product_key;
    j["device_name"] = u.device_name;
  }
  if (!u.fingerprint.empty()) {
    j["fingerprint"] = u.fingerprint;
  }
  if (u.pass) {
    j["verify_level"] = u.verify_level;
    j["locked"] = u.locked;
    j["resumed"] = u.resumed;
    auto& steps = j["steps_ms"];
    steps = nlohmann::ordered_json::object();
    for (const auto& s : u.steps) {
      steps[s.step] = tenths(s.ms);
    }
    j["total_ms"] = tenths(u.total_ms);
  } else if (u.error) {
    j["intent_written"] = u.intent_written;
    j["exit_class"] = std::string(errc_name(u.error->code()));
    j["exit_status"] = exit_status(u.error->code());
    j["message"] = u.error->message();
  }
  return j;
}

} // namespace

void render_unit(const Context& ctx, const BurnView& v, const factory::UnitOutcome& u) {
  if (ctx.out.json()) {
    ctx.out.line(unit_json(v, u).dump());
    return;
  }
  if (!u.pass) {
    return; // the error line says it all (stderr)
  }
  std::string steps;
  for (const auto& s : u.steps) {
    steps += fmt::format("{}{} {:.0f} ms", steps.empty() ? "" : ", ", s.step, s.ms);
  }
  // What the unit and the pool reported, shown so that it cannot act on the terminal.
  const auto p = [](const std::string& s) {
    return enc::printable(s);
  };
  ctx.out.fields({{"result", "PASS"},
                  {"mac", p(u.device.mac)},
                  {"chip_id", p(u.device.chip_id)},
                  {"firmware", p(u.device.model + " " + u.device.hwrev + " " + u.device.firmware)},
                  {"device_name", p(u.device_name + " (" + u.product_key + ")")},
                  {"fingerprint", u.fingerprint},
                  {"verify_level", std::to_string(u.verify_level) + (u.locked ? ", locked" : "")
                                       + (u.resumed ? ", resumed" : "")},
                  {"steps", steps},
                  {"total", fmt::format("{:.0f} ms", u.total_ms)}});
}

namespace {

// The unit's line after its PASS/FAIL word.
std::string loop_rest(const factory::UnitOutcome& u) {
  const std::string dn = u.chosen ? enc::printable(u.device_name) : "-";
  const std::string mac = u.identified ? enc::printable(u.device.mac) : "-";
  if (u.pass) {
    return fmt::format("  {}  {}  {:.0f} ms  level {}{}{}", dn, mac, u.total_ms, u.verify_level,
                       u.locked ? ", locked" : "", u.resumed ? ", resumed" : "");
  }
  return fmt::format("  {}  {}  {}: {}", dn, mac, u.error ? errc_name(u.error->code()) : "error",
                     u.error ? enc::printable(u.error->message()) : std::string());
}

} // namespace

void render_loop_unit(const Context& ctx, const BurnView& v, const factory::UnitOutcome& u) {
  if (ctx.out.json()) {
    ctx.out.line(unit_json(v, u).dump());
    return;
  }
  ctx.out.line((u.pass ? "PASS" : "FAIL") + loop_rest(u));
}

void render_summary(const Context& ctx, const factory::StationSummary& s) {
  const double per_min = s.seconds > 0 ? s.units * 60.0 / s.seconds : 0.0;
  if (ctx.out.json()) {
    nlohmann::ordered_json j;
    j["summary"] = {{"units", s.units},
                    {"pass", s.pass},
                    {"fail", s.fail},
                    {"seconds", tenths(s.seconds * 1000) / 1000},
                    {"units_per_min", tenths(per_min)},
                    {"interrupted_in_unit", s.interrupted_in_unit},
                    {"pool_empty", s.pool_empty}};
    if (s.left) {
      j["summary"]["left"] = *s.left;
    }
    ctx.out.line(j.dump());
  }
  ctx.out.note(fmt::format("station stopped: {} units, {} pass, {} fail in {:.1f} s ({:.1f}/min){}",
                           s.units, s.pass, s.fail, s.seconds, per_min,
                           s.left ? fmt::format(", {} triplets left", *s.left) : std::string()));
}

// ---- the station loop's screen ----

namespace {

constexpr const char* k_green = "\033[1;32m";
constexpr const char* k_red = "\033[1;31m";
constexpr const char* k_reset = "\033[0m";

std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

} // namespace

LoopScreen::LoopScreen(
    const Context& ctx, BurnView v, std::string pool, std::string pk, long long low_water)
    : m_ctx(ctx)
    , m_view(std::move(v))
    , m_pool(std::move(pool))
    , m_pk(std::move(pk))
    , m_low_water(low_water) {
  const bool ttys = ::isatty(STDOUT_FILENO) != 0 && ::isatty(STDERR_FILENO) != 0;
  m_live = ttys && !ctx.out.json() && !ctx.out.quiet;
  m_color = m_live && !ctx.globals.no_color && ctx.env.find("NO_COLOR") == ctx.env.end();
}

LoopScreen::~LoopScreen() {
  clear();
}

Logger LoopScreen::logger() const {
  const Logger base = m_ctx.out.logger();
  if (!m_live) {
    return base;
  }
  return Logger(LogLevel::trace, [this, base](LogLevel level, std::string_view msg) {
    if (base.enabled(level)) {
      clear();
      base.log(level, msg);
      draw();
    }
  });
}

void LoopScreen::clear() const {
  if (m_shown) {
    m_ctx.out.status("\r\033[K");
    m_shown = false;
  }
}

void LoopScreen::draw() const {
  if (!m_live) {
    return;
  }
  std::string text = m_state + fmt::format("  |  {} done, {} failed", m_pass, m_fail);
  if (m_left) {
    text += fmt::format(", {} triplets left", *m_left);
  }
  // One terminal row, or the next redraw starts on the wrong one.
  const std::size_t width = terminal_width();
  if (text.size() >= width) {
    text.resize(width > 1 ? width - 1 : 0);
  }
  m_ctx.out.status("\r" + text + "\033[K");
  m_shown = true;
}

void LoopScreen::wait(std::string_view what) {
  if (m_live && m_ctx.out.verbosity >= 1) {
    clear();
  }
  m_ctx.out.info(what);
  if (what == "waiting for the unit to leave" && m_state.rfind("done", 0) == 0) {
    m_state += ", remove the unit";
  } else {
    m_state = std::string(what);
  }
  draw();
}

void LoopScreen::stage(std::string_view point) {
  if (point == "finished") {
    return;
  }
  m_state = "burning: " + std::string(point == "job" ? "started" : point);
  draw();
}

void LoopScreen::left(long long n) {
  m_left = n;
  draw();
}

void LoopScreen::low_water(long long n) {
  clear();
  if (m_ctx.out.json()) {
    nlohmann::ordered_json j;
    j["event"] = "low_water";
    j["pool"] = m_pool;
    j["product_key"] = m_pk;
    j["left"] = n;
    j["low_water"] = m_low_water;
    m_ctx.out.line(j.dump());
  }
  m_ctx.out.warn(fmt::format("the pool {} has {} free triplet{} of {} left (--low-water {}): "
                             "import more (aliot pool import) before it runs out",
                             m_pool, n, n == 1 ? "" : "s", m_pk, m_low_water));
  draw();
}

void LoopScreen::unit(const factory::UnitOutcome& u) {
  ++(u.pass ? m_pass : m_fail);
  clear();
  if (m_color && !m_ctx.out.json()) {
    if (u.pass) {
      m_ctx.out.line(std::string(k_green) + "PASS" + k_reset + loop_rest(u));
    } else {
      m_ctx.out.line(std::string(k_red) + "FAIL" + loop_rest(u) + k_reset);
    }
  } else {
    render_loop_unit(m_ctx, m_view, u);
  }
  // The unit's line says what failed; what to do about it once, until another cause needs
  // another hint.
  if (!u.pass && u.error && !u.error->hint().empty() && u.error->hint() != m_last_hint) {
    m_last_hint = u.error->hint();
    m_ctx.out.note("hint: " + m_last_hint);
  }
  m_state = std::string("done: ") + (u.pass ? "PASS" : "FAIL")
            + (u.chosen ? " " + enc::printable(u.device_name) : std::string());
  draw();
}

void LoopScreen::end(const factory::StationSummary& s) {
  clear();
  m_live = false;
  if (s.pool_empty && m_ctx.out.json()) {
    nlohmann::ordered_json j;
    j["event"] = "pool_empty";
    j["pool"] = m_pool;
    j["product_key"] = m_pk;
    j["left"] = 0;
    m_ctx.out.line(j.dump());
  }
  render_summary(m_ctx, s);
}

} // namespace aliot::cli
