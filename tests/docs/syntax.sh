#!/bin/bash
# completions.<shell>_syntax: the shell parses the script without running it.
# Usage: syntax.sh ALIOT SHELL WORK_DIR. Exits 77 (skipped) when the shell is not installed.
set -u
aliot="$1" shell="$2" work="$3"
command -v "$shell" >/dev/null || { echo "$shell is not installed: skipped"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
"$aliot" completion "$shell" >"$work/script" || { echo "aliot completion $shell failed"; exit 1; }
case "$shell" in
bash) bash -n "$work/script" ;;
zsh)
  # Parses, and once compinit is loaded it registers _aliot for aliot.
  zsh -n "$work/script" &&
    HOME="$work" zsh -fc "autoload -U compinit && compinit -u -d '$work/zcompdump' &&
      source '$work/script' && [[ \${_comps[aliot]} == _aliot ]] && whence -w _aliot_sign >/dev/null" ;;
fish) fish --no-execute "$work/script" ;;
esac
rc=$?
((rc == 0)) && echo "$shell accepts the script"
exit $rc
