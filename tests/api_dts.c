/* api_dts.c -- install_code under deterministic time slicing, through the
 * public API: an install whose canister_init needs several slices is paused
 * at the end of the round and resumed in the next ones; meanwhile the
 * canister runs nothing and management calls for it wait; the result equals
 * an unsliced install; a checkpoint in the middle restarts it from scratch
 * with the same final outcome. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers.h"
#include "icexec.h"
#include "uc.h"

#ifndef ICX_TEST_CANISTER_DIR
#define ICX_TEST_CANISTER_DIR "build/canisters"
#endif

#define T0 1700000000000000000ull
#define SECOND 1000000000ull
#define INIT_BURN 12000000 /* loop iterations of canister_init: several install slices of 5e6 */

typedef struct Fx {
  icx_engine *e;
  icx_state *s;
  uint64_t round, time;
  icx_principal user, c;
  uint8_t *wasm;
  size_t wasm_len;
} Fx;

static icx_batch *batch(Fx *f) {
  icx_batch *b = NULL;
  f->round++;
  f->time += SECOND;
  assert_int_equal(icx_batch_new(f->e, f->round, f->time, (const uint8_t *)"d", 1, &b), ICX_OK);
  return b;
}

static icx_round_output *run(Fx *f, icx_batch *b) {
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(f->e, f->s, b, &o);
  if (rc != ICX_OK) fail_msg("icx_execute_round: %s", icx_errmsg(f->e));
  icx_batch_free(b);
  return o;
}

/* A fixture whose install slice is `slice` instructions; one empty canister. */
static Fx *fx_new(uint64_t slice) {
  Fx *f = calloc(1, sizeof *f);
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.max_instructions_install_slice = slice;
  o.max_instructions_slice = slice;
  o.max_instructions_round = slice * 2;
  assert_int_equal(icx_engine_new(&o, &f->e), ICX_OK);
  assert_int_equal(icx_state_new(f->e, &f->s), ICX_OK);
  f->time = T0;
  static const uint8_t der[] = "api_dts user";
  assert_int_equal(icx_principal_self_authenticating(der, sizeof der, &f->user), ICX_OK);
  f->wasm = icxt_read_file(ICX_TEST_CANISTER_DIR "/uc.wasm", &f->wasm_len);
  icx_batch *b = batch(f);
  icx_message_id id;
  assert_int_equal(icx_batch_add_create_canister(b, &f->user, 0, 1000000000000000ull, NULL, &id),
                   ICX_OK);
  icx_round_output *out = run(f, b);
  icx_ingress_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  assert_int_equal(icx_round_output_find_ingress(out, &id, &r), ICX_OK);
  assert_int_equal(icx_reply_canister_id(r.data, r.len, &f->c), ICX_OK);
  icx_round_output_free(out);
  return f;
}

static void fx_free(Fx *f) {
  icx_state_free(f->s);
  icx_engine_free(f->e);
  free(f->wasm);
  free(f);
}

/* The init script: burn, then count twice (the counter starts at 1000). */
static void init_script(uc_script *s) {
  uc_init(s);
  uc_push_int(s, INIT_BURN);
  uc_burn(s);
  uc_counter_inc(s);
  uc_drop(s);
  uc_counter_inc(s);
  uc_drop(s);
}

/* An update that replies with the counter. */
static void get_script(uc_script *s) {
  uc_init(s);
  uc_counter_get(s);
  uc_reply_data_append(s);
  uc_reply(s);
}

typedef struct Trace {
  int install_round, update_round, status_round; /* relative round of each answer, -1 none */
  uint64_t counter;                              /* the update's reply */
  uint32_t install_status, status_status;
  uint8_t hash[32];
} Trace;

static int take(icx_round_output *o, const icx_message_id *id, icx_ingress_result *r) {
  memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
  return icx_round_output_find_ingress(o, id, r) == ICX_OK;
}

/* Round 0: install + an update to the canister + canister_status for it;
 * then `rounds` - 1 empty rounds (checkpoint: the batch of round
 * `ckpt_at` is a checkpoint round; save_at: icx_state_save + load into a
 * fresh state after that round; -1: none). */
static void scenario(Fx *f, int rounds, int ckpt_at, int save_at, Trace *t) {
  memset(t, 0, sizeof *t);
  t->install_round = t->update_round = t->status_round = -1;
  uc_script init, get;
  init_script(&init);
  get_script(&get);
  icx_message_id ins, upd, st;
  for (int k = 0; k < rounds; k++) {
    icx_batch *b = batch(f);
    if (k == 0) {
      assert_int_equal(icx_batch_add_install_code(b, &f->user, &f->c, ICX_MODE_INSTALL, f->wasm,
                                                  f->wasm_len, init.p, init.len, &ins),
                       ICX_OK);
      assert_int_equal(icx_batch_add_ingress(b, &f->user, &f->c, "update", get.p, get.len, &upd),
                       ICX_OK);
      assert_int_equal(icx_batch_add_canister_op(b, &f->user, "canister_status", &f->c, &st),
                       ICX_OK);
    }
    if (k == ckpt_at) assert_int_equal(icx_batch_set_checkpoint(b, 1), ICX_OK);
    icx_round_output *o = run(f, b);
    icx_ingress_result r;
    if (take(o, &ins, &r)) {
      assert_int_equal(t->install_round, -1);
      t->install_round = k;
      t->install_status = r.status;
    }
    if (take(o, &upd, &r)) {
      t->update_round = k;
      assert_int_equal(r.status, ICX_INGRESS_REPLIED);
      assert_int_equal(r.len, 8);
      memcpy(&t->counter, r.data, 8);
    }
    if (take(o, &st, &r)) {
      t->status_round = k;
      t->status_status = r.status;
    }
    icx_round_output_free(o);
    if (k == save_at) {
      char dir[] = "/tmp/icx_api_dts_XXXXXX";
      assert_non_null(mkdtemp(dir));
      assert_int_equal(icx_state_save(f->s, dir), ICX_OK);
      icx_state *loaded = NULL;
      assert_int_equal(icx_state_load(f->e, dir, &loaded), ICX_OK);
      uint8_t h1[32], h2[32];
      assert_int_equal(icx_state_hash(f->s, h1), ICX_OK);
      assert_int_equal(icx_state_hash(loaded, h2), ICX_OK);
      assert_memory_equal(h1, h2, 32);
      icx_state_free(f->s);
      f->s = loaded;
      char cmd[128];
      snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
      assert_int_equal(system(cmd), 0);
    }
  }
  assert_int_equal(icx_state_hash(f->s, t->hash), ICX_OK);
  uc_free(&init);
  uc_free(&get);
}

/* Sliced: answered in a later round, with everything that waited for it
 * in that round; the outcome equals an unsliced install. */
static void test_dts_install_spans_rounds(void **state) {
  (void)state;
  Fx *sl = fx_new(5000000), *whole = fx_new(2000000000ull);
  Trace a, b;
  scenario(sl, 6, -1, -1, &a);
  scenario(whole, 6, -1, -1, &b);
  assert_int_equal(b.install_round, 0);
  assert_true(a.install_round >= 2); /* at least three slices, one per round */
  assert_int_equal(a.install_status, ICX_INGRESS_REPLIED);
  assert_int_equal(b.install_status, ICX_INGRESS_REPLIED);
  /* the update and canister_status waited for the install */
  assert_int_equal(a.update_round, a.install_round);
  assert_int_equal(a.status_round, a.install_round);
  assert_int_equal(b.update_round, 0);
  assert_int_equal(a.counter, 1002);
  assert_int_equal(b.counter, 1002);
  assert_int_equal(a.status_status, ICX_INGRESS_REPLIED);
  fx_free(sl);
  fx_free(whole);
}

/* A checkpoint round (and, separately, icx_state_save + load) in the
 * middle of the install aborts it; it runs again from the start and ends
 * the same way, only later. */
static void test_dts_install_checkpoint_restarts(void **state) {
  (void)state;
  Fx *f = fx_new(5000000), *g = fx_new(5000000), *h = fx_new(5000000);
  Trace plain, ckpt, saved;
  scenario(f, 10, -1, -1, &plain);
  scenario(g, 10, 1, -1, &ckpt);
  scenario(h, 10, -1, 1, &saved);
  assert_true(ckpt.install_round > plain.install_round);
  assert_true(saved.install_round > plain.install_round);
  assert_int_equal(ckpt.counter, 1002);
  assert_int_equal(saved.counter, 1002);
  assert_int_equal(ckpt.install_status, ICX_INGRESS_REPLIED);
  assert_int_equal(saved.install_round, ckpt.install_round);
  assert_memory_equal(saved.hash, ckpt.hash, 32);
  fx_free(f);
  fx_free(g);
  fx_free(h);
}

/* A trap in the last slice: the install is rejected, the canister stays
 * empty, and the update that waited gets IC0537 (no Wasm module). */
static void test_dts_install_trap_after_slices(void **state) {
  (void)state;
  Fx *f = fx_new(5000000);
  uc_script init, get;
  uc_init(&init);
  uc_push_int(&init, INIT_BURN);
  uc_burn(&init);
  uc_trap_str(&init, "init fails late");
  get_script(&get);
  icx_batch *b = batch(f);
  icx_message_id ins, upd;
  assert_int_equal(icx_batch_add_install_code(b, &f->user, &f->c, ICX_MODE_INSTALL, f->wasm,
                                              f->wasm_len, init.p, init.len, &ins),
                   ICX_OK);
  assert_int_equal(icx_batch_add_ingress(b, &f->user, &f->c, "update", get.p, get.len, &upd),
                   ICX_OK);
  int done = 0;
  icx_round_output *o = run(f, b);
  for (int k = 1; k < 8 && !done; k++) {
    icx_ingress_result r;
    if (take(o, &ins, &r)) {
      done = 1;
      assert_true(k >= 3);
      assert_int_equal(r.status, ICX_INGRESS_REJECTED);
      assert_int_equal(r.error_code, 503);
      assert_true(icxt_has_text(r.data, r.len, "init fails late"));
      assert_true(take(o, &upd, &r));
      assert_int_equal(r.status, ICX_INGRESS_REJECTED);
      assert_int_equal(r.error_code, 537);
    }
    icx_round_output_free(o);
    o = done ? NULL : run(f, batch(f));
  }
  icx_round_output_free(o);
  assert_true(done);
  uc_free(&init);
  uc_free(&get);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dts_install_spans_rounds),
      cmocka_unit_test(test_dts_install_checkpoint_restarts),
      cmocka_unit_test(test_dts_install_trap_after_slices),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
