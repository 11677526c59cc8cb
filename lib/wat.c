/* wat.c -- the module level of the WAT parser: the entry point, the module
 * forms (text, binary, quote) and the module fields.
 *
 * A text module is read twice.  Pass 1 (scan_*) binds the $ids of every
 * index space, counts the items, parses the explicit (type) definitions and
 * checks that imports precede definitions; pass 2 (field_*) parses each field
 * fully and encodes it into its section.  Implicit types from type uses
 * follow the explicit ones in the order pass 2 meets them. */
#define ICX_WAT_INTERNAL
#include "wat.h"

#include "wasm.h"

#define fail_cur icxWat_fail_cur
#define at_lpar_kw icxWat_at_lpar_kw
#define expect_rpar icxWat_expect_rpar

static const char *const def_names[WS_COUNT] = {"type",   "function", "table", "memory",
                                                "global", "elem",     "data"};

/* Skip the parenthesised group starting at cur ('('). */
static void skip_group(watCtx *w) {
  size_t depth = 0;
  do {
    if (w->cur.kind == WT_LPAR)
      depth++;
    else if (w->cur.kind == WT_RPAR)
      depth--;
    else if (w->cur.kind == WT_EOF)
      return;
    icxWat_advance(w);
  } while (depth > 0);
}

/* The keyword after '(' at cur, as an index space (WS_COUNT if none). */
static int kind_space(const watCtx *w, const watTok *t) {
  if (icxWat_tok_is(w, t, "func")) return WS_FUNC;
  if (icxWat_tok_is(w, t, "table")) return WS_TABLE;
  if (icxWat_tok_is(w, t, "memory")) return WS_MEM;
  if (icxWat_tok_is(w, t, "global")) return WS_GLOBAL;
  return WS_COUNT;
}

/* ---- pass 1 ---------------------------------------------------------------------- */

/* Give the next index of space sp, binding id (cur if it is a $id). */
static int bind_next(watCtx *w, int sp) {
  uint32_t idx = w->count[sp]++;
  if (w->cur.kind != WT_ID) return 0;
  const watTok *t = &w->cur;
  if (icxWat_map_get(&w->ids[sp], w->src, w->src + t->off, t->len) != WAT_NONE)
    return icxWat_fail(w, t->off, "duplicate %s %.*s", def_names[sp], (int)t->len, w->src + t->off);
  if (icxWat_map_set(w, &w->ids[sp], w->src, t->off, t->len, idx) != 0) return -1;
  icxWat_advance(w);
  return 0;
}

static int note_import(watCtx *w, size_t at) {
  if (w->def_seen) return icxWat_fail(w, at, "import after %s", def_names[w->def_kind]);
  return 0;
}

/* `(type $id? (func ...))`: bound and defined in pass 1. */
static int scan_type(watCtx *w) {
  uint32_t np, nr, idx;
  if (bind_next(w, WS_TYPE) != 0) return -1;
  if (!at_lpar_kw(w, "func")) return fail_cur(w, "expected (func ...)");
  icxWat_advance(w);
  icxWat_advance(w);
  if (icxWat_sig(w, 1, &np, &nr) != 0 || expect_rpar(w) != 0) return -1;
  if (icxWat_type_find(w, w->sigenc.p, (uint32_t)w->sigenc.n, np, nr, 2, &idx) != 0) return -1;
  return w->cur.kind == WT_RPAR ? 0 : fail_cur(w, "expected )");
}

/* `(import "m" "n" (kind $id? ...))`. */
static int scan_import(watCtx *w, size_t at) {
  if (note_import(w, at) != 0) return -1;
  for (int i = 0; i < 2; i++) {
    if (w->cur.kind != WT_STR) return fail_cur(w, "expected a name");
    icxWat_advance(w);
  }
  if (w->cur.kind != WT_LPAR) return fail_cur(w, "expected an import description");
  icxWat_advance(w);
  int sp = kind_space(w, &w->cur);
  if (sp == WS_COUNT) return fail_cur(w, "expected func, table, memory or global");
  icxWat_advance(w);
  int first_mem = sp == WS_MEM && w->count[WS_MEM] == 0;
  if (bind_next(w, sp) != 0) return -1;
  if (first_mem && icxWat_tok_is(w, &w->cur, "i64")) w->mem0_is64 = 1;
  return 0;
}

/* func/table/memory/global: bind, and tell an inline import from a definition. */
static int scan_def(watCtx *w, int sp, size_t at) {
  int first_mem = sp == WS_MEM && w->count[WS_MEM] == 0;
  if (bind_next(w, sp) != 0) return -1;
  while (at_lpar_kw(w, "export")) skip_group(w);
  int imported = at_lpar_kw(w, "import");
  if (imported) {
    if (note_import(w, at) != 0) return -1;
    skip_group(w);
  } else {
    w->def_seen = 1;
    w->def_kind = (uint8_t)sp;
  }
  int is64 = icxWat_tok_is(w, &w->cur, "i64");
  if (is64) icxWat_advance(w);
  if (first_mem) w->mem0_is64 = (uint8_t)is64;
  if (imported) return 0;
  if (sp == WS_TABLE) {
    uint8_t t = icxWat_valtype(w, &w->cur);
    if ((t == ICX_FUNCREF || t == ICX_EXTERNREF)) {
      watTok next;
      size_t p = w->pos;
      icxWat_lex_at(w, &p, &next);
      if (next.kind == WT_LPAR) w->count[WS_ELEM]++;
    }
  }
  if (sp == WS_MEM && at_lpar_kw(w, "data")) w->count[WS_DATA]++;
  return 0;
}

/* Pass 1 over one field (cur is its '('). */
static int scan_field(watCtx *w) {
  watTok open = w->cur;
  size_t open_pos = w->pos;
  icxWat_advance(w);
  watTok kw = w->cur;
  icxWat_advance(w);
  int rc, sp = kind_space(w, &kw);
  if (icxWat_tok_is(w, &kw, "type"))
    rc = scan_type(w);
  else if (icxWat_tok_is(w, &kw, "import"))
    rc = scan_import(w, open.off);
  else if (sp != WS_COUNT)
    rc = scan_def(w, sp, open.off);
  else if (icxWat_tok_is(w, &kw, "elem"))
    rc = bind_next(w, WS_ELEM);
  else if (icxWat_tok_is(w, &kw, "data"))
    rc = bind_next(w, WS_DATA);
  else if (icxWat_tok_is(w, &kw, "export") || icxWat_tok_is(w, &kw, "start"))
    rc = 0;
  else
    rc = icxWat_fail(w, kw.off, "unknown module field");
  if (rc != 0) return -1;
  w->cur = open;
  w->pos = open_pos;
  skip_group(w);
  return 0;
}

/* ---- pass 2: shared pieces ----------------------------------------------------------- */

/* A name string at cur, appended as vec(byte) to out. */
static int name(watCtx *w, watBuf *out) {
  w->tmp.n = 0;
  if (icxWat_string(w, &w->cur, &w->tmp, 1) != 0) return -1;
  icxWat_advance(w);
  if (w->tmp.n > UINT32_MAX) return fail_cur(w, "name too long");
  if (icxWat_u32(w, out, (uint32_t)w->tmp.n) != 0) return -1;
  return icxWat_put(w, out, w->tmp.p, w->tmp.n);
}

/* Strings at cur, concatenated into w->tmp. */
static int strings(watCtx *w) {
  w->tmp.n = 0;
  while (w->cur.kind == WT_STR) {
    if (icxWat_string(w, &w->cur, &w->tmp, 0) != 0) return -1;
    icxWat_advance(w);
  }
  return 0;
}

/* `(export "name")*` of a definition of space sp with index idx. */
static int inline_exports(watCtx *w, int sp, uint32_t idx) {
  static const uint8_t kinds[WS_COUNT] = {
      0, ICX_EXT_FUNC, ICX_EXT_TABLE, ICX_EXT_MEM, ICX_EXT_GLOBAL, 0, 0};
  while (at_lpar_kw(w, "export")) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (name(w, &w->sec_export) != 0 || icxWat_byte(w, &w->sec_export, kinds[sp]) != 0 ||
        icxWat_u32(w, &w->sec_export, idx) != 0 || expect_rpar(w) != 0)
      return -1;
    w->n_export++;
  }
  return 0;
}

/* `(import "m" "n")` of an inline import: the names into the import section. */
static int inline_import_names(watCtx *w) {
  icxWat_advance(w);
  icxWat_advance(w);
  if (name(w, &w->sec_import) != 0 || name(w, &w->sec_import) != 0) return -1;
  w->n_import++;
  return expect_rpar(w);
}

/* Optional `i64` index type (needs feature). */
static int index_type(watCtx *w, uint32_t feature, int *is64) {
  *is64 = icxWat_tok_is(w, &w->cur, "i64");
  if (!*is64) return 0;
  if (!(w->features & feature))
    return fail_cur(w, feature == ICX_FEAT_MEMORY64 ? "memory64 is not enabled"
                                                    : "table64 is not enabled");
  icxWat_advance(w);
  return 0;
}

/* Limits `min max?` (u32, or u64 for is64). */
static int limits(watCtx *w, watBuf *out, int is64) {
  uint64_t max = is64 ? UINT64_MAX : UINT32_MAX, lo, hi = 0;
  if (icxWat_nat(w, &w->cur, max, &lo) != 0) return -1;
  icxWat_advance(w);
  int has_max = w->cur.kind == WT_NUM;
  if (has_max) {
    if (icxWat_nat(w, &w->cur, max, &hi) != 0) return -1;
    icxWat_advance(w);
  }
  if (icxWat_byte(w, out, (uint8_t)((has_max ? 1 : 0) | (is64 ? 4 : 0))) != 0) return -1;
  if (icxWat_u64(w, out, lo) != 0) return -1;
  return has_max ? icxWat_u64(w, out, hi) : 0;
}

static int reftype(watCtx *w, uint8_t *out) {
  uint8_t t = icxWat_valtype(w, &w->cur);
  if (t != ICX_FUNCREF && t != ICX_EXTERNREF) return fail_cur(w, "expected funcref or externref");
  icxWat_advance(w);
  *out = t;
  return 0;
}

/* tabletype: `i64? limits reftype`. */
static int tabletype(watCtx *w, watBuf *out) {
  int is64;
  uint8_t rt = 0;
  watBuf lim = {0};
  if (index_type(w, ICX_FEAT_TABLE64, &is64) != 0 || limits(w, &lim, is64) != 0 ||
      reftype(w, &rt) != 0 || icxWat_byte(w, out, rt) != 0 ||
      icxWat_put(w, out, lim.p, lim.n) != 0) {
    icxWat_buf_free(w, &lim);
    return -1;
  }
  icxWat_buf_free(w, &lim);
  return 0;
}

static int memtype(watCtx *w, watBuf *out) {
  int is64;
  if (index_type(w, ICX_FEAT_MEMORY64, &is64) != 0) return -1;
  return limits(w, out, is64);
}

/* globaltype: `t` or `(mut t)`. */
static int globaltype(watCtx *w, watBuf *out) {
  int mut = at_lpar_kw(w, "mut");
  if (mut) {
    icxWat_advance(w);
    icxWat_advance(w);
  }
  uint8_t t = icxWat_valtype(w, &w->cur);
  if (!t) return fail_cur(w, "expected a value type");
  icxWat_advance(w);
  if (mut && expect_rpar(w) != 0) return -1;
  if (icxWat_byte(w, out, t) != 0) return -1;
  return icxWat_byte(w, out, (uint8_t)mut);
}

/* A constant expression `instr*` up to ')' into w->body (no locals). */
static int const_expr(watCtx *w) {
  icxWat_map_clear(w, &w->locals);
  w->body.n = 0;
  return icxWat_instrs(w, 0);
}

/* A segment offset, `(offset instr*)` or one folded instruction, into w->offs. */
static int offset(watCtx *w) {
  if (at_lpar_kw(w, "offset")) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (const_expr(w) != 0 || expect_rpar(w) != 0) return -1;
  } else {
    icxWat_map_clear(w, &w->locals);
    w->body.n = 0;
    if (icxWat_folded1(w) != 0) return -1;
  }
  w->offs.n = 0;
  return icxWat_put(w, &w->offs, w->body.p, w->body.n);
}

/* The constant offset 0 of an inline segment into w->offs. */
static int zero_offset(watCtx *w, int is64) {
  w->offs.n = 0;
  if (icxWat_byte(w, &w->offs, is64 ? 0x42 : 0x41) != 0) return -1;
  return icxWat_byte(w, &w->offs, 0);
}

/* ---- element and data segments ------------------------------------------------ */

enum { SEG_ACTIVE, SEG_PASSIVE, SEG_DECLARE };

/* Append one element item (instructions without `end`) to w->tmp, as a
 * 4-byte length and the bytes. */
static int add_item(watCtx *w, const uint8_t *p, size_t n) {
  if (n > UINT32_MAX) return fail_cur(w, "element too large");
  uint8_t len[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
  if (icxWat_put(w, &w->tmp, len, 4) != 0) return -1;
  return icxWat_put(w, &w->tmp, p, n);
}

/* `x*` function indices as ref.func items. */
static int func_items(watCtx *w, uint32_t *count) {
  while (w->cur.kind == WT_NUM || w->cur.kind == WT_ID) {
    uint32_t x;
    if (icxWat_var(w, WS_FUNC, &x) != 0) return -1;
    w->body.n = 0;
    if (icxWat_byte(w, &w->body, 0xd2) != 0 || icxWat_u32(w, &w->body, x) != 0 ||
        add_item(w, w->body.p, w->body.n) != 0)
      return -1;
    (*count)++;
  }
  return 0;
}

/* `elemexpr*`: `(item instr*)` or one folded instruction each. */
static int expr_items(watCtx *w, uint32_t *count) {
  while (w->cur.kind == WT_LPAR) {
    if (at_lpar_kw(w, "item")) {
      icxWat_advance(w);
      icxWat_advance(w);
      if (const_expr(w) != 0 || expect_rpar(w) != 0) return -1;
    } else {
      icxWat_map_clear(w, &w->locals);
      w->body.n = 0;
      if (icxWat_folded1(w) != 0) return -1;
    }
    if (add_item(w, w->body.p, w->body.n) != 0) return -1;
    (*count)++;
  }
  return 0;
}

/* elemlist: `func x*` or `reftype elemexpr*`, items into w->tmp. */
static int elem_list(watCtx *w, uint8_t *rt, uint32_t *count) {
  w->tmp.n = 0;
  *count = 0;
  if (icxWat_tok_is(w, &w->cur, "func")) {
    icxWat_advance(w);
    *rt = ICX_FUNCREF;
    return func_items(w, count);
  }
  if (reftype(w, rt) != 0) return -1;
  return expr_items(w, count);
}

/* The item p[0..n) is exactly `ref.func x`: the index bytes start at p+1. */
static int is_ref_func(const uint8_t *p, size_t n) {
  if (n < 2 || p[0] != 0xd2) return 0;
  size_t i = 1;
  while (i < n && (p[i] & 0x80)) i++;
  return i == n - 1;
}

/* Encode an element segment: items in w->tmp, offset in w->offs if active.
 * Flags as wabt picks them: function indices when every item is a ref.func
 * (funcref segments only), the table index only when it is not 0 (or the
 * element type needs saying). */
static int emit_elem(watCtx *w, int mode, uint32_t table, uint8_t rt, uint32_t count) {
  const uint8_t *p = w->tmp.p, *end = w->tmp.n ? w->tmp.p + w->tmp.n : w->tmp.p;
  int all_ref_func = rt == ICX_FUNCREF;
  for (const uint8_t *q = p; q < end && all_ref_func;) {
    size_t n = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16 | (size_t)q[3] << 24;
    all_ref_func = is_ref_func(q + 4, n);
    q += 4 + n;
  }
  uint32_t flags = mode == SEG_PASSIVE ? 1u : mode == SEG_DECLARE ? 3u : 0u;
  if (mode == SEG_ACTIVE && (table != 0 || rt != ICX_FUNCREF)) flags |= 2;
  if (!all_ref_func) flags |= 4;
  watBuf *b = &w->sec_elem;
  if (icxWat_u32(w, b, flags) != 0) return -1;
  if (mode == SEG_ACTIVE) {
    if ((flags & 2) && icxWat_u32(w, b, table) != 0) return -1;
    if (icxWat_put(w, b, w->offs.p, w->offs.n) != 0 || icxWat_byte(w, b, 0x0b) != 0) return -1;
  }
  if ((flags & 3) && icxWat_byte(w, b, (flags & 4) ? rt : 0x00) != 0) return -1;
  if (icxWat_u32(w, b, count) != 0) return -1;
  for (const uint8_t *q = p; q < end;) {
    size_t n = (size_t)q[0] | (size_t)q[1] << 8 | (size_t)q[2] << 16 | (size_t)q[3] << 24;
    int rc = (flags & 4) ? (icxWat_put(w, b, q + 4, n) != 0 || icxWat_byte(w, b, 0x0b) != 0)
                         : icxWat_put(w, b, q + 5, n - 1) != 0;
    if (rc) return -1;
    q += 4 + n;
  }
  w->n_elem++;
  return 0;
}

/* Encode a data segment: bytes in w->tmp, offset in w->offs if active. */
static int emit_data(watCtx *w, int active, uint32_t mem) {
  watBuf *b = &w->sec_data;
  uint32_t flags = !active ? 1u : mem != 0 ? 2u : 0u;
  if (icxWat_u32(w, b, flags) != 0) return -1;
  if (flags == 2 && icxWat_u32(w, b, mem) != 0) return -1;
  if (active && (icxWat_put(w, b, w->offs.p, w->offs.n) != 0 || icxWat_byte(w, b, 0x0b) != 0))
    return -1;
  if (w->tmp.n > UINT32_MAX) return fail_cur(w, "data segment too large");
  if (icxWat_u32(w, b, (uint32_t)w->tmp.n) != 0) return -1;
  if (icxWat_put(w, b, w->tmp.p, w->tmp.n) != 0) return -1;
  w->n_data++;
  return 0;
}

/* ---- pass 2: fields ------------------------------------------------------------- */

static void skip_id(watCtx *w) {
  if (w->cur.kind == WT_ID) icxWat_advance(w);
}

/* `(import "m" "n" desc)` after the keyword. */
static int field_import(watCtx *w) {
  uint32_t tidx, np;
  if (name(w, &w->sec_import) != 0 || name(w, &w->sec_import) != 0) return -1;
  if (w->cur.kind != WT_LPAR) return fail_cur(w, "expected an import description");
  icxWat_advance(w);
  int sp = kind_space(w, &w->cur);
  if (sp == WS_COUNT) return fail_cur(w, "expected func, table, memory or global");
  icxWat_advance(w);
  skip_id(w);
  w->next[sp]++;
  watBuf *b = &w->sec_import;
  int rc;
  switch (sp) {
  case WS_FUNC:
    rc = icxWat_typeuse(w, 1, 1, &tidx, &np) != 0 || icxWat_byte(w, b, ICX_EXT_FUNC) != 0 ||
         icxWat_u32(w, b, tidx) != 0;
    break;
  case WS_TABLE: rc = icxWat_byte(w, b, ICX_EXT_TABLE) != 0 || tabletype(w, b) != 0; break;
  case WS_MEM: rc = icxWat_byte(w, b, ICX_EXT_MEM) != 0 || memtype(w, b) != 0; break;
  default: rc = icxWat_byte(w, b, ICX_EXT_GLOBAL) != 0 || globaltype(w, b) != 0; break;
  }
  if (rc || expect_rpar(w) != 0) return -1;
  w->n_import++;
  return 0;
}

static int field_func(watCtx *w) {
  uint32_t idx = w->next[WS_FUNC]++, tidx, np;
  skip_id(w);
  if (inline_exports(w, WS_FUNC, idx) != 0) return -1;
  if (at_lpar_kw(w, "import")) {
    if (inline_import_names(w) != 0 || icxWat_typeuse(w, 1, 1, &tidx, &np) != 0) return -1;
    if (icxWat_byte(w, &w->sec_import, ICX_EXT_FUNC) != 0 || icxWat_u32(w, &w->sec_import, tidx))
      return -1;
    return 0;
  }
  icxWat_map_clear(w, &w->locals);
  if (icxWat_typeuse(w, 2, 1, &tidx, &np) != 0) return -1;
  if (icxWat_u32(w, &w->sec_func, tidx) != 0) return -1;
  w->n_func++;
  return icxWat_func_code(w, np);
}

static int field_table(watCtx *w) {
  uint32_t idx = w->next[WS_TABLE]++, count = 0;
  int is64;
  uint8_t rt = 0;
  skip_id(w);
  if (inline_exports(w, WS_TABLE, idx) != 0) return -1;
  if (at_lpar_kw(w, "import")) {
    if (inline_import_names(w) != 0) return -1;
    return icxWat_byte(w, &w->sec_import, ICX_EXT_TABLE) != 0 ? -1 : tabletype(w, &w->sec_import);
  }
  w->n_table++;
  if (index_type(w, ICX_FEAT_TABLE64, &is64) != 0) return -1;
  if (w->cur.kind == WT_NUM) {
    watBuf lim = {0};
    int rc = limits(w, &lim, is64) != 0 || reftype(w, &rt) != 0 ||
             icxWat_byte(w, &w->sec_table, rt) != 0 || icxWat_put(w, &w->sec_table, lim.p, lim.n);
    icxWat_buf_free(w, &lim);
    return rc ? -1 : 0;
  }
  /* reftype (elem ...): a table just big enough and an active segment */
  if (reftype(w, &rt) != 0) return -1;
  if (!at_lpar_kw(w, "elem")) return fail_cur(w, "expected limits or (elem ...)");
  icxWat_advance(w);
  icxWat_advance(w);
  w->tmp.n = 0;
  if ((w->cur.kind == WT_LPAR ? expr_items(w, &count) : func_items(w, &count)) != 0 ||
      expect_rpar(w) != 0)
    return -1;
  watBuf *b = &w->sec_table;
  if (icxWat_byte(w, b, rt) != 0 || icxWat_byte(w, b, is64 ? 5 : 1) != 0 ||
      icxWat_u32(w, b, count) != 0 || icxWat_u32(w, b, count) != 0)
    return -1;
  if (zero_offset(w, is64) != 0) return -1;
  return emit_elem(w, SEG_ACTIVE, idx, rt, count);
}

static int field_memory(watCtx *w) {
  uint32_t idx = w->next[WS_MEM]++;
  int is64;
  skip_id(w);
  if (inline_exports(w, WS_MEM, idx) != 0) return -1;
  if (at_lpar_kw(w, "import")) {
    if (inline_import_names(w) != 0) return -1;
    return icxWat_byte(w, &w->sec_import, ICX_EXT_MEM) != 0 ? -1 : memtype(w, &w->sec_import);
  }
  w->n_mem++;
  if (index_type(w, ICX_FEAT_MEMORY64, &is64) != 0) return -1;
  if (!at_lpar_kw(w, "data")) return limits(w, &w->sec_mem, is64);
  icxWat_advance(w);
  icxWat_advance(w);
  if (strings(w) != 0 || expect_rpar(w) != 0) return -1;
  uint64_t pages = ((uint64_t)w->tmp.n + 65535u) / 65536u;
  if (icxWat_byte(w, &w->sec_mem, is64 ? 5 : 1) != 0 || icxWat_u64(w, &w->sec_mem, pages) != 0 ||
      icxWat_u64(w, &w->sec_mem, pages) != 0)
    return -1;
  if (zero_offset(w, is64) != 0) return -1;
  return emit_data(w, 1, idx);
}

static int field_global(watCtx *w) {
  uint32_t idx = w->next[WS_GLOBAL]++;
  skip_id(w);
  if (inline_exports(w, WS_GLOBAL, idx) != 0) return -1;
  if (at_lpar_kw(w, "import")) {
    if (inline_import_names(w) != 0) return -1;
    return icxWat_byte(w, &w->sec_import, ICX_EXT_GLOBAL) != 0 ? -1 : globaltype(w, &w->sec_import);
  }
  if (globaltype(w, &w->sec_global) != 0 || const_expr(w) != 0) return -1;
  if (icxWat_put(w, &w->sec_global, w->body.p, w->body.n) != 0) return -1;
  w->n_global++;
  return icxWat_byte(w, &w->sec_global, 0x0b);
}

static int field_export(watCtx *w) {
  static const uint8_t kinds[WS_COUNT] = {
      0, ICX_EXT_FUNC, ICX_EXT_TABLE, ICX_EXT_MEM, ICX_EXT_GLOBAL, 0, 0};
  uint32_t x;
  if (name(w, &w->sec_export) != 0) return -1;
  if (w->cur.kind != WT_LPAR) return fail_cur(w, "expected an export description");
  icxWat_advance(w);
  int sp = kind_space(w, &w->cur);
  if (sp == WS_COUNT) return fail_cur(w, "expected func, table, memory or global");
  icxWat_advance(w);
  if (icxWat_var(w, sp, &x) != 0 || expect_rpar(w) != 0) return -1;
  if (icxWat_byte(w, &w->sec_export, kinds[sp]) != 0 || icxWat_u32(w, &w->sec_export, x) != 0)
    return -1;
  w->n_export++;
  return 0;
}

static int field_start(watCtx *w) {
  uint32_t x;
  size_t at = w->cur.off;
  if (icxWat_var(w, WS_FUNC, &x) != 0) return -1;
  if (w->has_start) return icxWat_fail(w, at, "multiple start sections");
  w->has_start = 1;
  return icxWat_u32(w, &w->sec_start, x);
}

static int field_elem(watCtx *w) {
  uint32_t table = 0, count = 0;
  uint8_t rt = ICX_FUNCREF;
  skip_id(w);
  if (icxWat_tok_is(w, &w->cur, "declare")) {
    icxWat_advance(w);
    if (elem_list(w, &rt, &count) != 0) return -1;
    return emit_elem(w, SEG_DECLARE, 0, rt, count);
  }
  if (w->cur.kind != WT_LPAR) {
    if (elem_list(w, &rt, &count) != 0) return -1;
    return emit_elem(w, SEG_PASSIVE, 0, rt, count);
  }
  int has_table = at_lpar_kw(w, "table");
  if (has_table) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (icxWat_var(w, WS_TABLE, &table) != 0 || expect_rpar(w) != 0) return -1;
  }
  if (offset(w) != 0) return -1;
  if (has_table || icxWat_tok_is(w, &w->cur, "func") || icxWat_valtype(w, &w->cur)) {
    if (elem_list(w, &rt, &count) != 0) return -1;
  } else {
    w->tmp.n = 0;
    if (func_items(w, &count) != 0) return -1;
  }
  return emit_elem(w, SEG_ACTIVE, table, rt, count);
}

static int field_data(watCtx *w) {
  uint32_t mem = 0;
  skip_id(w);
  if (w->cur.kind != WT_LPAR) return strings(w) != 0 ? -1 : emit_data(w, 0, 0);
  if (at_lpar_kw(w, "memory")) {
    icxWat_advance(w);
    icxWat_advance(w);
    if (icxWat_var(w, WS_MEM, &mem) != 0 || expect_rpar(w) != 0) return -1;
  }
  if (offset(w) != 0 || strings(w) != 0) return -1;
  return emit_data(w, 1, mem);
}

/* Pass 2 over one field (cur is its '('). */
static int field(watCtx *w) {
  watTok open = w->cur;
  size_t open_pos = w->pos;
  icxWat_advance(w);
  watTok kw = w->cur;
  icxWat_advance(w);
  int rc;
  if (icxWat_tok_is(w, &kw, "type")) {
    w->cur = open; /* done in pass 1 */
    w->pos = open_pos;
    skip_group(w);
    return 0;
  }
  if (icxWat_tok_is(w, &kw, "import"))
    rc = field_import(w);
  else if (icxWat_tok_is(w, &kw, "func"))
    rc = field_func(w);
  else if (icxWat_tok_is(w, &kw, "table"))
    rc = field_table(w);
  else if (icxWat_tok_is(w, &kw, "memory"))
    rc = field_memory(w);
  else if (icxWat_tok_is(w, &kw, "global"))
    rc = field_global(w);
  else if (icxWat_tok_is(w, &kw, "export"))
    rc = field_export(w);
  else if (icxWat_tok_is(w, &kw, "start"))
    rc = field_start(w);
  else if (icxWat_tok_is(w, &kw, "elem"))
    rc = field_elem(w);
  else
    rc = field_data(w);
  if (rc != 0) return -1;
  return expect_rpar(w);
}

/* Both passes over the fields at cur (up to ')' if wrapped, else to the end). */
static int module_fields(watCtx *w, int wrapped) {
  watTok start = w->cur;
  size_t start_pos = w->pos;
  while (w->cur.kind == WT_LPAR)
    if (scan_field(w) != 0) return -1;
  if (w->cur.kind != (wrapped ? WT_RPAR : WT_EOF)) return fail_cur(w, "expected a module field");
  w->cur = start;
  w->pos = start_pos;
  while (w->cur.kind == WT_LPAR)
    if (field(w) != 0) return -1;
  return 0;
}

/* ---- entry ---------------------------------------------------------------------- */

static void ctx_free(watCtx *w) {
  for (int i = 0; i < WS_COUNT; i++) icxWat_map_free(w, &w->ids[i]);
  icxWat_map_free(w, &w->sigs);
  icxWat_map_free(w, &w->locals);
  icxWat_map_free(w, &w->labels);
  icxCore_free(w->a, w->types, (size_t)w->types_cap * sizeof *w->types);
  icxCore_free(w->a, w->frames, (size_t)w->frames_cap * sizeof *w->frames);
  watBuf *bufs[] = {&w->typepool,   &w->sec_import, &w->sec_func,  &w->sec_table, &w->sec_mem,
                    &w->sec_global, &w->sec_export, &w->sec_start, &w->sec_elem,  &w->sec_code,
                    &w->sec_data,   &w->localtypes, &w->body,      &w->scratch,   &w->sigenc,
                    &w->brt,        &w->tmp,        &w->offs};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) icxWat_buf_free(w, bufs[i]);
}

static icx_status parse_text(const icxAllocator *a, const char *text, size_t len, uint32_t features,
                             unsigned depth, uint8_t **out, size_t *out_len, icxErr *err);

/* `(module $id? binary "..."*)` or `(module $id? quote "..."*)`: cur is the keyword. */
static int module_encoded(watCtx *w, int quote, uint8_t **out, size_t *out_len) {
  icxWat_advance(w);
  if (strings(w) != 0 || expect_rpar(w) != 0) return -1;
  if (w->cur.kind != WT_EOF) return fail_cur(w, "text after the module");
  if (quote) {
    if (w->quote_depth >= ICX_WAT_MAX_QUOTE) return fail_cur(w, "quoted modules nested too deeply");
    const char *text = w->tmp.n ? (const char *)w->tmp.p : "";
    w->rc = parse_text(w->a, text, w->tmp.n, w->features, w->quote_depth + 1, out, out_len, w->err);
    return w->rc == ICX_OK ? 0 : -1;
  }
  if (w->tmp.n == 0) return fail_cur(w, "empty binary module");
  uint8_t *p = icxCore_alloc(w->a, w->tmp.n);
  if (!p) return icxWat_oom(w);
  memcpy(p, w->tmp.p, w->tmp.n);
  *out = p;
  *out_len = w->tmp.n;
  return 0;
}

static int module(watCtx *w, uint8_t **out, size_t *out_len) {
  int wrapped = at_lpar_kw(w, "module");
  if (wrapped) {
    icxWat_advance(w);
    icxWat_advance(w);
    skip_id(w);
    if (icxWat_tok_is(w, &w->cur, "binary")) return module_encoded(w, 0, out, out_len);
    if (icxWat_tok_is(w, &w->cur, "quote")) return module_encoded(w, 1, out, out_len);
  }
  if (module_fields(w, wrapped) != 0) return -1;
  if (wrapped) {
    if (expect_rpar(w) != 0) return -1;
    if (w->cur.kind != WT_EOF) return fail_cur(w, "text after the module");
  }
  return icxWat_assemble(w, out, out_len);
}

static icx_status parse_text(const icxAllocator *a, const char *text, size_t len, uint32_t features,
                             unsigned depth, uint8_t **out, size_t *out_len, icxErr *err) {
  watCtx w;
  memset(&w, 0, sizeof w);
  w.a = a;
  w.src = text;
  w.len = len;
  w.features = features;
  w.quote_depth = depth;
  w.err = err;
  if (icxWat_lex_check(&w) == 0) module(&w, out, out_len);
  ctx_free(&w);
  return w.rc;
}

/* Parse WAT text into a Wasm binary (see wat.h). */
icx_status icxWat_to_wasm(const icxAllocator *a, const char *text, size_t len, uint32_t features,
                          uint8_t **out_bytes, size_t *out_len, icxErr *err) {
  if (out_bytes) *out_bytes = NULL;
  if (out_len) *out_len = 0;
  if (!a || !out_bytes || !out_len || (!text && len))
    return icxErr_set(err, ICX_EINVAL, "icxWat_to_wasm: NULL argument");
  if (len > ICX_WAT_MAX_TEXT)
    return icxErr_set(err, ICX_EINVAL, "text longer than %u bytes", (unsigned)ICX_WAT_MAX_TEXT);
  icxErr_clear(err);
  uint8_t *bytes = NULL;
  size_t n = 0;
  icx_status rc = parse_text(a, text ? text : "", len, features, 0, &bytes, &n, err);
  if (rc != ICX_OK) {
    if (bytes) icxCore_free(a, bytes, n);
    return rc;
  }
  *out_bytes = bytes;
  *out_len = n;
  return ICX_OK;
}
