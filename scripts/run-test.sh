#!/bin/sh
# run-test.sh -- run one step of `make check` and record its outcome.
#
#   run-test.sh RESULT_DIR TIMEOUT_S NAME COMMAND [ARG...]
#
# Runs COMMAND with a time limit, keeps its output in RESULT_DIR/NAME.log,
# prints it (long logs: the first and last lines), and writes
# RESULT_DIR/NAME.pass or RESULT_DIR/NAME.fail.  Always exits 0, so that
# every step runs; scripts/check-summary.sh turns the records into the
# final status.
set -u
dir=$1 limit=$2 name=$3
shift 3
mkdir -p "$dir"
log="$dir/$name.log"
rm -f "$dir/$name.pass" "$dir/$name.fail"

start=$(date +%s)
printf '== %s: %s\n' "$name" "$*"
timeout -k 10 "$limit" "$@" >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))

lines=$(wc -l <"$log")
if [ "$lines" -le 200 ]; then
  cat "$log"
else
  head -n 40 "$log"
  printf '   ... (%s lines; full log in %s) ...\n' "$lines" "$log"
  tail -n 100 "$log"
fi

if [ "$rc" -eq 0 ]; then
  : >"$dir/$name.pass"
  printf '== %s: PASS (%ss)\n' "$name" "$secs"
else
  [ "$rc" -eq 124 ] && printf '== %s: timed out after %ss\n' "$name" "$limit"
  echo "$rc" >"$dir/$name.fail"
  printf '== %s: FAIL (status %s, %ss; log %s)\n' "$name" "$rc" "$secs" "$log"
fi
exit 0
