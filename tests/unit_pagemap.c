/* unit_pagemap.c -- white-box tests of lib/pagemap.c: the hash definition
 * (known answers computed independently with Python's hashlib), a long
 * randomized comparison with a flat model across updates and retained
 * snapshots, diff, accounting, leaks, and readers on snapshots in several
 * threads while a writer keeps updating. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "pagemap.h"

/* ---- counting allocator (leak check) ---------------------------------- */
typedef struct Count {
  _Atomic long long live;
} Count;
static void *count_fn(void *ud, void *p, size_t o, size_t n) {
  Count *c = ud;
  atomic_fetch_add(&c->live, (long long)n - (long long)o);
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

static void hexeq(const uint8_t h[32], const char *hex) {
  char buf[65];
  for (int i = 0; i < 32; i++) snprintf(buf + 2 * i, 3, "%02x", h[i]);
  assert_string_equal(buf, hex);
}

static void test_hash_known_answers(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  uint8_t h[32];
  icxPm_page_hash(NULL, h);
  hexeq(h, "f3c88f02e56f2b2da99fb0d077eda552b4fa602e7a314cb3cc349780ecf710da");
  icxErr err;
  icxPageMap *e0 = icxPm_new(ctx, 0, &err), *e1 = icxPm_new(ctx, 65536, &err);
  icxPm_root_hash(e0, h);
  hexeq(h, "eee2f978398b671aedd715a9ebe4e56ede9ddc0cae8b1e209575b69715c01e63");
  icxPm_root_hash(e1, h);
  hexeq(h, "182c0b181f62b0781f2fbb69df92703051db02cc8473611279ef8230df663b18");
  uint8_t page[4096];
  for (int i = 0; i < 4096; i++) page[i] = (uint8_t)i;
  icxPmWrite w = {1, page};
  icxPageMap *m;
  assert_int_equal(icxPm_update(e1, &w, 1, 65536, &m, &err), ICX_OK);
  icxPm_root_hash(m, h);
  hexeq(h, "d2aa7f55a3f3ed53c4381d2d78d615bd33b9b4d6d06eaba10275110b5c4d9cd0");
  /* writing zeros back gives the empty map's hash and frees the page */
  icxPmWrite z = {1, NULL};
  icxPageMap *m2;
  assert_int_equal(icxPm_update(m, &z, 1, 65536, &m2, &err), ICX_OK);
  icxPm_root_hash(m2, h);
  hexeq(h, "182c0b181f62b0781f2fbb69df92703051db02cc8473611279ef8230df663b18");
  assert_int_equal(icxPm_npages(m2), 0);
  assert_int_equal(icxPm_npages(m), 1);
  icxPm_unref(m2);
  /* bad input */
  icxPmWrite bad[2] = {{5, page}, {5, page}};
  assert_int_equal(icxPm_update(m, bad, 2, 65536, &m2, &err), ICX_EINVAL);
  assert_null(m2);
  icxPmWrite far = {ICX_PM_MAX_PAGES, page};
  assert_int_equal(icxPm_update(m, &far, 1, 65536, &m2, &err), ICX_EINVAL);
  assert_null(m2);
  icxPm_unref(m);
  icxPm_unref(e0);
  icxPm_unref(e1);
  assert_int_equal(icxPm_ctx_bytes(ctx), 0);
  icxPm_ctx_free(ctx);
  assert_int_equal(atomic_load(&cnt.live), 0);
}

/* ---- randomized model test ----------------------------------------------- */
#define NPG 512 /* model pages, spread over a sparse page-number space */
static uint64_t model_page_no(unsigned i) { return (uint64_t)i * 977 + (uint64_t)(i / 73) * 40000000ull; }

typedef struct DiffChk {
  const uint8_t *a, *b; /* flat models */
  uint8_t seen[NPG];
  int bad;
} DiffChk;

static int model_index(uint64_t page) {
  for (unsigned i = 0; i < NPG; i++)
    if (model_page_no(i) == page) return (int)i;
  return -1;
}

static int diff_visit(void *ud, uint64_t page, const uint8_t *data) {
  DiffChk *d = ud;
  int i = model_index(page);
  if (i < 0) {
    d->bad = 1;
    return 0;
  }
  d->seen[i] = 1;
  const uint8_t *want = d->b + (size_t)i * 4096;
  uint8_t zero[4096] = {0};
  if (memcmp(data ? data : zero, want, 4096) != 0) d->bad = 1;
  return 0;
}

static void check_map(const icxPageMap *m, const uint8_t *model) {
  for (unsigned i = 0; i < NPG; i++) {
    const uint8_t *p = icxPm_get(m, model_page_no(i));
    const uint8_t *want = model + (size_t)i * 4096;
    if (p) assert_memory_equal(p, want, 4096);
    else assert_true(icxPm_is_zero(want));
  }
}

/* The leaf hash runs on libsodium's BLAKE2b; libb2's must give the same bytes. */
static void test_page_hash_libsodium_equals_libb2(void **st) {
  (void)st;
  static uint8_t page[ICX_PAGE_SIZE];
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int k = 0; k < 200; k++) {
    for (size_t i = 0; i < sizeof page; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      page[i] = k % 3 == 0 ? 0 : (uint8_t)x;
    }
    uint8_t a[ICX_HASH_BYTES], b[ICX_HASH_BYTES];
    icxPm_page_hash(page, a);
    icxPm_page_hash_b2(page, b);
    assert_memory_equal(a, b, ICX_HASH_BYTES);
  }
}

static void test_random_vs_model(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  icxErr err;
  uint64_t seed = 0x1234567;
  uint8_t *model = calloc(NPG, 4096);
  enum { NSNAP = 6 };
  icxPageMap *snap[NSNAP] = {0};
  uint8_t *smodel[NSNAP];
  for (int i = 0; i < NSNAP; i++) smodel[i] = calloc(NPG, 4096);
  icxPageMap *cur = icxPm_new(ctx, 1ull << 40, &err);
  uint8_t *prevmodel = calloc(NPG, 4096);
  for (int round = 0; round < 300; round++) {
    unsigned nw = (unsigned)(rng_next(&seed) % 20);
    icxPmWrite w[20];
    uint8_t *bufs = malloc(20 * 4096);
    unsigned idx[20], k = 0;
    for (unsigned j = 0; j < nw; j++) idx[j] = (unsigned)(rng_next(&seed) % NPG);
    /* sort, unique */
    for (unsigned a = 0; a < nw; a++)
      for (unsigned b = a + 1; b < nw; b++)
        if (idx[b] < idx[a]) {
          unsigned t = idx[a];
          idx[a] = idx[b];
          idx[b] = t;
        }
    for (unsigned j = 0; j < nw; j++) {
      if (k && idx[k - 1] == idx[j]) continue;
      idx[k] = idx[j];
      uint64_t kind = rng_next(&seed) % 4;
      uint8_t *b = bufs + k * 4096;
      if (kind == 0) memset(b, 0, 4096);                                  /* zero */
      else if (kind == 1) memcpy(b, model + (size_t)idx[k] * 4096, 4096); /* same */
      else {
        memcpy(b, model + (size_t)idx[k] * 4096, 4096);
        b[rng_next(&seed) % 4096] = (uint8_t)rng_next(&seed);
      }
      w[k].page = model_page_no(idx[k]);
      w[k].data = kind == 0 && (rng_next(&seed) & 1) ? NULL : b;
      k++;
    }
    /* page numbers are increasing with idx (model_page_no is monotonic) */
    icxPageMap *nm;
    assert_int_equal(icxPm_update(cur, w, k, 1ull << 40, &nm, &err), ICX_OK);
    memcpy(prevmodel, model, (size_t)NPG * 4096);
    for (unsigned j = 0; j < k; j++) {
      if (w[j].data) memcpy(model + (size_t)idx[j] * 4096, w[j].data, 4096);
      else memset(model + (size_t)idx[j] * 4096, 0, 4096);
    }
    /* diff covers every changed page with the new content */
    DiffChk d;
    memset(&d, 0, sizeof d);
    d.a = prevmodel;
    d.b = model;
    icxPm_diff(cur, nm, diff_visit, &d);
    assert_false(d.bad);
    for (unsigned i = 0; i < NPG; i++)
      if (memcmp(prevmodel + (size_t)i * 4096, model + (size_t)i * 4096, 4096)) assert_true(d.seen[i]);
    icxPm_unref(cur);
    cur = nm;
    free(bufs);
    /* old snapshots stay intact */
    if (round % 10 == 0) {
      int s = (round / 10) % NSNAP;
      icxPm_unref(snap[s]);
      snap[s] = icxPm_ref(cur);
      memcpy(smodel[s], model, (size_t)NPG * 4096);
    }
    if (round % 25 == 0) {
      check_map(cur, model);
      for (int s = 0; s < NSNAP; s++)
        if (snap[s]) check_map(snap[s], smodel[s]);
    }
    /* npages is exact */
    uint64_t present = 0;
    for (unsigned i = 0; i < NPG; i++) present += !icxPm_is_zero(model + (size_t)i * 4096);
    assert_int_equal(icxPm_npages(cur), present);
  }
  /* the root hash depends on content only: rebuild the same content fresh */
  icxPmWrite *all = calloc(NPG, sizeof *all);
  for (unsigned i = 0; i < NPG; i++) {
    all[i].page = model_page_no(i);
    all[i].data = model + (size_t)i * 4096;
  }
  icxPageMap *e = icxPm_new(ctx, 1ull << 40, &err), *fresh;
  assert_int_equal(icxPm_update(e, all, NPG, 1ull << 40, &fresh, &err), ICX_OK);
  uint8_t h1[32], h2[32];
  icxPm_root_hash(cur, h1);
  icxPm_root_hash(fresh, h2);
  assert_memory_equal(h1, h2, 32);
  /* the size is bound into the root */
  icxPageMap *other;
  assert_int_equal(icxPm_update(fresh, NULL, 0, (1ull << 40) + 65536, &other, &err), ICX_OK);
  icxPm_root_hash(other, h2);
  assert_memory_not_equal(h1, h2, 32);
  /* page hashes are those of the content */
  for (unsigned i = 0; i < NPG; i += 37) {
    icxPm_page_hash_at(cur, model_page_no(i), h1);
    icxPm_page_hash(icxPm_is_zero(model + (size_t)i * 4096) ? NULL : model + (size_t)i * 4096, h2);
    assert_memory_equal(h1, h2, 32);
  }
  assert_true(icxPm_resident_bytes(cur) >= icxPm_npages(cur) * 4096);
  free(all);
  icxPm_unref(other);
  icxPm_unref(fresh);
  icxPm_unref(e);
  icxPm_unref(cur);
  for (int s = 0; s < NSNAP; s++) {
    icxPm_unref(snap[s]);
    free(smodel[s]);
  }
  free(model);
  free(prevmodel);
  assert_int_equal(icxPm_ctx_bytes(ctx), 0);
  icxPm_ctx_free(ctx);
  assert_int_equal(atomic_load(&cnt.live), 0);
}

/* OOM at every allocation of an update: ENOMEM, base intact, no leak. */
typedef struct Fail {
  long long live;
  int countdown;
} Fail;
static void *fail_fn(void *ud, void *p, size_t o, size_t n) {
  Fail *f = ud;
  if (n > o && f->countdown > 0 && --f->countdown == 0) return NULL;
  f->live += (long long)n - (long long)o;
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

static void test_update_oom_sweep(void **st) {
  (void)st;
  for (int k = 1; k < 200; k++) {
    Fail f = {0, 0};
    icxAllocator A = {fail_fn, &f};
    icxPmCtx *ctx = icxPm_ctx_new(&A);
    icxErr err;
    icxPageMap *e = icxPm_new(ctx, 1 << 30, &err);
    uint8_t pages[8][4096];
    icxPmWrite w[8];
    for (int i = 0; i < 8; i++) {
      memset(pages[i], i + 1, 4096);
      w[i].page = (uint64_t)i * 5000;
      w[i].data = pages[i];
    }
    icxPageMap *m1;
    assert_int_equal(icxPm_update(e, w, 8, 1 << 30, &m1, &err), ICX_OK);
    uint8_t h[32], h2[32];
    icxPm_root_hash(m1, h);
    for (int i = 0; i < 8; i++) pages[i][7] = 99;
    f.countdown = k;
    icxPageMap *m2 = NULL;
    icx_status rc = icxPm_update(m1, w, 8, 1 << 30, &m2, &err);
    int done = rc == ICX_OK;
    if (!done) {
      assert_int_equal(rc, ICX_ENOMEM);
      assert_null(m2);
    }
    icxPm_root_hash(m1, h2);
    assert_memory_equal(h, h2, 32);
    icxPm_unref(m2);
    icxPm_unref(m1);
    icxPm_unref(e);
    icxPm_ctx_free(ctx);
    assert_int_equal(f.live, 0);
    if (done) break;
  }
}

/* ---- threads: readers on snapshots while a writer updates ----------------- */
#define NREADERS 3
#define NVERS 400
typedef struct Shared {
  _Atomic(icxPageMap *) slot[NREADERS];
  _Atomic int done;
  _Atomic long long checked;
  _Atomic int bad;
} Shared;

/* Version v: pages 0..15 hold the byte (v + page) everywhere. */
static void *reader(void *arg) {
  void **a = arg;
  Shared *sh = a[0];
  int id = (int)(intptr_t)a[1];
  for (;;) {
    icxPageMap *m = atomic_exchange(&sh->slot[id], NULL);
    if (!m) {
      if (atomic_load(&sh->done) && !atomic_load(&sh->slot[id])) break;
      continue;
    }
    const uint8_t *p0 = icxPm_get(m, 0);
    uint8_t v = p0 ? p0[0] : 0;
    for (uint64_t p = 0; p < 16; p++) {
      const uint8_t *d = icxPm_get(m, p);
      uint8_t want = (uint8_t)(v + p);
      if (!d ? want != 0 : (d[0] != want || d[4095] != want)) atomic_store(&sh->bad, 1);
    }
    uint8_t h[32];
    icxPm_root_hash(m, h);
    icxPm_unref(m);
    atomic_fetch_add(&sh->checked, 1);
  }
  return NULL;
}

static void test_threads_snapshots(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  icxErr err;
  Shared sh;
  for (int i = 0; i < NREADERS; i++) atomic_init(&sh.slot[i], NULL);
  atomic_init(&sh.done, 0);
  atomic_init(&sh.checked, 0);
  atomic_init(&sh.bad, 0);
  pthread_t th[NREADERS];
  void *args[NREADERS][2];
  for (int i = 0; i < NREADERS; i++) {
    args[i][0] = &sh;
    args[i][1] = (void *)(intptr_t)i;
    assert_int_equal(pthread_create(&th[i], NULL, reader, args[i]), 0);
  }
  icxPageMap *cur = icxPm_new(ctx, 1 << 20, &err);
  static uint8_t pages[16][4096];
  for (int v = 1; v <= NVERS; v++) {
    icxPmWrite w[16];
    for (int p = 0; p < 16; p++) {
      memset(pages[p], (uint8_t)(v + p), 4096);
      w[p].page = (uint64_t)p;
      w[p].data = pages[p];
    }
    icxPageMap *nm;
    assert_int_equal(icxPm_update(cur, w, 16, 1 << 20, &nm, &err), ICX_OK);
    icxPm_unref(cur); /* readers may still hold the old version */
    cur = nm;
    for (int i = 0; i < NREADERS; i++) {
      icxPageMap *old = atomic_exchange(&sh.slot[i], icxPm_ref(cur));
      icxPm_unref(old);
    }
  }
  atomic_store(&sh.done, 1);
  for (int i = 0; i < NREADERS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < NREADERS; i++) icxPm_unref(atomic_exchange(&sh.slot[i], NULL));
  assert_false(atomic_load(&sh.bad));
  assert_true(atomic_load(&sh.checked) > 0);
  icxPm_unref(cur);
  assert_int_equal(icxPm_ctx_bytes(ctx), 0);
  icxPm_ctx_free(ctx);
  assert_int_equal(atomic_load(&cnt.live), 0);
}

/* Deferred updates: a chain of unhashed versions, sealed at the end, has
 * exactly the hashes of the same chain made with eager updates; reading
 * needs no seal; a diff seals; sealing twice changes nothing; an eager
 * update on an unsealed base is correct too. */
static int count_visit(void *ud, uint64_t page, const uint8_t *data) {
  (void)page;
  (void)data;
  (*(int *)ud)++;
  return 0;
}

static void test_deferred_equals_eager(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  icxErr err;
  icxPageMap *e0 = icxPm_new(ctx, 64ull << 20, &err), *d0 = icxPm_ref(e0);
  uint64_t seed = 7;
  static uint8_t pages[16][4096];
  for (int v = 0; v < 60; v++) {
    icxPmWrite w[16];
    size_t n = 1 + rng_next(&seed) % 16;
    uint64_t page = 0;
    for (size_t i = 0; i < n; i++) {
      page += 1 + rng_next(&seed) % 700;
      w[i].page = page;
      w[i].data = (rng_next(&seed) % 5 == 0) ? NULL : pages[i];
      memset(pages[i], (int)(v * 16 + i), 4096);
    }
    icxPageMap *e1, *d1;
    assert_int_equal(icxPm_update(e0, w, n, 64ull << 20, &e1, &err), ICX_OK);
    if (v % 7 == 2) /* now and then an eager update on an unsealed base (not the last) */
      assert_int_equal(icxPm_update(d0, w, n, 64ull << 20, &d1, &err), ICX_OK);
    else
      assert_int_equal(icxPm_update_deferred(d0, w, n, 64ull << 20, &d1, &err), ICX_OK);
    assert_true(icxPm_sealed(e1));
    for (size_t i = 0; i < n; i++) { /* reading needs no seal */
      const uint8_t *a = icxPm_get(e1, w[i].page), *b = icxPm_get(d1, w[i].page);
      assert_true((a == NULL) == (b == NULL));
      if (a) assert_memory_equal(a, b, 4096);
    }
    icxPm_unref(e0);
    icxPm_unref(d0);
    e0 = e1;
    d0 = d1;
  }
  assert_false(icxPm_sealed(d0));
  int nd = 0, ne = 0;
  assert_int_equal(icxPm_diff(NULL, d0, count_visit, &nd), 0); /* seals */
  assert_true(icxPm_sealed(d0));
  assert_int_equal(icxPm_diff(NULL, e0, count_visit, &ne), 0);
  assert_int_equal(nd, ne);
  uint8_t h1[32], h2[32], h3[32];
  icxPm_root_hash(e0, h1);
  icxPm_root_hash(d0, h2);
  icxPm_seal(d0);
  icxPm_root_hash(d0, h3);
  assert_memory_equal(h1, h2, 32);
  assert_memory_equal(h2, h3, 32);
  for (uint64_t p = 0; p < 16 * 700; p += 97) {
    icxPm_page_hash_at(e0, p, h1);
    icxPm_page_hash_at(d0, p, h2);
    assert_memory_equal(h1, h2, 32);
  }
  icxPm_unref(e0);
  icxPm_unref(d0);
  icxPm_ctx_free(ctx);
  assert_int_equal(atomic_load(&cnt.live), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_known_answers),
      cmocka_unit_test(test_page_hash_libsodium_equals_libb2),
      cmocka_unit_test(test_random_vs_model),
      cmocka_unit_test(test_update_oom_sweep),
      cmocka_unit_test(test_threads_snapshots),
      cmocka_unit_test(test_deferred_equals_eager),
  };
  return cmocka_run_group_tests_name("unit_pagemap", tests, NULL, NULL);
}
