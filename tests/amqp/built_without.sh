#!/usr/bin/env bash
# An aliot built with ALIOT_AMQP=OFF (tests/CMakeLists.txt runs this only there): `cloud sub`
# exits 3 with one line saying so, before any connection; `emulate cloud` starts without an AMQP
# endpoint and exports no ALIOT_AMQP_ENDPOINT.
#   built_without.sh ALIOT_BINARY
set -u
aliot=$1
work=$(mktemp -d)
trap 'kill "$emu_pid" 2>/dev/null; rm -rf "$work"' EXIT
emu_pid=
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
export HOME=$work XDG_CONFIG_HOME=$work/config

ALIOT_ACCESS_KEY_ID=AK ALIOT_ACCESS_KEY_SECRET=s "$aliot" cloud sub --consumer-group G -W 5 \
  --amqp-endpoint amqps://127.0.0.1:1 >"$work/sub.out" 2>"$work/sub.err"
status=$?
if ((status == 3)) && grep -q 'this aliot was built without AMQP (ALIOT_AMQP=OFF)' "$work/sub.err"; then
  echo "ok:   cloud sub: exit 3: $(head -1 "$work/sub.err")"
else
  fail "cloud sub exited $status, want 3 and the ALIOT_AMQP=OFF line: $(cat "$work/sub.err")"
fi

"$aliot" emulate cloud --dir "$work/emu" >"$work/emu.out" 2>"$work/emu.err" &
emu_pid=$!
for _ in $(seq 1 300); do
  grep -q '^export ALIOT_API_ENDPOINT=' "$work/emu.out" 2>/dev/null && break
  kill -0 "$emu_pid" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q '^export ALIOT_API_ENDPOINT=' "$work/emu.out"; then
  fail "emulate cloud did not start: $(cat "$work/emu.out" "$work/emu.err")"
elif grep -q 'ALIOT_AMQP_ENDPOINT' "$work/emu.out"; then
  fail "emulate cloud exports an AMQP endpoint it does not have: $(cat "$work/emu.out")"
else
  echo "ok:   emulate cloud started without an AMQP endpoint"
fi
kill -TERM "$emu_pid" 2>/dev/null
wait "$emu_pid"
status=$?
emu_pid=
((status == 0)) || fail "emulate cloud exited $status on SIGTERM: $(cat "$work/emu.err")"
((failures == 0))
