#!/usr/bin/env bash
# CI smoke test: the device publishes; the backend must see it within 30 s.
# Needs: ALIOT_* from `aliot emulate cloud` (or the real platform), ALIOT_ACCESS_KEY_ID/_SECRET,
# ALIOT_DEVICE_SECRET, PK, DN and GROUP: a consumer group of the product that only this test
# reads. -t filters on this side: what it does not match goes back to the group, but what it
# matches (this device's user/update) is consumed here, and a backend sharing the group misses it.
set -euo pipefail
run_id="smoke-$$-$RANDOM"
# 1. Start the waiter in the background: this run's message only, not the group's backlog.
aliot cloud sub --consumer-group "$GROUP" -t "/$PK/$DN/user/update" \
  --until "$run_id" --from-now -W 30s -o json > backend.jsonl &
backend=$!
# 2. Wait for its ready line (the first line under -o json).
for _ in $(seq 100); do grep -q '"event":"ready"' backend.jsonl && break; sleep 0.1; done
# 3. Act: one process per identity (a second login with the same triplet kicks the first).
aliot pub -k "$PK" -d "$DN" -t user/update -m "{\"run\":\"$run_id\"}"
# 4. Wait for the waiter: exit 0, the backend got it; 6, it did not arrive within 30 s.
wait "$backend"
grep -q "$run_id" backend.jsonl
