/* unit_motoko.c -- canisters compiled from Motoko (tests/motoko/NAME.mo, built
 * by tests/motoko.mk with the npm package `motoko`) run on the subnet state,
 * the management canister and the canister runtime (issue 5, "Proof").
 *
 * Every program runs in both of moc's persistence modes: enhanced orthogonal
 * persistence (moc's default: wasm64, 64-bit table; upgrades need
 * wasm_memory_persistence = keep) and classical persistence (wasm32; stable
 * variables go through stable memory in the upgrade hooks).
 *
 * Canisters are created and installed with ingress messages to aaaaa-aa;
 * a small scheduler in this file (settle) runs the management queue and
 * every canister's input queue until nothing moves, routing each
 * execution's outputs with icxState_route.  Rounds only change for raw_rand
 * (next_round).  Replies are Candid, decoded in generic mode; arguments are
 * encoded with icxCandid_encode.
 *
 * ICX_SKIP_MOTOKO=1 in the environment (the modules were not built) turns
 * every test into a skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "candid.h"
#include "mgmt.h"
#include "principal.h"
#include "randtape.h"
#include "state.h"

#ifndef ICX_TEST_MOTOKO_DIR
#define ICX_TEST_MOTOKO_DIR "build/motoko"
#endif

#define T 1000000000000ull /* 1 T cycles */
#define CONSIDER_TRAP_EXPLICIT                                                                     \
  "\nConsider gracefully handling failures from this canister or altering the canister to "       \
  "handle exceptions. See documentation: "                                                         \
  "https://internetcomputer.org/docs/current/references/execution-errors#trapped-explicitly"

/* ---- fixture ------------------------------------------------------------------------ */

enum { MODE_EOP = 0, MODE_CLASSIC = 1 };

typedef struct Params {
  int mode;   /* MODE_* */
  int system; /* 1: system-subnet fees (all zero, as drun); 0: application subnet */
} Params;

typedef struct Fx {
  icxAllocator a;
  Params p;
  icxState *st;
  icx_principal user;
  uint64_t next_msg;
  uint64_t round;
  char log[16384]; /* debug_print lines, "<text>\n" each */
  size_t nlog;
} Fx;

static const uint8_t SIG[3] = {'s', 'i', 'g'};

static void on_print(void *ud, const icx_principal *canister, const uint8_t *msg, size_t len) {
  (void)canister;
  Fx *f = ud;
  if (f->nlog + len + 2 > sizeof f->log) return;
  memcpy(f->log + f->nlog, msg, len);
  f->nlog += len;
  f->log[f->nlog++] = '\n';
  f->log[f->nlog] = 0;
}

static int setup(void **state) {
  Fx *f = calloc(1, sizeof *f);
  f->p = *(const Params *)*state;
  f->a = icxCore_default_allocator();
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  if (f->p.system) {
    cfg.subnet_type = ICX_SUBNET_SYSTEM;
    icxFees_system_subnet(&cfg.fees);
  }
  cfg.debug_print = on_print;
  cfg.debug_print_ud = f;
  icxErr err;
  assert_int_equal(icxState_new(&f->a, &cfg, NULL, &f->st, &err), ICX_OK);
  f->round = 1;
  assert_int_equal(icxState_begin_round(f->st, 1, 1700000000000000000ull, SIG, sizeof SIG, &err),
                   ICX_OK);
  static const uint8_t der[] = "motoko test user";
  f->user = icxPrincipal_self_authenticating(der, sizeof der);
  *state = f;
  return 0;
}

/* The fixture of a test; skips the test when the modules were not built. */
static Fx *fx(void **state) {
  const char *s = getenv("ICX_SKIP_MOTOKO");
  if (s && strcmp(s, "1") == 0) skip();
  return *state;
}

static int teardown(void **state) {
  Fx *f = *state;
  icxState_free(f->st);
  free(f);
  return 0;
}

static void clear_log(Fx *f) {
  f->nlog = 0;
  f->log[0] = 0;
}

/* ---- modules ------------------------------------------------------------------------ */

typedef struct Buf {
  uint8_t *p;
  size_t n;
} Buf;

/* tests/motoko/NAME.mo built in the fixture's persistence mode. */
static Buf module(const Fx *f, const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s%s.wasm", ICX_TEST_MOTOKO_DIR, name,
           f->p.mode == MODE_CLASSIC ? ".classic" : "");
  FILE *fp = fopen(path, "rb");
  if (!fp) fail_msg("cannot open %s (make motoko; or ICX_SKIP_MOTOKO=1)", path);
  Buf b = {NULL, 0};
  size_t cap = 0;
  for (;;) {
    if (b.n == cap) b.p = realloc(b.p, cap = cap ? 2 * cap : 1 << 18);
    size_t k = fread(b.p + b.n, 1, cap - b.n, fp);
    if (k == 0) break;
    b.n += k;
  }
  fclose(fp);
  return b;
}

/* ---- Candid ------------------------------------------------------------------------- */

static Buf encode(Fx *f, const icxCandidTypes *types, const int32_t *ts, const icxCandidValue *vs,
                  size_t n) {
  Buf b;
  icxErr err;
  icxErr_clear(&err);
  if (icxCandid_encode(&f->a, types, ts, vs, n, &b.p, &b.n, &err) != ICX_OK)
    fail_msg("icxCandid_encode: %s", err.msg);
  return b;
}

static void bfree(Fx *f, Buf *b) {
  if (b->p) icxCore_free(&f->a, b->p, b->n);
  b->p = NULL;
  b->n = 0;
}

static Buf c_nat(Fx *f, uint64_t v) {
  int32_t t = ICX_CT_NAT;
  icxCandidValue x = icxCandid_v_nat(v, 0);
  return encode(f, NULL, &t, &x, 1);
}

static Buf c_none(Fx *f) { return encode(f, NULL, NULL, NULL, 0); }

static Buf c_principal(Fx *f, const icx_principal *p) {
  int32_t t = ICX_CT_PRINCIPAL;
  icxCandidValue x = icxCandid_v_principal(p->bytes, p->len);
  return encode(f, NULL, &t, &x, 1);
}

static Buf c_principal_text(Fx *f, const icx_principal *p, const char *s) {
  int32_t t[2] = {ICX_CT_PRINCIPAL, ICX_CT_TEXT};
  icxCandidValue x[2] = {icxCandid_v_principal(p->bytes, p->len), icxCandid_v_text(s, strlen(s))};
  return encode(f, NULL, t, x, 2);
}

static Buf c_principal_nat(Fx *f, const icx_principal *p, uint64_t v) {
  int32_t t[2] = {ICX_CT_PRINCIPAL, ICX_CT_NAT};
  icxCandidValue x[2] = {icxCandid_v_principal(p->bytes, p->len), icxCandid_v_nat(v, 0)};
  return encode(f, NULL, t, x, 2);
}

/* The type of field `name` of record/variant entry ref (-1000 if none), and
 * its position among the entry's fields. */
static int32_t field_type(const icxCandidTypes *t, int32_t ref, const char *name, uint32_t *pos) {
  const icxCandidEntry *e = &t->entries[ref];
  for (uint32_t i = 0; i < e->nfields; i++)
    if (t->fields[e->first + i].id == icxCandid_hash(name)) {
      if (pos) *pos = i;
      return t->fields[e->first + i].type;
    }
  fail_msg("no field %s", name);
  return -1000;
}

/* A record value of entry ref: the fields named in names[0..n) get vals,
 * every other field is opt null.  items has room for the entry's fields. */
static icxCandidValue record(const icxCandidTypes *t, int32_t ref, icxCandidValue *items,
                             const char *const *names, const icxCandidValue *vals, size_t n) {
  const icxCandidEntry *e = &t->entries[ref];
  for (uint32_t i = 0; i < e->nfields; i++) {
    uint32_t id = t->fields[e->first + i].id;
    items[i] = icxCandid_v_opt(NULL);
    for (size_t k = 0; k < n; k++)
      if (icxCandid_hash(names[k]) == id) items[i] = vals[k];
    items[i].id = id;
  }
  return icxCandid_v_record(items, e->nfields);
}

/* install_code_args for mode (ICX_INSTALL_MODE_*); for upgrade, persistence
 * ICX_WASM_MEMORY_* (UNSET: `upgrade = null`). */
static Buf enc_install(Fx *f, int mode, int persistence, const icx_principal *id, const Buf *wasm) {
  const icxMgmtTypes *m = &f->st->types;
  const icxCandidTypes *t = &m->t;
  int32_t mode_t = field_type(t, m->install_code_args, "mode", NULL);
  static const char *const cases[3] = {"install", "reinstall", "upgrade"};
  uint32_t ci = 0;
  int32_t case_t = field_type(t, mode_t, cases[mode], &ci);
  icxCandidValue nullv = icxCandid_v_null(), up_items[4], up_rec, up_opt, pers_items[1], pers,
                 pers_opt;
  icxCandidValue modev = icxCandid_v_variant(ci, &nullv);
  if (mode == ICX_INSTALL_MODE_UPGRADE) {
    up_opt = icxCandid_v_opt(NULL);
    if (persistence != ICX_WASM_MEMORY_UNSET) {
      int32_t rec_t = t->entries[case_t].inner;
      int32_t pers_opt_t = field_type(t, rec_t, "wasm_memory_persistence", NULL);
      int32_t pers_t = t->entries[pers_opt_t].inner;
      uint32_t pi = 0;
      field_type(t, pers_t, persistence == ICX_WASM_MEMORY_KEEP ? "keep" : "replace", &pi);
      pers_items[0] = icxCandid_v_null();
      pers = icxCandid_v_variant(pi, pers_items);
      pers_opt = icxCandid_v_opt(&pers);
      static const char *const n1[1] = {"wasm_memory_persistence"};
      up_rec = record(t, rec_t, up_items, n1, &pers_opt, 1);
      up_opt = icxCandid_v_opt(&up_rec);
    }
    modev = icxCandid_v_variant(ci, &up_opt);
  }
  static const char *const names[4] = {"mode", "canister_id", "wasm_module", "arg"};
  icxCandidValue vals[4] = {modev, icxCandid_v_principal(id->bytes, id->len),
                            icxCandid_v_blob(wasm->p, wasm->n), icxCandid_v_blob(NULL, 0)};
  icxCandidValue items[8];
  icxCandidValue r = record(t, m->install_code_args, items, names, vals, 4);
  return encode(f, t, &m->install_code_args, &r, 1);
}

/* A decoded reply (generic mode); free with icxCandidDoc_free. */
static icxCandidDoc *decode(Fx *f, const icxMsg *r) {
  icxCandidDoc *doc = NULL;
  icxErr err;
  icxErr_clear(&err);
  if (icxCandid_decode(&f->a, r->data, r->len, NULL, NULL, 0, NULL, &doc, &err) != ICX_OK)
    fail_msg("reply is not Candid: %s", err.msg);
  return doc;
}

/* ---- messages and the mini scheduler ------------------------------------------------- */

static icxMsg new_msg(Fx *f, uint8_t kind, const icx_principal *dst, const char *method,
                      const Buf *arg) {
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = kind;
  m.src = f->user;
  m.dst = *dst;
  m.method_len = (uint32_t)strlen(method);
  m.method = icxCore_alloc(&f->a, m.method_len + 1);
  memcpy(m.method, method, m.method_len + 1);
  if (arg && arg->n) {
    m.len = arg->n;
    m.data = icxCore_alloc(&f->a, arg->n);
    memcpy(m.data, arg->p, arg->n);
  }
  uint64_t id = ++f->next_msg;
  memcpy(m.msg_id, &id, sizeof id);
  return m;
}

static icxExecEnv env_of(Fx *f) {
  icxExecEnv env;
  memset(&env, 0, sizeof env);
  env.cfg = &f->st->cfg;
  env.time_ns = f->st->time_ns;
  env.slice = f->st->cfg.max_instructions_slice;
  return env;
}

/* Execute one message from c's input queue to completion and route its outputs. */
static void exec_input(Fx *f, icxCanister *c, icxMsg *m) {
  uint8_t kind = ICX_EXEC_UPDATE;
  if (m->kind == ICX_MSG_RESPONSE)
    kind = ICX_EXEC_RESPONSE;
  else if (c->code && icxCode_entry(c->code, ICX_EP_QUERY, m->method, m->method_len) != UINT32_MAX)
    kind = ICX_EXEC_QUERY_REPLICATED;
  icxExecEnv env = env_of(f);
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icxErr err;
  icxErr_clear(&err);
  if (icxCanister_execute(c, &env, kind, m, &o, &err) != ICX_OK)
    fail_msg("icxCanister_execute: %s", err.msg);
  for (int slices = 0; !o.done; slices++) {
    if (slices > 10000) fail_msg("execution does not finish");
    icxExecOutcome o2;
    memset(&o2, 0, sizeof o2);
    if (icxCanister_resume(c, &env, &o2, &err) != ICX_OK) fail_msg("resume: %s", err.msg);
    icxExecOutcome_free(&f->a, &o);
    o = o2;
  }
  if (icxState_route(f->st, o.out, o.nout, &err) != ICX_OK) fail_msg("route: %s", err.msg);
  icxExecOutcome_free(&f->a, &o);
}

/* Run the management queue and every canister's queue until all are empty. */
static void settle(Fx *f) {
  icxErr err;
  for (int iter = 0;; iter++) {
    if (iter > 100000) fail_msg("messages keep flowing");
    int moved = 0;
    if (f->st->mgmt_in.n) {
      if (icxState_run_mgmt(f->st, &err) != ICX_OK) fail_msg("run_mgmt: %s", err.msg);
      moved = 1;
    }
    for (uint32_t i = 0; i < f->st->ncan; i++) {
      icxMsg m;
      while (icxState_pop_input(f->st->can[i], &m)) {
        exec_input(f, f->st->can[i], &m);
        icxState_msg_clear(&f->a, &m);
        moved = 1;
      }
    }
    if (!moved) return;
  }
}

/* The next round: new tape, postponed raw_rand answered, queues settled. */
static void next_round(Fx *f) {
  icxErr err;
  f->round++;
  assert_int_equal(icxState_begin_round(f->st, f->round, f->st->time_ns + 1000000000ull, SIG,
                                        sizeof SIG, &err),
                   ICX_OK);
  assert_int_equal(icxState_answer_raw_rand(f->st, &err), ICX_OK);
  settle(f);
}

/* Submit an ingress message; returns its number (for result()). */
static uint64_t submit(Fx *f, const icx_principal *dst, const char *method, const Buf *arg) {
  icxMsg m = new_msg(f, ICX_MSG_INGRESS, dst, method, arg);
  uint64_t id = f->next_msg;
  icxErr err;
  if (icxState_submit_ingress(f->st, &m, &err) != ICX_OK) fail_msg("submit: %s", err.msg);
  return id;
}

/* Take the result of ingress number id: 1 and *out, or 0 if it has none yet. */
static int result(Fx *f, uint64_t id, icxMsg *out) {
  icxMsgList *l = &f->st->ingress;
  for (uint32_t i = 0; i < l->n; i++)
    if (memcmp(l->v[i].msg_id, &id, sizeof id) == 0) {
      *out = l->v[i];
      memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof *l->v);
      l->n--;
      return 1;
    }
  return 0;
}

/* An update call by ingress, settled; returns the ingress result (caller clears). */
static icxMsg call(Fx *f, const icx_principal *dst, const char *method, Buf arg) {
  uint64_t id = submit(f, dst, method, &arg);
  bfree(f, &arg);
  settle(f);
  icxMsg r;
  if (!result(f, id, &r)) fail_msg("%s: no ingress result", method);
  return r;
}

/* A non-replicated query; returns the response (caller clears). */
static icxMsg query(Fx *f, const icx_principal *dst, const char *method, Buf arg) {
  icxCanister *c = icxState_canister(f->st, dst);
  assert_non_null(c);
  icxMsg m = new_msg(f, ICX_MSG_INGRESS, dst, method, &arg);
  bfree(f, &arg);
  icxExecEnv env = env_of(f);
  env.slice = f->st->cfg.max_instructions_query;
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icxErr err;
  if (icxCanister_execute(c, &env, ICX_EXEC_QUERY, &m, &o, &err) != ICX_OK)
    fail_msg("query: %s", err.msg);
  assert_true(o.done);
  assert_true(o.nout >= 1);
  icxMsg r = o.out[0];
  memset(&o.out[0], 0, sizeof o.out[0]);
  icxExecOutcome_free(&f->a, &o);
  icxState_msg_clear(&f->a, &m);
  return r;
}

static void release(Fx *f, icxMsg *r) { icxState_msg_clear(&f->a, r); }

/* ---- assertions ---------------------------------------------------------------------- */

static void expect_reply(const icxMsg *r) {
  if (r->kind != ICX_MSG_RESPONSE || r->reject_code != 0)
    fail_msg("expected a reply, got reject %u IC%04u: %.*s", r->reject_code, r->error_code,
             (int)r->len, r->data ? (const char *)r->data : "");
}

static void expect_reject(const icxMsg *r, uint32_t reject_code, uint16_t error_code) {
  if (r->kind != ICX_MSG_RESPONSE || r->reject_code != reject_code ||
      r->error_code != error_code)
    fail_msg("expected reject %u IC%04u, got reject %u IC%04u: %.*s", reject_code, error_code,
             r->reject_code, r->error_code, (int)r->len, r->data ? (const char *)r->data : "");
}

static int text_eq(const icxMsg *r, const char *s) {
  return r->len == strlen(s) && memcmp(r->data, s, r->len) == 0;
}

/* The reject text is drun's for a Motoko trap with message msg in canister c
 * (reference/drun-format.md section 5), after `prefix`. */
static void expect_trap_text(const icxMsg *r, const char *prefix, const icx_principal *c,
                             const char *msg) {
  char id[64], want[1024];
  icxPrincipal_to_text(c, id, sizeof id);
  snprintf(want, sizeof want,
           "%sError from Canister %s: Canister called `ic0.trap` with message: '%s'."
           CONSIDER_TRAP_EXPLICIT,
           prefix, id, msg);
  if (!text_eq(r, want))
    fail_msg("reject text:\n%.*s\nexpected:\n%s", (int)r->len, (const char *)r->data, want);
}

static int text_has(const icxMsg *r, const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i + n <= r->len; i++)
    if (memcmp(r->data + i, s, n) == 0) return 1;
  return 0;
}

/* The reply's arguments are exactly the nats v[0..n). */
static void expect_nats(Fx *f, icxMsg r, const uint64_t *v, size_t n) {
  expect_reply(&r);
  icxCandidDoc *doc = decode(f, &r);
  assert_int_equal(doc->nargs, n);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(doc->args[i].type, ICX_CT_NAT);
    assert_int_equal(doc->args[i].u.w.hi, 0);
    if (doc->args[i].u.w.lo != v[i])
      fail_msg("result %zu: %llu, expected %llu", i, (unsigned long long)doc->args[i].u.w.lo,
               (unsigned long long)v[i]);
  }
  icxCandidDoc_free(doc);
  release(f, &r);
}

static void expect_nat(Fx *f, icxMsg r, uint64_t v) { expect_nats(f, r, &v, 1); }

static void expect_text(Fx *f, icxMsg r, const char *s) {
  expect_reply(&r);
  icxCandidDoc *doc = decode(f, &r);
  assert_int_equal(doc->nargs, 1);
  assert_int_equal(doc->args[0].type, ICX_CT_TEXT);
  if (doc->args[0].n != strlen(s) || memcmp(doc->args[0].u.bytes, s, doc->args[0].n) != 0)
    fail_msg("text reply '%.*s', expected '%s'", (int)doc->args[0].n,
             (const char *)doc->args[0].u.bytes, s);
  icxCandidDoc_free(doc);
  release(f, &r);
}

static void expect_empty(Fx *f, icxMsg r) {
  expect_reply(&r);
  assert_int_equal(r.len, 6);
  assert_memory_equal(r.data, "DIDL\0\0", 6);
  release(f, &r);
}

static void expect_log(const Fx *f, const char *s) {
  if (strcmp(f->log, s) != 0) fail_msg("debug_print log:\n%s\nexpected:\n%s", f->log, s);
}

/* ---- canisters ----------------------------------------------------------------------- */

static icx_principal create(Fx *f, uint64_t cycles) {
  const icxMgmtTypes *m = &f->st->types;
  icxCandidValue amount = icxCandid_v_nat(cycles, 0), amount_opt = icxCandid_v_opt(&amount);
  icxCandidValue items[8];
  static const char *const names[1] = {"amount"};
  icxCandidValue r = record(&m->t, m->provisional_create_args, items, names, &amount_opt, 1);
  icx_principal mgmt = icxPrincipal_management();
  icxMsg res = call(f, &mgmt, "provisional_create_canister_with_cycles",
                    encode(f, &m->t, &m->provisional_create_args, &r, 1));
  expect_reply(&res);
  icx_principal id;
  assert_int_equal(icxMgmt_decode_canister_id(m, res.data, res.len, &id, NULL), ICX_OK);
  release(f, &res);
  return id;
}

static icxMsg install_code(Fx *f, const icx_principal *id, const char *name, int mode,
                           int persistence) {
  Buf wasm = module(f, name);
  icx_principal mgmt = icxPrincipal_management();
  icxMsg r = call(f, &mgmt, "install_code", enc_install(f, mode, persistence, id, &wasm));
  free(wasm.p);
  return r;
}

/* The persistence option an upgrade of this mode's modules needs. */
static int upgrade_persistence(const Fx *f) {
  return f->p.mode == MODE_EOP ? ICX_WASM_MEMORY_KEEP : ICX_WASM_MEMORY_UNSET;
}

static icx_principal canister(Fx *f, const char *name) {
  icx_principal id = create(f, 100 * T);
  expect_empty(f, install_code(f, &id, name, ICX_INSTALL_MODE_INSTALL, 0));
  icxCanister *c = icxState_canister(f->st, &id);
  assert_int_equal(c->code->mem64, f->p.mode == MODE_EOP);
  assert_int_equal(c->code->eop, f->p.mode == MODE_EOP);
  return id;
}

static icxU128 balance(Fx *f, const icx_principal *id) {
  return icxState_canister(f->st, id)->balance;
}

static void text_id(const icx_principal *p, char *buf, size_t cap) {
  icxPrincipal_to_text(p, buf, cap);
}

/* ---- tests: counter.mo ----------------------------------------------------------------- */

static void expect_counter(Fx *f, const icx_principal *c, uint64_t count, uint64_t calls,
                           uint64_t upgrades) {
  uint64_t v[3] = {count, calls, upgrades};
  expect_nats(f, query(f, c, "get", c_none(f)), v, 3);
}

static void test_counter_updates_and_queries(void **state) {
  Fx *f = fx(state);
  icx_principal c = canister(f, "counter");
  expect_nat(f, call(f, &c, "inc", c_nat(f, 5)), 5);
  expect_nat(f, call(f, &c, "inc", c_nat(f, 2)), 7);
  expect_counter(f, &c, 7, 2, 0);
  /* a query's heap changes are dropped, as a query and as a replicated query */
  expect_nat(f, query(f, &c, "inc_in_query", c_none(f)), 1007);
  expect_nat(f, call(f, &c, "inc_in_query", c_none(f)), 1007);
  expect_counter(f, &c, 7, 2, 0);
  /* an argument of the wrong type is rejected by Motoko's deserializer */
  icxMsg r = call(f, &c, "inc", c_none(f));
  expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 503);
  release(f, &r);
  expect_counter(f, &c, 7, 2, 0);
  /* a missing method */
  r = call(f, &c, "nope", c_none(f));
  expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 536);
  release(f, &r);
}

/* Stable variables survive upgrades, in both persistence modes.  With
 * enhanced orthogonal persistence (wasm_memory_persistence = keep) the new
 * instance must get the memory canister_pre_upgrade left behind, which
 * includes Motoko's record of the stable actor (at 4.5 MiB): this test found
 * that the runtime used the memory committed before pre_upgrade instead. */
static void test_counter_upgrade_keeps_stable_vars(void **state) {
  Fx *f = fx(state);
  icx_principal c = canister(f, "counter");
  expect_nat(f, call(f, &c, "inc", c_nat(f, 5)), 5);
  expect_nat(f, call(f, &c, "inc", c_nat(f, 2)), 7);
  clear_log(f);
  expect_empty(f, install_code(f, &c, "counter", ICX_INSTALL_MODE_UPGRADE,
                               upgrade_persistence(f)));
  expect_log(f, "preupgrade count=7 calls=2\npostupgrade count=7 calls=0\n");
  expect_counter(f, &c, 7, 0, 1);
  expect_nat(f, call(f, &c, "inc", c_nat(f, 1)), 8);
  expect_counter(f, &c, 8, 1, 1);
  /* a second upgrade */
  expect_empty(f, install_code(f, &c, "counter", ICX_INSTALL_MODE_UPGRADE,
                               upgrade_persistence(f)));
  expect_counter(f, &c, 8, 0, 2);
  /* reinstall starts from scratch */
  clear_log(f);
  expect_empty(f, install_code(f, &c, "counter", ICX_INSTALL_MODE_REINSTALL, 0));
  expect_log(f, "");
  expect_counter(f, &c, 0, 0, 0);
}

/* The wrong persistence option is refused after pre_upgrade and leaves the
 * canister as it was. */
static void test_counter_upgrade_option_mismatch_is_refused(void **state) {
  Fx *f = fx(state);
  icx_principal c = canister(f, "counter");
  expect_nat(f, call(f, &c, "inc", c_nat(f, 3)), 3);
  clear_log(f);
  icxMsg r;
  if (f->p.mode == MODE_EOP) {
    r = install_code(f, &c, "counter", ICX_INSTALL_MODE_UPGRADE, ICX_WASM_MEMORY_UNSET);
    expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 504);
    assert_true(text_has(&r, "Missing upgrade option: Enhanced orthogonal persistence requires "
                             "the `wasm_memory_persistence` upgrade option."));
  } else {
    r = install_code(f, &c, "counter", ICX_INSTALL_MODE_UPGRADE, ICX_WASM_MEMORY_KEEP);
    expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 504);
    assert_true(text_has(&r, "Invalid upgrade option: The `wasm_memory_persistence: opt Keep` "
                             "upgrade option requires that the new canister module supports "
                             "enhanced orthogonal persistence."));
  }
  release(f, &r);
  /* the IC checks the option after pre_upgrade ran (upgrade.rs, stage 2:
   * determine_main_memory_handling): its debug output is kept, everything
   * else is rolled back */
  expect_log(f, "preupgrade count=3 calls=1\n");
  expect_counter(f, &c, 3, 1, 0);
}

/* ---- tests: trap.mo ---------------------------------------------------------------------- */

static void test_traps_roll_back(void **state) {
  Fx *f = fx(state);
  icx_principal c = canister(f, "trap");
  expect_empty(f, call(f, &c, "set", c_nat(f, 3)));
  clear_log(f);
  icxMsg r = call(f, &c, "set_then_trap", c_nat(f, 7));
  expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 503);
  expect_trap_text(&r, "", &c, "boom 7");
  release(f, &r);
  expect_log(f, "set x=7, now trapping\n"); /* printed before the trap, kept */
  expect_nat(f, query(f, &c, "get", c_none(f)), 3);
  /* assert */
  r = call(f, &c, "set_then_assert", c_nat(f, 9));
  expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 503);
  expect_trap_text(&r, "", &c, "assertion failed at trap.mo:20.5-20.18");
  release(f, &r);
  expect_nat(f, query(f, &c, "get", c_none(f)), 3);
  /* a trap of the Motoko runtime (Nat underflow) */
  r = call(f, &c, "underflow", c_nat(f, 4));
  expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 503);
  expect_trap_text(&r, "", &c, "Natural subtraction underflow");
  release(f, &r);
  expect_nat(f, query(f, &c, "get", c_none(f)), 3);
  /* the canister still works */
  expect_empty(f, call(f, &c, "set", c_nat(f, 4)));
  expect_nat(f, query(f, &c, "get", c_none(f)), 4);
}


/* ---- tests: caller.mo + callee.mo ----------------------------------------------------- */

static void test_calls_between_canisters(void **state) {
  Fx *f = fx(state);
  icx_principal callee = canister(f, "callee");
  icx_principal caller = canister(f, "caller");
  char caller_id[64], want[256];
  text_id(&caller, caller_id, sizeof caller_id);
  snprintf(want, sizeof want, "echo:hi from %s", caller_id);
  expect_text(f, call(f, &caller, "relay", c_principal_text(f, &callee, "hi")), want);
  expect_nat(f, query(f, &callee, "get_hits", c_none(f)), 1);
  /* the callee traps: the caller catches a canister error, the callee's
   * state is rolled back */
  icxMsg r = call(f, &caller, "try_boom", c_principal(f, &callee));
  expect_reply(&r);
  icxCandidDoc *doc = decode(f, &r);
  assert_int_equal(doc->args[0].type, ICX_CT_TEXT);
  const char *prefix = "#canister_error ";
  assert_true(doc->args[0].n > strlen(prefix));
  assert_memory_equal(doc->args[0].u.bytes, prefix, strlen(prefix));
  icxMsg txt = r;
  txt.data = (uint8_t *)doc->args[0].u.bytes + strlen(prefix);
  txt.len = doc->args[0].n - strlen(prefix);
  /* a calling canister gets the text with the IC0503 prefix (drun-format.md section 5) */
  expect_trap_text(&txt, "IC0503: ", &callee, "callee boom");
  icxCandidDoc_free(doc);
  release(f, &r);
  expect_nat(f, query(f, &callee, "get_hits", c_none(f)), 1);
  /* an explicit reject */
  expect_text(f, call(f, &caller, "try_reject", c_principal(f, &callee)),
              "#canister_reject no thanks");
  /* the callee does not exist */
  icx_principal ghost = icxPrincipal_canister(77);
  r = call(f, &caller, "try_reject", c_principal(f, &ghost));
  expect_reply(&r);
  doc = decode(f, &r);
  txt.data = (uint8_t *)doc->args[0].u.bytes;
  txt.len = doc->args[0].n;
  assert_true(text_has(&txt, "#destination_invalid"));
  icxCandidDoc_free(doc);
  release(f, &r);
}

static void test_trap_after_await_keeps_the_first_part(void **state) {
  Fx *f = fx(state);
  icx_principal callee = canister(f, "callee");
  icx_principal caller = canister(f, "caller");
  icxMsg r = call(f, &caller, "step_then_trap", c_principal(f, &callee));
  expect_reject(&r, ICX_REJECT_CANISTER_ERROR, 503);
  expect_trap_text(&r, "", &caller, "trap after await");
  release(f, &r);
  /* steps += 1 ran before the await and was committed; += 10 was rolled back */
  expect_nat(f, query(f, &caller, "get_steps", c_none(f)), 1);
  expect_nat(f, query(f, &callee, "get_hits", c_none(f)), 1);
  /* no call context left open */
  assert_int_equal(icxState_open_contexts(icxState_canister(f->st, &caller)), 0);
}

static void test_cycles_transfer(void **state) {
  Fx *f = fx(state);
  icx_principal callee = canister(f, "callee");
  icx_principal caller = canister(f, "caller");
  icxU128 b_caller = balance(f, &caller), b_callee = balance(f, &callee);
  uint64_t v[2] = {500000, 500000};
  expect_nats(f, call(f, &caller, "send_cycles", c_principal_nat(f, &callee, 1000000)), v, 2);
  icxU128 a_caller = balance(f, &caller), a_callee = balance(f, &callee);
  if (f->p.system) { /* no fees: exact */
    assert_true(icxU128_eq(a_caller, icxU128_sub(b_caller, icxU128_from_u64(500000), NULL)));
    assert_true(icxU128_eq(a_callee, icxU128_add(b_callee, icxU128_from_u64(500000), NULL)));
  } else { /* the callee got 500000 and paid for its execution; the caller paid more */
    assert_true(icxU128_lt(a_caller, icxU128_sub(b_caller, icxU128_from_u64(500000), NULL)));
    assert_true(icxU128_lt(a_callee, icxU128_add(b_callee, icxU128_from_u64(500000), NULL)));
  }
  /* the canister sees its own balance */
  icxMsg r = query(f, &caller, "balance", c_none(f));
  expect_reply(&r);
  icxCandidDoc *doc = decode(f, &r);
  assert_int_equal(doc->args[0].type, ICX_CT_NAT);
  assert_int_equal(doc->args[0].u.w.lo, balance(f, &caller).lo);
  assert_int_equal(doc->args[0].u.w.hi, balance(f, &caller).hi);
  icxCandidDoc_free(doc);
  release(f, &r);
}

static void test_raw_rand(void **state) {
  Fx *f = fx(state);
  icx_principal caller = canister(f, "caller");
  Buf none = c_none(f);
  uint64_t id = submit(f, &caller, "rand", &none);
  bfree(f, &none);
  settle(f);
  icxMsg r;
  assert_false(result(f, id, &r)); /* raw_rand waits for the next round */
  assert_int_equal(f->st->nrr, 1);
  next_round(f);
  assert_true(result(f, id, &r));
  expect_reply(&r);
  icxRandTape t;
  uint8_t want[32];
  assert_int_equal(icxRandTape_init(&t, f->round, SIG, sizeof SIG, NULL), ICX_OK);
  assert_int_equal(icxRandTape_fill(&t, want, 32, NULL), ICX_OK);
  icxCandidDoc *doc = decode(f, &r);
  assert_int_equal(doc->nargs, 1);
  assert_int_equal(doc->args[0].type, ICX_CT_VEC);
  assert_true(doc->args[0].is_bytes);
  assert_int_equal(doc->args[0].n, 32);
  assert_memory_equal(doc->args[0].u.bytes, want, 32);
  icxCandidDoc_free(doc);
  release(f, &r);
  /* two calls in one round get the next bytes of the next round's tape, in order */
  none = c_none(f);
  uint64_t id1 = submit(f, &caller, "rand", &none);
  uint64_t id2 = submit(f, &caller, "rand", &none);
  bfree(f, &none);
  settle(f);
  next_round(f);
  assert_int_equal(icxRandTape_init(&t, f->round, SIG, sizeof SIG, NULL), ICX_OK);
  uint64_t ids[2] = {id1, id2};
  for (int i = 0; i < 2; i++) {
    assert_true(result(f, ids[i], &r));
    assert_int_equal(icxRandTape_fill(&t, want, 32, NULL), ICX_OK);
    doc = decode(f, &r);
    assert_int_equal(doc->args[0].n, 32);
    assert_memory_equal(doc->args[0].u.bytes, want, 32);
    icxCandidDoc_free(doc);
    release(f, &r);
  }
}

/* ---- main -------------------------------------------------------------------------------- */

static const Params EOP_APP = {MODE_EOP, 0}, CLASSIC_APP = {MODE_CLASSIC, 0},
                    EOP_SYS = {MODE_EOP, 1}, CLASSIC_SYS = {MODE_CLASSIC, 1};

#define BOTH(fn)                                                                                   \
  cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&EOP_APP),                 \
      cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&CLASSIC_APP)
#define ALL4(fn)                                                                                   \
  BOTH(fn), cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&EOP_SYS),       \
      cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&CLASSIC_SYS)

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH(test_counter_updates_and_queries),
      cmocka_unit_test_prestate_setup_teardown(test_counter_upgrade_keeps_stable_vars, setup,
                                               teardown, (void *)&EOP_APP),
      cmocka_unit_test_prestate_setup_teardown(test_counter_upgrade_keeps_stable_vars, setup,
                                               teardown, (void *)&CLASSIC_APP),
      BOTH(test_counter_upgrade_option_mismatch_is_refused),
      BOTH(test_traps_roll_back),
      BOTH(test_calls_between_canisters),
      BOTH(test_trap_after_await_keeps_the_first_part),
      ALL4(test_cycles_transfer),
      BOTH(test_raw_rand),
  };
  return cmocka_run_group_tests_name("unit_motoko", tests, NULL, NULL);
}
