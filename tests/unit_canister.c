/* unit_canister.c -- white-box tests of the canister runtime (lib/canister.h):
 * install, updates, the System API, traps and rollback, fees, calls and
 * callbacks, upgrade, DTS, queries.  Test canister: tests/wat/cnst_basic.wat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "canister.h"
#include "principal.h"

typedef struct Fx {
  icxAllocator a;
  icxPmCtx *pm;
  icxRtConfig cfg;
  icxExecEnv env;
  icxCode *code;
  icxCanister *c;
  icxErr err;
  char log[256];
  size_t loglen;
} Fx;

static void sink(void *ud, const icx_principal *id, const uint8_t *m, size_t n) {
  Fx *f = ud;
  (void)id;
  if (f->loglen + n < sizeof f->log) {
    memcpy(f->log + f->loglen, m, n);
    f->loglen += n;
  }
}

static uint8_t *read_file(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", ICX_TEST_WASM_DIR, name);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  assert_int_equal(fread(b, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  *len = (size_t)n;
  return b;
}

static icxCode *load_code(Fx *f, const char *name) {
  size_t len;
  uint8_t *b = read_file(name, &len);
  icxCode *code = NULL;
  icx_status rc = icxCode_new(&f->a, &f->cfg, b, len, &code, &f->err);
  free(b);
  if (rc != ICX_OK) fprintf(stderr, "code: %s\n", f->err.msg);
  assert_int_equal(rc, ICX_OK);
  return code;
}

static void install(Fx *f, int mode, const char *arg, icxExecOutcome *out) {
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = mode;
  ia.code = f->code;
  ia.arg = (const uint8_t *)arg;
  ia.arg_len = arg ? strlen(arg) : 0;
  ia.caller = icxPrincipal_anonymous();
  assert_int_equal(icxCanister_install(f->c, &f->env, &ia, out, &f->err), ICX_OK);
}

static Fx *fx_new(void) {
  Fx *f = calloc(1, sizeof *f);
  f->a = icxCore_default_allocator();
  f->pm = icxPm_ctx_new(&f->a);
  icxRtConfig_defaults(&f->cfg);
  f->cfg.debug_print = sink;
  f->cfg.debug_print_ud = f;
  f->env.cfg = &f->cfg;
  f->env.time_ns = 1700000000000000000ull;
  icx_principal id = icxPrincipal_canister(7);
  assert_int_equal(icxCanister_new(&f->a, f->pm, &f->cfg, &id, &f->c, &f->err), ICX_OK);
  f->c->balance = icxU128_from_u64(100000000000000ull); /* 100 T */
  f->code = load_code(f, "cnst_basic.wasm");
  icxExecOutcome out;
  install(f, ICX_INSTALL_MODE_INSTALL, "xy", &out);
  if (out.error_code) fprintf(stderr, "install: %s\n", out.error);
  assert_int_equal(out.error_code, 0);
  icxExecOutcome_free(&f->a, &out);
  return f;
}

static void fx_free(Fx *f) {
  icxCanister_free(f->c);
  icxCode_unref(f->code);
  icxPm_ctx_free(f->pm);
  free(f);
}

static icxMsg make_msg(uint8_t kind, const char *method, const void *arg, size_t len) {
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = kind;
  m.src = icxPrincipal_anonymous();
  m.dst = icxPrincipal_canister(7);
  m.method = (char *)method;
  m.method_len = (uint32_t)strlen(method);
  m.data = (uint8_t *)arg;
  m.len = len;
  m.msg_id[0] = 0xab;
  return m;
}

/* Execute kind on an ingress for method (unsliced unless env.slice set). */
static void run(Fx *f, uint8_t kind, const char *method, const void *arg, size_t len,
                icxExecOutcome *out) {
  icxMsg m = make_msg(ICX_MSG_INGRESS, method, arg, len);
  assert_int_equal(icxCanister_execute(f->c, &f->env, kind, &m, out, &f->err), ICX_OK);
}

static uint64_t reply_u64(const icxExecOutcome *o) {
  assert_true(o->nout >= 1);
  assert_int_equal(o->out[0].kind, ICX_MSG_RESPONSE);
  assert_int_equal(o->out[0].reject_code, 0);
  assert_int_equal(o->out[0].len, 8);
  uint64_t v;
  memcpy(&v, o->out[0].data, 8);
  return v;
}

static uint64_t call_u64(Fx *f, uint8_t kind, const char *method) {
  icxExecOutcome o;
  run(f, kind, method, NULL, 0, &o);
  uint64_t v = reply_u64(&o);
  icxExecOutcome_free(&f->a, &o);
  return v;
}

/* Expect the execution to fail with IC error code and a text containing s. */
static void expect_error(Fx *f, const char *method, uint16_t code, uint32_t reject,
                         const char *s) {
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, method, NULL, 0, &o);
  if (o.error_code != code || !strstr(o.error, s))
    fprintf(stderr, "%s: got IC%04u %s\n", method, o.error_code, o.error);
  assert_int_equal(o.error_code, code);
  assert_non_null(strstr(o.error, s));
  assert_int_equal(o.nout, 1);
  assert_int_equal(o.out[0].reject_code, reject);
  assert_int_equal(o.out[0].to_ingress, 1);
  assert_int_equal(o.out[0].msg_id[0], 0xab);
  icxExecOutcome_free(&f->a, &o);
}

typedef struct Snap {
  uint8_t heap[32], stable[32];
  icxU128 balance;
  uint64_t version;
  uint32_t certified_len;
} Snap;

static void snap(Fx *f, Snap *s) {
  memset(s, 0, sizeof *s);
  icxPm_root_hash(f->c->heap_map, s->heap);
  icxPm_root_hash(icxStable_map(f->c->stable), s->stable);
  s->balance = f->c->balance;
  s->version = f->c->version;
  s->certified_len = f->c->certified_len;
}

static uint64_t balance64(Fx *f) { return f->c->balance.lo; }

/* ---- tests ------------------------------------------------------------------------- */

static void test_install_runs_init_and_data_segments(void **state) {
  (void)state;
  Fx *f = fx_new();
  assert_non_null(f->c->code);
  assert_int_equal(f->c->version, 1);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 7);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "getdata", NULL, 0, &o);
  assert_int_equal(o.out[0].len, 5);
  assert_memory_equal(o.out[0].data, "hello", 5);
  icxExecOutcome_free(&f->a, &o);
  fx_free(f);
}

static void test_install_on_nonempty_fails(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxExecOutcome o;
  install(f, ICX_INSTALL_MODE_INSTALL, NULL, &o);
  assert_int_equal(o.error_code, 538);
  fx_free(f);
}

static void test_update_persists_heap_and_globals(void **state) {
  (void)state;
  Fx *f = fx_new();
  assert_int_equal(call_u64(f, ICX_EXEC_UPDATE, "inc"), 8);
  assert_int_equal(call_u64(f, ICX_EXEC_UPDATE, "inc"), 9);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "get"), 9);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 9);
  assert_int_equal(f->c->version, 3);
  fx_free(f);
}

static void test_update_fee_is_fixed_plus_instructions(void **state) {
  (void)state;
  Fx *f = fx_new();
  uint64_t before = balance64(f);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "inc", NULL, 0, &o);
  assert_true(o.instructions > 0);
  assert_int_equal(before - balance64(f), 5000000u + o.instructions);
  assert_int_equal(o.cycles_charged.lo, 5000000u + o.instructions);
  icxExecOutcome_free(&f->a, &o);
  fx_free(f);
}

static void test_query_changes_are_discarded(void **state) {
  (void)state;
  Fx *f = fx_new();
  Snap a, b;
  snap(f, &a);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "get"), 0);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 7);
  snap(f, &b);
  assert_memory_equal(&a, &b, sizeof a);
  fx_free(f);
}

static void test_trap_rolls_back_everything_but_fees(void **state) {
  (void)state;
  Fx *f = fx_new();
  Snap a, b;
  snap(f, &a);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "trap", NULL, 0, &o);
  snap(f, &b);
  assert_int_equal(o.trapped, 1);
  assert_int_equal(o.error_code, 503);
  assert_memory_equal(o.error, "Error from Canister ", 20);
  assert_non_null(strstr(o.error, ": Canister called `ic0.trap` with message: 'boom'.\nConsider "));
  assert_int_equal(o.out[0].reject_code, ICX_REJECT_CANISTER_ERROR);
  assert_memory_equal(a.heap, b.heap, 32);
  assert_memory_equal(a.stable, b.stable, 32);
  assert_int_equal(a.version, b.version);
  assert_int_equal(b.certified_len, 0);
  assert_int_equal(a.balance.lo - b.balance.lo, 5000000u + o.instructions);
  icxExecOutcome_free(&f->a, &o);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 7);
  fx_free(f);
}

static void test_wasm_traps_and_contract_violations(void **state) {
  (void)state;
  Fx *f = fx_new();
  expect_error(f, "unreachable", 502, 5, "trapped: unreachable");
  expect_error(f, "noreply", 506, 5, "did not reply to the call");
  expect_error(f, "reply2", 504, 5, "ic0.msg_reply: the call is already replied");
  expect_error(f, "reject_after_reply", 504, 5, "ic0.msg_reject: the call is already replied");
  expect_error(f, "badutf8", 504, 5, "ic0.msg_reject: invalid UTF-8 string provided");
  expect_error(f, "argoob", 504, 5, "ic0.msg_arg_data_copy");
  expect_error(f, "heapoob", 504, 5, "ic0.msg_arg_data_copy heap");
  expect_error(f, "certify33", 504, 5, "no larger than 32 bytes");
  expect_error(f, "perfbad", 504, 5, "performance counter type 7");
  expect_error(f, "stableoob", 502, 5, "trapped: stable memory out of bounds");
  expect_error(f, "data_no_call", 504, 5,
               "ic0.call_data_append called when no call is under construction.");
  expect_error(f, "inspect_in_update", 504, 5,
               "\"ic0_accept_message\" cannot be executed in update mode");
  expect_error(f, "nosuch", 536, 5, "Canister has no update method 'nosuch'..\nCheck that");
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 7);
  fx_free(f);
}

static void test_call_new_in_query_traps(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxExecOutcome o;
  run(f, ICX_EXEC_QUERY, "query_call", NULL, 0, &o);
  assert_int_equal(o.error_code, 504);
  assert_non_null(strstr(o.error, "\"ic0_call_new\" cannot be executed in non replicated query mode"));
  icxExecOutcome_free(&f->a, &o);
  fx_free(f);
}

static void test_reject_reaches_caller(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "reject", NULL, 0, &o);
  assert_int_equal(o.out[0].reject_code, ICX_REJECT_CANISTER_REJECT);
  assert_int_equal(o.out[0].len, 5);
  assert_memory_equal(o.out[0].data, "hello", 5);
  icxExecOutcome_free(&f->a, &o);
  fx_free(f);
}

static void test_status_cycles_and_empty_rejects(void **state) {
  (void)state;
  Fx *f = fx_new();
  f->c->status = ICX_STATUS_STOPPING;
  expect_error(f, "inc", 509, 5, "is stopping");
  f->c->status = ICX_STATUS_STOPPED;
  expect_error(f, "inc", 508, 5, "is stopped");
  f->c->status = ICX_STATUS_RUNNING;
  uint64_t before = balance64(f);
  expect_error(f, "nosuch", 536, 5, "has no update method");
  assert_int_equal(before - balance64(f), 5000000u); /* the fixed fee only */
  f->c->balance = icxU128_from_u64(1000);
  expect_error(f, "inc", 207, 2, "is out of cycles");
  assert_int_equal(balance64(f), 1000);
  icx_principal id = icxPrincipal_canister(8);
  icxCanister *empty;
  assert_int_equal(icxCanister_new(&f->a, f->pm, &f->cfg, &id, &empty, &f->err), ICX_OK);
  empty->balance = icxU128_from_u64(100000000000000ull);
  icxExecOutcome o;
  icxMsg m = make_msg(ICX_MSG_INGRESS, "inc", NULL, 0);
  assert_int_equal(icxCanister_execute(empty, &f->env, ICX_EXEC_UPDATE, &m, &o, &f->err), ICX_OK);
  assert_int_equal(o.error_code, 537);
  assert_non_null(strstr(o.error, "Attempted to execute a message, but the canister contains no "
                                  "Wasm module..\nPlease install code"));
  icxExecOutcome_free(&f->a, &o);
  icxCanister_free(empty);
  fx_free(f);
}

static void test_certified_data_timer_version_perf(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "certify", NULL, 0, &o);
  icxExecOutcome_free(&f->a, &o);
  assert_int_equal(f->c->certified_len, 32);
  assert_memory_equal(f->c->certified, "01234567890123456789012345678901", 32);
  assert_int_equal(call_u64(f, ICX_EXEC_UPDATE, "timer"), 0);
  assert_int_equal(call_u64(f, ICX_EXEC_UPDATE, "timer"), 42);
  assert_int_equal(f->c->global_timer, 42);
  uint64_t v = f->c->version;
  assert_int_equal(call_u64(f, ICX_EXEC_UPDATE, "version"), v);
  uint64_t p = call_u64(f, ICX_EXEC_UPDATE, "perf");
  assert_true(p > 0 && p < 2000);
  fx_free(f);
}

static void test_debug_print_and_log(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "print", NULL, 0, &o);
  assert_int_equal(o.out[0].reject_code, 0);
  icxExecOutcome_free(&f->a, &o);
  assert_int_equal(f->c->nlog, 2);
  assert_memory_equal(f->c->log[0].content, "hello", 5);
  assert_non_null(strstr(f->log, "(debug_print message out of memory bounds)"));
  fx_free(f);
}

static void test_stable_memory_and_dirty_charge(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "stable", NULL, 0, &o);
  assert_int_equal(reply_u64(&o), 1);
  assert_true(o.instructions > 1000); /* one newly dirtied stable page */
  icxExecOutcome_free(&f->a, &o);
  assert_int_equal(icxStable64_size(f->c->stable), 1);
  fx_free(f);
}

static void test_wasm_memory_limit(void **state) {
  (void)state;
  Fx *f = fx_new();
  f->c->settings.wasm_memory_limit = icxU128_from_u64(65536);
  expect_error(f, "grow", 539, 5, "Wasm memory limit of 65536 bytes");
  f->c->settings.wasm_memory_limit = icxU128_from_u64(3ull << 30);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "grow", NULL, 0, &o);
  assert_int_equal(o.error_code, 0);
  icxExecOutcome_free(&f->a, &o);
  assert_int_equal(icxPm_size(f->c->heap_map), 2 * 65536);
  fx_free(f);
}

static void test_cycles_accept(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxMsg m = make_msg(ICX_MSG_REQUEST, "accept", NULL, 0);
  m.src = icxPrincipal_canister(9);
  m.cycles = icxU128_from_u64(5000);
  m.callback = 77;
  icxExecOutcome o;
  uint64_t before = balance64(f);
  assert_int_equal(icxCanister_execute(f->c, &f->env, ICX_EXEC_UPDATE, &m, &o, &f->err), ICX_OK);
  assert_int_equal(o.nout, 1);
  assert_int_equal(o.out[0].callback, 77);
  assert_int_equal(o.out[0].cycles.lo, 4000); /* refund of the unaccepted part */
  uint64_t acc, avail;
  memcpy(&acc, o.out[0].data, 8);
  memcpy(&avail, o.out[0].data + 16, 8);
  assert_int_equal(acc, 1000);
  assert_int_equal(avail, 4000);
  assert_int_equal(balance64(f) + 5000000u + o.instructions - 1000, before);
  icxExecOutcome_free(&f->a, &o);
  fx_free(f);
}

static void test_call_and_reply_callback(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal callee = icxPrincipal_canister(9);
  uint64_t before = balance64(f);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "call", callee.bytes, callee.len, &o);
  assert_int_equal(o.error_code, 0);
  assert_int_equal(o.nout, 1); /* the request; the context stays open */
  icxMsg *rq = &o.out[0];
  assert_int_equal(rq->kind, ICX_MSG_REQUEST);
  assert_true(icxPrincipal_eq(&rq->dst, &callee));
  assert_int_equal(rq->method_len, 1);
  assert_int_equal(rq->len, 5);
  assert_int_equal(rq->cycles.lo, 1000);
  uint64_t cb = rq->callback;
  /* 5 M + instructions + attached + transmission(6 bytes) + 2 MiB response + 40 B prepay */
  uint64_t fees = 260000u + 1000u * 6 + 2097152000ull + 40005000000ull;
  assert_int_equal(before - balance64(f), 5000000u + o.instructions + 1000u + fees);
  assert_int_equal(f->c->nctxs, 1);
  assert_int_equal(f->c->ncbs, 1);
  icxExecOutcome_free(&f->a, &o);
  /* the response: 400 cycles refunded, payload "xx" */
  uint64_t mid = balance64(f);
  icxMsg r = make_msg(ICX_MSG_RESPONSE, "", "xx", 2);
  r.method = NULL;
  r.method_len = 0;
  r.src = callee;
  r.callback = cb;
  r.cycles = icxU128_from_u64(400);
  assert_int_equal(icxCanister_execute(f->c, &f->env, ICX_EXEC_RESPONSE, &r, &o, &f->err), ICX_OK);
  assert_int_equal(o.error_code, 0);
  assert_int_equal(o.nout, 1);
  assert_int_equal(o.out[0].to_ingress, 1);
  assert_int_equal(o.out[0].len, 16);
  uint64_t refunded;
  memcpy(&refunded, o.out[0].data, 8);
  assert_int_equal(refunded, 400);
  /* refunds: 400 + unused response transmission (2 MiB - 2 bytes) + unused prepaid instructions */
  uint64_t gain = balance64(f) - mid;
  assert_int_equal(gain, 400u + 1000u * (2097152u - 2u) + (40000000000ull - o.instructions));
  assert_int_equal(f->c->nctxs, 0);
  assert_int_equal(f->c->ncbs, 0);
  icxExecOutcome_free(&f->a, &o);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 107);
  fx_free(f);
}

static void test_reject_callback(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal callee = icxPrincipal_canister(9);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "call", callee.bytes, callee.len, &o);
  uint64_t cb = o.out[0].callback;
  icxExecOutcome_free(&f->a, &o);
  icxMsg r = make_msg(ICX_MSG_RESPONSE, "", "nope", 4);
  r.method = NULL;
  r.method_len = 0;
  r.callback = cb;
  r.reject_code = ICX_REJECT_CANISTER_REJECT;
  assert_int_equal(icxCanister_execute(f->c, &f->env, ICX_EXEC_RESPONSE, &r, &o, &f->err), ICX_OK);
  assert_int_equal(reply_u64(&o), 4);
  icxExecOutcome_free(&f->a, &o);
  fx_free(f);
}

static void test_trapping_callback_runs_cleanup(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal callee = icxPrincipal_canister(9);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "call_trap", callee.bytes, callee.len, &o);
  uint64_t cb = o.out[0].callback;
  icxExecOutcome_free(&f->a, &o);
  icxMsg r = make_msg(ICX_MSG_RESPONSE, "", "", 0);
  r.method = NULL;
  r.method_len = 0;
  r.callback = cb;
  assert_int_equal(icxCanister_execute(f->c, &f->env, ICX_EXEC_RESPONSE, &r, &o, &f->err), ICX_OK);
  assert_int_equal(o.trapped, 1);
  assert_int_equal(o.error_code, 502);
  assert_int_equal(o.nout, 1);
  assert_int_equal(o.out[0].reject_code, ICX_REJECT_CANISTER_ERROR);
  icxExecOutcome_free(&f->a, &o);
  /* the cleanup's write (env 33 at 1024) persists, the callback's (1032) does not */
  icxMemInst *m = icxInstance_memory(f->c->inst);
  uint64_t v1, v2;
  memcpy(&v1, m->data + 1024, 8);
  memcpy(&v2, m->data + 1032, 8);
  assert_int_equal(v1, 33);
  assert_int_equal(v2, 0);
  assert_int_equal(f->c->nctxs, 0);
  fx_free(f);
}

static void test_trap_after_perform_cancels_call(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal callee = icxPrincipal_canister(9);
  uint64_t before = balance64(f);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "call_then_trap", callee.bytes, callee.len, &o);
  assert_int_equal(o.nout, 1);
  assert_int_equal(o.out[0].kind, ICX_MSG_RESPONSE);
  assert_int_equal(o.error_code, 502);
  assert_int_equal(f->c->ncbs, 0);
  assert_int_equal(f->c->nctxs, 0);
  assert_int_equal(before - balance64(f), 5000000u + o.instructions);
  icxExecOutcome_free(&f->a, &o);
  fx_free(f);
}

static void test_inspect_message(void **state) {
  (void)state;
  Fx *f = fx_new();
  icxExecOutcome o;
  run(f, ICX_EXEC_INSPECT, "inc", NULL, 0, &o);
  assert_int_equal(o.accepted, 1);
  run(f, ICX_EXEC_INSPECT, "refuse", NULL, 0, &o);
  assert_int_equal(o.accepted, 0);
  fx_free(f);
}

static void test_upgrade_keeps_stable_resets_heap(void **state) {
  (void)state;
  Fx *f = fx_new();
  call_u64(f, ICX_EXEC_UPDATE, "inc");
  call_u64(f, ICX_EXEC_UPDATE, "inc"); /* g = 9, heap[1000] = 9 */
  icxExecOutcome o;
  install(f, ICX_INSTALL_MODE_UPGRADE, NULL, &o);
  if (o.error_code) fprintf(stderr, "upgrade: %s\n", o.error);
  assert_int_equal(o.error_code, 0);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 9); /* through stable memory */
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "get"), 0);  /* fresh heap */
  /* a trapping post_upgrade restores everything */
  call_u64(f, ICX_EXEC_UPDATE, "inc");
  Snap a, b;
  snap(f, &a);
  install(f, ICX_INSTALL_MODE_UPGRADE, "trap", &o);
  assert_int_equal(o.error_code, 503);
  snap(f, &b);
  assert_memory_equal(a.heap, b.heap, 32);
  assert_memory_equal(a.stable, b.stable, 32);
  assert_int_equal(a.version, b.version);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 10);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "get"), 10);
  /* reinstall clears stable memory */
  install(f, ICX_INSTALL_MODE_REINSTALL, NULL, &o);
  assert_int_equal(o.error_code, 0);
  assert_int_equal(icxStable64_size(f->c->stable), 0);
  assert_int_equal(call_u64(f, ICX_EXEC_QUERY, "getg"), 7);
  fx_free(f);
}

static void test_uninstall_rejects_open_contexts(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal callee = icxPrincipal_canister(9);
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "call", callee.bytes, callee.len, &o);
  uint64_t cb = o.out[0].callback;
  icxExecOutcome_free(&f->a, &o);
  assert_int_equal(icxCanister_uninstall(f->c, &o, &f->err), ICX_OK);
  assert_int_equal(o.nout, 1);
  assert_int_equal(o.out[0].reject_code, ICX_REJECT_CANISTER_REJECT);
  icxExecOutcome_free(&f->a, &o);
  assert_null(f->c->code);
  icxMsg r = make_msg(ICX_MSG_RESPONSE, "", "", 0);
  r.method = NULL;
  r.method_len = 0;
  r.callback = cb;
  assert_int_equal(icxCanister_execute(f->c, &f->env, ICX_EXEC_RESPONSE, &r, &o, &f->err), ICX_OK);
  assert_int_equal(o.nout, 0);
  assert_int_equal(f->c->nctxs, 0);
  assert_int_equal(f->c->ncbs, 0);
  fx_free(f);
}

/* DTS: a loop of about 3e9 instructions in slices of 2e9, and in small
 * slices, ends exactly as the unsliced run. */
static void run_loop(Fx *f, uint64_t slice, uint64_t iters, icxExecOutcome *o, int *pauses) {
  f->env.slice = slice;
  run(f, ICX_EXEC_UPDATE, "loop", &iters, 8, o);
  *pauses = 0;
  while (!o->done) {
    (*pauses)++;
    assert_non_null(f->c->paused);
    assert_int_equal(icxCanister_resume(f->c, &f->env, o, &f->err), ICX_OK);
  }
  f->env.slice = 0;
}

static void test_dts_equals_unsliced(void **state) {
  (void)state;
  uint64_t iters = 300000000ull;
  Fx *f1 = fx_new(), *f2 = fx_new(), *f3 = fx_new();
  icxExecOutcome o1, o2, o3;
  int p1, p2, p3;
  run_loop(f1, 0, iters, &o1, &p1);
  run_loop(f2, 2000000000ull, iters, &o2, &p2);
  run_loop(f3, 0, 1000, &o3, &p3);
  assert_int_equal(p1, 0);
  assert_true(o1.instructions > 3000000000ull);
  assert_true(p2 >= 1);
  assert_int_equal(o1.instructions, o2.instructions);
  assert_int_equal(reply_u64(&o1), reply_u64(&o2));
  Snap a, b;
  snap(f1, &a);
  snap(f2, &b);
  assert_memory_equal(&a, &b, sizeof a);
  icxExecOutcome_free(&f1->a, &o1);
  icxExecOutcome_free(&f2->a, &o2);
  icxExecOutcome_free(&f3->a, &o3);
  /* small slices, and abort restores the state */
  uint64_t small = 20000;
  Snap c0, c1;
  snap(f3, &c0);
  f3->env.slice = 1000;
  run(f3, ICX_EXEC_UPDATE, "loop", &small, 8, &o3);
  assert_int_equal(o3.done, 0);
  icxMsg back;
  int has = 0;
  icxCanister_abort(f3->c, &back, &has);
  assert_int_equal(has, 1);
  assert_string_equal(back.method, "loop");
  icxMsg_free(&f3->a, &back);
  snap(f3, &c1);
  assert_memory_equal(&c0, &c1, sizeof c0);
  run_loop(f3, 1000, small, &o3, &p3);
  assert_true(p3 > 10);
  icxExecOutcome o4;
  run_loop(f2, 0, small, &o4, &p2);
  assert_int_equal(o3.instructions, o4.instructions);
  assert_int_equal(reply_u64(&o3), reply_u64(&o4));
  icxExecOutcome_free(&f3->a, &o3);
  icxExecOutcome_free(&f2->a, &o4);
  fx_free(f1);
  fx_free(f2);
  fx_free(f3);
}

static void test_instruction_limit(void **state) {
  (void)state;
  Fx *f = fx_new();
  f->cfg.max_instructions_message = 100000;
  Snap a, b;
  snap(f, &a);
  uint64_t iters = 1000000;
  icxExecOutcome o;
  run(f, ICX_EXEC_UPDATE, "loop", &iters, 8, &o);
  assert_int_equal(o.error_code, 522);
  assert_non_null(strstr(o.error, ": Canister exceeded the limit of 100000 instructions for "
                                  "single message execution..\nTry optimizing this method"));
  assert_int_equal(o.instructions, 100000);
  icxExecOutcome_free(&f->a, &o);
  snap(f, &b);
  assert_memory_equal(a.heap, b.heap, 32);
  assert_int_equal(a.balance.lo - b.balance.lo, 5000000u + 100000u);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_install_runs_init_and_data_segments),
      cmocka_unit_test(test_install_on_nonempty_fails),
      cmocka_unit_test(test_update_persists_heap_and_globals),
      cmocka_unit_test(test_update_fee_is_fixed_plus_instructions),
      cmocka_unit_test(test_query_changes_are_discarded),
      cmocka_unit_test(test_trap_rolls_back_everything_but_fees),
      cmocka_unit_test(test_wasm_traps_and_contract_violations),
      cmocka_unit_test(test_call_new_in_query_traps),
      cmocka_unit_test(test_reject_reaches_caller),
      cmocka_unit_test(test_status_cycles_and_empty_rejects),
      cmocka_unit_test(test_certified_data_timer_version_perf),
      cmocka_unit_test(test_debug_print_and_log),
      cmocka_unit_test(test_stable_memory_and_dirty_charge),
      cmocka_unit_test(test_wasm_memory_limit),
      cmocka_unit_test(test_cycles_accept),
      cmocka_unit_test(test_call_and_reply_callback),
      cmocka_unit_test(test_reject_callback),
      cmocka_unit_test(test_trapping_callback_runs_cleanup),
      cmocka_unit_test(test_trap_after_perform_cancels_call),
      cmocka_unit_test(test_inspect_message),
      cmocka_unit_test(test_upgrade_keeps_stable_resets_heap),
      cmocka_unit_test(test_uninstall_rejects_open_contexts),
      cmocka_unit_test(test_instruction_limit),
      cmocka_unit_test(test_dts_equals_unsliced),
  };
  return cmocka_run_group_tests_name("unit_canister", tests, NULL, NULL);
}
