#!/usr/bin/env bash
# Runs the unit, end-to-end and serial suites under ASan+UBSan, every fuzz target for a short
# fixed time, builds and checks the Debian package, then builds aliot and runs every test suite
# (the last summary printed is the whole suite's). Installs what it needs (Debian packages)
# first. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=${ALIOT_JOBS:-$(nproc)}
export CTEST_OUTPUT_ON_FAILURE=1

status=0

echo "== sanitizer build (ASan+UBSan): unit, end-to-end and serial suites"
cmake --preset asan >/dev/null
cmake --build build/asan -j"$jobs" --target unit_tests support_tests e2e_tests serial_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -L 'unit|e2e|serial' -j"$jobs" --timeout 300 || status=$?

echo "== fuzz targets (libFuzzer, ASan+UBSan), ${ALIOT_FUZZ_SECONDS:-15} s each"
./scripts/fuzz.sh "${ALIOT_FUZZ_SECONDS:-15}" || status=$?

echo "== the Debian package: built, linted, installed into an empty root and run from there"
./tests/package/check.sh || status=$?

echo "== build (dev preset: Debug, warnings as errors)"
cmake --preset dev >/dev/null
cmake --build build/dev -j"$jobs"

echo "== all tests"
ctest --test-dir build/dev -j"$jobs" --timeout 300 || status=$?

echo "== benchmarks, quick: every case of bench/run still runs (its timings are not checked)"
./bench/run --quick --aliot build/dev/cli/aliot --json build/dev/bench-quick.json || status=$?

exit "$status"
