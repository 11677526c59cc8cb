#!/bin/sh
# check_docs.sh -- every function the header exports (ICX_API) is listed in
# docs/abi/symbols.txt and has its own entry ("### `... name(`") in
# docs/api.md; the list and the header agree both ways.
set -u
hdr=include/icexec.h sym=docs/abi/symbols.txt api=docs/api.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n 's/^ICX_API.*[ *]\(icx_[a-z0-9_]*\)(.*/\1/p' "$hdr" | sort -u >"$tmp/hdr"
grep -v -e '^#' -e '^$' "$sym" | sort -u >"$tmp/sym"
fail=0
if ! diff "$tmp/sym" "$tmp/hdr" >"$tmp/diff"; then
  echo "check_docs: $sym and the ICX_API functions of $hdr differ (< list only, > header only):"
  cat "$tmp/diff"
  fail=1
fi
n=0
for f in $(cat "$tmp/hdr"); do
  n=$((n + 1))
  grep -q "^### \`[^\`]*[ *]$f(" "$api" || { echo "check_docs: $api has no entry for $f"; fail=1; }
done
[ "$n" -gt 0 ] || { echo "check_docs: no ICX_API function found in $hdr"; fail=1; }
[ $fail -eq 0 ] && echo "check_docs: $n functions, each in $sym and $api"
exit $fail
