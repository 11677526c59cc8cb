/* unit_principal.c -- white-box tests of lib/principal.c: CRC-32, SHA-224,
 * the textual form, canister ids and principal classes.  Vectors come from
 * FIPS 180-4, the IC's own tests and docs (aaaaa-aa, 2vxsx-fae, rwlgt-...,
 * 2chl6-..., bnkmk-...), and tests/vectors/leaf_vectors.py (hashlib/zlib). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "principal.h"

static void hex(const char *h, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
    out[i] = (uint8_t)v;
  }
}

static void assert_sha224(const uint8_t *m, size_t n, const char *want) {
  uint8_t got[ICX_SHA224_BYTES], exp[ICX_SHA224_BYTES];
  icxSha224(m, n, got);
  hex(want, exp, sizeof exp);
  assert_memory_equal(got, exp, sizeof exp);
}

static void test_sha224_fips_vectors(void **state) {
  (void)state;
  assert_sha224((const uint8_t *)"", 0, "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f");
  assert_sha224((const uint8_t *)"abc", 3, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7");
  const char *m2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  assert_sha224((const uint8_t *)m2, strlen(m2),
                "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525");
  uint8_t *mil = malloc(1000000);
  assert_non_null(mil);
  memset(mil, 'a', 1000000);
  assert_sha224(mil, 1000000, "20794655980c91d8bbb4c1ea97618a4bf03f42581948b2ee4ee7ad67");
  free(mil);
}

static void test_sha224_padding_boundaries(void **state) {
  (void)state;
  /* message bytes (i * 7 + 3) & 0xff, digests from Python hashlib */
  static const struct {
    size_t n;
    const char *h;
  } v[] = {
      {1, "15ebd4b8fdfc6905ea002a3efcc8faa71954739ee62bbbf16836eb5c"},
      {55, "703a7d6e61c83903b5db54ddf6dda2268211b47c90bbdac2ed306d8a"},
      {56, "850fef35478d7a94a417713dbded4a39c18be2b40e6f20f47066d306"},
      {63, "246a939bfdd1eedb1ad51b53a250d197b5752aab09580b7f1df50df7"},
      {64, "e480c1c21ffd3f109fc0cde0daf967c748932b64f8e259d98db17420"},
      {65, "574507bf89b5d3a0b5dcf4a684a645f27f058f3b11fde279d5b0e462"},
      {119, "6c9c99e7d1090cb995200ccc9fc757a4383d3a1004cc36bc266c7947"},
      {120, "d733ebb80612c4699bfca3061aab0cd9e138ef73aecf1d0f23e75340"},
      {200, "67e6d447872d6de5f0a53915ac4e88b60f08895e33f8453500d5bd30"},
  };
  uint8_t m[200];
  for (size_t i = 0; i < sizeof m; i++) m[i] = (uint8_t)((i * 7 + 3) & 0xff);
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) assert_sha224(m, v[i].n, v[i].h);
}

static void test_crc32_matches_zlib(void **state) {
  (void)state;
  assert_int_equal(icxCrc32(0, (const uint8_t *)"123456789", 9), 0xcbf43926u);
  assert_int_equal(icxCrc32(0, NULL, 0), 0);
  uint8_t buf[1000];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof buf; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (uint8_t)(x >> 16);
  }
  for (size_t n = 0; n <= sizeof buf; n += 37)
    assert_int_equal(icxCrc32(0, buf, n), (uint32_t)crc32(0, buf, (uInt)n));
  /* continuation */
  assert_int_equal(icxCrc32(icxCrc32(0, buf, 300), buf + 300, 700), (uint32_t)crc32(0, buf, 1000));
}

static void assert_text(const icx_principal *p, const char *want) {
  char buf[ICX_PRINCIPAL_TEXT_MAX + 1];
  size_t n = icxPrincipal_to_text(p, buf, sizeof buf);
  assert_int_equal(n, strlen(want));
  assert_string_equal(buf, want);
  icx_principal q;
  icxErr err;
  assert_int_equal(icxPrincipal_from_text(want, strlen(want), &q, &err), ICX_OK);
  assert_true(icxPrincipal_eq(p, &q));
}

static void test_known_texts(void **state) {
  (void)state;
  icx_principal p = icxPrincipal_management();
  assert_int_equal(p.len, 0);
  assert_text(&p, "aaaaa-aa");
  p = icxPrincipal_anonymous();
  assert_int_equal(p.len, 1);
  assert_int_equal(p.bytes[0], 0x04);
  assert_text(&p, "2vxsx-fae");
  p = icxPrincipal_canister(0);
  static const uint8_t c0[10] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
  assert_int_equal(p.len, 10);
  assert_memory_equal(p.bytes, c0, 10);
  assert_text(&p, "rwlgt-iiaaa-aaaaa-aaaaa-cai");
  p = icxPrincipal_canister(1);
  assert_text(&p, "rrkah-fqaaa-aaaaa-aaaaq-cai");
  p = icxPrincipal_canister(2);
  assert_text(&p, "ryjl3-tyaaa-aaaaa-aaaba-cai");
  p = icxPrincipal_canister(3);
  assert_text(&p, "r7inp-6aaaa-aaaaa-aaabq-cai");
  p = icxPrincipal_canister(4);
  assert_text(&p, "rkp4c-7iaaa-aaaaa-aaaca-cai");
  p = icxPrincipal_canister(7);
  assert_text(&p, "rdmx6-jaaaa-aaaaa-aaadq-cai");
  p = icxPrincipal_canister(UINT64_MAX);
  assert_text(&p, "37pka-5h777-77777-7777q-cai");
  static const uint8_t b9[9] = {0xef, 0xcd, 0xab, 0, 0, 0, 0, 0, 1};
  assert_int_equal(icxPrincipal_from_bytes(b9, 9, &p, NULL), ICX_OK);
  assert_text(&p, "2chl6-4hpzw-vqaaa-aaaaa-c");
  uint8_t z[29] = {0};
  assert_int_equal(icxPrincipal_from_bytes(z, 29, &p, NULL), ICX_OK);
  assert_text(&p, "bnkmk-jqaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaa");
  assert_text(&(icx_principal){0, {0}}, "aaaaa-aa");
}

static void test_canister_index_roundtrip(void **state) {
  (void)state;
  static const uint64_t idx[] = {0, 1, 255, 256, 0x0102030405060708ull, UINT64_MAX};
  for (size_t i = 0; i < sizeof idx / sizeof idx[0]; i++) {
    icx_principal p = icxPrincipal_canister(idx[i]);
    uint64_t back = 12345;
    assert_true(icxPrincipal_canister_index(&p, &back));
    assert_true(back == idx[i]);
  }
  icx_principal a = icxPrincipal_anonymous();
  assert_false(icxPrincipal_canister_index(&a, NULL));
  icx_principal p = icxPrincipal_canister(5);
  p.bytes[9] = 2;
  assert_false(icxPrincipal_canister_index(&p, NULL));
  /* big-endian keeps numeric order */
  icx_principal x = icxPrincipal_canister(255), y = icxPrincipal_canister(256);
  assert_int_equal(icxPrincipal_cmp(&x, &y), -1);
  assert_int_equal(icxPrincipal_cmp(&y, &x), 1);
  assert_int_equal(icxPrincipal_cmp(&x, &x), 0);
  icx_principal m = icxPrincipal_management();
  assert_int_equal(icxPrincipal_cmp(&m, &x), -1); /* prefix first */
}

static void test_self_authenticating(void **state) {
  (void)state;
  /* Ed25519 SubjectPublicKeyInfo with key bytes 00..1f (leaf_vectors.py) */
  uint8_t der[44];
  hex("302a300506032b6570032100", der, 12);
  for (int i = 0; i < 32; i++) der[12 + i] = (uint8_t)i;
  icx_principal p = icxPrincipal_self_authenticating(der, sizeof der);
  uint8_t want[29];
  hex("4728a228d624f2674c3d672eb9ed8a477239ac985165e63e1395febd02", want, 29);
  assert_int_equal(p.len, 29);
  assert_memory_equal(p.bytes, want, 29);
  assert_int_equal(p.bytes[28], ICX_PRINCIPAL_CLASS_SELF_AUTH);
  assert_text(&p, "7gheb-jchfc-rcrvr-e6jtu-yplhf-2463c-shoi4-2zgcr-mxtd4-e4v72-6qe");
}

static void assert_bad(const char *text, const char *msg_part) {
  icx_principal p;
  icxErr err;
  memset(&err, 0, sizeof err);
  p.len = 7;
  assert_int_equal(icxPrincipal_from_text(text, strlen(text), &p, &err), ICX_EINVAL);
  assert_int_equal(p.len, 0);
  if (strstr(err.msg, msg_part) == NULL) fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, err.msg, msg_part);
}

static void test_parse_rejects(void **state) {
  (void)state;
  assert_bad("", "too short");
  assert_bad("aaaaa-a", "too short");            /* 6 chars: 3 bytes */
  assert_bad("aaaaa-aaaa", "not a valid length"); /* 9 chars never encode whole bytes */
  assert_bad("aaaa", "too short");
  assert_bad("vpgq", "too short");
  assert_bad("aaaaa-aA", "upper-case");           /* the IC rejects upper case */
  assert_bad("AAAAA-AA", "upper-case");
  assert_bad("aaaaaaa", "expected '-'");          /* missing dash */
  assert_bad("aaaa-aaa", "misplaced '-'");
  assert_bad("aaaaa-aa-", "misplaced '-'");
  assert_bad("aaaaa--aa", "misplaced '-'");
  assert_bad("-aaaa-aa", "misplaced '-'");
  assert_bad("aaaaa-a1", "invalid character");    /* '1' is not base32 */
  assert_bad("aaaaa-a8", "invalid character");
  assert_bad("aaaaa-a=", "invalid character");
  assert_bad("aaaaa aa", "expected '-'");
  assert_bad("aa aa-aa", "invalid character");
  assert_bad("aaaaa-ab", "padding");               /* non-zero trailing bits */
  assert_bad("5h74t-uga73-7nadi", "checksum");     /* replica test: bad checksum */
  assert_bad("2vxsx-fab", "checksum");
  assert_bad("2vxsx-fai", "checksum");
  /* 64 characters: 30 bytes */
  assert_bad("bnkmk-jqaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaaa-aaaa", "at most");
  assert_bad("fmakz-kp753-o4zo5-ktgeh-ozsvi-qzsee-ia77x-n3tf3-vkmyq-53gkv-cdgiq", "at most 63");
  /* the good one from the same replica test */
  icx_principal p;
  assert_int_equal(icxPrincipal_from_text("bfozs-kwa73-7nadi", 17, &p, NULL), ICX_OK);
  /* not NUL-terminated: only len bytes are read */
  assert_int_equal(icxPrincipal_from_text("aaaaa-aaXYZ", 8, &p, NULL), ICX_OK);
  assert_int_equal(p.len, 0);
  assert_int_equal(icxPrincipal_from_text(NULL, 3, &p, NULL), ICX_EINVAL);
  assert_int_equal(icxPrincipal_from_text("aaaaa-aa", 8, NULL, NULL), ICX_EINVAL);
}

static void test_from_bytes_and_to_text_buffers(void **state) {
  (void)state;
  icx_principal p;
  uint8_t b[30] = {0};
  icxErr err;
  assert_int_equal(icxPrincipal_from_bytes(b, 30, &p, &err), ICX_EINVAL);
  assert_int_equal(icxPrincipal_from_bytes(NULL, 1, &p, &err), ICX_EINVAL);
  assert_int_equal(icxPrincipal_from_bytes(NULL, 0, &p, &err), ICX_OK);
  assert_int_equal(p.len, 0);
  p = icxPrincipal_canister(0);
  char buf[28];
  assert_int_equal(icxPrincipal_to_text(&p, buf, 27), 27); /* needs 28 */
  assert_string_equal(buf, "");
  assert_int_equal(icxPrincipal_to_text(&p, buf, 28), 27);
  assert_string_equal(buf, "rwlgt-iiaaa-aaaaa-aaaaa-cai");
  assert_int_equal(icxPrincipal_to_text(&p, NULL, 0), 27);
  p.len = 30;
  assert_int_equal(icxPrincipal_to_text(&p, buf, sizeof buf), 0);
  assert_string_equal(buf, "");
}

/* Every length 0..29 and many byte patterns round-trip through the text. */
static void test_roundtrip_all_lengths(void **state) {
  (void)state;
  uint32_t x = 99;
  for (int rep = 0; rep < 50; rep++) {
    for (size_t len = 0; len <= 29; len++) {
      uint8_t b[29];
      for (size_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        b[i] = (uint8_t)(x >> 24);
      }
      icx_principal p, q;
      assert_int_equal(icxPrincipal_from_bytes(b, len, &p, NULL), ICX_OK);
      char t[ICX_PRINCIPAL_TEXT_MAX + 1];
      size_t n = icxPrincipal_to_text(&p, t, sizeof t);
      assert_true(n <= ICX_PRINCIPAL_TEXT_MAX);
      assert_int_equal(icxPrincipal_from_text(t, n, &q, NULL), ICX_OK);
      assert_true(icxPrincipal_eq(&p, &q));
      /* flipping any one character breaks it */
      size_t pos = (size_t)(x % n);
      if (t[pos] != '-') {
        t[pos] = t[pos] == 'a' ? 'b' : 'a';
        assert_int_equal(icxPrincipal_from_text(t, n, &q, NULL), ICX_EINVAL);
      }
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha224_fips_vectors),
      cmocka_unit_test(test_sha224_padding_boundaries),
      cmocka_unit_test(test_crc32_matches_zlib),
      cmocka_unit_test(test_known_texts),
      cmocka_unit_test(test_canister_index_roundtrip),
      cmocka_unit_test(test_self_authenticating),
      cmocka_unit_test(test_parse_rejects),
      cmocka_unit_test(test_from_bytes_and_to_text_buffers),
      cmocka_unit_test(test_roundtrip_all_lengths),
  };
  return cmocka_run_group_tests_name("unit_principal", tests, NULL, NULL);
}
