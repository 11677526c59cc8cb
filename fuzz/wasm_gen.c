/* wasm_gen.c -- bytes to a valid Wasm module, for fuzz_exec (see wasm_gen.h).
 *
 * Expressions are generated top-down by the type they must leave on the
 * stack (gen_expr), statements leave the stack as they found it (gen_stmt).
 * Every branch names a label whose branch types the generator knows, and the
 * values it carries are generated first, so every body type-checks. */
#include "wasm_gen.h"

#include <stdlib.h>
#include <string.h>

enum { I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, FUNCREF = 0x70 };

#define MAX_TYPES 48
#define MAX_FUNCS 5
#define MAX_LOCALS 40
#define MAX_LABELS 24
#define MAX_DEPTH 6
#define FUNC_BUDGET 260 /* instructions per function before only leaves */
#define NGLOBALS 5
#define MEM_PAGES 1
#define MEM_MAX 2
#define TABLE_EXTRA 3 /* null slots after the functions */
#define TABLE_GROW 8  /* table maximum = minimum + this */
#define PASSIVE_ELEMS 4

/* ---- byte buffer -------------------------------------------------------- */
typedef struct Buf {
  uint8_t *p;
  size_t len, cap;
  int oom;
} Buf;

static void put(Buf *b, uint8_t v) {
  if (b->len == b->cap) {
    size_t ncap = b->cap ? b->cap * 2 : 256;
    uint8_t *np = b->oom ? NULL : realloc(b->p, ncap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = ncap;
  }
  b->p[b->len++] = v;
}

static void put_bytes(Buf *b, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) put(b, p[i]);
}

static void put_u32(Buf *b, uint32_t v) {
  do {
    uint8_t byte = (uint8_t)(v & 0x7f);
    v >>= 7;
    put(b, (uint8_t)(byte | (v ? 0x80 : 0)));
  } while (v);
}

static void put_s64(Buf *b, int64_t v) {
  for (;;) {
    uint8_t byte = (uint8_t)(v & 0x7f);
    v >>= 7; /* arithmetic shift (gcc, clang) */
    int done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
    put(b, (uint8_t)(byte | (done ? 0 : 0x80)));
    if (done) break;
  }
}

static void put_le(Buf *b, uint64_t v, int n) {
  for (int i = 0; i < n; i++) put(b, (uint8_t)(v >> (8 * i)));
}

/* A section: id, size, payload. */
static void put_section(Buf *out, uint8_t id, const Buf *payload) {
  put(out, id);
  put_u32(out, (uint32_t)payload->len);
  put_bytes(out, payload->p, payload->len);
  if (payload->oom) out->oom = 1;
}

/* ---- generator state ---------------------------------------------------- */
typedef struct FType {
  uint8_t np, nr;
  uint8_t t[8]; /* params then results */
} FType;

typedef struct Label {
  uint8_t n;
  uint8_t t[3]; /* branch types */
} Label;

typedef struct Gen {
  const uint8_t *in;
  size_t n, pos;
  Buf *code;
  FType types[MAX_TYPES];
  uint32_t ntypes;
  uint32_t nfuncs;
  uint32_t ftype[MAX_FUNCS];
  uint8_t loc[MAX_LOCALS];
  uint32_t nloc;
  Label lab[MAX_LABELS];
  uint32_t nlab;
  uint32_t cur_func;
  int budget, depth;
  uint32_t table_min;
  uint32_t flags; /* WASMGEN_* */
} Gen;

static const uint8_t numtypes[4] = {I32, I64, F32, F64};
static const uint8_t global_type[NGLOBALS] = {I32, I64, F32, F64, I32};
static const uint8_t global_mut[NGLOBALS] = {1, 1, 1, 1, 0};

/* Type lists may be empty (and NULL): no memcmp/memcpy with NULL. */
static int tsame(const uint8_t *a, const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

static void tcopy(uint8_t *dst, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = src[i];
}

static uint8_t rd8(Gen *g) { return g->pos < g->n ? g->in[g->pos++] : 0; }

/* A choice in [0, k). */
static uint32_t pick(Gen *g, uint32_t k) {
  if (k <= 1) return 0;
  if (k <= 256) return rd8(g) % k;
  uint32_t v = (uint32_t)rd8(g) | (uint32_t)rd8(g) << 8;
  return v % k;
}

static uint32_t rd32(Gen *g) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)rd8(g) << (8 * i);
  return v;
}

static uint64_t rd64(Gen *g) {
  uint64_t lo = rd32(g);
  return lo | (uint64_t)rd32(g) << 32;
}

static uint8_t numtype(Gen *g) { return numtypes[pick(g, 4)]; }

static void op(Gen *g, uint8_t v) {
  put(g->code, v);
  g->budget--;
}

static void op_fc(Gen *g, uint32_t sub) {
  op(g, 0xfc);
  put_u32(g->code, sub);
}

static void uleb(Gen *g, uint32_t v) { put_u32(g->code, v); }

/* Index of the function type (params, results), added if new; -1 if full. */
static int type_index(Gen *g, uint8_t np, const uint8_t *p, uint8_t nr, const uint8_t *r) {
  for (uint32_t i = 0; i < g->ntypes; i++) {
    const FType *t = &g->types[i];
    if (t->np == np && t->nr == nr && tsame(t->t, p, np) && tsame(t->t + np, r, nr))
      return (int)i;
  }
  if (g->ntypes == MAX_TYPES) return -1;
  FType *t = &g->types[g->ntypes];
  t->np = np;
  t->nr = nr;
  tcopy(t->t, p, np);
  tcopy(t->t + np, r, nr);
  return (int)g->ntypes++;
}

static const FType *func_type(const Gen *g, uint32_t f) { return &g->types[g->ftype[f]]; }

static int leaf_only(const Gen *g) { return g->budget <= 0 || g->depth >= MAX_DEPTH; }

/* A new local of type t; -1 if the table is full. */
static int new_local(Gen *g, uint8_t t) {
  if (g->nloc == MAX_LOCALS) return -1;
  g->loc[g->nloc] = t;
  return (int)g->nloc++;
}

/* A random local of type t, or -1. */
static int find_local(Gen *g, uint8_t t) {
  uint32_t cnt = 0;
  for (uint32_t i = 0; i < g->nloc; i++) cnt += g->loc[i] == t;
  if (!cnt) return -1;
  uint32_t k = pick(g, cnt);
  for (uint32_t i = 0; i < g->nloc; i++)
    if (g->loc[i] == t && k-- == 0) return (int)i;
  return -1;
}

static int push_label(Gen *g, uint8_t n, const uint8_t *t) {
  if (g->nlab == MAX_LABELS) return 0;
  g->lab[g->nlab].n = n;
  tcopy(g->lab[g->nlab].t, t, n);
  g->nlab++;
  return 1;
}

/* Relative depth of a random label whose branch types are exactly (n, t);
 * -1 if none. */
static int find_label(Gen *g, uint8_t n, const uint8_t *t) {
  uint32_t cnt = 0;
  for (uint32_t i = 0; i < g->nlab; i++)
    cnt += g->lab[i].n == n && tsame(g->lab[i].t, t, n);
  if (!cnt) return -1;
  uint32_t k = pick(g, cnt);
  for (uint32_t i = 0; i < g->nlab; i++)
    if (g->lab[i].n == n && tsame(g->lab[i].t, t, n) && k-- == 0)
      return (int)(g->nlab - 1 - i);
  return -1;
}

/* ---- constants ---------------------------------------------------------- */
static uint32_t val32(Gen *g) {
  static const uint32_t special[] = {0, 1, 0xffffffffu, 0x80000000u, 0x7fffffffu, 2, 31, 32};
  uint32_t c = pick(g, 12);
  if (c < 8) return special[c];
  if (c < 10) return rd8(g);
  return rd32(g);
}

static uint64_t val64(Gen *g) {
  static const uint64_t special[] = {0, 1, UINT64_MAX, 0x8000000000000000ull,
                                     0x7fffffffffffffffull, 63, 64, 0xffffffffull};
  uint32_t c = pick(g, 12);
  if (c < 8) return special[c];
  if (c < 10) return rd8(g);
  return rd64(g);
}

static uint32_t f32bits(Gen *g) {
  static const uint32_t special[] = {
      0x00000000u, 0x3f800000u, 0x80000000u, 0x7fc00000u, 0x7f800000u, 0xff800000u,
      0x7fa00000u, 0x4f000000u, 0xcf000000u, 0x00000001u, 0x3f000000u, 0xff7fffffu,
      0x5f000000u, 0xdf000000u, 0x4effffffu, 0xffc00001u};
  uint32_t c = pick(g, 20);
  return c < 16 ? special[c] : rd32(g);
}

static uint64_t f64bits(Gen *g) {
  static const uint64_t special[] = {
      0x0000000000000000ull, 0x3ff0000000000000ull, 0x8000000000000000ull,
      0x7ff8000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
      0x7ff4000000000000ull, 0x41e0000000000000ull, 0xc1e0000000000000ull,
      0x0000000000000001ull, 0x3fe0000000000000ull, 0x43e0000000000000ull,
      0xc3e0000000000000ull, 0x41dfffffffc00000ull, 0x7fefffffffffffffull,
      0xfff8000000000001ull};
  uint32_t c = pick(g, 20);
  return c < 16 ? special[c] : rd64(g);
}

static void gen_const(Gen *g, uint8_t t) {
  switch (t) {
  case I32:
    op(g, 0x41);
    put_s64(g->code, (int32_t)val32(g));
    break;
  case I64:
    op(g, 0x42);
    put_s64(g->code, (int64_t)val64(g));
    break;
  case F32:
    op(g, 0x43);
    put_le(g->code, f32bits(g), 4);
    break;
  case F64:
    op(g, 0x44);
    put_le(g->code, f64bits(g), 8);
    break;
  default: /* FUNCREF */
    op(g, 0xd0);
    put(g->code, FUNCREF);
    break;
  }
}

static void i32_const(Gen *g, int32_t v) {
  op(g, 0x41);
  put_s64(g->code, v);
}

/* ---- operator tables ---------------------------------------------------- */
typedef struct OpRange {
  uint16_t lo, hi; /* opcodes; 0xfcNN for the 0xfc prefix */
  uint8_t r, a, b; /* result, operand types (b = 0: unary) */
} OpRange;

static const OpRange numops[] = {
    {0x45, 0x45, I32, I32, 0},     {0x46, 0x4f, I32, I32, I32},   {0x50, 0x50, I32, I64, 0},
    {0x51, 0x5a, I32, I64, I64},   {0x5b, 0x60, I32, F32, F32},   {0x61, 0x66, I32, F64, F64},
    {0x67, 0x69, I32, I32, 0},     {0x6a, 0x78, I32, I32, I32},   {0x79, 0x7b, I64, I64, 0},
    {0x7c, 0x8a, I64, I64, I64},   {0x8b, 0x91, F32, F32, 0},     {0x92, 0x98, F32, F32, F32},
    {0x99, 0x9f, F64, F64, 0},     {0xa0, 0xa6, F64, F64, F64},   {0xa7, 0xa7, I32, I64, 0},
    {0xa8, 0xa9, I32, F32, 0},     {0xaa, 0xab, I32, F64, 0},     {0xac, 0xad, I64, I32, 0},
    {0xae, 0xaf, I64, F32, 0},     {0xb0, 0xb1, I64, F64, 0},     {0xb2, 0xb3, F32, I32, 0},
    {0xb4, 0xb5, F32, I64, 0},     {0xb6, 0xb6, F32, F64, 0},     {0xb7, 0xb8, F64, I32, 0},
    {0xb9, 0xba, F64, I64, 0},     {0xbb, 0xbb, F64, F32, 0},     {0xbc, 0xbc, I32, F32, 0},
    {0xbd, 0xbd, I64, F64, 0},     {0xbe, 0xbe, F32, I32, 0},     {0xbf, 0xbf, F64, I64, 0},
    {0xc0, 0xc1, I32, I32, 0},     {0xc2, 0xc4, I64, I64, 0},     {0xfc00, 0xfc01, I32, F32, 0},
    {0xfc02, 0xfc03, I32, F64, 0}, {0xfc04, 0xfc05, I64, F32, 0}, {0xfc06, 0xfc07, I64, F64, 0},
};

typedef struct MemOp {
  uint8_t op, t, align;
} MemOp;

static const MemOp loads[] = {{0x28, I32, 2}, {0x29, I64, 3}, {0x2a, F32, 2}, {0x2b, F64, 3},
                              {0x2c, I32, 0}, {0x2d, I32, 0}, {0x2e, I32, 1}, {0x2f, I32, 1},
                              {0x30, I64, 0}, {0x31, I64, 0}, {0x32, I64, 1}, {0x33, I64, 1},
                              {0x34, I64, 2}, {0x35, I64, 2}};
static const MemOp stores[] = {{0x36, I32, 2}, {0x37, I64, 3}, {0x38, F32, 2},
                               {0x39, F64, 3}, {0x3a, I32, 0}, {0x3b, I32, 1},
                               {0x3c, I64, 0}, {0x3d, I64, 1}, {0x3e, I64, 2}};

static void gen_expr(Gen *g, uint8_t t);
static void gen_leaf(Gen *g, uint8_t t);
static void gen_stmts(Gen *g, uint32_t max);

static void memarg(Gen *g, uint8_t max_align) {
  uint32_t align = pick(g, (uint32_t)max_align + 1);
  uint32_t off = pick(g, 16) == 0 ? rd32(g) : (pick(g, 2) ? rd8(g) : 0);
  uleb(g, align);
  uleb(g, off);
}

/* An i32 address, mostly inside the 1-page memory. */
static void gen_addr(Gen *g) {
  switch (pick(g, 8)) {
  case 0:
  case 1:
    i32_const(g, (int32_t)((uint32_t)rd8(g) | ((uint32_t)rd8(g) & 0x7f) << 8));
    break;
  case 2:
    i32_const(g, (int32_t)(65536u * MEM_PAGES - (rd8(g) & 15u)));
    break;
  case 3:
  case 4:
  case 5:
  case 6: {
    static const int32_t masks[] = {0xff, 0xfff0, 0x7ff8, 0xffff};
    gen_expr(g, I32);
    i32_const(g, masks[pick(g, 4)]);
    op(g, 0x71); /* i32.and */
    break;
  }
  default:
    gen_expr(g, I32);
    break;
  }
}

/* An i32 length for bulk operations, mostly small. */
static void gen_len(Gen *g) {
  switch (pick(g, 5)) {
  case 0:
  case 1:
    i32_const(g, rd8(g));
    break;
  case 2:
    gen_expr(g, I32);
    i32_const(g, 0xff);
    op(g, 0x71);
    break;
  case 3:
    gen_expr(g, I32);
    i32_const(g, 0x3fff);
    op(g, 0x71);
    break;
  default:
    gen_expr(g, I32);
    break;
  }
}

/* A small i32 (table index, grow delta). */
static void gen_small(Gen *g, int32_t mask) {
  if (pick(g, 3) == 0) {
    gen_expr(g, I32);
    i32_const(g, mask);
    op(g, 0x71);
  } else {
    i32_const(g, (int32_t)(rd8(g) & (uint32_t)mask));
  }
}

/* Shows the sign or payload of a NaN operand: reinterpretations, copysign. */
static int nan_observer(uint32_t code) {
  return (code >= 0xbc && code <= 0xbf) || code == 0x98 || code == 0xa6;
}

static void gen_numop(Gen *g, uint8_t t) {
  uint32_t cnt = 0;
  size_t n = sizeof numops / sizeof numops[0];
  for (size_t i = 0; i < n; i++)
    if (numops[i].r == t) cnt += (uint32_t)(numops[i].hi - numops[i].lo + 1);
  uint32_t k = pick(g, cnt);
  for (size_t i = 0; i < n; i++) {
    const OpRange *o = &numops[i];
    if (o->r != t) continue;
    uint32_t sz = (uint32_t)(o->hi - o->lo + 1);
    if (k >= sz) {
      k -= sz;
      continue;
    }
    uint32_t code = o->lo + k;
    if ((g->flags & WASMGEN_NAN_SAFE) && nan_observer(code)) {
      gen_leaf(g, t);
      return;
    }
    gen_expr(g, o->a);
    if (o->b) gen_expr(g, o->b);
    if (code >= 0xfc00)
      op_fc(g, code & 0xff);
    else
      op(g, (uint8_t)code);
    return;
  }
}

static void gen_load(Gen *g, uint8_t t) {
  uint32_t cnt = 0;
  size_t n = sizeof loads / sizeof loads[0];
  for (size_t i = 0; i < n; i++) cnt += loads[i].t == t;
  uint32_t k = pick(g, cnt);
  for (size_t i = 0; i < n; i++) {
    if (loads[i].t != t || k-- != 0) continue;
    gen_addr(g);
    op(g, loads[i].op);
    memarg(g, loads[i].align);
    return;
  }
}

static void gen_store(Gen *g) {
  const MemOp *s = &stores[pick(g, sizeof stores / sizeof stores[0])];
  if ((g->flags & WASMGEN_NAN_SAFE) && (s->t == F32 || s->t == F64)) s = &stores[0];
  gen_addr(g);
  gen_expr(g, s->t);
  op(g, s->op);
  memarg(g, s->align);
}

/* Generate values for n types, in order. */
static void gen_values(Gen *g, uint8_t n, const uint8_t *t) {
  for (uint8_t i = 0; i < n; i++) gen_expr(g, t[i]);
}

static void drops(Gen *g, uint8_t n) {
  for (uint8_t i = 0; i < n; i++) op(g, 0x1a);
}

/* Leaf: a constant, a local or a global of type t. */
static void gen_leaf(Gen *g, uint8_t t) {
  int li;
  switch (pick(g, 4)) {
  case 1:
  case 2:
    li = find_local(g, t);
    if (li >= 0) {
      op(g, 0x20);
      uleb(g, (uint32_t)li);
      return;
    }
    break;
  case 3:
    for (uint32_t i = pick(g, NGLOBALS), k = 0; k < NGLOBALS; k++, i = (i + 1) % NGLOBALS) {
      if (global_type[i] == t) {
        op(g, 0x23);
        uleb(g, i);
        return;
      }
    }
    break;
  default:
    break;
  }
  gen_const(g, t);
}

/* A funcref value. */
static void gen_ref(Gen *g) {
  int li;
  if (leaf_only(g)) {
    gen_const(g, FUNCREF);
    return;
  }
  g->depth++;
  switch (pick(g, 6)) {
  case 1:
    op(g, 0xd2); /* ref.func */
    uleb(g, pick(g, g->nfuncs));
    break;
  case 2:
    gen_small(g, 7);
    op(g, 0x25); /* table.get */
    uleb(g, 0);
    break;
  case 3:
    li = find_local(g, FUNCREF);
    if (li >= 0) {
      op(g, 0x20);
      uleb(g, (uint32_t)li);
    } else {
      gen_const(g, FUNCREF);
    }
    break;
  case 4:
    gen_ref(g);
    gen_ref(g);
    gen_expr(g, I32);
    op(g, 0x1c); /* select (result funcref) */
    uleb(g, 1);
    put(g->code, FUNCREF);
    break;
  default:
    gen_const(g, FUNCREF);
    break;
  }
  g->depth--;
}

/* A function whose results are exactly (nr, r); -1 if none. */
static int find_func(Gen *g, uint8_t nr, const uint8_t *r) {
  uint32_t cnt = 0;
  for (uint32_t f = 0; f < g->nfuncs; f++) {
    const FType *ft = func_type(g, f);
    cnt += ft->nr == nr && tsame(ft->t + ft->np, r, nr);
  }
  if (!cnt) return -1;
  uint32_t k = pick(g, cnt);
  for (uint32_t f = 0; f < g->nfuncs; f++) {
    const FType *ft = func_type(g, f);
    if (ft->nr == nr && tsame(ft->t + ft->np, r, nr) && k-- == 0) return (int)f;
  }
  return -1;
}

/* call f: arguments, then the call. */
static void gen_call(Gen *g, uint32_t f) {
  const FType *ft = func_type(g, f);
  gen_values(g, ft->np, ft->t);
  op(g, 0x10);
  uleb(g, f);
}

/* call_indirect through a type with results (nr, r): arguments, table
 * index, the call.  Returns 0 if no type could be made. */
static int gen_call_indirect(Gen *g, uint8_t nr, const uint8_t *r) {
  int ti = -1;
  int f = pick(g, 2) ? find_func(g, nr, r) : -1;
  if (f >= 0) {
    ti = (int)g->ftype[f];
  } else {
    uint8_t p[3];
    uint8_t np = (uint8_t)pick(g, 3);
    for (uint8_t i = 0; i < np; i++) p[i] = numtype(g);
    ti = type_index(g, np, p, nr, r);
  }
  if (ti < 0) return 0;
  const FType *ft = &g->types[ti];
  gen_values(g, ft->np, ft->t);
  uint32_t how = pick(g, 8);
  if (how == 0)
    gen_expr(g, I32);
  else if (f >= 0 && how < 6)
    i32_const(g, f); /* element f holds function f (unless changed) */
  else
    i32_const(g, (int32_t)pick(g, g->table_min + 2));
  op(g, 0x11);
  uleb(g, (uint32_t)ti);
  uleb(g, 0);
  return 1;
}

/* Block type for (np, p) -> (nr, r): 0x40, a value type or a type index.
 * Returns 0 if it needs a type index and none is free. */
static int blocktype(Gen *g, uint8_t np, const uint8_t *p, uint8_t nr, const uint8_t *r) {
  if (np == 0 && nr == 0) {
    put(g->code, 0x40);
    return 1;
  }
  if (np == 0 && nr == 1) {
    put(g->code, r[0]);
    return 1;
  }
  int ti = type_index(g, np, p, nr, r);
  if (ti < 0) return 0;
  put_s64(g->code, ti);
  return 1;
}

/* The inside of a block whose stack starts with np params: drop or store
 * them, statements, then the results. */
static void block_body(Gen *g, uint8_t np, const uint8_t *p, uint8_t nr, const uint8_t *r) {
  for (int i = np - 1; i >= 0; i--) {
    int li = pick(g, 2) ? find_local(g, p[i]) : -1;
    if (li >= 0) {
      op(g, 0x21);
      uleb(g, (uint32_t)li);
    } else {
      op(g, 0x1a);
    }
  }
  gen_stmts(g, 4);
  gen_values(g, nr, r);
}

/* block / loop / if with type (np, p) -> (nr, r); params already generated
 * by this function.  kind: 0 block, 1 loop, 2 if.  Returns 0 (nothing
 * emitted) if no label or type is available. */
static int gen_structured(Gen *g, int kind, uint8_t np, const uint8_t *p, uint8_t nr,
                          const uint8_t *r) {
  if (g->nlab == MAX_LABELS) return 0;
  if (np > 0 || nr > 1) {
    if (type_index(g, np, p, nr, r) < 0) return 0;
  }
  gen_values(g, np, p);
  if (kind == 2) gen_expr(g, I32);
  op(g, kind == 0 ? 0x02 : kind == 1 ? 0x03 : 0x04);
  blocktype(g, np, p, nr, r);
  if (kind == 1)
    push_label(g, np, p);
  else
    push_label(g, nr, r);
  block_body(g, np, p, nr, r);
  if (kind == 2 && pick(g, 4) != 0) {
    op(g, 0x05); /* else */
    block_body(g, np, p, nr, r);
  } else if (kind == 2 && (np != nr || !tsame(p, r, np))) {
    /* an if without else must have type [t*] -> [t*] */
    op(g, 0x05);
    block_body(g, np, p, nr, r);
  }
  g->nlab--;
  op(g, 0x0b);
  return 1;
}

/* A loop counted down in a fresh local: at most k iterations. */
static int gen_counted_loop(Gen *g, uint8_t nr, const uint8_t *r) {
  int c = new_local(g, I32);
  if (c < 0 || g->nlab == MAX_LABELS) return 0;
  i32_const(g, (int32_t)(1 + pick(g, 16)));
  op(g, 0x21);
  uleb(g, (uint32_t)c);
  op(g, 0x03);
  blocktype(g, 0, NULL, nr, r); /* nr <= 1 */
  push_label(g, 0, NULL);
  gen_stmts(g, 4);
  gen_values(g, nr, r);
  op(g, 0x20);
  uleb(g, (uint32_t)c);
  i32_const(g, 1);
  op(g, 0x6b); /* i32.sub */
  op(g, 0x22);
  uleb(g, (uint32_t)c);
  op(g, 0x0d); /* br_if 0 */
  uleb(g, 0);
  g->nlab--;
  op(g, 0x0b);
  return 1;
}

/* Expression of type t that ends in a branch or a trap (stack-polymorphic). */
static void gen_divergent(Gen *g, uint8_t t) {
  int d;
  const FType *ft;
  switch (pick(g, 3)) {
  case 0:
    d = find_label(g, 1, &t);
    if (d >= 0) {
      gen_expr(g, t);
      op(g, 0x0c); /* br */
      uleb(g, (uint32_t)d);
      return;
    }
    break;
  case 1:
    ft = func_type(g, g->cur_func);
    gen_values(g, ft->nr, ft->t + ft->np);
    op(g, 0x0f); /* return */
    return;
  default:
    if (pick(g, 4) == 0) {
      op(g, 0x00); /* unreachable */
      return;
    }
    break;
  }
  gen_leaf(g, t);
}

static void gen_expr(Gen *g, uint8_t t) {
  int li, d, f;
  if (t == FUNCREF) {
    gen_ref(g);
    return;
  }
  if (leaf_only(g)) {
    gen_leaf(g, t);
    return;
  }
  g->depth++;
  switch (pick(g, 24)) {
  case 0:
  case 1:
  case 2:
    gen_leaf(g, t);
    break;
  case 3:
  case 4:
  case 5:
  case 6:
  case 7:
    gen_numop(g, t);
    break;
  case 8:
  case 9:
    gen_load(g, t);
    break;
  case 10:
    li = find_local(g, t);
    if (li >= 0) {
      gen_expr(g, t);
      op(g, 0x22); /* local.tee */
      uleb(g, (uint32_t)li);
    } else {
      gen_numop(g, t);
    }
    break;
  case 11:
    gen_expr(g, t);
    gen_expr(g, t);
    gen_expr(g, I32);
    if (pick(g, 2)) {
      op(g, 0x1b);
    } else {
      op(g, 0x1c);
      uleb(g, 1);
      put(g->code, t);
    }
    break;
  case 12:
  case 13:
  case 14:
    if (!gen_structured(g, (int)pick(g, 3), 0, NULL, 1, &t)) gen_leaf(g, t);
    break;
  case 15:
    if (!gen_counted_loop(g, 1, &t)) gen_leaf(g, t);
    break;
  case 16:
    f = find_func(g, 1, &t);
    if (f >= 0)
      gen_call(g, (uint32_t)f);
    else
      gen_numop(g, t);
    break;
  case 17:
    if (!gen_call_indirect(g, 1, &t)) gen_leaf(g, t);
    break;
  case 18:
    d = find_label(g, 1, &t);
    if (d >= 0) {
      gen_expr(g, t);
      gen_expr(g, I32);
      op(g, 0x0d); /* br_if with a value */
      uleb(g, (uint32_t)d);
    } else {
      gen_numop(g, t);
    }
    break;
  case 19:
    if (t == I32) {
      switch (pick(g, 5)) {
      case 0:
        op(g, 0x3f); /* memory.size */
        put(g->code, 0);
        break;
      case 1:
        gen_small(g, 3);
        op(g, 0x40); /* memory.grow */
        put(g->code, 0);
        break;
      case 2:
        gen_ref(g);
        op(g, 0xd1); /* ref.is_null */
        break;
      case 3:
        op_fc(g, 16); /* table.size */
        uleb(g, 0);
        break;
      default:
        gen_ref(g);
        gen_small(g, 3);
        op_fc(g, 15); /* table.grow */
        uleb(g, 0);
        break;
      }
    } else {
      gen_load(g, t);
    }
    break;
  case 20:
    if (pick(g, 4) == 0)
      gen_divergent(g, t);
    else
      gen_numop(g, t);
    break;
  default:
    gen_numop(g, t);
    break;
  }
  g->depth--;
}

/* A branch statement to any label: values, then br_if (and drop the values
 * it leaves), br, or br_table. */
static void gen_branch(Gen *g, int kind) {
  if (g->nlab == 0) return;
  uint32_t li = pick(g, g->nlab);
  const Label *L = &g->lab[li];
  uint32_t d = g->nlab - 1 - li;
  gen_values(g, L->n, L->t);
  if (kind == 0) {
    gen_expr(g, I32);
    op(g, 0x0d);
    uleb(g, d);
    drops(g, L->n);
  } else if (kind == 1) {
    op(g, 0x0c);
    uleb(g, d);
  } else {
    uint32_t targets[8], nt = pick(g, 5);
    for (uint32_t i = 0; i < nt; i++) {
      uint32_t lj = pick(g, g->nlab);
      const Label *M = &g->lab[lj];
      if (M->n == L->n && tsame(M->t, L->t, L->n))
        targets[i] = g->nlab - 1 - lj;
      else
        targets[i] = d;
    }
    gen_expr(g, I32);
    op(g, 0x0e);
    uleb(g, nt);
    for (uint32_t i = 0; i < nt; i++) uleb(g, targets[i]);
    uleb(g, d);
  }
}

static void gen_stmt(Gen *g) {
  int li;
  uint8_t t, p[2], r[2], np, nr;
  if (leaf_only(g)) return;
  g->depth++;
  switch (pick(g, 24)) {
  case 0:
    op(g, 0x01); /* nop */
    break;
  case 1:
  case 2:
  case 3:
    li = (int)pick(g, g->nloc ? g->nloc : 1);
    if (g->nloc) {
      gen_expr(g, g->loc[li]);
      op(g, 0x21);
      uleb(g, (uint32_t)li);
    }
    break;
  case 4:
    li = (int)pick(g, 4); /* the mutable globals */
    gen_expr(g, global_type[li]);
    op(g, 0x24);
    uleb(g, (uint32_t)li);
    break;
  case 5:
  case 6:
  case 7:
    gen_store(g);
    break;
  case 8:
    t = pick(g, 8) == 0 ? FUNCREF : numtype(g);
    gen_expr(g, t);
    op(g, 0x1a);
    break;
  case 9:
  case 10:
  case 11:
    np = (uint8_t)(pick(g, 4) == 0 ? pick(g, 3) : 0);
    nr = (uint8_t)(pick(g, 4) == 0 ? pick(g, 3) : 0);
    for (uint8_t i = 0; i < np; i++) p[i] = numtype(g);
    for (uint8_t i = 0; i < nr; i++) r[i] = numtype(g);
    if (gen_structured(g, (int)pick(g, 3), np, p, nr, r)) drops(g, nr);
    break;
  case 12:
  case 13:
    gen_counted_loop(g, 0, NULL);
    break;
  case 14:
    gen_branch(g, 0);
    break;
  case 15:
  case 16:
    if (g->nfuncs) {
      uint32_t f = pick(g, g->nfuncs);
      gen_call(g, f);
      drops(g, func_type(g, f)->nr);
    }
    break;
  case 17:
    nr = (uint8_t)pick(g, 3);
    for (uint8_t i = 0; i < nr; i++) r[i] = numtype(g);
    if (gen_call_indirect(g, nr, r)) drops(g, nr);
    break;
  case 18: /* bulk memory */
    switch (pick(g, 4)) {
    case 0:
      gen_addr(g);
      gen_expr(g, I32);
      gen_len(g);
      op_fc(g, 11); /* memory.fill */
      put(g->code, 0);
      break;
    case 1:
      gen_addr(g);
      gen_addr(g);
      gen_len(g);
      op_fc(g, 10); /* memory.copy */
      put(g->code, 0);
      put(g->code, 0);
      break;
    case 2:
      gen_addr(g);
      gen_small(g, 15);
      gen_small(g, 15);
      op_fc(g, 8); /* memory.init */
      uleb(g, pick(g, 2));
      put(g->code, 0);
      break;
    default:
      op_fc(g, 9); /* data.drop */
      uleb(g, pick(g, 2));
      break;
    }
    break;
  case 19: /* tables */
    switch (pick(g, 5)) {
    case 0:
      gen_small(g, 7);
      gen_ref(g);
      op(g, 0x26); /* table.set */
      uleb(g, 0);
      break;
    case 1:
      gen_small(g, 7);
      gen_ref(g);
      gen_small(g, 3);
      op_fc(g, 17); /* table.fill */
      uleb(g, 0);
      break;
    case 2:
      gen_small(g, 7);
      gen_small(g, 7);
      gen_small(g, 3);
      op_fc(g, 14); /* table.copy */
      uleb(g, 0);
      uleb(g, 0);
      break;
    case 3:
      gen_small(g, 7);
      gen_small(g, 3);
      gen_small(g, 3);
      op_fc(g, 12); /* table.init */
      uleb(g, 1);   /* the passive element segment */
      uleb(g, 0);
      break;
    default:
      op_fc(g, 13); /* elem.drop */
      uleb(g, pick(g, 2));
      break;
    }
    break;
  case 20:
    switch (pick(g, 8)) {
    case 0:
      gen_branch(g, 1);
      break;
    case 1:
      gen_branch(g, 2);
      break;
    case 2: {
      const FType *ft = func_type(g, g->cur_func);
      gen_values(g, ft->nr, ft->t + ft->np);
      op(g, 0x0f);
      break;
    }
    case 3:
      if (pick(g, 4) == 0) op(g, 0x00); /* unreachable */
      break;
    case 4:
      /* a loop with an arbitrary exit condition: ends by fuel, or not */
      if (g->nlab < MAX_LABELS) {
        op(g, 0x03);
        put(g->code, 0x40);
        push_label(g, 0, NULL);
        gen_stmts(g, 3);
        gen_expr(g, I32);
        op(g, 0x0d);
        uleb(g, 0);
        g->nlab--;
        op(g, 0x0b);
      }
      break;
    default:
      gen_branch(g, 0);
      break;
    }
    break;
  default:
    li = (int)pick(g, g->nloc ? g->nloc : 1);
    if (g->nloc) {
      gen_expr(g, g->loc[li]);
      op(g, 0x21);
      uleb(g, (uint32_t)li);
    }
    break;
  }
  g->depth--;
}

static void gen_stmts(Gen *g, uint32_t max) {
  uint32_t n = pick(g, max + 1);
  for (uint32_t i = 0; i < n && !leaf_only(g); i++) gen_stmt(g);
}

/* One function body (locals and code) into out. */
static void gen_body(Gen *g, uint32_t f, Buf *out) {
  Buf code = {0};
  const FType *ft = func_type(g, f);
  g->code = &code;
  g->cur_func = f;
  g->nloc = ft->np;
  tcopy(g->loc, ft->t, ft->np);
  uint32_t extra = pick(g, 6);
  for (uint32_t i = 0; i < extra; i++) new_local(g, pick(g, 8) == 0 ? FUNCREF : numtype(g));
  g->nlab = 0;
  push_label(g, ft->nr, ft->t + ft->np);
  g->budget = FUNC_BUDGET;
  g->depth = 0;
  gen_stmts(g, 10);
  gen_values(g, ft->nr, ft->t + ft->np);
  put(&code, 0x0b);

  /* locals: runs of equal types */
  Buf body = {0};
  uint32_t nruns = 0;
  for (uint32_t i = ft->np; i < g->nloc; i++)
    if (i == ft->np || g->loc[i] != g->loc[i - 1]) nruns++;
  put_u32(&body, nruns);
  for (uint32_t i = ft->np; i < g->nloc;) {
    uint32_t j = i;
    while (j < g->nloc && g->loc[j] == g->loc[i]) j++;
    put_u32(&body, j - i);
    put(&body, g->loc[i]);
    i = j;
  }
  put_bytes(&body, code.p, code.len);
  if (code.oom) body.oom = 1;
  put_u32(out, (uint32_t)body.len);
  put_bytes(out, body.p, body.len);
  if (body.oom) out->oom = 1;
  free(code.p);
  free(body.p);
  g->code = NULL;
}

static void const_expr(Buf *b, uint8_t t, uint64_t bits) {
  switch (t) {
  case I32:
    put(b, 0x41);
    put_s64(b, (int32_t)(uint32_t)bits);
    break;
  case I64:
    put(b, 0x42);
    put_s64(b, (int64_t)bits);
    break;
  case F32:
    put(b, 0x43);
    put_le(b, bits, 4);
    break;
  default:
    put(b, 0x44);
    put_le(b, bits, 8);
    break;
  }
  put(b, 0x0b);
}

static void put_name(Buf *b, const char *s) {
  size_t n = strlen(s);
  put_u32(b, (uint32_t)n);
  put_bytes(b, (const uint8_t *)s, n);
}

uint8_t *wasmgen_module(const uint8_t *data, size_t size, uint32_t flags, size_t *out_len) {
  Gen *g = calloc(1, sizeof *g);
  Buf out = {0}, sec = {0}, bodies = {0};
  if (!g) return NULL;
  g->in = data;
  g->n = size;
  g->flags = flags;

  /* function signatures first: they are the first types */
  g->nfuncs = 1 + pick(g, MAX_FUNCS);
  for (uint32_t f = 0; f < g->nfuncs; f++) {
    uint8_t p[3], r[2];
    uint8_t np = (uint8_t)pick(g, 4), nr = (uint8_t)pick(g, 3);
    /* for differential runs (which call only exports without parameters)
     * every other function has none */
    if ((g->flags & WASMGEN_NAN_SAFE) && f % 2 == 0) np = 0;
    for (uint8_t i = 0; i < np; i++) p[i] = numtype(g);
    for (uint8_t i = 0; i < nr; i++) r[i] = numtype(g);
    int ti = type_index(g, np, p, nr, r);
    g->ftype[f] = (uint32_t)(ti < 0 ? 0 : ti);
  }
  g->table_min = g->nfuncs + TABLE_EXTRA;
  int start = -1;
  if (pick(g, 8) == 0) {
    for (uint32_t f = 0; f < g->nfuncs; f++)
      if (func_type(g, f)->np == 0 && func_type(g, f)->nr == 0) start = (int)f;
  }
  uint64_t ginit[NGLOBALS];
  for (uint32_t i = 0; i < NGLOBALS; i++)
    ginit[i] = global_type[i] == F32 ? f32bits(g)
               : global_type[i] == F64 ? f64bits(g)
               : global_type[i] == I64 ? val64(g)
                                       : val32(g);
  uint8_t seg0[16], seg1[16];
  uint32_t seg0_off = pick(g, 65536 - 16);
  for (int i = 0; i < 16; i++) seg0[i] = rd8(g);
  for (int i = 0; i < 16; i++) seg1[i] = rd8(g);

  /* bodies (may add types for blocks and call_indirect) */
  /* each function gets an equal share of the remaining bytes (past its
   * share it reads zeros, i.e. finishes), so that the first one does not
   * use them all */
  put_u32(&bodies, g->nfuncs);
  size_t end = g->n;
  for (uint32_t f = 0; f < g->nfuncs; f++) {
    size_t rest = end > g->pos ? end - g->pos : 0;
    g->n = g->pos + rest / (g->nfuncs - f);
    gen_body(g, f, &bodies);
    g->pos = g->n > g->pos ? g->n : g->pos;
    g->n = end;
  }

  static const uint8_t magic[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  put_bytes(&out, magic, 8);

  /* type */
  put_u32(&sec, g->ntypes);
  for (uint32_t i = 0; i < g->ntypes; i++) {
    const FType *t = &g->types[i];
    put(&sec, 0x60);
    put_u32(&sec, t->np);
    put_bytes(&sec, t->t, t->np);
    put_u32(&sec, t->nr);
    put_bytes(&sec, t->t + t->np, t->nr);
  }
  put_section(&out, 1, &sec);
  sec.len = 0;
  /* function */
  put_u32(&sec, g->nfuncs);
  for (uint32_t f = 0; f < g->nfuncs; f++) put_u32(&sec, g->ftype[f]);
  put_section(&out, 3, &sec);
  sec.len = 0;
  /* table: funcref, min..min+TABLE_GROW */
  put_u32(&sec, 1);
  put(&sec, FUNCREF);
  put(&sec, 1);
  put_u32(&sec, g->table_min);
  put_u32(&sec, g->table_min + TABLE_GROW);
  put_section(&out, 4, &sec);
  sec.len = 0;
  /* memory */
  put_u32(&sec, 1);
  put(&sec, 1);
  put_u32(&sec, MEM_PAGES);
  put_u32(&sec, MEM_MAX);
  put_section(&out, 5, &sec);
  sec.len = 0;
  /* global */
  put_u32(&sec, NGLOBALS);
  for (uint32_t i = 0; i < NGLOBALS; i++) {
    put(&sec, global_type[i]);
    put(&sec, global_mut[i]);
    const_expr(&sec, global_type[i], ginit[i]);
  }
  put_section(&out, 6, &sec);
  sec.len = 0;
  /* export */
  put_u32(&sec, g->nfuncs + 2 + NGLOBALS);
  for (uint32_t f = 0; f < g->nfuncs; f++) {
    char name[8] = {'f', (char)('0' + f), 0};
    put_name(&sec, name);
    put(&sec, 0);
    put_u32(&sec, f);
  }
  put_name(&sec, "mem");
  put(&sec, 2);
  put_u32(&sec, 0);
  put_name(&sec, "tab");
  put(&sec, 1);
  put_u32(&sec, 0);
  for (uint32_t i = 0; i < NGLOBALS; i++) {
    char name[8] = {'g', (char)('0' + i), 0};
    put_name(&sec, name);
    put(&sec, 3);
    put_u32(&sec, i);
  }
  put_section(&out, 7, &sec);
  sec.len = 0;
  /* start */
  if (start >= 0) {
    put_u32(&sec, (uint32_t)start);
    put_section(&out, 8, &sec);
    sec.len = 0;
  }
  /* element: 0 active at 0 with every function, 1 passive expressions */
  put_u32(&sec, 2);
  put(&sec, 0);
  const_expr(&sec, I32, 0);
  put_u32(&sec, g->nfuncs);
  for (uint32_t f = 0; f < g->nfuncs; f++) put_u32(&sec, f);
  put(&sec, 5);
  put(&sec, FUNCREF);
  put_u32(&sec, PASSIVE_ELEMS);
  for (uint32_t i = 0; i < PASSIVE_ELEMS; i++) {
    if (i % 2) {
      put(&sec, 0xd0);
      put(&sec, FUNCREF);
    } else {
      put(&sec, 0xd2);
      put_u32(&sec, (i / 2) % g->nfuncs);
    }
    put(&sec, 0x0b);
  }
  put_section(&out, 9, &sec);
  sec.len = 0;
  /* data count */
  put_u32(&sec, 2);
  put_section(&out, 12, &sec);
  sec.len = 0;
  /* code */
  put_section(&out, 10, &bodies);
  /* data: 0 active, 1 passive */
  put_u32(&sec, 2);
  put(&sec, 0);
  const_expr(&sec, I32, seg0_off);
  put_u32(&sec, 16);
  put_bytes(&sec, seg0, 16);
  put(&sec, 1);
  put_u32(&sec, 16);
  put_bytes(&sec, seg1, 16);
  put_section(&out, 11, &sec);

  int oom = out.oom || sec.oom || bodies.oom;
  free(sec.p);
  free(bodies.p);
  free(g);
  if (oom) {
    free(out.p);
    return NULL;
  }
  *out_len = out.len;
  return out.p;
}
