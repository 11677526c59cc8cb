/* unit_charge.c -- periodic resource charging (icxState_charge_resources,
 * reference 6.5, 7.3, 7.4): exact amounts at 13 nodes for memory (max of
 * allocation and usage), the base fee and compute allocation, the 10 s
 * gate, the reserved balance spent first, canisters with a paused
 * execution skipped, a canister that runs dry deallocated, and cycles
 * conservation (total + burned == minted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "principal.h"
#include "state.h"
#include "uc.h"

#define T0 1700000000000000000ull
#define SEC 1000000000ull
#define GIB (1ull << 30)

static icxCode *load_uc(const icxState *st) {
  char path[512];
  snprintf(path, sizeof path, "%s/uc.wasm", ICX_TEST_CANISTER_DIR);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (run make canisters)", path);
  static uint8_t buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  icxCode *c = NULL;
  icxErr err;
  if (icxCode_new(&st->alloc, &st->cfg, buf, n, &c, &err) != ICX_OK) fail_msg("%s", err.msg);
  return c;
}

static icxState *new_state(void) {
  icxAllocator a = icxCore_default_allocator();
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  icxState *st;
  icxErr err;
  assert_int_equal(icxState_new(&a, &cfg, NULL, &st, &err), ICX_OK);
  st->time_ns = T0;
  return st;
}

static icxCanister *add(icxState *st, uint64_t idx, uint64_t cycles, uint64_t reserved) {
  icx_principal id = icxPrincipal_canister(idx), ctl = icxPrincipal_anonymous();
  icxCanister *c;
  icxErr err;
  assert_int_equal(
      icxState_create_canister(st, &id, &ctl, NULL, icxU128_from_u64(cycles), &c, &err), ICX_OK);
  c->reserved = icxU128_from_u64(reserved);
  st->minted = icxU128_add_sat(st->minted, icxU128_from_u64(cycles + reserved));
  return c;
}

static void install_uc(icxState *st, icxCanister *c, icxCode *code, uint64_t slice,
                       icxExecOutcome *out) {
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = ICX_INSTALL_MODE_INSTALL;
  ia.code = code;
  icxExecEnv env;
  memset(&env, 0, sizeof env);
  env.cfg = &st->cfg;
  env.time_ns = st->time_ns;
  env.slice = slice;
  icxErr err;
  uc_script s;
  uc_init(&s);
  uc_push_int(&s, 30000000);
  uc_burn(&s);
  ia.arg = s.p;
  ia.arg_len = s.len;
  assert_int_equal(icxCanister_install(c, &env, &ia, out, &err), ICX_OK);
  uc_free(&s);
  /* the install's fee is burned */
  if (out->done) st->burned = icxU128_add_sat(st->burned, out->cycles_charged);
}

static void charge(icxState *st, uint64_t now, uint32_t want_charged, uint32_t want_dry) {
  uint32_t ch = 99, un = 99;
  icxErr err;
  assert_int_equal(icxState_charge_resources(st, now, &ch, &un, &err), ICX_OK);
  assert_int_equal(ch, want_charged);
  assert_int_equal(un, want_dry);
}

static void assert_conserved(const icxState *st) {
  icxU128 total = icxU128_add_sat(icxState_cycles_total(st), st->burned);
  assert_int_equal(total.lo, st->minted.lo);
  assert_int_equal(total.hi, st->minted.hi);
}

static void assert_u128(icxU128 v, uint64_t want) {
  assert_int_equal(v.hi, 0);
  assert_int_equal(v.lo, want);
}

/* Memory 1 GiB allocated (usage 0), compute 5 %, 13 nodes:
 * 10 s = 1 GiB x 317,500 x 10 / 2^30 + 10,000 x 10 + 10,000,000 x 10 x 5
 *      = 3,175,000 + 100,000 + 500,000,000 = 503,275,000 (reserved first);
 * an installed canister pays for its usage; an empty one without
 * allocation pays nothing; nothing happens within 10 s of the last charge. */
static void test_charge_exact_amounts_13_nodes(void **state) {
  (void)state;
  icxState *st = new_state();
  assert_int_equal(st->cfg.subnet_size, 13);
  icxCode *code = load_uc(st);
  icxCanister *a = add(st, 1, 10000000000ull, 100000000ull);
  a->settings.memory_allocation = icxU128_from_u64(GIB);
  a->settings.compute_allocation = icxU128_from_u64(5);
  icxCanister *b = add(st, 2, 7777, 0);
  icxCanister *c = add(st, 3, 50000000000000ull, 0);
  icxExecOutcome o;
  install_uc(st, c, code, 0, &o);
  assert_int_equal(o.error_code, 0);
  icxExecOutcome_free(&st->alloc, &o);
  icxU128 c0 = c->balance;
  uint64_t usage = icxCanister_memory_usage(c);
  assert_true(usage > 0);
  assert_conserved(st);

  charge(st, T0 + 10 * SEC, 3, 0);
  assert_u128(a->reserved, 0);
  assert_u128(a->balance, 10000000000ull - (503275000ull - 100000000ull));
  assert_u128(b->balance, 7777);
  uint64_t c10 = usage * 317500ull * 10 / GIB + 100000;
  assert_u128(c->balance, c0.lo - c10);
  assert_int_equal(a->last_charge_ns, T0 + 10 * SEC);
  assert_conserved(st);

  /* within 10 s of the last charge: nothing */
  uint8_t h1[32], h2[32];
  icxErr err;
  assert_int_equal(icxState_hash(st, h1, &err), ICX_OK);
  charge(st, T0 + 19 * SEC, 0, 0);
  assert_int_equal(icxState_hash(st, h2, &err), ICX_OK);
  assert_memory_equal(h1, h2, 32);

  /* 15.7 s later: whole seconds since the canister's last charge (15) */
  charge(st, T0 + 25 * SEC + 700000000ull, 3, 0);
  uint64_t a15 = 4762500ull + 150000ull + 750000000ull;
  assert_u128(a->balance, 10000000000ull - 403275000ull - a15);
  uint64_t c15 = usage * 317500ull * 15 / GIB + 150000;
  assert_u128(c->balance, c0.lo - c10 - c15);
  assert_conserved(st);
  icxCode_unref(code);
  icxState_free(st);
}

/* Other subnet sizes scale each part: 34 nodes, 1 GiB, 10 s, 2 %. */
static void test_charge_scaled_34_nodes(void **state) {
  (void)state;
  icxState *st = new_state();
  st->cfg.subnet_size = 34;
  icxCanister *a = add(st, 1, 10000000000ull, 0);
  a->settings.memory_allocation = icxU128_from_u64(GIB);
  a->settings.compute_allocation = icxU128_from_u64(2);
  charge(st, T0 + 10 * SEC, 1, 0);
  /* 3,175,000*34/13 = 8,303,846; 100,000*34/13 = 261,538; 200,000,000*34/13 = 523,076,923 */
  assert_u128(a->balance, 10000000000ull - 8303846ull - 261538ull - 523076923ull);
  assert_conserved(st);
  icxState_free(st);
}

/* A canister with a paused (sliced) install is not charged, and its charge
 * time stays; the next charge after the install covers the whole time. */
static void test_charge_skips_paused(void **state) {
  (void)state;
  icxState *st = new_state();
  icxCode *code = load_uc(st);
  icxCanister *c = add(st, 1, 50000000000000ull, 0);
  c->settings.memory_allocation = icxU128_from_u64(GIB);
  icxExecOutcome o;
  install_uc(st, c, code, 5000000, &o);
  assert_int_equal(o.done, 0);
  icxExecOutcome_free(&st->alloc, &o);
  icxU128 before = c->balance;
  charge(st, T0 + 10 * SEC, 0, 0);
  assert_true(icxU128_eq(before, c->balance));
  assert_int_equal(c->last_charge_ns, T0);
  icxMsg m;
  int has;
  icxCanister_abort(c, &m, &has);
  charge(st, T0 + 20 * SEC, 1, 0);
  /* 20 s of 1 GiB: 6,350,000 + 200,000 */
  assert_u128(c->balance, 50000000000000ull - 6550000ull);
  assert_conserved(st);
  icxCode_unref(code);
  icxState_free(st);
}

/* A canister that cannot pay is deallocated: uninstalled (its open ingress
 * call is rejected), allocations reset, what is left burned. */
static void test_charge_run_dry_uninstalls(void **state) {
  (void)state;
  icxState *st = new_state();
  icxCode *code = load_uc(st);
  icxCanister *c = add(st, 1, 100000000000000ull, 3000000ull);
  icxCanister *rich = add(st, 2, 1000000000000ull, 0);
  icxExecOutcome o;
  install_uc(st, c, code, 0, &o);
  assert_int_equal(o.error_code, 0);
  icxExecOutcome_free(&st->alloc, &o);
  /* an ingress call that stays open: it calls a canister of another subnet */
  uc_script s;
  uc_init(&s);
  icx_principal far = icxPrincipal_canister(1ull << 40);
  uint8_t callee[64] = {0};
  memcpy(callee, far.bytes, far.len);
  uc_call_begin(&s, callee, far.len, "m", NULL, NULL, NULL);
  uc_call_perform(&s);
  uc_drop(&s);
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = icxPrincipal_anonymous();
  m.dst = c->id;
  m.method = (char *)"update";
  m.method_len = 6;
  m.data = s.p;
  m.len = s.len;
  m.msg_id[0] = 0x42;
  icxExecEnv env;
  memset(&env, 0, sizeof env);
  env.cfg = &st->cfg;
  env.time_ns = T0;
  icxErr err;
  assert_int_equal(icxCanister_execute(c, &env, ICX_EXEC_UPDATE, &m, &o, &err), ICX_OK);
  assert_int_equal(o.trapped, 0);
  assert_int_equal(o.nout, 1);
  uc_free(&s);
  assert_int_equal(icxState_route(st, o.out, o.nout, &err), ICX_OK);
  o.nout = 0;
  icxExecOutcome_free(&st->alloc, &o);
  /* the update's execution fee and the call's transmission fee are spent
   * (not this test's subject): count them as burned */
  icxU128 gap =
      icxU128_sub_sat(st->minted, icxU128_add_sat(icxState_cycles_total(st), st->burned));
  st->burned = icxU128_add_sat(st->burned, gap);
  assert_conserved(st);
  /* leave it almost nothing and a compute allocation it cannot pay */
  icxU128 left = icxU128_from_u64(1000000ull);
  st->burned = icxU128_add_sat(st->burned, icxU128_sub_sat(c->balance, left));
  c->balance = left;
  c->settings.compute_allocation = icxU128_from_u64(50);
  c->settings.memory_allocation = icxU128_from_u64(GIB);
  uint64_t version = c->version;
  icxU128 burned0 = st->burned, rich0 = rich->balance;
  charge(st, T0 + 10 * SEC, 1, 1);
  assert_null(c->code);
  assert_u128(c->balance, 0);
  assert_u128(c->reserved, 0);
  assert_u128(c->settings.compute_allocation, 0);
  assert_u128(c->settings.memory_allocation, 0);
  assert_int_equal(c->version, version + 1);
  /* everything it had is burned; the other canister paid its own share */
  uint64_t rich_fee = rich0.lo - rich->balance.lo;
  assert_u128(icxU128_sub_sat(st->burned, burned0), 1000000ull + 3000000ull + rich_fee);
  assert_int_equal(st->ingress.n, 1);
  assert_int_equal(st->ingress.v[0].reject_code, ICX_REJECT_CANISTER_REJECT);
  assert_int_equal(st->ingress.v[0].msg_id[0], 0x42);
  assert_int_equal(c->nctxs, 1); /* kept (deleted) until its callback's response */
  assert_true(c->ctxs[0].deleted);
  assert_conserved(st);
  /* an empty canister with nothing to pay for is not dried up again */
  charge(st, T0 + 20 * SEC, 2, 0);
  assert_int_equal(c->version, version + 1);
  assert_conserved(st);
  icxCode_unref(code);
  icxState_free(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_charge_exact_amounts_13_nodes),
      cmocka_unit_test(test_charge_scaled_34_nodes),
      cmocka_unit_test(test_charge_skips_paused),
      cmocka_unit_test(test_charge_run_dry_uninstalls),
  };
  return cmocka_run_group_tests_name("unit_charge", tests, NULL, NULL);
}
