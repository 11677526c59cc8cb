/* query.h -- non-replicated execution on snapshots: queries and composite
 * queries (reference/ic-execution.md section 11; docs/round.md "Queries").
 *
 * A snapshot is a frozen copy of the committed state of every canister of
 * an icxState (icxCanisterImage, canister.h), sorted by id, plus the
 * configuration and the time of the state.  Taking one is O(canisters):
 * code and page maps are shared by reference, nothing is copied but the
 * globals.  The snapshot holds a reference to the page-map context, so it
 * stays valid after the state advances or is freed.
 *
 * A query runs on private working canisters made from the images
 * (icxCanister_from_image) and freed at the end: whatever it changes is
 * discarded.  A composite query's calls are run depth first, in the order
 * the calls were made, each callee on a fresh working copy of its image;
 * the caller's copy (with its changes) is kept until its call context is
 * answered.  Limits as the replica's query handler: call depth 6, the
 * query instruction limit for the whole call graph (each execution gets
 * min(max_instructions_query, what is left), each call to a canister costs
 * 50 M more), calls only to canisters of the snapshot.
 *
 * Threading: a snapshot is immutable; icxQuery_run may run on any number
 * of threads at once on one snapshot (it allocates with the snapshot's
 * allocator and calls cfg.debug_print on the calling thread).
 * icxSnapshot_free must not overlap a query on the snapshot. */
#ifndef ICX_QUERY_H
#define ICX_QUERY_H

#include "canister.h"
#include "state.h"

/* MAX_QUERY_CALL_DEPTH and INSTRUCTION_OVERHEAD_PER_QUERY_CALL (EE). */
#define ICX_QUERY_MAX_CALL_DEPTH 6u
#define ICX_QUERY_CALL_OVERHEAD 50000000ull

typedef struct icxSnapshot {
  icxAllocator alloc;
  icxPmCtx *pm;              /* referenced */
  icxRtConfig cfg;           /* the state's configuration */
  uint64_t round, time_ns;   /* the state's last round and its time */
  icxCanisterImage *can;     /* sorted by id */
  uint32_t ncan;
} icxSnapshot;

/* Snapshot st's committed canisters; cfg: the configuration queries run
 * with (NULL: st->cfg).  Errors: ICX_ENOMEM (nothing is left). */
ICX_INTERNAL icx_status icxSnapshot_new(const icxAllocator *a, const icxState *st,
                                        const icxRtConfig *cfg, icxSnapshot **out,
                                        icxErr *err);
/* NULL: no-op. */
ICX_INTERNAL void icxSnapshot_free(icxSnapshot *s);
/* The image of canister *id, or NULL.  O(log n). */
ICX_INTERNAL const icxCanisterImage *icxSnapshot_find(const icxSnapshot *s,
                                                      const icx_principal *id);

/* What a query gives: a reply (reject_code 0) or a reject (the IC's reject
 * code, error code and text; error_code 406 for a canister's own reject).
 * data is allocated with the snapshot's allocator (icxQueryResult_free). */
typedef struct icxQueryResult {
  uint32_t reject_code;
  uint16_t error_code;
  uint8_t *data;
  size_t len;
  uint64_t instructions;     /* executed, summed over the call graph */
} icxQueryResult;

/* Run method[0..method_len) of canister *canister as *sender with
 * arg[0..len) on the snapshot: as a composite query if the canister
 * exports it so, else as a query.  Everything the IC reports as a reject
 * (IC0301, IC0508, IC0509, IC0536, IC0537, IC0207, traps, IC0522, IC0525,
 * IC0526, ...) is a result.  Errors: ICX_ENOMEM, ICX_EINTERNAL (the code
 * of a canister no longer instantiates); *res is then zeroed. */
ICX_INTERNAL icx_status icxQuery_run(const icxSnapshot *s, const icx_principal *sender,
                                     const icx_principal *canister, const char *method,
                                     size_t method_len, const uint8_t *arg, size_t len,
                                     icxQueryResult *res, icxErr *err);
ICX_INTERNAL void icxQueryResult_free(const icxAllocator *a, icxQueryResult *r);

#endif
