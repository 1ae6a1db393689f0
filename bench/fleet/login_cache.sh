#!/usr/bin/env bash
# Benchmark: the emulator's logins with and without its login cache (issue 28). N devices
# (default 10,000) log in at once twice (first logins: each device activated; then the same fleet
# again), against the emulator of BUILD_DIR and against the same emulator with another plugin
# (PLUGIN: e.g. one built from the commit before the cache), interleaved ROUNDS times (default
# 2). Prints logins/s and the broker's CPU per login, one line a run.
#
#   bench/fleet/login_cache.sh BUILD_DIR PLUGIN [N] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$1" && pwd)
OTHER=$2
N=${3:-10000}
ROUNDS=${4:-2}
ALIOT=$BUILD/cli/aliot
LOAD=$BUILD/tests/emu_online_load
PK=a1CachePK001
ulimit -Sn "$(ulimit -Hn)"
# shellcheck source=bench/lib.sh
source "$here/../lib.sh"
seq -f "cache-%.0f" 1 "$N" >"$work/names"

one() { # LABEL [PLUGIN]
  local dir=$work/emu-$RANDOM
  if [[ -n ${2:-} ]]; then
    ALIOT_EMU_PLUGIN=$2 emulator_start "$ALIOT" "$dir" --quiet
  else
    emulator_start "$ALIOT" "$dir" --quiet
  fi
  local broker
  broker=$(pgrep -P "$EMULATOR_PID" mosquitto)
  "$ALIOT" emulate cloud add-product --dir "$dir" -k $PK >/dev/null
  "$ALIOT" emulate cloud add-device --dir "$dir" -k $PK --names "$work/names" --quiet >"$dir.jsonl"
  for pass in first again; do
    "$LOAD" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$dir.jsonl" 0 "$broker" |
      python3 -c "import json,sys; d=json.loads(sys.stdin.read()); print('$1 $pass: %d devices, %.0f logins/s, broker CPU %.1f us/login' % (d['connected'], d['logins_per_second'], d['broker_cpu_login_seconds']*1e6/d['connected']))"
  done
  kill "$EMULATOR_PID"
  wait "$EMULATOR_PID" 2>/dev/null || true
}
for _ in $(seq "$ROUNDS"); do
  one "cache   "
  one "no cache" "$OTHER"
done
