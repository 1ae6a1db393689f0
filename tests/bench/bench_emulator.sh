#!/usr/bin/env bash
# `aliot bench` against a real emulator (the broker counts the logins, an AMQP consumer the
# messages). One case per argument, or all:
#   conn   2,000 devices from a `register --out`-style fleet file online at once: the emulator
#          counts 2,000 online, its broker holds 2,000 connections of 2,000 distinct client ids,
#          bench says so; back to 0 after; a run to its end exits 0
#   pub    1,000 devices x 20 QoS 1 messages: sent = acked = what `aliot cloud sub` received;
#          at QoS 0 every message written is counted
#   tls    over TLS (the default) with the emulator's CA: sessions resumed, none with
#          --no-tls-resume; a CA that did not sign the server: every login a network failure
#   auth   one wrong secret in the fleet: that device under "auth", the rest online; exit 4
#          with --max-fail 0, exit 0 with --max-fail 1
#   sigint SIGINT mid-run: summary printed, exit 130, the emulator's online count back to 0, every
#          connection ended by a DISCONNECT
#
#   tests/bench/bench_emulator.sh ALIOT_BIN [CASE...]
set -euo pipefail

ALIOT=$1
shift
cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=(conn pub tls auth sigint)
PK=a1BenchPK01

work=$(mktemp -d)
emu_pid=
bg_pids=()
cleanup() {
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -n $emu_pid ]] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

"$ALIOT" emulate cloud --dir "$work/emu" >"$work/env" 2>"$work/emu.log" &
emu_pid=$!
for _ in $(seq 300); do grep -q ALIOT_API_ENDPOINT "$work/env" 2>/dev/null && break; sleep 0.1; done
grep -q ALIOT_API_ENDPOINT "$work/env" || { cat "$work/emu.log"; fail "emulator did not start"; }
# shellcheck disable=SC1091
source "$work/env"
"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK >/dev/null
seq -f "bench-%.0f" 1 2000 >"$work/names"
# The fleet file has the shape `aliot register --out` writes: one triplet JSON a line.
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK --names "$work/names" --quiet \
  >"$work/fleet.jsonl"
[[ $(wc -l <"$work/fleet.jsonl") -eq 2000 ]] || fail "add-device gave $(wc -l <"$work/fleet.jsonl") devices"
chmod 600 "$work/fleet.jsonl"

# The devices the emulator counts online (`emulate cloud status`), and the connections its broker
# holds on its MQTT listeners (server side, established, as the kernel sees them).
online() {
  "$ALIOT" -o json emulate cloud status --dir "$work/emu" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["online"])'
}
broker_conns() {
  ss -Htn state established "( sport = :$ALIOT_MQTT_TCP_PORT or sport = :$ALIOT_MQTT_PORT )" | wc -l
}

# Waits for the ready line of a bench run (its -o json output, $1).
wait_ready() {
  for _ in $(seq 1200); do grep -q '"event":"ready"' "$1" 2>/dev/null && return 0; sleep 0.1; done
  cat "$1" "$2"
  fail "no ready line in $1"
}

json_field() { # FILE FIELD: the value of FIELD in the summary line
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    j=json.loads(l)
    if j.get("event")=="summary":
        v=j
        for k in sys.argv[2].split("."): v=v[k]
        print(v)' "$1" "$2"
}

case_conn() {
  echo "--- conn: 2,000 devices online"
  "$ALIOT" bench conn --fleet "$work/fleet.jsonl" -c 2000 --tcp --hold 60s -o json \
    >"$work/conn.out" 2>"$work/conn.err" &
  local pid=$!
  bg_pids+=("$pid")
  wait_ready "$work/conn.out" "$work/conn.err"
  grep -q '"online":2000' "$work/conn.out" || { cat "$work/conn.out"; fail "ready without 2,000 online"; }
  local n
  n=$(online)
  [[ $n -eq 2000 ]] || fail "the emulator counts $n devices online, not 2,000"
  n=$(broker_conns)
  [[ $n -eq 2000 ]] || fail "the broker holds $n connections, not 2,000"
  # Every client id distinct: the broker logged 2,000 different ones.
  n=$(sed -n 's/.*New client connected from [^ ]* as \([^ |]*\).*/\1/p' "$work/emu/mosquitto.log" \
    | grep "^${PK}\.bench-" | sort -u | wc -l)
  [[ $n -eq 2000 ]] || fail "the broker saw $n distinct client ids, not 2,000"
  kill -INT "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 130 ]] || { cat "$work/conn.err"; fail "conn: exit $rc after SIGINT, not 130"; }
  [[ $(json_field "$work/conn.out" connected) -eq 2000 ]] || fail "summary: not 2,000 connected"
  [[ $(json_field "$work/conn.out" failed) -eq 0 ]] || fail "summary: failures"
  for _ in $(seq 100); do [[ $(online) -eq 0 ]] && break; sleep 0.1; done
  [[ $(online) -eq 0 ]] || fail "the emulator counts $(online) devices online after the run"
  [[ $(broker_conns) -eq 0 ]] || fail "connections left at the broker after the run"
  # A run to its end: exit 0.
  "$ALIOT" bench conn --fleet "$work/fleet.jsonl" -c 500 --tcp --rate 2000/s -o json >"$work/conn2.out" \
    || fail "conn of 500 devices exited $?"
  [[ $(json_field "$work/conn2.out" connected) -eq 500 ]] || fail "conn 500: not 500 connected"
  echo "ok"
}

case_pub() {
  echo "--- pub: 1,000 devices x 20 QoS 1 messages, counted by an AMQP consumer"
  ALIOT_ACCESS_KEY_SECRET=BenchOperatorSecret "$ALIOT" emulate cloud add-access-key --dir "$work/emu" \
    --access-key-id LTAIbench >/dev/null
  "$ALIOT" emulate cloud add-consumer-group --dir "$work/emu" -k $PK --consumer-group BENCH >/dev/null
  ALIOT_ACCESS_KEY_SECRET=BenchOperatorSecret "$ALIOT" cloud sub --access-key-id LTAIbench \
    --consumer-group BENCH -t "/$PK/+/user/update" -C 20000 -W 100s -o json \
    >"$work/amqp.out" 2>"$work/amqp.err" &
  local sub_pid=$!
  bg_pids+=("$sub_pid")
  wait_ready "$work/amqp.out" "$work/amqp.err"
  "$ALIOT" bench pub --fleet "$work/fleet.jsonl" -c 1000 --tcp --count 20 --interval 200ms -q 1 \
    -o json >"$work/pub.out" 2>"$work/pub.err" || { cat "$work/pub.err"; fail "bench pub exited $?"; }
  local rc=0
  wait "$sub_pid" || rc=$?
  [[ $rc -eq 0 ]] || { tail -3 "$work/amqp.err"; fail "cloud sub exited $rc"; }
  local sent acked lost got
  sent=$(json_field "$work/pub.out" sent)
  acked=$(json_field "$work/pub.out" acked)
  lost=$(json_field "$work/pub.out" lost)
  got=$(grep -c '"topic":' "$work/amqp.out" || true)
  echo "sent=$sent acked=$acked lost=$lost amqp=$got"
  [[ $sent -eq 20000 && $acked -eq 20000 && $lost -eq 0 && $got -eq 20000 ]] || fail "counts differ"
  # Every (device, seq) once.
  python3 - "$work/amqp.out" <<'PY' || fail "the consumer's messages are not every (device, seq) once"
import json, sys
seen = set()
for line in open(sys.argv[1]):
    j = json.loads(line)
    if "topic" not in j:
        continue
    p = json.loads(j["payload"])
    seen.add((p["dn"], p["seq"]))
want = {("bench-%d" % d, s) for d in range(1, 1001) for s in range(20)}
sys.exit(0 if seen == want else 1)
PY
  # QoS 0: every message written counts (libmosquitto reports it from inside the publish call).
  "$ALIOT" bench pub --fleet "$work/fleet.jsonl" -c 100 --tcp --count 5 --interval 100ms -q 0 \
    -o json >"$work/pub0.out" 2>"$work/pub0.err" || { cat "$work/pub0.err"; fail "bench pub -q 0 exited $?"; }
  [[ $(json_field "$work/pub0.out" sent) -eq 500 && $(json_field "$work/pub0.out" acked) -eq 500 ]] \
    || fail "QoS 0: sent $(json_field "$work/pub0.out" sent), written $(json_field "$work/pub0.out" acked)"
  echo "ok"
}

case_tls() {
  echo "--- tls: the default transport, the emulator's CA, sessions resumed"
  "$ALIOT" bench conn --fleet "$work/fleet.jsonl" -c 50 --rate 50/s -o json >"$work/tls.out" \
    2>"$work/tls.err" || { cat "$work/tls.err"; fail "bench conn over TLS exited $?"; }
  [[ $(json_field "$work/tls.out" connected) -eq 50 ]] || fail "TLS: not 50 connected"
  # The first login has a full handshake; later ones are offered its session.
  [[ $(json_field "$work/tls.out" tls_resumed) -ge 1 ]] || fail "TLS: no session resumed"
  "$ALIOT" bench conn --fleet "$work/fleet.jsonl" -c 5 --no-tls-resume -o json >"$work/tls2.out" \
    2>"$work/tls2.err" || fail "bench conn --no-tls-resume exited $?"
  [[ $(json_field "$work/tls2.out" tls_resumed) -eq 0 ]] || fail "--no-tls-resume resumed"
  # A CA that did not sign the server's certificate: every login fails the handshake (network).
  local rc=0
  ALIOT_CA_FILE=/etc/ssl/certs/ca-certificates.crt "$ALIOT" bench conn --fleet "$work/fleet.jsonl" \
    -c 3 -o json >"$work/tls3.out" 2>"$work/tls3.err" || rc=$?
  [[ $rc -eq 5 ]] || { cat "$work/tls3.err"; fail "an untrusted server: exit $rc, not 5"; }
  [[ $(json_field "$work/tls3.out" failures.network) -eq 3 ]] || fail "untrusted: not 3 network failures"
  echo "ok"
}

case_auth() {
  echo "--- auth: one wrong secret"
  head -50 "$work/fleet.jsonl" >"$work/bad.jsonl"
  # Device 7's secret replaced by another valid-looking one.
  python3 - "$work/bad.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
j = json.loads(lines[6]); j["DeviceSecret"] = "0" * 32; lines[6] = json.dumps(j)
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
  chmod 600 "$work/bad.jsonl"
  local rc=0
  "$ALIOT" bench conn --fleet "$work/bad.jsonl" --tcp -o json >"$work/auth.out" 2>"$work/auth.err" || rc=$?
  [[ $rc -eq 4 ]] || { cat "$work/auth.err"; fail "one wrong secret, --max-fail 0: exit $rc, not 4"; }
  [[ $(json_field "$work/auth.out" failures.auth) -eq 1 ]] || fail "not one auth failure"
  [[ $(json_field "$work/auth.out" connected) -eq 49 ]] || fail "the other 49 did not log in"
  "$ALIOT" bench conn --fleet "$work/bad.jsonl" --tcp --max-fail 1 -o json >"$work/auth2.out" \
    2>"$work/auth2.err" || fail "--max-fail 1: exit $?"
  echo "ok"
}

case_sigint() {
  echo "--- sigint: Ctrl-C mid-run"
  "$ALIOT" bench pub --fleet "$work/fleet.jsonl" -c 300 --tcp --interval 1s -q 1 -o json \
    >"$work/int.out" 2>"$work/int.err" &
  local pid=$!
  bg_pids+=("$pid")
  wait_ready "$work/int.out" "$work/int.err"
  [[ $(online) -eq 300 ]] || fail "the emulator counts $(online) online before SIGINT, not 300"
  sleep 2 # some messages on the way
  kill -INT "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 130 ]] || { cat "$work/int.err"; fail "exit $rc after SIGINT, not 130"; }
  grep -q '"event":"summary"' "$work/int.out" || fail "no summary after SIGINT"
  [[ $(json_field "$work/int.out" online) -eq 0 ]] || fail "summary: devices still online"
  for _ in $(seq 100); do [[ $(online) -eq 0 ]] && break; sleep 0.1; done
  [[ $(online) -eq 0 ]] || fail "the emulator counts $(online) devices online after SIGINT"
  [[ $(broker_conns) -eq 0 ]] || fail "connections left at the broker after SIGINT"
  # Each was closed by a DISCONNECT, not dropped: the broker logs no "closed its connection".
  if grep -q "Client ${PK}\.bench-[0-9]*|.* closed its connection" "$work/emu/mosquitto.log"; then
    fail "a connection was dropped without DISCONNECT"
  fi
  echo "ok"
}

for c in "${cases[@]}"; do "case_$c"; done
echo "all passed"
