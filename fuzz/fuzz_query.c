/* fuzz_query.c -- arbitrary bytes as queries through the public query API:
 * icx_query on a snapshot of a state with three universal test canisters
 * (tests/canisters/uc.c), the bytes being the scripts the canisters run as
 * a query or as a composite query (which may call the other canisters'
 * query and composite-query methods, with scripts of its own).
 *
 * Input: commands [op][len][len bytes]; op % 3 picks the canister, op & 4
 * the composite-query method "cquery" (else "query"), op & 8 an anonymous
 * sender; the bytes are the argument (the script).  At most 16 queries.
 * Checks, besides "no crash, no sanitizer report, no leak": icx_query
 * returns ICX_OK with a status and, for a reject, a reject code and a
 * text; the same query on the same snapshot, and on a second snapshot of
 * the unchanged state, gives byte-identical results (queries change
 * nothing, and are deterministic); the state hash is unchanged. */
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "icexec.h"
#include "uc_wasm.h"

static uint64_t result_hash(const icx_query_result *r) {
  uint64_t w[4] = {r->status, r->reject_code, r->error_code, r->instructions};
  uint64_t h = fuzz_hash(FUZZ_HASH_INIT, w, sizeof w);
  return fuzz_hash(h, r->data, r->len);
}

static void run(const uint8_t *data, size_t size) {
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.poison = 1;
  icxAllocator a = fuzz_allocator(&fa);
  icx_engine_opts opts;
  icx_engine_opts_init(&opts);
  opts.realloc_fn = a.fn; /* the checking allocator has the public signature */
  opts.realloc_ud = a.ud;
  opts.max_instructions_query = 20000000;
  icx_engine *e = NULL;
  icx_state *st = NULL;
  if (icx_engine_new(&opts, &e) != ICX_OK || icx_state_new(e, &st) != ICX_OK)
    fuzz_fail("engine/state");
  icx_principal user, anon, can[3];
  static const uint8_t der[] = "fuzz_query user";
  if (icx_principal_self_authenticating(der, sizeof der, &user) != ICX_OK ||
      icx_principal_anonymous(&anon) != ICX_OK)
    fuzz_fail("principals");
  icx_batch *b = NULL;
  icx_round_output *o = NULL;
  if (icx_batch_new(e, 1, 1700000000000000000ull, NULL, 0, &b) != ICX_OK) fuzz_fail("batch");
  for (uint64_t i = 0; i < 3; i++)
    if (icx_principal_from_canister_index(i, &can[i]) != ICX_OK ||
        icx_batch_add_create_canister(b, &user, 0, 10000000000000ull, NULL, NULL) != ICX_OK)
      fuzz_fail("create");
  if (icx_execute_round(e, st, b, &o) != ICX_OK) fuzz_fail("round: %s", icx_errmsg(e));
  icx_round_output_free(o);
  icx_batch_free(b);
  if (icx_batch_new(e, 2, 1700000001000000000ull, NULL, 0, &b) != ICX_OK) fuzz_fail("batch");
  for (int i = 0; i < 3; i++)
    if (icx_batch_add_install_code(b, &user, &can[i], ICX_MODE_INSTALL, uc_wasm, sizeof uc_wasm,
                                   NULL, 0, NULL) != ICX_OK)
      fuzz_fail("install");
  if (icx_execute_round(e, st, b, &o) != ICX_OK) fuzz_fail("round: %s", icx_errmsg(e));
  if (icx_round_output_ingress_count(o) != 3) fuzz_fail("installs not answered");
  icx_round_output_free(o);
  icx_batch_free(b);
  uint8_t h0[32], h1[32];
  if (icx_state_hash(st, h0) != ICX_OK) fuzz_fail("hash");
  icx_snapshot *s1 = NULL, *s2 = NULL;
  if (icx_state_snapshot(st, &s1) != ICX_OK || icx_state_snapshot(st, &s2) != ICX_OK)
    fuzz_fail("snapshot");
  size_t off = 0;
  for (int q = 0; q < 16 && off + 2 <= size; q++) {
    uint8_t op = data[off];
    size_t len = data[off + 1];
    off += 2;
    if (len > size - off) len = size - off;
    const uint8_t *arg = data + off;
    off += len;
    const char *method = (op & 4) ? "cquery" : "query";
    const icx_principal *sender = (op & 8) ? &anon : &user;
    icx_query_result r1, r2, r3;
    memset(&r1, 0, sizeof r1);
    r1.struct_size = sizeof r1;
    r2 = r3 = r1;
    if (icx_query(s1, sender, &can[op % 3], method, arg, len, &r1) != ICX_OK ||
        icx_query(s1, sender, &can[op % 3], method, arg, len, &r2) != ICX_OK ||
        icx_query(s2, sender, &can[op % 3], method, arg, len, &r3) != ICX_OK)
      fuzz_fail("icx_query failed");
    if (r1.status != ICX_INGRESS_REPLIED && r1.status != ICX_INGRESS_REJECTED)
      fuzz_fail("status %u", r1.status);
    if (r1.status == ICX_INGRESS_REJECTED && (r1.reject_code == 0 || r1.len == 0))
      fuzz_fail("reject without a code or a text");
    if (result_hash(&r1) != result_hash(&r2) || result_hash(&r1) != result_hash(&r3))
      fuzz_fail("the same query gave different results");
    icx_query_result_clear(&r1);
    icx_query_result_clear(&r2);
    icx_query_result_clear(&r3);
  }
  if (icx_state_hash(st, h1) != ICX_OK || memcmp(h0, h1, 32) != 0)
    fuzz_fail("queries changed the state");
  icx_snapshot_free(s1);
  icx_state_free(st); /* the snapshot outlives its state */
  icx_query_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  if (icx_query(s2, &user, &can[0], "query", NULL, 0, &r) != ICX_OK) fuzz_fail("late query");
  icx_query_result_clear(&r);
  icx_snapshot_free(s2);
  icx_engine_free(e);
  fuzz_check_no_leaks(&fa, "fuzz_query");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 8192) return 0;
  run(data, size);
  return 0;
}
