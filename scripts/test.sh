#!/usr/bin/env bash
# Runs every test suite under ASan+UBSan (LeakSanitizer on, the emulator's broker plugin
# included), every fuzz target for a short fixed time, builds and checks the Debian package, then
# builds aliot and runs every test suite (the last summary printed is the whole suite's). Installs
# what it needs (Debian packages) first. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=${ALIOT_JOBS:-$(nproc)}
export CTEST_OUTPUT_ON_FAILURE=1

status=0

echo "== sanitizer build (ASan+UBSan, LeakSanitizer on): every suite, the broker plugin included"
# The emulator's plugin runs inside the uninstrumented mosquitto: the launcher preloads the ASan
# runtime into the broker (emulator/cloud/CMakeLists.txt). Every process writes its sanitizer
# reports into one directory (log_path), so a report from a child nobody waits for (the broker
# leaking at exit, a helper process) fails the run as surely as one from a test binary.
cmake --preset asan >/dev/null
cmake --build build/asan -j"$jobs"
san_logs=$PWD/build/asan/sanitizer-logs
rm -rf "$san_logs" && mkdir -p "$san_logs"
san_status=0
for suite in unit e2e serial cloud emulator mqtt amqp faults; do
  started=$SECONDS
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$san_logs/asan \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$san_logs/ubsan \
    ctest --test-dir build/asan -L "^$suite\$" -j"$jobs" --timeout 600 || san_status=1
  echo "== ASan suite $suite: $((SECONDS - started)) s"
done
if compgen -G "$san_logs/*" >/dev/null; then
  echo "== sanitizer reports:"
  for f in "$san_logs"/*; do
    echo "--- $f"
    head -c 20000 "$f"
  done
  san_status=1
fi
[ "$san_status" = 0 ] || status=1

echo "== fuzz targets (libFuzzer, ASan+UBSan), ${ALIOT_FUZZ_SECONDS:-15} s each"
./scripts/fuzz.sh "${ALIOT_FUZZ_SECONDS:-15}" || status=$?

echo "== the Debian package: built, linted, installed into an empty root and run from there"
./tests/package/check.sh || status=$?

echo "== build (dev preset: Debug, warnings as errors)"
cmake --preset dev >/dev/null
cmake --build build/dev -j"$jobs"

echo "== benchmarks, quick: every case of bench/run still runs (its timings are not checked)"
./bench/run --quick --aliot build/dev/cli/aliot --json build/dev/bench-quick.json || status=$?

echo "== all tests (ctest's summary is the last thing printed)"
ctest --test-dir build/dev -j"$jobs" --timeout 300 || status=$?

exit "$status"
