/* fuzz_canister.c -- arbitrary bytes as the script of the universal test
 * canister (tests/canisters/uc.c, bytecode in tests/uc.h), executed as an
 * update and then as a non-replicated query, through the canister runtime
 * (lib/canister.h) and every System API function the script reaches.
 *
 * The module is embedded at build time (fuzz/fuzz.mk: $(BUILD)/canisters/
 * uc.wasm through xxd into uc_wasm.h) and compiled once per process with
 * its own allocator; each input gets fresh canisters.  Limits are lowered
 * so that an input runs well under a second: 20 M instructions per message,
 * 64 MiB of Wasm memory (wasm_memory_limit) and of stable memory.
 *
 * Each input runs twice, on two fresh canisters: once unsliced and once
 * with the update in slices of 1 M instructions (DTS), resumed to the end.
 * Checks, besides "no crash, no sanitizer report, no leak":
 *  - executions return ICX_OK; a trap has an IC error code and a text;
 *    every produced message is the ingress response (with the message id)
 *    or a request from the canister;
 *  - a trapping update leaves the canister hash unchanged except the
 *    balance (and the canister log: debug_print output of a trapped
 *    execution is kept, as the replica keeps it);
 *  - a query leaves the canister hash unchanged;
 *  - both runs give the same outcomes (trap, error, instructions, fee,
 *    messages) and the same canister hash: deterministic, and slicing
 *    changes nothing. */
#include <stdio.h>
#include <string.h>

#include "canister.h"
#include "fuzz_util.h"
#include "principal.h"
#include "state.h"
#include "uc_wasm.h" /* generated: static const unsigned char uc_wasm[] */

#define T0 1700000000000000000ull
#define LIMIT 20000000ull
#define SLICE 1000000ull
#define MEM_LIMIT (64ull << 20)

/* The compiled module, shared by every input (its own allocator, so the
 * per-input leak check does not see it). */
static fuzzAlloc code_fa;
static icxCode *code;

typedef struct Outcome {
  uint64_t digest;     /* over everything compared between the runs */
  uint8_t hash[32];    /* the canister's hash at the end */
} Outcome;

static void canister_hash(const icxCanister *c, uint8_t out[32]) {
  icxErr err;
  if (icxState_canister_hash(c, out, &err) != ICX_OK) fuzz_fail("hash: %s", err.msg);
}

/* The canister hash as if balance were `balance` and the log empty. */
static void hash_without_fees_and_log(icxCanister *c, icxU128 balance, uint8_t out[32]) {
  icxU128 b = c->balance;
  uint32_t nlog = c->nlog;
  uint64_t lb = c->log_bytes, li = c->next_log_idx;
  c->balance = balance;
  c->nlog = 0;
  c->log_bytes = 0;
  c->next_log_idx = 0;
  canister_hash(c, out);
  c->balance = b;
  c->nlog = nlog;
  c->log_bytes = lb;
  c->next_log_idx = li;
}

static uint64_t digest_outcome(uint64_t h, const icxExecOutcome *o, const icxCanister *c,
                               const uint8_t msg_id[32]) {
  if (!o->done) fuzz_fail("outcome not done");
  if (o->trapped && (o->error_code == 0 || o->error[0] == 0))
    fuzz_fail("trap without an error code or text");
  if (memchr(o->error, 0, sizeof o->error) == NULL) fuzz_fail("error text not terminated");
  h = fuzz_hash(h, &o->trapped, 1);
  h = fuzz_hash(h, &o->error_code, sizeof o->error_code);
  h = fuzz_hash(h, o->error, strlen(o->error));
  h = fuzz_hash(h, &o->instructions, sizeof o->instructions);
  h = fuzz_hash(h, &o->cycles_charged, sizeof o->cycles_charged);
  h = fuzz_hash(h, &o->nout, sizeof o->nout);
  for (uint32_t i = 0; i < o->nout; i++) {
    const icxMsg *m = &o->out[i];
    if (m->kind == ICX_MSG_RESPONSE) {
      if (!m->to_ingress || memcmp(m->msg_id, msg_id, 32) != 0) fuzz_fail("stray response");
    } else if (m->kind != ICX_MSG_REQUEST || !icxPrincipal_eq(&m->src, &c->id)) {
      fuzz_fail("stray message (kind %u)", m->kind);
    }
    h = fuzz_hash(h, &m->kind, 1);
    h = fuzz_hash(h, m->data, m->len);
    h = fuzz_hash(h, &m->reject_code, sizeof m->reject_code);
    h = fuzz_hash(h, &m->cycles, sizeof m->cycles);
    if (m->method) h = fuzz_hash(h, m->method, m->method_len);
  }
  return h;
}

/* Execute to the end (resuming slices); the outcome in *o. */
static void execute(icxCanister *c, icxExecEnv *env, uint8_t kind, const icxMsg *m,
                    icxExecOutcome *o, const fuzzAlloc *fa) {
  icxErr err;
  icx_status rc = icxCanister_execute(c, env, kind, m, o, &err);
  while (rc == ICX_OK && !o->done) {
    icxExecOutcome o2;
    rc = icxCanister_resume(c, env, &o2, &err);
    icxExecOutcome_free(&c->alloc, o);
    *o = o2;
  }
  if (rc == ICX_ENOMEM && fa->failed) return; /* over the allocator limit: allowed */
  if (rc != ICX_OK) fuzz_fail("execute: %d %s", rc, err.msg);
}

static void one_run(const uint8_t *data, size_t size, uint64_t slice, Outcome *res) {
  memset(res, 0, sizeof *res);
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.limit = (size_t)1 << 30;
  icxAllocator a = fuzz_allocator(&fa);
  icxPmCtx *pm = icxPm_ctx_new(&a);
  if (!pm) fuzz_fail("pm");
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  cfg.max_instructions_message = LIMIT;
  cfg.max_instructions_query = LIMIT;
  cfg.max_instructions_install = LIMIT + 200000000ull; /* + the compile charge */
  cfg.max_stable_bytes = MEM_LIMIT;
  icx_principal id = icxPrincipal_canister(3);
  icxCanister *c = NULL;
  icxErr err;
  if (icxCanister_new(&a, pm, &cfg, &id, &c, &err) != ICX_OK) fuzz_fail("canister: %s", err.msg);
  c->balance = icxU128_from_u64(100000000000000ull);
  c->settings.wasm_memory_limit = icxU128_from_u64(MEM_LIMIT);
  icxExecEnv env;
  memset(&env, 0, sizeof env);
  env.cfg = &cfg;
  env.time_ns = T0;
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = ICX_INSTALL_MODE_INSTALL;
  ia.code = code;
  icxExecOutcome o;
  if (icxCanister_install(c, &env, &ia, &o, &err) != ICX_OK || o.error_code || !o.done)
    fuzz_fail("install: %s %s", err.msg, o.error);
  icxExecOutcome_free(&a, &o);

  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = icxPrincipal_anonymous();
  m.dst = id;
  m.method = (char *)"update";
  m.method_len = 6;
  m.data = (uint8_t *)(uintptr_t)data;
  m.len = size;
  m.msg_id[0] = 0x11;
  uint64_t h = FUZZ_HASH_INIT;

  /* the update */
  uint8_t h0[32], h1[32];
  canister_hash(c, h0);
  icxU128 b0 = c->balance;
  env.slice = slice;
  execute(c, &env, ICX_EXEC_UPDATE, &m, &o, &fa);
  if (fa.failed) goto done;
  h = digest_outcome(h, &o, c, m.msg_id);
  if (o.trapped) {
    hash_without_fees_and_log(c, b0, h1);
    if (memcmp(h0, h1, 32) != 0) fuzz_fail("a trapping update changed the canister");
  }
  icxExecOutcome_free(&a, &o);

  /* the same script as a query: changes nothing */
  env.slice = 0;
  m.method = (char *)"query";
  m.method_len = 5;
  m.msg_id[0] = 0x22;
  canister_hash(c, h0);
  execute(c, &env, ICX_EXEC_QUERY, &m, &o, &fa);
  if (fa.failed) goto done;
  h = digest_outcome(h, &o, c, m.msg_id);
  canister_hash(c, h1);
  if (memcmp(h0, h1, 32) != 0) fuzz_fail("a query changed the canister");
  icxExecOutcome_free(&a, &o);
  canister_hash(c, res->hash);
done:
  icxExecOutcome_free(&a, &o);
  res->digest = fa.failed ? 0 : h;
  icxCanister_free(c);
  icxPm_ctx_free(pm);
  fuzz_check_no_leaks(&fa, "fuzz_canister");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  if (!code) {
    icxAllocator ca = fuzz_allocator(&code_fa);
    icxRtConfig cfg;
    icxRtConfig_defaults(&cfg);
    icxErr err;
    if (icxCode_new(&ca, &cfg, uc_wasm, sizeof uc_wasm, &code, &err) != ICX_OK)
      fuzz_fail("uc.wasm: %s", err.msg);
  }
  Outcome r1, r2;
  one_run(data, size, 0, &r1);
  one_run(data, size, SLICE, &r2);
  if (r1.digest == 0 || r2.digest == 0) return 0; /* hit the allocator limit */
  if (r1.digest != r2.digest) fuzz_fail("outcomes differ between the unsliced and sliced runs");
  if (memcmp(r1.hash, r2.hash, 32) != 0)
    fuzz_fail("canister hashes differ between the unsliced and sliced runs");
  return 0;
}
