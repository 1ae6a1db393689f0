// How `aliot burn` shows a unit's result (text fields, one JSON object, one line per unit in the
// station loop) and the loop's summary.
#pragma once

#include "context.hpp"

#include <aliot/factory/station.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aliot::cli {

struct BurnView {
  std::string port, dialect, source; // source: triplet, pool or register
};

// One unit (`aliot burn` without --loop): a PASS as fields or one JSON object; under -o json a
// FAIL is also one JSON object on stdout (ok false, the exit class and the message), the error
// line itself going to stderr as for every command.
void render_unit(const Context& ctx, const BurnView& v, const factory::UnitOutcome& u);
// One line per unit in the station loop: PASS/FAIL, DeviceName, MAC, time (and the cause), or
// under -o json the unit's JSON object.
void render_loop_unit(const Context& ctx, const BurnView& v, const factory::UnitOutcome& u);
// The loop's closing summary (stderr note; under -o json also a JSON line on stdout).
void render_summary(const Context& ctx, const factory::StationSummary& s);

// What the station loop shows as it goes. Off a terminal (or under -o json, or -q) exactly the
// lines: one per unit on stdout (PASS/FAIL once; a cause's hint once on stderr, not again while
// the next failures give the same), the pool's events. On a terminal (stdout and stderr) also a
// status line on stderr, redrawn in place: what the station does (waiting for a unit, burning:
// its stage, done), the units passed and failed and the triplets left; PASS green and FAIL red
// when colour is allowed (not NO_COLOR, not --no-color).
class LoopScreen {
public:
  // `pool`: the pool's path and `pk` its product, named in the pool's events.
  LoopScreen(const Context& ctx, BurnView v, std::string pool, std::string pk, long long low_water);
  ~LoopScreen();
  LoopScreen(const LoopScreen&) = delete;
  LoopScreen& operator=(const LoopScreen&) = delete;

  bool live() const { return m_live; }
  // A Logger that clears the status line before it writes (the library's warnings).
  Logger logger() const;

  void wait(std::string_view what);
  void stage(std::string_view point);
  void left(long long n);
  void low_water(long long n);
  void unit(const factory::UnitOutcome& u);
  // The end: the pool_empty event (when it stopped the loop), then the summary; clears the line.
  void end(const factory::StationSummary& s);
  void clear() const;

private:
  void draw() const;

  const Context& m_ctx;
  BurnView m_view;
  std::string m_pool, m_pk;
  long long m_low_water;
  bool m_live = false, m_color = false;
  std::string m_state = "starting";
  int m_pass = 0, m_fail = 0;
  std::optional<long long> m_left;
  std::string m_last_hint;
  mutable bool m_shown = false;
};

} // namespace aliot::cli
