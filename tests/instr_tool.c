/* instr_tool.c -- command-line driver of the instrumentation pass, for the
 * wabt oracle (tests/instr_oracle.py) and the speed figure.
 *
 *   instr_tool instr [-c] [-p] [-i INIT] [-f FEAT] IN.wasm OUT.wasm
 *       run icxInstr_run (-c canister mode, -p probe exports, -i counter
 *       init, -f feature bits); prints "ok LEN COMPILE_COST" or
 *       "error STATUS MESSAGE" (exit 1)
 *   instr_tool run FILE.wasm
 *       instantiate an instrumented module with our engine ("__" imports:
 *       out_of_instructions traps, try_grow returns its first argument;
 *       other function imports return zeros) and run the calls read from
 *       stdin, one per line: "EXPORT [TYPE:BITS ...]" (BITS unsigned
 *       decimal, as wast2json writes values).  Prints per call
 *       "ok [TYPE:BITS ...] ; COUNTER" or "trap MESSAGE ; COUNTER".
 *   instr_tool speed FILE.wasm [REPS]
 *       instrument REPS times (default 5, canister rules off), print MB/s. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "instrument.h"
#include "rt.h"
#include "wasm.h"

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  for (;;) {
    if (n == cap) b = realloc(b, cap *= 2);
    size_t k = fread(b + n, 1, cap - n, f);
    if (k == 0) break;
    n += k;
  }
  fclose(f);
  *len = n;
  return b;
}

static int cmd_instr(int argc, char **argv) {
  icxInstrOpts o = {0, ICX_FEAT_DEFAULT, 0};
  int i = 2;
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (!strcmp(argv[i], "-c")) o.flags |= ICX_INSTR_CANISTER;
    else if (!strcmp(argv[i], "-p")) o.flags |= ICX_INSTR_PROBE;
    else if (!strcmp(argv[i], "-i") && i + 1 < argc) o.counter_init = strtoll(argv[++i], NULL, 0);
    else if (!strcmp(argv[i], "-f") && i + 1 < argc) o.features = (uint32_t)strtoul(argv[++i], NULL, 0);
  }
  if (i + 2 != argc) {
    fprintf(stderr, "usage: instr_tool instr [-c] [-p] [-i INIT] [-f FEAT] IN OUT\n");
    return 2;
  }
  size_t len;
  uint8_t *b = read_file(argv[i], &len);
  if (!b) {
    perror(argv[i]);
    return 2;
  }
  icxAllocator a = icxCore_default_allocator();
  icxInstrResult r;
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status st = icxInstr_run(&a, b, len, &o, &r, &err);
  free(b);
  if (st != ICX_OK) {
    printf("error %d %s\n", st, err.msg);
    return 1;
  }
  FILE *f = fopen(argv[i + 1], "wb");
  if (!f || fwrite(r.wasm, 1, r.wasm_len, f) != r.wasm_len) {
    perror(argv[i + 1]);
    return 2;
  }
  fclose(f);
  printf("ok %zu %" PRIu64 "\n", r.wasm_len, r.compile_cost);
  icxInstr_free(&r);
  return 0;
}

static int host_ooi(icxExec *x, void *ud, uint64_t *slots) {
  (void)ud, (void)slots;
  icxExec_set_trap(x, "out of instructions");
  return ICX_HOST_TRAP;
}

static int host_grow(icxExec *x, void *ud, uint64_t *slots) {
  (void)x, (void)ud, (void)slots; /* slots[0] (the grow result) stays */
  return ICX_HOST_OK;
}

static int host_zero(icxExec *x, void *ud, uint64_t *slots) {
  (void)x;
  const icxFuncType *t = ud;
  for (uint32_t i = 0; i < t->nresults; i++) slots[i] = 0;
  return ICX_HOST_OK;
}

static uint8_t type_code(const char *s) {
  if (!strncmp(s, "i32", 3)) return ICX_I32;
  if (!strncmp(s, "i64", 3)) return ICX_I64;
  if (!strncmp(s, "f32", 3)) return ICX_F32;
  if (!strncmp(s, "f64", 3)) return ICX_F64;
  return 0;
}

/* run -F: the counter is fused (ICX_COMPILE_FUSE_COUNTER): it lives in the
 * exec context's fuel register, not in the global. */
static uint64_t counter_of(icxInstance *inst, icxExec *fused_x) {
  if (fused_x) return (uint64_t)icxExec_fuel(fused_x);
  icxExtern g;
  if (icxRt_export(inst, "canister counter_instructions", 29, &g) != ICX_OK) return 0;
  return icxGlobalInst_get(g.u.global);
}

static int cmd_run(int argc, char **argv) {
  int fused = argc == 4 && !strcmp(argv[2], "-F");
  if (argc != 3 + fused) return 2;
  size_t len;
  uint8_t *b = read_file(argv[2 + fused], &len);
  if (!b) {
    perror(argv[2 + fused]);
    return 2;
  }
  icxAllocator a = icxCore_default_allocator();
  icxCompiled *c = NULL;
  icxErr err;
  memset(&err, 0, sizeof err);
  icxCompileOpts co = {0, NULL, 0, 0};
  int64_t init = 0;
  if (fused) {
    /* find the counter from its export, as the pass reports it */
    icxModule *pm = NULL;
    if (icxWasm_decode(&a, b, len, ICX_FEAT_DEFAULT, &pm, &err) != ICX_OK) {
      printf("error decode %s\n", err.msg);
      return 1;
    }
    int found = 0;
    for (uint32_t i = 0; i < pm->nexports; i++) {
      const icxExport *ex = &pm->exports[i];
      if (ex->kind == ICX_EXT_GLOBAL && ex->name_len == 29 &&
          !memcmp(ex->name, "canister counter_instructions", 29)) {
        co.counter_global = ex->index;
        init = (int64_t)pm->globals[ex->index].init.value;
        found = 1;
      }
    }
    icxWasm_module_free(pm);
    if (!found) {
      printf("error no counter export\n");
      return 1;
    }
    co.flags = ICX_COMPILE_FUSE_COUNTER;
    co.counter_ooi = ICX_INSTR_IMP_OOI;
  }
  if (icxRt_compile(&a, b, len, ICX_FEAT_DEFAULT, &co, &c, &err) != ICX_OK) {
    printf("error compile %s\n", err.msg);
    return 1;
  }
  free(b);
  const icxModule *m = icxRt_compiled_module(c);
  icxStore *s = icxStore_new(&a);
  icxExec *x = icxExec_new(&a);
  icxExtern *imps = calloc(m->nimports + 1, sizeof *imps);
  uint32_t fi = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    const icxImport *im = &m->imports[i];
    if (im->kind != ICX_EXT_FUNC) {
      printf("error unsupported import %s.%s\n", im->module, im->name);
      return 1;
    }
    const icxFuncType *t = &m->types[im->d.type_idx];
    icxHostFn fn = host_zero;
    if (!strcmp(im->module, "__") && !strcmp(im->name, "out_of_instructions"))
      fn = fused ? icxExec_host_out_of_instructions : host_ooi;
    if (!strcmp(im->module, "__") && !strcmp(im->name, "try_grow_wasm_memory")) fn = host_grow;
    imps[i].kind = ICX_EXT_FUNC;
    imps[i].u.func = icxStore_host_func(s, t, fn, (void *)t);
    fi++;
  }
  icxInstance *inst = NULL;
  icxTrap trap = ICX_TRAP_NONE;
  if (fused) icxExec_set_fuel(x, init, 0);
  if (icxRt_instantiate(s, c, x, imps, m->nimports, &inst, &trap, &err) != ICX_OK || !inst) {
    printf("error instantiate %s\n", trap ? icxRt_trap_message(trap) : err.msg);
    return 1;
  }
  char line[4096];
  while (fgets(line, sizeof line, stdin)) {
    char *tok = strtok(line, " \t\r\n");
    if (!tok) continue;
    icxExtern f;
    if (icxRt_export(inst, tok, strlen(tok), &f) != ICX_OK || f.kind != ICX_EXT_FUNC) {
      printf("error no export %s\n", tok);
      fflush(stdout);
      continue;
    }
    uint64_t args[64];
    uint32_t n = 0;
    while ((tok = strtok(NULL, " \t\r\n")) && n < 64) args[n++] = strtoull(tok + 4, NULL, 10);
    const icxFuncType *t = icxFuncInst_type(f.u.func);
    icxRun rr = icxExec_call(x, f.u.func, args, n);
    if (rr == ICX_RUN_DONE) {
      printf("ok");
      const uint64_t *res = icxExec_results(x);
      for (uint32_t i = 0; i < t->nresults; i++) {
        uint8_t rt = icxFuncType_results(t)[i];
        uint64_t v = res[i];
        if (rt == ICX_I32 || rt == ICX_F32) v &= 0xffffffffu;
        printf(" %s:%" PRIu64, icxWasm_type_name(rt), v);
      }
    } else if (rr == ICX_RUN_TRAP) {
      printf("trap %s", icxExec_trap_msg(x) ? icxExec_trap_msg(x)
                                             : icxRt_trap_message(icxExec_trap(x)));
      icxExec_reset(x);
    } else {
      printf("error run %d", rr);
      icxExec_reset(x);
    }
    printf(" ; %" PRId64 "\n", (int64_t)counter_of(inst, fused ? x : NULL));
    fflush(stdout);
  }
  (void)type_code;
  free(imps);
  icxExec_free(x);
  icxStore_free(s);
  icxRt_compiled_free(c);
  return 0;
}

static int cmd_speed(int argc, char **argv) {
  if (argc < 3) return 2;
  int reps = argc > 3 ? atoi(argv[3]) : 5;
  size_t len;
  uint8_t *b = read_file(argv[2], &len);
  if (!b) return 2;
  icxAllocator a = icxCore_default_allocator();
  icxInstrOpts o = {0, ICX_FEAT_DEFAULT, 0};
  double best = 1e9;
  size_t out_len = 0;
  for (int k = 0; k < reps; k++) {
    struct timespec t0, t1;
    icxInstrResult r;
    icxErr err;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (icxInstr_run(&a, b, len, &o, &r, &err) != ICX_OK) {
      printf("error %s\n", err.msg);
      return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (dt < best) best = dt;
    out_len = r.wasm_len;
    icxInstr_free(&r);
  }
  printf("in %zu bytes, out %zu bytes, best of %d: %.3f s, %.1f MB/s (decode+validate+instrument)\n",
         len, out_len, reps, best, (double)len / best / 1e6);
  free(b);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "instr")) return cmd_instr(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "run")) return cmd_run(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "speed")) return cmd_speed(argc, argv);
  fprintf(stderr, "usage: instr_tool instr|run|speed ...\n");
  return 2;
}
