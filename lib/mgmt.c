/* mgmt.c -- the management canister aaaaa-aa (mgmt.h, docs/management.md).
 *
 * Behaviour and texts follow the replica's execution_environment.rs and
 * canister_manager.rs (newest revision read; texts marked "unconfirmed" in
 * docs/management.md were not seen verbatim).  Each handler fills a Res:
 * a reply payload or a reject (error code + description), and the cycles
 * to refund; icxMgmt_execute turns it into the response. */
#include "mgmt.h"
#include "sysapi.h"

#include <stdarg.h>
#include <stdio.h>

#include "principal.h"

#define DOC "https://internetcomputer.org/docs/current/references/execution-errors#"
#define RES_TEXT_MAX 2048

typedef struct Res {
  int postponed;       /* answered later (raw_rand, stop_canister) */
  uint16_t code;       /* 0: reply; else the IC error code of the reject */
  char text[RES_TEXT_MAX];
  uint8_t *reply;      /* owned (st->alloc) */
  size_t reply_len;
  icxU128 refund;      /* cycles returned with the answer */
} Res;

static void rej(Res *r, uint16_t code, const char *fmt, ...) ICX_PRINTF(3, 4);
static void rej(Res *r, uint16_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->text, sizeof r->text, fmt, ap);
  va_end(ap);
  r->code = code;
}

typedef struct Txt {
  char s[64];
} Txt;
static Txt txt(const icx_principal *p) {
  Txt t;
  icxPrincipal_to_text(p, t.s, sizeof t.s);
  return t;
}

static icx_status empty_reply(icxState *st, Res *r, icxErr *err) {
  static const uint8_t e[ICX_CANDID_EMPTY_REPLY_BYTES] = {'D', 'I', 'D', 'L', 0, 0};
  r->reply = icxCore_alloc(&st->alloc, sizeof e);
  if (r->reply == NULL) return icxErr_set(err, ICX_ENOMEM, "management: out of memory");
  memcpy(r->reply, e, sizeof e);
  r->reply_len = sizeof e;
  return ICX_OK;
}

/* A decoder failure: ENOMEM propagates, anything else is IC0408 (or, for
 * too many controllers / viewers, an invalid-settings reject). */
static icx_status bad_payload(Res *r, icx_status rc, const icxErr *e, icxErr *err) {
  if (rc == ICX_ENOMEM) return icxErr_set(err, ICX_ENOMEM, "%s", e->msg);
  if (strstr(e->msg, "controllers (at most") || strstr(e->msg, "viewers (at most")) {
    rej(r, ICX_ERR_CONTRACT_VIOLATION,
        "Could not validate the settings: Invalid settings: '%s' length exceeds maximum size "
        "allowed of %d. \nApply the described changes to make the settings valid. See "
        "documentation: " DOC "invalid-settings",
        strstr(e->msg, "controllers (at most") ? "controllers" : "allowed_viewers",
        ICX_MGMT_MAX_CONTROLLERS);
    return ICX_OK;
  }
  rej(r, ICX_ERR_INVALID_MANAGEMENT_PAYLOAD, "Error decoding candid: %s", e->msg);
  return ICX_OK;
}

static void not_found(Res *r, const icx_principal *id) {
  rej(r, ICX_ERR_CANISTER_NOT_FOUND,
      "Canister %s not found.\nCheck the ICP dashboard to ensure the canister exists. See "
      "documentation: " DOC "canister-not-found",
      txt(id).s);
}

static int is_controller(const icxCanister *c, const icx_principal *p) {
  for (uint32_t i = 0; i < c->ncontrollers; i++)
    if (icxPrincipal_eq(&c->controllers[i], p)) return 1;
  return 0;
}

/* The canister *id if it exists and caller controls it; else NULL and a reject. */
static icxCanister *controlled(icxState *st, const icx_principal *id, const icx_principal *caller,
                               Res *r) {
  icxCanister *c = icxState_canister(st, id);
  if (c == NULL) {
    not_found(r, id);
    return NULL;
  }
  if (!is_controller(c, caller)) {
    char list[ICX_MGMT_MAX_CONTROLLERS * 64 + 1];
    size_t n = 0;
    list[0] = 0;
    for (uint32_t i = 0; i < c->ncontrollers; i++)
      n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", i ? " " : "",
                            txt(&c->controllers[i]).s);
    rej(r, ICX_ERR_INVALID_CONTROLLER,
        "Only the controllers of the canister %s can control it.\nCanister's controllers: "
        "%s\nSender's ID: %s\nExecute this call from a controller of the target canister or "
        "add the current caller as a controller. See documentation: " DOC "invalid-controller",
        txt(id).s, list, txt(caller).s);
    return NULL;
  }
  return c;
}

/* The canister named by a canister_id_record payload, if the sender controls
 * it: its id in *id.  Else NULL, with the reject in r (malformed payload,
 * missing canister, not a controller) and *rc the status to return. */
static icxCanister *controlled_target(icxState *st, const icxMsg *m, Res *r, icx_principal *id,
                                      icx_status *rc, icxErr *err) {
  icxErr e;
  *rc = icxMgmt_decode_canister_id(&st->types, m->data, m->len, id, &e);
  if (*rc) {
    *rc = bad_payload(r, *rc, &e, err);
    return NULL;
  }
  return controlled(st, id, &m->src, r);
}

/* Settings checks beyond the decoder (CanisterManager::validate_settings
 * subset); 0 if valid, else a reject in r. */
static int settings_invalid(const icxCanisterSettings *s, Res *r) {
  const char *what = NULL;
  char msg[256];
  if ((s->has & ICX_SET_COMPUTE_ALLOCATION) &&
      (s->compute_allocation.hi || s->compute_allocation.lo > 100)) {
    char d[ICX_U128_DEC_MAX];
    icxU128_to_dec(s->compute_allocation, d, sizeof d);
    snprintf(msg, sizeof msg, "ComputeAllocation expected to be in the range [0..100], got %s", d);
    what = msg;
  } else if ((s->has & ICX_SET_FREEZING_THRESHOLD) && s->freezing_threshold.hi) {
    what = "Freezing threshold expected to be in the range of [0..2^64-1]";
  } else if ((s->has & ICX_SET_MEMORY_ALLOCATION) && s->memory_allocation.hi) {
    what = "Memory allocation expected to be in the range of [0..2^64-1]";
  } else if ((s->has & ICX_SET_WASM_MEMORY_LIMIT) && s->wasm_memory_limit.hi) {
    what = "Wasm memory limit expected to be in the range of [0..2^64-1]";
  } else if ((s->has & ICX_SET_WASM_MEMORY_THRESHOLD) && s->wasm_memory_threshold.hi) {
    what = "Wasm memory threshold expected to be in the range of [0..2^64-1]";
  }
  if (what == NULL) return 0;
  rej(r, ICX_ERR_CONTRACT_VIOLATION,
      "Could not validate the settings: %s \nApply the described changes to make the settings "
      "valid. See documentation: " DOC "invalid-settings",
      what);
  return 1;
}

static void user_forbidden(Res *r, const char *method) {
  rej(r, ICX_ERR_CONTRACT_VIOLATION, "%s cannot be called by a user.", method);
}

/* ---- handlers ---------------------------------------------------------------- */

static icx_status create_common(icxState *st, const icxMsg *m, const icxCreateCanisterArgs *a,
                                icxU128 balance, const icx_principal *specified, Res *r,
                                icxErr *err) {
  if (a->has_settings && settings_invalid(&a->settings, r)) return ICX_OK;
  icxErr e;
  icxCanister *c;
  icx_status rc = icxState_create_canister(st, specified, &m->src,
                                           a->has_settings ? &a->settings : NULL, balance, &c, &e);
  if (rc == ICX_ENOMEM) return icxErr_set(err, rc, "%s", e.msg);
  if (rc == ICX_ESTATE) {
    rej(r, ICX_ERR_CANISTER_ID_ALREADY_EXISTS,
        "%s\nThis is an internal error on the IC. Please report it to IC devs on the forum: "
        "https://forum.dfinity.org",
        e.msg);
    return ICX_OK;
  }
  if (rc) {
    rej(r, 101, "%s\nTry creating the canister on another subnet. See documentation: " DOC
                "subnet-out-of-canister-ids",
        e.msg);
    return ICX_OK;
  }
  return icxMgmt_encode_create_result(&st->types, &st->alloc, &c->id, &r->reply, &r->reply_len,
                                      err);
}

static icx_status h_create_canister(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  if (m->kind == ICX_MSG_INGRESS) return user_forbidden(r, "create_canister"), ICX_OK;
  icxCreateCanisterArgs a;
  icxErr e;
  icx_status rc = icxMgmt_decode_create_canister(&st->types, m->data, m->len, &a, &e);
  if (rc) return bad_payload(r, rc, &e, err);
  icxU128 fee = icxCycles_canister_creation_fee(&st->cfg.fees, st->cfg.subnet_size);
  if (icxU128_lt(m->cycles, fee)) {
    char f[ICX_U128_DEC_MAX], s[ICX_U128_DEC_MAX];
    icxU128_to_dec(fee, f, sizeof f);
    icxU128_to_dec(m->cycles, s, sizeof s);
    rej(r, ICX_ERR_INSUFFICIENT_CYCLES_FOR_CREATE,
        "Creating a canister requires a fee of %s that is deducted from the canister's initial "
        "balance but only %s cycles were received with the create_canister request.\nTry "
        "sending more cycles with the request. See documentation: " DOC
        "create-canister-not-enough-cycles",
        f, s);
    return ICX_OK;
  }
  r->refund = icxU128_zero();
  rc = create_common(st, m, &a, icxU128_sub_sat(m->cycles, fee), NULL, r, err);
  if (rc == ICX_OK && r->code == 0)
    st->burned = icxU128_add_sat(st->burned, fee);
  else
    r->refund = m->cycles;
  return rc;
}

static icx_status h_provisional_create(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icxCreateCanisterArgs a;
  icxErr e;
  icx_status rc = icxMgmt_decode_provisional_create(&st->types, m->data, m->len, &a, &e);
  if (rc) return bad_payload(r, rc, &e, err);
  icxU128 amount =
      a.has_amount ? a.amount : icxU128_from_u64(ICX_DEFAULT_PROVISIONAL_CYCLES_LO);
  rc = create_common(st, m, &a, amount, a.has_specified_id ? &a.specified_id : NULL, r, err);
  if (rc == ICX_OK && r->code == 0) st->minted = icxU128_add_sat(st->minted, amount);
  return rc;
}

/* The environment of an install_code slice: the round's time, the install
 * slice (the whole install limit when slicing is off). */
static void install_env(const icxState *st, icxExecEnv *env) {
  memset(env, 0, sizeof *env);
  env->cfg = &st->cfg;
  env->time_ns = st->time_ns;
  env->slice = st->cfg.max_instructions_install_slice ? st->cfg.max_instructions_install_slice
                                                      : st->cfg.max_instructions_install;
}

static icx_status pause_install(icxState *st, const icxMsg *m, icxCanister *c,
                                icxExecOutcome *out, icxErr *err);
static icx_status install_done(icxState *st, icxCanister *c, icx_status rc, icxExecOutcome *out,
                               icxErr *e, Res *r, icxErr *err);

static icx_status h_install_code(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icxInstallCodeArgs a;
  icxErr e;
  icx_status rc = icxMgmt_decode_install_code(&st->types, m->data, m->len, &a, &e);
  if (rc) return bad_payload(r, rc, &e, err);
  icxCanister *c = controlled(st, &a.canister_id, &m->src, r);
  if (c == NULL) return ICX_OK;
  if (a.mode == ICX_INSTALL_MODE_INSTALL && c->code != NULL) {
    rej(r, ICX_ERR_CANISTER_NON_EMPTY,
        "Canister %s cannot be installed because the canister is not empty. Try installing with "
        "mode='reinstall' instead.\nCheck that you want to overwrite the canister and, if so, "
        "use mode='reinstall'. See documentation: " DOC "canister-not-empty",
        txt(&c->id).s);
    return ICX_OK;
  }
  icxCode *code;
  rc = icxCode_new(&st->alloc, &st->cfg, a.wasm_module, a.wasm_module_len, &code, &e);
  if (rc == ICX_ENOMEM) return icxErr_set(err, rc, "%s", e.msg);
  if (rc == ICX_EMALFORMED || rc == ICX_EINVALID || rc == ICX_EREJECTED) {
    rej(r, ICX_ERR_INVALID_WASM, "Error from Canister %s: Canister's Wasm module is not valid: %s",
        txt(&c->id).s, e.msg);
    return ICX_OK;
  }
  if (rc) {
    rej(r, ICX_ERR_CONTRACT_VIOLATION, "Error from Canister %s: %s", txt(&c->id).s, e.msg);
    return ICX_OK;
  }
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = a.mode;
  ia.skip_pre_upgrade = a.has_skip_pre_upgrade && a.skip_pre_upgrade;
  ia.wasm_memory_persistence = a.wasm_memory_persistence;
  ia.code = code;
  ia.arg = a.arg;
  ia.arg_len = a.arg_len;
  ia.caller = m->src;
  icxExecEnv env;
  install_env(st, &env);
  icxExecOutcome out;
  memset(&out, 0, sizeof out);
  rc = icxCanister_install(c, &env, &ia, &out, &e);
  icxCode_unref(code); /* the canister (or its paused install) holds its own reference */
  if (rc == ICX_OK && !out.done) {
    /* paused after its first slice (DTS): the rest runs one slice per round
     * (icxMgmt_resume_installs); the answer waits until it is done */
    rc = pause_install(st, m, c, &out, err);
    if (rc == ICX_OK) r->postponed = 1;
    return rc;
  }
  return install_done(st, c, rc, &out, &e, r, err);
}

/* Keep a paused install: route what its first slice produced, remember
 * the message (dst = the canister) in st->installs. */
static icx_status pause_install(icxState *st, const icxMsg *m, icxCanister *c,
                                icxExecOutcome *out, icxErr *err) {
  icx_status rc = ICX_OK;
  if (out->nout) rc = icxState_route(st, out->out, out->nout, err);
  out->nout = 0;
  icxExecOutcome_free(&st->alloc, out);
  icxMsg keep;
  if (rc == ICX_OK) rc = icxMsg_copy(&st->alloc, m, &keep, err);
  if (rc == ICX_OK) {
    keep.dst = c->id;
    rc = icxMsgList_push(&st->alloc, &st->installs, &keep, err);
  }
  if (rc != ICX_OK) { /* cannot keep it: undo the install */
    icxMsg none;
    int has = 0;
    icxCanister_abort(c, &none, &has);
  }
  return rc;
}

/* The end of an install (rc and out of its last slice): fees, products,
 * and the answer in r. */
static icx_status install_done(icxState *st, icxCanister *c, icx_status rc, icxExecOutcome *out,
                               icxErr *e, Res *r, icxErr *err) {
  if (rc == ICX_OK) /* the install's execution fee (prepay minus refund) and its burns */
    st->burned = icxU128_add_sat(st->burned, out->burned);
  if (rc == ICX_ENOMEM) {
    icxExecOutcome_free(&st->alloc, out);
    return icxErr_set(err, rc, "%s", e->msg);
  }
  if (rc) {
    icxExecOutcome_free(&st->alloc, out);
    rej(r, ICX_ERR_CONTRACT_VIOLATION, "Error from Canister %s: %s", txt(&c->id).s, e->msg);
    return ICX_OK;
  }
  if (out->nout) {
    rc = icxState_route(st, out->out, out->nout, err);
    out->nout = 0;
    if (rc) {
      icxExecOutcome_free(&st->alloc, out);
      return rc;
    }
  }
  if (out->trapped || out->error_code) {
    rej(r, out->error_code ? out->error_code : 502, "%s", out->error);
    icxExecOutcome_free(&st->alloc, out);
    return ICX_OK;
  }
  icxExecOutcome_free(&st->alloc, out);
  return empty_reply(st, r, err);
}

static icx_status h_uninstall_code(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icx_status rc;
  icxCanister *c = controlled_target(st, m, r, &id, &rc, err);
  if (c == NULL) return rc;
  icxExecOutcome out;
  memset(&out, 0, sizeof out);
  icxErr e;
  rc = icxCanister_uninstall(c, &out, &e);
  if (rc) {
    icxExecOutcome_free(&st->alloc, &out);
    return icxErr_set(err, rc, "%s", e.msg);
  }
  if (out.nout) rc = icxState_route(st, out.out, out.nout, err);
  icxExecOutcome_free(&st->alloc, &out);
  return rc ? rc : empty_reply(st, r, err);
}

static icx_status h_update_settings(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icxCanisterSettings s;
  icxErr e;
  icx_status rc = icxMgmt_decode_update_settings(&st->types, m->data, m->len, &id, &s, &e);
  if (rc) return bad_payload(r, rc, &e, err);
  icxCanister *c = controlled(st, &id, &m->src, r);
  if (c == NULL || settings_invalid(&s, r)) return ICX_OK;
  icxState_apply_settings(c, &s);
  c->version++;
  return empty_reply(st, r, err);
}

static icx_status h_start_canister(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icx_status rc;
  icxCanister *c = controlled_target(st, m, r, &id, &rc, err);
  if (c == NULL) return rc;
  if (c->status == ICX_STATUS_STOPPING) {
    char text[160];
    snprintf(text, sizeof text, "Canister %s's stop request was cancelled.", txt(&id).s);
    rc = icxState_answer_stops(st, &id, ICX_REJECT_CANISTER_ERROR, ICX_ERR_STOPPING_CANCELLED,
                               text, err);
    if (rc) return rc;
  }
  if (c->status != ICX_STATUS_RUNNING) {
    c->status = ICX_STATUS_RUNNING;
    c->version++;
  }
  return empty_reply(st, r, err);
}

static icx_status h_stop_canister(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icx_status rc;
  icxCanister *c = controlled_target(st, m, r, &id, &rc, err);
  if (c == NULL) return rc;
  if (c->status == ICX_STATUS_STOPPED) return empty_reply(st, r, err);
  if (c->status == ICX_STATUS_RUNNING) {
    c->status = ICX_STATUS_STOPPING;
    c->version++;
  }
  icxStopCtx x;
  memset(&x, 0, sizeof x);
  x.canister = id;
  x.from_ingress = m->kind == ICX_MSG_INGRESS;
  x.sender = m->src;
  x.callback = m->callback;
  memcpy(x.msg_id, m->msg_id, 32);
  x.cycles = m->cycles;
  x.deadline = m->deadline;
  rc = icxState_add_stop(st, &x, err);
  if (rc) return rc;
  r->postponed = 1; /* answered by icxState_process_stopping */
  return ICX_OK;
}

static icx_status h_canister_status(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icx_status rc;
  icxCanister *c = controlled_target(st, m, r, &id, &rc, err);
  if (c == NULL) return rc;
  icxCanisterStatus s;
  memset(&s, 0, sizeof s);
  s.status = c->status == ICX_STATUS_STOPPING ? 1 : c->status == ICX_STATUS_STOPPED ? 2 : 0;
  s.ncontrollers = c->ncontrollers;
  memcpy(s.controllers, c->controllers, sizeof s.controllers);
  const icxCanisterSettings *cs = &c->settings;
  s.compute_allocation = cs->compute_allocation;
  s.memory_allocation = cs->memory_allocation;
  s.freezing_threshold = cs->freezing_threshold;
  s.reserved_cycles_limit = cs->reserved_cycles_limit;
  s.wasm_memory_limit = cs->wasm_memory_limit;
  s.wasm_memory_threshold = cs->wasm_memory_threshold;
  s.log_visibility = cs->log_visibility ? cs->log_visibility : ICX_LOG_VIS_CONTROLLERS;
  s.nviewers = cs->nviewers;
  memcpy(s.viewers, cs->viewers, sizeof s.viewers);
  if (c->code) {
    s.has_module_hash = 1;
    memcpy(s.module_hash, c->code->instr.sha256, 32);
  }
  uint64_t mem = icxCanister_memory_usage(c);
  s.memory_size = icxU128_from_u64(mem);
  s.cycles = c->balance;
  s.reserved_cycles = c->reserved;
  icxResourceUse use = {icxU128_to_u64_sat(cs->memory_allocation), mem, 0,
                        icxU128_to_u64_sat(cs->compute_allocation)};
  s.idle_cycles_burned_per_day = icxCycles_idle_burn_rate(&st->cfg.fees, st->cfg.subnet_size, &use);
  return icxMgmt_encode_canister_status(&st->types, &st->alloc, &s, &r->reply, &r->reply_len, err);
}

static icx_status h_delete_canister(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icx_status rc;
  icxCanister *c = controlled_target(st, m, r, &id, &rc, err);
  if (c == NULL) return rc;
  if (icxPrincipal_eq(&id, &m->src)) {
    rej(r, ICX_ERR_INVALID_CONTROLLER,
        "Canister %s cannot delete itself.\nDelete the canister from one of its other "
        "controllers. See documentation: " DOC "delete-canister-self",
        txt(&id).s);
    return ICX_OK;
  }
  if (c->status != ICX_STATUS_STOPPED) {
    rej(r, ICX_ERR_CANISTER_NOT_STOPPED,
        "Canister %s must be stopped before it is deleted.\nStop the canister before deleting "
        "it. See documentation: " DOC "delete-canister-not-stopped",
        txt(&id).s);
    return ICX_OK;
  }
  rc = icxState_delete_canister(st, &id, err);
  return rc ? rc : empty_reply(st, r, err);
}

static icx_status h_deposit_cycles(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icxErr e;
  icx_status rc = icxMgmt_decode_canister_id(&st->types, m->data, m->len, &id, &e);
  if (rc) return bad_payload(r, rc, &e, err);
  icxCanister *c = icxState_canister(st, &id);
  if (c == NULL) return not_found(r, &id), ICX_OK;
  c->balance = icxU128_add_sat(c->balance, m->cycles);
  r->refund = icxU128_zero();
  return empty_reply(st, r, err);
}

static icx_status h_top_up(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icx_principal id;
  icxU128 amount;
  icxErr e;
  icx_status rc = icxMgmt_decode_top_up(&st->types, m->data, m->len, &id, &amount, &e);
  if (rc) return bad_payload(r, rc, &e, err);
  icxCanister *c = icxState_canister(st, &id);
  if (c == NULL) return not_found(r, &id), ICX_OK;
  c->balance = icxU128_add_sat(c->balance, amount);
  st->minted = icxU128_add_sat(st->minted, amount);
  return empty_reply(st, r, err);
}

static icx_status h_raw_rand(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  if (m->kind == ICX_MSG_INGRESS) return user_forbidden(r, "raw_rand"), ICX_OK;
  icxCandidDoc *doc = NULL;
  icxErr e;
  icx_status rc =
      icxCandid_decode(&st->alloc, m->data, m->len, &st->types.t, NULL, 0, NULL, &doc, &e);
  if (rc) return bad_payload(r, rc, &e, err);
  icxCandidDoc_free(doc);
  icxRawRandCtx x;
  memset(&x, 0, sizeof x);
  x.caller = m->src;
  x.callback = m->callback;
  x.cycles = m->cycles;
  x.deadline = m->deadline;
  x.round = st->round;
  rc = icxState_add_raw_rand(st, &x, err);
  if (rc) return rc;
  r->postponed = 1; /* answered by icxState_answer_raw_rand in a later round */
  return ICX_OK;
}

typedef icx_status (*Handler)(icxState *, const icxMsg *, Res *, icxErr *);
static const struct {
  const char *name;
  Handler fn;
} methods[] = {
    {"canister_status", h_canister_status},
    {"create_canister", h_create_canister},
    {"delete_canister", h_delete_canister},
    {"deposit_cycles", h_deposit_cycles},
    {"install_code", h_install_code},
    {"provisional_create_canister_with_cycles", h_provisional_create},
    {"provisional_top_up_canister", h_top_up},
    {"raw_rand", h_raw_rand},
    {"start_canister", h_start_canister},
    {"stop_canister", h_stop_canister},
    {"uninstall_code", h_uninstall_code},
    {"update_settings", h_update_settings},
};

/* ---- dispatch ------------------------------------------------------------------- */

static icx_status respond(icxState *st, const icxMsg *m, Res *r, icxErr *err) {
  icxMsg out;
  memset(&out, 0, sizeof out);
  out.kind = ICX_MSG_RESPONSE;
  out.src = icxPrincipal_management();
  out.dst = m->src;
  out.deadline = m->deadline;
  if (m->kind == ICX_MSG_INGRESS) {
    out.to_ingress = 1;
    memcpy(out.msg_id, m->msg_id, 32);
  } else {
    out.callback = m->callback;
    out.cycles = r->refund;
  }
  if (r->code == 0) {
    out.data = r->reply;
    out.len = r->reply_len;
    r->reply = NULL;
  } else {
    char buf[RES_TEXT_MAX + 16];
    const char *t = r->text;
    if (m->kind != ICX_MSG_INGRESS && st->reject_with_code_prefix) {
      snprintf(buf, sizeof buf, "IC%04u: %s", (unsigned)r->code, r->text);
      t = buf;
    }
    out.reject_code = r->code / 100u;
    out.error_code = r->code;
    size_t n = strlen(t);
    out.data = icxCore_alloc(&st->alloc, n ? n : 1);
    if (out.data == NULL) return icxErr_set(err, ICX_ENOMEM, "management: out of memory");
    memcpy(out.data, t, n);
    if (n == 0) { /* keep the allocation size equal to len */
      icxCore_free(&st->alloc, out.data, 1);
      out.data = NULL;
    }
    out.len = n;
  }
  return icxState_route(st, &out, 1, err);
}

icx_status icxMgmt_execute(icxState *st, icxMsg *m, icxErr *err) {
  Res *r = icxCore_alloc(&st->alloc, sizeof *r);
  if (r == NULL) {
    icxState_msg_clear(&st->alloc, m);
    return icxErr_set(err, ICX_ENOMEM, "management: out of memory");
  }
  r->refund = m->cycles; /* everything attached comes back unless a method keeps it */
  Handler fn = NULL;
  if (m->method)
    for (size_t i = 0; i < sizeof methods / sizeof methods[0] && !fn; i++)
      if (strlen(methods[i].name) == m->method_len && strcmp(methods[i].name, m->method) == 0)
        fn = methods[i].fn;
  icx_status rc = ICX_OK;
  if (fn == NULL)
    rej(r, ICX_ERR_METHOD_NOT_FOUND, "Management canister has no method '%.*s'",
        (int)(m->method_len > 1000 ? 1000 : m->method_len), m->method ? m->method : "");
  else
    rc = fn(st, m, r, err);
  if (rc == ICX_OK && !r->postponed) rc = respond(st, m, r, err);
  if (r->reply) icxCore_free(&st->alloc, r->reply, r->reply_len);
  icxCore_free(&st->alloc, r, sizeof *r);
  icxState_msg_clear(&st->alloc, m);
  return rc;
}

/* ---- install_code across rounds (DTS) -------------------------------------------- */

static icx_status respond(icxState *st, const icxMsg *m, Res *r, icxErr *err);

icx_status icxMgmt_resume_installs(icxState *st, icxErr *err) {
  icx_status rc = ICX_OK;
  uint32_t k = 0;
  for (uint32_t i = 0; i < st->installs.n; i++) {
    icxMsg m = st->installs.v[i];
    icxCanister *c = rc == ICX_OK ? icxState_canister(st, &m.dst) : NULL;
    if (!c || !c->paused || c->paused->kind != ICX_EXEC_INSTALL) {
      st->installs.v[k++] = m; /* (cannot happen: the canister is blocked meanwhile) */
      continue;
    }
    icxExecEnv env;
    install_env(st, &env);
    icxExecOutcome out;
    icxErr e;
    memset(&out, 0, sizeof out);
    icx_status xrc = icxCanister_resume(c, &env, &out, &e);
    if (xrc == ICX_OK && !out.done) { /* still running: its products leave now */
      if (out.nout) rc = icxState_route(st, out.out, out.nout, err);
      out.nout = 0;
      icxExecOutcome_free(&st->alloc, &out);
      st->installs.v[k++] = m;
      continue;
    }
    Res *r = icxCore_alloc(&st->alloc, sizeof *r);
    if (!r) {
      icxExecOutcome_free(&st->alloc, &out);
      icxState_msg_clear(&st->alloc, &m);
      rc = icxErr_set(err, ICX_ENOMEM, "management: out of memory");
      continue;
    }
    memset(r, 0, sizeof *r);
    r->refund = m.cycles;
    rc = install_done(st, c, xrc, &out, &e, r, err);
    if (rc == ICX_OK) rc = respond(st, &m, r, err);
    if (r->reply) icxCore_free(&st->alloc, r->reply, r->reply_len);
    icxCore_free(&st->alloc, r, sizeof *r);
    icxState_msg_clear(&st->alloc, &m);
  }
  st->installs.n = k;
  return rc;
}

icx_status icxMgmt_abort_install(icxState *st, icxCanister *c, icxErr *err) {
  for (uint32_t i = 0; i < st->installs.n; i++) {
    if (!icxPrincipal_eq(&st->installs.v[i].dst, &c->id)) continue;
    icxMsg m = st->installs.v[i];
    memmove(st->installs.v + i, st->installs.v + i + 1,
            (size_t)(st->installs.n - i - 1) * sizeof m);
    st->installs.n--;
    icxMsg none;
    int has = 0;
    icxCanister_abort(c, &none, &has);
    m.dst = icxPrincipal_management();
    return icxMsgList_push_front(&st->alloc, &st->mgmt_in, &m, err);
  }
  return ICX_OK;
}

int icxMgmt_blocked(const icxState *st, const icxMsg *m) {
  if (st->installs.n == 0 || !m->method) return 0;
  icx_principal id;
  icxErr e;
  if (icxMgmt_decode_canister_id(&st->types, m->data, m->len, &id, &e) != ICX_OK) {
    icxInstallCodeArgs a;
    if (icxMgmt_decode_install_code(&st->types, m->data, m->len, &a, &e) != ICX_OK) return 0;
    id = a.canister_id;
  }
  for (uint32_t i = 0; i < st->installs.n; i++)
    if (icxPrincipal_eq(&st->installs.v[i].dst, &id)) return 1;
  return 0;
}
