/* spec_runner.c -- runs the official WebAssembly spec tests against
 * libicexec's runtime (lib/rt.h).
 *
 * The .wast scripts are converted by wabt's wast2json (through the suite's
 * convert.sh) into JSON command lists plus .wasm modules; this program reads
 * those and executes every command.  See usage() for the options and
 * tests/spec.sh for the usual invocation.
 *
 * Counting: "passed/failed/skipped" count assertion commands (assert_*).
 * Failing module/register/action commands are not assertions but are
 * failures all the same: each one adds 1 to "failed" (so a clean run prints
 * exactly the assertion totals, and the exit status is 0 iff failed == 0).
 *
 * Skipped (reported separately by category):
 *   simd    whole simd_*.wast files, and any command with a v128 value;
 *   text    assert_malformed/assert_invalid on text modules ("module quote",
 *           written by wast2json as .wat files), only if the build has no
 *           WAT parser (lib/wat.h) or with --no-text; otherwise they run
 *           through icxWat_to_wasm + icxRt_compile;
 *   listed  entries of the skip file (--skip, tests/spec_skip.txt).
 *
 * Each file runs in a forked child (unless --no-fork) so that a crash or a
 * hang (--timeout) in the library costs one file, not the run; counters and
 * failure lines live in a shared mapping so they survive a crash. */
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "instrument.h"
#include "rt.h"
#include "spec_json.h"
#include "wasm.h"
/* Text modules go through the library's WAT parser (lib/wat.h) when the
 * tree has one; -DICX_SPEC_NO_WAT builds without it (text assertions are
 * then skipped), as does the --no-text option at run time. */
#if !defined(ICX_SPEC_WAT) && !defined(ICX_SPEC_NO_WAT) && defined(__has_include)
#if __has_include("wat.h")
#define ICX_SPEC_WAT 1
#endif
#endif
#ifdef ICX_SPEC_WAT
#include "wat.h"
#endif

/* ---- options ------------------------------------------------------------ */

typedef struct Opts {
  const char *suite;     /* folder with the .wast files and convert.sh */
  const char *out;       /* conversion output folder */
  const char *json_dir;  /* pre-converted JSON (no conversion) */
  const char *skip_file; /* skip list */
  int jobs;
  int max_fail; /* failure lines printed per file */
  int strict;   /* assert_invalid must be EINVALID, assert_malformed EMALFORMED */
  int no_text;  /* skip assertions on text modules even with a WAT parser */
  int no_fork;
  int timeout; /* seconds per file, 0 = none */
  int verbose;
  int meter;    /* compile with ICX_COMPILE_METER */
  int instrument; /* run the instrumentation pass first, compile it fused */
  int64_t fuel; /* per call/instantiation with meter (0 = unlimited) */
  int have_features;
  uint32_t features; /* --features: override the per-path default */
} Opts;

/* ---- skip list ---------------------------------------------------------- */

typedef struct SkipEnt {
  char *file; /* relative .wast path */
  long line;  /* 0 = whole file */
  char *reason;
} SkipEnt;

static SkipEnt *g_skips;
static size_t g_nskips;

/* ---- per-file shared results -------------------------------------------- */

#define OUT_CAP (48 * 1024)

typedef struct Shared {
  int64_t passed, failed, skipped; /* failed includes command errors */
  int64_t asserts_done;            /* assertion commands finished */
  int64_t cmd_errors;              /* failed module/register/action commands */
  int64_t skip_simd, skip_text, skip_list;
  int64_t inv_as_mal, mal_as_inv; /* rejected, but in the other category */
  int64_t text_late;              /* text assert_malformed caught after parsing */
  int64_t total;                  /* assertion commands in the file; -1 unknown */
  int64_t line;                   /* line of the command being run */
  int32_t fail_lines, fail_suppressed;
  int32_t finished;
  int32_t out_len;
  char out[OUT_CAP];
} Shared;

typedef struct Job {
  char *rel;  /* e.g. "proposals/memory64/memory.wast" */
  char *json; /* path of the .json */
  char *dir;  /* folder of the .json (module files are relative to it) */
  uint32_t features;
  int simd;
  const SkipEnt *skip_whole;
  int convert_failed;
  Shared *sh;
  pid_t pid;
  int state; /* 0 waiting, 1 running, 2 done, 3 printed */
  int status;
  double t0, elapsed;
} Job;

static const Opts *g_opts;

/* ---- small utilities ---------------------------------------------------- */

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *r = malloc(n);
  if (!r) {
    fprintf(stderr, "spec_runner: out of memory\n");
    exit(2);
  }
  memcpy(r, s, n);
  return r;
}

static char *xasprintf(const char *fmt, ...) ICX_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *r = malloc((size_t)n + 1);
  if (!r) {
    fprintf(stderr, "spec_runner: out of memory\n");
    exit(2);
  }
  va_start(ap, fmt);
  vsnprintf(r, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return r;
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static int starts_with(const char *s, const char *pre) { return strncmp(s, pre, strlen(pre)) == 0; }

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s ? s + 1 : p;
}

static uint8_t *read_whole(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (n < cap) break;
    uint8_t *nb = realloc(buf, cap * 2);
    if (!nb) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  if (buf && ferror(f)) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = n;
  return buf;
}

/* Printable form of a name (which may hold control characters or NUL). */
static void esc_name(char *o, size_t cap, const char *s, size_t n) {
  size_t j = 0;
  for (size_t i = 0; i < n && j + 8 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\')
      j += (size_t)snprintf(o + j, cap - j, "\\%02x", c);
    else
      o[j++] = (char)c;
  }
  if (j + 8 >= cap && cap > 4) {
    memcpy(o + j, "...", 3);
    j += 3;
  }
  o[j] = 0;
}

/* ---- output into the shared record -------------------------------------- */

static void sh_append(Shared *sh, const char *fmt, ...) ICX_PRINTF(2, 3);
static void sh_append(Shared *sh, const char *fmt, ...) {
  if (sh->out_len >= OUT_CAP - 1) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(sh->out + sh->out_len, (size_t)(OUT_CAP - sh->out_len), fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n >= OUT_CAP - sh->out_len) n = OUT_CAP - sh->out_len - 1;
  sh->out_len += n;
}

/* ---- the per-file context ------------------------------------------------ */

typedef struct Binding {
  char *name;
  size_t len;
  icxInstance *inst; /* NULL with host: the spectest module */
  int host;
} Binding;

typedef struct HostExport {
  const char *name;
  icxExtern ext;
} HostExport;

#define SPECTEST_N 13

typedef struct Ctx {
  const Opts *o;
  const Job *job;
  Shared *sh;
  icxAllocator a;
  icxStore *s;
  icxExec *x;
  icxCompileOpts copts;
  icxCompiled **compiled;
  size_t ncompiled, capcompiled;
  Binding *named;
  size_t nnamed, capnamed;
  Binding *reg;
  size_t nreg, capreg;
  icxInstance *cur;
  int have_cur;
  HostExport spectest[SPECTEST_N];
  long line;
} Ctx;

static void fail_line(Ctx *c, const char *fmt, ...) ICX_PRINTF(2, 3);
static void fail_line(Ctx *c, const char *fmt, ...) {
  Shared *sh = c->sh;
  if (sh->fail_lines >= c->o->max_fail) {
    sh->fail_suppressed++;
    return;
  }
  sh->fail_lines++;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sh_append(sh, "  %s:%ld: %s\n", c->job->rel, c->line, msg);
}

static void assert_pass(Ctx *c) {
  c->sh->passed++;
  c->sh->asserts_done++;
}

static void assert_skip(Ctx *c, int64_t *cat) {
  c->sh->skipped++;
  (*cat)++;
  c->sh->asserts_done++;
}

/* An assertion failed; fmt describes it. */
static void assert_fail(Ctx *c, const char *fmt, ...) ICX_PRINTF(2, 3);
static void assert_fail(Ctx *c, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->sh->failed++;
  c->sh->asserts_done++;
  fail_line(c, "%s", msg);
}

/* A module/register/action command failed. */
static void cmd_fail(Ctx *c, const char *fmt, ...) ICX_PRINTF(2, 3);
static void cmd_fail(Ctx *c, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->sh->failed++;
  c->sh->cmd_errors++;
  fail_line(c, "%s", msg);
}

static int push_compiled(Ctx *c, icxCompiled *cm) {
  if (c->ncompiled == c->capcompiled) {
    size_t n = c->capcompiled ? c->capcompiled * 2 : 16;
    icxCompiled **p = realloc(c->compiled, n * sizeof *p);
    if (!p) return -1;
    c->compiled = p;
    c->capcompiled = n;
  }
  c->compiled[c->ncompiled++] = cm;
  return 0;
}

static int push_binding(Binding **arr, size_t *n, size_t *cap, const char *name, size_t len,
                        icxInstance *inst, int host) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 8;
    Binding *p = realloc(*arr, nc * sizeof *p);
    if (!p) return -1;
    *arr = p;
    *cap = nc;
  }
  char *nm = malloc(len + 1);
  if (!nm) return -1;
  memcpy(nm, name, len);
  nm[len] = 0;
  (*arr)[*n].name = nm;
  (*arr)[*n].len = len;
  (*arr)[*n].inst = inst;
  (*arr)[*n].host = host;
  (*n)++;
  return 0;
}

/* The newest binding of name (NULL if none). */
static const Binding *find_binding(const Binding *arr, size_t n, const char *name, size_t len) {
  for (size_t i = n; i-- > 0;)
    if (arr[i].len == len && memcmp(arr[i].name, name, len) == 0) return &arr[i];
  return NULL;
}

/* ---- the spectest host module -------------------------------------------- */

static int host_noop(icxExec *x, void *ud, uint64_t *slots) {
  (void)x;
  (void)ud;
  (void)slots;
  return ICX_HOST_OK;
}

static int make_spectest(Ctx *c) {
  static const struct {
    const char *name;
    uint32_t np;
    uint8_t p[2];
  } funcs[] = {
      {"print", 0, {0, 0}},
      {"print_i32", 1, {ICX_I32, 0}},
      {"print_i64", 1, {ICX_I64, 0}},
      {"print_f32", 1, {ICX_F32, 0}},
      {"print_f64", 1, {ICX_F64, 0}},
      {"print_i32_f32", 2, {ICX_I32, ICX_F32}},
      {"print_f64_f64", 2, {ICX_F64, ICX_F64}},
  };
  int k = 0;
  for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++) {
    uint8_t types[2];
    memcpy(types, funcs[i].p, 2);
    icxFuncType ft;
    ft.nparams = funcs[i].np;
    ft.nresults = 0;
    ft.types = types;
    icxFuncInst *f = icxStore_host_func(c->s, &ft, host_noop, NULL);
    if (!f) return -1;
    c->spectest[k].name = funcs[i].name;
    c->spectest[k].ext.kind = ICX_EXT_FUNC;
    c->spectest[k].ext.u.func = f;
    k++;
  }
  float f32 = 666.6f;
  double f64 = 666.6;
  uint32_t f32b;
  uint64_t f64b;
  memcpy(&f32b, &f32, 4);
  memcpy(&f64b, &f64, 8);
  const struct {
    const char *name;
    uint8_t type;
    uint64_t v;
  } globals[] = {
      {"global_i32", ICX_I32, 666},
      {"global_i64", ICX_I64, 666},
      {"global_f32", ICX_F32, f32b},
      {"global_f64", ICX_F64, f64b},
  };
  for (size_t i = 0; i < sizeof globals / sizeof globals[0]; i++) {
    icxGlobalType gt;
    gt.type = globals[i].type;
    gt.mut = 0;
    icxGlobalInst *g = icxStore_global(c->s, &gt, globals[i].v);
    if (!g) return -1;
    c->spectest[k].name = globals[i].name;
    c->spectest[k].ext.kind = ICX_EXT_GLOBAL;
    c->spectest[k].ext.u.global = g;
    k++;
  }
  icxTableType tt;
  memset(&tt, 0, sizeof tt);
  tt.elem_type = ICX_FUNCREF;
  tt.lim.min = 10;
  tt.lim.max = 20;
  tt.lim.has_max = 1;
  icxTableInst *t = icxStore_table(c->s, &tt, 0);
  if (!t) return -1;
  c->spectest[k].name = "table";
  c->spectest[k].ext.kind = ICX_EXT_TABLE;
  c->spectest[k].ext.u.table = t;
  k++;
  icxMemType mt;
  memset(&mt, 0, sizeof mt);
  mt.lim.min = 1;
  mt.lim.max = 2;
  mt.lim.has_max = 1;
  icxMemInst *m = icxStore_memory(c->s, &mt);
  if (!m) return -1;
  c->spectest[k].name = "memory";
  c->spectest[k].ext.kind = ICX_EXT_MEM;
  c->spectest[k].ext.u.mem = m;
  k++;
  return k == SPECTEST_N ? 0 : -1;
}

/* ---- values -------------------------------------------------------------- */

enum { PAT_EXACT = 0, PAT_NAN_CANON, PAT_NAN_ARITH, PAT_ANY_REF };

typedef struct Val {
  uint8_t type;
  uint8_t pat;
  uint64_t bits;
} Val;

static int parse_type(const char *s, uint8_t *t) {
  if (!s) return -1;
  if (!strcmp(s, "i32"))
    *t = ICX_I32;
  else if (!strcmp(s, "i64"))
    *t = ICX_I64;
  else if (!strcmp(s, "f32"))
    *t = ICX_F32;
  else if (!strcmp(s, "f64"))
    *t = ICX_F64;
  else if (!strcmp(s, "funcref"))
    *t = ICX_FUNCREF;
  else if (!strcmp(s, "externref"))
    *t = ICX_EXTERNREF;
  else if (!strcmp(s, "v128"))
    *t = ICX_V128;
  else
    return -1;
  return 0;
}

static const char *type_name(uint8_t t) { return icxWasm_type_name(t); }

static int parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return -1;
  errno = 0;
  char *e;
  if (*s == '-') {
    long long v = strtoll(s, &e, 10);
    if (errno || *e) return -1;
    *out = (uint64_t)v;
    return 0;
  }
  unsigned long long v = strtoull(s, &e, 10);
  if (errno || *e) return -1;
  *out = (uint64_t)v;
  return 0;
}

/* Parse a JSON value {"type": T, "value": V}.  Returns 0, 1 for v128 (not
 * supported: skip), -1 on a malformed value.  as_result allows the patterns
 * (nan:canonical, nan:arithmetic, a reference without a value). */
static int parse_val(const sjValue *jv, int as_result, Val *out) {
  memset(out, 0, sizeof *out);
  if (parse_type(sj_get_str(jv, "type"), &out->type)) return -1;
  if (out->type == ICX_V128) return 1;
  const sjValue *vv = sj_get(jv, "value");
  const char *s = sj_str(vv);
  if (!vv) {
    if (as_result && (out->type == ICX_FUNCREF || out->type == ICX_EXTERNREF)) {
      out->pat = PAT_ANY_REF;
      return 0;
    }
    return -1;
  }
  if (!s) return -1;
  switch (out->type) {
  case ICX_I32:
  case ICX_F32:
  case ICX_I64:
  case ICX_F64:
    if (out->type == ICX_F32 || out->type == ICX_F64) {
      if (!strcmp(s, "nan:canonical")) {
        if (!as_result) return -1;
        out->pat = PAT_NAN_CANON;
        return 0;
      }
      if (!strcmp(s, "nan:arithmetic")) {
        if (!as_result) return -1;
        out->pat = PAT_NAN_ARITH;
        return 0;
      }
    }
    if (parse_u64(s, &out->bits)) return -1;
    if (out->type == ICX_I32 || out->type == ICX_F32) {
      out->bits &= 0xffffffffu; /* "-1" style literals wrap like the spec */
    }
    return 0;
  case ICX_FUNCREF:
    if (!strcmp(s, "null")) {
      out->bits = 0;
      return 0;
    }
    /* wast2json writes "(ref.func)" (any non-null funcref) as a number;
     * a function index cannot be mapped to a handle, so for results it
     * means "non-null", and as an argument it is unsupported. */
    if (as_result && parse_u64(s, &out->bits) == 0) {
      out->bits = 0;
      out->pat = PAT_ANY_REF;
      return 0;
    }
    return -1;
  case ICX_EXTERNREF:
    if (!strcmp(s, "null")) {
      out->bits = 0;
      return 0;
    }
    /* ref.extern N <-> N + 1 (0 is null in rt.h) */
    if (parse_u64(s, &out->bits) || out->bits == UINT64_MAX) return -1;
    out->bits += 1;
    return 0;
  default: return -1;
  }
}

static void fmt_bits(char *o, size_t cap, uint8_t type, uint64_t v) {
  switch (type) {
  case ICX_I32:
    if (v >> 32)
      snprintf(o, cap, "i32:0x%016" PRIx64 " (upper bits set)", v);
    else if ((int32_t)(uint32_t)v < 0)
      snprintf(o, cap, "i32:%" PRIu32 " (%" PRId32 ")", (uint32_t)v, (int32_t)(uint32_t)v);
    else
      snprintf(o, cap, "i32:%" PRIu32, (uint32_t)v);
    break;
  case ICX_I64:
    if ((int64_t)v < 0)
      snprintf(o, cap, "i64:%" PRIu64 " (%" PRId64 ")", v, (int64_t)v);
    else
      snprintf(o, cap, "i64:%" PRIu64, v);
    break;
  case ICX_F32: {
    float f;
    uint32_t b = (uint32_t)v;
    memcpy(&f, &b, 4);
    if (v >> 32)
      snprintf(o, cap, "f32:0x%016" PRIx64 " (upper bits set)", v);
    else
      snprintf(o, cap, "f32:0x%08" PRIx32 " (%.9g)", b, (double)f);
    break;
  }
  case ICX_F64: {
    double d;
    memcpy(&d, &v, 8);
    snprintf(o, cap, "f64:0x%016" PRIx64 " (%.17g)", v, d);
    break;
  }
  case ICX_FUNCREF:
    if (v)
      snprintf(o, cap, "funcref:0x%" PRIx64, v);
    else
      snprintf(o, cap, "ref.null func");
    break;
  case ICX_EXTERNREF:
    if (v)
      snprintf(o, cap, "ref.extern %" PRIu64, v - 1);
    else
      snprintf(o, cap, "ref.null extern");
    break;
  default: snprintf(o, cap, "%s:0x%" PRIx64, type_name(type), v); break;
  }
}

static void fmt_val(char *o, size_t cap, const Val *v) {
  switch (v->pat) {
  case PAT_NAN_CANON: snprintf(o, cap, "%s:nan:canonical", type_name(v->type)); return;
  case PAT_NAN_ARITH: snprintf(o, cap, "%s:nan:arithmetic", type_name(v->type)); return;
  case PAT_ANY_REF:
    snprintf(o, cap, "%s", v->type == ICX_FUNCREF ? "(ref.func)" : "(ref.extern)");
    return;
  default: fmt_bits(o, cap, v->type, v->bits);
  }
}

static int val_matches(const Val *e, uint64_t got) {
  switch (e->type) {
  case ICX_I32:
  case ICX_I64: return got == e->bits;
  case ICX_F32:
    if (got >> 32) return 0;
    if (e->pat == PAT_NAN_CANON) return (got & 0x7fffffffu) == 0x7fc00000u;
    if (e->pat == PAT_NAN_ARITH) return (got & 0x7fc00000u) == 0x7fc00000u;
    return got == e->bits;
  case ICX_F64:
    if (e->pat == PAT_NAN_CANON) return (got & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
    if (e->pat == PAT_NAN_ARITH) return (got & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    return got == e->bits;
  case ICX_FUNCREF:
  case ICX_EXTERNREF:
    if (e->pat == PAT_ANY_REF) return got != 0;
    return got == e->bits;
  default: return 0;
  }
}

/* ---- traps ---------------------------------------------------------------- */

/* The spec interpreter's message for each trap reason. */
static const char *trap_text(icxTrap t) {
  switch (t) {
  case ICX_TRAP_NONE: return "(no trap)";
  case ICX_TRAP_UNREACHABLE: return "unreachable";
  case ICX_TRAP_MEM_OOB: return "out of bounds memory access";
  case ICX_TRAP_TABLE_OOB: return "out of bounds table access";
  case ICX_TRAP_UNDEFINED_ELEMENT: return "undefined element";
  case ICX_TRAP_UNINIT_ELEMENT: return "uninitialized element";
  case ICX_TRAP_INDIRECT_TYPE: return "indirect call type mismatch";
  case ICX_TRAP_DIV_ZERO: return "integer divide by zero";
  case ICX_TRAP_INT_OVERFLOW: return "integer overflow";
  case ICX_TRAP_INVALID_CONV: return "invalid conversion to integer";
  case ICX_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
  case ICX_TRAP_OUT_OF_FUEL: return "out of fuel";
  case ICX_TRAP_HOST: return "host trap";
  case ICX_TRAP_NULL_REF: return "null reference";
  default: return "unknown trap";
  }
}

/* Does trap t satisfy the expected message?  As in the spec interpreter,
 * the expected text may carry a suffix ("uninitialized element 2"). */
static int trap_matches(icxTrap t, const char *expected) {
  const char *s = trap_text(t);
  if (t == ICX_TRAP_NONE || !expected) return 0;
  size_t a = strlen(s), b = strlen(expected);
  return strncmp(s, expected, a < b ? a : b) == 0;
}

/* ---- actions ------------------------------------------------------------- */

enum { ACT_OK = 0, ACT_TRAP, ACT_ERROR, ACT_SKIP };

#define MAX_VALS 64

typedef struct ActResult {
  int kind;
  uint32_t n;
  uint8_t types[MAX_VALS];
  uint64_t vals[MAX_VALS];
  icxTrap trap;
  char desc[512]; /* the action, for messages */
  char msg[512];  /* ACT_ERROR: what went wrong; ACT_TRAP: lib message */
} ActResult;

static void set_fuel(Ctx *c) {
  if (c->o->fuel > 0) icxExec_set_fuel(c->x, c->o->fuel, 0);
}

static icxInstance *action_instance(Ctx *c, const sjValue *act, char *err, size_t errlen) {
  const char *mod = sj_get_str(act, "module");
  if (mod) {
    const Binding *b = find_binding(c->named, c->nnamed, mod, strlen(mod));
    if (!b) {
      snprintf(err, errlen, "unknown module %s", mod);
      return NULL;
    }
    if (!b->inst) snprintf(err, errlen, "module %s failed to instantiate", mod);
    return b->inst;
  }
  if (!c->have_cur)
    snprintf(err, errlen, "no current module");
  else if (!c->cur)
    snprintf(err, errlen, "current module failed to load");
  return c->cur;
}

static void do_action(Ctx *c, const sjValue *act, ActResult *r) {
  memset(r, 0, sizeof *r);
  const char *atype = sj_get_str(act, "type");
  const sjValue *fieldv = sj_get(act, "field");
  const char *field = sj_str(fieldv);
  char fname[160];
  if (!atype || !field) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "malformed action");
    return;
  }
  esc_name(fname, sizeof fname, field, fieldv->len);
  const sjValue *args = sj_get(act, "args");
  uint32_t nargs = args && args->type == SJ_ARRAY ? args->len : 0;
  Val av[MAX_VALS];
  if (nargs > MAX_VALS) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "too many arguments");
    return;
  }
  /* Describe: invoke "f"(i32:1, ...) */
  size_t dl = (size_t)snprintf(r->desc, sizeof r->desc, "%s \"%s\"", atype, fname);
  if (!strcmp(atype, "invoke") && dl < sizeof r->desc)
    dl += (size_t)snprintf(r->desc + dl, sizeof r->desc - dl, "(");
  for (uint32_t i = 0; i < nargs; i++) {
    int pr = parse_val(&args->u.items[i], 0, &av[i]);
    if (pr == 1) {
      r->kind = ACT_SKIP;
      return;
    }
    if (pr < 0) {
      r->kind = ACT_ERROR;
      snprintf(r->msg, sizeof r->msg, "malformed argument %u", i);
      return;
    }
    char vb[96];
    fmt_val(vb, sizeof vb, &av[i]);
    if (dl < sizeof r->desc)
      dl += (size_t)snprintf(r->desc + dl, sizeof r->desc - dl, "%s%s", i ? ", " : "", vb);
  }
  if (!strcmp(atype, "invoke") && dl < sizeof r->desc)
    dl += (size_t)snprintf(r->desc + dl, sizeof r->desc - dl, ")");

  char err[256];
  err[0] = 0;
  icxInstance *inst = action_instance(c, act, err, sizeof err);
  if (!inst) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "%s", err);
    return;
  }
  icxExtern ext;
  memset(&ext, 0, sizeof ext);
  icx_status st = icxRt_export(inst, field, fieldv->len, &ext);
  if (st != ICX_OK) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "export \"%s\" not found (%s)", fname, icx_strerror(st));
    return;
  }

  if (!strcmp(atype, "get")) {
    if (ext.kind != ICX_EXT_GLOBAL) {
      r->kind = ACT_ERROR;
      snprintf(r->msg, sizeof r->msg, "export \"%s\" is not a global (kind %u)", fname, ext.kind);
      return;
    }
    r->kind = ACT_OK;
    r->n = 1;
    r->types[0] = icxGlobalInst_type(ext.u.global)->type;
    r->vals[0] = icxGlobalInst_get(ext.u.global);
    return;
  }
  if (strcmp(atype, "invoke") != 0) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "unknown action type %s", atype);
    return;
  }
  if (ext.kind != ICX_EXT_FUNC) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "export \"%s\" is not a function (kind %u)", fname, ext.kind);
    return;
  }
  const icxFuncType *ft = icxFuncInst_type(ext.u.func);
  if (ft->nparams != nargs) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "function takes %u arguments, script passes %u", ft->nparams,
             nargs);
    return;
  }
  if (ft->nresults > MAX_VALS) {
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "too many results (%u)", ft->nresults);
    return;
  }
  uint64_t slots[MAX_VALS];
  for (uint32_t i = 0; i < nargs; i++) {
    if (icxFuncType_params(ft)[i] != av[i].type) {
      r->kind = ACT_ERROR;
      snprintf(r->msg, sizeof r->msg, "argument %u: function wants %s, script passes %s", i,
               type_name(icxFuncType_params(ft)[i]), type_name(av[i].type));
      return;
    }
    slots[i] = av[i].bits;
  }
  set_fuel(c);
  icxRun run = icxExec_call(c->x, ext.u.func, slots, nargs);
  switch (run) {
  case ICX_RUN_DONE: {
    const uint64_t *res = icxExec_results(c->x);
    r->kind = ACT_OK;
    r->n = ft->nresults;
    for (uint32_t i = 0; i < ft->nresults; i++) {
      r->types[i] = icxFuncType_results(ft)[i];
      r->vals[i] = res ? res[i] : 0;
    }
    if (ft->nresults && !res) {
      r->kind = ACT_ERROR;
      snprintf(r->msg, sizeof r->msg, "icxExec_results returned NULL");
    }
    return;
  }
  case ICX_RUN_TRAP: {
    r->kind = ACT_TRAP;
    r->trap = icxExec_trap(c->x);
    const char *m = icxExec_trap_msg(c->x);
    snprintf(r->msg, sizeof r->msg, "%s", m ? m : "");
    return;
  }
  case ICX_RUN_SUSPENDED:
    icxExec_reset(c->x);
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "call suspended unexpectedly");
    return;
  case ICX_RUN_ERROR:
  default:
    r->kind = ACT_ERROR;
    snprintf(r->msg, sizeof r->msg, "icxExec_call error (run %d)", (int)run);
    return;
  }
}

static void fmt_results(char *o, size_t cap, const ActResult *r) {
  size_t l = (size_t)snprintf(o, cap, "(");
  for (uint32_t i = 0; i < r->n && l < cap; i++) {
    char vb[96];
    fmt_bits(vb, sizeof vb, r->types[i], r->vals[i]);
    l += (size_t)snprintf(o + l, cap - l, "%s%s", i ? ", " : "", vb);
  }
  if (l < cap) snprintf(o + l, cap - l, ")");
}

static void fmt_outcome(char *o, size_t cap, const ActResult *r) {
  switch (r->kind) {
  case ACT_OK: {
    char rb[400];
    fmt_results(rb, sizeof rb, r);
    snprintf(o, cap, "result %s", rb);
    break;
  }
  case ACT_TRAP:
    snprintf(o, cap, "trap \"%s\" (%d%s%s)", trap_text(r->trap), (int)r->trap,
             r->msg[0] ? ": " : "", r->msg);
    break;
  default: snprintf(o, cap, "error: %s", r->msg); break;
  }
}

/* ---- modules -------------------------------------------------------------- */

/* Compile a module file.  Returns the status; *out set on ICX_OK. */
static icx_status compile_file(Ctx *c, const char *filename, icxCompiled **out, char *msg,
                               size_t msglen) {
  *out = NULL;
  msg[0] = 0;
  char *path = xasprintf("%s/%s", c->job->dir, filename);
  size_t len = 0;
  uint8_t *bytes = read_whole(path, &len);
  if (!bytes) {
    snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
    free(path);
    return -1;
  }
  free(path);
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status st;
  if (c->o->instrument) {
    /* the install-time pass (counter only), then the fused compile */
    icxInstrResult ir;
    icxInstrOpts io = {0, c->job->features, 0};
    st = icxInstr_run(&c->a, bytes, len, &io, &ir, &err);
    free(bytes);
    if (st == ICX_OK) {
      icxCompileOpts co = c->copts;
      co.flags = ICX_COMPILE_FUSE_COUNTER;
      co.counter_global = ir.counter_global;
      co.counter_ooi = ir.ooi_func;
      st = icxRt_compile(&c->a, ir.wasm, ir.wasm_len, c->job->features, &co, out, &err);
      icxInstr_free(&ir);
    }
  } else {
    st = icxRt_compile(&c->a, bytes, len, c->job->features, &c->copts, out, &err);
    free(bytes);
  }
  if (st != ICX_OK) {
    snprintf(msg, msglen, "%s", err.msg);
    *out = NULL;
  } else if (!*out) {
    snprintf(msg, msglen, "icxRt_compile returned OK but no module");
    return -1;
  } else if (push_compiled(c, *out)) {
    icxRt_compiled_free(*out);
    *out = NULL;
    snprintf(msg, msglen, "out of memory");
    return ICX_ENOMEM;
  }
  return st;
}

enum { INST_OK = 0, INST_UNLINKABLE, INST_TRAP, INST_ERROR };

/* Resolve the imports of cm against the registered modules and
 * instantiate.  Unknown import modules/names are "unlinkable" here;
 * kind/type mismatches are left for icxRt_instantiate to find. */
static int instantiate(Ctx *c, const icxCompiled *cm, icxInstance **out, icxTrap *trap, char *msg,
                       size_t msglen) {
  *out = NULL;
  *trap = ICX_TRAP_NONE;
  msg[0] = 0;
  const icxModule *m = icxRt_compiled_module(cm);
  if (!m) {
    snprintf(msg, msglen, "icxRt_compiled_module returned NULL");
    return INST_ERROR;
  }
  icxExtern *imps = calloc(m->nimports ? m->nimports : 1, sizeof *imps);
  if (!imps) {
    snprintf(msg, msglen, "out of memory");
    return INST_ERROR;
  }
  for (uint32_t i = 0; i < m->nimports; i++) {
    const icxImport *im = &m->imports[i];
    char mn[128], nn[128];
    esc_name(mn, sizeof mn, im->module, im->module_len);
    esc_name(nn, sizeof nn, im->name, im->name_len);
    if (c->o->instrument && im->module_len == 2 && memcmp(im->module, "__", 2) == 0 &&
        im->kind == ICX_EXT_FUNC) {
      /* the imports injected by the instrumentation */
      int ooi = im->name_len == 19 && memcmp(im->name, "out_of_instructions", 19) == 0;
      imps[i].kind = ICX_EXT_FUNC;
      imps[i].u.func = icxStore_host_func(c->s, icxWasm_func_type(m, i),
                                          ooi ? icxExec_host_out_of_instructions
                                              : icxExec_host_try_grow_passthrough,
                                          NULL);
      if (!imps[i].u.func) {
        snprintf(msg, msglen, "out of memory");
        free(imps);
        return INST_ERROR;
      }
      continue;
    }
    const Binding *b = find_binding(c->reg, c->nreg, im->module, im->module_len);
    if (!b) {
      snprintf(msg, msglen, "unknown import \"%s\".\"%s\" (module not registered)", mn, nn);
      free(imps);
      return INST_UNLINKABLE;
    }
    int found = 0;
    if (b->host) {
      for (int k = 0; k < SPECTEST_N; k++) {
        if (strlen(c->spectest[k].name) == im->name_len &&
            memcmp(c->spectest[k].name, im->name, im->name_len) == 0) {
          imps[i] = c->spectest[k].ext;
          found = 1;
          break;
        }
      }
    } else if (b->inst) {
      icx_status st = icxRt_export(b->inst, im->name, im->name_len, &imps[i]);
      if (st == ICX_OK)
        found = 1;
      else if (st != ICX_ENOTFOUND) {
        snprintf(msg, msglen, "icxRt_export(\"%s\") failed: %s", nn, icx_strerror(st));
        free(imps);
        return INST_ERROR;
      }
    }
    if (!found) {
      snprintf(msg, msglen, "unknown import \"%s\".\"%s\"", mn, nn);
      free(imps);
      return INST_UNLINKABLE;
    }
  }
  icxErr err;
  memset(&err, 0, sizeof err);
  set_fuel(c);
  icx_status st = icxRt_instantiate(c->s, cm, c->x, imps, m->nimports, out, trap, &err);
  free(imps);
  if (st == ICX_EUNLINKABLE) {
    *out = NULL;
    snprintf(msg, msglen, "%s", err.msg);
    return INST_UNLINKABLE;
  }
  if (st != ICX_OK) {
    *out = NULL;
    snprintf(msg, msglen, "icxRt_instantiate: %s: %s", icx_strerror(st), err.msg);
    return INST_ERROR;
  }
  if (*trap != ICX_TRAP_NONE) {
    if (*out) {
      snprintf(msg, msglen, "icxRt_instantiate reported trap %d but returned an instance",
               (int)*trap);
      *out = NULL;
      return INST_ERROR;
    }
    const char *tm = icxExec_trap_msg(c->x);
    snprintf(msg, msglen, "%s", tm ? tm : "");
    return INST_TRAP;
  }
  if (!*out) {
    snprintf(msg, msglen, "icxRt_instantiate returned OK without instance or trap");
    return INST_ERROR;
  }
  return INST_OK;
}

/* ---- commands -------------------------------------------------------------- */

static int is_assertion(const char *type) { return type && starts_with(type, "assert_"); }

static void cmd_module(Ctx *c, const sjValue *cmd) {
  const char *filename = sj_get_str(cmd, "filename");
  const char *name = sj_get_str(cmd, "name");
  c->have_cur = 1;
  c->cur = NULL;
  icxInstance *inst = NULL;
  char msg[600];
  if (!filename) {
    cmd_fail(c, "module: no filename");
  } else {
    icxCompiled *cm;
    icx_status st = compile_file(c, filename, &cm, msg, sizeof msg);
    if (st != ICX_OK) {
      cmd_fail(c, "module %s: compile failed (%s): %s", filename,
               st == -1 ? "runner" : icx_strerror(st), msg);
    } else {
      icxTrap trap;
      int r = instantiate(c, cm, &inst, &trap, msg, sizeof msg);
      if (r == INST_UNLINKABLE)
        cmd_fail(c, "module %s: unlinkable: %s", filename, msg);
      else if (r == INST_TRAP)
        cmd_fail(c, "module %s: instantiation trapped: %s (%s)", filename, trap_text(trap), msg);
      else if (r != INST_OK)
        cmd_fail(c, "module %s: %s", filename, msg);
    }
  }
  c->cur = inst;
  if (name && push_binding(&c->named, &c->nnamed, &c->capnamed, name, strlen(name), inst, 0))
    cmd_fail(c, "out of memory");
}

static void cmd_register(Ctx *c, const sjValue *cmd) {
  const sjValue *asv = sj_get(cmd, "as");
  const char *as = sj_str(asv);
  const char *name = sj_get_str(cmd, "name");
  if (!as) {
    cmd_fail(c, "register: no \"as\"");
    return;
  }
  icxInstance *inst;
  if (name) {
    const Binding *b = find_binding(c->named, c->nnamed, name, strlen(name));
    inst = b ? b->inst : NULL;
  } else {
    inst = c->cur;
  }
  if (!inst) {
    cmd_fail(c, "register \"%s\": %s", as, name ? "named module not loaded" : "no current module");
    return;
  }
  if (push_binding(&c->reg, &c->nreg, &c->capreg, as, asv->len, inst, 0))
    cmd_fail(c, "out of memory");
}

static int action_has_v128(const sjValue *cmd) {
  const sjValue *act = sj_get(cmd, "action");
  const sjValue *lists[2] = {act ? sj_get(act, "args") : NULL, sj_get(cmd, "expected")};
  for (int k = 0; k < 2; k++) {
    const sjValue *l = lists[k];
    if (!l || l->type != SJ_ARRAY) continue;
    for (uint32_t i = 0; i < l->len; i++) {
      const char *t = sj_get_str(&l->u.items[i], "type");
      if (t && !strcmp(t, "v128")) return 1;
    }
  }
  return 0;
}

static void cmd_action(Ctx *c, const sjValue *cmd) {
  const sjValue *act = sj_get(cmd, "action");
  ActResult *r = malloc(sizeof *r);
  if (!r) {
    cmd_fail(c, "out of memory");
    return;
  }
  do_action(c, act, r);
  if (r->kind == ACT_TRAP || r->kind == ACT_ERROR) {
    char ob[700];
    fmt_outcome(ob, sizeof ob, r);
    cmd_fail(c, "action %s: %s", r->desc, ob);
  }
  free(r);
}

static void cmd_assert_return(Ctx *c, const sjValue *cmd) {
  const sjValue *exp = sj_get(cmd, "expected");
  ActResult *r = malloc(sizeof *r);
  if (!r) {
    assert_fail(c, "out of memory");
    return;
  }
  if (action_has_v128(cmd)) {
    assert_skip(c, &c->sh->skip_simd);
    goto done;
  }
  do_action(c, sj_get(cmd, "action"), r);
  if (r->kind == ACT_SKIP) {
    assert_skip(c, &c->sh->skip_simd);
    goto done;
  }
  uint32_t ne = exp && exp->type == SJ_ARRAY ? exp->len : 0;
  Val ev[MAX_VALS];
  if (ne > MAX_VALS) {
    assert_fail(c, "assert_return: too many expected values");
    goto done;
  }
  char eb[700];
  size_t el = (size_t)snprintf(eb, sizeof eb, "(");
  for (uint32_t i = 0; i < ne; i++) {
    int pr = parse_val(&exp->u.items[i], 1, &ev[i]);
    if (pr == 1) {
      assert_skip(c, &c->sh->skip_simd);
      goto done;
    }
    if (pr < 0) {
      assert_fail(c, "assert_return: malformed expected value %u", i);
      goto done;
    }
    char vb[96];
    fmt_val(vb, sizeof vb, &ev[i]);
    if (el < sizeof eb) el += (size_t)snprintf(eb + el, sizeof eb - el, "%s%s", i ? ", " : "", vb);
  }
  if (el < sizeof eb) snprintf(eb + el, sizeof eb - el, ")");
  if (r->kind != ACT_OK) {
    char ob[700];
    fmt_outcome(ob, sizeof ob, r);
    assert_fail(c, "assert_return %s: expected %s, got %s", r->desc, eb, ob);
    goto done;
  }
  int ok = r->n == ne;
  for (uint32_t i = 0; ok && i < ne; i++)
    ok = r->types[i] == ev[i].type && val_matches(&ev[i], r->vals[i]);
  if (ok) {
    assert_pass(c);
  } else {
    char ob[700];
    fmt_outcome(ob, sizeof ob, r);
    assert_fail(c, "assert_return %s: expected %s, got %s", r->desc, eb, ob);
  }
done:
  free(r);
}

static void cmd_assert_trap(Ctx *c, const sjValue *cmd, int exhaustion) {
  const char *text = sj_get_str(cmd, "text");
  const char *what = exhaustion ? "assert_exhaustion" : "assert_trap";
  ActResult *r = malloc(sizeof *r);
  if (!r) {
    assert_fail(c, "out of memory");
    return;
  }
  if (action_has_v128(cmd)) {
    assert_skip(c, &c->sh->skip_simd);
    free(r);
    return;
  }
  do_action(c, sj_get(cmd, "action"), r);
  if (r->kind == ACT_SKIP) {
    assert_skip(c, &c->sh->skip_simd);
  } else if (r->kind == ACT_TRAP &&
             (exhaustion ? r->trap == ICX_TRAP_STACK_EXHAUSTED : trap_matches(r->trap, text))) {
    assert_pass(c);
  } else {
    char ob[700];
    fmt_outcome(ob, sizeof ob, r);
    assert_fail(c, "%s %s: expected trap \"%s\", got %s", what, r->desc, text ? text : "?", ob);
  }
  free(r);
}

#ifdef ICX_SPEC_WAT
/* assert_malformed / assert_invalid on a text module (the .wat file holds
 * the quoted text): icxWat_to_wasm, then icxRt_compile.  assert_malformed
 * wants the text parser to reject it (ICX_EMALFORMED); a rejection only by
 * the decoder/validator after parsing passes too unless --strict (counted
 * as text_late).  assert_invalid wants it to parse and fail validation. */
static void cmd_assert_text(Ctx *c, const char *filename, const char *type, const char *text) {
  int inv = !strcmp(type, "assert_invalid");
  if (!inv && strcmp(type, "assert_malformed") != 0) {
    assert_fail(c, "%s %s: text modules are not supported here", type, filename);
    return;
  }
  char *path = xasprintf("%s/%s", c->job->dir, filename);
  size_t len = 0;
  char *src = (char *)read_whole(path, &len);
  if (!src) {
    assert_fail(c, "%s: cannot read %s: %s", type, path, strerror(errno));
    free(path);
    return;
  }
  free(path);
  uint8_t *bin = NULL;
  size_t blen = 0;
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status st = icxWat_to_wasm(&c->a, src, len, c->job->features, &bin, &blen, &err);
  free(src);
  if (st == ICX_EMALFORMED) {
    if (!inv) {
      assert_pass(c);
    } else if (!c->o->strict) {
      c->sh->inv_as_mal++;
      assert_pass(c);
    } else {
      assert_fail(c, "%s %s: expected \"%s\", text parser says malformed: %s", type, filename, text,
                  err.msg);
    }
    if (c->o->verbose)
      sh_append(c->sh, "  %s:%ld: %s (text) %s: expected \"%s\", text parser says \"%s\"\n",
                c->job->rel, c->line, type, icx_strerror(st), text, err.msg);
    return;
  }
  if (st != ICX_OK) {
    assert_fail(c, "%s %s: icxWat_to_wasm: %s: %s", type, filename, icx_strerror(st), err.msg);
    return;
  }
  memset(&err, 0, sizeof err);
  icxCompiled *cm = NULL;
  icx_status cst = icxRt_compile(&c->a, bin, blen, c->job->features, &c->copts, &cm, &err);
  icxCore_free(&c->a, bin, blen);
  if (cst == ICX_OK) {
    if (!cm || push_compiled(c, cm)) {
      if (cm) icxRt_compiled_free(cm);
    }
    assert_fail(c, "%s %s: text module parsed and compiled, expected \"%s\"", type, filename, text);
    return;
  }
  int ok;
  if (inv) {
    ok = cst == ICX_EINVALID || (cst == ICX_EMALFORMED && !c->o->strict);
    if (ok && cst == ICX_EMALFORMED) c->sh->inv_as_mal++;
  } else {
    ok = (cst == ICX_EMALFORMED || cst == ICX_EINVALID) && !c->o->strict;
    if (ok) c->sh->text_late++;
  }
  if (ok) {
    assert_pass(c);
    if (c->o->verbose)
      sh_append(c->sh, "  %s:%ld: %s (text) %s after parsing: expected \"%s\", lib says \"%s\"\n",
                c->job->rel, c->line, type, icx_strerror(cst), text, err.msg);
  } else {
    assert_fail(c, "%s %s: expected \"%s\"; the text parsed, then %s: %s", type, filename, text,
                icx_strerror(cst), err.msg);
  }
}
#endif

static void cmd_assert_module(Ctx *c, const sjValue *cmd, const char *type) {
  const char *filename = sj_get_str(cmd, "filename");
  const char *mtype = sj_get_str(cmd, "module_type");
  const char *text = sj_get_str(cmd, "text");
  if (!text) text = "";
  if (!filename) {
    assert_fail(c, "%s: no filename", type);
    return;
  }
  if (mtype && !strcmp(mtype, "text")) {
#ifdef ICX_SPEC_WAT
    if (c->o->no_text)
      assert_skip(c, &c->sh->skip_text);
    else
      cmd_assert_text(c, filename, type, text);
#else
    /* A .wat module ("module quote"): a test of the text format, which
     * this build does not parse (see ICX_SPEC_WAT). */
    assert_skip(c, &c->sh->skip_text);
#endif
    return;
  }
  char msg[600];
  icxCompiled *cm = NULL;
  icx_status st = compile_file(c, filename, &cm, msg, sizeof msg);
  int inv = !strcmp(type, "assert_invalid");
  if (inv || !strcmp(type, "assert_malformed")) {
    icx_status want = inv ? ICX_EINVALID : ICX_EMALFORMED;
    icx_status other = inv ? ICX_EMALFORMED : ICX_EINVALID;
    if (st == want || (st == other && !c->o->strict)) {
      if (st == other) {
        if (inv)
          c->sh->inv_as_mal++;
        else
          c->sh->mal_as_inv++;
      }
      assert_pass(c);
      if (c->o->verbose)
        sh_append(c->sh, "  %s:%ld: %s ok (%s): expected \"%s\", lib says \"%s\"\n", c->job->rel,
                  c->line, type, icx_strerror(st), text, msg);
    } else if (st == ICX_OK) {
      assert_fail(c, "%s %s: module compiled, expected \"%s\"", type, filename, text);
    } else {
      assert_fail(c, "%s %s: expected %s \"%s\", got %s: %s", type, filename, icx_strerror(want),
                  text, st == -1 ? "runner error" : icx_strerror(st), msg);
    }
    return;
  }
  /* assert_unlinkable / assert_uninstantiable: the module must compile. */
  if (st != ICX_OK) {
    assert_fail(c, "%s %s: compile failed (%s): %s", type, filename,
                st == -1 ? "runner" : icx_strerror(st), msg);
    return;
  }
  icxInstance *inst = NULL;
  icxTrap trap = ICX_TRAP_NONE;
  int r = instantiate(c, cm, &inst, &trap, msg, sizeof msg);
  if (!strcmp(type, "assert_unlinkable")) {
    if (r == INST_UNLINKABLE)
      assert_pass(c);
    else if (r == INST_OK)
      assert_fail(c, "%s %s: instantiated, expected \"%s\"", type, filename, text);
    else if (r == INST_TRAP)
      assert_fail(c, "%s %s: expected \"%s\", got trap \"%s\" (%s)", type, filename, text,
                  trap_text(trap), msg);
    else
      assert_fail(c, "%s %s: expected \"%s\", got error: %s", type, filename, text, msg);
    return;
  }
  /* assert_uninstantiable */
  if (r == INST_TRAP && trap_matches(trap, text))
    assert_pass(c);
  else if (r == INST_TRAP)
    assert_fail(c, "%s %s: expected trap \"%s\", got trap \"%s\" (%s)", type, filename, text,
                trap_text(trap), msg);
  else if (r == INST_OK)
    assert_fail(c, "%s %s: instantiated, expected trap \"%s\"", type, filename, text);
  else if (r == INST_UNLINKABLE)
    assert_fail(c, "%s %s: expected trap \"%s\", got unlinkable: %s", type, filename, text, msg);
  else
    assert_fail(c, "%s %s: expected trap \"%s\", got error: %s", type, filename, text, msg);
}

static const SkipEnt *find_skip(const char *rel, long line) {
  for (size_t i = 0; i < g_nskips; i++)
    if (g_skips[i].line == line && !strcmp(g_skips[i].file, rel)) return &g_skips[i];
  return NULL;
}

static void run_command(Ctx *c, const sjValue *cmd) {
  const char *type = sj_get_str(cmd, "type");
  c->line = (long)sj_int(sj_get(cmd, "line"), 0);
  c->sh->line = c->line;
  if (!type) {
    cmd_fail(c, "command without type");
    return;
  }
  if (g_nskips && find_skip(c->job->rel, c->line)) {
    if (is_assertion(type)) assert_skip(c, &c->sh->skip_list);
    return;
  }
  if (!strcmp(type, "module"))
    cmd_module(c, cmd);
  else if (!strcmp(type, "register"))
    cmd_register(c, cmd);
  else if (!strcmp(type, "action")) {
    if (!action_has_v128(cmd)) cmd_action(c, cmd);
  } else if (!strcmp(type, "assert_return"))
    cmd_assert_return(c, cmd);
  else if (!strcmp(type, "assert_trap"))
    cmd_assert_trap(c, cmd, 0);
  else if (!strcmp(type, "assert_exhaustion"))
    cmd_assert_trap(c, cmd, 1);
  else if (!strcmp(type, "assert_invalid") || !strcmp(type, "assert_malformed") ||
           !strcmp(type, "assert_unlinkable") || !strcmp(type, "assert_uninstantiable"))
    cmd_assert_module(c, cmd, type);
  else if (is_assertion(type))
    assert_fail(c, "unsupported assertion %s", type);
  else
    cmd_fail(c, "unsupported command %s", type);
}

/* Count the assertion commands of a parsed script. */
static int64_t count_assertions(const sjValue *root) {
  const sjValue *cmds = sj_get(root, "commands");
  if (!cmds || cmds->type != SJ_ARRAY) return -1;
  int64_t n = 0;
  for (uint32_t i = 0; i < cmds->len; i++)
    if (is_assertion(sj_get_str(&cmds->u.items[i], "type"))) n++;
  return n;
}

static int64_t count_file_assertions(const char *json) {
  size_t len;
  char *text = (char *)read_whole(json, &len);
  if (!text) return -1;
  sjDoc doc;
  int64_t n = -1;
  if (sj_parse(text, len, &doc, NULL, 0) == 0) {
    n = count_assertions(&doc.root);
    sj_free(&doc);
  }
  free(text);
  return n;
}

static void run_file(const Job *job, Shared *sh) {
  const Opts *o = g_opts;
  size_t len;
  char *text = (char *)read_whole(job->json, &len);
  if (!text) {
    sh->failed++;
    sh->cmd_errors++;
    sh_append(sh, "  %s: cannot read %s: %s\n", job->rel, job->json, strerror(errno));
    return;
  }
  sjDoc doc;
  char jerr[256];
  if (sj_parse(text, len, &doc, jerr, sizeof jerr)) {
    free(text);
    sh->failed++;
    sh->cmd_errors++;
    sh_append(sh, "  %s: %s: %s\n", job->rel, job->json, jerr);
    return;
  }
  free(text);
  sh->total = count_assertions(&doc.root);
  const sjValue *cmds = sj_get(&doc.root, "commands");
  if (sh->total < 0 || !cmds) {
    sh->failed++;
    sh->cmd_errors++;
    sh_append(sh, "  %s: no \"commands\" array\n", job->rel);
    sj_free(&doc);
    return;
  }
  if (job->simd || job->skip_whole) {
    sh->skipped = sh->total;
    sh->asserts_done = sh->total;
    if (job->simd)
      sh->skip_simd = sh->total;
    else
      sh->skip_list = sh->total;
    sj_free(&doc);
    return;
  }

  Ctx *c = calloc(1, sizeof *c);
  if (!c) {
    sh->failed++;
    sh->cmd_errors++;
    sj_free(&doc);
    return;
  }
  c->o = o;
  c->job = job;
  c->sh = sh;
  c->a = icxCore_default_allocator();
  c->copts.flags = o->meter ? ICX_COMPILE_METER : 0;
  c->copts.cost = NULL;
  c->s = icxStore_new(&c->a);
  c->x = icxExec_new(&c->a);
  if (!c->s || !c->x || make_spectest(c) ||
      push_binding(&c->reg, &c->nreg, &c->capreg, "spectest", 8, NULL, 1)) {
    cmd_fail(c, "cannot create the store, exec context or spectest module");
  } else {
    for (uint32_t i = 0; i < cmds->len; i++) run_command(c, &cmds->u.items[i]);
  }
  if (c->x) icxExec_free(c->x);
  if (c->s) icxStore_free(c->s);
  for (size_t i = 0; i < c->ncompiled; i++) icxRt_compiled_free(c->compiled[i]);
  free(c->compiled);
  for (size_t i = 0; i < c->nnamed; i++) free(c->named[i].name);
  for (size_t i = 0; i < c->nreg; i++) free(c->reg[i].name);
  free(c->named);
  free(c->reg);
  free(c);
  sj_free(&doc);
}

/* ---- file discovery -------------------------------------------------------- */

typedef struct StrList {
  char **v;
  size_t n, cap;
} StrList;

static void sl_push(StrList *l, char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) {
      fprintf(stderr, "spec_runner: out of memory\n");
      exit(2);
    }
  }
  l->v[l->n++] = s;
}

/* Collect files under root/sub ending in ext, as paths relative to root. */
static void walk(const char *root, const char *sub, const char *ext, StrList *out, int depth) {
  if (depth > 8) return;
  char *path = *sub ? xasprintf("%s/%s", root, sub) : xstrdup(root);
  DIR *d = opendir(path);
  if (!d) {
    free(path);
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.') continue;
    char *rel = *sub ? xasprintf("%s/%s", sub, de->d_name) : xstrdup(de->d_name);
    char *full = xasprintf("%s/%s", root, rel);
    struct stat st;
    if (stat(full, &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        walk(root, rel, ext, out, depth + 1);
        free(rel);
      } else if (S_ISREG(st.st_mode) && ends_with(de->d_name, ext)) {
        sl_push(out, rel);
      } else {
        free(rel);
      }
    } else {
      free(rel);
    }
    free(full);
  }
  closedir(d);
  free(path);
}

static int path_depth(const char *p) {
  int n = 0;
  for (; *p; p++) n += *p == '/';
  return n;
}

static int cmp_rel(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  int dx = path_depth(x), dy = path_depth(y);
  if (dx != dy) return dx - dy;
  return strcmp(x, y);
}

/* "i32.wast", "i32.json", "/suite/i32.wast" -> "i32.wast" */
static char *normalize_rel(const char *arg, const char *root1, const char *root2) {
  const char *roots[2] = {root1, root2};
  for (int i = 0; i < 2; i++) {
    if (!roots[i]) continue;
    size_t n = strlen(roots[i]);
    while (n > 1 && roots[i][n - 1] == '/') n--;
    if (strncmp(arg, roots[i], n) == 0 && arg[n] == '/') {
      arg += n + 1;
      break;
    }
  }
  while (arg[0] == '.' && arg[1] == '/') arg += 2;
  if (ends_with(arg, ".json")) {
    char *r = xstrdup(arg);
    strcpy(r + strlen(r) - 5, ".wast");
    return r;
  }
  if (ends_with(arg, ".wast")) return xstrdup(arg);
  return xasprintf("%s.wast", arg);
}

static uint32_t features_for(const char *rel) {
  if (g_opts->have_features) return g_opts->features;
  if (starts_with(rel, "proposals/memory64/")) return ICX_FEAT_MEMORY64;
  return 0;
}

/* ---- skip file ------------------------------------------------------------- */

static int load_skips(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "spec_runner: cannot open skip file %s: %s\n", path, strerror(errno));
    return -1;
  }
  char line[1024];
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '#' || *p == '\n' || *p == 0) continue;
    char *e = p;
    while (*e && *e != ' ' && *e != '\t' && *e != '\n') e++;
    char save = *e;
    *e = 0;
    char *spec = xstrdup(p);
    *e = save;
    char *reason = e;
    while (*reason == ' ' || *reason == '\t') reason++;
    size_t rl = strlen(reason);
    while (rl && (reason[rl - 1] == '\n' || reason[rl - 1] == ' ')) reason[--rl] = 0;
    if (!rl) {
      fprintf(stderr, "spec_runner: %s:%d: an entry needs a reason\n", path, lineno);
      free(spec);
      fclose(f);
      return -1;
    }
    long ln = 0;
    char *colon = strrchr(spec, ':');
    if (colon) {
      char *end;
      ln = strtol(colon + 1, &end, 10);
      if (*end || ln <= 0) {
        fprintf(stderr, "spec_runner: %s:%d: bad line number\n", path, lineno);
        free(spec);
        fclose(f);
        return -1;
      }
      *colon = 0;
    }
    SkipEnt *ns = realloc(g_skips, (g_nskips + 1) * sizeof *ns);
    if (!ns) exit(2);
    g_skips = ns;
    g_skips[g_nskips].file = spec;
    g_skips[g_nskips].line = ln;
    g_skips[g_nskips].reason = xstrdup(reason);
    g_nskips++;
  }
  fclose(f);
  return 0;
}

/* ---- conversion ------------------------------------------------------------ */

/* Convert rels (paths relative to the suite) with the suite's convert.sh
 * into o->out, in up to o->jobs parallel convert.sh processes (each gets
 * every k-th file).  Their output is copied to stderr; each file that
 * convert.sh reports as "FAIL <file>: ..." is marked in failed[] (its .json
 * may exist anyway: wast2json writes it even when a module is invalid).
 * Returns the worst exit status (convert.sh: 0 all converted, 1 some failed,
 * 2 usage error), or -1 if one died. */
static int run_convert(const Opts *o, StrList *rels, unsigned char *failed) {
  char *script = xasprintf("%s/convert.sh", o->suite);
  size_t k = o->jobs > 0 ? (size_t)o->jobs : 1;
  if (k > rels->n) k = rels->n;
  if (k == 0) k = 1;
  char **argv = calloc(rels->n / k + 5, sizeof *argv);
  pid_t *pids = calloc(k, sizeof *pids);
  FILE **logs = calloc(k, sizeof *logs);
  if (!argv || !pids || !logs) exit(2);
  fflush(stdout);
  fflush(stderr);
  for (size_t c = 0; c < k; c++) {
    size_t n = 0;
    argv[n++] = "sh";
    argv[n++] = script;
    argv[n++] = (char *)o->out;
    for (size_t i = c; i < rels->n; i += k) argv[n++] = rels->v[i];
    argv[n] = NULL;
    logs[c] = tmpfile();
    if (!logs[c]) {
      perror("spec_runner: tmpfile");
      exit(2);
    }
    pids[c] = fork();
    if (pids[c] < 0) {
      perror("spec_runner: fork");
      exit(2);
    }
    if (pids[c] == 0) {
      dup2(fileno(logs[c]), 1);
      execvp("sh", argv);
      perror("spec_runner: exec sh");
      _exit(127);
    }
  }
  int worst = 0;
  for (size_t c = 0; c < k; c++) {
    int status;
    while (waitpid(pids[c], &status, 0) < 0 && errno == EINTR) {
    }
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc < 0 || (worst >= 0 && rc > worst)) worst = rc;
    char line[2048];
    rewind(logs[c]);
    while (fgets(line, sizeof line, logs[c])) {
      fputs(line, stderr);
      if (strncmp(line, "FAIL ", 5) != 0) continue;
      for (size_t i = 0; i < rels->n; i++) {
        size_t l = strlen(rels->v[i]);
        if (strncmp(line + 5, rels->v[i], l) == 0 && line[5 + l] == ':') failed[i] = 1;
      }
    }
    fclose(logs[c]);
  }
  free(logs);
  free(pids);
  free(argv);
  free(script);
  return worst;
}

/* ---- running jobs ---------------------------------------------------------- */

static Shared *new_shared(void) {
  void *p = mmap(NULL, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("spec_runner: mmap");
    exit(2);
  }
  Shared *sh = p;
  memset(sh, 0, sizeof *sh);
  sh->total = -1;
  return sh;
}

#define MAX_GROUPS 16

typedef struct Group {
  char name[64];
  int64_t files, passed, failed, skipped;
} Group;

typedef struct Totals {
  int64_t passed, failed, skipped, simd, text, listed, inv_as_mal, mal_as_inv, text_late;
  int64_t cmd_errors;
  int crashed;
  Group groups[MAX_GROUPS];
  int ngroups;
} Totals;

/* Report group of a file: "simd" for simd_*.wast, the folder for files in
 * a subfolder (e.g. "proposals/memory64"), else "core". */
static void group_name(const Job *j, char *o, size_t cap) {
  const char *slash = strrchr(j->rel, '/');
  if (j->simd)
    snprintf(o, cap, "simd");
  else if (slash)
    snprintf(o, cap, "%.*s", (int)(slash - j->rel), j->rel);
  else
    snprintf(o, cap, "core");
}

static void add_group(Totals *t, const Job *j, const Shared *sh) {
  char name[64];
  group_name(j, name, sizeof name);
  Group *g = NULL;
  for (int i = 0; i < t->ngroups; i++)
    if (!strcmp(t->groups[i].name, name)) g = &t->groups[i];
  if (!g) {
    if (t->ngroups == MAX_GROUPS) return;
    g = &t->groups[t->ngroups++];
    snprintf(g->name, sizeof g->name, "%s", name);
  }
  g->files++;
  g->passed += sh->passed;
  g->failed += sh->failed;
  g->skipped += sh->skipped;
}

static void start_job(Job *j) {
  j->sh = new_shared();
  j->t0 = now_sec();
  if (j->convert_failed) {
    j->state = 2;
    return;
  }
  if (g_opts->no_fork) {
    run_file(j, j->sh);
    j->sh->finished = 1;
    j->state = 2;
    j->status = 0;
    return;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    perror("spec_runner: fork");
    exit(2);
  }
  if (pid == 0) {
    if (g_opts->timeout > 0) alarm((unsigned)g_opts->timeout);
    run_file(j, j->sh);
    j->sh->finished = 1;
    exit(0);
  }
  j->pid = pid;
  j->state = 1;
}

static void report_job(Job *j, Totals *t) {
  Shared *sh = j->sh;
  char extra[256] = "";
  if (j->convert_failed) {
    sh->failed++;
    sh->cmd_errors++;
    sh->total = 0;
    snprintf(extra, sizeof extra, " (conversion failed, see above)");
  } else if (!g_opts->no_fork &&
             (!sh->finished || !WIFEXITED(j->status) || WEXITSTATUS(j->status))) {
    /* The child died: the assertions it did not finish count as failed. */
    int64_t total = sh->total >= 0 ? sh->total : count_file_assertions(j->json);
    int64_t rest = total > sh->asserts_done ? total - sh->asserts_done : 0;
    sh->failed += rest + 1;
    sh->cmd_errors++;
    t->crashed++;
    if (WIFSIGNALED(j->status) && WTERMSIG(j->status) == SIGALRM)
      snprintf(extra, sizeof extra,
               " (TIMEOUT after %d s at line %" PRId64 ", %" PRId64 " assertions not run)",
               g_opts->timeout, sh->line, rest);
    else if (WIFSIGNALED(j->status))
      snprintf(extra, sizeof extra,
               " (CRASHED: signal %d (%s) at line %" PRId64 ", %" PRId64 " assertions not run)",
               WTERMSIG(j->status), strsignal(WTERMSIG(j->status)), sh->line, rest);
    else
      snprintf(extra, sizeof extra,
               " (child exited with status %d at line %" PRId64 ", %" PRId64 " assertions not run)",
               WIFEXITED(j->status) ? WEXITSTATUS(j->status) : -1, sh->line, rest);
  }
  const char *why = "";
  if (j->simd)
    why = " (simd: v128 not supported)";
  else if (j->skip_whole)
    why = " (listed in the skip file)";
  printf("%s: %" PRId64 " passed, %" PRId64 " failed, %" PRId64 " skipped%s%s", j->rel, sh->passed,
         sh->failed, sh->skipped, why, extra);
  if (g_opts->verbose) printf(" [%.2f s]", j->elapsed);
  printf("\n");
  if (sh->out_len) fwrite(sh->out, 1, (size_t)sh->out_len, stdout);
  if (sh->fail_suppressed && g_opts->max_fail > 0)
    printf("  %s: ... %d more failure(s) not shown\n", j->rel, sh->fail_suppressed);
  fflush(stdout);
  t->passed += sh->passed;
  t->failed += sh->failed;
  t->skipped += sh->skipped;
  t->simd += sh->skip_simd;
  t->text += sh->skip_text;
  t->listed += sh->skip_list;
  t->inv_as_mal += sh->inv_as_mal;
  t->text_late += sh->text_late;
  t->mal_as_inv += sh->mal_as_inv;
  t->cmd_errors += sh->cmd_errors;
  add_group(t, j, sh);
  munmap(sh, sizeof *sh);
  j->sh = NULL;
}

static void run_jobs(Job *jobs, size_t n, Totals *t) {
  size_t next = 0, printed = 0;
  int running = 0;
  int maxj = g_opts->no_fork ? 1 : g_opts->jobs;
  while (printed < n) {
    while (next < n && running < maxj) {
      start_job(&jobs[next]);
      if (jobs[next].state == 1)
        running++;
      else
        jobs[next].elapsed = now_sec() - jobs[next].t0;
      next++;
    }
    while (printed < n && jobs[printed].state == 2) {
      report_job(&jobs[printed], t);
      jobs[printed].state = 3;
      printed++;
    }
    if (printed >= n) break;
    if (running == 0) continue;
    int status;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      perror("spec_runner: waitpid");
      exit(2);
    }
    for (size_t i = 0; i < next; i++) {
      if (jobs[i].state == 1 && jobs[i].pid == pid) {
        jobs[i].state = 2;
        jobs[i].status = status;
        jobs[i].elapsed = now_sec() - jobs[i].t0;
        running--;
        break;
      }
    }
  }
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "usage: spec_runner [options] [FILE.wast ...]\n"
          "  --suite DIR         spec-test folder (the .wast files and convert.sh)\n"
          "  --out DIR           convert into DIR with the suite's convert.sh, then run\n"
          "  --json-dir DIR      run pre-converted JSON from DIR (no conversion)\n"
          "  --skip FILE         skip list: lines \"file.wast[:line] reason\", # comments\n"
          "  -j, --jobs N        files converted and run in parallel (default: CPUs, at\n"
          "                      most 8); the output order stays the same\n"
          "  --max-failures N    failure lines printed per file (default 20)\n"
          "  --quiet-failures    print no failure lines (counts only)\n"
          "  --strict            assert_invalid must fail validation (ICX_EINVALID) and\n"
          "                      assert_malformed decoding (ICX_EMALFORMED); by default\n"
          "                      either rejection passes and mismatches are only counted\n"
          "  --no-text           skip assertions on text modules (\"module quote\"); by\n"
          "                      default they go through the library's WAT parser\n"
          "                      (assert_malformed: the parser must reject the text;\n"
          "                      a rejection by the decoder/validator after parsing\n"
          "                      passes unless --strict)\n"
          "  --timeout SEC       per-file time limit (default 120, 0 = none)\n"
          "  --no-fork           run files in this process (for debuggers)\n"
          "  --meter             compile with ICX_COMPILE_METER (unlimited fuel)\n"
          "  --instrument        instrument every binary module first (lib/instrument.h,\n"
          "                      counter only) and compile it with the counter fused\n"
          "  --fuel N            with metering, fuel per call and per instantiation\n"
          "  --features N        feature bits for every file (default: ICX_FEAT_MEMORY64\n"
          "                      for proposals/memory64/, else 0)\n"
          "  -v, --verbose       also list rejection messages and per-file times\n"
          "%s"
          "FILE.wast paths are relative to the suite (e.g. proposals/memory64/load64.wast).\n"
          "Without files, every .wast of the suite (or every .json of --json-dir) runs.\n"
          "The last line is \"spec: P passed, F failed, S skipped\" (assertion commands;\n"
          "failed module/register/action commands add to F); exit status 0 iff F == 0.\n",
#ifdef ICX_SPEC_WAT
          ""
#else
          "(This build has no WAT parser: text-module assertions are skipped.)\n"
#endif
  );
}

static int parse_int_arg(const char *s, long long lo, long long hi, long long *out) {
  char *e;
  errno = 0;
  long long v = strtoll(s, &e, 0);
  if (errno || *e || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  Opts o;
  memset(&o, 0, sizeof o);
  o.max_fail = 20;
  o.timeout = 120;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  o.jobs = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (int)ncpu;
  StrList args = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    long long v;
#define NEED_ARG()                                                                                 \
  do {                                                                                             \
    if (i + 1 >= argc) {                                                                           \
      fprintf(stderr, "spec_runner: %s needs an argument\n", a);                                   \
      return 2;                                                                                    \
    }                                                                                              \
  } while (0)
#define INT_ARG(lo, hi)                                                                            \
  do {                                                                                             \
    NEED_ARG();                                                                                    \
    if (parse_int_arg(argv[++i], lo, hi, &v)) {                                                    \
      fprintf(stderr, "spec_runner: bad value for %s: %s\n", a, argv[i]);                          \
      return 2;                                                                                    \
    }                                                                                              \
  } while (0)
    if (!strcmp(a, "--suite")) {
      NEED_ARG();
      o.suite = argv[++i];
    } else if (!strcmp(a, "--out")) {
      NEED_ARG();
      o.out = argv[++i];
    } else if (!strcmp(a, "--json-dir")) {
      NEED_ARG();
      o.json_dir = argv[++i];
    } else if (!strcmp(a, "--skip")) {
      NEED_ARG();
      o.skip_file = argv[++i];
    } else if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) {
      INT_ARG(1, 256);
      o.jobs = (int)v;
    } else if (a[0] == '-' && a[1] == 'j' && a[2]) { /* -jN */
      if (parse_int_arg(a + 2, 1, 256, &v)) {
        fprintf(stderr, "spec_runner: bad value for -j: %s\n", a + 2);
        return 2;
      }
      o.jobs = (int)v;
    } else if (!strcmp(a, "--max-failures")) {
      INT_ARG(0, 1000000000);
      o.max_fail = (int)v;
    } else if (!strcmp(a, "--quiet-failures")) {
      o.max_fail = 0;
    } else if (!strcmp(a, "--strict")) {
      o.strict = 1;
    } else if (!strcmp(a, "--no-text")) {
      o.no_text = 1;
    } else if (!strcmp(a, "--timeout")) {
      INT_ARG(0, 1000000);
      o.timeout = (int)v;
    } else if (!strcmp(a, "--no-fork")) {
      o.no_fork = 1;
    } else if (!strcmp(a, "--meter")) {
      o.meter = 1;
    } else if (!strcmp(a, "--instrument")) {
      o.instrument = 1;
    } else if (!strcmp(a, "--fuel")) {
      INT_ARG(1, INT64_MAX);
      o.meter = 1;
      o.fuel = v;
    } else if (!strcmp(a, "--features")) {
      INT_ARG(0, UINT32_MAX);
      o.have_features = 1;
      o.features = (uint32_t)v;
    } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
      o.verbose = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "spec_runner: unknown option %s\n", a);
      usage(stderr);
      return 2;
    } else {
      sl_push(&args, (char *)a);
    }
#undef INT_ARG
#undef NEED_ARG
  }
  g_opts = &o;
  if (!o.json_dir && !(o.suite && o.out)) {
    fprintf(stderr, "spec_runner: give --suite DIR --out DIR, or --json-dir DIR\n");
    usage(stderr);
    return 2;
  }
  if (o.skip_file && load_skips(o.skip_file)) return 2;

  double t0 = now_sec();
  const char *jdir = o.json_dir ? o.json_dir : o.out;
  StrList rels = {0};
  if (args.n) {
    for (size_t i = 0; i < args.n; i++) sl_push(&rels, normalize_rel(args.v[i], o.suite, jdir));
  } else if (o.json_dir) {
    StrList js = {0};
    walk(o.json_dir, "", ".json", &js, 0);
    for (size_t i = 0; i < js.n; i++) {
      sl_push(&rels, normalize_rel(js.v[i], NULL, NULL));
      free(js.v[i]);
    }
    free(js.v);
  } else {
    walk(o.suite, "", ".wast", &rels, 0);
  }
  if (rels.n == 0) {
    fprintf(stderr, "spec_runner: no test files found\n");
    return 2;
  }
  qsort(rels.v, rels.n, sizeof *rels.v, cmp_rel);

  unsigned char *conv_failed = calloc(rels.n, 1);
  if (!conv_failed) return 2;
  if (!o.json_dir) {
    int rc = run_convert(&o, &rels, conv_failed);
    if (rc < 0 || rc > 1) {
      fprintf(stderr, "spec_runner: %s/convert.sh failed (status %d)\n", o.suite, rc);
      return 2;
    }
  }
  double t_conv = now_sec() - t0;

  Job *jobs = calloc(rels.n, sizeof *jobs);
  if (!jobs) return 2;
  for (size_t i = 0; i < rels.n; i++) {
    Job *j = &jobs[i];
    j->rel = rels.v[i];
    char *stem = xstrdup(j->rel);
    stem[strlen(stem) - 5] = 0; /* drop .wast */
    j->json = xasprintf("%s/%s.json", jdir, stem);
    char *slash = strrchr(stem, '/');
    if (slash) {
      *slash = 0;
      j->dir = xasprintf("%s/%s", jdir, stem);
    } else {
      j->dir = xstrdup(jdir);
    }
    free(stem);
    j->features = features_for(j->rel);
    j->simd = starts_with(base_name(j->rel), "simd_");
    j->skip_whole = find_skip(j->rel, 0);
    struct stat st;
    if (conv_failed[i] || stat(j->json, &st) != 0) {
      j->convert_failed = 1;
      if (o.json_dir) fprintf(stderr, "spec_runner: %s: no such file\n", j->json);
    }
  }

  Totals t;
  memset(&t, 0, sizeof t);
  run_jobs(jobs, rels.n, &t);

  double t_all = now_sec() - t0;
  for (int i = 0; i < t.ngroups; i++)
    printf("group %s (%" PRId64 " files): %" PRId64 " passed, %" PRId64 " failed, %" PRId64
           " skipped\n",
           t.groups[i].name, t.groups[i].files, t.groups[i].passed, t.groups[i].failed,
           t.groups[i].skipped);
  printf("skipped: %" PRId64 " simd, %" PRId64 " text-format, %" PRId64 " listed\n", t.simd, t.text,
         t.listed);
  if (t.inv_as_mal || t.mal_as_inv)
    printf("note: %" PRId64 " assert_invalid rejected as malformed, %" PRId64
           " assert_malformed rejected as invalid (--strict fails these)\n",
           t.inv_as_mal, t.mal_as_inv);
  if (t.text_late)
    printf("note: %" PRId64 " text assert_malformed modules were parsed and then rejected by the "
           "decoder/validator (--strict fails these)\n",
           t.text_late);
  if (t.cmd_errors)
    printf("note: %" PRId64 " of the failures are failed module/register/action commands or "
           "file errors\n",
           t.cmd_errors);
  if (t.crashed) printf("note: %d file(s) crashed or timed out\n", t.crashed);
  fflush(stdout);
  fprintf(stderr, "spec_runner: %zu files in %.2f s (conversion %.2f s)\n", rels.n, t_all, t_conv);
  fflush(stderr);
  printf("spec: %" PRId64 " passed, %" PRId64 " failed, %" PRId64 " skipped\n", t.passed, t.failed,
         t.skipped);
  fflush(stdout);

  for (size_t i = 0; i < rels.n; i++) {
    free(jobs[i].rel);
    free(jobs[i].json);
    free(jobs[i].dir);
  }
  free(jobs);
  free(conv_failed);
  free(rels.v);
  free(args.v);
  for (size_t i = 0; i < g_nskips; i++) {
    free(g_skips[i].file);
    free(g_skips[i].reason);
  }
  free(g_skips);
  return t.failed == 0 ? 0 : 1;
}
