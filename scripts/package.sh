#!/usr/bin/env bash
# Makes the Debian package: aliot_<version>_<arch>.deb and its debug symbols,
# aliot-dbgsym_<version>_<arch>.ddeb, in build/package/dist/ (prints their paths last).
# Installs what it needs first (Debian packages): the build dependencies, dpkg-dev for
# dpkg-shlibdeps, file, lintian for the check. Builds only what the package holds (no tests) in
# a RelWithDebInfo tree for /usr, through ccache when it is installed.
# Usage: scripts/package.sh [BUILD_DIR]   (default build/package)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

packaging=(dpkg-dev file binutils lintian)
missing=()
for p in "${packaging[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "aliot: error: missing packages: ${missing[*]}: run this script as root (or install them with apt-get)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build=${1:-build/package}
jobs=${ALIOT_JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

# The installed aliot finds its emulator plugin next to itself or under /usr, never in this tree.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DALIOT_BUILD_TESTS=OFF -DALIOT_EMU_PLUGIN_FROM_BUILD_TREE=OFF -DALIOT_AMQP_MODULE_FROM_BUILD_TREE=OFF \
  -DALIOT_PG_MODULE_FROM_BUILD_TREE=OFF "${launcher[@]}" >/dev/null
cmake --build "$build" -j"$jobs"

dist="$build/dist"
rm -rf "$dist"
(cd "$build" && cpack -G DEB -B "$PWD/dist" >/dev/null)
ls -1 "$dist"/*.deb "$dist"/*.ddeb
