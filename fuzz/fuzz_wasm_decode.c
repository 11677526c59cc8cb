/* fuzz_wasm_decode.c -- arbitrary bytes through icxWasm_decode and
 * icxWasm_validate, with the optional features off and on.
 *
 * Checks, besides "no crash, no sanitizer report":
 *  - statuses are the documented ones (decode: OK, EMALFORMED, ENOMEM, and
 *    EINVALID for a non-constant constant expression, see wasm_decode.c;
 *    validate: OK, EINVALID, ENOMEM, and EMALFORMED for a function body that
 *    does not decode, as bodies are first read by the validator), *out is
 *    NULL on error, a failure has a message;
 *  - nothing leaks and every free/realloc passes the block's real size
 *    (the checking allocator of fuzz_util.c);
 *  - validation is repeatable (same status and message twice);
 *  - features only add: a module that decodes and validates with no
 *    optional feature also does with ICX_FEAT_DEFAULT;
 *  - out of memory: the run is repeated with one allocation failing (which
 *    one is derived from the input); the result must then be ENOMEM, with
 *    no leak. */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "fuzz_util.h"
#include "wasm.h"

#define ALLOC_LIMIT ((size_t)512 << 20)

typedef struct Result {
  icx_status decode, validate; /* validate is ICX_OK if decode failed */
  uint64_t attempts;           /* allocations tried by decode + one validate */
  char msg[ICX_ERRMSG_MAX];
} Result;

static void check_msg(const icxErr *err, const char *what) {
  if (memchr(err->msg, 0, sizeof err->msg) == NULL) fuzz_fail("%s: message not terminated", what);
  if (err->msg[0] == 0) fuzz_fail("%s: failed with status %d and no message", what, err->status);
}

static void run(const uint8_t *data, size_t size, uint32_t feat, fuzzAlloc *fa, Result *res) {
  icxAllocator a = fuzz_allocator(fa);
  icxModule *m = (icxModule *)(uintptr_t)1; /* must be overwritten */
  icxErr err;
  memset(&err, 0, sizeof err);
  memset(res, 0, sizeof *res);
  res->decode = icxWasm_decode(&a, data, size, feat, &m, &err);
  if (res->decode != ICX_OK) {
    /* EINVALID: a constant expression that is not constant (wasm_decode.c) */
    if (res->decode != ICX_EMALFORMED && res->decode != ICX_EINVALID && res->decode != ICX_ENOMEM)
      fuzz_fail("decode returned status %d (%s)", res->decode, err.msg);
    if (m != NULL) fuzz_fail("decode failed (%d) but *out is not NULL", res->decode);
    if (err.status != res->decode)
      fuzz_fail("decode returned %d, err.status is %d", res->decode, err.status);
    check_msg(&err, "decode");
    memcpy(res->msg, err.msg, sizeof res->msg);
    res->attempts = fa->attempts;
    return;
  }
  if (m == NULL) fuzz_fail("decode returned ICX_OK and a NULL module");
  if (m->features != feat) fuzz_fail("module features %#x, decoded with %#x", m->features, feat);
  res->validate = icxWasm_validate(m, &err);
  if (res->validate != ICX_OK) {
    /* function bodies are first read by the validator: EMALFORMED too */
    if (res->validate != ICX_EINVALID && res->validate != ICX_EMALFORMED &&
        res->validate != ICX_ENOMEM)
      fuzz_fail("validate returned status %d (%s)", res->validate, err.msg);
    check_msg(&err, "validate");
    memcpy(res->msg, err.msg, sizeof res->msg);
  }
  res->attempts = fa->attempts;
  if (!fa->fail_at) {
    /* validation is a pure function of the module */
    icxErr err2;
    memset(&err2, 0, sizeof err2);
    icx_status v2 = icxWasm_validate(m, &err2);
    if (v2 != res->validate || (v2 != ICX_OK && strcmp(err2.msg, res->msg) != 0))
      fuzz_fail("validate not repeatable: %d \"%s\" then %d \"%s\"", res->validate, res->msg, v2,
                err2.msg);
  }
  icxWasm_module_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint32_t feats[2] = {0, ICX_FEAT_DEFAULT};
  Result res[2];
  for (int i = 0; i < 2; i++) {
    fuzzAlloc fa;
    memset(&fa, 0, sizeof fa);
    fa.limit = ALLOC_LIMIT;
    run(data, size, feats[i], &fa, &res[i]);
    fuzz_check_no_leaks(&fa, "decode+validate");
    if (fa.failed) continue; /* hit ALLOC_LIMIT: ENOMEM is the right answer */

    /* the same again with one allocation failing */
    if (res[i].attempts > 0) {
      uint64_t h = fuzz_hash(FUZZ_HASH_INIT, data, size);
      fuzzAlloc fb;
      Result r2;
      memset(&fb, 0, sizeof fb);
      fb.limit = ALLOC_LIMIT;
      fb.fail_at = 1 + h % res[i].attempts;
      fb.poison = 1;
      run(data, size, feats[i], &fb, &r2);
      fuzz_check_no_leaks(&fb, "decode+validate after an allocation failure");
      icx_status final = r2.decode != ICX_OK ? r2.decode : r2.validate;
      if (fb.failed && final != ICX_ENOMEM)
        fuzz_fail("allocation %llu of %llu failed, but the result is %d (%s)",
                  (unsigned long long)fb.fail_at, (unsigned long long)res[i].attempts, final,
                  r2.msg);
      if (!fb.failed) fuzz_fail("allocation count not repeatable");
    }
  }
  int ok0 = res[0].decode == ICX_OK && res[0].validate == ICX_OK;
  int ok1 = res[1].decode == ICX_OK && res[1].validate == ICX_OK;
  if (ok0 && !ok1 && res[1].decode != ICX_ENOMEM && res[1].validate != ICX_ENOMEM)
    fuzz_fail("valid without optional features, rejected with them: %s", res[1].msg);
  return 0;
}
