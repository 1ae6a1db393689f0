#!/bin/bash
# docs.man_lint: every generated page is valid groff (-ww: all warnings), and man(1) shows
# aliot.1 and aliot-sign.1 cleanly. Usage: man_lint.sh ALIOT WORK_DIR
set -u
aliot="$1" work="$2"
rm -rf "$work" && mkdir -p "$work"
"$aliot" __gen-docs --man-dir "$work/man" >/dev/null || { echo "aliot __gen-docs failed"; exit 1; }
fail=0
count=0
for page in "$work"/man/*.1; do
  count=$((count + 1))
  # groff exits 0 on warnings, so any output on stderr is the failure.
  err=$(groff -man -ww -z "$page" 2>&1 >/dev/null)
  if [[ -n $err ]]; then
    echo "groff warnings in man/${page##*/}:"
    echo "$err"
    fail=1
  fi
done
if ((count < 2)); then
  echo "expected aliot.1 and a page per command, found $count pages"
  fail=1
fi
# man(1) shows a page with the given sections and texts, nothing on stderr, no markup left.
check_man() {
  local page="$1" out want
  shift
  out=$(MANWIDTH=100 MANPAGER=cat PAGER=cat LC_ALL=C.UTF-8 man -l "$work/man/$page" 2>"$work/man.err")
  if [[ -s $work/man.err ]]; then
    echo "man -l man/$page wrote to stderr:"
    cat "$work/man.err"
    fail=1
  fi
  if grep -q '\\f[BIRP]\|^\.[A-Z]' <<<"$out"; then
    echo "man -l man/$page: roff markup left in the output:"
    grep -n '\\f[BIRP]\|^\.[A-Z]' <<<"$out" | head -5
    fail=1
  fi
  for want in "$@"; do
    if ! grep -qF -- "$want" <<<"$out"; then
      echo "man -l man/$page does not show: $want"
      fail=1
    fi
  done
}
if command -v man >/dev/null; then
  check_man aliot.1 NAME SYNOPSIS "GLOBAL OPTIONS" "-o, --output FORMAT" COMMANDS "EXIT STATUS" \
    "130 (interrupted)" ENVIRONMENT ALIOT_PRODUCT_KEY FILES "\$XDG_CONFIG_HOME/aliot/config.json" \
    "\$XDG_STATE_HOME/aliot/factory.db" "SEE ALSO" "aliot-sign(1)"
  check_man aliot-sign.1 NAME SYNOPSIS DESCRIPTION OPTIONS "--sign-method METHOD" \
    "hmacsha256, hmacsha1, hmacmd5" EXAMPLES "aliot sign --triplet device.json" "EXIT STATUS" \
    "SEE ALSO" "aliot(1)"
fi
((fail == 0)) && echo "$count pages lint clean"
exit $fail
