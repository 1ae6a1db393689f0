#!/usr/bin/env bash
# N devices online at once against a real emulator, each with its own triplet (added in one
# `add-device --names` batch), each publishing M QoS 1 messages to its user/update topic, while
# an operator subscriber (mosquitto_sub, QoS 1, a peer aliot did not write) counts them: fails
# unless every device logged in and every message id arrived exactly where it was sent.
#
#   tests/emulator/online_load.sh ALIOT_BIN LOAD_BIN [N] [M]
#
# Prints the load program's JSON (logins/s, RSS of the broker and of the load program) and the
# subscriber's count. Used by ctest (label emulator) and by bench/emulator/online.sh.
set -euo pipefail

ALIOT=$1
LOAD=$2
N=${3:-1000}
M=${4:-1}
PK=a1LoadPK001

work=$(mktemp -d)
emu_pid=
sub_pid=
cleanup() {
  [[ -n $sub_pid ]] && kill "$sub_pid" 2>/dev/null || true
  [[ -n $emu_pid ]] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$ALIOT" emulate cloud --dir "$work/emu" >"$work/env" 2>"$work/emu.log" &
emu_pid=$!
for _ in $(seq 300); do grep -q ALIOT_MQTT_TCP_PORT "$work/env" 2>/dev/null && break; sleep 0.1; done
grep -q ALIOT_MQTT_TCP_PORT "$work/env" || { echo "emulator did not start:"; cat "$work/emu.log"; exit 1; }
# shellcheck disable=SC1091
source "$work/env"
broker_pid=$(pgrep -P "$emu_pid" mosquitto || true)

"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK >/dev/null
seq -f "load-%.0f" 1 "$N" >"$work/names"
t0=$(date +%s.%N)
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK --names "$work/names" --quiet >"$work/triplets.jsonl"
t1=$(date +%s.%N)
echo "add-device --names: $N devices in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s"
ak=$(ALIOT_ACCESS_KEY_SECRET=LoadOperatorSecret "$ALIOT" emulate cloud add-access-key --dir "$work/emu" \
  --access-key-id LTAIload -o json | sed -n 's/.*"AccessKeyId":"\([^"]*\)".*/\1/p')

total=$((N * M))
stdbuf -oL mosquitto_sub -h "$ALIOT_MQTT_HOST" -p "$ALIOT_MQTT_TCP_PORT" -i load-ops -u "operator/$ak" \
  -P LoadOperatorSecret -q 1 -t "/$PK/+/user/update" -v -C "$total" -W 120 -d \
  >"$work/sub.out" 2>&1 &
sub_pid=$!
for _ in $(seq 100); do grep -q SUBACK "$work/sub.out" 2>/dev/null && break; sleep 0.1; done
grep -q SUBACK "$work/sub.out" || { echo "subscriber did not subscribe:"; cat "$work/sub.out"; exit 1; }

status=0
"$LOAD" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$work/triplets.jsonl" "$M" "$broker_pid" "$work/sub.out" || status=$?
# Every message was acknowledged by the broker: the subscriber has them, or soon.
for _ in $(seq 100); do kill -0 "$sub_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$sub_pid" 2>/dev/null; then
  echo "subscriber still waiting 10 s after the last PUBACK: messages missing"
  status=1
else
  wait "$sub_pid" || { echo "subscriber ended with $?"; status=1; }
  sub_pid=
fi

# Every id once, on its own device's topic.
grep "^/$PK/" "$work/sub.out" | awk '{ print $1, $2 }' | sort -u >"$work/seen"
for i in $(seq 1 "$N"); do
  for j in $(seq 0 $((M - 1))); do echo "/$PK/load-$i/user/update load-$i:$j"; done
done | sort >"$work/expected"
lost=$(comm -23 "$work/expected" "$work/seen" | wc -l)
extra=$(comm -13 "$work/expected" "$work/seen" | wc -l)
echo "subscriber: $(wc -l <"$work/seen") of $total messages, lost=$lost, unexpected=$extra"
[[ $lost -eq 0 && $extra -eq 0 ]] || status=1
if ((status)); then
  echo "--- the emulator's log (last lines):"
  grep -v -e "New connection" -e "New client connected" -e "disconnected" "$work/emu.log" | tail -20 || true
  echo "--- the subscriber (last lines):"
  tail -5 "$work/sub.out"
fi
exit "$status"
