/* unit_install.c -- install / reinstall / upgrade in slices (lib/install.c,
 * reference 4.5 and 6.2): a sliced install ends exactly as the unsliced
 * one (canister hash, heap and stable roots, balance, version, outcome),
 * pauses keep the canister's previous state visible, and abort restores it
 * exactly -- also for an upgrade paused after pre_upgrade ran.  Canister:
 * the universal test canister (tests/canisters/uc.c, scripts of tests/uc.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "canister.h"
#include "principal.h"
#include "state.h"
#include "uc.h"

#define TIME0 1700000000000000000ull
#define SMALL_SLICE 10000000ull /* 10 M instructions: several slices per phase */

static struct {
  icxAllocator a;
  icxPmCtx *pm;
  icxRtConfig cfg;
  icxCode *uc;
} w;

static icxCode *code_file(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", ICX_TEST_CANISTER_DIR, name);
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
  icxCode *c = NULL;
  icxErr err;
  icxErr_clear(&err);
  icx_status rc = icxCode_new(&w.a, &w.cfg, b, n, &c, &err);
  free(b);
  if (rc != ICX_OK) fail_msg("icxCode_new(%s): %d %s", name, rc, err.msg);
  return c;
}

static int group_setup(void **state) {
  (void)state;
  w.a = icxCore_default_allocator();
  w.pm = icxPm_ctx_new(&w.a);
  icxRtConfig_defaults(&w.cfg);
  w.uc = code_file("uc.wasm");
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  icxCode_unref(w.uc);
  icxPm_ctx_free(w.pm);
  return 0;
}

static icxCanister *mk(void) {
  icx_principal id = icxPrincipal_canister(5);
  icxCanister *c = NULL;
  icxErr err;
  if (icxCanister_new(&w.a, w.pm, &w.cfg, &id, &c, &err) != ICX_OK) fail_msg("%s", err.msg);
  c->balance = icxU128_from_u64(50000000000000ull); /* 50 T */
  return c;
}

static icxExecEnv env_of(uint64_t slice) {
  icxExecEnv env;
  memset(&env, 0, sizeof env);
  env.cfg = &w.cfg;
  env.time_ns = TIME0;
  env.slice = slice;
  return env;
}

/* Everything an install must leave identical. */
typedef struct Snap {
  uint8_t hash[32], heap[32], stable[32];
  icxU128 balance;
  uint64_t version;
} Snap;

static void snap(const icxCanister *c, Snap *s) {
  memset(s, 0, sizeof *s);
  icxErr err;
  assert_int_equal(icxState_canister_hash(c, s->hash, &err), ICX_OK);
  icxPm_root_hash(c->heap_map, s->heap);
  icxPm_root_hash(icxStable_map(c->stable), s->stable);
  s->balance = c->balance;
  s->version = c->version;
}

static void assert_snap_equal(const Snap *a, const Snap *b) {
  assert_memory_equal(a->heap, b->heap, 32);
  assert_memory_equal(a->stable, b->stable, 32);
  assert_int_equal(a->balance.lo, b->balance.lo);
  assert_int_equal(a->balance.hi, b->balance.hi);
  assert_int_equal(a->version, b->version);
  assert_memory_equal(a->hash, b->hash, 32);
}

/* Start an install; returns the first outcome (caller frees). */
static icxExecOutcome install_start(icxCanister *c, const icxExecEnv *env, int mode,
                                    const uc_script *arg) {
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = mode;
  ia.code = w.uc;
  ia.caller = icxPrincipal_anonymous();
  /* a copy that dies before the install ends: the install must not keep it */
  uint8_t *copy = arg && arg->len ? malloc(arg->len) : NULL;
  if (copy) memcpy(copy, arg->p, arg->len);
  ia.arg = copy;
  ia.arg_len = arg ? arg->len : 0;
  icxExecOutcome o;
  icxErr err;
  icxErr_clear(&err);
  icx_status rc = icxCanister_install(c, env, &ia, &o, &err);
  if (copy) memset(copy, 0xee, arg->len);
  free(copy);
  if (rc != ICX_OK) fail_msg("icxCanister_install: %d %s", rc, err.msg);
  return o;
}

/* Install to the end, resuming slice after slice; *slices = slices used. */
static icxExecOutcome install_all(icxCanister *c, uint64_t slice, int mode, const uc_script *arg,
                                  unsigned *slices) {
  icxExecEnv env = env_of(slice);
  icxExecOutcome o = install_start(c, &env, mode, arg);
  unsigned n = 1;
  while (!o.done) {
    assert_non_null(c->paused);
    icxExecOutcome o2;
    icxErr err;
    icxErr_clear(&err);
    if (icxCanister_resume(c, &env, &o2, &err) != ICX_OK) fail_msg("resume: %s", err.msg);
    icxExecOutcome_free(&w.a, &o);
    o = o2;
    if (++n > 100000) fail_msg("install does not finish");
  }
  assert_null(c->paused);
  if (slices) *slices = n;
  return o;
}

/* Run an update script to completion (unsliced). */
static void update(icxCanister *c, const uc_script *s) {
  icxExecEnv env = env_of(0);
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = icxPrincipal_anonymous();
  m.dst = c->id;
  m.method = (char *)"update";
  m.method_len = 6;
  m.data = s->p;
  m.len = s->len;
  icxExecOutcome o;
  icxErr err;
  if (icxCanister_execute(c, &env, ICX_EXEC_UPDATE, &m, &o, &err) != ICX_OK)
    fail_msg("execute: %s", err.msg);
  assert_int_equal(o.done, 1);
  if (o.trapped) fail_msg("update trapped: %s", o.error);
  icxExecOutcome_free(&w.a, &o);
}

/* init / post_upgrade script: burn, write stable memory and the heap. */
static void body_script(uc_script *s, uint64_t burn, const char *tag) {
  uc_init(s);
  uc_push_int(s, burn);
  uc_burn(s);
  uc_push_int(s, 1);
  uc_stable64_grow(s);
  uc_drop(s);
  uc_push_int(s, 100);
  uc_push_str(s, tag);
  uc_stable64_write(s);
  uc_push_str(s, tag);
  uc_scratch_set(s);
  uc_counter_inc(s);
  uc_drop(s);
  uc_push_bytes(s, "cert", 4);
  uc_certified_data_set(s);
}

/* An update that sets a pre_upgrade hook running `pre`. */
static void set_pre_upgrade(icxCanister *c, const uc_script *pre) {
  uc_script s;
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_PRE_UPGRADE);
  uc_push_script(&s, pre);
  uc_set_hook(&s);
  uc_reply(&s);
  update(c, &s);
  uc_free(&s);
}

static void assert_outcome_equal(const icxExecOutcome *a, const icxExecOutcome *b) {
  assert_int_equal(a->done, 1);
  assert_int_equal(b->done, 1);
  assert_int_equal(a->trapped, b->trapped);
  assert_int_equal(a->error_code, b->error_code);
  assert_string_equal(a->error, b->error);
  assert_int_equal(a->instructions, b->instructions);
  assert_int_equal(a->cycles_charged.lo, b->cycles_charged.lo);
  assert_int_equal(a->cycles_charged.hi, b->cycles_charged.hi);
}

/* install, then upgrade (pre_upgrade and post_upgrade both loop), then
 * reinstall: sliced (10 M) and unsliced runs end in the same state. */
static void test_install_sliced_equals_unsliced(void **state) {
  (void)state;
  icxCanister *c1 = mk(), *c2 = mk();
  uc_script init, post, pre;
  body_script(&init, 40000000, "init");
  body_script(&post, 30000000, "post");
  body_script(&pre, 20000000, "pre!");
  unsigned n1, n2;
  Snap a, b;
  /* install */
  icxExecOutcome o1 = install_all(c1, 0, ICX_INSTALL_MODE_INSTALL, &init, &n1);
  icxExecOutcome o2 = install_all(c2, SMALL_SLICE, ICX_INSTALL_MODE_INSTALL, &init, &n2);
  if (o1.error_code) fail_msg("install: %s", o1.error);
  assert_int_equal(n1, 1);
  assert_true(n2 >= 3);
  assert_true(o1.instructions > 3 * SMALL_SLICE);
  assert_outcome_equal(&o1, &o2);
  snap(c1, &a);
  snap(c2, &b);
  assert_snap_equal(&a, &b);
  assert_int_equal(a.version, 1);
  icxExecOutcome_free(&w.a, &o1);
  icxExecOutcome_free(&w.a, &o2);
  /* upgrade: pre_upgrade loops too, so the upgrade pauses in both */
  set_pre_upgrade(c1, &pre);
  set_pre_upgrade(c2, &pre);
  o1 = install_all(c1, 0, ICX_INSTALL_MODE_UPGRADE, &post, &n1);
  o2 = install_all(c2, SMALL_SLICE, ICX_INSTALL_MODE_UPGRADE, &post, &n2);
  if (o1.error_code) fail_msg("upgrade: %s", o1.error);
  assert_true(n2 >= 4);
  assert_outcome_equal(&o1, &o2);
  snap(c1, &a);
  snap(c2, &b);
  assert_snap_equal(&a, &b);
  icxExecOutcome_free(&w.a, &o1);
  icxExecOutcome_free(&w.a, &o2);
  /* reinstall (stable memory cleared, init again) */
  o1 = install_all(c1, 0, ICX_INSTALL_MODE_REINSTALL, &init, &n1);
  o2 = install_all(c2, 2000000, ICX_INSTALL_MODE_REINSTALL, &init, &n2);
  assert_true(n2 >= 20);
  assert_outcome_equal(&o1, &o2);
  snap(c1, &a);
  snap(c2, &b);
  assert_snap_equal(&a, &b);
  icxExecOutcome_free(&w.a, &o1);
  icxExecOutcome_free(&w.a, &o2);
  uc_free(&init);
  uc_free(&post);
  uc_free(&pre);
  icxCanister_free(c1);
  icxCanister_free(c2);
}

/* The reference's limits (300 B total, 2 B slices): a post_upgrade of about
 * 5 B instructions takes three slices and equals the unsliced run. */
static void test_install_default_slices(void **state) {
  (void)state;
  icxCanister *c1 = mk(), *c2 = mk();
  uc_script init;
  body_script(&init, 4500000000ull, "big!");
  unsigned n1, n2;
  icxExecOutcome o1 = install_all(c1, 0, ICX_INSTALL_MODE_INSTALL, &init, &n1);
  icxExecOutcome o2 =
      install_all(c2, w.cfg.max_instructions_install_slice, ICX_INSTALL_MODE_INSTALL, &init, &n2);
  if (o1.error_code) fail_msg("install: %s", o1.error);
  assert_true(o1.instructions > 2 * w.cfg.max_instructions_install_slice);
  assert_int_equal(n2, (unsigned)(o1.instructions / w.cfg.max_instructions_install_slice) + 1);
  assert_outcome_equal(&o1, &o2);
  Snap a, b;
  snap(c1, &a);
  snap(c2, &b);
  assert_snap_equal(&a, &b);
  icxExecOutcome_free(&w.a, &o1);
  icxExecOutcome_free(&w.a, &o2);
  uc_free(&init);
  icxCanister_free(c1);
  icxCanister_free(c2);
}

/* A paused install shows the previous canister (only the prepayment is
 * withdrawn); other executions are refused; abort restores it exactly. */
static void test_install_abort_restores(void **state) {
  (void)state;
  icxCanister *c = mk();
  uc_script init;
  body_script(&init, 40000000, "init");
  Snap before, during, after;
  snap(c, &before);
  icxExecEnv env = env_of(SMALL_SLICE);
  icxExecOutcome o = install_start(c, &env, ICX_INSTALL_MODE_INSTALL, &init);
  assert_int_equal(o.done, 0);
  assert_non_null(c->paused);
  assert_null(c->code);
  snap(c, &during);
  assert_memory_equal(before.stable, during.stable, 32);
  assert_memory_equal(before.heap, during.heap, 32);
  assert_int_equal(before.version, during.version);
  assert_true(icxU128_lt(during.balance, before.balance));
  /* nothing else runs meanwhile */
  icxExecOutcome o2;
  icxErr err;
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = ICX_INSTALL_MODE_INSTALL;
  ia.code = w.uc;
  assert_int_equal(icxCanister_install(c, &env, &ia, &o2, &err), ICX_ESTATE);
  assert_int_equal(icxCanister_uninstall(c, &o2, &err), ICX_ESTATE);
  icxMsg back;
  int has = 1;
  icxCanister_abort(c, &back, &has);
  assert_int_equal(has, 0);
  assert_null(c->paused);
  snap(c, &after);
  assert_snap_equal(&before, &after);
  icxExecOutcome_free(&w.a, &o);
  /* the install then runs again from the start, as if never tried */
  icxCanister *ref = mk();
  unsigned n;
  icxExecOutcome r1 = install_all(c, SMALL_SLICE, ICX_INSTALL_MODE_INSTALL, &init, &n);
  icxExecOutcome r2 = install_all(ref, 0, ICX_INSTALL_MODE_INSTALL, &init, &n);
  assert_outcome_equal(&r1, &r2);
  snap(c, &after);
  snap(ref, &before);
  assert_snap_equal(&before, &after);
  icxExecOutcome_free(&w.a, &r1);
  icxExecOutcome_free(&w.a, &r2);
  uc_free(&init);
  icxCanister_free(c);
  icxCanister_free(ref);
}

/* An upgrade paused in post_upgrade, after pre_upgrade wrote the heap and
 * stable memory, and one paused inside pre_upgrade: abort restores the
 * canister exactly; freeing a canister with a paused install leaks nothing. */
static void test_upgrade_abort_after_pre_upgrade(void **state) {
  (void)state;
  icxCanister *c = mk();
  uc_script init, post, pre, quick;
  body_script(&init, 1000, "init");
  body_script(&post, 50000000, "post");
  body_script(&pre, 30000000, "pre!");
  body_script(&quick, 10, "pre!");
  unsigned n;
  icxExecOutcome o = install_all(c, 0, ICX_INSTALL_MODE_INSTALL, &init, &n);
  assert_int_equal(o.error_code, 0);
  icxExecOutcome_free(&w.a, &o);
  for (int variant = 0; variant < 2; variant++) {
    set_pre_upgrade(c, variant == 0 ? &quick : &pre);
    Snap before, after;
    snap(c, &before);
    icxExecEnv env = env_of(SMALL_SLICE);
    o = install_start(c, &env, ICX_INSTALL_MODE_UPGRADE, &post);
    assert_int_equal(o.done, 0);
    icxExecOutcome_free(&w.a, &o);
    if (variant == 1) { /* pre_upgrade done, post_upgrade under way */
      int k = 0;
      while (k++ < 3) {
        icxErr err;
        assert_int_equal(icxCanister_resume(c, &env, &o, &err), ICX_OK);
        assert_int_equal(o.done, 0);
        icxExecOutcome_free(&w.a, &o);
      }
    }
    icxMsg back;
    int has = 1;
    icxCanister_abort(c, &back, &has);
    assert_int_equal(has, 0);
    snap(c, &after);
    assert_snap_equal(&before, &after);
  }
  /* the canister still works, and a paused install is freed with it */
  uc_script s;
  uc_init(&s);
  uc_counter_inc(&s);
  uc_drop(&s);
  uc_reply(&s);
  update(c, &s);
  uc_free(&s);
  icxExecEnv env = env_of(SMALL_SLICE);
  o = install_start(c, &env, ICX_INSTALL_MODE_UPGRADE, &post);
  assert_int_equal(o.done, 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&init);
  uc_free(&post);
  uc_free(&pre);
  uc_free(&quick);
  icxCanister_free(c);
}

/* Over the install limit: the sliced run fails exactly as the unsliced one
 * (IC0522, the same charge) and the canister is unchanged. */
static void test_install_limit_over_slices(void **state) {
  (void)state;
  icxCanister *c1 = mk(), *c2 = mk();
  uc_script init;
  body_script(&init, 100000, "init");
  unsigned n;
  icxExecOutcome o = install_all(c1, 0, ICX_INSTALL_MODE_INSTALL, &init, &n);
  icxExecOutcome_free(&w.a, &o);
  o = install_all(c2, 0, ICX_INSTALL_MODE_INSTALL, &init, &n);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&init);
  body_script(&init, 200000000, "post");
  uint64_t saved = w.cfg.max_instructions_install;
  w.cfg.max_instructions_install = 150000000; /* 150 M, the compile charge included */
  Snap before, a, b;
  snap(c1, &before);
  icxExecOutcome o1 = install_all(c1, 0, ICX_INSTALL_MODE_UPGRADE, &init, &n);
  icxExecOutcome o2 = install_all(c2, 7000000, ICX_INSTALL_MODE_UPGRADE, &init, &n);
  w.cfg.max_instructions_install = saved;
  assert_true(n >= 5);
  assert_int_equal(o1.error_code, 522);
  assert_int_equal(o1.instructions, 150000000);
  assert_outcome_equal(&o1, &o2);
  snap(c1, &a);
  snap(c2, &b);
  assert_snap_equal(&a, &b);
  assert_memory_equal(before.heap, a.heap, 32);
  assert_memory_equal(before.stable, a.stable, 32);
  assert_int_equal(before.version, a.version);
  icxExecOutcome_free(&w.a, &o1);
  icxExecOutcome_free(&w.a, &o2);
  uc_free(&init);
  icxCanister_free(c1);
  icxCanister_free(c2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_install_sliced_equals_unsliced),
      cmocka_unit_test(test_install_default_slices),
      cmocka_unit_test(test_install_abort_restores),
      cmocka_unit_test(test_upgrade_abort_after_pre_upgrade),
      cmocka_unit_test(test_install_limit_over_slices),
  };
  return cmocka_run_group_tests_name("unit_install", tests, group_setup, group_teardown);
}
