#!/bin/bash
# completions.fish_behaviour: fish's own `complete -C` over the script `aliot completion fish`
# prints. Usage: fish_completion.sh ALIOT WORK_DIR. Exits 77 (skipped) without fish.
set -u
aliot="$1" work="$2"
command -v fish >/dev/null || { echo "fish is not installed: skipped"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
"$aliot" completion fish >"$work/aliot.fish" || { echo "aliot completion fish failed"; exit 1; }
fail=0
expect() {
  local got
  got=$(HOME="$work" XDG_CONFIG_HOME="$work" XDG_DATA_HOME="$work" fish --no-config -c \
    "source '$work/aliot.fish'; complete -C '$1'" 2>&1 | cut -f1 | sort | tr '\n' ' ' | sed 's/ $//')
  if [[ $got != "$2" ]]; then
    echo "FAIL: '$1' completed to [$got], want [$2]"
    fail=1
  else
    echo "ok:   '$1' -> [$got]"
  fi
}
expect "aliot si" "sign"
rrpc_verbs="call"
"$aliot" rrpc serve --help 2>/dev/null | grep -q "^Usage: aliot rrpc serve " && rrpc_verbs="call serve"
expect "aliot rrpc " "$rrpc_verbs"
expect "aliot sign --sign-method " "hmacmd5 hmacsha1 hmacsha256"
expect "aliot -o " "json text"
expect "aliot completion " "bash fish zsh"
expect "aliot -o json emulate " "cloud switch"
exit $fail
