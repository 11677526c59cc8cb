#!/bin/sh
# check_abi.sh -- the binary interface of the built libraries.
#
#   check_abi.sh LIB.so LIB.a SONAME SYMBOLS.txt [sanitized]
#
# Checks that
#  1. the shared library exports only icx_* symbols (plus the ELF
#     bookkeeping symbols _init, _fini, _edata, _end, __bss_start);
#  2. those are exactly the ones listed in SYMBOLS.txt (docs/abi/symbols.txt);
#  3. the soname is SONAME;
#  4. no object in the static library defines writable data (.data, .bss,
#     TLS or common symbols): the library has no global mutable state.
#     Relocated read-only data (.data.rel.ro) is allowed.  Skipped when the
#     fifth argument is "sanitized": the sanitizers add their own data.
# Exit status 0 if all hold.
set -u
so=$1 a=$2 soname=$3 list=$4 mode=${5:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "check_abi: FAIL: $*"; fail=1; }

# 1 + 2: exported symbols.
nm -D --defined-only "$so" | awk '{print $NF}' | sort -u >"$tmp/all"
grep -v -E '^(_init|_fini|_edata|_end|__bss_start)$' "$tmp/all" >"$tmp/exports"
if grep -v '^icx_[a-z0-9_]*$' "$tmp/exports" >"$tmp/stray"; then
  bad "symbols exported that are not icx_*:"
  sed 's/^/    /' "$tmp/stray"
fi
grep -v -e '^#' -e '^$' "$list" | sort -u >"$tmp/listed"
if ! diff -u "$tmp/listed" "$tmp/exports" >"$tmp/diff"; then
  bad "exports differ from $list (- listed, + exported):"
  sed -n '3,$p' "$tmp/diff" | grep '^[-+]' | sed 's/^/    /'
fi
echo "check_abi: $(wc -l <"$tmp/exports") exported symbols"

# 3: soname.
got=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$got" = "$soname" ] || bad "soname is '$got', expected '$soname'"
echo "check_abi: soname $got"

# 4: writable data in the static library's objects.
if [ "$mode" = sanitized ]; then
  echo "check_abi: writable-data check skipped for a sanitized build"
  [ $fail -eq 0 ] && echo "check_abi: ok"
  exit $fail
fi
objdump -t "$a" >"$tmp/syms" 2>/dev/null || bad "objdump -t $a failed"
awk '
  /^In archive/ { next }
  /:[ \t]+file format/ { obj = $1; sub(/:$/, "", obj); next }
  NF >= 5 && $0 ~ /^[0-9a-f]+ / {
    # columns: value, flags (several chars), section, size, name
    for (i = 2; i <= NF; i++) if ($i ~ /^(\.|\*)/) { sec = $i; break }
    name = $NF
    if (sec ~ /^\.data\.rel\.ro/) next
    if (name == sec) next  # the section symbol itself
    if (sec ~ /^\.(tdata|tbss)(\.|$)/ ||
        ((sec ~ /^\.(data|bss)(\.|$)/ || sec == "*COM*") && $0 ~ / O /))
      print obj ": " name " (" sec ")"
  }' "$tmp/syms" >"$tmp/writable"
if [ -s "$tmp/writable" ]; then
  bad "writable global or static data in $a:"
  sed 's/^/    /' "$tmp/writable"
fi
echo "check_abi: $(grep -c "file format" "$tmp/syms") objects checked for writable data"

[ $fail -eq 0 ] && echo "check_abi: ok"
exit $fail
