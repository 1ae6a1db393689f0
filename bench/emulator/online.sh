#!/usr/bin/env bash
# Benchmark: N devices (default 1,000) online at once against the emulator, each with its own
# triplet, each publishing M QoS 1 messages (default 10) counted by an operator subscriber.
# Prints logins/s, the broker's RSS before and with all online, the load program's peak RSS and
# lost=0 (or fails). The test tests/emulator/online_load.sh does the work; ctest runs it with
# M=1 (emulator.online_1000).
#
#   bench/emulator/online.sh [--quick] [BUILD_DIR] [N] [M]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
quick=0
if [[ ${1:-} == --quick ]]; then
  quick=1
  shift
fi
BUILD=${1:-$here/../../build/release}
N=${2:-$((quick ? 200 : 1000))}
M=${3:-$((quick ? 1 : 10))}
[[ -x $BUILD/tests/emu_online_load ]] || cmake --build "$BUILD" --target emu_online_load >/dev/null
exec bash "$here/../../tests/emulator/online_load.sh" "$BUILD/cli/aliot" "$BUILD/tests/emu_online_load" "$N" "$M"
