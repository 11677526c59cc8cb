/* canister.c -- the canister's replicated state: configuration defaults,
 * messages, code, instantiation, commit/rollback of memories, call
 * contexts and callbacks, install / reinstall / upgrade / uninstall
 * (canister.h; reference sections 6.2, 10; docs/runtime.md). */
#include "canister.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "principal.h"
#include "sysapi.h"

/* ---- configuration --------------------------------------------------------- */

void icxRtConfig_defaults(icxRtConfig *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->subnet_type = ICX_SUBNET_APPLICATION;
  cfg->subnet_size = 13;
  icxFees_application_subnet(&cfg->fees);
  cfg->max_instructions_message = 40000000000ull;
  cfg->max_instructions_slice = 2000000000ull;
  cfg->max_instructions_install = 300000000000ull;
  cfg->max_instructions_install_slice = 2000000000ull;
  cfg->max_instructions_query = 5000000000ull;
  cfg->max_instructions_inspect = 200000000ull;
  cfg->max_stable_bytes = ICX_STABLE_DEFAULT_MAX_BYTES;
  cfg->max_wasm64_bytes = 6ull << 30;
  cfg->stable_access_pages_update = (2ull << 30) / 4096;
  cfg->stable_write_pages_update = (2ull << 30) / 4096;
  cfg->stable_access_pages_install = (8ull << 30) / 4096;
  cfg->stable_write_pages_install = (8ull << 30) / 4096;
  cfg->stable_access_pages_query = (1ull << 30) / 4096;
  cfg->features = ICX_FEAT_DEFAULT;
  cfg->per_byte_sysapi_charges = 1;
}

/* ---- messages ----------------------------------------------------------------- */

void icxMsg_free(const icxAllocator *a, icxMsg *m) {
  if (!m) return;
  if (m->method) icxCore_free(a, m->method, (size_t)m->method_len + 1);
  if (m->data) icxCore_free(a, m->data, m->len);
  m->method = NULL;
  m->data = NULL;
  m->len = 0;
  m->method_len = 0;
}

icx_status icxMsg_copy(const icxAllocator *a, const icxMsg *src, icxMsg *out, icxErr *err) {
  *out = *src;
  out->method = NULL;
  out->data = NULL;
  if (src->method) {
    out->method = icxCore_alloc(a, (size_t)src->method_len + 1);
    if (!out->method) goto oom;
    memcpy(out->method, src->method, src->method_len);
  }
  if (src->len) {
    out->data = icxCore_alloc(a, src->len);
    if (!out->data) goto oom;
    memcpy(out->data, src->data, src->len);
  } else {
    out->len = 0;
  }
  return ICX_OK;
oom:
  icxMsg_free(a, out);
  return icxErr_set(err, ICX_ENOMEM, "out of memory (message copy)");
}

void icxExecOutcome_free(const icxAllocator *a, icxExecOutcome *o) {
  if (!o) return;
  for (uint32_t i = 0; i < o->nout; i++) icxMsg_free(a, &o->out[i]);
  icxCore_free(a, o->out, (size_t)o->capout * sizeof *o->out);
  o->out = NULL;
  o->nout = o->capout = 0;
}

/* ---- code ------------------------------------------------------------------------ */

static int has_custom(const icxModule *m, const char *name) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < m->ncustoms; i++)
    if (m->customs[i].name_len == n && memcmp(m->customs[i].name, name, n) == 0) return 1;
  return 0;
}

icx_status icxCode_new(const icxAllocator *a, const icxRtConfig *cfg, const uint8_t *wasm,
                       size_t len, icxCode **out, icxErr *err) {
  *out = NULL;
  icxCode *code = icxCore_alloc(a, sizeof *code);
  if (!code) return icxErr_set(err, ICX_ENOMEM, "out of memory (code)");
  code->alloc = *a;
  atomic_init(&code->refs, 1);
  icxInstrOpts io = {ICX_INSTR_CANISTER, cfg->features, 0};
  static const uint8_t none[1] = {0};
  icx_status rc = icxInstr_run(a, wasm ? wasm : none, len, &io, &code->instr, err);
  if (rc != ICX_OK) {
    icxCore_free(a, code, sizeof *code);
    return rc;
  }
  icxCompileOpts copts = {ICX_COMPILE_FUSE_COUNTER, NULL, code->instr.counter_global,
                          code->instr.ooi_func};
  rc = icxRt_compile(a, code->instr.wasm, code->instr.wasm_len, cfg->features, &copts,
                     &code->compiled, err);
  if (rc != ICX_OK) {
    icxInstr_free(&code->instr);
    icxCore_free(a, code, sizeof *code);
    return rc;
  }
  const icxModule *m = icxRt_compiled_module(code->compiled);
  code->mem64 = code->instr.mem64;
  code->eop = has_custom(m, "icp:private enhanced-orthogonal-persistence") ||
              has_custom(m, "icp:public enhanced-orthogonal-persistence");
  *out = code;
  return ICX_OK;
}

icxCode *icxCode_ref(icxCode *c) {
  if (c) atomic_fetch_add(&c->refs, 1);
  return c;
}

void icxCode_unref(icxCode *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  icxAllocator a = c->alloc;
  icxRt_compiled_free(c->compiled);
  icxInstr_free(&c->instr);
  icxCore_free(&a, c, sizeof *c);
}

uint32_t icxCode_entry(const icxCode *c, uint8_t kind, const char *name, size_t len) {
  if (!c) return UINT32_MAX;
  for (uint32_t i = 0; i < c->instr.nentry; i++) {
    const icxEntryPoint *ep = &c->instr.entry[i];
    if (ep->kind != kind) continue;
    if (kind >= ICX_EP_UPDATE && kind <= ICX_EP_COMPOSITE_QUERY &&
        (ep->name_len != len || (len && memcmp(ep->name, name, len) != 0)))
      continue;
    return ep->func_idx;
  }
  return UINT32_MAX;
}

/* ---- the canister ---------------------------------------------------------------- */

static void default_settings(icxCanisterSettings *s) {
  memset(s, 0, sizeof *s);
  s->has = 0xffu;
  s->freezing_threshold = icxU128_from_u64(ICX_DEFAULT_FREEZING_THRESHOLD_S);
  s->reserved_cycles_limit = icxU128_from_u64(5000000000000ull);
  s->wasm_memory_limit = icxU128_from_u64(3ull << 30);
  s->log_visibility = ICX_LOG_VIS_CONTROLLERS;
}

icx_status icxCanister_new(const icxAllocator *a, icxPmCtx *pm, const icxRtConfig *cfg,
                           const icx_principal *id, icxCanister **out, icxErr *err) {
  *out = NULL;
  icxCanister *c = icxCore_alloc(a, sizeof *c);
  if (!c) return icxErr_set(err, ICX_ENOMEM, "out of memory (canister)");
  c->alloc = *a;
  c->pm = pm;
  c->cfg = *cfg;
  c->id = *id;
  c->status = ICX_STATUS_RUNNING;
  default_settings(&c->settings);
  c->binds = icxCore_allocn(a, ICX_IC0_COUNT, sizeof *c->binds);
  c->heap_map = icxPm_new(pm, 0, err);
  if (!c->binds || !c->heap_map) goto oom;
  for (uint32_t i = 0; i < ICX_IC0_COUNT; i++) {
    c->binds[i].c = c;
    c->binds[i].id = i;
  }
  icx_status rc = icxStable_new(pm, NULL, cfg->max_stable_bytes, &c->stable, err);
  if (rc != ICX_OK) {
    icxCanister_free(c);
    return rc;
  }
  c->next_ctx_id = 1;
  c->next_cb_id = 1;
  *out = c;
  return ICX_OK;
oom:
  icxCanister_free(c);
  return icxErr_set(err, ICX_ENOMEM, "out of memory (canister)");
}

/* Drop the live execution objects (store, instance, exec). */
void icxCanister_drop_runtime(icxCanister *c) {
  icxExec_free(c->x);
  icxStore_free(c->store);
  c->x = NULL;
  c->store = NULL;
  c->inst = NULL;
}

void icxCanister_free(icxCanister *c) {
  if (!c) return;
  icxAllocator a = c->alloc;
  if (c->paused) {
    icxMsg m;
    int has = 0;
    icxCanister_abort(c, &m, &has);
    if (has) icxMsg_free(&a, &m);
  }
  icxCanister_drop_runtime(c);
  icxCode_unref(c->code);
  icxPm_unref(c->heap_map);
  icxStable_free(c->stable);
  icxGlobals_free(&a, &c->globals);
  for (uint32_t i = 0; i < c->nctxs; i++)
    icxCore_free(&a, c->ctxs[i].method, c->ctxs[i].method ? strlen(c->ctxs[i].method) + 1 : 0);
  icxCore_free(&a, c->ctxs, (size_t)c->capctxs * sizeof *c->ctxs);
  icxCore_free(&a, c->cbs, (size_t)c->capcbs * sizeof *c->cbs);
  for (uint32_t i = 0; i < c->inq_len; i++)
    icxMsg_free(&a, &c->inq[(c->inq_head + i) % (c->inq_cap ? c->inq_cap : 1)]);
  icxCore_free(&a, c->inq, (size_t)c->inq_cap * sizeof *c->inq);
  for (uint32_t i = 0; i < c->nlog; i++) icxCore_free(&a, c->log[i].content, c->log[i].len);
  icxCore_free(&a, c->log, (size_t)c->caplog * sizeof *c->log);
  icxCore_free(&a, c->binds, (size_t)ICX_IC0_COUNT * sizeof *c->binds);
  icxCore_free(&a, c, sizeof *c);
}

void icxCanister_id_text(const icxCanister *c, char *buf, size_t cap) {
  icxPrincipal_to_text(&c->id, buf, cap);
}

uint64_t icxCanister_memory_usage(const icxCanister *c) {
  uint64_t heap = c->heap_map ? icxPm_size(c->heap_map) : 0, st = 0, res = 0;
  if (c->stable) icxStable_usage(c->stable, &st, &res);
  uint64_t code = c->code ? c->code->instr.orig_len : 0;
  return heap + st + (uint64_t)c->globals.n * 8u + code;
}

static uint64_t u128_sat64(icxU128 v) { return icxU128_to_u64_sat(v); }

icxU128 icxCanister_threshold(const icxCanister *c, const icxRtConfig *cfg) {
  icxResourceUse use;
  use.memory_allocation = u128_sat64(c->settings.memory_allocation);
  use.memory_usage = icxCanister_memory_usage(c);
  use.message_memory_usage = 0;
  use.compute_allocation = u128_sat64(c->settings.compute_allocation);
  return icxCycles_freeze_threshold(&cfg->fees, cfg->subnet_size, &use,
                                    u128_sat64(c->settings.freezing_threshold), c->reserved);
}

/* ---- call contexts and callbacks -------------------------------------------------- */

int64_t icxCanister_ctx_find(const icxCanister *c, uint64_t id) {
  uint32_t lo = 0, hi = c->nctxs;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (c->ctxs[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < c->nctxs && c->ctxs[lo].id == id ? (int64_t)lo : -1;
}

int64_t icxCanister_cb_find(const icxCanister *c, uint64_t id) {
  uint32_t lo = 0, hi = c->ncbs;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (c->cbs[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < c->ncbs && c->cbs[lo].id == id ? (int64_t)lo : -1;
}

icx_status icxCanister_ctx_push(icxCanister *c, const icxCallContext *ctx) {
  if (c->nctxs == c->capctxs) {
    uint32_t ncap = c->capctxs ? c->capctxs * 2 : 8;
    icxCallContext *n = icxCore_realloc(&c->alloc, c->ctxs, (size_t)c->capctxs * sizeof *n,
                                        (size_t)ncap * sizeof *n);
    if (!n) return ICX_ENOMEM;
    c->ctxs = n;
    c->capctxs = ncap;
  }
  c->ctxs[c->nctxs++] = *ctx;
  return ICX_OK;
}

icx_status icxCanister_cb_push(icxCanister *c, const icxCallback *cb) {
  if (c->ncbs == c->capcbs) {
    uint32_t ncap = c->capcbs ? c->capcbs * 2 : 8;
    icxCallback *n = icxCore_realloc(&c->alloc, c->cbs, (size_t)c->capcbs * sizeof *n,
                                     (size_t)ncap * sizeof *n);
    if (!n) return ICX_ENOMEM;
    c->cbs = n;
    c->capcbs = ncap;
  }
  c->cbs[c->ncbs++] = *cb;
  return ICX_OK;
}

void icxCanister_ctx_remove(icxCanister *c, uint64_t idx) {
  icxCallContext *x = &c->ctxs[idx];
  if (x->method) icxCore_free(&c->alloc, x->method, strlen(x->method) + 1);
  memmove(x, x + 1, (size_t)(c->nctxs - idx - 1) * sizeof *x);
  c->nctxs--;
}

void icxCanister_cb_remove(icxCanister *c, uint64_t idx) {
  memmove(&c->cbs[idx], &c->cbs[idx + 1], (size_t)(c->ncbs - idx - 1) * sizeof *c->cbs);
  c->ncbs--;
}

int icxCanister_ctx_has_callbacks(const icxCanister *c, uint64_t ctx_id) {
  for (uint32_t i = 0; i < c->ncbs; i++)
    if (c->cbs[i].ctx == ctx_id) return 1;
  return 0;
}

/* ---- memory commit / rollback ------------------------------------------------------ */

void icxCanister_rollback_memory(icxCanister *c) {
  icxMemInst *m = c->inst ? icxInstance_memory(c->inst) : NULL;
  if (m) (void)icxHeap_rollback(m, c->heap_map, NULL);
  if (c->stable) icxStable_rollback(c->stable);
  if (c->inst && c->globals.vals) icxGlobals_restore(c->inst, &c->globals);
}

/* Commit m's dirty pages over *base (replacing it), the stable memory and
 * the globals of inst into c; all or nothing. */
icx_status icxCanister_commit_into(icxCanister *c, icxInstance *inst, icxPageMap **base,
                                  icxErr *err) {
  icxMemInst *m = inst ? icxInstance_memory(inst) : NULL;
  icxPageMap *old_st = icxPm_ref(icxStable_map(c->stable));
  icx_status rc = icxStable_commit(c->stable, err);
  if (rc != ICX_OK) {
    icxPm_unref(old_st);
    return rc;
  }
  icxPageMap *nm = NULL;
  if (m) {
    rc = icxHeap_commit(m, *base, &nm, err);
    if (rc != ICX_OK) {
      (void)icxStable_load(c->stable, old_st, NULL);
      icxPm_unref(old_st);
      return rc;
    }
  }
  if (inst) {
    rc = icxGlobals_save(inst, &c->alloc, &c->globals, err);
    if (rc != ICX_OK) { /* only on the first save: put the memories back */
      if (nm) {
        (void)icxHeap_load(m, *base, NULL);
        icxPm_unref(nm);
      }
      (void)icxStable_load(c->stable, old_st, NULL);
      icxPm_unref(old_st);
      return rc;
    }
  }
  icxPm_unref(old_st);
  if (nm) {
    icxPm_unref(*base);
    *base = nm;
  }
  return ICX_OK;
}

icx_status icxCanister_commit_memory(icxCanister *c, icxErr *err) {
  return icxCanister_commit_into(c, c->inst, &c->heap_map, err);
}

/* ---- executions --------------------------------------------------------------------- */

icxExecution *icxExecution_new(icxCanister *c, const icxExecEnv *env, uint8_t kind) {
  icxExecution *e = icxCore_alloc(&c->alloc, sizeof *e);
  if (!e) return NULL;
  e->c = c;
  e->cfg = *env->cfg;
  e->kind = kind;
  e->time_ns = env->time_ns;
  e->root_key = env->root_key;
  e->root_key_len = env->root_key_len;
  e->certificate = env->certificate;
  e->certificate_len = env->certificate_len;
  e->replicated = 1;
  e->mem64 = c->code ? c->code->mem64 : 0;
  e->mode = e->mem64 ? ICX_WASM64 : ICX_WASM32;
  e->balance = e->balance_start = c->balance;
  memcpy(e->certified, c->certified, sizeof e->certified);
  e->certified_len = c->certified_len;
  e->timer = c->global_timer;
  e->version = c->version;
  e->threshold = icxCanister_threshold(c, env->cfg);
  e->x = c->x;
  return e;
}

void icxExecution_free(icxExecution *e) {
  if (!e) return;
  icxCanister *c = e->c;
  if (e->has_msg) icxMsg_free(&c->alloc, &e->msg);
  icxCore_free(&c->alloc, e->reply, e->reply_cap);
  icxSys_call_clear(&c->alloc, &e->call);
  for (uint32_t i = 0; i < e->nreqs; i++) icxMsg_free(&c->alloc, &e->reqs[i]);
  icxCore_free(&c->alloc, e->reqs, (size_t)e->capreqs * sizeof *e->reqs);
  icxCore_free(&c->alloc, e->cbs, (size_t)e->capreqs * sizeof *e->cbs);
  icxCore_free(&c->alloc, e, sizeof *e);
}

/* ---- instantiation ------------------------------------------------------------------ */

/* Free the runtime's objects and zero it. */
void icxRuntime_free(icxRuntime *r) {
  icxExec_free(r->x);
  icxStore_free(r->store);
  memset(r, 0, sizeof *r);
}

/* Instantiate code with every ic0 import linked to its host function.
 * A trap at instantiation (element segment out of bounds) is reported in
 * *trap with ICX_OK. */
icx_status icxRuntime_new(icxCanister *c, icxCode *code, icxRuntime *r, icxTrap *trap,
                          icxErr *err) {
  memset(r, 0, sizeof *r);
  *trap = ICX_TRAP_NONE;
  const icxModule *m = icxRt_compiled_module(code->compiled);
  icx_status rc = ICX_OK;
  icxExtern *imp = NULL;
  r->store = icxStore_new(&c->alloc);
  r->x = icxExec_new(&c->alloc);
  imp = icxCore_allocn(&c->alloc, (size_t)m->nimports + 1, sizeof *imp);
  if (!r->store || !r->x || !imp) {
    rc = icxErr_set(err, ICX_ENOMEM, "out of memory (instance)");
    goto done;
  }
  for (uint32_t i = 0; i < m->nimports; i++) {
    const icxImport *im = &m->imports[i];
    if (im->kind != ICX_EXT_FUNC) {
      rc = icxErr_set(err, ICX_EREJECTED, "import \"%s\".\"%s\": only function imports are "
                      "supported", im->module, im->name);
      goto done;
    }
    icxHostFn fn;
    void *ud;
    if (i < ICX_INSTR_NIMPORTS) {
      fn = i == ICX_INSTR_IMP_OOI ? icxExec_host_out_of_instructions : icxSys_try_grow;
      ud = c;
    } else {
      int id = icxCost_ic0_find(im->name, im->name_len);
      if (id < 0 || strcmp(im->module, "ic0") != 0) {
        rc = icxErr_set(err, ICX_EREJECTED, "import \"%s\".\"%s\" is not an ic0 function",
                        im->module, im->name);
        goto done;
      }
      fn = icxSys_dispatch;
      ud = &c->binds[id];
    }
    imp[i].kind = ICX_EXT_FUNC;
    imp[i].u.func = icxStore_host_func(r->store, &m->types[im->d.type_idx], fn, ud);
    if (!imp[i].u.func) {
      rc = icxErr_set(err, ICX_ENOMEM, "out of memory (instance)");
      goto done;
    }
  }
  rc = icxRt_instantiate(r->store, code->compiled, r->x, imp, m->nimports, &r->inst, trap, err);
done:
  icxCore_free(&c->alloc, imp, ((size_t)m->nimports + 1) * sizeof *imp);
  if (rc != ICX_OK || *trap != ICX_TRAP_NONE) icxRuntime_free(r);
  return rc;
}

/* The function instance of entry point kind (NULL if not exported). */
icxFuncInst *icxCanister_entry_func(icxInstance *inst, const icxCode *code, uint8_t kind) {
  uint32_t idx = icxCode_entry(code, kind, NULL, 0);
  return idx == UINT32_MAX ? NULL : inst->funcs[idx];
}

/* ---- uninstall --------------------------------------------------------------------------- */

static icx_status out_reserve(const icxAllocator *a, icxExecOutcome *out, uint32_t extra) {
  if (out->nout + extra <= out->capout) return ICX_OK;
  uint32_t ncap = out->capout ? out->capout : 4;
  while (ncap < out->nout + extra) ncap *= 2;
  icxMsg *n = icxCore_realloc(a, out->out, (size_t)out->capout * sizeof *n, (size_t)ncap * sizeof *n);
  if (!n) return ICX_ENOMEM;
  out->out = n;
  out->capout = ncap;
  return ICX_OK;
}

icx_status icxCanister_respond(icxCanister *c, const icxCallContext *ctx, uint32_t reject_code,
                               uint16_t error_code, const uint8_t *data, size_t len,
                               icxU128 refund, icxExecOutcome *out, icxErr *err) {
  if (ctx->origin == ICX_ORIGIN_SYSTEM) return ICX_OK; /* tasks and init get no response */
  if (out_reserve(&c->alloc, out, 1) != ICX_OK)
    return icxErr_set(err, ICX_ENOMEM, "out of memory (response)");
  icxMsg *m = &out->out[out->nout];
  memset(m, 0, sizeof *m);
  m->kind = ICX_MSG_RESPONSE;
  m->src = c->id;
  m->dst = ctx->caller;
  /* A system error sent to a calling canister is the replica's
   * RejectContext::from(UserError): "IC0503: " + the description
   * (reference/drun-format.md section 5); a canister that did not reply
   * gets "No response" (its produce_inter_canister_response).  Ingress
   * callers get the description alone with the code beside it. */
  char pre[16] = "";
  if (ctx->origin == ICX_ORIGIN_CANISTER && error_code && reject_code != 0 &&
      reject_code != ICX_REJECT_CANISTER_REJECT) {
    if (error_code == 506) {
      data = (const uint8_t *)"No response";
      len = 11;
    } else {
      snprintf(pre, sizeof pre, "IC%04u: ", (unsigned)error_code);
    }
  }
  size_t npre = strlen(pre);
  if (len + npre) {
    m->data = icxCore_alloc(&c->alloc, len + npre);
    if (!m->data) return icxErr_set(err, ICX_ENOMEM, "out of memory (response)");
    memcpy(m->data, pre, npre);
    if (len) memcpy(m->data + npre, data, len);
    m->len = len + npre;
  }
  m->reject_code = reject_code;
  m->error_code = error_code;
  m->deadline = ctx->deadline;
  if (ctx->origin == ICX_ORIGIN_INGRESS) {
    m->to_ingress = 1;
    memcpy(m->msg_id, ctx->msg_id, sizeof m->msg_id);
  } else {
    m->callback = ctx->origin_callback;
    m->cycles = refund;
  }
  out->nout++;
  return ICX_OK;
}

icx_status icxCanister_push_out(icxCanister *c, icxExecOutcome *out, icxMsg *m, icxErr *err) {
  if (out_reserve(&c->alloc, out, 1) != ICX_OK)
    return icxErr_set(err, ICX_ENOMEM, "out of memory (outcome)");
  out->out[out->nout++] = *m;
  memset(m, 0, sizeof *m);
  return ICX_OK;
}

icx_status icxCanister_uninstall(icxCanister *c, icxExecOutcome *out, icxErr *err) {
  memset(out, 0, sizeof *out);
  out->done = 1;
  if (c->paused) return icxErr_set(err, ICX_ESTATE, "the canister has a paused execution");
  static const char msg[] = "Canister has been uninstalled.";
  uint32_t need = 0;
  for (uint32_t i = 0; i < c->nctxs; i++)
    if (!c->ctxs[i].responded && c->ctxs[i].origin != ICX_ORIGIN_SYSTEM) need++;
  if (out_reserve(&c->alloc, out, need) != ICX_OK)
    return icxErr_set(err, ICX_ENOMEM, "out of memory (uninstall)");
  icxStable *ns = NULL;
  icxPageMap *nm = icxPm_new(c->pm, 0, err);
  if (!nm || icxStable_new(c->pm, NULL, c->cfg.max_stable_bytes, &ns, err) != ICX_OK) {
    icxPm_unref(nm);
    icxExecOutcome_free(&c->alloc, out);
    return icxErr_set(err, ICX_ENOMEM, "out of memory (uninstall)");
  }
  for (uint32_t i = 0; i < c->nctxs; i++) {
    icxCallContext *x = &c->ctxs[i];
    if (!x->responded) {
      if (icxCanister_respond(c, x, ICX_REJECT_CANISTER_REJECT, 0, (const uint8_t *)msg,
                              sizeof msg - 1, x->available, out, err) != ICX_OK) {
        icxPm_unref(nm);
        icxStable_free(ns);
        icxExecOutcome_free(&c->alloc, out);
        return ICX_ENOMEM;
      }
      x->available = icxU128_zero();
      x->responded = 1;
    }
    x->deleted = 1;
  }
  for (uint32_t i = c->nctxs; i-- > 0;)
    if (!icxCanister_ctx_has_callbacks(c, c->ctxs[i].id)) icxCanister_ctx_remove(c, i);
  icxCanister_drop_runtime(c);
  icxCode_unref(c->code);
  c->code = NULL;
  icxPm_unref(c->heap_map);
  c->heap_map = nm;
  icxStable_free(c->stable);
  c->stable = ns;
  icxGlobals_free(&c->alloc, &c->globals);
  c->certified_len = 0;
  c->global_timer = 0;
  c->version++;
  return ICX_OK;
}

/* ---- frozen images (query snapshots) ------------------------------------------------------- */

/* A copy of a globals save (icxGlobals_save's layout: n + 1 slots). */
static icx_status globals_copy(const icxAllocator *a, const icxGlobalSave *src,
                               icxGlobalSave *dst) {
  dst->vals = NULL;
  dst->n = 0;
  if (!src->vals) return ICX_OK;
  dst->vals = icxCore_allocn(a, (size_t)src->n + 1, sizeof(uint64_t));
  if (!dst->vals) return ICX_ENOMEM;
  memcpy(dst->vals, src->vals, ((size_t)src->n + 1) * sizeof(uint64_t));
  dst->n = src->n;
  return ICX_OK;
}

icx_status icxCanister_image(const icxAllocator *a, const icxCanister *c, icxCanisterImage *out,
                             icxErr *err) {
  memset(out, 0, sizeof *out);
  if (globals_copy(a, &c->globals, &out->globals) != ICX_OK)
    return icxErr_set(err, ICX_ENOMEM, "out of memory (snapshot)");
  out->id = c->id;
  out->status = c->status;
  out->ncontrollers = c->ncontrollers;
  memcpy(out->controllers, c->controllers, sizeof out->controllers);
  out->settings = c->settings;
  out->balance = c->balance;
  out->reserved = c->reserved;
  out->version = c->version;
  memcpy(out->certified, c->certified, sizeof out->certified);
  out->certified_len = c->certified_len;
  out->global_timer = c->global_timer;
  out->code = icxCode_ref(c->code);
  out->heap = icxPm_ref(c->heap_map);
  out->stable = icxPm_ref(icxStable_map(c->stable));
  return ICX_OK;
}

void icxCanisterImage_free(const icxAllocator *a, icxCanisterImage *img) {
  if (!img) return;
  icxCode_unref(img->code);
  icxPm_unref(img->heap);
  icxPm_unref(img->stable);
  icxGlobals_free(a, &img->globals);
  memset(img, 0, sizeof *img);
}

icx_status icxCanister_from_image(const icxAllocator *a, icxPmCtx *pm, const icxRtConfig *cfg,
                                  const icxCanisterImage *img, icxCanister **out, icxErr *err) {
  *out = NULL;
  icxCanister *c = NULL;
  icx_status rc = icxCanister_new(a, pm, cfg, &img->id, &c, err);
  if (rc != ICX_OK) return rc;
  c->status = img->status;
  c->ncontrollers = img->ncontrollers;
  memcpy(c->controllers, img->controllers, sizeof c->controllers);
  c->settings = img->settings;
  c->balance = img->balance;
  c->reserved = img->reserved;
  c->version = img->version;
  memcpy(c->certified, img->certified, sizeof c->certified);
  c->certified_len = img->certified_len;
  c->global_timer = img->global_timer;
  if (img->heap) {
    icxPm_unref(c->heap_map);
    c->heap_map = icxPm_ref(img->heap);
  }
  if (img->stable && (rc = icxStable_load(c->stable, img->stable, err)) != ICX_OK) goto fail;
  if (globals_copy(a, &img->globals, &c->globals) != ICX_OK) {
    rc = icxErr_set(err, ICX_ENOMEM, "out of memory (canister)");
    goto fail;
  }
  if (img->code) {
    icxRuntime r;
    icxTrap trap = ICX_TRAP_NONE;
    rc = icxRuntime_new(c, img->code, &r, &trap, err);
    if (rc == ICX_OK && trap != ICX_TRAP_NONE)
      rc = icxErr_set(err, ICX_ETRAP, "the canister's code traps when instantiated");
    if (rc != ICX_OK) goto fail;
    c->store = r.store;
    c->inst = r.inst;
    c->x = r.x;
    c->code = icxCode_ref(img->code);
    icxMemInst *m = icxInstance_memory(c->inst);
    if (m && (rc = icxHeap_load(m, c->heap_map, err)) != ICX_OK) goto fail;
    if (c->globals.vals) icxGlobals_restore(c->inst, &c->globals);
  }
  *out = c;
  return ICX_OK;
fail:
  icxCanister_free(c);
  return rc;
}
