/* wat_emit.c -- the output side of the WAT parser: growable buffers, LEB128,
 * the identifier and signature hash maps, the type pool, the opcode table and
 * the final assembly of the sections into a module binary. */
#define ICX_WAT_INTERNAL
#include "wat.h"

/* ---- buffers and LEB128 ------------------------------------------------------ */

/* Append n bytes. */
int icxWat_put(watCtx *w, watBuf *b, const void *p, size_t n) {
  if (n > SIZE_MAX / 2 - b->n) return icxWat_oom(w);
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n) cap *= 2;
    uint8_t *q = icxCore_realloc(w->a, b->p, b->cap, cap);
    if (!q) return icxWat_oom(w);
    b->p = q;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  return 0;
}

int icxWat_byte(watCtx *w, watBuf *b, uint8_t v) { return icxWat_put(w, b, &v, 1); }

/* Unsigned LEB128, minimal. */
int icxWat_u64(watCtx *w, watBuf *b, uint64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  do {
    uint8_t c = (uint8_t)(v & 0x7f);
    v >>= 7;
    tmp[n++] = (uint8_t)(c | (v ? 0x80 : 0));
  } while (v);
  return icxWat_put(w, b, tmp, n);
}

int icxWat_u32(watCtx *w, watBuf *b, uint32_t v) { return icxWat_u64(w, b, v); }

/* Signed LEB128, minimal. */
int icxWat_s64(watCtx *w, watBuf *b, int64_t v) {
  uint8_t tmp[10];
  size_t n = 0;
  for (;;) {
    uint8_t c = (uint8_t)((uint64_t)v & 0x7f);
    int64_t rest = v >> 7; /* arithmetic shift (gcc, clang, C23) */
    if ((rest == 0 && !(c & 0x40)) || (rest == -1 && (c & 0x40))) {
      tmp[n++] = c;
      break;
    }
    tmp[n++] = (uint8_t)(c | 0x80);
    v = rest;
  }
  return icxWat_put(w, b, tmp, n);
}

void icxWat_buf_free(watCtx *w, watBuf *b) {
  icxCore_free(w->a, b->p, b->cap);
  memset(b, 0, sizeof *b);
}

/* ---- hash maps ------------------------------------------------------------------ */

static uint32_t hash_bytes(const uint8_t *p, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

/* The value stored for key, or WAT_NONE. */
uint32_t icxWat_map_get(const watMap *m, const void *base, const void *key, uint32_t len) {
  if (m->cap == 0) return WAT_NONE;
  uint32_t h = hash_bytes(key, len), mask = m->cap - 1;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    const watMapEnt *e = &m->e[i];
    if (e->off == UINT32_MAX) return WAT_NONE;
    if (e->hash == h && e->len == len && memcmp((const uint8_t *)base + e->off, key, len) == 0)
      return e->val;
  }
}

static int map_grow(watCtx *w, watMap *m) {
  uint32_t cap = m->cap ? m->cap * 2 : 16;
  if (cap == 0 || cap > UINT32_MAX / 2) return icxWat_oom(w);
  watMapEnt *e = icxCore_allocn(w->a, cap, sizeof *e);
  if (!e) return icxWat_oom(w);
  for (uint32_t i = 0; i < cap; i++) e[i].off = UINT32_MAX;
  for (uint32_t j = 0; j < m->cap; j++) {
    if (m->e[j].off == UINT32_MAX) continue;
    uint32_t i = m->e[j].hash & (cap - 1);
    while (e[i].off != UINT32_MAX) i = (i + 1) & (cap - 1);
    e[i] = m->e[j];
  }
  icxCore_free(w->a, m->e, (size_t)m->cap * sizeof *m->e);
  m->e = e;
  m->cap = cap;
  return 0;
}

/* Insert or overwrite the key base[off..off+len). */
int icxWat_map_set(watCtx *w, watMap *m, const void *base, uint32_t off, uint32_t len,
                   uint32_t val) {
  if ((m->n + 1) * 2 > m->cap && map_grow(w, m) != 0) return -1;
  const uint8_t *key = (const uint8_t *)base + off;
  uint32_t h = hash_bytes(key, len), mask = m->cap - 1;
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    watMapEnt *e = &m->e[i];
    if (e->off == UINT32_MAX) {
      e->hash = h;
      e->off = off;
      e->len = len;
      e->val = val;
      m->n++;
      return 0;
    }
    if (e->hash == h && e->len == len && memcmp((const uint8_t *)base + e->off, key, len) == 0) {
      e->val = val;
      return 0;
    }
  }
}

/* Empty the map.  A large table is released rather than wiped, so clearing
 * costs time proportional to what was inserted since the last clear (a
 * per-function map must not cost O(largest function) for every function). */
void icxWat_map_clear(watCtx *w, watMap *m) {
  if (m->n == 0) return;
  if (m->cap > 64) {
    icxWat_map_free(w, m);
    return;
  }
  for (uint32_t i = 0; i < m->cap; i++) m->e[i].off = UINT32_MAX;
  m->n = 0;
}

void icxWat_map_free(watCtx *w, watMap *m) {
  icxCore_free(w->a, m->e, (size_t)m->cap * sizeof *m->e);
  memset(m, 0, sizeof *m);
}

/* ---- types ----------------------------------------------------------------------- */

/* The smallest type index with signature enc (np params, nr results); with
 * create, a missing one is appended (create 2: append even if one exists,
 * for explicit type definitions). */
int icxWat_type_find(watCtx *w, const uint8_t *enc, uint32_t len, uint32_t np, uint32_t nr,
                     int create, uint32_t *out) {
  uint32_t idx = icxWat_map_get(&w->sigs, w->typepool.p, enc, len);
  if ((idx != WAT_NONE && create != 2) || !create) {
    *out = idx;
    return 0;
  }
  if (w->ntypes == w->types_cap) {
    uint32_t cap = w->types_cap ? w->types_cap * 2 : 16;
    if (cap > UINT32_MAX / 2) return icxWat_oom(w);
    watType *t =
        icxCore_realloc(w->a, w->types, (size_t)w->types_cap * sizeof *t, (size_t)cap * sizeof *t);
    if (!t) return icxWat_oom(w);
    w->types = t;
    w->types_cap = cap;
  }
  if (w->typepool.n > UINT32_MAX - len) return icxWat_oom(w);
  uint32_t off = (uint32_t)w->typepool.n;
  if (icxWat_put(w, &w->typepool, enc, len) != 0) return -1;
  watType *t = &w->types[w->ntypes];
  t->off = off;
  t->len = len;
  t->np = np;
  t->nr = nr;
  if (idx == WAT_NONE && icxWat_map_set(w, &w->sigs, w->typepool.p, off, len, w->ntypes) != 0)
    return -1;
  *out = w->ntypes++;
  return 0;
}

/* ---- opcodes --------------------------------------------------------------------- */

/* Sorted by name (bytewise) for binary search. */
static const watOp ops[] = {
    {"block", 0x02, WK_BLOCK, 0},
    {"br", 0x0c, WK_BR, 0},
    {"br_if", 0x0d, WK_BR, 0},
    {"br_table", 0x0e, WK_BR_TABLE, 0},
    {"call", 0x10, WK_CALL, 0},
    {"call_indirect", 0x11, WK_CALL_INDIRECT, 0},
    {"data.drop", 0xfc09, WK_DATA, 0},
    {"drop", 0x1a, WK_NONE, 0},
    {"elem.drop", 0xfc0d, WK_ELEM, 0},
    {"else", 0x05, WK_ELSE, 0},
    {"end", 0x0b, WK_END, 0},
    {"f32.abs", 0x8b, WK_NONE, 0},
    {"f32.add", 0x92, WK_NONE, 0},
    {"f32.ceil", 0x8d, WK_NONE, 0},
    {"f32.const", 0x43, WK_F32, 0},
    {"f32.convert_i32_s", 0xb2, WK_NONE, 0},
    {"f32.convert_i32_u", 0xb3, WK_NONE, 0},
    {"f32.convert_i64_s", 0xb4, WK_NONE, 0},
    {"f32.convert_i64_u", 0xb5, WK_NONE, 0},
    {"f32.copysign", 0x98, WK_NONE, 0},
    {"f32.demote_f64", 0xb6, WK_NONE, 0},
    {"f32.div", 0x95, WK_NONE, 0},
    {"f32.eq", 0x5b, WK_NONE, 0},
    {"f32.floor", 0x8e, WK_NONE, 0},
    {"f32.ge", 0x60, WK_NONE, 0},
    {"f32.gt", 0x5e, WK_NONE, 0},
    {"f32.le", 0x5f, WK_NONE, 0},
    {"f32.load", 0x2a, WK_MEMARG, 2},
    {"f32.lt", 0x5d, WK_NONE, 0},
    {"f32.max", 0x97, WK_NONE, 0},
    {"f32.min", 0x96, WK_NONE, 0},
    {"f32.mul", 0x94, WK_NONE, 0},
    {"f32.ne", 0x5c, WK_NONE, 0},
    {"f32.nearest", 0x90, WK_NONE, 0},
    {"f32.neg", 0x8c, WK_NONE, 0},
    {"f32.reinterpret_i32", 0xbe, WK_NONE, 0},
    {"f32.sqrt", 0x91, WK_NONE, 0},
    {"f32.store", 0x38, WK_MEMARG, 2},
    {"f32.sub", 0x93, WK_NONE, 0},
    {"f32.trunc", 0x8f, WK_NONE, 0},
    {"f64.abs", 0x99, WK_NONE, 0},
    {"f64.add", 0xa0, WK_NONE, 0},
    {"f64.ceil", 0x9b, WK_NONE, 0},
    {"f64.const", 0x44, WK_F64, 0},
    {"f64.convert_i32_s", 0xb7, WK_NONE, 0},
    {"f64.convert_i32_u", 0xb8, WK_NONE, 0},
    {"f64.convert_i64_s", 0xb9, WK_NONE, 0},
    {"f64.convert_i64_u", 0xba, WK_NONE, 0},
    {"f64.copysign", 0xa6, WK_NONE, 0},
    {"f64.div", 0xa3, WK_NONE, 0},
    {"f64.eq", 0x61, WK_NONE, 0},
    {"f64.floor", 0x9c, WK_NONE, 0},
    {"f64.ge", 0x66, WK_NONE, 0},
    {"f64.gt", 0x64, WK_NONE, 0},
    {"f64.le", 0x65, WK_NONE, 0},
    {"f64.load", 0x2b, WK_MEMARG, 3},
    {"f64.lt", 0x63, WK_NONE, 0},
    {"f64.max", 0xa5, WK_NONE, 0},
    {"f64.min", 0xa4, WK_NONE, 0},
    {"f64.mul", 0xa2, WK_NONE, 0},
    {"f64.ne", 0x62, WK_NONE, 0},
    {"f64.nearest", 0x9e, WK_NONE, 0},
    {"f64.neg", 0x9a, WK_NONE, 0},
    {"f64.promote_f32", 0xbb, WK_NONE, 0},
    {"f64.reinterpret_i64", 0xbf, WK_NONE, 0},
    {"f64.sqrt", 0x9f, WK_NONE, 0},
    {"f64.store", 0x39, WK_MEMARG, 3},
    {"f64.sub", 0xa1, WK_NONE, 0},
    {"f64.trunc", 0x9d, WK_NONE, 0},
    {"global.get", 0x23, WK_GLOBAL, 0},
    {"global.set", 0x24, WK_GLOBAL, 0},
    {"i32.add", 0x6a, WK_NONE, 0},
    {"i32.and", 0x71, WK_NONE, 0},
    {"i32.clz", 0x67, WK_NONE, 0},
    {"i32.const", 0x41, WK_I32, 0},
    {"i32.ctz", 0x68, WK_NONE, 0},
    {"i32.div_s", 0x6d, WK_NONE, 0},
    {"i32.div_u", 0x6e, WK_NONE, 0},
    {"i32.eq", 0x46, WK_NONE, 0},
    {"i32.eqz", 0x45, WK_NONE, 0},
    {"i32.extend16_s", 0xc1, WK_NONE, 0},
    {"i32.extend8_s", 0xc0, WK_NONE, 0},
    {"i32.ge_s", 0x4e, WK_NONE, 0},
    {"i32.ge_u", 0x4f, WK_NONE, 0},
    {"i32.gt_s", 0x4a, WK_NONE, 0},
    {"i32.gt_u", 0x4b, WK_NONE, 0},
    {"i32.le_s", 0x4c, WK_NONE, 0},
    {"i32.le_u", 0x4d, WK_NONE, 0},
    {"i32.load", 0x28, WK_MEMARG, 2},
    {"i32.load16_s", 0x2e, WK_MEMARG, 1},
    {"i32.load16_u", 0x2f, WK_MEMARG, 1},
    {"i32.load8_s", 0x2c, WK_MEMARG, 0},
    {"i32.load8_u", 0x2d, WK_MEMARG, 0},
    {"i32.lt_s", 0x48, WK_NONE, 0},
    {"i32.lt_u", 0x49, WK_NONE, 0},
    {"i32.mul", 0x6c, WK_NONE, 0},
    {"i32.ne", 0x47, WK_NONE, 0},
    {"i32.or", 0x72, WK_NONE, 0},
    {"i32.popcnt", 0x69, WK_NONE, 0},
    {"i32.reinterpret_f32", 0xbc, WK_NONE, 0},
    {"i32.rem_s", 0x6f, WK_NONE, 0},
    {"i32.rem_u", 0x70, WK_NONE, 0},
    {"i32.rotl", 0x77, WK_NONE, 0},
    {"i32.rotr", 0x78, WK_NONE, 0},
    {"i32.shl", 0x74, WK_NONE, 0},
    {"i32.shr_s", 0x75, WK_NONE, 0},
    {"i32.shr_u", 0x76, WK_NONE, 0},
    {"i32.store", 0x36, WK_MEMARG, 2},
    {"i32.store16", 0x3b, WK_MEMARG, 1},
    {"i32.store8", 0x3a, WK_MEMARG, 0},
    {"i32.sub", 0x6b, WK_NONE, 0},
    {"i32.trunc_f32_s", 0xa8, WK_NONE, 0},
    {"i32.trunc_f32_u", 0xa9, WK_NONE, 0},
    {"i32.trunc_f64_s", 0xaa, WK_NONE, 0},
    {"i32.trunc_f64_u", 0xab, WK_NONE, 0},
    {"i32.trunc_sat_f32_s", 0xfc00, WK_NONE, 0},
    {"i32.trunc_sat_f32_u", 0xfc01, WK_NONE, 0},
    {"i32.trunc_sat_f64_s", 0xfc02, WK_NONE, 0},
    {"i32.trunc_sat_f64_u", 0xfc03, WK_NONE, 0},
    {"i32.wrap_i64", 0xa7, WK_NONE, 0},
    {"i32.xor", 0x73, WK_NONE, 0},
    {"i64.add", 0x7c, WK_NONE, 0},
    {"i64.and", 0x83, WK_NONE, 0},
    {"i64.clz", 0x79, WK_NONE, 0},
    {"i64.const", 0x42, WK_I64, 0},
    {"i64.ctz", 0x7a, WK_NONE, 0},
    {"i64.div_s", 0x7f, WK_NONE, 0},
    {"i64.div_u", 0x80, WK_NONE, 0},
    {"i64.eq", 0x51, WK_NONE, 0},
    {"i64.eqz", 0x50, WK_NONE, 0},
    {"i64.extend16_s", 0xc3, WK_NONE, 0},
    {"i64.extend32_s", 0xc4, WK_NONE, 0},
    {"i64.extend8_s", 0xc2, WK_NONE, 0},
    {"i64.extend_i32_s", 0xac, WK_NONE, 0},
    {"i64.extend_i32_u", 0xad, WK_NONE, 0},
    {"i64.ge_s", 0x59, WK_NONE, 0},
    {"i64.ge_u", 0x5a, WK_NONE, 0},
    {"i64.gt_s", 0x55, WK_NONE, 0},
    {"i64.gt_u", 0x56, WK_NONE, 0},
    {"i64.le_s", 0x57, WK_NONE, 0},
    {"i64.le_u", 0x58, WK_NONE, 0},
    {"i64.load", 0x29, WK_MEMARG, 3},
    {"i64.load16_s", 0x32, WK_MEMARG, 1},
    {"i64.load16_u", 0x33, WK_MEMARG, 1},
    {"i64.load32_s", 0x34, WK_MEMARG, 2},
    {"i64.load32_u", 0x35, WK_MEMARG, 2},
    {"i64.load8_s", 0x30, WK_MEMARG, 0},
    {"i64.load8_u", 0x31, WK_MEMARG, 0},
    {"i64.lt_s", 0x53, WK_NONE, 0},
    {"i64.lt_u", 0x54, WK_NONE, 0},
    {"i64.mul", 0x7e, WK_NONE, 0},
    {"i64.ne", 0x52, WK_NONE, 0},
    {"i64.or", 0x84, WK_NONE, 0},
    {"i64.popcnt", 0x7b, WK_NONE, 0},
    {"i64.reinterpret_f64", 0xbd, WK_NONE, 0},
    {"i64.rem_s", 0x81, WK_NONE, 0},
    {"i64.rem_u", 0x82, WK_NONE, 0},
    {"i64.rotl", 0x89, WK_NONE, 0},
    {"i64.rotr", 0x8a, WK_NONE, 0},
    {"i64.shl", 0x86, WK_NONE, 0},
    {"i64.shr_s", 0x87, WK_NONE, 0},
    {"i64.shr_u", 0x88, WK_NONE, 0},
    {"i64.store", 0x37, WK_MEMARG, 3},
    {"i64.store16", 0x3d, WK_MEMARG, 1},
    {"i64.store32", 0x3e, WK_MEMARG, 2},
    {"i64.store8", 0x3c, WK_MEMARG, 0},
    {"i64.sub", 0x7d, WK_NONE, 0},
    {"i64.trunc_f32_s", 0xae, WK_NONE, 0},
    {"i64.trunc_f32_u", 0xaf, WK_NONE, 0},
    {"i64.trunc_f64_s", 0xb0, WK_NONE, 0},
    {"i64.trunc_f64_u", 0xb1, WK_NONE, 0},
    {"i64.trunc_sat_f32_s", 0xfc04, WK_NONE, 0},
    {"i64.trunc_sat_f32_u", 0xfc05, WK_NONE, 0},
    {"i64.trunc_sat_f64_s", 0xfc06, WK_NONE, 0},
    {"i64.trunc_sat_f64_u", 0xfc07, WK_NONE, 0},
    {"i64.xor", 0x85, WK_NONE, 0},
    {"if", 0x04, WK_BLOCK, 0},
    {"local.get", 0x20, WK_LOCAL, 0},
    {"local.set", 0x21, WK_LOCAL, 0},
    {"local.tee", 0x22, WK_LOCAL, 0},
    {"loop", 0x03, WK_BLOCK, 0},
    {"memory.copy", 0xfc0a, WK_MEM0, 2},
    {"memory.fill", 0xfc0b, WK_MEM0, 1},
    {"memory.grow", 0x40, WK_MEM0, 1},
    {"memory.init", 0xfc08, WK_MEM_INIT, 0},
    {"memory.size", 0x3f, WK_MEM0, 1},
    {"nop", 0x01, WK_NONE, 0},
    {"ref.func", 0xd2, WK_REF_FUNC, 0},
    {"ref.is_null", 0xd1, WK_NONE, 0},
    {"ref.null", 0xd0, WK_REF_NULL, 0},
    {"return", 0x0f, WK_NONE, 0},
    {"select", 0x1b, WK_SELECT, 0},
    {"table.copy", 0xfc0e, WK_TABLE_COPY, 0},
    {"table.fill", 0xfc11, WK_TABLE, 0},
    {"table.get", 0x25, WK_TABLE, 0},
    {"table.grow", 0xfc0f, WK_TABLE, 0},
    {"table.init", 0xfc0c, WK_TABLE_INIT, 0},
    {"table.set", 0x26, WK_TABLE, 0},
    {"table.size", 0xfc10, WK_TABLE, 0},
    {"unreachable", 0x00, WK_NONE, 0},
};

/* The op named by keyword token t, or NULL. */
const watOp *icxWat_op_find(const watCtx *w, const watTok *t) {
  if (t->kind != WT_KW) return NULL;
  const char *s = w->src + t->off;
  size_t lo = 0, hi = sizeof ops / sizeof ops[0];
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    const char *name = ops[mid].name;
    size_t nl = strlen(name);
    int c = memcmp(s, name, t->len < nl ? t->len : nl);
    if (c == 0) c = t->len < nl ? -1 : (t->len > nl ? 1 : 0);
    if (c == 0) return &ops[mid];
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return NULL;
}

/* The opcode bytes of op. */
int icxWat_op_emit(watCtx *w, watBuf *b, const watOp *op) {
  if (op->code > 0xff) {
    if (icxWat_byte(w, b, (uint8_t)(op->code >> 8)) != 0) return -1;
    return icxWat_u32(w, b, op->code & 0xffu);
  }
  return icxWat_byte(w, b, (uint8_t)op->code);
}

/* ---- assembly --------------------------------------------------------------------- */

static size_t leb_len(uint64_t v) {
  size_t n = 1;
  while (v >>= 7) n++;
  return n;
}

/* Section id with body b (prefixed with count, unless count is WAT_NONE). */
static int section(watCtx *w, watBuf *out, uint8_t id, uint32_t count, const watBuf *b) {
  size_t size = b->n + (count == WAT_NONE ? 0 : leb_len(count));
  if (size > UINT32_MAX) return icxWat_fail(w, w->len, "module too large");
  if (icxWat_byte(w, out, id) != 0 || icxWat_u32(w, out, (uint32_t)size) != 0) return -1;
  if (count != WAT_NONE && icxWat_u32(w, out, count) != 0) return -1;
  return icxWat_put(w, out, b->p, b->n);
}

/* Concatenate the sections into the module binary (owned by the caller). */
int icxWat_assemble(watCtx *w, uint8_t **out, size_t *out_len) {
  static const uint8_t header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  watBuf m = {0}, types = {0}, dc = {0};
  int rc = -1;
  if (icxWat_put(w, &m, header, sizeof header) != 0) goto done;
  for (uint32_t i = 0; i < w->ntypes; i++) {
    const watType *t = &w->types[i];
    if (icxWat_byte(w, &types, 0x60) != 0 ||
        icxWat_put(w, &types, w->typepool.p + t->off, t->len) != 0)
      goto done;
  }
  struct {
    uint8_t id;
    uint32_t count;
    const watBuf *b;
  } secs[] = {
      {1, w->ntypes, &types},           {2, w->n_import, &w->sec_import},
      {3, w->n_func, &w->sec_func},     {4, w->n_table, &w->sec_table},
      {5, w->n_mem, &w->sec_mem},       {6, w->n_global, &w->sec_global},
      {7, w->n_export, &w->sec_export}, {8, WAT_NONE, &w->sec_start},
      {9, w->n_elem, &w->sec_elem},     {12, WAT_NONE, &dc},
      {10, w->n_code, &w->sec_code},    {11, w->n_data, &w->sec_data},
  };
  if (w->uses_data_count && w->n_data && icxWat_u32(w, &dc, w->n_data) != 0) goto done;
  for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
    int present = secs[i].count == WAT_NONE ? secs[i].b->n > 0 : secs[i].count > 0;
    if (present && section(w, &m, secs[i].id, secs[i].count, secs[i].b) != 0) goto done;
  }
  /* hand over an exact-size block */
  uint8_t *res = icxCore_alloc(w->a, m.n);
  if (!res) {
    icxWat_oom(w);
    goto done;
  }
  memcpy(res, m.p, m.n);
  *out = res;
  *out_len = m.n;
  rc = 0;
done:
  icxWat_buf_free(w, &m);
  icxWat_buf_free(w, &types);
  icxWat_buf_free(w, &dc);
  return rc;
}
