/* fuzz_exec.c -- compile and run valid modules; every run must agree.
 *
 * Input: bytes starting with "\0asm" are taken as a module (skipped unless it
 * decodes and validates; imports get stubs: host functions returning zeros,
 * fresh memories, tables and globals).  Any other bytes go through the
 * generator of wasm_gen.c, whose output must validate (a rejection aborts:
 * a generator or validator bug).
 *
 * The module is compiled with ICX_COMPILE_METER, instantiated with the
 * start function under the same budget, and every exported function is
 * called in export order with zero arguments, each with FUEL_DEFAULT units
 * of fuel (so loops end with ICX_TRAP_OUT_OF_FUEL).  A trace records, per call, the
 * outcome, the trap, the results and the fuel used, then a hash of memory 0
 * and the exported globals.  The whole sequence runs in four variants, each
 * on a fresh compile, store and instance:
 *   A  plain allocator, one budget per call;
 *   B  a poisoning allocator (fresh and freed bytes 0xa5): must equal A
 *      exactly, so no result depends on uninitialised or freed memory;
 *   C  the budget handed out in slices (1, 13 or 997 units, by a hash of
 *      the module) with suspend_on_empty, resuming after each suspension
 *      until the call ends or the budget is spent (a top-up may not cover
 *      the overdraft: the run must then suspend again, not run on): must
 *      equal A (pause/resume changes nothing, fuel included);
 *   D  compiled without metering, calls run while A's completed (not out of
 *      fuel): outcomes and results must equal A's.
 * Any difference aborts with both traces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "fuzz_util.h"
#include "rt.h"
#include "wasm.h"
#include "wasm_gen.h"

#define FUEL_DEFAULT 10000    /* per call and for the start function */
/* variant C: fuel per slice, one of these, chosen by a hash of the input
 * (1: a suspension at nearly every check) */
static const int64_t slices[] = {1, 13, 997};
#define MAX_PAGES 64          /* skip modules with bigger memories (4 MiB) */
#define MAX_TABLE 100000      /* ... or tables */
#define ALLOC_LIMIT ((size_t)256 << 20)
#define HASH_MAX ((uint64_t)64 << 20) /* bytes of memory 0 hashed */
#define TRACE_MAX 2048

typedef struct Trace {
  uint64_t v[TRACE_MAX]; /* everything */
  uint32_t n;
  uint64_t w[TRACE_MAX]; /* the same without the fuel entries */
  uint32_t nw;
  uint32_t ncalls;       /* calls recorded */
  /* per call: ended without running out of fuel (variant D runs those) */
  uint8_t completed[TRACE_MAX];
  int inst_oof;          /* the start function ran out of fuel */
  int all_completed;     /* instantiation and every call ended, no fuel out */
} Trace;

enum { VAR_A, VAR_B, VAR_C, VAR_D };

/* Debugging knobs from the environment (read once; this is a test driver):
 *   FUZZ_EXEC_DUMP=FILE   write each generated module to FILE
 *   FUZZ_EXEC_VERBOSE=1   print variant A's outcomes on stdout
 *   FUZZ_EXEC_DIFF=1      for fuzz/diff_wabt.py: generate with
 *                         WASMGEN_NAN_SAFE, call only exports without
 *                         parameters, print the outcomes (implies VERBOSE)
 *   FUZZ_EXEC_FUEL=N      fuel per call (default FUEL_DEFAULT)
 *   FUZZ_EXEC_SLICES=lenient  variant C never resumes with negative fuel
 *                         (the default also tops up by less than the
 *                         overdraft, which must then suspend again) */
static struct {
  int init, verbose, diff, lenient_slices;
  int64_t fuel;
  const char *dump;
} opt;

static void read_options(void) {
  const char *v;
  if (opt.init) return;
  opt.init = 1;
  opt.dump = getenv("FUZZ_EXEC_DUMP");
  opt.diff = getenv("FUZZ_EXEC_DIFF") != NULL;
  opt.verbose = opt.diff || getenv("FUZZ_EXEC_VERBOSE") != NULL;
  v = getenv("FUZZ_EXEC_SLICES");
  opt.lenient_slices = v && strcmp(v, "lenient") == 0;
  v = getenv("FUZZ_EXEC_FUEL");
  opt.fuel = v ? strtoll(v, NULL, 10) : 0;
  if (opt.fuel <= 0) opt.fuel = FUEL_DEFAULT;
}

static const char *type_name(uint8_t t) {
  switch (t) {
  case ICX_I32: return "i32";
  case ICX_I64: return "i64";
  case ICX_F32: return "f32";
  case ICX_F64: return "f64";
  case ICX_FUNCREF: return "funcref";
  case ICX_EXTERNREF: return "externref";
  default: return "?";
  }
}

/* One line per call: "call NAME: done T:0xBITS ..." or "call NAME: trap MSG". */
static void print_call(const char *name, icxExec *x, const icxFuncType *ft, icxRun r) {
  if (r == ICX_RUN_DONE) {
    printf("call %s: done", name);
    for (uint32_t i = 0; i < ft->nresults; i++)
      printf(" %s:%#llx", type_name(icxFuncType_results(ft)[i]),
             (unsigned long long)icxExec_results(x)[i]);
    printf("\n");
  } else if (r == ICX_RUN_TRAP) {
    printf("call %s: trap %s\n", name, icxExec_trap_msg(x));
  } else {
    printf("call %s: outcome %d\n", name, (int)r);
  }
  fflush(stdout); /* before a later abort */
}

/* Record a value (fuel: only in the full trace). */
static void tr(Trace *t, uint64_t v) {
  if (t->n < TRACE_MAX) t->v[t->n++] = v;
  if (t->nw < TRACE_MAX) t->w[t->nw++] = v;
}

static void tr_fuel(Trace *t, uint64_t v) {
  if (t->n < TRACE_MAX) t->v[t->n++] = v;
}

/* Import stub: zero results. */
static int host_stub(icxExec *x, void *ud, uint64_t *slots) {
  const icxFuncType *ft = ud;
  (void)x;
  for (uint32_t i = 0; i < ft->nresults; i++) slots[i] = 0;
  return ICX_HOST_OK;
}

static int is_ref(uint8_t t) { return t == ICX_FUNCREF || t == ICX_EXTERNREF; }

/* Can this module be run cheaply?  (memories, tables, imports) */
static int affordable(const icxModule *m) {
  for (uint32_t i = 0; i < m->nmems_total; i++)
    if (m->mems[i].lim.min > MAX_PAGES) return 0;
  for (uint32_t i = 0; i < m->ntables_total; i++)
    if (m->tables[i].lim.min > MAX_TABLE) return 0;
  return 1;
}

/* Build the import stubs in s; 0 if one cannot be made. */
static int make_imports(icxStore *s, const icxModule *m, icxExtern *imp) {
  for (uint32_t i = 0; i < m->nimports; i++) {
    const icxImport *im = &m->imports[i];
    imp[i].kind = im->kind;
    switch (im->kind) {
    case ICX_EXT_FUNC: {
      const icxFuncType *ft = &m->types[im->d.type_idx];
      imp[i].u.func = icxStore_host_func(s, ft, host_stub, (void *)(uintptr_t)ft);
      break;
    }
    case ICX_EXT_TABLE:
      imp[i].u.table = icxStore_table(s, &im->d.table, 0);
      break;
    case ICX_EXT_MEM:
      imp[i].u.mem = icxStore_memory(s, &im->d.mem);
      break;
    default:
      imp[i].u.global = icxStore_global(s, &im->d.global, 0);
      break;
    }
    if (!imp[i].u.ptr) return 0;
  }
  return 1;
}

/* Record one call's outcome. */
static void record_call(Trace *t, icxExec *x, const icxFuncType *ft, icxRun r, int64_t used,
                        int metered) {
  icxTrap trap = r == ICX_RUN_TRAP ? icxExec_trap(x) : ICX_TRAP_NONE;
  int oof = trap == ICX_TRAP_OUT_OF_FUEL;
  if (!metered && oof) fuzz_fail("out of fuel in code compiled without ICX_COMPILE_METER");
  tr(t, 0xca11000000000000ull | (uint64_t)r << 8 | (uint64_t)trap);
  if (r == ICX_RUN_TRAP) {
    const char *msg = icxExec_trap_msg(x);
    if (!msg || !msg[0]) fuzz_fail("trap %d without a message", trap);
  }
  if (r == ICX_RUN_DONE) {
    const uint64_t *res = icxExec_results(x);
    for (uint32_t i = 0; i < ft->nresults; i++) {
      uint8_t ty = icxFuncType_results(ft)[i];
      uint64_t v = res[i];
      if ((ty == ICX_I32 || ty == ICX_F32) && (v >> 32) != 0)
        fuzz_fail("result %u of type %#x is not zero-extended: %#llx", i, ty,
                  (unsigned long long)v);
      tr(t, is_ref(ty) ? (v != 0) : v);
    }
  }
  if (metered && !oof) tr_fuel(t, (uint64_t)used);
  if (t->ncalls < TRACE_MAX) t->completed[t->ncalls] = (uint8_t)!oof;
  t->ncalls++;
  if (oof) t->all_completed = 0;
}

/* Call f with zero arguments under the variant's fuel regime. */
static icxRun call(icxExec *x, icxFuncInst *f, const icxFuncType *ft, int variant,
                   int64_t slice, int64_t *out_used) {
  uint64_t args[ICX_MAX_PARAMS];
  memset(args, 0, sizeof(uint64_t) * ft->nparams);
  const int64_t fuel = opt.fuel;
  if (variant != VAR_C) {
    icxExec_set_fuel(x, fuel, 0);
    icxRun r = icxExec_call(x, f, args, ft->nparams);
    *out_used = fuel - icxExec_fuel(x);
    return r;
  }
  int64_t given = fuel < slice ? fuel : slice;
  icxExec_set_fuel(x, given, 1);
  icxRun r = icxExec_call(x, f, args, ft->nparams);
  while (r == ICX_RUN_SUSPENDED && given < fuel) {
    int64_t add = fuel - given < slice ? fuel - given : slice;
    if (opt.lenient_slices) {
      /* never resume with the fuel still negative: stop where the whole
       * budget would not pay for the suspended block (A traps there) */
      int64_t need = -icxExec_fuel(x);
      if (need > fuel - given) break;
      if (add < need) add = need;
    }
    icxExec_set_fuel(x, icxExec_fuel(x) + add, 1);
    given += add;
    r = icxExec_resume(x);
  }
  *out_used = given - icxExec_fuel(x);
  return r;
}

/* Compile, instantiate and call every export; 0 if the module was skipped. */
static int run_module(const uint8_t *wasm, size_t len, int generated, int variant,
                      const Trace *ref, Trace *t) {
  const size_t nslices = sizeof slices / sizeof slices[0];
  int64_t slice = slices[fuzz_hash(FUZZ_HASH_INIT, wasm, len) % nslices];
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.limit = ALLOC_LIMIT;
  fa.poison = variant == VAR_B;
  icxAllocator a = fuzz_allocator(&fa);
  icxCompileOpts opts = {variant == VAR_D ? 0u : ICX_COMPILE_METER, NULL, 0, 0};
  int metered = variant != VAR_D;
  icxCompiled *c = NULL;
  icxErr err;
  memset(&err, 0, sizeof err);
  memset(t, 0, sizeof *t);
  t->all_completed = 1;

  icx_status st = icxRt_compile(&a, wasm, len, ICX_FEAT_DEFAULT, &opts, &c, &err);
  if (st != ICX_OK) {
    if (c) fuzz_fail("compile failed (%d) but returned a module", st);
    fuzz_check_no_leaks(&fa, "failed compile");
    if (generated)
      fuzz_fail("generated module rejected (%d): %s%s", st, err.msg,
                opt.dump ? "" : " (set FUZZ_EXEC_DUMP=FILE to save it)");
    if (st == ICX_ENOMEM && fa.failed) return 0;
    if (variant != VAR_A) fuzz_fail("compile failed in variant %d only: %s", variant, err.msg);
    return 0;
  }
  const icxModule *m = icxRt_compiled_module(c);
  if (!affordable(m)) {
    icxRt_compiled_free(c);
    fuzz_check_no_leaks(&fa, "skip");
    return 0;
  }
  icxStore *s = icxStore_new(&a);
  icxExec *x = icxExec_new(&a);
  icxExtern *imp = calloc(m->nimports ? m->nimports : 1, sizeof *imp);
  if (!s || !x || !imp) fuzz_fail("out of memory setting up");
  if (!make_imports(s, m, imp)) fuzz_fail("cannot make the import stubs");

  icxInstance *inst = NULL;
  icxTrap itrap = ICX_TRAP_NONE;
  icxExec_set_fuel(x, opt.fuel, 0);
  st = icxRt_instantiate(s, c, x, imp, m->nimports, &inst, &itrap, &err);
  tr(t, 0x1257000000000000ull | (uint64_t)(uint32_t)st << 8 | (uint64_t)itrap);
  if (st == ICX_OK && !inst && itrap == ICX_TRAP_NONE)
    fuzz_fail("instantiate: ICX_OK, no instance and no trap");
  if (st == ICX_OK && inst && itrap != ICX_TRAP_NONE)
    fuzz_fail("instantiate: an instance and a trap");
  if (variant == VAR_A && opt.verbose && itrap != ICX_TRAP_NONE)
    printf("start: trap %s\n", icxRt_trap_message(itrap));
  if (itrap == ICX_TRAP_OUT_OF_FUEL) {
    if (!metered) fuzz_fail("start function out of fuel without ICX_COMPILE_METER");
    t->inst_oof = 1;
    t->all_completed = 0;
  }
  /* a decoded module may also not link or exceed an instantiation limit */
  if (st != ICX_OK && st != ICX_ENOMEM &&
      !(!generated && (st == ICX_EUNLINKABLE || st == ICX_ELIMIT)))
    fuzz_fail("instantiate returned %d: %s", st, err.msg);

  int stopped = 0;
  if (inst) {
    for (uint32_t e = 0; e < m->nexports; e++) {
      const icxExport *ex = &m->exports[e];
      if (ex->kind != ICX_EXT_FUNC) continue;
      if (opt.diff && icxWasm_func_type(m, ex->index)->nparams != 0) continue;
      if (variant == VAR_D) {
        /* unmetered code only runs what the metered run finished */
        if (t->ncalls >= ref->ncalls || t->ncalls >= TRACE_MAX || !ref->completed[t->ncalls]) {
          stopped = 1;
          break;
        }
      }
      icxExtern ext;
      if (icxRt_export(inst, ex->name, ex->name_len, &ext) != ICX_OK || ext.kind != ICX_EXT_FUNC)
        fuzz_fail("export \"%s\" not found", ex->name);
      const icxFuncType *ft = icxFuncInst_type(ext.u.func);
      const icxFuncType *mt = icxWasm_func_type(m, ex->index);
      if (ft->nparams != mt->nparams || ft->nresults != mt->nresults)
        fuzz_fail("export \"%s\": instance type differs from the module's", ex->name);
      int64_t used = 0;
      icxRun r = call(x, ext.u.func, ft, variant, slice, &used);
      if (r == ICX_RUN_SUSPENDED) {
        /* variant C with the budget spent: the same as running out */
        if (variant != VAR_C) fuzz_fail("suspended without suspend_on_empty");
        icxExec_reset(x);
        tr(t, 0xca11000000000000ull | (uint64_t)ICX_RUN_TRAP << 8 | ICX_TRAP_OUT_OF_FUEL);
        if (t->ncalls < TRACE_MAX) t->completed[t->ncalls] = 0;
        t->ncalls++;
        t->all_completed = 0;
        continue;
      }
      if (r == ICX_RUN_ERROR) fuzz_fail("call of \"%s\": ICX_RUN_ERROR", ex->name);
      record_call(t, x, ft, r, used, metered);
      if (variant == VAR_A && opt.verbose) print_call(ex->name, x, ft, r);
    }
    /* final state: memory 0 and the exported globals */
    if (!stopped) {
      icxMemInst *mem = icxInstance_memory(inst);
      if (mem) {
        uint64_t size = icxMemInst_size(mem);
        tr(t, size);
        /* a module can grow memory to GiBs: hash at most HASH_MAX bytes */
        tr(t, fuzz_hash(FUZZ_HASH_INIT, icxMemInst_data(mem),
                        (size_t)(size < HASH_MAX ? size : HASH_MAX)));
      }
      for (uint32_t e = 0; e < m->nexports; e++) {
        const icxExport *ex = &m->exports[e];
        icxExtern ext;
        if (ex->kind != ICX_EXT_GLOBAL) continue;
        if (icxRt_export(inst, ex->name, ex->name_len, &ext) != ICX_OK)
          fuzz_fail("export \"%s\" not found", ex->name);
        uint64_t v = icxGlobalInst_get(ext.u.global);
        tr(t, is_ref(icxGlobalInst_type(ext.u.global)->type) ? (v != 0) : v);
      }
    }
  }
  icxExec_free(x);
  icxStore_free(s);
  icxRt_compiled_free(c);
  free(imp);
  fuzz_check_no_leaks(&fa, "run");
  return 1;
}

static void print_trace(const char *name, const uint64_t *v, uint32_t n) {
  fprintf(stderr, "%s (%u entries):", name, n);
  for (uint32_t i = 0; i < n; i++) fprintf(stderr, " %llx", (unsigned long long)v[i]);
  fputc('\n', stderr);
}

/* b must equal a (or, with prefix, be a prefix of it). */
static void compare(const uint64_t *a, uint32_t na, const uint64_t *b, uint32_t nb,
                    const char *what, int prefix) {
  if ((prefix ? nb > na : nb != na) || memcmp(a, b, nb * sizeof a[0]) != 0) {
    print_trace("A", a, na);
    print_trace(what, b, nb);
    fuzz_fail("variant %s differs from variant A", what);
  }
}

/* All four variants; 0 if the module was skipped. */
static int run_all(const uint8_t *wasm, size_t len, int generated) {
  static Trace ta, tb; /* large: not on the stack */
  if (!run_module(wasm, len, generated, VAR_A, NULL, &ta)) return 0;
  if (!run_module(wasm, len, generated, VAR_B, &ta, &tb)) fuzz_fail("variant B skipped");
  compare(ta.v, ta.n, tb.v, tb.n, "B (poisoned allocator)", 0);
  if (!run_module(wasm, len, generated, VAR_C, &ta, &tb)) fuzz_fail("variant C skipped");
  compare(ta.v, ta.n, tb.v, tb.n, "C (fuel in slices)", 0);
  if (!ta.inst_oof) {
    if (!run_module(wasm, len, generated, VAR_D, &ta, &tb)) fuzz_fail("variant D skipped");
    compare(ta.w, ta.nw, tb.w, tb.nw, "D (not metered)", !ta.all_completed);
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  read_options();
  if (size >= 4 && memcmp(data, "\0asm", 4) == 0) {
    run_all(data, size, 0);
    return 0;
  }
  size_t len = 0;
  uint8_t *wasm = wasmgen_module(data, size, opt.diff ? WASMGEN_NAN_SAFE : 0u, &len);
  if (!wasm) return 0;
  if (opt.dump) {
    FILE *f = fopen(opt.dump, "wb");
    if (f) {
      fwrite(wasm, 1, len, f);
      fclose(f);
    }
  }
  run_all(wasm, len, 1);
  free(wasm);
  return 0;
}
