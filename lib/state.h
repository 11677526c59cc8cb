/* state.h -- the replicated state of one subnet: its canisters, the
 * management canister's pending work, the round's random tape, the
 * messages that leave the subnet and the ingress results; message routing
 * inside the subnet; the state hash (docs/management.md).
 *
 * Layering: on top of the canister runtime (canister.h).  The management
 * canister (mgmt.h, mgmt.c) and the scheduler work on an icxState.
 *
 * Ownership: the state owns its canisters and every message it holds.
 * Functions that take an icxMsg by pointer and say "takes" move it into
 * the state (the caller's struct is zeroed, also on error).
 *
 * Determinism: canisters live in an array sorted by id (binary search,
 * iteration in id order); every other collection is a FIFO in the order of
 * arrival.  Nothing depends on pointers, hash tables or the clock.
 *
 * Threading: one thread at a time. */
#ifndef ICX_STATE_H
#define ICX_STATE_H

#include "canister.h"
#include "candid_mgmt.h"
#include "pagemap.h"
#include "randtape.h"

/* Input queue capacity per (sender, receiver) pair (Q DEFAULT_QUEUE_CAPACITY). */
#define ICX_QUEUE_CAPACITY 500u
/* Canister ids per subnet (drun's single subnet: indices 0 .. 2^20 - 1). */
#define ICX_CANISTER_IDS_PER_SUBNET (1ull << 20)
/* Default balance of provisional_create_canister_with_cycles without amount (EE). */
#define ICX_DEFAULT_PROVISIONAL_CYCLES_LO 100000000000000ull /* 100 T */
/* Default wasm_memory_limit of new canisters (EE: 3 GiB). */
#define ICX_DEFAULT_WASM_MEMORY_LIMIT (3ull << 30)

/* A raw_rand request waiting for a later round (reference section 8). */
typedef struct icxRawRandCtx {
  icx_principal caller;    /* the requesting canister */
  uint64_t callback;       /* its callback id */
  icxU128 cycles;          /* attached: refunded with the answer */
  uint64_t deadline;
  uint64_t round;          /* round in which the request arrived */
} icxRawRandCtx;

/* A stop_canister call waiting for its canister to reach Stopped. */
typedef struct icxStopCtx {
  icx_principal canister;  /* the canister being stopped */
  uint8_t from_ingress;    /* 1: msg_id/sender identify an ingress message */
  icx_principal sender;
  uint64_t callback;       /* canister caller: its callback id */
  uint8_t msg_id[32];
  icxU128 cycles;          /* attached: refunded with the answer */
  uint64_t deadline;
} icxStopCtx;

/* A growable FIFO of messages. */
typedef struct icxMsgList {
  icxMsg *v;
  uint32_t n, cap;
} icxMsgList;

typedef struct icxState {
  icxAllocator alloc;
  icxRtConfig cfg;
  icxPmCtx *pm;                /* page maps of every canister */
  uint8_t own_pm;              /* pm was created by icxState_new */
  icxMgmtTypes types;          /* Candid types of aaaaa-aa */

  /* Canisters sorted by id (icxPrincipal_cmp). */
  icxCanister **can;
  uint32_t ncan, capcan;
  /* Id allocation: canister index range of this subnet and the next index. */
  uint64_t range_lo, range_hi, next_index;

  /* Round inputs. */
  uint64_t round, time_ns;
  icxRandTape tape;
  uint8_t have_tape;

  /* Management canister. */
  icxMsgList mgmt_in;          /* requests and ingress to aaaaa-aa, FIFO */
  icxMsgList installs;         /* install_code calls paused across rounds (DTS), FIFO:
                                * the original message with dst = the canister being
                                * installed (its paused execution is that canister's
                                * c->paused); mgmt.c */
  icxRawRandCtx *rr;           /* postponed raw_rand, FIFO */
  uint32_t nrr, caprr;
  icxStopCtx *stops;           /* pending stop_canister calls, FIFO */
  uint32_t nstops, capstops;

  /* Outputs. */
  icxMsgList outbox;           /* requests/responses for other subnets, production order */
  icxMsgList ingress;          /* ingress results (RESPONSE, to_ingress = 1), in order */

  /* Resource charging: batch time of the last subnet-wide charge (0: none). */
  uint64_t last_charge_ns;

  /* Cycles bookkeeping (not hashed: derived statistics). */
  icxU128 minted;              /* provisional creations and top-ups */
  uint64_t mgmt_executed;      /* management messages executed so far (a statistic) */
  icxU128 xnet_in, xnet_out;   /* cycles carried in by messages from other subnets and
                                * out by messages to them (icxState_induct_xnet,
                                * icxState_note_exported) */
  icxU128 burned;              /* every fee (executions via icxExecOutcome.burned,
                                * calls, induction, creation, resources),
                                * cycles_burn128, holdings of deleted or dried-up
                                * canisters, undeliverable refunds */

  /* 1: reject messages from aaaaa-aa to canisters start with "IC0xxx: "
   * (the newest replica); 0 (default): the description alone, as drun. */
  uint8_t reject_with_code_prefix;
} icxState;

/* A new empty state with a copy of cfg.  pm may be NULL (a context is
 * created and owned).  Errors: ICX_EINVAL, ICX_ENOMEM. */
ICX_INTERNAL icx_status icxState_new(const icxAllocator *a, const icxRtConfig *cfg, icxPmCtx *pm,
                                     icxState **out, icxErr *err);
/* Free everything (NULL: no-op). */
ICX_INTERNAL void icxState_free(icxState *st);

/* ---- canisters ------------------------------------------------------------- */
/* The canister with id *id, or NULL. O(log n). */
ICX_INTERNAL icxCanister *icxState_canister(const icxState *st, const icx_principal *id);
/* Index of the canister in st->can, or -1. */
ICX_INTERNAL int64_t icxState_find(const icxState *st, const icx_principal *id);
/* The next id of the drun sequence (index next_index, skipping ids in use)
 * without taking it.  ICX_ELIMIT when the range is used up. */
ICX_INTERNAL icx_status icxState_peek_id(const icxState *st, icx_principal *out, icxErr *err);
/* Create an empty canister: id = *specified, or the next id of the
 * sequence if specified is NULL (then the sequence advances).  Controllers
 * and settings: defaults (docs/management.md) with `settings` applied (may
 * be NULL); balance `cycles`.  Errors: ICX_ESTATE (id exists), ICX_ELIMIT
 * (out of ids), ICX_EINVAL, ICX_ENOMEM; nothing changes on error. */
ICX_INTERNAL icx_status icxState_create_canister(icxState *st, const icx_principal *specified,
                                                 const icx_principal *controller,
                                                 const icxCanisterSettings *settings,
                                                 icxU128 cycles, icxCanister **out, icxErr *err);
/* Remove and free a canister (its balance is added to burned).  Requests
 * still in its input queue are answered with DESTINATION_INVALID rejects. */
ICX_INTERNAL icx_status icxState_delete_canister(icxState *st, const icx_principal *id,
                                                 icxErr *err);
/* Default settings of a new canister (all fields set). */
ICX_INTERNAL void icxState_default_settings(const icxState *st, icxCanisterSettings *s);
/* Merge the fields of `upd` that are set into `c`'s settings (and controllers). */
ICX_INTERNAL void icxState_apply_settings(icxCanister *c, const icxCanisterSettings *upd);

/* ---- rounds --------------------------------------------------------------- */
/* Start round `round` at time_ns: derive the random tape from the round
 * number and the batch's signature sig[0..len).  Errors from icxRandTape_init. */
ICX_INTERNAL icx_status icxState_begin_round(icxState *st, uint64_t round, uint64_t time_ns,
                                             const uint8_t *sig, size_t len, icxErr *err);
/* Answer every postponed raw_rand request that arrived before this round,
 * in arrival order, each with 32 fresh bytes of this round's tape. */
ICX_INTERNAL icx_status icxState_answer_raw_rand(icxState *st, icxErr *err);
/* Execute every message queued for the management canister (FIFO; also
 * those that arrive meanwhile), then move Stopping canisters without open
 * call contexts to Stopped. */
ICX_INTERNAL icx_status icxState_run_mgmt(icxState *st, icxErr *err);
/* Stopping canisters without open call contexts become Stopped (version
 * + 1) and their pending stop_canister calls are answered, in id order. */
ICX_INTERNAL icx_status icxState_process_stopping(icxState *st, icxErr *err);

/* Queue a postponed raw_rand request / a pending stop_canister call (FIFO).
 * Errors: ICX_ENOMEM. */
ICX_INTERNAL icx_status icxState_add_raw_rand(icxState *st, const icxRawRandCtx *x, icxErr *err);
ICX_INTERNAL icx_status icxState_add_stop(icxState *st, const icxStopCtx *x, icxErr *err);
/* Answer and remove every pending stop_canister call for canister *id, in
 * arrival order: reject_code 0 replies (empty Candid), otherwise a reject
 * with error_code and text. */
ICX_INTERNAL icx_status icxState_answer_stops(icxState *st, const icx_principal *id,
                                              uint32_t reject_code, uint16_t error_code,
                                              const char *text, icxErr *err);

/* ---- messages -------------------------------------------------------------- */
/* Submit an ingress message (kind INGRESS; src = user, dst = canister or
 * aaaaa-aa, msg_id set).  Takes *m.  A missing destination or a full queue
 * gives a failed ingress result at once.  Errors: ICX_EINVAL, ICX_ENOMEM. */
ICX_INTERNAL icx_status icxState_submit_ingress(icxState *st, icxMsg *m, icxErr *err);
/* Route the messages an execution produced (out[0..n), in order; takes
 * each of them): a RESPONSE to an ingress becomes an ingress result; a
 * REQUEST to aaaaa-aa joins the management queue; a message to a local
 * canister joins its input queue (a request beyond ICX_QUEUE_CAPACITY from
 * the same sender, or to a canister id of this subnet that does not exist,
 * is answered with a reject); anything else goes to the outbox.  A response
 * for a canister that no longer exists is dropped.  Errors: ICX_ENOMEM
 * (the messages not yet routed are freed). */
ICX_INTERNAL icx_status icxState_route(icxState *st, icxMsg *out, uint32_t n, icxErr *err);
/* Induct a message from another subnet (takes *m; docs/round.md "Messages
 * from other subnets").  A request goes the way a local one does (queue,
 * or a reject response when its destination is missing, not on this
 * subnet or its queue is full); a response is queued only for a callback
 * its canister holds, made for a call to the response's sender, and not
 * answered yet (queued or running); anything else (including messages
 * that claim a sender on this subnet) is dropped with its cycles burned.
 * Its cycles are added to st->xnet_in.  Errors: ICX_ENOMEM. */
ICX_INTERNAL icx_status icxState_induct_xnet(icxState *st, icxMsg *m, icxErr *err);
/* Add the cycles of the messages in list (leaving the subnet) to
 * st->xnet_out. */
ICX_INTERNAL void icxState_note_exported(icxState *st, const icxMsgList *list);
/* A reject response answering request (or ingress) `req`, with its cycles
 * refunded; data = the message text.  Does not take req. */
ICX_INTERNAL icx_status icxState_make_reject(icxState *st, const icxMsg *req, uint32_t reject_code,
                                             uint16_t error_code, const char *text,
                                             icxMsg *out, icxErr *err);
/* Input-queue operations on a canister of the state. */
ICX_INTERNAL icx_status icxState_push_input(icxState *st, icxCanister *c, icxMsg *m, icxErr *err);
/* The same at the front of the queue (an aborted execution's message runs
 * next).  Takes *m, also on failure. */
ICX_INTERNAL icx_status icxState_push_input_front(icxState *st, icxCanister *c, icxMsg *m,
                                                  icxErr *err);
/* Pop the oldest message of c's input queue into *m; 0 if empty. */
ICX_INTERNAL int icxState_pop_input(icxCanister *c, icxMsg *m);
/* Messages in c's input queue sent by *src of kind `kind`. */
ICX_INTERNAL uint32_t icxState_queued_from(const icxCanister *c, const icx_principal *src,
                                           uint8_t kind);
/* Call contexts of c that are still open (not responded, or with callbacks). */
ICX_INTERNAL uint32_t icxState_open_contexts(const icxCanister *c);
/* Append a copy-free message to a list (takes *m). */
ICX_INTERNAL icx_status icxMsgList_push(const icxAllocator *a, icxMsgList *l, icxMsg *m,
                                        icxErr *err);
/* The same at the front (O(n)). */
ICX_INTERNAL icx_status icxMsgList_push_front(const icxAllocator *a, icxMsgList *l, icxMsg *m,
                                              icxErr *err);
ICX_INTERNAL void icxMsgList_free(const icxAllocator *a, icxMsgList *l);
/* Free the method and data of m and zero it (the state's allocator). */
ICX_INTERNAL void icxState_msg_clear(const icxAllocator *a, icxMsg *m);

/* ---- resource charging (reference 6.5, 7.3, 7.4, 9.1 step 10) -------------- */
/* Charge the canisters for their resources at batch time now_ns, when at
 * least fees.duration_between_allocation_charges_s seconds have passed
 * since the last subnet-wide charge (otherwise nothing happens; *charged
 * and *uninstalled, when not NULL, report what was done).  Each canister
 * without a paused execution pays, for the whole seconds since its own
 * last charge: memory_cost + base_cost of max(memory_allocation,
 * icxCanister_memory_usage) plus compute_allocation_cost, the reserved
 * balance first (down to zero, no freezing threshold); its charge time
 * becomes now_ns.  A canister that cannot pay is deallocated: uninstalled
 * (open call contexts rejected, responses routed), compute and memory
 * allocation reset to 0, balance and reserved balance burned.  All fees go
 * to st->burned.  A canister with last_charge_ns 0 (created before the
 * state had a time) starts its period now without paying.
 * Errors: ICX_ENOMEM (charges already made stay; the state stays valid). */
ICX_INTERNAL icx_status icxState_charge_resources(icxState *st, uint64_t now_ns,
                                                  uint32_t *charged, uint32_t *uninstalled,
                                                  icxErr *err);

/* ---- accounting and hashing ------------------------------------------------ */
/* Sum of every balance and reserved balance, plus every cycle in flight:
 * queued messages, call contexts' available cycles, callbacks' response
 * prepayments (execution and transmission), paused executions' holdings
 * (icxCanister_paused_cycles) and pending management contexts.
 * Invariant: this + burned + xnet_out == minted + xnet_in (docs/cycles.md,
 * "Conservation"). */
ICX_INTERNAL icxU128 icxState_cycles_total(const icxState *st);
/* BLAKE2b-256 of the canonical encoding of everything replicated
 * (docs/management.md, "State hash"). */
ICX_INTERNAL icx_status icxState_hash(const icxState *st, uint8_t out[32], icxErr *err);
/* The hash of one canister (the state hash covers these in id order). */
ICX_INTERNAL icx_status icxState_canister_hash(const icxCanister *c, uint8_t out[32], icxErr *err);

#endif
