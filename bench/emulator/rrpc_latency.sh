#!/usr/bin/env bash
# RRPC latency through `aliot emulate cloud`: a raw-socket device answers every request, curl
# calls the OpenAPI RRpc action N times (requests signed beforehand by tests/emulator/pop_sign.py)
# and the script prints curl's time_total percentiles, next to a /emu/health baseline.
#   bench/emulator/rrpc_latency.sh [BUILD_DIR] [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
n=${2:-300}
aliot=$build/cli/aliot
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
bench_emulator "$aliot"
ds=0123456789abcdef0123456789abcdef
ALIOT_PRODUCT_SECRET=ps "$aliot" emulate cloud add-product --dir "$work/emu" -k a1BenchPK01 > /dev/null
ALIOT_DEVICE_SECRET=$ds "$aliot" emulate cloud add-device --dir "$work/emu" -k a1BenchPK01 -d dev1 > /dev/null
ALIOT_ACCESS_KEY_SECRET=aks "$aliot" emulate cloud add-access-key --dir "$work/emu" --access-key-id LTAIbench > /dev/null

for _ in $(seq "$n"); do
  python3 "$root/tests/emulator/pop_sign.py" GET LTAIbench aks Action=RRpc ProductKey=a1BenchPK01 \
    DeviceName=dev1 RequestBase64Byte=cGluZw== Timeout=3000
done > "$work/queries"

pw=$(printf '%s' "clientIdb1deviceNamedev1productKeya1BenchPK01" | openssl dgst -sha256 -hmac "$ds" | sed 's/^.*= //')
python3 "$root/tests/emulator/rrpc_device.py" 127.0.0.1 "$ALIOT_MQTT_TCP_PORT" \
  "b1|securemode=3,signmethod=hmacsha256|" "dev1&a1BenchPK01" "$pw" \
  "/sys/a1BenchPK01/dev1/rrpc/request/+" "pong:" > "$work/device" &
bench_stop $!
for _ in $(seq 100); do grep -q SUBACK "$work/device" 2>/dev/null && break; sleep 0.05; done

stats() { sort -n | awk -v what="$1" '{a[NR]=$1} END {printf "%s n=%d p50=%.3fms p90=%.3fms p99=%.3fms max=%.3fms\n", what, NR, a[int(NR*0.5)]*1000, a[int(NR*0.9)]*1000, a[int(NR*0.99)]*1000, a[NR]*1000}'; }
for _ in $(seq "$n"); do curl -s -o /dev/null -w '%{time_total}\n' "$ALIOT_API_ENDPOINT/emu/health"; done | stats "health"
ok=0
while read -r q; do
  curl -s -o "$work/body" -w '%{time_total}\n' "$ALIOT_API_ENDPOINT/?$q"
  grep -q '"RrpcCode":"SUCCESS"' "$work/body" && ok=$((ok + 1))
done < "$work/queries" > "$work/lat"
stats "rrpc  " < "$work/lat"
echo "SUCCESS $ok of $n; load: $(cut -d' ' -f1-3 /proc/loadavg)"
