#!/usr/bin/env bash
# Benchmark: `aliot bench` against the mosquitto clients, side by side in one run (issue 28),
# on one `aliot emulate cloud` over plain TCP:
#
#  pub    one device publishing M messages of S bytes (default 20,000 of 128), QoS 0 then QoS 1:
#         `aliot bench pub -c 1 --count M --size S --interval 1ms --no-limit` against
#         `mosquitto_pub -l` reading the same number of lines of the same size and shape
#         ({"dn":...,"seq":...,"ts":...,"pad":"xx..."}) from a file, logged in with the
#         arguments `aliot sign --for mosquitto-lines` printed for the same device. `bench pub`
#         paces a device by --interval (1 ms is its shortest: at most 1,000 msg/s a device) while
#         mosquitto_pub sends as fast as it reads; so mosquitto_pub runs twice, as fast as it
#         goes and fed at bench's pace (10 lines every 10 ms), and the figures to compare are the
#         CPU (user + sys) per 1,000 messages and the peak RSS; the wall-clock rates are printed
#         as well.
#         bench's CPU while the same device is online and idle for as long (`bench conn -c 1
#         --hold`: its loops wake every 10-20 ms) is measured too and subtracted ("net").
#  conn   the connection rate of N devices (default 1,000): `aliot bench conn -c N` (one
#         process) against N `mosquitto_sub -E` processes, 64 at a time, each logging in with the
#         arguments `aliot sign --for mosquitto-lines` printed for its device beforehand (as
#         bench/fleet/run.sh). Every device has logged in once before either is timed (a first
#         login activates the device, a dearer login for the broker).
#  big    `aliot bench conn -c B` alone (default 5,000; 0 skips it): logins/s and aliot's peak
#         RSS.
#
# Times are each process's (or process tree's) wall clock, CPU time and peak RSS (GNU time).
#
#   bench/fleet/peers.sh [BUILD_DIR] [N] [M] [S] [B]
#
# Prints one line per measurement and, last, one JSON object with every number and the ratios
# (aliot / mosquitto: below 1, aliot uses less).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:-$here/../../build/release}" && pwd)
N=${2:-1000}
M=${3:-20000}
S=${4:-128}
B=${5:-5000}
ALIOT=$BUILD/cli/aliot
PK=a1PeersPK001
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin
umask 077 # the fleet files hold device secrets (aliot refuses one others can read)

# shellcheck source=bench/lib.sh
source "$here/../lib.sh"
ulimit -Sn "$(ulimit -Hn)"
big=$((N > B ? N : B))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < 3 * big + 64)); then
  echo "bench/fleet/peers: the descriptor limit $(ulimit -n) is below 3 x $big + 64" >&2
  exit 2
fi

calc() { python3 -c "print($1)"; }
# timed OUT CMD...: runs CMD (stdin and stdout as given) under GNU time and writes to OUT, as
# JSON, its wall clock and the CPU time and peak RSS of it and every descendant it waited for
# (GNU time, not a Python wrapper: a child's peak RSS counts the process it was forked from).
timed() {
  local out=$1 t0 t1 rc=0 u s m
  shift
  t0=$(date +%s%N)
  /usr/bin/time -o "$out.r" -f '%U %S %M' "$@" || rc=$?
  t1=$(date +%s%N)
  read -r u s m < <(tail -n 1 "$out.r")
  echo "{\"wall_s\": $(calc "($t1 - $t0) / 1e9"), \"cpu_s\": $(calc "$u + $s"), \"maxrss_kb\": $m}" >"$out"
  return "$rc"
}
get() { python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])$2)" "$1"; }

# --- the emulator and the fleet ---
bench_emulator "$ALIOT" --quiet
"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK >/dev/null
seq -f "peer-%.0f" 1 "$big" >"$work/names"
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK --names "$work/names" --quiet >"$work/fleet.jsonl"
head -n "$N" "$work/fleet.jsonl" >"$work/n.jsonl"
mkdir "$work/args"
python3 -c 'import json,sys
for l in sys.stdin: d = json.loads(l); print(d["DeviceName"], d["DeviceSecret"])' <"$work/n.jsonl" |
  while read -r dn ds; do
    ALIOT_DEVICE_SECRET=$ds "$ALIOT" sign --tcp -k $PK -d "$dn" --for mosquitto-lines >"$work/args/$dn"
  done
dn1=$(head -n 1 "$work/names")

# --- pub: one device, M messages of S bytes, QoS 0 and 1 ---
python3 - "$dn1" "$M" "$S" >"$work/lines" <<'EOF'
import sys, time
dn, m, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ts = int(time.time() * 1000)
for seq in range(m):
    p = '{"dn":"%s","seq":%d,"ts":%d' % (dn, seq, ts)
    pad = size - len(p) - len(',"pad":""}')
    print(p + ',"pad":"' + "x" * max(pad, 0) + '"}')
EOF
mapfile -t sign1 <"$work/args/$dn1"
# pace FILE: FILE's lines at bench pub's pace with --interval 1ms (its loop wakes at least every
# 10 ms and sends what is due): 10 lines every 10 ms.
pace() {
  python3 -c 'import sys, time
lines = open(sys.argv[1], "rb").read().splitlines(keepends=True)
t0 = time.monotonic()
for i in range(0, len(lines), 10):
    d = t0 + i / 1000 - time.monotonic()
    if d > 0:
        time.sleep(d)
    sys.stdout.buffer.write(b"".join(lines[i:i + 10]))
    sys.stdout.buffer.flush()' "$1"
}
declare -A pub
for q in 0 1; do
  timed "$work/mp$q.t" mosquitto_pub "${sign1[@]}" -t "/$PK/$dn1/user/update" -q "$q" -l <"$work/lines"
  pace "$work/lines" | timed "$work/mq$q.t" mosquitto_pub "${sign1[@]}" -t "/$PK/$dn1/user/update" -q "$q" -l
  timed "$work/bp$q.t" "$ALIOT" -o json bench pub --fleet "$work/n.jsonl" -c 1 --tcp -q "$q" \
    --count "$M" --size "$S" --interval 1ms --no-limit --max-loss 0 >"$work/bp$q.json"
  [[ $(get "$work/bp$q.json" "['sent']") == "$M" ]] || {
    echo "bench pub sent $(get "$work/bp$q.json" "['sent']") of $M" >&2
    exit 1
  }
  for who in mp mq bp; do
    pub[$who$q.rate]=$(calc "round($M / $(get "$work/$who$q.t" "['wall_s']"))")
    pub[$who$q.cpu]=$(calc "round($(get "$work/$who$q.t" "['cpu_s']") * 1e6 / $M, 1)")
    pub[$who$q.rss]=$(get "$work/$who$q.t" "['maxrss_kb']")
  done
  ack=
  [[ $q == 0 ]] || ack=", PUBACK p99 $(get "$work/bp$q.json" "['puback']['p99_ms']") ms"
  echo "pub QoS $q, 1 device, $M x $S B: aliot bench pub ${pub[bp$q.rate]} msg/s (paced, 1 ms)," \
    "${pub[bp$q.cpu]} ms CPU per 1,000, peak RSS ${pub[bp$q.rss]} KiB$ack;" \
    "mosquitto_pub -l ${pub[mp$q.rate]} msg/s, ${pub[mp$q.cpu]} ms CPU per 1,000, peak RSS ${pub[mp$q.rss]} KiB;" \
    "mosquitto_pub -l paced as bench ${pub[mq$q.rate]} msg/s, ${pub[mq$q.cpu]} ms CPU per 1,000, peak RSS ${pub[mq$q.rss]} KiB"
done
# The same device online and idle as long as a paced run lasts: bench's CPU apart from the
# messages (its loops wake every 10-20 ms), subtracted from both runs.
hold=$(calc "max(1, round($(get "$work/bp0.t" "['wall_s']")))")
timed "$work/idle.t" "$ALIOT" -o json bench conn --fleet "$work/n.jsonl" -c 1 --tcp --hold "${hold}s" >/dev/null
idle_cpu=$(get "$work/idle.t" "['cpu_s']")
for q in 0 1; do
  pub[bp$q.net]=$(calc "round(($(get "$work/bp$q.t" "['cpu_s']") - $idle_cpu) * 1e6 / $M, 1)")
done
echo "idle: aliot bench conn -c 1 --hold ${hold}s $idle_cpu s CPU; net of it, bench pub" \
  "${pub[bp0.net]} (QoS 0) / ${pub[bp1.net]} (QoS 1) ms CPU per 1,000"

# --- conn: N devices, one process against N processes ---
"$ALIOT" -o json bench conn --fleet "$work/n.jsonl" -c "$N" --tcp >/dev/null # every device's first login
# 64 at a time, as bench keeps at most 64 logins waiting for their CONNACK: the broker's listen
# backlog is 100, and more at once would time the kernel's SYN retransmits.
cat >"$work/login" <<'EOF'
#!/usr/bin/env bash
mapfile -t a <"$ARGS/$1"
mosquitto_sub "${a[@]}" -t "/$PK/$1/user/get" -E -q 0 >/dev/null 2>&1 || echo "fail $1"
EOF
chmod 700 "$work/login"
(cd "$work/args" && ls) >"$work/args.list"
export PK ARGS=$work/args
timed "$work/subs.t" xargs -P 64 -I{} "$work/login" {} <"$work/args.list" >"$work/subs.out"
sub_fail=$(grep -c fail "$work/subs.out" || true)
timed "$work/conn.t" "$ALIOT" -o json bench conn --fleet "$work/n.jsonl" -c "$N" --tcp --max-fail 0 >"$work/conn.json"
sub_rate=$(calc "round($N / $(get "$work/subs.t" "['wall_s']"))")
sub_cpu=$(calc "round($(get "$work/subs.t" "['cpu_s']") * 1e3 / $N, 2)")
conn_rate=$(calc "round($N / $(get "$work/conn.t" "['wall_s']"))")
conn_engine=$(calc "round($N / $(get "$work/conn.json" "['elapsed_s']"))")
conn_cpu=$(calc "round($(get "$work/conn.t" "['cpu_s']") * 1e3 / $N, 2)")
conn_rss=$(get "$work/conn.t" "['maxrss_kb']")
conn_p99=$(get "$work/conn.json" "['connect']['p99_ms']")
echo "conn, $N devices: aliot bench conn $conn_rate logins/s (process wall; $conn_engine/s its own clock)," \
  "$conn_cpu ms CPU a login, connect p99 $conn_p99 ms, peak RSS $conn_rss KiB;" \
  "$N mosquitto_sub -E processes (64 at a time) $sub_rate logins/s, $sub_cpu ms CPU a login ($sub_fail failed)"

# --- big: B devices, one process ---
big_json=None
if ((B > 0)); then
  "$ALIOT" -o json bench conn --fleet "$work/fleet.jsonl" -c "$B" --tcp >/dev/null # first logins
  timed "$work/big.t" "$ALIOT" -o json bench conn --fleet "$work/fleet.jsonl" -c "$B" --tcp --max-fail 0 >"$work/big.json"
  big_rate=$(calc "round($B / $(get "$work/big.t" "['wall_s']"))")
  big_engine=$(calc "round($B / $(get "$work/big.json" "['elapsed_s']"))")
  big_rss=$(get "$work/big.t" "['maxrss_kb']")
  big_p99=$(get "$work/big.json" "['connect']['p99_ms']")
  echo "conn, $B devices: aliot bench conn $big_rate logins/s (process wall; $big_engine/s its own clock)," \
    "connect p99 $big_p99 ms, peak RSS $big_rss KiB"
  big_json="{\"devices\": $B, \"logins_per_s\": $big_rate, \"logins_per_s_engine\": $big_engine,
             \"connect_p99_ms\": $big_p99, \"aliot_maxrss_kb\": $big_rss}"
fi

ratio() { calc "round($1 / $2, 2) if $2 else None"; }
python3 - <<EOF
import json
print(json.dumps({
  "load_average": open("/proc/loadavg").read().split()[:3],
  "pub": {"messages": $M, "size": $S, "devices": 1, "idle_cpu_s": $idle_cpu, "idle_hold_s": $hold,
          "qos0": {"aliot": {"msgs_per_s": ${pub[bp0.rate]}, "cpu_us_per_msg": ${pub[bp0.cpu]}, "cpu_us_per_msg_net_of_idle": ${pub[bp0.net]}, "maxrss_kb": ${pub[bp0.rss]}},
                   "mosquitto_pub": {"msgs_per_s": ${pub[mp0.rate]}, "cpu_us_per_msg": ${pub[mp0.cpu]}, "maxrss_kb": ${pub[mp0.rss]}},
                   "mosquitto_pub_paced": {"msgs_per_s": ${pub[mq0.rate]}, "cpu_us_per_msg": ${pub[mq0.cpu]}, "maxrss_kb": ${pub[mq0.rss]}},
                   "paced_cpu_ratio": $(ratio "${pub[bp0.cpu]}" "${pub[mq0.cpu]}"),
                   "cpu_ratio": $(ratio "${pub[bp0.cpu]}" "${pub[mp0.cpu]}"), "net_cpu_ratio": $(ratio "${pub[bp0.net]}" "${pub[mp0.cpu]}"), "rss_ratio": $(ratio "${pub[bp0.rss]}" "${pub[mp0.rss]}")},
          "qos1": {"aliot": {"msgs_per_s": ${pub[bp1.rate]}, "cpu_us_per_msg": ${pub[bp1.cpu]}, "cpu_us_per_msg_net_of_idle": ${pub[bp1.net]}, "maxrss_kb": ${pub[bp1.rss]}},
                   "mosquitto_pub": {"msgs_per_s": ${pub[mp1.rate]}, "cpu_us_per_msg": ${pub[mp1.cpu]}, "maxrss_kb": ${pub[mp1.rss]}},
                   "mosquitto_pub_paced": {"msgs_per_s": ${pub[mq1.rate]}, "cpu_us_per_msg": ${pub[mq1.cpu]}, "maxrss_kb": ${pub[mq1.rss]}},
                   "paced_cpu_ratio": $(ratio "${pub[bp1.cpu]}" "${pub[mq1.cpu]}"),
                   "cpu_ratio": $(ratio "${pub[bp1.cpu]}" "${pub[mp1.cpu]}"), "net_cpu_ratio": $(ratio "${pub[bp1.net]}" "${pub[mp1.cpu]}"), "rss_ratio": $(ratio "${pub[bp1.rss]}" "${pub[mp1.rss]}")}},
  "conn": {"devices": $N,
           "aliot": {"logins_per_s": $conn_rate, "logins_per_s_engine": $conn_engine, "cpu_ms_per_login": $conn_cpu,
                     "connect_p99_ms": $conn_p99, "maxrss_kb": $conn_rss},
           "mosquitto_sub": {"logins_per_s": $sub_rate, "cpu_ms_per_login": $sub_cpu, "failed": $sub_fail},
           "rate_ratio": $(ratio "$conn_rate" "$sub_rate"), "cpu_ratio": $(ratio "$conn_cpu" "$sub_cpu")},
  "big": $big_json}))
EOF
