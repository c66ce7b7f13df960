#!/usr/bin/env bash
# sluice-keygen's certificates work end to end: sluiced with CURVE on answers
# sluicectl holding an allowed key, and gives a client without one nothing.
# Usage: test_keygen.sh KEYGEN SLUICED SLUICECTL
set -euo pipefail
keygen=$1 sluiced=$2 ctl=$3
dir=$(mktemp -d /tmp/sluice-keygen.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"
mkdir clients
"$keygen" server.cert >/dev/null
"$keygen" clients/alice.cert alice >/dev/null
"$keygen" mallory.cert >/dev/null
[ "$(stat -c %a clients/alice.cert_secret)" = 600 ] || { echo "secret not 0600"; exit 1; }
"$sluiced" --set sluice/data_dir="$dir/data" --set api/endpoint="ipc://$dir/api" \
  --set api/pub="ipc://$dir/pub" --set progress/listen= \
  --set api/curve_secret_file="$dir/server.cert_secret" \
  --set api/curve_clients_dir="$dir/clients" >"$dir/sluiced.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q 'sluiced: ready' "$dir/sluiced.log" && break; sleep 0.1; done
grep -q 'sluiced: ready' "$dir/sluiced.log" || { cat "$dir/sluiced.log"; exit 1; }
"$ctl" --api "ipc://$dir/api" --curve-server-key server.cert \
  --curve-client clients/alice.cert_secret --timeout 3000 ping
rc=0
"$ctl" --api "ipc://$dir/api" --curve-server-key server.cert \
  --curve-client mallory.cert_secret --timeout 500 ping >/dev/null 2>&1 || rc=$?
[ "$rc" = 5 ] || { echo "a client with an unknown key got exit $rc, expected 5"; exit 1; }
rc=0
"$ctl" --api "ipc://$dir/api" --timeout 500 ping >/dev/null 2>&1 || rc=$?
[ "$rc" = 5 ] || { echo "a client without CURVE got exit $rc, expected 5"; exit 1; }
echo "1 passed, 0 failed"
