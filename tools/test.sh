#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs the
# default suite (labels unit and integration). Extra arguments go to ctest,
# e.g. `tools/test.sh -L fault` for the long crash loops.
# SLUICE_SANITIZE=1 builds into build-asan with ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
build=build
opts=()
if [ "${SLUICE_SANITIZE:-0}" = 1 ]; then build=build-asan; opts+=(-DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug); fi
cmake -S . -B "$build" "${opts[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
if [ $# -eq 0 ]; then set -- -LE "fault|manual"; fi
ctest --output-on-failure --timeout 300 "$@"
