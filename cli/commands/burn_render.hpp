// How `aliot burn` shows a unit's result (text fields, one JSON object, one line per unit in the
// station loop) and the loop's summary.
#pragma once

#include "context.hpp"

#include <aliot/factory/station.hpp>

#include <string>

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

} // namespace aliot::cli
