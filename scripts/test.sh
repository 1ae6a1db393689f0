#!/usr/bin/env bash
# Builds aliot and runs every test suite, then the unit tests again under ASan+UBSan.
# Installs what it needs (Debian packages) first. Used by the README and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=${ALIOT_JOBS:-$(nproc)}
export CTEST_OUTPUT_ON_FAILURE=1

echo "== build (dev preset: Debug, warnings as errors)"
cmake --preset dev >/dev/null
cmake --build build/dev -j"$jobs"

echo "== tests"
status=0
ctest --test-dir build/dev -j"$jobs" --timeout 300 || status=$?

echo "== sanitizer build (ASan+UBSan): unit tests"
cmake --preset asan >/dev/null
cmake --build build/asan -j"$jobs" --target unit_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -L unit -j"$jobs" --timeout 300 || status=$?

exit "$status"
