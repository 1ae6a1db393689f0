#!/usr/bin/env bash
# Benchmark: what an RRPC round trip through the local emulator adds over the process start of
# `aliot rrpc call`. Runs N calls of `aliot rrpc call` against `aliot rrpc serve --echo`, and N
# runs of `aliot --version` (the same binary's start and exit), and prints both means and the
# difference. Also N calls with curl (a peer we did not write) signed by aliot's --dry-run.
#
#   bench/rrpc/run.sh [ALIOT_BIN] [N]
set -euo pipefail
ALIOT=${1:-${ALIOT_BIN:-$(dirname "$0")/../../build/release/cli/aliot}}
N=${2:-200}
PK=a1BenchRrpc01
DN=bench-rrpc-01
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/../lib.sh"
bench_emulator "$ALIOT"
export ALIOT_DEVICE_SECRET=DsBenchRrpc0123456789 ALIOT_ACCESS_KEY_ID=BENCHAK000000001
export ALIOT_ACCESS_KEY_SECRET=BenchAkSecret0000000000000001
"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK >/dev/null
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK -d $DN >/dev/null
"$ALIOT" emulate cloud add-access-key --dir "$work/emu" --access-key-id "$ALIOT_ACCESS_KEY_ID" >/dev/null
"$ALIOT" -v rrpc serve -k $PK -d $DN --echo >/dev/null 2>"$work/serve.log" &
bench_stop $!
for _ in $(seq 100); do grep -q 'serving RRPC' "$work/serve.log" && break; sleep 0.05; done

ms() { date +%s%N; }
t0=$(ms)
for _ in $(seq "$N"); do "$ALIOT" --version >/dev/null; done
t1=$(ms)
fails=0
for i in $(seq "$N"); do
  out=$("$ALIOT" rrpc call -k $PK -d $DN -m "ping $i" --timeout 2000) || fails=$((fails + 1))
  [ "$out" = "ping $i" ] || fails=$((fails + 1))
done
t2=$(ms)
start_ms=$(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / 1e6 / n }')
call_ms=$(awk -v a="$t1" -v b="$t2" -v n="$N" 'BEGIN { printf "%.2f", (b - a) / 1e6 / n }')
echo "aliot --version (process start):  ${start_ms} ms mean over $N"
echo "aliot rrpc call (round trip):     ${call_ms} ms mean over $N ($fails failures)"
echo "added by the RRPC round trip:     $(awk -v a="$start_ms" -v b="$call_ms" 'BEGIN { printf "%.2f", b - a }') ms"
