/* fuzz_mgmt.c -- arbitrary bytes as the Candid payload of a message to the
 * management canister (lib/mgmt.c), executed on a small subnet state.
 *
 * Input: byte 0 picks the method (low nibble, modulo the 13 names below,
 * the last of which does not exist) and the sender ((byte 0 >> 4) % 3: the
 * controller user U by ingress, another user V by ingress, or canister A
 * by request with 2 T cycles attached); the rest is the payload.
 *
 * The state: canister A (index 0, controller U, 100 T, a small module
 * installed with a pre_upgrade and a stable write), canister B (index 1,
 * controller A, 10 T, empty); install limits lowered (20 M total, 2 M
 * slices) so a looping module ends quickly and install_code goes through
 * several slices.
 *
 * Checks, besides "no crash, no sanitizer report, no leak":
 *  - icxMgmt_execute returns ICX_OK;
 *  - exactly one answer, a RESPONSE to the sender (ingress result with the
 *    message id, or the response in A's queue with the callback id), or
 *    none when the call is postponed (stop_canister, raw_rand);
 *  - a reject has a reject code 1..6, an IC error code and a text, and
 *    refunds every attached cycle;
 *  - after a reject the state hash is what it was before the call (for
 *    install_code: once the balances are put back -- a failed install still
 *    pays for its execution, and what it paid is exactly what was burned);
 *  - cycles are conserved (balances + queued + burned == minted);
 *  - the same input on a fresh state gives the same answer and state hash.
 * FUZZ_MGMT_VERBOSE=1 prints each call's method, sender and answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mgmt.h"
#include "principal.h"
#include "state.h"
#include "wat.h"

#define T0 1700000000000000000ull
#define NMETHODS 13
#define CALLBACK_ID 77u
#define ATTACHED 2000000000000ull /* 2 T */

static const char *const METHODS[NMETHODS] = {
    "create_canister", "provisional_create_canister_with_cycles", "install_code",
    "uninstall_code",  "update_settings",  "start_canister",  "stop_canister",
    "canister_status", "delete_canister",  "deposit_cycles",  "provisional_top_up_canister",
    "raw_rand",        "no_such_method"};

static const char MODULE_A[] =
    "(module\n"
    "  (import \"ic0\" \"stable64_grow\" (func $grow (param i64) (result i64)))\n"
    "  (import \"ic0\" \"stable64_write\" (func $write (param i64 i64 i64)))\n"
    "  (memory 1)\n"
    "  (data (i32.const 16) \"kept\")\n"
    "  (func (export \"canister_pre_upgrade\")\n"
    "    (drop (call $grow (i64.const 1)))\n"
    "    (call $write (i64.const 0) (i64.const 16) (i64.const 4)))\n"
    "  (func (export \"canister_update go\")))\n";

typedef struct Run {
  uint8_t hash[32];
  int answered;           /* 1: an answer was found */
  uint8_t answer_digest[32];
} Run;

static icx_principal user(uint8_t b) {
  uint8_t der[8] = {'f', 'u', 'z', 'z', 'u', 's', 'e', b};
  return icxPrincipal_self_authenticating(der, sizeof der);
}

static void check_conserved(const icxState *st, const char *where) {
  icxU128 t = icxU128_add_sat(icxState_cycles_total(st), st->burned);
  if (!icxU128_eq(t, st->minted)) fuzz_fail("cycles not conserved %s", where);
}

static void state_hash(const icxState *st, uint8_t out[32]) {
  icxErr err;
  if (icxState_hash(st, out, &err) != ICX_OK) fuzz_fail("state hash: %s", err.msg);
}

static icxCanister *make(icxState *st, uint64_t idx, const icx_principal *ctl, uint64_t cycles) {
  icx_principal id = icxPrincipal_canister(idx);
  icxCanister *c = NULL;
  icxErr err;
  if (icxState_create_canister(st, &id, ctl, NULL, icxU128_from_u64(cycles), &c, &err) != ICX_OK)
    fuzz_fail("create: %s", err.msg);
  st->minted = icxU128_add_sat(st->minted, icxU128_from_u64(cycles));
  return c;
}

static void setup(icxState *st) {
  icx_principal u = user('U');
  icxCanister *a = make(st, 0, &u, 100000000000000ull);
  make(st, 1, &a->id, 10000000000000ull);
  icxErr err;
  uint8_t *wasm = NULL;
  size_t n = 0;
  if (icxWat_to_wasm(&st->alloc, MODULE_A, sizeof MODULE_A - 1, ICX_FEAT_DEFAULT, &wasm, &n,
                     &err) != ICX_OK)
    fuzz_fail("module A: %s", err.msg);
  icxCode *code = NULL;
  if (icxCode_new(&st->alloc, &st->cfg, wasm, n, &code, &err) != ICX_OK)
    fuzz_fail("module A: %s", err.msg);
  icxCore_free(&st->alloc, wasm, n);
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = ICX_INSTALL_MODE_INSTALL;
  ia.code = code;
  ia.caller = u;
  icxExecEnv env;
  memset(&env, 0, sizeof env);
  env.cfg = &st->cfg;
  env.time_ns = st->time_ns;
  icxExecOutcome out;
  if (icxCanister_install(a, &env, &ia, &out, &err) != ICX_OK || out.error_code || !out.done)
    fuzz_fail("install A: %s %s", err.msg, out.error);
  st->burned = icxU128_add_sat(st->burned, out.cycles_charged);
  icxExecOutcome_free(&st->alloc, &out);
  icxCode_unref(code);
}

/* The answer to the message, taken out of the state; 0 if none. */
static int take_answer(icxState *st, int from_canister, icxMsg *r) {
  if (!from_canister) {
    if (st->ingress.n == 0) return 0;
    if (st->ingress.n != 1) fuzz_fail("%u ingress results", st->ingress.n);
    *r = st->ingress.v[0];
    st->ingress.n = 0;
    return 1;
  }
  icx_principal aid = icxPrincipal_canister(0);
  icxCanister *a = icxState_canister(st, &aid);
  if (!a) fuzz_fail("canister A is gone");
  if (!icxState_pop_input(a, r)) return 0;
  if (a->inq_len) fuzz_fail("more than one answer in A's queue");
  return 1;
}

static void check_answer(const icxMsg *r, int from_canister, const uint8_t msg_id[32]) {
  if (r->kind != ICX_MSG_RESPONSE) fuzz_fail("answer is not a response (kind %u)", r->kind);
  if (from_canister) {
    if (r->to_ingress || r->callback != CALLBACK_ID) fuzz_fail("answer misaddressed");
    if (icxU128_lt(icxU128_from_u64(ATTACHED), r->cycles)) fuzz_fail("refund above attached");
  } else if (!r->to_ingress || memcmp(r->msg_id, msg_id, 32) != 0) {
    fuzz_fail("ingress answer misaddressed");
  }
  if (r->reject_code == 0) return;
  if (r->reject_code > ICX_REJECT_SYS_UNKNOWN) fuzz_fail("reject code %u", r->reject_code);
  if (r->error_code == 0) fuzz_fail("reject without an IC error code");
  if (r->len == 0) fuzz_fail("reject without a text");
  if (from_canister && !icxU128_eq(r->cycles, icxU128_from_u64(ATTACHED)))
    fuzz_fail("a reject keeps attached cycles");
}

static void one_run(const uint8_t *data, size_t size, Run *out) {
  memset(out, 0, sizeof *out);
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.limit = (size_t)1 << 30;
  icxAllocator a = fuzz_allocator(&fa);
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  cfg.max_instructions_install = 20000000;
  cfg.max_instructions_install_slice = 2000000;
  cfg.max_instructions_message = 20000000;
  icxState *st = NULL;
  icxErr err;
  if (icxState_new(&a, &cfg, NULL, &st, &err) != ICX_OK) fuzz_fail("state: %s", err.msg);
  st->time_ns = T0;
  st->round = 1;
  setup(st);

  unsigned method = (data[0] & 15u) % NMETHODS, sender = (unsigned)(data[0] >> 4) % 3u;
  int from_canister = sender == 2;
  icx_principal aid = icxPrincipal_canister(0);
  icxCanister *ca = icxState_canister(st, &aid);
  uint8_t h0[32];
  state_hash(st, h0);
  uint32_t ncan = st->ncan;
  icxU128 bal0[2] = {st->can[0]->balance, st->can[1]->balance};
  icxU128 burned0 = st->burned;
  uint32_t nrr0 = st->nrr, nstops0 = st->nstops;

  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = from_canister ? ICX_MSG_REQUEST : ICX_MSG_INGRESS;
  m.src = from_canister ? aid : user(sender == 0 ? 'U' : 'V');
  m.dst = icxPrincipal_management();
  if (from_canister) {
    m.callback = CALLBACK_ID;
    m.cycles = icxU128_from_u64(ATTACHED);
    ca->balance = icxU128_sub_sat(ca->balance, m.cycles); /* the sender paid them */
  } else {
    m.msg_id[0] = data[0];
    m.msg_id[31] = 0x5a;
  }
  uint8_t msg_id[32];
  memcpy(msg_id, m.msg_id, 32);
  size_t mlen = strlen(METHODS[method]);
  m.method = icxCore_alloc(&st->alloc, mlen + 1);
  if (size > 1) m.data = icxCore_alloc(&st->alloc, size - 1);
  if (!m.method || (size > 1 && !m.data)) fuzz_fail("out of memory");
  memcpy(m.method, METHODS[method], mlen + 1);
  m.method_len = (uint32_t)mlen;
  if (size > 1) memcpy(m.data, data + 1, size - 1);
  m.len = size - 1;

  icx_status rc = icxMgmt_execute(st, &m, &err);
  if (rc != ICX_OK) fuzz_fail("icxMgmt_execute: %d %s", rc, err.msg);
  check_conserved(st, "after the call");
  icxMsg r;
  memset(&r, 0, sizeof r);
  int got = take_answer(st, from_canister, &r);
  /* an install that did not finish in its first slice continues one slice
   * per round (install DTS): run those slices until it answers */
  for (int k = 0; !got && st->installs.n > 0; k++) {
    if (k > 64) fuzz_fail("%s: paused install never finishes", METHODS[method]);
    if (icxMgmt_resume_installs(st, &err) != ICX_OK) fuzz_fail("resume: %s", err.msg);
    check_conserved(st, "after an install slice");
    got = take_answer(st, from_canister, &r);
  }
  if (got && st->installs.n) fuzz_fail("%s: answered while still paused", METHODS[method]);
  int postponed = st->nrr > nrr0 || st->nstops > nstops0;
  if (!got && !postponed) fuzz_fail("%s: no answer", METHODS[method]);
  if (got && postponed) fuzz_fail("%s: answered and postponed", METHODS[method]);
  if (getenv("FUZZ_MGMT_VERBOSE"))
    fprintf(stderr, "%s from %u: %s %u IC%04u %.*s\n", METHODS[method], sender,
            got ? "answer" : "postponed", r.reject_code, r.error_code,
            (int)(r.len > 200 ? 200 : r.len), r.data ? (const char *)r.data : "");
  if (got) {
    check_answer(&r, from_canister, msg_id);
    if (r.reject_code != 0) {
      /* a reject changes nothing (but what a failed install paid) */
      if (from_canister) ca->balance = icxU128_add_sat(ca->balance, r.cycles);
      if (st->ncan != ncan) fuzz_fail("%s: reject, but canisters changed", METHODS[method]);
      uint8_t h1[32];
      state_hash(st, h1);
      if (memcmp(h0, h1, 32) != 0) {
        if (method != 2) fuzz_fail("%s: reject changed the state", METHODS[method]);
        icxU128 paid = icxU128_zero(), now[2];
        for (int i = 0; i < 2; i++) {
          now[i] = st->can[i]->balance;
          if (icxU128_lt(bal0[i], now[i])) fuzz_fail("install_code reject raised a balance");
          paid = icxU128_add_sat(paid, icxU128_sub_sat(bal0[i], now[i]));
          st->can[i]->balance = bal0[i];
        }
        state_hash(st, h1);
        if (memcmp(h0, h1, 32) != 0) fuzz_fail("install_code: reject changed the state");
        if (!icxU128_eq(icxU128_sub_sat(st->burned, burned0), paid))
          fuzz_fail("install_code: what the failed install paid is not what was burned");
        for (int i = 0; i < 2; i++) st->can[i]->balance = now[i];
      }
      if (from_canister) ca->balance = icxU128_sub_sat(ca->balance, r.cycles);
    }
    out->answered = 1;
    uint64_t d = fuzz_hash(FUZZ_HASH_INIT, r.data, r.len);
    d = fuzz_hash(d, &r.reject_code, sizeof r.reject_code);
    d = fuzz_hash(d, &r.error_code, sizeof r.error_code);
    d = fuzz_hash(d, &r.cycles, sizeof r.cycles);
    memcpy(out->answer_digest, &d, sizeof d);
    /* put the answer back, so it is in the final hash and the conservation */
    if (from_canister) {
      if (icxState_push_input(st, ca, &r, &err) != ICX_OK) fuzz_fail("push: %s", err.msg);
    } else if (icxMsgList_push(&st->alloc, &st->ingress, &r, &err) != ICX_OK) {
      fuzz_fail("push: %s", err.msg);
    }
  }
  /* let stopping canisters stop; the state stays consistent */
  if (icxState_process_stopping(st, &err) != ICX_OK) fuzz_fail("stopping: %s", err.msg);
  check_conserved(st, "at the end");
  state_hash(st, out->hash);
  icxState_free(st);
  fuzz_check_no_leaks(&fa, "fuzz_mgmt");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  Run r1, r2;
  one_run(data, size, &r1);
  one_run(data, size, &r2);
  if (memcmp(r1.hash, r2.hash, 32) != 0 || r1.answered != r2.answered ||
      memcmp(r1.answer_digest, r2.answer_digest, 32) != 0)
    fuzz_fail("not deterministic");
  return 0;
}
