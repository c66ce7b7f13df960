#!/usr/bin/env bash
# `cmake --install` gives a working installation: the programs, libsluice
# (shared with its SONAME, and static), the one public header, sluice.pc, the
# man pages and the example configuration land under the prefix; the
# installed sluiced finds its library and accepts the example; and
# tools/examples/embed_host.c, built out of tree with nothing but
# `pkg-config --cflags --libs sluice` (and `--static` against libsluice.a),
# runs a pipeline against the installed mock fleet to `completed`, checked as
# tests/e2e/test_embed.c checks it. A DESTDIR install lands under DESTDIR.
# Usage: test_install.sh CMAKE BUILD_DIR SOURCE_DIR VERSION
# Environment: SL_BINDIR SL_LIBDIR SL_INCLUDEDIR SL_MANDIR SL_DOCDIR (the
# GNUInstallDirs directories, relative), CC, SL_CFLAGS (e.g. sanitizers).
set -euo pipefail
cmake=$1 build=$2 src=$3 version=$4
major=${version%%.*}
cc=${CC:-cc}
read -r -a cflags <<<"${SL_CFLAGS:-}"
tmp=$(mktemp -d /tmp/sluice-install.XXXXXX)
mock_pid=""
cleanup() {
  if [ -n "$mock_pid" ]; then
    kill -TERM "$mock_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$mock_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$mock_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

prefix=$tmp/prefix
bin=$prefix/$SL_BINDIR lib=$prefix/$SL_LIBDIR inc=$prefix/$SL_INCLUDEDIR
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log"

# What goes where.
for p in sluiced sluicectl sluice-mock-analyzer sluice-keygen sluice-bench; do
  [ -x "$bin/$p" ] || fail "$bin/$p not installed"
done
[ -f "$lib/libsluice.so.$version" ] || fail "libsluice.so.$version not installed"
[ "$(readlink "$lib/libsluice.so.$major")" = "libsluice.so.$version" ] || fail "libsluice.so.$major link"
[ "$(readlink "$lib/libsluice.so")" = "libsluice.so.$major" ] || fail "libsluice.so link"
[ -f "$lib/libsluice.a" ] || fail "libsluice.a not installed"
headers=$(cd "$inc" && find . -type f | sort)
[ "$headers" = "./sluice/sluice.h" ] || fail "installed headers are not just sluice/sluice.h: $headers"
soname=$(objdump -p "$lib/libsluice.so.$version" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libsluice.so.$major" ] || fail "SONAME $soname"
for page in man8/sluiced.8 man1/sluicectl.1 man1/sluice-mock-analyzer.1 man1/sluice-keygen.1 \
            man1/sluice-bench.1; do
  [ -f "$prefix/$SL_MANDIR/$page" ] || fail "$page not installed"
done
rendered=$(LC_ALL=C MANWIDTH=80 man -l "$prefix/$SL_MANDIR/man1/sluicectl.1")
grep -q "sluice $version" <<<"$rendered" ||
  fail "installed sluicectl.1 does not render with its version"
example=$prefix/$SL_DOCDIR/sluiced.conf.example
[ -f "$example" ] || fail "sluiced.conf.example not installed"

# The installed sluiced finds the installed libsluice by itself (RPATH), and
# the example is its built-in configuration, valid as it stands.
loaded=$(ldd "$bin/sluiced" | awk '$1 == "libsluice.so.'"$major"'" {print $3}')
[ "$(readlink -f "$loaded")" = "$(readlink -f "$lib/libsluice.so.$major")" ] ||
  fail "installed sluiced does not load $lib/libsluice.so.$major but '$loaded'"
[ "$("$bin/sluiced" --check-config "$example")" = "$example: ok" ] || fail "example config refused"
diff <(grep -v '^#' "$example") <(env -i "$bin/sluiced" --print-config) >/dev/null ||
  fail "the example differs from sluiced --print-config"

# pkg-config sees the installation.
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion sluice)" = "$version" ] || fail "pkg-config --modversion sluice"
[ "$(pkg-config --variable=prefix sluice)" = "$prefix" ] || fail "sluice.pc prefix"

# embed_host out of tree: one copy of the source, compiled in $tmp.
cp "$src/tools/examples/embed_host.c" "$tmp/"
cd "$tmp"
# shellcheck disable=SC2046 # pkg-config's words are meant to split
"$cc" "${cflags[@]}" -o embed_host embed_host.c $(pkg-config --cflags --libs sluice) ||
  fail "embed_host does not build with pkg-config --cflags --libs sluice"
grep -q "NEEDED *libsluice.so.$major" <<<"$(objdump -p embed_host)" || fail "embed_host does not need libsluice.so.$major"
# Static: a prefix holding only the header, libsluice.a and sluice.pc.
static=$tmp/static
mkdir -p "$static/include" "$static/lib/pkgconfig"
cp -r "$inc/sluice" "$static/include/"
cp "$lib/libsluice.a" "$static/lib/"
sed -e "s|^prefix=.*|prefix=$static|" -e 's|^libdir=.*|libdir=${prefix}/lib|' \
    -e 's|^includedir=.*|includedir=${prefix}/include|' "$lib/pkgconfig/sluice.pc" \
    >"$static/lib/pkgconfig/sluice.pc"
static_flags=()
for w in $(PKG_CONFIG_PATH=$static/lib/pkgconfig pkg-config --static --cflags --libs sluice); do
  # Debian 12's norm.pc (reached through libzmq) names "libprotokit.a"
  # without a path, which no link can find; libnorm.so carries it anyway.
  [ "$w" = libprotokit.a ] || static_flags+=("$w")
done
"$cc" "${cflags[@]}" -o embed_host_static embed_host.c "${static_flags[@]}" ||
  fail "embed_host does not build with pkg-config --static --cflags --libs sluice"
if grep -q "NEEDED *libsluice" <<<"$(objdump -p embed_host_static)"; then
  fail "embed_host_static needs libsluice.so"
fi

# The installed mock fleet, on port 0, fast.
"$bin/sluice-mock-analyzer" --fleet incident --time-scale 0.02 >"$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
for _ in $(seq 1 100); do grep -qx ready "$tmp/mock.out" && break; sleep 0.1; done
grep -qx ready "$tmp/mock.out" || { cat "$tmp/mock.err"; fail "the mock fleet did not get ready"; }
urls() { awk -v s="$1" '$1 == "replica" && $2 == s {printf "%s%s", sep, $3; sep = ","}' "$tmp/mock.out"; }
fleet_env=(STATIC_ANALYZER_URLS="$(urls static-analyzer)" DYNAMIC_ANALYZER_URLS="$(urls dynamic-analyzer)"
           PERF_TESTER_URLS="$(urls performance-tester)" AI_ANALYZER_URLS="$(urls ai-analyzer)"
           GENERATOR_URLS="$(urls generator)")

# s_run NAME BINARY: one pipeline, checked line by line as test_embed does.
s_run() {
  local name=$1 binary=$2 rc=0
  env "${fleet_env[@]}" LD_LIBRARY_PATH="$lib" timeout 60 "$binary" --data-dir "$tmp/data-$name" \
    --timeout-ms 30000 --set progress/listen= --set pipeline/backoff_initial_ms=50 \
    --set pipeline/backoff_max_ms=100 >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  local out id
  out=$(cat "$tmp/$name.out")
  id=$(awk '$1 == "started" {print $2}' <<<"$out")
  [ "$rc" = 0 ] || { cat "$tmp/$name.out" "$tmp/$name.err"; fail "$name exited $rc, expected 0"; }
  [[ "$id" == p* ]] || fail "$name printed no pipeline id"
  grep -qE "^event pipeline.status seq=[1-9][0-9]* pipeline=$id status=completed$" <<<"$out" ||
    fail "$name: no final pipeline.status event for $id"
  [ "$(grep -cE "^task $id-t[0-9]+ [a-z-]+ app=[0-9]+ succeeded attempts=[0-9]+$" <<<"$out")" = 5 ] ||
    fail "$name: not 5 succeeded tasks: $out"
  [ "$(grep -c '^task ' <<<"$out")" = 5 ] || fail "$name: not 5 tasks"
  [ "$(tail -n 1 <<<"$out")" = "pipeline $id completed" ] || fail "$name: last line"
  [ -f "$tmp/data-$name/LOCK" ] || fail "$name: no store in its data directory"
  echo "$name: pipeline $id completed, 5 tasks succeeded"
}
s_run shared ./embed_host
s_run static ./embed_host_static

# DESTDIR: everything lands under it, the prefix as configured on the command.
DESTDIR=$tmp/dest "$cmake" --install "$build" --prefix /opt/sluice-install-test >"$tmp/dest.log"
[ -x "$tmp/dest/opt/sluice-install-test/$SL_BINDIR/sluiced" ] || fail "DESTDIR: sluiced not under DESTDIR"
grep -qx "prefix=/opt/sluice-install-test" "$tmp/dest/opt/sluice-install-test/$SL_LIBDIR/pkgconfig/sluice.pc" ||
  fail "DESTDIR: sluice.pc's prefix is not the install prefix"

echo "1 passed, 0 failed"
