#!/bin/bash
# docs.install: `cmake --install` (component docs) puts the man pages and completion scripts
# where man, bash-completion, zsh and fish look, and man finds aliot-sign there.
# Usage: install_check.sh BUILD_DIR WORK_DIR
set -u
build="$1" work="$2"
rm -rf "$work" && mkdir -p "$work"
prefix="$work/prefix"
if ! out=$(cmake --install "$build" --component docs --prefix "$prefix" 2>&1); then
  echo "cmake --install failed:"
  echo "$out"
  exit 1
fi
fail=0
for f in share/man/man1/aliot.1 share/man/man1/aliot-sign.1 share/man/man1/aliot-rrpc-call.1 \
  share/bash-completion/completions/aliot share/zsh/site-functions/_aliot \
  share/fish/vendor_completions.d/aliot.fish; do
  if [[ ! -f $prefix/$f ]]; then
    echo "not installed: $f"
    fail=1
  fi
done
src=$(cd "$(dirname "$0")/../.." && pwd)
pages=$(ls "$src"/man/*.1 | wc -l)
installed=$(ls "$prefix"/share/man/man1/*.1 2>/dev/null | wc -l)
if ((pages != installed)); then
  echo "man/ has $pages pages but $installed were installed (a stale install rule?)"
  fail=1
fi
if command -v man >/dev/null; then
  if ! MANPAGER=cat MANWIDTH=100 man -M "$prefix/share/man" aliot-sign 2>&1 | grep -q "aliot-sign - "; then
    echo "man -M $prefix/share/man aliot-sign does not show the page"
    fail=1
  fi
fi
((fail == 0)) && echo "installed $installed pages and 3 completion scripts under $prefix"
exit $fail
