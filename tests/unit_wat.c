/* unit_wat.c -- white-box tests of the WAT parser (lib/wat*.c): text modules
 * are parsed, decoded, validated, compiled and run; literal corner cases are
 * checked bit for bit; malformed text is rejected with its line and column;
 * allocation failures, deep nesting and the binary/quote forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rt.h"
#include "wasm.h"
#include "wat.h"

/* ---- helpers ------------------------------------------------------------------- */

/* Parse text (NUL-terminated) or fail the test with the parser's message. */
static uint8_t *parse_ok(const char *text, uint32_t feat, size_t *len) {
  icxAllocator a = icxCore_default_allocator();
  uint8_t *bytes = NULL;
  icxErr err;
  icx_status rc = icxWat_to_wasm(&a, text, strlen(text), feat, &bytes, len, &err);
  if (rc != ICX_OK) fail_msg("parse failed (%d): %s\n--\n%s", rc, err.msg, text);
  assert_non_null(bytes);
  return bytes;
}

static void free_bytes(uint8_t *p, size_t len) {
  icxAllocator a = icxCore_default_allocator();
  icxCore_free(&a, p, len);
}

/* Parse, expecting ICX_EMALFORMED with a message that starts with prefix. */
static void parse_bad(const char *text, uint32_t feat, const char *prefix) {
  icxAllocator a = icxCore_default_allocator();
  uint8_t *bytes = (uint8_t *)(uintptr_t)1;
  size_t len = 99;
  icxErr err;
  icx_status rc = icxWat_to_wasm(&a, text, strlen(text), feat, &bytes, &len, &err);
  if (rc != ICX_EMALFORMED) fail_msg("expected a parse error for:\n%s\n(status %d)", text, rc);
  assert_null(bytes);
  assert_int_equal(len, 0);
  assert_int_equal(err.status, ICX_EMALFORMED);
  if (prefix && strncmp(err.msg, prefix, strlen(prefix)) != 0)
    fail_msg("message \"%s\" does not start with \"%s\"", err.msg, prefix);
}

/* Decode + validate; returns the module (caller frees). */
static icxModule *decode_ok(const uint8_t *bytes, size_t len, uint32_t feat) {
  icxAllocator a = icxCore_default_allocator();
  icxModule *m = NULL;
  icxErr err;
  if (icxWasm_decode(&a, bytes, len, feat, &m, &err) != ICX_OK) fail_msg("decode: %s", err.msg);
  if (icxWasm_validate(m, &err) != ICX_OK) fail_msg("validate: %s", err.msg);
  return m;
}

typedef struct Inst {
  icxAllocator a;
  icxCompiled *c;
  icxStore *s;
  icxExec *x;
  icxInstance *inst;
} Inst;

/* Parse, compile and instantiate a module without imports. */
static void inst_open(Inst *in, const char *text, uint32_t feat) {
  memset(in, 0, sizeof *in);
  in->a = icxCore_default_allocator();
  size_t len;
  uint8_t *bytes = parse_ok(text, feat, &len);
  icxErr err;
  icxCompileOpts o = {0, NULL, 0, 0};
  if (icxRt_compile(&in->a, bytes, len, feat, &o, &in->c, &err) != ICX_OK)
    fail_msg("compile: %s\n--\n%s", err.msg, text);
  free_bytes(bytes, len);
  in->s = icxStore_new(&in->a);
  in->x = icxExec_new(&in->a);
  assert_non_null(in->s);
  assert_non_null(in->x);
  icxTrap trap;
  assert_int_equal(icxRt_instantiate(in->s, in->c, in->x, NULL, 0, &in->inst, &trap, &err), ICX_OK);
  assert_int_equal(trap, ICX_TRAP_NONE);
}

static void inst_close(Inst *in) {
  icxExec_free(in->x);
  icxStore_free(in->s);
  icxRt_compiled_free(in->c);
}

static icxFuncInst *export_fn(Inst *in, const char *name) {
  icxExtern e;
  if (icxRt_export(in->inst, name, strlen(name), &e) != ICX_OK) fail_msg("no export %s", name);
  assert_int_equal(e.kind, ICX_EXT_FUNC);
  return e.u.func;
}

/* Call an export and return result 0 (the run must complete). */
static uint64_t call(Inst *in, const char *name, const uint64_t *args, uint32_t nargs) {
  icxRun r = icxExec_call(in->x, export_fn(in, name), args, nargs);
  if (r != ICX_RUN_DONE) fail_msg("%s: run %d (%s)", name, r, icxExec_trap_msg(in->x));
  return icxExec_results(in->x)[0];
}

static uint64_t call0(Inst *in, const char *name) { return call(in, name, NULL, 0); }

/* ---- behaviour -------------------------------------------------------------------- */

static const char fac_text[] =
    ";; factorial three ways\n"
    "(module $fac\n"
    "  (type $i64->i64 (func (param i64) (result i64)))\n"
    "  (table funcref (elem $rec))\n"
    "  (func $rec (export \"fac-rec\") (type $i64->i64)\n"
    "    (if (result i64) (i64.eq (local.get 0) (i64.const 0))\n"
    "      (then (i64.const 1))\n"
    "      (else\n"
    "        (i64.mul (local.get 0)\n"
    "          (call_indirect (type $i64->i64)\n"
    "            (i64.sub (local.get 0) (i64.const 1)) (i32.const 0))))))\n"
    "  (func (export \"fac-iter\") (param i64) (result i64) (local $i i64) (local $res i64)\n"
    "    local.get 0 local.set $i\n"
    "    i64.const 1 local.set $res\n"
    "    block $done\n"
    "      loop $loop\n"
    "        local.get $i i64.eqz br_if $done\n"
    "        local.get $i local.get $res i64.mul local.set $res\n"
    "        local.get $i i64.const 1 i64.sub local.set $i\n"
    "        br $loop\n"
    "      end $loop\n"
    "    end\n"
    "    local.get $res)\n"
    "  (func (export \"fac-multi\") (param $n i64) (result i64)\n"
    "    (call $snd (local.get $n) (i64.const 1)\n"
    "      (loop $l (param i64 i64) (result i64 i64)\n"
    "        (br_if $l (call $step)))))\n"
    "  (func $step (param $n i64) (param $acc i64) (result i64 i64 i32)\n"
    "    (i64.sub (local.get $n) (i64.const 1))\n"
    "    (i64.mul (local.get $acc)\n"
    "      (select (result i64) (local.get $n) (i64.const 1)\n"
    "        (i64.ne (local.get $n) (i64.const 0))))\n"
    "    (i64.gt_s (i64.sub (local.get $n) (i64.const 1)) (i64.const 0)))\n"
    "  (func $snd (param i64 i64) (result i64) local.get 1)\n"
    ")";

static void test_factorial_flat_folded_and_multivalue_agree(void **state) {
  (void)state;
  Inst in;
  inst_open(&in, fac_text, 0);
  static const uint64_t want[] = {1, 1, 2, 6, 24, 120, 720, 5040, 40320, 362880, 3628800};
  for (uint64_t n = 0; n <= 10; n++) {
    assert_int_equal(call(&in, "fac-rec", &n, 1), want[n]);
    assert_int_equal(call(&in, "fac-iter", &n, 1), want[n]);
    assert_int_equal(call(&in, "fac-multi", &n, 1), want[n]);
  }
  uint64_t n = 20;
  assert_int_equal(call(&in, "fac-iter", &n, 1), 2432902008176640000ull);
  assert_int_equal(call(&in, "fac-rec", &n, 1), 2432902008176640000ull);
  inst_close(&in);
}

/* ---- literals ------------------------------------------------------------------- */

/* The init value of each defined global of text, in order. */
static void global_values(const char *text, uint32_t feat, uint64_t *out, uint32_t n) {
  size_t len;
  uint8_t *bytes = parse_ok(text, feat, &len);
  icxModule *m = decode_ok(bytes, len, feat);
  assert_int_equal(m->nglobals_total - m->nglobal_imports, n);
  for (uint32_t i = 0; i < n; i++) out[i] = m->globals[m->nglobal_imports + i].init.value;
  icxWasm_module_free(m);
  free_bytes(bytes, len);
}

static void test_f32_literals_round_correctly(void **state) {
  (void)state;
  static const struct {
    const char *lit;
    uint32_t bits;
  } cases[] = {
      {"0x1p-149", 0x00000001}, /* smallest subnormal */
      {"-0x1p-149", 0x80000001},
      {"0x1p-150", 0x00000000},        /* half of it: ties to even, 0 */
      {"0x1.000001p-150", 0x00000001}, /* just above half */
      {"1e-46", 0x00000000},
      {"8e-46", 0x00000001},
      {"0x1.fffffep127", 0x7f7fffff}, /* largest finite */
      {"340282356779733623858607532500980858880", 0x7f7fffff},
      {"0x1.000001p0", 0x3f800000},                       /* halfway: to even */
      {"0x1.000003p0", 0x3f800002},                       /* halfway: to even (up) */
      {"0x1.0000010000000000000000000001p0", 0x3f800001}, /* above halfway, far out */
      {"1.000000059604644775390625", 0x3f800000},         /* exact halfway in decimal */
      {"1.00000005960464477539062500000000000000000000000000000001", 0x3f800001},
      {"0x1.fffffefffffffffffp127", 0x7f7fffff},
      {"-0", 0x80000000},
      {"+0.0", 0x00000000},
      {"-0x0p+0", 0x80000000},
      {"inf", 0x7f800000},
      {"-inf", 0xff800000},
      {"nan", 0x7fc00000},
      {"-nan", 0xffc00000},
      {"nan:0x200000", 0x7fa00000},
      {"-nan:0x7fffff", 0xffffffff},
      {"nan:0x1", 0x7f800001},
      {"1_000.000_1e0_1", 0x461c4001}, /* 10000.001 */
      {"0x1_0.8p-1_0", 0x3c840000},
      {"1.", 0x3f800000},
      {"1.e1", 0x41200000},
      {"0x1.p1", 0x40000000},
      {"1e38", 0x7e967699},
      {"1.17549435e-38", 0x00800000}, /* smallest normal */
      {"1.1754942e-38", 0x007fffff},  /* largest subnormal */
  };
  size_t n = sizeof cases / sizeof cases[0];
  char text[8192];
  size_t off = (size_t)snprintf(text, sizeof text, "(module");
  for (size_t i = 0; i < n; i++)
    off += (size_t)snprintf(text + off, sizeof text - off, "\n (global f32 (f32.const %s))",
                            cases[i].lit);
  snprintf(text + off, sizeof text - off, ")");
  uint64_t v[64];
  global_values(text, 0, v, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    if (v[i] != cases[i].bits)
      fail_msg("f32.const %s: 0x%08x, want 0x%08x", cases[i].lit, (unsigned)v[i], cases[i].bits);
}

static void test_f64_literals_round_correctly(void **state) {
  (void)state;
  static const struct {
    const char *lit;
    uint64_t bits;
  } cases[] = {
      {"0x1p-1074", 0x0000000000000001ull},
      {"0x1p-1075", 0x0000000000000000ull},
      {"0x1.0000000000001p-1075", 0x0000000000000001ull},
      {"4.9406564584124654e-324", 0x0000000000000001ull},
      {"2.4703282292062327e-324", 0x0000000000000000ull}, /* below half */
      {"2.4703282292062328e-324", 0x0000000000000001ull}, /* above half */
      {"2.2250738585072011e-308", 0x000fffffffffffffull},
      {"2.2250738585072014e-308", 0x0010000000000000ull},
      {"1.7976931348623157e308", 0x7fefffffffffffffull},
      {"0x1.fffffffffffffp1023", 0x7fefffffffffffffull},
      {"9007199254740993", 0x4340000000000000ull}, /* 2^53+1: to even */
      {"9007199254740995", 0x4340000000000002ull}, /* 2^53+3: to even (up) */
      {"9007199254740993.0000000000000000000000000000000000000001", 0x4340000000000001ull},
      {"0.1", 0x3fb999999999999aull},
      {"1e23", 0x44b52d02c7e14af6ull},
      {"8.98846567431158e307", 0x7fe0000000000000ull},
      {"-0", 0x8000000000000000ull},
      {"nan", 0x7ff8000000000000ull},
      {"nan:0x4000000000000", 0x7ff4000000000000ull},
      {"-nan:0xfffffffffffff", 0xffffffffffffffffull},
      {"inf", 0x7ff0000000000000ull},
      {"0x1.921fb54442d18p+1", 0x400921fb54442d18ull},
      {"3.141592653589793", 0x400921fb54442d18ull},
      {"0e99999999999999999999", 0x0000000000000000ull},
      {"1e-99999999999999999999", 0x0000000000000000ull},
      {/* 323 zeros after the point */
       "0.00000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
       "00000000000000000000000000000000000000000000000000000000000000049406564584124654",
       0x0000000000000001ull},
  };
  size_t n = sizeof cases / sizeof cases[0];
  char text[8192];
  size_t off = (size_t)snprintf(text, sizeof text, "(module");
  for (size_t i = 0; i < n; i++)
    off += (size_t)snprintf(text + off, sizeof text - off, "\n (global f64 (f64.const %s))",
                            cases[i].lit);
  snprintf(text + off, sizeof text - off, ")");
  uint64_t v[64];
  global_values(text, 0, v, (uint32_t)n);
  for (size_t i = 0; i < n; i++)
    if (v[i] != cases[i].bits)
      fail_msg("f64.const %s: 0x%016llx, want 0x%016llx", cases[i].lit, (unsigned long long)v[i],
               (unsigned long long)cases[i].bits);
}

static void test_float_literals_run_bit_exact(void **state) {
  (void)state;
  Inst in;
  inst_open(
      &in,
      "(module\n"
      "  (func (export \"tiny\") (result i32) (i32.reinterpret_f32 (f32.const 0x1p-149)))\n"
      "  (func (export \"negzero\") (result i32) (i32.reinterpret_f32 (f32.const -0)))\n"
      "  (func (export \"payload\") (result i32) (i32.reinterpret_f32 (f32.const nan:0x200000)))\n"
      "  (func (export \"dtiny\") (result i64) (i64.reinterpret_f64 (f64.const "
      "0x0.0000000000001p-1022)))\n"
      "  (func (export \"sum\") (result f64) (f64.add (f64.const 0.1) (f64.const 0.2))))",
      0);
  assert_int_equal(call0(&in, "tiny"), 1);
  assert_int_equal(call0(&in, "negzero"), 0x80000000u);
  assert_int_equal(call0(&in, "payload"), 0x7fa00000u);
  assert_int_equal(call0(&in, "dtiny"), 1);
  assert_int_equal(call0(&in, "sum"), 0x3fd3333333333334ull);
  inst_close(&in);
}

static void test_integer_literals_accept_the_full_range(void **state) {
  (void)state;
  uint64_t v[12];
  global_values(
      "(module\n"
      " (global i32 (i32.const -0x80000000)) (global i32 (i32.const 0xffff_ffff))\n"
      " (global i32 (i32.const 4294967295)) (global i32 (i32.const -2147483648))\n"
      " (global i32 (i32.const +1_000)) (global i32 (i32.const -1))\n"
      " (global i64 (i64.const -0x8000000000000000)) (global i64 (i64.const 0xffffffffffffffff))\n"
      " (global i64 (i64.const 18446744073709551615)) (global i64 (i64.const "
      "-9223372036854775808))\n"
      " (global i64 (i64.const 0x0_1)) (global i64 (i64.const -00)))",
      0, v, 12);
  static const uint64_t want[12] = {
      0x80000000u,           0xffffffffu, 0xffffffffu, 0x80000000u,           1000, 0xffffffffu,
      0x8000000000000000ull, UINT64_MAX,  UINT64_MAX,  0x8000000000000000ull, 1,    0};
  for (int i = 0; i < 12; i++) assert_int_equal(v[i], want[i]);
}

/* ---- malformed text --------------------------------------------------------------- */

static void test_malformed_text_reports_line_and_column(void **state) {
  (void)state;
  parse_bad("(module\n  (func (i32.const 0x)))", 0, "line 2 col 20: ");
  parse_bad("(module (func\n\n   (i32.const 4294967296) drop))", 0,
            "line 3 col 15: constant out of range");
  parse_bad("(module\n\t(func nop\n\t\tfoo))", 0, "line 3 col 3: unknown operator foo");
  parse_bad("(module (func $f) (func $f))", 0, "line 1 col 25: duplicate function $f");
  parse_bad("(module\n(func) (import \"\" \"\" (func)))", 0, "line 2 col 8: import after function");
  parse_bad("(module (func (br $nope)))", 0, "line 1 col 19: unknown label $nope");
  parse_bad("(module (func block $a end $b))", 0, "line 1 col 28: mismatching label");
  parse_bad("(module (func (i32.const 1))", 0, "line 1 col 1: unclosed (");
  parse_bad("(module)\n)", 0, "line 2 col 1: unexpected )");
  parse_bad("(module (data \"\\q\"))", 0, "line 1 col 16: illegal escape");
  parse_bad("(module (; never closed", 0, "line 1 col 9: unterminated block comment");
  parse_bad("(module (func (export \"\\ff\")))", 0, "line 1 col 23: malformed UTF-8 encoding");
}

static void test_spec_malformed_forms_are_rejected(void **state) {
  (void)state;
  static const char *const bad[] = {
      /* tokens and literals */
      "(func (drop (i32.const0)))",
      "(func br 0drop)",
      "(data\"a\")",
      "(data $l\"a\")",
      "(data \"a\"\"b\")",
      "(func \"a\"x)",
      "(func (i32.const 1x) drop)",
      "(func (i32.const) drop)",
      "(func (i64.const 0x10000000000000000) drop)",
      "(func (i32.const -0x80000001) drop)",
      "(func (f32.const 0x1p128) drop)",
      "(func (f32.const 1e39) drop)",
      "(func (f64.const 1e309) drop)",
      "(func (f64.const 0x1.fffffffffffff8p1023) drop)",
      "(func (f32.const nan:0x0) drop)",
      "(func (f32.const nan:0x80_0000) drop)",
      "(func (f32.const .0) drop)",
      "(func (f32.const 0x.) drop)",
      "(func (f32.const 1._0) drop)",
      "(func (f32.const 1e_1) drop)",
      "(func (f64.const 0x1p_1) drop)",
      "(func (i32.const 1__0) drop)",
      "(func (i32.const 0x_1) drop)",
      "(func (i32.const nan:canonical) drop)",
      "(global i32 (i32.const _100))",
      "(global f64 (f64.const 0x1.0p+_1))",
      "(func (i32.const 0) ;)",
      "(func ;comment\n)",
      "(func) \x01",
      "(func (export \"\x01\"))",
      "(func (export \"\\u{d800}\"))",
      "(func (export \"\\u{110000}\"))",
      "(func (export \"\\8\"))",
      /* structure */
      "(func (result i32) (param i32) (i32.const 0))",
      "(func (nop) (local i32))",
      "(func (local i32) (param i32))",
      "(type (func (result i32) (param i32)))",
      "(type (func (result $x i32)))",
      "(func (param $x i32 i64))",
      "(func $foo) (func $foo)",
      "(func (param $foo i32) (local $foo i32))",
      "(global $g i32 (i32.const 0)) (global $g i32 (i32.const 0))",
      "(memory $m 1) (memory $m 1)",
      "(table $t 1 funcref) (table $t 1 funcref)",
      "(func) (import \"\" \"\" (global i64))",
      "(memory 0) (import \"\" \"\" (table 1 funcref))",
      "(global i64 (i64.const 0)) (func (import \"\" \"\"))",
      "(func (import \"\" \"\") (local i32))",
      "(func (import \"\" \"\") (nop))",
      "(func (import \"\" \"\") (export \"e\"))",
      "(start 0) (start 0) (func)",
      "(type $t (func (param i32))) (func (type $t) (param i64))",
      "(type $t (func)) (func (type $t) (result i32) (i32.const 0))",
      "(func (type 7) (param i32))",
      "(func (call $undefined))",
      "(func (local.get $x))",
      "(func block end $l)",
      "(func block $a end $l)",
      "(func i32.const 0 if else $l end)",
      "(func i32.const 0 if $a else $a end $l)",
      "(func (block (param $x i32)))",
      "(func (call_indirect (param $x i32) (i32.const 0)))",
      "(type $t (func)) (func (block (type $t) (result i32) (i32.const 0)))",
      "(func (if (i32.const 0)))",
      "(func (if (i32.const 0) (then) (then)))",
      "(func (then))",
      "(func end)",
      "(func else)",
      "(func (i32.add i32.const 1 i32.const 2))",
      "(memory 1) (func (drop (i32.load offset=4294967296 (i32.const 0))))",
      "(memory 1) (func (drop (i32.load align=3 (i32.const 0))))",
      "(memory 1) (func (drop (i32.load align=1 offset=1 (i32.const 0))))",
      "(memory 0x1_0000_0000)",
      "(table 0x1_0000_0000 funcref)",
      "(memory i64 1)",
      "(table i64 1 funcref)",
      "(module (func)) (func)",
      "(module quote \"(func\")",
      "(module binary)",
      "(elem (table 0) (i32.const 0) $f) (func $f)",
      "(data (memory 0))",
      "(foo)",
      "(func (ref.null any))",
      "(func (select (result i32 i32) (result)))x",
      "(func (br_table))",
      "(func (table.copy 0))",
      "(func (v128.const i32x4 0 0 0 0) drop)",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) parse_bad(bad[i], 0, "line ");
}

/* ---- module structure ------------------------------------------------------------- */

static void test_exact_bytes_of_a_small_module(void **state) {
  (void)state;
  size_t len;
  uint8_t *b =
      parse_ok("(module (func (export \"f\") (result i32) i32.const 300 (;comment;)))", 0, &len);
  static const uint8_t want[] = {
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,       /* header */
      0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,             /* type () -> i32 */
      0x03, 0x02, 0x01, 0x00,                               /* func 0: type 0 */
      0x07, 0x05, 0x01, 0x01, 'f',  0x00, 0x00,             /* export "f" func 0 */
      0x0a, 0x07, 0x01, 0x05, 0x00, 0x41, 0xac, 0x02, 0x0b, /* i32.const 300 (minimal LEB) */
  };
  assert_int_equal(len, sizeof want);
  assert_memory_equal(b, want, sizeof want);
  free_bytes(b, len);
}

static void test_implicit_types_follow_explicit_ones_in_order(void **state) {
  (void)state;
  size_t len;
  uint8_t *b = parse_ok(
      "(module\n"
      "  (func (param i64))\n"           /* matches $b below */
      "  (type $a (func (param i32)))\n" /* type 0 */
      "  (func (type $a))\n"
      "  (func (param i32))\n"                /* reuses type 0 */
      "  (func (result f32) (f32.const 0))\n" /* implicit: type 2 */
      "  (type $b (func (param i64)))\n"      /* type 1 */
      "  (func (block (param) (result i32 i32) (i32.const 1) (i32.const 2)) drop drop))\n", /* 3, 4
                                                                                             */
      0, &len);
  icxModule *m = decode_ok(b, len, 0);
  assert_int_equal(m->ntypes, 5);
  assert_int_equal(m->types[0].nparams, 1);
  assert_int_equal(m->types[0].types[0], ICX_I32);
  assert_int_equal(m->types[1].types[0], ICX_I64);
  /* the first function's (param i64) matches $b, which comes later in the text */
  assert_int_equal(m->func_type_idx[0], 1);
  assert_int_equal(m->func_type_idx[1], 0);
  assert_int_equal(m->func_type_idx[2], 0);
  assert_int_equal(m->func_type_idx[3], 2);
  assert_int_equal(m->types[2].nresults, 1);
  assert_int_equal(m->types[2].types[0], ICX_F32);
  assert_int_equal(m->func_type_idx[4], 3); /* () -> () after the f32 one */
  assert_int_equal(m->types[3].nparams + m->types[3].nresults, 0);
  assert_int_equal(m->types[4].nresults, 2); /* the block type */
  icxWasm_module_free(m);
  free_bytes(b, len);
}

static void test_inline_imports_exports_and_named_indices(void **state) {
  (void)state;
  size_t len;
  uint8_t *b = parse_ok(
      "(module\n"
      "  (func $imp (export \"re\") (import \"m\" \"f\") (param $x i32) (result i32))\n"
      "  (global $g (import \"m\" \"g\") (mut i64))\n"
      "  (table $t (export \"t\") (import \"m\" \"t\") 1 2 funcref)\n"
      "  (memory $mem (import \"m\" \"mem\") 1)\n"
      "  (global $h (export \"h\") i32 (i32.const 7))\n"
      "  (func $f (export \"a\") (export \"b\") (result i32) (call $imp (global.get $h)))\n"
      "  (elem (table $t) (i32.const 0) func $f $imp)\n"
      "  (export \"mem\" (memory $mem))\n"
      "  (start $s) (func $s))",
      0, &len);
  icxModule *m = decode_ok(b, len, 0);
  assert_int_equal(m->nimports, 4);
  assert_int_equal(m->imports[0].kind, ICX_EXT_FUNC);
  assert_string_equal(m->imports[0].name, "f");
  assert_int_equal(m->imports[1].kind, ICX_EXT_GLOBAL);
  assert_int_equal(m->imports[1].d.global.mut, 1);
  assert_int_equal(m->imports[2].kind, ICX_EXT_TABLE);
  assert_int_equal(m->imports[2].d.table.lim.max, 2);
  assert_int_equal(m->nexports, 6);
  assert_string_equal(m->exports[0].name, "re"); /* text order */
  assert_int_equal(m->exports[0].index, 0);
  assert_string_equal(m->exports[1].name, "t");
  assert_string_equal(m->exports[2].name, "h");
  assert_int_equal(m->exports[2].index, 1); /* after the imported global */
  assert_string_equal(m->exports[3].name, "a");
  assert_int_equal(m->exports[3].index, 1);
  assert_string_equal(m->exports[4].name, "b");
  assert_int_equal(m->has_start, 1);
  assert_int_equal(m->start_idx, 2);
  assert_int_equal(m->nelems, 1);
  assert_int_equal(m->elems[0].count, 2);
  assert_int_equal(m->elems[0].items[0].value, 1);
  assert_int_equal(m->elems[0].items[1].value, 0);
  icxWasm_module_free(m);
  free_bytes(b, len);
}

static void test_memory_data_and_bulk_operations(void **state) {
  (void)state;
  Inst in;
  inst_open(
      &in,
      "(module\n"
      "  (memory (data \"hello\" \"\\00\\n\\t\\\\\\'\\\"\\u{e9}\\u{1F600}\"))\n"
      "  (data $p \"WXYZ\")\n"
      "  (func (export \"len\") (result i32) (memory.size))\n"
      "  (func (export \"byte\") (param i32) (result i32) (i32.load8_u offset=0 align=1 (local.get "
      "0)))\n"
      "  (func (export \"word\") (param i32) (result i32) (i32.load offset=1 (local.get 0)))\n"
      "  (func (export \"bulk\") (result i64)\n"
      "    (memory.fill (i32.const 100) (i32.const 0x41) (i32.const 4))\n"
      "    (memory.copy (i32.const 104) (i32.const 0) (i32.const 2))\n"
      "    (memory.init $p (i32.const 102) (i32.const 1) (i32.const 2))\n"
      "    (data.drop $p)\n"
      "    (i64.load (i32.const 100))))",
      0);
  assert_int_equal(call0(&in, "len"), 1);
  uint64_t a = 0;
  assert_int_equal(call(&in, "byte", &a, 1), 'h');
  a = 5;
  assert_int_equal(call(&in, "byte", &a, 1), 0);
  a = 6;
  assert_int_equal(call(&in, "byte", &a, 1), '\n');
  a = 7;
  assert_int_equal(call(&in, "byte", &a, 1), '\t');
  a = 8;
  assert_int_equal(call(&in, "byte", &a, 1), '\\');
  a = 9;
  assert_int_equal(call(&in, "byte", &a, 1), '\'');
  a = 10;
  assert_int_equal(call(&in, "byte", &a, 1), '"');
  a = 11;
  assert_int_equal(call(&in, "byte", &a, 1), 0xc3); /* U+00E9 */
  a = 13;
  assert_int_equal(call(&in, "byte", &a, 1), 0xf0); /* U+1F600 */
  a = 0;
  assert_int_equal(call(&in, "word", &a, 1), 0x6f6c6c65);      /* "ello" */
  assert_int_equal(call0(&in, "bulk"), 0x0000656859584141ull); /* AAXYhe\0\0 */
  inst_close(&in);
}

static void test_tables_references_and_indirect_calls(void **state) {
  (void)state;
  Inst in;
  inst_open(
      &in,
      "(module\n"
      "  (type $v->i (func (result i32)))\n"
      "  (table $a 2 funcref)\n"
      "  (table $b externref (elem (ref.null extern) (item ref.null extern)))\n"
      "  (elem (table $a) (offset (i32.const 0)) funcref (ref.func $one) (item (ref.func $two)))\n"
      "  (elem $later func $three)\n"
      "  (elem declare func $one)\n"
      "  (func $one (result i32) (i32.const 1))\n"
      "  (func $two (result i32) (i32.const 2))\n"
      "  (func $three (result i32) (i32.const 3))\n"
      "  (func (export \"call\") (param i32) (result i32) (call_indirect $a (type $v->i) "
      "(local.get 0)))\n"
      "  (func (export \"call2\") (param i32) (result i32) local.get 0 call_indirect 0 (result "
      "i32))\n"
      "  (func (export \"sizes\") (result i32)\n"
      "    (i32.add (i32.mul (table.size $a) (i32.const 10)) (table.size $b)))\n"
      "  (func (export \"grow\") (result i32)\n"
      "    (drop (table.grow $a (ref.null func) (i32.const 1)))\n"
      "    (table.init $a $later (i32.const 2) (i32.const 0) (i32.const 1))\n"
      "    (elem.drop $later)\n"
      "    (table.set $a (i32.const 1) (ref.func $one))\n"
      "    (table.fill $a (i32.const 0) (ref.func $three) (i32.const 1))\n"
      "    (table.copy $a $a (i32.const 1) (i32.const 0) (i32.const 1))\n"
      "    (ref.is_null (table.get $b (i32.const 1)))))",
      0);
  uint64_t i = 0;
  assert_int_equal(call(&in, "call", &i, 1), 1);
  i = 1;
  assert_int_equal(call(&in, "call2", &i, 1), 2);
  assert_int_equal(call0(&in, "sizes"), 22);
  assert_int_equal(call0(&in, "grow"), 1);
  assert_int_equal(call0(&in, "sizes"), 32);
  for (i = 0; i < 3; i++) assert_int_equal(call(&in, "call", &i, 1), 3);
  inst_close(&in);
}

static void test_memory64_needs_the_feature(void **state) {
  (void)state;
  const char *text = "(module (memory i64 1)\n"
                     "  (func (export \"rw\") (result i64)\n"
                     "    (i64.store offset=8 (i64.const 0) (i64.const 42))\n"
                     "    (i64.load offset=4 (i64.const 4)))\n"
                     "  (func (export \"far\") (result i64)\n"
                     "    (i64.load offset=0xffff_ffff_ffff_fff0 (i64.const 0))))";
  parse_bad(text, 0, "line 1 col 17: unexpected token: memory64 is not enabled");
  size_t len;
  uint8_t *b = parse_ok(text, ICX_FEAT_MEMORY64, &len);
  icxModule *m = decode_ok(b, len, ICX_FEAT_MEMORY64);
  assert_int_equal(m->mems[0].lim.is64, 1);
  icxWasm_module_free(m);
  free_bytes(b, len);
  Inst in;
  inst_open(&in, text, ICX_FEAT_MEMORY64);
  assert_int_equal(call0(&in, "rw"), 42);
  assert_int_equal(icxExec_call(in.x, export_fn(&in, "far"), NULL, 0), ICX_RUN_TRAP);
  inst_close(&in);
  /* table64 likewise */
  parse_bad("(module (table i64 1 funcref))", ICX_FEAT_MEMORY64, "line 1 col 16");
  b = parse_ok("(module (table i64 1 funcref (; ;)) (table $t i64 funcref (elem $f)) (func $f))",
               ICX_FEAT_TABLE64, &len);
  m = decode_ok(b, len, ICX_FEAT_TABLE64);
  assert_int_equal(m->tables[1].lim.is64, 1);
  assert_int_equal(m->elems[0].offset.type, ICX_I64);
  icxWasm_module_free(m);
  free_bytes(b, len);
}

/* "(module)" quoted n times: (module quote "(module quote \"...\")"). */
static char *quote_nest(unsigned n) {
  char *s = malloc(16);
  assert_non_null(s);
  strcpy(s, "(module)");
  for (unsigned k = 0; k < n; k++) {
    size_t len = strlen(s), o = 0;
    char *t = malloc(2 * len + 32);
    assert_non_null(t);
    o += (size_t)sprintf(t, "(module quote \"");
    for (size_t i = 0; i < len; i++) {
      if (s[i] == '\\' || s[i] == '"') t[o++] = '\\';
      t[o++] = s[i];
    }
    strcpy(t + o, "\")");
    free(s);
    s = t;
  }
  return s;
}

static void test_binary_and_quote_modules(void **state) {
  (void)state;
  size_t len, len2;
  uint8_t *b = parse_ok("(module $m binary \"\\00asm\" \"\\01\\00\\00\\00\")", 0, &len);
  assert_int_equal(len, 8);
  assert_memory_equal(b, "\0asm\1\0\0\0", 8);
  free_bytes(b, len);
  b = parse_ok("(module quote \"(func (export \\\"q\\\")\" \" (result i32) i32.const 5)\")", 0,
               &len);
  uint8_t *b2 = parse_ok("(module (func (export \"q\") (result i32) i32.const 5))", 0, &len2);
  assert_int_equal(len, len2);
  assert_memory_equal(b, b2, len);
  free_bytes(b, len);
  free_bytes(b2, len2);
  /* an inline module (fields without `(module`) and an empty one */
  b = parse_ok("(func (export \"q\") (result i32) i32.const 5)", 0, &len);
  free_bytes(b, len);
  b = parse_ok("  ;; nothing\n", 0, &len);
  assert_int_equal(len, 8);
  free_bytes(b, len);
  /* quote inside quote: bounded by ICX_WAT_MAX_QUOTE */
  char *q = quote_nest(ICX_WAT_MAX_QUOTE);
  b = parse_ok(q, 0, &len);
  assert_int_equal(len, 8);
  free_bytes(b, len);
  free(q);
  q = quote_nest(ICX_WAT_MAX_QUOTE + 1);
  parse_bad(q, 0, "line 1 col ");
  free(q);
}

/* ---- limits and resources ---------------------------------------------------------- */

/* n copies of a then b then n copies of c, NUL-terminated. */
static char *repeat3(const char *a, size_t n, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *s = malloc(n * (la + lc) + lb + 1);
  assert_non_null(s);
  char *p = s;
  for (size_t i = 0; i < n; i++, p += la) memcpy(p, a, la);
  memcpy(p, b, lb);
  p += lb;
  for (size_t i = 0; i < n; i++, p += lc) memcpy(p, c, lc);
  *p = 0;
  return s;
}

static void test_deep_nesting_is_bounded_not_recursive(void **state) {
  (void)state;
  /* far past the limit: an error, not a stack overflow */
  char *t = repeat3("(", 1000000, "", ")");
  parse_bad(t, 0, "line 1 col 10001: parentheses nested deeper than");
  free(t);
  /* a deep folded expression within the limit parses (no C recursion) */
  t = repeat3("(i32.add (i32.const 1) ", 9000, "(i32.const 0)", ")");
  char *text = malloc(strlen(t) + 100);
  assert_non_null(text);
  sprintf(text, "(module (func (export \"f\") (result i32) %s))", t);
  size_t len;
  uint8_t *b = parse_ok(text, 0, &len);
  free_bytes(b, len);
  free(text);
  free(t);
  /* flat blocks need no parentheses: bounded by the frame limit */
  t = repeat3("block ", 200000, "", "end ");
  text = malloc(strlen(t) + 100);
  assert_non_null(text);
  sprintf(text, "(module (func %s))", t);
  parse_bad(text, 0, "line 1 col ");
  free(text);
  free(t);
}

typedef struct CountAlloc {
  long fail_at, attempts, live;
} CountAlloc;

static void *count_realloc(void *ud, void *ptr, size_t old_size, size_t new_size) {
  CountAlloc *ca = ud;
  if (new_size == 0) {
    if (ptr) ca->live--;
    free(ptr);
    return NULL;
  }
  if (new_size > old_size && ++ca->attempts == ca->fail_at) return NULL;
  void *q = realloc(ptr, new_size);
  if (q && !ptr) ca->live++;
  return q;
}

static void test_allocation_failures_give_enomem_without_leaks(void **state) {
  (void)state;
  const char *text = fac_text;
  icx_status rc = ICX_ENOMEM;
  long k;
  for (k = 1; rc == ICX_ENOMEM; k++) {
    CountAlloc ca = {k, 0, 0};
    icxAllocator a = {count_realloc, &ca};
    uint8_t *b = (uint8_t *)(uintptr_t)1;
    size_t len = 7;
    icxErr err;
    rc = icxWat_to_wasm(&a, text, strlen(text), 0, &b, &len, &err);
    if (rc == ICX_ENOMEM) {
      assert_null(b);
      assert_int_equal(len, 0);
      assert_int_equal(ca.live, 0);
    } else {
      assert_int_equal(rc, ICX_OK);
      assert_int_equal(ca.live, 1);
      icxCore_free(&a, b, len);
      assert_int_equal(ca.live, 0);
    }
  }
  assert_true(k > 20); /* the sweep went through many allocations */
}

static void test_output_is_deterministic(void **state) {
  (void)state;
  size_t l1, l2;
  uint8_t *b1 = parse_ok(fac_text, 0, &l1);
  uint8_t *b2 = parse_ok(fac_text, ICX_FEAT_DEFAULT, &l2);
  assert_int_equal(l1, l2);
  assert_memory_equal(b1, b2, l1);
  free_bytes(b1, l1);
  free_bytes(b2, l2);
  icxAllocator a = icxCore_default_allocator();
  uint8_t *out = (uint8_t *)(uintptr_t)1;
  size_t n = 3;
  icxErr err;
  assert_int_equal(icxWat_to_wasm(&a, NULL, 5, 0, &out, &n, &err), ICX_EINVAL);
  assert_null(out);
  assert_int_equal(n, 0);
  assert_int_equal(icxWat_to_wasm(&a, "", 0, 0, NULL, &n, &err), ICX_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_factorial_flat_folded_and_multivalue_agree),
      cmocka_unit_test(test_f32_literals_round_correctly),
      cmocka_unit_test(test_f64_literals_round_correctly),
      cmocka_unit_test(test_float_literals_run_bit_exact),
      cmocka_unit_test(test_integer_literals_accept_the_full_range),
      cmocka_unit_test(test_malformed_text_reports_line_and_column),
      cmocka_unit_test(test_spec_malformed_forms_are_rejected),
      cmocka_unit_test(test_exact_bytes_of_a_small_module),
      cmocka_unit_test(test_implicit_types_follow_explicit_ones_in_order),
      cmocka_unit_test(test_inline_imports_exports_and_named_indices),
      cmocka_unit_test(test_memory_data_and_bulk_operations),
      cmocka_unit_test(test_tables_references_and_indirect_calls),
      cmocka_unit_test(test_memory64_needs_the_feature),
      cmocka_unit_test(test_binary_and_quote_modules),
      cmocka_unit_test(test_deep_nesting_is_bounded_not_recursive),
      cmocka_unit_test(test_allocation_failures_give_enomem_without_leaks),
      cmocka_unit_test(test_output_is_deterministic),
  };
  return cmocka_run_group_tests_name("unit_wat", tests, NULL, NULL);
}
