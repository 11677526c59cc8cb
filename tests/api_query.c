/* api_query.c -- the public query API (include/icexec.h, "queries") driven
 * black-box: snapshots of a state advanced by icx_execute_round, queries
 * and composite queries on them, results and their errors, the engine
 * freeing leftover snapshots, and threads querying one snapshot while
 * rounds run on the state.  Canister: the universal test canister
 * (tests/uc.h). */
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

#include "helpers.h"
#include "icexec.h"
#include "uc.h"

#ifndef ICX_TEST_CANISTER_DIR
#define ICX_TEST_CANISTER_DIR "build/canisters"
#endif

#define T0 1700000000000000000ull
#define SECOND 1000000000ull

static const uint8_t SIG[4] = {'s', 'i', 'g', 'q'};

typedef struct Fx {
  icx_engine *e;
  icx_state *s;
  uint64_t round, time;
  icx_principal user;
  uint8_t *wasm;
  size_t wasm_len;
  pthread_mutex_t mu; /* debug prints come from query threads */
  unsigned prints;
} Fx;

static void on_print(void *ud, const struct icx_principal *canister, const uint8_t *msg,
                     size_t len) {
  (void)canister;
  (void)msg;
  (void)len;
  Fx *f = ud;
  pthread_mutex_lock(&f->mu);
  f->prints++;
  pthread_mutex_unlock(&f->mu);
}

static Fx *fx_new(uint64_t query_limit) {
  Fx *f = calloc(1, sizeof *f);
  pthread_mutex_init(&f->mu, NULL);
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.debug_print = on_print;
  o.debug_print_ud = f;
  if (query_limit) o.max_instructions_query = query_limit;
  assert_int_equal(icx_engine_new(&o, &f->e), ICX_OK);
  assert_int_equal(icx_state_new(f->e, &f->s), ICX_OK);
  f->time = T0;
  static const uint8_t der[] = "api_query test user";
  assert_int_equal(icx_principal_self_authenticating(der, sizeof der, &f->user), ICX_OK);
  f->wasm = icxt_read_file(ICX_TEST_CANISTER_DIR "/uc.wasm", &f->wasm_len);
  return f;
}

static void fx_free(Fx *f) {
  icx_state_free(f->s);
  icx_engine_free(f->e);
  pthread_mutex_destroy(&f->mu);
  free(f->wasm);
  free(f);
}

static icx_batch *batch(Fx *f) {
  icx_batch *b = NULL;
  f->round++;
  f->time += SECOND;
  assert_int_equal(icx_batch_new(f->e, f->round, f->time, SIG, sizeof SIG, &b), ICX_OK);
  return b;
}

static icx_round_output *run(Fx *f, icx_batch *b) {
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(f->e, f->s, b, &o);
  if (rc != ICX_OK) fail_msg("icx_execute_round: %s", icx_errmsg(f->e));
  icx_batch_free(b);
  return o;
}

static void replied(icx_round_output *o, const icx_message_id *id) {
  icx_ingress_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  assert_int_equal(icx_round_output_find_ingress(o, id, &r), ICX_OK);
  if (r.status != ICX_INGRESS_REPLIED)
    fail_msg("rejected: IC%04u %.*s", r.error_code, (int)r.len, (const char *)r.data);
}

static icx_principal make_canister(Fx *f) {
  icx_batch *b = batch(f);
  icx_message_id id;
  assert_int_equal(icx_batch_add_create_canister(b, &f->user, 0, 1000000000000000ull, NULL, &id),
                   ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  assert_int_equal(icx_round_output_find_ingress(o, &id, &r), ICX_OK);
  icx_principal c;
  assert_int_equal(icx_reply_canister_id(r.data, r.len, &c), ICX_OK);
  icx_round_output_free(o);
  b = batch(f);
  assert_int_equal(icx_batch_add_install_code(b, &f->user, &c, ICX_MODE_INSTALL, f->wasm,
                                              f->wasm_len, NULL, 0, &id),
                   ICX_OK);
  o = run(f, b);
  replied(o, &id);
  icx_round_output_free(o);
  return c;
}

/* One round setting c's scratch to v. */
static void set_scratch(Fx *f, const icx_principal *c, const char *v) {
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, v);
  uc_scratch_set(&s);
  uc_reply_str(&s, "ok");
  icx_batch *b = batch(f);
  icx_message_id id;
  assert_int_equal(icx_batch_add_ingress(b, &f->user, c, "update", s.p, s.len, &id), ICX_OK);
  icx_round_output *o = run(f, b);
  replied(o, &id);
  icx_round_output_free(o);
  uc_free(&s);
}

/* uc_call_begin with a principal (copied: keeps gcc's bounds analysis quiet). */
static void call_begin(uc_script *s, const icx_principal *p, const char *method,
                       const uc_script *on_reply, const uc_script *arg) {
  uint8_t id[ICX_PRINCIPAL_MAX_BYTES];
  size_t n = p->len <= sizeof id ? p->len : sizeof id;
  memcpy(id, p->bytes, n);
  uc_call_begin(s, id, n, method, on_reply, NULL, arg);
}

static uc_script script_scratch(void) {
  uc_script s;
  uc_init(&s);
  uc_scratch_get(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  return s;
}

static void expect_text(const icx_query_result *r, uint32_t status, const char *want) {
  if (r->status != status)
    fail_msg("status %u (IC%04u %.*s), want %u", r->status, r->error_code, (int)r->len,
             (const char *)r->data, status);
  if (r->len != strlen(want) || memcmp(r->data, want, r->len) != 0)
    fail_msg("data \"%.*s\", want \"%s\"", (int)r->len, (const char *)r->data, want);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_snapshot_and_query(void **state) {
  (void)state;
  Fx *f = fx_new(0);
  icx_principal a = make_canister(f), b = make_canister(f);
  set_scratch(f, &a, "one");
  set_scratch(f, &b, "bee");
  icx_snapshot *s1 = NULL;
  assert_int_equal(icx_state_snapshot(f->s, &s1), ICX_OK);
  assert_int_equal(icx_snapshot_round(s1), icx_state_round(f->s));
  set_scratch(f, &a, "two");
  icx_snapshot *s2 = NULL;
  assert_int_equal(icx_state_snapshot(f->s, &s2), ICX_OK);
  assert_int_equal(icx_snapshot_round(s2), icx_snapshot_round(s1) + 1);

  uc_script q = script_scratch();
  icx_query_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  assert_int_equal(icx_query(s1, &f->user, &a, "query", q.p, q.len, &r), ICX_OK);
  expect_text(&r, ICX_INGRESS_REPLIED, "one");
  assert_int_equal(r.reject_code, 0);
  assert_int_equal(r.error_code, 0);
  assert_true(r.instructions > 0);
  icx_query_result_clear(&r);
  assert_null(r.data);
  assert_int_equal(r.struct_size, sizeof r);
  icx_query_result_clear(&r); /* twice: no-op */
  assert_int_equal(icx_query(s2, &f->user, &a, "query", q.p, q.len, &r), ICX_OK);
  expect_text(&r, ICX_INGRESS_REPLIED, "two");
  icx_query_result_clear(&r);

  /* a composite query: a calls b's query and forwards the reply */
  uc_script fwd, cq;
  uc_init(&fwd);
  uc_push_str(&fwd, "b said ");
  uc_msg_arg_data(&fwd);
  uc_concat(&fwd);
  uc_reply_data_append(&fwd);
  uc_reply(&fwd);
  uc_init(&cq);
  uc_push_str(&cq, "debug from a");
  uc_debug_print(&cq);
  call_begin(&cq, &b, "query", &fwd, &q);
  uc_call_perform(&cq);
  uc_drop(&cq);
  unsigned prints = f->prints;
  assert_int_equal(icx_query(s2, &f->user, &a, "cquery", cq.p, cq.len, &r), ICX_OK);
  expect_text(&r, ICX_INGRESS_REPLIED, "b said bee");
  assert_int_equal(f->prints, prints + 1); /* debug_print goes to the engine's sink */
  icx_query_result_clear(&r);

  /* rejects are results */
  assert_int_equal(icx_query(s2, &f->user, &a, "update", q.p, q.len, &r), ICX_OK);
  assert_int_equal(r.status, ICX_INGRESS_REJECTED);
  assert_int_equal(r.reject_code, ICX_REJECT_CODE_CANISTER_ERROR);
  assert_int_equal(r.error_code, 536);
  icx_query_result_clear(&r);
  icx_principal nobody;
  assert_int_equal(icx_principal_from_canister_index(4242, &nobody), ICX_OK);
  assert_int_equal(icx_query(s2, &f->user, &nobody, "query", NULL, 0, &r), ICX_OK);
  assert_int_equal(r.reject_code, ICX_REJECT_CODE_DESTINATION_INVALID);
  assert_int_equal(r.error_code, 301);
  icx_query_result_clear(&r);

  /* the snapshot outlives the state */
  icx_state_free(f->s);
  f->s = NULL;
  assert_int_equal(icx_query(s1, &f->user, &a, "query", q.p, q.len, &r), ICX_OK);
  expect_text(&r, ICX_INGRESS_REPLIED, "one");
  icx_query_result_clear(&r);

  icx_snapshot_free(s1);
  /* a result outlives its snapshot */
  assert_int_equal(icx_query(s2, &f->user, &b, "query", q.p, q.len, &r), ICX_OK);
  icx_snapshot_free(s2);
  expect_text(&r, ICX_INGRESS_REPLIED, "bee");
  icx_query_result_clear(&r);
  /* snapshots left over are freed by icx_engine_free (checked by ASan) */
  assert_int_equal(icx_state_new(f->e, &f->s), ICX_OK);
  icx_snapshot *s3 = NULL;
  assert_int_equal(icx_state_snapshot(f->s, &s3), ICX_OK);
  assert_int_equal(icx_snapshot_round(s3), 0);
  uc_free(&q);
  uc_free(&fwd);
  uc_free(&cq);
  fx_free(f);
}

static void test_errors(void **state) {
  (void)state;
  Fx *f = fx_new(0);
  icx_principal a = make_canister(f);
  icx_snapshot *s = NULL;
  assert_int_equal(icx_state_snapshot(NULL, &s), ICX_EMISUSE);
  assert_null(s);
  assert_int_equal(icx_state_snapshot(f->s, NULL), ICX_EINVAL);
  assert_int_equal(icx_state_snapshot(f->s, &s), ICX_OK);
  assert_int_equal(icx_state_snapshot(f->s, NULL), ICX_EINVAL); /* sets the engine's error */
  icx_query_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  uint8_t x = 0;
  assert_int_equal(icx_query(NULL, &f->user, &a, "query", NULL, 0, &r), ICX_EMISUSE);
  assert_int_equal(r.status, 0);
  assert_int_equal(icx_query(s, NULL, &a, "query", NULL, 0, &r), ICX_EINVAL);
  assert_int_equal(icx_query(s, &f->user, NULL, "query", NULL, 0, &r), ICX_EINVAL);
  assert_int_equal(icx_query(s, &f->user, &a, NULL, NULL, 0, &r), ICX_EINVAL);
  assert_int_equal(icx_query(s, &f->user, &a, "query", NULL, 1, &r), ICX_EINVAL);
  assert_int_equal(icx_query(s, &f->user, &a, "query", &x, 1, NULL), ICX_EINVAL);
  assert_null(r.data);
  icx_principal bad = a;
  bad.len = 200;
  assert_int_equal(icx_query(s, &f->user, &bad, "query", NULL, 0, &r), ICX_EINVAL);
  assert_int_equal(icx_query(s, &bad, &a, "query", NULL, 0, &r), ICX_EINVAL);
  icx_query_result small;
  memset(&small, 0, sizeof small);
  small.struct_size = 8;
  assert_int_equal(icx_query(s, &f->user, &a, "query", NULL, 0, &small), ICX_EINVAL);
  icx_query_result_clear(NULL);
  /* a bad argument for the canister: uc traps on an unknown opcode */
  uint8_t junk[3] = {0xee, 0xee, 0xee};
  assert_int_equal(icx_query(s, &f->user, &a, "query", junk, sizeof junk, &r), ICX_OK);
  assert_int_equal(r.status, ICX_INGRESS_REJECTED);
  assert_int_equal(r.error_code, 503);
  icx_query_result_clear(&r);
  /* the engine's error text is not touched by queries */
  assert_string_equal(icx_errmsg(f->e), "icx_state_snapshot: out_snapshot is NULL");
  icx_snapshot_free(s);
  icx_snapshot_free(NULL);
  assert_int_equal(icx_snapshot_round(NULL), 0);
  fx_free(f);
}

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct Worker {
  const icx_snapshot *s;
  icx_principal user, a, b;
  const uc_script *q, *cq;
  int n, bad;
} Worker;

static void *worker(void *ud) {
  Worker *wk = ud;
  for (int i = 0; i < wk->n; i++) {
    icx_query_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    if (icx_query(wk->s, &wk->user, &wk->a, "query", wk->q->p, wk->q->len, &r) != ICX_OK ||
        r.status != ICX_INGRESS_REPLIED || r.len != 5 || memcmp(r.data, "first", 5) != 0)
      wk->bad++;
    icx_query_result_clear(&r);
    if (icx_query(wk->s, &wk->user, &wk->a, "cquery", wk->cq->p, wk->cq->len, &r) != ICX_OK ||
        r.status != ICX_INGRESS_REPLIED || r.len != 5 || memcmp(r.data, "first", 5) != 0)
      wk->bad++;
    icx_query_result_clear(&r);
  }
  return NULL;
}

/* Four threads query one snapshot while the main thread executes rounds
 * that change both canisters. */
static void test_threads_during_rounds(void **state) {
  (void)state;
  Fx *f = fx_new(0);
  icx_principal a = make_canister(f), b = make_canister(f);
  set_scratch(f, &a, "first");
  set_scratch(f, &b, "first");
  icx_snapshot *s = NULL;
  assert_int_equal(icx_state_snapshot(f->s, &s), ICX_OK);
  uc_script q = script_scratch(), fwd, cq;
  uc_init(&fwd);
  uc_msg_arg_data(&fwd);
  uc_reply_data_append(&fwd);
  uc_reply(&fwd);
  uc_init(&cq);
  call_begin(&cq, &b, "query", &fwd, &q);
  uc_call_perform(&cq);
  uc_drop(&cq);
  enum { N = 4 };
  pthread_t th[N];
  Worker wk[N];
  for (int i = 0; i < N; i++) {
    wk[i] = (Worker){s, f->user, a, b, &q, &cq, 30, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &wk[i]), 0);
  }
  char v[32];
  for (int i = 0; i < 15; i++) {
    snprintf(v, sizeof v, "round %d", i);
    set_scratch(f, &a, v);
    set_scratch(f, &b, v);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(wk[i].bad, 0);
  }
  /* a new snapshot sees the last round */
  icx_snapshot *s2 = NULL;
  assert_int_equal(icx_state_snapshot(f->s, &s2), ICX_OK);
  icx_query_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  assert_int_equal(icx_query(s2, &f->user, &a, "query", q.p, q.len, &r), ICX_OK);
  expect_text(&r, ICX_INGRESS_REPLIED, "round 14");
  icx_query_result_clear(&r);
  icx_snapshot_free(s);
  icx_snapshot_free(s2);
  uc_free(&q);
  uc_free(&fwd);
  uc_free(&cq);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshot_and_query),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_threads_during_rounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
