/* exec_msg.c -- executing one message on a canister (canister.h): status
 * and cycles checks, execution prepayment and refund, call contexts,
 * responses, callbacks with their cleanup, deterministic time slicing
 * (pause / resume / abort), non-replicated queries and inspect_message
 * (reference sections 4.5, 6, 7, 11; docs/runtime.md). */
#include "canister.h"

#include <stdarg.h>
#include <stdio.h>

#include "principal.h"
#include "sysapi.h"

/* ---- instruction accounting and running ----------------------------------------- */

void icxExecution_start_slice(icxExecution *e, icxExec *x, uint64_t slice) {
  uint64_t left = e->used < e->limit ? e->limit - e->used : 0;
  uint64_t sl = slice && slice < left ? slice : left;
  if (sl > (uint64_t)INT64_MAX) sl = (uint64_t)INT64_MAX;
  e->slice_fuel = (int64_t)sl;
  e->reserve = (int64_t)(left - sl);
  e->suspend = e->reserve > 0;
  e->pause_after = 0;
  icxExec_set_fuel(x, (int64_t)sl, e->suspend);
}

/* How a Wasm trap becomes an error, as the replica's wasmtime embedder maps
 * wasmtime's trap codes onto its TrapCode (printed by TrapCode's Display):
 * only five have their own text, every other trap is "unknown"; a call
 * through a table with the wrong signature is a contract violation
 * (ICX_TRAP_INDIRECT_TYPE, returns NULL). */
static const char *trap_text(icxTrap t) {
  switch (t) {
  case ICX_TRAP_STACK_EXHAUSTED: return "stack overflow";
  case ICX_TRAP_MEM_OOB: return "heap out of bounds";
  case ICX_TRAP_TABLE_OOB:          /* table.get/set/copy/init out of range */
  case ICX_TRAP_UNDEFINED_ELEMENT: return "table out of bounds"; /* call_indirect index >= size */
  case ICX_TRAP_DIV_ZERO: return "integer division by 0";
  case ICX_TRAP_UNREACHABLE: return "unreachable";
  case ICX_TRAP_INDIRECT_TYPE: return NULL;
  case ICX_TRAP_UNINIT_ELEMENT:     /* wasmtime IndirectCallToNull */
  case ICX_TRAP_INT_OVERFLOW:       /* IntegerOverflow */
  case ICX_TRAP_INVALID_CONV:       /* BadConversionToInteger */
  case ICX_TRAP_NULL_REF:           /* NullReference */
  default: return "unknown";
  }
}

int icxExecution_run(icxExecution *e, icxExec *x, icxFuncInst *f, int has_arg, uint64_t arg) {
  icxCanister *c = e->c;
  e->x = x;
  e->fail = ICX_FAIL_NONE;
  e->help = ICX_HELP_DEFAULT;
  e->err_plain = 0;
  c->cur = e;
  icxRun r = f ? icxExec_call(x, f, &arg, has_arg ? 1u : 0u) : icxExec_resume(x);
  c->cur = NULL;
  int64_t fuel = icxExec_fuel(x);
  if (e->slice_fuel > fuel) { /* a System API charge saturates the counter at INT64_MIN:
                                * the difference can exceed INT64_MAX, so take it unsigned */
    uint64_t d = (uint64_t)e->slice_fuel - (uint64_t)fuel;
    e->used = d > UINT64_MAX - e->used ? UINT64_MAX : e->used + d;
  }
  e->slice_fuel = fuel;
  switch (r) {
  case ICX_RUN_DONE: return ICX_STEP_DONE;
  case ICX_RUN_SUSPENDED:
    if (e->used > e->limit) {
      icxExec_reset(x);
      e->fail = ICX_FAIL_LIMIT;
      return ICX_STEP_FAIL;
    }
    return ICX_STEP_PAUSED;
  case ICX_RUN_TRAP: {
    if (e->oom) return ICX_STEP_ERROR;
    icxTrap t = icxExec_trap(x);
    if (t == ICX_TRAP_OUT_OF_FUEL) e->fail = ICX_FAIL_LIMIT;
    else if (t == ICX_TRAP_INDIRECT_TYPE) {
      e->fail = ICX_FAIL_CONTRACT; /* the replica's BAD_SIGNATURE_MESSAGE */
      snprintf(e->err, sizeof e->err, "function invocation does not match its signature");
    } else if (t != ICX_TRAP_HOST || e->fail == ICX_FAIL_NONE) {
      e->fail = ICX_FAIL_WASM;
      snprintf(e->err, sizeof e->err, "%s", t == ICX_TRAP_HOST ? "unknown" : trap_text(t));
    }
    return ICX_STEP_FAIL;
  }
  default: return ICX_STEP_ERROR;
  }
}

/* The replica's ErrorHelp texts (suggestion + documentation anchor). */
#define DOC_BASE "https://internetcomputer.org/docs/current/references/execution-errors#"
enum {
  HELP_TRAPPED = ICX_HELP_WRONG_MODE + 1, HELP_TRAPPED_EXPLICITLY, HELP_INSTRUCTIONS,
  HELP_ACCESS, HELP_WASM_MEMORY, HELP_METHOD_NOT_FOUND, HELP_NO_MODULE
};

static const char *help_text(uint8_t help) {
  switch (help) {
  case ICX_HELP_TOOLCHAIN:
    return "This is likely an error with the compiler/CDK toolchain being used to build the "
           "canister. Please report the error to IC devs on the forum: https://forum.dfinity.org "
           "and include which language/CDK was used to create the canister.";
  case ICX_HELP_WRONG_MODE:
    return "Check the ICP documentation to make sure APIs are being called in the correct "
           "message types. See documentation: " DOC_BASE "calling-a-system-api-from-the-wrong-mode";
  case HELP_TRAPPED:
    return "Consider gracefully handling failures from this canister or altering the canister "
           "to handle exceptions. See documentation: " DOC_BASE "trapped";
  case HELP_TRAPPED_EXPLICITLY:
    return "Consider gracefully handling failures from this canister or altering the canister "
           "to handle exceptions. See documentation: " DOC_BASE "trapped-explicitly";
  case HELP_INSTRUCTIONS:
    return "Try optimizing this method to consume fewer instructions or split the work across "
           "multiple messages. See documentation: " DOC_BASE "instruction-limit-exceeded";
  case HELP_ACCESS:
    return "Try optimizing the use of stable memory so that individual messages don't need to "
           "access as much stable memory. See documentation: " DOC_BASE
           "memory-access-limit-exceeded";
  case HELP_WASM_MEMORY:
    return "Try checking the canister for a possible memory leak or modifying it to use more "
           "stable memory instead of Wasm memory. See documentation: " DOC_BASE
           "wasm-memory-limit-exceeded";
  case HELP_METHOD_NOT_FOUND:
    return "Check that the method being called is exported by the target canister. See "
           "documentation: " DOC_BASE "method-not-found";
  case HELP_NO_MODULE:
    return "Please install code to this canister before calling it. See documentation: " DOC_BASE
           "wasm-module-not-found";
  default: return NULL;
  }
}

void icxExecution_format(const icxCanister *c, const char *desc, uint8_t help, uint16_t code,
                         char *buf, size_t cap) {
  char id[80];
  (void)code;
  icxCanister_id_text(c, id, sizeof id);
  const char *h = help_text(help);
  if (h) snprintf(buf, cap, "Error from Canister %s: %s.\n%s", id, desc, h);
  else snprintf(buf, cap, "Error from Canister %s: %s", id, desc);
}

void icxExecution_describe(const icxExecution *e, uint16_t *code, char *buf, size_t cap,
                           uint8_t *help) {
  *help = ICX_HELP_NONE;
  switch (e->fail) {
  case ICX_FAIL_WASM:
    *code = 502;
    *help = HELP_TRAPPED;
    snprintf(buf, cap, "Canister trapped: %s", e->err);
    break;
  case ICX_FAIL_CALLED_TRAP:
    *code = 503;
    *help = HELP_TRAPPED_EXPLICITLY;
    snprintf(buf, cap, "Canister called `ic0.trap` with message: '%s'", e->err);
    break;
  case ICX_FAIL_CONTRACT:
    *code = 504;
    *help = e->help == ICX_HELP_DEFAULT ? ICX_HELP_TOOLCHAIN : e->help;
    if (e->err_plain) snprintf(buf, cap, "%s", e->err);
    else snprintf(buf, cap, "Canister violated contract: %s", e->err);
    break;
  case ICX_FAIL_LIMIT:
    *code = 522;
    *help = HELP_INSTRUCTIONS;
    snprintf(buf, cap,
             "Canister exceeded the limit of %llu instructions for single message execution.",
             (unsigned long long)e->limit);
    break;
  case ICX_FAIL_ACCESS:
    *code = 524;
    *help = HELP_ACCESS;
    snprintf(buf, cap, "Canister exceeded memory access limits: %s", e->err);
    break;
  case ICX_FAIL_WASM_MEM:
    *code = 539;
    *help = HELP_WASM_MEMORY;
    snprintf(buf, cap, "%s", e->err);
    break;
  case ICX_FAIL_FUNC:
    *code = 513;
    *help = ICX_HELP_TOOLCHAIN;
    snprintf(buf, cap, "%s", e->err);
    break;
  default: *code = e->err_code; snprintf(buf, cap, "%s", e->err); break;
  }
}

void icxExecution_error(const icxExecution *e, uint16_t *code, char *buf, size_t cap) {
  char desc[ICX_ERROR_TEXT_MAX];
  uint8_t help;
  icxExecution_describe(e, code, desc, sizeof desc, &help);
  if (e->fail == ICX_FAIL_RAW) snprintf(buf, cap, "%s", desc);
  else icxExecution_format(e->c, desc, help, *code, buf, cap);
}

/* Errors found before any code runs (no module, no method): the same form. */
void icxExecution_pre_error(const icxCanister *c, uint16_t code, const char *desc, char *buf,
                            size_t cap) {
  icxExecution_format(c, desc, code == 537 ? HELP_NO_MODULE : HELP_METHOD_NOT_FOUND, code, buf,
                      cap);
}
static void pre_error(const icxCanister *c, uint16_t code, const char *desc, char *buf,
                      size_t cap) {
  icxExecution_pre_error(c, code, desc, buf, cap);
}

/* ---- helpers ---------------------------------------------------------------------- */

/* The call context of a message that creates one. */
static void ctx_from_msg(const icxMsg *m, uint8_t origin, icxCallContext *x) {
  memset(x, 0, sizeof *x);
  x->origin = origin;
  x->caller = m ? m->src : icxPrincipal_management();
  if (m) {
    x->origin_callback = m->callback;
    memcpy(x->msg_id, m->msg_id, sizeof x->msg_id);
    x->deadline = m->deadline;
    x->available = m->kind == ICX_MSG_REQUEST ? m->cycles : icxU128_zero();
  }
}

/* A reject (code, IC error, text) to the origin of m, without running code. */
static icx_status reject_msg(icxCanister *c, const icxMsg *m, uint32_t rcode, uint16_t ecode,
                             const char *text, icxExecOutcome *out, icxErr *err) {
  icxCallContext x;
  ctx_from_msg(m, m->kind == ICX_MSG_INGRESS ? ICX_ORIGIN_INGRESS : ICX_ORIGIN_CANISTER, &x);
  out->error_code = ecode;
  snprintf(out->error, sizeof out->error, "%s", text);
  return icxCanister_respond(c, &x, rcode, ecode, (const uint8_t *)text, strlen(text),
                             x.available, out, err);
}

static void apply_balance(icxCanister *c, const icxExecution *e) {
  if (icxU128_lt(e->balance_start, e->balance))
    c->balance = icxU128_add_sat(c->balance, icxU128_sub_sat(e->balance, e->balance_start));
  else
    c->balance = icxU128_sub_sat(c->balance, icxU128_sub_sat(e->balance_start, e->balance));
}

static uint64_t used_capped(const icxExecution *e) {
  return e->used < e->limit ? e->used : e->limit;
}

/* Refund unused prepaid execution cycles; set the outcome's accounting. */
static void settle(icxCanister *c, icxExecution *e, icxExecOutcome *out) {
  uint64_t used = used_capped(e);
  icxU128 refund = icxCycles_execution_refund(&e->cfg.fees, e->cfg.subnet_size, e->limit - used,
                                              e->mode, e->prepaid);
  c->balance = icxU128_add_sat(c->balance, refund);
  out->cycles_charged = icxU128_sub_sat(e->prepaid, refund);
  out->burned = icxU128_add_sat(out->burned, out->cycles_charged);
  out->instructions = used;
  c->instructions_total += used;
}

/* Move the callbacks and requests made by e into c and out.  ICX_ENOMEM. */
static icx_status commit_calls(icxCanister *c, icxExecution *e, icxExecOutcome *out,
                               icxErr *err) {
  for (uint32_t i = 0; i < e->nreqs; i++)
    if (icxCanister_cb_push(c, &e->cbs[i]) != ICX_OK)
      return icxErr_set(err, ICX_ENOMEM, "out of memory (callbacks)");
  c->next_cb_id += e->nreqs;
  for (uint32_t i = 0; i < e->nreqs; i++) {
    icx_status rc = icxCanister_push_out(c, out, &e->reqs[i], err);
    if (rc != ICX_OK) return rc;
  }
  e->nreqs = 0;
  return ICX_OK;
}

/* Apply a successful execution's system-state changes to c.  A call still
 * under construction is dropped and its cycles come back (the replica's
 * take_system_state_modifications refunds the outgoing request in prep);
 * what the execution burned goes to out->burned. */
static void commit_system(icxCanister *c, icxExecution *e, icxExecOutcome *out) {
  if (e->call.active) {
    e->balance = icxU128_add_sat(e->balance, e->call.cycles);
    icxSys_call_clear(&c->alloc, &e->call);
  }
  apply_balance(c, e);
  out->burned = icxU128_add_sat(out->burned, e->burned);
  e->burned = icxU128_zero();
  if (e->api != ICX_API_RQ) {
    memcpy(c->certified, e->certified, sizeof c->certified);
    c->certified_len = e->certified_len;
    c->global_timer = e->timer;
  }
  c->version++;
}

/* Close context idx if it is answered (or must be) and nothing refers to it:
 * an unanswered one gets the reject (rcode, ecode, text). */
static icx_status close_ctx(icxCanister *c, int64_t idx, uint32_t rcode, uint16_t ecode,
                            const char *text, icxExecOutcome *out, icxErr *err) {
  if (idx < 0) return ICX_OK;
  icxCallContext *x = &c->ctxs[idx];
  if (icxCanister_ctx_has_callbacks(c, x->id)) return ICX_OK;
  if (!x->responded) {
    icx_status rc = icxCanister_respond(c, x, rcode, ecode, (const uint8_t *)text, strlen(text),
                                        x->available, out, err);
    if (rc != ICX_OK) return rc;
  }
  icxCanister_ctx_remove(c, (uint64_t)idx);
  return ICX_OK;
}

static void did_not_reply(const icxCanister *c, char *buf, size_t cap) {
  char id[80];
  icxCanister_id_text(c, id, sizeof id);
  snprintf(buf, cap, "Canister %s did not reply to the call", id);
}

/* The response of this execution to its context x (already responded in e). */
static icx_status send_response(icxCanister *c, icxExecution *e, icxCallContext *x,
                                icxExecOutcome *out, icxErr *err) {
  uint32_t rcode = e->resp == 1 ? 0 : ICX_REJECT_CANISTER_REJECT;
  uint16_t ecode = e->resp == 1 || x->origin != ICX_ORIGIN_INGRESS ? 0 : 406;
  icx_status rc = icxCanister_respond(c, x, rcode, ecode, e->reply, e->reply_len, e->available,
                                      out, err);
  x->responded = 1;
  x->available = icxU128_zero();
  e->available = icxU128_zero();
  return rc;
}

/* ---- finishing ---------------------------------------------------------------------------- */

/* UPDATE, QUERY_REPLICATED and tasks. */
static icx_status finish_call(icxCanister *c, icxExecution *e, int step, icxExecOutcome *out,
                              icxErr *err) {
  icx_status rc = ICX_OK;
  if (step == ICX_STEP_DONE && e->api != ICX_API_RQ) {
    rc = icxCanister_commit_memory(c, err);
    if (rc != ICX_OK) {
      icxCanister_rollback_memory(c);
      c->balance = icxU128_add_sat(c->balance, e->prepaid);
      return rc;
    }
  } else {
    icxCanister_rollback_memory(c);
  }
  settle(c, e, out);
  uint8_t origin = e->kind == ICX_EXEC_UPDATE || e->kind == ICX_EXEC_QUERY_REPLICATED
                       ? (e->msg.kind == ICX_MSG_INGRESS ? ICX_ORIGIN_INGRESS : ICX_ORIGIN_CANISTER)
                       : ICX_ORIGIN_SYSTEM;
  icxCallContext x;
  ctx_from_msg(e->has_msg ? &e->msg : NULL, origin, &x);
  x.id = e->ctx_id;
  if (step != ICX_STEP_DONE) {
    out->trapped = 1;
    icxExecution_error(e, &out->error_code, out->error, sizeof out->error);
    return icxCanister_respond(c, &x, ICX_REJECT_CANISTER_ERROR, out->error_code,
                               (const uint8_t *)out->error, strlen(out->error), x.available, out,
                               err);
  }
  commit_system(c, e, out);
  x.available = e->available;
  x.instructions = used_capped(e);
  if (e->resp) rc = send_response(c, e, &x, out, err);
  if (rc == ICX_OK && e->nreqs) {
    rc = commit_calls(c, e, out, err);
    if (rc == ICX_OK) rc = icxCanister_ctx_push(c, &x);
    if (rc != ICX_OK) return icxErr_set(err, ICX_ENOMEM, "out of memory (call context)");
  } else if (rc == ICX_OK && !e->resp && origin != ICX_ORIGIN_SYSTEM) {
    did_not_reply(c, out->error, sizeof out->error);
    out->error_code = 506;
    rc = icxCanister_respond(c, &x, ICX_REJECT_CANISTER_ERROR, 506, (const uint8_t *)out->error,
                             strlen(out->error), x.available, out, err);
  }
  c->next_ctx_id++;
  return rc;
}

static int run_cleanup(icxExecution *e, icxExecOutcome *out);

/* RESPONSE: the callback (phase 0) or its cleanup (phase 1). */
static icx_status finish_response(icxCanister *c, icxExecution *e, int step,
                                  icxExecOutcome *out, icxErr *err) {
  icx_status rc = ICX_OK;
  if (step == ICX_STEP_DONE) {
    rc = icxCanister_commit_memory(c, err);
    if (rc != ICX_OK) {
      icxCanister_rollback_memory(c);
      return rc;
    }
  } else {
    icxCanister_rollback_memory(c);
  }
  if (e->phase == 0 && step == ICX_STEP_FAIL && e->cb.has_cleanup) {
    uint8_t help;
    icxExecution_error(e, &e->cb_err_code, e->cb_err, sizeof e->cb_err);
    icxExecution_describe(e, &e->cb_err_code, e->cb_desc, sizeof e->cb_desc, &help);
    step = run_cleanup(e, out);
    if (step == ICX_STEP_PAUSED) return ICX_OK;
    if (step == ICX_STEP_ERROR) return icxErr_set(err, ICX_ENOMEM, "out of memory (cleanup)");
    return finish_response(c, e, step, out, err);
  }
  /* the refunds that came with the response, then the unused prepayment */
  c->balance = icxU128_add_sat(c->balance, e->refunded);
  icxU128 tr = icxCycles_response_transmission_refund(&e->cfg.fees, e->cfg.subnet_size,
                                                      e->msg.len, e->cb.prepaid_transmission);
  c->balance = icxU128_add_sat(c->balance, tr);
  out->burned = icxU128_add_sat(out->burned, icxU128_sub_sat(e->cb.prepaid_transmission, tr));
  settle(c, e, out);
  int64_t cbi = icxCanister_cb_find(c, e->cb.id);
  if (cbi >= 0) icxCanister_cb_remove(c, (uint64_t)cbi);
  int64_t xi = icxCanister_ctx_find(c, e->cb.ctx);
  icxCallContext *x = xi >= 0 ? &c->ctxs[xi] : NULL;
  if (x) x->instructions += used_capped(e);
  if (step == ICX_STEP_DONE) {
    commit_system(c, e, out);
    if (x) x->available = e->available;
    if (x && e->resp) rc = send_response(c, e, x, out, err);
    if (rc == ICX_OK) rc = commit_calls(c, e, out, err);
    if (rc != ICX_OK) return rc;
  }
  const char *text = out->error;
  uint16_t ecode = 506;
  if (step != ICX_STEP_DONE) {
    out->trapped = 1;
    if (e->phase == 1) {
      /* the replica's HypervisorError::Cleanup: both descriptions, the
       * callback's code, no help line */
      uint16_t cc;
      uint8_t help;
      char cleanup_desc[ICX_ERROR_TEXT_MAX / 2], both[ICX_ERROR_TEXT_MAX];
      icxExecution_describe(e, &cc, cleanup_desc, sizeof cleanup_desc, &help);
      snprintf(both, sizeof both, "%.700s\n\ncall_on_cleanup also failed:\n\n%s", e->cb_desc,
               cleanup_desc);
      icxExecution_format(c, both, ICX_HELP_NONE, e->cb_err_code, out->error, sizeof out->error);
      out->error_code = e->cb_err_code;
    } else {
      icxExecution_error(e, &out->error_code, out->error, sizeof out->error);
    }
    ecode = out->error_code;
  } else {
    did_not_reply(c, out->error, sizeof out->error);
  }
  if (e->phase == 1 && step == ICX_STEP_DONE) { /* the callback's error answers the context */
    snprintf(out->error, sizeof out->error, "%s", e->cb_err);
    ecode = out->error_code = e->cb_err_code;
    out->trapped = 1;
  }
  rc = close_ctx(c, xi, ICX_REJECT_CANISTER_ERROR, ecode, text, out, err);
  if (step == ICX_STEP_DONE && e->phase == 0) {
    out->error[0] = 0;
    out->error_code = 0;
  }
  return rc;
}

/* Non-replicated query and inspect_message: everything is discarded. */
static icx_status finish_query(icxCanister *c, icxExecution *e, int step, icxExecOutcome *out,
                               icxErr *err) {
  icxCanister_rollback_memory(c);
  out->instructions = used_capped(e);
  if (step != ICX_STEP_DONE) {
    out->trapped = 1;
    icxExecution_error(e, &out->error_code, out->error, sizeof out->error);
  }
  if (e->kind == ICX_EXEC_INSPECT) {
    out->accepted = step == ICX_STEP_DONE && e->accepted;
    return ICX_OK;
  }
  icxCallContext x;
  ctx_from_msg(&e->msg, ICX_ORIGIN_INGRESS, &x);
  x.available = icxU128_zero();
  if (step != ICX_STEP_DONE)
    return icxCanister_respond(c, &x, ICX_REJECT_CANISTER_ERROR, out->error_code,
                               (const uint8_t *)out->error, strlen(out->error), x.available, out,
                               err);
  if (e->resp) return send_response(c, e, &x, out, err);
  did_not_reply(c, out->error, sizeof out->error);
  out->error_code = 506;
  return icxCanister_respond(c, &x, ICX_REJECT_CANISTER_ERROR, 506, (const uint8_t *)out->error,
                             strlen(out->error), x.available, out, err);
}

/* COMPOSITE_QUERY: the memory changes stay in c (a working copy); the
 * context stays open while calls are outstanding. */
static icx_status finish_composite(icxCanister *c, icxExecution *e, int step,
                                   icxExecOutcome *out, icxErr *err) {
  icx_status rc = ICX_OK;
  if (step == ICX_STEP_DONE) {
    rc = icxCanister_commit_memory(c, err);
    if (rc != ICX_OK) {
      icxCanister_rollback_memory(c);
      return rc;
    }
  } else {
    icxCanister_rollback_memory(c);
  }
  out->instructions = used_capped(e);
  c->instructions_total += out->instructions;
  icxCallContext x;
  ctx_from_msg(&e->msg, ICX_ORIGIN_INGRESS, &x);
  x.id = e->ctx_id;
  x.query = 1;
  x.available = icxU128_zero();
  c->next_ctx_id++;
  if (step != ICX_STEP_DONE) {
    out->trapped = 1;
    icxExecution_error(e, &out->error_code, out->error, sizeof out->error);
    return icxCanister_respond(c, &x, ICX_REJECT_CANISTER_ERROR, out->error_code,
                               (const uint8_t *)out->error, strlen(out->error), x.available, out,
                               err);
  }
  if (e->call.active) { /* a call under construction is dropped, its cycles back */
    e->balance = icxU128_add_sat(e->balance, e->call.cycles);
    icxSys_call_clear(&c->alloc, &e->call);
  }
  apply_balance(c, e);
  x.instructions = out->instructions;
  if (e->resp) rc = send_response(c, e, &x, out, err);
  if (rc == ICX_OK && e->nreqs) {
    rc = commit_calls(c, e, out, err);
    if (rc == ICX_OK) rc = icxCanister_ctx_push(c, &x);
    if (rc != ICX_OK) return icxErr_set(err, ICX_ENOMEM, "out of memory (call context)");
  } else if (rc == ICX_OK && !e->resp) {
    did_not_reply(c, out->error, sizeof out->error);
    out->error_code = 506;
    rc = icxCanister_respond(c, &x, ICX_REJECT_CANISTER_ERROR, 506, (const uint8_t *)out->error,
                             strlen(out->error), x.available, out, err);
  }
  return rc;
}

/* After a run: park a paused execution or finish it. */
static icx_status finish_step(icxCanister *c, icxExecution *e, int step, icxExecOutcome *out,
                              icxErr *err) {
  if (step == ICX_STEP_PAUSED) {
    c->paused = e;
    out->done = 0;
    out->instructions = e->used;
    return ICX_OK;
  }
  icx_status rc;
  out->done = 1;
  if (step == ICX_STEP_ERROR) {
    icxMsg m;
    int has = 0;
    c->paused = e;
    icxCanister_abort(c, &m, &has);
    if (has) icxMsg_free(&c->alloc, &m);
    icxExecOutcome_free(&c->alloc, out);
    return icxErr_set(err, ICX_ENOMEM, "out of host memory during the execution");
  }
  switch (e->kind) {
  case ICX_EXEC_RESPONSE: rc = finish_response(c, e, step, out, err); break;
  case ICX_EXEC_QUERY:
  case ICX_EXEC_INSPECT: rc = finish_query(c, e, step, out, err); break;
  case ICX_EXEC_COMPOSITE_QUERY: rc = finish_composite(c, e, step, out, err); break;
  default: rc = finish_call(c, e, step, out, err); break;
  }
  if (c->paused == e) return rc; /* a cleanup paused */
  icxExecution_free(e);
  return rc;
}

/* ---- starting executions ------------------------------------------------------------------ */

static void set_stable_limits(icxCanister *c, const icxExecution *e) {
  const icxRtConfig *cfg = &e->cfg;
  switch (e->api) {
  case ICX_API_RQ: case ICX_API_NRQ: case ICX_API_INSPECT: case ICX_API_CQ:
  case ICX_API_CRY: case ICX_API_CRT: case ICX_API_CC:
    icxStable_set_limits(c->stable, cfg->stable_access_pages_query, cfg->stable_access_pages_query);
    break;
  default:
    icxStable_set_limits(c->stable, cfg->stable_access_pages_update, cfg->stable_write_pages_update);
    break;
  }
}

static int start_run(icxCanister *c, icxExecution *e, const icxExecEnv *env, icxFuncInst *f,
                     int has_arg, uint64_t arg) {
  set_stable_limits(c, e);
  e->slice_size = env->slice;
  icxExecution_start_slice(e, c->x, env->slice);
  return icxExecution_run(e, c->x, f, has_arg, arg);
}

static void out_of_cycles(const icxCanister *c, icxU128 threshold, icxU128 need, char *buf,
                          size_t cap) {
  char id[80], n[ICX_U128_DEC_MAX];
  icxCanister_id_text(c, id, sizeof id);
  icxU128_to_dec(icxU128_sub_sat(icxU128_add_sat(threshold, need), c->balance), n, sizeof n);
  snprintf(buf, cap,
           "Canister %s is out of cycles: please top up the canister with at least %s additional "
           "cycles",
           id, n);
}

/* Status checks shared by calls and queries; 1 if a reject was produced. */
static int status_reject(icxCanister *c, const icxMsg *msg, icxExecOutcome *out, icx_status *rc,
                         icxErr *err) {
  char id[80], text[160];
  icxCanister_id_text(c, id, sizeof id);
  if (c->status == ICX_STATUS_RUNNING) return 0;
  int stopped = c->status == ICX_STATUS_STOPPED;
  /* the induction-time text (StateError::CanisterStopped/Stopping), which is
   * what a sender sees; execution's validate_canister says "is not running" */
  snprintf(text, sizeof text, "Canister %s is %s", id, stopped ? "stopped" : "stopping");
  *rc = reject_msg(c, msg, ICX_REJECT_CANISTER_ERROR, stopped ? 508 : 509, text, out, err);
  return 1;
}

static icx_status exec_call(icxCanister *c, const icxExecEnv *env, uint8_t kind,
                            const icxMsg *msg, icxExecOutcome *out, icxErr *err) {
  if (!msg || (msg->kind != ICX_MSG_INGRESS && msg->kind != ICX_MSG_REQUEST))
    return icxErr_set(err, ICX_EINVAL, "execute: an update needs an ingress or request message");
  icx_status rc = ICX_OK;
  if (status_reject(c, msg, out, &rc, err)) return rc;
  const icxRtConfig *cfg = env->cfg;
  uint64_t limit = cfg->max_instructions_message;
  icxWasmMode mode = c->code && c->code->mem64 ? ICX_WASM64 : ICX_WASM32;
  icxU128 prepay = icxCycles_execution_cost(&cfg->fees, cfg->subnet_size, limit, mode);
  icxU128 threshold = icxCanister_threshold(c, cfg);
  char text[ICX_ERROR_TEXT_MAX];
  if (!icxCycles_can_withdraw(c->balance, threshold, prepay)) {
    out_of_cycles(c, threshold, prepay, text, sizeof text);
    return reject_msg(c, msg, ICX_REJECT_SYS_TRANSIENT, 207, text, out, err);
  }
  char id[80];
  icxCanister_id_text(c, id, sizeof id);
  uint8_t epk = kind == ICX_EXEC_UPDATE ? ICX_EP_UPDATE : ICX_EP_QUERY;
  uint32_t fidx = icxCode_entry(c->code, epk, msg->method, msg->method_len);
  uint16_t ecode = 0;
  if (!c->code) {
    ecode = 537;
    pre_error(c, ecode,
              "Attempted to execute a message, but the canister contains no Wasm module.", text,
              sizeof text);
  } else if (fidx == UINT32_MAX) {
    char desc[400];
    ecode = 536;
    snprintf(desc, sizeof desc, "Canister has no %s method '%.*s'.",
             kind == ICX_EXEC_UPDATE ? "update" : "query", (int)(msg->method_len > 300 ? 300 : msg->method_len),
             msg->method ? msg->method : "");
    pre_error(c, ecode, desc, text, sizeof text);
  }
  if (ecode) { /* prepaid, nothing ran: only the fixed fee is kept */
    icxU128 refund = icxCycles_execution_refund(&cfg->fees, cfg->subnet_size, limit, mode, prepay);
    c->balance = icxU128_add_sat(icxU128_sub_sat(c->balance, prepay), refund);
    out->cycles_charged = icxU128_sub_sat(prepay, refund);
    out->burned = out->cycles_charged;
    return reject_msg(c, msg, ICX_REJECT_CANISTER_ERROR, ecode, text, out, err);
  }
  icxExecution *e = icxExecution_new(c, env, kind);
  if (!e) return icxErr_set(err, ICX_ENOMEM, "out of memory (execution)");
  if (icxMsg_copy(&c->alloc, msg, &e->msg, err) != ICX_OK) {
    icxExecution_free(e);
    return ICX_ENOMEM;
  }
  e->has_msg = 1;
  c->balance = icxU128_sub_sat(c->balance, prepay);
  e->balance = e->balance_start = c->balance;
  e->prepaid = prepay;
  e->threshold = threshold;
  e->limit = limit;
  e->api = kind == ICX_EXEC_UPDATE ? ICX_API_UPDATE : ICX_API_RQ;
  e->caller = msg->src;
  e->arg = e->msg.data;
  e->arg_len = e->msg.len;
  e->ctx_id = c->next_ctx_id;
  e->ctx_new = 1;
  e->can_respond = 1;
  e->available = msg->kind == ICX_MSG_REQUEST ? msg->cycles : icxU128_zero();
  e->deadline = msg->deadline;
  e->wasm_mem_limit = kind == ICX_EXEC_UPDATE ? icxU128_to_u64_sat(c->settings.wasm_memory_limit) : 0;
  int step = start_run(c, e, env, c->inst->funcs[fidx], 0, 0);
  return finish_step(c, e, step, out, err);
}

static icx_status exec_task(icxCanister *c, const icxExecEnv *env, uint8_t kind,
                            icxExecOutcome *out, icxErr *err) {
  uint8_t epk = kind == ICX_EXEC_HEARTBEAT      ? ICX_EP_HEARTBEAT
                : kind == ICX_EXEC_GLOBAL_TIMER ? ICX_EP_GLOBAL_TIMER
                                                : ICX_EP_ON_LOW_WASM_MEMORY;
  uint32_t fidx = icxCode_entry(c->code, epk, NULL, 0);
  if (!c->code || fidx == UINT32_MAX || c->status != ICX_STATUS_RUNNING) return ICX_OK;
  const icxRtConfig *cfg = env->cfg;
  uint64_t limit = cfg->max_instructions_message;
  icxWasmMode mode = c->code->mem64 ? ICX_WASM64 : ICX_WASM32;
  icxU128 prepay = icxCycles_execution_cost(&cfg->fees, cfg->subnet_size, limit, mode);
  icxU128 threshold = icxCanister_threshold(c, cfg);
  if (!icxCycles_can_withdraw(c->balance, threshold, prepay)) {
    out->error_code = 207;
    out_of_cycles(c, threshold, prepay, out->error, sizeof out->error);
    return ICX_OK;
  }
  icxExecution *e = icxExecution_new(c, env, kind);
  if (!e) return icxErr_set(err, ICX_ENOMEM, "out of memory (execution)");
  c->balance = icxU128_sub_sat(c->balance, prepay);
  e->balance = e->balance_start = c->balance;
  e->prepaid = prepay;
  e->threshold = threshold;
  e->limit = limit;
  e->api = kind == ICX_EXEC_HEARTBEAT      ? ICX_API_HEARTBEAT
           : kind == ICX_EXEC_GLOBAL_TIMER ? ICX_API_TIMER
                                           : ICX_API_LOW_MEMORY;
  e->caller = icxPrincipal_management();
  e->ctx_id = c->next_ctx_id;
  e->ctx_new = 1;
  if (kind == ICX_EXEC_GLOBAL_TIMER) { /* one-shot: cleared when it runs */
    e->timer_before = c->global_timer;
    c->global_timer = 0;
    e->timer = 0;
  }
  int step = start_run(c, e, env, c->inst->funcs[fidx], 0, 0);
  return finish_step(c, e, step, out, err);
}

/* The closure (table index fun) as a function of type (I) -> (). */
static icxFuncInst *closure(icxExecution *e, uint64_t fun) {
  icxCanister *c = e->c;
  icxExtern ext;
  icxTableInst *t = NULL;
  if (icxRt_export(c->inst, "table", 5, &ext) == ICX_OK && ext.kind == ICX_EXT_TABLE)
    t = ext.u.table;
  icxFuncInst *f = t && fun < t->size ? (icxFuncInst *)(uintptr_t)t->elems[fun] : NULL;
  if (f) {
    const icxFuncType *ft = icxFuncInst_type(f);
    uint8_t want = e->mem64 ? ICX_I64 : ICX_I32;
    if (ft->nparams != 1 || ft->nresults != 0 || ft->types[0] != want) f = NULL;
  }
  if (!f) {
    e->fail = ICX_FAIL_FUNC;
    snprintf(e->err, sizeof e->err,
             "Canister requested to invoke a non-existent Wasm function %llu from table 0",
             (unsigned long long)fun);
  }
  return f;
}

/* Reset e's working copies for the cleanup closure and run it. */
static int run_cleanup(icxExecution *e, icxExecOutcome *out) {
  icxCanister *c = e->c;
  (void)out;
  e->phase = 1;
  e->api = e->query ? ICX_API_CC : ICX_API_CLEANUP;
  e->balance = e->balance_start;
  e->burned = icxU128_zero(); /* the callback's burns and call fees are rolled back */
  memcpy(e->certified, c->certified, sizeof e->certified);
  e->certified_len = c->certified_len;
  e->timer = c->global_timer;
  e->resp = 0;
  e->reply_len = 0;
  icxSys_call_clear(&c->alloc, &e->call);
  for (uint32_t i = 0; i < e->nreqs; i++) icxMsg_free(&c->alloc, &e->reqs[i]);
  e->nreqs = 0;
  int64_t xi = icxCanister_ctx_find(c, e->cb.ctx);
  e->available = xi >= 0 ? c->ctxs[xi].available : icxU128_zero();
  icxFuncInst *f = closure(e, e->cb.cleanup_fun);
  if (!f) return ICX_STEP_FAIL;
  set_stable_limits(c, e);
  icxExecution_start_slice(e, c->x, e->slice_size);
  return icxExecution_run(e, c->x, f, 1, e->cb.cleanup_env);
}

static icx_status exec_response(icxCanister *c, const icxExecEnv *env, const icxMsg *msg,
                                icxExecOutcome *out, icxErr *err) {
  if (!msg || msg->kind != ICX_MSG_RESPONSE)
    return icxErr_set(err, ICX_EINVAL, "execute: a callback needs a response message");
  int64_t cbi = icxCanister_cb_find(c, msg->callback);
  if (cbi < 0)
    return icxErr_set(err, ICX_ENOTFOUND, "no callback %llu", (unsigned long long)msg->callback);
  icxCallback cb = c->cbs[cbi];
  int64_t xi = icxCanister_ctx_find(c, cb.ctx);
  const icxRtConfig *cfg = env->cfg;
  if (xi < 0 || c->ctxs[xi].deleted || !c->code) {
    /* after uninstall: no code runs, the prepayment is settled */
    c->balance = icxU128_add_sat(c->balance, msg->cycles);
    icxU128 tr = icxCycles_response_transmission_refund(&cfg->fees, cfg->subnet_size, msg->len,
                                                        cb.prepaid_transmission);
    c->balance = icxU128_add_sat(c->balance, tr);
    icxU128 r = icxCycles_unexecuted_response_refund(&cfg->fees, cfg->subnet_size, cb.prepaid);
    c->balance = icxU128_add_sat(c->balance, r);
    out->cycles_charged = icxU128_sub_sat(cb.prepaid, r);
    out->burned = icxU128_add_sat(out->cycles_charged,
                                  icxU128_sub_sat(cb.prepaid_transmission, tr));
    icxCanister_cb_remove(c, (uint64_t)cbi);
    if (xi >= 0 && !icxCanister_ctx_has_callbacks(c, cb.ctx))
      icxCanister_ctx_remove(c, (uint64_t)xi);
    return ICX_OK;
  }
  icxExecution *e = icxExecution_new(c, env, ICX_EXEC_RESPONSE);
  if (!e) return icxErr_set(err, ICX_ENOMEM, "out of memory (execution)");
  if (icxMsg_copy(&c->alloc, msg, &e->msg, err) != ICX_OK) {
    icxExecution_free(e);
    return ICX_ENOMEM;
  }
  e->has_msg = 1;
  e->cb = cb;
  const icxCallContext *x = &c->ctxs[xi];
  e->prepaid = cb.prepaid;
  e->limit = cfg->max_instructions_message;
  e->refunded = msg->cycles;
  /* the refund is in the balance before the callback runs (added to c at finish) */
  e->balance = e->balance_start = icxU128_add_sat(c->balance, msg->cycles);
  e->api = msg->reject_code ? ICX_API_REJECT : ICX_API_REPLY;
  if (x->query) { /* a composite query's callback: CRy / CRt, non-replicated */
    e->query = 1;
    e->replicated = 0;
    e->api = msg->reject_code ? ICX_API_CRT : ICX_API_CRY;
    e->limit = env->query_limit ? env->query_limit : cfg->max_instructions_query;
  }
  e->caller = x->caller;
  e->ctx_id = cb.ctx;
  e->can_respond = !x->responded && x->origin != ICX_ORIGIN_SYSTEM;
  e->available = x->available;
  e->ctx_instr_before = x->instructions;
  e->deadline = x->deadline;
  e->reject_code = msg->reject_code;
  if (msg->reject_code) {
    e->reject_msg = e->msg.data;
    e->reject_msg_len = e->msg.len;
  } else {
    e->arg = e->msg.data;
    e->arg_len = e->msg.len;
  }
  icxFuncInst *f = closure(e, msg->reject_code ? cb.reject_fun : cb.reply_fun);
  int step;
  if (!f) {
    set_stable_limits(c, e);
    icxExecution_start_slice(e, c->x, env->slice);
    step = ICX_STEP_FAIL;
  } else {
    step = start_run(c, e, env, f, 1, msg->reject_code ? cb.reject_env : cb.reply_env);
  }
  return finish_step(c, e, step, out, err);
}

static icx_status exec_query(icxCanister *c, const icxExecEnv *env, uint8_t kind,
                             const icxMsg *msg, icxExecOutcome *out, icxErr *err) {
  if (!msg || msg->kind != ICX_MSG_INGRESS)
    return icxErr_set(err, ICX_EINVAL, "execute: a query needs an ingress-like message");
  icx_status rc = ICX_OK;
  char id[80], text[ICX_ERROR_TEXT_MAX];
  icxCanister_id_text(c, id, sizeof id);
  if (kind == ICX_EXEC_QUERY && status_reject(c, msg, out, &rc, err)) return rc;
  uint8_t epk = kind == ICX_EXEC_QUERY ? ICX_EP_QUERY : ICX_EP_INSPECT_MESSAGE;
  uint32_t fidx = icxCode_entry(c->code, epk, msg->method, msg->method_len);
  if (!c->code) {
    pre_error(c, 537,
              "Attempted to execute a message, but the canister contains no Wasm module.", text,
              sizeof text);
    if (kind == ICX_EXEC_INSPECT) {
      out->error_code = 537;
      snprintf(out->error, sizeof out->error, "%s", text);
      return ICX_OK;
    }
    return reject_msg(c, msg, ICX_REJECT_CANISTER_ERROR, 537, text, out, err);
  }
  if (fidx == UINT32_MAX) {
    if (kind == ICX_EXEC_INSPECT) { /* no inspect_message: accepted */
      out->accepted = 1;
      return ICX_OK;
    }
    char desc[400];
    snprintf(desc, sizeof desc, "Canister has no query method '%.*s'.",
             (int)(msg->method_len > 300 ? 300 : msg->method_len), msg->method ? msg->method : "");
    pre_error(c, 536, desc, text, sizeof text);
    return reject_msg(c, msg, ICX_REJECT_CANISTER_ERROR, 536, text, out, err);
  }
  icxExecution *e = icxExecution_new(c, env, kind);
  if (!e) return icxErr_set(err, ICX_ENOMEM, "out of memory (execution)");
  if (icxMsg_copy(&c->alloc, msg, &e->msg, err) != ICX_OK) {
    icxExecution_free(e);
    return ICX_ENOMEM;
  }
  e->has_msg = 1;
  e->replicated = 0;
  e->api = kind == ICX_EXEC_QUERY ? ICX_API_NRQ : ICX_API_INSPECT;
  e->limit = kind != ICX_EXEC_QUERY ? env->cfg->max_instructions_inspect
            : env->query_limit      ? env->query_limit
                                    : env->cfg->max_instructions_query;
  e->cert_present = kind == ICX_EXEC_QUERY && env->certificate_present;
  e->caller = msg->src;
  e->arg = e->msg.data;
  e->arg_len = e->msg.len;
  e->method = e->msg.method;
  e->method_len = e->msg.method_len;
  e->can_respond = kind == ICX_EXEC_QUERY;
  set_stable_limits(c, e);
  icxExecution_start_slice(e, c->x, 0); /* queries are not sliced */
  int step = icxExecution_run(e, c->x, c->inst->funcs[fidx], 0, 0);
  return finish_step(c, e, step, out, err);
}

/* canister_composite_query <m> (CQ): unsliced, no cycles, under the query
 * limit; the changes stay in c (finish_composite). */
static icx_status exec_composite(icxCanister *c, const icxExecEnv *env, const icxMsg *msg,
                                 icxExecOutcome *out, icxErr *err) {
  if (!msg || msg->kind != ICX_MSG_INGRESS)
    return icxErr_set(err, ICX_EINVAL, "execute: a composite query needs an ingress-like message");
  icx_status rc = ICX_OK;
  char text[ICX_ERROR_TEXT_MAX];
  if (status_reject(c, msg, out, &rc, err)) return rc;
  uint32_t fidx = icxCode_entry(c->code, ICX_EP_COMPOSITE_QUERY, msg->method, msg->method_len);
  if (!c->code || fidx == UINT32_MAX) {
    uint16_t code = c->code ? 536 : 537;
    char desc[400];
    if (c->code)
      snprintf(desc, sizeof desc, "Canister has no composite query method '%.*s'.",
               (int)(msg->method_len > 300 ? 300 : msg->method_len),
               msg->method ? msg->method : "");
    else
      snprintf(desc, sizeof desc,
               "Attempted to execute a message, but the canister contains no Wasm module.");
    pre_error(c, code, desc, text, sizeof text);
    return reject_msg(c, msg, ICX_REJECT_CANISTER_ERROR, code, text, out, err);
  }
  icxExecution *e = icxExecution_new(c, env, ICX_EXEC_COMPOSITE_QUERY);
  if (!e) return icxErr_set(err, ICX_ENOMEM, "out of memory (execution)");
  if (icxMsg_copy(&c->alloc, msg, &e->msg, err) != ICX_OK) {
    icxExecution_free(e);
    return ICX_ENOMEM;
  }
  e->has_msg = 1;
  e->replicated = 0;
  e->query = 1;
  e->api = ICX_API_CQ;
  e->limit = env->query_limit ? env->query_limit : env->cfg->max_instructions_query;
  e->cert_present = env->certificate_present;
  e->caller = msg->src;
  e->arg = e->msg.data;
  e->arg_len = e->msg.len;
  e->ctx_id = c->next_ctx_id;
  e->ctx_new = 1;
  e->can_respond = 1;
  set_stable_limits(c, e);
  icxExecution_start_slice(e, c->x, 0); /* queries are not sliced */
  int step = icxExecution_run(e, c->x, c->inst->funcs[fidx], 0, 0);
  return finish_step(c, e, step, out, err);
}

/* ---- the entry points of canister.h ---------------------------------------------------- */

icx_status icxCanister_execute(icxCanister *c, const icxExecEnv *env, uint8_t kind,
                               const icxMsg *msg, icxExecOutcome *out, icxErr *err) {
  memset(out, 0, sizeof *out);
  out->done = 1;
  if (!c || !env || !env->cfg) return icxErr_set(err, ICX_EINVAL, "execute: NULL argument");
  if (c->paused) return icxErr_set(err, ICX_ESTATE, "the canister has a paused execution");
  switch (kind) {
  case ICX_EXEC_UPDATE:
  case ICX_EXEC_QUERY_REPLICATED: return exec_call(c, env, kind, msg, out, err);
  case ICX_EXEC_RESPONSE: return exec_response(c, env, msg, out, err);
  case ICX_EXEC_QUERY:
  case ICX_EXEC_INSPECT: return exec_query(c, env, kind, msg, out, err);
  case ICX_EXEC_COMPOSITE_QUERY: return exec_composite(c, env, msg, out, err);
  case ICX_EXEC_HEARTBEAT:
  case ICX_EXEC_GLOBAL_TIMER:
  case ICX_EXEC_LOW_MEMORY: return exec_task(c, env, kind, out, err);
  default: return icxErr_set(err, ICX_EINVAL, "execute: kind %u is not supported", kind);
  }
}

icx_status icxCanister_resume(icxCanister *c, const icxExecEnv *env, icxExecOutcome *out,
                              icxErr *err) {
  memset(out, 0, sizeof *out);
  icxExecution *e = c->paused;
  if (!e) return icxErr_set(err, ICX_ESTATE, "the canister has no paused execution");
  c->paused = NULL;
  e->slice_size = env->slice;
  /* the debug sink is the resuming round's (its per-core buffer) */
  e->cfg.debug_print = env->cfg->debug_print;
  e->cfg.debug_print_ud = env->cfg->debug_print_ud;
  e->root_key = env->root_key;
  e->root_key_len = env->root_key_len;
  e->certificate = env->certificate;
  e->certificate_len = env->certificate_len;
  if (e->kind == ICX_EXEC_INSTALL) return icxInstall_resume(c, e, env, out, err);
  icxExecution_start_slice(e, c->x, env->slice);
  int step = icxExecution_run(e, c->x, NULL, 0, 0);
  return finish_step(c, e, step, out, err);
}

icxU128 icxCanister_paused_cycles(const icxCanister *c) {
  const icxExecution *e = c->paused;
  if (!e) return icxU128_zero();
  icxU128 v = e->kind == ICX_EXEC_RESPONSE ? icxU128_zero() : e->prepaid;
  return e->has_msg ? icxU128_add_sat(v, e->msg.cycles) : v;
}

void icxCanister_abort(icxCanister *c, icxMsg *msg, int *has_msg) {
  *has_msg = 0;
  icxExecution *e = c->paused;
  if (!e) return;
  c->paused = NULL;
  if (e->kind == ICX_EXEC_INSTALL) {
    icxInstall_abort(c, e);
    return;
  }
  if (c->x) icxExec_reset(c->x);
  icxCanister_rollback_memory(c);
  if (e->kind != ICX_EXEC_RESPONSE) c->balance = icxU128_add_sat(c->balance, e->prepaid);
  if (e->kind == ICX_EXEC_GLOBAL_TIMER) c->global_timer = e->timer_before;
  if (e->has_msg) {
    *msg = e->msg;
    *has_msg = 1;
    e->has_msg = 0;
  }
  icxExecution_free(e);
}
