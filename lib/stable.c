/* stable.c -- stable memory over a page map plus a working set (stable.h). */
#include "stable.h"

#include <stdlib.h>

#define WPAGE 65536ull
#define PG ICX_PAGE_SIZE
#define F_ACCESSED 1u
#define F_WRITTEN 2u

/* A working-set slot: page+1 (0 = empty), its private copy once written. */
typedef struct Slot {
  uint64_t key;
  uint8_t *buf;
  uint32_t flags;
} Slot;

struct icxStable {
  icxAllocator alloc;
  icxPmCtx *ctx;
  icxPageMap *map;   /* committed */
  uint64_t pages;    /* current size in Wasm pages */
  uint64_t max_pages;
  uint64_t lim_accessed, lim_written;
  Slot *slots;       /* open addressing, linear probing */
  uint64_t cap, count;
  uint64_t accessed, written;
};

const char *icxStable_message(icxStableRes r) {
  switch (r) {
  case ICX_STABLE_OK: return "ok";
  case ICX_STABLE_OOB: return "stable memory out of bounds";
  case ICX_STABLE_HEAP_OOB: return "heap out of bounds";
  case ICX_STABLE_TOO_BIG_32: return "32 bit stable memory api used on a memory larger than 4 GiB";
  case ICX_STABLE_ACCESS_LIMIT:
    return "exceeded the limit for the number of accessed pages in the stable memory in a single "
           "execution";
  case ICX_STABLE_WRITE_LIMIT:
    return "exceeded the limit for the number of modified pages in the stable memory in a single "
           "execution";
  case ICX_STABLE_NOMEM: return "out of memory";
  }
  return "unknown";
}

/* ---- working set ------------------------------------------------------------- */

static uint64_t slot_hash(uint64_t key, uint64_t cap) {
  return (key * 0x9E3779B97F4A7C15ull) >> 17 & (cap - 1);
}

static Slot *ws_find(const icxStable *s, uint64_t page) {
  if (!s->cap) return NULL;
  uint64_t key = page + 1;
  for (uint64_t i = slot_hash(key, s->cap);; i = (i + 1) & (s->cap - 1)) {
    if (s->slots[i].key == key) return &s->slots[i];
    if (s->slots[i].key == 0) return NULL;
  }
}

static int ws_grow(icxStable *s) {
  uint64_t ncap = s->cap ? s->cap * 2 : 64;
  Slot *ns = icxCore_allocn(&s->alloc, (size_t)ncap, sizeof(Slot));
  if (!ns) return -1;
  for (uint64_t i = 0; i < s->cap; i++) {
    if (!s->slots[i].key) continue;
    uint64_t j = slot_hash(s->slots[i].key, ncap);
    while (ns[j].key) j = (j + 1) & (ncap - 1);
    ns[j] = s->slots[i];
  }
  if (s->slots) icxCore_free(&s->alloc, s->slots, (size_t)s->cap * sizeof(Slot));
  s->slots = ns;
  s->cap = ncap;
  return 0;
}

/* The slot of page, inserted (flags 0) if absent; NULL on OOM. */
static Slot *ws_get(icxStable *s, uint64_t page) {
  Slot *f = ws_find(s, page);
  if (f) return f;
  if ((s->count + 1) * 2 > s->cap && ws_grow(s)) return NULL;
  uint64_t key = page + 1, i = slot_hash(key, s->cap);
  while (s->slots[i].key) i = (i + 1) & (s->cap - 1);
  s->slots[i].key = key;
  s->count++;
  return &s->slots[i];
}

static void ws_clear(icxStable *s) {
  for (uint64_t i = 0; i < s->cap; i++) {
    if (s->slots[i].buf) icxCore_free(&s->alloc, s->slots[i].buf, PG);
  }
  if (s->cap > 1024) { /* keep clearing proportional to the pages touched */
    icxCore_free(&s->alloc, s->slots, (size_t)s->cap * sizeof(Slot));
    s->slots = NULL;
    s->cap = 0;
  } else if (s->cap) {
    memset(s->slots, 0, (size_t)s->cap * sizeof(Slot));
  }
  s->count = s->accessed = s->written = 0;
}

/* ---- object --------------------------------------------------------------------- */

icx_status icxStable_new(icxPmCtx *ctx, icxPageMap *map, uint64_t max_bytes, icxStable **out,
                         icxErr *err) {
  *out = NULL;
  const icxAllocator *a = icxPm_ctx_allocator(ctx);
  if (!max_bytes) max_bytes = ICX_STABLE_DEFAULT_MAX_BYTES;
  if (max_bytes / PG > ICX_PM_MAX_PAGES)
    return icxErr_set(err, ICX_EINVAL, "stable memory: maximum size too large");
  icxStable *s = icxCore_alloc(a, sizeof *s);
  if (!s) return icxErr_set(err, ICX_ENOMEM, "stable memory: out of memory");
  s->alloc = *a;
  s->ctx = ctx;
  s->max_pages = max_bytes / WPAGE;
  if (!map) {
    s->map = icxPm_new(ctx, 0, err);
    if (!s->map) {
      icxCore_free(a, s, sizeof *s);
      return ICX_ENOMEM;
    }
  } else {
    s->map = icxPm_new(ctx, 0, err); /* placeholder replaced by load */
    icx_status rc = s->map ? icxStable_load(s, map, err) : ICX_ENOMEM;
    if (rc != ICX_OK) {
      icxStable_free(s);
      return rc;
    }
  }
  *out = s;
  return ICX_OK;
}

void icxStable_free(icxStable *s) {
  if (!s) return;
  ws_clear(s);
  if (s->slots) icxCore_free(&s->alloc, s->slots, (size_t)s->cap * sizeof(Slot));
  icxPm_unref(s->map);
  icxAllocator a = s->alloc;
  icxCore_free(&a, s, sizeof *s);
}

void icxStable_set_limits(icxStable *s, uint64_t max_accessed, uint64_t max_written) {
  s->lim_accessed = max_accessed;
  s->lim_written = max_written;
}

uint64_t icxStable64_size(const icxStable *s) { return s->pages; }
uint64_t icxStable_accessed_pages(const icxStable *s) { return s->accessed; }
uint64_t icxStable_written_pages(const icxStable *s) { return s->written; }
icxPageMap *icxStable_map(const icxStable *s) { return s->map; }

uint64_t icxStable64_grow(icxStable *s, uint64_t delta) {
  uint64_t old = s->pages;
  if (delta > s->max_pages || old + delta > s->max_pages) return UINT64_MAX;
  s->pages = old + delta;
  return old;
}

/* ---- read / write ---------------------------------------------------------------- */

/* Count the pages of [off, off+len) new to the accessed (want = F_ACCESSED)
 * or written (F_WRITTEN) set. */
static uint64_t count_new(const icxStable *s, uint64_t off, uint64_t len, uint32_t want) {
  uint64_t n = 0;
  for (uint64_t p = off / PG; p <= (off + len - 1) / PG; p++) {
    const Slot *sl = ws_find(s, p);
    if (!sl || !(sl->flags & want)) n++;
  }
  return n;
}

static icxStableRes check_access(const icxStable *s, uint64_t off, uint64_t len, int write) {
  if (s->lim_accessed && s->accessed + count_new(s, off, len, F_ACCESSED) > s->lim_accessed)
    return ICX_STABLE_ACCESS_LIMIT;
  if (write && s->lim_written && s->written + count_new(s, off, len, F_WRITTEN) > s->lim_written)
    return ICX_STABLE_WRITE_LIMIT;
  return ICX_STABLE_OK;
}

icxStableRes icxStable64_read(icxStable *s, icxMemInst *heap, uint64_t dst, uint64_t off,
                              uint64_t len) {
  /* size 0 returns before any check, as the replica's injected code does
   * (reference checklist 26): no trap even at out-of-bounds addresses */
  if (len == 0) return ICX_STABLE_OK;
  if (off > s->pages * WPAGE || len > s->pages * WPAGE - off) return ICX_STABLE_OOB;
  if (dst > heap->size || len > heap->size - dst) return ICX_STABLE_HEAP_OOB;
  icxStableRes r = check_access(s, off, len, 0);
  if (r) return r;
  icxMemInst_touch(heap, dst, len);
  uint64_t done = 0;
  while (done < len) {
    uint64_t pos = off + done, p = pos / PG, in = pos % PG;
    uint64_t k = PG - in < len - done ? PG - in : len - done;
    Slot *sl = ws_get(s, p);
    if (!sl) return ICX_STABLE_NOMEM;
    if (!(sl->flags & F_ACCESSED)) {
      sl->flags |= F_ACCESSED;
      s->accessed++;
    }
    const uint8_t *src = sl->buf ? sl->buf : icxPm_get(s->map, p);
    if (src) memcpy(heap->data + dst + done, src + in, (size_t)k);
    else memset(heap->data + dst + done, 0, (size_t)k);
    done += k;
  }
  return ICX_STABLE_OK;
}

icxStableRes icxStable64_write(icxStable *s, const icxMemInst *heap, uint64_t off, uint64_t src,
                               uint64_t len, uint64_t *out_new_dirty) {
  if (out_new_dirty) *out_new_dirty = 0;
  if (len == 0) return ICX_STABLE_OK; /* before any check (see icxStable64_read) */
  if (src > heap->size || len > heap->size - src) return ICX_STABLE_HEAP_OOB;
  if (off > s->pages * WPAGE || len > s->pages * WPAGE - off) return ICX_STABLE_OOB;
  icxStableRes r = check_access(s, off, len, 1);
  if (r) return r;
  uint64_t done = 0, fresh = 0;
  while (done < len) {
    uint64_t pos = off + done, p = pos / PG, in = pos % PG;
    uint64_t k = PG - in < len - done ? PG - in : len - done;
    Slot *sl = ws_get(s, p);
    if (!sl) return ICX_STABLE_NOMEM;
    if (!sl->buf) {
      uint8_t *b = icxCore_alloc(&s->alloc, PG);
      if (!b) return ICX_STABLE_NOMEM;
      if (k < PG) {
        const uint8_t *old = icxPm_get(s->map, p);
        if (old) memcpy(b, old, PG);
      }
      sl->buf = b;
    }
    if (!(sl->flags & F_ACCESSED)) {
      sl->flags |= F_ACCESSED;
      s->accessed++;
    }
    if (!(sl->flags & F_WRITTEN)) {
      sl->flags |= F_WRITTEN;
      s->written++;
      fresh++;
    }
    memcpy(sl->buf + in, heap->data + src + done, (size_t)k);
    done += k;
  }
  if (out_new_dirty) *out_new_dirty = fresh;
  return ICX_STABLE_OK;
}

/* ---- 32-bit API ------------------------------------------------------------------- */

icxStableRes icxStable32_size(const icxStable *s, uint32_t *out) {
  *out = 0;
  if (s->pages > ICX_STABLE_MAX32_PAGES) return ICX_STABLE_TOO_BIG_32;
  *out = (uint32_t)s->pages;
  return ICX_STABLE_OK;
}

icxStableRes icxStable32_grow(icxStable *s, uint32_t delta, int32_t *out) {
  *out = -1;
  if (s->pages > ICX_STABLE_MAX32_PAGES) return ICX_STABLE_TOO_BIG_32;
  if (s->pages + delta > ICX_STABLE_MAX32_PAGES) return ICX_STABLE_OK;
  uint64_t old = icxStable64_grow(s, delta);
  if (old != UINT64_MAX) *out = (int32_t)old;
  return ICX_STABLE_OK;
}

icxStableRes icxStable32_read(icxStable *s, icxMemInst *heap, uint32_t dst, uint32_t off,
                              uint32_t len) {
  if (len == 0) return ICX_STABLE_OK; /* even above 4 GiB (see icxStable64_read) */
  if (s->pages > ICX_STABLE_MAX32_PAGES) return ICX_STABLE_TOO_BIG_32;
  return icxStable64_read(s, heap, dst, off, len);
}

icxStableRes icxStable32_write(icxStable *s, const icxMemInst *heap, uint32_t off, uint32_t src,
                               uint32_t len, uint64_t *out_new_dirty) {
  if (out_new_dirty) *out_new_dirty = 0;
  if (len == 0) return ICX_STABLE_OK; /* even above 4 GiB (see icxStable64_read) */
  if (s->pages > ICX_STABLE_MAX32_PAGES) return ICX_STABLE_TOO_BIG_32;
  return icxStable64_write(s, heap, off, src, len, out_new_dirty);
}

/* ---- commit / rollback -------------------------------------------------------------- */

static int cmp_write(const void *a, const void *b) {
  uint64_t x = ((const icxPmWrite *)a)->page, y = ((const icxPmWrite *)b)->page;
  return (x > y) - (x < y);
}

icx_status icxStable_commit(icxStable *s, icxErr *err) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < s->cap; i++) n += s->slots[i].buf != NULL;
  icxPmWrite *w = icxCore_allocn(&s->alloc, (size_t)n + 1, sizeof *w);
  if (!w) return icxErr_set(err, ICX_ENOMEM, "stable commit: out of memory");
  uint64_t k = 0;
  for (uint64_t i = 0; i < s->cap; i++) {
    if (!s->slots[i].buf) continue;
    w[k].page = s->slots[i].key - 1;
    w[k].data = s->slots[i].buf;
    k++;
  }
  qsort(w, (size_t)n, sizeof *w, cmp_write); /* table order never leaks out */
  icxPageMap *nm;
  icx_status rc = icxPm_update_deferred(s->map, w, (size_t)n, s->pages * WPAGE, &nm, err);
  icxCore_free(&s->alloc, w, ((size_t)n + 1) * sizeof *w);
  if (rc != ICX_OK) return rc;
  icxPm_unref(s->map);
  s->map = nm;
  ws_clear(s);
  return ICX_OK;
}

void icxStable_rollback(icxStable *s) {
  ws_clear(s);
  s->pages = icxPm_size(s->map) / WPAGE;
}

icx_status icxStable_load(icxStable *s, icxPageMap *map, icxErr *err) {
  uint64_t size = icxPm_size(map);
  if (size % WPAGE || size / WPAGE > s->max_pages)
    return icxErr_set(err, ICX_EINVAL, "stable memory: size %llu not valid",
                      (unsigned long long)size);
  ws_clear(s);
  icxPm_unref(s->map);
  s->map = icxPm_ref(map);
  s->pages = size / WPAGE;
  return ICX_OK;
}

void icxStable_usage(const icxStable *s, uint64_t *out_logical, uint64_t *out_resident) {
  uint64_t bufs = 0;
  for (uint64_t i = 0; i < s->cap; i++) bufs += s->slots[i].buf != NULL;
  *out_logical = s->pages * WPAGE;
  *out_resident = icxPm_resident_bytes(s->map) + bufs * PG + s->cap * sizeof(Slot);
}
