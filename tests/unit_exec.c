/* unit_exec.c -- white-box tests of the interpreter (lib/exec_interp.c) and
 * the compiler (lib/comp_func.c): suspension and resumption, fuel slices,
 * deterministic traps, call-stack exhaustion, NaN canonicalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <pthread.h>

#include "rt.h"

#ifndef ICX_TEST_WASM_DIR
#define ICX_TEST_WASM_DIR "build/wat"
#endif

typedef struct Fix {
  icxAllocator a;
  icxCompiled *c;
  icxStore *s;
  icxExec *x;
  icxInstance *inst;
  int suspend_each; /* host "yield" asks to suspend */
  int yields;
} Fix;

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static int host_yield(icxExec *x, void *ud, uint64_t *slots) {
  (void)x;
  Fix *fx = ud;
  fx->yields++;
  slots[0] = (uint32_t)slots[0] * 2u;
  return fx->suspend_each ? ICX_HOST_SUSPEND : ICX_HOST_OK;
}

static void fix_open(Fix *fx, uint32_t flags) {
  memset(fx, 0, sizeof *fx);
  fx->a = icxCore_default_allocator();
  size_t len;
  uint8_t *b = read_file(ICX_TEST_WASM_DIR "/exec_core.wasm", &len);
  icxErr err;
  icxCompileOpts o = {flags, NULL, 0, 0};
  assert_int_equal(icxRt_compile(&fx->a, b, len, ICX_FEAT_DEFAULT, &o, &fx->c, &err), ICX_OK);
  free(b);
  fx->s = icxStore_new(&fx->a);
  fx->x = icxExec_new(&fx->a);
  assert_non_null(fx->s);
  assert_non_null(fx->x);
  uint8_t ty[2] = {ICX_I32, ICX_I32};
  icxFuncType ft = {1, 1, ty};
  icxExtern imp;
  imp.kind = ICX_EXT_FUNC;
  imp.u.func = icxStore_host_func(fx->s, &ft, host_yield, fx);
  assert_non_null(imp.u.func);
  icxTrap trap;
  assert_int_equal(icxRt_instantiate(fx->s, fx->c, fx->x, &imp, 1, &fx->inst, &trap, &err), ICX_OK);
  assert_int_equal(trap, ICX_TRAP_NONE);
  assert_non_null(fx->inst);
}

static void fix_close(Fix *fx) {
  icxExec_free(fx->x);
  icxStore_free(fx->s);
  icxRt_compiled_free(fx->c);
}

static icxFuncInst *fn(Fix *fx, const char *name) {
  icxExtern e;
  assert_int_equal(icxRt_export(fx->inst, name, strlen(name), &e), ICX_OK);
  assert_int_equal(e.kind, ICX_EXT_FUNC);
  return e.u.func;
}

/* Call and expect completion; returns result 0. */
static uint64_t call_ok(Fix *fx, const char *name, const uint64_t *args, uint32_t n) {
  icxRun r = icxExec_call(fx->x, fn(fx, name), args, n);
  if (r != ICX_RUN_DONE) fail_msg("%s: run %d trap %s", name, r, icxExec_trap_msg(fx->x));
  return icxExec_results(fx->x)[0];
}
static icxTrap call_trap(Fix *fx, const char *name, const uint64_t *args, uint32_t n) {
  icxRun r = icxExec_call(fx->x, fn(fx, name), args, n);
  assert_int_equal(r, ICX_RUN_TRAP);
  return icxExec_trap(fx->x);
}

static void test_host_suspend_resume_equals_uninterrupted(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, 0);
  uint64_t n = 50;
  uint64_t plain = call_ok(&fx, "yields", &n, 1);
  assert_int_equal(plain, 2 * (49 * 50 / 2));
  fx.suspend_each = 1;
  fx.yields = 0;
  icxRun r = icxExec_call(fx.x, fn(&fx, "yields"), &n, 1);
  int suspensions = 0;
  while (r == ICX_RUN_SUSPENDED) {
    suspensions++;
    r = icxExec_resume(fx.x);
  }
  assert_int_equal(r, ICX_RUN_DONE);
  assert_int_equal(suspensions, 50);
  assert_int_equal(fx.yields, 50);
  assert_int_equal(icxExec_results(fx.x)[0], plain);
  /* a second call on the same context is independent */
  assert_int_equal(icxExec_resume(fx.x), ICX_RUN_ERROR);
  fix_close(&fx);
}

static void test_call_while_suspended_is_error_until_reset(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, 0);
  fx.suspend_each = 1;
  uint64_t n = 3;
  assert_int_equal(icxExec_call(fx.x, fn(&fx, "yields"), &n, 1), ICX_RUN_SUSPENDED);
  assert_int_equal(icxExec_call(fx.x, fn(&fx, "yields"), &n, 1), ICX_RUN_ERROR);
  icxExec_reset(fx.x);
  fx.suspend_each = 0;
  assert_int_equal(call_ok(&fx, "yields", &n, 1), 6);
  fix_close(&fx);
}

static void test_fuel_slices_equal_one_run(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, ICX_COMPILE_METER);
  uint64_t n = 200000;
  icxExec_set_fuel(fx.x, INT64_MAX, 0);
  uint64_t want = call_ok(&fx, "spin", &n, 1);
  int64_t used_once = INT64_MAX - icxExec_fuel(fx.x);
  assert_true(used_once > (int64_t)n * 10);

  const int64_t slice = 9973;
  icxExec_set_fuel(fx.x, slice, 1);
  icxRun r = icxExec_call(fx.x, fn(&fx, "spin"), &n, 1);
  int64_t used = 0;
  int slices = 1;
  while (r == ICX_RUN_SUSPENDED) {
    used += slice - icxExec_fuel(fx.x);
    icxExec_set_fuel(fx.x, slice, 1);
    r = icxExec_resume(fx.x);
    slices++;
  }
  assert_int_equal(r, ICX_RUN_DONE);
  used += slice - icxExec_fuel(fx.x);
  assert_int_equal(icxExec_results(fx.x)[0], want);
  assert_int_equal(used, used_once);
  assert_true(slices > 100);
  fix_close(&fx);
}

/* Run spin(n) giving the budget one unit at a time, added to the counter
 * (the counter may be negative after a block charge); stop when the budget
 * is spent.  Returns 1 if the call completed. */
static int run_additive_slices(Fix *fx, uint64_t n, int64_t budget, uint64_t *result) {
  int64_t given = 1;
  icxExec_set_fuel(fx->x, 1, 1);
  icxRun r = icxExec_call(fx->x, fn(fx, "spin"), &n, 1);
  while (r == ICX_RUN_SUSPENDED) {
    if (given >= budget) {
      icxExec_reset(fx->x);
      return 0;
    }
    icxExec_set_fuel(fx->x, icxExec_fuel(fx->x) + 1, 1);
    given++;
    r = icxExec_resume(fx->x);
  }
  assert_int_equal(r, ICX_RUN_DONE);
  *result = icxExec_results(fx->x)[0];
  return 1;
}

static void test_fuel_topups_smaller_than_overdraft_do_not_run(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, ICX_COMPILE_METER);
  uint64_t n = 10;
  icxExec_set_fuel(fx.x, INT64_MAX, 0);
  uint64_t want = call_ok(&fx, "spin", &n, 1);
  int64_t need = INT64_MAX - icxExec_fuel(fx.x);
  /* one unit short: the one-shot run traps, and so must the sliced one */
  icxExec_set_fuel(fx.x, need - 1, 0);
  assert_int_equal(call_trap(&fx, "spin", &n, 1), ICX_TRAP_OUT_OF_FUEL);
  uint64_t got = 0;
  assert_int_equal(run_additive_slices(&fx, n, need - 1, &got), 0);
  /* exactly enough: both complete with the same result */
  assert_int_equal(run_additive_slices(&fx, n, need, &got), 1);
  assert_int_equal(got, want);
  assert_int_equal(icxExec_fuel(fx.x), 0);
  /* without suspension, resuming with a negative counter traps */
  icxExec_set_fuel(fx.x, 1, 1);
  assert_int_equal(icxExec_call(fx.x, fn(&fx, "spin"), &n, 1), ICX_RUN_SUSPENDED);
  icxExec_set_fuel(fx.x, icxExec_fuel(fx.x), 0);
  assert_int_equal(icxExec_resume(fx.x), ICX_RUN_TRAP);
  assert_int_equal(icxExec_trap(fx.x), ICX_TRAP_OUT_OF_FUEL);
  fix_close(&fx);
}

static void test_fuel_exhausted_traps_without_suspend(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, ICX_COMPILE_METER);
  uint64_t n = 1000000;
  icxExec_set_fuel(fx.x, 5000, 0);
  assert_int_equal(call_trap(&fx, "spin", &n, 1), ICX_TRAP_OUT_OF_FUEL);
  assert_true(icxExec_fuel(fx.x) < 0);
  icxExec_set_fuel(fx.x, INT64_MAX, 0);
  n = 10;
  (void)call_ok(&fx, "spin", &n, 1);
  fix_close(&fx);
}

static void test_unmetered_code_ignores_fuel(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, 0);
  uint64_t n = 100000;
  icxExec_set_fuel(fx.x, 1, 0);
  (void)call_ok(&fx, "spin", &n, 1);
  assert_int_equal(icxExec_fuel(fx.x), 1);
  fix_close(&fx);
}

static void test_recursion_exhausts_stack_deterministically(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, 0);
  assert_int_equal(call_trap(&fx, "rec", NULL, 0), ICX_TRAP_STACK_EXHAUSTED);
  uint64_t d1 = call_ok(&fx, "depth", NULL, 0);
  assert_true(d1 >= 1000);
  assert_true(d1 <= ICX_MAX_CALL_DEPTH);
  (void)call_ok(&fx, "reset_depth", NULL, 0);
  assert_int_equal(call_trap(&fx, "rec", NULL, 0), ICX_TRAP_STACK_EXHAUSTED);
  assert_int_equal(call_ok(&fx, "depth", NULL, 0), d1);
  /* the context still works after the trap */
  uint64_t k = 20;
  assert_int_equal(call_ok(&fx, "fact", &k, 1), 2432902008176640000ull);
  fix_close(&fx);
}

static void test_traps_have_codes_and_messages(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, 0);
  uint64_t zero = 0, big = 65536 - 3, nan = 0x7fc00000u, huge = 0x4f000000u; /* 2^31 */
  assert_int_equal(call_trap(&fx, "unreachable", NULL, 0), ICX_TRAP_UNREACHABLE);
  assert_string_equal(icxExec_trap_msg(fx.x), "unreachable");
  assert_int_equal(call_trap(&fx, "div0", &zero, 1), ICX_TRAP_DIV_ZERO);
  assert_int_equal(call_trap(&fx, "ovf", NULL, 0), ICX_TRAP_INT_OVERFLOW);
  assert_int_equal(call_trap(&fx, "conv", &nan, 1), ICX_TRAP_INVALID_CONV);
  assert_int_equal(call_trap(&fx, "conv", &huge, 1), ICX_TRAP_INT_OVERFLOW);
  assert_int_equal(call_trap(&fx, "oob", &big, 1), ICX_TRAP_MEM_OOB);
  assert_string_equal(icxExec_trap_msg(fx.x), "out of bounds memory access");
  uint64_t i0 = 0, i1 = 1, i2 = 2, i9 = 9;
  assert_int_equal(call_ok(&fx, "icall", &i0, 1), 42);
  assert_int_equal(call_trap(&fx, "icall", &i1, 1), ICX_TRAP_INDIRECT_TYPE);
  assert_int_equal(call_trap(&fx, "icall", &i2, 1), ICX_TRAP_UNINIT_ELEMENT);
  assert_int_equal(call_trap(&fx, "icall", &i9, 1), ICX_TRAP_UNDEFINED_ELEMENT);
  uint64_t edge = 65536 - 4, st[2] = {65536 - 4, 0xdeadbeef};
  (void)call_ok(&fx, "store", st, 2);
  assert_int_equal(call_ok(&fx, "oob", &edge, 1), 0xdeadbeef);
  fix_close(&fx);
}

static void test_nans_are_canonical_and_bit_ops_keep_payload(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, 0);
  uint64_t z[2] = {0, 0};
  assert_int_equal(call_ok(&fx, "f32_div", z, 2), 0x7fc00000u);
  uint64_t pay[2] = {0xffa00001u, 0x3f800000u}; /* negative NaN with payload + 1.0 */
  assert_int_equal(call_ok(&fx, "f32_add", pay, 2), 0x7fc00000u);
  uint64_t one = 0x7fa00001u;
  assert_int_equal(call_ok(&fx, "f32_neg", &one, 1), 0xffa00001u);
  uint64_t m1 = 0xbff0000000000000ull; /* -1.0 */
  assert_int_equal(call_ok(&fx, "f64_sqrt", &m1, 1), 0x7ff8000000000000ull);
  uint64_t zz[2] = {0x8000000000000000ull, 0}; /* min(-0, +0) = -0 */
  assert_int_equal(call_ok(&fx, "f64_min", zz, 2), 0x8000000000000000ull);
  uint64_t snan = 0x7f800001u;
  assert_int_equal(call_ok(&fx, "f64_promote", &snan, 1), 0x7ff8000000000000ull);
  fix_close(&fx);
}

static void test_compile_is_deterministic(void **state) {
  (void)state;
  Fix a, b;
  fix_open(&a, ICX_COMPILE_METER);
  fix_open(&b, ICX_COMPILE_METER);
  const icxModule *m = icxRt_compiled_module(a.c);
  (void)m;
  uint64_t n = 777;
  assert_int_equal(call_ok(&a, "spin", &n, 1), call_ok(&b, "spin", &n, 1));
  assert_int_equal(icxExec_fuel(a.x), icxExec_fuel(b.x));
  fix_close(&a);
  fix_close(&b);
}

/* One compiled module, many stores and threads at once. */
typedef struct Worker {
  const icxCompiled *c;
  uint64_t n;
  uint64_t result;
  int64_t fuel_used;
  int ok;
} Worker;

static int no_host(icxExec *x, void *ud, uint64_t *slots) {
  (void)x, (void)ud;
  slots[0] = 0;
  return ICX_HOST_OK;
}

static void *worker_main(void *arg) {
  Worker *w = arg;
  icxAllocator a = icxCore_default_allocator();
  icxStore *s = icxStore_new(&a);
  icxExec *x = icxExec_new(&a);
  uint8_t ty[2] = {ICX_I32, ICX_I32};
  icxFuncType ft = {1, 1, ty};
  icxExtern imp;
  imp.kind = ICX_EXT_FUNC;
  imp.u.func = icxStore_host_func(s, &ft, no_host, NULL);
  icxInstance *in = NULL;
  icxTrap trap;
  icxErr err;
  icxExtern e;
  if (icxRt_instantiate(s, w->c, x, &imp, 1, &in, &trap, &err) == ICX_OK && in &&
      icxRt_export(in, "spin", 4, &e) == ICX_OK) {
    icxExec_set_fuel(x, INT64_MAX, 0);
    if (icxExec_call(x, e.u.func, &w->n, 1) == ICX_RUN_DONE) {
      w->result = icxExec_results(x)[0];
      w->fuel_used = INT64_MAX - icxExec_fuel(x);
      w->ok = 1;
    }
  }
  icxExec_free(x);
  icxStore_free(s);
  return NULL;
}

static void test_compiled_module_shared_by_threads(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, ICX_COMPILE_METER);
  enum { NT = 4 };
  Worker w[NT];
  pthread_t th[NT];
  for (int i = 0; i < NT; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].c = fx.c;
    w[i].n = 300000;
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < NT; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
  uint64_t n = 300000;
  icxExec_set_fuel(fx.x, INT64_MAX, 0);
  uint64_t want = call_ok(&fx, "spin", &n, 1);
  for (int i = 0; i < NT; i++) {
    assert_true(w[i].ok);
    assert_int_equal(w[i].result, want);
    assert_int_equal(w[i].fuel_used, INT64_MAX - icxExec_fuel(fx.x));
  }
  fix_close(&fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_suspend_resume_equals_uninterrupted),
      cmocka_unit_test(test_call_while_suspended_is_error_until_reset),
      cmocka_unit_test(test_fuel_slices_equal_one_run),
      cmocka_unit_test(test_fuel_exhausted_traps_without_suspend),
      cmocka_unit_test(test_fuel_topups_smaller_than_overdraft_do_not_run),
      cmocka_unit_test(test_unmetered_code_ignores_fuel),
      cmocka_unit_test(test_recursion_exhausts_stack_deterministically),
      cmocka_unit_test(test_traps_have_codes_and_messages),
      cmocka_unit_test(test_nans_are_canonical_and_bit_ops_keep_payload),
      cmocka_unit_test(test_compile_is_deterministic),
      cmocka_unit_test(test_compiled_module_shared_by_threads),
  };
  return cmocka_run_group_tests_name("unit_exec", tests, NULL, NULL);
}
