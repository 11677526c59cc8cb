/* unit_randtape.c -- white-box tests of lib/randtape.c.  The expected bytes
 * were computed by tests/vectors/leaf_vectors.py with Python's hashlib.blake2b
 * and the `cryptography` package's ChaCha20 (OpenSSL), not by this code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "randtape.h"

static void hex(const char *h, uint8_t *out, size_t n) {
  assert_int_equal(strlen(h), 2 * n);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

static void assert_hex(const uint8_t *got, const char *want) {
  uint8_t exp[256];
  size_t n = strlen(want) / 2;
  hex(want, exp, n);
  assert_memory_equal(got, exp, n);
}

typedef struct Vec {
  uint64_t round;
  const uint8_t *sig;
  size_t len;
  const char *randomness, *key, *s0_96, *s128_200;
} Vec;

static const uint8_t abc[3] = {'a', 'b', 'c'};

static void check_vec(const Vec *v) {
  icxRandTape t;
  icxErr err;
  assert_int_equal(icxRandTape_init(&t, v->round, v->sig, v->len, &err), ICX_OK);
  assert_hex(t.randomness, v->randomness);
  assert_hex(t.key, v->key);
  uint8_t s[200];
  /* drawn in uneven pieces: the stream is the same */
  assert_int_equal(icxRandTape_fill(&t, s, 7, &err), ICX_OK);
  assert_int_equal(icxRandTape_fill(&t, s + 7, 60, &err), ICX_OK);
  assert_int_equal(icxRandTape_fill(&t, s + 67, 0, &err), ICX_OK);
  assert_int_equal(icxRandTape_fill(&t, s + 67, 133, &err), ICX_OK);
  assert_int_equal(t.pos, 200);
  assert_hex(s, v->s0_96);
  assert_hex(s + 128, v->s128_200);
}

static void test_randtape_vectors_independent(void **state) {
  (void)state;
  uint8_t seq[96];
  for (int i = 0; i < 96; i++) seq[i] = (uint8_t)i;
  const Vec v[3] = {
      {0, NULL, 0, "922b17aad7984c3ac808a6a21cf78ed47ee0c161090aaa7c5c96f8e21c326ca2",
       "e3d3f31895371537f96e94ebbffc9130ccf51d9d5a527d8ee4f19f4a807fc4c4",
       "afe6915dfa8332b56fbe2b2cc14c1ffb22a690d3ba4d8f0bce01c1d58d39f67e7554359d4db356514af49c6a71"
       "4a02fa48420cac4e48d4f5a819669cc137a1dfc139aa06b233dcebe58eb3c32b02b8f1e82f0ed83dfa9637c185"
       "02156899c3b4",
       "78685d457fb9aa8cde9d9df6a439d0b6472456cab8bb1b815460ee6e9118451c885ec136b277976ca620642e57"
       "be784be838f11924d3bed42f6ab1ba48f0b70adb1f512b643bfa30"},
      {1, abc, 3, "5a264e764dfa9f1e9edaee6efb1cf1801db02a4cf7a44678bd40aeac0ad9f89b",
       "0cf4be85eaf17791e4c5862cb61c76781df3d6c1d764ad3aad2641ac69234df4",
       "8cb20e4bc4fc2d77598e64601f745b1f70da5ca9c31905b975e87d073187b99caa499f8b6f82631d32d0236803"
       "db137d6c5bb17b9fdf1a55ff3c72966b1546dc5a0c772323270bb7a337dd23e8a2abd02f9a348cbc8b5fbf7c75"
       "4c5a01abb2ad",
       "c6611c27f2cbbc539adf5c9784e0d0e72b428ad007cea1a3d40eab0b2769a40012abcd0b8a0328ca25a846021c"
       "ef5d0a8725aa105816a5f80829037675a1d87b971599539969597b"},
      {0x0102030405060708u, seq, 96, "a9b7b69fd9b021c3990fbd0e786663c07a2cd595ba53c4708e34a0f79bf86219",
       "4972bf7df17d41e7428bd95a192afff4f2b8bae18a54d9dc585eacb259416094",
       "63d60d1c0566645321cfbcc0a47995c220c9bf356818d6446a84094ac10846a3ab51ab2b73e015ae351da19b11"
       "e997e923a9e4f4ddb22da71f02eded71a9de9579c84803610cfea096a7b0f835a6127ceb94572c6aa68a9785d6"
       "234fa94439d6",
       "71d89bb5e49361f6353fdc7780eeb1eccb703d848e349cd20e0931ad0aafe4f45bc934f19d0e9f2ef4e2523e91"
       "bf2b58d9a1e74e3fc6ebfdd8347e2859df1c47e9b23843fb4ceb2a"},
  };
  for (int i = 0; i < 3; i++) check_vec(&v[i]);
}

static void test_raw_rand_replies_in_order(void **state) {
  (void)state;
  icxRandTape t, u;
  assert_int_equal(icxRandTape_init(&t, 1, abc, 3, NULL), ICX_OK);
  uint8_t r1[ICX_RAW_RAND_REPLY_BYTES], r2[ICX_RAW_RAND_REPLY_BYTES];
  assert_int_equal(icxRandTape_raw_rand_reply(&t, r1, NULL), ICX_OK);
  assert_int_equal(icxRandTape_raw_rand_reply(&t, r2, NULL), ICX_OK);
  static const uint8_t head[10] = {0x44, 0x49, 0x44, 0x4c, 0x01, 0x6d, 0x7b, 0x01, 0x00, 0x20};
  assert_memory_equal(r1, head, 10);
  assert_memory_equal(r2, head, 10);
  /* first call: stream bytes 0..31, second: 32..63 */
  assert_hex(r1 + 10, "8cb20e4bc4fc2d77598e64601f745b1f70da5ca9c31905b975e87d073187b99c");
  assert_hex(r2 + 10, "aa499f8b6f82631d32d0236803db137d6c5bb17b9fdf1a55ff3c72966b1546dc");
  assert_memory_not_equal(r1 + 10, r2 + 10, 32);
  /* the same batch gives the same answers; state is only the struct */
  assert_int_equal(icxRandTape_init(&u, 1, abc, 3, NULL), ICX_OK);
  uint8_t again[ICX_RAW_RAND_REPLY_BYTES];
  assert_int_equal(icxRandTape_raw_rand_reply(&u, again, NULL), ICX_OK);
  assert_memory_equal(again, r1, sizeof r1);
  /* copying the struct forks the stream deterministically */
  icxRandTape w = u;
  uint8_t a[32], b[32];
  assert_int_equal(icxRandTape_fill(&u, a, 32, NULL), ICX_OK);
  assert_int_equal(icxRandTape_fill(&w, b, 32, NULL), ICX_OK);
  assert_memory_equal(a, b, 32);
}

static void test_randtape_from_randomness(void **state) {
  (void)state;
  icxRandTape t, u;
  assert_int_equal(icxRandTape_init(&t, 1, abc, 3, NULL), ICX_OK);
  assert_int_equal(icxRandTape_init_randomness(&u, t.randomness, NULL), ICX_OK);
  assert_memory_equal(t.key, u.key, 32);
  assert_int_equal(u.pos, 0);
  assert_int_equal(icxRandTape_init_randomness(&u, NULL, NULL), ICX_EINVAL);
  assert_int_equal(icxRandTape_init_randomness(NULL, t.randomness, NULL), ICX_EINVAL);
}

static void test_randtape_end_of_stream(void **state) {
  (void)state;
  icxRandTape t;
  icxErr err;
  assert_int_equal(icxRandTape_init(&t, 1, abc, 3, &err), ICX_OK);
  /* the last block (counter 2^32 - 1), from Python */
  t.pos = ICX_RANDTAPE_STREAM_BYTES - 64;
  uint8_t blk[64];
  assert_int_equal(icxRandTape_fill(&t, blk, 64, &err), ICX_OK);
  assert_hex(blk, "8fa44edd6ba517de54bb7cd233a815cc7763122fe4111a77d8f9e7ff55b51f8395b9b8f9e84f302e3b2b"
                  "96110cb5b2dcc133f5cd734e3f0459c427cbeda5ba16");
  assert_int_equal(icxRandTape_fill(&t, blk, 1, &err), ICX_ELIMIT);
  assert_non_null(strstr(err.msg, "exhausted"));
  assert_int_equal(t.pos, ICX_RANDTAPE_STREAM_BYTES);
  assert_int_equal(icxRandTape_fill(&t, blk, 0, &err), ICX_OK);
  t.pos = ICX_RANDTAPE_STREAM_BYTES - 10;
  uint8_t reply[ICX_RAW_RAND_REPLY_BYTES];
  assert_int_equal(icxRandTape_raw_rand_reply(&t, reply, &err), ICX_ELIMIT);
  assert_int_equal(t.pos, ICX_RANDTAPE_STREAM_BYTES - 10);
}

static void test_randtape_bad_arguments(void **state) {
  (void)state;
  icxRandTape t;
  icxErr err;
  assert_int_equal(icxRandTape_init(NULL, 1, abc, 3, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_init(&t, 1, NULL, 3, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_init(&t, 1, abc, 3, &err), ICX_OK);
  assert_int_equal(icxRandTape_fill(&t, NULL, 1, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_fill(NULL, NULL, 0, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_raw_rand_reply(&t, NULL, &err), ICX_EINVAL);
  /* different signatures give different tapes; the length is bound in */
  icxRandTape a, b;
  static const uint8_t z1[1] = {0}, z2[2] = {0, 0};
  assert_int_equal(icxRandTape_init(&a, 0, z1, 1, NULL), ICX_OK);
  assert_int_equal(icxRandTape_init(&b, 0, z2, 2, NULL), ICX_OK);
  assert_memory_not_equal(a.randomness, b.randomness, 32);
  /* the round number is bound in (vectors from Python) */
  assert_int_equal(icxRandTape_init(&a, 0, abc, 3, NULL), ICX_OK);
  assert_hex(a.randomness, "51e52d00c7666b628f98a516d5425a757ab2943776b8d2fe7dcdffd34d3276fe");
  assert_int_equal(icxRandTape_init(&b, UINT64_MAX, abc, 3, NULL), ICX_OK);
  assert_hex(b.randomness, "038597e9e4a6b1e03b192635a0602d588f3651f4edec4b7a95c1329f82d12493");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_randtape_vectors_independent),
      cmocka_unit_test(test_raw_rand_replies_in_order),
      cmocka_unit_test(test_randtape_from_randomness),
      cmocka_unit_test(test_randtape_end_of_stream),
      cmocka_unit_test(test_randtape_bad_arguments),
  };
  return cmocka_run_group_tests_name("unit_randtape", tests, NULL, NULL);
}
