/* heap.c -- the flat Wasm heap with 4 KiB dirty tracking, committed into and
 * rolled back from a persistent page map (heap.h, docs/memory.md). */
#define _GNU_SOURCE /* mremap */
#include "heap.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "wasm.h"

#define OS_PAGES_PER_WASM_PAGE (65536u / ICX_OS_PAGE_SIZE)

uint8_t *icxHeap_map(uint64_t bytes) {
  if (bytes == 0 || bytes > (uint64_t)SIZE_MAX) return NULL;
  void *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* The tracking arrays are reserved once for the largest size the memory can
 * reach (untouched parts cost nothing), so marking and growing never have
 * to move them. */
static uint64_t max_os_pages(const icxMemInst *m) { return m->max_pages * OS_PAGES_PER_WASM_PAGE; }
static uint64_t dirty_bytes(const icxMemInst *m) { return max_os_pages(m) + 1; }
static uint64_t dlist_bytes(const icxMemInst *m) { return max_os_pages(m) * 4 + 4; }

static int tracking_init(icxMemInst *m) {
  if (m->dirty) return 0;
  if (max_os_pages(m) > UINT32_MAX) return -1;
  uint8_t *d = icxHeap_map(dirty_bytes(m));
  if (!d) return -1;
  uint8_t *l = icxHeap_map(dlist_bytes(m));
  if (!l) {
    munmap(d, (size_t)dirty_bytes(m));
    return -1;
  }
  m->dirty = d;
  m->dlist = (uint32_t *)(void *)l;
  m->ndirty = 0;
  return 0;
}

void icxHeap_release(icxMemInst *m) {
  if (m->data) munmap(m->data, (size_t)m->size);
  if (m->dirty) munmap(m->dirty, (size_t)dirty_bytes(m));
  if (m->dlist) munmap(m->dlist, (size_t)dlist_bytes(m));
  m->data = NULL;
  m->dirty = NULL;
  m->dlist = NULL;
  m->size = m->pages = m->ndirty = 0;
}

/* Resize the flat mapping to nbytes (a multiple of 65536, <= max).  New
 * bytes read as zero.  -1 on host failure (m unchanged). */
static int set_bytes(icxMemInst *m, uint64_t nbytes) {
  if (nbytes == m->size) return 0;
  if (nbytes > (uint64_t)SIZE_MAX / 2) return -1;
  if (nbytes == 0) {
    if (m->data) munmap(m->data, (size_t)m->size);
    m->data = NULL;
  } else {
    if (tracking_init(m)) return -1;
    uint8_t *p;
    if (!m->data) {
      p = icxHeap_map(nbytes);
    } else {
      void *q = mremap(m->data, (size_t)m->size, (size_t)nbytes, MREMAP_MAYMOVE);
      p = q == MAP_FAILED ? NULL : q;
    }
    if (!p) return -1;
    m->data = p;
  }
  m->size = nbytes;
  m->pages = nbytes / 65536;
  return 0;
}

int icxHeap_init(icxMemInst *m, uint64_t pages) {
  if (pages > m->max_pages) return -1;
  return set_bytes(m, pages * 65536);
}

uint64_t icxMem_grow(icxMemInst *m, const icxAllocator *a, uint64_t delta) {
  (void)a;
  uint64_t old = m->pages;
  if (delta == 0) return old;
  if (delta > m->max_pages || old + delta > m->max_pages) return ICX_GROW_LIMIT;
  if (set_bytes(m, (old + delta) * 65536)) return ICX_GROW_OOM;
  return old;
}

void icxMemInst_touch(icxMemInst *m, uint64_t off, uint64_t len) {
  uint64_t lim = m->size >> ICX_OS_PAGE_SHIFT;
  if (len == 0 || lim == 0 || off >= m->size) return;
  uint64_t end = len > m->size - off ? m->size : off + len; /* clamp to the memory */
  uint8_t *d = m->dirty;
  for (uint64_t p = off >> ICX_OS_PAGE_SHIFT; p <= (end - 1) >> ICX_OS_PAGE_SHIFT; p++) {
    if (!d[p]) {
      d[p] = 1;
      m->dlist[m->ndirty++] = (uint32_t)p;
    }
  }
}

void icxHeap_mark_all(icxMemInst *m) {
  if (m->size) icxMemInst_touch(m, 0, m->size);
}

void icxMemInst_clear_dirty(icxMemInst *m) {
  for (uint64_t i = 0; i < m->ndirty; i++) m->dirty[m->dlist[i]] = 0;
  m->ndirty = 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

icx_status icxHeap_commit(icxMemInst *m, const icxPageMap *base, icxPageMap **out, icxErr *err) {
  *out = NULL;
  uint64_t n = m->ndirty;
  if (n == 0 && m->size == icxPm_size(base)) {
    *out = icxPm_ref((icxPageMap *)base);
    return ICX_OK;
  }
  const icxAllocator *a = icxPm_ctx_allocator(icxPm_ctx(base));
  icxPmWrite *w = NULL;
  if (n) {
    w = icxCore_allocn(a, (size_t)n, sizeof *w);
    if (!w) return icxErr_set(err, ICX_ENOMEM, "heap commit: out of memory");
    qsort(m->dlist, (size_t)n, sizeof(uint32_t), cmp_u32);
    for (uint64_t i = 0; i < n; i++) {
      w[i].page = m->dlist[i];
      w[i].data = m->data + ((uint64_t)m->dlist[i] << ICX_OS_PAGE_SHIFT);
    }
  }
  icx_status rc = icxPm_update_deferred(base, w, (size_t)n, m->size, out, err);
  icxCore_free(a, w, (size_t)(n ? n : 1) * sizeof *w);
  if (rc == ICX_OK) icxMemInst_clear_dirty(m);
  return rc;
}

icx_status icxHeap_rollback(icxMemInst *m, const icxPageMap *base, icxErr *err) {
  uint64_t bsize = icxPm_size(base);
  if (set_bytes(m, bsize)) return icxErr_set(err, ICX_ENOMEM, "heap rollback: cannot resize");
  uint64_t lim = m->size >> ICX_OS_PAGE_SHIFT;
  for (uint64_t i = 0; i < m->ndirty; i++) {
    uint64_t p = m->dlist[i];
    m->dirty[p] = 0;
    if (p >= lim) continue;
    const uint8_t *src = icxPm_get(base, p);
    uint8_t *dst = m->data + (p << ICX_OS_PAGE_SHIFT);
    if (src) memcpy(dst, src, ICX_OS_PAGE_SIZE);
    else memset(dst, 0, ICX_OS_PAGE_SIZE);
  }
  m->ndirty = 0;
  return ICX_OK;
}

typedef struct LoadCtx {
  icxMemInst *m;
} LoadCtx;

static int load_page(void *ud, uint64_t page, const uint8_t *data) {
  icxMemInst *m = ((LoadCtx *)ud)->m;
  if (page >= (m->size >> ICX_OS_PAGE_SHIFT)) return 1;
  memcpy(m->data + (page << ICX_OS_PAGE_SHIFT), data, ICX_OS_PAGE_SIZE);
  return 0;
}

icx_status icxHeap_load(icxMemInst *m, const icxPageMap *map, icxErr *err) {
  uint64_t size = icxPm_size(map);
  if (size % 65536 || size / 65536 > m->max_pages)
    return icxErr_set(err, ICX_EINVAL, "heap load: size %llu is not a valid memory size",
                      (unsigned long long)size);
  icxMemInst_clear_dirty(m);
  /* a fresh mapping: every page not in the map reads as zero */
  uint64_t old = m->size;
  if (set_bytes(m, 0) || set_bytes(m, size)) {
    if (set_bytes(m, old) == 0 && m->size) memset(m->data, 0, (size_t)m->size);
    return icxErr_set(err, ICX_ENOMEM, "heap load: cannot map %llu bytes",
                      (unsigned long long)size);
  }
  LoadCtx lc = {m};
  if (icxPm_foreach(map, load_page, &lc))
    return icxErr_set(err, ICX_EINVAL, "heap load: page map has pages beyond its size");
  return ICX_OK;
}

static uint64_t resident(const void *p, uint64_t bytes) {
  if (!p || !bytes) return 0;
  unsigned char vec[4096];
  uint64_t total = 0, pages = (bytes + ICX_OS_PAGE_SIZE - 1) >> ICX_OS_PAGE_SHIFT;
  for (uint64_t i = 0; i < pages; i += sizeof vec) {
    uint64_t k = pages - i < sizeof vec ? pages - i : sizeof vec;
    if (mincore((uint8_t *)(uintptr_t)p + (i << ICX_OS_PAGE_SHIFT), (size_t)k << ICX_OS_PAGE_SHIFT,
                vec))
      return total;
    for (uint64_t j = 0; j < k; j++) total += vec[j] & 1;
  }
  return total << ICX_OS_PAGE_SHIFT;
}

void icxHeap_usage(const icxMemInst *m, icxMemUsage *out) {
  out->logical = m->size;
  out->resident = resident(m->data, m->size);
  out->tracking = m->dirty ? resident(m->dirty, dirty_bytes(m)) + resident(m->dlist, dlist_bytes(m))
                           : 0;
  out->dirty = m->ndirty << ICX_OS_PAGE_SHIFT;
}

/* ---- globals ---------------------------------------------------------------- */

icx_status icxGlobals_save(const icxInstance *inst, const icxAllocator *a, icxGlobalSave *s,
                           icxErr *err) {
  uint32_t n = inst->c->m->nglobals_total;
  if (s->n != n || !s->vals) {
    icxGlobals_free(a, s);
    s->vals = icxCore_allocn(a, (size_t)n + 1, sizeof(uint64_t));
    if (!s->vals) return icxErr_set(err, ICX_ENOMEM, "globals save: out of memory");
    s->n = n;
  }
  for (uint32_t i = 0; i < n; i++) s->vals[i] = inst->globals[i]->val;
  return ICX_OK;
}

void icxGlobals_restore(icxInstance *inst, const icxGlobalSave *s) {
  for (uint32_t i = 0; i < s->n; i++) {
    icxGlobalInst *g = inst->globals[i];
    if (g->type.mut) g->val = s->vals[i];
  }
}

void icxGlobals_free(const icxAllocator *a, icxGlobalSave *s) {
  if (s->vals) icxCore_free(a, s->vals, ((size_t)s->n + 1) * sizeof(uint64_t));
  s->vals = NULL;
  s->n = 0;
}
