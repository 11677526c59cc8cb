/* round.h -- one execution round of a subnet (reference/ic-execution.md
 * section 9; docs/round.md): induction of the batch's ingress, the
 * management queue, the deterministic canister order, heartbeat and global
 * timer tasks, per-canister execution under the round's instruction budget,
 * deterministic time slicing across rounds, routing, finalization.
 *
 * Layering: on top of the subnet state (state.h), the management canister
 * (mgmt.h) and the canister runtime (canister.h).  The public layer
 * (api_state.c) owns the batch and the round output; this file only moves
 * messages into the state and leaves the round's products (ingress results,
 * messages for other subnets) in st->ingress and st->outbox.
 *
 * Threads: canisters are dealt to `cores` virtual cores (a protocol
 * parameter, not the host's thread count); each core has its own
 * instruction budget, execution environment, error and debug-output
 * buffer.  During an inner iteration the cores run in parallel on the
 * worker pool (pool.h), and a canister touches only its own state (its
 * products and figures wait in its slot); everything that crosses
 * canisters (routing, statistics, burned cycles, debug output, the
 * management queue) happens between iterations on the calling thread, in
 * canister-id or core order.  The thread count therefore cannot change
 * any result (tests/api_threads.c proves it on randomized workloads).
 *
 * Scheduler state that lives across rounds (accumulated priorities) is an
 * icxSched, kept beside the icxState and hashed with it. */
#ifndef ICX_ROUND_H
#define ICX_ROUND_H

#include "state.h"

/* Scheduling defaults (reference section 5). */
#define ICX_ROUND_MAX_INSTRUCTIONS 4000000000ull /* R per core, newest SC */
#define ICX_ROUND_CORES 4u                       /* scheduler cores of the protocol */
#define ICX_ROUND_MAX_PAUSED 4u                  /* paused executions that survive a round */
#define ICX_ROUND_PRIORITY_RESET 86400u          /* rounds after which priorities reset */
/* Accumulated priority unit: 1 % of a core = 1000. */
#define ICX_PRIORITY_PERCENT 1000

/* Per-canister scheduler state (replicated). */
typedef struct icxSchedEntry {
  icx_principal id;
  int64_t priority; /* accumulated priority, in ICX_PRIORITY_PERCENT units */
} icxSchedEntry;

typedef struct icxSched {
  icxSchedEntry *v; /* sorted by id */
  uint32_t n, cap;
} icxSched;

ICX_INTERNAL void icxSched_free(const icxAllocator *a, icxSched *s);
/* Set the accumulated priority of canister *id (insert or update; used by
 * the checkpoint loader).  ICX_ENOMEM. */
ICX_INTERNAL icx_status icxSched_set(const icxAllocator *a, icxSched *s, const icx_principal *id,
                                     int64_t priority, icxErr *err);
/* BLAKE2b-256 of the scheduler state (entries with priority 0 are skipped,
 * so a canister that never ran hashes as one that has no entry). */
ICX_INTERNAL icx_status icxSched_hash(const icxSched *s, uint8_t out[32], icxErr *err);

/* Limits of a round (copied from the engine). */
typedef struct icxRoundLimits {
  uint64_t max_instructions_round; /* R: per core; >= max(slice, install slice) */
  uint32_t cores;                  /* virtual scheduler cores (default 4) */
  uint32_t max_paused;             /* default 4 */
} icxRoundLimits;

ICX_INTERNAL void icxRoundLimits_defaults(icxRoundLimits *l);

/* One round's inputs.  The ingress messages are taken (moved out, also on
 * error). */
typedef struct icxRoundInput {
  uint64_t round, time_ns;
  const uint8_t *sig;
  size_t sig_len;
  icxMsg *ingress; /* kind INGRESS, batch order */
  uint32_t ningress;
  icxMsg *xnet;    /* kind REQUEST / RESPONSE from other subnets, batch order (taken) */
  uint32_t nxnet;
  uint8_t checkpoint; /* a checkpoint round: every paused execution is aborted at its end */
  struct icxPool *pool; /* worker threads for the cores (pool.h), or NULL: this thread */
} icxRoundInput;

/* Per-canister figures of a round. */
typedef struct icxRoundCanStat {
  icx_principal id;
  uint64_t instructions; /* executed in this round (slices of this round only) */
  icxU128 cycles;        /* execution fees kept + ingress induction fees */
  uint32_t executions;   /* executions started or resumed */
} icxRoundCanStat;

typedef struct icxRoundStats {
  icxRoundCanStat *v; /* sorted by id */
  uint32_t n, cap;
  uint64_t instructions; /* sum over canisters */
  uint32_t iterations;   /* inner iterations */
  uint32_t aborted;      /* paused executions aborted at the end */
} icxRoundStats;

ICX_INTERNAL void icxRoundStats_free(const icxAllocator *a, icxRoundStats *s);

/* Execute one round on st (reference 9.1, as docs/round.md narrows it).
 * Errors: ICX_EINVAL (limits or input inconsistent: nothing changed),
 * ICX_ENOMEM / ICX_EINTERNAL during the round (the state is then
 * consistent enough to be freed or checkpointed but has diverged from the
 * replicated history: discard it). */
ICX_INTERNAL icx_status icxRound_execute(icxState *st, icxSched *sch, const icxRoundLimits *lim,
                                         icxRoundInput *in, icxRoundStats *stats, icxErr *err);

/* Abort every paused execution (checkpoint): the message goes back to the
 * front of its canister's input queue.  Returns how many were aborted. */
ICX_INTERNAL uint32_t icxRound_abort_all_paused(icxState *st, icxErr *err);

#endif
