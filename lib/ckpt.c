/* ckpt.c -- incremental, crash-safe, checksummed checkpoints (ckpt.h). */
#define _GNU_SOURCE
#include "ckpt.h"

#include <blake2.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define H ICX_HASH_BYTES
static const char MANIFEST_MAGIC[8] = {'I', 'C', 'X', 'M', 'A', 'N', 'I', 'F'};
static const char DATA_MAGIC[8] = {'I', 'C', 'X', 'D', 'A', 'T', 'A', '1'};

/* ---- manifest model --------------------------------------------------------- */

typedef struct MFile {
  uint64_t gen, len;
  uint8_t hash[H];
} MFile;

typedef struct MItem {
  char *name; /* owned, NUL-terminated */
  uint16_t name_len;
  uint8_t kind;
  uint64_t size;      /* PAGES: logical size; BLOB: length */
  uint64_t first_gen; /* PAGES: sections of older files are ignored */
  uint64_t blob_gen, blob_off;
  uint8_t hash[H];    /* PAGES: root hash; BLOB: content hash */
  icxPageMap *map;    /* PAGES: the map saved/loaded (one reference) */
} MItem;

typedef struct Manifest {
  uint64_t gen;
  uint32_t nfiles, nitems;
  uint32_t fcap, icap; /* allocated entries of files/items */
  MFile *files;
  MItem *items; /* sorted by name */
} Manifest;

struct icxCkpt {
  icxAllocator alloc;
  icxPmCtx *ctx;
  int dirfd;
  Manifest cur; /* last saved or loaded (nfiles 0: none) */
  uint64_t fault_at, ops, last_bytes;
  int last_full;
};

static void hashp(const char *pers, blake2b_state *S) {
  blake2b_param P;
  memset(&P, 0, sizeof P);
  P.digest_length = H;
  P.fanout = 1;
  P.depth = 1;
  memcpy(P.personal, pers, strlen(pers));
  blake2b_init_param(S, &P);
}

static void hash_buf(const char *pers, const void *p, uint64_t n, uint8_t out[H]) {
  blake2b_state S;
  hashp(pers, &S);
  const uint8_t *b = p;
  while (n) { /* libb2 takes size_t; chunk anyway */
    size_t k = n > (1u << 30) ? (1u << 30) : (size_t)n;
    blake2b_update(&S, b, k);
    b += k;
    n -= k;
  }
  blake2b_final(&S, out, H);
}

static void manifest_free(const icxAllocator *a, Manifest *m) {
  for (uint32_t i = 0; i < m->nitems; i++) {
    icxCore_free(a, m->items[i].name, (size_t)m->items[i].name_len + 1);
    icxPm_unref(m->items[i].map);
  }
  if (m->items) icxCore_free(a, m->items, sizeof(MItem) * m->icap);
  if (m->files) icxCore_free(a, m->files, sizeof(MFile) * m->fcap);
  memset(m, 0, sizeof *m);
}

static int name_cmp(const char *a, size_t na, const char *b, size_t nb) {
  int r = memcmp(a, b, na < nb ? na : nb);
  return r ? r : (na > nb) - (na < nb);
}

static const MItem *find_item(const Manifest *m, const char *name, size_t len) {
  uint32_t lo = 0, hi = m->nitems;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int r = name_cmp(m->items[mid].name, m->items[mid].name_len, name, len);
    if (r == 0) return &m->items[mid];
    if (r < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static const MFile *find_file(const Manifest *m, uint64_t gen) {
  for (uint32_t i = 0; i < m->nfiles; i++)
    if (m->files[i].gen == gen) return &m->files[i];
  return NULL;
}

static void data_name(char out[40], uint64_t gen, int tmp) {
  snprintf(out, 40, "data-%016llx.%s", (unsigned long long)gen, tmp ? "tmp" : "bin");
}

/* ---- little-endian buffer ---------------------------------------------------- */

typedef struct Buf {
  const icxAllocator *a;
  uint8_t *p;
  size_t n, cap;
  int oom;
} Buf;

static void buf_put(Buf *b, const void *p, size_t n) {
  if (b->oom) return;
  if (b->cap - b->n < n) {
    size_t nc = b->cap ? b->cap : 4096;
    while (nc - b->n < n) nc *= 2;
    uint8_t *q = icxCore_realloc(b->a, b->p, b->cap, nc);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = nc;
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}
static void le_put(uint8_t *o, uint64_t v, int n) {
  for (int i = 0; i < n; i++) o[i] = (uint8_t)(v >> (8 * i));
}
static void buf_u(Buf *b, uint64_t v, int n) {
  uint8_t t[8];
  le_put(t, v, n);
  buf_put(b, t, (size_t)n);
}

/* Bounded reader: every read checks the remaining length. */
typedef struct Rd {
  const uint8_t *p;
  uint64_t n, pos;
  int bad;
} Rd;
static uint64_t rd_u(Rd *r, int n) {
  if (r->bad || r->n - r->pos < (uint64_t)n) {
    r->bad = 1;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)r->p[r->pos + (uint64_t)i] << (8 * i);
  r->pos += (uint64_t)n;
  return v;
}
static const uint8_t *rd_bytes(Rd *r, uint64_t n) {
  if (r->bad || r->n - r->pos < n) {
    r->bad = 1;
    return NULL;
  }
  const uint8_t *q = r->p + r->pos;
  r->pos += n;
  return q;
}

/* ---- I/O with the fault hook ---------------------------------------------------- */

static int fault(icxCkpt *c) { return ++c->ops == c->fault_at; }

static icx_status io_fail(icxErr *err, const char *what, const char *name, int e) {
  return icxErr_set(err, ICX_EIO, "checkpoint: %s %s: %s", what, name,
                    e ? strerror(e) : "injected fault");
}

static icx_status io_write(icxCkpt *c, int fd, const uint8_t *p, size_t n, const char *name,
                           icxErr *err) {
  int inj = fault(c);
  size_t lim = inj ? n / 2 : n;
  size_t done = 0;
  while (done < lim) {
    ssize_t k = write(fd, p + done, lim - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return io_fail(err, "write", name, k < 0 ? errno : EIO);
    done += (size_t)k;
  }
  return inj ? io_fail(err, "write", name, 0) : ICX_OK;
}

static icx_status io_fsync(icxCkpt *c, int fd, const char *name, icxErr *err) {
  if (fault(c)) return io_fail(err, "fsync", name, 0);
  if (fsync(fd)) return io_fail(err, "fsync", name, errno);
  return ICX_OK;
}

static icx_status io_rename(icxCkpt *c, const char *from, const char *to, icxErr *err) {
  if (fault(c)) return io_fail(err, "rename", from, 0);
  if (renameat(c->dirfd, from, c->dirfd, to)) return io_fail(err, "rename", from, errno);
  return ICX_OK;
}

/* Write a whole file: tmp name, fsync, close, rename, fsync the directory. */
typedef struct Wr {
  icxCkpt *c;
  int fd;
  char tmp[40], fin[40];
  uint8_t buf[1 << 16];
  size_t n;
  uint64_t total;
  blake2b_state h;
  icx_status rc;
  icxErr *err;
} Wr;

static void wr_flush(Wr *w) {
  if (w->rc == ICX_OK && w->n) w->rc = io_write(w->c, w->fd, w->buf, w->n, w->tmp, w->err);
  w->n = 0;
}
static void wr_put(Wr *w, const void *p, size_t n) {
  if (w->rc != ICX_OK) return;
  blake2b_update(&w->h, p, n);
  w->total += n;
  const uint8_t *b = p;
  while (n) {
    size_t k = sizeof w->buf - w->n < n ? sizeof w->buf - w->n : n;
    memcpy(w->buf + w->n, b, k);
    w->n += k;
    b += k;
    n -= k;
    if (w->n == sizeof w->buf) wr_flush(w);
    if (w->rc != ICX_OK) return;
  }
}
static void wr_u(Wr *w, uint64_t v, int n) {
  uint8_t t[8];
  le_put(t, v, n);
  wr_put(w, t, (size_t)n);
}

static icx_status wr_open(Wr *w, icxCkpt *c, const char *tmp, const char *fin, const char *pers,
                          icxErr *err) {
  memset(w, 0, offsetof(Wr, buf));
  w->c = c;
  w->err = err;
  snprintf(w->tmp, sizeof w->tmp, "%s", tmp);
  snprintf(w->fin, sizeof w->fin, "%s", fin);
  hashp(pers, &w->h);
  w->n = 0;
  w->total = 0;
  w->rc = ICX_OK;
  w->fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd < 0) return io_fail(err, "create", tmp, errno);
  return ICX_OK;
}

static icx_status wr_close(Wr *w, uint8_t hash[H]) {
  wr_flush(w);
  if (w->rc == ICX_OK) w->rc = io_fsync(w->c, w->fd, w->tmp, w->err);
  if (close(w->fd) && w->rc == ICX_OK) w->rc = io_fail(w->err, "close", w->tmp, errno);
  if (w->rc == ICX_OK) w->rc = io_rename(w->c, w->tmp, w->fin, w->err);
  if (w->rc == ICX_OK) w->rc = io_fsync(w->c, w->c->dirfd, "(directory)", w->err);
  if (hash) blake2b_final(&w->h, hash, H);
  return w->rc;
}

/* ---- open / close ------------------------------------------------------------------ */

icx_status icxCkpt_open(icxPmCtx *ctx, const char *dir, icxCkpt **out, icxErr *err) {
  *out = NULL;
  if (mkdir(dir, 0755) && errno != EEXIST) return io_fail(err, "mkdir", dir, errno);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_fail(err, "open", dir, errno);
  const icxAllocator *a = icxPm_ctx_allocator(ctx);
  icxCkpt *c = icxCore_alloc(a, sizeof *c);
  if (!c) {
    close(fd);
    return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
  }
  c->alloc = *a;
  c->ctx = ctx;
  c->dirfd = fd;
  *out = c;
  return ICX_OK;
}

void icxCkpt_close(icxCkpt *c) {
  if (!c) return;
  manifest_free(&c->alloc, &c->cur);
  close(c->dirfd);
  icxAllocator a = c->alloc;
  icxCore_free(&a, c, sizeof *c);
}

void icxCkpt_set_fault(icxCkpt *c, uint64_t k) { c->fault_at = k; }
uint64_t icxCkpt_ops(const icxCkpt *c) { return c->ops; }
uint64_t icxCkpt_last_bytes(const icxCkpt *c) { return c->last_bytes; }
int icxCkpt_last_full(const icxCkpt *c) { return c->last_full; }

/* ---- save ---------------------------------------------------------------------------- */

typedef struct SecCtx {
  Wr *w;
  uint64_t count;
} SecCtx;

static int put_page(void *ud, uint64_t page, const uint8_t *data) {
  SecCtx *s = ud;
  wr_u(s->w, page, 8);
  wr_u(s->w, data != NULL, 1);
  if (data) wr_put(s->w, data, ICX_PAGE_SIZE);
  s->count++;
  return s->w->rc != ICX_OK;
}
static int count_page(void *ud, uint64_t page, const uint8_t *data) {
  (void)page;
  (void)data;
  ((SecCtx *)ud)->count++;
  return 0;
}

static void sec_head(Wr *w, uint8_t tag, const MItem *it) {
  wr_u(w, tag, 1);
  wr_u(w, it->name_len, 2);
  wr_put(w, it->name, it->name_len);
}

/* Section for a page map: every page that differs from prev (NULL: every
 * present page).  Written only when there is at least one record. */
static void write_pages(Wr *w, const icxPageMap *prev, const icxPageMap *map, const MItem *it) {
  SecCtx cnt = {w, 0};
  icxPm_diff(prev, map, count_page, &cnt);
  if (cnt.count == 0) return;
  sec_head(w, ICX_CKPT_PAGES, it);
  wr_u(w, icxPm_size(map), 8);
  wr_u(w, cnt.count, 8);
  SecCtx put = {w, 0};
  icxPm_diff(prev, map, put_page, &put);
}

typedef struct Ord {
  const icxCkptItem *it;
  size_t len;
} Ord;
static int ord_cmp(const void *a, const void *b) {
  const Ord *x = a, *y = b;
  return name_cmp(x->it->name, x->len, y->it->name, y->len);
}

static icx_status build_manifest(const Manifest *m, Buf *b) {
  buf_put(b, MANIFEST_MAGIC, 8);
  buf_u(b, ICX_CKPT_VERSION, 4);
  buf_u(b, m->gen, 8);
  buf_u(b, m->nfiles, 4);
  buf_u(b, m->nitems, 4);
  for (uint32_t i = 0; i < m->nfiles; i++) {
    buf_u(b, m->files[i].gen, 8);
    buf_u(b, m->files[i].len, 8);
    buf_put(b, m->files[i].hash, H);
  }
  for (uint32_t i = 0; i < m->nitems; i++) {
    const MItem *it = &m->items[i];
    buf_u(b, it->kind, 1);
    buf_u(b, it->name_len, 2);
    buf_put(b, it->name, it->name_len);
    buf_u(b, it->size, 8);
    buf_put(b, it->hash, H);
    buf_u(b, it->kind == ICX_CKPT_PAGES ? it->first_gen : it->blob_gen, 8);
    buf_u(b, it->kind == ICX_CKPT_PAGES ? 0 : it->blob_off, 8);
  }
  uint8_t sum[H];
  if (!b->oom) hash_buf("icx.ckpt.manif", b->p, b->n, sum);
  buf_put(b, sum, H);
  return b->oom ? ICX_ENOMEM : ICX_OK;
}

/* Remove files of the directory that the manifest does not name. */
static void collect_garbage(icxCkpt *c, const Manifest *m) {
  int fd = dup(c->dirfd);
  if (fd < 0) return;
  DIR *d = fdopendir(fd);
  if (!d) {
    close(fd);
    return;
  }
  rewinddir(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    unsigned long long g;
    char suf[8];
    int keep = 1;
    if (sscanf(e->d_name, "data-%16llx.%3s", &g, suf) == 2) {
      keep = strcmp(suf, "bin") == 0 && find_file(m, g) != NULL;
    } else if (strcmp(e->d_name, "MANIFEST.tmp") == 0) {
      keep = 0;
    }
    if (!keep) unlinkat(c->dirfd, e->d_name, 0);
  }
  closedir(d);
  fsync(c->dirfd);
}

static icx_status save_items(icxCkpt *c, const Ord *ord, uint32_t n, Manifest *nm, Wr *w,
                             int full) {
  const icxAllocator *a = &c->alloc;
  for (uint32_t i = 0; i < n; i++) {
    const icxCkptItem *in = ord[i].it;
    MItem *it = &nm->items[i];
    it->name_len = (uint16_t)ord[i].len;
    it->name = icxCore_alloc(a, ord[i].len + 1);
    if (!it->name) return ICX_ENOMEM;
    memcpy(it->name, in->name, ord[i].len);
    it->kind = in->kind;
    nm->nitems = i + 1;
    const MItem *prev = full ? NULL : find_item(&c->cur, in->name, ord[i].len);
    if (prev && prev->kind != in->kind) prev = NULL;
    /* a page map that shrank starts afresh: older sections may hold pages
     * beyond its new size */
    if (prev && in->kind == ICX_CKPT_PAGES && icxPm_size(in->map) < prev->size) prev = NULL;
    if (in->kind == ICX_CKPT_PAGES) {
      it->size = icxPm_size(in->map);
      icxPm_root_hash(in->map, it->hash);
      it->first_gen = prev ? prev->first_gen : nm->gen;
      it->map = icxPm_ref(in->map);
      write_pages(w, prev ? prev->map : NULL, in->map, it);
    } else {
      it->size = in->blob_len;
      hash_buf("icx.ckpt.blob", in->blob, in->blob_len, it->hash);
      if (prev && prev->size == it->size && memcmp(prev->hash, it->hash, H) == 0) {
        it->blob_gen = prev->blob_gen;
        it->blob_off = prev->blob_off;
      } else {
        sec_head(w, ICX_CKPT_BLOB, it);
        wr_u(w, in->blob_len, 8);
        it->blob_gen = nm->gen;
        it->blob_off = w->total;
        wr_put(w, in->blob, (size_t)in->blob_len);
      }
    }
    if (w->rc != ICX_OK) return w->rc;
  }
  return ICX_OK;
}

icx_status icxCkpt_save(icxCkpt *c, const icxCkptItem *items, uint32_t n, icxErr *err) {
  const icxAllocator *a = &c->alloc;
  c->ops = 0;
  if (n > ICX_CKPT_MAX_ITEMS) return icxErr_set(err, ICX_EINVAL, "checkpoint: too many items");
  Ord *ord = icxCore_allocn(a, (size_t)n + 1, sizeof *ord);
  if (!ord) return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
  icx_status rc = ICX_OK;
  for (uint32_t i = 0; i < n; i++) {
    ord[i].it = &items[i];
    ord[i].len = items[i].name ? strlen(items[i].name) : 0;
    if (ord[i].len == 0 || ord[i].len > ICX_CKPT_MAX_NAME ||
        (items[i].kind != ICX_CKPT_PAGES && items[i].kind != ICX_CKPT_BLOB) ||
        (items[i].kind == ICX_CKPT_PAGES && !items[i].map) ||
        (items[i].kind == ICX_CKPT_BLOB && items[i].blob_len && !items[i].blob)) {
      rc = icxErr_set(err, ICX_EINVAL, "checkpoint: item %u: bad name, kind or content", i);
      goto out;
    }
  }
  qsort(ord, n, sizeof *ord, ord_cmp);
  for (uint32_t i = 1; i < n; i++) {
    if (ord_cmp(&ord[i - 1], &ord[i]) == 0) {
      rc = icxErr_set(err, ICX_EINVAL, "checkpoint: duplicate item name '%s'", ord[i].it->name);
      goto out;
    }
  }
  int full = c->cur.nfiles == 0 || c->cur.nfiles > ICX_CKPT_MAX_OVERLAYS;
  Manifest nm;
  memset(&nm, 0, sizeof nm);
  nm.gen = c->cur.gen + 1;
  nm.nfiles = full ? 1 : c->cur.nfiles + 1;
  nm.files = icxCore_allocn(a, (size_t)nm.nfiles + 1, sizeof(MFile));
  nm.items = icxCore_allocn(a, (size_t)n + 1, sizeof(MItem));
  nm.fcap = nm.files ? nm.nfiles + 1 : 0;
  nm.icap = nm.items ? n + 1 : 0;
  Wr *w = icxCore_alloc(a, sizeof *w);
  Buf mb = {a, NULL, 0, 0, 0};
  if (!nm.files || !nm.items || !w) {
    rc = icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
    goto done;
  }
  if (!full) memcpy(nm.files, c->cur.files, sizeof(MFile) * c->cur.nfiles);
  char tmp[40], fin[40];
  data_name(tmp, nm.gen, 1);
  data_name(fin, nm.gen, 0);
  rc = wr_open(w, c, tmp, fin, "icx.ckpt.file", err);
  if (rc != ICX_OK) {
    icxCore_free(a, w, sizeof *w);
    w = NULL;
    goto done;
  }
  wr_put(w, DATA_MAGIC, 8);
  wr_u(w, ICX_CKPT_VERSION, 4);
  wr_u(w, nm.gen, 8);
  rc = save_items(c, ord, n, &nm, w, full);
  if (rc == ICX_ENOMEM) icxErr_set(err, rc, "checkpoint: out of memory");
  MFile *f = &nm.files[nm.nfiles - 1];
  f->gen = nm.gen;
  f->len = w->total;
  {
    icx_status rc2 = wr_close(w, f->hash);
    if (rc == ICX_OK) rc = rc2;
  }
  if (rc != ICX_OK) goto done;
  if (build_manifest(&nm, &mb) != ICX_OK) {
    rc = icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
    goto done;
  }
  {
    int fd = openat(c->dirfd, "MANIFEST.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      rc = io_fail(err, "create", "MANIFEST.tmp", errno);
      goto done;
    }
    rc = io_write(c, fd, mb.p, mb.n, "MANIFEST.tmp", err);
    if (rc == ICX_OK) rc = io_fsync(c, fd, "MANIFEST.tmp", err);
    close(fd);
    int renamed = 0;
    if (rc == ICX_OK) {
      rc = io_rename(c, "MANIFEST.tmp", "MANIFEST", err);
      renamed = rc == ICX_OK;
    }
    if (rc == ICX_OK) rc = io_fsync(c, c->dirfd, "(directory)", err);
    /* once MANIFEST is renamed the new checkpoint is the current one, even
     * if the directory fsync failed: adopt it either way */
    if (renamed) {
      c->last_bytes = w->total + mb.n;
      c->last_full = full;
      manifest_free(a, &c->cur);
      c->cur = nm;
      memset(&nm, 0, sizeof nm);
      if (rc == ICX_OK) collect_garbage(c, &c->cur);
    }
  }
done:
  if (w) icxCore_free(a, w, sizeof *w);
  if (mb.p) icxCore_free(a, mb.p, mb.cap);
  if (!nm.items) nm.nitems = 0;
  manifest_free(a, &nm);
out:
  icxCore_free(a, ord, sizeof *ord * ((size_t)n + 1));
  return rc;
}

/* ---- load ----------------------------------------------------------------------------- */

static icx_status corrupt(icxErr *err, const char *file, const char *what) {
  return icxErr_set(err, ICX_ECORRUPT, "checkpoint %s: %s", file, what);
}

static icx_status parse_manifest(const icxAllocator *a, const uint8_t *p, uint64_t n, int verify,
                                 Manifest *m, icxErr *err) {
  memset(m, 0, sizeof *m);
  if (n < 8 + 4 + 8 + 4 + 4 + H) return corrupt(err, "MANIFEST", "truncated (too short)");
  if (memcmp(p, MANIFEST_MAGIC, 8) != 0) return corrupt(err, "MANIFEST", "bad magic");
  uint8_t sum[H];
  hash_buf("icx.ckpt.manif", p, n - H, sum);
  if (verify && memcmp(sum, p + n - H, H) != 0)
    return corrupt(err, "MANIFEST", "checksum mismatch (corrupted or truncated)");
  Rd r = {p, n - H, 8, 0};
  uint64_t ver = rd_u(&r, 4);
  if (ver != ICX_CKPT_VERSION)
    return icxErr_set(err, ICX_EVERSION, "checkpoint MANIFEST: format version %llu, expected %u",
                      (unsigned long long)ver, ICX_CKPT_VERSION);
  m->gen = rd_u(&r, 8);
  uint64_t nf = rd_u(&r, 4), ni = rd_u(&r, 4);
  if (nf == 0 || nf > ICX_CKPT_MAX_FILES || ni > ICX_CKPT_MAX_ITEMS)
    return corrupt(err, "MANIFEST", "file or item count out of range");
  if (nf * (16 + H) + ni * (1 + 2 + 8 + H + 16) > r.n - r.pos)
    return corrupt(err, "MANIFEST", "counts exceed the manifest length");
  m->files = icxCore_allocn(a, (size_t)nf + 1, sizeof(MFile));
  m->items = icxCore_allocn(a, (size_t)ni + 1, sizeof(MItem));
  m->fcap = m->files ? (uint32_t)nf + 1 : 0;
  m->icap = m->items ? (uint32_t)ni + 1 : 0;
  if (!m->files || !m->items) {
    manifest_free(a, m);
    return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
  }
  m->nfiles = (uint32_t)nf;
  for (uint32_t i = 0; i < nf; i++) {
    MFile *f = &m->files[i];
    f->gen = rd_u(&r, 8);
    f->len = rd_u(&r, 8);
    const uint8_t *h = rd_bytes(&r, H);
    if (h) memcpy(f->hash, h, H);
    if (r.bad || (i && f->gen <= m->files[i - 1].gen) || f->gen > m->gen || f->gen == 0) {
      manifest_free(a, m);
      return corrupt(err, "MANIFEST", "bad data file list");
    }
  }
  if (m->files[nf - 1].gen != m->gen) {
    manifest_free(a, m);
    return corrupt(err, "MANIFEST", "last data file is not of this generation");
  }
  for (uint32_t i = 0; i < ni; i++) {
    MItem *it = &m->items[i];
    it->kind = (uint8_t)rd_u(&r, 1);
    uint64_t nl = rd_u(&r, 2);
    const uint8_t *nmp = rd_bytes(&r, nl);
    it->size = rd_u(&r, 8);
    const uint8_t *h = rd_bytes(&r, H);
    uint64_t g = rd_u(&r, 8), off = rd_u(&r, 8);
    const char *why = NULL;
    if (r.bad) why = "truncated item list";
    else if (it->kind != ICX_CKPT_PAGES && it->kind != ICX_CKPT_BLOB) why = "bad item kind";
    else if (nl == 0 || nl > ICX_CKPT_MAX_NAME || memchr(nmp, 0, nl)) why = "bad item name";
    else if (!find_file(m, g)) why = "item refers to a data file not listed";
    else if (it->kind == ICX_CKPT_PAGES && it->size > ICX_PM_MAX_PAGES * ICX_PAGE_SIZE)
      why = "page map size out of range";
    if (!why) {
      it->name = icxCore_alloc(a, nl + 1);
      if (!it->name) {
        m->nitems = i;
        manifest_free(a, m);
        return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
      }
      memcpy(it->name, nmp, nl);
      it->name_len = (uint16_t)nl;
      memcpy(it->hash, h, H);
      if (it->kind == ICX_CKPT_PAGES) it->first_gen = g;
      else {
        it->blob_gen = g;
        it->blob_off = off;
      }
      m->nitems = i + 1;
      if (i && name_cmp(m->items[i - 1].name, m->items[i - 1].name_len, it->name, nl) >= 0)
        why = "item names not strictly sorted";
    }
    if (why) {
      manifest_free(a, m);
      return corrupt(err, "MANIFEST", why);
    }
  }
  if (r.pos != r.n) {
    manifest_free(a, m);
    return corrupt(err, "MANIFEST", "trailing bytes");
  }
  return ICX_OK;
}

/* Page records collected for one item across files. */
typedef struct Rec {
  uint64_t page, seq;
  const uint8_t *data;
} Rec;
typedef struct Acc {
  Rec *r;
  uint64_t n, cap;
} Acc;

static int rec_cmp(const void *a, const void *b) {
  const Rec *x = a, *y = b;
  if (x->page != y->page) return (x->page > y->page) - (x->page < y->page);
  return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Parse one data file, appending page records of live items to acc[]. */
static icx_status parse_data(const icxAllocator *a, const Manifest *m, const MFile *f,
                             const uint8_t *p, uint64_t n, Acc *acc, uint64_t *seq,
                             const char *fname, icxErr *err) {
  Rd r = {p, n, 0, 0};
  const uint8_t *mg = rd_bytes(&r, 8);
  uint64_t ver = rd_u(&r, 4), gen = rd_u(&r, 8);
  if (r.bad || memcmp(mg, DATA_MAGIC, 8) != 0) return corrupt(err, fname, "bad header");
  if (ver != ICX_CKPT_VERSION)
    return icxErr_set(err, ICX_EVERSION, "checkpoint %s: format version %llu", fname,
                      (unsigned long long)ver);
  if (gen != f->gen) return corrupt(err, fname, "generation does not match its name");
  while (r.pos < r.n) {
    uint64_t tag = rd_u(&r, 1), nl = rd_u(&r, 2);
    const uint8_t *nmp = rd_bytes(&r, nl);
    if (r.bad) return corrupt(err, fname, "truncated section header");
    const MItem *it = find_item(m, (const char *)nmp, nl);
    uint64_t idx = it ? (uint64_t)(it - m->items) : 0;
    if (tag == ICX_CKPT_BLOB) {
      uint64_t len = rd_u(&r, 8);
      if (!rd_bytes(&r, len)) return corrupt(err, fname, "truncated blob");
      continue;
    }
    if (tag != ICX_CKPT_PAGES) return corrupt(err, fname, "bad section tag");
    uint64_t size = rd_u(&r, 8), count = rd_u(&r, 8);
    if (r.bad) return corrupt(err, fname, "truncated page section");
    if (count > (r.n - r.pos) / 9) return corrupt(err, fname, "page count exceeds the file");
    int live = it && it->kind == ICX_CKPT_PAGES && f->gen >= it->first_gen;
    if (live && size > it->size) return corrupt(err, fname, "page section larger than its item");
    uint64_t lim = (size + ICX_PAGE_SIZE - 1) / ICX_PAGE_SIZE, last = 0;
    Acc *ac = live ? &acc[idx] : NULL;
    if (ac && ac->cap - ac->n < count) {
      uint64_t nc = ac->n + count;
      Rec *q = icxCore_realloc(a, ac->r, (size_t)ac->cap * sizeof(Rec), (size_t)nc * sizeof(Rec));
      if (!q) return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
      ac->r = q;
      ac->cap = nc;
    }
    for (uint64_t k = 0; k < count; k++) {
      uint64_t page = rd_u(&r, 8), present = rd_u(&r, 1);
      const uint8_t *d = present == 1 ? rd_bytes(&r, ICX_PAGE_SIZE) : NULL;
      if (r.bad) return corrupt(err, fname, "truncated page record");
      if (present > 1 || page >= lim || (k && page <= last))
        return corrupt(err, fname, "bad page record");
      last = page;
      if (ac) ac->r[ac->n++] = (Rec){page, (*seq)++, d};
    }
  }
  return ICX_OK;
}

typedef struct Open {
  const uint8_t *p;
  uint64_t n;
  void *h;
} Open;

static icx_status build_maps(icxPmCtx *ctx, Manifest *m, Acc *acc, int verify, icxErr *err) {
  const icxAllocator *a = icxPm_ctx_allocator(ctx);
  for (uint32_t i = 0; i < m->nitems; i++) {
    MItem *it = &m->items[i];
    if (it->kind != ICX_CKPT_PAGES) continue;
    Acc *ac = &acc[i];
    if (ac->n) qsort(ac->r, (size_t)ac->n, sizeof(Rec), rec_cmp);
    icxPmWrite *w = icxCore_allocn(a, (size_t)ac->n + 1, sizeof *w);
    if (!w) return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
    uint64_t k = 0;
    for (uint64_t j = 0; j < ac->n; j++) {
      if (j + 1 < ac->n && ac->r[j + 1].page == ac->r[j].page) continue; /* later wins */
      w[k].page = ac->r[j].page;
      w[k].data = ac->r[j].data;
      k++;
    }
    icxPageMap *empty = icxPm_new(ctx, 0, err);
    icx_status rc = empty ? icxPm_update(empty, w, (size_t)k, it->size, &it->map, err) : ICX_ENOMEM;
    icxPm_unref(empty);
    icxCore_free(a, w, ((size_t)ac->n + 1) * sizeof *w);
    if (rc != ICX_OK) return rc;
    uint8_t h[H];
    icxPm_root_hash(it->map, h);
    if (verify && memcmp(h, it->hash, H) != 0)
      return icxErr_set(err, ICX_ECORRUPT,
                        "checkpoint item '%s': pages do not match the recorded root hash", it->name);
  }
  return ICX_OK;
}

static icx_status load_blobs(const icxAllocator *a, const Manifest *m, const Open *op,
                             icxCkptLoaded *out, int verify, icxErr *err) {
  for (uint32_t i = 0; i < m->nitems; i++) {
    const MItem *it = &m->items[i];
    icxCkptItem *o = &out->items[i];
    if (it->kind != ICX_CKPT_BLOB) continue;
    uint32_t fi = 0;
    while (m->files[fi].gen != it->blob_gen) fi++;
    if (it->blob_off > op[fi].n || it->size > op[fi].n - it->blob_off)
      return icxErr_set(err, ICX_ECORRUPT, "checkpoint item '%s': blob outside its file", it->name);
    if (it->size > SIZE_MAX - 1) return icxErr_set(err, ICX_ENOMEM, "checkpoint: blob too large");
    uint8_t *b = icxCore_alloc(a, (size_t)it->size + 1);
    if (!b) return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
    memcpy(b, op[fi].p + it->blob_off, (size_t)it->size);
    o->blob = b;
    o->blob_len = it->size;
    uint8_t h[H];
    hash_buf("icx.ckpt.blob", b, it->size, h);
    if (verify && memcmp(h, it->hash, H) != 0)
      return icxErr_set(err, ICX_ECORRUPT, "checkpoint item '%s': blob hash mismatch", it->name);
  }
  return ICX_OK;
}

void icxCkpt_loaded_free(const icxAllocator *a, icxCkptLoaded *l) {
  if (!l->items) return;
  for (uint32_t i = 0; i < l->n; i++) {
    icxCkptItem *it = &l->items[i];
    if (it->name) icxCore_free(a, (char *)it->name, strlen(it->name) + 1);
    if (it->blob) icxCore_free(a, (uint8_t *)it->blob, (size_t)it->blob_len + 1);
    icxPm_unref(it->map);
  }
  icxCore_free(a, l->items, sizeof(icxCkptItem) * ((size_t)l->n + 1));
  memset(l, 0, sizeof *l);
}

/* Load into *m (maps filled) and *out. */
static icx_status load_all(icxPmCtx *ctx, const icxCkptSrc *src, Manifest *m, icxCkptLoaded *out,
                           icxErr *err) {
  const icxAllocator *a = icxPm_ctx_allocator(ctx);
  memset(out, 0, sizeof *out);
  Open mf = {0};
  icx_status rc = src->open(src->ud, "MANIFEST", &mf.p, &mf.n, &mf.h, err);
  if (rc != ICX_OK) return rc;
  if (mf.n > ICX_CKPT_MAX_MANIFEST) rc = corrupt(err, "MANIFEST", "too large");
  else rc = parse_manifest(a, mf.p, mf.n, src->verify, m, err);
  src->close(src->ud, mf.h, mf.p, mf.n);
  if (rc != ICX_OK) return rc;
  Open op[ICX_CKPT_MAX_FILES];
  memset(op, 0, sizeof op);
  Acc *acc = icxCore_allocn(a, (size_t)m->nitems + 1, sizeof(Acc));
  if (!acc) {
    manifest_free(a, m);
    return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
  }
  uint32_t nopen = 0;
  uint64_t seq = 0;
  for (uint32_t i = 0; i < m->nfiles && rc == ICX_OK; i++) {
    char fname[40];
    data_name(fname, m->files[i].gen, 0);
    rc = src->open(src->ud, fname, &op[i].p, &op[i].n, &op[i].h, err);
    if (rc == ICX_ENOTFOUND) rc = corrupt(err, fname, "missing");
    if (rc != ICX_OK) break;
    nopen = i + 1;
    if (op[i].n != m->files[i].len) {
      rc = corrupt(err, fname, "length differs from the manifest (truncated or extended)");
      break;
    }
    uint8_t h[H];
    hash_buf("icx.ckpt.file", op[i].p, op[i].n, h);
    if (src->verify && memcmp(h, m->files[i].hash, H) != 0) {
      rc = corrupt(err, fname, "content hash mismatch (corrupted)");
      break;
    }
    rc = parse_data(a, m, &m->files[i], op[i].p, op[i].n, acc, &seq, fname, err);
  }
  if (rc == ICX_OK) rc = build_maps(ctx, m, acc, src->verify, err);
  if (rc == ICX_OK) {
    out->items = icxCore_allocn(a, (size_t)m->nitems + 1, sizeof(icxCkptItem));
    if (!out->items) rc = icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
  }
  if (rc == ICX_OK) {
    out->n = m->nitems;
    out->gen = m->gen;
    for (uint32_t i = 0; i < m->nitems && rc == ICX_OK; i++) {
      icxCkptItem *o = &out->items[i];
      char *nm = icxCore_alloc(a, (size_t)m->items[i].name_len + 1);
      if (!nm) {
        rc = icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
        break;
      }
      memcpy(nm, m->items[i].name, m->items[i].name_len);
      o->name = nm;
      o->kind = m->items[i].kind;
      if (o->kind == ICX_CKPT_PAGES) o->map = icxPm_ref(m->items[i].map);
    }
    if (rc == ICX_OK) rc = load_blobs(a, m, op, out, src->verify, err);
  }
  for (uint32_t i = 0; i < nopen; i++) src->close(src->ud, op[i].h, op[i].p, op[i].n);
  for (uint32_t i = 0; i < m->nitems; i++)
    if (acc[i].r) icxCore_free(a, acc[i].r, (size_t)acc[i].cap * sizeof(Rec));
  icxCore_free(a, acc, ((size_t)m->nitems + 1) * sizeof(Acc));
  if (rc != ICX_OK) {
    icxCkpt_loaded_free(a, out);
    manifest_free(a, m);
  }
  return rc;
}

icx_status icxCkpt_load_src(icxPmCtx *ctx, const icxCkptSrc *src, icxCkptLoaded *out,
                            icxErr *err) {
  Manifest m;
  icx_status rc = load_all(ctx, src, &m, out, err);
  if (rc == ICX_OK) manifest_free(icxPm_ctx_allocator(ctx), &m);
  return rc;
}

/* Directory source: files mapped read-only. */
static icx_status dir_open(void *ud, const char *name, const uint8_t **data, uint64_t *len,
                           void **handle, icxErr *err) {
  icxCkpt *c = ud;
  *data = NULL;
  *len = 0;
  *handle = NULL;
  int fd = openat(c->dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT)
      return icxErr_set(err, ICX_ENOTFOUND, "checkpoint: %s not found", name);
    return io_fail(err, "open", name, errno);
  }
  struct stat st;
  if (fstat(fd, &st) || st.st_size < 0) {
    close(fd);
    return io_fail(err, "stat", name, errno);
  }
  if (st.st_size > 0) {
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      close(fd);
      return io_fail(err, "mmap", name, errno);
    }
    *data = p;
  } else {
    *data = (const uint8_t *)"";
  }
  close(fd);
  *len = (uint64_t)st.st_size;
  return ICX_OK;
}

static void dir_close(void *ud, void *handle, const uint8_t *data, uint64_t len) {
  (void)ud;
  (void)handle;
  if (len) munmap((void *)(uintptr_t)data, (size_t)len);
}

icx_status icxCkpt_load(icxCkpt *c, icxCkptLoaded *out, icxErr *err) {
  icxCkptSrc src = {dir_open, dir_close, c, 1};
  Manifest m;
  icx_status rc = load_all(c->ctx, &src, &m, out, err);
  if (rc != ICX_OK) return rc;
  manifest_free(&c->alloc, &c->cur);
  c->cur = m; /* the next save is incremental against what was loaded */
  return ICX_OK;
}
