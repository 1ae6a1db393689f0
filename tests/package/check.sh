#!/usr/bin/env bash
# The Debian package, as a factory PC or CI runner gets it: built by scripts/package.sh (unless a
# .deb is given), clean under lintian, installed with dpkg -i into an empty root, and used from
# there: `aliot --version`, man pages, bash/zsh/fish completion, `aliot emulate cloud` with the
# plugin installed next to it, and find_package(aliot) for a station's own program.
#
# What is proven: the package's metadata and Depends (computed by dpkg-shlibdeps, and satisfied
# by this Debian 12 host: dpkg --dry-run), every file at its Debian place, stripped binaries
# whose debug info is in aliot-dbgsym under their build-ids, dpkg installing and purging it with
# its own database (--root), and the installed files working from that root: the binary (which
# links libaliot statically) loads the plugin next to itself and nothing of the build tree, and a
# find_package(aliot) program loads the libaliot of the root.
# What is not: a chroot with only the package's Depends installed. The root holds the package
# alone, so its programs run with this host's libc, libstdc++, libmosquitto, OpenSSL, libcurl,
# SQLite and mosquitto broker (the same Debian 12 packages dpkg-shlibdeps read); and the
# maintainer scripts (ldconfig only) run outside the root with ldconfig stubbed, not in a chroot.
#
# Usage: tests/package/check.sh [DEB [WORK_DIR]]   (run as root, like scripts/package.sh)
set -u # not pipefail: `... | grep -q` would fail when grep stops reading early
src=$(cd "$(dirname "$0")/../.." && pwd)
echo "== package: build and check the Debian package"
if [[ $# -ge 1 ]]; then
  deb=$(realpath "$1")
else
  deb=$("$src/scripts/package.sh" | grep '\.deb$') || { echo "FAIL: scripts/package.sh"; exit 1; }
  deb=$(realpath "$src/$deb")
fi
work=${2:-$src/build/package-check}
rm -rf "$work" && mkdir -p "$work"
work=$(realpath "$work")

failures=0
ok() { echo "ok:   $*"; }
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
field() { dpkg-deb -f "$deb" "$1"; }

# --- the package file: name, control fields, lintian, debug symbols -----------------------------
version=$(field Version) arch=$(field Architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
[[ $(basename "$deb") == "aliot_${version}_${arch}.deb" ]] &&
  ok "file name $(basename "$deb")" || fail "file name $(basename "$deb") is not aliot_${version}_${arch}.deb"
[[ $(field Package) == aliot ]] || fail "Package: $(field Package)"
depends=$(field Depends)
for lib in libc6 libstdc++6 libmosquitto1 libssl3 libcurl4 libsqlite3-0 libqpid-proton-cpp12 libedit2; do
  [[ ", $depends," == *", $lib "* || ", $depends," == *", $lib,"* ]] || fail "Depends lacks $lib: $depends"
done
[[ $(field Recommends) == *mosquitto* ]] || fail "Recommends lacks mosquitto: $(field Recommends)"
ok "Depends: $depends; Recommends: $(field Recommends)"
if dpkg --dry-run -i "$deb" >"$work/dry-run.log" 2>&1; then
  ok "this host satisfies the dependencies (dpkg --dry-run -i)"
else
  fail "dpkg --dry-run -i: $(cat "$work/dry-run.log")"
fi

if lintian --fail-on error --suppress-tags-from-file /dev/null "$deb" >"$work/lintian.log" 2>&1; then
  ok "lintian: no errors ($(grep -c '^[WIP]:' "$work/lintian.log") warnings and notes)"
else
  fail "lintian found errors:"
  grep '^E:' "$work/lintian.log" || cat "$work/lintian.log"
fi
sed 's/^/      /' "$work/lintian.log"

ddeb="$(dirname "$deb")/aliot-dbgsym_${version}_${arch}.ddeb"
if [[ -f $ddeb ]]; then
  mkdir -p "$work/dbgsym" && dpkg-deb -x "$ddeb" "$work/dbgsym"
  ok "debug symbols apart: $(basename "$ddeb") ($(du -k "$ddeb" | cut -f1) KiB)"
else
  fail "no $(basename "$ddeb") next to the package"
fi

# --- install into an empty root with its own dpkg database --------------------------------------
root="$work/root"
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# --force-depends: the root holds no libc & co (see the header). The root has no shell to chroot
# into, so the maintainer scripts (CPack's postinst/postrm, which only run ldconfig) run
# chrootless, with an ldconfig that records its call instead of touching this host's cache.
mkdir -p "$work/bin"
printf '#!/bin/sh\necho "ldconfig $*" >>"%s"\n' "$work/ldconfig.log" >"$work/bin/ldconfig"
chmod +x "$work/bin/ldconfig"
dpkg_root() { PATH="$work/bin:$PATH" dpkg --root="$root" --force-script-chrootless "$@"; }
if dpkg_root --force-depends -i "$deb" >"$work/dpkg-i.log" 2>&1 &&
  dpkg --root="$root" -s aliot 2>/dev/null | grep -q '^Status: install ok installed'; then
  ok "dpkg -i into an empty root: installed"
else
  fail "dpkg --root $root -i: $(cat "$work/dpkg-i.log")"
fi

libdir=usr/lib/$multiarch
for f in usr/bin/aliot "$libdir/libaliot.so" "$libdir/aliot/libaliot_emu.so" "$libdir/aliot/libaliot-amqp.so" \
  "$libdir/aliot/libaliot-pg.so" \
  usr/include/aliot/sign.hpp usr/include/aliot/version.hpp "$libdir/cmake/aliot/aliotConfig.cmake" \
  "$libdir/cmake/aliot/aliotConfigVersion.cmake" "$libdir/cmake/aliot/aliotTargets.cmake" \
  usr/share/man/man1/aliot.1.gz usr/share/man/man1/aliot-pub.1.gz \
  usr/share/bash-completion/completions/aliot usr/share/zsh/vendor-completions/_aliot \
  usr/share/fish/vendor_completions.d/aliot.fish usr/share/doc/aliot/copyright \
  usr/share/doc/aliot/changelog.gz; do
  [[ -e $root/$f ]] || fail "not installed: /$f"
done
ok "$(dpkg --root="$root" -L aliot | grep -c .) paths installed, each expected one at its place"

# Every ELF file is stripped, and its debug info is in the dbgsym package under its build-id.
failures_before=$failures elfs=0
while IFS= read -r elf; do
  rel=${elf#"$root"/}
  if readelf -S "$elf" | grep -q '\.debug_info'; then
    fail "/$rel is not stripped"
  fi
  id=$(readelf -n "$elf" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
  if [[ -z $id ]]; then
    fail "/$rel has no build-id"
  elif ! readelf -S "$work/dbgsym/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug" 2>/dev/null |
    grep -q '\.debug_info'; then
    fail "/$rel: no debug info at /usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug in aliot-dbgsym"
  fi
  elfs=$((elfs + 1))
done < <(find "$root/usr" -type f -exec sh -c 'head -c4 "$1" | grep -q "ELF"' _ {} \; -print)
((failures == failures_before && elfs == 5)) &&
  ok "the $elfs ELF files (aliot, libaliot, the plugin, the AMQP and PostgreSQL modules) stripped, their debug info in aliot-dbgsym" ||
  fail "$elfs ELF files, want 5 (aliot, libaliot, the plugin, the AMQP and PostgreSQL modules)"

# --- the installed aliot, run from its installed place -----------------------------------------
# loads FILE: the real path of the libaliot that FILE loads.
loads() { realpath "$(ldd "$1" | sed -n 's/^\s*libaliot\.so[.0-9]* => \(\S*\) .*/\1/p')"; }
lib_real=$(realpath "$root/$libdir/libaliot.so")
aliot="$root/usr/bin/aliot"
# aliot links libaliot statically (start-up time); the shared libaliot is for other programs
# (the find_package program below loads it). Nothing it loads may come from the build tree.
needed=$(ldd "$aliot" 2>&1)
if grep -q 'libaliot\.so' <<<"$needed"; then
  fail "the installed aliot loads a libaliot.so: $(grep libaliot <<<"$needed")"
elif grep -q -e 'not found' -e "$src/build" <<<"$needed"; then
  fail "the installed aliot loads what the root lacks or the build tree holds: $needed"
else
  ok "the installed aliot loads no libaliot.so and nothing of the build tree ($(grep -c '=>' <<<"$needed") libraries)"
fi
# One C++ runtime per process: aliot runs on the shared libstdc++, the one the AMQP module and
# Qpid Proton load in `cloud sub` (cli/CMakeLists.txt), not a static copy of its own.
if readelf -d "$aliot" | grep -q 'NEEDED.*\[libstdc++\.so\.6\]'; then
  ok "the installed aliot uses the shared libstdc++.so.6 (one C++ runtime with the AMQP module)"
else
  fail "the installed aliot does not load libstdc++.so.6: $(readelf -d "$aliot" | grep NEEDED)"
fi
out=$("$aliot" --version 2>&1)
status=$?
if ((status == 0)) && [[ $(head -1 <<<"$out") == "aliot $version" ]] &&
  grep -q '^Libraries: libmosquitto/' <<<"$out"; then
  ok "aliot --version: $(tr '\n' ' ' <<<"$out")"
else
  fail "aliot --version (exit $status): $out"
fi
json=$("$aliot" -o json --version 2>&1)
if python3 -c 'import json,sys; o=json.loads(sys.argv[1]); assert o["version"]==sys.argv[2]
assert set(o["libraries"])=={"libmosquitto","OpenSSL","libcurl","SQLite"}' "$json" "$version" 2>/dev/null; then
  ok "aliot -o json --version: $json"
else
  fail "aliot -o json --version: $json"
fi

# man finds the pages through MANPATH into the root.
if command -v man >/dev/null; then
  page=$(MANPATH="$root/usr/share/man" man -w aliot-pub 2>&1)
  if [[ $page == "$root/usr/share/man/man1/aliot-pub.1.gz" ]] &&
    MANPATH="$root/usr/share/man" MANPAGER=cat MANWIDTH=100 man aliot-pub 2>/dev/null | grep -q 'aliot-pub - '; then
    ok "man aliot-pub shows $page"
  else
    fail "man aliot-pub (MANPATH into the root): $page"
  fi
fi

# bash: source the installed completion file and call its completion function.
got=$(PATH="$root/usr/bin:$PATH" bash --norc --noprofile -c '
  source "$1" || exit 1
  [[ $(complete -p aliot) == "complete -F _aliot aliot" ]] || exit 1
  COMP_WORDS=(aliot pu) COMP_CWORD=1 COMP_LINE="aliot pu" COMP_POINT=8 COMPREPLY=()
  _aliot aliot pu aliot
  printf "%s\n" "${COMPREPLY[@]}"' _ "$root/usr/share/bash-completion/completions/aliot" 2>&1)
[[ $got == pub ]] && ok "bash: 'aliot pu' completes to pub" || fail "bash: 'aliot pu' completed to [$got]"
# zsh: compinit finds _aliot in the vendor directory; fish: the vendor file completes `aliot pu`.
if command -v zsh >/dev/null; then
  if HOME="$work" zsh -fc "fpath=($root/usr/share/zsh/vendor-completions \$fpath)
      autoload -U compinit && compinit -u -d '$work/zcompdump' && [[ \${_comps[aliot]} == _aliot ]]"; then
    ok "zsh: compinit registers _aliot from vendor-completions"
  else
    fail "zsh: _aliot not registered from $root/usr/share/zsh/vendor-completions"
  fi
fi
if command -v fish >/dev/null; then
  got=$(HOME="$work" PATH="$root/usr/bin:$PATH" fish --no-config -c "
      set fish_complete_path $root/usr/share/fish/vendor_completions.d \$fish_complete_path
      complete -C 'aliot pu'" 2>&1 | cut -f1)
  [[ $got == pub ]] && ok "fish: 'aliot pu' completes to pub" || fail "fish: 'aliot pu' completed to [$got]"
fi

# The emulator: the installed aliot finds the plugin installed next to it and starts the broker.
emu="$work/emu"
"$aliot" emulate cloud --dir "$emu" >"$work/emu.out" 2>"$work/emu.err" &
emu_pid=$!
for _ in $(seq 1 200); do
  grep -q '^export ALIOT_API_ENDPOINT=' "$work/emu.out" 2>/dev/null && break
  kill -0 "$emu_pid" 2>/dev/null || break
  sleep 0.1
done
if grep -q '^export ALIOT_API_ENDPOINT=' "$work/emu.out"; then
  plugin=$(sed -n 's/^plugin //p' "$emu/mosquitto.conf")
  if [[ $plugin == "$(realpath "$root/$libdir/aliot/libaliot_emu.so")" ]]; then
    ok "aliot emulate cloud started with the installed plugin $plugin"
  else
    fail "aliot emulate cloud loaded the plugin $plugin, not the installed one"
  fi
else
  fail "aliot emulate cloud printed no export ALIOT_API_ENDPOINT=: $(cat "$work/emu.out" "$work/emu.err")"
fi
kill -TERM "$emu_pid" 2>/dev/null
wait "$emu_pid"
status=$?
((status == 0)) && ok "aliot emulate cloud stopped on SIGTERM (exit 0)" ||
  fail "aliot emulate cloud exited $status on SIGTERM: $(cat "$work/emu.err")"

# The AMQP module: the installed aliot loads the installed libaliot-amqp.so on `cloud sub` (a
# missing module is a config error, 3); with nothing listening the consumer reports network (5).
ALIOT_ACCESS_KEY_ID=AK ALIOT_ACCESS_KEY_SECRET=s "$aliot" cloud sub --consumer-group G -W 5 \
  --amqp-endpoint amqp://127.0.0.1:1 >"$work/amqp.out" 2>"$work/amqp.err"
status=$?
((status == 5)) && ok "aliot cloud sub loaded the installed AMQP module (exit 5: nothing listens)" ||
  fail "aliot cloud sub exited $status, not 5: $(cat "$work/amqp.err")"

# The PostgreSQL pool module: the installed aliot loads the installed libaliot-pg.so on a
# postgresql:// pool (a missing module is a config error, 3); nothing listens, so network (5).
"$aliot" pool status --pool postgresql://station@127.0.0.1:1/aliot >"$work/pg.out" 2>"$work/pg.err"
status=$?
((status == 5)) && ok "aliot pool status loaded the installed PostgreSQL module (exit 5: nothing listens)" ||
  fail "aliot pool status --pool postgresql://... exited $status, not 5: $(cat "$work/pg.err")"

# --- find_package(aliot) from the root: a station's program signs a Set A vector ----------------
consumer="$work/consumer"
if cmake -S "$src/tests/package/consumer" -B "$consumer" -DCMAKE_PREFIX_PATH="$root/usr" \
  -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" 2>&1 &&
  cmake --build "$consumer" >>"$work/consumer.log" 2>&1; then
  [[ $(loads "$consumer/consumer") == "$lib_real" ]] ||
    fail "the consumer loads $(loads "$consumer/consumer"), not $lib_real"
  vectors=0
  while IFS=$'\t' read -r method pk dn secret client ts want; do
    args=("$method" "$pk" "$dn" "$secret" "$client")
    [[ $ts != - ]] && args+=("$ts")
    got=$("$consumer/consumer" "${args[@]}" 2>&1)
    [[ $got == "$want" ]] || fail "consumer ${args[*]:0:3}: $got, want $want"
    vectors=$((vectors + 1))
  done < <(python3 -c '
import json, sys
for v in json.load(open(sys.argv[1]))["vectors"]:
    if v["scheme"] == "mqtt_password":
        i = v["inputs"]
        print("\t".join([v["signmethod"], i["productKey"], i["deviceName"], i["deviceSecret"],
                         i["clientId"], i["timestamp"] or "-", v["password"]]))' "$src/tests/data/vectors-a.json")
  ((vectors > 0)) && ok "find_package(aliot): a program linking aliot::aliot gives the $vectors Set A MQTT passwords" ||
    fail "no Set A mqtt_password vector was checked"
else
  fail "building the find_package(aliot) program against the root:"
  cat "$work/consumer.log"
fi

# --- purge: the package leaves nothing behind ---------------------------------------------------
if dpkg_root --purge aliot >"$work/dpkg-purge.log" 2>&1; then
  left=$(find "$root" -path "$root/var" -prune -o ! -type d -print)
  [[ -z $left ]] && ok "dpkg --purge leaves no file" || fail "left after dpkg --purge: $left"
else
  fail "dpkg --root $root --purge: $(cat "$work/dpkg-purge.log")"
fi

echo "package $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB, $failures failure(s)"
((failures == 0))
