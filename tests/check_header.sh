#!/bin/sh
# check_header.sh -- include/icexec.h is self-contained and clean.
#
#   check_header.sh CC CXX OUTDIR
#
# Compiles a file that includes the header and uses its initialiser macros
# as C99 and C11 (-pedantic) and as C++11 and C++17, all with -Wall -Wextra
# -Werror; checks that the header includes only <stddef.h> and <stdint.h>
# and defines no function-like macro.  Exit status 0 if all hold.
set -u
cc=$1 cxx=$2 out=$3
hdr=include/icexec.h
mkdir -p "$out"
fail=0
bad() { echo "check_header: FAIL: $*"; fail=1; }

incs=$(sed -n 's/^[ \t]*#[ \t]*include[ \t]*//p' "$hdr" | sort | tr '\n' ' ')
[ "$incs" = "<stddef.h> <stdint.h> " ] || bad "$hdr includes $incs(only <stddef.h> <stdint.h> allowed)"
if grep -nE '^[ \t]*#[ \t]*define[ \t]+[A-Za-z_][A-Za-z0-9_]*\(' "$hdr"; then
  bad "$hdr defines a function-like macro (above)"
fi

cat >"$out/use_header.c" <<'EOF'
#include <icexec.h>
/* Use every kind of declaration: types, enums, option-struct initialisers. */
int use_header(void);
int use_header(void) {
  icx_engine_opts opts = ICX_ENGINE_OPTS_INIT;
  icx_call_result res = ICX_CALL_RESULT_INIT;
  icx_value v = {ICX_TYPE_I32, 0, 1};
  icx_engine *e = 0;
  icx_status rc = ICX_OK;
  int32_t n = ICX_VERSION_NUMBER + ICX_STATUS_COUNT + ICX_WASM_PAGE_SIZE;
  (void)e;
  return (int)(opts.struct_size + res.struct_size + v.type + (uint32_t)rc + (uint32_t)n +
               ICX_MODULE_METER + ICX_LIMIT_CALL_DEPTH + ICX_TRAPCODE_NONE);
}
EOF
cp "$out/use_header.c" "$out/use_header.cpp"

for std in c99 c11; do
  if $cc -std=$std -pedantic -Wall -Wextra -Werror -Wstrict-prototypes -Iinclude \
      -c "$out/use_header.c" -o "$out/use_header_$std.o"; then
    echo "check_header: $cc -std=$std -pedantic: ok"
  else
    bad "$cc -std=$std"
  fi
done
for std in c++11 c++17; do
  if $cxx -std=$std -pedantic -Wall -Wextra -Werror -Iinclude \
      -c "$out/use_header.cpp" -o "$out/use_header_$std.o"; then
    echo "check_header: $cxx -std=$std -pedantic: ok"
  else
    bad "$cxx -std=$std"
  fi
done
[ $fail -eq 0 ] && echo "check_header: ok"
exit $fail
