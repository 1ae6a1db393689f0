// `aliot bench`: the progress line, the interval reports and the summary (text and JSON).
#pragma once

#include "context.hpp"

#include <aliot/bench.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace aliot::cli {

// The summary object: devices, online, failures by cause, counts, rates, latency percentiles.
nlohmann::ordered_json bench_summary_json(const bench::Snapshot& s, bench::Mode mode, int qos);
// One line for a terminal: online, rates since the last line, p50/p99, errors.
std::string
bench_progress_line(const bench::Snapshot& s, const bench::Snapshot& last, bench::Mode mode);
// The summary as aligned text rows on stdout.
void print_bench_summary(Context& ctx, const bench::Snapshot& s, bench::Mode mode, int qos);

} // namespace aliot::cli
