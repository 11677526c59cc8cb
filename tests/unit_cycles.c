/* unit_cycles.c -- white-box tests of lib/cycles.c: 128-bit arithmetic and
 * every fee formula of section 7 of the IC reference.  Expected numbers were
 * worked out by hand and checked with Python big integers (the expressions
 * are given next to each number). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cycles.h"

static icxU128 u(uint64_t v) { return icxU128_from_u64(v); }

/* Compare an amount with a decimal string. */
static void assert_dec(icxU128 v, const char *want) {
  char buf[ICX_U128_DEC_MAX];
  size_t n = icxU128_to_dec(v, buf, sizeof buf);
  assert_int_equal(n, strlen(want));
  assert_string_equal(buf, want);
}

static icxFeeConfig app(void) {
  icxFeeConfig c;
  icxFees_application_subnet(&c);
  return c;
}

/* ---- 128-bit arithmetic ------------------------------------------------------- */

static void test_u128_add_sub_saturate(void **state) {
  (void)state;
  icxU128 max = icxU128_max_value();
  int of = 0;
  icxU128 r = icxU128_add(icxU128_make(0, UINT64_MAX), u(1), &of);
  assert_int_equal(of, 0);
  assert_true(icxU128_eq(r, icxU128_make(1, 0)));
  r = icxU128_add(max, u(1), &of);
  assert_int_equal(of, 1);
  assert_true(icxU128_is_zero(r));
  assert_true(icxU128_eq(icxU128_add_sat(max, u(5)), max));
  assert_true(icxU128_eq(icxU128_sub_sat(u(3), u(5)), u(0)));
  r = icxU128_sub(icxU128_make(1, 0), u(1), &of);
  assert_int_equal(of, 0);
  assert_true(icxU128_eq(r, icxU128_make(0, UINT64_MAX)));
  r = icxU128_sub(u(0), u(1), &of);
  assert_int_equal(of, 1);
  assert_true(icxU128_eq(r, max));
  assert_int_equal(icxU128_cmp(icxU128_make(1, 0), icxU128_make(0, UINT64_MAX)), 1);
  assert_int_equal(icxU128_cmp(u(7), u(7)), 0);
  assert_int_equal(icxU128_cmp(u(6), u(7)), -1);
  assert_true(icxU128_eq(icxU128_min(u(6), u(7)), u(6)));
  assert_true(icxU128_eq(icxU128_max(u(6), u(7)), u(7)));
  assert_int_equal(icxU128_to_u64_sat(icxU128_make(1, 0)), UINT64_MAX);
}

static void test_u128_mul_div(void **state) {
  (void)state;
  /* (2^64 - 1)^2 = 2^128 - 2^65 + 1 */
  icxU128 r = icxU128_mul_sat(u(UINT64_MAX), u(UINT64_MAX));
  assert_true(icxU128_eq(r, icxU128_make(UINT64_MAX - 1, 1)));
  /* 12345678901234567890123456789 * 987654321987654321 > 2^128: saturates */
  icxU128 a;
  assert_int_equal(icxU128_from_dec("12345678901234567890123456789", 29, &a, NULL), ICX_OK);
  assert_true(icxU128_eq(icxU128_mul_u64_sat(a, 987654321987654321ull), icxU128_max_value()));
  assert_true(icxU128_eq(icxU128_mul_sat(icxU128_make(1, 0), icxU128_make(1, 0)),
                         icxU128_max_value()));
  assert_true(icxU128_is_zero(icxU128_mul_sat(icxU128_max_value(), u(0))));
  /* (2^128 - 1) / 13 = 26175566686226035651028815956289862419 rem 8 */
  uint64_t rem;
  r = icxU128_div_u64(icxU128_max_value(), 13, &rem);
  assert_dec(r, "26175566686226035651028815956289862419");
  assert_int_equal(rem, 8);
  /* 12345678901234567890123456789012345678 / 86400 */
  assert_int_equal(icxU128_from_dec("12345678901234567890123456789012345678", 38, &a, NULL), ICX_OK);
  r = icxU128_div_u64(a, 86400, &rem);
  assert_dec(r, "142889802097622313543095564687642");
  assert_int_equal(rem, 76878);
  /* a divisor with the top bit set exercises the 65-bit intermediate */
  r = icxU128_div_u64(icxU128_make(UINT64_MAX, 0), 0x8000000000000001ull, &rem);
  /* (2^128 - 2^64) / (2^63 + 1) = 2^65 - 6 rem 2^63 + 6 ... checked by multiplying back */
  icxU128 back = icxU128_add_sat(icxU128_mul_u64_sat(r, 0x8000000000000001ull), u(rem));
  assert_true(icxU128_eq(back, icxU128_make(UINT64_MAX, 0)));
  assert_true(rem < 0x8000000000000001ull);
  r = icxU128_div_u64(u(5), 0, &rem); /* never traps */
  assert_true(icxU128_is_zero(r));
  r = icxU128_div_u64_portable(u(5), 0, &rem);
  assert_true(icxU128_is_zero(r));
  /* the portable loop and the compiler's division agree on random operands */
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 20000; i++) {
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    uint64_t hi = s;
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    uint64_t lo = s;
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    uint64_t d = i % 3 == 0 ? (s >> (s % 64)) | 1 : s;
    if (d == 0) d = 1;
    uint64_t r1, r2;
    icxU128 q1 = icxU128_div_u64(icxU128_make(hi, lo), d, &r1);
    icxU128 q2 = icxU128_div_u64_portable(icxU128_make(hi, lo), d, &r2);
    assert_true(icxU128_eq(q1, q2));
    assert_int_equal(r1, r2);
  }
}

static void test_u128_decimal(void **state) {
  (void)state;
  assert_dec(u(0), "0");
  assert_dec(icxU128_max_value(), "340282366920938463463374607431768211455");
  icxU128 v;
  icxErr err;
  assert_int_equal(icxU128_from_dec("340282366920938463463374607431768211455", 39, &v, &err), ICX_OK);
  assert_true(icxU128_eq(v, icxU128_max_value()));
  assert_int_equal(icxU128_from_dec("340282366920938463463374607431768211456", 39, &v, &err),
                   ICX_EINVAL);
  assert_non_null(strstr(err.msg, "2^128"));
  assert_int_equal(icxU128_from_dec("3402823669209384634633746074317682114550", 40, &v, &err),
                   ICX_EINVAL);
  assert_int_equal(icxU128_from_dec("", 0, &v, &err), ICX_EINVAL);
  assert_int_equal(icxU128_from_dec("12a", 3, &v, &err), ICX_EINVAL);
  assert_int_equal(icxU128_from_dec("-1", 2, &v, &err), ICX_EINVAL);
  assert_int_equal(icxU128_from_dec("1 ", 2, &v, &err), ICX_EINVAL);
  assert_int_equal(icxU128_from_dec("000042", 6, &v, &err), ICX_OK);
  assert_true(icxU128_eq(v, u(42)));
  assert_int_equal(icxU128_from_dec("18446744073709551616", 20, &v, &err), ICX_OK);
  assert_true(icxU128_eq(v, icxU128_make(1, 0)));
  /* too small a buffer: "" and the length */
  char small[4] = "xyz";
  assert_int_equal(icxU128_to_dec(u(12345), small, sizeof small), 5);
  assert_string_equal(small, "");
  assert_int_equal(icxU128_to_dec(u(12345), NULL, 0), 5);
}

/* ---- fee formulas ----------------------------------------------------------- */

static void test_fee_tables(void **state) {
  (void)state;
  icxFeeConfig c = app(), s;
  icxFees_system_subnet(&s);
  assert_dec(c.update_message_execution_fee, "5000000");
  assert_dec(c.canister_creation_fee, "500000000000");
  assert_int_equal(c.reference_subnet_size, 13);
  assert_true(icxU128_is_zero(s.update_message_execution_fee));
  assert_true(icxU128_is_zero(s.gib_storage_per_second_fee));
  assert_dec(s.ecdsa_signature_fee, "10000000000");
  /* system subnets charge nothing for execution */
  assert_true(icxU128_is_zero(icxCycles_execution_cost(&s, 28, 1000000, ICX_WASM32)));
  assert_true(icxU128_is_zero(icxCycles_cost_call(&s, 28, 100, ICX_WASM32)));
}

static void test_scale(void **state) {
  (void)state;
  icxFeeConfig c = app();
  assert_dec(icxCycles_scale(&c, u(13), 13), "13");
  assert_dec(icxCycles_scale(&c, u(100), 34), "261"); /* 3400 / 13 = 261.5 */
  assert_dec(icxCycles_scale(&c, u(100), 1), "7");    /* 100 / 13 */
  c.reference_subnet_size = 0;                        /* treated as 1 */
  assert_dec(icxCycles_scale(&c, u(100), 2), "200");
}

static void test_execution_cost_and_refund(void **state) {
  (void)state;
  icxFeeConfig c = app();
  /* 13 nodes: 5,000,000 + N (wasm32), 5,000,000 + 2N (wasm64) (checklist 43) */
  assert_dec(icxCycles_execution_cost(&c, 13, 1000, ICX_WASM32), "5001000");
  assert_dec(icxCycles_execution_cost(&c, 13, 1000, ICX_WASM64), "5002000");
  assert_dec(icxCycles_execution_cost(&c, 13, 0, ICX_WASM32), "5000000");
  /* 34 nodes: (5,000,000 + 1,000) * 34 / 13 = 13,079,538 */
  assert_dec(icxCycles_execution_cost(&c, 34, 1000, ICX_WASM32), "13079538");
  /* prepay for 40 B instructions at 13 nodes */
  icxU128 pre = icxCycles_execution_cost(&c, 13, 40000000000ull, ICX_WASM32);
  assert_dec(pre, "40005000000");
  /* refund of unused instructions, fixed fee kept */
  assert_dec(icxCycles_execution_refund(&c, 13, 39999999000ull, ICX_WASM32, pre), "39999999000");
  /* 34 nodes: 777 * 10 / 10 * 34 / 13 = 2032 */
  assert_dec(icxCycles_execution_refund(&c, 34, 777, ICX_WASM32, u(1000000)), "2032");
  /* never more than prepaid */
  assert_dec(icxCycles_execution_refund(&c, 13, 1000, ICX_WASM32, u(10)), "10");
  /* the old 0.4/instruction fee: 4 * 25 / 10 = 10 */
  c.ten_update_instructions_execution_fee = u(4);
  assert_dec(icxCycles_instructions_to_cycles(&c, 25, ICX_WASM32), "10");
  assert_dec(icxCycles_instructions_to_cycles(&c, 3, ICX_WASM32), "1"); /* 12/10 */
  c = app();
  assert_dec(icxCycles_instructions_to_cycles(&c, UINT64_MAX, ICX_WASM64), "36893488147419103230");
  /* management instructions: no fixed fee, wasm32 rate: 123456789 * 34 / 13 */
  assert_dec(icxCycles_management_cost(&c, 34, 123456789), "322886986");
}

static void test_ingress_induction(void **state) {
  (void)state;
  icxFeeConfig c = app();
  /* 13 nodes: 1,200,000 + 2,000 * bytes */
  assert_dec(icxCycles_ingress_induction_cost(&c, 13, 0), "1200000");
  assert_dec(icxCycles_ingress_induction_cost(&c, 13, 500), "2200000");
  /* 34 nodes, 1000 bytes: scale(1.2 M) + scale(2000) * 1000 = 3,138,461 + 5,230 * 1000
   * (not scale(1.2 M + 2 M) = 8,369,230: the parts are scaled separately, CAM) */
  assert_dec(icxCycles_ingress_induction_cost(&c, 34, 1000), "8368461");
}

static void test_call_costs(void **state) {
  (void)state;
  icxFeeConfig c = app();
  /* 13 nodes, 100 request bytes: 260 K + 1 K * 100 + 1 K * 2 MiB + 40.005 B (checklist 44,
   * "~ 260 K + 1 K * req + 2.097 B + 40.005 B") */
  assert_dec(icxCycles_call_transmission_cost(&c, 13, 100), "2097512000");
  assert_dec(icxCycles_response_execution_prepay(&c, 13, ICX_WASM32), "40005000000");
  assert_dec(icxCycles_cost_call(&c, 13, 100, ICX_WASM32), "42102512000");
  /* 34 nodes: each part scaled: 680,000 + 261,538 + 5,484,859,076 + 104,628,461,538 */
  assert_dec(icxCycles_cost_call(&c, 34, 100, ICX_WASM32), "110114262152");
  /* wasm64 callers prepay 80 B instructions for the response */
  assert_dec(icxCycles_response_execution_prepay(&c, 13, ICX_WASM64), "80005000000");
  /* response of 1,000 bytes refunds 1,000 * (2 MiB - 1,000) at 13 nodes */
  icxU128 pre = u(2097152000ull);
  assert_dec(icxCycles_response_transmission_refund(&c, 13, 1000, pre), "2096152000");
  assert_dec(icxCycles_response_transmission_refund(&c, 13, 3000000, pre), "0");
  /* a response that is never executed keeps only the fixed fee */
  assert_dec(icxCycles_unexecuted_response_refund(&c, 13, u(40005000000ull)), "40000000000");
  assert_dec(icxCycles_unexecuted_response_refund(&c, 13, u(10)), "0");
}

static void test_storage_compute_creation_http(void **state) {
  (void)state;
  icxFeeConfig c = app();
  /* 1 GiB for one second = the GiB fee; for a day 317,500 * 86,400 */
  assert_dec(icxCycles_memory_cost(&c, 13, ICX_GIB, 1), "317500");
  assert_dec(icxCycles_memory_cost(&c, 13, ICX_GIB, 86400), "27432000000");
  /* 1 byte for 1 s rounds down to 0 */
  assert_dec(icxCycles_memory_cost(&c, 13, 1, 1), "0");
  assert_dec(icxCycles_base_cost(&c, 13, 0, 86400), "0");
  assert_dec(icxCycles_base_cost(&c, 13, 1, 86400), "864000000");
  /* compute allocation 5 % for 10 s on 28 nodes: 500,000,000 * 28 / 13 */
  assert_dec(icxCycles_compute_allocation_cost(&c, 28, 5, 10), "1076923076");
  assert_dec(icxCycles_canister_creation_fee(&c, 13), "500000000000");
  assert_dec(icxCycles_canister_creation_fee(&c, 34), "1307692307692");
  /* HTTP outcall v1, 13 nodes, 100 request bytes, default 2,000,000 response bytes:
   * (3,000,000 + 60,000 * 13 + 400 * 100 + 800 * 2,000,000) * 13 */
  assert_dec(icxCycles_http_request_fee(&c, 13, 100, 0, 0), "20849660000");
  /* 34 nodes, 1234 request bytes, max_response_bytes 1000 */
  assert_dec(icxCycles_http_request_fee(&c, 34, 1234, 1, 1000), "215342400");
  /* the older storage fee 127,000 */
  c.gib_storage_per_second_fee = u(127000);
  assert_dec(icxCycles_memory_cost(&c, 13, ICX_GIB, 1), "127000");
}

static void test_freezing_threshold_and_withdraw(void **state) {
  (void)state;
  icxFeeConfig c = app();
  icxResourceUse use = {0, ICX_GIB, 0, 0};
  /* 1 GiB, 13 nodes: 27,432,000,000 + 864,000,000 base = 28,296,000,000 per day; 30 days */
  assert_dec(icxCycles_idle_burn_rate(&c, 13, &use), "28296000000");
  icxU128 thr = icxCycles_freeze_threshold(&c, 13, &use, ICX_DEFAULT_FREEZING_THRESHOLD_S, u(0));
  assert_dec(thr, "848880000000");
  /* the reserved balance lowers it, saturating at 0 */
  assert_dec(icxCycles_freeze_threshold(&c, 13, &use, ICX_DEFAULT_FREEZING_THRESHOLD_S,
                                        u(848000000000ull)),
             "880000000");
  assert_dec(icxCycles_freeze_threshold(&c, 13, &use, ICX_DEFAULT_FREEZING_THRESHOLD_S,
                                        u(900000000000ull)),
             "0");
  /* 34 nodes: allocation 1.5 GiB (above usage), 12,345,678 message bytes, 7 % compute,
   * threshold 1,000,000 s */
  icxResourceUse u2 = {3 * (uint64_t)ICX_GIB / 2, 1000, 12345678, 7};
  assert_dec(icxCycles_idle_burn_rate(&c, 34, &u2), "15928548605238");
  assert_dec(icxCycles_freeze_threshold(&c, 34, &u2, 1000000, u(0)), "184358201449513");
  /* an empty canister has no base fee and no threshold */
  icxResourceUse none = {0, 0, 0, 0};
  assert_dec(icxCycles_freeze_threshold(&c, 13, &none, 2592000, u(0)), "0");

  /* withdrawal check: balance - threshold >= amount */
  icxU128 bal = u(1000);
  assert_dec(icxCycles_liquid(bal, u(300)), "700");
  assert_dec(icxCycles_liquid(bal, u(3000)), "0");
  assert_true(icxCycles_can_withdraw(bal, u(300), u(700)));
  assert_false(icxCycles_can_withdraw(bal, u(300), u(701)));
  assert_true(icxCycles_can_withdraw(bal, u(3000), u(0)));
  assert_false(icxCycles_withdraw(&bal, u(300), u(701)));
  assert_dec(bal, "1000");
  assert_true(icxCycles_withdraw(&bal, u(300), u(700)));
  assert_dec(bal, "300");
  /* resource charges spend the reserved balance first, may reach 0 */
  icxU128 main = u(100), res = u(30);
  assert_true(icxCycles_charge_resource(&main, &res, u(20)));
  assert_dec(main, "100");
  assert_dec(res, "10");
  assert_true(icxCycles_charge_resource(&main, &res, u(50)));
  assert_dec(main, "60");
  assert_dec(res, "0");
  assert_false(icxCycles_charge_resource(&main, &res, u(61)));
  assert_dec(main, "60");
  assert_true(icxCycles_charge_resource(&main, &res, u(60)));
  assert_dec(main, "0");
}

static void test_storage_reservation(void **state) {
  (void)state;
  icxFeeConfig c = app();
  /* T = 100 GiB, C = 1100 GiB, usage 600 GiB, +100 GiB at 13 nodes:
   * R(u) = memory_cost(u - T, floor(300,000,000 * (u - T) / (C - T) / 2)) */
  uint64_t g = ICX_GIB;
  icxStorageSaturation s = {600 * g, 100 * g, 1100 * g};
  assert_dec(icxCycles_storage_reservation(&c, 13, &s, 100 * g), "5238750000000000");
  icxStorageSaturation small = {600, 100, 1100};
  assert_dec(icxCycles_storage_reservation(&c, 13, &small, 100), "4878966");
  /* below the threshold nothing is reserved */
  icxStorageSaturation low = {10 * g, 100 * g, 1100 * g};
  assert_dec(icxCycles_storage_reservation(&c, 13, &low, g), "0");
  icxStorageSaturation bad = {10, 100, 50};
  assert_dec(icxCycles_storage_reservation(&c, 13, &bad, 1000), "0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_u128_add_sub_saturate),
      cmocka_unit_test(test_u128_mul_div),
      cmocka_unit_test(test_u128_decimal),
      cmocka_unit_test(test_fee_tables),
      cmocka_unit_test(test_scale),
      cmocka_unit_test(test_execution_cost_and_refund),
      cmocka_unit_test(test_ingress_induction),
      cmocka_unit_test(test_call_costs),
      cmocka_unit_test(test_storage_compute_creation_http),
      cmocka_unit_test(test_freezing_threshold_and_withdraw),
      cmocka_unit_test(test_storage_reservation),
  };
  return cmocka_run_group_tests_name("unit_cycles", tests, NULL, NULL);
}
