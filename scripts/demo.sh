#!/usr/bin/env bash
# The aliot demo, with no cloud account and no hardware:
#   1. a local Aliyun IoT platform (aliot emulate cloud, on the real mosquitto broker)
#   2. a device registered by one-type-one-secret (HTTPS dynamic registration), its secret
#      journaled to a 0600 file before it is shown
#   3. that triplet burned into a simulated switch on a pseudo-terminal: staged, verified by
#      fingerprint and HMAC challenge, committed, rebooted, verified again, locked
#   4. the device online, answering RRPC (aliot rrpc serve), publishing (aliot pub)
#   5. the cloud side: the operator view of what the device sent, and an RRPC call
#   6. the whole data flow, both directions: the backend receives the device's user/update
#      over AMQP (aliot cloud sub), and the cloud publishes to the device's user/get
#      (aliot cloud pub) while the device's aliot sub prints it
# Installs what it needs (Debian packages) and builds aliot first, in a build directory of its own
# (build/demo: Release, without the tests), so a build/release configured for tests and benchmarks
# is left as it was. Each command is shown as it can be pasted (shell-quoted), with `aliot` being
# build/demo/cli/aliot and the ALIOT_* variables those the emulator printed (DIR.env).
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
./scripts/install-deps.sh

echo "== building aliot (Release, in build/demo)"
cmake -S "$root" -B "$root/build/demo" -DCMAKE_BUILD_TYPE=Release -DALIOT_BUILD_TESTS=OFF >/dev/null
cmake --build "$root/build/demo" -j"$(nproc)" --target aliot aliot_emu >/dev/null
# The commands below run (and are shown as) plain `aliot`: this build, first in PATH.
export PATH="$root/build/demo/cli:$PATH"
aliot=aliot

work=$(mktemp -d /tmp/aliot-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# A command as it can be pasted: each word as is when it is plain, else in single quotes (a ' in
# it as '\''), so `-m '{"temperature":21.5}'` reads as typed; then run.
quote() {
  local w out=()
  for w in "$@"; do
    if [[ $w =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then out+=("$w"); else out+=("'${w//\'/\'\\\'\'}'"); fi
  done
  printf '%s' "${out[*]}"
}
show() { printf '$ %s\n' "$(quote "$@")"; }
run() { show "$@"; "$@"; }
show_bg() { printf '$ %s &\n' "$(quote "$@")"; } # started in the background

step "1. a local Aliyun IoT platform"
# shellcheck source=scripts/lib/emulator.sh
source "$root/scripts/lib/emulator.sh"
emulator_start "$aliot" "$work/cloud"
pids+=("$EMULATOR_PID")
cat "$work/cloud.env"

PK=a1DemoPK001
DN=SW-0C8B95A1F3E2
export ALIOT_PRODUCT_SECRET=PsDemo0123456789abcdef
run "$aliot" emulate cloud add-product --dir "$work/cloud" -k "$PK" --dynamic-registration on
# Pre-registration: the device exists in the console but its secret is issued on registration.
run "$aliot" emulate cloud add-device --dir "$work/cloud" -k "$PK" -d "$DN"
export ALIOT_ACCESS_KEY_ID=DEMOAKID00000001
export ALIOT_ACCESS_KEY_SECRET=DemoAkSecret000000000000000001
run "$aliot" emulate cloud add-access-key --dir "$work/cloud" --access-key-id "$ALIOT_ACCESS_KEY_ID" >/dev/null
# The backend's consumer group: from now on the product's device messages queue up for it.
run "$aliot" emulate cloud add-consumer-group --dir "$work/cloud" -k "$PK" --consumer-group DEMO_GROUP

step "2. register the device by one-type-one-secret (HTTPS)"
# With --out the DeviceSecret goes to the 0600 file only: stdout says where it went.
run "$aliot" register -k "$PK" -d "$DN" --out "$work/triplets.jsonl"
ls -l "$work/triplets.jsonl"
tail -n 1 "$work/triplets.jsonl" >"$work/device.json"
chmod 600 "$work/device.json"
echo "registered $PK/$DN (secret kept in $work/triplets.jsonl, mode 0600)"

step "3. burn the triplet into a simulated switch"
show_bg "$aliot" emulate switch --link "$work/dut0" --state "$work/switch.json"
"$aliot" emulate switch --link "$work/dut0" --state "$work/switch.json" >"$work/switch.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -e "$work/dut0" ] && break; sleep 0.05; done
run "$aliot" burn --port "$work/dut0" --triplet "$work/device.json" --lock --journal "$work/factory.db"

step "4. the device online: publishing, then answering RRPC"
run "$aliot" connect --triplet "$work/device.json" --check-sub user/get
run_id="demo-$$"
run "$aliot" pub --triplet "$work/device.json" -t user/update -m "{\"temperature\":21.5,\"run\":\"$run_id\"}" -q 1
# One connection per device: the platform kicks an older login when the same device logs in
# again, so the long-running RRPC server starts after the one-shot commands above.
show_bg "$aliot" -v rrpc serve --triplet "$work/device.json" --exec 'tr a-z A-Z' -o json
"$aliot" -v rrpc serve --triplet "$work/device.json" --exec 'tr a-z A-Z' -o json >"$work/rrpc.log" 2>&1 &
rrpc_pid=$!
pids+=($rrpc_pid)
# Started in the background, it says when it is ready (its first JSON line); act only then.
for _ in $(seq 1 200); do grep -q '"event":"ready"' "$work/rrpc.log" && break; sleep 0.05; done
grep '"event":"ready"' "$work/rrpc.log"

step "5. the cloud side"
echo "what the platform received from the device (operator view):"
# shellcheck disable=SC2016 # shown as typed: the shell expands them when it is pasted
printf '$ curl -s --max-time 5 -u "$ALIOT_ACCESS_KEY_ID:$ALIOT_ACCESS_KEY_SECRET" %s\n' \
  "\"\$ALIOT_API_ENDPOINT/emu/messages?topic=/$PK/$DN/user/%23\""
curl -s --max-time 5 -u "$ALIOT_ACCESS_KEY_ID:$ALIOT_ACCESS_KEY_SECRET" \
  "$ALIOT_API_ENDPOINT/emu/messages?topic=/$PK/$DN/user/%23" ; echo
show "$aliot" rrpc call -k "$PK" -d "$DN" -m "hello switch"
reply=$("$aliot" rrpc call -k "$PK" -d "$DN" -m "hello switch")
echo "device replied: $reply"
[ "$reply" = "HELLO SWITCH" ]
echo "the device's log of that request:"
grep '"event"' "$work/rrpc.log" || true

step "6. the data flow, both directions"
echo "the backend (AMQP server-side subscription) receives what the device published:"
# The group kept the update published in step 4; --until picks this run's among any older ones.
run "$aliot" cloud sub --consumer-group DEMO_GROUP -t "/$PK/$DN/user/update" --until "$run_id" -W 10s -o json
# The device listens on user/get (its RRPC server gives the connection up first).
kill "$rrpc_pid"; wait "$rrpc_pid" 2>/dev/null || true
show_bg "$aliot" -v sub --triplet "$work/device.json" -t user/get -C 1 -W 15
"$aliot" -v sub --triplet "$work/device.json" -t user/get -C 1 -W 15 >"$work/device-sub.out" 2>"$work/device-sub.log" &
sub_pid=$!
pids+=($sub_pid)
for _ in $(seq 1 200); do grep -q 'aliot: ready:' "$work/device-sub.log" && break; sleep 0.05; done
run "$aliot" cloud pub -k "$PK" -d "$DN" -t user/get -m '{"cmd":"switch_on"}'
wait "$sub_pid"
echo "the device received on /$PK/$DN/user/get: $(cat "$work/device-sub.out")"
grep -q switch_on "$work/device-sub.out"
echo
echo "demo complete: registered, burned, verified, locked, online, published, answered RRPC;"
echo "the backend got the device's update over AMQP and the device got the cloud's command"
