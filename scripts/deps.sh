#!/bin/sh
# deps.sh -- make sure the build and test dependencies are installed.
#
# Called by make before building (once per top-level make; ICX_SKIP_DEPS=1
# skips it).  A fast no-op when everything is present.  On Debian/Ubuntu it
# installs what is missing with apt-get (through sudo when not root); on other
# systems it only reports what is missing.  Exit status 0 = all present.
set -u

PKGS="libb2-dev libsodium-dev libcmocka-dev zlib1g-dev wabt clang lld binaryen
libclang-rt-14-dev pkg-config valgrind python3"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    case "$st" in
      *"install ok installed"*) ;;
      *) missing="$missing $p" ;;
    esac
  done
  # node and npm run the Motoko compiler (tests/motoko.mk).  Checked as
  # commands: any installation will do (Debian's nodejs + npm, or NodeSource's
  # nodejs, which bundles npm and conflicts with Debian's npm package).
  if [ "${ICX_SKIP_MOTOKO:-0}" != 1 ] &&
     ! { command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; }; then
    missing="$missing nodejs npm"
  fi
else
  # Not a dpkg system: check the commands and headers we use directly.
  node_cmds="node npm"
  [ "${ICX_SKIP_MOTOKO:-0}" = 1 ] && node_cmds=""
  for c in cc clang wat2wasm wast2json pkg-config python3 $node_cmds; do
    command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
  done
  for h in sodium.h blake2.h zlib.h cmocka.h; do
    printf '#include <stdarg.h>\n#include <stddef.h>\n#include <setjmp.h>\n#include <stdint.h>\n#include <%s>\n' "$h" |
      cc -E -x c - >/dev/null 2>&1 || missing="$missing $h"
  done
  if [ -n "$missing" ]; then
    echo "deps.sh: missing:$missing (install them with your package manager)" >&2
    exit 1
  fi
  exit 0
fi

[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "deps.sh: not root and no sudo; install:$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
$SUDO apt-get update -q >&2 || exit 1
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2 || exit 1
echo "deps.sh: done" >&2
