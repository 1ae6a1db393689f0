#!/usr/bin/env bash
# CI smoke test of a thing-model product: the device reports Temp; the backend sees it; the cloud
# sets it back and the device applies it (and reports the new value).
# Needs: ALIOT_* from `aliot emulate cloud` (or the real platform), ALIOT_ACCESS_KEY_ID/_SECRET,
# ALIOT_DEVICE_SECRET, PK and DN (a product whose thing model has a float property Temp).
set -euo pipefail
aliot prop post -k "$PK" -d "$DN" Temp=21.5   # exit 0: reply code 200; 7: the TSL refused it
aliot cloud prop get -k "$PK" -d "$DN" Temp | grep '^Temp  21.5 '
aliot thing serve -k "$PK" -d "$DN" -C 1 -W 30 -o json > device.jsonl &
device=$!
for _ in $(seq 100); do grep -q '"event":"ready"' device.jsonl && break; sleep 0.1; done
aliot cloud prop set -k "$PK" -d "$DN" Temp=25
wait "$device"   # exit 0: the device got the set and answered it; 6: nothing within 30 s
grep -q '"params":{"Temp":25}' device.jsonl
for _ in $(seq 50); do   # the device's report of the applied value reaches the backend
  aliot cloud prop get -k "$PK" -d "$DN" Temp | grep '^Temp  25 ' && exit 0
  sleep 0.2
done
exit 1
