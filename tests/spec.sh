#!/bin/sh
# spec.sh -- build the spec-test runner if needed, convert the WebAssembly
# spec tests (wast2json, through the suite's convert.sh) and run them.
#
# usage: tests/spec.sh [spec_runner options] [FILE.wast ...]
#   e.g. tests/spec.sh                       # the whole suite
#        tests/spec.sh i32.wast proposals/memory64/load64.wast
#        tests/spec.sh --max-failures 100 -j 1 br_table.wast
#
# Environment:
#   SPEC_SUITE   the .wast folder with convert.sh
#                (default: tests/testsuite if present, else ../shared/testsuite
#                next to the source tree, as the Makefile's SHARED)
#   SPEC_OUT     conversion output folder (default: build/spec)
#   SPEC_RUNNER  runner binary (default: build/spec_runner, brought up to date
#                with `make build/spec_runner`, or without a Makefile built
#                here with $CC when missing or older than its sources)
#   CC, CFLAGS, LDLIBS   for the fallback build (no Makefile)
#
# Prints one line per file and ends with "spec: P passed, F failed, S
# skipped"; exits 0 iff nothing failed (see tests/spec_runner.c).
set -u

root=$(cd "$(dirname "$0")/.." && pwd) || exit 2
cd "$root" || exit 2

if [ -z "${SPEC_SUITE:-}" ]; then
    if [ -f tests/testsuite/convert.sh ]; then
        SPEC_SUITE=tests/testsuite
    else
        SPEC_SUITE=$root/../shared/testsuite
    fi
fi
SPEC_OUT=${SPEC_OUT:-build/spec}

if [ ! -f "$SPEC_SUITE/convert.sh" ]; then
    echo "spec.sh: no convert.sh in $SPEC_SUITE (set SPEC_SUITE)" >&2
    exit 2
fi

if [ -z "${SPEC_RUNNER:-}" ]; then
    SPEC_RUNNER=build/spec_runner
    if [ -f Makefile ] && make -n build/spec_runner >/dev/null 2>&1; then
        # make rebuilds only what changed
        make --no-print-directory build/spec_runner >&2 || exit 2
    else
        stale=0
        if [ ! -x "$SPEC_RUNNER" ]; then
            stale=1
        elif [ -n "$(find tests/spec_*.c tests/spec_*.h lib include -name '*.[ch]' \
                     -newer "$SPEC_RUNNER" 2>/dev/null | head -n 1)" ]; then
            stale=1
        fi
        if [ $stale -eq 1 ]; then
            mkdir -p build || exit 2
            CC=${CC:-gcc}
            CFLAGS=${CFLAGS:--std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes}
            echo "spec.sh: building $SPEC_RUNNER" >&2
            # shellcheck disable=SC2086  # flags are intentionally word-split
            $CC $CFLAGS -Iinclude -Ilib -o "$SPEC_RUNNER" tests/spec_*.c lib/*.c \
                ${LDLIBS:--lsodium -lb2 -lz -lm} || exit 2
        fi
    fi
fi

skip=""
if [ -f tests/spec_skip.txt ]; then
    skip="--skip tests/spec_skip.txt"
fi

# shellcheck disable=SC2086  # $skip is intentionally word-split
exec "$SPEC_RUNNER" --suite "$SPEC_SUITE" --out "$SPEC_OUT" $skip "$@"
