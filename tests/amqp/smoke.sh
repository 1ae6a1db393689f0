#!/usr/bin/env bash
# CI smoke test: the device publishes; the backend must see it within 30 s.
# Needs: ALIOT_* from `aliot emulate cloud` (or the real platform), ALIOT_ACCESS_KEY_ID/_SECRET,
# ALIOT_DEVICE_SECRET, PK, DN and GROUP: a consumer group of the product that only this test
# reads. -t filters on this side: what it does not match goes back to the group, but what it
# matches (this device's user/update) is consumed here, and a backend sharing the group misses it.
set -euo pipefail
run_id="smoke-$$-$RANDOM"
aliot cloud sub --consumer-group "$GROUP" -t "/$PK/$DN/user/update" \
  --until "$run_id" -W 30 -o json > backend.jsonl &
backend=$!
aliot pub -k "$PK" -d "$DN" -t user/update -m "{\"run\":\"$run_id\"}"
wait "$backend" # exit 0: the backend got it; 6: it did not arrive within 30 s
grep -q "$run_id" backend.jsonl
