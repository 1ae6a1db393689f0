#!/usr/bin/env bash
# Builds aliot's libFuzzer targets (clang, ASan+UBSan) and runs each on its committed seed corpus
# (tests/fuzz/corpus/<target>) for SECONDS seconds (default 60; CI uses a short run).
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
# New interesting inputs go to build/fuzz/corpus/<target> (not the tree); a crash leaves its
# input in build/fuzz/artifacts/ and makes the script exit 1. Reproduce one with
#   build/fuzz/tests/fuzz/<target> build/fuzz/artifacts/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
jobs=${ALIOT_JOBS:-$(nproc)}

cmake --preset fuzz >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd tests/fuzz && ls fuzz_*.cpp | sed 's/\.cpp$//')
fi
cmake --build build/fuzz -j"$jobs" --target "${targets[@]}"

mkdir -p build/fuzz/artifacts
status=0
printf '%-16s %12s %8s %s\n' target executions corpus result
for t in "${targets[@]}"; do
  work=build/fuzz/corpus/$t
  mkdir -p "$work"
  log=build/fuzz/$t.log
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "build/fuzz/tests/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
     -timeout=10 -artifact_prefix="build/fuzz/artifacts/$t-" -print_final_stats=1 \
     "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log)"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  units=$(ls "$work" | wc -l)
  printf '%-16s %12s %8s %s\n' "$t" "${execs:-?}" "$units" "$result"
done
exit "$status"
