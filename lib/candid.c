/* candid.c -- Candid binary encoder and schema-driven decoder (candid.h,
 * docs/principals-candid.md).
 *
 * Decoder outline: check "DIDL", read and validate the type table and the
 * argument types, then walk the values once.  Each wire value is either
 * coerced to an expected type (coerce), read as its own wire type (generic,
 * which also skips values when no output node is given).  Work is bounded
 * by a step counter, recursion by a depth limit, memory by an allocation
 * budget; every count read from the input is checked against what the
 * remaining input or budget can hold before anything is allocated. */
#include "candid.h"

#define ANY_TYPE INT32_MIN /* "no expected type": decode as on the wire */
#define DEF_MAX_DEPTH 128u
#define DEF_MAX_STEPS 20000000u
#define DEF_MAX_ALLOC ((size_t)128 << 20)
#define ENC_MAX_DEPTH 128u
#define ARENA_BLOCK 8192u

/* ---- hashing, type tables ---------------------------------------------------- */

uint32_t icxCandid_hash(const char *name) {
  uint32_t h = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = h * 223u + *p;
  return h;
}

void icxCandidTypes_init(icxCandidTypes *t, const icxAllocator *a) {
  memset(t, 0, sizeof *t);
  t->alloc = *a;
}

void icxCandidTypes_free(icxCandidTypes *t) {
  if (t == NULL) return;
  icxCore_free(&t->alloc, t->entries, (size_t)t->cap * sizeof *t->entries);
  icxCore_free(&t->alloc, t->fields, (size_t)t->fields_cap * sizeof *t->fields);
  t->entries = NULL;
  t->fields = NULL;
  t->n = t->cap = t->nfields = t->fields_cap = 0;
}

/* Bytes of a fixed-width primitive (nat8..int64, float32/64), by type code
 * (ICX_CT_NAT8 down to ICX_CT_FLOAT64). */
static unsigned fixed_width(int k) {
  static const uint8_t size[10] = {1, 2, 4, 8, 1, 2, 4, 8, 4, 8};
  return size[ICX_CT_NAT8 - k];
}

static int is_primitive(int32_t ref) {
  return (ref <= ICX_CT_NULL && ref >= ICX_CT_EMPTY) || ref == ICX_CT_PRINCIPAL;
}

int32_t icxCandidTypes_kind(const icxCandidTypes *t, int32_t ref) {
  if (ref < 0) return is_primitive(ref) ? ref : 0;
  if (t == NULL || (uint32_t)ref >= t->n) return 0;
  return t->entries[ref].kind;
}

static int ref_ok(const icxCandidTypes *t, int32_t ref) { return icxCandidTypes_kind(t, ref) != 0; }

static icx_status grow_entries(icxCandidTypes *t, uint32_t need, icxErr *err) {
  if (need <= t->cap) return ICX_OK;
  uint32_t nc = t->cap ? t->cap : 8;
  while (nc < need) nc = nc > UINT32_MAX / 2 ? need : nc * 2;
  void *p = icxCore_realloc(&t->alloc, t->entries, (size_t)t->cap * sizeof *t->entries,
                            (size_t)nc * sizeof *t->entries);
  if (!p) return icxErr_set(err, ICX_ENOMEM, "candid: out of memory (type table)");
  t->entries = p;
  t->cap = nc;
  return ICX_OK;
}

static icx_status grow_fields(icxCandidTypes *t, uint32_t need, icxErr *err) {
  if (need <= t->fields_cap) return ICX_OK;
  uint32_t nc = t->fields_cap ? t->fields_cap : 16;
  while (nc < need) nc = nc > UINT32_MAX / 2 ? need : nc * 2;
  void *p = icxCore_realloc(&t->alloc, t->fields, (size_t)t->fields_cap * sizeof *t->fields,
                            (size_t)nc * sizeof *t->fields);
  if (!p) return icxErr_set(err, ICX_ENOMEM, "candid: out of memory (type table)");
  t->fields = p;
  t->fields_cap = nc;
  return ICX_OK;
}

static icx_status add_inner(icxCandidTypes *t, int32_t kind, int32_t inner, int32_t *out,
                            icxErr *err) {
  if (out) *out = 0;
  if (!ref_ok(t, inner)) return icxErr_set(err, ICX_EINVAL, "candid: bad element type %d", inner);
  if (t->n >= (uint32_t)INT32_MAX) return icxErr_set(err, ICX_ELIMIT, "candid: type table full");
  icx_status rc = grow_entries(t, t->n + 1, err);
  if (rc) return rc;
  icxCandidEntry *e = &t->entries[t->n];
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->inner = inner;
  *out = (int32_t)t->n++;
  return ICX_OK;
}

icx_status icxCandidTypes_opt(icxCandidTypes *t, int32_t inner, int32_t *out, icxErr *err) {
  return add_inner(t, ICX_CT_OPT, inner, out, err);
}

icx_status icxCandidTypes_vec(icxCandidTypes *t, int32_t inner, int32_t *out, icxErr *err) {
  return add_inner(t, ICX_CT_VEC, inner, out, err);
}

static icx_status add_fields(icxCandidTypes *t, int32_t kind, const icxCandidFieldSpec *f,
                             size_t n, int32_t *out, icxErr *err) {
  if (out) *out = 0;
  if (n > 0 && f == NULL) return icxErr_set(err, ICX_EINVAL, "candid: NULL fields");
  if (n > 100000 || t->n >= (uint32_t)INT32_MAX || t->nfields > UINT32_MAX - 100000u)
    return icxErr_set(err, ICX_ELIMIT, "candid: too many fields");
  icx_status rc = grow_fields(t, t->nfields + (uint32_t)n, err);
  if (rc) return rc;
  rc = grow_entries(t, t->n + 1, err);
  if (rc) return rc;
  icxCandidField *dst = t->fields + t->nfields;
  for (size_t i = 0; i < n; i++) {
    if (!ref_ok(t, f[i].type))
      return icxErr_set(err, ICX_EINVAL, "candid: bad field type %d", f[i].type);
    icxCandidField x;
    memset(&x, 0, sizeof x);
    x.id = f[i].name ? icxCandid_hash(f[i].name) : f[i].id;
    x.type = f[i].type;
    /* insertion sort by id; equal ids are an error */
    size_t j = i;
    while (j > 0 && dst[j - 1].id > x.id) {
      dst[j] = dst[j - 1];
      j--;
    }
    if (j > 0 && dst[j - 1].id == x.id) {
      return icxErr_set(err, ICX_EINVAL, "candid: duplicate field id %u", (unsigned)x.id);
    }
    dst[j] = x;
  }
  icxCandidEntry *e = &t->entries[t->n];
  memset(e, 0, sizeof *e);
  e->kind = kind;
  e->first = t->nfields;
  e->nfields = (uint32_t)n;
  t->nfields += (uint32_t)n;
  *out = (int32_t)t->n++;
  return ICX_OK;
}

icx_status icxCandidTypes_record(icxCandidTypes *t, const icxCandidFieldSpec *f, size_t n,
                                 int32_t *out, icxErr *err) {
  return add_fields(t, ICX_CT_RECORD, f, n, out, err);
}

icx_status icxCandidTypes_variant(icxCandidTypes *t, const icxCandidFieldSpec *f, size_t n,
                                  int32_t *out, icxErr *err) {
  return add_fields(t, ICX_CT_VARIANT, f, n, out, err);
}

/* ---- UTF-8 ------------------------------------------------------------------- */

/* 1 if p[0..n) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
static int utf8_ok(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0) {
      k = 1;
      cp = c & 0x1fu;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      k = 2;
      cp = c & 0x0fu;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      k = 3;
      cp = c & 0x07u;
      min = 0x10000;
    } else {
      return 0;
    }
    if (n - i <= k) return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((p[i + j] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (p[i + j] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += k + 1;
  }
  return 1;
}

/* ---- decoder state ----------------------------------------------------------- */

typedef struct ArenaBlock {
  struct ArenaBlock *next;
  size_t size, used;
} ArenaBlock;

typedef struct Pair {
  int32_t w, e;
} Pair;

typedef struct Dec {
  const uint8_t *start, *p, *end;
  icxCandidDoc *doc;
  const icxCandidTypes *wt, *et;
  icxErr *err;
  uint64_t steps, max_steps;
  uint32_t max_depth;
  size_t max_alloc;
  Pair *assumed; /* in-progress subtype checks (max_depth entries) */
  uint32_t nassumed;
} Dec;

static size_t off(const Dec *d) { return (size_t)(d->p - d->start); }

static icx_status malformed(Dec *d, const char *what) {
  return icxErr_set(d->err, ICX_EMALFORMED, "candid: %s at byte %zu", what, off(d));
}

static icx_status charge(Dec *d, size_t bytes) {
  if (bytes > d->max_alloc || d->doc->allocated > d->max_alloc - bytes)
    return icxErr_set(d->err, ICX_ELIMIT, "candid: decoding needs more than %zu bytes of memory",
                      d->max_alloc);
  d->doc->allocated += bytes;
  return ICX_OK;
}

static icx_status step(Dec *d) {
  if (++d->steps > d->max_steps)
    return icxErr_set(d->err, ICX_ELIMIT, "candid: more than %llu decoding steps",
                      (unsigned long long)d->max_steps);
  return ICX_OK;
}

/* count zeroed value nodes from the arena (count > 0). */
static icx_status arena_nodes(Dec *d, uint64_t count, icxCandidValue **out) {
  *out = NULL;
  if (count > (SIZE_MAX - 64) / sizeof(icxCandidValue))
    return icxErr_set(d->err, ICX_ELIMIT, "candid: too many values");
  size_t bytes = (size_t)count * sizeof(icxCandidValue);
  icx_status rc = charge(d, bytes);
  if (rc) return rc;
  ArenaBlock *b = d->doc->arena;
  if (b == NULL || b->size - b->used < bytes) {
    size_t hdr = (sizeof(ArenaBlock) + 15u) & ~(size_t)15u;
    size_t sz = bytes > ARENA_BLOCK ? bytes : ARENA_BLOCK;
    ArenaBlock *nb = icxCore_alloc(&d->doc->alloc, hdr + sz);
    if (nb == NULL) return icxErr_set(d->err, ICX_ENOMEM, "candid: out of memory");
    nb->size = sz;
    nb->used = 0;
    if (b != NULL && b->size - b->used >= ARENA_BLOCK / 4 && bytes > ARENA_BLOCK) {
      /* keep bump-allocating from the current block: put the big one behind */
      nb->next = b->next;
      b->next = nb;
      nb->used = bytes;
      *out = (icxCandidValue *)(void *)((char *)nb + hdr);
      return ICX_OK;
    }
    nb->next = b;
    d->doc->arena = nb;
    b = nb;
  }
  size_t hdr = (sizeof(ArenaBlock) + 15u) & ~(size_t)15u;
  *out = (icxCandidValue *)(void *)((char *)b + hdr + b->used);
  memset(*out, 0, bytes);
  b->used += bytes;
  return ICX_OK;
}

static icx_status rd_byte(Dec *d, uint8_t *v) {
  *v = 0;
  if (d->p >= d->end) return malformed(d, "unexpected end of input");
  *v = *d->p++;
  return ICX_OK;
}

static icx_status rd_bytes(Dec *d, uint64_t n, const uint8_t **out) {
  *out = NULL;
  if (n > (uint64_t)(d->end - d->p)) return malformed(d, "length past the end of input");
  *out = d->p;
  d->p += n;
  return ICX_OK;
}

/* ULEB128 into 64 bits (at most 10 bytes, no overflow). */
static icx_status rd_uleb(Dec *d, uint64_t *v) {
  uint64_t r = 0;
  *v = 0;
  for (unsigned shift = 0;; shift += 7) {
    uint8_t b;
    icx_status rc = rd_byte(d, &b);
    if (rc) return rc;
    if (shift == 63 && (b & 0x7e)) return malformed(d, "LEB128 value exceeds 64 bits");
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
    if (shift == 63) return malformed(d, "LEB128 value exceeds 64 bits");
  }
  *v = r;
  return ICX_OK;
}

/* SLEB128 into int64 (at most 10 bytes). */
static icx_status rd_sleb(Dec *d, int64_t *v) {
  uint64_t r = 0;
  *v = 0;
  unsigned shift = 0;
  uint8_t b;
  for (;;) {
    icx_status rc = rd_byte(d, &b);
    if (rc) return rc;
    if (shift == 63) {
      /* last byte: one payload bit, the rest must be its sign extension */
      if ((b & 0x80) || ((b & 0x7f) != 0 && (b & 0x7f) != 0x7f))
        return malformed(d, "signed LEB128 value exceeds 64 bits");
      r |= (uint64_t)(b & 1) << 63;
      shift += 7;
      break;
    }
    r |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) break;
  }
  if (shift < 64 && (b & 0x40)) r |= ~(uint64_t)0 << shift;
  memcpy(v, &r, sizeof r);
  return ICX_OK;
}

static icx_status rd_u32(Dec *d, uint32_t *v, const char *what) {
  uint64_t x;
  icx_status rc = rd_uleb(d, &x);
  if (rc) return rc;
  if (x > UINT32_MAX) return malformed(d, what);
  *v = (uint32_t)x;
  return ICX_OK;
}

static icx_status rd_typeref(Dec *d, int32_t *v) {
  int64_t x;
  icx_status rc = rd_sleb(d, &x);
  if (rc) return rc;
  if (x < INT32_MIN + 1 || x > INT32_MAX) return malformed(d, "type reference out of range");
  *v = (int32_t)x;
  return ICX_OK;
}

/* nat: ULEB128 of any length; kept values must fit in 128 bits. */
static icx_status rd_nat(Dec *d, uint64_t w[2], int keep) {
  w[0] = w[1] = 0;
  int big = 0;
  for (uint64_t shift = 0;; shift += 7) {
    uint8_t b;
    icx_status rc = rd_byte(d, &b);
    if (rc) return rc;
    uint64_t pay = b & 0x7fu;
    if (shift < 64) {
      w[0] |= pay << shift;
      if (shift > 57) w[1] |= pay >> (64 - shift);
    } else if (shift < 128) {
      w[1] |= pay << (shift - 64);
      if (shift > 121 && (pay >> (128 - shift))) big = 1;
    } else if (pay) {
      big = 1;
    }
    if (!(b & 0x80)) break;
  }
  if (big && keep)
    return icxErr_set(d->err, ICX_EINVAL, "candid: nat value exceeds 128 bits at byte %zu", off(d));
  return ICX_OK;
}

/* int: SLEB128 of any length; kept values must fit in 128-bit two's complement. */
static icx_status rd_int(Dec *d, uint64_t w[2], int keep) {
  const uint8_t *s = d->p;
  uint8_t b;
  size_t n = 0;
  do {
    icx_status rc = rd_byte(d, &b);
    if (rc) return rc;
    n++;
  } while (b & 0x80);
  w[0] = w[1] = 0;
  unsigned sign = (b >> 6) & 1u;
  int big = 0;
  for (size_t i = 0; i < n; i++) {
    for (unsigned j = 0; j < 7; j++) {
      uint64_t pos = (uint64_t)i * 7 + j;
      unsigned bit = (s[i] >> j) & 1u;
      if (pos < 128) {
        if (bit) w[pos / 64] |= (uint64_t)1 << (pos % 64);
      }
      if (pos >= 127 && bit != sign) big = 1;
    }
  }
  uint64_t total = (uint64_t)n * 7;
  if (sign && total < 128) {
    for (uint64_t pos = total; pos < 128; pos++) w[pos / 64] |= (uint64_t)1 << (pos % 64);
  }
  if (big && keep)
    return icxErr_set(d->err, ICX_EINVAL, "candid: int value exceeds 128 bits at byte %zu", off(d));
  return ICX_OK;
}

/* ---- type table ------------------------------------------------------------------ */

static icx_status read_table(Dec *d) {
  icxCandidTypes *t = &d->doc->wire;
  uint64_t n;
  icx_status rc = rd_uleb(d, &n);
  if (rc) return rc;
  if (n > (uint64_t)(d->end - d->p)) return malformed(d, "type table count exceeds the input");
  if (n >= (uint64_t)INT32_MAX) return malformed(d, "type table too large");
  if (n) {
    ICX_TRY(charge(d, (size_t)n * sizeof(icxCandidEntry)));
    ICX_TRY(grow_entries(t, (uint32_t)n, d->err));
  }
  t->n = (uint32_t)n;
  if (n) memset(t->entries, 0, (size_t)n * sizeof *t->entries);
  for (uint32_t i = 0; i < t->n; i++) {
    icxCandidEntry *e = &t->entries[i];
    int32_t op;
    ICX_TRY(step(d));
    ICX_TRY(rd_typeref(d, &op));
    e->kind = op;
    switch (op) {
    case ICX_CT_OPT:
    case ICX_CT_VEC: ICX_TRY(rd_typeref(d, &e->inner)); break;
    case ICX_CT_RECORD:
    case ICX_CT_VARIANT:
    case ICX_CT_FUNC:
    case ICX_CT_SERVICE: {
      int nparts = op == ICX_CT_FUNC ? 2 : 1;
      e->first = t->nfields;
      for (int part = 0; part < nparts; part++) {
        uint64_t cnt;
        ICX_TRY(rd_uleb(d, &cnt));
        if (cnt > (uint64_t)(d->end - d->p)) {
          rc = malformed(d, "field count exceeds the input");
          goto fail;
        }
        if (cnt > UINT32_MAX - t->nfields - 1u) {
          rc = malformed(d, "too many fields");
          goto fail;
        }
        uint32_t need = t->nfields + (uint32_t)cnt;
        if (need > t->fields_cap) {
          uint32_t old = t->fields_cap;
          ICX_TRY(grow_fields(t, need, d->err));
          ICX_TRY(charge(d, (size_t)(t->fields_cap - old) * sizeof(icxCandidField)));
        }
        for (uint64_t k = 0; k < cnt; k++) {
          icxCandidField *f = &t->fields[t->nfields];
          memset(f, 0, sizeof *f);
          ICX_TRY(step(d));
          if (op == ICX_CT_SERVICE) {
            uint64_t len;
            ICX_TRY(rd_uleb(d, &len));
            ICX_TRY(rd_bytes(d, len, &f->name));
            if (len > UINT32_MAX || !utf8_ok(f->name, (size_t)len)) {
              rc = malformed(d, "service method name is not UTF-8");
              goto fail;
            }
            f->name_len = (uint32_t)len;
            if (k > 0) {
              const icxCandidField *pf = f - 1;
              size_t m = pf->name_len < f->name_len ? pf->name_len : f->name_len;
              int c = m ? memcmp(pf->name, f->name, m) : 0;
              if (c > 0 || (c == 0 && pf->name_len >= f->name_len)) {
                rc = malformed(d, "service methods not sorted or duplicated");
                goto fail;
              }
            }
          } else if (op != ICX_CT_FUNC) {
            ICX_TRY(rd_u32(d, &f->id, "field id exceeds 32 bits"));
            if (k > 0 && f[-1].id >= f->id) {
              rc = malformed(d, "field ids not strictly increasing");
              goto fail;
            }
          } else {
            f->id = (uint32_t)k;
          }
          ICX_TRY(rd_typeref(d, &f->type));
          t->nfields++;
        }
        if (op == ICX_CT_FUNC && part == 0) e->nargs = (uint32_t)cnt;
      }
      e->nfields = t->nfields - e->first;
      if (op == ICX_CT_FUNC) {
        uint64_t na;
        ICX_TRY(rd_uleb(d, &na));
        for (uint64_t k = 0; k < na; k++) {
          uint8_t a;
          ICX_TRY(rd_byte(d, &a));
          if (a < 1 || a > 3) {
            rc = malformed(d, "invalid func annotation");
            goto fail;
          }
          e->annot |= 1u << (a - 1);
        }
      }
      break;
    }
    default: rc = malformed(d, "invalid type opcode in the type table"); goto fail;
    }
  }
  /* every reference resolves; service methods name func types */
  for (uint32_t i = 0; i < t->n; i++) {
    const icxCandidEntry *e = &t->entries[i];
    if ((e->kind == ICX_CT_OPT || e->kind == ICX_CT_VEC) && !ref_ok(t, e->inner))
      return icxErr_set(d->err, ICX_EMALFORMED, "candid: type %u refers to invalid type %d",
                        (unsigned)i, e->inner);
    for (uint32_t k = 0; k < e->nfields; k++) {
      int32_t r = t->fields[e->first + k].type;
      if (!ref_ok(t, r))
        return icxErr_set(d->err, ICX_EMALFORMED, "candid: type %u refers to invalid type %d",
                          (unsigned)i, r);
      if (e->kind == ICX_CT_SERVICE && icxCandidTypes_kind(t, r) != ICX_CT_FUNC)
        return icxErr_set(d->err, ICX_EMALFORMED, "candid: service method type is not a func");
    }
  }
  return ICX_OK;
fail:
  return rc;
}

/* ---- generic values (also skipping) ------------------------------------------ */

static int64_t sext(uint64_t v, unsigned bits) {
  uint64_t m = (uint64_t)1 << (bits - 1);
  v &= (bits == 64) ? ~(uint64_t)0 : (((uint64_t)1 << bits) - 1);
  uint64_t r = (v ^ m) - m;
  int64_t s;
  memcpy(&s, &r, sizeof s);
  return s;
}

/* Fixed-size and scalar primitives: read into out (may be NULL). */
static icx_status prim(Dec *d, int32_t k, icxCandidValue *out) {
  uint64_t w[2] = {0, 0};
  const uint8_t *bytes = NULL;
  uint64_t n = 0;
  icx_status rc = ICX_OK;
  switch (k) {
  case ICX_CT_NULL:
  case ICX_CT_RESERVED: break;
  case ICX_CT_EMPTY: return malformed(d, "a value of type empty");
  case ICX_CT_BOOL: {
    uint8_t b;
    ICX_TRY(rd_byte(d, &b));
    if (b > 1) return malformed(d, "bool is neither 0 nor 1");
    w[0] = b;
    break;
  }
  case ICX_CT_NAT: ICX_TRY(rd_nat(d, w, out != NULL)); break;
  case ICX_CT_INT: ICX_TRY(rd_int(d, w, out != NULL)); break;
  case ICX_CT_NAT8:
  case ICX_CT_NAT16:
  case ICX_CT_NAT32:
  case ICX_CT_NAT64:
  case ICX_CT_INT8:
  case ICX_CT_INT16:
  case ICX_CT_INT32:
  case ICX_CT_INT64:
  case ICX_CT_FLOAT32:
  case ICX_CT_FLOAT64: {
    unsigned sz = fixed_width(k);
    ICX_TRY(rd_bytes(d, sz, &bytes));
    for (unsigned i = 0; i < sz; i++) w[0] |= (uint64_t)bytes[i] << (8 * i);
    bytes = NULL;
    if (k <= ICX_CT_INT8 && k >= ICX_CT_INT64) {
      int64_t s = sext(w[0], sz * 8);
      memcpy(&w[0], &s, sizeof s);
      w[1] = s < 0 ? ~(uint64_t)0 : 0;
    }
    break;
  }
  case ICX_CT_TEXT:
    ICX_TRY(rd_uleb(d, &n));
    ICX_TRY(rd_bytes(d, n, &bytes));
    if (!utf8_ok(bytes, (size_t)n)) return malformed(d, "text is not valid UTF-8");
    break;
  case ICX_CT_PRINCIPAL: {
    uint8_t flag;
    ICX_TRY(rd_byte(d, &flag));
    if (flag != 1) return malformed(d, flag == 0 ? "opaque principal reference" : "bad principal flag");
    ICX_TRY(rd_uleb(d, &n));
    if (n > ICX_PRINCIPAL_MAX_BYTES) return malformed(d, "principal longer than 29 bytes");
    ICX_TRY(rd_bytes(d, n, &bytes));
    break;
  }
  default: return malformed(d, "unknown primitive type");
  }
  if (out) {
    out->type = k;
    out->n = n;
    if (bytes)
      out->u.bytes = bytes;
    else {
      out->u.w.lo = w[0];
      out->u.w.hi = w[1];
    }
  }
  return ICX_OK;
fail:
  return rc;
}

static icx_status read_count(Dec *d, int32_t elem_kind, uint64_t *n) {
  icx_status rc = rd_uleb(d, n);
  if (rc) return rc;
  /* elements that take at least one byte cannot outnumber the bytes left */
  int may_be_empty = elem_kind == ICX_CT_NULL || elem_kind == ICX_CT_RESERVED ||
                     elem_kind == ICX_CT_RECORD || elem_kind == ICX_CT_EMPTY;
  if (!may_be_empty && *n > (uint64_t)(d->end - d->p))
    return malformed(d, "vec length exceeds the input");
  if (*n > d->max_steps - d->steps)
    return icxErr_set(d->err, ICX_ELIMIT, "candid: vec of %llu elements exceeds the step limit",
                      (unsigned long long)*n);
  return ICX_OK;
}

static icx_status generic(Dec *d, int32_t w, icxCandidValue *out, uint32_t depth) {
  icx_status rc = step(d);
  if (rc) return rc;
  if (depth > d->max_depth)
    return icxErr_set(d->err, ICX_ELIMIT, "candid: values nested deeper than %u", d->max_depth);
  if (w < 0) return prim(d, w, out);
  const icxCandidEntry *e = &d->wt->entries[w];
  const icxCandidTypes *t = d->wt;
  if (out) out->type = e->kind;
  switch (e->kind) {
  case ICX_CT_OPT: {
    uint8_t flag;
    ICX_TRY(rd_byte(d, &flag));
    if (flag > 1) return malformed(d, "opt flag is neither 0 nor 1");
    if (flag == 0) return ICX_OK;
    icxCandidValue *item = NULL;
    if (out) {
      ICX_TRY(arena_nodes(d, 1, &item));
      out->u.items = item;
      out->n = 1;
    }
    return generic(d, e->inner, item, depth + 1);
  }
  case ICX_CT_VEC: {
    uint64_t n;
    int32_t ik = icxCandidTypes_kind(t, e->inner);
    ICX_TRY(read_count(d, ik, &n));
    if (ik == ICX_CT_NAT8) { /* blob */
      const uint8_t *b;
      ICX_TRY(rd_bytes(d, n, &b));
      if (out) {
        out->is_bytes = 1;
        out->u.bytes = b;
        out->n = n;
      }
      return ICX_OK;
    }
    icxCandidValue *items = NULL;
    if (out && n) ICX_TRY(arena_nodes(d, n, &items));
    for (uint64_t i = 0; i < n; i++) ICX_TRY(generic(d, e->inner, items ? &items[i] : NULL, depth + 1));
    if (out) {
      out->u.items = items;
      out->n = n;
    }
    return ICX_OK;
  }
  case ICX_CT_RECORD: {
    icxCandidValue *items = NULL;
    if (out && e->nfields) ICX_TRY(arena_nodes(d, e->nfields, &items));
    for (uint32_t i = 0; i < e->nfields; i++) {
      const icxCandidField *f = &t->fields[e->first + i];
      if (items) items[i].id = f->id;
      ICX_TRY(generic(d, f->type, items ? &items[i] : NULL, depth + 1));
      if (items) items[i].id = f->id;
    }
    if (out) {
      out->u.items = items;
      out->n = e->nfields;
    }
    return ICX_OK;
  }
  case ICX_CT_VARIANT: {
    uint64_t idx;
    ICX_TRY(rd_uleb(d, &idx));
    if (idx >= e->nfields) return malformed(d, "variant index out of range");
    const icxCandidField *f = &t->fields[e->first + idx];
    icxCandidValue *item = NULL;
    if (out) {
      ICX_TRY(arena_nodes(d, 1, &item));
      out->u.items = item;
      out->n = idx;
    }
    ICX_TRY(generic(d, f->type, item, depth + 1));
    if (item) item->id = f->id;
    return ICX_OK;
  }
  case ICX_CT_FUNC:
  case ICX_CT_SERVICE: {
    uint8_t flag;
    ICX_TRY(rd_byte(d, &flag));
    if (flag != 1) return malformed(d, flag == 0 ? "opaque reference" : "bad reference flag");
    icxCandidValue *items = NULL;
    if (out && e->kind == ICX_CT_FUNC) ICX_TRY(arena_nodes(d, 2, &items));
    icxCandidValue pv;
    memset(&pv, 0, sizeof pv);
    /* the principal without its own flag byte: re-use prim via a local copy */
    uint64_t n;
    const uint8_t *b;
    ICX_TRY(rd_uleb(d, &n));
    if (n > ICX_PRINCIPAL_MAX_BYTES) return malformed(d, "principal longer than 29 bytes");
    ICX_TRY(rd_bytes(d, n, &b));
    pv.type = ICX_CT_PRINCIPAL;
    pv.n = n;
    pv.u.bytes = b;
    if (e->kind == ICX_CT_SERVICE) {
      if (out) {
        out->n = n;
        out->u.bytes = b;
      }
      return ICX_OK;
    }
    if (items) items[0] = pv;
    ICX_TRY(prim(d, ICX_CT_TEXT, items ? &items[1] : NULL));
    if (out) {
      out->u.items = items;
      out->n = 2;
    }
    return ICX_OK;
  }
  default: return icxErr_set(d->err, ICX_EINTERNAL, "candid: bad wire entry");
  }
fail:
  return rc;
}

/* ---- subtyping ------------------------------------------------------------------ */

static int32_t wkind(const Dec *d, int32_t r) { return icxCandidTypes_kind(d->wt, r); }
static int32_t ekind(const Dec *d, int32_t r) { return icxCandidTypes_kind(d->et, r); }

/* null <: t: t is null, reserved or opt. */
static int optional_kind(int32_t k) {
  return k == ICX_CT_NULL || k == ICX_CT_RESERVED || k == ICX_CT_OPT;
}

/* *res = 1 if wire type w is a subtype of expected type e (Candid spec
 * subtyping; recursive pairs are assumed to hold while being checked). */
static icx_status subtype(Dec *d, int32_t w, int32_t e, int *res, uint32_t depth) {
  icx_status rc = step(d);
  if (rc) return rc;
  int32_t wk = wkind(d, w), ek = ekind(d, e);
  *res = 0;
  if (ek == ICX_CT_RESERVED || wk == ICX_CT_EMPTY || ek == ICX_CT_OPT) {
    *res = 1;
    return ICX_OK;
  }
  if (w < 0 || e < 0) {
    *res = wk == ek || (wk == ICX_CT_NAT && ek == ICX_CT_INT);
    return ICX_OK;
  }
  if (wk != ek) return ICX_OK;
  for (uint32_t i = 0; i < d->nassumed; i++)
    if (d->assumed[i].w == w && d->assumed[i].e == e) {
      *res = 1;
      return ICX_OK;
    }
  if (depth >= d->max_depth || d->nassumed >= d->max_depth)
    return icxErr_set(d->err, ICX_ELIMIT, "candid: types nested deeper than %u", d->max_depth);
  d->assumed[d->nassumed].w = w;
  d->assumed[d->nassumed].e = e;
  d->nassumed++;
  const icxCandidEntry *we = &d->wt->entries[w], *ee = &d->et->entries[e];
  int ok = 1;
  switch (ek) {
  case ICX_CT_VEC: rc = subtype(d, we->inner, ee->inner, &ok, depth + 1); break;
  case ICX_CT_RECORD: {
    uint32_t i = 0;
    for (uint32_t k = 0; k < ee->nfields && ok && !rc; k++) {
      const icxCandidField *ef = &d->et->fields[ee->first + k];
      while (i < we->nfields && d->wt->fields[we->first + i].id < ef->id) i++;
      if (i < we->nfields && d->wt->fields[we->first + i].id == ef->id)
        rc = subtype(d, d->wt->fields[we->first + i].type, ef->type, &ok, depth + 1);
      else
        ok = optional_kind(ekind(d, ef->type));
    }
    break;
  }
  case ICX_CT_VARIANT: {
    uint32_t k = 0;
    for (uint32_t i = 0; i < we->nfields && ok && !rc; i++) {
      const icxCandidField *wf = &d->wt->fields[we->first + i];
      while (k < ee->nfields && d->et->fields[ee->first + k].id < wf->id) k++;
      if (k < ee->nfields && d->et->fields[ee->first + k].id == wf->id)
        rc = subtype(d, wf->type, d->et->fields[ee->first + k].type, &ok, depth + 1);
      else
        ok = 0;
    }
    break;
  }
  default: ok = 1; break; /* func/service: expected tables have none */
  }
  d->nassumed--;
  *res = ok;
  return rc;
}

/* ---- coercion to an expected type ---------------------------------------------- */

static void set_null_of(icxCandidValue *out, int32_t k) {
  out->type = k == ICX_CT_OPT ? ICX_CT_OPT : k;
  out->n = 0;
}

static icx_status coerce(Dec *d, int32_t w, int32_t e, icxCandidValue *out, uint32_t depth) {
  if (e == ANY_TYPE) return generic(d, w, out, depth);
  icx_status rc = ICX_OK;
  if (depth > d->max_depth)
    return icxErr_set(d->err, ICX_ELIMIT, "candid: values nested deeper than %u", d->max_depth);
  int32_t wk = wkind(d, w), ek = ekind(d, e);
  if (ek == ICX_CT_RESERVED) {
    ICX_TRY(generic(d, w, NULL, depth));
    out->type = ICX_CT_RESERVED;
    return ICX_OK;
  }
  if (wk == ICX_CT_EMPTY) return malformed(d, "a value of type empty");
  if (ek == ICX_CT_OPT) {
    int32_t inner = d->et->entries[e].inner;
    out->type = ICX_CT_OPT;
    out->n = 0;
    if (wk == ICX_CT_NULL || wk == ICX_CT_RESERVED) return step(d);
    int ok = 0;
    if (wk == ICX_CT_OPT) {
      uint8_t flag;
      ICX_TRY(step(d));
      ICX_TRY(rd_byte(d, &flag));
      if (flag > 1) return malformed(d, "opt flag is neither 0 nor 1");
      if (flag == 0) return ICX_OK;
      int32_t winner = d->wt->entries[w].inner;
      ICX_TRY(subtype(d, winner, inner, &ok, 0));
      if (!ok) return generic(d, winner, NULL, depth + 1); /* special opt rule: null */
      icxCandidValue *item;
      ICX_TRY(arena_nodes(d, 1, &item));
      ICX_TRY(coerce(d, winner, inner, item, depth + 1));
      out->u.items = item;
      out->n = 1;
      return ICX_OK;
    }
    /* a non-optional wire value for opt t: kept if it fits t (and t is not
     * itself optional), else null */
    if (!optional_kind(ekind(d, inner))) ICX_TRY(subtype(d, w, inner, &ok, 0));
    if (!ok) return generic(d, w, NULL, depth);
    icxCandidValue *item;
    ICX_TRY(arena_nodes(d, 1, &item));
    ICX_TRY(coerce(d, w, inner, item, depth + 1));
    out->u.items = item;
    out->n = 1;
    return ICX_OK;
  }
  if (e < 0) {
    if (!(wk == ek || (wk == ICX_CT_NAT && ek == ICX_CT_INT)))
      return icxErr_set(d->err, ICX_EINVAL, "candid: type mismatch at byte %zu", off(d));
    ICX_TRY(step(d));
    ICX_TRY(prim(d, wk, out));
    if (wk == ICX_CT_NAT && ek == ICX_CT_INT && (out->u.w.hi >> 63))
      return icxErr_set(d->err, ICX_EINVAL, "candid: nat value too large for int at byte %zu",
                        off(d));
    out->type = ek;
    return ICX_OK;
  }
  if (wk != ek || w < 0)
    return icxErr_set(d->err, ICX_EINVAL, "candid: type mismatch at byte %zu", off(d));
  ICX_TRY(step(d));
  const icxCandidEntry *we = &d->wt->entries[w], *ee = &d->et->entries[e];
  out->type = ek;
  switch (ek) {
  case ICX_CT_VEC: {
    uint64_t n;
    int32_t ik = wkind(d, we->inner);
    ICX_TRY(read_count(d, ik, &n));
    if (ik == ICX_CT_NAT8 && ekind(d, ee->inner) == ICX_CT_NAT8) {
      const uint8_t *b;
      ICX_TRY(rd_bytes(d, n, &b));
      out->is_bytes = 1;
      out->u.bytes = b;
      out->n = n;
      return ICX_OK;
    }
    icxCandidValue *items = NULL;
    if (n) ICX_TRY(arena_nodes(d, n, &items));
    for (uint64_t i = 0; i < n; i++) ICX_TRY(coerce(d, we->inner, ee->inner, &items[i], depth + 1));
    out->u.items = items;
    out->n = n;
    return ICX_OK;
  }
  case ICX_CT_RECORD: {
    icxCandidValue *items = NULL;
    if (ee->nfields) ICX_TRY(arena_nodes(d, ee->nfields, &items));
    uint32_t k = 0;
    for (uint32_t i = 0; i < we->nfields; i++) {
      const icxCandidField *wf = &d->wt->fields[we->first + i];
      while (k < ee->nfields && d->et->fields[ee->first + k].id < wf->id) {
        /* an expected field absent from the wire */
        const icxCandidField *ef = &d->et->fields[ee->first + k];
        int32_t efk = ekind(d, ef->type);
        if (!optional_kind(efk))
          return icxErr_set(d->err, ICX_EINVAL, "candid: record field %u missing", (unsigned)ef->id);
        set_null_of(&items[k], efk);
        items[k].id = ef->id;
        k++;
      }
      if (k < ee->nfields && d->et->fields[ee->first + k].id == wf->id) {
        /* the record types were found subtypes before coerce was called */
        const icxCandidField *ef = &d->et->fields[ee->first + k];
        ICX_TRY(coerce(d, wf->type, ef->type, &items[k], depth + 1));
        items[k].id = ef->id;
        k++;
      } else {
        ICX_TRY(generic(d, wf->type, NULL, depth + 1)); /* extra field: ignored */
      }
    }
    for (; k < ee->nfields; k++) {
      const icxCandidField *ef = &d->et->fields[ee->first + k];
      int32_t efk = ekind(d, ef->type);
      if (!optional_kind(efk))
        return icxErr_set(d->err, ICX_EINVAL, "candid: record field %u missing", (unsigned)ef->id);
      set_null_of(&items[k], efk);
      items[k].id = ef->id;
    }
    out->u.items = items;
    out->n = ee->nfields;
    return ICX_OK;
  }
  case ICX_CT_VARIANT: {
    uint64_t idx;
    ICX_TRY(rd_uleb(d, &idx));
    if (idx >= we->nfields) return malformed(d, "variant index out of range");
    const icxCandidField *wf = &d->wt->fields[we->first + idx];
    uint32_t k = 0;
    while (k < ee->nfields && d->et->fields[ee->first + k].id < wf->id) k++;
    if (k == ee->nfields || d->et->fields[ee->first + k].id != wf->id)
      return icxErr_set(d->err, ICX_EINVAL, "candid: unknown variant case %u", (unsigned)wf->id);
    const icxCandidField *ef = &d->et->fields[ee->first + k];
    icxCandidValue *item;
    ICX_TRY(arena_nodes(d, 1, &item));
    ICX_TRY(coerce(d, wf->type, ef->type, item, depth + 1));
    item->id = ef->id;
    out->u.items = item;
    out->n = k;
    return ICX_OK;
  }
  default: return generic(d, w, out, depth); /* func/service: as on the wire */
  }
fail:
  return rc;
}

/* ---- top level --------------------------------------------------------------- */

static void arena_free(icxCandidDoc *doc) {
  ArenaBlock *b = doc->arena;
  size_t hdr = (sizeof(ArenaBlock) + 15u) & ~(size_t)15u;
  while (b) {
    ArenaBlock *n = b->next;
    icxCore_free(&doc->alloc, b, hdr + b->size);
    b = n;
  }
  doc->arena = NULL;
}

void icxCandidDoc_free(icxCandidDoc *doc) {
  if (doc == NULL) return;
  arena_free(doc);
  icxCandidTypes_free(&doc->wire);
  icxCore_free(&doc->alloc, doc->wire_args, doc->wire_nargs * sizeof(int32_t));
  icxAllocator a = doc->alloc;
  icxCore_free(&a, doc, sizeof *doc);
}

icx_status icxCandid_decode(const icxAllocator *a, const uint8_t *data, size_t len,
                            const icxCandidTypes *expected, const int32_t *arg_types, size_t nargs,
                            const icxCandidLimits *lim, icxCandidDoc **out, icxErr *err) {
  if (out) *out = NULL;
  if (a == NULL || out == NULL || (data == NULL && len > 0) ||
      (expected != NULL && nargs > 0 && arg_types == NULL))
    return icxErr_set(err, ICX_EINVAL, "candid: bad arguments to decode");
  if (expected)
    for (size_t i = 0; i < nargs; i++)
      if (!ref_ok(expected, arg_types[i]))
        return icxErr_set(err, ICX_EINVAL, "candid: bad expected type %d", arg_types[i]);
  icx_status rc = ICX_OK;
  Dec d;
  memset(&d, 0, sizeof d);
  d.start = d.p = data;
  d.end = data ? data + len : data; /* NULL + 0 is undefined */
  d.err = err;
  d.et = expected;
  d.max_depth = lim && lim->max_depth ? lim->max_depth : DEF_MAX_DEPTH;
  d.max_steps = lim && lim->max_steps ? lim->max_steps : DEF_MAX_STEPS;
  d.max_alloc = lim && lim->max_alloc ? lim->max_alloc : DEF_MAX_ALLOC;
  icxCandidDoc *doc = icxCore_alloc(a, sizeof *doc);
  if (doc == NULL) return icxErr_set(err, ICX_ENOMEM, "candid: out of memory");
  doc->alloc = *a;
  icxCandidTypes_init(&doc->wire, a);
  d.doc = doc;
  d.wt = &doc->wire;
  d.assumed = icxCore_allocn(a, d.max_depth + 1u, sizeof(Pair));
  if (d.assumed == NULL) {
    rc = icxErr_set(err, ICX_ENOMEM, "candid: out of memory");
    goto fail;
  }
  static const uint8_t magic[4] = {'D', 'I', 'D', 'L'};
  if (len < 4 || memcmp(data, magic, 4) != 0) {
    rc = icxErr_set(err, ICX_EMALFORMED, "candid: missing \"DIDL\" magic");
    goto fail;
  }
  d.p += 4;
  ICX_TRY(read_table(&d));
  uint64_t wn;
  ICX_TRY(rd_uleb(&d, &wn));
  if (wn > (uint64_t)(d.end - d.p)) {
    rc = malformed(&d, "argument count exceeds the input");
    goto fail;
  }
  if (wn) {
    ICX_TRY(charge(&d, (size_t)wn * sizeof(int32_t)));
    doc->wire_args = icxCore_allocn(a, (size_t)wn, sizeof(int32_t));
    if (doc->wire_args == NULL) {
      rc = icxErr_set(err, ICX_ENOMEM, "candid: out of memory");
      goto fail;
    }
  }
  doc->wire_nargs = (size_t)wn;
  for (size_t i = 0; i < doc->wire_nargs; i++) {
    ICX_TRY(rd_typeref(&d, &doc->wire_args[i]));
    if (!ref_ok(d.wt, doc->wire_args[i])) {
      rc = malformed(&d, "argument type refers to an invalid type");
      goto fail;
    }
  }
  size_t n = expected ? nargs : doc->wire_nargs;
  if (n) ICX_TRY(arena_nodes(&d, n, &doc->args));
  doc->nargs = n;
  for (size_t i = 0; i < doc->wire_nargs; i++) {
    int32_t w = doc->wire_args[i];
    if (i >= n) {
      ICX_TRY(generic(&d, w, NULL, 0)); /* extra argument: validated, ignored */
      continue;
    }
    int32_t e = expected ? arg_types[i] : ANY_TYPE;
    if (expected) {
      int ok;
      ICX_TRY(subtype(&d, w, e, &ok, 0));
      if (!ok) {
        rc = icxErr_set(err, ICX_EINVAL, "candid: argument %zu does not have the expected type", i);
        goto fail;
      }
    }
    ICX_TRY(coerce(&d, w, e, &doc->args[i], 0));
  }
  for (size_t i = doc->wire_nargs; i < n; i++) {
    int32_t k = ekind(&d, arg_types[i]);
    if (!optional_kind(k)) {
      rc = icxErr_set(err, ICX_EINVAL, "candid: missing argument %zu", i);
      goto fail;
    }
    set_null_of(&doc->args[i], k);
  }
  if (d.p != d.end) {
    rc = malformed(&d, "trailing bytes after the arguments");
    goto fail;
  }
  icxCore_free(a, d.assumed, (d.max_depth + 1u) * sizeof(Pair));
  *out = doc;
  return ICX_OK;
fail:
  if (d.assumed) icxCore_free(a, d.assumed, (d.max_depth + 1u) * sizeof(Pair));
  icxCandidDoc_free(doc);
  return rc;
}

const icxCandidValue *icxCandid_field(const icxCandidValue *rec, uint32_t id) {
  if (rec == NULL || rec->type != ICX_CT_RECORD) return NULL;
  for (uint64_t i = 0; i < rec->n; i++)
    if (rec->u.items[i].id == id) return &rec->u.items[i];
  return NULL;
}

const icxCandidValue *icxCandid_field_named(const icxCandidValue *rec, const char *name) {
  return icxCandid_field(rec, icxCandid_hash(name));
}

const icxCandidValue *icxCandid_opt(const icxCandidValue *v) {
  if (v == NULL || v->type != ICX_CT_OPT || v->n == 0) return NULL;
  return &v->u.items[0];
}

int icxCandid_to_u64(const icxCandidValue *v, uint64_t *out) {
  if (v == NULL) return 0;
  switch (v->type) {
  case ICX_CT_NAT:
  case ICX_CT_NAT8:
  case ICX_CT_NAT16:
  case ICX_CT_NAT32:
  case ICX_CT_NAT64:
    if (v->u.w.hi) return 0;
    break;
  case ICX_CT_INT:
  case ICX_CT_INT8:
  case ICX_CT_INT16:
  case ICX_CT_INT32:
  case ICX_CT_INT64:
    if (v->u.w.hi || (v->u.w.lo >> 63)) return 0;
    break;
  default: return 0;
  }
  if (out) *out = v->u.w.lo;
  return 1;
}

/* ---- encoder ------------------------------------------------------------------- */

typedef struct Buf {
  const icxAllocator *a;
  uint8_t *p;
  size_t n, cap;
  icxErr *err;
} Buf;

static icx_status put(Buf *b, const void *src, size_t n) {
  if (n > SIZE_MAX / 2 - b->n) return icxErr_set(b->err, ICX_ELIMIT, "candid: encoding too large");
  if (b->n + n > b->cap) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc < b->n + n) nc *= 2;
    uint8_t *q = icxCore_realloc(b->a, b->p, b->cap, nc);
    if (q == NULL) return icxErr_set(b->err, ICX_ENOMEM, "candid: out of memory");
    b->p = q;
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->n, src, n);
  b->n += n;
  return ICX_OK;
}

static icx_status put_byte(Buf *b, uint8_t v) { return put(b, &v, 1); }

static icx_status put_uleb128(Buf *b, uint64_t lo, uint64_t hi) {
  uint8_t tmp[20];
  size_t n = 0;
  do {
    uint8_t byte = lo & 0x7f;
    lo = (lo >> 7) | (hi << 57);
    hi >>= 7;
    if (lo | hi) byte |= 0x80;
    tmp[n++] = byte;
  } while (lo | hi);
  return put(b, tmp, n);
}

static icx_status put_uleb(Buf *b, uint64_t v) { return put_uleb128(b, v, 0); }

static icx_status put_sleb128(Buf *b, uint64_t lo, uint64_t hi) {
  uint8_t tmp[20];
  size_t n = 0;
  for (;;) {
    uint8_t byte = lo & 0x7f;
    /* arithmetic shift right by 7 of the 128-bit value */
    lo = (lo >> 7) | (hi << 57);
    hi = (hi >> 7) | ((hi >> 63) ? ~(~(uint64_t)0 >> 7) : 0);
    int done = (((lo | hi) == 0) && !(byte & 0x40)) ||
               ((lo & hi) == ~(uint64_t)0 && (byte & 0x40));
    if (!done) byte |= 0x80;
    tmp[n++] = byte;
    if (done) break;
  }
  return put(b, tmp, n);
}

static icx_status put_sleb(Buf *b, int64_t v) {
  uint64_t lo;
  memcpy(&lo, &v, sizeof lo);
  return put_sleb128(b, lo, v < 0 ? ~(uint64_t)0 : 0);
}

static icx_status enc_value(Buf *b, const icxCandidTypes *t, int32_t ty, const icxCandidValue *v,
                            uint32_t depth) {
  icx_status rc = ICX_OK;
  int32_t k = icxCandidTypes_kind(t, ty);
  if (depth > ENC_MAX_DEPTH) return icxErr_set(b->err, ICX_ELIMIT, "candid: value nested too deep");
  if (v == NULL || k == 0 || v->type != k)
    return icxErr_set(b->err, ICX_EINVAL, "candid: value of kind %d does not match type kind %d",
                      v ? v->type : 0, k);
  switch (k) {
  case ICX_CT_NULL:
  case ICX_CT_RESERVED: return ICX_OK;
  case ICX_CT_EMPTY: return icxErr_set(b->err, ICX_EINVAL, "candid: a value of type empty");
  case ICX_CT_BOOL:
    if (v->u.w.lo > 1) return icxErr_set(b->err, ICX_EINVAL, "candid: bool not 0 or 1");
    return put_byte(b, (uint8_t)v->u.w.lo);
  case ICX_CT_NAT: return put_uleb128(b, v->u.w.lo, v->u.w.hi);
  case ICX_CT_INT: return put_sleb128(b, v->u.w.lo, v->u.w.hi);
  case ICX_CT_NAT8:
  case ICX_CT_NAT16:
  case ICX_CT_NAT32:
  case ICX_CT_NAT64:
  case ICX_CT_INT8:
  case ICX_CT_INT16:
  case ICX_CT_INT32:
  case ICX_CT_INT64:
  case ICX_CT_FLOAT32:
  case ICX_CT_FLOAT64: {
    unsigned sz = fixed_width(k);
    uint8_t tmp[8];
    for (unsigned i = 0; i < sz; i++) tmp[i] = (uint8_t)(v->u.w.lo >> (8 * i));
    return put(b, tmp, sz);
  }
  case ICX_CT_TEXT:
    if ((v->n && v->u.bytes == NULL) || v->n > SIZE_MAX || !utf8_ok(v->u.bytes, (size_t)v->n))
      return icxErr_set(b->err, ICX_EINVAL, "candid: text is not valid UTF-8");
    ICX_TRY(put_uleb(b, v->n));
    return put(b, v->u.bytes, (size_t)v->n);
  case ICX_CT_PRINCIPAL:
    if (v->n > ICX_PRINCIPAL_MAX_BYTES || (v->n && v->u.bytes == NULL))
      return icxErr_set(b->err, ICX_EINVAL, "candid: bad principal");
    ICX_TRY(put_byte(b, 1));
    ICX_TRY(put_uleb(b, v->n));
    return put(b, v->u.bytes, (size_t)v->n);
  default: break;
  }
  const icxCandidEntry *e = &t->entries[ty];
  switch (k) {
  case ICX_CT_OPT:
    if (v->n > 1 || (v->n && v->u.items == NULL))
      return icxErr_set(b->err, ICX_EINVAL, "candid: opt with n > 1");
    ICX_TRY(put_byte(b, (uint8_t)v->n));
    if (v->n) return enc_value(b, t, e->inner, &v->u.items[0], depth + 1);
    return ICX_OK;
  case ICX_CT_VEC:
    ICX_TRY(put_uleb(b, v->n));
    if (v->is_bytes) {
      if (icxCandidTypes_kind(t, e->inner) != ICX_CT_NAT8 || (v->n && v->u.bytes == NULL) ||
          v->n > SIZE_MAX)
        return icxErr_set(b->err, ICX_EINVAL, "candid: bytes for a vec that is not vec nat8");
      return put(b, v->u.bytes, (size_t)v->n);
    }
    if (v->n && v->u.items == NULL) return icxErr_set(b->err, ICX_EINVAL, "candid: NULL items");
    for (uint64_t i = 0; i < v->n; i++) ICX_TRY(enc_value(b, t, e->inner, &v->u.items[i], depth + 1));
    return ICX_OK;
  case ICX_CT_RECORD:
    if (v->n != e->nfields || (v->n && v->u.items == NULL))
      return icxErr_set(b->err, ICX_EINVAL, "candid: record has %llu fields, its type %u",
                        (unsigned long long)v->n, (unsigned)e->nfields);
    for (uint32_t i = 0; i < e->nfields; i++) {
      const icxCandidField *f = &t->fields[e->first + i];
      if (v->u.items[i].id != f->id)
        return icxErr_set(b->err, ICX_EINVAL, "candid: record field %u where %u is expected",
                          (unsigned)v->u.items[i].id, (unsigned)f->id);
      ICX_TRY(enc_value(b, t, f->type, &v->u.items[i], depth + 1));
    }
    return ICX_OK;
  case ICX_CT_VARIANT:
    if (v->n >= e->nfields || v->u.items == NULL)
      return icxErr_set(b->err, ICX_EINVAL, "candid: variant case %llu out of range",
                        (unsigned long long)v->n);
    ICX_TRY(put_uleb(b, v->n));
    return enc_value(b, t, t->fields[e->first + v->n].type, &v->u.items[0], depth + 1);
  case ICX_CT_FUNC:
    if (v->n != 2 || v->u.items == NULL || v->u.items[0].type != ICX_CT_PRINCIPAL ||
        v->u.items[0].n > ICX_PRINCIPAL_MAX_BYTES || v->u.items[1].type != ICX_CT_TEXT)
      return icxErr_set(b->err, ICX_EINVAL, "candid: bad func reference");
    ICX_TRY(put_byte(b, 1));
    ICX_TRY(put_uleb(b, v->u.items[0].n));
    ICX_TRY(put(b, v->u.items[0].u.bytes, (size_t)v->u.items[0].n));
    return enc_value(b, t, ICX_CT_TEXT, &v->u.items[1], depth + 1);
  case ICX_CT_SERVICE:
    if (v->n > ICX_PRINCIPAL_MAX_BYTES || (v->n && v->u.bytes == NULL))
      return icxErr_set(b->err, ICX_EINVAL, "candid: bad service reference");
    ICX_TRY(put_byte(b, 1));
    ICX_TRY(put_uleb(b, v->n));
    return put(b, v->u.bytes, (size_t)v->n);
  default: return icxErr_set(b->err, ICX_EINVAL, "candid: unknown type");
  }
fail:
  return rc;
}

/* Number the entries reachable from ref in depth-first pre-order (a type
 * gets its index before its children; record and variant fields in id
 * order), as Rust's candid serializer lays out its type table. */
static icx_status enc_collect(Buf *b, const icxCandidTypes *t, int32_t ref, int32_t *map,
                              int32_t *order, uint32_t *count, uint32_t depth) {
  if (ref < 0 || map[ref] >= 0) return ICX_OK;
  if (depth > ENC_MAX_DEPTH) return icxErr_set(b->err, ICX_ELIMIT, "candid: types nested too deep");
  map[ref] = (int32_t)*count;
  order[(*count)++] = ref;
  const icxCandidEntry *e = &t->entries[ref];
  if (e->kind == ICX_CT_OPT || e->kind == ICX_CT_VEC)
    return enc_collect(b, t, e->inner, map, order, count, depth + 1);
  for (uint32_t k = 0; k < e->nfields; k++) {
    icx_status rc = enc_collect(b, t, t->fields[e->first + k].type, map, order, count, depth + 1);
    if (rc) return rc;
  }
  return ICX_OK;
}

static int32_t remap(const int32_t *map, int32_t ref) { return ref < 0 ? ref : map[ref]; }

/* The type table: only the entries the arguments use, renumbered. */
static icx_status enc_table(Buf *b, const icxCandidTypes *t, const int32_t *arg_types,
                            size_t nargs, int32_t **map_out, size_t *map_n) {
  icx_status rc = ICX_OK;
  uint32_t n = t ? t->n : 0, count = 0;
  int32_t *map = NULL, *order = NULL;
  *map_out = NULL;
  *map_n = 0;
  if (n) {
    map = icxCore_allocn(b->a, n, sizeof *map);
    order = icxCore_allocn(b->a, n, sizeof *order);
    if (map == NULL || order == NULL) {
      rc = icxErr_set(b->err, ICX_ENOMEM, "candid: out of memory");
      goto fail;
    }
    for (uint32_t i = 0; i < n; i++) map[i] = -1;
    for (size_t i = 0; i < nargs; i++) ICX_TRY(enc_collect(b, t, arg_types[i], map, order, &count, 0));
  }
  ICX_TRY(put_uleb(b, count));
  for (uint32_t j = 0; j < count; j++) {
    const icxCandidEntry *e = &t->entries[order[j]];
    ICX_TRY(put_sleb(b, e->kind));
    switch (e->kind) {
    case ICX_CT_OPT:
    case ICX_CT_VEC: ICX_TRY(put_sleb(b, remap(map, e->inner))); break;
    case ICX_CT_RECORD:
    case ICX_CT_VARIANT:
      ICX_TRY(put_uleb(b, e->nfields));
      for (uint32_t k = 0; k < e->nfields; k++) {
        ICX_TRY(put_uleb(b, t->fields[e->first + k].id));
        ICX_TRY(put_sleb(b, remap(map, t->fields[e->first + k].type)));
      }
      break;
    case ICX_CT_FUNC: {
      ICX_TRY(put_uleb(b, e->nargs));
      for (uint32_t k = 0; k < e->nargs; k++)
        ICX_TRY(put_sleb(b, remap(map, t->fields[e->first + k].type)));
      ICX_TRY(put_uleb(b, e->nfields - e->nargs));
      for (uint32_t k = e->nargs; k < e->nfields; k++)
        ICX_TRY(put_sleb(b, remap(map, t->fields[e->first + k].type)));
      uint8_t ann[3];
      size_t na = 0;
      for (uint8_t a = 1; a <= 3; a++)
        if (e->annot & (1u << (a - 1))) ann[na++] = a;
      ICX_TRY(put_uleb(b, na));
      ICX_TRY(put(b, ann, na));
      break;
    }
    case ICX_CT_SERVICE:
      ICX_TRY(put_uleb(b, e->nfields));
      for (uint32_t k = 0; k < e->nfields; k++) {
        const icxCandidField *f = &t->fields[e->first + k];
        ICX_TRY(put_uleb(b, f->name_len));
        ICX_TRY(put(b, f->name, f->name_len));
        ICX_TRY(put_sleb(b, remap(map, f->type)));
      }
      break;
    default: rc = icxErr_set(b->err, ICX_EINVAL, "candid: bad type table entry"); goto fail;
    }
  }
  icxCore_free(b->a, order, (size_t)n * sizeof *order);
  *map_out = map;
  *map_n = n;
  return ICX_OK;
fail:
  icxCore_free(b->a, map, (size_t)n * sizeof *map);
  icxCore_free(b->a, order, (size_t)n * sizeof *order);
  return rc;
}

icx_status icxCandid_encode(const icxAllocator *a, const icxCandidTypes *types,
                            const int32_t *arg_types, const icxCandidValue *args, size_t nargs,
                            uint8_t **out, size_t *out_len, icxErr *err) {
  if (out) *out = NULL;
  if (out_len) *out_len = 0;
  if (a == NULL || out == NULL || out_len == NULL || (nargs && (arg_types == NULL || args == NULL)))
    return icxErr_set(err, ICX_EINVAL, "candid: bad arguments to encode");
  for (size_t i = 0; i < nargs; i++)
    if (!ref_ok(types, arg_types[i]))
      return icxErr_set(err, ICX_EINVAL, "candid: bad argument type %d", arg_types[i]);
  Buf b = {a, NULL, 0, 0, err};
  icx_status rc = ICX_OK;
  int32_t *map = NULL;
  size_t map_n = 0;
  ICX_TRY(put(&b, "DIDL", 4));
  ICX_TRY(enc_table(&b, types, arg_types, nargs, &map, &map_n));
  ICX_TRY(put_uleb(&b, nargs));
  for (size_t i = 0; i < nargs; i++) ICX_TRY(put_sleb(&b, remap(map, arg_types[i])));
  for (size_t i = 0; i < nargs; i++) ICX_TRY(enc_value(&b, types, arg_types[i], &args[i], 0));
  icxCore_free(a, map, map_n * sizeof *map);
  map = NULL;
  /* shrink to the exact size so the caller frees (p, len) */
  if (b.cap != b.n) {
    uint8_t *q = icxCore_realloc(a, b.p, b.cap, b.n);
    if (q == NULL) {
      rc = icxErr_set(err, ICX_ENOMEM, "candid: out of memory");
      goto fail;
    }
    b.p = q;
    b.cap = b.n;
  }
  *out = b.p;
  *out_len = b.n;
  return ICX_OK;
fail:
  icxCore_free(a, map, map_n * sizeof *map);
  icxCore_free(a, b.p, b.cap);
  return rc;
}

/* ---- value constructors ------------------------------------------------------ */

static icxCandidValue v_of(int32_t k) {
  icxCandidValue v;
  memset(&v, 0, sizeof v);
  v.type = k;
  return v;
}

icxCandidValue icxCandid_v_nat(uint64_t lo, uint64_t hi) {
  icxCandidValue v = v_of(ICX_CT_NAT);
  v.u.w.lo = lo;
  v.u.w.hi = hi;
  return v;
}

icxCandidValue icxCandid_v_nat64(uint64_t x) {
  icxCandidValue v = v_of(ICX_CT_NAT64);
  v.u.w.lo = x;
  return v;
}

icxCandidValue icxCandid_v_bool(int b) {
  icxCandidValue v = v_of(ICX_CT_BOOL);
  v.u.w.lo = b ? 1 : 0;
  return v;
}

icxCandidValue icxCandid_v_null(void) { return v_of(ICX_CT_NULL); }

icxCandidValue icxCandid_v_text(const char *s, size_t len) {
  icxCandidValue v = v_of(ICX_CT_TEXT);
  v.u.bytes = (const uint8_t *)s;
  v.n = len;
  return v;
}

icxCandidValue icxCandid_v_blob(const uint8_t *p, size_t len) {
  icxCandidValue v = v_of(ICX_CT_VEC);
  v.is_bytes = 1;
  v.u.bytes = p;
  v.n = len;
  return v;
}

icxCandidValue icxCandid_v_principal(const uint8_t *p, size_t len) {
  icxCandidValue v = v_of(ICX_CT_PRINCIPAL);
  v.u.bytes = p;
  v.n = len;
  return v;
}

icxCandidValue icxCandid_v_opt(icxCandidValue *item) {
  icxCandidValue v = v_of(ICX_CT_OPT);
  v.u.items = item;
  v.n = item ? 1 : 0;
  return v;
}

icxCandidValue icxCandid_v_record(icxCandidValue *items, size_t n) {
  icxCandidValue v = v_of(ICX_CT_RECORD);
  v.u.items = items;
  v.n = n;
  return v;
}

icxCandidValue icxCandid_v_vec(icxCandidValue *items, size_t n) {
  icxCandidValue v = v_of(ICX_CT_VEC);
  v.u.items = items;
  v.n = n;
  return v;
}

icxCandidValue icxCandid_v_variant(uint32_t index, icxCandidValue *item) {
  icxCandidValue v = v_of(ICX_CT_VARIANT);
  v.u.items = item;
  v.n = index;
  return v;
}
