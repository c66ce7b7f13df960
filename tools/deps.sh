#!/usr/bin/env bash
# Installs every Debian package sluice needs to build, test and run its demo.
# Idempotent: does nothing when all packages are present. Needs root (or sudo).
# Fuzzing also wants clang and libclang-rt-14-dev (README, Testing).
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libzmq3-dev libczmq-dev libmsgpack-dev libwebsockets-dev liblmdb-dev
      libcmocka-dev libjansson-dev libssl-dev openssl
      python3 python3-zmq python3-msgpack man-db groff-base
      systemd   # systemd-analyze verify of the unit (test_systemd_unit); nothing runs under it
      dpkg-dev file)  # cpack -G DEB: dpkg-shlibdeps and file find the Depends (test_deb)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
