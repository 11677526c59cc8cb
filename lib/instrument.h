/* instrument.h -- the install-time pass: IC module rules and IC-style
 * instruction counting, Wasm bytes in, instrumented Wasm bytes out.
 *
 * What the pass injects (reference/ic-execution.md section 4.1):
 *   - function imports from module "__" placed FIRST in the function index
 *     space (every original function index shifts by ICX_INSTR_NIMPORTS):
 *       0: out_of_instructions   () -> ()
 *       1: try_grow_wasm_memory  (I, I) -> I      (I = i32, or i64 for memory64)
 *     (both are always imported, in both modes, so the indices are fixed)
 *   - a mutable i64 global, the instruction counter, exported as
 *     "canister counter_instructions" (plus "canister counter_dirty_pages"
 *     and "canister counter_accessed_pages" in canister mode);
 *   - a helper function decr(i64 n) -> i64 (C := C - n saturating at
 *     INT64_MIN; if C < 0 call out_of_instructions; return n);
 *   - per basic block, exactly these sequences (k = the block's static cost
 *     as a signed LEB128 i64.const):
 *       non-reentrant point:  global.get C  i64.const k  i64.sub  global.set C
 *       reentrant point:      the same, then
 *                             global.get C  i64.const 0  i64.lt_s
 *                             if (empty)  call OOI  end
 *     before memory.fill/copy/init, table.fill/copy/init:
 *                             [i64.extend_i32_u if the count is i32]
 *                             call DECR  [i32.wrap_i64 if it was i32]
 *     after memory.grow: local.tee T / memory.grow / local.get T /
 *                        call TRY_GROW   (T a fresh local of the index type)
 * The compiler recognises the two counter sequences and the call to decr
 * (icxCompileOpts.meter_*) and turns them into single internal ops.
 *
 * Deterministic: the output depends only on the input bytes and options. */
#ifndef ICX_INSTRUMENT_H
#define ICX_INSTRUMENT_H

#include "core.h"
#include "wasm.h"

/* Injected function imports, in this order, first in the index space. */
enum { ICX_INSTR_IMP_OOI = 0, ICX_INSTR_IMP_TRY_GROW = 1, ICX_INSTR_NIMPORTS = 2 };

/* Options (bit set). */
#define ICX_INSTR_CANISTER 0x1u /* apply the IC's module rules and canister
                                   rewrites (ic0-only imports, entry-point
                                   names, limits, persistent-global exports,
                                   start -> canister_start, active data
                                   segments taken out); without it only the
                                   counter is injected (any valid module) */
#define ICX_INSTR_PROBE 0x2u    /* testing: also export "__icx_counter_get"
                                   () -> i64 and "__icx_counter_set" (i64) -> ()
                                   so an outside interpreter can read/set C */

typedef struct icxInstrOpts {
  uint32_t flags;    /* ICX_INSTR_* */
  uint32_t features; /* ICX_FEAT_* for decoding */
  int64_t counter_init; /* initial value of the counter global (0 normally) */
} icxInstrOpts;

/* Kinds of canister entry points. */
enum {
  ICX_EP_INIT = 0, ICX_EP_PRE_UPGRADE, ICX_EP_POST_UPGRADE, ICX_EP_INSPECT_MESSAGE,
  ICX_EP_HEARTBEAT, ICX_EP_GLOBAL_TIMER, ICX_EP_ON_LOW_WASM_MEMORY, ICX_EP_UPDATE,
  ICX_EP_QUERY, ICX_EP_COMPOSITE_QUERY, ICX_EP_START /* the start function */
};

typedef struct icxEntryPoint {
  uint8_t kind;      /* ICX_EP_* */
  char *name;        /* method name for UPDATE/QUERY/COMPOSITE_QUERY (NUL-terminated), else NULL */
  uint32_t name_len;
  uint32_t func_idx; /* function index in the INSTRUMENTED module */
} icxEntryPoint;

/* An active data segment taken out of the module (canister mode): the host
 * writes it into the heap at install time. */
typedef struct icxInstrData {
  uint64_t offset;   /* constant offset */
  uint32_t len;
  const uint8_t *bytes; /* points into icxInstrResult.orig (the decompressed original) */
} icxInstrData;

typedef struct icxInstrResult {
  icxAllocator alloc;
  uint8_t *wasm;       /* the instrumented module */
  size_t wasm_len;
  uint8_t *orig;       /* the original module bytes (decompressed) */
  size_t orig_len;
  uint8_t sha256[32];  /* SHA-256 of the bytes as uploaded (before decompression) */
  uint8_t mem64;       /* the module's memory is 64-bit */
  uint8_t has_memory;
  /* Where the injected pieces are, in the instrumented module: */
  uint32_t counter_global; /* global index of C */
  uint32_t decr_func;      /* function index of decr */
  uint32_t ooi_func;       /* = ICX_INSTR_IMP_OOI */
  uint32_t try_grow_func;  /* = ICX_INSTR_IMP_TRY_GROW */
  /* Canister mode: */
  uint32_t nentry;
  icxEntryPoint *entry;    /* sorted by (kind, name) */
  uint32_t ndata;
  icxInstrData *data;      /* active data segments, in module order */
  uint64_t compile_cost;   /* IC compile charge in instructions before the multiplier:
                              instructions (operators, each `end` included) of all
                              instrumented bodies (decr included, probes excluded)
                              + ICX_COST_COMPILE_PER_GLOBAL_INSNS per defined global
                              (injected ones included).  The fee is this times
                              ICX_COST_COMPILE_PER_INSTRUCTION (cost.h). */
  /* Allocation sizes, for icxInstr_free. */
  uint32_t entry_cap, data_cap;
  size_t orig_cap;
} icxInstrResult;

/* Run the pass.  bytes may be gzip-compressed (1f 8b 08).  On success *out
 * is filled (free with icxInstr_free).  Errors: ICX_EMALFORMED / ICX_EINVALID
 * (the module does not decompress, decode or validate), ICX_EREJECTED (valid
 * Wasm that breaks an IC rule or limit: the message names the import,
 * export, section or limit), ICX_ENOMEM.  On error *out is zeroed. */
ICX_INTERNAL icx_status icxInstr_run(const icxAllocator *a, const uint8_t *bytes, size_t len,
                                     const icxInstrOpts *opts, icxInstrResult *out, icxErr *err);
ICX_INTERNAL void icxInstr_free(icxInstrResult *r);

#endif
