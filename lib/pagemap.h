/* pagemap.h -- persistent, immutable, refcounted maps of 4 KiB pages with a
 * cached Merkle hash (the PageMap of docs/memory.md).
 *
 * A map is a fixed-depth 64-way radix tree: six inner levels cover 2^36
 * page numbers (256 TiB); the leaves are immutable 4 KiB page buffers.  An
 * absent child is an all-zero page (or an all-zero subtree), so untouched
 * pages cost nothing.  Every node caches its hash.  Updating produces a new
 * map by path copying: untouched subtrees are shared by both maps (their
 * reference counts go up), so a snapshot is one reference-count increment
 * and the diff of two maps skips shared (or equal-hash) subtrees.
 *
 * Hash (BLAKE2b-256, libb2, no key, personalization P, zero-padded to 16):
 *   page  = B(P="icx.mem.page", 4096 page bytes)
 *   node  = B(P="icx.mem.node", h(child 0) || ... || h(child 63))
 *           where an absent child at level l-1 has the zero hash Z(l-1):
 *           Z(0) = page hash of 4096 zero bytes, Z(l) = node of 64 x Z(l-1)
 *   root  = B(P="icx.mem.root", le64(size in bytes) || h(level-6 node))
 *
 * Threading: a map is immutable once returned; reading, hashing, diffing and
 * icxPm_ref/unref are safe from any number of threads at once (atomic
 * reference counts, no locks) -- for a map made by icxPm_update_deferred
 * only once it is sealed (icxPm_seal, or the first hash request, which
 * seals it): sealing writes the cached hashes of the map's new nodes, so
 * it must happen on one thread, before the map (or a snapshot of it) is
 * hashed or diffed anywhere else.  Reading pages never needs a seal.  An icxPmCtx is immutable after
 * icxPm_ctx_new, except its atomic byte counter and reference count; it
 * must outlive its maps. */
#ifndef ICX_PAGEMAP_H
#define ICX_PAGEMAP_H

#include "core.h"

#define ICX_PAGE_SIZE 4096u
#define ICX_PAGE_SHIFT 12
#define ICX_PM_BITS 6                     /* 64-way nodes */
#define ICX_PM_FANOUT (1u << ICX_PM_BITS)
#define ICX_PM_LEVELS 6                   /* inner levels above the pages */
#define ICX_PM_MAX_PAGES (1ull << (ICX_PM_BITS * ICX_PM_LEVELS))
#define ICX_HASH_BYTES 32

typedef struct icxPmCtx icxPmCtx;
typedef struct icxPageMap icxPageMap;

/* A context: the allocator and the zero-subtree hashes.  NULL on OOM. */
ICX_INTERNAL icxPmCtx *icxPm_ctx_new(const icxAllocator *a);
/* Drop the creator's reference (= icxPm_ctx_unref): the context is freed
 * when no icxPm_ctx_ref reference is left.  Every map made with it must be
 * gone by then.  NULL: no-op. */
ICX_INTERNAL void icxPm_ctx_free(icxPmCtx *ctx);
/* Reference counting (atomic, any thread): a holder of maps of ctx that
 * may outlive the context's creator (a query snapshot) takes a reference.
 * icxPm_ctx_ref returns ctx; icxPm_ctx_unref(NULL) is a no-op. */
ICX_INTERNAL icxPmCtx *icxPm_ctx_ref(icxPmCtx *ctx);
ICX_INTERNAL void icxPm_ctx_unref(icxPmCtx *ctx);
/* Bytes currently held by the pages and nodes of every map of ctx. */
ICX_INTERNAL uint64_t icxPm_ctx_bytes(const icxPmCtx *ctx);
ICX_INTERNAL const icxAllocator *icxPm_ctx_allocator(const icxPmCtx *ctx);

/* A new empty map of logical size `size` bytes.  NULL on OOM (err set). */
ICX_INTERNAL icxPageMap *icxPm_new(icxPmCtx *ctx, uint64_t size, icxErr *err);
/* Take a reference (a snapshot): O(1), any thread.  Returns m. */
ICX_INTERNAL icxPageMap *icxPm_ref(icxPageMap *m);
/* Drop a reference; the last one frees what no other map shares.  NULL: no-op. */
ICX_INTERNAL void icxPm_unref(icxPageMap *m);

ICX_INTERNAL icxPmCtx *icxPm_ctx(const icxPageMap *m);
/* Logical size in bytes (bound into the root hash). */
ICX_INTERNAL uint64_t icxPm_size(const icxPageMap *m);
/* Pages present (non-zero) and bytes held by this map's pages and nodes
 * (pages shared with other maps are counted in each). */
ICX_INTERNAL uint64_t icxPm_npages(const icxPageMap *m);
ICX_INTERNAL uint64_t icxPm_resident_bytes(const icxPageMap *m);
/* The 4096 bytes of page `page`, or NULL if it is all zero (absent). */
ICX_INTERNAL const uint8_t *icxPm_get(const icxPageMap *m, uint64_t page);
/* The root hash (cached; O(1) once sealed; seals the map first). */
ICX_INTERNAL void icxPm_root_hash(const icxPageMap *m, uint8_t out[ICX_HASH_BYTES]);
/* Compute the hashes a deferred update left out (O(new nodes); a no-op on
 * a sealed map).  See "Threading" above. */
ICX_INTERNAL void icxPm_seal(const icxPageMap *m);
ICX_INTERNAL int icxPm_sealed(const icxPageMap *m);
/* The cached hash of page `page` (the zero-page hash when absent; seals). */
ICX_INTERNAL void icxPm_page_hash_at(const icxPageMap *m, uint64_t page,
                                     uint8_t out[ICX_HASH_BYTES]);
/* The leaf hash of 4096 bytes (data NULL: the zero page). */
ICX_INTERNAL void icxPm_page_hash(const uint8_t *data, uint8_t out[ICX_HASH_BYTES]);
/* The same hash computed with libb2 (the reference for the test that
 * checks icxPm_page_hash's libsodium path). */
ICX_INTERNAL void icxPm_page_hash_b2(const uint8_t *data, uint8_t out[ICX_HASH_BYTES]);

/* One page write for icxPm_update: data is 4096 bytes, NULL for zeros. */
typedef struct icxPmWrite {
  uint64_t page;
  const uint8_t *data;
} icxPmWrite;

/* A new map = base with the n writes applied and size new_size.  The writes
 * must be sorted by strictly increasing page, every page below
 * ICX_PM_MAX_PAGES; their data is copied.  A page equal to the base's is
 * shared (not copied, not rehashed); an all-zero page is stored as absent.
 * Hashes of the new nodes are computed here.  O(n log) in time, base is
 * unchanged.  ICX_EINVAL for unsorted/out-of-range writes, ICX_ENOMEM. */
ICX_INTERNAL icx_status icxPm_update(const icxPageMap *base, const icxPmWrite *w, size_t n,
                                     uint64_t new_size, icxPageMap **out, icxErr *err);
/* The same without hashing: the new map is unsealed, its hashes are
 * computed when first needed (icxPm_seal).  A canister's heap and stable
 * memory are committed this way after every message and sealed once, when
 * the state is hashed at the end of the round: a page written by many
 * messages of a round is hashed once, and versions that never reach the
 * end of a round are never hashed at all. */
ICX_INTERNAL icx_status icxPm_update_deferred(const icxPageMap *base, const icxPmWrite *w,
                                              size_t n, uint64_t new_size, icxPageMap **out,
                                              icxErr *err);

/* Visitor: return non-zero to stop (that value is returned). */
typedef int (*icxPmVisit)(void *ud, uint64_t page, const uint8_t *data);
/* Every present page in increasing order. */
ICX_INTERNAL int icxPm_foreach(const icxPageMap *m, icxPmVisit fn, void *ud);
/* Every page whose content differs between a and b, in increasing order;
 * data is b's page (NULL: zero).  Subtrees shared by pointer or with equal
 * cached hashes are skipped: O(pages changed * depth).  a may be NULL
 * (then: every page present in b).  Both maps must use the same ctx. */
ICX_INTERNAL int icxPm_diff(const icxPageMap *a, const icxPageMap *b, icxPmVisit fn, void *ud);

/* Is the 4096-byte page all zero? */
ICX_INTERNAL int icxPm_is_zero(const uint8_t *data);

#endif
