#!/usr/bin/env bash
# The whole CI in three build trees: builds everything under ASan+UBSan with warnings as errors
# (build/asan), runs every fuzz target for a short fixed time (build/fuzz), builds and checks the
# Debian package (build/package, RelWithDebInfo) and runs `bench/run --quick` on that package's
# aliot, then runs every test suite in the sanitizer build (LeakSanitizer on, the emulator's
# broker plugin included). ctest's summary is the last thing printed. Installs what it needs
# (Debian packages) first. Used by the README and by .ci/run.
#
# A contributor's fast loop is `cmake --preset dev && cmake --build build/dev -j2 &&
# ctest --preset unit` (README, "Contributing"); this script is the full run before a merge.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=${ALIOT_JOBS:-$(nproc)}
export CTEST_OUTPUT_ON_FAILURE=1

status=0

echo "== sanitizer build (ASan+UBSan, warnings as errors): every target, the broker plugin included"
cmake --preset asan >/dev/null
cmake --build build/asan -j"$jobs"

echo "== fuzz targets (libFuzzer, ASan+UBSan), ${ALIOT_FUZZ_SECONDS:-15} s each"
./scripts/fuzz.sh "${ALIOT_FUZZ_SECONDS:-15}" || status=$?

echo "== the Debian package: built, linted, installed into an empty root and run from there"
./tests/package/check.sh || status=$?

# The benchmarks run on the package's own build (RelWithDebInfo, -O2, what users install),
# unpacked as installed: that aliot finds its broker plugin and AMQP module next to itself
# (../lib/<multiarch>/aliot), as an installed one does. No tree is built for them alone.
echo "== benchmarks, quick: every case of bench/run still runs on the package's aliot (its timings are not checked)"
bench_root=build/package/bench-root
rm -rf "$bench_root" && mkdir -p "$bench_root"
debs=(build/package/dist/aliot_*.deb)
if [ -f "${debs[0]}" ] && dpkg-deb -x "${debs[0]}" "$bench_root"; then
  ./bench/run --quick --aliot "$bench_root/usr/bin/aliot" --json build/package/bench-quick.json ||
    status=$?
else
  echo "bench: no package to unpack (build/package/dist/aliot_*.deb): see the package step above"
  status=1
fi

# Every test, once, in the sanitizer build. Every process writes its sanitizer reports into one
# directory (log_path), so a report from a child nobody waits for (the broker leaking at exit, a
# helper process) fails the run as surely as one from a test binary. The emulator's plugin runs
# inside the uninstrumented mosquitto: the launcher preloads the ASan runtime into the broker
# (emulator/cloud/CMakeLists.txt). ctest's "Label Time Summary" gives each suite's time.
echo "== every test suite under ASan+UBSan (LeakSanitizer on); ctest's summary is the last thing printed"
san_logs=$PWD/build/asan/sanitizer-logs
rm -rf "$san_logs" && mkdir -p "$san_logs"
ctest_log=build/asan/ctest.log
set +e
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$san_logs/asan \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$san_logs/ubsan \
  ctest --test-dir build/asan -j"$jobs" --timeout 600 2>&1 | tee "$ctest_log"
ctest_status=${PIPESTATUS[0]}
set -e
[ "$ctest_status" = 0 ] || status=1
# A log that holds nothing but LeakSanitizer's own crash while it stopped a process's threads
# at exit ("Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error") is not a
# finding about aliot: that process simply got no leak check. It is shown as a warning; every
# other log (a leak, an ASan or UBSan report) fails the run.
tracer_crash_only() {
  ! grep -v -e '^Tracer caught signal' -e 'LeakSanitizer has encountered a fatal error' \
    -e '^==[0-9]*==HINT:' -e '^[[:space:]]*$' "$1" | grep -q .
}
reports=()
for f in "$san_logs"/*; do
  [ -e "$f" ] || continue
  if tracer_crash_only "$f"; then
    echo "== warning: LeakSanitizer crashed stopping the threads of one process (no leak check for it): $f"
    cat "$f"
  else
    reports+=("$f")
  fi
done
if [ "${#reports[@]}" -gt 0 ]; then
  echo "== sanitizer reports (each fails the run):"
  for f in "${reports[@]}"; do
    echo "--- $f"
    head -c 20000 "$f"
  done
  status=1
  echo "== ctest's summary again (the sanitizer reports above fail the run whatever it says)"
  sed -n '/tests passed\|tests failed/,$p' "$ctest_log"
fi

exit "$status"
