#!/usr/bin/env bash
# The emulator at fleet scale, against a real emulator started with a soft descriptor limit of
# 1,024 (the usual default):
#  - the launcher raises the broker's limit: N (default 1,500) devices online at once, more
#    sockets than 1,024 (GET /emu/status: fd_limit, devices, online);
#  - the online count is exact: N once all logged in, 0 after they all sent DISCONNECT, N again,
#    then 0 after their program was killed (kill -9: no DISCONNECT, the sockets just close);
#  - the login cache: a device that logged in (so the emulator read and kept it) and then got a
#    new secret is refused with the old one at once and let in with the new one; disabled, it is
#    refused.
#
#   tests/emulator/scale.sh ALIOT_BIN LOAD_BIN [N]
#
# Exit 77 (skipped) when the hard descriptor limit leaves no room above 1,024.
set -euo pipefail

ALIOT=$1
LOAD=$2
N=${3:-1500}
PK=a1ScalePK001

hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((hard < N + 200)); then
  echo "skipped: the hard descriptor limit is $hard, too low for $N connections"
  exit 77
fi

work=$(mktemp -d)
emu_pid=
load_pid=
cleanup() {
  [[ -n $load_pid ]] && kill -9 "$load_pid" 2>/dev/null || true
  [[ -n $emu_pid ]] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  echo "--- the emulator's log (last lines):"
  grep -v -e "New connection" -e "New client connected" -e "disconnected" "$work/emu.log" | tail -20 || true
  exit 1
}

# The broker inherits this shell's soft limit of 1,024 unless the launcher raises it.
(
  ulimit -Sn 1024
  exec "$ALIOT" emulate cloud --dir "$work/emu" >"$work/env" 2>"$work/emu.log"
) &
emu_pid=$!
for _ in $(seq 300); do grep -q ALIOT_API_ENDPOINT "$work/env" 2>/dev/null && break; sleep 0.1; done
grep -q ALIOT_API_ENDPOINT "$work/env" || fail "the emulator did not start: $(cat "$work/emu.log")"
# shellcheck disable=SC1091
source "$work/env"

status() { curl -sS --fail "$ALIOT_API_ENDPOINT/emu/status"; }
field() { status | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# Waits (at most 60 s) for the online count to become $1; fails with the last count otherwise.
online_becomes() {
  local n
  for _ in $(seq 600); do
    n=$(field online)
    [[ $n == "$1" ]] && return 0
    sleep 0.1
  done
  fail "online count $n, expected $1 ($2)"
}

limit=$(field fd_limit)
echo "broker descriptor limit: $limit (started with a soft limit of 1024, hard $hard)"
[[ $limit == -1 ]] || ((limit > N)) || fail "the broker's descriptor limit $limit was not raised above $N"

"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK >/dev/null
seq -f "scale-%.0f" 1 "$N" >"$work/names"
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK --names "$work/names" --quiet >"$work/triplets.jsonl"
[[ $(field devices) == "$N" ]] || fail "status devices $(field devices), expected $N"
[[ $(field online) == 0 ]] || fail "status online $(field online) before any login"

# Starts the load program holding N devices online; its stdin is the fifo $work/hold.
hold() {
  rm -f "$work/hold"
  mkfifo "$work/hold"
  LOAD_HOLD=1 "$LOAD" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$work/triplets.jsonl" 0 \
    <"$work/hold" >"$work/load.out" 2>"$work/load.err" &
  load_pid=$!
  exec 7>"$work/hold" # the program's stdin stays open while fd 7 is
  for _ in $(seq 1200); do
    grep -q '^online ' "$work/load.err" 2>/dev/null && break
    kill -0 "$load_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "^online $N\$" "$work/load.err" || fail "the load program did not get $N online: $(tail -3 "$work/load.err")"
}

# 1. N online, then every one sends DISCONNECT.
hold
[[ $(field online) == "$N" ]] || fail "online $(field online) with $N devices connected"
[[ $(field sessions) == "$N" ]] || fail "sessions $(field sessions) with $N devices connected"
echo "online: $N after $N logins"
exec 7>&- # stdin ends: the program disconnects every device cleanly
wait "$load_pid" || fail "the load program failed: $(cat "$work/load.out" "$work/load.err")"
load_pid=
online_becomes 0 "after $N clean DISCONNECTs"
echo "online: 0 after $N DISCONNECTs"

# 2. N online again (the emulator now serves these logins from what it kept), then kill -9.
hold
[[ $(field online) == "$N" ]] || fail "online $(field online) after $N logins again"
kill -9 "$load_pid"
wait "$load_pid" 2>/dev/null || true
load_pid=
exec 7>&-
online_becomes 0 "after the load program was killed"
[[ $(field sessions) == 0 ]] || fail "sessions $(field sessions) after every client went"
echo "online: 0 after kill -9 of $N connections"

# 3. The login cache follows the registry: a new secret or a disabled device counts at once.
export ALIOT_CA_FILE
login() { # SECRET: one QoS 1 publish as the device scale-1 over TCP
  ALIOT_DEVICE_SECRET=$1 "$ALIOT" sign --tcp -k $PK -d scale-1 --for mosquitto-lines >"$work/args"
  mapfile -t args <"$work/args"
  mosquitto_pub "${args[@]}" -t "/$PK/scale-1/user/update" -q 1 -m hi 2>&1
}
old=$(python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['DeviceSecret'])" <"$work/triplets.jsonl")
login "$old" >/dev/null || fail "scale-1 cannot log in with its secret"
login "$old" >/dev/null || fail "scale-1 cannot log in again with its secret"
new=NewSecretScale0123456789abcdefAB
ALIOT_DEVICE_SECRET=$new "$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK -d scale-1 >/dev/null
if out=$(login "$old"); then
  fail "scale-1 logged in with its replaced secret"
fi
grep -q "not authori" <<<"$out" || fail "the old secret's login did not fail with not authorised: $out"
login "$new" >/dev/null || fail "scale-1 cannot log in with its new secret"
ALIOT_DEVICE_SECRET=$new "$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK -d scale-1 --disabled >/dev/null
if out=$(login "$new"); then
  fail "the disabled scale-1 logged in"
fi
grep -q "scale-1 is disabled" "$work/emu.log" || fail "no 'disabled' refusal in the emulator's log"
echo "login cache: the replaced secret and the disabled device refused at once"
[[ $(field devices) == "$N" ]] || fail "status devices $(field devices), expected $N"
echo "ok"
