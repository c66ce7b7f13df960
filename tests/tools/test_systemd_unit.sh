#!/bin/bash
# test_systemd_unit.sh: tools/packaging/systemd/sluiced.service says what
# the README promises (Type=notify, the watchdog, restarts, directories, the
# user, hardening), its sysusers.d file creates that user, and, where
# systemd-analyze exists (no running systemd needed), the unit verifies
# with ExecStart pointed at the sluiced just built.
#   test_systemd_unit.sh SOURCE_DIR SLUICED
set -euo pipefail
src=$1
sluiced=$2
unit=$src/tools/packaging/systemd/sluiced.service
sysusers=$src/tools/packaging/systemd/sluice.sysusers
fail() { echo "test_systemd_unit: $*" >&2; exit 1; }

for line in Type=notify NotifyAccess=main WatchdogSec= Restart=on-failure \
            'RestartPreventExitStatus=1 2' StateDirectory=sluice ConfigurationDirectory=sluice \
            User=sluice Group=sluice NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
            PrivateTmp=yes 'ExecReload=/bin/kill -HUP $MAINPID' \
            'ExecStart=/usr/bin/sluiced --config /etc/sluice/sluiced.conf --set sluice/data_dir=/var/lib/sluice'; do
    grep -qxF -- "$line" "$unit" || grep -q -- "^$line" "$unit" || fail "unit lacks '$line'"
done
grep -qE '^u sluice - ' "$sysusers" || fail "sysusers.d file does not create the user sluice"

# the flags ExecStart passes are sluiced's own
"$sluiced" --help | grep -q -- '--config FILE' || fail "sluiced --help has no --config"
"$sluiced" --set sluice/data_dir=/var/lib/sluice --print-config >/dev/null \
    || fail "sluiced refuses the unit's --set"

if ! command -v systemd-analyze >/dev/null; then
    echo "test_systemd_unit: systemd-analyze not installed (tools/deps.sh installs it): verify skipped"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|/usr/bin/sluiced|$sluiced|" "$unit" > "$tmp/sluiced.service"
out=$(systemd-analyze verify --man=no "$tmp/sluiced.service" 2>&1) || fail "verify: $out"
# verify exits 0 on some warnings; any line about the unit is a problem
if grep -q 'sluiced.service' <<<"$out"; then
    fail "verify: $out"
fi
echo "test_systemd_unit: ok"
