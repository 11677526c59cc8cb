/* pagemap.c -- persistent radix tree of 4 KiB pages with cached Merkle
 * hashes (see pagemap.h and docs/memory.md). */
#include "pagemap.h"

#include <blake2.h>
#include <sodium.h>
#include <stdatomic.h>

/* A tree node: a page (level 0) or an inner node (levels 1..6).  Immutable
 * once published; only rc changes. */
typedef struct PmNode {
  _Atomic uint32_t rc;
  uint8_t level;
  uint8_t hashed; /* hash is valid (then so are the hashes of every descendant) */
  uint16_t count; /* inner: present children */
  uint8_t hash[ICX_HASH_BYTES];
} PmNode;

typedef struct PmPage {
  PmNode h;
  uint8_t data[ICX_PAGE_SIZE];
} PmPage;

typedef struct PmInner {
  PmNode h;
  PmNode *child[ICX_PM_FANOUT];
} PmInner;

struct icxPmCtx {
  icxAllocator alloc;
  _Atomic uint32_t refs; /* the creator's reference + icxPm_ctx_ref */
  _Atomic uint64_t bytes;
  uint8_t zero[ICX_PM_LEVELS + 1][ICX_HASH_BYTES]; /* Z(0..6) */
};

struct icxPageMap {
  _Atomic uint32_t rc;
  icxPmCtx *ctx;
  uint64_t size;
  uint64_t npages, nnodes;
  PmNode *top; /* level ICX_PM_LEVELS, NULL when empty */
  uint8_t hashed; /* hash (and every node's) is valid: see icxPm_seal */
  uint8_t hash[ICX_HASH_BYTES];
};

/* ---- hashing ------------------------------------------------------------ */

static void b2(const char *pers, const void *a, size_t na, const void *b, size_t nb,
               uint8_t out[ICX_HASH_BYTES]) {
  blake2b_param P;
  memset(&P, 0, sizeof P);
  P.digest_length = ICX_HASH_BYTES;
  P.fanout = 1;
  P.depth = 1;
  memcpy(P.personal, pers, strlen(pers)); /* <= 16, rest zero */
  blake2b_state S;
  blake2b_init_param(&S, &P);
  if (na) blake2b_update(&S, a, na);
  if (nb) blake2b_update(&S, b, nb);
  blake2b_final(&S, out, ICX_HASH_BYTES);
}

int icxPm_is_zero(const uint8_t *d) {
  uint64_t acc = 0;
  for (size_t i = 0; i < ICX_PAGE_SIZE; i += 8) acc |= icx_rd64(d + i);
  return acc == 0;
}

/* Leaves are the hot path (every dirty page of every commit): they are
 * hashed with libsodium's BLAKE2b, which picks an AVX2/SSSE3 code path at
 * run time and is about 25% faster here than libb2's build.  It is the same
 * function with the same parameter block (digest 32, fanout 1, depth 1, no
 * key, zero salt, personalization "icx.mem.page"), so the bytes are
 * libb2's: icxPm_page_hash_b2 computes them with libb2, and
 * tests/unit_pagemap.c requires the two to agree. */
void icxPm_page_hash(const uint8_t *data, uint8_t out[ICX_HASH_BYTES]) {
  uint8_t zeros[ICX_PAGE_SIZE];
  if (!data) {
    memset(zeros, 0, sizeof zeros);
    data = zeros;
  }
  static const uint8_t salt[crypto_generichash_blake2b_SALTBYTES] = {0};
  static const uint8_t pers[crypto_generichash_blake2b_PERSONALBYTES] = "icx.mem.page";
  if (crypto_generichash_blake2b_salt_personal(out, ICX_HASH_BYTES, data, ICX_PAGE_SIZE, NULL, 0,
                                               salt, pers) != 0)
    b2("icx.mem.page", data, ICX_PAGE_SIZE, NULL, 0, out); /* cannot happen: sizes are valid */
}

void icxPm_page_hash_b2(const uint8_t *data, uint8_t out[ICX_HASH_BYTES]) {
  b2("icx.mem.page", data, ICX_PAGE_SIZE, NULL, 0, out);
}

static void inner_hash(const icxPmCtx *ctx, PmInner *n) {
  uint8_t buf[ICX_PM_FANOUT * ICX_HASH_BYTES];
  const uint8_t *z = ctx->zero[n->h.level - 1];
  for (unsigned i = 0; i < ICX_PM_FANOUT; i++)
    memcpy(buf + i * ICX_HASH_BYTES, n->child[i] ? n->child[i]->hash : z, ICX_HASH_BYTES);
  b2("icx.mem.node", buf, sizeof buf, NULL, 0, n->h.hash);
}

static void root_hash(icxPageMap *m) {
  uint8_t le[8];
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)(m->size >> (8 * i));
  b2("icx.mem.root", le, 8, m->top ? m->top->hash : m->ctx->zero[ICX_PM_LEVELS], ICX_HASH_BYTES,
     m->hash);
  m->hashed = 1;
}

/* Compute the missing hashes of the subtree at n (children first).  Nodes
 * made by a deferred update are the only unhashed ones, and a hashed node
 * has only hashed descendants, so this visits the new nodes only. */
static void seal_node(const icxPmCtx *ctx, PmNode *n) {
  if (!n || n->hashed) return;
  if (n->level == 0) {
    icxPm_page_hash(((PmPage *)n)->data, n->hash);
  } else {
    PmInner *in = (PmInner *)n;
    for (unsigned i = 0; i < ICX_PM_FANOUT; i++) seal_node(ctx, in->child[i]);
    inner_hash(ctx, in);
  }
  n->hashed = 1;
}

void icxPm_seal(const icxPageMap *cm) {
  icxPageMap *m = (icxPageMap *)cm; /* the cached hashes are not part of the value */
  if (m->hashed) return;
  seal_node(m->ctx, m->top);
  root_hash(m);
}

/* ---- context ------------------------------------------------------------- */

icxPmCtx *icxPm_ctx_new(const icxAllocator *a) {
  icxPmCtx *c = icxCore_alloc(a, sizeof *c);
  if (!c) return NULL;
  c->alloc = *a;
  atomic_init(&c->refs, 1);
  atomic_init(&c->bytes, 0);
  /* selects libsodium's fastest BLAKE2b for this CPU; idempotent and
   * thread-safe; on failure the portable implementation is used */
  if (sodium_init() < 0) { /* the portable implementation then */
  }
  icxPm_page_hash(NULL, c->zero[0]);
  uint8_t buf[ICX_PM_FANOUT * ICX_HASH_BYTES];
  for (unsigned l = 1; l <= ICX_PM_LEVELS; l++) {
    for (unsigned i = 0; i < ICX_PM_FANOUT; i++)
      memcpy(buf + i * ICX_HASH_BYTES, c->zero[l - 1], ICX_HASH_BYTES);
    b2("icx.mem.node", buf, sizeof buf, NULL, 0, c->zero[l]);
  }
  return c;
}

icxPmCtx *icxPm_ctx_ref(icxPmCtx *ctx) {
  if (ctx) atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
  return ctx;
}

void icxPm_ctx_unref(icxPmCtx *ctx) {
  if (!ctx || atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1) return;
  icxAllocator a = ctx->alloc;
  icxCore_free(&a, ctx, sizeof *ctx);
}

void icxPm_ctx_free(icxPmCtx *ctx) { icxPm_ctx_unref(ctx); }

uint64_t icxPm_ctx_bytes(const icxPmCtx *ctx) {
  return atomic_load_explicit(&((icxPmCtx *)ctx)->bytes, memory_order_relaxed);
}
const icxAllocator *icxPm_ctx_allocator(const icxPmCtx *ctx) { return &ctx->alloc; }

/* ---- nodes ------------------------------------------------------------------ */

static size_t node_bytes(const PmNode *n) { return n->level ? sizeof(PmInner) : sizeof(PmPage); }

static void *node_alloc(icxPmCtx *ctx, unsigned level) {
  size_t sz = level ? sizeof(PmInner) : sizeof(PmPage);
  PmNode *n = icxCore_alloc(&ctx->alloc, sz);
  if (!n) return NULL;
  atomic_init(&n->rc, 1);
  n->level = (uint8_t)level;
  n->hashed = 0;
  atomic_fetch_add_explicit(&ctx->bytes, sz, memory_order_relaxed);
  return n;
}

static PmNode *node_ref(PmNode *n) {
  if (n) atomic_fetch_add_explicit(&n->rc, 1, memory_order_relaxed);
  return n;
}

static void node_unref(icxPmCtx *ctx, PmNode *n) {
  if (!n) return;
  if (atomic_fetch_sub_explicit(&n->rc, 1, memory_order_acq_rel) != 1) return;
  if (n->level) {
    PmInner *in = (PmInner *)n;
    for (unsigned i = 0; i < ICX_PM_FANOUT; i++) node_unref(ctx, in->child[i]);
  }
  size_t sz = node_bytes(n);
  atomic_fetch_sub_explicit(&ctx->bytes, sz, memory_order_relaxed);
  icxCore_free(&ctx->alloc, n, sz);
}

static unsigned child_index(uint64_t page, unsigned level) {
  return (unsigned)(page >> (ICX_PM_BITS * (level - 1))) & (ICX_PM_FANOUT - 1);
}

/* ---- maps ------------------------------------------------------------------- */

static icxPageMap *map_alloc(icxPmCtx *ctx, uint64_t size, icxErr *err) {
  icxPageMap *m = icxCore_alloc(&ctx->alloc, sizeof *m);
  if (!m) {
    icxErr_set(err, ICX_ENOMEM, "page map: out of memory");
    return NULL;
  }
  atomic_init(&m->rc, 1);
  m->ctx = ctx;
  m->size = size;
  return m;
}

icxPageMap *icxPm_new(icxPmCtx *ctx, uint64_t size, icxErr *err) {
  icxPageMap *m = map_alloc(ctx, size, err);
  if (m) root_hash(m);
  return m;
}

icxPageMap *icxPm_ref(icxPageMap *m) {
  atomic_fetch_add_explicit(&m->rc, 1, memory_order_relaxed);
  return m;
}

void icxPm_unref(icxPageMap *m) {
  if (!m) return;
  if (atomic_fetch_sub_explicit(&m->rc, 1, memory_order_acq_rel) != 1) return;
  icxPmCtx *ctx = m->ctx;
  node_unref(ctx, m->top);
  icxCore_free(&ctx->alloc, m, sizeof *m);
}

icxPmCtx *icxPm_ctx(const icxPageMap *m) { return m->ctx; }
uint64_t icxPm_size(const icxPageMap *m) { return m->size; }
uint64_t icxPm_npages(const icxPageMap *m) { return m->npages; }
uint64_t icxPm_resident_bytes(const icxPageMap *m) {
  return m->npages * sizeof(PmPage) + m->nnodes * sizeof(PmInner) + sizeof *m;
}
void icxPm_root_hash(const icxPageMap *m, uint8_t out[ICX_HASH_BYTES]) {
  icxPm_seal(m);
  memcpy(out, m->hash, ICX_HASH_BYTES);
}
int icxPm_sealed(const icxPageMap *m) { return m->hashed; }

static const PmNode *lookup(const icxPageMap *m, uint64_t page, unsigned *level) {
  const PmNode *n = m->top;
  unsigned l = ICX_PM_LEVELS;
  if (page >= ICX_PM_MAX_PAGES) n = NULL;
  while (n && l > 0) {
    n = ((const PmInner *)n)->child[child_index(page, l)];
    l--;
  }
  *level = l;
  return n;
}

const uint8_t *icxPm_get(const icxPageMap *m, uint64_t page) {
  unsigned l;
  const PmNode *n = lookup(m, page, &l);
  return n ? ((const PmPage *)n)->data : NULL;
}

void icxPm_page_hash_at(const icxPageMap *m, uint64_t page, uint8_t out[ICX_HASH_BYTES]) {
  icxPm_seal(m);
  unsigned l;
  const PmNode *n = lookup(m, page, &l);
  memcpy(out, n ? n->hash : m->ctx->zero[0], ICX_HASH_BYTES);
}

/* ---- update (path copying) ----------------------------------------------- */

typedef struct Upd {
  icxPmCtx *ctx;
  int64_t dpages, dnodes;
  int defer; /* leave the new nodes unhashed (icxPm_update_deferred) */
} Upd;

/* The new subtree at `level` for old (borrowed, may be NULL) with writes
 * w[0..n) (all inside it).  *out gets a reference.  -1 on OOM. */
static int upd(Upd *u, PmNode *old, unsigned level, const icxPmWrite *w, size_t n, PmNode **out) {
  if (level == 0) {
    const uint8_t *d = w[0].data;
    if (!d || icxPm_is_zero(d)) {
      *out = NULL;
      if (old) u->dpages--;
      return 0;
    }
    if (old && memcmp(((PmPage *)old)->data, d, ICX_PAGE_SIZE) == 0) {
      *out = node_ref(old);
      return 0;
    }
    PmPage *p = node_alloc(u->ctx, 0);
    if (!p) return -1;
    memcpy(p->data, d, ICX_PAGE_SIZE);
    if (!u->defer) {
      icxPm_page_hash(p->data, p->h.hash);
      p->h.hashed = 1;
    }
    if (!old) u->dpages++;
    *out = &p->h;
    return 0;
  }
  PmNode *const *oc = old ? ((PmInner *)old)->child : NULL;
  PmNode *nc[ICX_PM_FANOUT];
  uint8_t fresh[ICX_PM_FANOUT]; /* nc[i] holds a reference returned by upd */
  int changed = 0;
  unsigned count = 0;
  for (unsigned i = 0; i < ICX_PM_FANOUT; i++) {
    nc[i] = oc ? oc[i] : NULL;
    fresh[i] = 0;
  }
  size_t k = 0;
  while (k < n) {
    unsigned ci = child_index(w[k].page, level);
    size_t e = k + 1;
    while (e < n && child_index(w[e].page, level) == ci) e++;
    PmNode *r;
    if (upd(u, nc[ci], level - 1, w + k, e - k, &r)) {
      for (unsigned i = 0; i < ICX_PM_FANOUT; i++)
        if (fresh[i]) node_unref(u->ctx, nc[i]);
      return -1;
    }
    if (r != nc[ci]) changed = 1;
    nc[ci] = r;
    fresh[ci] = 1;
    k = e;
  }
  for (unsigned i = 0; i < ICX_PM_FANOUT; i++) count += nc[i] != NULL;
  if (!changed || count == 0) {
    for (unsigned i = 0; i < ICX_PM_FANOUT; i++)
      if (fresh[i]) node_unref(u->ctx, nc[i]);
    *out = count ? node_ref(old) : NULL;
    if (!count && old) u->dnodes--;
    return 0;
  }
  PmInner *in = node_alloc(u->ctx, level);
  if (!in) {
    for (unsigned i = 0; i < ICX_PM_FANOUT; i++)
      if (fresh[i]) node_unref(u->ctx, nc[i]);
    return -1;
  }
  for (unsigned i = 0; i < ICX_PM_FANOUT; i++) in->child[i] = fresh[i] ? nc[i] : node_ref(nc[i]);
  in->h.count = (uint16_t)count;
  if (!u->defer) { /* (children shared from an unsealed base get their hashes first) */
    for (unsigned i = 0; i < ICX_PM_FANOUT; i++) seal_node(u->ctx, in->child[i]);
    inner_hash(u->ctx, in);
    in->h.hashed = 1;
  }
  if (!old) u->dnodes++;
  *out = &in->h;
  return 0;
}

static icx_status update(const icxPageMap *base, const icxPmWrite *w, size_t n, uint64_t new_size,
                         int defer, icxPageMap **out, icxErr *err) {
  *out = NULL;
  for (size_t i = 0; i < n; i++) {
    if (w[i].page >= ICX_PM_MAX_PAGES || (i && w[i].page <= w[i - 1].page))
      return icxErr_set(err, ICX_EINVAL, "page map update: write %zu: page %llu out of order or range",
                        i, (unsigned long long)w[i].page);
  }
  icxPmCtx *ctx = base->ctx;
  icxPageMap *m = map_alloc(ctx, new_size, err);
  if (!m) return ICX_ENOMEM;
  Upd u = {ctx, 0, 0, defer};
  if (n == 0) {
    m->top = node_ref(base->top);
  } else if (upd(&u, base->top, ICX_PM_LEVELS, w, n, &m->top)) {
    icxCore_free(&ctx->alloc, m, sizeof *m);
    return icxErr_set(err, ICX_ENOMEM, "page map update: out of memory");
  }
  m->npages = (uint64_t)((int64_t)base->npages + u.dpages);
  m->nnodes = (uint64_t)((int64_t)base->nnodes + u.dnodes);
  if (!defer) {
    seal_node(ctx, m->top); /* (a no-op unless base was unsealed and n == 0) */
    root_hash(m);
  }
  *out = m;
  return ICX_OK;
}

icx_status icxPm_update(const icxPageMap *base, const icxPmWrite *w, size_t n, uint64_t new_size,
                        icxPageMap **out, icxErr *err) {
  return update(base, w, n, new_size, 0, out, err);
}

icx_status icxPm_update_deferred(const icxPageMap *base, const icxPmWrite *w, size_t n,
                                 uint64_t new_size, icxPageMap **out, icxErr *err) {
  return update(base, w, n, new_size, 1, out, err);
}

/* ---- traversal ------------------------------------------------------------- */

/* Subtrees equal by pointer or by cached hash (collision resistance: equal
 * content) are skipped, so two maps built independently (one loaded from a
 * checkpoint) still diff in O(pages changed). */
static int same(const PmNode *a, const PmNode *b) {
  return a == b || (a && b && memcmp(a->hash, b->hash, ICX_HASH_BYTES) == 0);
}

static int diff_rec(const PmNode *a, const PmNode *b, unsigned level, uint64_t base, icxPmVisit fn,
                    void *ud) {
  if (same(a, b)) return 0;
  if (level == 0) return fn(ud, base, b ? ((const PmPage *)b)->data : NULL);
  const PmInner *ia = (const PmInner *)a, *ib = (const PmInner *)b;
  uint64_t span = 1ull << (ICX_PM_BITS * (level - 1));
  for (unsigned i = 0; i < ICX_PM_FANOUT; i++) {
    const PmNode *ca = ia ? ia->child[i] : NULL, *cb = ib ? ib->child[i] : NULL;
    if (same(ca, cb)) continue;
    int r = diff_rec(ca, cb, level - 1, base + i * span, fn, ud);
    if (r) return r;
  }
  return 0;
}

int icxPm_diff(const icxPageMap *a, const icxPageMap *b, icxPmVisit fn, void *ud) {
  if (a) icxPm_seal(a);
  icxPm_seal(b);
  return diff_rec(a ? a->top : NULL, b->top, ICX_PM_LEVELS, 0, fn, ud);
}

int icxPm_foreach(const icxPageMap *m, icxPmVisit fn, void *ud) {
  return diff_rec(NULL, m->top, ICX_PM_LEVELS, 0, fn, ud);
}
