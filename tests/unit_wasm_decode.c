/* unit_wasm_decode.c -- white-box tests of the LEB128 readers, the binary
 * decoder and the validator (lib/wasm_read.c, wasm_decode.c,
 * wasm_validate.c).  Modules are hand-assembled bytes; every allocation goes
 * through cmocka's test_realloc/test_free, so each test is a leak check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "wasm.h"

/* ---- allocator fixtures ------------------------------------------------- */

typedef struct AllocStats {
  size_t max_block; /* largest single allocation requested */
  long fail_at;     /* fail the n-th allocation (-1: never) */
  long count;
} AllocStats;

static void *cm_alloc(void *ud, void *p, size_t old, size_t n) {
  AllocStats *st = ud;
  (void)old;
  if (n == 0) {
    if (p) test_free(p);
    return NULL;
  }
  if (st) {
    if (n > st->max_block) st->max_block = n;
    if (st->fail_at >= 0 && st->count++ == st->fail_at) return NULL;
  }
  return test_realloc(p, n);
}

static icxAllocator test_allocator(AllocStats *st) {
  icxAllocator a = {cm_alloc, st};
  return a;
}

/* ---- module builder ----------------------------------------------------- */

typedef struct Buf {
  uint8_t b[16384];
  size_t n;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
  assert_true(b->n + n <= sizeof b->b);
  memcpy(b->b + b->n, p, n);
  b->n += n;
}

static void put8(Buf *b, uint8_t v) { put(b, &v, 1); }

static void put_u32(Buf *b, uint32_t v) {
  do {
    uint8_t x = (uint8_t)(v & 0x7fu);
    v >>= 7;
    put8(b, (uint8_t)(x | (v ? 0x80u : 0u)));
  } while (v);
}

static void put_header(Buf *m) { put(m, "\0asm\1\0\0\0", 8); }

/* Append section id with content c (size computed). */
static void put_sec(Buf *m, uint8_t id, const Buf *c) {
  put8(m, id);
  put_u32(m, (uint32_t)c->n);
  put(m, c->b, c->n);
}

static void put_sec_raw(Buf *m, uint8_t id, const char *bytes, size_t n) {
  Buf c = {.n = 0};
  put(&c, bytes, n);
  put_sec(m, id, &c);
}
#define SEC(m, id, lit) put_sec_raw((m), (id), (lit), sizeof(lit) - 1)

enum {
  M_MEM32 = 1u << 0,
  M_MEM64 = 1u << 1,
  M_TAB32 = 1u << 2,
  M_TAB64 = 1u << 3,
  M_DATA = 1u << 4,     /* data count section + one passive segment */
  M_ELEMDECL = 1u << 5, /* declarative elem segment declaring func 0 */
  M_GLOBALS = 1u << 6,  /* global 0: const i32, global 1: mut i64 */
  M_TAB2 = 1u << 7      /* a second table: table32 externref */
};

/* A module with type 0 = params -> results and one function of type 0
 * whose instructions are code[0..n) (the final `end` included). */
static void body_module(Buf *m, unsigned flags, const char *params, const char *results,
                        const void *code, size_t n) {
  Buf c = {.n = 0};
  size_t np = strlen(params), nr = strlen(results);
  m->n = 0;
  put_header(m);
  put8(&c, 1), put8(&c, 0x60), put_u32(&c, (uint32_t)np), put(&c, params, np);
  put_u32(&c, (uint32_t)nr), put(&c, results, nr);
  put_sec(m, 1, &c);
  SEC(m, 3, "\x01\x00");
  if (flags & (M_TAB32 | M_TAB64 | M_TAB2)) {
    c.n = 0;
    put8(&c, (flags & M_TAB2) ? 2 : 1);
    put(&c, (flags & M_TAB64) ? "\x70\x04\x02" : "\x70\x00\x02", 3);
    if (flags & M_TAB2) put(&c, "\x6f\x00\x01", 3);
    put_sec(m, 4, &c);
  }
  if (flags & M_MEM32) SEC(m, 5, "\x01\x00\x01");
  if (flags & M_MEM64) SEC(m, 5, "\x01\x04\x01");
  if (flags & M_GLOBALS) SEC(m, 6, "\x02\x7f\x00\x41\x07\x0b\x7e\x01\x42\x00\x0b");
  if (flags & M_ELEMDECL) SEC(m, 9, "\x01\x03\x00\x01\x00");
  if (flags & M_DATA) SEC(m, 12, "\x01");
  c.n = 0;
  put8(&c, 1);
  put_u32(&c, (uint32_t)(n + 1));
  put8(&c, 0); /* no locals */
  put(&c, code, n);
  put_sec(m, 10, &c);
  if (flags & M_DATA) SEC(m, 11, "\x01\x01\x02hi");
}

/* Decode then validate; returns the first failing status (or ICX_OK). */
static icx_status run(const uint8_t *bytes, size_t n, uint32_t features, icxErr *err) {
  icxAllocator a = test_allocator(NULL);
  icxModule *m = NULL;
  icxErr_clear(err);
  icx_status rc = icxWasm_decode(&a, bytes, n, features, &m, err);
  if (rc != ICX_OK) {
    assert_null(m);
    assert_true(err->msg[0] != 0);
    return rc;
  }
  rc = icxWasm_validate(m, err);
  if (rc != ICX_OK) assert_true(err->msg[0] != 0);
  icxWasm_module_free(m);
  return rc;
}

static icx_status run_body(unsigned flags, uint32_t feat, const char *params, const char *results,
                           const void *code, size_t n, icxErr *err) {
  Buf m;
  body_module(&m, flags, params, results, code, n);
  return run(m.b, m.n, feat, err);
}
#define BODY(flags, feat, params, results, lit, err)                                              \
  run_body((flags), (feat), (params), (results), (lit), sizeof(lit) - 1, (err))

static icxModule *decode_ok(const Buf *m, uint32_t features) {
  icxAllocator a = test_allocator(NULL);
  icxModule *mod = NULL;
  icxErr err;
  icx_status rc = icxWasm_decode(&a, m->b, m->n, features, &mod, &err);
  if (rc != ICX_OK) print_error("decode: %s\n", err.msg);
  assert_int_equal(rc, ICX_OK);
  assert_non_null(mod);
  return mod;
}

static icx_status decode_only(const void *bytes, size_t n, uint32_t features, icxErr *err) {
  icxAllocator a = test_allocator(NULL);
  icxModule *m = NULL;
  icx_status rc = icxWasm_decode(&a, bytes, n, features, &m, err);
  icxWasm_module_free(m);
  return rc;
}

static void assert_msg_has(const icxErr *err, const char *needle) {
  if (!strstr(err->msg, needle)) print_error("message \"%s\" lacks \"%s\"\n", err->msg, needle);
  assert_non_null(strstr(err->msg, needle));
}

/* ---- LEB128 readers ----------------------------------------------------- */

static icxReader reader(const void *p, size_t n) {
  icxReader r = {p, (const uint8_t *)p + n, p};
  return r;
}

static void test_leb_u32_valid_encodings_decode(void **state) {
  (void)state;
  uint32_t v;
  icxReader r = reader("\x00", 1);
  assert_int_equal(icxRd_u32(&r, &v), 0), assert_int_equal(v, 0);
  r = reader("\xe5\x8e\x26", 3);
  assert_int_equal(icxRd_u32(&r, &v), 0), assert_int_equal(v, 624485);
  r = reader("\xff\xff\xff\xff\x0f", 5);
  assert_int_equal(icxRd_u32(&r, &v), 0), assert_int_equal(v, UINT32_MAX);
  assert_ptr_equal(r.p, r.end);
  r = reader("\x80\x80\x80\x80\x00", 5); /* padded zero is fine */
  assert_int_equal(icxRd_u32(&r, &v), 0), assert_int_equal(v, 0);
}

static void test_leb_u32_overlong_is_rejected(void **state) {
  (void)state;
  uint32_t v;
  icxReader r = reader("\x80\x80\x80\x80\x80\x00", 6);
  assert_int_equal(icxRd_u32(&r, &v), -1);
}

static void test_leb_u32_unused_bits_set_is_rejected(void **state) {
  (void)state;
  uint32_t v;
  icxReader r = reader("\xff\xff\xff\xff\x1f", 5);
  assert_int_equal(icxRd_u32(&r, &v), -1);
  r = reader("\x80\x80\x80\x80\x10", 5);
  assert_int_equal(icxRd_u32(&r, &v), -1);
}

static void test_leb_truncated_is_rejected_cursor_unchanged(void **state) {
  (void)state;
  uint32_t v;
  uint64_t w;
  const uint8_t bytes[] = {0x80, 0x80};
  icxReader r = reader(bytes, 2);
  assert_int_equal(icxRd_u32(&r, &v), -1);
  assert_ptr_equal(r.p, bytes);
  assert_int_equal(icxRd_u64(&r, &w), -1);
  r = reader(bytes, 0);
  assert_int_equal(icxRd_u32(&r, &v), -1);
}

static void test_leb_s32_sign_bits_are_checked(void **state) {
  (void)state;
  int32_t v;
  icxReader r = reader("\x7f", 1);
  assert_int_equal(icxRd_s32(&r, &v), 0), assert_int_equal(v, -1);
  r = reader("\xff\xff\xff\xff\x07", 5);
  assert_int_equal(icxRd_s32(&r, &v), 0), assert_int_equal(v, INT32_MAX);
  r = reader("\x80\x80\x80\x80\x78", 5);
  assert_int_equal(icxRd_s32(&r, &v), 0), assert_int_equal(v, INT32_MIN);
  r = reader("\xff\xff\xff\xff\x7f", 5); /* -1 padded */
  assert_int_equal(icxRd_s32(&r, &v), 0), assert_int_equal(v, -1);
  r = reader("\xff\xff\xff\xff\x0f", 5); /* bits above 31 not a sign extension */
  assert_int_equal(icxRd_s32(&r, &v), -1);
  r = reader("\x80\x80\x80\x80\x70", 5);
  assert_int_equal(icxRd_s32(&r, &v), -1);
  r = reader("\xff\xff\xff\xff\xff\x7f", 6);
  assert_int_equal(icxRd_s32(&r, &v), -1);
}

static void test_leb_64bit_and_s33_boundaries_are_exact(void **state) {
  (void)state;
  int64_t s;
  uint64_t u;
  icxReader r = reader("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
  assert_int_equal(icxRd_u64(&r, &u), 0);
  assert_true(u == UINT64_MAX);
  r = reader("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10);
  assert_int_equal(icxRd_u64(&r, &u), -1);
  r = reader("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", 10);
  assert_int_equal(icxRd_s64(&r, &s), 0);
  assert_true(s == INT64_MIN);
  r = reader("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", 10);
  assert_int_equal(icxRd_s64(&r, &s), 0);
  assert_true(s == INT64_MAX);
  r = reader("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 10);
  assert_int_equal(icxRd_s64(&r, &s), -1);
  r = reader("\x40", 1); /* 0x40 = -64: the empty block type */
  assert_int_equal(icxRd_s33(&r, &s), 0);
  assert_true(s == -64);
  r = reader("\xff\xff\xff\xff\x0f", 5); /* 2^32-1: largest type index */
  assert_int_equal(icxRd_s33(&r, &s), 0);
  assert_true(s == (int64_t)UINT32_MAX);
  r = reader("\xff\xff\xff\xff\x1f", 5); /* bit 32 set without sign extension */
  assert_int_equal(icxRd_s33(&r, &s), -1);
}

static void test_rd_bytes_past_end_fails(void **state) {
  (void)state;
  const uint8_t *p;
  uint8_t b;
  icxReader r = reader("ab", 2);
  assert_int_equal(icxRd_bytes(&r, 3, &p), -1);
  assert_int_equal(icxRd_bytes(&r, 2, &p), 0);
  assert_int_equal(icxRd_u8(&r, &b), -1);
  assert_int_equal(icxRd_offset(&r), 2);
}

/* ---- decoder: header and section structure ------------------------------ */

static void test_decode_empty_module_is_ok(void **state) {
  (void)state;
  Buf m = {.n = 0};
  put_header(&m);
  icxModule *mod = decode_ok(&m, 0);
  assert_int_equal(mod->ntypes, 0);
  assert_int_equal(mod->nfuncs_total, 0);
  assert_null(mod->func_declared);
  assert_int_equal(mod->nbytes, 8);
  icxErr err;
  assert_int_equal(icxWasm_validate(mod, &err), ICX_OK);
  icxWasm_module_free(mod);
  icxWasm_module_free(NULL);
}

static void test_decode_bad_magic_or_version_is_malformed(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(decode_only("\0asn\1\0\0\0", 8, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "magic header not detected");
  assert_int_equal(decode_only("\0asm\2\0\0\0", 8, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "unknown binary version");
  assert_int_equal(decode_only("\0asm\1\0", 6, 0, &err), ICX_EMALFORMED);
  assert_int_equal(decode_only("", 0, 0, &err), ICX_EMALFORMED);
}

/* The size limit is checked before the bytes are read or copied. */
static void test_decode_module_above_size_limit_is_malformed(void **state) {
  (void)state;
  AllocStats st = {0, -1, 0};
  icxAllocator a = test_allocator(&st);
  icxModule *mod = NULL;
  icxErr err;
  static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  assert_int_equal(icxWasm_decode(&a, header, (size_t)ICX_MAX_MODULE_BYTES + 1u, 0, &mod, &err),
                   ICX_EMALFORMED);
  assert_null(mod);
  assert_int_equal(st.count, 0);
  assert_msg_has(&err, "module too large");
}

static void test_decode_section_out_of_order_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 3, "\x00"); /* function */
  SEC(&m, 1, "\x00"); /* type after function */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "section type at offset 0xb");
  m.n = 0;
  put_header(&m);
  SEC(&m, 1, "\x00");
  SEC(&m, 1, "\x00"); /* duplicate */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  m.n = 0; /* data count (12) must precede code (10) */
  put_header(&m);
  SEC(&m, 10, "\x00");
  SEC(&m, 12, "\x00");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
}

static void test_decode_custom_sections_anywhere_are_kept(void **state) {
  (void)state;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 0, "\x03" "abc" "payload");
  SEC(&m, 1, "\x00");
  SEC(&m, 0, "\x00");
  SEC(&m, 12, "\x00");
  SEC(&m, 0, "\x02\xc3\xa9" "x");
  icxModule *mod = decode_ok(&m, 0);
  assert_int_equal(mod->ncustoms, 3);
  assert_int_equal(mod->customs[0].name_len, 3);
  assert_string_equal(mod->customs[0].name, "abc");
  assert_int_equal(mod->customs[0].len, 7);
  assert_memory_equal(mod->bytes + mod->customs[0].off, "payload", 7);
  assert_int_equal(mod->customs[1].name_len, 0);
  assert_int_equal(mod->customs[1].len, 0);
  assert_string_equal(mod->customs[2].name, "\xc3\xa9");
  assert_int_equal(mod->has_data_count, 1);
  assert_int_equal(mod->data_count, 0);
  icxWasm_module_free(mod);
}

static void test_decode_section_size_mismatch_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00\x00"); /* one byte too many */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "section size mismatch");
  m.n = 0;
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00"); /* one byte short */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  m.n = 0;
  put_header(&m);
  put(&m, "\x01\x05\x00", 3); /* size beyond the end of the module */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "unexpected end");
}

static void test_decode_unknown_section_id_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 13, "\x00");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "malformed section id 13");
}

static void test_decode_overlong_section_size_leb_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  put(&m, "\x01\x81\x80\x80\x80\x80\x00", 7);
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "integer representation too long");
  m.n = 0;
  put_header(&m);
  put(&m, "\x01\x80\x80\x80\x80\x1f", 6);
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "integer too large");
  m.n = 0;
  put_header(&m);
  put(&m, "\x01\x80\x80", 3);
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "unexpected end");
}

static void test_decode_huge_count_fails_without_large_allocation(void **state) {
  (void)state;
  static const struct {
    uint8_t id;
    const char *bytes;
    size_t n;
  } secs[] = {
      {1, "\x80\x94\xeb\xdc\x03\x60\x00\x00", 8},      /* 10^9 types */
      {2, "\x80\x94\xeb\xdc\x03\x00\x00\x00\x00", 9}, /* 10^9 imports */
      {3, "\x80\x94\xeb\xdc\x03\x00\x00\x00", 8},      /* 10^9 functions */
      {6, "\x80\x94\xeb\xdc\x03\x7f\x00\x0b", 8},      /* 10^9 globals */
      {7, "\x80\x94\xeb\xdc\x03\x00\x00\x00", 8},      /* 10^9 exports */
  };
  for (size_t i = 0; i < sizeof secs / sizeof *secs; i++) {
    AllocStats st = {0, -1, 0};
    icxAllocator a = test_allocator(&st);
    icxModule *mod = NULL;
    icxErr err;
    Buf m = {.n = 0};
    put_header(&m);
    put_sec_raw(&m, secs[i].id, secs[i].bytes, secs[i].n);
    assert_int_equal(icxWasm_decode(&a, m.b, m.n, 0, &mod, &err), ICX_EMALFORMED);
    assert_null(mod);
    assert_true(st.max_block < 4096);
  }
  /* An element segment claiming 10^9 entries. */
  Buf m = {.n = 0};
  AllocStats st = {0, -1, 0};
  icxAllocator a = test_allocator(&st);
  icxModule *mod = NULL;
  icxErr err;
  put_header(&m);
  SEC(&m, 9, "\x01\x01\x00\x80\x94\xeb\xdc\x03\x00");
  assert_int_equal(icxWasm_decode(&a, m.b, m.n, 0, &mod, &err), ICX_EMALFORMED);
  assert_true(st.max_block < 4096);
}

static void test_decode_count_above_limit_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0}, c = {.n = 0};
  put_header(&m);
  put8(&c, 1), put8(&c, 0x60), put_u32(&c, ICX_MAX_PARAMS + 1);
  for (uint32_t i = 0; i <= ICX_MAX_PARAMS; i++) put8(&c, 0x7f);
  put8(&c, 0);
  put_sec(&m, 1, &c);
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "too many parameters");
}

static void test_decode_function_code_count_mismatch_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x02\x00\x00");
  SEC(&m, 10, "\x01\x02\x00\x0b");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "function and code section have inconsistent lengths");
  m.n = 0; /* function section without code section */
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "inconsistent lengths");
  m.n = 0; /* code section without function section */
  put_header(&m);
  SEC(&m, 10, "\x01\x02\x00\x0b");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
}

static void test_decode_data_count_mismatch_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 12, "\x02");
  SEC(&m, 11, "\x01\x01\x00");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "data count and data section have inconsistent lengths");
  m.n = 0;
  put_header(&m);
  SEC(&m, 12, "\x01"); /* no data section at all */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
}

static void test_decode_invalid_utf8_name_is_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80",
                                    "\xe0\x80\xaf", "\xc3"};
  icxErr err;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    Buf m = {.n = 0}, c = {.n = 0};
    put_header(&m);
    put_u32(&c, (uint32_t)strlen(bad[i]));
    put(&c, bad[i], strlen(bad[i]));
    put_sec(&m, 0, &c);
    assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
    assert_msg_has(&err, "malformed UTF-8 encoding");
  }
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 0, "\x04\xf0\x9f\x98\x80"); /* U+1F600 is fine */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_OK);
}

static void test_decode_too_many_locals_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 10, "\x01\x0e\x02\xff\xff\xff\xff\x0f\x7f\xff\xff\xff\xff\x0f\x7e\x0b");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "too many locals");
  m.n = 0; /* fits in u32 but above ICX_MAX_LOCALS */
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  Buf c = {.n = 0};
  put8(&c, 1), put8(&c, 7), put8(&c, 1), put_u32(&c, ICX_MAX_LOCALS + 1), put8(&c, 0x7f);
  put8(&c, 0x0b);
  c.b[1] = (uint8_t)(c.n - 2);
  put_sec(&m, 10, &c);
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "too many locals");
}

static void test_decode_locals_are_expanded(void **state) {
  (void)state;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x01\x7f\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 10, "\x01\x08\x03\x02\x7e\x00\x7f\x01\x7d\x0b");
  icxModule *mod = decode_ok(&m, 0);
  assert_int_equal(mod->funcs[0].nlocals, 3);
  assert_memory_equal(mod->funcs[0].local_types, "\x7e\x7e\x7d", 3);
  assert_int_equal(mod->funcs[0].code_len, 1);
  assert_int_equal(mod->bytes[mod->funcs[0].code_off], 0x0b);
  assert_int_equal(mod->bytes[mod->funcs[0].body_off], 0x08);
  icxWasm_module_free(mod);
}

static void test_decode_body_without_final_end_is_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 10, "\x01\x02\x00\x01"); /* nop, no end */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "end");
  m.n = 0; /* body size beyond the section */
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 10, "\x01\x09\x00\x0b");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
}

/* A module using every section; checks the IR field by field. */
static void test_decode_full_module_fills_every_ir_field(void **state) {
  (void)state;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x02\x60\x02\x7f\x7e\x01\x7d\x60\x00\x00");
  SEC(&m, 2, "\x04"
             "\x03" "env" "\x01" "f" "\x00\x01"             /* func type 1 */
             "\x03" "env" "\x01" "t" "\x01\x70\x01\x01\x05" /* table funcref 1..5 */
             "\x03" "env" "\x01" "m" "\x02\x00\x02"         /* memory min 2 */
             "\x03" "env" "\x01" "g" "\x03\x7f\x00");       /* const i32 */
  SEC(&m, 3, "\x02\x00\x01");
  SEC(&m, 4, "\x01\x6f\x00\x03");
  SEC(&m, 6, "\x02\x7e\x01\x42\x7f\x0b\x70\x00\xd2\x02\x0b");
  SEC(&m, 7, "\x02\x03" "run" "\x00\x01\x03" "mem" "\x02\x00");
  SEC(&m, 8, "\x02");
  SEC(&m, 9, "\x02\x00\x23\x00\x0b\x00\x05\x70\x01\xd0\x70\x0b");
  SEC(&m, 12, "\x02");
  SEC(&m, 10, "\x02\x07\x00\x43\x00\x00\x80\x3f\x0b\x02\x00\x0b");
  SEC(&m, 11, "\x02\x00\x41\x10\x0b\x02" "ab" "\x01\x03" "xyz");
  icxModule *mod = decode_ok(&m, 0);
  assert_int_equal(mod->ntypes, 2);
  assert_int_equal(mod->types[0].nparams, 2);
  assert_int_equal(mod->types[0].nresults, 1);
  assert_memory_equal(mod->types[0].types, "\x7f\x7e\x7d", 3);
  assert_int_equal(mod->nimports, 4);
  assert_string_equal(mod->imports[0].module, "env");
  assert_string_equal(mod->imports[0].name, "f");
  assert_int_equal(mod->imports[0].kind, ICX_EXT_FUNC);
  assert_int_equal(mod->imports[0].d.type_idx, 1);
  assert_int_equal(mod->imports[1].d.table.elem_type, ICX_FUNCREF);
  assert_int_equal(mod->imports[1].d.table.lim.min, 1);
  assert_int_equal(mod->imports[1].d.table.lim.max, 5);
  assert_int_equal(mod->imports[1].d.table.lim.has_max, 1);
  assert_int_equal(mod->imports[3].d.global.type, ICX_I32);
  assert_int_equal(mod->nfunc_imports, 1);
  assert_int_equal(mod->nfuncs_total, 3);
  assert_int_equal(mod->func_type_idx[0], 1);
  assert_int_equal(mod->func_type_idx[1], 0);
  assert_int_equal(mod->func_type_idx[2], 1);
  assert_int_equal(mod->ntable_imports, 1);
  assert_int_equal(mod->ntables_total, 2);
  assert_int_equal(mod->tables[1].elem_type, ICX_EXTERNREF);
  assert_int_equal(mod->tables[1].lim.min, 3);
  assert_int_equal(mod->tables[1].lim.has_max, 0);
  assert_int_equal(mod->nmems_total, 1);
  assert_int_equal(mod->nmem_imports, 1);
  assert_int_equal(mod->mems[0].lim.min, 2);
  assert_int_equal(mod->mems[0].lim.is64, 0);
  assert_int_equal(mod->nglobal_imports, 1);
  assert_int_equal(mod->nglobals_total, 3);
  assert_int_equal(mod->globals[1].type.type, ICX_I64);
  assert_int_equal(mod->globals[1].type.mut, 1);
  assert_int_equal(mod->globals[1].init.kind, ICX_CONST_VALUE);
  assert_true(mod->globals[1].init.value == UINT64_MAX);
  assert_int_equal(mod->globals[2].init.kind, ICX_CONST_REF_FUNC);
  assert_int_equal(mod->globals[2].init.value, 2);
  assert_int_equal(mod->nexports, 2);
  assert_string_equal(mod->exports[0].name, "run");
  assert_int_equal(mod->exports[0].kind, ICX_EXT_FUNC);
  assert_int_equal(mod->exports[0].index, 1);
  assert_int_equal(mod->exports[1].kind, ICX_EXT_MEM);
  assert_int_equal(mod->has_start, 1);
  assert_int_equal(mod->start_idx, 2);
  assert_int_equal(mod->nelems, 2);
  assert_int_equal(mod->elems[0].mode, ICX_SEG_ACTIVE);
  assert_int_equal(mod->elems[0].offset.kind, ICX_CONST_GLOBAL);
  assert_int_equal(mod->elems[0].offset.type, ICX_I32);
  assert_int_equal(mod->elems[0].count, 0);
  assert_int_equal(mod->elems[1].mode, ICX_SEG_PASSIVE);
  assert_int_equal(mod->elems[1].elem_type, ICX_FUNCREF);
  assert_int_equal(mod->elems[1].count, 1);
  assert_int_equal(mod->elems[1].items[0].kind, ICX_CONST_REF_NULL);
  assert_int_equal(mod->has_data_count, 1);
  assert_int_equal(mod->ndatas, 2);
  assert_int_equal(mod->datas[0].mode, ICX_SEG_ACTIVE);
  assert_int_equal(mod->datas[0].offset.value, 16);
  assert_int_equal(mod->datas[0].len, 2);
  assert_memory_equal(mod->bytes + mod->datas[0].off, "ab", 2);
  assert_int_equal(mod->datas[1].mode, ICX_SEG_PASSIVE);
  assert_memory_equal(mod->bytes + mod->datas[1].off, "xyz", 3);
  assert_int_equal(mod->funcs[0].code_len, 6);
  /* func 1 exported, func 2 in a global initializer: declared; func 0 not */
  assert_int_equal(mod->func_declared[0], 0x06);
  icxErr err;
  icx_status rc = icxWasm_validate(mod, &err);
  if (rc != ICX_OK) print_error("%s\n", err.msg);
  assert_int_equal(rc, ICX_OK);
  icxWasm_module_free(mod);
}

static void test_decode_memory64_limits_without_feature_are_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 5, "\x01\x05\x02\x80\x80\x80\x80\x80\x80\x40"); /* i64, min 2, max 2^48 */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "memory64 not enabled");
  icxModule *mod = decode_ok(&m, ICX_FEAT_MEMORY64);
  assert_int_equal(mod->mems[0].lim.is64, 1);
  assert_int_equal(mod->mems[0].lim.min, 2);
  assert_true(mod->mems[0].lim.max == ((uint64_t)1 << 48));
  assert_int_equal(icxWasm_validate(mod, &err), ICX_OK);
  icxWasm_module_free(mod);
  m.n = 0; /* 2^48 + 1 pages is invalid */
  put_header(&m);
  SEC(&m, 5, "\x01\x04\x81\x80\x80\x80\x80\x80\x40");
  assert_int_equal(run(m.b, m.n, ICX_FEAT_MEMORY64, &err), ICX_EINVALID);
}

static void test_decode_table64_limits_without_feature_are_malformed(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 4, "\x01\x70\x05\x01\x80\x80\x80\x80\x10"); /* max 2^32: needs 64 bits */
  assert_int_equal(decode_only(m.b, m.n, ICX_FEAT_MEMORY64, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "table64 not enabled");
  icxModule *mod = decode_ok(&m, ICX_FEAT_TABLE64);
  assert_int_equal(mod->tables[0].lim.is64, 1);
  assert_true(mod->tables[0].lim.max == ((uint64_t)1 << 32));
  assert_int_equal(icxWasm_validate(mod, &err), ICX_OK);
  icxWasm_module_free(mod);
}

static void test_decode_shared_memory_is_rejected(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 5, "\x01\x03\x01\x02");
  assert_int_equal(decode_only(m.b, m.n, ICX_FEAT_DEFAULT, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "shared memory");
}

static void test_decode_eight_elem_encodings_are_decoded(void **state) {
  (void)state;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 4, "\x02\x70\x00\x01\x70\x00\x01");
  SEC(&m, 9, "\x08"
             "\x00\x41\x00\x0b\x01\x00"             /* 0: active t0, func indices */
             "\x01\x00\x01\x00"                     /* 1: passive, elemkind */
             "\x02\x01\x41\x00\x0b\x00\x01\x00"     /* 2: active t1, elemkind */
             "\x03\x00\x01\x00"                     /* 3: declarative */
             "\x04\x41\x00\x0b\x01\xd2\x00\x0b"     /* 4: active t0, exprs */
             "\x05\x70\x02\xd0\x70\x0b\xd2\x00\x0b" /* 5: passive, exprs */
             "\x06\x01\x41\x00\x0b\x70\x00"         /* 6: active t1, exprs */
             "\x07\x70\x01\xd2\x00\x0b");           /* 7: declarative, exprs */
  SEC(&m, 10, "\x01\x02\x00\x0b");
  icxModule *mod = decode_ok(&m, 0);
  static const uint8_t modes[8] = {ICX_SEG_ACTIVE,  ICX_SEG_PASSIVE, ICX_SEG_ACTIVE,
                                   ICX_SEG_DECLARATIVE, ICX_SEG_ACTIVE, ICX_SEG_PASSIVE,
                                   ICX_SEG_ACTIVE,  ICX_SEG_DECLARATIVE};
  static const uint32_t tables[8] = {0, 0, 1, 0, 0, 0, 1, 0};
  static const uint32_t counts[8] = {1, 1, 1, 1, 1, 2, 0, 1};
  assert_int_equal(mod->nelems, 8);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(mod->elems[i].mode, modes[i]);
    assert_int_equal(mod->elems[i].table_idx, tables[i]);
    assert_int_equal(mod->elems[i].count, counts[i]);
    assert_int_equal(mod->elems[i].elem_type, ICX_FUNCREF);
  }
  assert_int_equal(mod->elems[5].items[0].kind, ICX_CONST_REF_NULL);
  assert_int_equal(mod->elems[5].items[1].kind, ICX_CONST_REF_FUNC);
  assert_int_equal(mod->func_declared[0] & 1, 1);
  icxErr err;
  assert_int_equal(icxWasm_validate(mod, &err), ICX_OK);
  icxWasm_module_free(mod);
  m.n = 0; /* elem kind other than 0x00 */
  put_header(&m);
  SEC(&m, 9, "\x01\x01\x01\x00");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  m.n = 0; /* flags 8 */
  put_header(&m);
  SEC(&m, 9, "\x01\x08\x00");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
}

static void test_decode_const_expr_not_constant_is_invalid(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 6, "\x01\x7f\x00\x41\x00\x41\x00\x6a\x0b"); /* i32.add */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EINVALID);
  assert_msg_has(&err, "constant expression required");
  m.n = 0;
  put_header(&m);
  SEC(&m, 6, "\x01\x7f\x00\x0b"); /* empty */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EINVALID);
  assert_msg_has(&err, "type mismatch");
  m.n = 0;
  put_header(&m);
  SEC(&m, 6, "\x01\x7f\x00\xff\x0b"); /* not an opcode */
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
}

static void test_decode_simd_types_are_rejected(void **state) {
  (void)state;
  icxErr err;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x01\x7b\x00");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "SIMD not supported");
  m.n = 0;
  put_header(&m);
  SEC(&m, 6, "\x01\x7f\x00\xfd\x0c\x0b");
  assert_int_equal(decode_only(m.b, m.n, 0, &err), ICX_EMALFORMED);
  assert_msg_has(&err, "SIMD not supported");
}

static void test_decode_bad_kinds_and_flags_are_malformed(void **state) {
  (void)state;
  static const struct {
    uint8_t id;
    const char *bytes;
    size_t n;
  } cases[] = {
      {2, "\x01\x00\x00\x04\x00", 5},     /* import kind 4 */
      {7, "\x01\x00\x04\x00", 4},         /* export kind 4 */
      {6, "\x01\x7f\x02\x41\x00\x0b", 6}, /* mutability 2 */
      {5, "\x01\x08\x00", 3},             /* limits flags 8 */
      {4, "\x01\x7f\x00\x00", 4},         /* table of i32 */
      {11, "\x01\x03\x00", 3},            /* data flags 3 */
      {1, "\x01\x5f\x00\x00", 4},         /* function type form */
      {1, "\x01\x60\x01\x40\x00", 5},     /* value type 0x40 */
  };
  icxErr err;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    Buf m = {.n = 0};
    put_header(&m);
    put_sec_raw(&m, cases[i].id, cases[i].bytes, cases[i].n);
    assert_int_equal(decode_only(m.b, m.n, ICX_FEAT_DEFAULT, &err), ICX_EMALFORMED);
  }
}

/* Every allocation failure point yields ICX_ENOMEM and leaks nothing. */
static void test_decode_oom_sweep_reports_enomem_without_leaks(void **state) {
  (void)state;
  Buf m = {.n = 0};
  put_header(&m);
  SEC(&m, 0, "\x01" "c");
  SEC(&m, 1, "\x02\x60\x01\x7f\x00\x60\x00\x00");
  SEC(&m, 2, "\x02\x01" "a" "\x01" "b" "\x00\x01\x01" "a" "\x01" "g" "\x03\x7f\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 4, "\x01\x70\x00\x01");
  SEC(&m, 5, "\x01\x00\x01");
  SEC(&m, 6, "\x01\x7e\x01\x42\x00\x0b");
  SEC(&m, 7, "\x02\x01" "x" "\x00\x01\x01" "y" "\x00\x00");
  SEC(&m, 9, "\x01\x00\x41\x00\x0b\x01\x01");
  SEC(&m, 12, "\x01");
  SEC(&m, 10, "\x01\x07\x01\x02\x7f\x20\x00\x1a\x0b");
  SEC(&m, 11, "\x01\x01\x01" "z");
  int ok = 0;
  for (long k = 0; k < 200 && !ok; k++) {
    AllocStats st = {0, k, 0};
    icxAllocator a = test_allocator(&st);
    icxModule *mod = NULL;
    icxErr err;
    icx_status rc = icxWasm_decode(&a, m.b, m.n, 0, &mod, &err);
    if (rc == ICX_OK) {
      rc = icxWasm_validate(mod, &err);
      icxWasm_module_free(mod);
      if (rc == ICX_OK) ok = 1;
      else assert_int_equal(rc, ICX_ENOMEM);
    } else {
      assert_int_equal(rc, ICX_ENOMEM);
      assert_null(mod);
      assert_msg_has(&err, "out of memory");
    }
  }
  assert_true(ok);
}

/* ---- validator: function bodies ------------------------------------------ */

static void test_validate_simple_body_is_ok(void **state) {
  (void)state;
  icxErr err;
  /* (param i32 i32) (result i32): local.get 0 local.get 1 i32.add */
  assert_int_equal(BODY(0, 0, "\x7f\x7f", "\x7f", "\x20\x00\x20\x01\x6a\x0b", &err), ICX_OK);
  /* block (result i64) i64.const 1 end drop */
  assert_int_equal(BODY(0, 0, "", "", "\x02\x7e\x42\x01\x0b\x1a\x0b", &err), ICX_OK);
  /* loop with br_if back to the loop */
  assert_int_equal(BODY(0, 0, "\x7f", "", "\x03\x40\x20\x00\x0d\x00\x0b\x0b", &err), ICX_OK);
  /* if/else producing f64 */
  assert_int_equal(BODY(0, 0, "\x7f", "\x7c",
                        "\x20\x00\x04\x7c\x44\0\0\0\0\0\0\0\0\x05\x44\0\0\0\0\0\0\xf0\x3f\x0b\x0b",
                        &err),
                   ICX_OK);
}

static void test_validate_type_mismatch_is_invalid(void **state) {
  (void)state;
  icxErr err;
  /* i32.add on i32 and i64 */
  assert_int_equal(BODY(0, 0, "", "\x7f", "\x41\x01\x42\x01\x6a\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "func 0 at offset 0x");
  assert_msg_has(&err, "i32.add: type mismatch");
  /* missing result */
  assert_int_equal(BODY(0, 0, "", "\x7f", "\x0b", &err), ICX_EINVALID);
  /* value left over */
  assert_int_equal(BODY(0, 0, "", "", "\x41\x00\x0b", &err), ICX_EINVALID);
  /* if without else whose params and results differ */
  assert_int_equal(BODY(0, 0, "\x7f", "\x7f", "\x20\x00\x04\x7f\x41\x01\x0b\x0b", &err),
                   ICX_EINVALID);
}

static void test_validate_error_names_function_and_offset(void **state) {
  (void)state;
  icxErr err;
  Buf m;
  body_module(&m, 0, "", "", "\x01\x01\x6a\x0b", 4);
  assert_int_equal(run(m.b, m.n, 0, &err), ICX_EINVALID);
  /* the i32.add sits 3 bytes before the end of the module (6a 0b) */
  char want[64];
  snprintf(want, sizeof want, "func 0 at offset 0x%zx: i32.add", m.n - 2);
  assert_msg_has(&err, want);
}

static void test_validate_unknown_indices_are_invalid(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(BODY(0, 0, "\x7f", "", "\x20\x01\x1a\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown local 1");
  assert_int_equal(BODY(0, 0, "", "", "\x23\x00\x1a\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown global 0");
  assert_int_equal(BODY(0, 0, "", "", "\x10\x01\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown function 1");
  assert_int_equal(BODY(0, 0, "", "", "\x0c\x01\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown label 1");
  assert_int_equal(BODY(0, 0, "", "", "\x41\x00\x28\x02\x00\x1a\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown memory");
  assert_int_equal(BODY(0, 0, "", "", "\x41\x00\x25\x00\x1a\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown table");
  assert_int_equal(BODY(0, 0, "", "", "\x02\x05\x0b\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown type");
  assert_int_equal(BODY(M_DATA | M_MEM32, 0, "", "", "\xfc\x09\x01\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown data segment");
  assert_int_equal(BODY(0, 0, "", "", "\xfc\x0d\x00\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "unknown elem segment");
}

static void test_validate_alignment_above_natural_is_invalid(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x41\x00\x28\x02\x00\x1a\x0b", &err), ICX_OK);
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x41\x00\x28\x03\x00\x1a\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "alignment must not be larger than natural");
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x41\x00\x41\x00\x3a\x01\x00\x0b", &err),
                   ICX_EINVALID);
}

static void test_validate_memory_reserved_byte_is_malformed(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x3f\x00\x1a\x0b", &err), ICX_OK);
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x3f\x01\x1a\x0b", &err), ICX_EMALFORMED);
  assert_msg_has(&err, "zero byte expected");
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x41\x00\x40\x80\x00\x1a\x0b", &err),
                   ICX_EMALFORMED);
  assert_msg_has(&err, "zero byte expected");
}

static void test_validate_simd_opcode_is_rejected(void **state) {
  (void)state;
  icxErr err;
  /* v128.const 0 drop */
  assert_int_equal(BODY(0, ICX_FEAT_DEFAULT, "", "",
                        "\xfd\x0c\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x1a\x0b", &err),
                   ICX_EMALFORMED);
  assert_msg_has(&err, "SIMD not supported");
  assert_int_equal(BODY(0, 0, "", "", "\x02\x7b\x00\x0b\x0b", &err), ICX_EMALFORMED);
  assert_msg_has(&err, "SIMD not supported");
}

static void test_validate_illegal_opcode_and_truncation_are_malformed(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(BODY(0, 0, "", "", "\x06\x0b", &err), ICX_EMALFORMED);
  assert_msg_has(&err, "illegal opcode 0x06");
  assert_int_equal(BODY(0, 0, "", "", "\xfc\x12\x0b", &err), ICX_EMALFORMED);
  /* i32.const whose LEB swallows the final end */
  assert_int_equal(BODY(0, 0, "", "", "\x41\x8b\x0b", &err), ICX_EMALFORMED);
  assert_msg_has(&err, "unexpected end of function body");
  /* code after the function's end */
  assert_int_equal(BODY(0, 0, "", "", "\x0b\x0b", &err), ICX_EMALFORMED);
  assert_msg_has(&err, "operators remaining");
  assert_int_equal(BODY(0, 0, "", "", "\x05\x0b", &err), ICX_EMALFORMED);
}

static void test_validate_unreachable_stack_is_polymorphic(void **state) {
  (void)state;
  icxErr err;
  /* unreachable then i32.add with no operands, result i32 */
  assert_int_equal(BODY(0, 0, "", "\x7f", "\x00\x6a\x0b", &err), ICX_OK);
  /* return then select with unknown operands */
  assert_int_equal(BODY(0, 0, "", "", "\x0f\x1b\x1a\x0b", &err), ICX_OK);
  /* unreachable still checks concrete operands: i64 where i32 needed */
  assert_int_equal(BODY(0, 0, "", "", "\x00\x42\x00\x6a\x1a\x0b", &err), ICX_EINVALID);
  /* untyped select on unknown operands pushes unknown: usable as f32 */
  assert_int_equal(BODY(0, 0, "", "\x7d", "\x00\x1b\x0b", &err), ICX_OK);
}

static void test_validate_br_table_arity_and_types_are_checked(void **state) {
  (void)state;
  icxErr err;
  /* block (result i32) block (result i32) i32.const 1 i32.const 0
   *   br_table 0 1 1 end end */
  assert_int_equal(BODY(0, 0, "", "\x7f",
                        "\x02\x7f\x02\x7f\x41\x01\x41\x00\x0e\x02\x00\x01\x01\x0b\x0b\x0b", &err),
                   ICX_OK);
  /* targets with arities 1 (block i32) and 0 (function) */
  assert_int_equal(BODY(0, 0, "", "", "\x02\x7f\x41\x01\x41\x00\x0e\x01\x00\x01\x0b\x1a\x0b",
                        &err),
                   ICX_EINVALID);
  assert_msg_has(&err, "br_table");
  /* arity equal but types differ, reachable: invalid */
  assert_int_equal(BODY(0, 0, "", "",
                        "\x02\x7e\x02\x7f\x41\x01\x41\x00\x0e\x01\x00\x01\x0b\x1a\x42\x00\x0b\x1a"
                        "\x0b",
                        &err),
                   ICX_EINVALID);
  /* same, unreachable: labels i64 and i32 both accept an unknown operand */
  assert_int_equal(BODY(0, 0, "", "",
                        "\x02\x7e\x02\x7f\x00\x0e\x01\x00\x01\x0b\x1a\x42\x00\x0b\x1a\x0b", &err),
                   ICX_OK);
}

static void test_validate_select_operand_rules_are_enforced(void **state) {
  (void)state;
  icxErr err;
  /* untyped select on funcref operands is invalid */
  assert_int_equal(BODY(0, 0, "", "", "\xd0\x70\xd0\x70\x41\x01\x1b\x1a\x0b", &err), ICX_EINVALID);
  /* typed select on funcref is fine */
  assert_int_equal(BODY(0, 0, "", "", "\xd0\x70\xd0\x70\x41\x01\x1c\x01\x70\x1a\x0b", &err),
                   ICX_OK);
  /* typed select with two types */
  assert_int_equal(BODY(0, 0, "", "", "\x41\x01\x41\x01\x41\x01\x1c\x02\x7f\x7f\x1a\x0b", &err),
                   ICX_EINVALID);
  /* untyped select on i32 and i64 */
  assert_int_equal(BODY(0, 0, "", "", "\x41\x01\x42\x01\x41\x01\x1b\x1a\x0b", &err), ICX_EINVALID);
}

static void test_validate_immutable_global_and_undeclared_ref_are_invalid(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(BODY(M_GLOBALS, 0, "", "", "\x42\x01\x24\x01\x0b", &err), ICX_OK);
  assert_int_equal(BODY(M_GLOBALS, 0, "", "", "\x41\x01\x24\x00\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "global is immutable");
  assert_int_equal(BODY(0, 0, "", "", "\xd2\x00\x1a\x0b", &err), ICX_EINVALID);
  assert_msg_has(&err, "undeclared function reference");
  assert_int_equal(BODY(M_ELEMDECL, 0, "", "", "\xd2\x00\x1a\x0b", &err), ICX_OK);
  assert_int_equal(BODY(0, 0, "", "\x7f", "\xd0\x6f\xd1\x0b", &err), ICX_OK);
  assert_int_equal(BODY(0, 0, "", "\x7f", "\x41\x00\xd1\x0b", &err), ICX_EINVALID);
}

static void test_validate_bulk_memory_without_data_count_is_malformed(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(BODY(M_MEM32 | M_DATA, 0, "", "",
                        "\x41\x00\x41\x00\x41\x02\xfc\x08\x00\x00\xfc\x09\x00\x0b", &err),
                   ICX_OK);
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\xfc\x09\x00\x0b", &err), ICX_EMALFORMED);
  assert_msg_has(&err, "data count section required");
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x00\x0b", &err),
                   ICX_OK);
  assert_int_equal(BODY(M_MEM32, 0, "", "", "\x41\x00\x41\x00\x41\x00\xfc\x0b\x01\x0b", &err),
                   ICX_EMALFORMED);
}

static void test_validate_memory64_addresses_are_i64(void **state) {
  (void)state;
  icxErr err;
  const uint32_t f = ICX_FEAT_MEMORY64;
  /* i64.const 0 i32.load offset=2^40 */
  assert_int_equal(BODY(M_MEM64, f, "", "", "\x42\x00\x28\x02\x80\x80\x80\x80\x80\x20\x1a\x0b",
                        &err),
                   ICX_OK);
  assert_int_equal(BODY(M_MEM64, f, "", "", "\x41\x00\x28\x02\x00\x1a\x0b", &err), ICX_EINVALID);
  /* the same large offset on a 32-bit memory is invalid */
  assert_int_equal(BODY(M_MEM32, f, "", "", "\x41\x00\x28\x02\x80\x80\x80\x80\x80\x20\x1a\x0b",
                        &err),
                   ICX_EINVALID);
  /* memory.size/grow are i64 */
  assert_int_equal(BODY(M_MEM64, f, "", "\x7e", "\x3f\x00\x40\x00\x0b", &err), ICX_OK);
  assert_int_equal(BODY(M_MEM64, f, "", "\x7f", "\x3f\x00\x40\x00\x0b", &err), ICX_EINVALID);
  /* memory.fill: i64 dest, i32 value, i64 length */
  assert_int_equal(BODY(M_MEM64, f, "", "", "\x42\x00\x41\x00\x42\x00\xfc\x0b\x00\x0b", &err),
                   ICX_OK);
  /* memory.init: i64 dest, i32 source and length */
  assert_int_equal(BODY(M_MEM64 | M_DATA, f, "", "",
                        "\x42\x00\x41\x00\x41\x00\xfc\x08\x00\x00\x0b", &err),
                   ICX_OK);
  /* memory.copy: all i64 */
  assert_int_equal(BODY(M_MEM64, f, "", "", "\x42\x00\x42\x00\x41\x00\xfc\x0a\x00\x00\x0b", &err),
                   ICX_EINVALID);
}

static void test_validate_table64_indices_are_i64(void **state) {
  (void)state;
  icxErr err;
  const uint32_t f = ICX_FEAT_DEFAULT;
  assert_int_equal(BODY(M_TAB64, f, "", "", "\x42\x00\x25\x00\x1a\x0b", &err), ICX_OK);
  assert_int_equal(BODY(M_TAB64, f, "", "", "\x41\x00\x25\x00\x1a\x0b", &err), ICX_EINVALID);
  assert_int_equal(BODY(M_TAB32, f, "", "", "\x41\x00\x25\x00\x1a\x0b", &err), ICX_OK);
  /* call_indirect (type 0) on table 0 takes an i64 index */
  assert_int_equal(BODY(M_TAB64, f, "", "", "\x42\x00\x11\x00\x00\x0b", &err), ICX_OK);
  assert_int_equal(BODY(M_TAB64, f, "", "", "\x41\x00\x11\x00\x00\x0b", &err), ICX_EINVALID);
  /* table.size / table.grow are i64 */
  assert_int_equal(BODY(M_TAB64, f, "", "\x7e", "\xfc\x10\x00\x0b", &err), ICX_OK);
  assert_int_equal(BODY(M_TAB64, f, "", "\x7e", "\xd0\x70\x42\x01\xfc\x0f\x00\x0b", &err), ICX_OK);
  /* table.fill: i64 index, ref, i64 length */
  assert_int_equal(BODY(M_TAB64, f, "", "", "\x42\x00\xd0\x70\x42\x01\xfc\x11\x00\x0b", &err),
                   ICX_OK);
}

static void test_validate_table_copy_mixed_index_types_uses_i32_length(void **state) {
  (void)state;
  icxErr err;
  const uint32_t f = ICX_FEAT_DEFAULT;
  Buf m = {.n = 0};
  /* table 0: funcref i64, table 1: funcref i32; table.copy 0 1: dst i64,
   * src i32, length i32 (the smaller index type) */
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 4, "\x02\x70\x04\x01\x70\x00\x01");
  SEC(&m, 10, "\x01\x0c\x00\x42\x00\x41\x00\x41\x00\xfc\x0e\x00\x01\x0b");
  assert_int_equal(run(m.b, m.n, f, &err), ICX_OK);
  m.n = 0; /* a length of i64 is rejected */
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x00\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 4, "\x02\x70\x04\x01\x70\x00\x01");
  SEC(&m, 10, "\x01\x0c\x00\x42\x00\x41\x00\x42\x00\xfc\x0e\x00\x01\x0b");
  assert_int_equal(run(m.b, m.n, f, &err), ICX_EINVALID);
  /* table.copy between funcref and externref tables */
  assert_int_equal(BODY(M_TAB2, f, "", "", "\x41\x00\x41\x00\x41\x00\xfc\x0e\x00\x01\x0b", &err),
                   ICX_EINVALID);
}

static size_t put_leb(uint8_t *p, uint32_t v) {
  size_t k = 0;
  do {
    uint8_t x = (uint8_t)(v & 0x7fu);
    v >>= 7;
    p[k++] = (uint8_t)(x | (v ? 0x80u : 0u));
  } while (v);
  return k;
}

/* A module with one [] -> [] function whose instructions are code[0..n),
 * for bodies too large for Buf.  out needs n + 32 bytes. */
static size_t big_module(uint8_t *out, const uint8_t *code, size_t n) {
  uint8_t tmp[5];
  size_t k = 18, bl = put_leb(tmp, (uint32_t)n + 1u);
  memcpy(out, "\0asm\1\0\0\0\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00", 18);
  out[k++] = 0x0a;
  k += put_leb(out + k, (uint32_t)(1u + bl + 1u + n));
  out[k++] = 1;
  k += put_leb(out + k, (uint32_t)n + 1u);
  out[k++] = 0; /* no locals */
  memcpy(out + k, code, n);
  return k + n;
}

static void test_validate_nesting_above_limit_is_invalid(void **state) {
  (void)state;
  icxErr err;
  const size_t cap = 3u * (ICX_MAX_NESTING + 1u) + 1u;
  uint8_t *code = test_malloc(cap), *mod = test_malloc(cap + 32u);
  for (uint32_t depth = ICX_MAX_NESTING; depth <= ICX_MAX_NESTING + 1u; depth++) {
    size_t n = 0;
    for (uint32_t i = 0; i < depth; i++) code[n++] = 0x02, code[n++] = 0x40;
    for (uint32_t i = 0; i < depth; i++) code[n++] = 0x0b;
    code[n++] = 0x0b;
    icx_status rc = run(mod, big_module(mod, code, n), 0, &err);
    assert_int_equal(rc, depth == ICX_MAX_NESTING ? ICX_OK : ICX_EINVALID);
  }
  assert_msg_has(&err, "nesting");
  test_free(code);
  test_free(mod);
}

/* A br_table with many targets to the same labels is checked in linear
 * time and accepted. */
static void test_validate_large_br_table_is_ok(void **state) {
  (void)state;
  icxErr err;
  const uint32_t ntargets = 200000;
  uint8_t *code = test_malloc(ntargets + 64u), *mod = test_malloc(ntargets + 96u);
  size_t n = 0;
  /* block (result i32) i32.const 7 i32.const 0 br_table 0 0 ... 1 end drop */
  code[n++] = 0x02, code[n++] = 0x7f, code[n++] = 0x41, code[n++] = 0x07;
  code[n++] = 0x41, code[n++] = 0x00, code[n++] = 0x0e;
  n += put_leb(code + n, ntargets);
  memset(code + n, 0x00, ntargets), n += ntargets;
  code[n++] = 0x00;
  code[n++] = 0x0b, code[n++] = 0x1a, code[n++] = 0x0b;
  assert_int_equal(run(mod, big_module(mod, code, n), 0, &err), ICX_OK);
  test_free(code);
  test_free(mod);
}

/* ---- validator: module level -------------------------------------------- */

static void test_validate_module_level_violations_are_invalid(void **state) {
  (void)state;
  static const struct {
    uint8_t id;
    const char *bytes;
    size_t n;
    const char *msg;
  } cases[] = {
      {5, "\x02\x00\x01\x00\x01", 5, "multiple memories"},
      {5, "\x01\x01\x02\x01", 4, "minimum must not be greater than maximum"},
      {5, "\x01\x00\x81\x80\x04", 5, "at most 65536"},
      {4, "\x01\x70\x01\x02\x01", 5, "minimum must not be greater than maximum"},
      {6, "\x01\x7f\x00\x42\x00\x0b", 6, "type mismatch"},
      {6, "\x01\x7f\x00\x23\x00\x0b", 6, "unknown global"},
      {6, "\x01\x70\x00\xd2\x00\x0b", 6, "unknown function"},
      {7, "\x01\x01x\x00\x00", 5, "unknown function"},
      {8, "\x00", 1, "unknown function"},
      {9, "\x01\x00\x41\x00\x0b\x00", 6, "unknown table"},
      {11, "\x01\x00\x41\x00\x0b\x00", 6, "unknown memory"},
  };
  icxErr err;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    Buf m = {.n = 0};
    put_header(&m);
    put_sec_raw(&m, cases[i].id, cases[i].bytes, cases[i].n);
    icx_status rc = run(m.b, m.n, 0, &err);
    if (rc != ICX_EINVALID) print_error("case %zu: rc %d %s\n", i, rc, err.msg);
    assert_int_equal(rc, ICX_EINVALID);
    assert_msg_has(&err, cases[i].msg);
  }
  Buf m = {.n = 0}; /* duplicate export name */
  put_header(&m);
  SEC(&m, 5, "\x01\x00\x01");
  SEC(&m, 7, "\x03\x01x\x02\x00\x01y\x02\x00\x01x\x02\x00");
  assert_int_equal(run(m.b, m.n, 0, &err), ICX_EINVALID);
  assert_msg_has(&err, "duplicate export name \"x\"");
  m.n = 0; /* start function must be [] -> [] */
  put_header(&m);
  SEC(&m, 1, "\x01\x60\x01\x7f\x00");
  SEC(&m, 3, "\x01\x00");
  SEC(&m, 8, "\x00");
  SEC(&m, 10, "\x01\x02\x00\x0b");
  assert_int_equal(run(m.b, m.n, 0, &err), ICX_EINVALID);
  assert_msg_has(&err, "start function");
  m.n = 0; /* global.get of a mutable import in a constant expression */
  put_header(&m);
  SEC(&m, 2, "\x01\x01m\x01g\x03\x7f\x01");
  SEC(&m, 6, "\x01\x7f\x00\x23\x00\x0b");
  assert_int_equal(run(m.b, m.n, 0, &err), ICX_EINVALID);
  assert_msg_has(&err, "constant expression required");
  m.n = 0; /* ... of an immutable import is fine */
  put_header(&m);
  SEC(&m, 2, "\x01\x01m\x01g\x03\x7f\x00");
  SEC(&m, 6, "\x01\x7f\x00\x23\x00\x0b");
  assert_int_equal(run(m.b, m.n, 0, &err), ICX_OK);
  m.n = 0; /* externref segment into a funcref table */
  put_header(&m);
  SEC(&m, 4, "\x01\x70\x00\x01");
  SEC(&m, 9, "\x01\x04\x41\x00\x0b\x00"); /* flags 4: funcref, ok */
  assert_int_equal(run(m.b, m.n, 0, &err), ICX_OK);
  m.n = 0;
  put_header(&m);
  SEC(&m, 4, "\x01\x70\x00\x01");
  SEC(&m, 9, "\x01\x06\x00\x41\x00\x0b\x6f\x00");
  assert_int_equal(run(m.b, m.n, 0, &err), ICX_EINVALID);
  assert_msg_has(&err, "type mismatch");
  m.n = 0; /* memory64 data offset must be i64 */
  put_header(&m);
  SEC(&m, 5, "\x01\x04\x01");
  SEC(&m, 11, "\x01\x00\x41\x00\x0b\x00");
  assert_int_equal(run(m.b, m.n, ICX_FEAT_MEMORY64, &err), ICX_EINVALID);
  m.n = 0;
  put_header(&m);
  SEC(&m, 5, "\x01\x04\x01");
  SEC(&m, 11, "\x01\x00\x42\x00\x0b\x00");
  assert_int_equal(run(m.b, m.n, ICX_FEAT_MEMORY64, &err), ICX_OK);
  m.n = 0; /* table64 elem offset must be i64 */
  put_header(&m);
  SEC(&m, 4, "\x01\x70\x04\x01");
  SEC(&m, 9, "\x01\x00\x42\x00\x0b\x00");
  assert_int_equal(run(m.b, m.n, ICX_FEAT_TABLE64, &err), ICX_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_leb_u32_valid_encodings_decode),
      cmocka_unit_test(test_leb_u32_overlong_is_rejected),
      cmocka_unit_test(test_leb_u32_unused_bits_set_is_rejected),
      cmocka_unit_test(test_leb_truncated_is_rejected_cursor_unchanged),
      cmocka_unit_test(test_leb_s32_sign_bits_are_checked),
      cmocka_unit_test(test_leb_64bit_and_s33_boundaries_are_exact),
      cmocka_unit_test(test_rd_bytes_past_end_fails),
      cmocka_unit_test(test_decode_empty_module_is_ok),
      cmocka_unit_test(test_decode_bad_magic_or_version_is_malformed),
      cmocka_unit_test(test_decode_module_above_size_limit_is_malformed),
      cmocka_unit_test(test_decode_section_out_of_order_is_malformed),
      cmocka_unit_test(test_decode_custom_sections_anywhere_are_kept),
      cmocka_unit_test(test_decode_section_size_mismatch_is_malformed),
      cmocka_unit_test(test_decode_unknown_section_id_is_malformed),
      cmocka_unit_test(test_decode_overlong_section_size_leb_is_malformed),
      cmocka_unit_test(test_decode_huge_count_fails_without_large_allocation),
      cmocka_unit_test(test_decode_count_above_limit_is_malformed),
      cmocka_unit_test(test_decode_function_code_count_mismatch_is_malformed),
      cmocka_unit_test(test_decode_data_count_mismatch_is_malformed),
      cmocka_unit_test(test_decode_invalid_utf8_name_is_malformed),
      cmocka_unit_test(test_decode_too_many_locals_is_malformed),
      cmocka_unit_test(test_decode_locals_are_expanded),
      cmocka_unit_test(test_decode_body_without_final_end_is_malformed),
      cmocka_unit_test(test_decode_full_module_fills_every_ir_field),
      cmocka_unit_test(test_decode_memory64_limits_without_feature_are_malformed),
      cmocka_unit_test(test_decode_table64_limits_without_feature_are_malformed),
      cmocka_unit_test(test_decode_shared_memory_is_rejected),
      cmocka_unit_test(test_decode_eight_elem_encodings_are_decoded),
      cmocka_unit_test(test_decode_const_expr_not_constant_is_invalid),
      cmocka_unit_test(test_decode_simd_types_are_rejected),
      cmocka_unit_test(test_decode_bad_kinds_and_flags_are_malformed),
      cmocka_unit_test(test_decode_oom_sweep_reports_enomem_without_leaks),
      cmocka_unit_test(test_validate_simple_body_is_ok),
      cmocka_unit_test(test_validate_type_mismatch_is_invalid),
      cmocka_unit_test(test_validate_error_names_function_and_offset),
      cmocka_unit_test(test_validate_unknown_indices_are_invalid),
      cmocka_unit_test(test_validate_alignment_above_natural_is_invalid),
      cmocka_unit_test(test_validate_memory_reserved_byte_is_malformed),
      cmocka_unit_test(test_validate_simd_opcode_is_rejected),
      cmocka_unit_test(test_validate_illegal_opcode_and_truncation_are_malformed),
      cmocka_unit_test(test_validate_unreachable_stack_is_polymorphic),
      cmocka_unit_test(test_validate_br_table_arity_and_types_are_checked),
      cmocka_unit_test(test_validate_select_operand_rules_are_enforced),
      cmocka_unit_test(test_validate_immutable_global_and_undeclared_ref_are_invalid),
      cmocka_unit_test(test_validate_bulk_memory_without_data_count_is_malformed),
      cmocka_unit_test(test_validate_memory64_addresses_are_i64),
      cmocka_unit_test(test_validate_table64_indices_are_i64),
      cmocka_unit_test(test_validate_table_copy_mixed_index_types_uses_i32_length),
      cmocka_unit_test(test_validate_nesting_above_limit_is_invalid),
      cmocka_unit_test(test_validate_large_br_table_is_ok),
      cmocka_unit_test(test_validate_module_level_violations_are_invalid),
  };
  return cmocka_run_group_tests_name("unit_wasm_decode", tests, NULL, NULL);
}
