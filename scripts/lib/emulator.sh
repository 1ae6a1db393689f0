# shellcheck shell=bash
# Starting the local platform emulator from a script (sourced by scripts/demo.sh, bench/run and
# the bench/*/run.sh scripts).
#
#   emulator_start ALIOT DIR [OPTION...]
#
# Runs `ALIOT emulate cloud --dir DIR OPTION...` in the background (stdout to DIR.env, stderr to
# DIR.log), waits up to 20 s for its last export (ALIOT_API_ENDPOINT) and sources the exports
# into the calling shell. Sets EMULATOR_PID; the caller stops it (kill "$EMULATOR_PID").
# Returns 1, with the emulator's log on stderr, when it exits or does not answer in time (then it
# is stopped already).
emulator_start() {
  local aliot=$1 dir=$2
  shift 2
  EMULATOR_PID=
  "$aliot" emulate cloud --dir "$dir" "$@" >"$dir.env" 2>"$dir.log" &
  EMULATOR_PID=$!
  local _
  for _ in $(seq 1 200); do
    grep -q '^export ALIOT_API_ENDPOINT=' "$dir.env" 2>/dev/null && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^export ALIOT_API_ENDPOINT=' "$dir.env" 2>/dev/null; then
    echo "aliot emulate cloud did not start:" >&2
    cat "$dir.log" >&2
    kill "$EMULATOR_PID" 2>/dev/null && wait "$EMULATOR_PID" 2>/dev/null
    return 1
  fi
  # shellcheck disable=SC1090
  source "$dir.env"
}
