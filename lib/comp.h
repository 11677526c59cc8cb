/* comp.h -- the compiled-module object and the runtime object layouts shared
 * by the compiler (comp_*.c), the interpreter (exec_*.c) and the runtime
 * (rt.c).  Not part of any public interface. */
#ifndef ICX_COMP_H
#define ICX_COMP_H

#include "comp_ops.h"
#include "core.h"
#include "rt.h"
#include "wasm.h"

/* One compiled function body.
 * Frame layout (64-bit slots from fp): [params][locals][constant pool]
 * [operand stack].  On entry locals are zeroed and the pool is copied in. */
typedef struct icxFuncCode {
  uint32_t *code;       /* instruction words */
  uint32_t ncode;       /* words */
  uint32_t nparams;     /* slots of parameters */
  uint32_t nresults;
  uint32_t nlocals;     /* declared locals (zeroed on entry) */
  uint32_t frame_slots; /* params + locals + pool + max operand stack */
  uint32_t npool;       /* read-only constant slots after the locals */
  uint64_t *pool;
  uint32_t type_idx;
} icxFuncCode;

struct icxCompiled {
  icxAllocator alloc;
  icxModule *m;
  uint32_t flags;            /* ICX_COMPILE_* used */
  icxFuncCode *funcs;        /* one per defined function */
  uint32_t *type_canon;      /* type_canon[i] = least j with types[j] == types[i] */
};

/* Compile every defined function of a validated module into c->funcs. */
ICX_INTERNAL icx_status icxComp_module(icxCompiled *c, const icxCompileOpts *opts, icxErr *err);

/* ---- runtime objects ------------------------------------------------------ */

struct icxFuncInst {
  const icxFuncType *type;   /* the module's (or a host copy's) type */
  icxInstance *inst;         /* owning instance; NULL for host functions */
  const icxCompiled *mod;    /* compiled module (NULL for host) */
  const icxFuncCode *code;   /* compiled body (NULL for host) */
  uint32_t canon_type;       /* canonical type index within mod */
  icxHostFn host;
  void *host_ud;
};

struct icxTableInst {
  icxStore *store; /* owner: its element budget bounds all its tables */
  uint64_t *elems;
  uint64_t size;
  uint64_t max; /* effective maximum (limits and ICX_MAX_TABLE_ELEMS) */
  uint8_t elem_type;
  uint8_t is64;
};

/* Linear memory.  The bytes are one flat, lazily zero-filled mapping (pages
 * never touched cost nothing).  Dirty tracking at 4 KiB granularity
 * (lib/heap.c): every store, bulk write or host write marks the pages it
 * changes, so that a message can be committed into, or rolled back from, the
 * persistent page map in time proportional to the pages it dirtied.
 * Invariant: dirty[p] != 0 iff page p was written since the last commit,
 * rollback or icxMemInst_clear_dirty, and then p appears exactly once in
 * dlist[0..ndirty).  dirty has size/4096 + 1 entries (a pad byte, so that
 * the interpreter may look one page past the end) and dlist has capacity
 * for every page of the current size: marking never allocates. */
#define ICX_OS_PAGE_SHIFT 12
#define ICX_OS_PAGE_SIZE 4096u
struct icxMemInst {
  uint8_t *data;
  uint64_t size;      /* bytes = pages * 65536 */
  uint64_t pages;
  uint64_t max_pages; /* effective maximum */
  uint8_t is64;
  uint8_t *dirty;     /* per 4 KiB page (NULL while size is 0) */
  uint32_t *dlist;    /* dirty page numbers, in first-write order */
  uint64_t ndirty;
};

/* Mark the 4 KiB pages overlapping [off, off+len) dirty (len may be 0: no
 * effect).  The range must lie inside the memory.  Never fails. */
ICX_INTERNAL void icxMemInst_touch(icxMemInst *m, uint64_t off, uint64_t len);

/* Interpreter fast path: mark the page(s) of an n-byte access at ea (n <= 16). */
#if !defined(ICX_TRACK_DIRTY) || ICX_TRACK_DIRTY
#define ICX_MEM_MARK(mi, dmap, ea, n)                                                              \
  do {                                                                                             \
    if (icx_unlikely(!((dmap)[(ea) >> ICX_OS_PAGE_SHIFT] &                                         \
                       (dmap)[((ea) + (n)-1) >> ICX_OS_PAGE_SHIFT])))                              \
      icxMemInst_touch((mi), (ea), (n));                                                           \
  } while (0)
#else
#define ICX_MEM_MARK(mi, dmap, ea, n) ((void)(dmap))
#endif

struct icxGlobalInst {
  uint64_t val;
  icxGlobalType type;
};

struct icxInstance {
  icxStore *store;
  const icxCompiled *c;
  icxFuncInst **funcs;     /* function index space */
  icxTableInst **tables;
  icxMemInst *mem0;        /* NULL if no memory */
  icxGlobalInst **globals; /* global index space */
  uint8_t *data_dropped;   /* per data segment */
  uint64_t **elem_vals;    /* per elem segment: resolved references */
  uint32_t *elem_len;      /* 0 once dropped */
};

/* Results of icxMem_grow / icxTable_grow besides the old size. */
#define ICX_GROW_LIMIT UINT64_MAX      /* over the limits: the op returns -1 */
#define ICX_GROW_OOM (UINT64_MAX - 1)  /* the host is out of memory: abandon */

/* Grow a memory by delta pages; returns old pages or ICX_GROW_*. */
ICX_INTERNAL uint64_t icxMem_grow(icxMemInst *m, const icxAllocator *a, uint64_t delta);
/* Grow a table; returns old size or ICX_GROW_*. */
ICX_INTERNAL uint64_t icxTable_grow(icxTableInst *t, uint64_t delta, uint64_t init);
ICX_INTERNAL const icxAllocator *icxStore_allocator(const icxStore *s);

/* Structural equality of two function types. */
ICX_INTERNAL int icxFuncType_equal(const icxFuncType *x, const icxFuncType *y);

#endif
