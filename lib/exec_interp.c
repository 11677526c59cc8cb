/* exec_interp.c -- the interpreter: execution contexts and the dispatch loop.
 *
 * Wasm calls never recurse on the C stack: frames live in x->frames and
 * values in x->stack (both heap-allocated, grown on demand up to the fixed
 * limits ICX_MAX_CALL_DEPTH and ICX_MAX_STACK_SLOTS).  So a run can stop at
 * a suspension point (a host function asking to suspend, or a METER op
 * running out of fuel with suspend_on_empty) and resume later: all the
 * state is in the icxExec.
 *
 * Dispatch is computed goto (ICX_USE_JUMPTABLE, default with GCC/Clang) or
 * a switch; both expand the same handlers. */
#include <fenv.h>
#include <stdio.h>

#include "comp.h"
#include "exec_numeric.h"

#ifndef ICX_USE_JUMPTABLE
#if defined(__GNUC__)
#define ICX_USE_JUMPTABLE 1
#else
#define ICX_USE_JUMPTABLE 0
#endif
#endif

typedef struct Frame {
  const uint32_t *ret_pc; /* NULL: return to the host */
  uint64_t fp_off;        /* caller's frame pointer, in slots */
  icxInstance *inst;      /* caller's instance */
} Frame;

enum { X_IDLE = 0, X_SUSPENDED = 1 };

struct icxExec {
  icxAllocator A;
  uint64_t *stack;
  uint64_t cap; /* slots */
  Frame *frames;
  uint32_t nframes, capframes;
  int state;
  /* registers saved while suspended */
  const uint32_t *pc;
  uint64_t fp_off;
  icxInstance *inst;
  /* fuel */
  int64_t fuel;
  int suspend_on_empty;
  /* outcome */
  icxTrap trap;
  icx_status error; /* after ICX_RUN_ERROR */
  char trap_msg[160];
  uint32_t nresults;
  icxInstance *caller; /* instance whose code called the current host function */
};

/* Create an execution context (stack allocated lazily). */
icxExec *icxExec_new(const icxAllocator *a) {
  icxExec *x = icxCore_alloc(a, sizeof *x);
  if (!x) return NULL;
  x->A = *a;
  x->fuel = INT64_MAX;
  return x;
}

void icxExec_free(icxExec *x) {
  if (!x) return;
  icxAllocator A = x->A;
  icxCore_free(&A, x->stack, x->cap * 8);
  icxCore_free(&A, x->frames, (size_t)x->capframes * sizeof(Frame));
  icxCore_free(&A, x, sizeof *x);
}

void icxExec_reset(icxExec *x) {
  x->state = X_IDLE;
  x->nframes = 0;
}
const uint64_t *icxExec_results(const icxExec *x) { return x->stack; }
icxTrap icxExec_trap(const icxExec *x) { return x->trap; }
const char *icxExec_trap_msg(const icxExec *x) { return x->trap_msg; }
icx_status icxExec_error(const icxExec *x) { return x->error; }
void icxExec_set_fuel(icxExec *x, int64_t fuel, int suspend_on_empty) {
  x->fuel = fuel;
  x->suspend_on_empty = suspend_on_empty;
}
int64_t icxExec_fuel(const icxExec *x) { return x->fuel; }
void icxExec_set_trap(icxExec *x, const char *msg) {
  x->trap = ICX_TRAP_HOST;
  snprintf(x->trap_msg, sizeof x->trap_msg, "%s", msg ? msg : "host trap");
}

/* The instrumentation's "__.out_of_instructions" import: called by the
 * injected code when the counter (the fuel register) is negative.  Does
 * what a fused METER check does: suspend so that the host can refill the
 * counter and resume, or trap when suspension is not enabled. */
int icxExec_host_out_of_instructions(icxExec *x, void *ud, uint64_t *slots) {
  (void)ud;
  (void)slots;
  if (x->fuel >= 0) return ICX_HOST_OK;
  if (x->suspend_on_empty) return ICX_HOST_SUSPEND;
  x->trap = ICX_TRAP_OUT_OF_FUEL;
  snprintf(x->trap_msg, sizeof x->trap_msg, "%s", icxRt_trap_message(ICX_TRAP_OUT_OF_FUEL));
  return ICX_HOST_TRAP;
}

/* The instrumentation's "__.try_grow_wasm_memory" import when the host has
 * no memory policy: the result of memory.grow passes through. */
int icxExec_host_try_grow_passthrough(icxExec *x, void *ud, uint64_t *slots) {
  (void)x;
  (void)ud;
  (void)slots; /* slots[0] (the result) is already the result */
  return ICX_HOST_OK;
}
icxMemInst *icxExec_caller_memory(const icxExec *x) { return x->caller ? x->caller->mem0 : NULL; }

/* Ensure at least `need` stack slots; 0 on success. */
static int ensure_stack(icxExec *x, uint64_t need) {
  if (need <= x->cap) return 0;
  if (need > ICX_MAX_STACK_SLOTS) return -1;
  uint64_t ncap = x->cap ? x->cap : 4096;
  while (ncap < need) ncap *= 2;
  if (ncap > ICX_MAX_STACK_SLOTS) ncap = ICX_MAX_STACK_SLOTS;
  uint64_t *p = icxCore_realloc(&x->A, x->stack, x->cap * 8, ncap * 8);
  if (!p) return -2;
  x->stack = p;
  x->cap = ncap;
  return 0;
}
static int ensure_frames(icxExec *x) {
  if (x->nframes < x->capframes) return 0;
  if (x->capframes >= ICX_MAX_CALL_DEPTH) return -1;
  uint32_t ncap = x->capframes ? x->capframes * 2 : 64;
  if (ncap > ICX_MAX_CALL_DEPTH) ncap = ICX_MAX_CALL_DEPTH;
  Frame *p = icxCore_realloc(&x->A, x->frames, sizeof(Frame) * x->capframes, sizeof(Frame) * ncap);
  if (!p) return -2;
  x->frames = p;
  x->capframes = ncap;
  return 0;
}

static const char *const trap_msgs[] = {
    "no trap",
    "unreachable",
    "out of bounds memory access",
    "out of bounds table access",
    "undefined element",
    "uninitialized element",
    "indirect call type mismatch",
    "integer divide by zero",
    "integer overflow",
    "invalid conversion to integer",
    "call stack exhausted",
    "instruction limit exceeded",
    "host trap",
    "null reference",
};

const char *icxRt_trap_message(icxTrap t) {
  if ((unsigned)t < sizeof trap_msgs / sizeof trap_msgs[0]) return trap_msgs[t];
  return "unknown trap";
}

static icxRun run(icxExec *x);

/* Zero the locals and copy the constant pool into a new frame. */
static inline void enter_frame(uint64_t *fp, const icxFuncCode *fn) {
  memset(fp + fn->nparams, 0, (size_t)fn->nlocals * 8);
  if (fn->npool) memcpy(fp + fn->nparams + fn->nlocals, fn->pool, (size_t)fn->npool * 8);
}

/* Call f with args. */
icxRun icxExec_call(icxExec *x, icxFuncInst *f, const uint64_t *args, uint32_t nargs) {
  if (!x || !f || x->state != X_IDLE || nargs != f->type->nparams) {
    if (x) {
      x->trap = ICX_TRAP_NONE;
      x->error = ICX_EMISUSE;
      snprintf(x->trap_msg, sizeof x->trap_msg, "bad call");
    }
    return ICX_RUN_ERROR;
  }
  x->trap = ICX_TRAP_NONE;
  x->error = ICX_OK;
  x->trap_msg[0] = 0;
  x->nframes = 0;
  x->nresults = f->type->nresults;
  uint64_t need = nargs > f->type->nresults ? nargs : f->type->nresults;
  if (f->code && f->code->frame_slots > need) need = f->code->frame_slots;
  int e = ensure_stack(x, need + 1);
  if (!e) e = ensure_frames(x);
  if (e == -2) {
    x->error = ICX_ENOMEM;
    return ICX_RUN_ERROR;
  }
  if (e) {
    x->trap = ICX_TRAP_STACK_EXHAUSTED;
    snprintf(x->trap_msg, sizeof x->trap_msg, "%s", trap_msgs[ICX_TRAP_STACK_EXHAUSTED]);
    return ICX_RUN_TRAP;
  }
  if (nargs) memcpy(x->stack, args, (size_t)nargs * 8);
  if (!f->code) {
    x->caller = NULL;
    int r = f->host(x, f->host_ud, x->stack);
    if (r == ICX_HOST_TRAP) {
      if (x->trap == ICX_TRAP_NONE) icxExec_set_trap(x, NULL);
      return ICX_RUN_TRAP;
    }
    return ICX_RUN_DONE; /* suspension of a bare host call is meaningless */
  }
  enter_frame(x->stack, f->code);
  x->frames[0].ret_pc = NULL;
  x->frames[0].fp_off = 0;
  x->frames[0].inst = f->inst;
  x->nframes = 1;
  x->pc = f->code->code;
  x->fp_off = 0;
  x->inst = f->inst;
  return run(x);
}

/* Continue a suspended run. */
icxRun icxExec_resume(icxExec *x) {
  if (!x || x->state != X_SUSPENDED) {
    if (x) x->error = ICX_EMISUSE;
    return ICX_RUN_ERROR;
  }
  /* Execution never proceeds while the counter is negative: a top-up
   * smaller than the overdraft leaves the run where it is (or traps), so
   * the outcome does not depend on how the host slices its budget. */
  if (x->fuel < 0) {
    if (x->suspend_on_empty) return ICX_RUN_SUSPENDED;
    x->state = X_IDLE;
    x->nframes = 0;
    x->trap = ICX_TRAP_OUT_OF_FUEL;
    snprintf(x->trap_msg, sizeof x->trap_msg, "%s", icxRt_trap_message(ICX_TRAP_OUT_OF_FUEL));
    return ICX_RUN_TRAP;
  }
  x->state = X_IDLE;
  if (!x->pc) { /* suspended as it returned: the results are in place */
    x->nframes = 0;
    return ICX_RUN_DONE;
  }
  return run(x);
}

#define TRAP(code)                                                                                 \
  do {                                                                                             \
    trap_code = (code);                                                                            \
    goto do_trap;                                                                                  \
  } while (0)

#define R32(s) ((uint32_t)fp[s])
#define RS32(s) ((int32_t)(uint32_t)fp[s])
#define R64(s) (fp[s])
#define RS64(s) ((int64_t)fp[s])
#define OFF(i) ((int32_t)pc[i])

#if ICX_USE_JUMPTABLE
#define DISPATCH() goto *disp[*pc]
#define CASE(n) L_##n:
#else
#define DISPATCH() goto dispatch
#define CASE(n) case ICX_OP_##n:
#endif

#define RELOAD_INST()                                                                              \
  do {                                                                                             \
    MI = inst->mem0;                                                                               \
    M = MI ? MI->data : NULL;                                                                      \
    D = MI ? MI->dirty : NULL;                                                                     \
    MS = MI ? MI->size : 0;                                                                        \
    G = inst->globals;                                                                             \
    FC = inst->c->funcs;                                                                           \
  } while (0)
#define RELOAD_MEM()                                                                               \
  do {                                                                                             \
    M = MI ? MI->data : NULL;                                                                      \
    D = MI ? MI->dirty : NULL;                                                                     \
    MS = MI ? MI->size : 0;                                                                        \
  } while (0)

static icxRun run(icxExec *x) {
#if ICX_USE_JUMPTABLE
  static const void *const disp[] = {
#define OP(name, words) &&L_##name,
      ICX_OPS
#undef OP
  };
#endif
  int saved_round = fegetround();
  if (saved_round != FE_TONEAREST) fesetround(FE_TONEAREST);

  icxInstance *inst = x->inst;
  const uint32_t *pc = x->pc;
  uint64_t *fp = x->stack + x->fp_off;
  int64_t fuel = x->fuel;
  icxMemInst *MI;
  uint8_t *M;
  uint8_t *D; /* MI->dirty: one byte per 4 KiB page (comp.h) */
  uint64_t MS;
  icxGlobalInst **G;
  const icxFuncCode *FC;
  icxTrap trap_code = ICX_TRAP_NONE;
  icxFuncInst *fi;
  uint64_t *nfp;
  const uint32_t *ret_pc;
  RELOAD_INST();

#if ICX_USE_JUMPTABLE
  DISPATCH();
  {
#else
dispatch:
  {
    switch (*pc) {
#endif

    CASE(UNREACHABLE) TRAP(ICX_TRAP_UNREACHABLE);
    CASE(BR) { pc = pc + 1 + OFF(1); DISPATCH(); }
    CASE(BR_NZ32) { pc = R32(pc[1]) ? pc + 2 + OFF(2) : pc + 3; DISPATCH(); }
    CASE(BR_Z32) { pc = R32(pc[1]) ? pc + 3 : pc + 2 + OFF(2); DISPATCH(); }
    CASE(BR_NZ64) { pc = R64(pc[1]) ? pc + 2 + OFF(2) : pc + 3; DISPATCH(); }
    CASE(BR_Z64) { pc = R64(pc[1]) ? pc + 3 : pc + 2 + OFF(2); DISPATCH(); }
    CASE(BR_TABLE) {
      uint32_t i = R32(pc[1]), n = pc[2];
      const uint32_t *w = pc + 3 + (i < n ? i : n);
      pc = w + (int32_t)*w;
      DISPATCH();
    }

#define BRC(N, EXPR32S, EXPR64S)                                                                   \
  CASE(BR_##N##32_ss) {                                                                            \
    uint32_t a = R32(pc[1]), b = R32(pc[2]);                                                       \
    pc = (EXPR32S) ? pc + 3 + OFF(3) : pc + 4;                                                     \
    DISPATCH();                                                                                    \
  }                                                                                                \
  CASE(BR_##N##32_si) {                                                                            \
    uint32_t a = R32(pc[1]), b = pc[2];                                                            \
    pc = (EXPR32S) ? pc + 3 + OFF(3) : pc + 4;                                                     \
    DISPATCH();                                                                                    \
  }                                                                                                \
  CASE(BR_##N##64_ss) {                                                                            \
    uint64_t a = R64(pc[1]), b = R64(pc[2]);                                                       \
    pc = (EXPR64S) ? pc + 3 + OFF(3) : pc + 4;                                                     \
    DISPATCH();                                                                                    \
  }                                                                                                \
  CASE(BR_##N##64_si) {                                                                            \
    uint64_t a = R64(pc[1]), b = (uint64_t)(int64_t)(int32_t)pc[2];                                \
    pc = (EXPR64S) ? pc + 3 + OFF(3) : pc + 4;                                                     \
    DISPATCH();                                                                                    \
  }
    BRC(EQ, a == b, a == b)
    BRC(NE, a != b, a != b)
    BRC(LTS, (int32_t)a < (int32_t)b, (int64_t)a < (int64_t)b)
    BRC(LTU, a < b, a < b)
    BRC(GTS, (int32_t)a > (int32_t)b, (int64_t)a > (int64_t)b)
    BRC(GTU, a > b, a > b)
    BRC(LES, (int32_t)a <= (int32_t)b, (int64_t)a <= (int64_t)b)
    BRC(LEU, a <= b, a <= b)
    BRC(GES, (int32_t)a >= (int32_t)b, (int64_t)a >= (int64_t)b)
    BRC(GEU, a >= b, a >= b)
#undef BRC

    CASE(RET0) goto do_return;
    CASE(RET1) {
      fp[0] = fp[pc[1]];
      goto do_return;
    }
    CASE(RETN) {
      memmove(fp, fp + pc[1], (size_t)pc[2] * 8);
      goto do_return;
    }
    CASE(CALL_LOCAL) {
      const icxFuncCode *fn = FC + pc[1];
      nfp = fp + pc[2];
      if (icx_unlikely(x->nframes >= x->capframes ||
                       (uint64_t)(nfp - x->stack) + fn->frame_slots > x->cap)) {
        fi = inst->funcs[inst->c->m->nfunc_imports + pc[1]];
        ret_pc = pc + 3;
        goto call_slow;
      }
      Frame *fr = &x->frames[x->nframes++];
      fr->ret_pc = pc + 3;
      fr->fp_off = (uint64_t)(fp - x->stack);
      fr->inst = inst;
      enter_frame(nfp, fn);
      fp = nfp;
      pc = fn->code;
      DISPATCH();
    }
    CASE(CALL) {
      fi = inst->funcs[pc[1]];
      nfp = fp + pc[2];
      ret_pc = pc + 3;
      goto call_any;
    }
    CASE(CALL_INDIRECT) {
      icxTableInst *t = inst->tables[pc[2]];
      uint64_t i = R64(pc[3]);
      if (icx_unlikely(i >= t->size)) TRAP(ICX_TRAP_UNDEFINED_ELEMENT);
      fi = (icxFuncInst *)(uintptr_t)t->elems[i];
      if (icx_unlikely(!fi)) TRAP(ICX_TRAP_UNINIT_ELEMENT);
      if (icx_unlikely(fi->mod != inst->c || fi->canon_type != inst->c->type_canon[pc[1]])) {
        if (!icxFuncType_equal(fi->type, &inst->c->m->types[pc[1]]))
          TRAP(ICX_TRAP_INDIRECT_TYPE);
      }
      nfp = fp + pc[4];
      ret_pc = pc + 5;
      goto call_any;
    }
    CASE(METER) {
      fuel = (int64_t)((uint64_t)fuel - pc[1]);
      pc += 2;
      if (icx_unlikely(fuel < 0)) {
        if (!x->suspend_on_empty) TRAP(ICX_TRAP_OUT_OF_FUEL);
        goto do_suspend;
      }
      DISPATCH();
    }
    CASE(METER_NC) {
      fuel = (int64_t)((uint64_t)fuel - pc[1]);
      pc += 2;
      DISPATCH();
    }
    CASE(FUEL_GET) { fp[pc[1]] = (uint64_t)fuel; pc += 2; DISPATCH(); }
    CASE(FUEL_SET) { fuel = (int64_t)fp[pc[1]]; pc += 2; DISPATCH(); }
    CASE(MOV) { fp[pc[1]] = fp[pc[2]]; pc += 3; DISPATCH(); }
    CASE(CONST32) { fp[pc[1]] = pc[2]; pc += 3; DISPATCH(); }
    CASE(CONST64) { fp[pc[1]] = pc[2] | (uint64_t)pc[3] << 32; pc += 4; DISPATCH(); }
    CASE(SELECT) { fp[pc[1]] = R32(pc[4]) ? fp[pc[2]] : fp[pc[3]]; pc += 5; DISPATCH(); }
    CASE(GLOBAL_GET) { fp[pc[1]] = G[pc[2]]->val; pc += 3; DISPATCH(); }
    CASE(GLOBAL_SET) { G[pc[1]]->val = fp[pc[2]]; pc += 3; DISPATCH(); }

#define UN(N, EXPR)                                                                                \
  CASE(N) {                                                                                        \
    uint64_t a = fp[pc[2]];                                                                        \
    fp[pc[1]] = (EXPR);                                                                            \
    pc += 3;                                                                                       \
    DISPATCH();                                                                                    \
  }
    UN(EQZ32, (uint32_t)a == 0)
    UN(EQZ64, a == 0)
    UN(CLZ32, (uint32_t)a ? (uint64_t)__builtin_clz((uint32_t)a) : 32)
    UN(CLZ64, a ? (uint64_t)__builtin_clzll(a) : 64)
    UN(CTZ32, (uint32_t)a ? (uint64_t)__builtin_ctz((uint32_t)a) : 32)
    UN(CTZ64, a ? (uint64_t)__builtin_ctzll(a) : 64)
    UN(POPCNT32, (uint64_t)__builtin_popcount((uint32_t)a))
    UN(POPCNT64, (uint64_t)__builtin_popcountll(a))
    UN(EXT8S32, (uint32_t)(int32_t)(int8_t)a)
    UN(EXT16S32, (uint32_t)(int32_t)(int16_t)a)
    UN(EXT8S64, (uint64_t)(int64_t)(int8_t)a)
    UN(EXT16S64, (uint64_t)(int64_t)(int16_t)a)
    UN(EXT32S64, (uint64_t)(int64_t)(int32_t)a)
    UN(WRAP64, (uint32_t)a)
    UN(REF_IS_NULL, a == 0)
    UN(F32_ABS, (uint32_t)a & 0x7fffffffu)
    UN(F32_NEG, (uint32_t)a ^ 0x80000000u)
    UN(F32_CEIL, icx_f32_canon(ceilf(icx_f32(a))))
    UN(F32_FLOOR, icx_f32_canon(floorf(icx_f32(a))))
    UN(F32_TRUNC, icx_f32_canon(truncf(icx_f32(a))))
    UN(F32_NEAREST, icx_f32_canon(nearbyintf(icx_f32(a))))
    UN(F32_SQRT, icx_f32_canon(sqrtf(icx_f32(a))))
    UN(F64_ABS, a & 0x7fffffffffffffffull)
    UN(F64_NEG, a ^ 0x8000000000000000ull)
    UN(F64_CEIL, icx_f64_canon(ceil(icx_f64(a))))
    UN(F64_FLOOR, icx_f64_canon(floor(icx_f64(a))))
    UN(F64_TRUNC, icx_f64_canon(trunc(icx_f64(a))))
    UN(F64_NEAREST, icx_f64_canon(nearbyint(icx_f64(a))))
    UN(F64_SQRT, icx_f64_canon(sqrt(icx_f64(a))))
    UN(I32_SAT_F32S, (uint32_t)icx_sat_i32s(icx_f32(a)))
    UN(I32_SAT_F32U, icx_sat_u32(icx_f32(a)))
    UN(I32_SAT_F64S, (uint32_t)icx_sat_i32s(icx_f64(a)))
    UN(I32_SAT_F64U, icx_sat_u32(icx_f64(a)))
    UN(I64_SAT_F32S, (uint64_t)icx_sat_i64s(icx_f32(a)))
    UN(I64_SAT_F32U, icx_sat_u64(icx_f32(a)))
    UN(I64_SAT_F64S, (uint64_t)icx_sat_i64s(icx_f64(a)))
    UN(I64_SAT_F64U, icx_sat_u64(icx_f64(a)))
    UN(F32_CONV_I32S, icx_bits32((float)(int32_t)a))
    UN(F32_CONV_I32U, icx_bits32((float)(uint32_t)a))
    UN(F32_CONV_I64S, icx_bits32((float)(int64_t)a))
    UN(F32_CONV_I64U, icx_bits32((float)a))
    UN(F64_CONV_I32S, icx_bits64((double)(int32_t)a))
    UN(F64_CONV_I32U, icx_bits64((double)(uint32_t)a))
    UN(F64_CONV_I64S, icx_bits64((double)(int64_t)a))
    UN(F64_CONV_I64U, icx_bits64((double)a))
    UN(F32_DEMOTE, icx_f32_canon((float)icx_f64(a)))
    UN(F64_PROMOTE, icx_f64_canon((double)icx_f32(a)))
#undef UN

#define TRUNC(N, RD, LO, HI, CAST)                                                                 \
  CASE(N) {                                                                                        \
    double v = (double)RD(fp[pc[2]]);                                                              \
    int chk = icx_trunc_check(v, LO, HI);                                                          \
    if (icx_unlikely(chk)) TRAP(chk == 1 ? ICX_TRAP_INVALID_CONV : ICX_TRAP_INT_OVERFLOW);          \
    fp[pc[1]] = CAST(v);                                                                           \
    pc += 3;                                                                                       \
    DISPATCH();                                                                                    \
  }
#define C_I32S(v) (uint32_t)(int32_t)(v)
#define C_U32(v) (uint32_t)(v)
#define C_I64S(v) (uint64_t)(int64_t)(v)
#define C_U64(v) (uint64_t)(v)
    TRUNC(I32_TRUNC_F32S, icx_f32, ICX_I32S_LO, ICX_I32S_HI, C_I32S)
    TRUNC(I32_TRUNC_F32U, icx_f32, ICX_U32_LO, ICX_U32_HI, C_U32)
    TRUNC(I32_TRUNC_F64S, icx_f64, ICX_I32S_LO, ICX_I32S_HI, C_I32S)
    TRUNC(I32_TRUNC_F64U, icx_f64, ICX_U32_LO, ICX_U32_HI, C_U32)
    TRUNC(I64_TRUNC_F32S, icx_f32, ICX_I64S_LO, ICX_I64S_HI, C_I64S)
    TRUNC(I64_TRUNC_F32U, icx_f32, ICX_U32_LO, ICX_U64_HI, C_U64)
    TRUNC(I64_TRUNC_F64S, icx_f64, ICX_I64S_LO, ICX_I64S_HI, C_I64S)
    TRUNC(I64_TRUNC_F64U, icx_f64, ICX_U32_LO, ICX_U64_HI, C_U64)
#undef TRUNC

#define BIN2(N, T, RD, EXPR_SS, IMM)                                                               \
  CASE(N##_ss) {                                                                                   \
    T a = RD(pc[2]), b = RD(pc[3]);                                                                \
    fp[pc[1]] = (EXPR_SS);                                                                         \
    pc += 4;                                                                                       \
    DISPATCH();                                                                                    \
  }                                                                                                \
  CASE(N##_si) {                                                                                   \
    T a = RD(pc[2]), b = (T)(IMM);                                                                 \
    fp[pc[1]] = (EXPR_SS);                                                                         \
    pc += 4;                                                                                       \
    DISPATCH();                                                                                    \
  }
#define IMM32 pc[3]
#define IMM64 (uint64_t)(int64_t)(int32_t)pc[3]
#define B32(N, EXPR) BIN2(N##32, uint32_t, R32, EXPR, IMM32)
#define B64(N, EXPR) BIN2(N##64, uint64_t, R64, EXPR, IMM64)
    B32(ADD, (uint32_t)(a + b)) B64(ADD, a + b)
    B32(SUB, (uint32_t)(a - b)) B64(SUB, a - b)
    B32(MUL, (uint32_t)(a * b)) B64(MUL, a * b)
    B32(AND, a & b) B64(AND, a & b)
    B32(OR, a | b) B64(OR, a | b)
    B32(XOR, a ^ b) B64(XOR, a ^ b)
    B32(SHL, (uint32_t)(a << (b & 31))) B64(SHL, a << (b & 63))
    B32(SHRS, (uint32_t)((int32_t)a >> (b & 31))) B64(SHRS, (uint64_t)((int64_t)a >> (b & 63)))
    B32(SHRU, a >> (b & 31)) B64(SHRU, a >> (b & 63))
    B32(ROTL, icx_rotl32(a, b)) B64(ROTL, icx_rotl64(a, b))
    B32(ROTR, icx_rotr32(a, b)) B64(ROTR, icx_rotr64(a, b))
    B32(EQ, a == b) B64(EQ, a == b)
    B32(NE, a != b) B64(NE, a != b)
    B32(LTS, (int32_t)a < (int32_t)b) B64(LTS, (int64_t)a < (int64_t)b)
    B32(LTU, a < b) B64(LTU, a < b)
    B32(GTS, (int32_t)a > (int32_t)b) B64(GTS, (int64_t)a > (int64_t)b)
    B32(GTU, a > b) B64(GTU, a > b)
    B32(LES, (int32_t)a <= (int32_t)b) B64(LES, (int64_t)a <= (int64_t)b)
    B32(LEU, a <= b) B64(LEU, a <= b)
    B32(GES, (int32_t)a >= (int32_t)b) B64(GES, (int64_t)a >= (int64_t)b)
    B32(GEU, a >= b) B64(GEU, a >= b)
#undef B32
#undef B64
#undef BIN2

    CASE(DIVS32) {
      int32_t a = RS32(pc[2]), b = RS32(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      if (icx_unlikely(a == INT32_MIN && b == -1)) TRAP(ICX_TRAP_INT_OVERFLOW);
      fp[pc[1]] = (uint32_t)(a / b);
      pc += 4;
      DISPATCH();
    }
    CASE(DIVU32) {
      uint32_t a = R32(pc[2]), b = R32(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      fp[pc[1]] = a / b;
      pc += 4;
      DISPATCH();
    }
    CASE(REMS32) {
      int32_t a = RS32(pc[2]), b = RS32(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      fp[pc[1]] = b == -1 ? 0 : (uint32_t)(a % b);
      pc += 4;
      DISPATCH();
    }
    CASE(REMU32) {
      uint32_t a = R32(pc[2]), b = R32(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      fp[pc[1]] = a % b;
      pc += 4;
      DISPATCH();
    }
    CASE(DIVS64) {
      int64_t a = RS64(pc[2]), b = RS64(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      if (icx_unlikely(a == INT64_MIN && b == -1)) TRAP(ICX_TRAP_INT_OVERFLOW);
      fp[pc[1]] = (uint64_t)(a / b);
      pc += 4;
      DISPATCH();
    }
    CASE(DIVU64) {
      uint64_t a = R64(pc[2]), b = R64(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      fp[pc[1]] = a / b;
      pc += 4;
      DISPATCH();
    }
    CASE(REMS64) {
      int64_t a = RS64(pc[2]), b = RS64(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      fp[pc[1]] = b == -1 ? 0 : (uint64_t)(a % b);
      pc += 4;
      DISPATCH();
    }
    CASE(REMU64) {
      uint64_t a = R64(pc[2]), b = R64(pc[3]);
      if (icx_unlikely(b == 0)) TRAP(ICX_TRAP_DIV_ZERO);
      fp[pc[1]] = a % b;
      pc += 4;
      DISPATCH();
    }

#define FB(N, T, RD, EXPR)                                                                         \
  CASE(N) {                                                                                        \
    T a = RD(fp[pc[2]]), b = RD(fp[pc[3]]);                                                        \
    fp[pc[1]] = (EXPR);                                                                            \
    pc += 4;                                                                                       \
    DISPATCH();                                                                                    \
  }
    FB(F32_ADD, float, icx_f32, icx_f32_canon(a + b))
    FB(F32_SUB, float, icx_f32, icx_f32_canon(a - b))
    FB(F32_MUL, float, icx_f32, icx_f32_canon(a * b))
    FB(F32_DIV, float, icx_f32, icx_f32_canon(a / b))
    FB(F32_MIN, float, icx_f32, icx_f32_canon(icx_fmin32(a, b)))
    FB(F32_MAX, float, icx_f32, icx_f32_canon(icx_fmax32(a, b)))
    FB(F32_EQ, float, icx_f32, a == b)
    FB(F32_NE, float, icx_f32, a != b)
    FB(F32_LT, float, icx_f32, a < b)
    FB(F32_GT, float, icx_f32, a > b)
    FB(F32_LE, float, icx_f32, a <= b)
    FB(F32_GE, float, icx_f32, a >= b)
    FB(F64_ADD, double, icx_f64, icx_f64_canon(a + b))
    FB(F64_SUB, double, icx_f64, icx_f64_canon(a - b))
    FB(F64_MUL, double, icx_f64, icx_f64_canon(a * b))
    FB(F64_DIV, double, icx_f64, icx_f64_canon(a / b))
    FB(F64_MIN, double, icx_f64, icx_f64_canon(icx_fmin64(a, b)))
    FB(F64_MAX, double, icx_f64, icx_f64_canon(icx_fmax64(a, b)))
    FB(F64_EQ, double, icx_f64, a == b)
    FB(F64_NE, double, icx_f64, a != b)
    FB(F64_LT, double, icx_f64, a < b)
    FB(F64_GT, double, icx_f64, a > b)
    FB(F64_LE, double, icx_f64, a <= b)
    FB(F64_GE, double, icx_f64, a >= b)
#undef FB
    CASE(F32_COPYSIGN) {
      fp[pc[1]] = (R32(pc[2]) & 0x7fffffffu) | (R32(pc[3]) & 0x80000000u);
      pc += 4;
      DISPATCH();
    }
    CASE(F64_COPYSIGN) {
      fp[pc[1]] = (R64(pc[2]) & 0x7fffffffffffffffull) | (R64(pc[3]) & 0x8000000000000000ull);
      pc += 4;
      DISPATCH();
    }

    /* Loads and stores: explicit bounds checks against the current size.
     * The 32-bit address forms: plain (a + off), fused add (u32(a + b) +
     * off) and fused add-immediate (u32(a + i) + off); mem64 checks the
     * 64-bit sum for overflow. */
#define EA_M32 (fp[pc[2]] + (uint64_t)pc[3])
#define EA_A(x, y) ((uint64_t)(uint32_t)(R32(pc[x]) + R32(pc[y])) + pc[4])
#define EA_I(x) ((uint64_t)(uint32_t)(R32(pc[x]) + pc[3]) + pc[4])
#define CHECK32(T)                                                                                 \
  if (icx_unlikely(ea + sizeof(T) > MS)) TRAP(ICX_TRAP_MEM_OOB)
#define CHECK64(A, T)                                                                              \
  uint64_t ea = (A) + (pc[3] | (uint64_t)pc[4] << 32);                                             \
  if (icx_unlikely(ea < (A) || ea > MS || MS - ea < sizeof(T))) TRAP(ICX_TRAP_MEM_OOB)
#define DO_LOAD(T, R, LEN)                                                                         \
  {                                                                                                \
    T v;                                                                                           \
    memcpy(&v, M + ea, sizeof(T));                                                                 \
    fp[pc[1]] = (R)v;                                                                              \
    pc += LEN;                                                                                     \
    DISPATCH();                                                                                    \
  }
#define DO_STORE(T, VSLOT, LEN)                                                                    \
  {                                                                                                \
    T v = (T)fp[pc[VSLOT]];                                                                        \
    ICX_MEM_MARK(MI, D, ea, sizeof(T));                                                            \
    memcpy(M + ea, &v, sizeof(T));                                                                 \
    pc += LEN;                                                                                     \
    DISPATCH();                                                                                    \
  }
#define LD(N, T, R)                                                                                \
  CASE(N##_m32) {                                                                                  \
    uint64_t ea = EA_M32;                                                                          \
    CHECK32(T);                                                                                    \
    DO_LOAD(T, R, 4)                                                                               \
  }                                                                                                \
  CASE(N##_m64) {                                                                                  \
    uint64_t a = fp[pc[2]];                                                                        \
    CHECK64(a, T);                                                                                 \
    DO_LOAD(T, R, 5)                                                                               \
  }                                                                                                \
  CASE(N##_A) {                                                                                    \
    uint64_t ea = EA_A(2, 3);                                                                      \
    CHECK32(T);                                                                                    \
    DO_LOAD(T, R, 5)                                                                               \
  }                                                                                                \
  CASE(N##_I) {                                                                                    \
    uint64_t ea = EA_I(2);                                                                         \
    CHECK32(T);                                                                                    \
    DO_LOAD(T, R, 5)                                                                               \
  }
    ICX_LOAD_FAMILY(LD)
#undef LD
#define ST(N, T)                                                                                   \
  CASE(N##_m32) {                                                                                  \
    uint64_t ea = fp[pc[1]] + (uint64_t)pc[3];                                                     \
    CHECK32(T);                                                                                    \
    DO_STORE(T, 2, 4)                                                                              \
  }                                                                                                \
  CASE(N##_m64) {                                                                                  \
    uint64_t a = fp[pc[1]];                                                                        \
    CHECK64(a, T);                                                                                 \
    DO_STORE(T, 2, 5)                                                                              \
  }                                                                                                \
  CASE(N##_A) {                                                                                    \
    uint64_t ea = (uint64_t)(uint32_t)(R32(pc[1]) + R32(pc[2])) + pc[4];                           \
    CHECK32(T);                                                                                    \
    DO_STORE(T, 3, 5)                                                                              \
  }                                                                                                \
  CASE(N##_I) {                                                                                    \
    uint64_t ea = (uint64_t)(uint32_t)(R32(pc[1]) + pc[2]) + pc[4];                                \
    CHECK32(T);                                                                                    \
    DO_STORE(T, 3, 5)                                                                              \
  }
    ICX_STORE_FAMILY(ST)
#undef ST

    CASE(MEM_SIZE) { fp[pc[1]] = MI->pages; pc += 2; DISPATCH(); }
    CASE(MEM_GROW) {
      uint64_t old = icxMem_grow(MI, icxStore_allocator(inst->store), fp[pc[2]]);
      if (icx_unlikely(old == ICX_GROW_OOM)) goto do_oom;
      if (old == ICX_GROW_LIMIT) old = MI->is64 ? UINT64_MAX : UINT32_MAX;
      fp[pc[1]] = old;
      RELOAD_MEM();
      pc += 3;
      DISPATCH();
    }
    CASE(MEM_FILL) {
      uint64_t d = fp[pc[1]], n = fp[pc[3]];
      if (icx_unlikely(d > MS || n > MS - d)) TRAP(ICX_TRAP_MEM_OOB);
      if (n) {
        icxMemInst_touch(MI, d, n);
        memset(M + d, (int)(uint8_t)fp[pc[2]], (size_t)n);
      }
      pc += 4;
      DISPATCH();
    }
    CASE(MEM_COPY) {
      uint64_t d = fp[pc[1]], s = fp[pc[2]], n = fp[pc[3]];
      if (icx_unlikely(d > MS || n > MS - d || s > MS || n > MS - s)) TRAP(ICX_TRAP_MEM_OOB);
      if (n) {
        icxMemInst_touch(MI, d, n);
        memmove(M + d, M + s, (size_t)n);
      }
      pc += 4;
      DISPATCH();
    }
    CASE(MEM_INIT) {
      const icxData *seg = &inst->c->m->datas[pc[1]];
      uint64_t len = inst->data_dropped[pc[1]] ? 0 : seg->len;
      uint64_t d = fp[pc[2]], s = fp[pc[3]], n = fp[pc[4]];
      if (icx_unlikely(s > len || n > len - s || d > MS || n > MS - d)) TRAP(ICX_TRAP_MEM_OOB);
      if (n) {
        icxMemInst_touch(MI, d, n);
        memcpy(M + d, inst->c->m->bytes + seg->off + s, (size_t)n);
      }
      pc += 5;
      DISPATCH();
    }
    CASE(DATA_DROP) { inst->data_dropped[pc[1]] = 1; pc += 2; DISPATCH(); }
    CASE(TABLE_GET) {
      icxTableInst *t = inst->tables[pc[2]];
      uint64_t i = fp[pc[3]];
      if (icx_unlikely(i >= t->size)) TRAP(ICX_TRAP_TABLE_OOB);
      fp[pc[1]] = t->elems[i];
      pc += 4;
      DISPATCH();
    }
    CASE(TABLE_SET) {
      icxTableInst *t = inst->tables[pc[1]];
      uint64_t i = fp[pc[2]];
      if (icx_unlikely(i >= t->size)) TRAP(ICX_TRAP_TABLE_OOB);
      t->elems[i] = fp[pc[3]];
      pc += 4;
      DISPATCH();
    }
    CASE(TABLE_SIZE) { fp[pc[1]] = inst->tables[pc[2]]->size; pc += 3; DISPATCH(); }
    CASE(TABLE_GROW) {
      icxTableInst *t = inst->tables[pc[2]];
      uint64_t old = icxTable_grow(t, fp[pc[4]], fp[pc[3]]);
      if (icx_unlikely(old == ICX_GROW_OOM)) goto do_oom;
      if (old == ICX_GROW_LIMIT) old = t->is64 ? UINT64_MAX : UINT32_MAX;
      fp[pc[1]] = old;
      pc += 5;
      DISPATCH();
    }
    CASE(TABLE_FILL) {
      icxTableInst *t = inst->tables[pc[1]];
      uint64_t i = fp[pc[2]], v = fp[pc[3]], n = fp[pc[4]];
      if (icx_unlikely(i > t->size || n > t->size - i)) TRAP(ICX_TRAP_TABLE_OOB);
      for (uint64_t k = 0; k < n; k++) t->elems[i + k] = v;
      pc += 5;
      DISPATCH();
    }
    CASE(TABLE_COPY) {
      icxTableInst *td = inst->tables[pc[1]], *ts = inst->tables[pc[2]];
      uint64_t d = fp[pc[3]], s = fp[pc[4]], n = fp[pc[5]];
      if (icx_unlikely(d > td->size || n > td->size - d || s > ts->size || n > ts->size - s))
        TRAP(ICX_TRAP_TABLE_OOB);
      if (n) memmove(td->elems + d, ts->elems + s, (size_t)n * 8);
      pc += 6;
      DISPATCH();
    }
    CASE(TABLE_INIT) {
      icxTableInst *t = inst->tables[pc[1]];
      uint32_t seg = pc[2];
      uint64_t len = inst->elem_len[seg];
      uint64_t d = fp[pc[3]], s = fp[pc[4]], n = fp[pc[5]];
      if (icx_unlikely(s > len || n > len - s || d > t->size || n > t->size - d))
        TRAP(ICX_TRAP_TABLE_OOB);
      if (n) memcpy(t->elems + d, inst->elem_vals[seg] + s, (size_t)n * 8);
      pc += 6;
      DISPATCH();
    }
    CASE(ELEM_DROP) { inst->elem_len[pc[1]] = 0; pc += 2; DISPATCH(); }
    CASE(REF_FUNC) { fp[pc[1]] = (uint64_t)(uintptr_t)inst->funcs[pc[2]]; pc += 3; DISPATCH(); }

#if ICX_USE_JUMPTABLE
  }
#else
    default: TRAP(ICX_TRAP_UNREACHABLE);
    }
  }
#endif

  /* ---- slow paths ------------------------------------------------------- */
call_any:
  /* fi: callee; nfp: its frame; ret_pc: where to continue */
  if (!fi->code) {
    x->fuel = fuel;
    x->caller = inst;
    int r = fi->host(x, fi->host_ud, nfp);
    fuel = x->fuel;
    RELOAD_MEM();
    if (r == ICX_HOST_TRAP) {
      if (x->trap == ICX_TRAP_NONE) icxExec_set_trap(x, NULL);
      trap_code = x->trap;
      goto do_trap;
    }
    pc = ret_pc;
    if (r == ICX_HOST_SUSPEND) goto do_suspend;
    DISPATCH();
  }
call_slow : {
  int e1 = ensure_frames(x);
  uint64_t nfp_off = (uint64_t)(nfp - x->stack);
  uint64_t fp_off = (uint64_t)(fp - x->stack);
  int e2 = e1 ? 0 : ensure_stack(x, nfp_off + fi->code->frame_slots);
  if (e1 == -2 || e2 == -2) goto do_oom;
  if (e1 || e2) TRAP(ICX_TRAP_STACK_EXHAUSTED);
  fp = x->stack + fp_off;
  nfp = x->stack + nfp_off;
  Frame *fr = &x->frames[x->nframes++];
  fr->ret_pc = ret_pc;
  fr->fp_off = fp_off;
  fr->inst = inst;
  enter_frame(nfp, fi->code);
  fp = nfp;
  pc = fi->code->code;
  if (fi->inst != inst) {
    inst = fi->inst;
    RELOAD_INST();
  }
  DISPATCH();
}

do_return : {
  Frame *fr = &x->frames[--x->nframes];
  if (!fr->ret_pc) {
    /* Returning to the host is a counter check too: a run completes only
     * with a non-negative counter (blocks charged without a check may have
     * overdrawn it since the last loop header). */
    if (icx_unlikely(fuel < 0)) {
      if (!x->suspend_on_empty) TRAP(ICX_TRAP_OUT_OF_FUEL);
      x->nframes++;
      pc = NULL;
      goto do_suspend;
    }
    goto do_done;
  }
  pc = fr->ret_pc;
  fp = x->stack + fr->fp_off;
  if (fr->inst != inst) {
    inst = fr->inst;
    RELOAD_INST();
  }
  DISPATCH();
}

do_done:
  x->fuel = fuel;
  x->state = X_IDLE;
  if (saved_round != FE_TONEAREST) fesetround(saved_round);
  return ICX_RUN_DONE;

do_suspend:
  x->fuel = fuel;
  x->pc = pc;
  x->fp_off = (uint64_t)(fp - x->stack);
  x->inst = inst;
  x->state = X_SUSPENDED;
  if (saved_round != FE_TONEAREST) fesetround(saved_round);
  return ICX_RUN_SUSPENDED;

do_oom:
  x->fuel = fuel;
  x->error = ICX_ENOMEM;
  x->trap = ICX_TRAP_NONE;
  snprintf(x->trap_msg, sizeof x->trap_msg, "out of host memory");
  x->nframes = 0;
  x->state = X_IDLE;
  if (saved_round != FE_TONEAREST) fesetround(saved_round);
  return ICX_RUN_ERROR;

do_trap:
  x->fuel = fuel;
  x->trap = trap_code;
  if (trap_code != ICX_TRAP_HOST)
    snprintf(x->trap_msg, sizeof x->trap_msg, "%s", icxRt_trap_message(trap_code));
  x->nframes = 0;
  x->state = X_IDLE;
  if (saved_round != FE_TONEAREST) fesetround(saved_round);
  return ICX_RUN_TRAP;
}
