/* instr_rules.c -- the IC's module rules (reference section 3.1, 3.2;
 * dfinity/ic rs/embedders/src/wasm_utils/validation.rs) applied to a
 * decoded and validated module, and the canister entry points.
 *
 * Order of the checks follows the replica's validate_wasm_binary: code
 * section size, imports, exports, data offsets, globals, function count,
 * custom sections; then the memory limits.  The per-function limits
 * (instructions, complexity) are checked during the metering scan. */
#include <stdlib.h>

#include "cost.h"
#include "instr_int.h"

static int name_is(const char *s, uint32_t n, const char *lit) {
  size_t l = strlen(lit);
  return n == l && memcmp(s, lit, l) == 0;
}

static int has_prefix(const char *s, uint32_t n, const char *lit) {
  size_t l = strlen(lit);
  return n >= l && memcmp(s, lit, l) == 0;
}

/* Names may hold any UTF-8 (also NUL): print at most 64 bytes, escaped. */
static const char *shown(const char *s, uint32_t n, char *buf, size_t cap) {
  size_t k = 0;
  for (uint32_t i = 0; i < n && k + 5 < cap && i < 64; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      buf[k++] = (char)c;
    } else {
      static const char hx[] = "0123456789abcdef";
      buf[k++] = '\\', buf[k++] = 'x', buf[k++] = hx[c >> 4], buf[k++] = hx[c & 15];
    }
  }
  if (n > 64 && k + 4 < cap) buf[k++] = '.', buf[k++] = '.', buf[k++] = '.';
  buf[k] = 0;
  return buf;
}

static icx_status check_imports(const icxModule *m, uint8_t mem64, icxErr *err) {
  char b1[300], b2[300];
  for (uint32_t i = 0; i < m->nimports; i++) {
    const icxImport *im = &m->imports[i];
    switch (im->kind) {
    case ICX_EXT_FUNC: {
      int id = -1;
      if (name_is(im->module, im->module_len, "ic0")) id = icxCost_ic0_find(im->name, im->name_len);
      if (id < 0)
        return icxErr_set(err, ICX_EREJECTED,
                          "import section: module imports function '%s' from '%s' that is not "
                          "exported by the runtime",
                          shown(im->name, im->name_len, b1, sizeof b1),
                          shown(im->module, im->module_len, b2, sizeof b2));
      const icxFuncType *ft = &m->types[im->d.type_idx];
      if (!icxCost_ic0_sig_ok(icxCost_ic0((uint32_t)id), mem64, icxFuncType_params(ft),
                              ft->nparams, icxFuncType_results(ft), ft->nresults))
        return icxErr_set(err, ICX_EREJECTED,
                          "import section: function 'ic0.%s' imported with the wrong signature "
                          "(expected %s for a %s module)",
                          shown(im->name, im->name_len, b1, sizeof b1),
                          icxCost_ic0((uint32_t)id)->sig, mem64 ? "wasm64" : "wasm32");
      break;
    }
    case ICX_EXT_TABLE:
      if (!name_is(im->module, im->module_len, "env") || !name_is(im->name, im->name_len, "table"))
        return icxErr_set(err, ICX_EREJECTED,
                          "import section: only tables imported from env.table are allowed");
      break;
    case ICX_EXT_MEM:
      if (!name_is(im->module, im->module_len, "env") ||
          !name_is(im->name, im->name_len, "memory"))
        return icxErr_set(err, ICX_EREJECTED,
                          "import section: only memory imported from env.memory is allowed");
      break;
    default:
      return icxErr_set(err, ICX_EREJECTED, "import section: importing globals is not allowed");
    }
  }
  return ICX_OK;
}

static const char *const k_reserved[] = {"canister counter_instructions", "canister_start",
                                         "canister counter_dirty_pages",
                                         "canister counter_accessed_pages", "stable_memory",
                                         "stable_memory_bytemap"};

static const struct {
  char name[32];
  uint8_t kind;
} k_system_eps[] = {{"canister_init", ICX_EP_INIT},
                    {"canister_pre_upgrade", ICX_EP_PRE_UPGRADE},
                    {"canister_post_upgrade", ICX_EP_POST_UPGRADE},
                    {"canister_inspect_message", ICX_EP_INSPECT_MESSAGE},
                    {"canister_heartbeat", ICX_EP_HEARTBEAT},
                    {"canister_global_timer", ICX_EP_GLOBAL_TIMER},
                    {"canister_on_low_wasm_memory", ICX_EP_ON_LOW_WASM_MEMORY}};

static const struct {
  char prefix[32];
  uint8_t kind;
} k_method_prefixes[] = {{"canister_update ", ICX_EP_UPDATE},
                         {"canister_query ", ICX_EP_QUERY},
                         {"canister_composite_query ", ICX_EP_COMPOSITE_QUERY}};

static int cmp_bytes(const char *a, uint32_t an, const char *b, uint32_t bn) {
  int c = memcmp(a, b, an < bn ? an : bn);
  return c ? c : (an < bn ? -1 : an > bn);
}

static int ep_by_name(const void *pa, const void *pb) {
  const icxEntryPoint *a = pa, *b = pb;
  int c = cmp_bytes(a->name ? a->name : "", a->name_len, b->name ? b->name : "", b->name_len);
  return c ? c : (a->kind > b->kind) - (a->kind < b->kind);
}

static int ep_by_kind(const void *pa, const void *pb) {
  const icxEntryPoint *a = pa, *b = pb;
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  return cmp_bytes(a->name ? a->name : "", a->name_len, b->name ? b->name : "", b->name_len);
}

/* Classify one function export; *kind = 0xff when it is no entry point. */
static icx_status classify_export(const icxModule *m, const icxExport *ex, uint8_t *kind,
                                  uint32_t *name_off, icxErr *err) {
  char b1[300];
  *kind = 0xff;
  *name_off = 0;
  for (size_t k = 0; k < sizeof k_method_prefixes / sizeof k_method_prefixes[0]; k++) {
    if (has_prefix(ex->name, ex->name_len, k_method_prefixes[k].prefix)) {
      *kind = k_method_prefixes[k].kind;
      *name_off = (uint32_t)strlen(k_method_prefixes[k].prefix);
    }
  }
  /* Exactly one space before <n> (reference 3.1, checklist item 3):
   * "canister_update  x" is not method " x". */
  if (*kind != 0xff && *name_off < ex->name_len && ex->name[*name_off] == ' ')
    return icxErr_set(err, ICX_EREJECTED,
                      "export section: exported function '%s' has more than one space before "
                      "the method name",
                      shown(ex->name, ex->name_len, b1, sizeof b1));
  if (*kind == 0xff) {
    if (!has_prefix(ex->name, ex->name_len, "canister_")) return ICX_OK;
    for (size_t k = 0; k < sizeof k_system_eps / sizeof k_system_eps[0]; k++)
      if (name_is(ex->name, ex->name_len, k_system_eps[k].name)) *kind = k_system_eps[k].kind;
    if (*kind == 0xff)
      return icxErr_set(err, ICX_EREJECTED,
                        "export section: exporting reserved function '%s' with \"canister_\" "
                        "prefix",
                        shown(ex->name, ex->name_len, b1, sizeof b1));
  }
  const icxFuncType *ft = icxWasm_func_type(m, ex->index);
  if (ft->nparams || ft->nresults)
    return icxErr_set(err, ICX_EREJECTED,
                      "export section: function '%s' must have type () -> ()",
                      shown(ex->name, ex->name_len, b1, sizeof b1));
  return ICX_OK;
}

static icx_status check_exports(const icxModule *m, icxInstrResult *out, icxErr *err) {
  char b1[300];
  uint64_t nmethods = 0, name_bytes = 0;
  uint32_t n = 0;
  icx_status rc = ICX_OK;
  out->entry = icxCore_allocn(&out->alloc, (size_t)m->nexports + 1u, sizeof(icxEntryPoint));
  if (!out->entry) return icxErr_set(err, ICX_ENOMEM, "out of memory (entry points)");
  out->entry_cap = m->nexports + 1u;
  for (uint32_t i = 0; i < m->nexports; i++) {
    const icxExport *ex = &m->exports[i];
    for (size_t k = 0; k < sizeof k_reserved / sizeof k_reserved[0]; k++)
      if (name_is(ex->name, ex->name_len, k_reserved[k]))
        return icxErr_set(err, ICX_EREJECTED,
                          "export section: exporting reserved symbol '%s' is not allowed",
                          k_reserved[k]);
    if (ex->kind != ICX_EXT_FUNC) continue;
    uint8_t kind;
    uint32_t off;
    if ((rc = classify_export(m, ex, &kind, &off, err)) != ICX_OK) return rc;
    if (kind == 0xff) continue;
    icxEntryPoint *ep = &out->entry[n++];
    out->nentry = n;
    ep->kind = kind;
    ep->func_idx = ex->index + ICX_INSTR_NIMPORTS;
    if (kind >= ICX_EP_UPDATE) {
      uint32_t len = ex->name_len - off;
      ep->name = icxCore_alloc(&out->alloc, (size_t)len + 1u);
      if (!ep->name) return icxErr_set(err, ICX_ENOMEM, "out of memory (entry points)");
      memcpy(ep->name, ex->name + off, len);
      ep->name_len = len;
      nmethods++;
      name_bytes += len;
    }
  }
  /* duplicate method names across update / query / composite query */
  qsort(out->entry, n, sizeof *out->entry, ep_by_name);
  for (uint32_t i = 1; i < n; i++) {
    const icxEntryPoint *a = &out->entry[i - 1], *b = &out->entry[i];
    if (a->name && b->name && a->name_len == b->name_len &&
        memcmp(a->name, b->name, a->name_len) == 0)
      return icxErr_set(err, ICX_EREJECTED,
                        "export section: duplicate function '%s' exported multiple times with "
                        "different call types: update, query, or composite_query",
                        shown(a->name, a->name_len, b1, sizeof b1));
  }
  qsort(out->entry, n, sizeof *out->entry, ep_by_kind);
  if (nmethods > ICX_IC_MAX_EXPORTED_METHODS)
    return icxErr_set(err, ICX_EREJECTED,
                      "export section: the number of exported functions called `canister_update "
                      "<name>`, `canister_query <name>`, or `canister_composite_query <name>` "
                      "exceeds %u",
                      ICX_IC_MAX_EXPORTED_METHODS);
  if (name_bytes > ICX_IC_MAX_METHOD_NAME_BYTES)
    return icxErr_set(err, ICX_EREJECTED,
                      "export section: the sum of <name> lengths in exported methods exceeds %u",
                      ICX_IC_MAX_METHOD_NAME_BYTES);
  return ICX_OK;
}

static icx_status check_data(const icxModule *m, uint8_t mem64, icxErr *err) {
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const icxData *d = &m->datas[i];
    if (d->mode != ICX_SEG_ACTIVE) continue;
    if (d->offset.kind != ICX_CONST_VALUE || d->offset.type != (mem64 ? ICX_I64 : ICX_I32))
      return icxErr_set(err, ICX_EREJECTED,
                        "data section: segment %u: invalid offset expression (only %s.const is "
                        "allowed)",
                        i, mem64 ? "i64" : "i32");
  }
  return ICX_OK;
}

static icx_status check_globals_funcs(const icxModule *m, icxErr *err) {
  uint32_t ndef = m->nglobals_total - m->nglobal_imports;
  if (ndef > ICX_IC_MAX_GLOBALS)
    return icxErr_set(err, ICX_EREJECTED, "global section: too many globals: %u defined, %u allowed",
                      ndef, ICX_IC_MAX_GLOBALS);
  for (uint32_t i = m->nglobal_imports; i < m->nglobals_total; i++) {
    uint8_t t = m->globals[i].type.type;
    if (t != ICX_I32 && t != ICX_I64 && t != ICX_F32 && t != ICX_F64)
      return icxErr_set(err, ICX_EREJECTED, "global section: global %u: unsupported type %s", i,
                        icxWasm_type_name(t));
  }
  uint32_t nfun = m->nfuncs_total - m->nfunc_imports;
  if (nfun > ICX_IC_MAX_FUNCTIONS)
    return icxErr_set(err, ICX_EREJECTED,
                      "function section: too many functions: %u defined, %u allowed", nfun,
                      ICX_IC_MAX_FUNCTIONS);
  return ICX_OK;
}

/* icp:public <n> / icp:private <n>: unique <n>, at most 16, 1 MiB in all. */
static icx_status check_customs(const icxModule *m, icxErr *err) {
  char b1[300];
  uint32_t n = 0;
  uint64_t total = 0;
  /* names seen so far: the sections are few (checked count <= 16 before
   * each insertion), so a quadratic scan over at most 17 is fine */
  const icxCustom *seen[ICX_IC_MAX_CUSTOM_SECTIONS + 1];
  uint32_t seen_off[ICX_IC_MAX_CUSTOM_SECTIONS + 1];
  for (uint32_t i = 0; i < m->ncustoms; i++) {
    const icxCustom *c = &m->customs[i];
    if (!has_prefix(c->name, c->name_len, "icp:")) continue;
    uint32_t off;
    if (has_prefix(c->name, c->name_len, "icp:public "))
      off = 11;
    else if (has_prefix(c->name, c->name_len, "icp:private "))
      off = 12;
    else if (name_is(c->name, c->name_len, "icp:public") ||
             name_is(c->name, c->name_len, "icp:private"))
      return icxErr_set(err, ICX_EREJECTED,
                        "custom section: 'icp:' section names must have a space after the "
                        "public/private scope");
    else
      return icxErr_set(err, ICX_EREJECTED,
                        "custom section: '%s' has no public/private scope defined",
                        shown(c->name, c->name_len, b1, sizeof b1));
    for (uint32_t k = 0; k < n; k++)
      if (cmp_bytes(seen[k]->name + seen_off[k], seen[k]->name_len - seen_off[k], c->name + off,
                    c->name_len - off) == 0)
        return icxErr_set(err, ICX_EREJECTED, "custom section: name '%s' already exists",
                          shown(c->name + off, c->name_len - off, b1, sizeof b1));
    total += (uint64_t)c->len + (c->name_len - off);
    if (total > ICX_IC_MAX_CUSTOM_SECTIONS_BYTES)
      return icxErr_set(err, ICX_EREJECTED,
                        "custom section: total size of the icp: sections exceeds %u bytes",
                        ICX_IC_MAX_CUSTOM_SECTIONS_BYTES);
    seen[n] = c, seen_off[n] = off, n++;
    if (n > ICX_IC_MAX_CUSTOM_SECTIONS)
      return icxErr_set(err, ICX_EREJECTED, "custom section: too many icp: sections (%u allowed)",
                        ICX_IC_MAX_CUSTOM_SECTIONS);
  }
  return ICX_OK;
}

static icx_status check_memory(const icxModule *m, icxErr *err) {
  if (m->nmems_total == 0) return ICX_OK;
  const icxLimits *l = &m->mems[0].lim;
  uint64_t cap = l->is64 ? ICX_MAX_MEM64_PAGES : ICX_IC_MAX_WASM32_PAGES;
  if (l->min > cap || (l->has_max && l->max > cap))
    return icxErr_set(err, ICX_EREJECTED,
                      "memory section: %s memory of %llu pages is larger than the %llu pages "
                      "allowed",
                      l->is64 ? "wasm64" : "wasm32",
                      (unsigned long long)(l->has_max && l->max > cap ? l->max : l->min),
                      (unsigned long long)cap);
  return ICX_OK;
}

icx_status icxInstr_check_rules(const icxModule *m, size_t code_section_size, uint8_t mem64,
                                icxInstrResult *out, icxErr *err) {
  icx_status rc;
  if (code_section_size > ICX_IC_MAX_CODE_SECTION_BYTES)
    return icxErr_set(err, ICX_EREJECTED,
                      "code section: %zu bytes, larger than the %u bytes allowed",
                      code_section_size, ICX_IC_MAX_CODE_SECTION_BYTES);
  if ((rc = check_imports(m, mem64, err)) != ICX_OK) return rc;
  if ((rc = check_exports(m, out, err)) != ICX_OK) return rc;
  if ((rc = check_data(m, mem64, err)) != ICX_OK) return rc;
  if ((rc = check_globals_funcs(m, err)) != ICX_OK) return rc;
  if ((rc = check_customs(m, err)) != ICX_OK) return rc;
  return check_memory(m, err);
}
