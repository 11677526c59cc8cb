#!/bin/sh
# check_install.sh -- `make install` into a temporary prefix (icexec-drun must
# run from it), then build examples/embed.c against the installed files
# through pkg-config, once with the shared library and once with the static
# one, and run both.
#
#   check_install.sh MAKE CC [EXTRA_CFLAGS]
#
# EXTRA_CFLAGS carries the sanitizer flags of a SANITIZE=1 build (the
# program must be built with them to load a sanitized library).
set -u
make=$1 cc=$2 extra=${3:-}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail=0
bad() { echo "check_install: FAIL: $*"; fail=1; }

$make --no-print-directory install PREFIX="$prefix" >"$prefix.log" 2>&1 ||
  { cat "$prefix.log"; rm -f "$prefix.log"; echo "check_install: FAIL: make install"; exit 1; }
rm -f "$prefix.log"
for f in include/icexec.h lib/libicexec.a lib/libicexec.so lib/pkgconfig/icexec.pc bin/icexec-drun; do
  [ -e "$prefix/$f" ] || bad "$f not installed"
done
"$prefix/bin/icexec-drun" --version || bad "icexec-drun --version failed"
so=$(readlink "$prefix/lib/libicexec.so")
real=$(readlink "$prefix/lib/$so")
echo "check_install: libicexec.so -> $so -> $real"
[ -f "$prefix/lib/$real" ] || bad "shared library symlinks are broken"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
ver=$(pkg-config --modversion icexec) || bad "pkg-config cannot read icexec.pc"
hdr=$(sed -n 's/^#define ICX_VERSION_STRING "\(.*\)"/\1/p' include/icexec.h)
[ "$ver" = "$hdr" ] || bad "icexec.pc version '$ver' differs from the header's '$hdr'"

# Shared: the run must load the installed libicexec.so.
flags=$(pkg-config --cflags --libs icexec)
echo "check_install: $cc embed.c $flags"
# shellcheck disable=SC2086
if $cc -std=c11 -Wall -Wextra -Werror $extra -o "$prefix/embed_shared" examples/embed.c $flags; then
  LD_LIBRARY_PATH="$prefix/lib" "$prefix/embed_shared" || bad "embed (shared) failed"
  LD_LIBRARY_PATH="$prefix/lib" ldd "$prefix/embed_shared" | grep -q "$prefix/lib/libicexec.so" ||
    bad "embed (shared) does not load the installed libicexec.so"
else
  bad "building embed.c against the shared library"
fi

# Static: with the shared library removed, -licexec finds libicexec.a and
# --static adds the private dependencies.
rm -f "$prefix"/lib/libicexec.so*
flags=$(pkg-config --static --cflags --libs icexec)
echo "check_install: $cc embed.c $flags"
# shellcheck disable=SC2086
if $cc -std=c11 -Wall -Wextra -Werror $extra -o "$prefix/embed_static" examples/embed.c $flags; then
  "$prefix/embed_static" || bad "embed (static) failed"
else
  bad "building embed.c against the static library"
fi

[ $fail -eq 0 ] && echo "check_install: ok"
exit $fail
