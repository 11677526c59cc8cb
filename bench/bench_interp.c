/* bench_interp.c -- run one export of a Wasm module through libicexec and
 * time it.  Driver for bench/run_bench.py (make bench, make bench-smoke).
 *
 *   build/bench_interp [--meter | --meter-internal] [--func NAME] FILE.wasm [N]
 *
 * Loads FILE.wasm (no imports) and compiles it.  --meter first runs the
 * install-time instrumentation pass (lib/instrument.h, counter only) and
 * compiles the result with the counter fused (what canisters run);
 * --meter-internal compiles the original with ICX_COMPILE_METER instead.
 * Both meter with an unlimited budget.  Then it instantiates the module
 * and calls NAME (default
 * "run") with the i32 argument N; without N it calls NAME (default "bench")
 * with no argument, as the native harness does.  Prints, on stdout:
 *
 *   <result as signed decimal i32>
 *   time: compile S s, instantiate S s, call S s (cpu S s)[, fuel F]
 *
 * The call time is wall clock (CLOCK_MONOTONIC) around icxExec_call only;
 * "cpu" is the process CPU time over the same span.  Exit status: 0 on a
 * normal return, 1 on a trap or any error (message on stderr), 2 on usage. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "instrument.h"
#include "rt.h"
#include "wasm.h"

/* Seconds on the given clock. */
static double now_s(clockid_t clk) {
  struct timespec ts;
  if (clock_gettime(clk, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Read a whole file into a malloc'd buffer; NULL on error. */
static uint8_t *read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t cap = 0, len = 0;
  if (!f) return NULL;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *out_len = len;
  return buf;
}

static int usage(void) {
  fprintf(stderr,
          "usage: bench_interp [--meter | --meter-internal] [--func NAME] FILE.wasm [N]\n");
  return 2;
}

int main(int argc, char **argv) {
  int meter = 0, ai = 1, have_n = 0, rc = 1;
  const char *func = NULL, *path;
  int32_t n = 0;
  while (ai < argc && argv[ai][0] == '-' && argv[ai][1] == '-') {
    if (strcmp(argv[ai], "--meter") == 0) {
      meter = 1;
      ai++;
    } else if (strcmp(argv[ai], "--meter-internal") == 0) {
      meter = 2;
      ai++;
    } else if (strcmp(argv[ai], "--func") == 0 && ai + 1 < argc) {
      func = argv[ai + 1];
      ai += 2;
    } else {
      return usage();
    }
  }
  if (ai >= argc || argc - ai > 2) return usage();
  path = argv[ai];
  if (ai + 1 < argc) {
    char *end;
    errno = 0;
    long v = strtol(argv[ai + 1], &end, 10);
    if (errno || *end || end == argv[ai + 1] || v < INT32_MIN || v > INT32_MAX) return usage();
    n = (int32_t)v;
    have_n = 1;
  }
  if (!func) func = have_n ? "run" : "bench";

  size_t len = 0;
  uint8_t *bytes = read_file(path, &len);
  if (!bytes) {
    fprintf(stderr, "bench_interp: cannot read %s: %s\n", path, strerror(errno));
    return 1;
  }

  icxAllocator alloc = icxCore_default_allocator();
  icxCompileOpts opts = {meter == 2 ? ICX_COMPILE_METER : 0u, NULL, 0, 0};
  icxInstrResult ir;
  memset(&ir, 0, sizeof ir);
  double ti0 = now_s(CLOCK_MONOTONIC);
  if (meter == 1) {
    icxInstrOpts io = {0, ICX_FEAT_DEFAULT, 0};
    icxErr ierr;
    icx_status ist = icxInstr_run(&alloc, bytes, len, &io, &ir, &ierr);
    if (ist != ICX_OK) {
      fprintf(stderr, "bench_interp: %s: instrument: %s: %s\n", path, icx_strerror(ist), ierr.msg);
      free(bytes);
      return 1;
    }
    free(bytes);
    bytes = ir.wasm;
    len = ir.wasm_len;
    opts.flags = ICX_COMPILE_FUSE_COUNTER;
    opts.counter_global = ir.counter_global;
    opts.counter_ooi = ir.ooi_func;
  }
  double ti1 = now_s(CLOCK_MONOTONIC);
  icxCompiled *c = NULL;
  icxStore *s = NULL;
  icxExec *x = NULL;
  icxInstance *inst = NULL;
  icxTrap trap = ICX_TRAP_NONE;
  icxErr err;
  icxExtern ext;
  icxErr_clear(&err);

  double t0 = now_s(CLOCK_MONOTONIC);
  icx_status st = icxRt_compile(&alloc, bytes, len, ICX_FEAT_DEFAULT, &opts, &c, &err);
  double t1 = now_s(CLOCK_MONOTONIC);
  if (meter == 1)
    icxInstr_free(&ir);
  else
    free(bytes);
  if (st != ICX_OK) {
    fprintf(stderr, "bench_interp: %s: compile: %s: %s\n", path, icx_strerror(st), err.msg);
    goto done;
  }
  s = icxStore_new(&alloc);
  x = icxExec_new(&alloc);
  if (!s || !x) {
    fprintf(stderr, "bench_interp: out of memory\n");
    goto done;
  }
  icxExtern imps[ICX_INSTR_NIMPORTS];
  uint32_t nimps = 0;
  if (meter == 1) { /* the "__" imports of the instrumented module */
    const icxModule *mod = icxRt_compiled_module(c);
    for (uint32_t i = 0; i < ICX_INSTR_NIMPORTS; i++) {
      const icxFuncType *it = icxWasm_func_type(mod, i);
      imps[i].kind = ICX_EXT_FUNC;
      imps[i].u.func = icxStore_host_func(
          s, it, i == ICX_INSTR_IMP_OOI ? icxExec_host_out_of_instructions
                                        : icxExec_host_try_grow_passthrough, NULL);
      if (!imps[i].u.func) {
        fprintf(stderr, "bench_interp: out of memory\n");
        goto done;
      }
    }
    nimps = ICX_INSTR_NIMPORTS;
  }
  st = icxRt_instantiate(s, c, x, imps, nimps, &inst, &trap, &err);
  double t2 = now_s(CLOCK_MONOTONIC);
  if (st != ICX_OK || !inst) {
    fprintf(stderr, "bench_interp: %s: instantiate: %s: %s%s%s\n", path, icx_strerror(st),
            err.msg, trap ? " trap: " : "", trap ? icxRt_trap_message(trap) : "");
    goto done;
  }
  st = icxRt_export(inst, func, strlen(func), &ext);
  if (st != ICX_OK || ext.kind != ICX_EXT_FUNC) {
    fprintf(stderr, "bench_interp: %s: no exported function \"%s\"\n", path, func);
    goto done;
  }
  const icxFuncType *ft = icxFuncInst_type(ext.u.func);
  uint32_t nargs = have_n ? 1u : 0u;
  if (ft->nparams != nargs || ft->nresults != 1 || icxFuncType_results(ft)[0] != ICX_I32 ||
      (nargs && icxFuncType_params(ft)[0] != ICX_I32)) {
    fprintf(stderr, "bench_interp: %s: \"%s\" must have type [%s] -> [i32]\n", path, func,
            nargs ? "i32" : "");
    goto done;
  }
  uint64_t arg = (uint64_t)(uint32_t)n;
  if (meter) icxExec_set_fuel(x, INT64_MAX, 0);
  double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
  double w0 = now_s(CLOCK_MONOTONIC);
  icxRun r = icxExec_call(x, ext.u.func, &arg, nargs);
  double w1 = now_s(CLOCK_MONOTONIC);
  double c1 = now_s(CLOCK_PROCESS_CPUTIME_ID);
  if (r != ICX_RUN_DONE) {
    if (r == ICX_RUN_TRAP)
      fprintf(stderr, "bench_interp: %s: %s trapped: %s\n", path, func, icxExec_trap_msg(x));
    else
      fprintf(stderr, "bench_interp: %s: %s: run outcome %d\n", path, func, (int)r);
    goto done;
  }
  printf("%d\n", (int)(int32_t)(uint32_t)icxExec_results(x)[0]);
  printf("time: instrument %.6f s, compile %.6f s, instantiate %.6f s, call %.6f s (cpu %.6f s)",
         ti1 - ti0, t1 - t0, t2 - t1, w1 - w0, c1 - c0);
  if (meter) printf(", fuel %lld", (long long)(INT64_MAX - icxExec_fuel(x)));
  printf("\n");
  rc = 0;
done:
  if (x) icxExec_free(x);
  if (s) icxStore_free(s);
  if (c) icxRt_compiled_free(c);
  return rc;
}
