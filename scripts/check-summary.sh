#!/bin/sh
# check-summary.sh -- the verdict of `make check` from scripts/run-test.sh's
# records in RESULT_DIR.  Prints the failed steps and, as its last line,
# "check: N passed, M failed".  Exits 1 if any step failed or none ran.
set -u
dir=$1
pass=0 fail=0 failed=""
for f in "$dir"/*.pass; do
  [ -e "$f" ] && pass=$((pass + 1))
done
for f in "$dir"/*.fail; do
  [ -e "$f" ] || continue
  fail=$((fail + 1))
  n=${f##*/}
  failed="$failed ${n%.fail}"
done
echo
[ -n "$failed" ] && echo "failed steps:$failed (logs in $dir/)"
echo "check: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
