#!/usr/bin/env bash
# Benchmark: aliot pub / aliot sub against mosquitto_pub / mosquitto_sub in the same run, on the
# same local mosquitto broker (plain TCP, password file). Prints absolute times and the ratio
# aliot/mosquitto (below 1.0 = aliot faster). Not a test: no pass/fail.
#
#   bench/pub_sub/run.sh [path/to/aliot] [N_RUNS=20] [N_LINES=20000]
set -euo pipefail
ALIOT=${1:-$(dirname "$0")/../../build/mqtt/cli/aliot}
RUNS=${2:-20}
LINES=${3:-20000}
PK=a1FakePK001
DS=0123456789abcdef0123456789abcdef
TS=1700000000000
export ALIOT_DEVICE_SECRET=$DS

dir=$(mktemp -d)
trap 'kill "$broker" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
touch "$dir/passwd"
for dn in devPub devSub; do
  pw=$("$ALIOT" sign -k $PK -d $dn --timestamp $TS --tcp -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])')
  mosquitto_passwd -b "$dir/passwd" "$dn&$PK" "$pw"
done
printf 'user root\nallow_anonymous false\npassword_file %s\nlistener %s 127.0.0.1\nmax_queued_messages 100000\n' \
  "$dir/passwd" "$port" > "$dir/m.conf"
mosquitto -c "$dir/m.conf" 2>"$dir/broker.log" & broker=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

now() { date +%s.%N; }
# the device's mosquitto arguments, from aliot itself
read -r -a MOSQ_PUB <<<"$("$ALIOT" sign -k $PK -d devPub --timestamp $TS --tcp --host 127.0.0.1 --port "$port" --for mosquitto | tr -d "'")"
read -r -a MOSQ_SUB <<<"$("$ALIOT" sign -k $PK -d devSub --timestamp $TS --tcp --host 127.0.0.1 --port "$port" --for mosquitto | tr -d "'")"
A_PUB=(-k $PK -d devPub --timestamp $TS --tcp --host 127.0.0.1 --port "$port")
A_SUB=(-k $PK -d devSub --timestamp $TS --tcp --host 127.0.0.1 --port "$port")
TOPIC_PUB=/$PK/devPub/user/update
TOPIC_SUB=/$PK/devSub/user/get

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
ms() { python3 -c "print(f'{($2-$1)*1000/$3:.1f}')"; }

echo "aliot: $ALIOT"
echo "broker: mosquitto $(mosquitto -h 2>/dev/null | head -1 | awk '{print $3}') on 127.0.0.1:$port"

# 1. one-shot publish (process start + CONNECT + PUBLISH QoS 1 + PUBACK + DISCONNECT)
t0=$(now); for _ in $(seq "$RUNS"); do "$ALIOT" pub "${A_PUB[@]}" -t user/update -q 1 -m hello; done; t1=$(now)
for _ in $(seq "$RUNS"); do mosquitto_pub "${MOSQ_PUB[@]}" -t $TOPIC_PUB -q 1 -m hello; done; t2=$(now)
a=$(ms "$t0" "$t1" "$RUNS"); m=$(ms "$t1" "$t2" "$RUNS")
echo "one-shot pub QoS1 (mean of $RUNS): aliot ${a} ms, mosquitto_pub ${m} ms, ratio $(ratio "$a" "$m")"

# 2. streaming publish: N lines from stdin, QoS 1 (every PUBACK awaited)
seq "$LINES" | sed 's/^/message /' > "$dir/lines"
t0=$(now); "$ALIOT" pub "${A_PUB[@]}" -t user/update -q 1 -l < "$dir/lines"; t1=$(now)
mosquitto_pub "${MOSQ_PUB[@]}" -t $TOPIC_PUB -q 1 -l < "$dir/lines"; t2=$(now)
a=$(ms "$t0" "$t1" 1); m=$(ms "$t1" "$t2" 1)
echo "pub -l $LINES lines QoS1: aliot ${a} ms, mosquitto_pub ${m} ms, ratio $(ratio "$a" "$m")"

# 3. subscribe: time until the subscriber has received N messages (publisher: mosquitto_pub -l
#    as the operator-free device topic is published by a second client with the same login
#    rules; the broker has no ACL, so devPub publishes on devSub's topic)
bench_sub() { # $1 = aliot|mosquitto
  local out=$dir/sub.$1 ready
  if [ "$1" = aliot ]; then
    "$ALIOT" -v sub "${A_SUB[@]}" -t user/get -q 1 -C "$LINES" -W 120 >"$out" 2>"$out.err" & sp=$!
    for _ in $(seq 200); do grep -q "subscribed to" "$out.err" 2>/dev/null && break; sleep 0.02; done
  else
    mosquitto_sub "${MOSQ_SUB[@]}" -t $TOPIC_SUB -q 1 -C "$LINES" -W 120 >"$out" & sp=$!
    sleep 0.5
  fi
  local s; s=$(now)
  mosquitto_pub "${MOSQ_PUB[@]}" -t $TOPIC_SUB -q 1 -l < "$dir/lines"
  wait "$sp"; local e; e=$(now)
  [ "$(wc -l < "$out")" -eq "$LINES" ] || echo "  ($1 received $(wc -l < "$out") of $LINES)"
  ms "$s" "$e" 1
}
a=$(bench_sub aliot); m=$(bench_sub mosquitto)
echo "sub -C $LINES QoS1 (publish start to last message): aliot ${a} ms, mosquitto_sub ${m} ms, ratio $(ratio "$a" "$m")"
