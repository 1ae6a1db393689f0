#!/usr/bin/env bash
# Benchmark: the emulator at fleet scale (issue 28). One run, peers in the same run:
#
#  fleet    N devices (default 10,000) online at once against `aliot emulate cloud`, each with
#           its own triplet and signed login, held by as many load processes as the descriptor
#           limit needs (libmosquitto holds 3 descriptors a client): logins/s, the broker's RSS
#           per device, the load programs' RSS per connection, the emulator's online count;
#  plugin   B devices (default 5,000: one load process) each logging in and publishing M QoS 1
#           messages (default 5), against the emulator and against a bare mosquitto (no plugin,
#           allow_anonymous, the same settings otherwise), then the same fleet again on the
#           emulator: the plugin's overhead as ratios emulator / bare (broker RSS per device, CPU
#           per login, CPU per message, logins/s);
#  logins   the connection rate of one process holding D devices (default 1,000) against D
#           parallel `mosquitto_sub` processes, each logging in with the arguments
#           `aliot sign --for mosquitto-lines` printed for its device (signed before the clock).
#
# The load program is tests/emu_online_load (libmosquitto, one thread, at most 64 logins
# waiting for their CONNACK). `aliot bench conn` / `bench pub` replace it where the build has
# them (see docs/performance.md, issue 28).
#
#   bench/fleet/run.sh [--quick] [BUILD_DIR] [N] [M] [D] [B]
#
# Prints one line per measurement and, last, one JSON object with every number.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
quick=0
if [[ ${1:-} == --quick ]]; then
  quick=1
  shift
fi
BUILD=$(cd "${1:-$here/../../build/release}" && pwd)
N=${2:-$((quick ? 300 : 10000))}
M=${3:-$((quick ? 1 : 5))}
D=${4:-$((quick ? 50 : 1000))}
B=${5:-$((quick ? 300 : 5000))}
ALIOT=$BUILD/cli/aliot
LOAD=$BUILD/tests/emu_online_load
PK=a1FleetPK001
PK2=a1FleetPK002
[[ -x $LOAD ]] || cmake --build "$BUILD" --target emu_online_load >/dev/null
command -v mosquitto >/dev/null || PATH=$PATH:/usr/sbin

# Every socket is a descriptor, here and in the bare broker (the emulator's launcher raises its
# own broker's limit).
ulimit -Sn "$(ulimit -Hn)"
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < 3 * B + 300)); then
  echo "bench/fleet: the descriptor limit $(ulimit -n) is below 3 x $B connections" >&2
  exit 2
fi
per=$(( ($(ulimit -n) - 300) / 3 ))

# shellcheck source=bench/lib.sh
source "$here/../lib.sh"
json_get() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(d['$1'])"; }
calc() { python3 -c "print($1)"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2) if $2 else 'n/a')"; }

# --- the emulator ---
bench_emulator "$ALIOT" --quiet
broker_pid=$(pgrep -P "$EMULATOR_PID" mosquitto)
"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK >/dev/null
seq -f "fleet-%.0f" 1 "$N" >"$work/names"
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK --names "$work/names" --quiet >"$work/triplets.jsonl"
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
online() { curl -sS "$ALIOT_API_ENDPOINT/emu/status" | json_get online; }

# --- the fleet: N online at once, held by ceil(N / per) load processes started together ---
split -l "$per" -d "$work/triplets.jsonl" "$work/part-"
fleet_rss0=$(rss "$broker_pid")
loads=()
fd= # each part's writing end of its load program's stdin (set by exec {fd}>)
t0=$(date +%s%N)
for part in "$work"/part-*; do
  mkfifo "$part.in"
  LOAD_HOLD=1 "$LOAD" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$part" 0 <"$part.in" >"$part.json" 2>"$part.err" &
  loads+=($!)
  eval "exec {fd}>\"$part.in\""
  echo "$fd" >"$part.fd"
done
for part in "$work"/part-*[0-9]; do
  until grep -q '^online ' "$part.err"; do sleep 0.02; done
done
t1=$(date +%s%N)
fleet_online=$(online)
fleet_rss1=$(rss "$broker_pid")
load_rss=0
for p in "${loads[@]}"; do load_rss=$((load_rss + $(rss "$p"))); done
for part in "$work"/part-*[0-9]; do eval "exec $(cat "$part.fd")>&-"; done
for p in "${loads[@]}"; do wait "$p"; done
fleet_rate=$(calc "$N * 1e9 / ($t1 - $t0)")
echo "fleet: $N devices online at once in ${#loads[@]} load processes: $fleet_rate logins/s," \
  "emulator online count $fleet_online, broker RSS $fleet_rss0 -> $fleet_rss1 KiB, load programs $load_rss KiB"
for _ in $(seq 300); do [[ $(online) == 0 ]] && break; sleep 0.1; done
kill "$EMULATOR_PID"
wait "$EMULATOR_PID" 2>/dev/null || true

# --- the plugin's overhead: B devices, one load process, emulator then bare mosquitto ---
bench_emulator "$ALIOT" --quiet
broker_pid=$(pgrep -P "$EMULATOR_PID" mosquitto)
"$ALIOT" emulate cloud add-product --dir "$work/emu" -k $PK2 >/dev/null
head -n "$B" "$work/names" >"$work/names-b"
"$ALIOT" emulate cloud add-device --dir "$work/emu" -k $PK2 --names "$work/names-b" --quiet >"$work/b.jsonl"
"$LOAD" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$work/b.jsonl" "$M" "$broker_pid" >"$work/emu.json"
emu=$(cat "$work/emu.json")
echo "emulator: $B devices, $M QoS 1 messages each: $emu"
# The second login of the same devices: every one activated and kept in the login cache.
"$LOAD" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$work/b.jsonl" 0 "$broker_pid" >"$work/emu2.json"
emu2=$(cat "$work/emu2.json")
echo "emulator, the same devices again: $emu2"

# --- the logins: one process against D processes, on the emulator ---
head -n "$D" "$work/b.jsonl" >"$work/d.jsonl"
mkdir "$work/args"
python3 -c 'import json,sys
for l in sys.stdin: d = json.loads(l); print(d["DeviceName"], d["DeviceSecret"])' <"$work/d.jsonl" |
  while read -r dn ds; do
    ALIOT_DEVICE_SECRET=$ds "$ALIOT" sign --tcp -k $PK2 -d "$dn" --for mosquitto-lines >"$work/args/$dn"
  done
# 64 at a time, as the load program keeps at most 64 logins waiting: the broker's listen backlog
# is 100, and more at once would time the kernel's SYN retransmits.
t0=$(date +%s%N)
# shellcheck disable=SC2016 # expanded by the inner bash, from its environment
(cd "$work/args" && ls) | PK=$PK2 ARGS=$work/args xargs -P 64 -I{} bash -c \
  'mapfile -t a <"$ARGS/$1"; mosquitto_sub "${a[@]}" -t "/$PK/$1/user/get" -E -q 0 >/dev/null 2>&1 || echo "fail $1"' _ {} \
  >"$work/subs.out"
t1=$(date +%s%N)
sub_fail=$(grep -c fail "$work/subs.out" || true)
sub_rate=$(calc "$D * 1e9 / ($t1 - $t0)")
"$LOAD" "$ALIOT_MQTT_HOST" "$ALIOT_MQTT_TCP_PORT" "$work/d.jsonl" 0 >"$work/d.json"
one_rate=$(json_get logins_per_second <"$work/d.json")
echo "logins of $D devices: one process $one_rate/s; $D mosquitto_sub processes $sub_rate/s ($sub_fail failed)"
kill "$EMULATOR_PID"
wait "$EMULATOR_PID" 2>/dev/null || true

# --- bare mosquitto, the same load ---
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
{
  [[ $EUID == 0 ]] && echo "user root" # as the emulator's broker: keep the invoker's files
  cat <<EOF
per_listener_settings false
allow_anonymous true
persistence false
max_queued_messages 100000
log_dest file $work/bare.log
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
listener $port 127.0.0.1
max_qos 1
EOF
} >"$work/bare.conf"
mosquitto -c "$work/bare.conf" &
bare_pid=$!
bench_stop "$bare_pid"
for _ in $(seq 100); do (: </dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done
"$LOAD" 127.0.0.1 "$port" "$work/b.jsonl" "$M" "$bare_pid" >"$work/bare.json"
bare=$(cat "$work/bare.json")
echo "bare mosquitto: $B devices, $M QoS 1 messages each: $bare"

per_dev() { calc "($(json_get broker_rss_kb_online <<<"$1") - $(json_get broker_rss_kb_before <<<"$1")) / $B"; }
cpu_msg() { calc "$(json_get broker_cpu_publish_seconds <<<"$1") * 1e6 / max(1, $(json_get messages_acked <<<"$1"))"; }
cpu_login() { calc "$(json_get broker_cpu_login_seconds <<<"$1") * 1e6 / $B"; }
emu_kb=$(per_dev "$emu")
bare_kb=$(per_dev "$bare")
emu_us=$(cpu_msg "$emu")
bare_us=$(cpu_msg "$bare")
emu_login_us=$(cpu_login "$emu")
emu2_login_us=$(cpu_login "$emu2")
bare_login_us=$(cpu_login "$bare")
load_kb=$(calc "$load_rss / $N")
fleet_kb=$(calc "($fleet_rss1 - $fleet_rss0) / $N")
printf 'broker RSS per device: emulator %.2f KiB, bare %.2f KiB, ratio %s\n' "$emu_kb" "$bare_kb" "$(ratio "$emu_kb" "$bare_kb")"
printf 'broker CPU per message (QoS 1): emulator %.1f us, bare %.1f us, ratio %s\n' "$emu_us" "$bare_us" "$(ratio "$emu_us" "$bare_us")"
printf 'broker CPU per login: emulator %.1f us (first), %.1f us (again), bare %.1f us, ratio %s\n' \
  "$emu_login_us" "$emu2_login_us" "$bare_login_us" "$(ratio "$emu_login_us" "$bare_login_us")"
printf 'logins/s: emulator %.0f (first), %.0f (again), bare %.0f\n' "$(json_get logins_per_second <<<"$emu")" \
  "$(json_get logins_per_second <<<"$emu2")" "$(json_get logins_per_second <<<"$bare")"
printf 'fleet of %s: %.0f logins/s, broker %.2f KiB per device, load programs %.2f KiB per connection\n' "$N" "$fleet_rate" "$fleet_kb" "$load_kb"
python3 - "$N" "$M" "$D" "$sub_rate" "$one_rate" "$sub_fail" <<EOF
import json, sys
n, m, d, sub_rate, one_rate, sub_fail = sys.argv[1:]
print(json.dumps({"devices": int(n), "fleet": {"logins_per_second": $fleet_rate, "online": $fleet_online,
                  "load_processes": ${#loads[@]}, "broker_rss_kb": [$fleet_rss0, $fleet_rss1],
                  "broker_kib_per_device": $fleet_kb, "load_kib_per_connection": $load_kb},
                  "plugin_devices": $B, "messages_each": int(m), "emulator": $emu, "emulator_again": $emu2,
                  "bare": $bare, "broker_kib_per_device": {"emulator": $emu_kb, "bare": $bare_kb},
                  "broker_cpu_us_per_message": {"emulator": $emu_us, "bare": $bare_us},
                  "broker_cpu_us_per_login": {"emulator": $emu_login_us, "emulator_again": $emu2_login_us,
                                              "bare": $bare_login_us},
                  "logins": {"devices": int(d), "one_process_per_s": float(one_rate),
                             "mosquitto_sub_processes_per_s": float(sub_rate), "failed": int(sub_fail)}}))
EOF
