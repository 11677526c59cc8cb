/* wasm_decode.c -- Wasm binary to icxModule: header, sections and their
 * structure.  Everything the spec calls "malformed" is rejected here
 * (ICX_EMALFORMED), except what only shows while walking function bodies
 * (illegal opcodes, bad immediates), which the validator reports with the
 * same status.  Index ranges and typing rules ("invalid") are left to
 * wasm_validate.c, with one exception: a constant expression that is not a
 * single constant instruction cannot be represented in the IR, so it fails
 * here with ICX_EINVALID ("constant expression required").
 *
 * Hostile input: every count is checked against its ICX_MAX_* limit and
 * against the bytes left in its section before anything is allocated, so the
 * memory used is bounded by a small multiple of the input size. */
#include "wasm.h"

#include <stdarg.h>
#include <stdio.h>

enum {
  SEC_CUSTOM = 0,
  SEC_TYPE = 1,
  SEC_IMPORT = 2,
  SEC_FUNCTION = 3,
  SEC_TABLE = 4,
  SEC_MEMORY = 5,
  SEC_GLOBAL = 6,
  SEC_EXPORT = 7,
  SEC_START = 8,
  SEC_ELEMENT = 9,
  SEC_CODE = 10,
  SEC_DATA = 11,
  SEC_DATACOUNT = 12,
  SEC_LAST = 12
};

static const char k_sec_names[SEC_LAST + 1][10] = {
    "custom", "type",    "import", "function", "table", "memory",   "global",
    "export", "start",   "element", "code",    "data",  "datacount"};

/* Rank of each section id in the required order (data count sits between
 * element and code).  Custom sections (rank 0) may appear anywhere. */
static const uint8_t k_sec_rank[SEC_LAST + 1] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};

/* Bound on memories decoded (only one is valid; the rest is only kept to be
 * reported by the validator). */
#define MAX_MEMORIES ICX_MAX_TABLES
/* Bound on custom sections kept. */
#define MAX_CUSTOMS ICX_MAX_SEGMENTS

typedef struct Dec {
  icxModule *m;
  const icxAllocator *a;
  icxErr *err;
  icxReader r;     /* end is the current section's end while in a section */
  const char *sec; /* section name for messages */
  uint32_t nfunc_decls;
  uint32_t ncustoms_seen;
  uint8_t have_code_sec, have_data_sec;
} Dec;

static void report(Dec *d, icx_status st, size_t off, const char *fmt, va_list ap)
    ICX_PRINTF(4, 0);

/* Record status st with a message located at byte offset off. */
static void report(Dec *d, icx_status st, size_t off, const char *fmt, va_list ap) {
  char buf[160];
  vsnprintf(buf, sizeof buf, fmt, ap);
  (void)icxErr_set(d->err, st, "section %s at offset 0x%zx: %s", d->sec, off, buf);
}

static icx_status fail_at(Dec *d, size_t off, const char *fmt, ...) ICX_PRINTF(3, 4);
static icx_status invalid_at(Dec *d, size_t off, const char *fmt, ...) ICX_PRINTF(3, 4);

/* Record a malformed-module error at byte offset off. */
static icx_status fail_at(Dec *d, size_t off, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(d, ICX_EMALFORMED, off, fmt, ap);
  va_end(ap);
  return ICX_EMALFORMED;
}

/* Record an invalid-module error found while decoding: only constant
 * expressions made of well-formed but non-constant instructions, which the
 * IR cannot represent. */
static icx_status invalid_at(Dec *d, size_t off, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(d, ICX_EINVALID, off, fmt, ap);
  va_end(ap);
  return ICX_EINVALID;
}

#define FAIL(d, ...) fail_at((d), icxRd_offset(&(d)->r), __VA_ARGS__)

/* Record an allocation failure (the message is formatted in place). */
static icx_status oom(Dec *d) {
  (void)icxErr_set(d->err, ICX_ENOMEM, "section %s at offset 0x%zx: out of memory", d->sec,
                   icxRd_offset(&d->r));
  return ICX_ENOMEM;
}

static size_t remaining(const Dec *d) { return (size_t)(d->r.end - d->r.p); }

/* Why a LEB128 of `bits` bits at the cursor failed to decode. */
static const char *leb_reason(const icxReader *r, unsigned bits) {
  const size_t maxlen = (bits + 6u) / 7u;
  const uint8_t *p = r->p;
  size_t n = 0;
  while (p < r->end && n < maxlen && (*p & 0x80u)) {
    p++;
    n++;
  }
  if (n >= maxlen) return "integer representation too long";
  if (p >= r->end) return "unexpected end";
  return "integer too large";
}

static icx_status rd_u32(Dec *d, uint32_t *out, const char *what) {
  if (icxRd_u32(&d->r, out) == 0) return ICX_OK;
  return FAIL(d, "%s: %s", what, leb_reason(&d->r, 32u));
}

static icx_status rd_u64(Dec *d, uint64_t *out, const char *what) {
  if (icxRd_u64(&d->r, out) == 0) return ICX_OK;
  return FAIL(d, "%s: %s", what, leb_reason(&d->r, 64u));
}

static icx_status rd_byte(Dec *d, uint8_t *out, const char *what) {
  if (icxRd_u8(&d->r, out) == 0) return ICX_OK;
  return FAIL(d, "%s: unexpected end", what);
}

/* Read a vector length: at most `limit` items, and no more items than the
 * section has bytes left for at `min_bytes` bytes per item. */
static icx_status rd_count(Dec *d, uint32_t *out, size_t min_bytes, uint32_t limit,
                           const char *what) {
  size_t off = icxRd_offset(&d->r);
  icx_status rc = rd_u32(d, out, what);
  if (rc != ICX_OK) return rc;
  if (*out > limit) return fail_at(d, off, "too many %s (%u, limit %u)", what, *out, limit);
  if ((size_t)*out > remaining(d) / min_bytes)
    return fail_at(d, off, "unexpected end: %u %s cannot fit in %zu bytes", *out, what,
                   remaining(d));
  return ICX_OK;
}

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF). */
static int utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint32_t c = s[i], cp, min;
    size_t len;
    if (c < 0x80u) {
      i++;
      continue;
    }
    if ((c & 0xe0u) == 0xc0u) {
      len = 2, cp = c & 0x1fu, min = 0x80u;
    } else if ((c & 0xf0u) == 0xe0u) {
      len = 3, cp = c & 0x0fu, min = 0x800u;
    } else if ((c & 0xf8u) == 0xf0u) {
      len = 4, cp = c & 0x07u, min = 0x10000u;
    } else {
      return 0;
    }
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0u) != 0x80u) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffffu || (cp >= 0xd800u && cp <= 0xdfffu)) return 0;
    i += len;
  }
  return 1;
}

/* Read a UTF-8 name into a NUL-terminated copy. */
static icx_status rd_name(Dec *d, char **out, uint32_t *out_len) {
  size_t off = icxRd_offset(&d->r);
  uint32_t len;
  const uint8_t *s;
  icx_status rc = rd_u32(d, &len, "name length");
  if (rc != ICX_OK) return rc;
  if (len > ICX_MAX_NAME_BYTES)
    return fail_at(d, off, "name too long (%u bytes, limit %u)", len, ICX_MAX_NAME_BYTES);
  if (icxRd_bytes(&d->r, len, &s))
    return fail_at(d, off, "unexpected end: name length out of bounds");
  if (!utf8_valid(s, len)) return fail_at(d, off, "malformed UTF-8 encoding");
  char *copy = icxCore_alloc(d->a, (size_t)len + 1u);
  if (!copy) return oom(d);
  if (len) memcpy(copy, s, len);
  copy[len] = 0;
  *out = copy;
  *out_len = len;
  return ICX_OK;
}

/* Check a value type byte. */
static icx_status check_valtype(Dec *d, size_t off, uint8_t b) {
  switch (b) {
  case ICX_I32:
  case ICX_I64:
  case ICX_F32:
  case ICX_F64:
  case ICX_FUNCREF:
  case ICX_EXTERNREF:
    return ICX_OK;
  case ICX_V128:
    return fail_at(d, off, "SIMD not supported (v128 value type)");
  default:
    return fail_at(d, off, "malformed value type 0x%02x", b);
  }
}

static icx_status rd_valtype(Dec *d, uint8_t *out) {
  size_t off = icxRd_offset(&d->r);
  icx_status rc = rd_byte(d, out, "value type");
  if (rc != ICX_OK) return rc;
  return check_valtype(d, off, *out);
}

static icx_status rd_reftype(Dec *d, uint8_t *out) {
  size_t off = icxRd_offset(&d->r);
  icx_status rc = rd_byte(d, out, "reference type");
  if (rc != ICX_OK) return rc;
  if (*out != ICX_FUNCREF && *out != ICX_EXTERNREF)
    return fail_at(d, off, "malformed reference type 0x%02x", *out);
  return ICX_OK;
}

/* Read limits; flag bit 2 (i64 index) needs the memory64 or table64 feature. */
static icx_status rd_limits(Dec *d, icxLimits *lim, int is_table) {
  size_t off = icxRd_offset(&d->r);
  uint8_t flags;
  uint32_t feat = is_table ? ICX_FEAT_TABLE64 : ICX_FEAT_MEMORY64;
  icx_status rc = rd_byte(d, &flags, "limits flags");
  if (rc != ICX_OK) return rc;
  memset(lim, 0, sizeof *lim);
  if ((flags == 0x02u || flags == 0x03u) && !is_table)
    return fail_at(d, off, "shared memory (threads) not supported");
  if ((flags & ~0x01u) == 0x04u && (d->m->features & feat)) {
    lim->is64 = 1;
  } else if (flags > 0x01u) {
    return fail_at(d, off, "malformed limits flags 0x%02x%s", flags,
                   (flags & ~0x01u) == 0x04u ? (is_table ? " (table64 not enabled)"
                                                         : " (memory64 not enabled)")
                                             : "");
  }
  lim->has_max = (uint8_t)(flags & 0x01u);
  if (lim->is64) {
    rc = rd_u64(d, &lim->min, "limits minimum");
    if (rc == ICX_OK && lim->has_max) rc = rd_u64(d, &lim->max, "limits maximum");
  } else {
    uint32_t v;
    rc = rd_u32(d, &v, "limits minimum");
    lim->min = v;
    if (rc == ICX_OK && lim->has_max) {
      rc = rd_u32(d, &v, "limits maximum");
      lim->max = v;
    }
  }
  return rc;
}

static icx_status rd_table_type(Dec *d, icxTableType *t) {
  icx_status rc = rd_reftype(d, &t->elem_type);
  if (rc != ICX_OK) return rc;
  return rd_limits(d, &t->lim, 1);
}

static icx_status rd_global_type(Dec *d, icxGlobalType *g) {
  size_t off;
  icx_status rc = rd_valtype(d, &g->type);
  if (rc != ICX_OK) return rc;
  off = icxRd_offset(&d->r);
  rc = rd_byte(d, &g->mut, "global mutability");
  if (rc != ICX_OK) return rc;
  if (g->mut > 1u) return fail_at(d, off, "malformed mutability 0x%02x", g->mut);
  return ICX_OK;
}

/* Whether op starts some Wasm 2.0 instruction (to tell a non-constant
 * instruction, which is invalid, from an illegal opcode, which is
 * malformed). */
static int is_opcode(uint8_t op) {
  return op <= 0x05u || (op >= 0x0bu && op <= 0x11u) || (op >= 0x1au && op <= 0x1cu) ||
         (op >= 0x20u && op <= 0x26u) || (op >= 0x28u && op <= 0xc4u) ||
         (op >= 0xd0u && op <= 0xd2u) || op == ICX_OP_PREFIX_FC;
}

/* Read a constant expression: one constant instruction then `end`.  The
 * type of global.get is that of the global if it is already known (else 0,
 * and the validator reports the bad index). */
static icx_status rd_const_expr(Dec *d, icxConstExpr *ce) {
  size_t off = icxRd_offset(&d->r);
  const icxModule *m = d->m;
  const uint8_t *bytes;
  uint8_t op;
  icx_status rc = rd_byte(d, &op, "constant expression");
  if (rc != ICX_OK) return rc;
  memset(ce, 0, sizeof *ce);
  switch (op) {
  case 0x41: { /* i32.const */
    int32_t v;
    if (icxRd_s32(&d->r, &v)) return FAIL(d, "i32.const: %s", leb_reason(&d->r, 32u));
    ce->kind = ICX_CONST_VALUE, ce->type = ICX_I32, ce->value = (uint32_t)v;
    break;
  }
  case 0x42: { /* i64.const */
    int64_t v;
    if (icxRd_s64(&d->r, &v)) return FAIL(d, "i64.const: %s", leb_reason(&d->r, 64u));
    ce->kind = ICX_CONST_VALUE, ce->type = ICX_I64, ce->value = (uint64_t)v;
    break;
  }
  case 0x43: /* f32.const */
    if (icxRd_bytes(&d->r, 4, &bytes)) return FAIL(d, "f32.const: unexpected end");
    ce->kind = ICX_CONST_VALUE, ce->type = ICX_F32, ce->value = icx_rd32(bytes);
    break;
  case 0x44: /* f64.const */
    if (icxRd_bytes(&d->r, 8, &bytes)) return FAIL(d, "f64.const: unexpected end");
    ce->kind = ICX_CONST_VALUE, ce->type = ICX_F64, ce->value = icx_rd64(bytes);
    break;
  case 0x23: { /* global.get */
    uint32_t g;
    rc = rd_u32(d, &g, "global index");
    if (rc != ICX_OK) return rc;
    ce->kind = ICX_CONST_GLOBAL, ce->value = g;
    ce->type = g < m->nglobals_total ? m->globals[g].type.type : 0;
    break;
  }
  case 0xd0: /* ref.null */
    ce->kind = ICX_CONST_REF_NULL;
    rc = rd_reftype(d, &ce->type);
    if (rc != ICX_OK) return rc;
    break;
  case 0xd2: { /* ref.func */
    uint32_t f;
    rc = rd_u32(d, &f, "function index");
    if (rc != ICX_OK) return rc;
    ce->kind = ICX_CONST_REF_FUNC, ce->type = ICX_FUNCREF, ce->value = f;
    break;
  }
  case ICX_OP_PREFIX_FD:
    return fail_at(d, off, "SIMD not supported (v128 constant expression)");
  case 0x0b:
    return invalid_at(d, off, "type mismatch: empty constant expression");
  default:
    if (!is_opcode(op)) return fail_at(d, off, "illegal opcode 0x%02x", op);
    return invalid_at(d, off, "constant expression required (opcode 0x%02x)", op);
  }
  off = icxRd_offset(&d->r);
  rc = rd_byte(d, &op, "constant expression end");
  if (rc != ICX_OK) return rc;
  if (op != 0x0b && !is_opcode(op)) return fail_at(d, off, "illegal opcode 0x%02x", op);
  if (op != 0x0b)
    return invalid_at(d, off, "constant expression required: expected end (0x0b), got 0x%02x",
                      op);
  return ICX_OK;
}

/* Grow an index-space array from old_n to old_n + add elements. */
static icx_status grow(Dec *d, void **p, size_t old_n, size_t add, size_t elsz) {
  void *q;
  if (add == 0) return ICX_OK;
  if (old_n)
    q = icxCore_realloc(d->a, *p, old_n * elsz, (old_n + add) * elsz);
  else
    q = icxCore_allocn(d->a, add, elsz);
  if (!q) return oom(d);
  *p = q;
  return ICX_OK;
}

/* ---- sections ---------------------------------------------------------- */

/* Bytes allocated for a function type's value types (at least 1). */
static size_t type_bytes(uint32_t np, uint32_t nr) { return np + nr ? (size_t)np + nr : 1u; }

static icx_status sec_type(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 3, ICX_MAX_TYPES, "types");
  if (rc != ICX_OK) return rc;
  if (n == 0) return ICX_OK;
  m->types = icxCore_allocn(d->a, n, sizeof *m->types);
  if (!m->types) return oom(d);
  m->ntypes = n;
  for (uint32_t i = 0; i < n; i++) {
    size_t off = icxRd_offset(&d->r);
    uint8_t form;
    uint32_t np, nr;
    const uint8_t *params, *results;
    if ((rc = rd_byte(d, &form, "function type")) != ICX_OK) return rc;
    if (form != 0x60) return fail_at(d, off, "malformed function type form 0x%02x", form);
    if ((rc = rd_count(d, &np, 1, ICX_MAX_PARAMS, "parameters")) != ICX_OK) return rc;
    params = d->r.p;
    for (uint32_t k = 0; k < np; k++) {
      uint8_t t;
      if ((rc = rd_valtype(d, &t)) != ICX_OK) return rc;
    }
    if ((rc = rd_count(d, &nr, 1, ICX_MAX_RESULTS, "results")) != ICX_OK) return rc;
    results = d->r.p;
    for (uint32_t k = 0; k < nr; k++) {
      uint8_t t;
      if ((rc = rd_valtype(d, &t)) != ICX_OK) return rc;
    }
    /* never NULL, so icxFuncType_params/results need no special case */
    uint8_t *ts = icxCore_alloc(d->a, type_bytes(np, nr));
    if (!ts) return oom(d);
    if (np) memcpy(ts, params, np);
    if (nr) memcpy(ts + np, results, nr);
    m->types[i].types = ts;
    m->types[i].nparams = np;
    m->types[i].nresults = nr;
  }
  return ICX_OK;
}

/* Build the imported parts of the index spaces from the import list. */
static icx_status build_import_spaces(Dec *d) {
  icxModule *m = d->m;
  uint32_t nf = 0, nt = 0, nm = 0, ng = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    switch (m->imports[i].kind) {
    case ICX_EXT_FUNC: nf++; break;
    case ICX_EXT_TABLE: nt++; break;
    case ICX_EXT_MEM: nm++; break;
    default: ng++; break;
    }
  }
  if (nt > ICX_MAX_TABLES) return FAIL(d, "too many imported tables (limit %u)", ICX_MAX_TABLES);
  if (nm > MAX_MEMORIES) return FAIL(d, "too many imported memories (limit %u)", MAX_MEMORIES);
  icx_status rc;
  if ((rc = grow(d, (void **)&m->func_type_idx, 0, nf, sizeof(uint32_t))) != ICX_OK) return rc;
  m->nfunc_imports = m->nfuncs_total = nf;
  if ((rc = grow(d, (void **)&m->tables, 0, nt, sizeof(icxTableType))) != ICX_OK) return rc;
  m->ntable_imports = m->ntables_total = nt;
  if ((rc = grow(d, (void **)&m->mems, 0, nm, sizeof(icxMemType))) != ICX_OK) return rc;
  m->nmem_imports = m->nmems_total = nm;
  if ((rc = grow(d, (void **)&m->globals, 0, ng, sizeof(icxGlobal))) != ICX_OK) return rc;
  m->nglobal_imports = m->nglobals_total = ng;
  nf = nt = nm = ng = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    const icxImport *im = &m->imports[i];
    switch (im->kind) {
    case ICX_EXT_FUNC: m->func_type_idx[nf++] = im->d.type_idx; break;
    case ICX_EXT_TABLE: m->tables[nt++] = im->d.table; break;
    case ICX_EXT_MEM: m->mems[nm++] = im->d.mem; break;
    default: m->globals[ng++].type = im->d.global; break;
    }
  }
  return ICX_OK;
}

static icx_status sec_import(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 4, ICX_MAX_IMPORTS, "imports");
  if (rc != ICX_OK) return rc;
  if (n) {
    m->imports = icxCore_allocn(d->a, n, sizeof *m->imports);
    if (!m->imports) return oom(d);
    m->nimports = n;
  }
  for (uint32_t i = 0; i < n; i++) {
    icxImport *im = &m->imports[i];
    size_t off;
    if ((rc = rd_name(d, &im->module, &im->module_len)) != ICX_OK) return rc;
    if ((rc = rd_name(d, &im->name, &im->name_len)) != ICX_OK) return rc;
    off = icxRd_offset(&d->r);
    if ((rc = rd_byte(d, &im->kind, "import kind")) != ICX_OK) return rc;
    switch (im->kind) {
    case ICX_EXT_FUNC: rc = rd_u32(d, &im->d.type_idx, "type index"); break;
    case ICX_EXT_TABLE: rc = rd_table_type(d, &im->d.table); break;
    case ICX_EXT_MEM: rc = rd_limits(d, &im->d.mem.lim, 0); break;
    case ICX_EXT_GLOBAL: rc = rd_global_type(d, &im->d.global); break;
    default: return fail_at(d, off, "malformed import kind 0x%02x", im->kind);
    }
    if (rc != ICX_OK) return rc;
  }
  return build_import_spaces(d);
}

static icx_status sec_function(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 1, ICX_MAX_FUNCS - m->nfunc_imports, "functions");
  if (rc != ICX_OK) return rc;
  d->nfunc_decls = n;
  if (n == 0) return ICX_OK;
  rc = grow(d, (void **)&m->func_type_idx, m->nfuncs_total, n, sizeof(uint32_t));
  if (rc != ICX_OK) return rc;
  m->nfuncs_total += n;
  m->funcs = icxCore_allocn(d->a, n, sizeof *m->funcs);
  if (!m->funcs) return oom(d);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t t;
    if ((rc = rd_u32(d, &t, "type index")) != ICX_OK) return rc;
    m->func_type_idx[m->nfunc_imports + i] = t;
    m->funcs[i].type_idx = t;
  }
  return ICX_OK;
}

static icx_status sec_table(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 3, ICX_MAX_TABLES - m->ntable_imports, "tables");
  if (rc != ICX_OK) return rc;
  rc = grow(d, (void **)&m->tables, m->ntables_total, n, sizeof(icxTableType));
  if (rc != ICX_OK) return rc;
  m->ntables_total += n;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = rd_table_type(d, &m->tables[m->ntable_imports + i])) != ICX_OK) return rc;
  return ICX_OK;
}

static icx_status sec_memory(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 2, MAX_MEMORIES - m->nmem_imports, "memories");
  if (rc != ICX_OK) return rc;
  rc = grow(d, (void **)&m->mems, m->nmems_total, n, sizeof(icxMemType));
  if (rc != ICX_OK) return rc;
  m->nmems_total += n;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = rd_limits(d, &m->mems[m->nmem_imports + i].lim, 0)) != ICX_OK) return rc;
  return ICX_OK;
}

static icx_status sec_global(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 3, ICX_MAX_GLOBALS - m->nglobal_imports, "globals");
  if (rc != ICX_OK) return rc;
  rc = grow(d, (void **)&m->globals, m->nglobals_total, n, sizeof(icxGlobal));
  if (rc != ICX_OK) return rc;
  m->nglobals_total += n;
  for (uint32_t i = 0; i < n; i++) {
    icxGlobal *g = &m->globals[m->nglobal_imports + i];
    if ((rc = rd_global_type(d, &g->type)) != ICX_OK) return rc;
    if ((rc = rd_const_expr(d, &g->init)) != ICX_OK) return rc;
  }
  return ICX_OK;
}

static icx_status sec_export(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 3, ICX_MAX_EXPORTS, "exports");
  if (rc != ICX_OK) return rc;
  if (n) {
    m->exports = icxCore_allocn(d->a, n, sizeof *m->exports);
    if (!m->exports) return oom(d);
    m->nexports = n;
  }
  for (uint32_t i = 0; i < n; i++) {
    icxExport *ex = &m->exports[i];
    size_t off;
    if ((rc = rd_name(d, &ex->name, &ex->name_len)) != ICX_OK) return rc;
    off = icxRd_offset(&d->r);
    if ((rc = rd_byte(d, &ex->kind, "export kind")) != ICX_OK) return rc;
    if (ex->kind > ICX_EXT_GLOBAL) return fail_at(d, off, "malformed export kind 0x%02x", ex->kind);
    if ((rc = rd_u32(d, &ex->index, "export index")) != ICX_OK) return rc;
  }
  return ICX_OK;
}

static icx_status sec_start(Dec *d) {
  d->m->has_start = 1;
  return rd_u32(d, &d->m->start_idx, "start function index");
}

/* One element segment; flags select among the eight encodings:
 * bit 0 passive/declarative, bit 1 explicit table (active) or declarative,
 * bit 2 items are expressions rather than function indices. */
static icx_status rd_elem(Dec *d, icxElem *e) {
  size_t off = icxRd_offset(&d->r);
  uint32_t flags, n;
  icx_status rc = rd_u32(d, &flags, "element segment flags");
  if (rc != ICX_OK) return rc;
  if (flags > 7u) return fail_at(d, off, "malformed elements segment kind %u", flags);
  e->elem_type = ICX_FUNCREF;
  if (flags & 1u) {
    e->mode = (flags & 2u) ? ICX_SEG_DECLARATIVE : ICX_SEG_PASSIVE;
  } else {
    e->mode = ICX_SEG_ACTIVE;
    if ((flags & 2u) && (rc = rd_u32(d, &e->table_idx, "table index")) != ICX_OK) return rc;
    if ((rc = rd_const_expr(d, &e->offset)) != ICX_OK) return rc;
  }
  if (flags & 3u) {
    if (flags & 4u) {
      if ((rc = rd_reftype(d, &e->elem_type)) != ICX_OK) return rc;
    } else {
      uint8_t kind;
      off = icxRd_offset(&d->r);
      if ((rc = rd_byte(d, &kind, "element kind")) != ICX_OK) return rc;
      if (kind != 0x00) return fail_at(d, off, "malformed element kind 0x%02x", kind);
    }
  }
  if ((rc = rd_count(d, &n, 1, ICX_MAX_TABLE_ELEMS, "elements")) != ICX_OK)
    return rc;
  if (n == 0) return ICX_OK;
  e->items = icxCore_allocn(d->a, n, sizeof *e->items);
  if (!e->items) return oom(d);
  e->count = n;
  for (uint32_t i = 0; i < n; i++) {
    icxConstExpr *it = &e->items[i];
    if (flags & 4u) {
      if ((rc = rd_const_expr(d, it)) != ICX_OK) return rc;
    } else {
      uint32_t f;
      if ((rc = rd_u32(d, &f, "function index")) != ICX_OK) return rc;
      it->kind = ICX_CONST_REF_FUNC, it->type = ICX_FUNCREF, it->value = f;
    }
  }
  return ICX_OK;
}

static icx_status sec_element(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  icx_status rc = rd_count(d, &n, 2, ICX_MAX_SEGMENTS, "element segments");
  if (rc != ICX_OK) return rc;
  if (n == 0) return ICX_OK;
  m->elems = icxCore_allocn(d->a, n, sizeof *m->elems);
  if (!m->elems) return oom(d);
  m->nelems = n;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = rd_elem(d, &m->elems[i])) != ICX_OK) return rc;
  return ICX_OK;
}

static icx_status sec_datacount(Dec *d) {
  d->m->has_data_count = 1;
  return rd_u32(d, &d->m->data_count, "data count");
}

/* One function body: local declarations (run-length, expanded here) and
 * the instruction byte range, which must end with `end`. */
static icx_status rd_body(Dec *d, icxFunc *f) {
  icxModule *m = d->m;
  size_t off = icxRd_offset(&d->r);
  uint32_t size, ngroups;
  const uint8_t *body, *groups;
  uint64_t total = 0;
  icx_status rc = rd_u32(d, &size, "function body size");
  if (rc != ICX_OK) return rc;
  if (size > ICX_MAX_FUNC_BYTES)
    return fail_at(d, off, "function body too large (%u bytes, limit %u)", size,
                   ICX_MAX_FUNC_BYTES);
  if (icxRd_bytes(&d->r, size, &body))
    return fail_at(d, off, "unexpected end: function body size out of bounds");
  icxReader outer = d->r;
  d->r.p = body, d->r.end = body + size;
  f->body_off = (uint32_t)off;
  if ((rc = rd_count(d, &ngroups, 2, UINT32_MAX, "local declarations")) != ICX_OK) return rc;
  groups = d->r.p;
  for (uint32_t i = 0; i < ngroups; i++) {
    uint32_t cnt;
    uint8_t t;
    if ((rc = rd_u32(d, &cnt, "local count")) != ICX_OK) return rc;
    total += cnt;
    if (total > UINT32_MAX) return FAIL(d, "too many locals");
    if ((rc = rd_valtype(d, &t)) != ICX_OK) return rc;
  }
  uint64_t nparams = f->type_idx < m->ntypes ? m->types[f->type_idx].nparams : 0;
  if (total + nparams > ICX_MAX_LOCALS)
    return fail_at(d, off, "too many locals (%llu with parameters, limit %u)",
                   (unsigned long long)(total + nparams), ICX_MAX_LOCALS);
  if (total) {
    uint8_t *lt = icxCore_alloc(d->a, (size_t)total);
    size_t k = 0;
    if (!lt) return oom(d);
    icxReader again = {groups, d->r.p, d->r.base};
    for (uint32_t i = 0; i < ngroups; i++) {
      uint32_t cnt;
      uint8_t t;
      (void)icxRd_u32(&again, &cnt); /* re-read: already checked */
      (void)icxRd_u8(&again, &t);
      memset(lt + k, t, cnt);
      k += cnt;
    }
    f->local_types = lt;
    f->nlocals = (uint32_t)total;
  }
  f->code_off = (uint32_t)icxRd_offset(&d->r);
  f->code_len = (uint32_t)remaining(d);
  if (f->code_len == 0 || d->r.end[-1] != 0x0b)
    return FAIL(d, "function body must end with end (0x0b)");
  d->r = outer;
  return ICX_OK;
}

static icx_status sec_code(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  size_t off = icxRd_offset(&d->r);
  icx_status rc = rd_count(d, &n, 3, ICX_MAX_FUNCS, "function bodies");
  if (rc != ICX_OK) return rc;
  d->have_code_sec = 1;
  if (n != d->nfunc_decls)
    return fail_at(d, off, "function and code section have inconsistent lengths (%u vs %u)",
                   d->nfunc_decls, n);
  for (uint32_t i = 0; i < n; i++)
    if ((rc = rd_body(d, &m->funcs[i])) != ICX_OK) return rc;
  return ICX_OK;
}

static icx_status sec_data(Dec *d) {
  icxModule *m = d->m;
  uint32_t n;
  size_t off = icxRd_offset(&d->r);
  icx_status rc = rd_count(d, &n, 2, ICX_MAX_SEGMENTS, "data segments");
  if (rc != ICX_OK) return rc;
  d->have_data_sec = 1;
  if (m->has_data_count && n != m->data_count)
    return fail_at(d, off, "data count and data section have inconsistent lengths (%u vs %u)",
                   m->data_count, n);
  if (n == 0) return ICX_OK;
  m->datas = icxCore_allocn(d->a, n, sizeof *m->datas);
  if (!m->datas) return oom(d);
  m->ndatas = n;
  for (uint32_t i = 0; i < n; i++) {
    icxData *ds = &m->datas[i];
    uint32_t flags, len;
    const uint8_t *payload;
    off = icxRd_offset(&d->r);
    if ((rc = rd_u32(d, &flags, "data segment flags")) != ICX_OK) return rc;
    if (flags > 2u) return fail_at(d, off, "malformed data segment kind %u", flags);
    ds->mode = flags == 1u ? ICX_SEG_PASSIVE : ICX_SEG_ACTIVE;
    if (flags == 2u && (rc = rd_u32(d, &ds->mem_idx, "memory index")) != ICX_OK) return rc;
    if (flags != 1u && (rc = rd_const_expr(d, &ds->offset)) != ICX_OK) return rc;
    off = icxRd_offset(&d->r);
    if ((rc = rd_u32(d, &len, "data segment length")) != ICX_OK) return rc;
    if (icxRd_bytes(&d->r, len, &payload))
      return fail_at(d, off, "unexpected end: data segment length out of bounds");
    ds->off = (uint32_t)(payload - d->r.base);
    ds->len = len;
  }
  return ICX_OK;
}

static icx_status sec_custom(Dec *d) {
  icxModule *m = d->m;
  uint32_t i = d->ncustoms_seen++;
  if (i >= m->ncustoms) /* never: count_customs saw the same headers */
    return icxErr_set(d->err, ICX_EINTERNAL, "custom section count changed while decoding");
  icxCustom *c = &m->customs[i];
  icx_status rc = rd_name(d, &c->name, &c->name_len);
  if (rc != ICX_OK) return rc;
  c->off = (uint32_t)icxRd_offset(&d->r);
  c->len = (uint32_t)remaining(d);
  d->r.p = d->r.end;
  return ICX_OK;
}

/* ---- module ------------------------------------------------------------ */

/* Count the custom sections by walking section headers only, so the custom
 * array is allocated once at its final size.  Stops quietly at the first
 * structural problem: the full pass reports it. */
static uint32_t count_customs(const uint8_t *p, const uint8_t *end) {
  icxReader r = {p, end, p};
  uint32_t n = 0;
  while (r.p < r.end) {
    uint8_t id;
    uint32_t size;
    const uint8_t *skip;
    if (icxRd_u8(&r, &id) || id > SEC_LAST || icxRd_u32(&r, &size) ||
        icxRd_bytes(&r, size, &skip))
      break;
    if (id == SEC_CUSTOM) n++;
  }
  return n;
}

static icx_status decode_section(Dec *d, uint8_t id) {
  switch (id) {
  case SEC_CUSTOM: return sec_custom(d);
  case SEC_TYPE: return sec_type(d);
  case SEC_IMPORT: return sec_import(d);
  case SEC_FUNCTION: return sec_function(d);
  case SEC_TABLE: return sec_table(d);
  case SEC_MEMORY: return sec_memory(d);
  case SEC_GLOBAL: return sec_global(d);
  case SEC_EXPORT: return sec_export(d);
  case SEC_START: return sec_start(d);
  case SEC_ELEMENT: return sec_element(d);
  case SEC_CODE: return sec_code(d);
  case SEC_DATA: return sec_data(d);
  default: return sec_datacount(d);
  }
}

static icx_status decode_sections(Dec *d) {
  const uint8_t *mod_end = d->r.end;
  unsigned last_rank = 0;
  icx_status rc;
  while (d->r.p < mod_end) {
    size_t off = icxRd_offset(&d->r);
    uint8_t id;
    uint32_t size;
    d->sec = "header";
    (void)icxRd_u8(&d->r, &id);
    if (id > SEC_LAST) return fail_at(d, off, "malformed section id %u", id);
    d->sec = k_sec_names[id];
    if ((rc = rd_u32(d, &size, "section size")) != ICX_OK) return rc;
    if (size > remaining(d))
      return fail_at(d, off, "unexpected end: section size %u exceeds the %zu bytes left", size,
                     remaining(d));
    if (id != SEC_CUSTOM) {
      if (k_sec_rank[id] <= last_rank)
        return fail_at(d, off, "unexpected content after last section (section out of order "
                               "or duplicated)");
      last_rank = k_sec_rank[id];
    }
    d->r.end = d->r.p + size;
    if ((rc = decode_section(d, id)) != ICX_OK) return rc;
    if (d->r.p != d->r.end) return FAIL(d, "section size mismatch");
    d->r.end = mod_end;
  }
  d->sec = "module";
  if (!d->have_code_sec && d->nfunc_decls != 0)
    return FAIL(d, "function and code section have inconsistent lengths (%u vs 0)",
                d->nfunc_decls);
  if (d->m->has_data_count && !d->have_data_sec && d->m->data_count != 0)
    return FAIL(d, "data count and data section have inconsistent lengths (%u vs 0)",
                d->m->data_count);
  return ICX_OK;
}

static void declare(icxModule *m, uint32_t f) {
  if (f < m->nfuncs_total) m->func_declared[f >> 3] |= (uint8_t)(1u << (f & 7u));
}

/* Mark functions referenced outside function bodies (C.refs in the spec). */
static icx_status fill_declared(Dec *d) {
  icxModule *m = d->m;
  if (m->nfuncs_total == 0) return ICX_OK;
  m->func_declared = icxCore_alloc(d->a, ((size_t)m->nfuncs_total + 7u) / 8u);
  if (!m->func_declared) return oom(d);
  for (uint32_t i = 0; i < m->nexports; i++)
    if (m->exports[i].kind == ICX_EXT_FUNC) declare(m, m->exports[i].index);
  for (uint32_t i = m->nglobal_imports; i < m->nglobals_total; i++)
    if (m->globals[i].init.kind == ICX_CONST_REF_FUNC)
      declare(m, (uint32_t)m->globals[i].init.value);
  for (uint32_t i = 0; i < m->nelems; i++)
    for (uint32_t k = 0; k < m->elems[i].count; k++)
      if (m->elems[i].items[k].kind == ICX_CONST_REF_FUNC)
        declare(m, (uint32_t)m->elems[i].items[k].value);
  return ICX_OK;
}

/* Decode a binary module (see wasm.h). */
icx_status icxWasm_decode(const icxAllocator *a, const uint8_t *bytes, size_t len,
                          uint32_t features, icxModule **out, icxErr *err) {
  static const uint8_t k_header[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  icx_status rc;
  icxModule *m;
  Dec d;
  *out = NULL;
  if (len > ICX_MAX_MODULE_BYTES)
    return icxErr_set(err, ICX_EMALFORMED, "section header at offset 0x0: module too large "
                      "(%zu bytes, limit %u)", len, ICX_MAX_MODULE_BYTES);
  if (len < 4 || memcmp(bytes, k_header, 4) != 0)
    return icxErr_set(err, ICX_EMALFORMED, "section header at offset 0x0: magic header not "
                      "detected");
  if (len < 8 || memcmp(bytes + 4, k_header + 4, 4) != 0)
    return icxErr_set(err, ICX_EMALFORMED, "section header at offset 0x4: unknown binary "
                      "version");
  m = icxCore_alloc(a, sizeof *m);
  if (!m) return icxErr_set(err, ICX_ENOMEM, "section header at offset 0x0: out of memory");
  m->alloc = *a;
  m->features = features;
  memset(&d, 0, sizeof d);
  d.m = m, d.a = &m->alloc, d.err = err, d.sec = "header";
  m->bytes = icxCore_alloc(d.a, len);
  if (!m->bytes) {
    rc = oom(&d);
    goto fail;
  }
  m->nbytes = len;
  memcpy(m->bytes, bytes, len);
  d.r.p = d.r.base = m->bytes;
  d.r.end = m->bytes + len;
  d.r.p += 8;
  m->ncustoms = count_customs(d.r.p, d.r.end);
  if (m->ncustoms > MAX_CUSTOMS) {
    rc = FAIL(&d, "too many custom sections (%u, limit %u)", m->ncustoms, MAX_CUSTOMS);
    m->ncustoms = 0;
    goto fail;
  }
  if (m->ncustoms) {
    m->customs = icxCore_allocn(d.a, m->ncustoms, sizeof *m->customs);
    if (!m->customs) {
      m->ncustoms = 0;
      rc = oom(&d);
      goto fail;
    }
  }
  ICX_TRY(decode_sections(&d));
  ICX_TRY(fill_declared(&d));
  *out = m;
  return ICX_OK;
fail:
  icxWasm_module_free(m);
  return rc;
}

/* Release a module and everything it owns (NULL is a no-op). */
void icxWasm_module_free(icxModule *m) {
  if (!m) return;
  icxAllocator al = m->alloc;
  const icxAllocator *a = &al;
  if (m->types)
    for (uint32_t i = 0; i < m->ntypes; i++)
      icxCore_free(a, m->types[i].types, type_bytes(m->types[i].nparams, m->types[i].nresults));
  icxCore_free(a, m->types, m->ntypes * sizeof *m->types);
  if (m->imports)
    for (uint32_t i = 0; i < m->nimports; i++) {
      icxCore_free(a, m->imports[i].module, (size_t)m->imports[i].module_len + 1u);
      icxCore_free(a, m->imports[i].name, (size_t)m->imports[i].name_len + 1u);
    }
  icxCore_free(a, m->imports, m->nimports * sizeof *m->imports);
  uint32_t ndef = m->nfuncs_total - m->nfunc_imports;
  if (m->funcs)
    for (uint32_t i = 0; i < ndef; i++)
      icxCore_free(a, m->funcs[i].local_types, m->funcs[i].nlocals);
  icxCore_free(a, m->funcs, ndef * sizeof *m->funcs);
  icxCore_free(a, m->func_type_idx, m->nfuncs_total * sizeof *m->func_type_idx);
  icxCore_free(a, m->func_declared, ((size_t)m->nfuncs_total + 7u) / 8u);
  icxCore_free(a, m->tables, m->ntables_total * sizeof *m->tables);
  icxCore_free(a, m->mems, m->nmems_total * sizeof *m->mems);
  icxCore_free(a, m->globals, m->nglobals_total * sizeof *m->globals);
  if (m->exports)
    for (uint32_t i = 0; i < m->nexports; i++)
      icxCore_free(a, m->exports[i].name, (size_t)m->exports[i].name_len + 1u);
  icxCore_free(a, m->exports, m->nexports * sizeof *m->exports);
  if (m->elems)
    for (uint32_t i = 0; i < m->nelems; i++)
      icxCore_free(a, m->elems[i].items, m->elems[i].count * sizeof *m->elems[i].items);
  icxCore_free(a, m->elems, m->nelems * sizeof *m->elems);
  icxCore_free(a, m->datas, m->ndatas * sizeof *m->datas);
  if (m->customs)
    for (uint32_t i = 0; i < m->ncustoms; i++)
      icxCore_free(a, m->customs[i].name, (size_t)m->customs[i].name_len + 1u);
  icxCore_free(a, m->customs, m->ncustoms * sizeof *m->customs);
  icxCore_free(a, m->bytes, m->nbytes);
  icxCore_free(a, m, sizeof *m);
}
