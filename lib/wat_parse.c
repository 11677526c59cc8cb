/* wat_parse.c -- instructions of the WAT parser: value types, variables, type
 * uses, block types and instruction sequences (flat and folded), encoded
 * straight into w->body.
 *
 * Instruction sequences are parsed with an explicit frame stack (never C
 * recursion), so nesting depth costs heap, not C stack.  A folded plain
 * instruction `(op imm* child*)` is checked when it opens and encoded when it
 * closes (its children come first in the binary); its immediates are then
 * read a second time from the saved lexer position.  Implicit function types
 * are therefore created in binary order, as wabt does. */
#define ICX_WAT_INTERNAL
#include "wat.h"

#include "wasm.h"

enum {
  FR_FLAT,       /* block/loop/if ... end */
  FR_FOLD_PLAIN, /* (op imm* folded*) */
  FR_FOLD_BLOCK, /* (block ...) / (loop ...) */
  FR_FOLD_IF,    /* (if label bt folded* -- before (then */
  FR_FOLD_THEN,  /* inside (then ...) */
  FR_FOLD_ELSE   /* inside (else ...) */
};

static const char *const space_names[WS_COUNT] = {"type",   "function",     "table",       "memory",
                                                  "global", "elem segment", "data segment"};

/* ---- small helpers ----------------------------------------------------------- */

/* An error at the current token. */
int icxWat_fail_cur(watCtx *w, const char *what) {
  return icxWat_fail(w, w->cur.off, "unexpected token: %s", what);
}
#define fail_cur icxWat_fail_cur

/* The token after cur, without moving. */
static watTok peek2(const watCtx *w) {
  size_t p = w->pos;
  watTok t;
  icxWat_lex_at(w, &p, &t);
  return t;
}

/* cur is '(' and the next token is keyword kw. */
int icxWat_at_lpar_kw(const watCtx *w, const char *kw) {
  if (w->cur.kind != WT_LPAR) return 0;
  watTok t = peek2(w);
  return icxWat_tok_is(w, &t, kw);
}

#define at_lpar_kw icxWat_at_lpar_kw

/* Consume ')'. */
int icxWat_expect_rpar(watCtx *w) {
  if (w->cur.kind != WT_RPAR) return fail_cur(w, "expected )");
  icxWat_advance(w);
  return 0;
}

#define expect_rpar icxWat_expect_rpar

static int is_var(const watTok *t) { return t->kind == WT_NUM || t->kind == WT_ID; }

/* The binary encoding of value type token t, 0 if it is none. */
uint8_t icxWat_valtype(const watCtx *w, const watTok *t) {
  static const struct {
    const char *name;
    uint8_t code;
  } vt[] = {{"i32", ICX_I32}, {"i64", ICX_I64},         {"f32", ICX_F32},
            {"f64", ICX_F64}, {"funcref", ICX_FUNCREF}, {"externref", ICX_EXTERNREF}};
  for (size_t i = 0; i < sizeof vt / sizeof vt[0]; i++)
    if (icxWat_tok_is(w, t, vt[i].name)) return vt[i].code;
  return 0;
}

/* Resolve cur as a variable of space sp and advance. */
int icxWat_var(watCtx *w, int sp, uint32_t *out) {
  const watTok *t = &w->cur;
  if (t->kind == WT_NUM) {
    uint64_t v;
    if (icxWat_nat(w, t, UINT32_MAX, &v) != 0) return -1;
    *out = (uint32_t)v;
  } else if (t->kind == WT_ID) {
    uint32_t v = icxWat_map_get(&w->ids[sp], w->src, w->src + t->off, t->len);
    if (v == WAT_NONE)
      return icxWat_fail(w, t->off, "unknown %s %.*s", space_names[sp], (int)t->len,
                         w->src + t->off);
    *out = v;
  } else {
    return fail_cur(w, "expected an index or $name");
  }
  icxWat_advance(w);
  return 0;
}

static int local_var(watCtx *w, uint32_t *out) {
  const watTok *t = &w->cur;
  if (t->kind == WT_ID) {
    uint32_t v = icxWat_map_get(&w->locals, w->src, w->src + t->off, t->len);
    if (v == WAT_NONE)
      return icxWat_fail(w, t->off, "unknown local %.*s", (int)t->len, w->src + t->off);
    *out = v;
    icxWat_advance(w);
    return 0;
  }
  return icxWat_var(w, WS_TYPE, out); /* numeric: the space does not matter */
}

static int label_var(watCtx *w, uint32_t *out) {
  const watTok *t = &w->cur;
  if (t->kind == WT_ID) {
    uint32_t v = icxWat_map_get(&w->labels, w->src, w->src + t->off, t->len);
    if (v == WAT_NONE)
      return icxWat_fail(w, t->off, "unknown label %.*s", (int)t->len, w->src + t->off);
    *out = w->nlabels - 1 - v;
    icxWat_advance(w);
    return 0;
  }
  return icxWat_var(w, WS_TYPE, out);
}

/* ---- type uses ----------------------------------------------------------------- */

/* Bind $name as local number idx (parameters and locals). */
static int bind_local(watCtx *w, const watTok *id, uint32_t idx) {
  if (icxWat_map_get(&w->locals, w->src, w->src + id->off, id->len) != WAT_NONE)
    return icxWat_fail(w, id->off, "duplicate local %.*s", (int)id->len, w->src + id->off);
  return icxWat_map_set(w, &w->locals, w->src, id->off, id->len, idx);
}

/* `(param ...)* (result ...)*` into w->scratch (params then results) and the
 * encoding into w->sigenc. */
int icxWat_sig(watCtx *w, int names, uint32_t *np, uint32_t *nr) {
  w->scratch.n = 0;
  *np = *nr = 0;
  while (at_lpar_kw(w, "param")) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (w->cur.kind == WT_ID) {
      if (names == 0) return fail_cur(w, "no parameter names allowed here");
      watTok id = w->cur;
      icxWat_advance(w);
      uint8_t t = icxWat_valtype(w, &w->cur);
      if (!t) return fail_cur(w, "expected a value type");
      if (names == 2 && bind_local(w, &id, *np) != 0) return -1;
      if (icxWat_byte(w, &w->scratch, t) != 0) return -1;
      (*np)++;
      icxWat_advance(w);
    } else {
      for (uint8_t t; (t = icxWat_valtype(w, &w->cur)) != 0; icxWat_advance(w), (*np)++)
        if (icxWat_byte(w, &w->scratch, t) != 0) return -1;
    }
    if (expect_rpar(w) != 0) return -1;
  }
  while (at_lpar_kw(w, "result")) {
    icxWat_advance(w);
    icxWat_advance(w);
    for (uint8_t t; (t = icxWat_valtype(w, &w->cur)) != 0; icxWat_advance(w), (*nr)++)
      if (icxWat_byte(w, &w->scratch, t) != 0) return -1;
    if (expect_rpar(w) != 0) return -1;
  }
  if (at_lpar_kw(w, "param") || at_lpar_kw(w, "type")) return fail_cur(w, "misplaced type use");
  w->sigenc.n = 0;
  if (icxWat_u32(w, &w->sigenc, *np) != 0 || icxWat_put(w, &w->sigenc, w->scratch.p, *np) != 0 ||
      icxWat_u32(w, &w->sigenc, *nr) != 0 ||
      (*nr && icxWat_put(w, &w->sigenc, w->scratch.p + *np, *nr) != 0))
    return -1;
  return 0;
}

/* A type use; with short_ok, a signature without `(type x)`, parameters
 * and with at most one result creates no type (*type_idx is WAT_NONE, the
 * result type stays in w->scratch).  *type_idx is WAT_NONE too when !create
 * and no type has the signature yet. */
static int typeuse(watCtx *w, int names, int create, int short_ok, uint32_t *type_idx,
                   uint32_t *nparams) {
  uint32_t tidx = 0, np, nr;
  int has_type = 0;
  size_t at = w->cur.off;
  if (at_lpar_kw(w, "type")) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (icxWat_var(w, WS_TYPE, &tidx) != 0 || expect_rpar(w) != 0) return -1;
    has_type = 1;
  }
  if (icxWat_sig(w, names, &np, &nr) != 0) return -1;
  if (!has_type) {
    *nparams = np;
    if (short_ok && np == 0 && nr <= 1) {
      *type_idx = WAT_NONE;
      return 0;
    }
    return icxWat_type_find(w, w->sigenc.p, (uint32_t)w->sigenc.n, np, nr, create, type_idx);
  }
  if (np + nr > 0) {
    if (tidx >= w->ntypes) return icxWat_fail(w, at, "unknown type %u", (unsigned)tidx);
    const watType *t = &w->types[tidx];
    if (t->len != w->sigenc.n || memcmp(w->typepool.p + t->off, w->sigenc.p, t->len) != 0)
      return icxWat_fail(w, at, "inline function type does not match explicit type");
  }
  *type_idx = tidx;
  *nparams = tidx < w->ntypes ? w->types[tidx].np : np;
  return 0;
}

/* A type use (see wat.h). */
int icxWat_typeuse(watCtx *w, int names, int create, uint32_t *type_idx, uint32_t *nparams) {
  return typeuse(w, names, create, 0, type_idx, nparams);
}

/* A block type: the value-type shorthand when the type has no parameters
 * and at most one result (also for an explicit `(type x)`, as wabt does),
 * else the type index as s33. */
static int blocktype(watCtx *w, int emit) {
  uint32_t idx, np;
  if (typeuse(w, 0, emit, 1, &idx, &np) != 0) return -1;
  if (!emit) return 0;
  if (idx == WAT_NONE)
    return icxWat_byte(w, &w->body, w->scratch.n ? w->scratch.p[0] : ICX_BLOCKTYPE_EMPTY);
  if (idx < w->ntypes && w->types[idx].np == 0 && w->types[idx].nr <= 1) {
    const watType *t = &w->types[idx];
    uint8_t code = t->nr ? w->typepool.p[t->off + 2] : ICX_BLOCKTYPE_EMPTY;
    return icxWat_byte(w, &w->body, code);
  }
  return icxWat_s64(w, &w->body, (int64_t)idx);
}

/* ---- plain instructions ---------------------------------------------------------- */

static int memarg(watCtx *w, const watOp *op, int emit) {
  uint64_t offset = 0, align = (uint64_t)1 << op->arg;
  uint64_t omax = w->mem0_is64 ? UINT64_MAX : UINT32_MAX;
  const char *s = w->src + w->cur.off;
  if (w->cur.kind == WT_KW && w->cur.len > 7 && memcmp(s, "offset=", 7) == 0) {
    if (icxWat_nat_text(w, w->cur.off, s + 7, w->cur.len - 7, omax, &offset) != 0) return -1;
    icxWat_advance(w);
    s = w->src + w->cur.off;
  }
  if (w->cur.kind == WT_KW && w->cur.len > 6 && memcmp(s, "align=", 6) == 0) {
    if (icxWat_nat_text(w, w->cur.off, s + 6, w->cur.len - 6, UINT32_MAX, &align) != 0) return -1;
    if (align == 0 || (align & (align - 1)) != 0)
      return icxWat_fail(w, w->cur.off, "alignment must be a power of two");
    icxWat_advance(w);
  }
  if (!emit) return 0;
  uint32_t log2 = 0;
  while (((uint64_t)1 << log2) < align) log2++;
  if (icxWat_u32(w, &w->body, log2) != 0) return -1;
  return icxWat_u64(w, &w->body, offset);
}

static int br_table(watCtx *w, int emit) {
  uint32_t n = 0, l;
  w->brt.n = 0;
  while (is_var(&w->cur)) {
    if (label_var(w, &l) != 0 || icxWat_u32(w, &w->brt, l) != 0) return -1;
    n++;
  }
  if (n == 0) return fail_cur(w, "expected a label");
  if (!emit) return 0;
  if (icxWat_u32(w, &w->body, n - 1) != 0) return -1;
  return icxWat_put(w, &w->body, w->brt.p, w->brt.n);
}

static int constant(watCtx *w, const watOp *op, int emit) {
  uint64_t v = 0;
  uint32_t f = 0;
  int rc;
  switch (op->kind) {
  case WK_I32: rc = icxWat_int(w, &w->cur, 32, &v); break;
  case WK_I64: rc = icxWat_int(w, &w->cur, 64, &v); break;
  case WK_F32:
    rc = icxWat_f32(w, &w->cur, &f);
    v = f;
    break;
  default: rc = icxWat_f64(w, &w->cur, &v); break;
  }
  if (rc != 0) return -1;
  icxWat_advance(w);
  if (!emit) return 0;
  if (op->kind == WK_I32) return icxWat_s64(w, &w->body, (int32_t)(uint32_t)v);
  if (op->kind == WK_I64) return icxWat_s64(w, &w->body, (int64_t)v);
  uint8_t b[8];
  unsigned n = op->kind == WK_F32 ? 4 : 8;
  for (unsigned i = 0; i < n; i++) b[i] = (uint8_t)(v >> (8 * i));
  return icxWat_put(w, &w->body, b, n);
}

/* Emit up to two u32 immediates (count of them in n). */
static int emit_u32s(watCtx *w, int emit, unsigned n, uint32_t a, uint32_t b) {
  if (!emit) return 0;
  if (icxWat_u32(w, &w->body, a) != 0) return -1;
  return n > 1 ? icxWat_u32(w, &w->body, b) : 0;
}

static int select_imm(watCtx *w, const watOp *op, int emit) {
  w->scratch.n = 0;
  int typed = 0;
  while (at_lpar_kw(w, "result")) {
    typed = 1;
    icxWat_advance(w);
    icxWat_advance(w);
    for (uint8_t t; (t = icxWat_valtype(w, &w->cur)) != 0; icxWat_advance(w))
      if (icxWat_byte(w, &w->scratch, t) != 0) return -1;
    if (expect_rpar(w) != 0) return -1;
  }
  if (!emit) return 0;
  if (!typed) return icxWat_op_emit(w, &w->body, op);
  if (icxWat_byte(w, &w->body, 0x1c) != 0 || icxWat_u32(w, &w->body, (uint32_t)w->scratch.n) != 0)
    return -1;
  return icxWat_put(w, &w->body, w->scratch.p, w->scratch.n);
}

/* The immediates of a table/elem/memory instruction. */
static int table_mem_imm(watCtx *w, const watOp *op, int emit) {
  uint32_t x = 0, y = 0;
  switch (op->kind) {
  case WK_TABLE:
    if (is_var(&w->cur) && icxWat_var(w, WS_TABLE, &x) != 0) return -1;
    return emit_u32s(w, emit, 1, x, 0);
  case WK_TABLE_COPY:
    if (is_var(&w->cur) && (icxWat_var(w, WS_TABLE, &x) != 0 || icxWat_var(w, WS_TABLE, &y) != 0))
      return -1;
    return emit_u32s(w, emit, 2, x, y);
  case WK_TABLE_INIT: {
    watTok next = peek2(w);
    if (is_var(&w->cur) && is_var(&next) && icxWat_var(w, WS_TABLE, &x) != 0) return -1;
    if (icxWat_var(w, WS_ELEM, &y) != 0) return -1;
    return emit_u32s(w, emit, 2, y, x);
  }
  case WK_ELEM:
    if (icxWat_var(w, WS_ELEM, &x) != 0) return -1;
    return emit_u32s(w, emit, 1, x, 0);
  case WK_MEM_INIT:
    if (icxWat_var(w, WS_DATA, &x) != 0) return -1;
    w->uses_data_count = 1;
    return emit_u32s(w, emit, 2, x, 0);
  case WK_DATA:
    if (icxWat_var(w, WS_DATA, &x) != 0) return -1;
    w->uses_data_count = 1;
    return emit_u32s(w, emit, 1, x, 0);
  default: /* WK_MEM0 */ return emit_u32s(w, emit, op->arg, 0, 0);
  }
}

/* A plain instruction's immediates (cur is just after the opcode keyword);
 * with emit, the opcode and immediates go to w->body. */
static int plain(watCtx *w, const watOp *op, int emit) {
  uint32_t x = 0, y = 0, np;
  if (op->kind == WK_SELECT) return select_imm(w, op, emit);
  if (emit && icxWat_op_emit(w, &w->body, op) != 0) return -1;
  switch (op->kind) {
  case WK_NONE: return 0;
  case WK_BR:
    if (label_var(w, &x) != 0) return -1;
    return emit_u32s(w, emit, 1, x, 0);
  case WK_BR_TABLE: return br_table(w, emit);
  case WK_CALL:
  case WK_REF_FUNC:
    if (icxWat_var(w, WS_FUNC, &x) != 0) return -1;
    return emit_u32s(w, emit, 1, x, 0);
  case WK_CALL_INDIRECT:
    if (is_var(&w->cur) && icxWat_var(w, WS_TABLE, &y) != 0) return -1;
    if (icxWat_typeuse(w, 0, emit, &x, &np) != 0) return -1;
    return emit_u32s(w, emit, 2, x, y);
  case WK_LOCAL:
    if (local_var(w, &x) != 0) return -1;
    return emit_u32s(w, emit, 1, x, 0);
  case WK_GLOBAL:
    if (icxWat_var(w, WS_GLOBAL, &x) != 0) return -1;
    return emit_u32s(w, emit, 1, x, 0);
  case WK_MEMARG: return memarg(w, op, emit);
  case WK_I32:
  case WK_I64:
  case WK_F32:
  case WK_F64: return constant(w, op, emit);
  case WK_REF_NULL: {
    uint8_t t = icxWat_tok_is(w, &w->cur, "func")     ? ICX_FUNCREF
                : icxWat_tok_is(w, &w->cur, "extern") ? ICX_EXTERNREF
                                                      : 0;
    if (!t) return fail_cur(w, "expected func or extern");
    icxWat_advance(w);
    return emit ? icxWat_byte(w, &w->body, t) : 0;
  }
  default: return table_mem_imm(w, op, emit);
  }
}

/* Re-read and emit the immediates saved at lexer position pos. */
static int replay(watCtx *w, const watFrame *f, int is_if) {
  watTok cur = w->cur;
  size_t pos = w->pos;
  w->pos = f->pos;
  icxWat_advance(w);
  int rc;
  if (is_if) {
    if (w->cur.kind == WT_ID) icxWat_advance(w); /* the label */
    rc = icxWat_op_emit(w, &w->body, f->op) != 0 ? -1 : blocktype(w, 1);
  } else {
    rc = plain(w, f->op, 1);
  }
  w->cur = cur;
  w->pos = pos;
  return rc;
}

/* ---- frames and labels --------------------------------------------------------- */

static watFrame *push_frame(watCtx *w, uint8_t kind, const watOp *op) {
  if (w->nframes >= ICX_WAT_MAX_DEPTH + ICX_MAX_NESTING) {
    icxWat_fail(w, w->cur.off, "instructions nested too deeply");
    return NULL;
  }
  if (w->nframes == w->frames_cap) {
    uint32_t cap = w->frames_cap ? w->frames_cap * 2 : 32;
    watFrame *fr = icxCore_realloc(w->a, w->frames, (size_t)w->frames_cap * sizeof *fr,
                                   (size_t)cap * sizeof *fr);
    if (!fr) {
      icxWat_oom(w);
      return NULL;
    }
    w->frames = fr;
    w->frames_cap = cap;
  }
  watFrame *f = &w->frames[w->nframes++];
  memset(f, 0, sizeof *f);
  f->kind = kind;
  f->op = op;
  return f;
}

/* An optional $label after block/loop/if. */
static void opt_label(watCtx *w, watFrame *f) {
  if (w->cur.kind != WT_ID) return;
  f->label_off = w->cur.off;
  f->label_len = w->cur.len;
  icxWat_advance(w);
}

static int push_label(watCtx *w, watFrame *f) {
  f->labeled = 1;
  f->label_prev = WAT_NONE;
  if (f->label_len) {
    f->label_prev = icxWat_map_get(&w->labels, w->src, w->src + f->label_off, f->label_len);
    if (icxWat_map_set(w, &w->labels, w->src, f->label_off, f->label_len, w->nlabels) != 0)
      return -1;
  }
  w->nlabels++;
  return 0;
}

/* Pop the top frame (and its label). */
static int pop_frame(watCtx *w) {
  watFrame *f = &w->frames[--w->nframes];
  if (!f->labeled) return 0;
  w->nlabels--;
  if (f->label_len)
    return icxWat_map_set(w, &w->labels, w->src, f->label_off, f->label_len, f->label_prev);
  return 0;
}

/* The optional $label after `end` or `else` must repeat the block's. */
static int end_label(watCtx *w, const watFrame *f) {
  if (w->cur.kind != WT_ID) return 0;
  if (f->label_len != w->cur.len || memcmp(w->src + f->label_off, w->src + w->cur.off, w->cur.len))
    return icxWat_fail(w, w->cur.off, "mismatching label");
  icxWat_advance(w);
  return 0;
}

/* `end`, dropping an `else` with nothing after it (as wabt does). */
static int emit_end(watCtx *w, const watFrame *f) {
  if (f->has_else && w->body.n == f->else_at) w->body.n--;
  return icxWat_byte(w, &w->body, 0x0b);
}

static int emit_else(watCtx *w, watFrame *f) {
  if (icxWat_byte(w, &w->body, 0x05) != 0) return -1;
  f->has_else = 1;
  f->else_at = w->body.n;
  return 0;
}

/* ---- the instruction engine ---------------------------------------------------- */

static const watOp *op_at_cur(watCtx *w) {
  const watOp *op = icxWat_op_find(w, &w->cur);
  if (!op) {
    if (w->cur.kind == WT_KW)
      icxWat_fail(w, w->cur.off, "unknown operator %.*s", (int)w->cur.len, w->src + w->cur.off);
    else
      fail_cur(w, "expected an instruction");
    return NULL;
  }
  icxWat_advance(w);
  return op;
}

/* cur is '(' of a folded instruction. */
static int start_folded(watCtx *w) {
  icxWat_advance(w);
  size_t after = (size_t)w->cur.off + w->cur.len;
  const watOp *op = op_at_cur(w);
  if (!op) return -1;
  if (op->kind == WK_ELSE || op->kind == WK_END)
    return icxWat_fail(w, w->cur.off, "unexpected token");
  if (op->kind == WK_BLOCK) {
    int is_if = op->code == 0x04;
    watFrame *f = push_frame(w, is_if ? FR_FOLD_IF : FR_FOLD_BLOCK, op);
    if (!f) return -1;
    f->pos = after;
    opt_label(w, f);
    if (is_if) return blocktype(w, 0);
    if (icxWat_op_emit(w, &w->body, op) != 0 || blocktype(w, 1) != 0) return -1;
    return push_label(w, &w->frames[w->nframes - 1]);
  }
  watFrame *f = push_frame(w, FR_FOLD_PLAIN, op);
  if (!f) return -1;
  f->pos = after;
  return plain(w, op, 0);
}

/* cur is the keyword of a flat instruction. */
static int flat(watCtx *w) {
  watFrame *top = w->nframes ? &w->frames[w->nframes - 1] : NULL;
  size_t at = w->cur.off;
  const watOp *op = op_at_cur(w);
  if (!op) return -1;
  switch (op->kind) {
  case WK_BLOCK: {
    watFrame *f = push_frame(w, FR_FLAT, op);
    if (!f) return -1;
    opt_label(w, f);
    if (icxWat_op_emit(w, &w->body, op) != 0 || blocktype(w, 1) != 0) return -1;
    return push_label(w, &w->frames[w->nframes - 1]);
  }
  case WK_ELSE:
    if (!top || top->kind != FR_FLAT || top->op->code != 0x04 || top->has_else)
      return icxWat_fail(w, at, "unexpected else");
    if (end_label(w, top) != 0) return -1;
    return emit_else(w, top);
  case WK_END:
    if (!top || top->kind != FR_FLAT) return icxWat_fail(w, at, "unexpected end");
    if (end_label(w, top) != 0 || emit_end(w, top) != 0) return -1;
    return pop_frame(w);
  default: return plain(w, op, 1);
  }
}

/* cur is ')' closing an instruction list of frame f. */
static int close_list(watCtx *w, watFrame *f) {
  switch (f->kind) {
  case FR_FOLD_BLOCK:
    icxWat_advance(w);
    if (icxWat_byte(w, &w->body, 0x0b) != 0) return -1;
    return pop_frame(w);
  case FR_FOLD_THEN:
    icxWat_advance(w);
    if (at_lpar_kw(w, "else")) {
      icxWat_advance(w);
      icxWat_advance(w);
      f->kind = FR_FOLD_ELSE;
      return emit_else(w, f);
    }
    if (w->cur.kind != WT_RPAR) return fail_cur(w, "expected (else ...) or )");
    icxWat_advance(w);
    if (emit_end(w, f) != 0) return -1;
    return pop_frame(w);
  case FR_FOLD_ELSE:
    icxWat_advance(w);
    if (expect_rpar(w) != 0 || emit_end(w, f) != 0) return -1;
    return pop_frame(w);
  default: return fail_cur(w, "expected end");
  }
}

/* One step inside a folded plain instruction or the condition of a folded if. */
static int fold_step(watCtx *w, watFrame *f) {
  if (w->cur.kind == WT_RPAR) {
    if (f->kind == FR_FOLD_IF) return fail_cur(w, "expected (then ...)");
    if (replay(w, f, 0) != 0) return -1;
    icxWat_advance(w);
    return pop_frame(w);
  }
  if (w->cur.kind != WT_LPAR) return fail_cur(w, "expected a folded instruction or )");
  if (f->kind == FR_FOLD_IF && at_lpar_kw(w, "then")) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (replay(w, f, 1) != 0) return -1;
    f = &w->frames[w->nframes - 1];
    f->kind = FR_FOLD_THEN;
    return push_label(w, f);
  }
  return start_folded(w);
}

/* The engine: an instruction list up to ')' at the base level, or (single)
 * exactly one folded instruction. */
static int run(watCtx *w, int single) {
  int started = 0;
  for (;;) {
    if (w->rc != ICX_OK) return -1;
    watFrame *f = w->nframes ? &w->frames[w->nframes - 1] : NULL;
    int rc;
    if (!f) {
      if (single) {
        if (started) return 0;
        if (w->cur.kind != WT_LPAR) return fail_cur(w, "expected a folded instruction");
      } else if (w->cur.kind == WT_RPAR) {
        return 0;
      }
      started = 1;
    }
    if (f && (f->kind == FR_FOLD_PLAIN || f->kind == FR_FOLD_IF)) {
      rc = fold_step(w, f);
    } else if (w->cur.kind == WT_LPAR) {
      rc = start_folded(w);
    } else if (w->cur.kind == WT_KW) {
      rc = flat(w);
    } else if (w->cur.kind == WT_RPAR) {
      rc = close_list(w, f);
    } else {
      rc =
          fail_cur(w, w->cur.kind == WT_EOF ? "unexpected end of text" : "expected an instruction");
    }
    if (rc != 0) return -1;
  }
}

static void reset_engine(watCtx *w, int is_func) {
  w->nframes = 0;
  icxWat_map_clear(w, &w->labels);
  w->nlabels = is_func ? 1 : 0;
}

/* Instructions up to ')' into w->body. */
int icxWat_instrs(watCtx *w, int is_func) {
  reset_engine(w, is_func);
  return run(w, 0);
}

/* One folded instruction into w->body. */
int icxWat_folded1(watCtx *w) {
  reset_engine(w, 0);
  return run(w, 1);
}

/* ---- function code ------------------------------------------------------------- */

/* `(local ...)*` and the body of a function with np parameters (cur after
 * its type use), appended to the code section. */
int icxWat_func_code(watCtx *w, uint32_t np) {
  uint32_t n = np;
  w->localtypes.n = 0;
  while (at_lpar_kw(w, "local")) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (w->cur.kind == WT_ID) {
      watTok id = w->cur;
      icxWat_advance(w);
      uint8_t t = icxWat_valtype(w, &w->cur);
      if (!t) return fail_cur(w, "expected a value type");
      if (bind_local(w, &id, n) != 0 || icxWat_byte(w, &w->localtypes, t) != 0) return -1;
      icxWat_advance(w);
      n++;
    } else {
      for (uint8_t t; (t = icxWat_valtype(w, &w->cur)) != 0; icxWat_advance(w), n++)
        if (icxWat_byte(w, &w->localtypes, t) != 0) return -1;
    }
    if (expect_rpar(w) != 0) return -1;
    if (n < np) return fail_cur(w, "too many locals");
  }
  w->nlocals = n;
  w->body.n = 0;
  if (icxWat_instrs(w, 1) != 0 || icxWat_byte(w, &w->body, 0x0b) != 0) return -1;
  /* local declarations, run-length encoded */
  watBuf *g = &w->scratch;
  const uint8_t *lt = w->localtypes.p;
  size_t nl = w->localtypes.n;
  uint32_t groups = 0;
  for (size_t i = 0; i < nl; i++)
    if (i == 0 || lt[i] != lt[i - 1]) groups++;
  g->n = 0;
  if (icxWat_u32(w, g, groups) != 0) return -1;
  for (size_t i = 0; i < nl;) {
    size_t j = i;
    while (j < nl && lt[j] == lt[i]) j++;
    if (icxWat_u32(w, g, (uint32_t)(j - i)) != 0 || icxWat_byte(w, g, lt[i]) != 0) return -1;
    i = j;
  }
  if (g->n + w->body.n > UINT32_MAX) return fail_cur(w, "function too large");
  if (icxWat_u32(w, &w->sec_code, (uint32_t)(g->n + w->body.n)) != 0 ||
      icxWat_put(w, &w->sec_code, g->p, g->n) != 0 ||
      icxWat_put(w, &w->sec_code, w->body.p, w->body.n) != 0)
    return -1;
  w->n_code++;
  return 0;
}
