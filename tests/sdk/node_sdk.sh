#!/usr/bin/env bash
# Alibaba's official Node device SDK (alibabacloud-iot-device-sdk@1.2.8, from npm) against the
# platform emulator, driven by aliot's cloud commands:
#   postProps gets reply code 200, and `aliot cloud prop get` reads the value;
#   onProps receives `aliot cloud prop set`;
#   onService answers `aliot cloud invoke` (async: the MessageId; sync: the device's data).
# The SDK is installed into SDK_CACHE (default: $XDG_CACHE_HOME or ~/.cache, aliot-sdk-node) once;
# CI reaches npm, so a failed install fails the test.
# Usage: tests/sdk/node_sdk.sh   (ALIOT=path/to/aliot, SDK_CACHE=dir)
set -euo pipefail
aliot=${ALIOT:-aliot}
here=$(cd "$(dirname "$0")" && pwd)
version=1.2.8
cache=${SDK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aliot-sdk-node}
work=$(mktemp -d /tmp/aliot-sdk.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log "$work"/*.out; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }
# waits (up to 30 s) until FILE contains TEXT
wait_for() { for _ in $(seq 300); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; fail "no '$2' in $1"; }

sdk="$cache/$version"
if [ ! -f "$sdk/node_modules/alibabacloud-iot-device-sdk/package.json" ]; then
  mkdir -p "$sdk"
  npm install --prefix "$sdk" --no-audit --no-fund "alibabacloud-iot-device-sdk@$version" \
    >"$work/npm.log" 2>&1 || fail "npm install alibabacloud-iot-device-sdk@$version failed"
fi
installed=$(node -p "require('$sdk/node_modules/alibabacloud-iot-device-sdk/package.json').version")
[ "$installed" = "$version" ] || fail "installed SDK is $installed, not $version"

cd "$work"
"$aliot" emulate cloud --dir cloud >cloud.env 2>cloud.log &
pids+=($!)
wait_for cloud.env ALIOT_API_ENDPOINT
# shellcheck disable=SC1091
source cloud.env
PK=a1NodeSdk01
DN=node-dev-1
DS=0123456789abcdef0123456789abcdef
export ALIOT_PRODUCT_SECRET=NodeSdkProductSecret000000000001
export ALIOT_ACCESS_KEY_ID=LTAInodesdk00001 ALIOT_ACCESS_KEY_SECRET=NodeSdkAkSecret00000000000000001
"$aliot" emulate cloud add-product --dir cloud -k "$PK" --dynamic-registration off >/dev/null
ALIOT_DEVICE_SECRET=$DS "$aliot" emulate cloud add-device --dir cloud -k "$PK" -d "$DN" >/dev/null
"$aliot" emulate cloud add-access-key --dir cloud --access-key-id "$ALIOT_ACCESS_KEY_ID" >/dev/null
cat >tsl.json <<TSL
{"profile": {"productKey": "$PK"},
 "properties": [{"identifier": "Temp", "accessMode": "rw",
   "dataType": {"type": "float", "specs": {"min": "-40", "max": "120"}}}],
 "events": [],
 "services": [
   {"identifier": "Reboot", "callType": "async", "inputData": [], "outputData": []},
   {"identifier": "Ping", "callType": "sync", "inputData": [],
    "outputData": [{"identifier": "Echo", "dataType": {"type": "text", "specs": {"length": "64"}}}]}]}
TSL
"$aliot" emulate cloud add-thing-model --dir cloud -k "$PK" tsl.json >/dev/null

node "$here/device.js" "$sdk" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$PK" "$DN" "$DS" \
  >device.out 2>device.log &
pids+=($!)
wait_for device.out READY

echo "== postProps gets reply code 200; the backend reads the value"
# The SDK's ids are "N|exp-topic|<reply topic>" and its postProps callback fires only when the
# reply echoes the whole id: POSTPROPS is that callback.
wait_for device.out "POSTPROPS "
grep -m1 "POSTPROPS " device.out | grep -q '"code":200' ||
  fail "postProps callback: $(grep -E 'POSTPROPS|REPLY' device.out)"
"$aliot" cloud prop get -k "$PK" -d "$DN" Temp >get.out || fail "cloud prop get"
grep -q '^Temp  21.5  ' get.out || fail "cloud prop get: $(cat get.out)"

echo "== onProps receives aliot cloud prop set"
"$aliot" cloud prop set -k "$PK" -d "$DN" Temp=25 >set.out || fail "cloud prop set"
wait_for device.out 'ONPROPS .*"Temp":25'
grep 'ONPROPS' device.out | grep -q '"method":"thing.service.property.set"' || fail "onProps: $(grep ONPROPS device.out)"

echo "== onService answers aliot cloud invoke, async and sync"
"$aliot" cloud invoke Reboot -k "$PK" -d "$DN" -o json >async.out || fail "cloud invoke Reboot"
grep -q '"sync":false' async.out || fail "async invoke: $(cat async.out)"
wait_for device.out 'SERVICE Reboot .*"method":"thing.service.Reboot"'
"$aliot" cloud invoke Ping -k "$PK" -d "$DN" >sync.out || fail "cloud invoke Ping: $(cat sync.out)"
grep -q '"Echo":"pong from node"' sync.out || fail "sync invoke: $(cat sync.out)"
grep -q 'SERVICE Ping ' device.out || fail "the SDK did not see the sync call"
echo "PASS: the official Node device SDK $version against the emulator"
