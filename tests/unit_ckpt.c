/* unit_ckpt.c -- white-box tests of lib/ckpt.c: bit-identical round trips,
 * incremental saves and compaction, a randomized save/load sequence against
 * a model, crash safety by stopping a save at every I/O step, and corruption
 * detection by flipping every byte and truncating every file at many
 * lengths. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ckpt.h"

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

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[512];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}
static void mktmp(char *buf) {
  strcpy(buf, "/tmp/icx_ckpt_XXXXXX");
  assert_non_null(mkdtemp(buf));
}
static int count_files(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}
static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*n + 1);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}
static void write_file(const char *path, const uint8_t *b, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, n, f), n);
  fclose(f);
}

/* A state: two page maps and a blob. */
typedef struct State {
  icxPageMap *heap, *stab;
  uint8_t blob[300];
  uint64_t blob_len;
} State;

static void state_items(State *s, icxCkptItem it[3]) {
  memset(it, 0, sizeof(icxCkptItem) * 3);
  it[0].name = "heap";
  it[0].kind = ICX_CKPT_PAGES;
  it[0].map = s->heap;
  it[1].name = "stable";
  it[1].kind = ICX_CKPT_PAGES;
  it[1].map = s->stab;
  it[2].name = "meta";
  it[2].kind = ICX_CKPT_BLOB;
  it[2].blob = s->blob;
  it[2].blob_len = s->blob_len;
}

/* Apply n random page writes to a map. */
static icxPageMap *mutate(icxPageMap *m, uint64_t *seed, int n, uint64_t span) {
  icxPmWrite w[64];
  static uint8_t bufs[64][4096];
  uint64_t pages[64];
  int k = 0;
  for (int i = 0; i < n && i < 64; i++) pages[i] = rng_next(seed) % span;
  for (int a = 0; a < n; a++)
    for (int b = a + 1; b < n; b++)
      if (pages[b] < pages[a]) {
        uint64_t t = pages[a];
        pages[a] = pages[b];
        pages[b] = t;
      }
  for (int i = 0; i < n; i++) {
    if (k && w[k - 1].page == pages[i]) continue;
    for (int j = 0; j < 4096; j += 8) bufs[k][j] = (uint8_t)rng_next(seed);
    w[k].page = pages[i];
    w[k].data = rng_next(seed) % 5 == 0 ? NULL : bufs[k];
    k++;
  }
  icxPageMap *out;
  icxErr err;
  assert_int_equal(icxPm_update(m, w, (size_t)k, icxPm_size(m), &out, &err), ICX_OK);
  icxPm_unref(m);
  return out;
}

static int maps_equal(const icxPageMap *a, const icxPageMap *b) {
  uint8_t h1[32], h2[32];
  icxPm_root_hash(a, h1);
  icxPm_root_hash(b, h2);
  return memcmp(h1, h2, 32) == 0 && icxPm_size(a) == icxPm_size(b);
}

/* Loaded equals state (maps compared by root hash and page by page). */
typedef struct Cmp {
  const icxPageMap *other;
  int bad;
} Cmp;
static int cmp_page(void *ud, uint64_t page, const uint8_t *data) {
  Cmp *c = ud;
  const uint8_t *o = icxPm_get(c->other, page);
  if (!o || memcmp(o, data, 4096)) c->bad = 1;
  return 0;
}
static int state_matches(const icxCkptLoaded *l, const State *s) {
  if (l->n != 3) return 0;
  /* sorted by name: heap, meta, stable */
  if (strcmp(l->items[0].name, "heap") || strcmp(l->items[1].name, "meta") ||
      strcmp(l->items[2].name, "stable"))
    return 0;
  if (!maps_equal(l->items[0].map, s->heap) || !maps_equal(l->items[2].map, s->stab)) return 0;
  Cmp c = {s->heap, 0};
  icxPm_foreach(l->items[0].map, cmp_page, &c);
  if (icxPm_npages(l->items[0].map) != icxPm_npages(s->heap)) return 0;
  if (l->items[1].blob_len != s->blob_len || memcmp(l->items[1].blob, s->blob, s->blob_len))
    return 0;
  return !c.bad;
}

static void state_init(State *s, icxPmCtx *ctx, uint64_t *seed) {
  icxErr err;
  s->heap = mutate(icxPm_new(ctx, 64 * 65536, &err), seed, 40, 64 * 16);
  s->stab = mutate(icxPm_new(ctx, 400ull << 30, &err), seed, 20, (400ull << 30) / 4096);
  s->blob_len = 100;
  memset(s->blob, 7, sizeof s->blob);
}
static void state_copy(State *d, const State *s) {
  *d = *s;
  icxPm_ref(d->heap);
  icxPm_ref(d->stab);
}
static void state_free(State *s) {
  icxPm_unref(s->heap);
  icxPm_unref(s->stab);
}

static void test_roundtrip_incremental_compaction(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  char dir[64];
  mktmp(dir);
  icxErr err;
  uint64_t seed = 99;
  State s;
  state_init(&s, ctx, &seed);
  icxCkpt *c;
  assert_int_equal(icxCkpt_open(ctx, dir, &c, &err), ICX_OK);
  icxCkptItem it[3];
  state_items(&s, it);
  assert_int_equal(icxCkpt_save(c, it, 3, &err), ICX_OK);
  assert_true(icxCkpt_last_full(c));
  uint64_t full_bytes = icxCkpt_last_bytes(c);
  icxCkptLoaded l;
  icxCkpt *c2;
  assert_int_equal(icxCkpt_open(ctx, dir, &c2, &err), ICX_OK);
  assert_int_equal(icxCkpt_load(c2, &l, &err), ICX_OK);
  assert_true(state_matches(&l, &s));
  icxCkpt_loaded_free(&A, &l);
  /* rounds: 3 changed pages each; each save writes only those */
  for (int r = 0; r < 2 * (int)ICX_CKPT_MAX_OVERLAYS + 3; r++) {
    s.heap = mutate(s.heap, &seed, 3, 64 * 16);
    if (r % 4 == 0) s.blob[r] ^= 1;
    state_items(&s, it);
    icxCkpt *w = r % 2 ? c : c2; /* c2 continues incrementally after a load */
    assert_int_equal(icxCkpt_save(w, it, 3, &err), ICX_OK);
    if (!icxCkpt_last_full(w)) assert_true(icxCkpt_last_bytes(w) < 4 * 4200 + 1000);
    else assert_true(icxCkpt_last_bytes(w) >= full_bytes / 2);
    assert_true(count_files(dir) <= (int)ICX_CKPT_MAX_FILES + 1);
    /* the other handle reloads (so its next save is incremental against it) */
    icxCkpt *o = w == c ? c2 : c;
    assert_int_equal(icxCkpt_load(o, &l, &err), ICX_OK);
    assert_true(state_matches(&l, &s));
    icxCkpt_loaded_free(&A, &l);
  }
  /* bad input */
  icxCkptItem dup[2] = {it[0], it[0]};
  assert_int_equal(icxCkpt_save(c, dup, 2, &err), ICX_EINVAL);
  icxCkptItem noname = it[0];
  noname.name = "";
  assert_int_equal(icxCkpt_save(c, &noname, 1, &err), ICX_EINVAL);
  /* a missing directory checkpoint */
  char dir2[64];
  mktmp(dir2);
  icxCkpt *c3;
  assert_int_equal(icxCkpt_open(ctx, dir2, &c3, &err), ICX_OK);
  assert_int_equal(icxCkpt_load(c3, &l, &err), ICX_ENOTFOUND);
  icxCkpt_close(c3);
  rm_rf(dir2);
  /* items can disappear and shrink */
  icxPageMap *small = icxPm_new(ctx, 65536, &err);
  icxCkptItem one = {"heap", ICX_CKPT_PAGES, small, NULL, 0};
  assert_int_equal(icxCkpt_save(c, &one, 1, &err), ICX_OK);
  assert_int_equal(icxCkpt_load(c2, &l, &err), ICX_OK);
  assert_int_equal(l.n, 1);
  assert_true(maps_equal(l.items[0].map, small));
  icxCkpt_loaded_free(&A, &l);
  icxPm_unref(small);
  icxCkpt_close(c);
  icxCkpt_close(c2);
  state_free(&s);
  rm_rf(dir);
  assert_int_equal(icxPm_ctx_bytes(ctx), 0);
  icxPm_ctx_free(ctx);
  assert_int_equal(cnt.live, 0);
}

/* Stop the save after the k-th I/O step for every k; the directory must
 * load as the old or the new state, and a retry must succeed. */
static void test_crash_at_every_step(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  icxErr err;
  uint64_t seed = 7;
  for (int overlay = 0; overlay < 2; overlay++) {
    uint64_t total = 0;
    for (uint64_t k = 1;; k++) {
      char dir[64];
      mktmp(dir);
      State a, b;
      state_init(&a, ctx, &seed);
      icxCkpt *c;
      assert_int_equal(icxCkpt_open(ctx, dir, &c, &err), ICX_OK);
      icxCkptItem it[3];
      state_items(&a, it);
      assert_int_equal(icxCkpt_save(c, it, 3, &err), ICX_OK);
      state_copy(&b, &a);
      b.heap = mutate(b.heap, &seed, 5, 64 * 16);
      b.blob[0] ^= 0xff;
      if (!overlay) { /* a save that is a full base (after max overlays) */
        for (unsigned i = 0; i <= ICX_CKPT_MAX_OVERLAYS; i++) {
          state_items(&a, it);
          assert_int_equal(icxCkpt_save(c, it, 3, &err), ICX_OK);
        }
      }
      icxCkpt_set_fault(c, k);
      state_items(&b, it);
      icx_status rc = icxCkpt_save(c, it, 3, &err);
      uint64_t ops = icxCkpt_ops(c);
      icxCkptLoaded l;
      icxCkpt *r;
      assert_int_equal(icxCkpt_open(ctx, dir, &r, &err), ICX_OK);
      assert_int_equal(icxCkpt_load(r, &l, &err), ICX_OK);
      int is_a = state_matches(&l, &a), is_b = state_matches(&l, &b);
      assert_true(is_a || is_b);
      if (rc == ICX_OK) assert_true(is_b);
      icxCkpt_loaded_free(&A, &l);
      icxCkpt_close(r);
      /* retry without the fault: succeeds and gives b */
      icxCkpt_set_fault(c, 0);
      assert_int_equal(icxCkpt_save(c, it, 3, &err), ICX_OK);
      assert_int_equal(icxCkpt_open(ctx, dir, &r, &err), ICX_OK);
      assert_int_equal(icxCkpt_load(r, &l, &err), ICX_OK);
      assert_true(state_matches(&l, &b));
      icxCkpt_loaded_free(&A, &l);
      icxCkpt_close(r);
      icxCkpt_close(c);
      state_free(&a);
      state_free(&b);
      rm_rf(dir);
      if (rc == ICX_OK) {
        total = ops;
        break;
      }
      assert_true(k <= ops);
    }
    assert_true(total >= 6); /* write, fsync, rename, dir fsync, manifest x4 */
  }
  icxPm_ctx_free(ctx);
  assert_int_equal(cnt.live, 0);
}

/* Every flipped byte and many truncations of every file: ICX_ECORRUPT. */
static void test_corruption_detected(void **st) {
  (void)st;
  Count cnt = {0};
  icxAllocator A = {count_fn, &cnt};
  icxPmCtx *ctx = icxPm_ctx_new(&A);
  icxErr err;
  uint64_t seed = 3;
  char dir[64];
  mktmp(dir);
  State s;
  s.heap = mutate(icxPm_new(ctx, 16 * 65536, &err), &seed, 2, 256);
  s.stab = mutate(icxPm_new(ctx, 1 << 30, &err), &seed, 1, 1000);
  s.blob_len = 30;
  memset(s.blob, 9, sizeof s.blob);
  icxCkpt *c;
  assert_int_equal(icxCkpt_open(ctx, dir, &c, &err), ICX_OK);
  icxCkptItem it[3];
  state_items(&s, it);
  assert_int_equal(icxCkpt_save(c, it, 3, &err), ICX_OK);
  s.heap = mutate(s.heap, &seed, 1, 256); /* and an overlay */
  state_items(&s, it);
  assert_int_equal(icxCkpt_save(c, it, 3, &err), ICX_OK);
  icxCkpt_close(c);
  const char *files[3] = {"MANIFEST", "data-0000000000000001.bin", "data-0000000000000002.bin"};
  long checked = 0;
  for (int f = 0; f < 3; f++) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, files[f]);
    size_t n;
    uint8_t *orig = read_file(path, &n);
    uint8_t *b = malloc(n + 1);
    for (size_t pos = 0; pos <= n; pos++) {
      for (int mode = 0; mode < 2; mode++) {
        if (mode == 0 && pos == n) continue;
        memcpy(b, orig, n);
        size_t len = n;
        if (mode == 0) b[pos] ^= (uint8_t)(1u << (pos % 8)); /* flip one bit */
        else if (pos % 7 == 0 || pos + 16 > n || pos < 64) len = pos; /* truncate */
        else continue;
        if (mode == 1 && len == n) continue;
        write_file(path, b, len);
        icxCkpt *r;
        icxCkptLoaded l;
        assert_int_equal(icxCkpt_open(ctx, dir, &r, &err), ICX_OK);
        icxErr_clear(&err);
        icx_status rc = icxCkpt_load(r, &l, &err);
        if (rc != ICX_ECORRUPT) fprintf(stderr, "%s pos %zu mode %d: %d %s\n", files[f], pos, mode, rc, err.msg);
        assert_int_equal(rc, ICX_ECORRUPT);
        assert_true(strlen(err.msg) > 10);
        icxCkpt_close(r);
        checked++;
      }
    }
    write_file(path, orig, n);
    free(orig);
    free(b);
  }
  assert_true(checked > 1000);
  /* a missing data file */
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, files[1]);
  size_t n;
  uint8_t *orig = read_file(path, &n);
  unlink(path);
  icxCkpt *r;
  icxCkptLoaded l;
  assert_int_equal(icxCkpt_open(ctx, dir, &r, &err), ICX_OK);
  assert_int_equal(icxCkpt_load(r, &l, &err), ICX_ECORRUPT);
  write_file(path, orig, n);
  free(orig);
  assert_int_equal(icxCkpt_load(r, &l, &err), ICX_OK); /* restored: loads */
  assert_true(state_matches(&l, &s));
  icxCkpt_loaded_free(&A, &l);
  icxCkpt_close(r);
  state_free(&s);
  rm_rf(dir);
  icxPm_ctx_free(ctx);
  assert_int_equal(cnt.live, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_incremental_compaction),
      cmocka_unit_test(test_crash_at_every_step),
      cmocka_unit_test(test_corruption_detected),
  };
  return cmocka_run_group_tests_name("unit_ckpt", tests, NULL, NULL);
}
