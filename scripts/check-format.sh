#!/usr/bin/env bash
# Checks that every C++ file of the tree is clang-format clean (.clang-format at the root) and
# lists the offenders after the first places clang-format would change. Exit 0 when clean, 1 when
# any file drifted, 2 when clang-format is missing.
#
#   scripts/check-format.sh [ROOT]      ROOT defaults to this checkout; in a git work tree the
#                                       files are the tracked ones plus new ones git does not
#                                       ignore, elsewhere every C++ file below ROOT
#   scripts/check-format.sh --self-test proves the check fails on a drifted file (temp dir)
#   CLANG_FORMAT=clang-format-14 scripts/check-format.sh   picks the binary
#
# Fix the offenders with: clang-format -i FILE...
set -euo pipefail

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "check-format: $clang_format is not installed (scripts/install-deps.sh installs it)" >&2
  exit 2
fi

pattern='\.(c|cc|cpp|cxx|h|hh|hpp|hxx|ipp)$'

if [[ ${1:-} == --self-test ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp "$(dirname "$0")/../.clang-format" "$tmp/"
  printf 'int main() {\n  return 0;\n}\n' >"$tmp/good.cpp"
  printf 'int  main( ){return 0;}\n' >"$tmp/bad.cpp"
  mkdir "$tmp/sub"
  printf 'namespace a{int f( );}\n' >"$tmp/sub/bad.hpp"
  status=0
  out=$("$0" "$tmp" 2>&1) || status=$?
  if [[ $status -ne 1 || $out != *bad.cpp* || $out != *sub/bad.hpp* || $out == *good.cpp* ]]; then
    printf 'check-format self-test: expected exit 1 naming bad.cpp and sub/bad.hpp only, got ' >&2
    printf 'exit %s:\n%s\n' "$status" "$out" >&2
    exit 1
  fi
  "$clang_format" -i "$tmp/bad.cpp" "$tmp/sub/bad.hpp"
  if ! out=$("$0" "$tmp" 2>&1); then
    printf 'check-format self-test: still failing after clang-format -i:\n%s\n' "$out" >&2
    exit 1
  fi
  echo "check-format self-test: a drifted file fails the check, a formatted tree passes"
  exit 0
fi

root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"
files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 \
  && [[ $(git rev-parse --show-toplevel) == "$root" ]]; then
  while IFS= read -r f; do
    [[ -f $f ]] && files+=("$f")
  done < <(git ls-files --cached --others --exclude-standard | grep -E "$pattern" | sort -u)
else
  while IFS= read -r f; do
    files+=("$f")
  done < <(find . -type f | sed 's|^\./||' | grep -E "$pattern" | sort)
fi

if ((${#files[@]} == 0)); then
  echo "check-format: no C++ files found below $root" >&2
  exit 1
fi

# One run over every file; clang-format names each offending spot "FILE:LINE:COL: error: ...".
status=0
report=$("$clang_format" --dry-run --Werror "${files[@]}" 2>&1) || status=$?
offenders=()
while IFS= read -r f; do
  offenders+=("$f")
done < <(printf '%s\n' "$report" | sed -nE 's/^(.+):[0-9]+:[0-9]+: (error|warning): .*/\1/p' | sort -u)
if ((status != 0 && ${#offenders[@]} == 0)); then
  printf 'check-format: clang-format failed:\n%s\n' "$report" >&2
  exit 2
fi

if ((${#offenders[@]} > 0)); then
  printf '%s\n' "$report" | head -n 40 >&2
  echo "check-format: ${#offenders[@]} of ${#files[@]} files are not clang-format clean:" >&2
  printf '  %s\n' "${offenders[@]}" >&2
  echo "fix with: clang-format -i ${offenders[*]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files clang-format clean ($("$clang_format" --version))"
