#!/usr/bin/env bash
# The factory station, one shift, end to end, against the local platform emulator and simulated
# switches (CI runs this script as written: ctest -R station_recipe).
#
#   A. a pool of pre-issued triplets: register a batch (or take the console's batch CSV), import
#      it into the station's pool, and burn unit after unit from it with `burn --loop`;
#   B. or register each unit at the station: `burn --register --loop` names it SW-<MAC>, registers
#      it by one-type-one-secret and burns the issued secret (kept in the pool before it is sent);
#   C. at the end of the shift: export the journals and check the never-twice rules across them.
#
# Usage: scripts/station-recipe.sh [WORKDIR]   (ALIOT=path/to/aliot, default: aliot in PATH)
set -euo pipefail
aliot=${ALIOT:-aliot}
work=${1:-$(mktemp -d /tmp/aliot-station.XXXXXX)}
keep=${1:+yes}
mkdir -p "$work" && cd "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -z "$keep" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }
# waits (up to 60 s) until FILE contains TEXT
wait_for() { for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; cat "$1" >&2; return 1; }

say "the platform (here the local emulator; on a real line: your region's endpoints)"
"$aliot" emulate cloud --dir cloud >cloud.env 2>cloud.log &
pids+=($!)
wait_for cloud.env ALIOT_API_ENDPOINT
# shellcheck disable=SC1091
source cloud.env
PK=a1RecipePK1
export ALIOT_PRODUCT_SECRET=RecipeProductSecret0123456789abc
"$aliot" emulate cloud add-product --dir cloud -k "$PK" --dynamic-registration on >/dev/null
# The line's MAC block: these units come to the fixtures (the console pre-registers their names).
macs=(02:00:5E:10:00:01 02:00:5E:10:00:02 02:00:5E:10:00:03 02:00:5E:10:00:04)
for i in 1 2 3 4; do echo "SW-POOL-$i"; done >names.txt
for dn in $(cat names.txt) "${macs[@]/#/SW-}"; do
  "$aliot" emulate cloud add-device --dir cloud -k "$PK" -d "${dn//:/}" >/dev/null
done

say "A1. issue a batch and import it into station 1's pool"
"$aliot" register -k "$PK" --names names.txt --out issued.jsonl >/dev/null
"$aliot" pool import --pool pool1.db --csv issued.jsonl -k "$PK"
"$aliot" pool status --pool pool1.db

say "A2. station 1: burn unit after unit from the pool (the fixture: 3 units, one comes back)"
cat >units1.jsonl <<EOF
{"seed":1,"mac":"${macs[0]}"}
{"seed":2,"mac":"${macs[1]}"}
{"seed":1,"mac":"${macs[0]}"}
EOF
"$aliot" burn --port ./fixture1 --pool pool1.db --journal station1.db --station st-1 \
  --operator op-7 --loop >shift1.txt &
station=$!
pids+=("$station")
"$aliot" emulate switch --link ./fixture1 --units units1.jsonl --state-dir flash1 >fixture1.log &
pids+=($!)
wait_for fixture1.log "units done"
wait_for shift1.txt "SW-POOL-1.*${macs[0]}.*resumed"
kill -INT "$station" && wait "$station"
cat shift1.txt

say "B. station 2: register each unit at the station as SW-<MAC>"
cat >units2.jsonl <<EOF
{"seed":3,"mac":"${macs[2]}"}
{"seed":4,"mac":"${macs[3]}"}
EOF
"$aliot" burn --port ./fixture2 --register -k "$PK" --name-template 'SW-{mac}' --pool issued2.db \
  --journal station2.db --station st-2 --loop -o json >shift2.jsonl &
station=$!
pids+=("$station")
"$aliot" emulate switch --link ./fixture2 --units units2.jsonl --state-dir flash2 >fixture2.log &
pids+=($!)
wait_for fixture2.log "units done"
wait_for shift2.jsonl "SW-${macs[3]//:/}"
kill -INT "$station" && wait "$station"
cat shift2.jsonl

say "C. end of shift: export each journal (no secrets) and check both together"
"$aliot" journal export --journal station1.db --format csv
"$aliot" journal export --journal station2.db >station2-jobs.jsonl
cat station2-jobs.jsonl
"$aliot" journal check station1.db station2.db

# What the shift must show (CI checks it): every unit passed, the returning unit was verified
# only, and no secret is in a result or an export.
test "$(grep -c '^PASS' shift1.txt)" = 3
grep -q 'SW-POOL-1 .*resumed' shift1.txt
test "$(grep -c '"result":"PASS"' shift2.jsonl)" = 2
test "$(grep -c '"state":"PASS"' station2-jobs.jsonl)" = 2
grep -o '"DeviceSecret":"[^"]*"' issued.jsonl | cut -d'"' -f4 >secrets.txt
if grep -q -F -f secrets.txt shift1.txt shift2.jsonl station2-jobs.jsonl station1.db station2.db; then
  echo "a secret leaked into a result or a journal" >&2
  exit 1
fi
echo "station recipe: ok"
