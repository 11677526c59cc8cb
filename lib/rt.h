/* rt.h -- the Wasm runtime: compiled modules, the store of runtime objects
 * (function, table, memory and global instances), instantiation with
 * imports, and execution contexts that call, trap, suspend and resume.
 *
 * Values cross this interface as 64-bit slots (uint64_t):
 *   i32/f32: the 32 bits zero-extended; i64/f64: the 64 bits;
 *   funcref: 0 for null, else an opaque non-zero handle (an icxFuncInst *);
 *   externref: 0 for null, else any non-zero host value.
 *
 * Threading: an icxCompiled is immutable after icxRt_compile and may be
 * shared by many stores and threads.  A store, its instances and an icxExec
 * are used by one thread at a time. */
#ifndef ICX_RT_H
#define ICX_RT_H

#include "core.h"
#include "wasm.h"

typedef struct icxCompiled icxCompiled;   /* validated + compiled module */
typedef struct icxStore icxStore;         /* owns runtime objects */
typedef struct icxInstance icxInstance;   /* an instantiated module */
typedef struct icxExec icxExec;           /* an execution context */
typedef struct icxFuncInst icxFuncInst;
typedef struct icxTableInst icxTableInst;
typedef struct icxMemInst icxMemInst;
typedef struct icxGlobalInst icxGlobalInst;

/* Trap reasons.  Stable numbers; icxRt_trap_message gives the spec text. */
typedef enum icxTrap {
  ICX_TRAP_NONE = 0,
  ICX_TRAP_UNREACHABLE = 1,       /* "unreachable" */
  ICX_TRAP_MEM_OOB = 2,           /* "out of bounds memory access" */
  ICX_TRAP_TABLE_OOB = 3,         /* "out of bounds table access" */
  ICX_TRAP_UNDEFINED_ELEMENT = 4, /* call_indirect index >= table size */
  ICX_TRAP_UNINIT_ELEMENT = 5,    /* call_indirect on a null entry */
  ICX_TRAP_INDIRECT_TYPE = 6,     /* "indirect call type mismatch" */
  ICX_TRAP_DIV_ZERO = 7,          /* "integer divide by zero" */
  ICX_TRAP_INT_OVERFLOW = 8,      /* "integer overflow" */
  ICX_TRAP_INVALID_CONV = 9,      /* "invalid conversion to integer" */
  ICX_TRAP_STACK_EXHAUSTED = 10,  /* "call stack exhausted" */
  ICX_TRAP_OUT_OF_FUEL = 11,      /* instruction budget exhausted */
  ICX_TRAP_HOST = 12,             /* a host function trapped (message set) */
  ICX_TRAP_NULL_REF = 13          /* null reference */
} icxTrap;

ICX_INTERNAL const char *icxRt_trap_message(icxTrap t);

/* Outcome of a run (call or resume). */
typedef enum icxRun {
  ICX_RUN_DONE = 0,      /* returned; results available */
  ICX_RUN_TRAP = 1,      /* trapped; icxExec_trap() / icxExec_trap_msg() */
  ICX_RUN_SUSPENDED = 2, /* paused at a suspension point; icxExec_resume() */
  ICX_RUN_ERROR = 3      /* API error (misuse, OOM before starting): err set */
} icxRun;

/* ---- compiled modules --------------------------------------------------- */

/* Compile options (bit set). */
#define ICX_COMPILE_METER 0x1u /* insert per-basic-block fuel charges */
/* The module was instrumented (lib/instrument.h): its counter global is the
 * fuel register, and the injected counter sequences become METER /
 * METER_NC ops (counter_global and counter_ooi say which global and which
 * out-of-instructions import).  Excludes ICX_COMPILE_METER. */
#define ICX_COMPILE_FUSE_COUNTER 0x2u

/* A per-opcode cost function for ICX_COMPILE_METER: the static cost of one
 * instruction given its opcode (prefixed opcodes as 0xfc00|sub).  NULL means
 * 1 for every instruction except block/loop/else/end (0). */
typedef uint32_t (*icxCostFn)(uint32_t opcode, uint8_t mem64);

typedef struct icxCompileOpts {
  uint32_t flags;   /* ICX_COMPILE_* */
  icxCostFn cost;   /* with ICX_COMPILE_METER */
  uint32_t counter_global; /* with ICX_COMPILE_FUSE_COUNTER: global index of the counter */
  uint32_t counter_ooi;    /* with ICX_COMPILE_FUSE_COUNTER: function index of out_of_instructions */
} icxCompileOpts;

/* Decode, validate and compile.  Takes a copy of bytes.  Errors:
 * ICX_EMALFORMED, ICX_EINVALID, ICX_ENOMEM (message in err). */
ICX_INTERNAL icx_status icxRt_compile(const icxAllocator *a, const uint8_t *bytes, size_t len,
                                      uint32_t features, const icxCompileOpts *opts,
                                      icxCompiled **out, icxErr *err);
/* Compile an already decoded and validated module; takes ownership of m
 * (freed on failure too). */
ICX_INTERNAL icx_status icxRt_compile_module(icxModule *m, const icxCompileOpts *opts,
                                             icxCompiled **out, icxErr *err);
ICX_INTERNAL void icxRt_compiled_free(icxCompiled *c);
ICX_INTERNAL const icxModule *icxRt_compiled_module(const icxCompiled *c);

/* ---- store and runtime objects ------------------------------------------ */

ICX_INTERNAL icxStore *icxStore_new(const icxAllocator *a);
/* Frees every object created in the store (instances included). */
ICX_INTERNAL void icxStore_free(icxStore *s);

/* Host functions: args in slots[0..nparams), write results to
 * slots[0..nresults).  Return ICX_HOST_OK, ICX_HOST_TRAP (after
 * icxExec_set_trap) or ICX_HOST_SUSPEND (results written; the run pauses
 * right after this call and icxExec_resume continues from there). */
enum { ICX_HOST_OK = 0, ICX_HOST_TRAP = 1, ICX_HOST_SUSPEND = 2 };
typedef int (*icxHostFn)(icxExec *x, void *ud, uint64_t *slots);

/* Standalone objects (the spectest module, test hosts, ...).  NULL on OOM
 * or if the type is out of range. type is copied. */
ICX_INTERNAL icxFuncInst *icxStore_host_func(icxStore *s, const icxFuncType *type, icxHostFn fn,
                                             void *ud);
ICX_INTERNAL icxMemInst *icxStore_memory(icxStore *s, const icxMemType *type);
ICX_INTERNAL icxTableInst *icxStore_table(icxStore *s, const icxTableType *type, uint64_t init);
ICX_INTERNAL icxGlobalInst *icxStore_global(icxStore *s, const icxGlobalType *type, uint64_t v);

/* An external value: one of the four instance kinds. */
typedef struct icxExtern {
  uint8_t kind; /* ICX_EXT_* */
  union {
    icxFuncInst *func;
    icxTableInst *table;
    icxMemInst *mem;
    icxGlobalInst *global;
    void *ptr;
  } u;
} icxExtern;

/* Instantiate c in s with imports[i] for the module's import i (in order).
 * Returns ICX_EUNLINKABLE if an import has the wrong kind or type (message
 * names it), ICX_ENOMEM, or ICX_OK.  With ICX_OK, *out_trap says whether
 * initialisation trapped (segment out of bounds, or the start function
 * trapped): then *out is NULL, but writes already done to imported tables
 * and memories remain, as the spec requires.  x runs the start function. */
ICX_INTERNAL icx_status icxRt_instantiate(icxStore *s, const icxCompiled *c, icxExec *x,
                                          const icxExtern *imports, uint32_t nimports,
                                          icxInstance **out, icxTrap *out_trap, icxErr *err);

/* Look up an export by name; ICX_ENOTFOUND if absent. */
ICX_INTERNAL icx_status icxRt_export(const icxInstance *inst, const char *name, size_t len,
                                     icxExtern *out);

ICX_INTERNAL const icxFuncType *icxFuncInst_type(const icxFuncInst *f);
ICX_INTERNAL uint64_t icxGlobalInst_get(const icxGlobalInst *g);
ICX_INTERNAL const icxGlobalType *icxGlobalInst_type(const icxGlobalInst *g);
ICX_INTERNAL void icxGlobalInst_set(icxGlobalInst *g, uint64_t v);
/* Memory view: base and size in bytes (valid until the next grow). */
ICX_INTERNAL uint8_t *icxMemInst_data(const icxMemInst *m);
ICX_INTERNAL uint64_t icxMemInst_size(const icxMemInst *m);
ICX_INTERNAL uint64_t icxTableInst_size(const icxTableInst *t);
/* The instance's memory 0 (NULL if it has none). */
ICX_INTERNAL icxMemInst *icxInstance_memory(const icxInstance *inst);

/* ---- execution ---------------------------------------------------------- */

ICX_INTERNAL icxExec *icxExec_new(const icxAllocator *a);
ICX_INTERNAL void icxExec_free(icxExec *x);

/* Call f with args (nparams slots).  On ICX_RUN_DONE the results are in
 * icxExec_results(x) (nresults slots).  A suspended run must be resumed
 * (or abandoned with icxExec_reset) before the next call. */
ICX_INTERNAL icxRun icxExec_call(icxExec *x, icxFuncInst *f, const uint64_t *args,
                                 uint32_t nargs);
ICX_INTERNAL icxRun icxExec_resume(icxExec *x);
/* Abandon a suspended run. */
ICX_INTERNAL void icxExec_reset(icxExec *x);
ICX_INTERNAL const uint64_t *icxExec_results(const icxExec *x);
ICX_INTERNAL icxTrap icxExec_trap(const icxExec *x);
ICX_INTERNAL const char *icxExec_trap_msg(const icxExec *x);
/* After ICX_RUN_ERROR: why (ICX_ENOMEM when the host ran out of memory for
 * the execution stack or a memory/table growth; ICX_EMISUSE for a bad
 * call).  Host memory exhaustion is never reported as a trap, since it
 * would differ between hosts; the run is abandoned instead. */
ICX_INTERNAL icx_status icxExec_error(const icxExec *x);

/* Fuel for ICX_COMPILE_METER code: the counter is decremented by each basic
 * block's cost; when it goes negative the run traps (ICX_TRAP_OUT_OF_FUEL)
 * or, if suspend_on_empty is set, suspends so that the host can add fuel and
 * resume.  Fuel is unlimited (INT64_MAX) by default. */
ICX_INTERNAL void icxExec_set_fuel(icxExec *x, int64_t fuel, int suspend_on_empty);
ICX_INTERNAL int64_t icxExec_fuel(const icxExec *x);

/* For host functions: record a trap (ICX_TRAP_HOST) with a message. */
ICX_INTERNAL void icxExec_set_trap(icxExec *x, const char *msg);
/* Host functions for the imports injected by lib/instrument.h ("__"):
 * out_of_instructions () -> () suspends (suspend_on_empty) or traps with
 * ICX_TRAP_OUT_OF_FUEL when the counter is negative; the pass-through
 * try_grow_wasm_memory (I, I) -> I returns the grow result unchanged. */
ICX_INTERNAL int icxExec_host_out_of_instructions(icxExec *x, void *ud, uint64_t *slots);
ICX_INTERNAL int icxExec_host_try_grow_passthrough(icxExec *x, void *ud, uint64_t *slots);

/* For host functions: memory 0 of the instance whose code made the call. */
ICX_INTERNAL icxMemInst *icxExec_caller_memory(const icxExec *x);

#endif
