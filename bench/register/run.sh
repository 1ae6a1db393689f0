#!/usr/bin/env bash
# Benchmark: register N devices (default 1000) by HTTPS dynamic registration against the local
# emulator, with aliot (-j JOBS workers, one reused connection each) and with curl, a peer we did
# not write, sending the very same forms (`aliot register --dry-run`) in one process with
# connection reuse and the same parallelism (`curl --parallel`). curl measures what the
# emulator itself can take; the ratio aliot/curl says whether aliot is the limit.
#
#   bench/register/run.sh [ALIOT_BIN] [N] [JOBS]
#
# Prints one line per run and the ratio. Needs: the built aliot (with the emulator), curl, jq-free.
set -euo pipefail

ALIOT=${1:-${ALIOT_BIN:-$(dirname "$0")/../../build/release/cli/aliot}}
N=${2:-1000}
JOBS=${3:-8}
PK=a1BenchPK001
PS=PsBench0123456789
DS=0123456789abcdef0123456789abcdef

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/../lib.sh"
bench_emulator "$ALIOT"
export ALIOT_PRODUCT_SECRET=$PS ALIOT_DEVICE_SECRET=$DS

"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK --dynamic-registration on >/dev/null
# Two sets of devices, one for each contender (a device registers once per set).
for set in a c; do
  for i in $(seq 1 "$N"); do echo "bench-$set-$i"; done >"$work/names-$set"
  "$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK --names "$work/names-$set" >/dev/null
done

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }

# aliot
t0=$(now)
"$ALIOT" register -k $PK --names "$work/names-a" -j "$JOBS" --out "$work/aliot.jsonl" --quiet >/dev/null || echo "aliot register exited $?"
t1=$(now)
ok_a=$(wc -l <"$work/aliot.jsonl")

# curl: the same forms, prepared offline (dry-run does not send), one curl process, JOBS in parallel
"$ALIOT" register -k $PK --names "$work/names-c" --dry-run -o json >"$work/forms.jsonl"
python3 - "$work/forms.jsonl" "$work/curl.cfg" "$ALIOT_CA_FILE" <<'EOF'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for i, line in enumerate(f):
        j = json.loads(line)
        if i:
            out.write("next\n")
        out.write('url = "%s"\n' % j["url"])
        out.write('data-binary = "%s"\n' % j["body"])
        out.write('output = "/dev/null"\n')
        out.write('cacert = "%s"\n' % sys.argv[3])
        out.write('write-out = "%{http_code}\\n"\n')
EOF
t2=$(now)
curl -s --no-progress-meter --cacert "$ALIOT_CA_FILE" --parallel --parallel-max "$JOBS" -K "$work/curl.cfg" >"$work/curl.out" || echo "curl exited $?"
t3=$(now)
ok_c=$(grep -c '^200$' "$work/curl.out" || true)

ra=$(rate "$N" "$t0" "$t1")
rc=$(rate "$N" "$t2" "$t3")
echo "aliot register -j $JOBS: $N devices ($ok_a saved) in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s = $ra/s"
echo "curl --parallel-max $JOBS: $N devices ($ok_c HTTP 200) in $(awk -v a="$t2" -v b="$t3" 'BEGIN{printf "%.2f", b-a}') s = $rc/s"
echo "ratio aliot/curl: $(awk -v a="$ra" -v c="$rc" 'BEGIN{printf "%.2f", a / c}')"
