// `aliot bench`: the options of a run and the run itself (bench_run.cpp); the command tree and
// help texts are in bench.cpp, the output in bench_render.cpp.
#pragma once

#include "context.hpp"
#include "options.hpp"

#include <aliot/bench.hpp>

#include <optional>
#include <string>
#include <vector>

namespace aliot::cli {

struct BenchOptions {
  bench::Mode mode = bench::Mode::conn;
  DeviceFlags endpoint; // the endpoint group only
  std::string fleet;
  std::optional<long> devices;
  std::string rate = "0";
  int threads = 2;
  std::optional<std::string> sign_method;
  int keepalive = 300;
  Duration timeout = duration_of(std::chrono::seconds(10));
  long max_fail = 0;
  long max_loss = 0;
  bool interval_report = false;
  bool no_tls_resume = false;
  Duration hold = duration_of(std::chrono::milliseconds(0));
  std::vector<std::string> topics;
  std::string qos = "0";
  Duration interval = duration_of(std::chrono::seconds(1));
  long count = 0;
  std::optional<Duration> duration;
  std::optional<std::size_t> size;
  std::optional<std::string> message;
  bool no_limit = false;
  Duration drain = duration_of(std::chrono::seconds(10));
  long stop_after = 0;
  std::optional<std::string> reply;
  Duration delay = duration_of(std::chrono::milliseconds(0));
};

// Resolves the endpoint, reads the fleet, runs the load, prints the ready line, the progress and
// the summary; the exit follows --max-fail/--max-loss (130 after SIGINT).
Result<void> run_bench(Context& ctx, const BenchOptions& o);

} // namespace aliot::cli
