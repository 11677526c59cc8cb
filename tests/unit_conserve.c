/* unit_conserve.c -- cycles conservation over rounds (docs/cycles.md,
 * "Conservation"): several universal test canisters driven through
 * icxRound_execute with randomized, fixed-seed traffic -- updates that burn
 * instructions (some long enough to pause across rounds, some aborted by
 * checkpoint rounds), inter-canister calls with attached cycles of which the
 * callee accepts a part, replies of various sizes, rejects, traps before and
 * after call_perform, trapping callbacks with cleanups, calls left under
 * construction, cycles_burn128, raw_rand, deposit_cycles, create_canister,
 * provisional top-ups, a stopped callee, a heartbeat that calls, and the
 * periodic resource charges.  After every round:
 *
 *     icxState_cycles_total(st) + st->burned == st->minted
 *
 * Also: the fee of an ordinary update is burned (exactly the execution and
 * induction fees), a call left under construction returns its cycles, and
 * two runs of the same traffic end in the same state hash and totals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "principal.h"
#include "round.h"
#include "state.h"
#include "uc.h"

#define T0 1700000000000000000ull
#define SEC 1000000000ull
#define NCAN 5            /* canisters 0..3 running, 4 stopped */
#define STOPPED_IDX 4
#define START_CYCLES 100000000000000ull /* 100 T each */

/* ---- fixture -------------------------------------------------------------------- */

typedef struct Rng {
  uint64_t s;
} Rng;

static uint64_t rnd(Rng *r) { /* xorshift64* */
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 2685821657736338717ull;
}
static uint64_t below(Rng *r, uint64_t n) { return n ? rnd(r) % n : 0; }

typedef struct Fx {
  icxAllocator a;
  icxState *st;
  icxSched sch;
  icxRoundLimits lim;
  icxCode *uc;
  uint64_t round, next_msg;
  icxMsg batch[64];
  uint32_t nbatch;
  icxMsg xnet[16]; /* requests from another subnet for the next round */
  uint32_t nxnet;
  uint32_t upgrades, xnet_sent, install_paused_rounds;
  uint8_t *uc_wasm;
  size_t uc_wasm_len;
} Fx;

static icxCode *load_uc(const icxState *st, uint8_t **bytes, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/uc.wasm", ICX_TEST_CANISTER_DIR);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (run make canisters)", path);
  uint8_t *buf = malloc(1 << 20);
  size_t n = fread(buf, 1, 1 << 20, f);
  fclose(f);
  icxCode *c = NULL;
  icxErr err;
  if (icxCode_new(&st->alloc, &st->cfg, buf, n, &c, &err) != ICX_OK) fail_msg("%s", err.msg);
  *bytes = buf;
  *len = n;
  return c;
}

static void assert_conserved(const icxState *st) {
  /* total + burned + out == minted + in */
  icxU128 total = icxU128_add_sat(icxU128_add_sat(icxState_cycles_total(st), st->burned),
                                  st->xnet_out);
  icxU128 minted = icxU128_add_sat(st->minted, st->xnet_in);
  if (!icxU128_eq(total, minted)) {
    char a[ICX_U128_DEC_MAX], b[ICX_U128_DEC_MAX], d[ICX_U128_DEC_MAX];
    icxU128_to_dec(total, a, sizeof a);
    icxU128_to_dec(minted, b, sizeof b);
    icxU128 diff = icxU128_lt(total, minted) ? icxU128_sub_sat(minted, total)
                                             : icxU128_sub_sat(total, minted);
    icxU128_to_dec(diff, d, sizeof d);
    fail_msg("round %llu: total + burned + exported = %s, minted + imported = %s (%s %s)",
             (unsigned long long)st->round, a, b, icxU128_lt(total, minted) ? "lost" : "created", d);
  }
}

/* A canister with index idx, START_CYCLES (counted as minted), the uc module
 * installed (its install fee burned). */
static void add_uc(Fx *f, uint64_t idx) {
  icx_principal id = icxPrincipal_canister(idx), ctl = icxPrincipal_anonymous();
  icxCanister *c;
  icxErr err;
  assert_int_equal(icxState_create_canister(f->st, &id, &ctl, NULL,
                                            icxU128_from_u64(START_CYCLES), &c, &err),
                   ICX_OK);
  f->st->minted = icxU128_add_sat(f->st->minted, icxU128_from_u64(START_CYCLES));
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = ICX_INSTALL_MODE_INSTALL;
  ia.code = f->uc;
  ia.caller = ctl;
  icxExecEnv env;
  memset(&env, 0, sizeof env);
  env.cfg = &f->st->cfg;
  env.time_ns = f->st->time_ns;
  icxExecOutcome out;
  assert_int_equal(icxCanister_install(c, &env, &ia, &out, &err), ICX_OK);
  assert_int_equal(out.done, 1);
  assert_int_equal(out.error_code, 0);
  f->st->burned = icxU128_add_sat(f->st->burned, out.burned);
  icxExecOutcome_free(&f->st->alloc, &out);
  assert_conserved(f->st);
}

/* A state with n uc canisters; small DTS slices so long updates pause. */
static void fx_init(Fx *f, int ncan) {
  memset(f, 0, sizeof *f);
  f->a = icxCore_default_allocator();
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  cfg.max_instructions_slice = 2000000;
  cfg.max_instructions_install_slice = 2000000;
  icxErr err;
  assert_int_equal(icxState_new(&f->a, &cfg, NULL, &f->st, &err), ICX_OK);
  f->st->time_ns = T0;
  f->st->last_charge_ns = T0; /* the first resource charge comes at round 10 */
  icxRoundLimits_defaults(&f->lim);
  f->lim.max_instructions_round = 20000000;
  f->uc = load_uc(f->st, &f->uc_wasm, &f->uc_wasm_len);
  for (int i = 0; i < ncan; i++) add_uc(f, (uint64_t)i);
}

static void fx_free(Fx *f) {
  for (uint32_t i = 0; i < f->nbatch; i++) icxState_msg_clear(&f->a, &f->batch[i]);
  for (uint32_t i = 0; i < f->nxnet; i++) icxState_msg_clear(&f->a, &f->xnet[i]);
  free(f->uc_wasm);
  icxSched_free(&f->a, &f->sch);
  icxCode_unref(f->uc);
  icxState_free(f->st);
}

/* Queue an ingress for the next round (dst NULL: aaaaa-aa). */
static void ingress(Fx *f, const icx_principal *dst, const char *method, const uint8_t *d,
                    size_t n) {
  assert_true(f->nbatch < 64);
  icxMsg *m = &f->batch[f->nbatch++];
  memset(m, 0, sizeof *m);
  m->kind = ICX_MSG_INGRESS;
  m->src = icxPrincipal_anonymous();
  m->dst = dst ? *dst : icxPrincipal_management();
  f->next_msg++;
  memcpy(m->msg_id, &f->next_msg, sizeof f->next_msg);
  m->method_len = (uint32_t)strlen(method);
  m->method = icxCore_alloc(&f->a, m->method_len + 1);
  memcpy(m->method, method, m->method_len + 1);
  m->len = n;
  m->data = n ? icxCore_alloc(&f->a, n) : NULL;
  if (n) memcpy(m->data, d, n);
}

static uint32_t npaused(const icxState *st) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < st->ncan; i++) n += st->can[i]->paused != NULL;
  return n;
}

/* Run one round with the queued ingress; check conservation; drop the
 * ingress results (they carry no cycles). */
static void round_run(Fx *f, int checkpoint, icxRoundStats *keep) {
  icxRoundInput in;
  memset(&in, 0, sizeof in);
  in.round = ++f->round;
  in.time_ns = T0 + f->round * SEC;
  in.sig = (const uint8_t *)&f->round;
  in.sig_len = sizeof f->round;
  in.ingress = f->batch;
  in.ningress = f->nbatch;
  in.xnet = f->xnet;
  in.nxnet = f->nxnet;
  in.checkpoint = (uint8_t)checkpoint;
  icxRoundStats stats;
  icxErr err;
  icx_status rc = icxRound_execute(f->st, &f->sch, &f->lim, &in, &stats, &err);
  if (rc != ICX_OK) fail_msg("round %llu: %s", (unsigned long long)f->round, err.msg);
  f->nbatch = 0;
  f->nxnet = 0;
  f->install_paused_rounds += f->st->installs.n > 0;
  assert_conserved(f->st);
  for (uint32_t i = 0; i < f->st->ingress.n; i++)
    assert_true(icxU128_is_zero(f->st->ingress.v[i].cycles));
  /* what leaves for the other subnet (responses to its requests) */
  icxState_note_exported(f->st, &f->st->outbox);
  icxMsgList_free(&f->a, &f->st->outbox);
  assert_conserved(f->st);
  if (getenv("CONSERVE_TRACE")) {
    fprintf(stderr, "round %llu: %u executions-canisters, %llu instr, %u results, %u paused, %u aborted\n",
            (unsigned long long)f->round, stats.n, (unsigned long long)stats.instructions,
            f->st->ingress.n, npaused(f->st), stats.aborted);
    for (uint32_t i = 0; i < f->st->ingress.n; i++) {
      const icxMsg *m = &f->st->ingress.v[i];
      fprintf(stderr, "  result %u/%u: %.*s\n", m->reject_code, m->error_code,
              (int)(m->len > 160 ? 160 : m->len), (const char *)m->data);
    }
  }
  icxMsgList_free(&f->a, &f->st->ingress);
  if (keep)
    *keep = stats;
  else
    icxRoundStats_free(&f->a, &stats);
}

/* ---- Candid arguments of aaaaa-aa ------------------------------------------------- */

static void sort_items(icxCandidValue *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    icxCandidValue x = v[i];
    size_t j = i;
    while (j > 0 && v[j - 1].id > x.id) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

static icxCandidValue named(icxCandidValue v, const char *name) {
  v.id = icxCandid_hash(name);
  return v;
}

/* record { canister_id } or record { canister_id; amount } into s (bytes). */
static void enc_mgmt(Fx *f, const icx_principal *id, int has_amount, uint64_t amount,
                     uc_script *s) {
  icxCandidValue v[2];
  v[0] = named(icxCandid_v_principal(id->bytes, id->len), "canister_id");
  v[1] = named(icxCandid_v_nat(amount, 0), "amount");
  size_t nv = has_amount ? 2 : 1;
  sort_items(v, nv);
  icxCandidValue rec = icxCandid_v_record(v, nv);
  int32_t type = has_amount ? f->st->types.provisional_top_up_args
                            : f->st->types.canister_id_record;
  uint8_t *p;
  size_t n;
  icxErr err;
  assert_int_equal(icxCandid_encode(&f->a, &f->st->types.t, &type, &rec, 1, &p, &n, &err), ICX_OK);
  uc_raw(s, p, n);
  icxCore_free(&f->a, p, n);
}

/* create_canister_args with no settings. */
static void enc_create(Fx *f, uc_script *s) {
  icxCandidValue v[2];
  v[0] = named(icxCandid_v_opt(NULL), "settings");
  v[1] = named(icxCandid_v_opt(NULL), "sender_canister_version");
  sort_items(v, 2);
  icxCandidValue rec = icxCandid_v_record(v, 2);
  int32_t type = f->st->types.create_canister_args;
  uint8_t *p;
  size_t n;
  icxErr err;
  assert_int_equal(icxCandid_encode(&f->a, &f->st->types.t, &type, &rec, 1, &p, &n, &err), ICX_OK);
  uc_raw(s, p, n);
  icxCore_free(&f->a, p, n);
}

/* ---- scripts ------------------------------------------------------------------------ */


static void add_cycles(uc_script *s, uint64_t amount) {
  uc_push_int(s, amount);
  uc_call_cycles_add128(s);
}

static void perform(uc_script *s) {
  uc_call_perform(s);
  uc_drop(s);
}

static void burn128(uc_script *s, uint64_t amount) {
  uc_push_int(s, amount);
  uc_cycles_burn128(s);
  uc_drop(s);
}

static void accept(uc_script *s, uint64_t amount) {
  uc_push_int(s, amount);
  uc_msg_cycles_accept128(s);
  uc_drop(s);
}

/* Reply with n bytes (response transmission refunds depend on the size). */
static void reply_n(uc_script *s, size_t n) {
  uint8_t *b = calloc(1, n + 1);
  uc_reply_bytes(s, b, n);
  free(b);
}

/* What a callee does with a request (argument of its "update"). */
static void callee_script(Rng *r, uc_script *s, int depth, const icx_principal *onward) {
  accept(s, below(r, 3) == 0 ? UINT64_MAX : below(r, 2000000));
  if (below(r, 3) == 0) {
    uc_push_int(s, below(r, 20000));
    uc_burn(s);
  }
  if (below(r, 4) == 0) burn128(s, below(r, 100000));
  uint64_t k = below(r, 10);
  if (depth == 0 && k == 0) { /* a call onward; its callback answers */
    uc_script rep, rej, arg;
    uc_init(&rep);
    uc_init(&rej);
    uc_init(&arg);
    reply_n(&rep, (size_t)below(r, 100));
    uc_reject_str(&rej, "onward rejected");
    callee_script(r, &arg, 1, NULL);
    uc_call_begin(s, onward->bytes, onward->len, "update", &rep, &rej, &arg);
    add_cycles(s, below(r, 500000));
    perform(s);
    uc_free(&rep);
    uc_free(&rej);
    uc_free(&arg);
  } else if (k < 6) {
    reply_n(s, (size_t)(below(r, 4) == 0 ? below(r, 5000) : below(r, 50)));
  } else if (k < 8) {
    uc_reject_str(s, "callee rejects");
  } else {
    uc_trap_str(s, "callee traps");
  }
}

/* A callback script: refund-aware, sometimes burning, sometimes trapping. */
static void callback_script(Rng *r, uc_script *s) {
  uc_msg_cycles_refunded128(s);
  uc_drop(s);
  if (below(r, 3) == 0) burn128(s, below(r, 50000));
  uint64_t k = below(r, 6);
  if (k == 0) uc_trap_str(s, "callback traps");
  else if (k < 3) reply_n(s, (size_t)below(r, 40));
}

static void random_call(Rng *r, uc_script *s) {
  uint64_t t = below(r, NCAN);
  icx_principal callee = icxPrincipal_canister(t), onward = icxPrincipal_canister(below(r, NCAN - 1));
  uc_script rep, rej, arg, cln;
  uc_init(&rep);
  uc_init(&rej);
  uc_init(&arg);
  uc_init(&cln);
  callback_script(r, &rep);
  callback_script(r, &rej);
  callee_script(r, &arg, 0, &onward);
  uc_call_begin(s, callee.bytes, callee.len, "update", &rep, &rej, &arg);
  if (below(r, 3) == 0) { /* a cleanup that burns (kept unless it traps too) */
    burn128(&cln, below(r, 30000));
    if (below(r, 4) == 0) uc_trap_str(&cln, "cleanup traps");
    uc_push_script(s, &cln);
    uc_call_on_cleanup(s);
  }
  add_cycles(s, below(r, 4) == 0 ? 0 : below(r, 3000000));
  perform(s);
  uc_free(&rep);
  uc_free(&rej);
  uc_free(&arg);
  uc_free(&cln);
}

/* One random update script. */
static void random_update(Fx *f, Rng *r, uc_script *s) {
  icx_principal mgmt = icxPrincipal_management();
  uint64_t k = below(r, 16);
  switch (k) {
  case 0: /* long: pauses across rounds (DTS), may be aborted */
    uc_push_int(s, 1000000 + below(r, 12000000));
    uc_burn(s);
    break;
  case 1: /* burn cycles */
    burn128(s, below(r, 10000000));
    break;
  case 2: { /* trap before call_perform: the attached cycles come back */
    uc_script e;
    uc_init(&e);
    icx_principal c = icxPrincipal_canister(below(r, NCAN));
    uc_call_begin(s, c.bytes, c.len, "update", &e, &e, &e);
    add_cycles(s, below(r, 1000000));
    uc_trap_str(s, "before perform");
    uc_free(&e);
    break;
  }
  case 3: /* trap after call_perform: the call is cancelled, fees returned */
    random_call(r, s);
    uc_trap_str(s, "after perform");
    break;
  case 4: { /* a call left under construction: its cycles come back */
    uc_script e;
    uc_init(&e);
    icx_principal c = icxPrincipal_canister(below(r, NCAN));
    uc_call_begin(s, c.bytes, c.len, "update", &e, &e, &e);
    add_cycles(s, 1 + below(r, 1000000));
    uc_free(&e);
    break;
  }
  case 5: { /* raw_rand with cycles attached (refunded with the answer) */
    uc_script e, arg;
    uc_init(&e);
    uc_init(&arg);
    uc_raw(&arg, "DIDL\0\0", 6);
    uc_call_begin(s, mgmt.bytes, mgmt.len, "raw_rand", &e, &e, &arg);
    add_cycles(s, below(r, 100000));
    perform(s);
    uc_free(&e);
    uc_free(&arg);
    break;
  }
  case 6: { /* deposit_cycles to another canister (also the stopped one) */
    uc_script e, arg;
    uc_init(&e);
    uc_init(&arg);
    icx_principal t = icxPrincipal_canister(below(r, NCAN));
    enc_mgmt(f, &t, 0, 0, &arg);
    uc_call_begin(s, mgmt.bytes, mgmt.len, "deposit_cycles", &e, &e, &arg);
    add_cycles(s, below(r, 5000000));
    perform(s);
    uc_free(&e);
    uc_free(&arg);
    break;
  }
  case 7: { /* create_canister: the fee is burned, the rest is the new balance */
    uc_script e, arg;
    uc_init(&e);
    uc_init(&arg);
    enc_create(f, &arg);
    uc_call_begin(s, mgmt.bytes, mgmt.len, "create_canister", &e, &e, &arg);
    add_cycles(s, below(r, 2) ? 600000000000ull : 1000); /* too few: refunded */
    perform(s);
    uc_free(&e);
    uc_free(&arg);
    break;
  }
  default: { /* one or more calls */
    uint64_t n = 1 + below(r, 3);
    for (uint64_t i = 0; i < n; i++) random_call(r, s);
    break;
  }
  }
  /* the ingress is answered now, later by a callback, or not at all */
  uint64_t e = below(r, 4);
  if (e == 0) uc_reply_str(s, "done");
  else if (e == 1 && k >= 8) uc_reject_str(s, "caller rejects");
}

/* The stopped callee: stop_canister by ingress in the first round. */
static void stop_callee(Fx *f) {
  icx_principal d = icxPrincipal_canister(STOPPED_IDX);
  uc_script arg;
  uc_init(&arg);
  enc_mgmt(f, &d, 0, 0, &arg);
  ingress(f, NULL, "stop_canister", arg.p, arg.len);
  uc_free(&arg);
}

/* Canister 0 gets a heartbeat that burns and calls canister 1 with cycles. */
static void set_heartbeat(Fx *f) {
  icx_principal a = icxPrincipal_canister(0), b = icxPrincipal_canister(1);
  uc_script hb, s, e, arg;
  uc_init(&hb);
  uc_init(&s);
  uc_init(&e);
  uc_init(&arg);
  burn128(&hb, 1234);
  accept(&arg, 500);
  reply_n(&arg, 3);
  uc_call_begin(&hb, b.bytes, b.len, "update", &e, &e, &arg);
  add_cycles(&hb, 7777);
  perform(&hb);
  uc_push_int(&s, UC_HOOK_HEARTBEAT);
  uc_push_script(&s, &hb);
  uc_set_hook(&s);
  uc_reply_str(&s, "hook");
  ingress(f, &a, "update", s.p, s.len);
  uc_free(&hb);
  uc_free(&s);
  uc_free(&e);
  uc_free(&arg);
}

/* An upgrade of canister idx (uc again) whose post_upgrade burns long
 * enough to pause across rounds (install DTS). */
static void upgrade_long(Fx *f, Rng *r, uint64_t idx) {
  uc_script post;
  uc_init(&post);
  uc_push_int(&post, 3000000 + below(r, 6000000));
  uc_burn(&post);
  icx_principal id = icxPrincipal_canister(idx);
  const icxCandidTypes *t = &f->st->types.t;
  const icxCandidEntry *rec = &t->entries[f->st->types.install_code_args];
  int32_t mode_t = -1;
  for (uint32_t i = 0; i < rec->nfields; i++)
    if (t->fields[rec->first + i].id == icxCandid_hash("mode")) mode_t = t->fields[rec->first + i].type;
  assert_true(mode_t >= 0);
  icxCandidValue none = icxCandid_v_opt(NULL);
  icxCandidValue modev = icxCandid_v_variant(0, &none);
  const icxCandidEntry *me = &t->entries[mode_t];
  for (uint32_t i = 0; i < me->nfields; i++)
    if (t->fields[me->first + i].id == icxCandid_hash("upgrade")) modev.n = i;
  icxCandidValue v[5];
  v[0] = named(modev, "mode");
  v[1] = named(icxCandid_v_principal(id.bytes, id.len), "canister_id");
  v[2] = named(icxCandid_v_blob(f->uc_wasm, f->uc_wasm_len), "wasm_module");
  v[3] = named(icxCandid_v_blob(post.p, post.len), "arg");
  v[4] = named(icxCandid_v_opt(NULL), "sender_canister_version");
  sort_items(v, 5);
  icxCandidValue rv = icxCandid_v_record(v, 5);
  int32_t type = f->st->types.install_code_args;
  uint8_t *p;
  size_t n;
  icxErr err;
  assert_int_equal(icxCandid_encode(&f->a, t, &type, &rv, 1, &p, &n, &err), ICX_OK);
  ingress(f, NULL, "install_code", p, n);
  icxCore_free(&f->a, p, n);
  uc_free(&post);
  f->upgrades++;
}

/* A request from a canister on another subnet with cycles attached: the
 * callee accepts some and replies (the rest goes back with the response). */
static void xnet_request(Fx *f, Rng *r) {
  assert_true(f->nxnet < 16);
  uc_script s;
  uc_init(&s);
  accept(&s, below(r, 3000));
  uc_reply_str(&s, "xnet done");
  icxMsg *m = &f->xnet[f->nxnet++];
  memset(m, 0, sizeof *m);
  m->kind = ICX_MSG_REQUEST;
  m->src = icxPrincipal_canister((1ull << 20) + 3);
  m->dst = icxPrincipal_canister(below(r, NCAN));
  m->method_len = 6;
  m->method = icxCore_alloc(&f->a, 7);
  memcpy(m->method, "update", 7);
  m->len = s.len;
  m->data = icxCore_alloc(&f->a, s.len);
  memcpy(m->data, s.p, s.len);
  m->cycles = icxU128_from_u64(below(r, 5000));
  m->callback = ++f->xnet_sent;
  uc_free(&s);
}

static void random_round(Fx *f, Rng *r) {
  uint32_t n = (uint32_t)below(r, 8);
  if (below(r, 25) == 0) upgrade_long(f, r, below(r, NCAN - 1));
  if (below(r, 6) == 0) xnet_request(f, r);
  for (uint32_t i = 0; i < n; i++) {
    icx_principal self = icxPrincipal_canister(below(r, NCAN - 1));
    if (below(r, 12) == 0) { /* a provisional top-up mints */
      uc_script arg;
      uc_init(&arg);
      icx_principal t = icxPrincipal_canister(below(r, NCAN));
      enc_mgmt(f, &t, 1, below(r, 1000000000), &arg);
      ingress(f, NULL, "provisional_top_up_canister", arg.p, arg.len);
      uc_free(&arg);
      continue;
    }
    uc_script s;
    uc_init(&s);
    random_update(f, r, &s);
    ingress(f, &self, "update", s.p, s.len);
    uc_free(&s);
  }
  round_run(f, below(r, 15) == 0, NULL);
}

/* ---- tests -------------------------------------------------------------------------- */

/* Randomized traffic for many rounds; conservation after each round. */
static void run_traffic(Fx *f, uint64_t seed, int rounds) {
  Rng r = {seed};
  fx_init(f, NCAN);
  stop_callee(f);
  set_heartbeat(f);
  round_run(f, 0, NULL);
  for (int i = 0; i < rounds; i++) random_round(f, &r);
  /* drain: no new traffic until nothing is in flight but the heartbeat's */
  for (int i = 0; i < 40; i++) round_run(f, i == 20, NULL);
}

static void test_conservation_random_traffic(void **state) {
  (void)state;
  Fx f;
  run_traffic(&f, 0x1c0ffee5eedull, 300);
  const icxState *st = f.st;
  icx_principal d = icxPrincipal_canister(STOPPED_IDX);
  assert_int_equal(icxState_canister(st, &d)->status, ICX_STATUS_STOPPED);
  /* something was burned well beyond the install fees, and something minted */
  assert_true(icxU128_lt(icxU128_from_u64(1000000000000ull), st->burned));
  assert_true(icxU128_lt(icxU128_from_u64((uint64_t)NCAN * START_CYCLES), st->minted));
  assert_true(st->ncan > NCAN); /* create_canister succeeded at least once */
  /* upgrades ran sliced across rounds; requests came from another subnet
   * and responses carried cycles back */
  assert_true(f.upgrades > 5);
  assert_true(f.install_paused_rounds > 5);
  assert_true(f.xnet_sent > 20);
  assert_false(icxU128_is_zero(st->xnet_in));
  assert_false(icxU128_is_zero(st->xnet_out));
  fx_free(&f);
}

/* The same traffic twice: same state hash, same burned and minted. */
static void test_conservation_deterministic(void **state) {
  (void)state;
  Fx f1, f2;
  uint8_t h1[32], h2[32];
  icxErr err;
  run_traffic(&f1, 42, 60);
  run_traffic(&f2, 42, 60);
  assert_int_equal(icxState_hash(f1.st, h1, &err), ICX_OK);
  assert_int_equal(icxState_hash(f2.st, h2, &err), ICX_OK);
  assert_memory_equal(h1, h2, 32);
  assert_true(icxU128_eq(f1.st->burned, f2.st->burned));
  assert_true(icxU128_eq(f1.st->minted, f2.st->minted));
  fx_free(&f1);
  fx_free(&f2);
}

/* An ordinary update: burned grows by exactly the induction fee and the
 * execution fee kept (the round's per-canister cycles figure). */
static void test_update_fee_is_burned(void **state) {
  (void)state;
  Fx f;
  fx_init(&f, 1);
  icx_principal a = icxPrincipal_canister(0);
  uc_script s;
  uc_init(&s);
  uc_push_int(&s, 1000);
  uc_burn(&s);
  uc_reply_str(&s, "ok");
  ingress(&f, &a, "update", s.p, s.len);
  uc_free(&s);
  icxU128 b0 = f.st->burned, bal0 = icxState_canister(f.st, &a)->balance;
  icxRoundStats stats;
  round_run(&f, 0, &stats);
  assert_int_equal(stats.n, 1);
  icxU128 spent = icxU128_sub_sat(bal0, icxState_canister(f.st, &a)->balance);
  assert_true(icxU128_eq(icxU128_sub_sat(f.st->burned, b0), stats.v[0].cycles));
  assert_true(icxU128_eq(spent, stats.v[0].cycles));
  /* more than the fixed fees: 5 M execution + 1.2 M induction */
  assert_true(icxU128_lt(icxU128_from_u64(6200000), stats.v[0].cycles));
  icxRoundStats_free(&f.a, &stats);
  fx_free(&f);
}

/* call_new + call_cycles_add without call_perform, then reply: the cycles
 * come back (the replica refunds the call in preparation). */
static void test_unperformed_call_returns_cycles(void **state) {
  (void)state;
  Fx f;
  fx_init(&f, 2);
  icx_principal a = icxPrincipal_canister(0), b = icxPrincipal_canister(1);
  uc_script s, e;
  uc_init(&s);
  uc_init(&e);
  uc_call_begin(&s, b.bytes, b.len, "update", &e, &e, &e);
  add_cycles(&s, 123456789);
  uc_reply_str(&s, "ok");
  ingress(&f, &a, "update", s.p, s.len);
  uc_free(&s);
  uc_free(&e);
  icxU128 bal0 = icxState_canister(f.st, &a)->balance;
  icxRoundStats stats;
  round_run(&f, 0, &stats);
  icxU128 spent = icxU128_sub_sat(bal0, icxState_canister(f.st, &a)->balance);
  assert_true(icxU128_eq(spent, stats.v[0].cycles)); /* only the fees */
  icxRoundStats_free(&f.a, &stats);
  fx_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_update_fee_is_burned),
      cmocka_unit_test(test_unperformed_call_returns_cycles),
      cmocka_unit_test(test_conservation_random_traffic),
      cmocka_unit_test(test_conservation_deterministic),
  };
  return cmocka_run_group_tests_name("unit_conserve", tests, NULL, NULL);
}
