/* unit_meter.c -- the engine side of instruction counting: a module in the
 * instrumentation's shape (tests/wat/meter_instr.wat) compiled with the
 * counter fused (ICX_COMPILE_FUSE_COUNTER) must behave exactly as the same
 * module run as plain Wasm, where the counter is an ordinary global and
 * out_of_instructions an ordinary import; and one long call executed as
 * many slices must give the same result and total as one uninterrupted
 * call (10^10 instructions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "comp.h"
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
  int fused;
  int ooi_calls;   /* plain mode: calls of the out_of_instructions import */
  int ooi_suspend; /* plain mode: the import suspends instead of trapping */
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

static icxGlobalInst *counter_global(Fix *fx) { return fx->inst->globals[0]; }

/* Plain mode: the import as the IC's handler behaves, reading the global. */
static int plain_ooi(icxExec *x, void *ud, uint64_t *slots) {
  (void)slots;
  Fix *fx = ud;
  fx->ooi_calls++;
  if ((int64_t)icxGlobalInst_get(counter_global(fx)) >= 0) return ICX_HOST_OK;
  if (fx->ooi_suspend) return ICX_HOST_SUSPEND;
  icxExec_set_trap(x, "out of instructions");
  return ICX_HOST_TRAP;
}

static void fix_open(Fix *fx, int fused) {
  memset(fx, 0, sizeof *fx);
  fx->a = icxCore_default_allocator();
  fx->fused = fused;
  size_t len;
  uint8_t *b = read_file(ICX_TEST_WASM_DIR "/meter_instr.wasm", &len);
  icxErr err;
  icxCompileOpts o = {fused ? ICX_COMPILE_FUSE_COUNTER : 0u, NULL, 0, 0};
  assert_int_equal(icxRt_compile(&fx->a, b, len, ICX_FEAT_DEFAULT, &o, &fx->c, &err), ICX_OK);
  free(b);
  fx->s = icxStore_new(&fx->a);
  fx->x = icxExec_new(&fx->a);
  assert_non_null(fx->s);
  assert_non_null(fx->x);
  icxFuncType t0 = {0, 0, NULL};
  uint8_t ty[3] = {ICX_I32, ICX_I32, ICX_I32};
  icxFuncType t1 = {2, 1, ty};
  icxExtern imp[2];
  imp[0].kind = imp[1].kind = ICX_EXT_FUNC;
  imp[0].u.func = icxStore_host_func(fx->s, &t0, fused ? icxExec_host_out_of_instructions : plain_ooi,
                                     fx);
  imp[1].u.func = icxStore_host_func(fx->s, &t1, icxExec_host_try_grow_passthrough, NULL);
  assert_non_null(imp[0].u.func);
  assert_non_null(imp[1].u.func);
  icxTrap trap;
  assert_int_equal(icxRt_instantiate(fx->s, fx->c, fx->x, imp, 2, &fx->inst, &trap, &err), ICX_OK);
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

/* The counter, wherever the mode keeps it. */
static int64_t counter(Fix *fx) {
  return fx->fused ? icxExec_fuel(fx->x) : (int64_t)icxGlobalInst_get(counter_global(fx));
}
static void set_counter(Fix *fx, int64_t v, int suspend) {
  icxExec_set_fuel(fx->x, fx->fused ? v : INT64_MAX, suspend);
  if (!fx->fused) icxGlobalInst_set(counter_global(fx), (uint64_t)v);
  fx->ooi_suspend = suspend;
}

/* Expected charge of loop(n) (see the .wat): 3 on entry, 1000 per loop
 * entry (n + 1 of them), 7 per iteration, 2 at the end. */
static int64_t loop_cost(int64_t n) { return 3 + 1000 * (n + 1) + 7 * n + 2; }

static void test_fused_and_plain_count_the_same(void **state) {
  (void)state;
  for (int fused = 0; fused <= 1; fused++) {
    Fix fx;
    fix_open(&fx, fused);
    uint64_t n = 1000;
    set_counter(&fx, INT64_C(1) << 40, 0);
    assert_int_equal(icxExec_call(fx.x, fn(&fx, "loop"), &n, 1), ICX_RUN_DONE);
    assert_int_equal(icxExec_results(fx.x)[0], 1000 * 1001 / 2);
    assert_int_equal((INT64_C(1) << 40) - counter(&fx), loop_cost(1000));
    /* the dynamic charge of memory.fill goes through decr */
    uint64_t k = 300;
    set_counter(&fx, 10000, 0);
    assert_int_equal(icxExec_call(fx.x, fn(&fx, "fill"), &k, 1), ICX_RUN_DONE);
    assert_int_equal(icxExec_results(fx.x)[0], 7);
    assert_int_equal(10000 - counter(&fx), 100 + 300);
    /* the probe exports read and write the counter in both modes */
    uint64_t v = 12345;
    assert_int_equal(icxExec_call(fx.x, fn(&fx, "__icx_counter_set"), &v, 1), ICX_RUN_DONE);
    assert_int_equal(icxExec_call(fx.x, fn(&fx, "__icx_counter_get"), NULL, 0), ICX_RUN_DONE);
    assert_int_equal(icxExec_results(fx.x)[0], 12345);
    assert_int_equal(counter(&fx), 12345);
    /* fused, the checks never call the import: they are METER ops */
    if (fused) assert_int_equal(fx.ooi_calls, 0);
    fix_close(&fx);
  }
}

static void test_out_of_instructions_traps_at_the_same_point(void **state) {
  (void)state;
  int64_t left[2];
  for (int fused = 0; fused <= 1; fused++) {
    Fix fx;
    fix_open(&fx, fused);
    uint64_t n = 1000;
    set_counter(&fx, 50000, 0);
    assert_int_equal(icxExec_call(fx.x, fn(&fx, "loop"), &n, 1), ICX_RUN_TRAP);
    if (fused) assert_int_equal(icxExec_trap(fx.x), ICX_TRAP_OUT_OF_FUEL);
    left[fused] = counter(&fx);
    assert_true(left[fused] < 0);
    /* a dynamic charge that overdraws the counter stops the run too */
    uint64_t k = 5000;
    set_counter(&fx, 1000, 0);
    assert_int_equal(icxExec_call(fx.x, fn(&fx, "fill"), &k, 1), ICX_RUN_TRAP);
    assert_int_equal(counter(&fx), 1000 - 100 - 5000);
    fix_close(&fx);
  }
  /* 50000 = 3 + 1000 + 48 * 1007 + 1665: the 50th loop entry overdraws */
  assert_int_equal(left[0], left[1]);
  assert_int_equal(left[0], 50000 - 3 - 1000 - 49 * 1007);
}

/* Run loop(n) as slices of `slice` instructions under a total limit, as
 * deterministic time slicing does; returns the run outcome, *used the
 * total instructions and *res the result. */
static icxRun run_sliced(Fix *fx, uint64_t n, int64_t slice, int64_t limit, int64_t *used,
                         uint64_t *res, int *nslices) {
  int64_t total = 0;
  int64_t budget = slice < limit ? slice : limit;
  set_counter(fx, budget, 1);
  icxRun r = icxExec_call(fx->x, fn(fx, "loop"), &n, 1);
  *nslices = 1;
  while (r == ICX_RUN_SUSPENDED) {
    total += budget - counter(fx);
    if (total > limit) { /* the message's limit is reached: abandon */
      icxExec_reset(fx->x);
      *used = total;
      return ICX_RUN_TRAP;
    }
    budget = slice < limit - total ? slice : limit - total;
    set_counter(fx, budget, 1);
    r = icxExec_resume(fx->x);
    ++*nslices;
  }
  if (r == ICX_RUN_DONE) {
    total += budget - counter(fx);
    *res = icxExec_results(fx->x)[0];
  }
  *used = total;
  return r;
}

static void test_sliced_run_of_1e10_instructions_equals_one_call(void **state) {
  (void)state;
  Fix fx;
  fix_open(&fx, 1);
  const uint64_t n = 10000000; /* 10^7 iterations of 1007 = 1.007 * 10^10 */
  const int64_t want = loop_cost((int64_t)n);
  assert_true(want >= INT64_C(10000000000));
  /* one uninterrupted call */
  set_counter(&fx, INT64_C(1) << 62, 0);
  assert_int_equal(icxExec_call(fx.x, fn(&fx, "loop"), &n, 1), ICX_RUN_DONE);
  uint64_t res1 = icxExec_results(fx.x)[0];
  assert_int_equal(res1, n * (n + 1) / 2);
  assert_int_equal((INT64_C(1) << 62) - icxExec_fuel(fx.x), want);
  /* IC slices of 2 * 10^9 under the 40 * 10^9 message limit, and an odd
   * slice size that does not divide anything */
  const int64_t slices[] = {INT64_C(2000000000), INT64_C(99999989), 1003};
  for (size_t i = 0; i < sizeof slices / sizeof slices[0]; i++) {
    int64_t used;
    uint64_t res = 0;
    int ns;
    uint64_t m = i == 2 ? 20000 : n; /* tiny slices: a shorter loop */
    icxRun r = run_sliced(&fx, m, slices[i], INT64_C(40000000000), &used, &res, &ns);
    assert_int_equal(r, ICX_RUN_DONE);
    assert_int_equal(res, m * (m + 1) / 2);
    assert_int_equal(used, loop_cost((int64_t)m));
    /* a slice may overshoot by at most one block (1007) */
    if (ns < (int)(loop_cost((int64_t)m) / (slices[i] + 1007))) fail_msg("slice %zu: %d slices", i, ns);
  }
  fix_close(&fx);
}

static void test_sliced_run_hits_the_message_limit_where_one_call_does(void **state) {
  (void)state;
  for (int fused = 0; fused <= 1; fused++) {
    Fix fx;
    fix_open(&fx, fused);
    const uint64_t n = 100000;
    const int64_t limit = 12345678;
    set_counter(&fx, limit, 0);
    assert_int_equal(icxExec_call(fx.x, fn(&fx, "loop"), &n, 1), ICX_RUN_TRAP);
    int64_t used_once = limit - counter(&fx);
    int64_t used;
    uint64_t res;
    int ns;
    assert_int_equal(run_sliced(&fx, n, 1000003, limit, &used, &res, &ns), ICX_RUN_TRAP);
    assert_int_equal(used, used_once);
    assert_true(ns > 10);
    fix_close(&fx);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fused_and_plain_count_the_same),
      cmocka_unit_test(test_out_of_instructions_traps_at_the_same_point),
      cmocka_unit_test(test_sliced_run_of_1e10_instructions_equals_one_call),
      cmocka_unit_test(test_sliced_run_hits_the_message_limit_where_one_call_does),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
