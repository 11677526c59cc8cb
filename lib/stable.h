/* stable.h -- IC stable memory: sparse, 64-bit addressed, over a persistent
 * page map plus a per-message working set of pages (docs/memory.md).
 *
 * Sizes are in 64 KiB Wasm pages; dirty tracking is per 4 KiB page.  The
 * committed state is a page map whose size is the stable size in bytes; a
 * message reads through its working set to the map, and writes go to
 * private copies of the pages in the working set (a hash table keyed by
 * page number, emptied at commit or rollback; commit sorts the pages, so
 * nothing depends on table order).  Reading hundreds of GiB of never written
 * stable memory costs nothing but the copies into the heap.
 *
 * Semantics follow ic0 (reference section 2.3): the 32-bit calls trap when
 * the stable memory is larger than 4 GiB; grow returns -1 past the maximum
 * size (default 500 GiB); read checks stable bounds then heap bounds, write
 * checks heap bounds then stable bounds; nothing is copied when a call
 * traps.  A read or write of size 0 succeeds before any check (any
 * address, also the 32-bit forms above 4 GiB), as the replica's injected
 * code returns early when size = 0.  Per-transaction counters give the pages accessed, the pages
 * written and, per write call, the pages newly dirtied (the runtime charges
 * 1000 instructions for each).  Optional limits on accessed/written pages
 * make a call trap before it copies anything.
 *
 * Threading: one thread at a time.  The committed map may be shared
 * (icxPm_ref) with any number of readers. */
#ifndef ICX_STABLE_H
#define ICX_STABLE_H

#include "comp.h"
#include "pagemap.h"

#define ICX_STABLE_DEFAULT_MAX_BYTES (500ull << 30) /* 500 GiB */
#define ICX_STABLE_MAX32_PAGES 65536u              /* 4 GiB for the 32-bit API */

/* Outcome of a stable-memory call. */
typedef enum icxStableRes {
  ICX_STABLE_OK = 0,
  ICX_STABLE_OOB = 1,          /* "stable memory out of bounds" */
  ICX_STABLE_HEAP_OOB = 2,     /* "heap out of bounds" */
  ICX_STABLE_TOO_BIG_32 = 3,   /* 32-bit call on a stable memory above 4 GiB */
  ICX_STABLE_ACCESS_LIMIT = 4, /* accessed-pages limit of the execution */
  ICX_STABLE_WRITE_LIMIT = 5,  /* written-pages limit of the execution */
  ICX_STABLE_NOMEM = 6         /* host out of memory: an API error, not a trap */
} icxStableRes;

ICX_INTERNAL const char *icxStable_message(icxStableRes r);

typedef struct icxStable icxStable;

/* A stable memory whose committed state is map (a reference is taken; size
 * must be a multiple of 65536) or empty when map is NULL; max_bytes 0 means
 * the default.  ICX_EINVAL, ICX_ENOMEM. */
ICX_INTERNAL icx_status icxStable_new(icxPmCtx *ctx, icxPageMap *map, uint64_t max_bytes,
                                      icxStable **out, icxErr *err);
ICX_INTERNAL void icxStable_free(icxStable *s);

/* Per-transaction limits in 4 KiB pages (0: none). */
ICX_INTERNAL void icxStable_set_limits(icxStable *s, uint64_t max_accessed, uint64_t max_written);

/* ic0.stable64_size: current size in Wasm pages. */
ICX_INTERNAL uint64_t icxStable64_size(const icxStable *s);
/* ic0.stable64_grow: old size, or UINT64_MAX (-1) past the maximum. */
ICX_INTERNAL uint64_t icxStable64_grow(icxStable *s, uint64_t delta);
/* ic0.stable64_read: stable[off..off+len) -> heap[dst..) (heap pages marked
 * dirty). */
ICX_INTERNAL icxStableRes icxStable64_read(icxStable *s, icxMemInst *heap, uint64_t dst,
                                           uint64_t off, uint64_t len);
/* ic0.stable64_write: heap[src..src+len) -> stable[off..).  *out_new_dirty
 * (may be NULL) = 4 KiB stable pages this call dirtied for the first time
 * in the transaction. */
ICX_INTERNAL icxStableRes icxStable64_write(icxStable *s, const icxMemInst *heap, uint64_t off,
                                            uint64_t src, uint64_t len, uint64_t *out_new_dirty);
/* The 32-bit API: the same, but ICX_STABLE_TOO_BIG_32 when the size is above
 * 65536 pages; grow gives -1 when the result would be. */
ICX_INTERNAL icxStableRes icxStable32_size(const icxStable *s, uint32_t *out);
ICX_INTERNAL icxStableRes icxStable32_grow(icxStable *s, uint32_t delta, int32_t *out);
ICX_INTERNAL icxStableRes icxStable32_read(icxStable *s, icxMemInst *heap, uint32_t dst,
                                           uint32_t off, uint32_t len);
ICX_INTERNAL icxStableRes icxStable32_write(icxStable *s, const icxMemInst *heap, uint32_t off,
                                            uint32_t src, uint32_t len, uint64_t *out_new_dirty);

/* Pages (4 KiB) accessed / written in the current transaction. */
ICX_INTERNAL uint64_t icxStable_accessed_pages(const icxStable *s);
ICX_INTERNAL uint64_t icxStable_written_pages(const icxStable *s);

/* Make the transaction's writes and growth the committed state (a new map;
 * the old one is released by s, snapshots keep theirs).  ICX_ENOMEM leaves
 * the transaction open. */
ICX_INTERNAL icx_status icxStable_commit(icxStable *s, icxErr *err);
/* Drop the transaction's writes and growth.  O(pages touched). */
ICX_INTERNAL void icxStable_rollback(icxStable *s);
/* The committed map (borrowed; icxPm_ref it to keep a snapshot). */
ICX_INTERNAL icxPageMap *icxStable_map(const icxStable *s);
/* Replace the committed state by map (reference taken; size a multiple of
 * 65536 and <= the maximum); the transaction is dropped.  ICX_EINVAL. */
ICX_INTERNAL icx_status icxStable_load(icxStable *s, icxPageMap *map, icxErr *err);

/* Accounting: logical bytes (size the IC charges) and resident bytes
 * (committed pages + working copies). */
ICX_INTERNAL void icxStable_usage(const icxStable *s, uint64_t *out_logical,
                                  uint64_t *out_resident);

#endif
