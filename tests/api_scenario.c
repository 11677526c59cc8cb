/* api_scenario.c -- multi-round scenarios through the public API only:
 * an upgrade in the middle of traffic (stable memory kept, heap reset,
 * messages before and after it answered in order), fees over time (an idle
 * canister pays for its memory as batch time passes), and checkpoint and
 * restore between busy rounds giving the same later hashes. */
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
#define DAY (86400ull * SECOND)

typedef struct Fx {
  icx_engine *e;
  icx_state *s;
  uint64_t round, time;
  icx_principal user;
  uint8_t *wasm;
  size_t wasm_len;
} Fx;

static Fx *fx_new(void) {
  Fx *f = calloc(1, sizeof *f);
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.subnet_type = ICX_SUBNET_TYPE_APPLICATION;
  assert_int_equal(icx_engine_new(&o, &f->e), ICX_OK);
  assert_int_equal(icx_state_new(f->e, &f->s), ICX_OK);
  f->time = T0;
  static const uint8_t der[] = "api_scenario user";
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

/* A batch `dt` after the previous one. */
static icx_batch *batch_at(Fx *f, uint64_t dt) {
  icx_batch *b = NULL;
  f->round++;
  f->time += dt;
  uint8_t sig[8];
  memcpy(sig, &f->round, 8);
  assert_int_equal(icx_batch_new(f->e, f->round, f->time, sig, sizeof sig, &b), ICX_OK);
  return b;
}
static icx_batch *batch(Fx *f) { return batch_at(f, SECOND); }

static icx_round_output *run(Fx *f, icx_batch *b) {
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(f->e, f->s, b, &o);
  if (rc != ICX_OK) fail_msg("icx_execute_round: %s", icx_errmsg(f->e));
  icx_batch_free(b);
  return o;
}

static int take(icx_round_output *o, const icx_message_id *id, icx_ingress_result *r) {
  memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
  return icx_round_output_find_ingress(o, id, r) == ICX_OK;
}

/* n canisters with the uc module, created and installed. */
static void make_canisters(Fx *f, icx_principal *ids, int n) {
  icx_batch *b = batch(f);
  icx_message_id mid[8];
  for (int i = 0; i < n; i++)
    assert_int_equal(icx_batch_add_create_canister(b, &f->user, 0, 10000000000000ull, NULL, &mid[i]),
                     ICX_OK);
  icx_round_output *o = run(f, b);
  for (int i = 0; i < n; i++) {
    icx_ingress_result r;
    assert_true(take(o, &mid[i], &r));
    assert_int_equal(icx_reply_canister_id(r.data, r.len, &ids[i]), ICX_OK);
  }
  icx_round_output_free(o);
  b = batch(f);
  for (int i = 0; i < n; i++)
    assert_int_equal(icx_batch_add_install_code(b, &f->user, &ids[i], ICX_MODE_INSTALL, f->wasm,
                                                f->wasm_len, NULL, 0, &mid[i]),
                     ICX_OK);
  o = run(f, b);
  for (int i = 0; i < n; i++) {
    icx_ingress_result r;
    assert_true(take(o, &mid[i], &r));
    assert_int_equal(r.status, ICX_INGRESS_REPLIED);
  }
  icx_round_output_free(o);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

/* Send script s to canister c in a round of its own (dt after the last);
 * returns the reply as u64 (8 bytes expected). */
static uint64_t call_u64(Fx *f, const icx_principal *c, const uc_script *s, uint64_t dt) {
  icx_batch *b = batch_at(f, dt);
  icx_message_id id;
  assert_int_equal(icx_batch_add_ingress(b, &f->user, c, "update", s->p, s->len, &id), ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  assert_true(take(o, &id, &r));
  if (r.status != ICX_INGRESS_REPLIED)
    fail_msg("IC%04u %.*s", r.error_code, (int)r.len, (const char *)r.data);
  assert_int_equal(r.len, 8);
  uint64_t v = le64(r.data);
  icx_round_output_free(o);
  return v;
}

/* ---- upgrade in the middle of traffic ----------------------------------------------- */

static void test_upgrade_during_traffic(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal c[2];
  make_canisters(f, c, 2);
  /* c[0] keeps a value in stable memory and counts in the heap */
  uc_script put, inc, getst, caller;
  uc_init(&put);
  uc_push_int(&put, 1);
  uc_stable64_grow(&put);
  uc_drop(&put);
  uc_push_int(&put, 0);
  uc_push_str(&put, "kept-in-stable");
  uc_stable64_write(&put);
  uc_reply_str(&put, "ok");
  uc_init(&inc);
  uc_counter_inc(&inc);
  uc_reply_data_append(&inc);
  uc_reply(&inc);
  uc_init(&getst);
  uc_push_int(&getst, 0);
  uc_push_int(&getst, 14);
  uc_stable64_read(&getst);
  uc_reply_data_append(&getst);
  uc_reply(&getst);
  /* c[1] calls c[0]'s counter and relays the answer */
  uc_script cb;
  uc_init(&cb);
  uc_msg_arg_data(&cb);
  uc_reply_data_append(&cb);
  uc_reply(&cb);
  uc_init(&caller);
  size_t c0len = c[0].len < sizeof c[0].bytes ? c[0].len : sizeof c[0].bytes;
  uc_call_begin(&caller, c[0].bytes, c0len, "update", &cb, &cb, &inc);
  uc_call_perform(&caller);
  uc_drop(&caller);

  icx_batch *b = batch(f);
  icx_message_id m_put, m_inc[6], m_rel[6], m_up, m_get;
  assert_int_equal(icx_batch_add_ingress(b, &f->user, &c[0], "update", put.p, put.len, &m_put), 0);
  icx_round_output_free(run(f, b));
  /* one round: traffic, the upgrade, more traffic, all in one batch */
  b = batch(f);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(icx_batch_add_ingress(b, &f->user, &c[0], "update", inc.p, inc.len, &m_inc[i]), 0);
    assert_int_equal(icx_batch_add_ingress(b, &f->user, &c[1], "update", caller.p, caller.len,
                                           &m_rel[i]),
                     0);
  }
  assert_int_equal(icx_batch_add_install_code(b, &f->user, &c[0], ICX_MODE_UPGRADE, f->wasm,
                                              f->wasm_len, NULL, 0, &m_up),
                   ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  assert_true(take(o, &m_up, &r));
  assert_int_equal(r.status, ICX_INGRESS_REPLIED);
  /* the upgrade ran first (management messages run before canister
   * messages in a round), so every increment counted from the reset
   * counter 1000: the three direct ones and the three relayed ones are
   * 1001..1006 in some order, each once */
  int seen[6] = {0};
  for (int i = 0; i < 3; i++) {
    uint64_t v;
    assert_true(take(o, &m_inc[i], &r));
    assert_int_equal(r.status, ICX_INGRESS_REPLIED);
    v = le64(r.data);
    assert_true(v >= 1001 && v <= 1006);
    seen[v - 1001]++;
    if (take(o, &m_rel[i], &r)) {
      assert_int_equal(r.status, ICX_INGRESS_REPLIED);
      v = le64(r.data);
      assert_true(v >= 1001 && v <= 1006);
      seen[v - 1001]++;
    } else {
      fail_msg("relayed call %d not answered in the round", i);
    }
  }
  for (int i = 0; i < 6; i++) assert_int_equal(seen[i], 1);
  icx_round_output_free(o);
  /* more traffic after the upgrade: stable memory survived, the heap
   * counter continues */
  b = batch(f);
  assert_int_equal(icx_batch_add_ingress(b, &f->user, &c[0], "update", getst.p, getst.len, &m_get), 0);
  assert_int_equal(icx_batch_add_ingress(b, &f->user, &c[0], "update", inc.p, inc.len, &m_inc[3]), 0);
  o = run(f, b);
  assert_true(take(o, &m_get, &r));
  assert_int_equal(r.len, 14);
  assert_memory_equal(r.data, "kept-in-stable", 14);
  assert_true(take(o, &m_inc[3], &r));
  assert_int_equal(le64(r.data), 1007);
  icx_round_output_free(o);
  uc_free(&put);
  uc_free(&inc);
  uc_free(&getst);
  uc_free(&cb);
  uc_free(&caller);
  fx_free(f);
}

/* ---- fees over time ------------------------------------------------------------------- */

/* The same two balance reads on twin states, 1 s apart and 30 days apart:
 * the second pays storage for the canister's memory over 30 days (the
 * reference's 127,000 cycles per GiB-second on a 13-node subnet), the first
 * almost nothing. */
static void test_fees_over_time(void **state) {
  (void)state;
  uint64_t drop[2];
  for (int k = 0; k < 2; k++) {
    Fx *f = fx_new();
    icx_principal c;
    make_canisters(f, &c, 1);
    uc_script grow, bal;
    uc_init(&grow);
    uc_push_int(&grow, 160); /* 10 MiB of heap */
    uc_memory_grow(&grow);
    uc_reply_data_append(&grow);
    uc_reply(&grow);
    (void)call_u64(f, &c, &grow, SECOND);
    uc_init(&bal);
    uc_canister_cycle_balance(&bal);
    uc_reply_data_append(&bal);
    uc_reply(&bal);
    uint64_t b0 = call_u64(f, &c, &bal, SECOND);
    /* resources are charged at the end of a round, for the time since the
     * last charge: an empty round after the gap, then the second read */
    icx_round_output_free(run(f, batch_at(f, k == 0 ? SECOND : 30 * DAY)));
    uint64_t b1 = call_u64(f, &c, &bal, SECOND);
    assert_true(b1 < b0);
    drop[k] = b0 - b1;
    uc_free(&grow);
    uc_free(&bal);
    fx_free(f);
  }
  /* 30 days of >= 10 MiB at 127,000 cycles per GiB-second: >= 3.2e9 cycles */
  double gib = 10.0 / 1024.0, secs = 30.0 * 86400.0;
  double expect_min = gib * secs * 127000.0;
  print_message("drop 1 s: %llu, 30 days: %llu, storage of 10 MiB for 30 days: %.0f\n", (unsigned long long)drop[0], (unsigned long long)drop[1], expect_min);
  assert_true((double)(drop[1] - drop[0]) >= expect_min * 0.99);
  /* at most: 64 MiB at the newer 317,500 plus the newer base fee of
   * 10,000 cycles per second (reference section on fees) */
  double expect_max = (64.0 / 1024.0 * 317500.0 + 10000.0) * secs;
  assert_true((double)(drop[1] - drop[0]) <= expect_max);
}

/* ---- checkpoint and restore between busy rounds ------------------------------------------- */

static void traffic(Fx *f, const icx_principal *c, int n, uint64_t seed, icx_batch *b) {
  for (int i = 0; i < n; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    uc_script s;
    uc_init(&s);
    uc_push_int(&s, (seed >> 33) % 400000);
    uc_burn(&s);
    uc_counter_inc(&s);
    uc_reply_data_append(&s);
    uc_reply(&s);
    assert_int_equal(icx_batch_add_ingress(b, &f->user, &c[(seed >> 20) % 3], "update", s.p, s.len,
                                           NULL),
                     ICX_OK);
    uc_free(&s);
  }
}

static void test_checkpoint_restore_same_hashes(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal c[3];
  make_canisters(f, c, 3);
  enum { N = 12, SAVE_AT = 5 };
  uint8_t uninterrupted[N][32];
  char dir[] = "/tmp/icx_api_scenario_XXXXXX";
  assert_non_null(mkdtemp(dir));
  /* the batches are built the same way twice */
  uint64_t round0 = f->round, time0 = f->time;
  for (int i = 0; i < N; i++) {
    icx_batch *b = batch(f);
    traffic(f, c, 20, (uint64_t)i, b);
    icx_round_output *o = run(f, b);
    assert_int_equal(icx_round_output_state_hash(o, uninterrupted[i]), ICX_OK);
    icx_round_output_free(o);
    if (i == SAVE_AT) assert_int_equal(icx_state_save(f->s, dir), ICX_OK);
  }
  /* restart from the checkpoint in a new engine, replay the later batches */
  icx_state_free(f->s);
  icx_engine_free(f->e);
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.subnet_type = ICX_SUBNET_TYPE_APPLICATION;
  assert_int_equal(icx_engine_new(&o, &f->e), ICX_OK);
  assert_int_equal(icx_state_load(f->e, dir, &f->s), ICX_OK);
  assert_int_equal(icx_state_round(f->s), round0 + SAVE_AT + 1);
  f->round = round0 + SAVE_AT + 1;
  f->time = time0 + (SAVE_AT + 1) * SECOND;
  for (int i = SAVE_AT + 1; i < N; i++) {
    icx_batch *b = batch(f);
    traffic(f, c, 20, (uint64_t)i, b);
    icx_round_output *out = run(f, b);
    uint8_t h[32];
    assert_int_equal(icx_round_output_state_hash(out, h), ICX_OK);
    assert_memory_equal(h, uninterrupted[i], 32);
    icx_round_output_free(out);
  }
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  fx_free(f);
}

/* ---- upgrade options ------------------------------------------------------------------ */

/* skip_pre_upgrade and wasm_memory_persistence reach the management
 * canister: the pre_upgrade hook runs or not; KEEP is refused for a
 * classic module (IC0504, the IC's text); REPLACE is the classic upgrade;
 * bad options are refused by the batch. */
static void test_upgrade_options(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_principal c;
  make_canisters(f, &c, 1);
  /* a pre_upgrade hook that appends 'P' to stable memory byte 0.. */
  uc_script hook, set, get;
  uc_init(&hook);
  uc_push_int(&hook, 1);
  uc_stable64_grow(&hook);
  uc_drop(&hook);
  uc_push_int(&hook, 0);
  uc_push_str(&hook, "P");
  uc_stable64_write(&hook);
  uc_init(&set);
  uc_push_int(&set, UC_HOOK_PRE_UPGRADE);
  uc_push_script(&set, &hook);
  uc_set_hook(&set);
  uc_reply_str(&set, "ok");
  uc_init(&get); /* the stable size in pages, as 8 bytes */
  uc_stable64_size(&get);
  uc_reply_data_append(&get);
  uc_reply(&get);
  struct {
    int32_t skip, persist;
    uint32_t expect_status, expect_code;
    uint64_t pages_after; /* stable pages after: 1 if the hook ran */
  } cases[] = {
      {1, ICX_MEMORY_PERSISTENCE_UNSET, ICX_INGRESS_REPLIED, 0, 0},   /* skipped */
      {0, ICX_MEMORY_PERSISTENCE_KEEP, ICX_INGRESS_REJECTED, 504, 0}, /* hook ran, then refused */
      {0, ICX_MEMORY_PERSISTENCE_REPLACE, ICX_INGRESS_REPLIED, 0, 1}, /* hook ran */
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    icx_batch *b = batch(f);
    icx_message_id m_set, m_up;
    assert_int_equal(icx_batch_add_ingress(b, &f->user, &c, "update", set.p, set.len, &m_set), 0);
    icx_round_output_free(run(f, b));
    icx_install_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.skip_pre_upgrade = cases[k].skip;
    o.wasm_memory_persistence = cases[k].persist;
    b = batch(f);
    assert_int_equal(icx_batch_add_install_code_opts(b, &f->user, &c, ICX_MODE_UPGRADE, f->wasm,
                                                     f->wasm_len, NULL, 0, &o, &m_up),
                     ICX_OK);
    icx_round_output *out = run(f, b);
    icx_ingress_result r;
    assert_true(take(out, &m_up, &r));
    assert_int_equal(r.status, cases[k].expect_status);
    assert_int_equal(r.error_code, cases[k].expect_code);
    if (cases[k].expect_code == 504) {
      static const char want[] = "Invalid upgrade option: The `wasm_memory_persistence: opt Keep`";
      assert_true(r.len >= sizeof want - 1);
      assert_memory_equal(r.data, want, sizeof want - 1);
    }
    icx_round_output_free(out);
    /* the hook's stable write survives only a successful upgrade */
    assert_int_equal(call_u64(f, &c, &get, SECOND), cases[k].pages_after);
    /* back to an empty stable memory for the next case: reinstall */
    b = batch(f);
    assert_int_equal(icx_batch_add_install_code(b, &f->user, &c, ICX_MODE_REINSTALL, f->wasm,
                                                f->wasm_len, NULL, 0, NULL),
                     ICX_OK);
    icx_round_output_free(run(f, b));
  }
  /* bad options */
  icx_batch *b = batch(f);
  icx_install_options o;
  memset(&o, 0, sizeof o);
  o.struct_size = sizeof o;
  o.wasm_memory_persistence = 3;
  assert_int_equal(icx_batch_add_install_code_opts(b, &f->user, &c, ICX_MODE_UPGRADE, f->wasm,
                                                   f->wasm_len, NULL, 0, &o, NULL),
                   ICX_EINVAL);
  o.wasm_memory_persistence = 0;
  o.skip_pre_upgrade = 2;
  assert_int_equal(icx_batch_add_install_code_opts(b, &f->user, &c, ICX_MODE_UPGRADE, f->wasm,
                                                   f->wasm_len, NULL, 0, &o, NULL),
                   ICX_EINVAL);
  o.skip_pre_upgrade = 0;
  o.struct_size = 4;
  assert_int_equal(icx_batch_add_install_code_opts(b, &f->user, &c, ICX_MODE_UPGRADE, f->wasm,
                                                   f->wasm_len, NULL, 0, &o, NULL),
                   ICX_EINVAL);
  assert_int_equal(icx_batch_ingress_count(b), 0);
  icx_batch_free(b);
  uc_free(&hook);
  uc_free(&set);
  uc_free(&get);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_upgrade_during_traffic),
      cmocka_unit_test(test_fees_over_time),
      cmocka_unit_test(test_checkpoint_restore_same_hashes),
      cmocka_unit_test(test_upgrade_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
