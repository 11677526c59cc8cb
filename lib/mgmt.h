/* mgmt.h -- the management canister aaaaa-aa (docs/management.md): the
 * subnet messages create_canister, provisional_create_canister_with_cycles,
 * install_code, uninstall_code, update_settings, start_canister,
 * stop_canister, canister_status, delete_canister, deposit_cycles,
 * provisional_top_up_canister and raw_rand, executed on an icxState. */
#ifndef ICX_MGMT_H
#define ICX_MGMT_H

#include "state.h"

/* Replica error codes (IC0xxx) the management canister produces. */
enum {
  ICX_ERR_CANISTER_ID_ALREADY_EXISTS = 205,
  ICX_ERR_CANISTER_NOT_FOUND = 301,
  ICX_ERR_INSUFFICIENT_CYCLES_FOR_CREATE = 403,
  ICX_ERR_INVALID_MANAGEMENT_PAYLOAD = 408,
  ICX_ERR_CONTRACT_VIOLATION = 504,
  ICX_ERR_INVALID_WASM = 505,
  ICX_ERR_CANISTER_NOT_STOPPED = 510,
  ICX_ERR_STOPPING_CANCELLED = 511,
  ICX_ERR_INVALID_CONTROLLER = 512,
  ICX_ERR_CANISTER_NON_EMPTY = 514,
  ICX_ERR_METHOD_NOT_FOUND = 536
};

/* Execute one message to aaaaa-aa (kind INGRESS from a user or REQUEST
 * from a canister; takes *m).  Its answer -- reply or reject, with the
 * unused attached cycles refunded -- is routed through icxState_route (an
 * ingress answer becomes an ingress result).  raw_rand and stop_canister
 * may be answered later (icxState_answer_raw_rand,
 * icxState_process_stopping).  Every problem with the call itself
 * (malformed Candid, unknown method, missing canister, not a controller,
 * wrong state, too few cycles) is a reject, never an error.  Errors:
 * ICX_ENOMEM and ICX_EINTERNAL only. */
ICX_INTERNAL icx_status icxMgmt_execute(icxState *st, icxMsg *m, icxErr *err);

/* install_code under DTS (reference section 5): an install that does not
 * finish in its first slice stays paused on its canister and its message
 * waits in st->installs; every round resumes each paused install for one
 * install slice (in order), and the answer is sent when it finishes.
 * Meanwhile the canister runs nothing else and management messages that
 * target it wait in the queue (icxMgmt_blocked).  Errors: ICX_ENOMEM. */
ICX_INTERNAL icx_status icxMgmt_resume_installs(icxState *st, icxErr *err);
/* Abort c's paused install (checkpoint): the canister is as before it,
 * and its install_code message goes back to the front of the management
 * queue to run again from the start.  No-op if c has none.  ICX_ENOMEM. */
ICX_INTERNAL icx_status icxMgmt_abort_install(icxState *st, icxCanister *c, icxErr *err);
/* 1 if management message m targets a canister whose install is paused. */
ICX_INTERNAL int icxMgmt_blocked(const icxState *st, const icxMsg *m);

#endif
