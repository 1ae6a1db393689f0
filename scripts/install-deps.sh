#!/usr/bin/env bash
# Installs everything aliot needs to build, test and run its demo on Debian 12, from Debian's
# own packages. Idempotent: packages already present are left alone, so repeated runs are fast.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  libcli11-dev libfmt-dev nlohmann-json3-dev libssl-dev openssl
  libmosquitto-dev mosquitto mosquitto-clients mosquitto-dev
  libcurl4-openssl-dev curl libsqlite3-dev sqlite3 libgtest-dev libgmock-dev
  libcpp-httplib-dev libqpid-proton-cpp12-dev python3-qpid-proton
  socat groff-base man-db bash-completion zsh fish python3 clang-format
  clang libclang-rt-14-dev
  libpq-dev
  libedit-dev
  hyperfine
  postgresql
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "aliot: error: missing packages: ${missing[*]}: run this script as root (or install them with apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # The mosquitto and postgresql packages try to start a system broker and a system cluster;
  # aliot never uses them (its tests start servers of their own), so forbid service starts
  # during the install (restored afterwards).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ "$created_policy" -eq 0 ] || rm -f "$policy"
fi
