/* unit_heap.c -- white-box tests of lib/heap.c (dirty tracking, commit,
 * rollback incl. memory.grow, load, accounting, globals) and lib/stable.c
 * (ic0 stable semantics, sparse addressing, working set, counters, limits),
 * with a long randomized run of a canister-like transaction loop against a
 * flat-array model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "heap.h"
#include "stable.h"
#include "wasm.h"

typedef struct Count {
  long long live;
} Count;
static void *count_fn(void *ud, void *p, size_t o, size_t n) {
  Count *c = ud;
  c->live += (long long)n - (long long)o;
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

typedef struct Env {
  Count cnt;
  icxAllocator A;
  icxStore *store;
  icxPmCtx *ctx;
} Env;

static void env_init(Env *e) {
  e->cnt.live = 0;
  e->A.fn = count_fn;
  e->A.ud = &e->cnt;
  e->store = icxStore_new(&e->A);
  e->ctx = icxPm_ctx_new(&e->A);
}
static void env_done(Env *e) {
  icxStore_free(e->store);
  assert_int_equal(icxPm_ctx_bytes(e->ctx), 0);
  icxPm_ctx_free(e->ctx);
  assert_int_equal(e->cnt.live, 0);
}
static icxMemInst *new_mem(Env *e, uint64_t min, uint64_t max) {
  icxMemType t;
  memset(&t, 0, sizeof t);
  t.lim.min = min;
  t.lim.max = max;
  t.lim.has_max = 1;
  icxMemInst *m = icxStore_memory(e->store, &t);
  assert_non_null(m);
  return m;
}
static void wr(icxMemInst *m, uint64_t off, const void *p, uint64_t n) {
  memcpy(m->data + off, p, n);
  icxMemInst_touch(m, off, n);
}

static void test_touch_and_mark_macro(void **st) {
  (void)st;
  Env e;
  env_init(&e);
  icxMemInst *m = new_mem(&e, 1, 4);
  assert_non_null(m->dirty);
  assert_int_equal(m->ndirty, 0);
  icxMemInst_touch(m, 4095, 2); /* straddles pages 0 and 1 */
  assert_int_equal(m->ndirty, 2);
  icxMemInst_touch(m, 0, 4096);
  assert_int_equal(m->ndirty, 2);
  ICX_MEM_MARK(m, m->dirty, (uint64_t)8192, 8);
  assert_int_equal(m->ndirty, 3);
  assert_int_equal(m->dlist[2], 2);
  ICX_MEM_MARK(m, m->dirty, (uint64_t)8190, 4); /* both marked: no call */
  assert_int_equal(m->ndirty, 3);
  icxMemInst_touch(m, 65530, 100); /* clamped at the end */
  assert_int_equal(m->ndirty, 4);
  assert_int_equal(m->dirty[16], 0); /* the pad byte */
  icxMemInst_touch(m, 0, 0);
  assert_int_equal(m->ndirty, 4);
  /* grow: the arrays cover every page of the new size */
  assert_int_equal(icxMem_grow(m, &e.A, 3), 1);
  assert_int_equal(icxMem_grow(m, &e.A, 1), ICX_GROW_LIMIT);
  icxHeap_mark_all(m);
  assert_int_equal(m->ndirty, 64);
  icxMemInst_clear_dirty(m);
  assert_int_equal(m->ndirty, 0);
  for (int i = 0; i < 65; i++) assert_int_equal(m->dirty[i], 0);
  /* a memory of size 0 has no arrays until it grows */
  icxMemInst *z = new_mem(&e, 0, 2);
  assert_null(z->dirty);
  assert_int_equal(icxMem_grow(z, &e.A, 1), 0);
  assert_non_null(z->dirty);
  env_done(&e);
}

static void test_commit_rollback_grow(void **st) {
  (void)st;
  Env e;
  env_init(&e);
  icxErr err;
  icxMemInst *m = new_mem(&e, 1, 10);
  icxPageMap *base = icxPm_new(e.ctx, 65536, &err), *c1;
  wr(m, 100, "hello", 5);
  wr(m, 5000, "world", 5);
  assert_int_equal(icxHeap_commit(m, base, &c1, &err), ICX_OK);
  assert_int_equal(m->ndirty, 0);
  assert_int_equal(icxPm_npages(c1), 2);
  assert_memory_equal(icxPm_get(c1, 0) + 100, "hello", 5);
  /* a message writes, grows, writes in the new pages, then traps */
  wr(m, 100, "HELLO", 5);
  assert_int_equal(icxMem_grow(m, &e.A, 2), 1);
  wr(m, 65536 * 2 + 7, "new", 3);
  assert_int_equal(icxHeap_rollback(m, c1, &err), ICX_OK);
  assert_int_equal(m->pages, 1);
  assert_int_equal(m->size, 65536);
  assert_memory_equal(m->data + 100, "hello", 5);
  assert_int_equal(m->ndirty, 0);
  /* growing again gives zero pages, not the rolled-back bytes */
  assert_int_equal(icxMem_grow(m, &e.A, 2), 1);
  assert_int_equal(m->data[65536 * 2 + 7], 0);
  icxPageMap *c2;
  assert_int_equal(icxHeap_commit(m, c1, &c2, &err), ICX_OK);
  assert_int_equal(icxPm_size(c2), 3 * 65536);
  assert_int_equal(icxPm_npages(c2), 2);
  /* commit with nothing dirty and the same size: the same map */
  icxPageMap *c3;
  assert_int_equal(icxHeap_commit(m, c2, &c3, &err), ICX_OK);
  assert_ptr_equal(c3, c2);
  icxPm_unref(c3);
  /* writing the committed content again is shared, not copied */
  wr(m, 100, "hello", 5);
  assert_int_equal(icxHeap_commit(m, c2, &c3, &err), ICX_OK);
  assert_ptr_equal(icxPm_get(c3, 0), icxPm_get(c2, 0));
  /* load into a fresh memory */
  icxMemInst *m2 = new_mem(&e, 0, 10);
  assert_int_equal(icxHeap_load(m2, c3, &err), ICX_OK);
  assert_int_equal(m2->size, 3 * 65536);
  assert_memory_equal(m2->data, m->data, 3 * 65536);
  icxPageMap *bad = NULL;
  assert_int_equal(icxPm_update(c3, NULL, 0, 11 * 65536, &bad, &err), ICX_OK);
  assert_int_equal(icxHeap_load(m2, bad, &err), ICX_EINVAL);
  icxPm_unref(bad);
  /* accounting */
  icxMemUsage u;
  icxHeap_usage(m, &u);
  assert_int_equal(u.logical, 3 * 65536);
  assert_true(u.resident >= 4096 && u.resident <= 3 * 65536);
  icxPm_unref(base);
  icxPm_unref(c1);
  icxPm_unref(c2);
  icxPm_unref(c3);
  env_done(&e);
}

static void test_rollback_cost_independent_of_size(void **st) {
  (void)st;
  Env e;
  env_init(&e);
  icxErr err;
  /* a 4 GiB heap: one dirty page, rollback touches only that page */
  icxMemInst *m = new_mem(&e, 65536, 65536);
  icxPageMap *base = icxPm_new(e.ctx, (uint64_t)65536 * 65536, &err);
  wr(m, 3ull << 30, "x", 1);
  assert_int_equal(m->ndirty, 1);
  assert_int_equal(icxHeap_rollback(m, base, &err), ICX_OK);
  assert_int_equal(m->data[3ull << 30], 0);
  icxMemUsage u;
  icxHeap_usage(m, &u);
  assert_true(u.resident <= 1 << 20); /* untouched pages cost nothing */
  icxPm_unref(base);
  env_done(&e);
}

static void test_globals_save_restore(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxModule mod;
  memset(&mod, 0, sizeof mod);
  mod.nglobals_total = 3;
  icxCompiled comp;
  memset(&comp, 0, sizeof comp);
  comp.m = &mod;
  icxGlobalInst g[3];
  icxGlobalInst *gp[3] = {&g[0], &g[1], &g[2]};
  memset(g, 0, sizeof g);
  g[0].type.mut = 1;
  g[1].type.mut = 0;
  g[2].type.mut = 1;
  g[0].val = 10;
  g[1].val = 20;
  g[2].val = 30;
  icxInstance inst;
  memset(&inst, 0, sizeof inst);
  inst.c = &comp;
  inst.globals = gp;
  icxGlobalSave s = {0};
  icxErr err;
  assert_int_equal(icxGlobals_save(&inst, &A, &s, &err), ICX_OK);
  g[0].val = 11;
  g[2].val = 33;
  icxGlobals_restore(&inst, &s);
  assert_int_equal(g[0].val, 10);
  assert_int_equal(g[1].val, 20);
  assert_int_equal(g[2].val, 30);
  assert_int_equal(icxGlobals_save(&inst, &A, &s, &err), ICX_OK); /* reuses */
  icxGlobals_free(&A, &s);
  assert_int_equal(cnt.live, 0);
}

/* ---- stable memory ---------------------------------------------------------- */

static void test_stable_semantics(void **st) {
  (void)st;
  Env e;
  env_init(&e);
  icxErr err;
  icxMemInst *h = new_mem(&e, 1, 1);
  icxStable *s;
  assert_int_equal(icxStable_new(e.ctx, NULL, 0, &s, &err), ICX_OK);
  assert_int_equal(icxStable64_size(s), 0);
  /* reads/writes of size 0 at offset 0 are fine even when empty */
  assert_int_equal(icxStable64_read(s, h, 0, 0, 0), ICX_STABLE_OK);
  assert_int_equal(icxStable64_read(s, h, 0, 0, 1), ICX_STABLE_OOB);
  /* size 0 succeeds at any address, stable or heap out of bounds
   * (reference checklist 26: the replica returns early when size = 0) */
  assert_int_equal(icxStable64_read(s, h, 0, 1ull << 40, 0), ICX_STABLE_OK);
  assert_int_equal(icxStable64_read(s, h, UINT64_MAX, UINT64_MAX, 0), ICX_STABLE_OK);
  assert_int_equal(icxStable64_write(s, h, 1ull << 40, 0, 0, NULL), ICX_STABLE_OK);
  assert_int_equal(icxStable64_write(s, h, UINT64_MAX, UINT64_MAX, 0, NULL), ICX_STABLE_OK);
  assert_int_equal(icxStable32_read(s, h, UINT32_MAX, UINT32_MAX, 0), ICX_STABLE_OK);
  assert_int_equal(icxStable32_write(s, h, UINT32_MAX, UINT32_MAX, 0, NULL), ICX_STABLE_OK);
  assert_int_equal(icxStable_accessed_pages(s), 0);
  assert_int_equal(icxStable_written_pages(s), 0);
  assert_int_equal(icxStable64_grow(s, 1), 0);
  assert_int_equal(icxStable64_size(s), 1);
  /* never written reads as zero */
  memset(h->data, 0xAA, 100);
  assert_int_equal(icxStable64_read(s, h, 0, 65000, 100), ICX_STABLE_OK);
  for (int i = 0; i < 100; i++) assert_int_equal(h->data[i], 0);
  /* bounds: stable first on read, heap first on write */
  assert_int_equal(icxStable64_read(s, h, 65536, 0, 1), ICX_STABLE_HEAP_OOB);
  assert_int_equal(icxStable64_read(s, h, 65536, 65536, 1), ICX_STABLE_OOB);
  assert_int_equal(icxStable64_write(s, h, 65536, 65536, 1, NULL), ICX_STABLE_HEAP_OOB);
  assert_int_equal(icxStable64_write(s, h, 65536, 0, 1, NULL), ICX_STABLE_OOB);
  assert_int_equal(icxStable64_write(s, h, UINT64_MAX, 0, 2, NULL), ICX_STABLE_OOB);
  assert_int_equal(icxStable64_read(s, h, 0, UINT64_MAX, 2), ICX_STABLE_OOB);
  /* write across a page boundary: 2 new dirty pages, then 0 */
  memcpy(h->data, "abcdefgh", 8);
  uint64_t nd;
  assert_int_equal(icxStable64_write(s, h, 4092, 0, 8, &nd), ICX_STABLE_OK);
  assert_int_equal(nd, 2);
  assert_int_equal(icxStable64_write(s, h, 4090, 0, 4, &nd), ICX_STABLE_OK);
  assert_int_equal(nd, 0);
  assert_int_equal(icxStable_written_pages(s), 2);
  h->ndirty = 0;
  memset(h->dirty, 0, 17);
  assert_int_equal(icxStable64_read(s, h, 1000, 4090, 10), ICX_STABLE_OK);
  assert_memory_equal(h->data + 1000, "abcdcdefgh", 10);
  assert_int_equal(h->ndirty, 1); /* the heap page written by stable_read is dirty */
  assert_int_equal(icxStable_accessed_pages(s), 3); /* page 15 read earlier */
  /* 32-bit API */
  uint32_t sz;
  int32_t old;
  assert_int_equal(icxStable32_size(s, &sz), ICX_STABLE_OK);
  assert_int_equal(sz, 1);
  assert_int_equal(icxStable32_grow(s, 65535, &old), ICX_STABLE_OK);
  assert_int_equal(old, 1);
  assert_int_equal(icxStable32_grow(s, 1, &old), ICX_STABLE_OK);
  assert_int_equal(old, -1); /* would exceed 4 GiB */
  assert_int_equal(icxStable64_grow(s, 1), 65536);
  assert_int_equal(icxStable32_size(s, &sz), ICX_STABLE_TOO_BIG_32);
  assert_int_equal(icxStable32_grow(s, 0, &old), ICX_STABLE_TOO_BIG_32);
  assert_int_equal(icxStable32_read(s, h, 0, 0, 1), ICX_STABLE_TOO_BIG_32);
  assert_int_equal(icxStable32_write(s, h, 0, 0, 1, NULL), ICX_STABLE_TOO_BIG_32);
  /* size 0 returns before the 4 GiB check too */
  assert_int_equal(icxStable32_read(s, h, 0, 0, 0), ICX_STABLE_OK);
  assert_int_equal(icxStable32_write(s, h, 0, 0, 0, NULL), ICX_STABLE_OK);
  assert_string_equal(icxStable_message(ICX_STABLE_OOB), "stable memory out of bounds");
  /* the maximum (default 500 GiB): grow returns -1 past it */
  assert_int_equal(icxStable64_grow(s, 500ull * 16384 - 65537), 65537);
  assert_int_equal(icxStable64_size(s), 500ull * 16384);
  assert_int_equal(icxStable64_grow(s, 1), UINT64_MAX);
  assert_int_equal(icxStable64_grow(s, UINT64_MAX), UINT64_MAX);
  /* sparse: write near the top of 500 GiB */
  uint64_t top = 500ull << 30;
  assert_int_equal(icxStable64_write(s, h, top - 3, 0, 3, &nd), ICX_STABLE_OK);
  assert_int_equal(nd, 1);
  assert_int_equal(icxStable_commit(s, &err), ICX_OK);
  uint64_t logical, resident;
  icxStable_usage(s, &logical, &resident);
  assert_int_equal(logical, top);
  assert_true(resident < 1 << 20);
  assert_int_equal(icxStable64_read(s, h, 0, top - 3, 3), ICX_STABLE_OK);
  assert_memory_equal(h->data, "abc", 3);
  /* rollback: size and contents */
  icxStable *s2;
  assert_int_equal(icxStable_new(e.ctx, NULL, 1 << 20, &s2, &err), ICX_OK);
  assert_int_equal(icxStable64_grow(s2, 16), 0);
  assert_int_equal(icxStable64_grow(s2, 1), UINT64_MAX); /* configured max: 1 MiB */
  assert_int_equal(icxStable64_write(s2, h, 10, 0, 3, &nd), ICX_STABLE_OK);
  assert_int_equal(icxStable_commit(s2, &err), ICX_OK);
  icxPageMap *snap = icxPm_ref(icxStable_map(s2));
  assert_int_equal(icxStable64_write(s2, h, 10, 3, 3, &nd), ICX_STABLE_OK);
  icxStable_rollback(s2);
  assert_int_equal(icxStable64_size(s2), 16);
  assert_int_equal(icxStable64_read(s2, h, 100, 10, 3), ICX_STABLE_OK);
  assert_memory_equal(h->data + 100, "abc", 3);
  /* limits: a call over the limit traps before copying */
  icxStable_set_limits(s2, 3, 1);
  assert_int_equal(icxStable64_write(s2, h, 0, 0, 4097, &nd), ICX_STABLE_WRITE_LIMIT);
  assert_int_equal(icxStable_written_pages(s2), 0);
  assert_int_equal(icxStable64_write(s2, h, 0, 0, 10, &nd), ICX_STABLE_OK);
  assert_int_equal(icxStable64_read(s2, h, 0, 8192, 12288), ICX_STABLE_ACCESS_LIMIT);
  assert_int_equal(icxStable64_read(s2, h, 0, 8192, 4096), ICX_STABLE_OK);
  icxStable_rollback(s2);
  /* load from a snapshot */
  icxStable *s3;
  assert_int_equal(icxStable_new(e.ctx, snap, 0, &s3, &err), ICX_OK);
  assert_int_equal(icxStable64_size(s3), 16);
  assert_int_equal(icxStable64_read(s3, h, 200, 10, 3), ICX_STABLE_OK);
  assert_memory_equal(h->data + 200, "abc", 3);
  icxStable_free(s3);
  icxPm_unref(snap);
  icxStable_free(s2);
  icxStable_free(s);
  env_done(&e);
}

/* ---- randomized: heap + stable + globals against flat models ------------------ */

#define HMAX 8  /* heap max Wasm pages */
#define SMAX 8  /* stable max Wasm pages */
typedef struct Model {
  uint8_t heap[HMAX * 65536];
  uint64_t hpages;
  uint8_t stab[SMAX * 65536];
  uint64_t spages;
} Model;

static void check_model(icxMemInst *m, icxStable *s, const Model *md) {
  assert_int_equal(m->pages, md->hpages);
  assert_memory_equal(m->data, md->heap, md->hpages * 65536);
  assert_int_equal(icxStable64_size(s), md->spages);
  /* read stable through a scratch heap page by page */
  for (uint64_t off = 0; off < md->spages * 65536; off += 65536) {
    uint8_t *tmp = malloc(65536);
    for (uint64_t p = 0; p < 16; p++) {
      const uint8_t *d = icxPm_get(icxStable_map(s), (off >> 12) + p);
      if (d) memcpy(tmp + p * 4096, d, 4096);
      else memset(tmp + p * 4096, 0, 4096);
    }
    assert_memory_equal(tmp, md->stab + off, 65536);
    free(tmp);
  }
}

static void test_random_transactions(void **st) {
  (void)st;
  Env e;
  env_init(&e);
  icxErr err;
  icxMemInst *m = new_mem(&e, 1, HMAX);
  icxStable *s;
  assert_int_equal(icxStable_new(e.ctx, NULL, SMAX * 65536, &s, &err), ICX_OK);
  icxPageMap *hmap = icxPm_new(e.ctx, 65536, &err);
  Model *cur = calloc(1, sizeof *cur), *com = calloc(1, sizeof *com);
  cur->hpages = com->hpages = 1;
  enum { NSNAP = 4 };
  icxPageMap *snaps[NSNAP] = {0};
  Model *smod[NSNAP];
  for (int i = 0; i < NSNAP; i++) smod[i] = calloc(1, sizeof(Model));
  uint64_t seed = 42;
  uint8_t buf[9000];
  for (int msg = 0; msg < 600; msg++) {
    int nops = (int)(rng_next(&seed) % 12);
    for (int k = 0; k < nops; k++) {
      uint64_t op = rng_next(&seed) % 10;
      if (op < 5) { /* heap write */
        uint64_t len = 1 + rng_next(&seed) % 9000, lim = cur->hpages * 65536;
        if (len > lim) len = lim;
        uint64_t off = rng_next(&seed) % (lim - len + 1);
        for (uint64_t i = 0; i < len; i++) buf[i] = (uint8_t)rng_next(&seed);
        if (rng_next(&seed) % 3 == 0) memset(buf, 0, (size_t)len);
        wr(m, off, buf, len);
        memcpy(cur->heap + off, buf, len);
      } else if (op == 5) { /* memory.grow */
        uint64_t d = rng_next(&seed) % 3;
        uint64_t r = icxMem_grow(m, &e.A, d);
        if (cur->hpages + d <= HMAX) {
          assert_int_equal(r, cur->hpages);
          cur->hpages += d;
        } else {
          assert_int_equal(r, ICX_GROW_LIMIT);
        }
      } else if (op == 6) { /* stable grow */
        uint64_t d = rng_next(&seed) % 3;
        uint64_t r = icxStable64_grow(s, d);
        if (cur->spages + d <= SMAX) {
          assert_int_equal(r, cur->spages);
          cur->spages += d;
        } else {
          assert_int_equal(r, UINT64_MAX);
        }
      } else if (op < 9) { /* stable write from heap */
        uint64_t len = rng_next(&seed) % 9000, off = rng_next(&seed) % (SMAX * 65536 + 1);
        uint64_t src = rng_next(&seed) % (cur->hpages * 65536);
        icxStableRes r = icxStable64_write(s, m, off, src, len, NULL);
        icxStableRes want = len == 0                          ? ICX_STABLE_OK
                            : src + len > cur->hpages * 65536 ? ICX_STABLE_HEAP_OOB
                            : off + len > cur->spages * 65536 ? ICX_STABLE_OOB
                                                              : ICX_STABLE_OK;
        assert_int_equal(r, want);
        if (!want) memcpy(cur->stab + off, cur->heap + src, len);
      } else { /* stable read into heap */
        uint64_t len = rng_next(&seed) % 9000, off = rng_next(&seed) % (SMAX * 65536 + 1);
        uint64_t dst = rng_next(&seed) % (cur->hpages * 65536);
        icxStableRes r = icxStable64_read(s, m, dst, off, len);
        icxStableRes want = len == 0                          ? ICX_STABLE_OK
                            : off + len > cur->spages * 65536 ? ICX_STABLE_OOB
                            : dst + len > cur->hpages * 65536 ? ICX_STABLE_HEAP_OOB
                                                              : ICX_STABLE_OK;
        assert_int_equal(r, want);
        if (!want) memmove(cur->heap + dst, cur->stab + off, len);
      }
    }
    uint64_t fate = rng_next(&seed) % 4;
    if (fate == 0) { /* trap */
      assert_int_equal(icxHeap_rollback(m, hmap, &err), ICX_OK);
      icxStable_rollback(s);
      memcpy(cur, com, sizeof *cur);
    } else {
      icxPageMap *nm;
      assert_int_equal(icxHeap_commit(m, hmap, &nm, &err), ICX_OK);
      icxPm_unref(hmap);
      hmap = nm;
      assert_int_equal(icxStable_commit(s, &err), ICX_OK);
      memcpy(com, cur, sizeof *cur);
    }
    if (msg % 20 == 0) check_model(m, s, cur);
    if (msg % 37 == 0) { /* snapshot both */
      int k = (msg / 37) % NSNAP;
      icxPm_unref(snaps[k]);
      snaps[k] = icxPm_ref(hmap);
      memcpy(smod[k], com, sizeof(Model));
    }
    if (msg % 101 == 100) { /* reload the heap from an old snapshot */
      int k = (int)(rng_next(&seed) % NSNAP);
      if (snaps[k]) {
        assert_int_equal(icxHeap_load(m, snaps[k], &err), ICX_OK);
        icxPm_unref(hmap);
        hmap = icxPm_ref(snaps[k]);
        memcpy(cur->heap, smod[k]->heap, sizeof cur->heap);
        cur->hpages = smod[k]->hpages;
        memcpy(com, cur, sizeof *cur);
        assert_int_equal(m->pages, cur->hpages);
        assert_memory_equal(m->data, cur->heap, cur->hpages * 65536);
      }
    }
  }
  /* every snapshot still holds its content */
  for (int k = 0; k < NSNAP; k++) {
    if (!snaps[k]) continue;
    for (uint64_t p = 0; p < smod[k]->hpages * 16; p++) {
      const uint8_t *d = icxPm_get(snaps[k], p);
      if (d) assert_memory_equal(d, smod[k]->heap + p * 4096, 4096);
      else assert_true(icxPm_is_zero(smod[k]->heap + p * 4096));
    }
    icxPm_unref(snaps[k]);
    free(smod[k]);
  }
  free(cur);
  free(com);
  icxPm_unref(hmap);
  icxStable_free(s);
  env_done(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_touch_and_mark_macro),
      cmocka_unit_test(test_commit_rollback_grow),
      cmocka_unit_test(test_rollback_cost_independent_of_size),
      cmocka_unit_test(test_globals_save_restore),
      cmocka_unit_test(test_stable_semantics),
      cmocka_unit_test(test_random_transactions),
  };
  return cmocka_run_group_tests_name("unit_heap", tests, NULL, NULL);
}
