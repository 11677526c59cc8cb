/* fuzz_candid.c -- arbitrary bytes through the Candid decoder (generic and
 * with the management canister's expected types) and the encoder.
 *
 * Checks, besides "no crash, no sanitizer report":
 *  - statuses are the documented ones (OK, EMALFORMED, EINVAL, ELIMIT,
 *    ENOMEM), *out is NULL and a message is set on error;
 *  - nothing leaks; every free/realloc passes the block's real size;
 *  - a message that decodes generically re-encodes, the re-encoding decodes,
 *    and encoding that again gives the same bytes (encode is a fixpoint);
 *  - decoding is repeatable (same status twice);
 *  - out of memory: one allocation (chosen from the input) fails; the result
 *    must then be ENOMEM, with no leak. */
#include <stdio.h>
#include <string.h>

#include "candid_mgmt.h"
#include "fuzz_util.h"

#define ALLOC_LIMIT ((size_t)64 << 20)

static const icxCandidLimits LIMITS = {64, 200000, (size_t)16 << 20};

static void check_status(icx_status rc, const icxErr *err, const char *what) {
  if (rc != ICX_OK && rc != ICX_EMALFORMED && rc != ICX_EINVAL && rc != ICX_ELIMIT &&
      rc != ICX_ENOMEM)
    fuzz_fail("%s: status %d (%s)", what, rc, err->msg);
  if (rc != ICX_OK) {
    if (memchr(err->msg, 0, sizeof err->msg) == NULL) fuzz_fail("%s: message not terminated", what);
    if (err->msg[0] == 0) fuzz_fail("%s: status %d without a message", what, rc);
  }
}

/* Generic decode, then the encode fixpoint. */
static icx_status generic_roundtrip(const icxAllocator *a, const uint8_t *data, size_t size) {
  icxCandidDoc *doc = (icxCandidDoc *)(uintptr_t)1;
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status rc = icxCandid_decode(a, data, size, NULL, NULL, 0, &LIMITS, &doc, &err);
  check_status(rc, &err, "decode");
  if (rc != ICX_OK) {
    if (doc != NULL) fuzz_fail("decode failed but *out is not NULL");
    return rc;
  }
  uint8_t *e1 = NULL, *e2 = NULL;
  size_t n1 = 0, n2 = 0;
  rc = icxCandid_encode(a, &doc->wire, doc->wire_args, doc->args, doc->nargs, &e1, &n1, &err);
  check_status(rc, &err, "encode");
  if (rc == ICX_OK) {
    icxCandidDoc *d2 = NULL;
    rc = icxCandid_decode(a, e1, n1, NULL, NULL, 0, &LIMITS, &d2, &err);
    if (rc != ICX_OK && rc != ICX_ENOMEM && rc != ICX_ELIMIT)
      fuzz_fail("re-encoded message does not decode: %d %s", rc, err.msg);
    if (rc == ICX_OK) {
      rc = icxCandid_encode(a, &d2->wire, d2->wire_args, d2->args, d2->nargs, &e2, &n2, &err);
      if (rc == ICX_OK && (n1 != n2 || memcmp(e1, e2, n1) != 0))
        fuzz_fail("encoding is not a fixpoint (%zu vs %zu bytes)", n1, n2);
      if (rc != ICX_OK && rc != ICX_ENOMEM && rc != ICX_ELIMIT)
        fuzz_fail("second encode failed: %d %s", rc, err.msg);
      icxCore_free(a, e2, n2);
      icxCandidDoc_free(d2);
    }
    icxCore_free(a, e1, n1);
  }
  icxCandidDoc_free(doc);
  return rc;
}

/* The typed management decoders. */
static icx_status typed(const icxAllocator *a, const uint8_t *data, size_t size) {
  icxMgmtTypes m;
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status rc = icxMgmt_types_init(&m, a, &err);
  if (rc != ICX_OK) {
    if (rc != ICX_ENOMEM) fuzz_fail("types_init: %d", rc);
    return rc;
  }
  icx_status worst = ICX_OK;
  icxInstallCodeArgs ia;
  rc = icxMgmt_decode_install_code(&m, data, size, &ia, &err);
  check_status(rc, &err, "install_code");
  if (rc == ICX_ENOMEM) worst = rc;
  if (rc == ICX_OK && (ia.mode < 0 || ia.mode > 2 || ia.canister_id.len > 29 ||
                       (ia.wasm_module_len && (ia.wasm_module < data || ia.wasm_module + ia.wasm_module_len > data + size))))
    fuzz_fail("install_code: inconsistent result");
  icxCreateCanisterArgs ca;
  rc = icxMgmt_decode_provisional_create(&m, data, size, &ca, &err);
  check_status(rc, &err, "provisional_create");
  if (rc == ICX_ENOMEM) worst = rc;
  rc = icxMgmt_decode_create_canister(&m, data, size, &ca, &err);
  check_status(rc, &err, "create_canister");
  if (rc == ICX_ENOMEM) worst = rc;
  icx_principal p;
  icxCanisterSettings cs;
  rc = icxMgmt_decode_update_settings(&m, data, size, &p, &cs, &err);
  check_status(rc, &err, "update_settings");
  if (rc == ICX_ENOMEM) worst = rc;
  icxU128 amt;
  rc = icxMgmt_decode_top_up(&m, data, size, &p, &amt, &err);
  check_status(rc, &err, "top_up");
  if (rc == ICX_ENOMEM) worst = rc;
  /* canister_status reply for the decoded settings must encode */
  if (rc == ICX_OK) {
    icxCanisterStatus st;
    memset(&st, 0, sizeof st);
    st.log_visibility = ICX_LOG_VIS_PUBLIC;
    st.ncontrollers = 1;
    st.controllers[0] = p;
    st.cycles = amt;
    uint8_t *out;
    size_t n;
    rc = icxMgmt_encode_canister_status(&m, a, &st, &out, &n, &err);
    if (rc == ICX_OK) icxCore_free(a, out, n);
    else if (rc != ICX_ENOMEM) fuzz_fail("canister_status encode: %d %s", rc, err.msg);
    else worst = rc;
  }
  icxMgmt_types_free(&m);
  return worst;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.limit = ALLOC_LIMIT;
  icxAllocator a = fuzz_allocator(&fa);
  icx_status g1 = generic_roundtrip(&a, data, size);
  icx_status t1 = typed(&a, data, size);
  fuzz_check_no_leaks(&fa, "candid");
  if (fa.failed) return 0;
  uint64_t attempts = fa.attempts;
  /* repeatable */
  icx_status g2 = generic_roundtrip(&a, data, size);
  if (g1 != g2) fuzz_fail("decode not repeatable: %d then %d", g1, g2);
  (void)t1;
  fuzz_check_no_leaks(&fa, "candid (repeat)");
  if (attempts == 0) return 0;
  /* one allocation fails */
  fuzzAlloc fb;
  memset(&fb, 0, sizeof fb);
  fb.limit = ALLOC_LIMIT;
  fb.poison = 1;
  fb.fail_at = 1 + fuzz_hash(FUZZ_HASH_INIT, data, size) % attempts;
  icxAllocator b = fuzz_allocator(&fb);
  icx_status g3 = generic_roundtrip(&b, data, size);
  icx_status t3 = typed(&b, data, size);
  fuzz_check_no_leaks(&fb, "candid after an allocation failure");
  if (fb.failed && g3 != ICX_ENOMEM && t3 != ICX_ENOMEM)
    fuzz_fail("allocation %llu failed, but no call reported ENOMEM (%d, %d)",
              (unsigned long long)fb.fail_at, g3, t3);
  return 0;
}
