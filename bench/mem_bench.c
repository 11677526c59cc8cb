/* mem_bench.c -- figures for the page-tracked memory (docs/memory.md):
 * snapshot, commit, rollback (per dirty page, at two memory sizes), page
 * hashing throughput, rehash after 1,000 dirty pages in a 4 GiB heap,
 * checkpoint write/read throughput and resident bytes.
 *
 *   mem_bench [--quick] SCRATCH_DIR
 *
 * --quick: small sizes, a few seconds (make bench-mem-smoke). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ckpt.h"
#include "heap.h"
#include "pagemap.h"
#include "wasm.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void die(const char *what, const icxErr *err) {
  fprintf(stderr, "mem_bench: %s: %s\n", what, err ? err->msg : "failed");
  exit(1);
}

static icxMemInst *new_mem(icxStore *s, uint64_t pages) {
  icxMemType t;
  memset(&t, 0, sizeof t);
  t.lim.min = pages;
  t.lim.max = 65536;
  t.lim.has_max = 1;
  icxMemInst *m = icxStore_memory(s, &t);
  if (!m) die("memory", NULL);
  return m;
}

/* Dirty n distinct random pages of m (one byte each, non-zero). */
static void dirty_pages(icxMemInst *m, uint64_t n, uint64_t *seed) {
  uint64_t np = m->size >> 12;
  for (uint64_t i = 0; i < n;) {
    uint64_t p = rng(seed) % np;
    if (m->dirty[p]) continue;
    m->data[p << 12 | (rng(seed) & 4095)] = (uint8_t)(1 + rng(seed) % 255);
    icxMemInst_touch(m, p << 12, 1);
    i++;
  }
}

/* Commit and rollback of n dirty pages in a heap of `pages` Wasm pages:
 * seconds per operation. */
static void commit_rollback(icxStore *st, icxPmCtx *ctx, uint64_t pages, uint64_t n, int reps,
                            double *commit_s, double *rollback_s) {
  icxErr err;
  icxMemInst *m = new_mem(st, pages);
  icxPageMap *base = icxPm_new(ctx, pages * 65536, &err);
  uint64_t seed = 12345;
  /* some committed content first */
  dirty_pages(m, n, &seed);
  icxPageMap *nm;
  if (icxHeap_commit(m, base, &nm, &err)) die("commit", &err);
  icxPm_unref(base);
  base = nm;
  double tc = 0, tr = 0;
  for (int r = 0; r < reps; r++) {
    dirty_pages(m, n, &seed);
    double t0 = now();
    if (icxHeap_rollback(m, base, &err)) die("rollback", &err);
    tr += now() - t0;
    dirty_pages(m, n, &seed);
    t0 = now();
    if (icxHeap_commit(m, base, &nm, &err)) die("commit", &err);
    tc += now() - t0;
    icxPm_unref(base);
    base = nm;
  }
  *commit_s = tc / reps;
  *rollback_s = tr / reps;
  icxPm_unref(base);
  icxHeap_release(m);
}

int main(int argc, char **argv) {
  int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  const char *scratch = argc > 1 + quick ? argv[1 + quick] : "build/bench/mem-ckpt";
  icxAllocator A = icxCore_default_allocator();
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  icxStore *st = icxStore_new(&A);
  icxErr err;
  printf("memory benchmark%s\n", quick ? " (quick)" : "");

  /* page hashing */
  {
    size_t npg = quick ? 4096 : 65536; /* 16 MiB / 256 MiB */
    uint8_t *buf = malloc(npg * 4096);
    for (size_t i = 0; i < npg * 4096; i++) buf[i] = (uint8_t)(i * 131 + 7);
    uint8_t h[32];
    int reps = quick ? 1 : 3;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      for (size_t i = 0; i < npg; i++) icxPm_page_hash(buf + i * 4096, h);
      double t = now() - t0;
      if (t < best) best = t;
    }
    printf("page hashing: %.2f GB/s per core (BLAKE2b-256 of 4 KiB pages, %zu MiB, best of %d)\n",
           (double)npg * 4096 / best / 1e9, npg / 256, reps);
    free(buf);
  }

  /* snapshot */
  {
    icxMemInst *m = new_mem(st, 1024); /* 64 MiB, 16384 pages all written */
    icxPageMap *base = icxPm_new(ctx, m->size, &err), *nm;
    for (uint64_t p = 0; p < m->size >> 12; p++) m->data[p << 12] = 1;
    icxHeap_mark_all(m);
    if (icxHeap_commit(m, base, &nm, &err)) die("commit", &err);
    int n = quick ? 100000 : 10000000;
    double t0 = now();
    for (int i = 0; i < n; i++) icxPm_unref(icxPm_ref(nm));
    double t = now() - t0;
    printf("snapshot (take + release) of a 64 MiB map: %.1f ns (O(1), independent of size)\n",
           t / n * 1e9);
    icxPm_unref(base);
    icxPm_unref(nm);
    icxHeap_release(m);
  }

  /* commit / rollback at two memory sizes */
  {
    uint64_t n = 1000;
    int reps = quick ? 2 : 10;
    double c1, r1, c2, r2;
    commit_rollback(st, ctx, 1024, n, reps, &c1, &r1);   /* 64 MiB */
    commit_rollback(st, ctx, 65536, n, reps, &c2, &r2);  /* 4 GiB */
    printf("rollback of 1000 dirty pages: 64 MiB heap %.1f us (%.0f ns/page), 4 GiB heap %.1f us "
           "(%.0f ns/page)\n",
           r1 * 1e6, r1 / n * 1e9, r2 * 1e6, r2 / n * 1e9);
    printf("commit of 1000 dirty pages (incl. rehash): 64 MiB heap %.2f ms, 4 GiB heap %.2f ms "
           "(%.1f us/page)\n",
           c1 * 1e3, c2 * 1e3, c2 / n * 1e6);
    printf("rehash after 1,000 dirty pages in a 4 GiB heap: %.2f ms (new root hash)\n", c2 * 1e3);
  }

  /* resident bytes: 4 GiB heap, 1 MiB written */
  {
    icxMemInst *m = new_mem(st, 65536);
    uint64_t seed = 1;
    for (uint64_t i = 0; i < 256; i++) { /* 256 pages = 1 MiB, spread out */
      uint64_t p = (rng(&seed) % (m->size >> 12));
      memset(m->data + (p << 12), 0x5a, 4096);
      icxMemInst_touch(m, p << 12, 4096);
    }
    icxPageMap *base = icxPm_new(ctx, m->size, &err), *nm;
    if (icxHeap_commit(m, base, &nm, &err)) die("commit", &err);
    icxMemUsage u;
    icxHeap_usage(m, &u);
    printf("4 GiB heap with 1 MiB written: logical %llu MiB, resident %.2f MiB (flat %.2f + "
           "tracking %.2f) + page map %.2f MiB\n",
           (unsigned long long)(u.logical >> 20), (double)(u.resident + u.tracking) / 1048576.0,
           (double)u.resident / 1048576.0, (double)u.tracking / 1048576.0,
           (double)icxPm_resident_bytes(nm) / 1048576.0);
    icxPm_unref(base);
    icxPm_unref(nm);
    icxHeap_release(m);
  }

  /* checkpoint throughput */
  {
    uint64_t npg = quick ? 1024 : 32768; /* 4 MiB / 128 MiB */
    uint8_t *buf = malloc(4096);
    icxPmWrite *w = calloc(npg, sizeof *w);
    uint8_t *pages = malloc(npg * 4096);
    uint64_t seed = 5;
    for (uint64_t i = 0; i < npg * 512; i++) ((uint64_t *)(void *)pages)[i] = rng(&seed);
    for (uint64_t i = 0; i < npg; i++) {
      w[i].page = i;
      w[i].data = pages + i * 4096;
    }
    icxPageMap *e = icxPm_new(ctx, npg * 4096, &err), *m;
    if (icxPm_update(e, w, npg, npg * 4096, &m, &err)) die("update", &err);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    if (system(cmd) != 0) die("rm", NULL);
    icxCkpt *c, *r;
    if (icxCkpt_open(ctx, scratch, &c, &err)) die("open", &err);
    icxCkptItem it = {"heap", ICX_CKPT_PAGES, m, NULL, 0};
    double t0 = now();
    if (icxCkpt_save(c, &it, 1, &err)) die("save", &err);
    double tw = now() - t0;
    icxCkptLoaded l;
    if (icxCkpt_open(ctx, scratch, &r, &err)) die("open", &err);
    t0 = now();
    if (icxCkpt_load(r, &l, &err)) die("load", &err);
    double tr = now() - t0;
    printf("checkpoint of %llu MiB: write %.0f MB/s (full base, fsync'ed), read+verify %.0f MB/s\n",
           (unsigned long long)(npg >> 8), (double)npg * 4096 / tw / 1e6,
           (double)npg * 4096 / tr / 1e6);
    /* incremental: 100 pages changed */
    icxPmWrite w2[100];
    for (int i = 0; i < 100; i++) {
      w2[i].page = (uint64_t)i * (npg / 100);
      memset(buf, i + 1, 4096);
      w2[i].data = pages + w2[i].page * 4096;
      pages[w2[i].page * 4096] ^= 0xff;
    }
    icxPageMap *m2;
    if (icxPm_update(m, w2, 100, npg * 4096, &m2, &err)) die("update", &err);
    it.map = m2;
    t0 = now();
    if (icxCkpt_save(c, &it, 1, &err)) die("save", &err);
    double ti = now() - t0;
    printf("incremental checkpoint after 100 changed pages: %.2f ms, %llu bytes written\n",
           ti * 1e3, (unsigned long long)icxCkpt_last_bytes(c));
    icxCkpt_loaded_free(&A, &l);
    icxCkpt_close(c);
    icxCkpt_close(r);
    icxPm_unref(m2);
    icxPm_unref(m);
    icxPm_unref(e);
    free(pages);
    free(w);
    free(buf);
    if (system(cmd) != 0) die("rm", NULL);
  }
  icxStore_free(st);
  if (icxPm_ctx_bytes(ctx) != 0) die("leak in page maps", NULL);
  icxPm_ctx_free(ctx);
  return 0;
}
