#!/bin/sh
# run.sh -- run every tests/drun/NAME.drun with icexec-drun and compare.
#
#   run.sh DRUN WASM_DIR TEST_DIR [NAME...]
#
# Each script runs in WASM_DIR (its wasm paths are relative to it, as drun
# resolves them against its working directory), with stdout and stderr
# merged as the Motoko harness does (`>&`).  Checks, per script:
#   1. determinism: a second run prints exactly the same bytes (debug-print
#      timestamps and raw_rand answers included);
#   2. the output, normalised like the Motoko harness does (the debug-print
#      prefix "<time> UTC: [Canister <id>]" becomes "debug.print:") and
#      followed by "[exit N]" when the status is not 0, equals NAME.ok.
# Header lines of a script:
#   # needs: motoko          skipped when ICX_SKIP_MOTOKO=1
#   # APPLICATION-SUBNET     run with --subnet-type application (the Motoko
#                            suite's tag)
#   # ARGS: ...              more options for icexec-drun
set -u
[ $# -ge 3 ] || { echo "usage: run.sh DRUN WASM_DIR TEST_DIR [NAME...]" >&2; exit 2; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
drun=$(abs "$1") wasm_dir=$2 test_dir=$(abs "$3")
shift 3
out_dir=$(abs "$wasm_dir")/out
mkdir -p "$out_dir" || exit 2
[ -x "$drun" ] || { echo "run.sh: $drun is not built" >&2; exit 2; }

if [ $# -gt 0 ]; then
  names=$*
else
  names=$(cd "$test_dir" && ls *.drun | sed 's/\.drun$//')
fi

pass=0 fail=0 skip=0
for name in $names; do
  script=$test_dir/$name.drun
  if grep -q '^# needs: motoko' "$script" && [ "${ICX_SKIP_MOTOKO:-}" = 1 ]; then
    echo "== drun $name: skipped (ICX_SKIP_MOTOKO=1)"
    skip=$((skip + 1))
    continue
  fi
  flags=$(sed -n 's/^# ARGS: *//p' "$script" | tr '\n' ' ')
  if grep -q '^# APPLICATION-SUBNET' "$script"; then
    flags="$flags --subnet-type application"
  fi
  ok=1
  for run in 1 2; do
    # shellcheck disable=SC2086
    (cd "$wasm_dir" && "$drun" $flags "$script") >"$out_dir/$name.raw$run" 2>&1
    echo $? >"$out_dir/$name.rc$run"
  done
  if ! cmp -s "$out_dir/$name.raw1" "$out_dir/$name.raw2" ||
     ! cmp -s "$out_dir/$name.rc1" "$out_dir/$name.rc2"; then
    echo "== drun $name: FAIL: two runs differ"
    diff -u "$out_dir/$name.raw1" "$out_dir/$name.raw2" | head -20
    ok=0
  fi
  rc=$(cat "$out_dir/$name.rc1")
  {
    sed 's/^.*\[Canister [0-9a-z-]*\]/debug.print:/' "$out_dir/$name.raw1"
    [ "$rc" = 0 ] || echo "[exit $rc]"
  } >"$out_dir/$name.out"
  if [ -f "$test_dir/$name.ok" ]; then
    if ! diff -u --label "$name.ok (expected)" "$test_dir/$name.ok" \
         --label "$name (actual)" "$out_dir/$name.out"; then
      echo "== drun $name: FAIL: output differs from $name.ok"
      ok=0
    fi
  fi
  if [ $ok = 1 ]; then
    echo "== drun $name: ok"
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
  fi
done
echo "drun-check: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
