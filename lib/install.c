/* install.c -- install / reinstall / upgrade of a canister (canister.h,
 * reference sections 4.5, 6.2; docs/runtime.md), sliced like an update:
 * the install runs as a sequence of phases -- pre_upgrade on the old
 * instance, the new instance (stable memory, heap, data segments), start,
 * then canister_init or canister_post_upgrade -- each Wasm phase in slices
 * of env->slice instructions under the install limit.  Between slices the
 * execution is parked in c->paused (kind ICX_EXEC_INSTALL) with everything
 * it built so far; resume continues it, abort throws it away. */
#include "canister.h"

#include <stdarg.h>
#include <stdio.h>

#include "sysapi.h"

/* The phases, in order. */
enum { INS_PRE = 0, INS_SETUP, INS_START, INS_INIT, INS_DONE };

/* What an install in progress owns besides its icxExecution. */
typedef struct icxInstallRun icxInstallRun;
struct icxInstallRun {
  icxCode *code;             /* referenced */
  uint8_t *arg;              /* copy of the argument */
  size_t arg_len;
  uint8_t upgrade, keep, run_pre;
  uint8_t persistence; /* ICX_WASM_MEMORY_* of the upgrade options */
  uint8_t phase;             /* INS_*: the phase running (or paused) now */
  icxRuntime r;              /* the new instance (from INS_SETUP on) */
  icxStable *old_stable;     /* the canister's stable memory before the install */
  icxStable *new_stable;     /* install / reinstall: the fresh one (NULL for upgrade) */
  icxPageMap *base;          /* the heap map the new instance commits over */
};

static void install_error(icxExecOutcome *out, uint16_t code, const char *fmt, ...)
    ICX_PRINTF(3, 4);
static void install_error(icxExecOutcome *out, uint16_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out->error, sizeof out->error, fmt, ap);
  va_end(ap);
  out->error_code = code;
  out->trapped = 1;
}

/* Upgrade with `keep`: the kept memory is the one pre_upgrade left behind,
 * i.e. the committed map (already loaded into m) plus the old instance's
 * uncommitted (dirty) pages and size.  They are copied into m and marked
 * dirty there, so the commit after post_upgrade stores them, while the old
 * memory keeps its dirty set for a rollback if the upgrade fails.
 * ICX_EINVAL if the old memory is larger than the new module allows. */
static icx_status carry_dirty(icxCanister *c, icxMemInst *m, const icxMemInst *om, icxErr *err) {
  if (!om || om->ndirty == 0) return ICX_OK;
  if (om->size > m->size) {
    uint64_t g = icxMem_grow(m, &c->alloc, (om->size - m->size) / 65536);
    if (g == ICX_GROW_OOM) return icxErr_set(err, ICX_ENOMEM, "out of memory (kept memory)");
    if (g == ICX_GROW_LIMIT)
      return icxErr_set(err, ICX_EINVAL, "the kept Wasm memory does not fit the new module");
  }
  for (uint64_t k = 0; k < om->ndirty; k++) {
    uint64_t off = (uint64_t)om->dlist[k] << ICX_OS_PAGE_SHIFT;
    if (off >= om->size || off >= m->size) continue;
    icxMemInst_touch(m, off, ICX_OS_PAGE_SIZE);
    memcpy(m->data + off, om->data + off, ICX_OS_PAGE_SIZE);
  }
  return ICX_OK;
}

/* Write the active data segments into a fresh heap (marking the pages). */
static void write_data(const icxCode *code, icxMemInst *m) {
  for (uint32_t i = 0; i < code->instr.ndata; i++) {
    const icxInstrData *d = &code->instr.data[i];
    if (!m || !d->len || d->offset > m->size || d->len > m->size - d->offset) continue;
    memcpy(m->data + d->offset, d->bytes, d->len);
    icxMemInst_touch(m, d->offset, d->len);
  }
}

static icx_status install_checks(icxCanister *c, const icxInstallArgs *args,
                                 icxExecOutcome *out) {
  char id[80];
  icxCanister_id_text(c, id, sizeof id);
  if (args->mode == ICX_INSTALL_MODE_INSTALL && c->code) {
    install_error(out, 538,
                  "Canister %s cannot be installed because the canister is not empty. Try "
                  "installing with mode='reinstall' instead.",
                  id);
    return ICX_OK;
  }
  if (args->mode == ICX_INSTALL_MODE_UPGRADE && !c->code) {
    install_error(out, 537,
                  "Attempt to execute a message on canister %s which contains no Wasm module", id);
    return ICX_OK;
  }
  /* (the upgrade options are checked after pre_upgrade: ins_setup) */
  return ICX_OK;
}

/* The wasm_memory_persistence option of an upgrade against the old and new
 * modules.  The IC checks it in its second stage, after pre_upgrade ran
 * (upgrade.rs, determine_main_memory_handling): a failure keeps
 * pre_upgrade's debug output and instructions, and rolls back the rest.
 * Returns a message, or NULL if the option fits. */
static const char *persistence_error(const icxCanister *c, const icxInstallRun *ins) {
  if (ins->persistence == ICX_WASM_MEMORY_KEEP && !ins->code->eop)
    return "Invalid upgrade option: The `wasm_memory_persistence: opt Keep` upgrade option "
           "requires that the new canister module supports enhanced orthogonal persistence.";
  if (ins->persistence == ICX_WASM_MEMORY_UNSET && c->code && c->code->eop)
    return "Missing upgrade option: Enhanced orthogonal persistence requires the "
           "`wasm_memory_persistence` upgrade option.";
  return NULL;
}


static void ins_free(icxCanister *c, icxExecution *e) {
  icxInstallRun *ins = e->install;
  if (ins) {
    icxCode_unref(ins->code);
    icxCore_free(&c->alloc, ins->arg, ins->arg_len);
    icxCore_free(&c->alloc, ins, sizeof *ins);
  }
  e->install = NULL;
  icxExecution_free(e);
}

/* Throw away what the install built and undo what it did to the old
 * instance and stable memory (pre_upgrade, post_upgrade's stable writes). */
static void ins_restore(icxCanister *c, icxInstallRun *ins) {
  icxRuntime_free(&ins->r);
  if (ins->new_stable) icxStable_free(ins->new_stable);
  ins->new_stable = NULL;
  c->stable = ins->old_stable;
  if (c->x) icxExec_reset(c->x);
  icxCanister_rollback_memory(c);
  icxPm_unref(ins->base);
  ins->base = NULL;
}

/* Start (f) or continue (resume) one Wasm phase in a new slice. */
static int ins_phase(icxExecution *e, icxExec *x, uint8_t api, icxFuncInst *f, int resume) {
  if (!resume) {
    if (!f) return ICX_STEP_DONE;
    e->api = api;
    e->wasm_mem_limit =
        api == ICX_API_PRE_UPGRADE ? 0 : icxU128_to_u64_sat(e->c->settings.wasm_memory_limit);
  }
  icxExecution_start_slice(e, x, e->slice_size);
  return icxExecution_run(e, x, resume ? NULL : f, 0, 0);
}

/* INS_SETUP: the new instance, stable memory and heap (no instructions). */
static int ins_setup(icxCanister *c, icxExecution *e, icx_status *rc, icxErr *err) {
  icxInstallRun *ins = e->install;
  const icxRtConfig *cfg = &e->cfg;
  const char *perr = ins->upgrade ? persistence_error(c, ins) : NULL;
  if (perr) {
    e->fail = ICX_FAIL_RAW;
    e->err_code = 504;
    snprintf(e->err, sizeof e->err, "%s", perr);
    return ICX_STEP_FAIL;
  }
  icxTrap trap;
  *rc = icxRuntime_new(c, ins->code, &ins->r, &trap, err);
  if (*rc != ICX_OK) return ICX_STEP_ERROR;
  if (trap != ICX_TRAP_NONE) {
    e->fail = ICX_FAIL_WASM;
    snprintf(e->err, sizeof e->err, "%s",
             trap == ICX_TRAP_TABLE_OOB ? "table out of bounds" : "heap out of bounds");
    return ICX_STEP_FAIL;
  }
  if (!ins->upgrade) {
    *rc = icxStable_new(c->pm, NULL, cfg->max_stable_bytes, &ins->new_stable, err);
    if (*rc != ICX_OK) return ICX_STEP_ERROR;
    icxStable_set_limits(ins->new_stable, cfg->stable_access_pages_install,
                         cfg->stable_write_pages_install);
    c->stable = ins->new_stable;
  }
  icxMemInst *m = icxInstance_memory(ins->r.inst);
  if (ins->keep) {
    ins->base = icxPm_ref(c->heap_map);
    icxMemInst *om = c->inst ? icxInstance_memory(c->inst) : NULL;
    if (m) {
      *rc = icxHeap_load(m, ins->base, err);
      if (*rc == ICX_OK) *rc = carry_dirty(c, m, om, err);
    }
    if (*rc == ICX_EINVAL) {
      *rc = ICX_OK;
      e->fail = ICX_FAIL_RAW;
      e->err_code = 504;
      snprintf(e->err, sizeof e->err, "the kept Wasm memory does not fit the new module");
      return ICX_STEP_FAIL;
    }
    if (*rc != ICX_OK) return ICX_STEP_ERROR;
  } else {
    ins->base = icxPm_new(c->pm, 0, err);
    if (!ins->base) {
      *rc = ICX_ENOMEM;
      return ICX_STEP_ERROR;
    }
    write_data(ins->code, m);
  }
  e->timer = 0; /* install and upgrade deactivate the timer */
  e->version = c->version + 1;
  return ICX_STEP_DONE;
}

/* Run the phases from ins->phase on (resume: continue the suspended run of
 * the current one first) until one pauses or fails, or all are done. */
static int ins_run(icxCanister *c, icxExecution *e, int resume, icx_status *rc, icxErr *err) {
  icxInstallRun *ins = e->install;
  while (ins->phase < INS_DONE) {
    int step;
    switch (ins->phase) {
    case INS_PRE:
      step = ins->run_pre || resume
                 ? ins_phase(e, c->x, ICX_API_PRE_UPGRADE,
                             icxCanister_entry_func(c->inst, c->code, ICX_EP_PRE_UPGRADE), resume)
                 : ICX_STEP_DONE;
      break;
    case INS_SETUP: step = ins_setup(c, e, rc, err); break;
    case INS_START:
      step = ins_phase(e, ins->r.x, ICX_API_START,
                       icxCanister_entry_func(ins->r.inst, ins->code, ICX_EP_START), resume);
      break;
    default:
      step = ins_phase(e, ins->r.x, ICX_API_INIT,
                       icxCanister_entry_func(ins->r.inst, ins->code,
                                              ins->upgrade ? ICX_EP_POST_UPGRADE : ICX_EP_INIT),
                       resume);
      break;
    }
    resume = 0;
    if (step != ICX_STEP_DONE) return step;
    ins->phase++;
  }
  return ICX_STEP_DONE;
}

/* The new instance, memories and code replace the old ones. */
static void ins_commit(icxCanister *c, icxExecution *e, icxExecOutcome *out) {
  icxInstallRun *ins = e->install;
  const icxRtConfig *cfg = &e->cfg;
  icxCanister_drop_runtime(c);
  c->store = ins->r.store;
  c->inst = ins->r.inst;
  c->x = ins->r.x;
  memset(&ins->r, 0, sizeof ins->r);
  icxPm_unref(c->heap_map);
  c->heap_map = ins->base;
  ins->base = NULL;
  if (ins->new_stable) icxStable_free(ins->old_stable); /* c->stable is the new one */
  ins->new_stable = ins->old_stable = NULL;
  icxCode_unref(c->code);
  c->code = icxCode_ref(ins->code);
  memcpy(c->certified, e->certified, sizeof c->certified);
  c->certified_len = e->certified_len;
  c->global_timer = e->timer;
  c->version++;
  uint64_t used = e->used < e->limit ? e->used : e->limit;
  icxU128 refund = icxCycles_execution_refund(&cfg->fees, cfg->subnet_size, e->limit - used,
                                              e->mode, e->prepaid);
  if (icxU128_lt(e->balance_start, e->balance))
    c->balance = icxU128_add_sat(c->balance, icxU128_sub_sat(e->balance, e->balance_start));
  else
    c->balance = icxU128_sub_sat(c->balance, icxU128_sub_sat(e->balance_start, e->balance));
  c->balance = icxU128_add_sat(c->balance, refund);
  out->cycles_charged = icxU128_sub_sat(e->prepaid, refund);
  out->burned = icxU128_add_sat(out->cycles_charged, e->burned); /* + cycles_burn128 */
  out->instructions = used;
  c->instructions_total += used;
}

/* After a run of the phases: park, commit, or restore the canister. */
static icx_status ins_finish(icxCanister *c, icxExecution *e, int step, icx_status rc,
                             icxExecOutcome *out, icxErr *err) {
  icxInstallRun *ins = e->install;
  const icxRtConfig *cfg = &e->cfg;
  if (step == ICX_STEP_PAUSED) {
    if (ins->new_stable) c->stable = ins->old_stable; /* shown as before while paused */
    c->paused = e;
    out->done = 0;
    out->instructions = e->used;
    return ICX_OK;
  }
  out->done = 1;
  if (step == ICX_STEP_DONE) {
    rc = icxCanister_commit_into(c, ins->r.inst, &ins->base, err);
    if (rc == ICX_OK) {
      ins_commit(c, e, out);
      ins_free(c, e);
      return ICX_OK;
    }
    step = ICX_STEP_ERROR;
  }
  ins_restore(c, ins);
  if (step == ICX_STEP_ERROR) { /* a host error: as if the install never started */
    c->balance = icxU128_add_sat(c->balance, e->prepaid);
    ins_free(c, e);
    return rc != ICX_OK ? rc : icxErr_set(err, ICX_ENOMEM, "out of host memory during the install");
  }
  icxExecution_error(e, &out->error_code, out->error, sizeof out->error);
  out->trapped = 1;
  uint64_t used = e->used < e->limit ? e->used : e->limit;
  icxU128 refund = icxCycles_execution_refund(&cfg->fees, cfg->subnet_size, e->limit - used,
                                              e->mode, e->prepaid);
  c->balance = icxU128_add_sat(c->balance, refund);
  out->cycles_charged = icxU128_sub_sat(e->prepaid, refund);
  out->burned = out->cycles_charged;
  out->instructions = used;
  ins_free(c, e);
  return ICX_OK;
}

/* Check, prepay and start the install; it runs until done or paused. */
icx_status icxCanister_install(icxCanister *c, const icxExecEnv *env, const icxInstallArgs *args,
                               icxExecOutcome *out, icxErr *err) {
  memset(out, 0, sizeof *out);
  out->done = 1;
  if (!c || !env || !env->cfg) return icxErr_set(err, ICX_EINVAL, "install: NULL argument");
  if (c->paused) return icxErr_set(err, ICX_ESTATE, "the canister has a paused execution");
  if (!args || !args->code) return icxErr_set(err, ICX_EINVAL, "install: no code");
  (void)install_checks(c, args, out);
  if (out->error_code) return ICX_OK;
  const icxRtConfig *cfg = env->cfg;
  int upgrade = args->mode == ICX_INSTALL_MODE_UPGRADE;
  icxWasmMode mode = args->code->mem64 ? ICX_WASM64 : ICX_WASM32;
  uint64_t limit = cfg->max_instructions_install;
  icxU128 prepay = icxCycles_execution_cost(&cfg->fees, cfg->subnet_size, limit, mode);
  icxU128 threshold = icxCanister_threshold(c, cfg);
  if (!icxCycles_can_withdraw(c->balance, threshold, prepay)) {
    char id[80], need[ICX_U128_DEC_MAX];
    icxCanister_id_text(c, id, sizeof id);
    icxU128_to_dec(icxU128_sub_sat(icxU128_add_sat(threshold, prepay), c->balance), need,
                   sizeof need);
    install_error(out, 207,
                  "Canister %s is out of cycles: please top up the canister with at least %s "
                  "additional cycles",
                  id, need);
    return ICX_OK;
  }
  icxExecution *e = icxExecution_new(c, env, ICX_EXEC_INSTALL);
  icxInstallRun *ins = e ? icxCore_alloc(&c->alloc, sizeof *ins) : NULL;
  uint8_t *arg = ins && args->arg_len ? icxCore_alloc(&c->alloc, args->arg_len) : NULL;
  if (!e || !ins || (args->arg_len && !arg)) {
    if (ins) icxCore_free(&c->alloc, ins, sizeof *ins);
    icxExecution_free(e);
    return icxErr_set(err, ICX_ENOMEM, "out of memory (install)");
  }
  if (args->arg_len) memcpy(arg, args->arg, args->arg_len);
  e->install = ins;
  ins->code = icxCode_ref(args->code);
  ins->arg = arg;
  ins->arg_len = args->arg_len;
  ins->upgrade = (uint8_t)upgrade;
  ins->keep = upgrade && args->wasm_memory_persistence == ICX_WASM_MEMORY_KEEP;
  ins->persistence = (uint8_t)args->wasm_memory_persistence;
  ins->run_pre = upgrade && !args->skip_pre_upgrade && c->inst;
  ins->old_stable = c->stable;
  e->mem64 = args->code->mem64;
  e->mode = mode;
  e->limit = limit;
  e->used = args->code->instr.compile_cost * ICX_COST_COMPILE_PER_INSTRUCTION;
  e->caller = args->caller;
  e->arg = ins->arg;
  e->arg_len = ins->arg_len;
  e->slice_size = env->slice;
  c->balance = icxU128_sub_sat(c->balance, prepay);
  e->balance = e->balance_start = c->balance;
  e->prepaid = prepay;
  e->threshold = threshold;
  if (!upgrade) e->certified_len = 0;
  icxStable_set_limits(c->stable, cfg->stable_access_pages_install, cfg->stable_write_pages_install);
  icx_status rc = ICX_OK;
  int step = ins_run(c, e, 0, &rc, err);
  return ins_finish(c, e, step, rc, out, err);
}

icx_status icxInstall_resume(icxCanister *c, icxExecution *e, const icxExecEnv *env,
                             icxExecOutcome *out, icxErr *err) {
  icxInstallRun *ins = e->install;
  e->slice_size = env->slice;
  if (ins->new_stable && ins->phase > INS_SETUP) c->stable = ins->new_stable;
  icx_status rc = ICX_OK;
  int step = ins_run(c, e, 1, &rc, err);
  return ins_finish(c, e, step, rc, out, err);
}

void icxInstall_abort(icxCanister *c, icxExecution *e) {
  ins_restore(c, e->install);
  c->balance = icxU128_add_sat(c->balance, e->prepaid);
  ins_free(c, e);
}
