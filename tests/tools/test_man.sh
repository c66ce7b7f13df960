#!/usr/bin/env bash
# The man pages render without a groff warning, carry the version, and name
# every long option the programs' --help texts list (each sluicectl and
# sluice-bench command's too) and every configuration key sluiced has
# (sluiced.8), so a new option or key without its documentation fails here.
# Usage: test_man.sh MAN_DIR VERSION SLUICED SLUICECTL MOCK KEYGEN BENCH
set -euo pipefail
man_dir=$1 version=$2 sluiced=$3 ctl=$4 mock=$5 keygen=$6 bench=$7
fail=0
err=$(mktemp /tmp/sluice-man.XXXXXX)
trap 'rm -f "$err"' EXIT

for page in sluiced.8 sluicectl.1 sluice-mock-analyzer.1 sluice-keygen.1 sluice-bench.1; do
  out=$(LC_ALL=C MANWIDTH=80 man --warnings -l "$man_dir/$page" 2>"$err") || {
    echo "$page: man -l failed"; cat "$err"; fail=1; continue; }
  if [ -s "$err" ]; then echo "$page: warnings:"; cat "$err"; fail=1; fi
  grep -q "^NAME" <<<"$out" || { echo "$page: no NAME section rendered"; fail=1; }
  grep -q "sluice $version" <<<"$out" || { echo "$page: footer lacks 'sluice $version'"; fail=1; }
done

# The page's text with troff escapes taken out: \- is -, fonts and \& go.
s_text() {
  sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' "$man_dir/$1"
}

# s_options PAGE HELP...: every --option in the help texts is in PAGE.
s_options() {
  local page=$1; shift
  local text opts
  text=$(s_text "$page")
  opts=$(printf '%s\n' "$@" | { grep -oE -- '--[a-z][a-z0-9-]*' || true; } | sort -u)
  for o in $opts; do
    grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|\$)" <<<"$text" ||
      { echo "tools/man/$page does not name $o (from --help): document it there"; fail=1; }
  done
}

# Commands of a --help text: the indented words under "commands:".
s_commands() {
  awk '/^commands:/ {on = 1; next} on && /^$/ {on = 0} on && /^  [a-z]/ {print $1}' <<<"$1"
}

help=$("$ctl" --help)
helps=("$help")
for c in $(s_commands "$help"); do
  helps+=("$("$ctl" "$c" --help 2>&1 || true)")
done
s_options sluicectl.1 "${helps[@]}"

help=$("$bench" --help)
helps=("$help")
for c in $(s_commands "$help"); do
  helps+=("$("$bench" "$c" --help 2>&1 || true)")
done
s_options sluice-bench.1 "${helps[@]}"

s_options sluiced.8 "$("$sluiced" --help)"
s_options sluice-mock-analyzer.1 "$("$mock" --help)"
s_options sluice-keygen.1 "$("$keygen" --help)"

# sluiced.8 names every section and key of the configuration.
text=$(s_text sluiced.8)
keys=$(env -i "$sluiced" --print-config | sed -E 's/^ *([a-z0-9_-]+).*/\1/' | sort -u)
services=$(env -i "$sluiced" --print-config |
           awk '/^services/ {on = 1; next} /^[^ ]/ {on = 0} on && /^    [^ ]/ {print $1}')
for k in $keys; do
  if grep -qx -- "$k" <<<"$services"; then
    continue # a service's name, listed under services/NAME
  fi
  grep -qE -- "(^|[^a-z0-9_])$k([^a-z0-9_]|\$)" <<<"$text" ||
    { echo "tools/man/sluiced.8 does not name the configuration key or section '$k': add it under CONFIGURATION"; fail=1; }
done
for s in $services; do
  grep -qE -- "(^|[^a-z0-9_-])$s([^a-z0-9_-]|\$)" <<<"$text" ||
    { echo "sluiced.8 does not name the service '$s'"; fail=1; }
done

[ "$fail" = 0 ] || exit 1
echo "1 passed, 0 failed"
