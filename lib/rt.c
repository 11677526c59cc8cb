/* rt.c -- compiled modules, the store of runtime objects, instantiation
 * (import matching, globals, tables, memories, segments, start) and export
 * lookup. */
#define _GNU_SOURCE /* mremap */
#include <sys/mman.h>

#include "comp.h"
#include "heap.h"

/* ---- compiled modules ------------------------------------------------------- */

int icxFuncType_equal(const icxFuncType *x, const icxFuncType *y) {
  if (x == y) return 1;
  if (x->nparams != y->nparams || x->nresults != y->nresults) return 0;
  uint32_t n = x->nparams + x->nresults;
  return n == 0 || memcmp(x->types, y->types, n) == 0;
}

static uint64_t type_hash(const icxFuncType *t) {
  uint64_t h = 1469598103934665603ull ^ ((uint64_t)t->nparams << 32 | t->nresults);
  for (uint32_t i = 0; i < t->nparams + t->nresults; i++) h = (h ^ t->types[i]) * 1099511628211ull;
  return h;
}

/* type_canon[i] = least j with an equal signature (hash table, linear time). */
static int canon_types(icxCompiled *c) {
  const icxModule *m = c->m;
  size_t cap = 16;
  while (cap < (size_t)m->ntypes * 2) cap *= 2;
  uint32_t *tab = icxCore_allocn(&c->alloc, cap, sizeof(uint32_t));
  if (!tab) return -1;
  for (size_t k = 0; k < cap; k++) tab[k] = UINT32_MAX;
  for (uint32_t i = 0; i < m->ntypes; i++) {
    size_t k = (size_t)type_hash(&m->types[i]) & (cap - 1);
    while (tab[k] != UINT32_MAX && !icxFuncType_equal(&m->types[tab[k]], &m->types[i]))
      k = (k + 1) & (cap - 1);
    if (tab[k] == UINT32_MAX) tab[k] = i;
    c->type_canon[i] = tab[k];
  }
  icxCore_free(&c->alloc, tab, cap * sizeof(uint32_t));
  return 0;
}

/* Compile a decoded + validated module (takes ownership of m). */
icx_status icxRt_compile_module(icxModule *m, const icxCompileOpts *opts, icxCompiled **out,
                                icxErr *err) {
  *out = NULL;
  icxCompiled *c = icxCore_alloc(&m->alloc, sizeof *c);
  if (!c) {
    icxWasm_module_free(m);
    return icxErr_set(err, ICX_ENOMEM, "out of memory");
  }
  c->alloc = m->alloc;
  c->m = m;
  c->flags = opts ? opts->flags : 0;
  c->type_canon = icxCore_allocn(&c->alloc, m->ntypes ? m->ntypes : 1, sizeof(uint32_t));
  if (!c->type_canon) {
    icxRt_compiled_free(c);
    return icxErr_set(err, ICX_ENOMEM, "out of memory");
  }
  if (canon_types(c) != 0) {
    icxRt_compiled_free(c);
    return icxErr_set(err, ICX_ENOMEM, "out of memory");
  }
  icx_status rc = icxComp_module(c, opts, err);
  if (rc != ICX_OK) {
    icxRt_compiled_free(c);
    return rc;
  }
  *out = c;
  return ICX_OK;
}

/* Decode, validate and compile bytes. */
icx_status icxRt_compile(const icxAllocator *a, const uint8_t *bytes, size_t len,
                         uint32_t features, const icxCompileOpts *opts, icxCompiled **out,
                         icxErr *err) {
  icxModule *m = NULL;
  *out = NULL;
  icx_status rc = icxWasm_decode(a, bytes, len, features, &m, err);
  if (rc != ICX_OK) return rc;
  rc = icxWasm_validate(m, err);
  if (rc != ICX_OK) {
    icxWasm_module_free(m);
    return rc;
  }
  return icxRt_compile_module(m, opts, out, err);
}

void icxRt_compiled_free(icxCompiled *c) {
  if (!c) return;
  icxAllocator A = c->alloc;
  icxModule *m = c->m;
  uint32_t ndef = m ? m->nfuncs_total - m->nfunc_imports : 0;
  if (c->funcs) {
    for (uint32_t i = 0; i < ndef; i++) {
      icxCore_free(&A, c->funcs[i].code, (size_t)c->funcs[i].ncode * 4);
      icxCore_free(&A, c->funcs[i].pool, (size_t)c->funcs[i].npool * 8);
    }
    icxCore_free(&A, c->funcs, sizeof(icxFuncCode) * (ndef ? ndef : 1));
  }
  if (m) icxCore_free(&A, c->type_canon, sizeof(uint32_t) * (m->ntypes ? m->ntypes : 1));
  icxWasm_module_free(m);
  icxCore_free(&A, c, sizeof *c);
}

const icxModule *icxRt_compiled_module(const icxCompiled *c) { return c->m; }

/* ---- store -------------------------------------------------------------------- */

enum { OBJ_FUNC, OBJ_MEM, OBJ_TABLE, OBJ_GLOBAL, OBJ_INST, OBJ_TYPE };

typedef struct Obj {
  uint8_t kind;
  void *p;
} Obj;

struct icxStore {
  icxAllocator alloc;
  uint64_t table_elems; /* elements of all tables: at most ICX_MAX_TABLE_ELEMS */
  Obj *objs;
  uint32_t nobjs, capobjs;
};

icxStore *icxStore_new(const icxAllocator *a) {
  icxStore *s = icxCore_alloc(a, sizeof *s);
  if (s) s->alloc = *a;
  return s;
}
const icxAllocator *icxStore_allocator(const icxStore *s) { return &s->alloc; }

static int track(icxStore *s, uint8_t kind, void *p) {
  if (s->nobjs == s->capobjs) {
    uint32_t ncap = s->capobjs ? s->capobjs * 2 : 32;
    Obj *q = icxCore_realloc(&s->alloc, s->objs, sizeof(Obj) * s->capobjs, sizeof(Obj) * ncap);
    if (!q) return -1;
    s->objs = q;
    s->capobjs = ncap;
  }
  s->objs[s->nobjs].kind = kind;
  s->objs[s->nobjs].p = p;
  s->nobjs++;
  return 0;
}

static void mem_release(icxMemInst *m) { icxHeap_release(m); }

static void inst_release(const icxAllocator *A, icxInstance *in) {
  const icxModule *m = in->c->m;
  icxCore_free(A, in->funcs, sizeof(void *) * (m->nfuncs_total + 1));
  icxCore_free(A, in->tables, sizeof(void *) * (m->ntables_total + 1));
  icxCore_free(A, in->globals, sizeof(void *) * (m->nglobals_total + 1));
  icxCore_free(A, in->data_dropped, m->ndatas + 1);
  if (in->elem_vals) {
    for (uint32_t i = 0; i < m->nelems; i++)
      icxCore_free(A, in->elem_vals[i], sizeof(uint64_t) * (m->elems[i].count + 1));
  }
  icxCore_free(A, in->elem_vals, sizeof(void *) * (m->nelems + 1));
  icxCore_free(A, in->elem_len, sizeof(uint32_t) * (m->nelems + 1));
  icxCore_free(A, in, sizeof *in);
}

void icxStore_free(icxStore *s) {
  if (!s) return;
  icxAllocator A = s->alloc;
  for (uint32_t i = s->nobjs; i-- > 0;) {
    Obj *o = &s->objs[i];
    switch (o->kind) {
    case OBJ_FUNC: icxCore_free(&A, o->p, sizeof(icxFuncInst)); break;
    case OBJ_MEM:
      mem_release(o->p);
      icxCore_free(&A, o->p, sizeof(icxMemInst));
      break;
    case OBJ_TABLE: {
      icxTableInst *t = o->p;
      icxCore_free(&A, t->elems, (size_t)t->size * 8);
      icxCore_free(&A, t, sizeof *t);
      break;
    }
    case OBJ_GLOBAL: icxCore_free(&A, o->p, sizeof(icxGlobalInst)); break;
    case OBJ_INST: inst_release(&A, o->p); break;
    case OBJ_TYPE: {
      icxFuncType *t = o->p;
      icxCore_free(&A, t->types, t->nparams + t->nresults + 1);
      icxCore_free(&A, t, sizeof *t);
      break;
    }
    }
  }
  icxCore_free(&A, s->objs, sizeof(Obj) * s->capobjs);
  icxCore_free(&A, s, sizeof *s);
}

/* ---- objects ----------------------------------------------------------------- */

icxFuncInst *icxStore_host_func(icxStore *s, const icxFuncType *type, icxHostFn fn, void *ud) {
  if (!fn || type->nparams > ICX_MAX_PARAMS || type->nresults > ICX_MAX_RESULTS) return NULL;
  icxFuncType *t = icxCore_alloc(&s->alloc, sizeof *t);
  if (!t) return NULL;
  t->types = icxCore_alloc(&s->alloc, type->nparams + type->nresults + 1);
  if (!t->types || track(s, OBJ_TYPE, t)) {
    icxCore_free(&s->alloc, t->types, type->nparams + type->nresults + 1);
    icxCore_free(&s->alloc, t, sizeof *t);
    return NULL;
  }
  t->nparams = type->nparams;
  t->nresults = type->nresults;
  if (t->nparams + t->nresults) memcpy(t->types, type->types, t->nparams + t->nresults);
  icxFuncInst *f = icxCore_alloc(&s->alloc, sizeof *f);
  if (!f || track(s, OBJ_FUNC, f)) {
    icxCore_free(&s->alloc, f, sizeof *f);
    return NULL;
  }
  f->type = t;
  f->host = fn;
  f->host_ud = ud;
  return f;
}

static uint64_t mem_limit_pages(const icxLimits *l) {
  uint64_t hard = l->is64 ? ICX_MAX_MEM64_PAGES : 65536;
  return l->has_max && l->max < hard ? l->max : hard;
}

icxMemInst *icxStore_memory(icxStore *s, const icxMemType *type) {
  uint64_t maxp = mem_limit_pages(&type->lim);
  if (type->lim.min > maxp) return NULL;
  icxMemInst *m = icxCore_alloc(&s->alloc, sizeof *m);
  if (!m) return NULL;
  m->is64 = type->lim.is64;
  m->max_pages = maxp;
  if (icxHeap_init(m, type->lim.min)) { /* lib/heap.c: bytes + dirty tracking */
    mem_release(m);
    icxCore_free(&s->alloc, m, sizeof *m);
    return NULL;
  }
  if (track(s, OBJ_MEM, m)) {
    mem_release(m);
    icxCore_free(&s->alloc, m, sizeof *m);
    return NULL;
  }
  return m;
}

/* icxMem_grow is in lib/heap.c. */

icxTableInst *icxStore_table(icxStore *s, const icxTableType *type, uint64_t init) {
  uint64_t hard = ICX_MAX_TABLE_ELEMS;
  uint64_t maxe = type->lim.has_max && type->lim.max < hard ? type->lim.max : hard;
  if (type->lim.min > maxe || type->lim.min > ICX_MAX_TABLE_ELEMS - s->table_elems) return NULL;
  icxTableInst *t = icxCore_alloc(&s->alloc, sizeof *t);
  if (!t) return NULL;
  t->store = s;
  t->elem_type = type->elem_type;
  t->is64 = type->lim.is64;
  t->max = maxe;
  if (type->lim.min) {
    t->elems = icxCore_allocn(&s->alloc, (size_t)type->lim.min, 8);
    if (!t->elems) {
      icxCore_free(&s->alloc, t, sizeof *t);
      return NULL;
    }
    for (uint64_t i = 0; i < type->lim.min; i++) t->elems[i] = init;
  }
  t->size = type->lim.min;
  s->table_elems += t->size;
  if (track(s, OBJ_TABLE, t)) {
    s->table_elems -= t->size;
    icxCore_free(&s->alloc, t->elems, (size_t)t->size * 8);
    icxCore_free(&s->alloc, t, sizeof *t);
    return NULL;
  }
  return t;
}

/* Grow a table by delta elements set to init: old size or UINT64_MAX. */
uint64_t icxTable_grow(icxTableInst *t, uint64_t delta, uint64_t init) {
  icxStore *s = t->store;
  uint64_t old = t->size;
  if (delta == 0) return old;
  if (delta > t->max || old + delta > t->max) return ICX_GROW_LIMIT;
  if (delta > ICX_MAX_TABLE_ELEMS - s->table_elems) return ICX_GROW_LIMIT;
  uint64_t *p = icxCore_realloc(&s->alloc, t->elems, (size_t)old * 8, (size_t)(old + delta) * 8);
  if (!p) return ICX_GROW_OOM;
  s->table_elems += delta;
  for (uint64_t i = old; i < old + delta; i++) p[i] = init;
  t->elems = p;
  t->size = old + delta;
  return old;
}

icxGlobalInst *icxStore_global(icxStore *s, const icxGlobalType *type, uint64_t v) {
  icxGlobalInst *g = icxCore_alloc(&s->alloc, sizeof *g);
  if (!g) return NULL;
  if (track(s, OBJ_GLOBAL, g)) {
    icxCore_free(&s->alloc, g, sizeof *g);
    return NULL;
  }
  g->type = *type;
  g->val = v;
  return g;
}

const icxFuncType *icxFuncInst_type(const icxFuncInst *f) { return f->type; }
uint64_t icxGlobalInst_get(const icxGlobalInst *g) { return g->val; }
const icxGlobalType *icxGlobalInst_type(const icxGlobalInst *g) { return &g->type; }
void icxGlobalInst_set(icxGlobalInst *g, uint64_t v) { g->val = v; }
uint8_t *icxMemInst_data(const icxMemInst *m) { return m->data; }
uint64_t icxMemInst_size(const icxMemInst *m) { return m->size; }
uint64_t icxTableInst_size(const icxTableInst *t) { return t->size; }
icxMemInst *icxInstance_memory(const icxInstance *inst) { return inst->mem0; }

/* ---- instantiation -------------------------------------------------------------- */

static const char *kind_name(uint8_t k) {
  switch (k) {
  case ICX_EXT_FUNC: return "function";
  case ICX_EXT_TABLE: return "table";
  case ICX_EXT_MEM: return "memory";
  default: return "global";
  }
}

/* Limits subtyping: actual (size, max) must fit the declared limits. */
static int limits_match(uint64_t cur, int has_max, uint64_t max, const icxLimits *want) {
  if (cur < want->min) return 0;
  if (want->has_max) {
    if (!has_max || max > want->max) return 0;
  }
  return 1;
}

static icx_status check_import(const icxModule *m, const icxImport *im, const icxExtern *ex,
                               icxErr *err) {
  if (!ex || !ex->u.ptr || ex->kind != im->kind)
    return icxErr_set(err, ICX_EUNLINKABLE, "import %s.%s: incompatible import type (expected %s)",
                      im->module, im->name, kind_name(im->kind));
  switch (im->kind) {
  case ICX_EXT_FUNC:
    if (!icxFuncType_equal(ex->u.func->type, &m->types[im->d.type_idx]))
      return icxErr_set(err, ICX_EUNLINKABLE, "import %s.%s: incompatible import type (function signature)",
                        im->module, im->name);
    break;
  case ICX_EXT_TABLE: {
    const icxTableInst *t = ex->u.table;
    uint64_t hard = ICX_MAX_TABLE_ELEMS;
    if (t->elem_type != im->d.table.elem_type || t->is64 != im->d.table.lim.is64 ||
        !limits_match(t->size, t->max < hard, t->max, &im->d.table.lim))
      return icxErr_set(err, ICX_EUNLINKABLE, "import %s.%s: incompatible import type (table)",
                        im->module, im->name);
    break;
  }
  case ICX_EXT_MEM: {
    const icxMemInst *mm = ex->u.mem;
    uint64_t hard = mm->is64 ? ICX_MAX_MEM64_PAGES : 65536;
    if (mm->is64 != im->d.mem.lim.is64 ||
        !limits_match(mm->pages, mm->max_pages < hard, mm->max_pages, &im->d.mem.lim))
      return icxErr_set(err, ICX_EUNLINKABLE, "import %s.%s: incompatible import type (memory)",
                        im->module, im->name);
    break;
  }
  default: {
    const icxGlobalInst *g = ex->u.global;
    if (g->type.type != im->d.global.type || g->type.mut != im->d.global.mut)
      return icxErr_set(err, ICX_EUNLINKABLE, "import %s.%s: incompatible import type (global)",
                        im->module, im->name);
    break;
  }
  }
  return ICX_OK;
}

static uint64_t eval_const(const icxInstance *in, const icxConstExpr *e) {
  switch (e->kind) {
  case ICX_CONST_VALUE: return e->value;
  case ICX_CONST_GLOBAL: return in->globals[e->value]->val;
  case ICX_CONST_REF_FUNC: return (uint64_t)(uintptr_t)in->funcs[e->value];
  default: return 0;
  }
}

#define ALLOC_ARR(p, n, sz)                                                                        \
  do {                                                                                             \
    (p) = icxCore_allocn(A, (size_t)(n) + 1, (sz));                                                \
    if (!(p)) goto oom;                                                                            \
  } while (0)

icx_status icxRt_instantiate(icxStore *s, const icxCompiled *c, icxExec *x,
                             const icxExtern *imports, uint32_t nimports, icxInstance **out,
                             icxTrap *out_trap, icxErr *err) {
  const icxModule *m = c->m;
  const icxAllocator *A = &s->alloc;
  *out = NULL;
  *out_trap = ICX_TRAP_NONE;
  if (nimports != m->nimports)
    return icxErr_set(err, ICX_EUNLINKABLE, "module needs %u imports, %u given", m->nimports,
                      nimports);
  for (uint32_t i = 0; i < m->nimports; i++) {
    icx_status rc = check_import(m, &m->imports[i], &imports[i], err);
    if (rc != ICX_OK) return rc;
  }
  icxInstance *in = icxCore_alloc(A, sizeof *in);
  if (!in) return icxErr_set(err, ICX_ENOMEM, "out of memory");
  in->store = s;
  in->c = c;
  if (track(s, OBJ_INST, in)) {
    icxCore_free(A, in, sizeof *in);
    return icxErr_set(err, ICX_ENOMEM, "out of memory");
  }
  ALLOC_ARR(in->funcs, m->nfuncs_total, sizeof(void *));
  ALLOC_ARR(in->tables, m->ntables_total, sizeof(void *));
  ALLOC_ARR(in->globals, m->nglobals_total, sizeof(void *));
  ALLOC_ARR(in->data_dropped, m->ndatas, 1);
  ALLOC_ARR(in->elem_vals, m->nelems, sizeof(void *));
  ALLOC_ARR(in->elem_len, m->nelems, sizeof(uint32_t));

  /* imports */
  uint32_t nf = 0, nt = 0, ng = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    const icxExtern *ex = &imports[i];
    switch (ex->kind) {
    case ICX_EXT_FUNC: in->funcs[nf++] = ex->u.func; break;
    case ICX_EXT_TABLE: in->tables[nt++] = ex->u.table; break;
    case ICX_EXT_MEM: in->mem0 = ex->u.mem; break;
    default: in->globals[ng++] = ex->u.global; break;
    }
  }
  /* defined functions */
  for (uint32_t i = m->nfunc_imports; i < m->nfuncs_total; i++) {
    icxFuncInst *f = icxCore_alloc(A, sizeof *f);
    if (!f || track(s, OBJ_FUNC, f)) {
      icxCore_free(A, f, sizeof *f);
      goto oom;
    }
    uint32_t ti = m->func_type_idx[i];
    f->type = &m->types[ti];
    f->inst = in;
    f->mod = c;
    f->code = &c->funcs[i - m->nfunc_imports];
    f->canon_type = c->type_canon[ti];
    in->funcs[i] = f;
  }
  /* globals, in order (initialisers may read earlier globals) */
  for (uint32_t i = m->nglobal_imports; i < m->nglobals_total; i++) {
    icxGlobalInst *g = icxStore_global(s, &m->globals[i].type, 0);
    if (!g) goto oom;
    in->globals[i] = g;
    g->val = eval_const(in, &m->globals[i].init);
  }
  /* tables and memory: sizes over the engine's limits are refused, the
   * same way on every host */
  uint64_t elems = s->table_elems;
  for (uint32_t i = m->ntable_imports; i < m->ntables_total; i++) {
    elems += m->tables[i].lim.min;
    if (m->tables[i].lim.min > ICX_MAX_TABLE_ELEMS || elems > ICX_MAX_TABLE_ELEMS)
      return icxErr_set(err, ICX_ELIMIT, "table %u: more than %u table elements in the store", i,
                        (unsigned)ICX_MAX_TABLE_ELEMS);
  }
  if (m->nmems_total > m->nmem_imports) {
    const icxLimits *l = &m->mems[m->nmem_imports].lim;
    if (l->min > mem_limit_pages(l))
      return icxErr_set(err, ICX_ELIMIT, "memory: %llu pages exceed the limit of %llu",
                        (unsigned long long)l->min, (unsigned long long)mem_limit_pages(l));
  }
  for (uint32_t i = m->ntable_imports; i < m->ntables_total; i++) {
    in->tables[i] = icxStore_table(s, &m->tables[i], 0);
    if (!in->tables[i]) goto oom;
  }
  if (m->nmems_total > m->nmem_imports) {
    in->mem0 = icxStore_memory(s, &m->mems[m->nmem_imports]);
    if (!in->mem0) goto oom;
  }
  /* element segments: resolve the references now */
  for (uint32_t i = 0; i < m->nelems; i++) {
    const icxElem *e = &m->elems[i];
    ALLOC_ARR(in->elem_vals[i], e->count, sizeof(uint64_t));
    for (uint32_t k = 0; k < e->count; k++) in->elem_vals[i][k] = eval_const(in, &e->items[k]);
    in->elem_len[i] = e->mode == ICX_SEG_PASSIVE ? e->count : 0;
  }
  /* active element segments, then data segments, in order */
  for (uint32_t i = 0; i < m->nelems; i++) {
    const icxElem *e = &m->elems[i];
    if (e->mode != ICX_SEG_ACTIVE) continue;
    icxTableInst *t = in->tables[e->table_idx];
    uint64_t off = eval_const(in, &e->offset);
    if (!t->is64) off = (uint32_t)off;
    if (off > t->size || e->count > t->size - off) {
      *out_trap = ICX_TRAP_TABLE_OOB;
      return ICX_OK;
    }
    if (e->count) memcpy(t->elems + off, in->elem_vals[i], (size_t)e->count * 8);
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const icxData *d = &m->datas[i];
    if (d->mode != ICX_SEG_ACTIVE) continue;
    icxMemInst *mem = in->mem0;
    uint64_t off = eval_const(in, &d->offset);
    if (mem && !mem->is64) off = (uint32_t)off;
    uint64_t size = mem ? mem->size : 0;
    if (off > size || d->len > size - off) {
      *out_trap = ICX_TRAP_MEM_OOB;
      return ICX_OK;
    }
    if (d->len) {
      icxMemInst_touch(mem, off, d->len);
      memcpy(mem->data + off, m->bytes + d->off, d->len);
    }
    in->data_dropped[i] = 1;
  }
  if (m->has_start) {
    icxRun r = icxExec_call(x, in->funcs[m->start_idx], NULL, 0);
    if (r == ICX_RUN_SUSPENDED) {
      icxExec_reset(x);
      *out_trap = ICX_TRAP_OUT_OF_FUEL;
      return ICX_OK;
    }
    if (r == ICX_RUN_ERROR) {
      icx_status e = icxExec_error(x);
      return icxErr_set(err, e == ICX_OK ? ICX_EINTERNAL : e, "start function: %s",
                        e == ICX_ENOMEM ? "out of memory" : "cannot run");
    }
    if (r != ICX_RUN_DONE) {
      *out_trap = icxExec_trap(x);
      return ICX_OK;
    }
  }
  *out = in;
  return ICX_OK;
oom:
  return icxErr_set(err, ICX_ENOMEM, "out of memory");
}

icx_status icxRt_export(const icxInstance *inst, const char *name, size_t len, icxExtern *out) {
  const icxModule *m = inst->c->m;
  for (uint32_t i = 0; i < m->nexports; i++) {
    const icxExport *e = &m->exports[i];
    if (e->name_len != len || (len && memcmp(e->name, name, len) != 0)) continue;
    out->kind = e->kind;
    switch (e->kind) {
    case ICX_EXT_FUNC: out->u.func = inst->funcs[e->index]; break;
    case ICX_EXT_TABLE: out->u.table = inst->tables[e->index]; break;
    case ICX_EXT_MEM: out->u.mem = inst->mem0; break;
    default: out->u.global = inst->globals[e->index]; break;
    }
    return ICX_OK;
  }
  return ICX_ENOTFOUND;
}
