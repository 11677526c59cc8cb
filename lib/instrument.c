/* instrument.c -- the install-time pass: decompress, hash, decode and
 * validate, apply the IC rules (instr_rules.c), inject the instruction
 * counter (reference section 4; docs/instrumentation.md) and write the
 * instrumented module.
 *
 * Layout of the output (N = original function count, G = original global
 * count, NIMP = ICX_INSTR_NIMPORTS):
 *   functions: 0 "__".out_of_instructions, 1 "__".try_grow_wasm_memory,
 *              NIMP + i original function i, NIMP + N decr,
 *              then (PROBE) __icx_counter_get, __icx_counter_set;
 *   globals:   the original ones, G the counter, (canister mode) G+1 dirty
 *              pages counter, G+2 accessed pages counter.
 * Sections are written in the standard order; unchanged sections are
 * copied byte for byte; custom sections keep their place relative to the
 * known sections, except "name", which is dropped.
 *
 * Work is linear in the module size: two scans of every body (one to find
 * the injection points, one to write), no control stack. */
#include "instrument.h"

#include <sodium.h>
#include <stdio.h>
#include <zlib.h>

#include "cost.h"
#include "instr_int.h"
#include "wasm_write.h"

/* The output may grow beyond the input (counter code): cap it. */
#define OUT_LIMIT ((size_t)ICX_MAX_MODULE_BYTES * 8u)

/* ---- gzip --------------------------------------------------------------- */

/* zlib allocations through the caller's allocator (size kept in front). */
static void *z_alloc(void *ud, unsigned items, unsigned size) {
  const icxAllocator *a = ud;
  size_t n = (size_t)items * size;
  if (size && n / size != items) return Z_NULL;
  uint8_t *p = icxCore_alloc(a, n + 16);
  if (!p) return Z_NULL;
  memcpy(p, &n, sizeof n);
  return p + 16;
}

static void z_free(void *ud, void *ptr) {
  if (!ptr) return;
  uint8_t *p = (uint8_t *)ptr - 16;
  size_t n;
  memcpy(&n, p, sizeof n);
  icxCore_free(ud, p, n + 16);
}

static icx_status gunzip(const icxAllocator *a, const uint8_t *in, size_t len, uint8_t **out,
                         size_t *out_len, icxErr *err) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  zs.opaque = (void *)(uintptr_t)a;
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return icxErr_set(err, ICX_ENOMEM, "gzip: cannot initialise the decompressor");
  size_t cap = len < (1u << 20) ? (size_t)(1u << 20) : len * 4;
  if (cap > ICX_MAX_MODULE_BYTES) cap = ICX_MAX_MODULE_BYTES;
  uint8_t *buf = icxCore_alloc(a, cap);
  size_t got = 0;
  icx_status rc = ICX_OK;
  if (!buf) {
    rc = icxErr_set(err, ICX_ENOMEM, "gzip: out of memory");
    goto done;
  }
  zs.next_in = (Bytef *)(uintptr_t)in;
  for (size_t left = len;;) {
    if (zs.avail_in == 0 && left) {
      zs.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
      left -= zs.avail_in;
    }
    if (got == cap) {
      if (cap >= ICX_MAX_MODULE_BYTES) {
        rc = icxErr_set(err, ICX_EREJECTED,
                        "gzip: the decompressed module is larger than %u bytes",
                        ICX_MAX_MODULE_BYTES);
        goto done;
      }
      size_t ncap = cap * 2 > ICX_MAX_MODULE_BYTES ? ICX_MAX_MODULE_BYTES : cap * 2;
      uint8_t *nb = icxCore_realloc(a, buf, cap, ncap);
      if (!nb) {
        rc = icxErr_set(err, ICX_ENOMEM, "gzip: out of memory");
        goto done;
      }
      buf = nb, cap = ncap;
    }
    zs.next_out = buf + got;
    zs.avail_out = (uInt)((cap - got) > (1u << 30) ? (1u << 30) : (cap - got));
    uInt before = zs.avail_out;
    int zr = inflate(&zs, Z_NO_FLUSH);
    got += before - zs.avail_out;
    if (zr == Z_STREAM_END) break;
    if (zr == Z_MEM_ERROR) {
      rc = icxErr_set(err, ICX_ENOMEM, "gzip: out of memory");
      goto done;
    }
    if (zr != Z_OK && !(zr == Z_BUF_ERROR && zs.avail_out == 0)) {
      rc = icxErr_set(err, ICX_EMALFORMED, "gzip: %s",
                      zr == Z_BUF_ERROR ? "truncated stream" : (zs.msg ? zs.msg : "bad data"));
      goto done;
    }
  }
done:
  inflateEnd(&zs);
  if (rc != ICX_OK) {
    if (buf) icxCore_free(a, buf, cap);
    return rc;
  }
  /* shrink to the exact size so that free can pass it */
  uint8_t *exact = icxCore_alloc(a, got ? got : 1);
  if (!exact) {
    icxCore_free(a, buf, cap);
    return icxErr_set(err, ICX_ENOMEM, "gzip: out of memory");
  }
  memcpy(exact, buf, got);
  icxCore_free(a, buf, cap);
  *out = exact;
  *out_len = got;
  return ICX_OK;
}

/* ---- sections of the original module ------------------------------------ */

/* Known section ids in the order they are written. */
static const uint8_t k_order[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11};
#define NORDER (sizeof k_order / sizeof k_order[0])

typedef struct Sec {
  uint32_t off, len; /* payload range; len 0 and off 0 when absent */
  uint8_t present;
} Sec;

typedef struct Pass {
  const icxAllocator *a;
  const icxModule *m;
  const icxInstrOpts *o;
  icxInstrResult *r;
  icxErr *err;
  uint8_t canister, probe, mem64;
  Sec sec[13];
  /* custom section k (module order) goes after k_order slot cslot[k] (-1: first) */
  int8_t *cslot;
  uint32_t ncustom_raw;
  uint32_t *custom_off, *custom_len; /* whole payloads (name included) */
  /* injected indices */
  uint32_t counter, decr, probe_get, probe_set;
  uint32_t ty_ooi, ty_grow, ty_decr, ty_get, ty_set, ntypes_out;
  /* data segments kept in canister mode: [0, data_keep) */
  uint32_t data_keep;
  int64_t max_data_ref; /* largest data index used by memory.init/data.drop, -1 none */
  uint64_t ninstr;      /* instructions of the output bodies (compile cost) */
} Pass;

static icx_status scan_sections(Pass *p) {
  const uint8_t *b = p->m->bytes;
  size_t n = p->m->nbytes, pos = 8;
  int last = -1;
  uint32_t nc = 0;
  icxReader rd = {b + 8, b + n, b};
  /* first count the custom sections */
  while (rd.p < rd.end) {
    uint8_t id;
    uint32_t sz;
    const uint8_t *pl;
    if (icxRd_u8(&rd, &id) || icxRd_u32(&rd, &sz) || icxRd_bytes(&rd, sz, &pl))
      return icxErr_set(p->err, ICX_EINTERNAL, "section scan failed on a decoded module");
    if (id == 0) nc++;
  }
  p->ncustom_raw = nc;
  if (nc) {
    p->cslot = icxCore_allocn(p->a, nc, sizeof *p->cslot);
    p->custom_off = icxCore_allocn(p->a, nc, sizeof *p->custom_off);
    p->custom_len = icxCore_allocn(p->a, nc, sizeof *p->custom_len);
    if (!p->cslot || !p->custom_off || !p->custom_len)
      return icxErr_set(p->err, ICX_ENOMEM, "out of memory (sections)");
  }
  nc = 0;
  rd.p = b + pos;
  while (rd.p < rd.end) {
    uint8_t id;
    uint32_t sz;
    const uint8_t *pl;
    (void)icxRd_u8(&rd, &id);
    (void)icxRd_u32(&rd, &sz);
    (void)icxRd_bytes(&rd, sz, &pl);
    if (id == 0) {
      p->cslot[nc] = (int8_t)last;
      p->custom_off[nc] = (uint32_t)(pl - b);
      p->custom_len[nc] = sz;
      nc++;
      continue;
    }
    if (id > 12) return icxErr_set(p->err, ICX_EINTERNAL, "unknown section %u", id);
    p->sec[id].present = 1;
    p->sec[id].off = (uint32_t)(pl - b);
    p->sec[id].len = sz;
    for (size_t k = 0; k < NORDER; k++)
      if (k_order[k] == id) last = (int)k;
  }
  return ICX_OK;
}

/* Payload of a known section after its leading u32 count. */
static void sec_after_count(const Pass *p, uint8_t id, const uint8_t **q, size_t *n) {
  const Sec *s = &p->sec[id];
  icxReader rd = {p->m->bytes + s->off, p->m->bytes + s->off + s->len, p->m->bytes};
  uint32_t cnt = 0;
  if (s->present) (void)icxRd_u32(&rd, &cnt);
  *q = rd.p;
  *n = (size_t)(rd.end - rd.p);
  if (!s->present) *n = 0;
}

/* ---- types -------------------------------------------------------------- */

static uint32_t find_type(Pass *p, const uint8_t *ps, uint32_t np, const uint8_t *rs, uint32_t nr,
                          uint32_t *nextra, uint8_t extra[][6]) {
  const icxModule *m = p->m;
  for (uint32_t i = 0; i < m->ntypes; i++) {
    const icxFuncType *t = &m->types[i];
    if (t->nparams == np && t->nresults == nr && (np == 0 || !memcmp(t->types, ps, np)) &&
        (nr == 0 || !memcmp(t->types + np, rs, nr)))
      return i;
  }
  for (uint32_t k = 0; k < *nextra; k++) {
    const uint8_t *e = extra[k];
    if (e[0] == np && e[1] == nr && (np == 0 || !memcmp(e + 2, ps, np)) &&
        (nr == 0 || !memcmp(e + 2 + np, rs, nr)))
      return m->ntypes + k;
  }
  uint8_t *e = extra[*nextra];
  memset(e, 0, 6);
  e[0] = (uint8_t)np, e[1] = (uint8_t)nr;
  if (np) memcpy(e + 2, ps, np);
  if (nr) memcpy(e + 2 + np, rs, nr);
  return m->ntypes + (*nextra)++;
}

static void write_types(Pass *p, icxBuf *s) {
  uint8_t extra[5][6];
  uint32_t nextra = 0;
  const uint8_t I = p->mem64 ? ICX_I64 : ICX_I32, L = ICX_I64;
  const uint8_t grow_p[2] = {I, I};
  p->ty_ooi = find_type(p, NULL, 0, NULL, 0, &nextra, extra);
  p->ty_grow = find_type(p, grow_p, 2, &I, 1, &nextra, extra);
  p->ty_decr = find_type(p, &L, 1, &L, 1, &nextra, extra);
  if (p->probe) {
    p->ty_get = find_type(p, NULL, 0, &L, 1, &nextra, extra);
    p->ty_set = find_type(p, &L, 1, NULL, 0, &nextra, extra);
  }
  const uint8_t *q;
  size_t n;
  sec_after_count(p, 1, &q, &n);
  icxBuf_u32(s, p->m->ntypes + nextra);
  icxBuf_bytes(s, q, n);
  for (uint32_t k = 0; k < nextra; k++) {
    icxBuf_u8(s, 0x60);
    icxBuf_u32(s, extra[k][0]);
    icxBuf_bytes(s, &extra[k][2], extra[k][0]);
    icxBuf_u32(s, extra[k][1]);
    icxBuf_bytes(s, &extra[k][2 + extra[k][0]], extra[k][1]);
  }
}

static void write_imports(Pass *p, icxBuf *s) {
  const uint8_t *q;
  size_t n;
  sec_after_count(p, 2, &q, &n);
  icxBuf_u32(s, p->m->nimports + ICX_INSTR_NIMPORTS);
  icxBuf_name(s, "__", 2);
  icxBuf_name(s, "out_of_instructions", 19);
  icxBuf_u8(s, ICX_EXT_FUNC);
  icxBuf_u32(s, p->ty_ooi);
  icxBuf_name(s, "__", 2);
  icxBuf_name(s, "try_grow_wasm_memory", 20);
  icxBuf_u8(s, ICX_EXT_FUNC);
  icxBuf_u32(s, p->ty_grow);
  icxBuf_bytes(s, q, n);
}

static void write_funcs(Pass *p, icxBuf *s) {
  const uint8_t *q;
  size_t n;
  sec_after_count(p, 3, &q, &n);
  uint32_t ndef = p->m->nfuncs_total - p->m->nfunc_imports;
  icxBuf_u32(s, ndef + 1u + (p->probe ? 2u : 0u));
  icxBuf_bytes(s, q, n);
  icxBuf_u32(s, p->ty_decr);
  if (p->probe) {
    icxBuf_u32(s, p->ty_get);
    icxBuf_u32(s, p->ty_set);
  }
}

static void write_limits(icxBuf *s, const icxLimits *l) {
  icxBuf_u8(s, (uint8_t)((l->has_max ? 1 : 0) | (l->is64 ? 4 : 0)));
  icxBuf_u64(s, l->min);
  if (l->has_max) icxBuf_u64(s, l->max);
}

static void write_memories(Pass *p, icxBuf *s) {
  const icxModule *m = p->m;
  if (!p->canister || !p->mem64) {
    icxBuf_bytes(s, m->bytes + p->sec[5].off, p->sec[5].len);
    return;
  }
  /* wasm64 in canister mode: a memory without a maximum gets the cap */
  icxBuf_u32(s, m->nmems_total - m->nmem_imports);
  for (uint32_t i = m->nmem_imports; i < m->nmems_total; i++) {
    icxLimits l = m->mems[i].lim;
    if (!l.has_max) l.has_max = 1, l.max = ICX_MAX_MEM64_PAGES;
    write_limits(s, &l);
  }
}

static void write_const(Pass *p, icxBuf *s, const icxConstExpr *c) {
  (void)p;
  switch (c->kind) {
  case ICX_CONST_VALUE:
    switch (c->type) {
    case ICX_I32:
      icxBuf_u8(s, 0x41);
      icxBuf_s64(s, (int32_t)(uint32_t)c->value);
      break;
    case ICX_I64:
      icxBuf_u8(s, 0x42);
      icxBuf_s64(s, (int64_t)c->value);
      break;
    case ICX_F32: {
      uint8_t b[4];
      for (int i = 0; i < 4; i++) b[i] = (uint8_t)(c->value >> (8 * i));
      icxBuf_u8(s, 0x43);
      icxBuf_bytes(s, b, 4);
      break;
    }
    default: {
      uint8_t b[8];
      for (int i = 0; i < 8; i++) b[i] = (uint8_t)(c->value >> (8 * i));
      icxBuf_u8(s, 0x44);
      icxBuf_bytes(s, b, 8);
      break;
    }
    }
    break;
  case ICX_CONST_GLOBAL:
    icxBuf_u8(s, 0x23);
    icxBuf_u32(s, (uint32_t)c->value);
    break;
  case ICX_CONST_REF_NULL:
    icxBuf_u8(s, 0xd0);
    icxBuf_u8(s, c->type);
    break;
  default: /* ref.func: shifted */
    icxBuf_u8(s, 0xd2);
    icxBuf_u32(s, (uint32_t)c->value + ICX_INSTR_NIMPORTS);
    break;
  }
  icxBuf_u8(s, 0x0b);
}

static void write_globals(Pass *p, icxBuf *s) {
  const icxModule *m = p->m;
  uint32_t nadd = p->canister ? 3u : 1u;
  icxBuf_u32(s, m->nglobals_total - m->nglobal_imports + nadd);
  for (uint32_t i = m->nglobal_imports; i < m->nglobals_total; i++) {
    icxBuf_u8(s, m->globals[i].type.type);
    icxBuf_u8(s, m->globals[i].type.mut);
    write_const(p, s, &m->globals[i].init);
  }
  for (uint32_t k = 0; k < nadd; k++) {
    icxBuf_u8(s, ICX_I64);
    icxBuf_u8(s, 1);
    icxBuf_u8(s, 0x42);
    icxBuf_s64(s, k == 0 ? p->o->counter_init : 0);
    icxBuf_u8(s, 0x0b);
  }
}

/* ---- exports ------------------------------------------------------------- */

typedef struct OutExp {
  const char *name;
  uint32_t len;
  uint8_t kind;
  uint32_t idx;
} OutExp;

static int outexp_cmp(const void *pa, const void *pb) {
  const OutExp *a = pa, *b = pb;
  int c = memcmp(a->name, b->name, a->len < b->len ? a->len : b->len);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

static icx_status write_exports(Pass *p, icxBuf *s) {
  const icxModule *m = p->m;
  uint32_t nglob_def = m->nglobals_total;
  size_t cap = (size_t)m->nexports + nglob_def + 8u;
  OutExp *e = icxCore_allocn(p->a, cap, sizeof *e);
  OutExp *sorted = icxCore_allocn(p->a, cap, sizeof *e);
  char *arena = icxCore_allocn(p->a, (size_t)nglob_def + 1u, 40);
  size_t an = 0, n = 0;
  icx_status rc = ICX_OK;
  uint8_t *gexp = NULL;
  if (!e || !sorted || !arena) {
    rc = icxErr_set(p->err, ICX_ENOMEM, "out of memory (exports)");
    goto out;
  }
  int table_exported = 0, mem_exported = 0;
  if (p->canister && m->nglobals_total) {
    gexp = icxCore_alloc(p->a, m->nglobals_total);
    if (!gexp) {
      rc = icxErr_set(p->err, ICX_ENOMEM, "out of memory (exports)");
      goto out;
    }
    for (uint32_t i = 0; i < m->nexports; i++)
      if (m->exports[i].kind == ICX_EXT_GLOBAL) gexp[m->exports[i].index] = 1;
  }
  for (uint32_t i = 0; i < m->nexports; i++) {
    const icxExport *x = &m->exports[i];
    OutExp o = {x->name, x->name_len, x->kind, x->index};
    if (x->kind == ICX_EXT_FUNC) o.idx += ICX_INSTR_NIMPORTS;
    if (p->canister && x->kind == ICX_EXT_TABLE) o.name = "table", o.len = 5, table_exported = 1;
    if (p->canister && x->kind == ICX_EXT_MEM) o.name = "memory", o.len = 6, mem_exported = 1;
    e[n++] = o;
  }
  if (p->canister) {
    if (!table_exported && m->ntables_total) e[n++] = (OutExp){"table", 5, ICX_EXT_TABLE, 0};
    if (!mem_exported && m->nmems_total) e[n++] = (OutExp){"memory", 6, ICX_EXT_MEM, 0};
    /* mutable globals not exported yet: __persistent_mutable_global_<index> */
    for (uint32_t g = 0; g < m->nglobals_total; g++) {
      if (!m->globals[g].type.mut || gexp[g]) continue;
      char *nm = arena + an;
      int k = snprintf(nm, 40, "__persistent_mutable_global_%u", g);
      an += 40;
      e[n++] = (OutExp){nm, (uint32_t)k, ICX_EXT_GLOBAL, g};
    }
  }
  e[n++] = (OutExp){"canister counter_instructions", 29, ICX_EXT_GLOBAL, p->counter};
  if (p->canister) {
    e[n++] = (OutExp){"canister counter_dirty_pages", 28, ICX_EXT_GLOBAL, p->counter + 1};
    e[n++] = (OutExp){"canister counter_accessed_pages", 31, ICX_EXT_GLOBAL, p->counter + 2};
    if (m->has_start)
      e[n++] = (OutExp){"canister_start", 14, ICX_EXT_FUNC, m->start_idx + ICX_INSTR_NIMPORTS};
  }
  if (p->probe) {
    e[n++] = (OutExp){"__icx_counter_get", 17, ICX_EXT_FUNC, p->probe_get};
    e[n++] = (OutExp){"__icx_counter_set", 17, ICX_EXT_FUNC, p->probe_set};
  }
  memcpy(sorted, e, n * sizeof *e);
  qsort(sorted, n, sizeof *sorted, outexp_cmp);
  for (size_t i = 1; i < n; i++)
    if (outexp_cmp(&sorted[i - 1], &sorted[i]) == 0) {
      rc = icxErr_set(p->err, ICX_EREJECTED,
                      "export section: name '%.*s' exported twice after instrumentation",
                      (int)(sorted[i].len > 64 ? 64 : sorted[i].len), sorted[i].name);
      goto out;
    }
  icxBuf_u32(s, (uint32_t)n);
  for (size_t i = 0; i < n; i++) {
    icxBuf_name(s, e[i].name, e[i].len);
    icxBuf_u8(s, e[i].kind);
    icxBuf_u32(s, e[i].idx);
  }
out:
  if (gexp) icxCore_free(p->a, gexp, m->nglobals_total);
  if (e) icxCore_free(p->a, e, cap * sizeof *e);
  if (sorted) icxCore_free(p->a, sorted, cap * sizeof *e);
  if (arena) icxCore_free(p->a, arena, ((size_t)nglob_def + 1u) * 40u);
  return rc;
}

/* ---- element and data segments ------------------------------------------- */

static void write_elems(Pass *p, icxBuf *s) {
  const icxModule *m = p->m;
  icxBuf_u32(s, m->nelems);
  for (uint32_t i = 0; i < m->nelems; i++) {
    const icxElem *el = &m->elems[i];
    int funcs_only = el->elem_type == ICX_FUNCREF;
    for (uint32_t k = 0; k < el->count && funcs_only; k++)
      funcs_only = el->items[k].kind == ICX_CONST_REF_FUNC;
    uint8_t flags = el->mode == ICX_SEG_ACTIVE ? (el->table_idx ? 2 : 0)
                                               : (el->mode == ICX_SEG_PASSIVE ? 1 : 3);
    if (!funcs_only) flags = (uint8_t)(flags == 0 ? 6 : flags == 2 ? 6 : flags | 4);
    icxBuf_u8(s, flags);
    if (flags == 2 || flags == 6) icxBuf_u32(s, el->table_idx);
    if (el->mode == ICX_SEG_ACTIVE) write_const(p, s, &el->offset);
    if (flags == 1 || flags == 2 || flags == 3) icxBuf_u8(s, 0x00); /* elemkind funcref */
    if (flags >= 5) icxBuf_u8(s, el->elem_type);
    icxBuf_u32(s, el->count);
    for (uint32_t k = 0; k < el->count; k++) {
      if (funcs_only)
        icxBuf_u32(s, (uint32_t)el->items[k].value + ICX_INSTR_NIMPORTS);
      else
        write_const(p, s, &el->items[k]);
    }
  }
}

/* Canister mode (INS get_data): active segments go to the result; an
 * active segment followed (directly or not) by a passive one stays with no
 * bytes, so that passive indices do not move; the others are dropped. */
static icx_status take_data(Pass *p) {
  const icxModule *m = p->m;
  icxInstrResult *r = p->r;
  uint64_t mem_bytes = m->nmems_total ? m->mems[0].lim.min * 65536u : 0;
  uint32_t nact = 0;
  p->data_keep = 0;
  for (uint32_t i = 0; i < m->ndatas; i++) {
    if (m->datas[i].mode == ICX_SEG_ACTIVE)
      nact++;
    else
      p->data_keep = i + 1;
  }
  if (nact) {
    r->data = icxCore_allocn(&r->alloc, nact, sizeof *r->data);
    if (!r->data) return icxErr_set(p->err, ICX_ENOMEM, "out of memory (data segments)");
    r->data_cap = nact;
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const icxData *d = &m->datas[i];
    if (d->mode != ICX_SEG_ACTIVE) continue;
    /* the replica reads the i32 offset as a signed value widened to usize */
    uint64_t off = p->mem64 ? d->offset.value : (uint64_t)(int64_t)(int32_t)(uint32_t)d->offset.value;
    if (off > mem_bytes || d->len > mem_bytes - off)
      return icxErr_set(p->err, ICX_EREJECTED,
                        "data section: segment %u (offset %lld, %u bytes) does not fit the initial "
                        "memory of %llu bytes",
                        i, (long long)off, d->len, (unsigned long long)mem_bytes);
    icxInstrData *o = &r->data[r->ndata++];
    o->offset = off;
    o->len = d->len;
    o->bytes = r->orig + d->off;
  }
  return ICX_OK;
}

static void write_data(Pass *p, icxBuf *s) {
  const icxModule *m = p->m;
  if (!p->canister) {
    icxBuf_bytes(s, m->bytes + p->sec[11].off, p->sec[11].len);
    return;
  }
  icxBuf_u32(s, p->data_keep);
  for (uint32_t i = 0; i < p->data_keep; i++) {
    const icxData *d = &m->datas[i];
    if (d->mode == ICX_SEG_PASSIVE) {
      icxBuf_u8(s, 1);
      icxBuf_u32(s, d->len);
      icxBuf_bytes(s, m->bytes + d->off, d->len);
    } else {
      icxBuf_u8(s, d->mem_idx ? 2 : 0);
      if (d->mem_idx) icxBuf_u32(s, d->mem_idx);
      write_const(p, s, &d->offset);
      icxBuf_u32(s, 0);
    }
  }
}

/* ---- function bodies ------------------------------------------------------ */

/* One decoded operator: code as in icxCost_op, immediates that matter. */
typedef struct Op {
  uint32_t code;
  uint32_t a, b; /* call/ref.func index; table/data index; second table */
} Op;

/* Read one operator of a validated body; -1 if the bytes do not decode
 * (cannot happen after validation). */
static int next_op(icxReader *r, Op *op) {
  uint8_t c;
  uint32_t u, n;
  uint64_t u64;
  int32_t s32;
  int64_t s64;
  const uint8_t *skip;
  op->a = op->b = 0;
  if (icxRd_u8(r, &c)) return -1;
  op->code = c;
  switch (c) {
  case 0x02: case 0x03: case 0x04:
    return icxRd_s33(r, &s64);
  case 0x0c: case 0x0d: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25:
  case 0x26:
    return icxRd_u32(r, &op->a);
  case 0x0e:
    if (icxRd_u32(r, &n)) return -1;
    for (uint64_t i = 0; i <= n; i++)
      if (icxRd_u32(r, &u)) return -1;
    return 0;
  case 0x10: case 0xd2:
    return icxRd_u32(r, &op->a);
  case 0x11:
    return icxRd_u32(r, &op->a) || icxRd_u32(r, &op->b) ? -1 : 0;
  case 0x1c:
    if (icxRd_u32(r, &n)) return -1;
    return icxRd_bytes(r, n, &skip);
  case 0x3f: case 0x40: case 0xd0:
    return icxRd_u8(r, &c);
  case 0x41:
    return icxRd_s32(r, &s32);
  case 0x42:
    return icxRd_s64(r, &s64);
  case 0x43:
    return icxRd_bytes(r, 4, &skip);
  case 0x44:
    return icxRd_bytes(r, 8, &skip);
  case 0xfc:
    if (icxRd_u32(r, &u) || u > 0xff) return -1;
    op->code = 0xfc00u | u;
    switch (u) {
    case 8: return icxRd_u32(r, &op->a) || icxRd_u8(r, &c) ? -1 : 0;
    case 9: case 13: case 15: case 16: case 17: return icxRd_u32(r, &op->a);
    case 10: return icxRd_u8(r, &c) || icxRd_u8(r, &c) ? -1 : 0;
    case 11: return icxRd_u8(r, &c);
    case 12: case 14: return icxRd_u32(r, &op->a) || icxRd_u32(r, &op->b) ? -1 : 0;
    default: return 0;
    }
  default:
    if (c >= 0x28 && c <= 0x3e) return icxRd_u32(r, &u) || icxRd_u64(r, &u64) ? -1 : 0;
    return 0;
  }
}

/* Injection points of one body (reference 4.2, INS `injections`). */
enum { PT_REENTRANT = 0, PT_NONREENTRANT = 1, PT_BLOCKEND = 2, PT_DYN32 = 3, PT_DYN64 = 4 };
typedef struct Point {
  uint32_t pos; /* byte offset of the operator it precedes, in the body's code */
  uint8_t kind;
  uint64_t cost;
} Point;

typedef struct PointVec {
  Point *v;
  size_t n, cap;
} PointVec;

static int pv_push(const icxAllocator *a, PointVec *pv, Point pt) {
  if (pv->n == pv->cap) {
    size_t nc = pv->cap ? pv->cap * 2 : 64;
    Point *nv = icxCore_realloc(a, pv->v, pv->cap * sizeof *nv, nc * sizeof *nv);
    if (!nv) return -1;
    pv->v = nv, pv->cap = nc;
  }
  pv->v[pv->n++] = pt;
  return 0;
}

typedef struct BodyScan {
  PointVec st, dy; /* static points (in order of their position), dynamic points */
  uint8_t has_grow;
} BodyScan;

static uint8_t count_is64(const Pass *p, const Op *op) {
  const icxModule *m = p->m;
  switch (op->code) {
  case 0xfc0a: case 0xfc0b: /* memory.copy, memory.fill */
    return m->nmems_total && m->mems[0].lim.is64;
  case 0xfc11: /* table.fill */
    return m->tables[op->a].lim.is64;
  case 0xfc0e: /* table.copy: i64 only if both tables are 64-bit */
    return m->tables[op->a].lim.is64 && m->tables[op->b].lim.is64;
  default: /* memory.init, table.init */
    return 0;
  }
}

static size_t f_off(const Pass *p, const uint8_t *code) { return (size_t)(code - p->m->bytes); }

static icx_status scan_body(Pass *p, uint32_t fidx, const uint8_t *code, uint32_t len,
                            BodyScan *bs) {
  icxReader r = {code, code + len, p->m->bytes};
  Point cur = {0, PT_REENTRANT, 1};
  uint64_t ninstr = 0, complexity = 0;
  uint32_t depth = 0; /* open blocks; the check of a reentrant point adds one */
  bs->st.n = bs->dy.n = 0;
  bs->has_grow = 0;
  while (r.p < r.end) {
    uint32_t pos = (uint32_t)(r.p - code);
    Op op;
    if (next_op(&r, &op))
      return icxErr_set(p->err, ICX_EINTERNAL, "func %u: operator at 0x%zx does not decode", fidx,
                        icxRd_offset(&r));
    uint32_t next = (uint32_t)(r.p - code);
    ninstr++;
    complexity += icxCost_complexity(op.code);
    cur.cost += icxCost_op(op.code, p->mem64);
    int close = -1;
    if (op.code == 0x02 || op.code == 0x03 || op.code == 0x04) depth++;
    if (op.code == 0x0b && depth) depth--;
    switch (op.code) {
    case 0x03:
      close = PT_REENTRANT;
      if (depth + 1u > ICX_MAX_NESTING)
        return icxErr_set(p->err, ICX_EREJECTED,
                          "func %u: blocks nested too deeply for the counter check inside the "
                          "loop at 0x%x (limit %u)",
                          fidx, (unsigned)(f_off(p, code) + pos), ICX_MAX_NESTING);
      break;
    case 0x04: close = PT_NONREENTRANT; break;
    case 0x05: case 0x0c: case 0x0d: case 0x0e: case 0x0b: case 0x0f: case 0x00: case 0x12:
    case 0x13:
      close = PT_BLOCKEND;
      break;
    case 0x40: bs->has_grow = 1; break;
    case 0xfc0a: case 0xfc0b: case 0xfc0e: case 0xfc11: case 0xfc08: case 0xfc0c: {
      Point d = {pos, count_is64(p, &op) ? PT_DYN64 : PT_DYN32, 0};
      if (pv_push(p->a, &bs->dy, d)) return icxErr_set(p->err, ICX_ENOMEM, "out of memory");
      if (op.code == 0xfc08 && (int64_t)op.a > p->max_data_ref) p->max_data_ref = op.a;
      break;
    }
    case 0xfc09:
      if ((int64_t)op.a > p->max_data_ref) p->max_data_ref = op.a;
      break;
    default: break;
    }
    if (close >= 0) {
      if (pv_push(p->a, &bs->st, cur)) return icxErr_set(p->err, ICX_ENOMEM, "out of memory");
      cur.pos = next, cur.kind = (uint8_t)close, cur.cost = 0;
    }
  }
  if (p->canister) {
    uint32_t def = fidx - p->m->nfunc_imports;
    if (ninstr > ICX_IC_MAX_FUNCTION_INSTRUCTIONS)
      return icxErr_set(p->err, ICX_EREJECTED,
                        "code section: function %u has %llu instructions, more than the %u "
                        "allowed",
                        def, (unsigned long long)ninstr, ICX_IC_MAX_FUNCTION_INSTRUCTIONS);
    if (complexity > ICX_IC_MAX_FUNCTION_COMPLEXITY)
      return icxErr_set(p->err, ICX_EREJECTED,
                        "code section: function %u has complexity %llu, more than the %u allowed",
                        def, (unsigned long long)complexity, ICX_IC_MAX_FUNCTION_COMPLEXITY);
  }
  p->ninstr += ninstr;
  return ICX_OK;
}

static void emit_point(Pass *p, icxBuf *b, const Point *pt) {
  switch (pt->kind) {
  case PT_DYN32:
    icxBuf_u8(b, 0xad); /* i64.extend_i32_u */
    icxBuf_u8(b, 0x10);
    icxBuf_u32(b, p->decr);
    icxBuf_u8(b, 0xa7); /* i32.wrap_i64 */
    p->ninstr += 3;
    return;
  case PT_DYN64:
    icxBuf_u8(b, 0x10);
    icxBuf_u32(b, p->decr);
    p->ninstr += 1;
    return;
  default:
    if (pt->kind != PT_REENTRANT && pt->cost == 0) return;
    icxBuf_u8(b, 0x23);
    icxBuf_u32(b, p->counter);
    icxBuf_u8(b, 0x42);
    icxBuf_s64(b, (int64_t)pt->cost);
    icxBuf_u8(b, 0x7d); /* i64.sub */
    icxBuf_u8(b, 0x24);
    icxBuf_u32(b, p->counter);
    p->ninstr += 4;
    if (pt->kind != PT_REENTRANT) return;
    icxBuf_u8(b, 0x23);
    icxBuf_u32(b, p->counter);
    static const uint8_t check[] = {0x42, 0x00, 0x53, 0x04, 0x40, 0x10, ICX_INSTR_IMP_OOI, 0x0b};
    icxBuf_bytes(b, check, sizeof check);
    p->ninstr += 6;
    return;
  }
}

/* Write one instrumented body (size, locals, code) to sec. */
static icx_status write_body(Pass *p, uint32_t fidx, BodyScan *bs, icxBuf *tmp, icxBuf *sec) {
  const icxModule *m = p->m;
  const icxFunc *f = &m->funcs[fidx - m->nfunc_imports];
  const uint8_t *code = m->bytes + f->code_off;
  icx_status rc = scan_body(p, fidx, code, f->code_len, bs);
  if (rc != ICX_OK) return rc;
  tmp->len = 0;
  /* locals: the original groups, plus one local of the index type if the
   * body grows memory */
  icxReader lr = {m->bytes + f->body_off, code, m->bytes};
  uint32_t bsize, ngroups;
  (void)icxRd_u32(&lr, &bsize);
  (void)icxRd_u32(&lr, &ngroups);
  uint32_t tlocal = icxWasm_func_type(m, fidx)->nparams + f->nlocals;
  icxBuf_u32(tmp, ngroups + (bs->has_grow ? 1u : 0u));
  icxBuf_bytes(tmp, lr.p, (size_t)(code - lr.p));
  if (bs->has_grow) {
    icxBuf_u8(tmp, 1);
    icxBuf_u8(tmp, p->mem64 ? ICX_I64 : ICX_I32);
  }
  icxReader r = {code, code + f->code_len, m->bytes};
  size_t si = 0, di = 0;
  const uint8_t *copied = code; /* bytes [copied, r.p) not yet written */
  while (r.p < r.end) {
    uint32_t pos = (uint32_t)(r.p - code);
    const uint8_t *start = r.p;
    /* a dynamic point at this position comes before the static one
     * (the replica sorts the points stably, dynamic ones pushed first) */
    int here = (di < bs->dy.n && bs->dy.v[di].pos == pos) ||
               (si < bs->st.n && bs->st.v[si].pos == pos);
    Op op;
    (void)next_op(&r, &op);
    int rewrite = op.code == 0x10 || op.code == 0xd2 || op.code == 0x40;
    if (!here && !rewrite) continue;
    icxBuf_bytes(tmp, copied, (size_t)(start - copied));
    copied = start;
    while (di < bs->dy.n && bs->dy.v[di].pos == pos) emit_point(p, tmp, &bs->dy.v[di++]);
    while (si < bs->st.n && bs->st.v[si].pos == pos) emit_point(p, tmp, &bs->st.v[si++]);
    if (op.code == 0x10 || op.code == 0xd2) {
      icxBuf_u8(tmp, (uint8_t)op.code);
      icxBuf_u32(tmp, op.a + ICX_INSTR_NIMPORTS);
      copied = r.p;
    } else if (op.code == 0x40) {
      icxBuf_u8(tmp, 0x22);
      icxBuf_u32(tmp, tlocal);
      icxBuf_bytes(tmp, start, (size_t)(r.p - start));
      icxBuf_u8(tmp, 0x20);
      icxBuf_u32(tmp, tlocal);
      icxBuf_u8(tmp, 0x10);
      icxBuf_u32(tmp, ICX_INSTR_IMP_TRY_GROW);
      p->ninstr += 3;
      copied = r.p;
    }
  }
  icxBuf_bytes(tmp, copied, (size_t)(r.p - copied));
  /* points after the final `end` have cost 0 and are not emitted */
  if (tmp->failed)
    return icxErr_set(p->err, tmp->failed == 1 ? ICX_ENOMEM : ICX_EREJECTED,
                      "func %u: instrumented body too large or out of memory", fidx);
  icxBuf_u32(sec, (uint32_t)tmp->len);
  icxBuf_bytes(sec, tmp->p, tmp->len);
  return ICX_OK;
}

/* decr(i64 n) -> i64, one extra i64 local (INS export_additional_symbols). */
static void write_decr(Pass *p, icxBuf *sec) {
  icxBuf tmp;
  icxBuf_init(&tmp, p->a, 256);
  icxBuf_u8(&tmp, 1), icxBuf_u8(&tmp, 1), icxBuf_u8(&tmp, ICX_I64); /* locals: 1 x i64 */
  icxBuf_u8(&tmp, 0x23), icxBuf_u32(&tmp, p->counter);
  icxBuf_u8(&tmp, 0x20), icxBuf_u8(&tmp, 0);
  icxBuf_u8(&tmp, 0x7d);                       /* i64.sub */
  icxBuf_u8(&tmp, 0x22), icxBuf_u8(&tmp, 1);   /* local.tee 1 */
  icxBuf_u8(&tmp, 0x23), icxBuf_u32(&tmp, p->counter);
  icxBuf_u8(&tmp, 0x55);                       /* i64.gt_s: new > old means underflow */
  icxBuf_u8(&tmp, 0x04), icxBuf_u8(&tmp, ICX_I64);
  icxBuf_u8(&tmp, 0x42), icxBuf_s64(&tmp, INT64_MIN);
  icxBuf_u8(&tmp, 0x05);
  icxBuf_u8(&tmp, 0x20), icxBuf_u8(&tmp, 1);
  icxBuf_u8(&tmp, 0x0b);
  icxBuf_u8(&tmp, 0x24), icxBuf_u32(&tmp, p->counter);
  icxBuf_u8(&tmp, 0x23), icxBuf_u32(&tmp, p->counter);
  icxBuf_u8(&tmp, 0x42), icxBuf_u8(&tmp, 0);
  icxBuf_u8(&tmp, 0x53);                       /* i64.lt_s */
  icxBuf_u8(&tmp, 0x04), icxBuf_u8(&tmp, 0x40);
  icxBuf_u8(&tmp, 0x10), icxBuf_u8(&tmp, ICX_INSTR_IMP_OOI);
  icxBuf_u8(&tmp, 0x0b);
  icxBuf_u8(&tmp, 0x20), icxBuf_u8(&tmp, 0);
  icxBuf_u8(&tmp, 0x0b);
  p->ninstr += 20;
  icxBuf_u32(sec, (uint32_t)tmp.len);
  icxBuf_bytes(sec, tmp.p, tmp.len);
  if (tmp.failed && !sec->failed) sec->failed = tmp.failed;
  icxBuf_free(&tmp);
}

static void write_probes(Pass *p, icxBuf *sec) {
  uint8_t get[16], set[16];
  size_t g = 0, s = 0;
  icxBuf t;
  icxBuf_init(&t, p->a, 64);
  icxBuf_u8(&t, 0), icxBuf_u8(&t, 0x23), icxBuf_u32(&t, p->counter), icxBuf_u8(&t, 0x0b);
  if (!t.failed) memcpy(get, t.p, t.len), g = t.len;
  t.len = 0;
  icxBuf_u8(&t, 0), icxBuf_u8(&t, 0x20), icxBuf_u8(&t, 0), icxBuf_u8(&t, 0x24);
  icxBuf_u32(&t, p->counter), icxBuf_u8(&t, 0x0b);
  if (!t.failed) memcpy(set, t.p, t.len), s = t.len;
  if (t.failed && !sec->failed) sec->failed = t.failed;
  icxBuf_free(&t);
  icxBuf_u32(sec, (uint32_t)g), icxBuf_bytes(sec, get, g);
  icxBuf_u32(sec, (uint32_t)s), icxBuf_bytes(sec, set, s);
}

static icx_status write_code(Pass *p, icxBuf *sec) {
  const icxModule *m = p->m;
  uint32_t ndef = m->nfuncs_total - m->nfunc_imports;
  BodyScan bs;
  icxBuf tmp;
  icx_status rc = ICX_OK;
  memset(&bs, 0, sizeof bs);
  icxBuf_init(&tmp, p->a, OUT_LIMIT);
  icxBuf_u32(sec, ndef + 1u + (p->probe ? 2u : 0u));
  for (uint32_t i = 0; i < ndef && rc == ICX_OK; i++)
    rc = write_body(p, m->nfunc_imports + i, &bs, &tmp, sec);
  if (rc == ICX_OK) {
    write_decr(p, sec);
    if (p->probe) write_probes(p, sec);
  }
  icxBuf_free(&tmp);
  if (bs.st.v) icxCore_free(p->a, bs.st.v, bs.st.cap * sizeof(Point));
  if (bs.dy.v) icxCore_free(p->a, bs.dy.v, bs.dy.cap * sizeof(Point));
  return rc;
}

/* ---- assembly -------------------------------------------------------------- */

static void write_customs(Pass *p, icxBuf *out, int slot) {
  for (uint32_t k = 0; k < p->ncustom_raw; k++) {
    if (p->cslot[k] != slot) continue;
    const uint8_t *pl = p->m->bytes + p->custom_off[k];
    icxReader rd = {pl, pl + p->custom_len[k], p->m->bytes};
    uint32_t nl = 0;
    const uint8_t *nm = NULL;
    if (!icxRd_u32(&rd, &nl) && !icxRd_bytes(&rd, nl, &nm) && nl == 4 && !memcmp(nm, "name", 4))
      continue; /* function indices moved: the name section is dropped */
    icxBuf_u8(out, 0);
    icxBuf_u32(out, p->custom_len[k]);
    icxBuf_bytes(out, pl, p->custom_len[k]);
  }
}

static icx_status write_section(Pass *p, uint8_t id, icxBuf *out, icxBuf *s) {
  const icxModule *m = p->m;
  const Sec *sc = &p->sec[id];
  icx_status rc = ICX_OK;
  s->len = 0;
  switch (id) {
  case 1: write_types(p, s); break;
  case 2: write_imports(p, s); break;
  case 3: write_funcs(p, s); break;
  case 4: if (!sc->present) return ICX_OK; icxBuf_bytes(s, m->bytes + sc->off, sc->len); break;
  case 5: if (!sc->present) return ICX_OK; write_memories(p, s); break;
  case 6: write_globals(p, s); break;
  case 7: rc = write_exports(p, s); break;
  case 8:
    if (!m->has_start || p->canister) return ICX_OK;
    icxBuf_u32(s, m->start_idx + ICX_INSTR_NIMPORTS);
    break;
  case 9: if (!sc->present) return ICX_OK; write_elems(p, s); break;
  case 12:
    if (!sc->present) return ICX_OK;
    icxBuf_u32(s, p->canister ? p->data_keep : m->data_count);
    break;
  case 10: rc = write_code(p, s); break;
  default: if (!sc->present) return ICX_OK; write_data(p, s); break;
  }
  if (rc != ICX_OK) return rc;
  icxBuf_section(out, id, s);
  return ICX_OK;
}

static icx_status assemble(Pass *p, icxBuf *out) {
  icxBuf s;
  icx_status rc = ICX_OK;
  icxBuf_init(&s, p->a, OUT_LIMIT);
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  icxBuf_bytes(out, hdr, 8);
  write_customs(p, out, -1);
  /* stop at the first failed write: a later section's rule check must not
   * turn an out-of-memory into a rejection */
  for (size_t k = 0; k < NORDER && rc == ICX_OK && !out->failed && !s.failed; k++) {
    rc = write_section(p, k_order[k], out, &s);
    write_customs(p, out, (int)k);
  }
  if (s.failed && !out->failed) out->failed = s.failed;
  icxBuf_free(&s);
  if (rc == ICX_OK && out->failed)
    rc = icxErr_set(p->err, out->failed == 1 ? ICX_ENOMEM : ICX_EREJECTED,
                    out->failed == 1 ? "out of memory (output module)"
                                     : "instrumented module too large");
  return rc;
}

static void free_pass(Pass *p) {
  if (p->cslot) icxCore_free(p->a, p->cslot, p->ncustom_raw * sizeof *p->cslot);
  if (p->custom_off) icxCore_free(p->a, p->custom_off, p->ncustom_raw * sizeof *p->custom_off);
  if (p->custom_len) icxCore_free(p->a, p->custom_len, p->ncustom_raw * sizeof *p->custom_len);
}

static icx_status run_pass(Pass *p, size_t *code_size) {
  const icxModule *m = p->m;
  icx_status rc = scan_sections(p);
  if (rc != ICX_OK) return rc;
  *code_size = p->sec[10].len;
  p->counter = m->nglobals_total;
  p->decr = ICX_INSTR_NIMPORTS + m->nfuncs_total;
  p->probe_get = p->decr + 1;
  p->probe_set = p->decr + 2;
  p->max_data_ref = -1;
  if (p->canister) {
    if ((rc = icxInstr_check_rules(m, *code_size, p->mem64, p->r, p->err)) != ICX_OK) return rc;
    if (m->has_start) {
      icxEntryPoint *ep = &p->r->entry[p->r->nentry++];
      ep->kind = ICX_EP_START;
      ep->func_idx = m->start_idx + ICX_INSTR_NIMPORTS;
    }
    if ((rc = take_data(p)) != ICX_OK) return rc;
  }
  icxBuf out;
  icxBuf_init(&out, p->a, OUT_LIMIT);
  rc = assemble(p, &out);
  if (rc == ICX_OK && p->canister && p->max_data_ref >= (int64_t)p->data_keep)
    rc = icxErr_set(p->err, ICX_EREJECTED,
                    "data section: active segment %lld is used by memory.init or data.drop; "
                    "active segments are taken out of the module",
                    (long long)p->max_data_ref);
  if (rc == ICX_OK) {
    uint8_t *w = out.len == out.cap ? out.p : icxCore_realloc(p->a, out.p, out.cap, out.len);
    if (!w) rc = icxErr_set(p->err, ICX_ENOMEM, "out of memory (output module)");
    else {
      p->r->wasm = w;
      p->r->wasm_len = out.len;
      out.p = NULL, out.cap = 0;
    }
  }
  icxBuf_free(&out);
  uint64_t nglob = (uint64_t)(m->nglobals_total - m->nglobal_imports) + (p->canister ? 3u : 1u);
  p->r->compile_cost = p->ninstr + ICX_COST_COMPILE_PER_GLOBAL_INSNS * nglob;
  return rc;
}

icx_status icxInstr_run(const icxAllocator *a, const uint8_t *bytes, size_t len,
                        const icxInstrOpts *opts, icxInstrResult *out, icxErr *err) {
  icxInstrOpts dflt = {0, ICX_FEAT_DEFAULT, 0};
  icxModule *m = NULL;
  icx_status rc;
  Pass p;
  memset(out, 0, sizeof *out);
  memset(&p, 0, sizeof p);
  if (!a || (!bytes && len)) return icxErr_set(err, ICX_EMISUSE, "icxInstr_run: NULL argument");
  if (!opts) opts = &dflt;
  out->alloc = *a;
  if (len > ICX_MAX_MODULE_BYTES)
    return icxErr_set(err, ICX_EREJECTED, "module of %zu bytes is larger than %u bytes", len,
                      ICX_MAX_MODULE_BYTES);
  crypto_hash_sha256(out->sha256, bytes, len);
  if (len >= 3 && bytes[0] == 0x1f && bytes[1] == 0x8b && bytes[2] == 0x08) {
    rc = gunzip(&out->alloc, bytes, len, &out->orig, &out->orig_len, err);
    if (rc != ICX_OK) goto fail;
    out->orig_cap = out->orig_len ? out->orig_len : 1;
  } else {
    out->orig_cap = len ? len : 1;
    out->orig = icxCore_alloc(&out->alloc, out->orig_cap);
    if (!out->orig) {
      rc = icxErr_set(err, ICX_ENOMEM, "out of memory (module copy)");
      goto fail;
    }
    if (len) memcpy(out->orig, bytes, len);
    out->orig_len = len;
  }
  ICX_TRY(icxWasm_decode(&out->alloc, out->orig, out->orig_len, opts->features, &m, err));
  ICX_TRY(icxWasm_validate(m, err));
  p.a = &out->alloc;
  p.m = m;
  p.o = opts;
  p.r = out;
  p.err = err;
  p.canister = (opts->flags & ICX_INSTR_CANISTER) != 0;
  p.probe = (opts->flags & ICX_INSTR_PROBE) != 0;
  p.mem64 = m->nmems_total && m->mems[0].lim.is64;
  size_t code_size = 0;
  rc = run_pass(&p, &code_size);
  free_pass(&p);
  if (rc != ICX_OK) goto fail;
  out->mem64 = p.mem64;
  out->has_memory = m->nmems_total != 0;
  out->counter_global = p.counter;
  out->decr_func = p.decr;
  out->ooi_func = ICX_INSTR_IMP_OOI;
  out->try_grow_func = ICX_INSTR_IMP_TRY_GROW;
  icxWasm_module_free(m);
  return ICX_OK;
fail:
  if (m) icxWasm_module_free(m);
  icxInstr_free(out);
  if (err && err->status == ICX_OK) icxErr_set(err, rc, "instrumentation failed");
  return rc;
}

void icxInstr_free(icxInstrResult *r) {
  if (!r) return;
  const icxAllocator *a = &r->alloc;
  if (a->fn) {
    if (r->wasm) icxCore_free(a, r->wasm, r->wasm_len);
    if (r->orig) icxCore_free(a, r->orig, r->orig_cap);
    for (uint32_t i = 0; i < r->nentry; i++)
      if (r->entry[i].name) icxCore_free(a, r->entry[i].name, (size_t)r->entry[i].name_len + 1u);
    if (r->entry) icxCore_free(a, r->entry, (size_t)r->entry_cap * sizeof *r->entry);
    if (r->data) icxCore_free(a, r->data, (size_t)r->data_cap * sizeof *r->data);
  }
  memset(r, 0, sizeof *r);
}
