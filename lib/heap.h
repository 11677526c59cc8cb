/* heap.h -- the live Wasm heap (icxMemInst, a flat lazily-zero mapping with
 * 4 KiB dirty tracking) against its persistent page map: commit, rollback,
 * load, accounting; and the save/restore of an instance's globals.
 *
 * Invariant between messages: the flat bytes of m equal the committed map
 * `base` everywhere except on the pages listed in m->dlist, and m->size
 * equals icxPm_size(base) unless the message grew the memory.  So a commit
 * or rollback only visits the dirty pages.
 *
 * Threading: an icxMemInst is used by one thread at a time (its store's). */
#ifndef ICX_HEAP_H
#define ICX_HEAP_H

#include "comp.h"
#include "pagemap.h"

/* Map `bytes` (> 0) of lazily zero-filled memory; NULL on failure. */
ICX_INTERNAL uint8_t *icxHeap_map(uint64_t bytes);
/* Give a fresh memory (data NULL, size 0, max_pages set) `pages` Wasm pages
 * and its dirty-tracking arrays.  0 on success, -1 if the host is out of
 * memory. */
ICX_INTERNAL int icxHeap_init(icxMemInst *m, uint64_t pages);
/* Unmap the bytes and the tracking arrays (the struct itself stays). */
ICX_INTERNAL void icxHeap_release(icxMemInst *m);

/* Mark every page of the current size dirty (after bytes were written
 * without marking, e.g. data segments at instantiation).  O(size/4096). */
ICX_INTERNAL void icxHeap_mark_all(icxMemInst *m);
/* Forget the dirty set without committing. */
ICX_INTERNAL void icxMemInst_clear_dirty(icxMemInst *m);

/* New map = base + the dirty pages of m, with size m->size; clears the dirty
 * set.  O(dirty pages); a dirty page equal to base's is shared.  On error
 * (ICX_ENOMEM) m and base are unchanged and *out is NULL. */
ICX_INTERNAL icx_status icxHeap_commit(icxMemInst *m, const icxPageMap *base, icxPageMap **out,
                                       icxErr *err);
/* Undo everything since base was committed: the dirty pages get base's
 * bytes back (zeros when absent) and the size shrinks back to
 * icxPm_size(base).  O(dirty pages).  Never fails when the size did not
 * change; ICX_ENOMEM if the mapping cannot be resized (m still usable, dirty
 * set kept so the rollback can be retried). */
ICX_INTERNAL icx_status icxHeap_rollback(icxMemInst *m, const icxPageMap *base, icxErr *err);
/* Rebuild m (any size) from map: size = icxPm_size(map) (a multiple of
 * 65536, at most max_pages), bytes = the map's pages, clean.
 * O(pages present).  ICX_EINVAL (bad size: m unchanged), ICX_ENOMEM (m is
 * left clean and all zero, at its old size if that could be mapped). */
ICX_INTERNAL icx_status icxHeap_load(icxMemInst *m, const icxPageMap *map, icxErr *err);

/* Memory accounting of one heap. */
typedef struct icxMemUsage {
  uint64_t logical;  /* bytes the IC charges: Wasm pages * 65536 */
  uint64_t resident; /* bytes of the flat mapping actually backed by RAM */
  uint64_t tracking; /* resident bytes of the dirty arrays */
  uint64_t dirty;    /* dirty pages * 4096 */
} icxMemUsage;
ICX_INTERNAL void icxHeap_usage(const icxMemInst *m, icxMemUsage *out);

/* Mutable globals of an instance, saved for rollback. */
typedef struct icxGlobalSave {
  uint64_t *vals;
  uint32_t n;
} icxGlobalSave;
/* Save the values of every global of inst (reuses s's buffer). */
ICX_INTERNAL icx_status icxGlobals_save(const icxInstance *inst, const icxAllocator *a,
                                        icxGlobalSave *s, icxErr *err);
/* Restore the mutable globals saved by icxGlobals_save. */
ICX_INTERNAL void icxGlobals_restore(icxInstance *inst, const icxGlobalSave *s);
ICX_INTERNAL void icxGlobals_free(const icxAllocator *a, icxGlobalSave *s);

#endif
