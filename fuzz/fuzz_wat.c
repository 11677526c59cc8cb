/* fuzz_wat.c -- arbitrary text through icxWat_to_wasm (the WAT parser), with
 * the optional features off and on.
 *
 * Checks, besides "no crash, no sanitizer report, no runaway recursion":
 *  - the status is ICX_OK, ICX_EMALFORMED or ICX_ENOMEM; on an error the
 *    output is NULL/0 and the message is set (EMALFORMED: "line L col C: ...");
 *  - a text module that parses encodes a binary that icxWasm_decode does not
 *    call malformed (validation may still fail: the parser does not
 *    type-check; the decoder already rejects non-constant constant
 *    expressions with ICX_EINVALID).  Inputs
 *    containing the keywords `binary` or `quote` are exempt: (module binary
 *    ...) returns its bytes as they are;
 *  - parsing is deterministic (same status, message and bytes twice);
 *  - features only add: text that parses without them parses with them to
 *    the same bytes;
 *  - nothing leaks, every free passes the real size (fuzz_util.c);
 *  - out of memory: the run is repeated with one allocation failing (chosen
 *    from the input); the result must then be ICX_ENOMEM, with no leak. */
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "fuzz_util.h"
#include "wasm.h"
#include "wat.h"

#define ALLOC_LIMIT ((size_t)512 << 20)

typedef struct Result {
  icx_status rc;
  uint8_t *bytes; /* from the run's allocator */
  size_t len;
  char msg[ICX_ERRMSG_MAX];
} Result;

static void run(const uint8_t *data, size_t size, uint32_t feat, fuzzAlloc *fa, Result *res) {
  icxAllocator a = fuzz_allocator(fa);
  icxErr err;
  memset(&err, 0, sizeof err);
  memset(res, 0, sizeof *res);
  res->bytes = (uint8_t *)(uintptr_t)1; /* must be overwritten */
  res->len = 12345;
  res->rc = icxWat_to_wasm(&a, (const char *)data, size, feat, &res->bytes, &res->len, &err);
  if (res->rc == ICX_OK) {
    if (!res->bytes || res->len == 0) fuzz_fail("OK with %zu output bytes", res->len);
    return;
  }
  if (res->rc != ICX_EMALFORMED && res->rc != ICX_ENOMEM)
    fuzz_fail("icxWat_to_wasm returned status %d (%s)", res->rc, err.msg);
  if (res->bytes != NULL || res->len != 0) fuzz_fail("failed (%d) but the output is set", res->rc);
  if (err.status != res->rc) fuzz_fail("returned %d, err.status is %d", res->rc, err.status);
  if (memchr(err.msg, 0, sizeof err.msg) == NULL) fuzz_fail("message not terminated");
  if (res->rc == ICX_EMALFORMED && strncmp(err.msg, "line ", 5) != 0)
    fuzz_fail("malformed-text message without a position: \"%s\"", err.msg);
  memcpy(res->msg, err.msg, sizeof res->msg);
}

static int contains(const uint8_t *data, size_t size, const char *word) {
  size_t n = strlen(word);
  for (size_t i = 0; i + n <= size; i++)
    if (memcmp(data + i, word, n) == 0) return 1;
  return 0;
}

/* The output of a text module must not be malformed binary. */
static void check_decodes(const Result *r, uint32_t feat) {
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.limit = ALLOC_LIMIT;
  icxAllocator a = fuzz_allocator(&fa);
  icxModule *m = NULL;
  icxErr err;
  icx_status rc = icxWasm_decode(&a, r->bytes, r->len, feat, &m, &err);
  if (rc == ICX_OK) {
    (void)icxWasm_validate(m, &err); /* may fail: no type checking in the parser */
    icxWasm_module_free(m);
  } else if (rc != ICX_EINVALID && (rc != ICX_ENOMEM || !fa.failed)) {
    fuzz_fail("the parser's output does not decode (%d): %s", rc, err.msg);
  }
  fuzz_check_no_leaks(&fa, "decode of the parser's output");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint32_t feats[2] = {0, ICX_FEAT_DEFAULT};
  int raw = contains(data, size, "binary") || contains(data, size, "quote");
  Result res[2];
  fuzzAlloc fas[2];
  for (int i = 0; i < 2; i++) {
    fuzzAlloc *fa = &fas[i];
    memset(fa, 0, sizeof *fa);
    fa->limit = ALLOC_LIMIT;
    run(data, size, feats[i], fa, &res[i]);
    if (fa->failed) {
      if (res[i].rc != ICX_ENOMEM) fuzz_fail("allocation limit hit, status %d", res[i].rc);
      continue;
    }
    if (res[i].rc == ICX_ENOMEM) fuzz_fail("ENOMEM without an allocation failure");
    if (res[i].rc == ICX_OK && !raw) check_decodes(&res[i], feats[i]);

    /* repeatable */
    fuzzAlloc fb;
    Result r2;
    memset(&fb, 0, sizeof fb);
    fb.limit = ALLOC_LIMIT;
    run(data, size, feats[i], &fb, &r2);
    if (r2.rc != res[i].rc || strcmp(r2.msg, res[i].msg) != 0 ||
        (r2.rc == ICX_OK && (r2.len != res[i].len || memcmp(r2.bytes, res[i].bytes, r2.len) != 0)))
      fuzz_fail("not repeatable: %d \"%s\" then %d \"%s\"", res[i].rc, res[i].msg, r2.rc, r2.msg);
    if (r2.rc == ICX_OK) {
      icxAllocator ab = fuzz_allocator(&fb);
      icxCore_free(&ab, r2.bytes, r2.len);
    }
    fuzz_check_no_leaks(&fb, "second parse");

    /* one allocation failing */
    uint64_t attempts = fb.attempts;
    if (attempts > 0) {
      fuzzAlloc fc;
      Result r3;
      memset(&fc, 0, sizeof fc);
      fc.limit = ALLOC_LIMIT;
      fc.fail_at = 1 + fuzz_hash(FUZZ_HASH_INIT, data, size) % attempts;
      fc.poison = 1;
      run(data, size, feats[i], &fc, &r3);
      if (!fc.failed) fuzz_fail("allocation count not repeatable");
      if (r3.rc != ICX_ENOMEM)
        fuzz_fail("allocation %llu of %llu failed, but the status is %d (%s)",
                  (unsigned long long)fc.fail_at, (unsigned long long)attempts, r3.rc, r3.msg);
      fuzz_check_no_leaks(&fc, "parse after an allocation failure");
    }
  }
  if (res[0].rc == ICX_OK && res[1].rc != ICX_OK && res[1].rc != ICX_ENOMEM)
    fuzz_fail("parses without optional features, rejected with them: %s", res[1].msg);
  if (res[0].rc == ICX_OK && res[1].rc == ICX_OK &&
      (res[0].len != res[1].len || memcmp(res[0].bytes, res[1].bytes, res[0].len) != 0))
    fuzz_fail("features changed the bytes of a module that parses without them");
  for (int i = 0; i < 2; i++) {
    if (res[i].rc == ICX_OK) {
      icxAllocator a = fuzz_allocator(&fas[i]);
      icxCore_free(&a, res[i].bytes, res[i].len);
    }
    fuzz_check_no_leaks(&fas[i], "parse");
  }
  return 0;
}
