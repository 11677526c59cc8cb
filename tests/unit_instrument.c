/* unit_instrument.c -- white-box tests of the instrumentation pass
 * (lib/instrument.h) and the cost table (lib/cost.h).  Modules are built
 * with our WAT parser or as raw bytes; every allocation of the pass goes
 * through cmocka's test_realloc/test_free, so each test is a leak check.
 * Outputs are decoded and validated again. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cost.h"
#include "instrument.h"
#include "rt.h"
#include "wasm.h"
#include "wasm_write.h"
#include "wat.h"

static void *cm_alloc(void *ud, void *p, size_t old, size_t n) {
  (void)ud, (void)old;
  if (n == 0) {
    if (p) test_free(p);
    return NULL;
  }
  return test_realloc(p, n);
}

static icxAllocator talloc(void) {
  icxAllocator a = {cm_alloc, NULL};
  return a;
}

static uint8_t *wat(const char *text, size_t *len) {
  icxAllocator a = icxCore_default_allocator();
  uint8_t *b = NULL;
  icxErr err;
  if (icxWat_to_wasm(&a, text, strlen(text), ICX_FEAT_DEFAULT, &b, len, &err) != ICX_OK)
    fail_msg("wat: %s\n%s", err.msg, text);
  return b;
}

static void wat_free(uint8_t *b, size_t len) {
  icxAllocator a = icxCore_default_allocator();
  icxCore_free(&a, b, len);
}

/* The output must decode and validate. */
static void revalidate(const icxInstrResult *r) {
  icxAllocator a = talloc();
  icxModule *m = NULL;
  icxErr err;
  if (icxWasm_decode(&a, r->wasm, r->wasm_len, ICX_FEAT_DEFAULT, &m, &err) != ICX_OK)
    fail_msg("output does not decode: %s", err.msg);
  if (icxWasm_validate(m, &err) != ICX_OK) fail_msg("output does not validate: %s", err.msg);
  icxWasm_module_free(m);
}

static icx_status run_bytes(const uint8_t *b, size_t len, uint32_t flags, icxInstrResult *r,
                            icxErr *err) {
  icxAllocator a = talloc();
  icxInstrOpts o = {flags, ICX_FEAT_DEFAULT, 0};
  memset(err, 0, sizeof *err);
  icx_status st = icxInstr_run(&a, b, len, &o, r, err);
  if (st == ICX_OK) revalidate(r);
  return st;
}

static icx_status run_wat(const char *text, uint32_t flags, icxInstrResult *r, icxErr *err) {
  size_t len;
  uint8_t *b = wat(text, &len);
  icx_status st = run_bytes(b, len, flags, r, err);
  wat_free(b, len);
  return st;
}

static void expect_reject(const char *text, uint32_t flags, const char *needle) {
  icxInstrResult r;
  icxErr err;
  icx_status st = run_wat(text, flags, &r, &err);
  if (st != ICX_EREJECTED) fail_msg("expected EREJECTED, got %d (%s) for\n%s", st, err.msg, text);
  if (!strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
  assert_null(r.wasm);
}

/* Code bytes of defined function i (index space of the output). */
static void body_of(const icxInstrResult *r, uint32_t fidx, uint8_t **code, size_t *len) {
  icxAllocator a = icxCore_default_allocator();
  icxModule *m = NULL;
  icxErr err;
  assert_int_equal(icxWasm_decode(&a, r->wasm, r->wasm_len, ICX_FEAT_DEFAULT, &m, &err), ICX_OK);
  const icxFunc *f = &m->funcs[fidx - m->nfunc_imports];
  *len = f->code_len;
  *code = malloc(*len);
  memcpy(*code, m->bytes + f->code_off, *len);
  icxWasm_module_free(m);
}

/* The expected bytes of a counter point (C = counter global < 128). */
static size_t point_bytes(uint8_t *o, uint32_t c, int64_t k, int reentrant) {
  icxAllocator a = icxCore_default_allocator();
  icxBuf b;
  icxBuf_init(&b, &a, 1024);
  icxBuf_u8(&b, 0x23), icxBuf_u32(&b, c), icxBuf_u8(&b, 0x42), icxBuf_s64(&b, k);
  icxBuf_u8(&b, 0x7d), icxBuf_u8(&b, 0x24), icxBuf_u32(&b, c);
  if (reentrant) {
    static const uint8_t chk[] = {0x42, 0x00, 0x53, 0x04, 0x40, 0x10, 0x00, 0x0b};
    icxBuf_u8(&b, 0x23), icxBuf_u32(&b, c), icxBuf_bytes(&b, chk, sizeof chk);
  }
  size_t n = b.len;
  memcpy(o, b.p, n);
  icxBuf_free(&b);
  return n;
}

static int contains(const uint8_t *h, size_t hn, const uint8_t *n, size_t nn) {
  for (size_t i = 0; i + nn <= hn; i++)
    if (!memcmp(h + i, n, nn)) return 1;
  return 0;
}

/* ---- cost table ---------------------------------------------------------------- */

static void test_cost_table_matches_reference(void **state) {
  (void)state;
  assert_int_equal(icxCost_op(0x02, 0), 0); /* block */
  assert_int_equal(icxCost_op(0x03, 0), 0);
  assert_int_equal(icxCost_op(0x0b, 0), 0);
  assert_int_equal(icxCost_op(0x41, 0), 1);
  assert_int_equal(icxCost_op(0x28, 0), 1); /* i32.load wasm32 */
  assert_int_equal(icxCost_op(0x28, 1), 2); /* wasm64 */
  assert_int_equal(icxCost_op(0x36, 1), 2);
  assert_int_equal(icxCost_op(0x23, 0), 2);
  assert_int_equal(icxCost_op(0x04, 0), 2);
  assert_int_equal(icxCost_op(0x10, 0), 5);
  assert_int_equal(icxCost_op(0x11, 0), 10);
  assert_int_equal(icxCost_op(0x6d, 0), 10);
  assert_int_equal(icxCost_op(0x95, 0), 3);  /* f32.div */
  assert_int_equal(icxCost_op(0xa3, 0), 5);  /* f64.div */
  assert_int_equal(icxCost_op(0x9f, 0), 8);  /* f64.sqrt */
  assert_int_equal(icxCost_op(0x96, 0), 18); /* f32.min */
  assert_int_equal(icxCost_op(0xb8, 0), 16); /* f64.convert_i32_u */
  assert_int_equal(icxCost_op(0xb7, 0), 3);
  assert_int_equal(icxCost_op(0xa8, 0), 20);
  assert_int_equal(icxCost_op(0x3f, 0), 20);
  assert_int_equal(icxCost_op(0x40, 0), 300);
  assert_int_equal(icxCost_op(0xd2, 0), 130);
  assert_int_equal(icxCost_op(0xd1, 0), 5);
  assert_int_equal(icxCost_op(0xfc00, 0), 20);
  assert_int_equal(icxCost_op(0xfc0b, 0), 100);
  assert_int_equal(icxCost_op(0xfc09, 0), 300);
  assert_int_equal(icxCost_op(0xfc0f, 0), 300);
  assert_int_equal(icxCost_op(0xfc10, 0), 100);
}

static void test_ic0_table_lookup_and_signatures(void **state) {
  (void)state;
  int id = icxCost_ic0_find("msg_reply_data_append", 21);
  assert_true(id >= 0);
  const icxIc0Api *api = icxCost_ic0((uint32_t)id);
  assert_int_equal(api->bytes, ICX_BYTES_50);
  assert_int_equal(api->fixed, 500);
  uint8_t p32[2] = {ICX_I32, ICX_I32}, p64[2] = {ICX_I64, ICX_I64};
  assert_true(icxCost_ic0_sig_ok(api, 0, p32, 2, NULL, 0));
  assert_false(icxCost_ic0_sig_ok(api, 0, p64, 2, NULL, 0));
  assert_true(icxCost_ic0_sig_ok(api, 1, p64, 2, NULL, 0));
  id = icxCost_ic0_find("stable_read", 11);
  assert_true(id >= 0);
  uint8_t p3[3] = {ICX_I32, ICX_I32, ICX_I32};
  assert_true(icxCost_ic0_sig_ok(icxCost_ic0((uint32_t)id), 0, p3, 3, NULL, 0));
  assert_false(icxCost_ic0_sig_ok(icxCost_ic0((uint32_t)id), 1, p3, 3, NULL, 0)); /* 32-bit only */
  assert_int_equal(icxCost_ic0_find("nope", 4), -1);
  assert_true(icxCost_ic0((uint32_t)icxCost_ic0_find("stable64_write", 14))->contexts & ICX_CTX_s);
  assert_false(icxCost_ic0((uint32_t)icxCost_ic0_find("msg_reply", 9))->contexts & ICX_CTX_s);
}

/* ---- counter injection ------------------------------------------------------------ */

static void test_entry_point_charges_block_cost_plus_one(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (func (export \"f\") (result i32) i32.const 1 i32.const 2 "
                           "i32.add))",
                           0, &r, &err),
                   ICX_OK);
  assert_int_equal(r.counter_global, 0);
  assert_int_equal(r.decr_func, 3);
  uint8_t *code;
  size_t n;
  body_of(&r, 2, &code, &n);
  uint8_t want[64];
  size_t k = point_bytes(want, 0, 4, 1); /* 1 + 1 + 1 + 1 */
  assert_true(n > k);
  assert_memory_equal(code, want, k);
  assert_int_equal(code[k], 0x41); /* then the original code */
  free(code);
  icxInstr_free(&r);
}

static void test_loop_if_br_points(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  /* entry: 1 + local.get 1 + loop 0 = 2 (reentrant)
   * loop body: local.get 1 + i32.const 1 + i32.sub 1 + local.tee 1 + br_if 2 = 6 (reentrant)
   * after br_if: end 0 -> nothing (cost 0, block end)
   * after loop end: local.get 1 + if 2 = 3 (block end, no check)
   * then-branch: i32.const 1 + local.set 1 + end 0 = 2 (non-reentrant) */
  assert_int_equal(run_wat("(module (func (export \"f\") (param i32)"
                           " (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))"
                           " (if (local.get 0) (then (local.set 0 (i32.const 1))))))",
                           0, &r, &err),
                   ICX_OK);
  uint8_t *code, want[64];
  size_t n, k;
  body_of(&r, 2, &code, &n);
  k = point_bytes(want, 0, 1, 1);
  assert_memory_equal(code, want, k); /* entry: only the loop opcode (0) + 1 */
  k = point_bytes(want, 0, 6, 1);
  assert_true(contains(code, n, want, k));
  k = point_bytes(want, 0, 3, 0);
  assert_true(contains(code, n, want, k));
  k = point_bytes(want, 0, 2, 0);
  assert_true(contains(code, n, want, k));
  free(code);
  icxInstr_free(&r);
}

static void test_bulk_memory_dynamic_charge_and_grow(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (memory 1) (func (export \"f\") (param i32) (result i32)"
                           " (memory.fill (i32.const 0) (i32.const 0) (local.get 0))"
                           " (memory.grow (local.get 0))))",
                           0, &r, &err),
                   ICX_OK);
  uint8_t *code;
  size_t n;
  body_of(&r, 2, &code, &n);
  const uint8_t dyn[] = {0xad, 0x10, 0x03, 0xa7, 0xfc, 0x0b, 0x00};
  assert_true(contains(code, n, dyn, sizeof dyn));
  const uint8_t grow[] = {0x22, 0x01, 0x40, 0x00, 0x20, 0x01, 0x10, 0x01};
  assert_true(contains(code, n, grow, sizeof grow));
  free(code);
  icxInstr_free(&r);
}

static void test_memory64_dynamic_charge_has_no_conversion(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (memory i64 1) (func (param i64)"
                           " (memory.copy (i64.const 0) (i64.const 0) (local.get 0))"
                           " (memory.init 0 (i64.const 0) (i32.const 0) (i32.const 0))) (data \"a\"))",
                           0, &r, &err),
                   ICX_OK);
  assert_true(r.mem64);
  uint8_t *code;
  size_t n;
  body_of(&r, 2, &code, &n);
  const uint8_t copy[] = {0x10, 0x03, 0xfc, 0x0a};
  const uint8_t init[] = {0xad, 0x10, 0x03, 0xa7, 0xfc, 0x08};
  assert_true(contains(code, n, copy, sizeof copy));
  assert_true(contains(code, n, init, sizeof init));
  free(code);
  icxInstr_free(&r);
}

/* Run an instrumented module with our engine; return the counter after f. */
static int host_trap(icxExec *x, void *ud, uint64_t *slots) {
  (void)ud, (void)slots;
  icxExec_set_trap(x, "out of instructions");
  return ICX_HOST_TRAP;
}
static int host_pass(icxExec *x, void *ud, uint64_t *slots) {
  (void)x, (void)ud, (void)slots;
  return ICX_HOST_OK;
}

static int64_t exec_counter(const icxInstrResult *r, const char *fn, uint64_t arg, icxRun *out) {
  icxAllocator a = icxCore_default_allocator();
  icxCompiled *c = NULL;
  icxErr err;
  icxCompileOpts co;
  memset(&co, 0, sizeof co);
  assert_int_equal(icxRt_compile(&a, r->wasm, r->wasm_len, ICX_FEAT_DEFAULT, &co, &c, &err), ICX_OK);
  const icxModule *m = icxRt_compiled_module(c);
  icxStore *s = icxStore_new(&a);
  icxExec *x = icxExec_new(&a);
  icxExtern imp[2];
  imp[0].kind = imp[1].kind = ICX_EXT_FUNC;
  imp[0].u.func = icxStore_host_func(s, &m->types[m->imports[0].d.type_idx], host_trap, NULL);
  imp[1].u.func = icxStore_host_func(s, &m->types[m->imports[1].d.type_idx], host_pass, NULL);
  icxInstance *inst;
  icxTrap trap;
  assert_int_equal(icxRt_instantiate(s, c, x, imp, 2, &inst, &trap, &err), ICX_OK);
  icxExtern f, g;
  assert_int_equal(icxRt_export(inst, fn, strlen(fn), &f), ICX_OK);
  *out = icxExec_call(x, f.u.func, &arg, 1);
  assert_int_equal(icxRt_export(inst, "canister counter_instructions", 29, &g), ICX_OK);
  int64_t v = (int64_t)icxGlobalInst_get(g.u.global);
  icxExec_free(x);
  icxStore_free(s);
  icxRt_compiled_free(c);
  return v;
}

static void test_loop_cost_per_iteration(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  icxAllocator a = talloc();
  icxInstrOpts o = {0, ICX_FEAT_DEFAULT, 1000000};
  size_t len;
  uint8_t *b = wat("(module (func (export \"f\") (param i32)"
                   " (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))))",
                   &len);
  assert_int_equal(icxInstr_run(&a, b, len, &o, &r, &err), ICX_OK);
  icxRun rr;
  /* entry 1 (+ loop 0) + 10 iterations x 6 + end 0 */
  assert_int_equal(exec_counter(&r, "f", 10, &rr), 1000000 - 1 - 60);
  assert_int_equal(rr, ICX_RUN_DONE);
  icxInstr_free(&r);
  /* too small a budget: out_of_instructions at the loop head */
  o.counter_init = 20;
  assert_int_equal(icxInstr_run(&a, b, len, &o, &r, &err), ICX_OK);
  assert_true(exec_counter(&r, "f", 10, &rr) < 0);
  assert_int_equal(rr, ICX_RUN_TRAP);
  icxInstr_free(&r);
  wat_free(b, len);
}

static void test_decr_saturates_and_fill_charges_count(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  icxAllocator a = talloc();
  icxInstrOpts o = {0, ICX_FEAT_DEFAULT, 100000};
  size_t len;
  uint8_t *b = wat("(module (memory 1) (func (export \"f\") (param i32)"
                   " (memory.fill (i32.const 0) (i32.const 7) (local.get 0))))",
                   &len);
  assert_int_equal(icxInstr_run(&a, b, len, &o, &r, &err), ICX_OK);
  icxRun rr;
  /* 1 + 2 consts + local.get 1 + fill 100 = 104, plus n = 1000 */
  assert_int_equal(exec_counter(&r, "f", 1000, &rr), 100000 - 104 - 1000);
  icxInstr_free(&r);
  wat_free(b, len);
}

static void test_indices_shift_everywhere(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (import \"m\" \"f\" (func $imp))"
                           " (table 2 funcref) (elem (i32.const 0) $a $b)"
                           " (global funcref (ref.func $a))"
                           " (func $a (call $b) (drop (ref.func $b)))"
                           " (func $b (call $imp)) (start $b) (export \"a\" (func $a)))",
                           0, &r, &err),
                   ICX_OK);
  icxAllocator al = icxCore_default_allocator();
  icxModule *m;
  assert_int_equal(icxWasm_decode(&al, r.wasm, r.wasm_len, ICX_FEAT_DEFAULT, &m, &err), ICX_OK);
  assert_int_equal(m->nfunc_imports, 3);
  assert_string_equal(m->imports[0].name, "out_of_instructions");
  assert_string_equal(m->imports[1].name, "try_grow_wasm_memory");
  assert_int_equal(m->start_idx, 4);
  assert_int_equal(m->elems[0].items[0].value, 3);
  assert_int_equal(m->elems[0].items[1].value, 4);
  assert_int_equal(m->globals[0].init.value, 3);
  int found = 0;
  for (uint32_t i = 0; i < m->nexports; i++)
    if (!strcmp(m->exports[i].name, "a")) found = 1, assert_int_equal(m->exports[i].index, 3);
  assert_true(found);
  icxWasm_module_free(m);
  uint8_t *code;
  size_t n;
  body_of(&r, 3, &code, &n);
  const uint8_t call_b[] = {0x10, 0x04}, ref_b[] = {0xd2, 0x04};
  assert_true(contains(code, n, call_b, 2));
  assert_true(contains(code, n, ref_b, 2));
  free(code);
  icxInstr_free(&r);
}

static void test_output_is_deterministic(void **state) {
  (void)state;
  const char *t = "(module (memory 1) (global (mut i32) (i32.const 0))"
                  " (func (export \"canister_update go\") (loop (br 0))) (data (i32.const 5) \"x\"))";
  icxInstrResult r1, r2;
  icxErr err;
  assert_int_equal(run_wat(t, ICX_INSTR_CANISTER, &r1, &err), ICX_OK);
  assert_int_equal(run_wat(t, ICX_INSTR_CANISTER, &r2, &err), ICX_OK);
  assert_int_equal(r1.wasm_len, r2.wasm_len);
  assert_memory_equal(r1.wasm, r2.wasm, r1.wasm_len);
  assert_memory_equal(r1.sha256, r2.sha256, 32);
  icxInstr_free(&r1);
  icxInstr_free(&r2);
}

/* ---- canister mode ------------------------------------------------------------------ */

static void test_canister_rewrites(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (import \"ic0\" \"msg_reply\" (func))"
                           " (memory 1) (table 1 funcref)"
                           " (global (mut i32) (i32.const 1)) (global i32 (i32.const 2))"
                           " (global (mut i64) (i64.const 3)) (export \"g2\" (global 2))"
                           " (func $s) (start $s)"
                           " (func (export \"canister_query q\")) (func (export \"canister_update u\"))"
                           " (func (export \"canister_init\"))"
                           " (data (i32.const 16) \"hello\") (data \"passive\") (data (i32.const 0) \"z\"))",
                           ICX_INSTR_CANISTER, &r, &err),
                   ICX_OK);
  /* entry points sorted by (kind, name); function indices shifted */
  assert_int_equal(r.nentry, 4);
  assert_int_equal(r.entry[0].kind, ICX_EP_INIT);
  assert_int_equal(r.entry[1].kind, ICX_EP_UPDATE);
  assert_string_equal(r.entry[1].name, "u");
  assert_int_equal(r.entry[2].kind, ICX_EP_QUERY);
  assert_int_equal(r.entry[3].kind, ICX_EP_START);
  assert_int_equal(r.entry[3].func_idx, 3);
  /* both active segments taken out, in order */
  assert_int_equal(r.ndata, 2);
  assert_int_equal(r.data[0].offset, 16);
  assert_int_equal(r.data[0].len, 5);
  assert_memory_equal(r.data[0].bytes, "hello", 5);
  assert_int_equal(r.data[1].offset, 0);
  icxAllocator al = icxCore_default_allocator();
  icxModule *m;
  assert_int_equal(icxWasm_decode(&al, r.wasm, r.wasm_len, ICX_FEAT_DEFAULT, &m, &err), ICX_OK);
  assert_false(m->has_start);
  /* the first active one stays, empty (a passive one follows); the last goes */
  assert_int_equal(m->ndatas, 2);
  assert_int_equal(m->datas[0].len, 0);
  assert_int_equal(m->datas[1].mode, ICX_SEG_PASSIVE);
  const char *want[] = {"memory", "table", "__persistent_mutable_global_0",
                        "canister counter_instructions", "canister counter_dirty_pages",
                        "canister counter_accessed_pages", "canister_start", "g2"};
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    int found = 0;
    for (uint32_t i = 0; i < m->nexports; i++) found |= !strcmp(m->exports[i].name, want[k]);
    if (!found) fail_msg("export %s missing", want[k]);
  }
  for (uint32_t i = 0; i < m->nexports; i++)
    assert_true(strcmp(m->exports[i].name, "__persistent_mutable_global_2") != 0);
  assert_int_equal(r.counter_global, 3);
  assert_int_equal(m->nglobals_total, 6);
  icxWasm_module_free(m);
  icxInstr_free(&r);
}

static void test_canister_import_rules(void **state) {
  (void)state;
  expect_reject("(module (import \"ic0\" \"nope\" (func)))", ICX_INSTR_CANISTER, "'nope'");
  expect_reject("(module (import \"env\" \"f\" (func)))", ICX_INSTR_CANISTER, "'f' from 'env'");
  expect_reject("(module (import \"ic0\" \"msg_reply\" (func (param i32))))", ICX_INSTR_CANISTER,
                "wrong signature");
  expect_reject("(module (import \"ic0\" \"msg_reject\" (func (param i32 i32))) (memory i64 1))",
                ICX_INSTR_CANISTER, "wrong signature");
  expect_reject("(module (import \"ic0\" \"stable_size\" (func (result i32))) (memory i64 1))",
                ICX_INSTR_CANISTER, "wrong signature");
  expect_reject("(module (import \"env\" \"mem\" (memory 1)))", ICX_INSTR_CANISTER, "env.memory");
  expect_reject("(module (import \"x\" \"table\" (table 1 funcref)))", ICX_INSTR_CANISTER,
                "env.table");
  expect_reject("(module (import \"env\" \"g\" (global i32)))", ICX_INSTR_CANISTER, "globals");
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (import \"env\" \"memory\" (memory i64 1))"
                           " (import \"ic0\" \"msg_reject\" (func (param i64 i64))))",
                           ICX_INSTR_CANISTER, &r, &err),
                   ICX_OK);
  assert_true(r.mem64);
  icxInstr_free(&r);
}

static void test_canister_export_rules(void **state) {
  (void)state;
  expect_reject("(module (func (export \"canister_foo\")))", ICX_INSTR_CANISTER, "canister_foo");
  expect_reject("(module (func (export \"canister_update\")))", ICX_INSTR_CANISTER, "prefix");
  /* exactly one space before <n> (reference 3.1, checklist 3) */
  expect_reject("(module (func (export \"canister_update  x\")))", ICX_INSTR_CANISTER,
                "'canister_update  x' has more than one space");
  expect_reject("(module (func (export \"canister_query  x\")))", ICX_INSTR_CANISTER,
                "'canister_query  x' has more than one space");
  expect_reject("(module (func (export \"canister_composite_query  x\")))", ICX_INSTR_CANISTER,
                "'canister_composite_query  x' has more than one space");
  expect_reject("(module (func (export \"canister_query x\") (param i32)))", ICX_INSTR_CANISTER,
                "() -> ()");
  expect_reject("(module (func (export \"canister_query x\")) (func (export \"canister_update x\")))",
                ICX_INSTR_CANISTER, "duplicate function 'x'");
  expect_reject("(module (func (export \"canister_start\")))", ICX_INSTR_CANISTER, "reserved");
  expect_reject("(module (global (export \"canister counter_instructions\") i32 (i32.const 0)))",
                ICX_INSTR_CANISTER, "reserved");
  expect_reject("(module (memory (export \"stable_memory\") 1))", ICX_INSTR_CANISTER, "reserved");
  /* the table and memory are renamed: a clash is reported */
  expect_reject("(module (table (export \"t\") 1 funcref) (func (export \"table\")))",
                ICX_INSTR_CANISTER, "'table' exported twice");
}

static void test_canister_data_and_memory_rules(void **state) {
  (void)state;
  expect_reject("(module (memory 1) (data (i32.const 65535) \"ab\"))", ICX_INSTR_CANISTER,
                "does not fit");
  expect_reject("(module (memory i64 1 200000))", ICX_INSTR_CANISTER, "wasm64 memory");
  expect_reject("(module (memory 1) (data (i32.const 0) \"a\") (func (data.drop 0)))",
                ICX_INSTR_CANISTER, "data.drop");
  /* a wasm64 memory without maximum gets the cap */
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (memory i64 1))", ICX_INSTR_CANISTER, &r, &err), ICX_OK);
  icxAllocator al = icxCore_default_allocator();
  icxModule *m;
  assert_int_equal(icxWasm_decode(&al, r.wasm, r.wasm_len, ICX_FEAT_DEFAULT, &m, &err), ICX_OK);
  assert_true(m->mems[0].lim.has_max);
  assert_int_equal(m->mems[0].lim.max, ICX_MAX_MEM64_PAGES);
  icxWasm_module_free(m);
  icxInstr_free(&r);
}

static void test_canister_custom_section_rules(void **state) {
  (void)state;
  /* module header + custom sections built by hand */
  uint8_t b[4096];
  const char *names[] = {"icp:public", "icp:foo x", NULL};
  for (int k = 0; names[k]; k++) {
    size_t n = 0;
    memcpy(b, "\0asm\1\0\0\0", 8), n = 8;
    size_t nl = strlen(names[k]);
    b[n++] = 0, b[n++] = (uint8_t)(nl + 1), b[n++] = (uint8_t)nl;
    memcpy(b + n, names[k], nl), n += nl;
    icxInstrResult r;
    icxErr err;
    assert_int_equal(run_bytes(b, n, ICX_INSTR_CANISTER, &r, &err), ICX_EREJECTED);
  }
  /* public and private with the same name, then 17 distinct ones */
  for (int variant = 0; variant < 2; variant++) {
    size_t n = 8;
    memcpy(b, "\0asm\1\0\0\0", 8);
    int count = variant ? 17 : 2;
    for (int k = 0; k < count; k++) {
      char nm[32];
      int nl = variant ? snprintf(nm, sizeof nm, "icp:public s%d", k)
                       : snprintf(nm, sizeof nm, "icp:%s x", k ? "private" : "public");
      b[n++] = 0, b[n++] = (uint8_t)(nl + 1), b[n++] = (uint8_t)nl;
      memcpy(b + n, nm, (size_t)nl), n += (size_t)nl;
    }
    icxInstrResult r;
    icxErr err;
    assert_int_equal(run_bytes(b, n, ICX_INSTR_CANISTER, &r, &err), ICX_EREJECTED);
    assert_non_null(strstr(err.msg, variant ? "too many" : "already exists"));
    /* without canister mode the sections are copied */
    assert_int_equal(run_bytes(b, n, 0, &r, &err), ICX_OK);
    icxInstr_free(&r);
  }
}

/* n functions (type () -> ()), each `end` only. */
static uint8_t *many_funcs(uint32_t n, size_t *len) {
  icxAllocator a = icxCore_default_allocator();
  icxBuf b, s;
  icxBuf_init(&b, &a, SIZE_MAX);
  icxBuf_init(&s, &a, SIZE_MAX);
  icxBuf_bytes(&b, "\0asm\1\0\0\0", 8);
  const uint8_t ty[] = {1, 0x60, 0, 0};
  icxBuf_u8(&b, 1), icxBuf_u8(&b, 4), icxBuf_bytes(&b, ty, 4);
  icxBuf_u32(&s, n);
  for (uint32_t i = 0; i < n; i++) icxBuf_u8(&s, 0);
  icxBuf_section(&b, 3, &s);
  s.len = 0;
  icxBuf_u32(&s, n);
  for (uint32_t i = 0; i < n; i++) icxBuf_u8(&s, 2), icxBuf_u8(&s, 0), icxBuf_u8(&s, 0x0b);
  icxBuf_section(&b, 10, &s);
  icxBuf_free(&s);
  *len = b.len;
  return b.p;
}

static void test_limits_functions_and_globals(void **state) {
  (void)state;
  size_t len;
  uint8_t *b = many_funcs(50001, &len);
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_bytes(b, len, ICX_INSTR_CANISTER, &r, &err), ICX_EREJECTED);
  assert_non_null(strstr(err.msg, "too many functions"));
  assert_int_equal(run_bytes(b, len, 0, &r, &err), ICX_OK); /* any module without the rules */
  icxInstr_free(&r);
  free(b);
  b = many_funcs(50000, &len);
  assert_int_equal(run_bytes(b, len, ICX_INSTR_CANISTER, &r, &err), ICX_OK);
  icxInstr_free(&r);
  free(b);
  char *t = malloc(1001 * 40 + 64);
  size_t n = (size_t)sprintf(t, "(module");
  for (int i = 0; i < 1001; i++) n += (size_t)sprintf(t + n, " (global i32 (i32.const %d))", i);
  sprintf(t + n, ")");
  expect_reject(t, ICX_INSTR_CANISTER, "too many globals");
  free(t);
}

/* ---- hostile inputs ----------------------------------------------------------------- */

static void test_deep_nesting_and_huge_br_table(void **state) {
  (void)state;
  const int depth = 5000;
  /* the br_table module as raw bytes: 200,000 targets */
  icxAllocator a = icxCore_default_allocator();
  icxBuf b, s, f;
  icxBuf_init(&b, &a, SIZE_MAX), icxBuf_init(&s, &a, SIZE_MAX), icxBuf_init(&f, &a, SIZE_MAX);
  icxBuf_bytes(&b, "\0asm\1\0\0\0", 8);
  const uint8_t ty[] = {1, 0x60, 1, 0x7f, 0};
  icxBuf_u8(&b, 1), icxBuf_u8(&b, 5), icxBuf_bytes(&b, ty, 5);
  const uint8_t fs[] = {1, 0};
  icxBuf_u8(&b, 3), icxBuf_u8(&b, 2), icxBuf_bytes(&b, fs, 2);
  icxBuf_u8(&f, 0);                          /* no locals */
  icxBuf_u8(&f, 0x02), icxBuf_u8(&f, 0x40);  /* block */
  icxBuf_u8(&f, 0x20), icxBuf_u8(&f, 0);     /* local.get 0 */
  icxBuf_u8(&f, 0x0e), icxBuf_u32(&f, 200000);
  for (int i = 0; i <= 200000; i++) icxBuf_u8(&f, 0);
  icxBuf_u8(&f, 0x0b), icxBuf_u8(&f, 0x0b);
  icxBuf_u32(&s, 1), icxBuf_u32(&s, (uint32_t)f.len), icxBuf_bytes(&s, f.p, f.len);
  icxBuf_section(&b, 10, &s);
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_bytes(b.p, b.len, 0, &r, &err), ICX_OK);
  icxInstr_free(&r);
  icxBuf_free(&b), icxBuf_free(&s), icxBuf_free(&f);
  /* deep nesting, raw: depth x (block loop) ... end end */
  icxBuf_init(&b, &a, SIZE_MAX), icxBuf_init(&s, &a, SIZE_MAX), icxBuf_init(&f, &a, SIZE_MAX);
  icxBuf_bytes(&b, "\0asm\1\0\0\0", 8);
  icxBuf_u8(&b, 1), icxBuf_u8(&b, 5), icxBuf_bytes(&b, ty, 5);
  icxBuf_u8(&b, 3), icxBuf_u8(&b, 2), icxBuf_bytes(&b, fs, 2);
  icxBuf_u8(&f, 0);
  for (int i = 0; i < depth; i++) icxBuf_u8(&f, 0x02), icxBuf_u8(&f, 0x40), icxBuf_u8(&f, 0x03), icxBuf_u8(&f, 0x40);
  for (int i = 0; i < 2 * depth; i++) icxBuf_u8(&f, 0x0b);
  icxBuf_u8(&f, 0x0b);
  icxBuf_u32(&s, 1), icxBuf_u32(&s, (uint32_t)f.len), icxBuf_bytes(&s, f.p, f.len);
  icxBuf_section(&b, 10, &s);
  /* 10,000 levels: the counter check inside the innermost loop would make
   * 10,001, over the validator's limit: rejected, not an invalid output */
  assert_int_equal(run_bytes(b.p, b.len, 0, &r, &err), ICX_EREJECTED);
  assert_non_null(strstr(err.msg, "nested too deeply"));
  /* one level less is fine */
  s.len = 0;
  f.len = 1;
  for (int i = 0; i < depth - 1; i++) icxBuf_u8(&f, 0x02), icxBuf_u8(&f, 0x40), icxBuf_u8(&f, 0x03), icxBuf_u8(&f, 0x40);
  icxBuf_u8(&f, 0x02), icxBuf_u8(&f, 0x40), icxBuf_u8(&f, 0x02), icxBuf_u8(&f, 0x40);
  for (int i = 0; i < 2 * depth; i++) icxBuf_u8(&f, 0x0b);
  icxBuf_u8(&f, 0x0b);
  icxBuf_u32(&s, 1), icxBuf_u32(&s, (uint32_t)f.len), icxBuf_bytes(&s, f.p, f.len);
  b.len -= 0; /* rebuild the module around the new code section */
  icxBuf_free(&b);
  icxBuf_init(&b, &a, SIZE_MAX);
  icxBuf_bytes(&b, "\0asm\1\0\0\0", 8);
  icxBuf_u8(&b, 1), icxBuf_u8(&b, 5), icxBuf_bytes(&b, ty, 5);
  icxBuf_u8(&b, 3), icxBuf_u8(&b, 2), icxBuf_bytes(&b, fs, 2);
  icxBuf_section(&b, 10, &s);
  assert_int_equal(run_bytes(b.p, b.len, 0, &r, &err), ICX_OK);
  icxInstr_free(&r);
  icxBuf_free(&b), icxBuf_free(&s), icxBuf_free(&f);
}

static void test_gzip_input_and_bomb(void **state) {
  (void)state;
  size_t len;
  uint8_t *raw = wat("(module (func (export \"canister_update a\")))", &len);
  uint8_t gz[1024];
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = raw, zs.avail_in = (uInt)len, zs.next_out = gz, zs.avail_out = sizeof gz;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t gzlen = sizeof gz - zs.avail_out;
  deflateEnd(&zs);
  icxInstrResult r1, r2;
  icxErr err;
  assert_int_equal(run_bytes(raw, len, ICX_INSTR_CANISTER, &r1, &err), ICX_OK);
  assert_int_equal(run_bytes(gz, gzlen, ICX_INSTR_CANISTER, &r2, &err), ICX_OK);
  assert_int_equal(r1.wasm_len, r2.wasm_len);
  assert_memory_equal(r1.wasm, r2.wasm, r1.wasm_len);
  assert_memory_not_equal(r1.sha256, r2.sha256, 32);
  icxInstr_free(&r1);
  icxInstr_free(&r2);
  /* truncated gzip */
  assert_int_equal(run_bytes(gz, gzlen / 2, 0, &r1, &err), ICX_EMALFORMED);
  wat_free(raw, len);
  /* a bomb: 101 MiB of zeros */
  size_t big = (size_t)ICX_MAX_MODULE_BYTES + (1u << 20);
  uint8_t *zeros = calloc(1, big);
  size_t cap = big / 100 + 4096;
  uint8_t *bomb = malloc(cap);
  memset(&zs, 0, sizeof zs);
  assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = zeros, zs.avail_in = (uInt)big, zs.next_out = bomb, zs.avail_out = (uInt)cap;
  assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
  size_t blen = cap - zs.avail_out;
  deflateEnd(&zs);
  free(zeros);
  assert_int_equal(run_bytes(bomb, blen, 0, &r1, &err), ICX_EREJECTED);
  assert_non_null(strstr(err.msg, "larger than"));
  free(bomb);
}

static void test_invalid_inputs(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_bytes((const uint8_t *)"\0asm\2\0\0\0", 8, 0, &r, &err), ICX_EMALFORMED);
  assert_int_equal(run_bytes((const uint8_t *)"xx", 2, 0, &r, &err), ICX_EMALFORMED);
  expect_reject("(module (func (export \"canister_heartbeat\") (result i32) i32.const 0))",
                ICX_INSTR_CANISTER, "() -> ()");
  size_t len;
  uint8_t *b = wat("(module (func (result i32) i64.const 0))", &len);
  /* wat does not type-check: validation reports it */
  assert_int_equal(run_bytes(b, len, 0, &r, &err), ICX_EINVALID);
  wat_free(b, len);
}

static void test_probe_exports(void **state) {
  (void)state;
  icxInstrResult r;
  icxErr err;
  assert_int_equal(run_wat("(module (func (export \"f\")))", ICX_INSTR_PROBE, &r, &err), ICX_OK);
  icxAllocator al = icxCore_default_allocator();
  icxModule *m;
  assert_int_equal(icxWasm_decode(&al, r.wasm, r.wasm_len, ICX_FEAT_DEFAULT, &m, &err), ICX_OK);
  int got = 0;
  for (uint32_t i = 0; i < m->nexports; i++)
    got += !strcmp(m->exports[i].name, "__icx_counter_get") ||
           !strcmp(m->exports[i].name, "__icx_counter_set");
  assert_int_equal(got, 2);
  icxWasm_module_free(m);
  icxInstr_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cost_table_matches_reference),
      cmocka_unit_test(test_ic0_table_lookup_and_signatures),
      cmocka_unit_test(test_entry_point_charges_block_cost_plus_one),
      cmocka_unit_test(test_loop_if_br_points),
      cmocka_unit_test(test_bulk_memory_dynamic_charge_and_grow),
      cmocka_unit_test(test_memory64_dynamic_charge_has_no_conversion),
      cmocka_unit_test(test_loop_cost_per_iteration),
      cmocka_unit_test(test_decr_saturates_and_fill_charges_count),
      cmocka_unit_test(test_indices_shift_everywhere),
      cmocka_unit_test(test_output_is_deterministic),
      cmocka_unit_test(test_canister_rewrites),
      cmocka_unit_test(test_canister_import_rules),
      cmocka_unit_test(test_canister_export_rules),
      cmocka_unit_test(test_canister_data_and_memory_rules),
      cmocka_unit_test(test_canister_custom_section_rules),
      cmocka_unit_test(test_limits_functions_and_globals),
      cmocka_unit_test(test_deep_nesting_and_huge_br_table),
      cmocka_unit_test(test_gzip_input_and_bomb),
      cmocka_unit_test(test_invalid_inputs),
      cmocka_unit_test(test_probe_exports),
  };
  return cmocka_run_group_tests_name("unit_instrument", tests, NULL, NULL);
}
