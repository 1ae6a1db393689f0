# shellcheck shell=bash
# What the bench/*/ scripts start with; source it after `set -euo pipefail`:
#
#   work                     a fresh temporary directory, removed at exit
#   bench_stop PID...        stops these processes at exit (kill, then wait), before $work goes
#   bench_emulator ALIOT [OPTION...]
#                            starts `ALIOT emulate cloud` with its state in $work/emu and its
#                            exports sourced into the script (scripts/lib/emulator.sh: sets
#                            EMULATOR_PID; the script stops when it does not start), stopped at
#                            exit
work=$(mktemp -d)
bench_pids=()
bench_stop() {
  bench_pids+=("$@")
}
bench_cleanup() {
  local p
  for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${bench_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap bench_cleanup EXIT

# shellcheck source=scripts/lib/emulator.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/emulator.sh"
bench_emulator() {
  emulator_start "$1" "$work/emu" "${@:2}"
  bench_stop "$EMULATOR_PID"
}
