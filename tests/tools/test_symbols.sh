#!/usr/bin/env bash
# libsluice.so exports exactly the public API: its defined dynamic symbols
# are the functions sluice.h declares SLUICE_EXPORT, nothing internal leaks
# (everything else is built with hidden visibility), and its SONAME carries
# the major version.
# Usage: test_symbols.sh LIBSLUICE_SO SLUICE_H EXPECTED_SONAME
set -euo pipefail
lib=$1 header=$2 soname=$3
exported=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u)
declared=$(grep -oE '^SLUICE_EXPORT [^(]*\bsluice_[a-z_]+\(' "$header" |
           grep -oE 'sluice_[a-z_]+\($' | tr -d '(' | sort -u)
fail=0
leaked=$(grep -v '^sluice_' <<<"$exported" || true)
if [ -n "$leaked" ]; then
  echo "symbols leak from $lib (not sluice_*):"; echo "$leaked" | head -50; fail=1
fi
if [ -z "$declared" ]; then
  echo "no SLUICE_EXPORT declarations found in $header"; fail=1
fi
extra=$(comm -23 <(echo "$exported") <(echo "$declared"))
missing=$(comm -13 <(echo "$exported") <(echo "$declared"))
if [ -n "$extra" ]; then
  echo "exported but not declared SLUICE_EXPORT in sluice.h:"; echo "$extra"; fail=1
fi
if [ -n "$missing" ]; then
  echo "declared SLUICE_EXPORT in sluice.h but not exported:"; echo "$missing"; fail=1
fi
got=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
if [ "$got" != "$soname" ]; then
  echo "SONAME is '$got', expected '$soname'"; fail=1
fi
[ "$fail" = 0 ] || exit 1
echo "$(wc -l <<<"$exported") symbols, all declared in sluice.h; SONAME $got"
echo "1 passed, 0 failed"
