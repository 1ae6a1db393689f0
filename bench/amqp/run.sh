#!/usr/bin/env bash
# Benchmark: `aliot cloud sub` against a python3-qpid-proton consumer (a peer we did not write)
# on the same consumer group of the local emulator, in the same run. Each round preloads N
# device messages into the group (mosquitto_pub -l as the device, QoS 1), then times one
# consumer taking all N (process start to exit, each message written and accepted). Prints
# msgs/s for both and the ratio aliot / python.
#
#   bench/amqp/run.sh [ALIOT_BIN] [N] [ROUNDS]
set -euo pipefail
ALIOT=${1:-${ALIOT_BIN:-$(dirname "$0")/../../build/release/cli/aliot}}
N=${2:-20000}
ROUNDS=${3:-3}
PY=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
PK=a1BenchAmqp01
DN=bench-amqp-01
# shellcheck source=bench/lib.sh
source "$here/../lib.sh"
bench_emulator "$ALIOT"
export ALIOT_DEVICE_SECRET=DsBenchAmqp0123456789 ALIOT_ACCESS_KEY_ID=BENCHAK000000001
export ALIOT_ACCESS_KEY_SECRET=BenchAkSecret0000000000000001
"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK >/dev/null
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK -d $DN >/dev/null
"$ALIOT" emulate cloud add-access-key --dir "$work/emu" --access-key-id "$ALIOT_ACCESS_KEY_ID" >/dev/null
"$ALIOT" emulate cloud add-consumer-group --dir "$work/emu" -k $PK --consumer-group BENCH >/dev/null

# N lines of 64-byte JSON payloads, published by the device in one connection.
for i in $(seq -w 1 "$N"); do printf '{"seq":%s,"pad":"%0*d"}\n' "$i" $((64 - 19 - ${#i})) 0; done >"$work/lines"
preload() {
  eval "mosquitto_pub $("$ALIOT" sign -k $PK -d $DN --for mosquitto-eval) -t /$PK/$DN/user/update -q 1 -l" \
    <"$work/lines"
  sleep 1 # let the broker hand the last ones to the AMQP thread
}
ms() { date +%s%N; }
rate() { echo "scale=0; $N * 1000000000 / ($2 - $1)" | bc; }

total_a=0 total_p=0
for r in $(seq "$ROUNDS"); do
  preload
  t0=$(ms)
  "$ALIOT" cloud sub --consumer-group BENCH -C "$N" -W 120 -o json >"$work/a.out"
  t1=$(ms)
  # its first line says it is ready ({"event":"ready",...}): not a message
  got=$(grep -vc '^{"event":"ready"' "$work/a.out" || true)
  [ "$got" -eq "$N" ] || { echo "aliot got $got of $N" >&2; exit 1; }
  preload
  t2=$(ms)
  "$PY" "$here/../../tests/amqp/py_consumer.py" --url "$ALIOT_AMQP_ENDPOINT" --ca "$ALIOT_CA_FILE" \
    --ak "$ALIOT_ACCESS_KEY_ID" --secret "$ALIOT_ACCESS_KEY_SECRET" --group BENCH --count "$N" \
    --wait 120 >"$work/p.out"
  t3=$(ms)
  [ "$(wc -l <"$work/p.out")" -eq "$N" ] || { echo "python got $(wc -l <"$work/p.out") of $N" >&2; exit 1; }
  a=$(rate "$t0" "$t1"); p=$(rate "$t2" "$t3")
  echo "round $r: aliot cloud sub $a msg/s, python3-qpid-proton $p msg/s ($N messages each)"
  total_a=$((total_a + t1 - t0)); total_p=$((total_p + t3 - t2))
done
echo "mean: aliot $(echo "scale=0; $N * $ROUNDS * 1000000000 / $total_a" | bc) msg/s," \
  "python $(echo "scale=0; $N * $ROUNDS * 1000000000 / $total_p" | bc) msg/s," \
  "ratio aliot/python $(echo "scale=2; $total_p / $total_a" | bc)"
