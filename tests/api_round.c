/* api_round.c -- the public round API (include/icexec.h, "subnet state and
 * rounds") driven black-box: states, batches, management helpers,
 * icx_execute_round and its outputs, DTS across rounds, determinism and
 * checkpoints.  Canister: the universal test canister (tests/uc.h), built
 * by tests/canisters.mk. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
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

#ifndef ICX_TEST_WASM_DIR
#define ICX_TEST_WASM_DIR "build/wat"
#endif
#ifndef ICX_TEST_CANISTER_DIR
#define ICX_TEST_CANISTER_DIR "build/canisters"
#endif

#define T0 1700000000000000000ull
#define SECOND 1000000000ull

static const uint8_t SIG[4] = {'s', 'i', 'g', '6'};

/* ---- fixture ------------------------------------------------------------------------ */

typedef struct Fx {
  icx_engine *e;
  icx_state *s;
  uint64_t round, time;
  icx_principal user;
  uint8_t *wasm;
  size_t wasm_len;
  char log[4096];
  size_t nlog;
} Fx;

static void on_print(void *ud, const struct icx_principal *canister, const uint8_t *msg,
                     size_t len) {
  (void)canister;
  Fx *f = ud;
  if (f->nlog + len + 2 > sizeof f->log) return;
  memcpy(f->log + f->nlog, msg, len);
  f->nlog += len;
  f->log[f->nlog++] = '\n';
  f->log[f->nlog] = 0;
}

/* A fixture with engine options opts (NULL: defaults). */
static Fx *fx_new(const icx_engine_opts *opts) {
  Fx *f = calloc(1, sizeof *f);
  icx_engine_opts o;
  if (opts)
    o = *opts;
  else
    icx_engine_opts_init(&o);
  o.debug_print = on_print;
  o.debug_print_ud = f;
  assert_int_equal(icx_engine_new(&o, &f->e), ICX_OK);
  assert_int_equal(icx_state_new(f->e, &f->s), ICX_OK);
  f->time = T0;
  static const uint8_t der[] = "api_round test user";
  assert_int_equal(icx_principal_self_authenticating(der, sizeof der, &f->user), ICX_OK);
  f->wasm = icxt_read_file(ICX_TEST_CANISTER_DIR "/uc.wasm", &f->wasm_len);
  return f;
}

static void fx_free(Fx *f) {
  icx_state_free(f->s);
  icx_engine_free(f->e);
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

/* Execute b (freed) and return the output. */
static icx_round_output *run(Fx *f, icx_batch *b) {
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(f->e, f->s, b, &o);
  if (rc != ICX_OK) fail_msg("icx_execute_round: %s", icx_errmsg(f->e));
  icx_batch_free(b);
  return o;
}

static icx_round_output *empty_round(Fx *f) { return run(f, batch(f)); }

/* The result of message id in o: 1 and *r, or 0. */
static int result(icx_round_output *o, const icx_message_id *id, icx_ingress_result *r) {
  memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
  icx_status rc = icx_round_output_find_ingress(o, id, r);
  if (rc == ICX_ENOTFOUND) return 0;
  assert_int_equal(rc, ICX_OK);
  return 1;
}

static void expect_reply(icx_round_output *o, const icx_message_id *id, const void *p, size_t n) {
  icx_ingress_result r;
  if (!result(o, id, &r)) fail_msg("no ingress result");
  if (r.status != ICX_INGRESS_REPLIED)
    fail_msg("rejected: code %u IC%04u %.*s", r.reject_code, r.error_code, (int)r.len,
             (const char *)r.data);
  assert_int_equal(r.len, n);
  if (n) assert_memory_equal(r.data, p, n);
}

static void expect_reject(icx_round_output *o, const icx_message_id *id, uint32_t code,
                          uint32_t ecode, const char *needle) {
  icx_ingress_result r;
  if (!result(o, id, &r)) fail_msg("no ingress result");
  assert_int_equal(r.status, ICX_INGRESS_REJECTED);
  assert_int_equal(r.reject_code, code);
  assert_int_equal(r.error_code, ecode);
  char text[2048];
  size_t n = r.len < sizeof text - 1 ? r.len : sizeof text - 1;
  memcpy(text, r.data, n);
  text[n] = 0;
  if (needle && !strstr(text, needle)) fail_msg("reject text \"%s\" lacks \"%s\"", text, needle);
}

/* Create and install a canister running wasm in two rounds; returns its id. */
static icx_principal make_canister_with(Fx *f, const uint8_t *wasm, size_t wasm_len) {
  icx_batch *b = batch(f);
  icx_message_id id;
  assert_int_equal(icx_batch_add_create_canister(b, &f->user, 0, 1000000000000000ull, NULL, &id),
                   ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  if (!result(o, &id, &r) || r.status != ICX_INGRESS_REPLIED) fail_msg("create failed");
  icx_principal c;
  assert_int_equal(icx_reply_canister_id(r.data, r.len, &c), ICX_OK);
  icx_round_output_free(o);
  b = batch(f);
  assert_int_equal(icx_batch_add_install_code(b, &f->user, &c, ICX_MODE_INSTALL, wasm, wasm_len,
                                              NULL, 0, &id),
                   ICX_OK);
  o = run(f, b);
  assert_true(result(o, &id, &r));
  if (r.status != ICX_INGRESS_REPLIED)
    fail_msg("install: IC%04u %.*s", r.error_code, (int)r.len, (const char *)r.data);
  icx_round_output_free(o);
  return c;
}

/* The same with the universal test canister. */
static icx_principal make_canister(Fx *f) { return make_canister_with(f, f->wasm, f->wasm_len); }

/* Add an ingress calling `method` of c with script s. */
static icx_message_id send(Fx *f, icx_batch *b, const icx_principal *c, const char *method,
                           const uc_script *s) {
  icx_message_id id;
  assert_int_equal(icx_batch_add_ingress(b, &f->user, c, method, s->p, s->len, &id), ICX_OK);
  return id;
}

/* One round with one update; returns the output (caller frees). */
static icx_round_output *call1(Fx *f, const icx_principal *c, const char *method,
                               const uc_script *s, icx_message_id *id) {
  icx_batch *b = batch(f);
  *id = send(f, b, c, method, s);
  return run(f, b);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* The uc counter, read by an update in its own round. */
static uint64_t counter(Fx *f, const icx_principal *c) {
  uc_script s;
  uc_init(&s);
  uc_counter_get(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  icx_message_id id;
  icx_round_output *o = call1(f, c, "update", &s, &id);
  icx_ingress_result r;
  assert_true(result(o, &id, &r));
  assert_int_equal(r.status, ICX_INGRESS_REPLIED);
  assert_int_equal(r.len, 8);
  uint64_t v = le64(r.data);
  icx_round_output_free(o);
  uc_free(&s);
  return v;
}

/* ---- tests -------------------------------------------------------------------------- */

/* create + install + update + query as update, through rounds; outputs. */
static void test_round_create_install_update_query(void **state) {
  (void)state;
  Fx *f = fx_new(NULL);
  uint8_t h0[32], h1[32];
  assert_int_equal(icx_state_hash(f->s, h0), ICX_OK);
  icx_principal c = make_canister(f);
  assert_int_equal(icx_state_canister_count(f->s), 1);
  assert_int_equal(icx_state_round(f->s), 2);
  assert_int_equal(icx_state_hash(f->s, h1), ICX_OK);
  assert_memory_not_equal(h0, h1, 32);

  uc_script s;
  uc_init(&s);
  uc_counter_inc(&s);
  uc_drop(&s);
  uc_push_str(&s, "hello from uc");
  uc_debug_print(&s);
  uc_reply_str(&s, "done");
  icx_message_id id;
  icx_round_output *o = call1(f, &c, "update", &s, &id);
  expect_reply(o, &id, "done", 4);
  assert_non_null(strstr(f->log, "hello from uc"));
  /* figures: one canister, instructions and cycles used */
  assert_int_equal(icx_round_output_canister_count(o), 1);
  icx_canister_round_stats cs;
  memset(&cs, 0, sizeof cs);
  cs.struct_size = sizeof cs;
  assert_int_equal(icx_round_output_canister(o, 0, &cs), ICX_OK);
  assert_int_equal(icx_principal_compare(&cs.canister, &c), 0);
  assert_true(cs.instructions > 0);
  assert_true(cs.cycles_lo > 1200000); /* induction fee + execution fee */
  assert_int_equal(cs.executions, 2);   /* uc's (empty) heartbeat and the update */
  assert_int_equal(icx_round_output_instructions(o), cs.instructions);
  uint8_t oh[32], sh[32];
  assert_int_equal(icx_round_output_state_hash(o, oh), ICX_OK);
  assert_int_equal(icx_state_hash(f->s, sh), ICX_OK);
  assert_memory_equal(oh, sh, 32);
  /* index accessor and errors */
  icx_ingress_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  assert_int_equal(icx_round_output_ingress_count(o), 1);
  assert_int_equal(icx_round_output_ingress(o, 0, &r), ICX_OK);
  assert_memory_equal(r.id.bytes, id.bytes, 32);
  assert_int_equal(icx_round_output_ingress(o, 1, &r), ICX_EINVAL);
  r.struct_size = 4;
  assert_int_equal(icx_round_output_ingress(o, 0, &r), ICX_EINVAL);
  assert_int_equal(icx_round_output_xnet_count(o), 0);
  icx_round_output_free(o);
  uc_free(&s);

  /* the query method as an update: replies, its heap changes are dropped */
  uc_init(&s);
  uc_counter_inc(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  o = call1(f, &c, "query", &s, &id);
  uint8_t want[8] = {0};
  uint64_t v = UC_COUNTER_INIT + 2;
  for (int i = 0; i < 8; i++) want[i] = (uint8_t)(v >> (8 * i));
  expect_reply(o, &id, want, 8);
  icx_round_output_free(o);
  uc_free(&s);
  assert_int_equal(counter(f, &c), UC_COUNTER_INIT + 1);

  /* a trap is a rejected ingress with the IC code */
  uc_init(&s);
  uc_trap_str(&s, "boom");
  o = call1(f, &c, "update", &s, &id);
  expect_reject(o, &id, ICX_REJECT_CODE_CANISTER_ERROR, 503, "boom");
  icx_round_output_free(o);
  uc_free(&s);
  fx_free(f);
}

/* Ingress to a missing or stopped canister gets the IC's reject; a
 * round that does not follow the state's is refused. */
static void test_round_ingress_missing_and_stopped(void **state) {
  (void)state;
  Fx *f = fx_new(NULL);
  icx_principal c = make_canister(f), missing;
  assert_int_equal(icx_principal_from_canister_index(4242, &missing), ICX_OK);
  uc_script s;
  uc_init(&s);
  uc_reply(&s);
  icx_message_id id;
  icx_round_output *o = call1(f, &missing, "update", &s, &id);
  expect_reject(o, &id, ICX_REJECT_CODE_DESTINATION_INVALID, 301, "not found");
  icx_round_output_free(o);

  icx_batch *b = batch(f);
  icx_message_id stop_id;
  assert_int_equal(icx_batch_add_canister_op(b, &f->user, "stop_canister", &c, &stop_id), ICX_OK);
  o = run(f, b);
  expect_reply(o, &stop_id, "DIDL\0\0", 6);
  icx_round_output_free(o);
  o = call1(f, &c, "update", &s, &id);
  expect_reject(o, &id, ICX_REJECT_CODE_CANISTER_ERROR, 508, "is stopped");
  icx_round_output_free(o);

  /* rounds must advance */
  icx_batch *old = NULL;
  assert_int_equal(icx_batch_new(f->e, f->round, f->time, SIG, sizeof SIG, &old), ICX_OK);
  assert_int_equal(icx_execute_round(f->e, f->s, old, &o), ICX_EINVAL);
  assert_null(o);
  icx_batch_free(old);
  /* misuse */
  assert_int_equal(icx_execute_round(f->e, NULL, NULL, &o), ICX_EMISUSE);
  assert_int_equal(icx_batch_add_ingress(NULL, &f->user, &c, "x", NULL, 0, &id), ICX_EMISUSE);
  uc_free(&s);
  fx_free(f);
}

/* A same-subnet call and its reply complete within one round. */
static void test_round_local_call_in_one_round(void **state) {
  (void)state;
  Fx *f = fx_new(NULL);
  icx_principal a = make_canister(f), bb = make_canister(f);
  uc_script inner, on_reply, on_reject, s;
  uc_init(&inner);
  uc_counter_inc(&inner);
  uc_drop(&inner);
  uc_reply_str(&inner, "pong");
  uc_init(&on_reply);
  uc_push_str(&on_reply, "got ");
  uc_msg_arg_data(&on_reply);
  uc_concat(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_reply(&on_reply);
  uc_init(&on_reject);
  uc_msg_reject_msg(&on_reject);
  uc_reject(&on_reject);
  uc_init(&s);
  uc_call_begin(&s, bb.bytes, bb.len, "update", &on_reply, &on_reject, &inner);
  uc_call_perform(&s);
  uc_drop(&s);
  icx_message_id id;
  icx_round_output *o = call1(f, &a, "update", &s, &id);
  expect_reply(o, &id, "got pong", 8);
  assert_int_equal(icx_round_output_canister_count(o), 2);
  assert_int_equal(icx_round_output_xnet_count(o), 0);
  icx_round_output_free(o);
  assert_int_equal(counter(f, &bb), UC_COUNTER_INIT + 1);

  /* a call to a canister of another subnet leaves as an xnet request */
  icx_principal far;
  static const uint8_t far_bytes[] = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x01, 0x01};
  assert_int_equal(icx_principal_from_bytes(far_bytes, sizeof far_bytes, &far), ICX_OK);
  uc_free(&s);
  uc_init(&s);
  uc_call_begin(&s, far.bytes, far.len, "hello", &on_reply, &on_reject, &inner);
  uc_call_perform(&s);
  uc_drop(&s);
  o = call1(f, &a, "update", &s, &id);
  icx_ingress_result r;
  assert_false(result(o, &id, &r)); /* waits for the response */
  assert_int_equal(icx_round_output_xnet_count(o), 1);
  icx_xnet_message m;
  memset(&m, 0, sizeof m);
  m.struct_size = sizeof m;
  assert_int_equal(icx_round_output_xnet(o, 0, &m), ICX_OK);
  assert_int_equal(m.kind, ICX_XNET_REQUEST);
  assert_string_equal(m.method, "hello");
  assert_int_equal(icx_principal_compare(&m.src, &a), 0);
  assert_int_equal(icx_principal_compare(&m.dst, &far), 0);
  assert_int_equal(m.len, inner.len);
  icx_round_output_free(o);
  uc_free(&s);
  uc_free(&inner);
  uc_free(&on_reply);
  uc_free(&on_reject);
  fx_free(f);
}

/* Heartbeat runs once per round. */
static void test_round_heartbeat_once_per_round(void **state) {
  (void)state;
  Fx *f = fx_new(NULL);
  icx_principal c = make_canister(f);
  uc_script hook, s;
  uc_init(&hook);
  uc_counter_inc(&hook);
  uc_drop(&hook);
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_HEARTBEAT);
  uc_push_script(&s, &hook);
  uc_set_hook(&s);
  uc_reply(&s);
  icx_message_id id;
  icx_round_output *o = call1(f, &c, "update", &s, &id);
  expect_reply(o, &id, NULL, 0);
  icx_round_output_free(o);
  uint64_t v1 = counter(f, &c); /* this round's heartbeat ran before the read */
  for (int i = 0; i < 3; i++) icx_round_output_free(empty_round(f));
  uint64_t v5 = counter(f, &c);
  assert_int_equal(v5 - v1, 4);
  uc_free(&s);
  uc_free(&hook);
  fx_free(f);
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Instructions per loop iteration of round_burn's "burn" (measured). */
static double burn_rate(Fx *f, const icx_principal *c) {
  uint8_t arg[8];
  put64(arg, 1000000);
  icx_batch *b = batch(f);
  icx_message_id id;
  assert_int_equal(icx_batch_add_ingress(b, &f->user, c, "burn", arg, 8, &id), ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  assert_true(result(o, &id, &r));
  assert_int_equal(r.status, ICX_INGRESS_REPLIED);
  icx_canister_round_stats cs;
  memset(&cs, 0, sizeof cs);
  cs.struct_size = sizeof cs;
  assert_int_equal(icx_round_output_canister(o, 0, &cs), ICX_OK);
  icx_round_output_free(o);
  return (double)cs.instructions / 1e6;
}

typedef struct DtsRun {
  int reply_round[2]; /* round (relative) of the long and of the short message's reply */
  uint8_t hash[32];   /* after the last round */
  uint8_t reply[2][8];
} DtsRun;

/* A ~5e9-instruction update, and a short update to the same canister sent
 * one round later; `rounds` rounds in all. */
static void dts_scenario(const icx_engine_opts *opts, int rounds, DtsRun *out) {
  Fx *f = fx_new(opts);
  size_t n = 0;
  uint8_t *wasm = icxt_read_file(ICX_TEST_WASM_DIR "/round_burn.wasm", &n);
  icx_principal c = make_canister_with(f, wasm, n);
  free(wasm);
  double rate = burn_rate(f, &c);
  uint8_t arg[8];
  put64(arg, (uint64_t)(5e9 / rate));
  memset(out, 0, sizeof *out);
  out->reply_round[0] = out->reply_round[1] = -1;
  icx_message_id id[2];
  for (int k = 0; k < rounds; k++) {
    icx_batch *b = batch(f);
    if (k == 0) assert_int_equal(icx_batch_add_ingress(b, &f->user, &c, "burn", arg, 8, &id[0]), 0);
    if (k == 1) assert_int_equal(icx_batch_add_ingress(b, &f->user, &c, "get", NULL, 0, &id[1]), 0);
    icx_round_output *o = run(f, b);
    for (int j = 0; j < 2 && j <= k; j++) {
      icx_ingress_result r;
      if (!result(o, &id[j], &r)) continue;
      out->reply_round[j] = k;
      assert_int_equal(r.status, ICX_INGRESS_REPLIED);
      assert_int_equal(r.len, 8);
      memcpy(out->reply[j], r.data, 8);
    }
    icx_round_output_free(o);
  }
  assert_int_equal(icx_state_hash(f->s, out->hash), ICX_OK);
  fx_free(f);
}

/* DTS: a long update spans several rounds with the same reply and state
 * hash as an unsliced run; the canister runs nothing else meanwhile. */
static void test_round_dts_spans_rounds(void **state) {
  (void)state;
  DtsRun sliced, whole;
  dts_scenario(NULL, 5, &sliced); /* slice 2e9, round 4e9 */
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.max_instructions_slice = 40000000000ull;
  o.max_instructions_round = 100000000000ull;
  dts_scenario(&o, 5, &whole);
  assert_int_equal(whole.reply_round[0], 0);
  assert_int_equal(whole.reply_round[1], 1);
  assert_int_equal(sliced.reply_round[0], 2); /* 2e9 + 2e9 + 1e9 */
  assert_int_equal(sliced.reply_round[1], 2); /* after the long one, in the same round */
  assert_memory_equal(sliced.reply, whole.reply, sizeof whole.reply);
  assert_int_equal(whole.reply[1][0], 2); /* the counter after both */
  assert_memory_equal(sliced.hash, whole.hash, 32);
}

/* One multi-canister scenario over fixed batches; returns the digest of
 * every output (ingress results, xnet, figures, hashes). */
static void scenario_digest(icx_batch **batches, int n, Fx *f, uint8_t *digest, size_t cap) {
  memset(digest, 0, cap);
  size_t k = 0;
  for (int i = 0; i < n; i++) {
    icx_round_output *o = NULL;
    icx_status rc = icx_execute_round(f->e, f->s, batches[i], &o);
    if (rc != ICX_OK) fail_msg("round %d: %s", i, icx_errmsg(f->e));
    uint8_t h[32];
    assert_int_equal(icx_round_output_state_hash(o, h), ICX_OK);
    for (uint64_t j = 0; j < icx_round_output_ingress_count(o); j++) {
      icx_ingress_result r;
      memset(&r, 0, sizeof r);
      r.struct_size = sizeof r;
      assert_int_equal(icx_round_output_ingress(o, j, &r), ICX_OK);
      for (size_t b = 0; b < 32; b++) h[b] ^= (uint8_t)(r.id.bytes[b] + r.status + r.len);
      for (size_t b = 0; b < r.len; b++) h[b % 32] ^= r.data[b];
    }
    for (uint64_t j = 0; j < icx_round_output_canister_count(o); j++) {
      icx_canister_round_stats cs;
      memset(&cs, 0, sizeof cs);
      cs.struct_size = sizeof cs;
      assert_int_equal(icx_round_output_canister(o, j, &cs), ICX_OK);
      h[j % 32] ^= (uint8_t)(cs.instructions ^ cs.cycles_lo ^ cs.executions);
    }
    for (size_t b = 0; b < 32 && k < cap; b++) digest[k++] = h[b];
    icx_round_output_free(o);
  }
}

/* Determinism: the same batches on two fresh states give identical outputs
 * and hashes (and a checkpoint save/load in the middle changes nothing
 * when nothing is paused). */
static void test_round_determinism_two_states(void **state) {
  (void)state;
  Fx *f = fx_new(NULL), *g = fx_new(NULL);
  /* the batches are made on f's engine and executed on states of it */
  icx_state_free(g->s);
  g->s = NULL;
  assert_int_equal(icx_state_new(f->e, &g->s), ICX_OK);
  enum { N = 8 };
  icx_batch *bs[N];
  icx_principal can[3];
  for (int i = 0; i < 3; i++) assert_int_equal(icx_principal_from_canister_index((uint64_t)i, &can[i]), ICX_OK);
  for (int i = 0; i < N; i++) {
    assert_int_equal(icx_batch_new(f->e, (uint64_t)i + 1, T0 + (uint64_t)i * SECOND, SIG, sizeof SIG, &bs[i]),
                     ICX_OK);
    if (i == 0)
      for (int k = 0; k < 3; k++)
        assert_int_equal(icx_batch_add_create_canister(bs[i], &f->user, 0, 1000000000000000ull,
                                                       NULL, NULL),
                         ICX_OK);
    if (i == 1)
      for (int k = 0; k < 3; k++)
        assert_int_equal(icx_batch_add_install_code(bs[i], &f->user, &can[k], ICX_MODE_INSTALL,
                                                    f->wasm, f->wasm_len, NULL, 0, NULL),
                         ICX_OK);
    if (i >= 2)
      for (int k = 0; k < 3; k++) {
        /* canister k calls canister (k+1)%3, which increments and replies */
        uc_script inner, cb, s;
        uc_init(&inner);
        uc_counter_inc(&inner);
        uc_reply_data_append(&inner);
        uc_reply(&inner);
        uc_init(&cb);
        uc_msg_arg_data(&cb);
        uc_reply_data_append(&cb);
        uc_reply(&cb);
        uc_init(&s);
        uc_push_int(&s, (uint64_t)(100000 * (k + 1) * i));
        uc_burn(&s);
        const icx_principal *to = &can[(k + 1) % 3];
        uc_call_begin(&s, to->bytes, to->len, "update", &cb, &cb, &inner);
        uc_call_perform(&s);
        uc_drop(&s);
        assert_int_equal(icx_batch_add_ingress(bs[i], &f->user, &can[k], "update", s.p, s.len, NULL),
                         ICX_OK);
        uc_free(&inner);
        uc_free(&cb);
        uc_free(&s);
      }
  }
  uint8_t d1[N * 32], d2[N * 32];
  scenario_digest(bs, N, f, d1, sizeof d1);
  Fx on_f = *g; /* g's state lives on f's engine */
  on_f.e = f->e;
  scenario_digest(bs, N, &on_f, d2, sizeof d2);
  assert_memory_equal(d1, d2, sizeof d1);
  uint8_t h1[32], h2[32];
  assert_int_equal(icx_state_hash(f->s, h1), ICX_OK);
  assert_int_equal(icx_state_hash(g->s, h2), ICX_OK);
  assert_memory_equal(h1, h2, 32);
  for (int i = 0; i < N; i++) icx_batch_free(bs[i]);
  icx_state_free(g->s);
  g->s = NULL;
  fx_free(g);
  fx_free(f);
}

/* Checkpoint: save (which aborts the paused long update, as a checkpoint
 * round does), load into a second state with an equal hash, then the same
 * batches on both give the same outputs and hashes; the long update still
 * completes with the same reply. */
static void test_round_checkpoint_roundtrip(void **state) {
  (void)state;
  Fx *f = fx_new(NULL);
  size_t n = 0;
  uint8_t *wasm = icxt_read_file(ICX_TEST_WASM_DIR "/round_burn.wasm", &n);
  icx_principal c = make_canister_with(f, wasm, n);
  free(wasm);
  icx_principal u = make_canister(f); /* a uc canister too: heap, globals, heartbeat */
  uc_script sc;
  uc_init(&sc);
  uc_push_str(&sc, "kept in the heap");
  uc_scratch_set(&sc);
  uc_push_int(&sc, 1);
  uc_stable64_grow(&sc);
  uc_drop(&sc);
  uc_push_int(&sc, 100);
  uc_push_str(&sc, "stable bytes");
  uc_stable64_write(&sc);
  uc_reply(&sc);
  icx_message_id id;
  icx_round_output *o = call1(f, &u, "update", &sc, &id);
  expect_reply(o, &id, NULL, 0);
  icx_round_output_free(o);
  uc_free(&sc);
  double rate = burn_rate(f, &c);
  uint8_t arg[8];
  put64(arg, (uint64_t)(5e9 / rate));
  icx_batch *b = batch(f);
  icx_message_id long_id;
  assert_int_equal(icx_batch_add_ingress(b, &f->user, &c, "burn", arg, 8, &long_id), ICX_OK);
  o = run(f, b); /* paused after the first slice */
  icx_ingress_result r;
  assert_false(result(o, &long_id, &r));
  icx_round_output_free(o);

  char dir[] = "/tmp/icx_api_round_XXXXXX";
  assert_non_null(mkdtemp(dir));
  uint8_t h_paused[32], h1[32], h2[32];
  assert_int_equal(icx_state_hash(f->s, h_paused), ICX_OK);
  assert_int_equal(icx_state_save(f->s, dir), ICX_OK);
  assert_int_equal(icx_state_hash(f->s, h1), ICX_OK);
  assert_memory_not_equal(h_paused, h1, 32); /* the paused execution was aborted */
  icx_state *s2 = NULL;
  if (icx_state_load(f->e, dir, &s2) != ICX_OK) fail_msg("load: %s", icx_errmsg(f->e));
  assert_int_equal(icx_state_hash(s2, h2), ICX_OK);
  assert_memory_equal(h1, h2, 32);
  assert_int_equal(icx_state_round(s2), icx_state_round(f->s));
  /* a second save is incremental and still loads */
  assert_int_equal(icx_state_save(f->s, dir), ICX_OK);

  uc_script get;
  uc_init(&get);
  uc_push_int(&get, 100);
  uc_push_int(&get, 12);
  uc_stable64_read(&get);
  uc_scratch_get(&get);
  uc_concat(&get);
  uc_reply_data_append(&get);
  uc_reply(&get);
  int done = -1;
  for (int k = 0; k < 5; k++) {
    b = batch(f);
    icx_message_id gid;
    if (k == 0) gid = send(f, b, &u, "update", &get);
    icx_round_output *o1 = NULL, *o2 = NULL;
    assert_int_equal(icx_execute_round(f->e, f->s, b, &o1), ICX_OK);
    if (icx_execute_round(f->e, s2, b, &o2) != ICX_OK) fail_msg("%s", icx_errmsg(f->e));
    icx_batch_free(b);
    assert_int_equal(icx_round_output_state_hash(o1, h1), ICX_OK);
    assert_int_equal(icx_round_output_state_hash(o2, h2), ICX_OK);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(icx_round_output_ingress_count(o1), icx_round_output_ingress_count(o2));
    if (k == 0) {
      expect_reply(o1, &gid, "stable byteskept in the heap", 28);
      expect_reply(o2, &gid, "stable byteskept in the heap", 28);
    }
    icx_ingress_result r2;
    if (result(o1, &long_id, &r)) {
      assert_true(result(o2, &long_id, &r2));
      assert_int_equal(r.len, 8);
      assert_memory_equal(r.data, r2.data, 8);
      done = k;
    }
    icx_round_output_free(o1);
    icx_round_output_free(o2);
  }
  assert_int_equal(done, 2); /* re-run from the start: 3 slices */
  uc_free(&get);
  icx_state_free(s2);
  /* errors */
  assert_true(icx_state_load(f->e, "/nonexistent/icx/dir", &s2) != ICX_OK);
  assert_null(s2);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  fx_free(f);
}

/* The random-tape verifier: a stand-in "signature" is valid when it is the
 * public key followed by the round as one byte. */
typedef struct VerifyLog {
  int calls;
  uint64_t last_round;
} VerifyLog;
static int verify_sig(void *ud, const uint8_t *pk, size_t pk_len, uint64_t round,
                      const uint8_t *sig, size_t sig_len) {
  VerifyLog *v = ud;
  v->calls++;
  v->last_round = round;
  return sig_len == pk_len + 1 && memcmp(sig, pk, pk_len) == 0 && sig[pk_len] == (uint8_t)round;
}

static void test_round_random_sig_verifier(void **state) {
  (void)state;
  static const uint8_t pk[] = {0xb1, 0x5e, 0xed};
  VerifyLog vl = {0, 0};
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.verify_random_sig = verify_sig;
  o.verify_random_sig_ud = &vl;
  o.subnet_public_key = pk;
  o.subnet_public_key_len = sizeof pk;
  Fx *f = fx_new(&o);
  uint8_t good[4] = {0xb1, 0x5e, 0xed, 1}, bad[4] = {0xb1, 0x5e, 0xed, 9};
  uint8_t h0[32], h1[32];
  assert_int_equal(icx_state_hash(f->s, h0), ICX_OK);
  /* a batch whose signature does not verify is refused; nothing changes */
  icx_batch *b = NULL;
  icx_round_output *out = NULL;
  assert_int_equal(icx_batch_new(f->e, 1, T0, bad, sizeof bad, &b), ICX_OK);
  assert_int_equal(icx_execute_round(f->e, f->s, b, &out), ICX_EREJECTED);
  assert_null(out);
  assert_non_null(strstr(icx_errmsg(f->e), "does not verify"));
  assert_int_equal(icx_state_hash(f->s, h1), ICX_OK);
  assert_memory_equal(h0, h1, 32);
  assert_int_equal(icx_state_round(f->s), 0);
  icx_batch_free(b);
  /* the right one is accepted */
  assert_int_equal(icx_batch_new(f->e, 1, T0, good, sizeof good, &b), ICX_OK);
  assert_int_equal(icx_execute_round(f->e, f->s, b, &out), ICX_OK);
  assert_int_equal(icx_state_round(f->s), 1);
  assert_int_equal(vl.calls, 2);
  assert_int_equal(vl.last_round, 1);
  icx_round_output_free(out);
  icx_batch_free(b);
  fx_free(f);
  /* a key length without a key is refused */
  icx_engine *e = NULL;
  o.subnet_public_key = NULL;
  assert_int_equal(icx_engine_new(&o, &e), ICX_EINVAL);
  assert_null(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_create_install_update_query),
      cmocka_unit_test(test_round_ingress_missing_and_stopped),
      cmocka_unit_test(test_round_local_call_in_one_round),
      cmocka_unit_test(test_round_heartbeat_once_per_round),
      cmocka_unit_test(test_round_dts_spans_rounds),
      cmocka_unit_test(test_round_determinism_two_states),
      cmocka_unit_test(test_round_checkpoint_roundtrip),
      cmocka_unit_test(test_round_random_sig_verifier),
  };
  return cmocka_run_group_tests_name("api_round", tests, NULL, NULL);
}
