/* fuzz_instrument.c -- arbitrary bytes through icxInstr_run in both modes.
 *
 * Checks, besides "no crash, no sanitizer report":
 *  - statuses are the documented ones (OK, EMALFORMED, EINVALID,
 *    EREJECTED, ENOMEM), a failure has a message and leaves the result
 *    zeroed;
 *  - on success the output decodes and validates again, the counter global
 *    and decr function indices are in range, and the pass is deterministic
 *    (a second run gives the same bytes);
 *  - nothing leaks and every free passes the block's real size (the
 *    checking allocator of fuzz_util.c), also with one allocation failing. */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "fuzz_util.h"
#include "instrument.h"
#include "wasm.h"

#define ALLOC_LIMIT ((size_t)768 << 20)

static icx_status run(const uint8_t *data, size_t size, uint32_t flags, fuzzAlloc *fa,
                      uint64_t *attempts) {
  icxAllocator a = fuzz_allocator(fa);
  icxInstrOpts o = {flags, ICX_FEAT_DEFAULT, 12345};
  icxInstrResult r;
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status st = icxInstr_run(&a, data, size, &o, &r, &err);
  *attempts = fa->attempts;
  if (st != ICX_OK) {
    if (st != ICX_EMALFORMED && st != ICX_EINVALID && st != ICX_EREJECTED && st != ICX_ENOMEM)
      fuzz_fail("icxInstr_run returned %d (%s)", st, err.msg);
    if (err.msg[0] == 0) fuzz_fail("status %d without a message", st);
    if (r.wasm || r.orig || r.entry || r.data) fuzz_fail("result not zeroed on error");
    return st;
  }
  if (!fa->fail_at) {
    icxModule *m = NULL;
    icxErr e2;
    if (icxWasm_decode(&a, r.wasm, r.wasm_len, ICX_FEAT_DEFAULT, &m, &e2) != ICX_OK)
      fuzz_fail("output does not decode: %s", e2.msg);
    if (icxWasm_validate(m, &e2) != ICX_OK) fuzz_fail("output does not validate: %s", e2.msg);
    if (r.counter_global >= m->nglobals_total || r.decr_func >= m->nfuncs_total)
      fuzz_fail("injected indices out of range");
    icxWasm_module_free(m);
    icxInstrResult r2;
    if (icxInstr_run(&a, data, size, &o, &r2, &e2) != ICX_OK || r2.wasm_len != r.wasm_len ||
        memcmp(r2.wasm, r.wasm, r.wasm_len) != 0)
      fuzz_fail("instrumentation is not deterministic");
    icxInstr_free(&r2);
  }
  icxInstr_free(&r);
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint32_t modes[2] = {0, ICX_INSTR_CANISTER | ICX_INSTR_PROBE};
  for (int i = 0; i < 2; i++) {
    fuzzAlloc fa;
    uint64_t attempts = 0;
    memset(&fa, 0, sizeof fa);
    fa.limit = ALLOC_LIMIT;
    (void)run(data, size, modes[i], &fa, &attempts);
    fuzz_check_no_leaks(&fa, "instrument");
    if (fa.failed || attempts == 0) continue;
    fuzzAlloc fb;
    memset(&fb, 0, sizeof fb);
    fb.limit = ALLOC_LIMIT;
    fb.fail_at = 1 + fuzz_hash(FUZZ_HASH_INIT, data, size) % attempts;
    fb.poison = 1;
    icx_status st = run(data, size, modes[i], &fb, &attempts);
    fuzz_check_no_leaks(&fb, "instrument after an allocation failure");
    if (fb.failed && st != ICX_ENOMEM)
      fuzz_fail("allocation %llu failed, but the result is %d", (unsigned long long)fb.fail_at, st);
  }
  return 0;
}
