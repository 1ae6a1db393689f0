#!/bin/bash
# completions.bash_behaviour: source the bash script that `aliot completion bash` prints, put a
# command line into COMP_WORDS/COMP_CWORD, call the completion function, check COMPREPLY.
# Usage: bash_completion.sh ALIOT WORK_DIR
set -u
aliot="$1" work="$2"
rm -rf "$work" && mkdir -p "$work"
"$aliot" completion bash >"$work/aliot.bash" || { echo "aliot completion bash failed"; exit 1; }
# shellcheck source=/dev/null
source "$work/aliot.bash" || { echo "sourcing the script failed"; exit 1; }
if [[ $(complete -p aliot 2>/dev/null) != "complete -F _aliot aliot" ]]; then
  echo "the script does not register _aliot for aliot: $(complete -p aliot 2>&1)"
  exit 1
fi

fail=0
# complete LINE: the candidates, sorted, space separated. A trailing space starts a new word.
complete_line() {
  local line="$1"
  read -r -a COMP_WORDS <<<"$line"
  [[ $line == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$line" COMP_POINT=${#line}
  COMPREPLY=()
  _aliot aliot "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
# expect LINE WANT: the candidates are exactly WANT (sorted).
expect() {
  local got
  got=$(complete_line "$1")
  if [[ $got != "$2" ]]; then
    echo "FAIL: '$1' completed to [$got], want [$2]"
    fail=1
  else
    echo "ok:   '$1' -> [$got]"
  fi
}
# expect_has LINE WORD...: the candidates include each WORD.
expect_has() {
  local line="$1" got w
  shift
  got=" $(complete_line "$line") "
  for w in "$@"; do
    if [[ $got != *" $w "* ]]; then
      echo "FAIL: '$line' completed to [$got], which lacks $w"
      fail=1
      return
    fi
  done
  echo "ok:   '$line' has $*"
}
# expect_words WANT WORD...: complete the last of the given COMP_WORDS (as bash splits them
# at COMP_WORDBREAKS, e.g. "--output" "=" "j").
expect_words() {
  local want="$1" got
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _aliot aliot "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//')
  if [[ $got != "$want" ]]; then
    echo "FAIL: words [$*] completed to [$got], want [$want]"
    fail=1
  else
    echo "ok:   words [$*] -> [$got]"
  fi
}
# has_command NAME: the tree has this command (so tests follow commands as they land).
has_command() { "$aliot" "$@" --help 2>/dev/null | grep -q "^Usage: aliot $* "; }

rrpc_verbs="call"
has_command rrpc serve && rrpc_verbs="call serve"
expect "aliot si" "sign"
expect "aliot rrpc " "$rrpc_verbs"
expect "aliot sign --sign-method " "hmacmd5 hmacsha1 hmacsha256"
expect "aliot sign --sign-method hmacsha2" "hmacsha256"
expect "aliot -o " "json text"
expect "aliot --output j" "json"
expect "aliot sign -o " "json text"
expect "aliot completion " "bash fish zsh"
expect "aliot emulate " "cloud switch"
expect "aliot __" ""
expect_has "aliot sign --sign" "--sign-method"
expect_has "aliot sign -" "-k" "--product-key" "--triplet" "--help" "-o" "--verbose"
expect_has "aliot " "sign" "rrpc" "emulate" "completion"
# after an option's value the walk still knows the command
expect "aliot -o json rrpc " "$rrpc_verbs"
expect "aliot sign -k PK --sign-method " "hmacmd5 hmacsha1 hmacsha256"
# --opt=value, split at '=' (the default COMP_WORDBREAKS) or not
expect_words "json text" aliot --output =
expect_words "json" aliot --output = j
expect_words "hmacsha1" aliot sign --sign-method = hmacsha1
expect_words "--output=json" aliot --output=j
expect_words "call" aliot --output = json rrpc c
# files for file options
touch "$work/triplet-one.json" "$work/triplet-two.json"
expect "aliot sign --triplet $work/triplet-" "$work/triplet-one.json $work/triplet-two.json"
if has_command pub; then
  expect "aliot pu" "pub"
  expect_has "aliot pub --q" "--qos" "--quiet"
  expect "aliot pub --qo" "--qos"
  expect "aliot pub -q " "0 1"
fi
if has_command sub; then
  expect "aliot sub -q " "0 1"
fi
if has_command burn; then
  expect_has "aliot burn --dialect " "alsw1" "smartliving"
  # serial ports: the /dev/tty{USB,ACM,S}* and /dev/serial/by-id/* present, else files (a pty link)
  touch "$work/dut0"
  expect "aliot burn --port $work/du" "$work/dut0"
  if [[ -e /dev/ttyS0 ]]; then
    expect_has "aliot burn --port /dev/tty" "/dev/ttyS0"
  fi
fi
exit $fail
