/* api_principal.c -- black-box tests of the "principals" section of
 * include/icexec.h (public header only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "icexec.h"

static void test_principal_constants(void **state) {
  (void)state;
  assert_int_equal(icx_principal_max_bytes(), ICX_PRINCIPAL_MAX_BYTES);
  assert_int_equal(icx_principal_text_max(), ICX_PRINCIPAL_TEXT_MAX);
  assert_int_equal(ICX_PRINCIPAL_MAX_BYTES, 29);
  assert_int_equal(ICX_PRINCIPAL_TEXT_MAX, 63);
  assert_int_equal(sizeof(icx_principal), 30);
}

static void test_principal_well_known_texts(void **state) {
  (void)state;
  icx_principal p;
  char buf[ICX_PRINCIPAL_TEXT_MAX + 1];
  assert_int_equal(icx_principal_management(&p), ICX_OK);
  assert_int_equal(p.len, 0);
  assert_int_equal(icx_principal_to_text(&p, buf, sizeof buf), 9);
  assert_string_equal(buf, "aaaaa-aa");
  assert_int_equal(icx_principal_anonymous(&p), ICX_OK);
  assert_int_equal(icx_principal_to_text(&p, buf, sizeof buf), 10);
  assert_string_equal(buf, "2vxsx-fae");
  assert_int_equal(icx_principal_from_canister_index(0, &p), ICX_OK);
  assert_int_equal(icx_principal_to_text(&p, buf, sizeof buf), 28);
  assert_string_equal(buf, "rwlgt-iiaaa-aaaaa-aaaaa-cai");
  assert_int_equal(icx_principal_from_canister_index(1, &p), ICX_OK);
  icx_principal_to_text(&p, buf, sizeof buf);
  assert_string_equal(buf, "rrkah-fqaaa-aaaaa-aaaaq-cai");
}

static void test_principal_text_roundtrip_and_index(void **state) {
  (void)state;
  icx_principal p, q;
  const char *t = "ryjl3-tyaaa-aaaaa-aaaba-cai";
  assert_int_equal(icx_principal_from_text(t, strlen(t), &p), ICX_OK);
  uint64_t idx = 99;
  assert_int_equal(icx_principal_canister_index(&p, &idx), ICX_OK);
  assert_int_equal(idx, 2);
  assert_int_equal(icx_principal_from_canister_index(2, &q), ICX_OK);
  assert_int_equal(icx_principal_compare(&p, &q), 0);
  assert_int_equal(icx_principal_anonymous(&q), ICX_OK);
  assert_int_equal(icx_principal_canister_index(&q, &idx), ICX_EINVAL);
  assert_int_equal(idx, 0);
  static const uint8_t b[3] = {1, 2, 3};
  assert_int_equal(icx_principal_from_bytes(b, 3, &p), ICX_OK);
  assert_int_equal(p.len, 3);
  assert_memory_equal(p.bytes, b, 3);
  char buf[64];
  size_t need = icx_principal_to_text(&p, NULL, 0);
  assert_true(need > 1 && need <= sizeof buf);
  assert_int_equal(icx_principal_to_text(&p, buf, need), need);
  assert_int_equal(strlen(buf), need - 1);
  assert_int_equal(icx_principal_from_text(buf, need - 1, &q), ICX_OK);
  assert_int_equal(icx_principal_compare(&p, &q), 0);
}

static void test_principal_errors(void **state) {
  (void)state;
  icx_principal p;
  uint8_t big[30] = {0};
  assert_int_equal(icx_principal_from_bytes(big, 30, &p), ICX_EINVAL);
  assert_int_equal(icx_principal_from_bytes(NULL, 1, &p), ICX_EINVAL);
  assert_int_equal(icx_principal_from_bytes(big, 1, NULL), ICX_EINVAL);
  assert_int_equal(icx_principal_from_text("aaaaa-aA", 8, &p), ICX_EINVAL);
  assert_int_equal(p.len, 0);
  assert_int_equal(icx_principal_from_text("5h74t-uga73-7nadi", 17, &p), ICX_EINVAL);
  assert_int_equal(icx_principal_from_text(NULL, 1, &p), ICX_EINVAL);
  assert_int_equal(icx_principal_from_text("aaaaa-aa", 8, NULL), ICX_EINVAL);
  assert_int_equal(icx_principal_management(NULL), ICX_EINVAL);
  assert_int_equal(icx_principal_anonymous(NULL), ICX_EINVAL);
  assert_int_equal(icx_principal_from_canister_index(1, NULL), ICX_EINVAL);
  assert_int_equal(icx_principal_canister_index(NULL, NULL), ICX_EINVAL);
  assert_int_equal(icx_principal_self_authenticating(NULL, 5, &p), ICX_EINVAL);
  assert_int_equal(icx_principal_self_authenticating(big, 5, NULL), ICX_EINVAL);
  char buf[8] = "xxxxxxx";
  assert_int_equal(icx_principal_to_text(NULL, buf, sizeof buf), 0);
  assert_string_equal(buf, "");
  p.len = 200;
  assert_int_equal(icx_principal_to_text(&p, buf, sizeof buf), 0);
  /* buffer too small: required size returned, "" written */
  assert_int_equal(icx_principal_from_canister_index(0, &p), ICX_OK);
  memcpy(buf, "xxxxxxx", 8);
  assert_int_equal(icx_principal_to_text(&p, buf, sizeof buf), 28);
  assert_string_equal(buf, "");
}

static void test_principal_self_authenticating_and_order(void **state) {
  (void)state;
  uint8_t der[44] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  for (int i = 0; i < 32; i++) der[12 + i] = (uint8_t)i;
  icx_principal p, q;
  assert_int_equal(icx_principal_self_authenticating(der, sizeof der, &p), ICX_OK);
  assert_int_equal(p.len, 29);
  assert_int_equal(p.bytes[28], 0x02);
  char buf[ICX_PRINCIPAL_TEXT_MAX + 1];
  assert_int_equal(icx_principal_to_text(&p, buf, sizeof buf), 64);
  assert_string_equal(buf, "7gheb-jchfc-rcrvr-e6jtu-yplhf-2463c-shoi4-2zgcr-mxtd4-e4v72-6qe");
  assert_int_equal(icx_principal_self_authenticating(NULL, 0, &q), ICX_OK);
  assert_int_equal(q.len, 29);
  assert_int_not_equal(icx_principal_compare(&p, &q), 0);
  icx_principal a, b, m;
  assert_int_equal(icx_principal_from_canister_index(255, &a), ICX_OK);
  assert_int_equal(icx_principal_from_canister_index(256, &b), ICX_OK);
  assert_int_equal(icx_principal_management(&m), ICX_OK);
  assert_int_equal(icx_principal_compare(&a, &b), -1);
  assert_int_equal(icx_principal_compare(&b, &a), 1);
  assert_int_equal(icx_principal_compare(&m, &a), -1);
  assert_int_equal(icx_principal_compare(NULL, &a), -1);
  assert_int_equal(icx_principal_compare(&a, NULL), 1);
  assert_int_equal(icx_principal_compare(NULL, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_principal_constants),
      cmocka_unit_test(test_principal_well_known_texts),
      cmocka_unit_test(test_principal_text_roundtrip_and_index),
      cmocka_unit_test(test_principal_errors),
      cmocka_unit_test(test_principal_self_authenticating_and_order),
  };
  return cmocka_run_group_tests_name("api_principal", tests, NULL, NULL);
}
