/* unit_query.c -- snapshots and the query driver (lib/query.h): snapshot
 * isolation (later changes, a paused DTS execution, a freed state), queries
 * discard their changes, update-only System API calls trap, the query
 * instruction limit, composite queries (nested, reject paths, the caller's
 * changes kept for its callbacks, re-entrant calls, depth and call-graph
 * instruction limits), the IC's errors for missing canisters and methods,
 * and many threads querying one snapshot while the live state changes.
 * Canister: the universal test canister (tests/uc.h); the state is driven
 * with icxCanister_execute directly (no scheduler). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "canister.h"
#include "principal.h"
#include "query.h"
#include "state.h"

#include "uc.h"

#ifndef ICX_TEST_CANISTER_DIR
#define ICX_TEST_CANISTER_DIR "build/canisters"
#endif

#define TIME0 1700000000000000000ull
#define T 1000000000000ull

/* ---- the world ------------------------------------------------------------------ */
static struct {
  icxAllocator a;
  icxCode *uc;
  icx_principal user;
} w;

typedef struct Fx {
  icxState *st;
  icxExecEnv env;
} Fx;

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (run make canisters)", path);
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  for (;;) {
    if (n == cap) b = realloc(b, cap *= 2);
    size_t k = fread(b + n, 1, cap - n, f);
    if (k == 0) break;
    n += k;
  }
  fclose(f);
  *len = n;
  return b;
}

static int group_setup(void **state) {
  (void)state;
  w.a = icxCore_default_allocator();
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  size_t len;
  uint8_t *b = read_file(ICX_TEST_CANISTER_DIR "/uc.wasm", &len);
  icxErr err;
  icxErr_clear(&err);
  if (icxCode_new(&w.a, &cfg, b, len, &w.uc, &err) != ICX_OK) fail_msg("uc: %s", err.msg);
  free(b);
  static const uint8_t der[] = "unit_query user";
  w.user = icxPrincipal_self_authenticating(der, sizeof der);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  icxCode_unref(w.uc);
  return 0;
}

static Fx *fx_new(void) {
  Fx *f = calloc(1, sizeof *f);
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  icxErr err;
  icxErr_clear(&err);
  if (icxState_new(&w.a, &cfg, NULL, &f->st, &err) != ICX_OK) fail_msg("state: %s", err.msg);
  f->st->time_ns = TIME0;
  f->st->round = 1;
  f->env.cfg = &f->st->cfg;
  f->env.time_ns = TIME0;
  f->env.slice = f->st->cfg.max_instructions_message;
  return f;
}

static void fx_free(Fx *f) {
  icxState_free(f->st);
  free(f);
}

/* A canister with index idx; installed with uc when install is set. */
static icxCanister *mk(Fx *f, uint64_t idx, int install) {
  icx_principal id = icxPrincipal_canister(idx);
  icxCanister *c = NULL;
  icxErr err;
  icxErr_clear(&err);
  if (icxState_create_canister(f->st, &id, &w.user, NULL, icxU128_from_u64(100 * T), &c, &err))
    fail_msg("create: %s", err.msg);
  if (!install) return c;
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = ICX_INSTALL_MODE_INSTALL;
  ia.code = w.uc;
  ia.caller = w.user;
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icxExecEnv env = f->env;
  env.slice = 0;
  if (icxCanister_install(c, &env, &ia, &o, &err) != ICX_OK || !o.done || o.error_code)
    fail_msg("install: %s %s", err.msg, o.error);
  icxExecOutcome_free(&w.a, &o);
  return c;
}

/* Run script s as an update on c to completion; the reply must be a reply. */
static void update(Fx *f, icxCanister *c, const uc_script *s) {
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = w.user;
  m.dst = c->id;
  m.method = "update";
  m.method_len = 6;
  m.data = s->p;
  m.len = s->len;
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icxErr err;
  icxErr_clear(&err);
  if (icxCanister_execute(c, &f->env, ICX_EXEC_UPDATE, &m, &o, &err) != ICX_OK)
    fail_msg("update: %s", err.msg);
  while (!o.done) {
    icxExecOutcome_free(&w.a, &o);
    if (icxCanister_resume(c, &f->env, &o, &err) != ICX_OK) fail_msg("resume: %s", err.msg);
  }
  if (o.trapped || !o.nout || o.out[0].reject_code)
    fail_msg("update failed: IC%04u %s", o.error_code, o.error);
  icxExecOutcome_free(&w.a, &o);
}

static void set_scratch(Fx *f, icxCanister *c, const char *v) {
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, v);
  uc_scratch_set(&s);
  uc_reply_str(&s, "ok");
  update(f, c, &s);
  uc_free(&s);
}

static icxSnapshot *snap(Fx *f) {
  icxSnapshot *s = NULL;
  icxErr err;
  icxErr_clear(&err);
  if (icxSnapshot_new(&w.a, f->st, NULL, &s, &err) != ICX_OK) fail_msg("snapshot: %s", err.msg);
  return s;
}

static icxQueryResult query(const icxSnapshot *s, const icx_principal *c, const char *method,
                            const uc_script *arg) {
  icxQueryResult r;
  icxErr err;
  icxErr_clear(&err);
  icx_status rc = icxQuery_run(s, &w.user, c, method, strlen(method), arg ? arg->p : NULL,
                               arg ? arg->len : 0, &r, &err);
  if (rc != ICX_OK) fail_msg("icxQuery_run: %d %s", rc, err.msg);
  return r;
}

static void expect_reply(const icxSnapshot *s, const icx_principal *c, const char *method,
                         const uc_script *arg, const char *want) {
  icxQueryResult r = query(s, c, method, arg);
  if (r.reject_code)
    fail_msg("rejected %u IC%04u: %.*s", r.reject_code, r.error_code, (int)r.len,
             (const char *)r.data);
  assert_int_equal(r.error_code, 0);
  assert_int_equal(r.len, strlen(want));
  assert_memory_equal(r.data, want, r.len);
  assert_true(r.instructions > 0);
  icxQueryResult_free(&w.a, &r);
}

/* A reject with these codes whose text contains needle (and, if exact,
 * equals it). */
static void expect_reject(const icxSnapshot *s, const icx_principal *c, const char *method,
                          const uc_script *arg, uint32_t rcode, uint16_t ecode, const char *needle,
                          int exact) {
  icxQueryResult r = query(s, c, method, arg);
  char text[4096];
  size_t n = r.len < sizeof text - 1 ? r.len : sizeof text - 1;
  memcpy(text, r.data ? (const char *)r.data : "", n);
  text[n] = 0;
  if (r.reject_code != rcode || r.error_code != ecode)
    fail_msg("expected reject %u IC%04u, got %u IC%04u: %s", rcode, ecode, r.reject_code,
             r.error_code, text);
  if (exact && strcmp(text, needle) != 0) fail_msg("text \"%s\" != \"%s\"", text, needle);
  if (!strstr(text, needle)) fail_msg("text \"%s\" lacks \"%s\"", text, needle);
  icxQueryResult_free(&w.a, &r);
}

static uc_script script_scratch(void) {
  uc_script s;
  uc_init(&s);
  uc_scratch_get(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  return s;
}

static char *idtext(const icx_principal *p, char *buf, size_t cap) {
  icxPrincipal_to_text(p, buf, cap);
  return buf;
}

/* ---- snapshots ---------------------------------------------------------------------- */

/* Later changes to the state are not seen; a new snapshot sees them; the
 * snapshot outlives the state (it holds the page-map context). */
static void test_snapshot_isolation(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *c = mk(f, 1, 1);
  set_scratch(f, c, "old");
  icxSnapshot *s1 = snap(f);
  assert_int_equal(s1->ncan, 1);
  assert_int_equal(s1->round, 1);
  set_scratch(f, c, "new");
  f->st->round = 2;
  icxSnapshot *s2 = snap(f);
  uc_script q = script_scratch();
  expect_reply(s1, &c->id, "query", &q, "old");
  expect_reply(s2, &c->id, "query", &q, "new");
  /* the uc counter (heap) and stable memory too */
  uc_script st;
  uc_init(&st);
  uc_push_int(&st, 1);
  uc_stable64_grow(&st);
  uc_drop(&st);
  uc_push_int(&st, 0);
  uc_push_str(&st, "stable!");
  uc_stable64_write(&st);
  uc_reply_str(&st, "ok");
  update(f, c, &st);
  uc_script rd;
  uc_init(&rd);
  uc_stable64_size(&rd);
  uc_reply_data_append(&rd);
  uc_reply(&rd);
  icxQueryResult r = query(s2, &c->id, "query", &rd);
  assert_int_equal(r.reject_code, 0);
  assert_int_equal(r.len, 8);
  assert_int_equal(r.data[0], 0); /* no stable memory in s2 */
  icxQueryResult_free(&w.a, &r);
  icxSnapshot *s3 = snap(f);
  uc_script rd2;
  uc_init(&rd2);
  uc_push_int(&rd2, 0);
  uc_push_int(&rd2, 7);
  uc_stable64_read(&rd2);
  uc_reply_data_append(&rd2);
  uc_reply(&rd2);
  /* the state goes away; the snapshots stay valid */
  fx_free(f);
  icx_principal c1 = icxPrincipal_canister(1);
  expect_reply(s3, &c1, "query", &rd2, "stable!");
  expect_reply(s1, &c1, "query", &q, "old");
  icxSnapshot_free(s1);
  icxSnapshot_free(s2);
  icxSnapshot_free(s3);
  uc_free(&q);
  uc_free(&st);
  uc_free(&rd);
  uc_free(&rd2);
}

/* A canister in the middle of a DTS execution is snapshotted at its
 * committed state. */
static void test_snapshot_paused_execution(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *c = mk(f, 1, 1);
  set_scratch(f, c, "committed");
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, "in flight");
  uc_scratch_set(&s);
  uc_push_int(&s, 3000000);
  uc_burn(&s);
  uc_reply_str(&s, "ok");
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = w.user;
  m.dst = c->id;
  m.method = "update";
  m.method_len = 6;
  m.data = s.p;
  m.len = s.len;
  icxExecEnv env = f->env;
  env.slice = 1000000;
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icxErr err;
  icxErr_clear(&err);
  assert_int_equal(icxCanister_execute(c, &env, ICX_EXEC_UPDATE, &m, &o, &err), ICX_OK);
  assert_int_equal(o.done, 0);
  assert_non_null(c->paused);
  icxSnapshot *sn = snap(f);
  uc_script q = script_scratch();
  expect_reply(sn, &c->id, "query", &q, "committed");
  while (!o.done) {
    icxExecOutcome_free(&w.a, &o);
    assert_int_equal(icxCanister_resume(c, &env, &o, &err), ICX_OK);
  }
  icxExecOutcome_free(&w.a, &o);
  expect_reply(sn, &c->id, "query", &q, "committed");
  icxSnapshot *sn2 = snap(f);
  expect_reply(sn2, &c->id, "query", &q, "in flight");
  icxSnapshot_free(sn);
  icxSnapshot_free(sn2);
  uc_free(&s);
  uc_free(&q);
  fx_free(f);
}

/* ---- queries ------------------------------------------------------------------------- */

/* Changes made by a query are discarded: the next query starts again from
 * the snapshot (heap, stable memory). */
static void test_query_discards_changes(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *c = mk(f, 1, 1);
  icxSnapshot *s = snap(f);
  uc_script inc;
  uc_init(&inc);
  uc_counter_inc(&inc);
  uc_reply_data_append(&inc);
  uc_reply(&inc);
  for (int i = 0; i < 3; i++) {
    icxQueryResult r = query(s, &c->id, "query", &inc);
    assert_int_equal(r.reject_code, 0);
    assert_int_equal(r.len, 8);
    assert_int_equal(r.data[0] | r.data[1] << 8, UC_COUNTER_INIT + 1);
    icxQueryResult_free(&w.a, &r);
    /* the same through a composite query */
    r = query(s, &c->id, "cquery", &inc);
    assert_int_equal(r.reject_code, 0);
    assert_int_equal(r.data[0] | r.data[1] << 8, UC_COUNTER_INIT + 1);
    icxQueryResult_free(&w.a, &r);
  }
  /* nor does the live canister see anything */
  uc_script get;
  uc_init(&get);
  uc_counter_get(&get);
  uc_reply_data_append(&get);
  uc_reply(&get);
  icxQueryResult r = query(s, &c->id, "query", &get);
  assert_int_equal(r.data[0] | r.data[1] << 8, UC_COUNTER_INIT);
  icxQueryResult_free(&w.a, &r);
  assert_int_equal(c->nctxs, 0);
  /* in_replicated_execution is 0 */
  uc_script rep;
  uc_init(&rep);
  uc_in_replicated_execution(&rep);
  uc_reply_data_append(&rep);
  uc_reply(&rep);
  r = query(s, &c->id, "query", &rep);
  assert_int_equal(r.data[0], 0);
  icxQueryResult_free(&w.a, &r);
  icxSnapshot_free(s);
  uc_free(&inc);
  uc_free(&get);
  uc_free(&rep);
  fx_free(f);
}

/* Update-only System API calls trap with the replica's text, in a query
 * (non replicated query) and in a composite query. */
static void test_query_update_only_calls_trap(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *c = mk(f, 1, 1);
  icxSnapshot *s = snap(f);
  char want[1024], id[80];
  idtext(&c->id, id, sizeof id);
  uc_script a;
  uc_init(&a);
  uc_push_int(&a, 5);
  uc_msg_cycles_accept(&a);
  uc_reply(&a);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister violated contract: \"ic0_msg_cycles_accept\" cannot "
           "be executed in non replicated query mode.\nCheck the ICP documentation to make sure "
           "APIs are being called in the correct message types. See documentation: "
           "https://internetcomputer.org/docs/current/references/execution-errors#"
           "calling-a-system-api-from-the-wrong-mode",
           id);
  expect_reject(s, &c->id, "query", &a, 5, 504, want, 1);
  expect_reject(s, &c->id, "cquery", &a, 5, 504,
                "\"ic0_msg_cycles_accept\" cannot be executed in composite query mode", 0);
  uc_script b;
  uc_init(&b);
  uc_push_str(&b, "cert");
  uc_certified_data_set(&b);
  uc_reply(&b);
  expect_reject(s, &c->id, "query", &b, 5, 504,
                "\"ic0_certified_data_set\" cannot be executed in non replicated query mode", 0);
  /* a plain query cannot call */
  uc_script d;
  uc_init(&d);
  uc_call_begin(&d, c->id.bytes, c->id.len, "query", NULL, NULL, NULL);
  uc_reply(&d);
  expect_reject(s, &c->id, "query", &d, 5, 504,
                "\"ic0_call_new\" cannot be executed in non replicated query mode", 0);
  icxSnapshot_free(s);
  uc_free(&a);
  uc_free(&b);
  uc_free(&d);
  fx_free(f);
}

/* The query instruction limit: IC0522 with the configured limit. */
static void test_query_instruction_limit(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *c = mk(f, 1, 1);
  f->st->cfg.max_instructions_query = 20000000;
  icxSnapshot *s = snap(f);
  uc_script b;
  uc_init(&b);
  uc_push_int(&b, 100000000);
  uc_burn(&b);
  uc_reply_str(&b, "done");
  expect_reject(s, &c->id, "query", &b, 5, 522,
                "Canister exceeded the limit of 20000000 instructions for single message "
                "execution.",
                0);
  icxQueryResult r = query(s, &c->id, "cquery", &b);
  assert_int_equal(r.error_code, 522);
  assert_true(r.instructions >= 20000000 && r.instructions <= 20000000);
  icxQueryResult_free(&w.a, &r);
  /* a small burn fits */
  uc_script ok;
  uc_init(&ok);
  uc_push_int(&ok, 1000);
  uc_burn(&ok);
  uc_reply_str(&ok, "fits");
  expect_reply(s, &c->id, "query", &ok, "fits");
  icxSnapshot_free(s);
  uc_free(&b);
  uc_free(&ok);
  fx_free(f);
}

/* Not found, empty, method missing (update method), stopped, stopping,
 * frozen; did not reply. */
static void test_query_errors(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *c = mk(f, 1, 1);
  icxCanister *empty = mk(f, 2, 0);
  icxCanister *stopped = mk(f, 3, 1);
  icxCanister *stopping = mk(f, 4, 1);
  icxCanister *frozen = mk(f, 5, 1);
  stopped->status = ICX_STATUS_STOPPED;
  stopping->status = ICX_STATUS_STOPPING;
  frozen->balance = icxU128_from_u64(1);
  icxSnapshot *s = snap(f);
  char want[1024], id[80];
  uc_script q = script_scratch();
  icx_principal nobody = icxPrincipal_canister(77);
  snprintf(want, sizeof want, "Canister %s not found", idtext(&nobody, id, sizeof id));
  expect_reject(s, &nobody, "query", &q, 3, 301, want, 1);
  snprintf(want, sizeof want,
           "Error from Canister %s: Attempted to execute a message, but the canister contains no "
           "Wasm module..\nPlease install code to this canister before calling it. See "
           "documentation: https://internetcomputer.org/docs/current/references/"
           "execution-errors#wasm-module-not-found",
           idtext(&empty->id, id, sizeof id));
  expect_reject(s, &empty->id, "query", &q, 5, 537, "contains no Wasm module", 0);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister has no query method 'update'..\nCheck that the "
           "method being called is exported by the target canister. See documentation: "
           "https://internetcomputer.org/docs/current/references/execution-errors#"
           "method-not-found",
           idtext(&c->id, id, sizeof id));
  expect_reject(s, &c->id, "update", &q, 5, 536, "Canister has no query method 'update'", 0);
  expect_reject(s, &c->id, "nope", &q, 5, 536, "Canister has no query method 'nope'", 0);
  expect_reject(s, &c->id, "", &q, 5, 536, "Canister has no query method ''", 0);
  snprintf(want, sizeof want,
           "Canister %s is stopped and therefore does not have a CallContextManager",
           idtext(&stopped->id, id, sizeof id));
  expect_reject(s, &stopped->id, "query", &q, 5, 508, want, 1);
  snprintf(want, sizeof want, "Canister %s is not running", idtext(&stopping->id, id, sizeof id));
  expect_reject(s, &stopping->id, "query", &q, 5, 509, want, 1);
  expect_reject(s, &frozen->id, "query", &q, 2, 207,
                "is unable to process query calls because it's frozen", 0);
  /* no reply: the query handler's text */
  uc_script none;
  uc_init(&none);
  uc_push_int(&none, 1);
  uc_drop(&none);
  snprintf(want, sizeof want, "Canister %s did not produce a response",
           idtext(&c->id, id, sizeof id));
  expect_reject(s, &c->id, "query", &none, 5, 506, want, 1);
  expect_reject(s, &c->id, "cquery", &none, 5, 506, want, 1);
  /* an explicit reject and a trap */
  uc_script rj;
  uc_init(&rj);
  uc_reject_str(&rj, "no way");
  expect_reject(s, &c->id, "query", &rj, 4, 406, "no way", 1);
  uc_script tr;
  uc_init(&tr);
  uc_trap_str(&tr, "boom");
  expect_reject(s, &c->id, "cquery", &tr, 5, 503,
                "Canister called `ic0.trap` with message: 'boom'", 0);
  /* a huge argument */
  size_t big = 4u << 20;
  uc_script h;
  uc_init(&h);
  uint8_t *pad = calloc(1, big);
  uc_push_bytes(&h, pad, big);
  free(pad);
  uc_drop(&h);
  uc_msg_arg_data_size(&h);
  uc_reply_data_append(&h);
  uc_reply(&h);
  icxQueryResult r;
  icxErr err;
  assert_int_equal(icxQuery_run(s, &w.user, &c->id, "query", 5, h.p, h.len, &r, &err), ICX_OK);
  if (r.reject_code) fail_msg("huge argument: %.*s", (int)r.len, (const char *)r.data);
  assert_int_equal(r.len, 8);
  uint64_t got = 0;
  for (int i = 7; i >= 0; i--) got = got << 8 | r.data[i];
  assert_int_equal(got, h.len);
  icxQueryResult_free(&w.a, &r);
  icxSnapshot_free(s);
  uc_free(&q);
  uc_free(&none);
  uc_free(&rj);
  uc_free(&tr);
  uc_free(&h);
  fx_free(f);
}

/* ---- composite queries ------------------------------------------------------------------ */

/* callee's `method` with script arg; reply callback: reply with the reply
 * bytes prefixed by `tag`; reject callback: reply "rejected " <code as 8
 * bytes LE> ": " <msg> (see rejected()). */
static void call_and_forward(uc_script *s, const icx_principal *callee, const char *method,
                             const uc_script *arg, const char *tag) {
  uc_script rep, rej;
  uc_init(&rep);
  uc_push_str(&rep, tag);
  uc_msg_arg_data(&rep);
  uc_concat(&rep);
  uc_reply_data_append(&rep);
  uc_reply(&rep);
  uc_init(&rej);
  uc_push_str(&rej, "rejected ");
  uc_reply_data_append(&rej);
  uc_msg_reject_code(&rej); /* 8 bytes, little-endian */
  uc_reply_data_append(&rej);
  uc_push_str(&rej, ": ");
  uc_msg_reject_msg(&rej);
  uc_concat(&rej);
  uc_reply_data_append(&rej);
  uc_reply(&rej);
  uc_call_begin(s, callee->bytes, callee->len, method, &rep, &rej, arg);
  uc_call_perform(s);
  uc_drop(&*s);
  uc_free(&rep);
  uc_free(&rej);
}

/* A composite query calling a query, nested composite queries, the
 * caller's heap changes seen by its callback, re-entrant calls, and the
 * reject paths (update method, missing canister, trap, explicit reject). */
static void test_composite_query(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *a = mk(f, 1, 1), *b = mk(f, 2, 1), *c = mk(f, 3, 1);
  set_scratch(f, a, "A");
  set_scratch(f, b, "B");
  set_scratch(f, c, "C");
  icxSnapshot *s = snap(f);
  uc_script leaf = script_scratch(); /* replies with the callee's scratch */

  /* A -> B.query */
  uc_script s1;
  uc_init(&s1);
  call_and_forward(&s1, &b->id, "query", &leaf, "a<");
  expect_reply(s, &a->id, "cquery", &s1, "a<B");

  /* A -> B.cquery -> C.query: nested */
  uc_script inner, s2;
  uc_init(&inner);
  call_and_forward(&inner, &c->id, "query", &leaf, "b<");
  uc_init(&s2);
  call_and_forward(&s2, &b->id, "cquery", &inner, "a<");
  expect_reply(s, &a->id, "cquery", &s2, "a<b<C");

  /* the caller's changes are kept for its callback: A sets its scratch,
   * calls, and its reply callback replies with the scratch */
  uc_script keep, rep_scr;
  uc_init(&keep);
  uc_push_str(&keep, "changed in A");
  uc_scratch_set(&keep);
  rep_scr = script_scratch();
  uc_call_begin(&keep, b->id.bytes, b->id.len, "query", &rep_scr, NULL, &leaf);
  uc_call_perform(&keep);
  uc_drop(&keep);
  expect_reply(s, &a->id, "cquery", &keep, "changed in A");
  expect_reply(s, &a->id, "query", &leaf, "A"); /* and discarded afterwards */

  /* re-entrant: A -> B -> A sees A's snapshot state, not the caller's changes */
  uc_script back, via_b, re;
  uc_init(&back);
  call_and_forward(&back, &a->id, "query", &leaf, "b<");
  uc_init(&re);
  uc_push_str(&re, "changed");
  uc_scratch_set(&re);
  call_and_forward(&re, &b->id, "cquery", &back, "a<");
  expect_reply(s, &a->id, "cquery", &re, "a<b<A");
  (void)via_b;

  /* two calls: the first callback does not reply, the second does */
  uc_script two, noop, fwd;
  uc_init(&two);
  uc_init(&noop);
  uc_push_int(&noop, 0);
  uc_drop(&noop);
  uc_init(&fwd);
  uc_msg_arg_data(&fwd);
  uc_reply_data_append(&fwd);
  uc_reply(&fwd);
  uc_call_begin(&two, b->id.bytes, b->id.len, "query", &noop, &noop, &leaf);
  uc_call_perform(&two);
  uc_drop(&two);
  uc_call_begin(&two, c->id.bytes, c->id.len, "query", &fwd, &noop, &leaf);
  uc_call_perform(&two);
  uc_drop(&two);
  expect_reply(s, &a->id, "cquery", &two, "C");

  /* reject paths seen by the caller's reject callback */
  char want[1024], id[80];
  uc_script up;
  uc_init(&up);
  call_and_forward(&up, &b->id, "update", &leaf, "a<");
  snprintf(want, sizeof want,
           "IC0536: Error from Canister %s: Canister has no query method 'update'..\nCheck that "
           "the method being called is exported by the target canister. See documentation: "
           "https://internetcomputer.org/docs/current/references/execution-errors#"
           "method-not-found",
           idtext(&b->id, id, sizeof id));
  icx_principal nobody = icxPrincipal_canister(99);
  uc_script nf;
  uc_init(&nf);
  call_and_forward(&nf, &nobody, "query", &leaf, "a<");
  uc_script rj, rjs;
  uc_init(&rjs);
  uc_reject_str(&rjs, "B says no");
  uc_init(&rj);
  call_and_forward(&rj, &b->id, "query", &rjs, "a<");
  uc_script tr, trs;
  uc_init(&trs);
  uc_trap_str(&trs, "B traps");
  uc_init(&tr);
  call_and_forward(&tr, &b->id, "cquery", &trs, "a<");
  uc_script mg;
  uc_init(&mg);
  icx_principal ic00 = icxPrincipal_management();
  call_and_forward(&mg, &ic00, "raw_rand", NULL, "a<");

  struct {
    uc_script *sc;
    uint8_t code;
    const char *msg;
    int exact;
  } cases[5];
  char w2[256], w4[256];
  snprintf(w2, sizeof w2, "IC0301: Canister %s not found", idtext(&nobody, id, sizeof id));
  snprintf(w4, sizeof w4, "IC0503: Error from Canister %s: Canister called `ic0.trap` "
           "with message: 'B traps'",
           idtext(&b->id, id, sizeof id));
  cases[0].sc = &up, cases[0].code = 5, cases[0].msg = want, cases[0].exact = 1;
  cases[1].sc = &nf, cases[1].code = 3, cases[1].msg = w2, cases[1].exact = 1;
  cases[2].sc = &rj, cases[2].code = 4, cases[2].msg = "B says no", cases[2].exact = 1;
  cases[3].sc = &tr, cases[3].code = 5, cases[3].msg = w4, cases[3].exact = 0;
  cases[4].sc = &mg, cases[4].code = 3, cases[4].msg = "IC0301: Canister aaaaa-aa not found",
  cases[4].exact = 1;
  for (int i = 0; i < 5; i++) {
    icxQueryResult r = query(s, &a->id, "cquery", cases[i].sc);
    if (r.reject_code)
      fail_msg("case %d rejected: %.*s", i, (int)r.len, (const char *)r.data);
    uint8_t exp[2048];
    size_t n = 0, ml = strlen(cases[i].msg);
    memcpy(exp, "rejected ", 9);
    n = 9;
    memset(exp + n, 0, 8);
    exp[n] = cases[i].code;
    n += 8;
    memcpy(exp + n, ": ", 2);
    n += 2;
    memcpy(exp + n, cases[i].msg, ml);
    n += ml;
    if (r.len < n || (cases[i].exact && r.len != n) || memcmp(r.data, exp, n) != 0)
      fail_msg("case %d: got \"%.*s\" (code %u), want \"%s\" (code %u)", i,
               (int)(r.len > 17 ? r.len - 17 : 0), (const char *)r.data + 17,
               r.len > 9 ? r.data[9] : 0, cases[i].msg, cases[i].code);
    icxQueryResult_free(&w.a, &r);
  }
  /* a trap in the caller's callback is the query's error */
  uc_script cbt, trap_cb;
  uc_init(&trap_cb);
  uc_trap_str(&trap_cb, "callback traps");
  uc_init(&cbt);
  uc_call_begin(&cbt, b->id.bytes, b->id.len, "query", &trap_cb, NULL, &leaf);
  uc_call_perform(&cbt);
  uc_drop(&cbt);
  expect_reject(s, &a->id, "cquery", &cbt, 5, 503, "'callback traps'", 0);
  /* cycles calls trap in composite callbacks too */
  uc_script cyc, cyc_cb;
  uc_init(&cyc_cb);
  uc_push_int(&cyc_cb, 1);
  uc_cycles_burn128(&cyc_cb);
  uc_reply(&cyc_cb);
  uc_init(&cyc);
  uc_call_begin(&cyc, b->id.bytes, b->id.len, "query", &cyc_cb, NULL, &leaf);
  uc_call_perform(&cyc);
  uc_drop(&cyc);
  expect_reject(s, &a->id, "cquery", &cyc, 5, 504,
                "\"ic0_cycles_burn128\" cannot be executed in composite reply callback mode", 0);

  icxSnapshot_free(s);
  uc_script *all[] = {&leaf, &s1, &inner, &s2, &keep, &rep_scr, &back, &re, &two, &noop,
                      &fwd, &up, &nf, &rj, &rjs, &tr, &trs, &mg, &cbt, &trap_cb, &cyc, &cyc_cb};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) uc_free(all[i]);
  fx_free(f);
}

/* A chain of k composite calls between two canisters. */
static uc_script chain(const icx_principal *x, const icx_principal *y, int k) {
  uc_script s;
  uc_init(&s);
  if (k == 0) {
    uc_reply_str(&s, "leaf");
    return s;
  }
  uc_script inner = chain(y, x, k - 1);
  call_and_forward(&s, y, "cquery", &inner, "+");
  uc_free(&inner);
  return s;
}

/* Depth 6 (the replica's MAX_QUERY_CALL_DEPTH) and the call graph's
 * instruction limit. */
static void test_composite_limits(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *a = mk(f, 1, 1), *b = mk(f, 2, 1);
  icxSnapshot *s = snap(f);
  uc_script c6 = chain(&a->id, &b->id, 6), c7 = chain(&a->id, &b->id, 7);
  expect_reply(s, &a->id, "cquery", &c6, "++++++leaf");
  expect_reject(s, &a->id, "cquery", &c7, 5, 525,
                "Composite query calls exceeded the maximum call depth.", 1);
  icxSnapshot_free(s);

  /* 120 M for the whole graph: three calls cost 3 x 50 M of overhead */
  f->st->cfg.max_instructions_query = 120000000;
  s = snap(f);
  uc_script leaf, three, noop;
  uc_init(&leaf);
  uc_reply_str(&leaf, "x");
  uc_init(&noop);
  uc_push_int(&noop, 0);
  uc_drop(&noop);
  uc_init(&three);
  for (int i = 0; i < 3; i++) {
    uc_call_begin(&three, b->id.bytes, b->id.len, "query", &noop, &noop, &leaf);
    uc_call_perform(&three);
    uc_drop(&three);
  }
  expect_reject(s, &a->id, "cquery", &three, 5, 526,
                "Composite query calls exceeded the instruction limit.", 1);
  /* two calls fit: the context ends unanswered */
  uc_script two;
  uc_init(&two);
  for (int i = 0; i < 2; i++) {
    uc_call_begin(&two, b->id.bytes, b->id.len, "query", &noop, &noop, &leaf);
    uc_call_perform(&two);
    uc_drop(&two);
  }
  expect_reject(s, &a->id, "cquery", &two, 5, 506, "did not produce a response", 0);
  /* a callee that burns beyond what is left: IC0522 with the remaining budget */
  uc_script burn, big;
  uc_init(&burn);
  uc_push_int(&burn, 100000000);
  uc_burn(&burn);
  uc_reply_str(&burn, "never");
  uc_init(&big);
  call_and_forward(&big, &b->id, "query", &burn, "a<");
  icxQueryResult r = query(s, &a->id, "cquery", &big);
  assert_int_equal(r.error_code, 526); /* the callee's failure used up the budget */
  assert_true(r.instructions > 60000000 && r.instructions < 120000000);
  icxQueryResult_free(&w.a, &r);
  icxSnapshot_free(s);
  uc_script *all[] = {&c6, &c7, &leaf, &three, &noop, &two, &burn, &big};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) uc_free(all[i]);
  fx_free(f);
}

/* ---- threads ------------------------------------------------------------------------------- */

typedef struct Worker {
  const icxSnapshot *s;
  const icx_principal *a, *b;
  const uc_script *q, *cq;
  int rounds, bad;
} Worker;

static void *worker(void *ud) {
  Worker *wk = ud;
  for (int i = 0; i < wk->rounds; i++) {
    icxQueryResult r;
    icxErr err;
    if (icxQuery_run(wk->s, &w.user, wk->a, "query", 5, wk->q->p, wk->q->len, &r, &err) ||
        r.reject_code || r.len != 3 || memcmp(r.data, "v=1", 3) != 0)
      wk->bad++;
    icxQueryResult_free(&w.a, &r);
    if (icxQuery_run(wk->s, &w.user, wk->a, "cquery", 6, wk->cq->p, wk->cq->len, &r, &err) ||
        r.reject_code || r.len != 3 || memcmp(r.data, "v=1", 3) != 0)
      wk->bad++;
    icxQueryResult_free(&w.a, &r);
  }
  return NULL;
}

/* Four threads query one snapshot (plain and composite) while the main
 * thread keeps changing the live canisters. */
static void test_threads(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxCanister *a = mk(f, 1, 1), *b = mk(f, 2, 1);
  set_scratch(f, a, "v=1");
  set_scratch(f, b, "v=1");
  icxSnapshot *s = snap(f);
  uc_script q = script_scratch(), cq, fwd;
  uc_init(&fwd);
  uc_msg_arg_data(&fwd);
  uc_reply_data_append(&fwd);
  uc_reply(&fwd);
  uc_init(&cq);
  uc_push_str(&cq, "scribble");
  uc_scratch_set(&cq);
  uc_call_begin(&cq, b->id.bytes, b->id.len, "query", &fwd, NULL, &q);
  uc_call_perform(&cq);
  uc_drop(&cq);
  enum { N = 4 };
  pthread_t th[N];
  Worker wk[N];
  for (int i = 0; i < N; i++) {
    wk[i] = (Worker){s, &a->id, &b->id, &q, &cq, 40, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &wk[i]), 0);
  }
  char v[32];
  for (int i = 2; i < 60; i++) {
    snprintf(v, sizeof v, "v=%d", i);
    set_scratch(f, a, v);
    set_scratch(f, b, v);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(wk[i].bad, 0);
  }
  icxSnapshot_free(s);
  s = snap(f);
  expect_reply(s, &a->id, "query", &q, "v=59");
  icxSnapshot_free(s);
  uc_free(&q);
  uc_free(&cq);
  uc_free(&fwd);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshot_isolation),
      cmocka_unit_test(test_snapshot_paused_execution),
      cmocka_unit_test(test_query_discards_changes),
      cmocka_unit_test(test_query_update_only_calls_trap),
      cmocka_unit_test(test_query_instruction_limit),
      cmocka_unit_test(test_query_errors),
      cmocka_unit_test(test_composite_query),
      cmocka_unit_test(test_composite_limits),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
