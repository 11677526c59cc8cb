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
  const uint8_t *sig;
  size_t len;
  const char *randomness, *key, *s0_96, *s128_200;
} Vec;

static const uint8_t abc[3] = {'a', 'b', 'c'};

static void check_vec(const Vec *v) {
  icxRandTape t;
  icxErr err;
  assert_int_equal(icxRandTape_init(&t, v->sig, v->len, &err), ICX_OK);
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
      {NULL, 0, "6515a22f97c1d04eb9816131517e32362894b17bff1824edecab76710bcc2f0d",
       "ba57d5c4a672e1d742ffb0e5c26fbd0448415307045b0c6772f375e865a60124",
       "c29c50719f0270b0ee9e27bb01c4cb60c4ccd63435f4601ab46a1802bd91a47a62fdadb643cee9611b86b7c7c7"
       "aa2d7b01c4e5fd45372e60d4678b7449f3de35ed6f9c87f7b296ccdde99d6ddb1af143ba936684d384eec9ee1d"
       "0db5eb70ef67",
       "2afe579a261d7be831094a801e2621f09792a9de609aa5445193fe52102e0cacb2514213818cf89fa178774b61"
       "ad57f8f481cac4e59c826eaa285dcbbe7ce1888f87d695ff0dfb80"},
      {abc, 3, "f0c4f91030d6625cf8aa48b1080bb6eb992ad63d211680e36b69edb96c5b7a24",
       "a5bdf7299fe2a13193a5b907db8e6deca9314427e987ae21fda0260bbb01ec08",
       "de1b102304789e2c4fadc93bbbf7338fbbe11dde5d357a5ef5cc30af13feba91a42698e6d812844a6e176589b4"
       "398b71aae03649b9e6697b388a06bfc796c55fbab147188718d781b9583eb34a04c1ebe8394fd7aec020381049"
       "46338a0d6081",
       "d09d87847f1697085b15458a37a35e05d4df1fa73e999b991738fd65c6f615143c622a42b005f25085d8706cc3"
       "367a33212e0894e71ca37ae4fff834838b290bd3c45b03530b8043"},
      {seq, 96, "2ef86ec1f6b102102c74dd98e3e71dfc7fcbe94ad80e615ae024ce4df76a8dbf",
       "fbe76cc966688bac7b947857cc8c468690e037a8b44d042a92e14afaf2877a87",
       "36912633b74b050c8a294d88ca279e3a482e0f0afa1f2e627a27b36fbcddf30e16e58ef9bf60e67d2abc04ce35"
       "e701aabcd9aca1e982f5b6b52cfc73e9470d93bf863c763231404d520e79a3dee28c039098e7bd5ddc4c8840c6"
       "2eeed4219140",
       "dfc872c85e8069038ba56895b516d4556899d7ce3ce70252eeed9bc96c10f021acb4c9c649eb9f52127d1fd905"
       "1e377cd818456d779b712f5147db330eac267e4c3402dbeccb11c1"},
  };
  for (int i = 0; i < 3; i++) check_vec(&v[i]);
}

static void test_raw_rand_replies_in_order(void **state) {
  (void)state;
  icxRandTape t, u;
  assert_int_equal(icxRandTape_init(&t, abc, 3, NULL), ICX_OK);
  uint8_t r1[ICX_RAW_RAND_REPLY_BYTES], r2[ICX_RAW_RAND_REPLY_BYTES];
  assert_int_equal(icxRandTape_raw_rand_reply(&t, r1, NULL), ICX_OK);
  assert_int_equal(icxRandTape_raw_rand_reply(&t, r2, NULL), ICX_OK);
  static const uint8_t head[10] = {0x44, 0x49, 0x44, 0x4c, 0x01, 0x6d, 0x7b, 0x01, 0x00, 0x20};
  assert_memory_equal(r1, head, 10);
  assert_memory_equal(r2, head, 10);
  /* first call: stream bytes 0..31, second: 32..63 */
  assert_hex(r1 + 10, "de1b102304789e2c4fadc93bbbf7338fbbe11dde5d357a5ef5cc30af13feba91");
  assert_hex(r2 + 10, "a42698e6d812844a6e176589b4398b71aae03649b9e6697b388a06bfc796c55f");
  assert_memory_not_equal(r1 + 10, r2 + 10, 32);
  /* the same batch gives the same answers; state is only the struct */
  assert_int_equal(icxRandTape_init(&u, abc, 3, NULL), ICX_OK);
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
  assert_int_equal(icxRandTape_init(&t, abc, 3, NULL), ICX_OK);
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
  assert_int_equal(icxRandTape_init(&t, abc, 3, &err), ICX_OK);
  /* the last block (counter 2^32 - 1), from Python */
  t.pos = ICX_RANDTAPE_STREAM_BYTES - 64;
  uint8_t blk[64];
  assert_int_equal(icxRandTape_fill(&t, blk, 64, &err), ICX_OK);
  assert_hex(blk, "27f9137eac867c2d9abead634938f1d976c32ce71a6db57aa523d26289f4972a8205ccc40572aca26f"
                  "59d218d219e4ca4c2c2859285a32d68ff9dc8d8625e288");
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
  assert_int_equal(icxRandTape_init(NULL, abc, 3, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_init(&t, NULL, 3, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_init(&t, abc, 3, &err), ICX_OK);
  assert_int_equal(icxRandTape_fill(&t, NULL, 1, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_fill(NULL, NULL, 0, &err), ICX_EINVAL);
  assert_int_equal(icxRandTape_raw_rand_reply(&t, NULL, &err), ICX_EINVAL);
  /* different signatures give different tapes; the length is bound in */
  icxRandTape a, b;
  static const uint8_t z1[1] = {0}, z2[2] = {0, 0};
  assert_int_equal(icxRandTape_init(&a, z1, 1, NULL), ICX_OK);
  assert_int_equal(icxRandTape_init(&b, z2, 2, NULL), ICX_OK);
  assert_memory_not_equal(a.randomness, b.randomness, 32);
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
