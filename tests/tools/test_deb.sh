#!/usr/bin/env bash
# The Debian package, end to end on this machine: configure and build a
# /usr tree, `cpack -G DEB`, check the package (name, Depends from the
# shared libraries, the unit, the conffile, the maintainer scripts, no
# RPATH), `dpkg -i` it, then use only the installed files as the README
# says: the sluice user and /var/lib/sluice exist (and survive a second
# install, which keeps an edited conffile), sluiced runs as sluice
# with /etc/sluice/sluiced.conf (as the unit starts it, but not under
# systemd: on loopback ports), `sluicectl ping` and a small pipeline against
# the installed mock fleet complete, `man sluicectl` and `pkg-config
# --modversion sluice` work, embed_host.c builds with pkg-config; finally
# `dpkg --purge` leaves none of the package's files, no /etc/sluice, no
# /var/lib/sluice, no sluice user or group.
#
# It changes the machine's real /usr, /etc and user database, so it needs
# root, refuses to start when sluice (package, user or directories) is
# already there, holds a lock against a second run, stops what it started
# by pid and purges the package on any exit. Labels `package;manual`: no
# default suite runs it; `tools/test.sh -L package` (and .ci/run) does.
# Exits 77 (ctest: skipped) when not root.
# Usage: test_deb.sh CMAKE CPACK SOURCE_DIR BUILD_DIR VERSION
set -euo pipefail
cmake=$1 cpack=$2 src=$3 build=$4 version=$5
fail() { echo "FAIL: $*"; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: test_deb installs a package into this machine: run it as root"
  exit 77
fi
exec 9>/run/lock/sluice-test-deb.lock
flock -n 9 || fail "another test_deb holds /run/lock/sluice-test-deb.lock"
if dpkg-query -W -f='${Status}' sluice 2>/dev/null | grep -q installed; then
  fail "the package sluice is installed on this machine: not touching it"
fi
getent passwd sluice >/dev/null && fail "a user sluice exists on this machine: not touching it"
getent group sluice >/dev/null && fail "a group sluice exists on this machine: not touching it"
for d in /etc/sluice /var/lib/sluice; do
  [ ! -e "$d" ] || fail "$d exists on this machine: not touching it"
done

tmp=$(mktemp -d /tmp/sluice-deb.XXXXXX)
chmod 755 "$tmp"
pids=()
installed=0
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$installed" = 1 ]; then
    dpkg --purge sluice >"$tmp/purge-cleanup.log" 2>&1 || cat "$tmp/purge-cleanup.log"
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A /usr build of its own (the test's build tree stays as configured),
# kept beside it so that a second run only rebuilds what changed.
deb=$build/deb-build
"$cmake" -S "$src" -B "$deb" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$tmp/configure.log" || { cat "$tmp/configure.log"; fail "configure /usr build"; }
"$cmake" --build "$deb" -j"$(nproc)" >"$tmp/build.log" 2>&1 || { tail -50 "$tmp/build.log"; fail "build"; }
rm -f "$deb"/sluice_*.deb
(cd "$deb" && "$cpack" -G DEB) >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
pkg=$deb/sluice_${version}_amd64.deb
[ -f "$pkg" ] || fail "no $pkg: $(ls "$deb"/*.deb 2>&1)"

# The package itself.
field() { dpkg-deb -f "$pkg" "$1"; }
[ "$(field Package)" = sluice ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = amd64 ] || fail "Architecture: $(field Architecture)"
depends=$(field Depends)
for lib in libc6 libzmq5 libczmq4 libwebsockets libjansson4 liblmdb0 adduser; do
  grep -q "\b$lib" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
grep -q "libsluice" <<<"$depends" && fail "Depends names libsluice, which the package carries: $depends"
contents=$(dpkg-deb -c "$pkg" | awk '{print substr($6, 2)}')
for f in /usr/bin/sluiced /usr/bin/sluicectl /usr/bin/sluice-mock-analyzer /usr/bin/sluice-keygen \
         /usr/bin/sluice-bench /usr/lib/systemd/system/sluiced.service /usr/lib/sysusers.d/sluice.conf \
         /etc/sluice/sluiced.conf /usr/include/sluice/sluice.h /usr/share/man/man1/sluicectl.1 \
         /usr/share/man/man8/sluiced.8 /usr/share/doc/sluice/sluiced.conf.example; do
  grep -qx "$f" <<<"$contents" || fail "$f not in the package"
done
grep -q "/usr/local" <<<"$contents" && fail "the package has /usr/local paths"
dpkg-deb -e "$pkg" "$tmp/control"
[ "$(cat "$tmp/control/conffiles")" = /etc/sluice/sluiced.conf ] || fail "conffiles: $(cat "$tmp/control/conffiles")"
for s in postinst prerm postrm; do [ -x "$tmp/control/$s" ] || fail "no $s"; done
dpkg-deb -x "$pkg" "$tmp/root"
if readelf -d "$tmp/root/usr/bin/sluiced" | grep -qE "RPATH|RUNPATH"; then
  fail "the packaged sluiced has an RPATH"
fi
grep -q "^ExecStart=/usr/bin/sluiced " "$tmp/root/usr/lib/systemd/system/sluiced.service" ||
  fail "the packaged unit does not start /usr/bin/sluiced"
echo "package: $(basename "$pkg"), Depends: $depends"

# Install.
installed=1
dpkg -i "$pkg" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "dpkg -i"; }
[ "$(dpkg-query -W -f='${Status}' sluice)" = "install ok installed" ] || fail "sluice not installed"
uid=$(getent passwd sluice | cut -d: -f3) || fail "postinst made no user sluice"
[ "$uid" -lt 1000 ] || fail "sluice is not a system user (uid $uid)"
getent group sluice >/dev/null || fail "postinst made no group sluice"
[ "$(stat -c '%U:%G %a' /var/lib/sluice)" = "sluice:sluice 750" ] ||
  fail "/var/lib/sluice is $(stat -c '%U:%G %a' /var/lib/sluice)"
[ "$(/usr/bin/sluiced --check-config /etc/sluice/sluiced.conf)" = "/etc/sluice/sluiced.conf: ok" ] ||
  fail "the installed /etc/sluice/sluiced.conf is refused"

# Installing again (an upgrade) keeps an edited conffile, the user and the
# state directory.
echo "# edited by test_deb" >>/etc/sluice/sluiced.conf
dpkg -i "$pkg" >"$tmp/reinstall.log" 2>&1 || { cat "$tmp/reinstall.log"; fail "dpkg -i, a second time"; }
[ "$(tail -n 1 /etc/sluice/sluiced.conf)" = "# edited by test_deb" ] || fail "reinstalling lost the edited conffile"
[ "$(getent passwd sluice | cut -d: -f3)" = "$uid" ] || fail "reinstalling changed the sluice user"
[ "$(stat -c '%U:%G %a' /var/lib/sluice)" = "sluice:sluice 750" ] || fail "reinstalling changed /var/lib/sluice"

# The installed mock fleet (port 0, fast) and sluiced as the unit runs it,
# as the sluice user, on free loopback ports.
/usr/bin/sluice-mock-analyzer --fleet incident --time-scale 0.02 >"$tmp/mock.out" 2>"$tmp/mock.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -qx ready "$tmp/mock.out" && break; sleep 0.1; done
grep -qx ready "$tmp/mock.out" || { cat "$tmp/mock.err"; fail "the mock fleet did not get ready"; }
urls() { awk -v s="$1" '$1 == "replica" && $2 == s {printf "%s%s", sep, $3; sep = ","}' "$tmp/mock.out"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
api=tcp://127.0.0.1:$(free_port) pub=tcp://127.0.0.1:$(free_port)
env STATIC_ANALYZER_URLS="$(urls static-analyzer)" DYNAMIC_ANALYZER_URLS="$(urls dynamic-analyzer)" \
    PERF_TESTER_URLS="$(urls performance-tester)" AI_ANALYZER_URLS="$(urls ai-analyzer)" \
    GENERATOR_URLS="$(urls generator)" \
  setpriv --reuid sluice --regid sluice --init-groups \
  /usr/bin/sluiced --config /etc/sluice/sluiced.conf --set sluice/data_dir=/var/lib/sluice \
    --set api/endpoint="$api" --set api/pub="$pub" --set progress/listen= \
    --set pipeline/backoff_initial_ms=50 --set pipeline/backoff_max_ms=100 >"$tmp/sluiced.log" 2>&1 &
sluiced_pid=$!
pids+=("$sluiced_pid")
for _ in $(seq 1 100); do grep -q "sluiced: ready" "$tmp/sluiced.log" && break; sleep 0.1; done
grep -q "sluiced: ready" "$tmp/sluiced.log" || { cat "$tmp/sluiced.log"; fail "sluiced did not get ready"; }
[ "$(stat -c %U "/proc/$sluiced_pid")" = sluice ] || fail "sluiced does not run as sluice"

/usr/bin/sluicectl --api "$api" ping >"$tmp/ping.out" 2>&1 || { cat "$tmp/ping.out"; fail "sluicectl ping"; }
echo "sluicectl ping: $(cat "$tmp/ping.out")"
# One model, one template: generate, then one static and one dynamic tool.
cat >"$tmp/request.json" <<'JSON'
{"generation": {"mode": "generate", "models": ["model-a"], "templates": ["api_url_shortener"]},
 "analysis": {"enabled": true, "tools": ["bandit", "curl"]}}
JSON
rc=0
/usr/bin/sluicectl --api "$api" submit --file "$tmp/request.json" --wait \
  >"$tmp/submit.out" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/submit.out" "$tmp/sluiced.log"; fail "submit --wait exited $rc, expected 0 (completed)"; }
id=$(grep -oE '\bp[0-9a-f]{18,}\b' "$tmp/submit.out" | head -n 1)
[ -n "$id" ] || { cat "$tmp/submit.out"; fail "submit printed no pipeline id"; }
/usr/bin/sluicectl --api "$api" get "$id" >"$tmp/get.out" 2>&1 || { cat "$tmp/get.out"; fail "sluicectl get $id"; }
grep -qw completed "$tmp/get.out" || { cat "$tmp/get.out"; fail "pipeline $id is not completed"; }
[ -n "$(find /var/lib/sluice -mindepth 1 -maxdepth 1 -user sluice)" ] ||
  fail "sluiced wrote no store of its own in /var/lib/sluice"
echo "pipeline $id completed under the installed sluiced"

# sluiced stops cleanly on SIGTERM.
kill -TERM "$sluiced_pid"
rc=0
wait "$sluiced_pid" || rc=$?
[ "$rc" = 0 ] || { cat "$tmp/sluiced.log"; fail "sluiced exited $rc on SIGTERM"; }

# Man pages and pkg-config from the installed files.
man -aw sluicectl | grep -qx /usr/share/man/man1/sluicectl.1 || fail "man -aw sluicectl: $(man -aw sluicectl)"
LC_ALL=C MANWIDTH=80 man sluicectl 2>"$tmp/man.err" | grep -q "sluice $version" ||
  { cat "$tmp/man.err"; fail "man sluicectl does not render the installed page"; }
[ "$(env -u PKG_CONFIG_PATH pkg-config --modversion sluice)" = "$version" ] ||
  fail "pkg-config --modversion sluice"
cp "$src/tools/examples/embed_host.c" "$tmp/"
# shellcheck disable=SC2046 # pkg-config's words are meant to split
cc -o "$tmp/embed_host" "$tmp/embed_host.c" $(env -u PKG_CONFIG_PATH pkg-config --cflags --libs sluice) ||
  fail "embed_host does not build against the installed package"
echo "man sluicectl, pkg-config --modversion sluice ($version), embed_host: ok"

# Purge: nothing of the package is left, nor the user, nor its state.
kill -TERM "${pids[0]}"
dpkg --purge sluice >"$tmp/purge.log" 2>&1 || { cat "$tmp/purge.log"; fail "dpkg --purge sluice"; }
installed=0
dpkg-query -W -f='${Status}' sluice 2>/dev/null | grep -q "ok installed" && fail "sluice still installed"
while read -r f; do
  [ -n "$f" ] || continue
  if [ -e "$tmp/root$f" ] && [ ! -d "$tmp/root$f" ] && { [ -e "$f" ] || [ -L "$f" ]; }; then
    fail "$f is left after the purge"
  fi
done <<<"$contents"
for d in /etc/sluice /var/lib/sluice /usr/include/sluice /usr/share/doc/sluice; do
  [ ! -e "$d" ] || fail "$d is left after the purge"
done
getent passwd sluice >/dev/null && fail "the user sluice is left after the purge"
getent group sluice >/dev/null && fail "the group sluice is left after the purge"
echo "purged: no file, directory, user or group of sluice left"
echo "1 passed, 0 failed"
