#!/usr/bin/env bash
# Benchmark: does the emulator's registration rate hold as its registry grows? For each size N,
# a product is filled with N devices in one `emulate cloud add-device --names` batch, then
# COUNT more of its devices register by HTTPS dynamic registration with `aliot register -j JOBS`
# (the emulator is the side being measured; one emulator holds every product, so the registry
# holds the sum of the sizes). Target: the rate at the largest N within 20% of
# the rate at the smallest, and at least 300 registrations/s.
#
#   bench/emulator/registry.sh [--quick] [ALIOT_BIN] [SIZES] [COUNT] [JOBS] [ROUNDS]
#     SIZES  sizes to measure, ascending (default "100 1000 10000"; --quick: "100 1000")
#     COUNT  devices registered at each size (default 200; --quick: 100)
#     JOBS   register -j (default 8)
#     ROUNDS rounds, interleaved over the sizes; the median counts (default 5; --quick: 1)
#
# Prints one line per size, then the drop, then one JSON line (the results, for bench/run).
set -euo pipefail

quick=0
if [[ ${1:-} == --quick ]]; then
  quick=1
  shift
fi
ALIOT=${1:-${ALIOT_BIN:-$(dirname "$0")/../../build/release/cli/aliot}}
if ((quick)); then
  SIZES=${2:-"100 1000"}
  COUNT=${3:-100}
else
  SIZES=${2:-"100 1000 10000"}
  COUNT=${3:-200}
fi
JOBS=${4:-8}
ROUNDS=${5:-$((quick ? 1 : 5))}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/../lib.sh"
bench_emulator "$ALIOT"
export ALIOT_PRODUCT_SECRET=PsBench0123456789

now() { date +%s.%N; }
# Fill every product first; then ROUNDS rounds, each registering COUNT fresh devices at every
# size in turn (interleaved, so a burst of load on a shared machine hits every size alike); the
# median round counts.
for n in $SIZES; do
  pk=$(printf 'a1Reg%06d' "$n")
  "$ALIOT" emulate cloud add-product --dir "$work/emu" -k "$pk" --dynamic-registration on >/dev/null
  # The N devices the product holds, and the COUNT a round that register (pre-registered, as the
  # platform wants them for one-type-one-secret registration).
  seq -f "fill-%.0f" 1 "$n" >"$work/fill-$n"
  for r in $(seq 1 "$ROUNDS"); do seq -f "reg$r-%.0f" 1 "$COUNT"; done >"$work/reg-$n"
  t0=$(now)
  "$ALIOT" emulate cloud add-device --dir "$work/emu" -k "$pk" --names "$work/fill-$n" --quiet >/dev/null
  t1=$(now)
  "$ALIOT" emulate cloud add-device --dir "$work/emu" -k "$pk" --names "$work/reg-$n" --quiet >/dev/null
  printf 'N=%-6s add-device --names: %s devices in %.2f s\n' "$n" "$n" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
done
declare -A rates
for r in $(seq 1 "$ROUNDS"); do
  for n in $SIZES; do
    pk=$(printf 'a1Reg%06d' "$n")
    grep "^reg$r-" "$work/reg-$n" >"$work/round"
    t0=$(now)
    "$ALIOT" register -k "$pk" --names "$work/round" -j "$JOBS" --out "$work/out-$n-$r.jsonl" --quiet >/dev/null \
      || echo "aliot register exited $?"
    t1=$(now)
    saved=$(wc -l <"$work/out-$n-$r.jsonl")
    [[ $saved -eq $COUNT ]] || echo "N=$n round $r: only $saved of $COUNT registered"
    rates[$n]+=" $(awk -v n="$saved" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A rate
first='' last=''
for n in $SIZES; do
  rate[$n]=$(echo "${rates[$n]}" | median)
  printf 'N=%-6s register -j %s, %s devices a round: median %s/s (rounds:%s)\n' "$n" "$JOBS" "$COUNT" "${rate[$n]}" "${rates[$n]}"
  [[ -z $first ]] && first=$n
  last=$n
done

drop=$(awk -v a="${rate[$first]}" -v b="${rate[$last]}" 'BEGIN { printf "%.1f", (a - b) * 100 / a }')
echo "drop N=$first -> N=$last: $drop% (target <= 20%); rate at N=$last: ${rate[$last]}/s (target >= 300/s); load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
json="{\"case\":\"emulator-registry\",\"jobs\":$JOBS,\"count\":$COUNT,\"rounds\":$ROUNDS,\"rates\":{"
sep=
for n in $SIZES; do
  json+="$sep\"$n\":${rate[$n]}"
  sep=,
done
echo "$json},\"drop_percent\":$drop}"
