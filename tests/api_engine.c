/* api_engine.c -- black-box tests of the public API (include/icexec.h only):
 * versions and constants, status texts, engine, module and instance
 * lifecycle, calls, traps as outcomes, metering, misuse and out-of-memory.
 *
 * Fixtures: tests/wat/api_*.wat, built by make into ICX_TEST_WASM_DIR.
 * Every engine here allocates through cmocka's test_realloc/test_free, so
 * each test is also a leak check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "icexec.h"

#ifndef ICX_TEST_WASM_DIR
#define ICX_TEST_WASM_DIR "build/wat"
#endif

/* ---- fixtures ------------------------------------------------------------- */

/* Allocator state: counts calls; fails every allocation once `fail_after`
 * successful ones have been made (when fail_after >= 0). */
typedef struct alloc_state {
  long allocs;
  long fail_after;
} alloc_state;

static void *test_alloc_fn(void *ud, void *ptr, size_t old_size, size_t new_size) {
  alloc_state *st = ud;
  (void)old_size;
  if (new_size == 0) {
    if (ptr) test_free(ptr);
    return NULL;
  }
  if (st) {
    if (st->fail_after >= 0 && st->allocs >= st->fail_after) return NULL;
    st->allocs++;
  }
  return test_realloc(ptr, new_size);
}

static icx_engine *new_engine_with(alloc_state *st) {
  icx_engine_opts opts;
  icx_engine *e = NULL;
  icx_engine_opts_init(&opts);
  opts.realloc_fn = test_alloc_fn;
  opts.realloc_ud = st;
  assert_int_equal(icx_engine_new(&opts, &e), ICX_OK);
  assert_non_null(e);
  return e;
}

static icx_engine *new_engine(void) { return new_engine_with(NULL); }

typedef struct blob {
  uint8_t *bytes;
  size_t len;
} blob;

/* Load ICX_TEST_WASM_DIR/name.wasm (fails the test if absent). */
static blob load_wasm(const char *name) {
  char path[512];
  blob b = {NULL, 0};
  snprintf(path, sizeof path, "%s/%s.wasm", ICX_TEST_WASM_DIR, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (run the tests through make)", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  assert_true(n > 0);
  b.bytes = malloc((size_t)n);
  assert_non_null(b.bytes);
  assert_int_equal(fread(b.bytes, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  b.len = (size_t)n;
  return b;
}

static icx_module *new_module(icx_engine *e, const char *name, uint32_t flags) {
  blob b = load_wasm(name);
  icx_module *m = NULL;
  icx_status rc = icx_module_new(e, b.bytes, b.len, flags, &m);
  free(b.bytes);
  if (rc != ICX_OK) fail_msg("icx_module_new(%s): %s: %s", name, icx_strerror(rc), icx_errmsg(e));
  return m;
}

static icx_instance *new_instance(icx_engine *e, icx_module *m) {
  icx_instance *inst = NULL;
  icx_status rc = icx_instance_new(e, m, &inst);
  if (rc != ICX_OK) fail_msg("icx_instance_new: %s: %s", icx_strerror(rc), icx_errmsg(e));
  return inst;
}

static icx_value i32v(uint32_t x) {
  icx_value v = {ICX_TYPE_I32, 0, x};
  return v;
}

/* A test setup: engine, metered or plain module api_main, instance. */
typedef struct world {
  icx_engine *e;
  icx_module *m;
  icx_instance *i;
} world;

static world make_world(uint32_t flags) {
  world w;
  w.e = new_engine();
  w.m = new_module(w.e, "api_main", flags);
  w.i = new_instance(w.e, w.m);
  return w;
}

static void free_world(world *w) {
  icx_instance_free(w->i);
  icx_module_free(w->m);
  icx_engine_free(w->e);
}

/* Call an export taking one i32 and returning one i32; fails on error. */
static uint32_t call_i32(icx_instance *i, const char *name, uint32_t arg, icx_call_result *out) {
  icx_value a = i32v(arg), r;
  icx_status rc = icx_instance_call(i, name, &a, 1, &r, 1, out);
  assert_int_equal(rc, ICX_OK);
  return (uint32_t)r.bits;
}

/* Bytes that are no Wasm module: valid header, then a type section that
 * claims 5 bytes but has 2. */
static const uint8_t malformed_wasm[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00,
                                         0x00, 0x00, 0x01, 0x05, 0x01, 0x60};
/* Decodes, fails validation: a function of type [] -> [i32] with an empty
 * body. */
static const uint8_t invalid_wasm[] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01,
                                       0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01,
                                       0x00, 0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b};

/* ---- versions, constants, texts ------------------------------------------- */

static void test_version_twins_agree(void **state) {
  (void)state;
  assert_int_equal(icx_version_number(), ICX_VERSION_NUMBER);
  assert_string_equal(icx_version_string(), ICX_VERSION_STRING);
  assert_int_equal(ICX_VERSION_NUMBER,
                   ICX_VERSION_MAJOR * 1000000 + ICX_VERSION_MINOR * 1000 + ICX_VERSION_PATCH);
  char s[64];
  snprintf(s, sizeof s, "%d.%d.%d", ICX_VERSION_MAJOR, ICX_VERSION_MINOR, ICX_VERSION_PATCH);
  assert_string_equal(s, ICX_VERSION_STRING);
}

static void test_constant_twins_agree(void **state) {
  (void)state;
  assert_int_equal(icx_wasm_page_size(), ICX_WASM_PAGE_SIZE);
  assert_int_equal(ICX_WASM_PAGE_SIZE, 65536);
  assert_int_equal(icx_status_count(), ICX_STATUS_COUNT);
  assert_int_equal(icx_module_meter_flag(), ICX_MODULE_METER);
  assert_int_equal(ICX_STATUS_COUNT, ICX_EIO + 1);
}

static void test_strerror_every_code_has_own_static_text(void **state) {
  (void)state;
  const char *unknown = icx_strerror(-1);
  assert_non_null(unknown);
  assert_true(strlen(unknown) > 0);
  for (int32_t c = 0; c < ICX_STATUS_COUNT; c++) {
    const char *s = icx_strerror(c);
    assert_non_null(s);
    assert_true(strlen(s) > 0);
    assert_string_not_equal(s, unknown);
    assert_ptr_equal(s, icx_strerror(c)); /* static: the same text each time */
    for (int32_t d = 0; d < c; d++) assert_string_not_equal(s, icx_strerror(d));
  }
  assert_string_equal(icx_strerror(ICX_STATUS_COUNT), unknown);
  assert_string_equal(icx_strerror(1000), unknown);
  assert_string_equal(icx_strerror(INT32_MIN), unknown);
  assert_string_equal(icx_strerror(INT32_MAX), unknown);
}

static void test_limit_known_ids_positive_unknown_zero(void **state) {
  (void)state;
  for (int32_t id = ICX_LIMIT_MODULE_BYTES; id <= ICX_LIMIT_MEM64_PAGES; id++)
    assert_true(icx_limit(id) > 0);
  assert_int_equal(icx_limit(0), 0);
  assert_int_equal(icx_limit(ICX_LIMIT_MEM64_PAGES + 1), 0);
  assert_int_equal(icx_limit(-1), 0);
  assert_int_equal(icx_limit(ICX_LIMIT_MODULE_BYTES), 100u * 1024u * 1024u);
}

static void test_trap_text_known_and_unknown_codes(void **state) {
  (void)state;
  const char *unknown = icx_trap_text(-1);
  assert_non_null(unknown);
  assert_string_equal(icx_trap_text(1000), unknown);
  assert_non_null(icx_trap_text(ICX_TRAPCODE_NONE));
  for (int32_t c = ICX_TRAPCODE_UNREACHABLE; c <= ICX_TRAPCODE_NULL_REF; c++) {
    const char *s = icx_trap_text(c);
    assert_non_null(s);
    assert_true(strlen(s) > 0);
    assert_string_not_equal(s, unknown);
  }
  assert_string_equal(icx_trap_text(ICX_TRAPCODE_UNREACHABLE), "unreachable");
  assert_string_equal(icx_trap_text(ICX_TRAPCODE_DIV_ZERO), "integer divide by zero");
}

/* ---- engine --------------------------------------------------------------- */

static void test_engine_new_null_opts_ok(void **state) {
  (void)state;
  icx_engine *e = NULL;
  assert_int_equal(icx_engine_new(NULL, &e), ICX_OK);
  assert_non_null(e);
  assert_string_equal(icx_errmsg(e), "");
  icx_engine_free(e);
}

static void test_engine_new_opts_init_macro_ok(void **state) {
  (void)state;
  icx_engine_opts opts = ICX_ENGINE_OPTS_INIT;
  icx_engine *e = NULL;
  assert_int_equal(opts.struct_size, sizeof opts);
  assert_int_equal(opts.header_version, ICX_VERSION_NUMBER);
  assert_int_equal(icx_engine_new(&opts, &e), ICX_OK);
  icx_engine_free(e);
}

static void test_engine_new_uses_allocator_hook(void **state) {
  (void)state;
  alloc_state st = {0, -1};
  icx_engine *e = new_engine_with(&st);
  assert_true(st.allocs >= 1);
  long before = st.allocs;
  icx_module *m = new_module(e, "api_main", 0);
  assert_true(st.allocs > before);
  icx_module_free(m);
  icx_engine_free(e);
}

static void test_engine_new_bad_opts_fail_and_zero_out(void **state) {
  (void)state;
  icx_engine_opts opts;
  icx_engine *e = (icx_engine *)&opts; /* must be reset to NULL */

  assert_int_equal(icx_engine_new(NULL, NULL), ICX_EINVAL);

  icx_engine_opts_init(&opts);
  opts.struct_size = 4;
  assert_int_equal(icx_engine_new(&opts, &e), ICX_EINVAL);
  assert_null(e);

  icx_engine_opts_init(&opts);
  opts.header_version = (ICX_VERSION_MAJOR + 1) * 1000000;
  assert_int_equal(icx_engine_new(&opts, &e), ICX_EVERSION);
  assert_null(e);

  icx_engine_opts_init(&opts);
  opts.header_version = 0;
  assert_int_equal(icx_engine_new(&opts, &e), ICX_EVERSION);
  assert_null(e);
}

static void test_engine_new_larger_struct_from_newer_header_ok(void **state) {
  (void)state;
  /* A newer header's struct is larger; its extra (zero) fields are ignored. */
  struct {
    icx_engine_opts o;
    uint64_t future[4];
  } big;
  memset(&big, 0, sizeof big);
  big.o.struct_size = (uint32_t)sizeof big;
  big.o.header_version = ICX_VERSION_NUMBER + 1;
  icx_engine *e = NULL;
  assert_int_equal(icx_engine_new(&big.o, &e), ICX_OK);
  icx_engine_free(e);
}

static void test_engine_new_out_of_memory_enomem(void **state) {
  (void)state;
  alloc_state st = {0, 0};
  icx_engine_opts opts;
  icx_engine *e = NULL;
  icx_engine_opts_init(&opts);
  opts.realloc_fn = test_alloc_fn;
  opts.realloc_ud = &st;
  assert_int_equal(icx_engine_new(&opts, &e), ICX_ENOMEM);
  assert_null(e);
}

static void test_free_null_is_noop(void **state) {
  (void)state;
  icx_engine_free(NULL);
  icx_module_free(NULL);
  icx_instance_free(NULL);
}

static void test_errmsg_invalid_engine_static_text(void **state) {
  (void)state;
  uint32_t fake[64];
  memset(fake, 0, sizeof fake);
  const char *s = icx_errmsg(NULL);
  assert_non_null(s);
  assert_true(strlen(s) > 0);
  assert_string_equal(icx_errmsg((const icx_engine *)fake), s);
}

static void test_errmsg_kept_until_next_call_then_cleared(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = NULL;
  assert_int_equal(icx_module_new(e, malformed_wasm, sizeof malformed_wasm, 0, &m), ICX_EMALFORMED);
  char saved[512];
  snprintf(saved, sizeof saved, "%s", icx_errmsg(e));
  assert_true(strlen(saved) > 0);
  /* Reading the message and other error-free queries do not change it. */
  assert_string_equal(icx_errmsg(e), saved);
  (void)icx_strerror(ICX_EINVAL);
  assert_string_equal(icx_errmsg(e), saved);
  m = new_module(e, "api_main", 0);
  assert_string_equal(icx_errmsg(e), "");
  icx_module_free(m);
  icx_engine_free(e);
}

static void test_engine_free_releases_live_modules_and_instances(void **state) {
  (void)state;
  /* No explicit frees of m or i: cmocka reports a leak if the engine does
   * not release them. */
  icx_engine *e = new_engine();
  icx_module *m = new_module(e, "api_main", 0);
  icx_instance *i1 = new_instance(e, m);
  icx_instance *i2 = new_instance(e, m);
  (void)i1;
  (void)i2;
  icx_engine_free(e);
}

static void test_fake_engine_handle_emisuse(void **state) {
  (void)state;
  uint32_t fake[64];
  memset(fake, 0, sizeof fake);
  icx_engine *fe = (icx_engine *)fake;
  icx_module *m = (icx_module *)fake;
  icx_instance *i = NULL;
  blob b = load_wasm("api_main");
  assert_int_equal(icx_module_new(NULL, b.bytes, b.len, 0, &m), ICX_EMISUSE);
  assert_null(m);
  assert_int_equal(icx_module_new(fe, b.bytes, b.len, 0, &m), ICX_EMISUSE);
  assert_null(m);
  free(b.bytes);
  assert_int_equal(icx_instance_new(NULL, NULL, &i), ICX_EMISUSE);
  assert_int_equal(icx_instance_new(fe, NULL, &i), ICX_EMISUSE);
  assert_null(i);
  icx_engine_free(fe); /* an invalid handle is ignored */
  icx_module_free((icx_module *)fake);
  icx_instance_free((icx_instance *)fake);
}

/* ---- modules -------------------------------------------------------------- */

static void test_module_new_input_copied(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  blob b = load_wasm("api_main");
  icx_module *m = NULL;
  assert_int_equal(icx_module_new(e, b.bytes, b.len, 0, &m), ICX_OK);
  assert_non_null(m);
  memset(b.bytes, 0xff, b.len); /* the module must not look at these again */
  free(b.bytes);
  icx_instance *i = new_instance(e, m);
  assert_int_equal(call_i32(i, "loop", 7, NULL), 7);
  icx_instance_free(i);
  icx_module_free(m);
  icx_engine_free(e);
}

static void test_module_new_malformed_emalformed_with_offset(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = (icx_module *)e;
  assert_int_equal(icx_module_new(e, malformed_wasm, sizeof malformed_wasm, 0, &m), ICX_EMALFORMED);
  assert_null(m);
  assert_non_null(strstr(icx_errmsg(e), "offset"));
  /* Not even a header. */
  static const uint8_t junk[] = {'h', 'e', 'l', 'l', 'o'};
  assert_int_equal(icx_module_new(e, junk, sizeof junk, 0, &m), ICX_EMALFORMED);
  assert_true(strlen(icx_errmsg(e)) > 0);
  /* Empty input. */
  assert_int_equal(icx_module_new(e, NULL, 0, 0, &m), ICX_EMALFORMED);
  assert_null(m);
  icx_engine_free(e);
}

static void test_module_new_wat_compiles_text_and_reports_lines(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = NULL;
  icx_instance *inst = NULL;
  static const char wat[] =
      "(module (func (export \"mul\") (param i64 i64) (result i64)\n"
      "  (i64.mul (local.get 0) (local.get 1))))";
  assert_int_equal(icx_module_new_wat(e, wat, strlen(wat), ICX_MODULE_METER, &m), ICX_OK);
  assert_int_equal(icx_instance_new(e, m, &inst), ICX_OK);
  icx_value args[2] = {{ICX_TYPE_I64, 0, 6}, {ICX_TYPE_I64, 0, 7}}, r;
  icx_call_result out = ICX_CALL_RESULT_INIT;
  assert_int_equal(icx_instance_call(inst, "mul", args, 2, &r, 1, &out), ICX_OK);
  assert_false(out.trapped);
  assert_int_equal(r.bits, 42);
  /* text that does not parse: the message locates it */
  static const char bad[] = "(module\n  (func (i32.frobnicate)))";
  icx_module *m2 = (icx_module *)e;
  assert_int_equal(icx_module_new_wat(e, bad, strlen(bad), 0, &m2), ICX_EMALFORMED);
  assert_null(m2);
  assert_non_null(strstr(icx_errmsg(e), "line 2"));
  /* text that parses but does not validate */
  static const char inval[] = "(module (func (result i32) (i64.const 1)))";
  assert_int_equal(icx_module_new_wat(e, inval, strlen(inval), 0, &m2), ICX_EINVALID);
  assert_int_equal(icx_module_new_wat(e, NULL, 3, 0, &m2), ICX_EINVAL);
  assert_int_equal(icx_module_new_wat(NULL, wat, strlen(wat), 0, &m2), ICX_EMISUSE);
  icx_engine_free(e);
}

static void test_module_new_invalid_einvalid(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = NULL;
  assert_int_equal(icx_module_new(e, invalid_wasm, sizeof invalid_wasm, 0, &m), ICX_EINVALID);
  assert_null(m);
  assert_true(strlen(icx_errmsg(e)) > 0);
  icx_engine_free(e);
}

static void test_module_new_bad_arguments_einval(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = NULL;
  blob b = load_wasm("api_main");
  assert_int_equal(icx_module_new(e, NULL, 10, 0, &m), ICX_EINVAL);
  assert_true(strlen(icx_errmsg(e)) > 0);
  assert_int_equal(icx_module_new(e, b.bytes, b.len, 0x80000000u, &m), ICX_EINVAL);
  assert_null(m);
  assert_int_equal(icx_module_new(e, b.bytes, b.len, 0, NULL), ICX_EINVAL);
  free(b.bytes);
  icx_engine_free(e);
}

static void test_module_new_too_large_elimit(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = NULL;
  /* The length is checked before the bytes are read. */
  size_t len = (size_t)icx_limit(ICX_LIMIT_MODULE_BYTES) + 1;
  assert_int_equal(icx_module_new(e, malformed_wasm, len, 0, &m), ICX_ELIMIT);
  assert_null(m);
  icx_engine_free(e);
}

static void test_module_export_type_reports_signature(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = new_module(e, "api_main", 0);
  uint32_t types[8] = {0}, np = 9, nr = 9;
  assert_int_equal(icx_module_export_type(m, "mix", types, 8, &np, &nr), ICX_OK);
  assert_int_equal(np, 4);
  assert_int_equal(nr, 4);
  const uint32_t want[8] = {ICX_TYPE_I32, ICX_TYPE_I64, ICX_TYPE_F32, ICX_TYPE_F64,
                            ICX_TYPE_F64, ICX_TYPE_F32, ICX_TYPE_I64, ICX_TYPE_I32};
  assert_memory_equal(types, want, sizeof want);
  /* A short buffer gets only what fits; counts are complete. */
  uint32_t two[3] = {0, 0, 77};
  assert_int_equal(icx_module_export_type(m, "mix", two, 2, &np, &nr), ICX_OK);
  assert_int_equal(two[0], ICX_TYPE_I32);
  assert_int_equal(two[1], ICX_TYPE_I64);
  assert_int_equal(two[2], 77);
  assert_int_equal(np, 4);
  /* Counts only. */
  assert_int_equal(icx_module_export_type(m, "nop", NULL, 0, &np, &nr), ICX_OK);
  assert_int_equal(np, 0);
  assert_int_equal(nr, 0);
  icx_module_free(m);
  icx_engine_free(e);
}

static void test_module_export_type_errors(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = new_module(e, "api_main", 0);
  uint32_t np = 5, nr = 5;
  assert_int_equal(icx_module_export_type(m, "absent", NULL, 0, &np, &nr), ICX_ENOTFOUND);
  assert_int_equal(np, 0);
  assert_int_equal(nr, 0);
  assert_non_null(strstr(icx_errmsg(e), "absent"));
  /* Exports that are not functions are not found either. */
  assert_int_equal(icx_module_export_type(m, "memory", NULL, 0, &np, &nr), ICX_ENOTFOUND);
  assert_int_equal(icx_module_export_type(m, "answer", NULL, 0, &np, &nr), ICX_ENOTFOUND);
  assert_int_equal(icx_module_export_type(m, NULL, NULL, 0, &np, &nr), ICX_EINVAL);
  assert_int_equal(icx_module_export_type(m, "add", NULL, 0, NULL, &nr), ICX_EINVAL);
  assert_int_equal(icx_module_export_type(m, "add", NULL, 3, &np, &nr), ICX_EINVAL);
  assert_int_equal(icx_module_export_type(NULL, "add", NULL, 0, &np, &nr), ICX_EMISUSE);
  icx_module_free(m);
  icx_engine_free(e);
}

/* ---- instances ------------------------------------------------------------ */

static void test_instance_new_with_imports_eunlinkable(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = new_module(e, "api_import", 0);
  icx_instance *i = (icx_instance *)e;
  assert_int_equal(icx_instance_new(e, m, &i), ICX_EUNLINKABLE);
  assert_null(i);
  assert_non_null(strstr(icx_errmsg(e), "env"));
  assert_non_null(strstr(icx_errmsg(e), "host_fn"));
  icx_module_free(m);
  icx_engine_free(e);
}

static void test_instance_new_start_traps_etrap(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = new_module(e, "api_start_trap", 0);
  icx_instance *i = NULL;
  assert_int_equal(icx_instance_new(e, m, &i), ICX_ETRAP);
  assert_null(i);
  assert_non_null(strstr(icx_errmsg(e), "unreachable"));
  icx_module_free(m);
  icx_engine_free(e);
}

static void test_instance_new_misuse(void **state) {
  (void)state;
  icx_engine *e1 = new_engine(), *e2 = new_engine();
  icx_module *m = new_module(e1, "api_main", 0);
  icx_instance *i = NULL;
  /* A module of another engine. */
  assert_int_equal(icx_instance_new(e2, m, &i), ICX_EMISUSE);
  assert_null(i);
  assert_true(strlen(icx_errmsg(e2)) > 0);
  assert_int_equal(icx_instance_new(e1, NULL, &i), ICX_EMISUSE);
  assert_int_equal(icx_instance_new(e1, m, NULL), ICX_EINVAL);
  /* A freed module handle. */
  icx_module_free(m);
  icx_engine_free(e2);
  icx_engine_free(e1);
}

static void test_module_freed_before_instance_instance_still_runs(void **state) {
  (void)state;
  icx_engine *e = new_engine();
  icx_module *m = new_module(e, "api_main", 0);
  icx_instance *i = new_instance(e, m);
  icx_module_free(m);
  assert_int_equal(call_i32(i, "loop", 3, NULL), 3);
  /* The module handle itself is dead: misuse, not a crash. */
  uint32_t np, nr;
  icx_instance *i2 = NULL;
  assert_int_equal(icx_module_export_type(m, "add", NULL, 0, &np, &nr), ICX_EMISUSE);
  assert_int_equal(icx_instance_new(e, m, &i2), ICX_EMISUSE);
  assert_null(i2);
  icx_module_free(m); /* a second free of the dead handle is ignored */
  icx_instance_free(i);
  icx_engine_free(e);
}

/* ---- calls ---------------------------------------------------------------- */

static void test_call_add_returns_sum(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value args[2] = {i32v(40), i32v(2)}, r = {0, 0, 0};
  icx_call_result out = ICX_CALL_RESULT_INIT;
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, &r, 1, &out), ICX_OK);
  assert_int_equal(r.type, ICX_TYPE_I32);
  assert_int_equal(r.bits, 42);
  assert_int_equal(out.trapped, 0);
  assert_int_equal(out.trap_code, ICX_TRAPCODE_NONE);
  assert_string_equal(out.trap_message, "");
  assert_int_equal(out.instructions, 0); /* not metered */
  assert_string_equal(icx_errmsg(w.e), "");
  /* i32 wraps; the high bits of an i32 argument are ignored. */
  args[0].bits = 0xffffffffu;
  args[1].bits = 0x1234567800000002ull;
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.bits, 1);
  free_world(&w);
}

static void test_call_all_number_types_round_trip(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value args[4] = {{ICX_TYPE_I32, 0, 0x80000001u},
                       {ICX_TYPE_I64, 0, 0x8000000000000002ull},
                       {ICX_TYPE_F32, 0, 0x3fc00000u},
                       {ICX_TYPE_F64, 0, 0x400921fb54442d18ull}};
  icx_value r[4];
  assert_int_equal(icx_instance_call(w.i, "mix", args, 4, r, 4, NULL), ICX_OK);
  for (int k = 0; k < 4; k++) {
    assert_int_equal(r[k].type, args[3 - k].type);
    assert_int_equal(r[k].bits, args[3 - k].bits);
    assert_int_equal(r[k].reserved, 0);
  }
  free_world(&w);
}

static void test_call_reference_types(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value a = {ICX_TYPE_EXTERNREF, 0, 0xfeedface12345678ull}, r;
  assert_int_equal(icx_instance_call(w.i, "ext", &a, 1, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.type, ICX_TYPE_EXTERNREF);
  assert_int_equal(r.bits, 0xfeedface12345678ull);
  icx_value f = {ICX_TYPE_FUNCREF, 0, 0};
  assert_int_equal(icx_instance_call(w.i, "fref", &f, 1, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.type, ICX_TYPE_FUNCREF);
  assert_int_equal(r.bits, 0);
  assert_int_equal(icx_instance_call(w.i, "fref_nonnull", NULL, 0, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.bits, 1);
  f.bits = 5; /* only null funcrefs can be passed in */
  assert_int_equal(icx_instance_call(w.i, "fref", &f, 1, &r, 1, NULL), ICX_EINVAL);
  free_world(&w);
}

static void test_call_many_arguments(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value args[20], r;
  for (uint32_t k = 0; k < 20; k++) args[k] = i32v(k + 1);
  assert_int_equal(icx_instance_call(w.i, "sum20", args, 20, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.bits, 210);
  args[19].type = ICX_TYPE_I64;
  assert_int_equal(icx_instance_call(w.i, "sum20", args, 20, &r, 1, NULL), ICX_EINVAL);
  free_world(&w);
}

static void test_call_state_persists_between_calls(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value r;
  assert_int_equal(icx_instance_call(w.i, "inc", NULL, 0, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.bits, 1);
  assert_int_equal(icx_instance_call(w.i, "inc", NULL, 0, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.bits, 2);
  icx_value st[2] = {i32v(100), i32v(0xabcdef)};
  assert_int_equal(icx_instance_call(w.i, "store", st, 2, NULL, 0, NULL), ICX_OK);
  assert_int_equal(call_i32(w.i, "load", 100, NULL), 0xabcdef);
  /* A second instance has its own memory and globals. */
  icx_instance *i2 = new_instance(w.e, w.m);
  assert_int_equal(call_i32(i2, "load", 100, NULL), 0);
  assert_int_equal(icx_instance_call(i2, "inc", NULL, 0, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.bits, 1);
  icx_instance_free(i2);
  free_world(&w);
}

static void expect_trap(icx_instance *i, const char *name, const icx_value *args, size_t nargs,
                        size_t nresults, int32_t code) {
  icx_value r[1] = {{ICX_TYPE_I32, 0, 77}};
  icx_call_result out = ICX_CALL_RESULT_INIT;
  assert_int_equal(icx_instance_call(i, name, args, nargs, r, nresults, &out), ICX_OK);
  assert_int_equal(out.trapped, 1);
  assert_int_equal(out.trap_code, code);
  assert_non_null(out.trap_message);
  assert_true(strlen(out.trap_message) > 0);
  assert_int_equal(icx_instance_trap_code(i), code);
  if (nresults) assert_int_equal(r[0].bits, 0);
}

static void test_call_traps_are_outcomes(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value div[2] = {i32v(1), i32v(0)};
  expect_trap(w.i, "trap", NULL, 0, 0, ICX_TRAPCODE_UNREACHABLE);
  expect_trap(w.i, "div", div, 2, 1, ICX_TRAPCODE_DIV_ZERO);
  div[0] = i32v(0x80000000u);
  div[1] = i32v(0xffffffffu);
  expect_trap(w.i, "div", div, 2, 1, ICX_TRAPCODE_INT_OVERFLOW);
  expect_trap(w.i, "oob", NULL, 0, 1, ICX_TRAPCODE_MEMORY_OOB);
  expect_trap(w.i, "null_call", NULL, 0, 1, ICX_TRAPCODE_UNINIT_ELEMENT);
  expect_trap(w.i, "recurse", NULL, 0, 0, ICX_TRAPCODE_STACK_EXHAUSTED);
  /* The trap message is the spec text, and the engine has no error. */
  icx_call_result out = ICX_CALL_RESULT_INIT;
  assert_int_equal(icx_instance_call(w.i, "trap", NULL, 0, NULL, 0, &out), ICX_OK);
  assert_non_null(strstr(out.trap_message, "unreachable"));
  assert_string_equal(icx_errmsg(w.e), "");
  /* The instance stays usable after a trap. */
  assert_int_equal(call_i32(w.i, "loop", 5, &out), 5);
  assert_int_equal(out.trapped, 0);
  assert_int_equal(icx_instance_trap_code(w.i), ICX_TRAPCODE_NONE);
  free_world(&w);
}

static void test_call_errors_run_nothing(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value args[2] = {i32v(1), i32v(2)}, r[2];
  icx_call_result out = ICX_CALL_RESULT_INIT;
  assert_int_equal(icx_instance_call(w.i, "absent", NULL, 0, NULL, 0, &out), ICX_ENOTFOUND);
  assert_non_null(strstr(icx_errmsg(w.e), "absent"));
  assert_int_equal(out.trapped, 0);
  assert_int_equal(icx_instance_call(w.i, "memory", NULL, 0, NULL, 0, NULL), ICX_ENOTFOUND);
  assert_int_equal(icx_instance_call(w.i, NULL, NULL, 0, NULL, 0, NULL), ICX_EINVAL);
  /* Argument count, argument type, result count. */
  assert_int_equal(icx_instance_call(w.i, "add", args, 1, r, 1, NULL), ICX_EINVAL);
  assert_true(strlen(icx_errmsg(w.e)) > 0);
  args[1].type = ICX_TYPE_F32;
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, r, 1, NULL), ICX_EINVAL);
  args[1].type = ICX_TYPE_I32;
  args[1].reserved = 1;
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, r, 1, NULL), ICX_EINVAL);
  args[1].reserved = 0;
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, r, 2, NULL), ICX_EINVAL);
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, r, 0, NULL), ICX_EINVAL);
  /* NULL arrays with non-zero counts. */
  assert_int_equal(icx_instance_call(w.i, "add", NULL, 2, r, 1, NULL), ICX_EINVAL);
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, NULL, 1, NULL), ICX_EINVAL);
  /* A result struct too small to hold the outcome. */
  out.struct_size = 4;
  assert_int_equal(icx_instance_call(w.i, "add", args, 2, r, 1, &out), ICX_EINVAL);
  /* The global counter shows that nothing ran in any of the above. */
  icx_value c;
  assert_int_equal(icx_instance_call(w.i, "inc", NULL, 0, &c, 1, NULL), ICX_OK);
  assert_int_equal(c.bits, 1);
  free_world(&w);
}

static void test_call_small_result_struct_gets_prefix(void **state) {
  (void)state;
  world w = make_world(ICX_MODULE_METER);
  /* A host built against an older header with only the first 3 fields. */
  struct {
    icx_call_result r;
  } s;
  memset(&s, 0xaa, sizeof s);
  s.r.struct_size = 12;
  assert_int_equal(icx_instance_call(w.i, "trap", NULL, 0, NULL, 0, &s.r), ICX_OK);
  assert_int_equal(s.r.struct_size, 12);
  assert_int_equal(s.r.trapped, 1);
  assert_int_equal(s.r.trap_code, ICX_TRAPCODE_UNREACHABLE);
  assert_int_equal(s.r.reserved, 0xaaaaaaaau); /* beyond struct_size: untouched */
  free_world(&w);
}

static void test_call_invalid_instance_emisuse(void **state) {
  (void)state;
  uint32_t fake[64];
  memset(fake, 0, sizeof fake);
  icx_value r = {ICX_TYPE_I32, 0, 99};
  icx_call_result out = ICX_CALL_RESULT_INIT;
  out.trapped = 5;
  assert_int_equal(icx_instance_call(NULL, "add", NULL, 0, &r, 1, &out), ICX_EMISUSE);
  assert_int_equal(out.trapped, 0); /* outputs are zeroed on error */
  assert_int_equal(r.bits, 0);
  assert_int_equal(icx_instance_call((icx_instance *)fake, "add", NULL, 0, NULL, 0, NULL),
                   ICX_EMISUSE);
  assert_int_equal(icx_instance_set_instruction_limit(NULL, 5), ICX_EMISUSE);
  assert_int_equal(icx_instance_instructions(NULL), 0);
  assert_int_equal(icx_instance_trap_code(NULL), ICX_TRAPCODE_NONE);
  assert_int_equal(icx_instance_instructions((icx_instance *)fake), 0);
}

static void test_call_nan_results_are_canonical(void **state) {
  (void)state;
  world w = make_world(0);
  icx_value r;
  assert_int_equal(icx_instance_call(w.i, "nan32", NULL, 0, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.type, ICX_TYPE_F32);
  assert_int_equal(r.bits, 0x7fc00000u);
  assert_int_equal(icx_instance_call(w.i, "nan64", NULL, 0, &r, 1, NULL), ICX_OK);
  assert_int_equal(r.type, ICX_TYPE_F64);
  assert_int_equal(r.bits, 0x7ff8000000000000ull);
  free_world(&w);
}

/* ---- metering ------------------------------------------------------------- */

static void test_meter_unmetered_module_estate_and_zero(void **state) {
  (void)state;
  world w = make_world(0);
  assert_int_equal(icx_instance_set_instruction_limit(w.i, 1000), ICX_ESTATE);
  assert_true(strlen(icx_errmsg(w.e)) > 0);
  assert_int_equal(call_i32(w.i, "loop", 100, NULL), 100);
  assert_int_equal(icx_instance_instructions(w.i), 0);
  free_world(&w);
}

static void test_meter_counts_grow_with_work_and_repeat(void **state) {
  (void)state;
  world w = make_world(ICX_MODULE_METER);
  icx_call_result out = ICX_CALL_RESULT_INIT;
  assert_int_equal(icx_instance_instructions(w.i), 0);
  assert_int_equal(call_i32(w.i, "loop", 10, &out), 10);
  uint64_t n10 = out.instructions;
  assert_true(n10 > 0);
  assert_int_equal(icx_instance_instructions(w.i), n10);
  assert_int_equal(call_i32(w.i, "loop", 100, &out), 100);
  uint64_t n100 = out.instructions;
  assert_true(n100 > n10);
  assert_int_equal(call_i32(w.i, "loop", 1000, &out), 1000);
  uint64_t n1000 = out.instructions;
  /* Linear in the iterations: the per-iteration cost is constant. */
  assert_int_equal(n1000 - n100, 10 * (n100 - n10));
  assert_int_equal(call_i32(w.i, "loop", 10, &out), 10);
  assert_int_equal(out.instructions, n10); /* deterministic */
  free_world(&w);
}

static void test_meter_limit_stops_runaway_loop(void **state) {
  (void)state;
  world w = make_world(ICX_MODULE_METER);
  icx_call_result out = ICX_CALL_RESULT_INIT;
  assert_int_equal(icx_instance_set_instruction_limit(w.i, 5000), ICX_OK);
  assert_int_equal(icx_instance_call(w.i, "forever", NULL, 0, NULL, 0, &out), ICX_OK);
  assert_int_equal(out.trapped, 1);
  assert_int_equal(out.trap_code, ICX_TRAPCODE_OUT_OF_INSTRUCTIONS);
  assert_int_equal(out.instructions, 5000);
  assert_int_equal(icx_instance_instructions(w.i), 5000);
  /* A call within the limit completes and counts the same as without. */
  assert_int_equal(call_i32(w.i, "loop", 10, &out), 10);
  uint64_t limited = out.instructions;
  assert_int_equal(icx_instance_set_instruction_limit(w.i, 0), ICX_OK);
  assert_int_equal(call_i32(w.i, "loop", 10, &out), 10);
  assert_int_equal(out.instructions, limited);
  /* Exactly the needed count is enough; one less is not. */
  assert_int_equal(icx_instance_set_instruction_limit(w.i, limited), ICX_OK);
  assert_int_equal(call_i32(w.i, "loop", 10, &out), 10);
  assert_int_equal(out.trapped, 0);
  assert_int_equal(icx_instance_set_instruction_limit(w.i, limited - 1), ICX_OK);
  icx_value a = i32v(10), r;
  assert_int_equal(icx_instance_call(w.i, "loop", &a, 1, &r, 1, &out), ICX_OK);
  assert_int_equal(out.trapped, 1);
  assert_int_equal(out.trap_code, ICX_TRAPCODE_OUT_OF_INSTRUCTIONS);
  free_world(&w);
}

/* ---- out of memory -------------------------------------------------------- */

/* Fail allocation N = 0, 1, 2, ... of a scenario (compile, instantiate,
 * call) until it passes: every failure is ICX_ENOMEM with nothing leaked
 * (cmocka checks each block), and the engine stays usable. */
static void test_oom_sweep_every_failure_is_enomem(void **state) {
  (void)state;
  blob b = load_wasm("api_main");
  int passed = 0;
  for (long n = 0; n < 100000 && !passed; n++) {
    alloc_state st = {0, -1};
    icx_engine *e = new_engine_with(&st);
    st.allocs = 0;
    st.fail_after = n;
    icx_module *m = NULL;
    icx_instance *i = NULL;
    icx_status rc = icx_module_new(e, b.bytes, b.len, ICX_MODULE_METER, &m);
    if (rc == ICX_OK) rc = icx_instance_new(e, m, &i);
    if (rc == ICX_OK) {
      icx_value a = i32v(20), r;
      icx_call_result out = ICX_CALL_RESULT_INIT;
      rc = icx_instance_call(i, "loop", &a, 1, &r, 1, &out);
      if (rc == ICX_OK) {
        if (out.trapped)
          fail_msg("allocation %ld failed: the call trapped (%s) instead of ICX_ENOMEM", n,
                   out.trap_message);
        assert_int_equal(r.bits, 20);
        passed = 1;
      }
    }
    if (rc != ICX_OK) {
      if (rc != ICX_ENOMEM)
        fail_msg("allocation %ld failed: got %s (%s), expected ENOMEM", n, icx_strerror(rc),
                 icx_errmsg(e));
      assert_true(strlen(icx_errmsg(e)) > 0);
      /* The engine still works once memory is back. */
      st.fail_after = -1;
      icx_module *m2 = NULL;
      assert_int_equal(icx_module_new(e, b.bytes, b.len, 0, &m2), ICX_OK);
      icx_module_free(m2);
    }
    icx_instance_free(i);
    icx_module_free(m);
    icx_engine_free(e);
  }
  assert_true(passed);
  free(b.bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_version_twins_agree),
      cmocka_unit_test(test_constant_twins_agree),
      cmocka_unit_test(test_strerror_every_code_has_own_static_text),
      cmocka_unit_test(test_limit_known_ids_positive_unknown_zero),
      cmocka_unit_test(test_trap_text_known_and_unknown_codes),
      cmocka_unit_test(test_engine_new_null_opts_ok),
      cmocka_unit_test(test_engine_new_opts_init_macro_ok),
      cmocka_unit_test(test_engine_new_uses_allocator_hook),
      cmocka_unit_test(test_engine_new_bad_opts_fail_and_zero_out),
      cmocka_unit_test(test_engine_new_larger_struct_from_newer_header_ok),
      cmocka_unit_test(test_engine_new_out_of_memory_enomem),
      cmocka_unit_test(test_free_null_is_noop),
      cmocka_unit_test(test_errmsg_invalid_engine_static_text),
      cmocka_unit_test(test_errmsg_kept_until_next_call_then_cleared),
      cmocka_unit_test(test_engine_free_releases_live_modules_and_instances),
      cmocka_unit_test(test_fake_engine_handle_emisuse),
      cmocka_unit_test(test_module_new_input_copied),
      cmocka_unit_test(test_module_new_malformed_emalformed_with_offset),
      cmocka_unit_test(test_module_new_invalid_einvalid),
      cmocka_unit_test(test_module_new_wat_compiles_text_and_reports_lines),
      cmocka_unit_test(test_module_new_bad_arguments_einval),
      cmocka_unit_test(test_module_new_too_large_elimit),
      cmocka_unit_test(test_module_export_type_reports_signature),
      cmocka_unit_test(test_module_export_type_errors),
      cmocka_unit_test(test_instance_new_with_imports_eunlinkable),
      cmocka_unit_test(test_instance_new_start_traps_etrap),
      cmocka_unit_test(test_instance_new_misuse),
      cmocka_unit_test(test_module_freed_before_instance_instance_still_runs),
      cmocka_unit_test(test_call_add_returns_sum),
      cmocka_unit_test(test_call_all_number_types_round_trip),
      cmocka_unit_test(test_call_reference_types),
      cmocka_unit_test(test_call_many_arguments),
      cmocka_unit_test(test_call_state_persists_between_calls),
      cmocka_unit_test(test_call_traps_are_outcomes),
      cmocka_unit_test(test_call_errors_run_nothing),
      cmocka_unit_test(test_call_small_result_struct_gets_prefix),
      cmocka_unit_test(test_call_invalid_instance_emisuse),
      cmocka_unit_test(test_call_nan_results_are_canonical),
      cmocka_unit_test(test_meter_unmetered_module_estate_and_zero),
      cmocka_unit_test(test_meter_counts_grow_with_work_and_repeat),
      cmocka_unit_test(test_meter_limit_stops_runaway_loop),
      cmocka_unit_test(test_oom_sweep_every_failure_is_enomem),
  };
  return cmocka_run_group_tests_name("api_engine", tests, NULL, NULL);
}
