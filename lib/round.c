/* round.c -- one execution round (round.h, docs/round.md). */
#include "round.h"

#include <blake2.h>
#include <stdio.h>
#include <string.h>

#include "mgmt.h"
#include "pool.h"
#include "principal.h"
#include "sysapi.h"

/* ---- scheduler state ---------------------------------------------------------------- */

void icxSched_free(const icxAllocator *a, icxSched *s) {
  icxCore_free(a, s->v, (size_t)s->cap * sizeof *s->v);
  memset(s, 0, sizeof *s);
}

/* Index of the first entry whose id is >= *id. */
static uint32_t sched_lower(const icxSched *s, const icx_principal *id) {
  uint32_t lo = 0, hi = s->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (icxPrincipal_cmp(&s->v[mid].id, id) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int64_t sched_get(const icxSched *s, const icx_principal *id) {
  uint32_t i = sched_lower(s, id);
  return i < s->n && icxPrincipal_eq(&s->v[i].id, id) ? s->v[i].priority : 0;
}

icx_status icxSched_set(const icxAllocator *a, icxSched *s, const icx_principal *id,
                        int64_t priority, icxErr *err) {
  uint32_t i = sched_lower(s, id);
  if (i < s->n && icxPrincipal_eq(&s->v[i].id, id)) {
    s->v[i].priority = priority;
    return ICX_OK;
  }
  if (s->n == s->cap) {
    uint32_t nc = s->cap ? s->cap * 2 : 16;
    icxSchedEntry *v =
        icxCore_realloc(a, s->v, (size_t)s->cap * sizeof *v, (size_t)nc * sizeof *v);
    if (!v) return icxErr_set(err, ICX_ENOMEM, "round: out of memory (scheduler)");
    s->v = v;
    s->cap = nc;
  }
  memmove(s->v + i + 1, s->v + i, (size_t)(s->n - i) * sizeof *s->v);
  s->v[i].id = *id;
  s->v[i].priority = priority;
  s->n++;
  return ICX_OK;
}

icx_status icxSched_hash(const icxSched *s, uint8_t out[32], icxErr *err) {
  blake2b_state h;
  if (blake2b_init(&h, 32) != 0) return icxErr_set(err, ICX_EINTERNAL, "round: blake2b_init");
  static const char tag[] = "icx.sched.v1";
  blake2b_update(&h, (const uint8_t *)tag, sizeof tag - 1);
  for (uint32_t i = 0; i < s->n; i++) {
    if (s->v[i].priority == 0) continue;
    uint8_t b[1 + ICX_PRINCIPAL_MAX_BYTES + 8];
    size_t k = 0;
    b[k++] = s->v[i].id.len;
    memcpy(b + k, s->v[i].id.bytes, s->v[i].id.len);
    k += s->v[i].id.len;
    uint64_t p = (uint64_t)s->v[i].priority;
    for (int j = 0; j < 8; j++) b[k++] = (uint8_t)(p >> (8 * j));
    blake2b_update(&h, b, k);
  }
  if (blake2b_final(&h, out, 32) != 0) return icxErr_set(err, ICX_EINTERNAL, "round: blake2b");
  return ICX_OK;
}

void icxRoundLimits_defaults(icxRoundLimits *l) {
  l->max_instructions_round = ICX_ROUND_MAX_INSTRUCTIONS;
  l->cores = ICX_ROUND_CORES;
  l->max_paused = ICX_ROUND_MAX_PAUSED;
}

/* ---- statistics ------------------------------------------------------------------------ */

void icxRoundStats_free(const icxAllocator *a, icxRoundStats *s) {
  icxCore_free(a, s->v, (size_t)s->cap * sizeof *s->v);
  memset(s, 0, sizeof *s);
}

/* The entry of canister *id (created zeroed, kept sorted), or NULL on OOM. */
static icxRoundCanStat *stat_of(const icxAllocator *a, icxRoundStats *s, const icx_principal *id) {
  uint32_t lo = 0, hi = s->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (icxPrincipal_cmp(&s->v[mid].id, id) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < s->n && icxPrincipal_eq(&s->v[lo].id, id)) return &s->v[lo];
  if (s->n == s->cap) {
    uint32_t nc = s->cap ? s->cap * 2 : 16;
    icxRoundCanStat *v =
        icxCore_realloc(a, s->v, (size_t)s->cap * sizeof *v, (size_t)nc * sizeof *v);
    if (!v) return NULL;
    s->v = v;
    s->cap = nc;
  }
  memmove(s->v + lo + 1, s->v + lo, (size_t)(s->n - lo) * sizeof *s->v);
  memset(&s->v[lo], 0, sizeof s->v[lo]);
  s->v[lo].id = *id;
  s->n++;
  return &s->v[lo];
}

/* ---- queues ---------------------------------------------------------------------------- */

/* 1 if c's paused execution is an install_code (run by mgmt.c, not here). */
static int install_paused(const icxCanister *c) {
  return c->paused && c->paused->kind == ICX_EXEC_INSTALL;
}

/* Abort c's paused execution; its message goes back to the queue front
 * (an install's to the management queue). */
static icx_status abort_paused(icxState *st, icxCanister *c, icxErr *err) {
  if (install_paused(c)) return icxMgmt_abort_install(st, c, err);
  icxMsg m;
  int has = 0;
  icxCanister_abort(c, &m, &has);
  if (!has) return ICX_OK; /* a task: it is scheduled again when due */
  /* the runtime allocated the copy with the canister's allocator, which is
   * the state's (icxCanister_new gets st->alloc) */
  return icxState_push_input_front(st, c, &m, err);
}

/* Abort every paused install, the last first, so that their messages are
 * at the front of the management queue in their original order.  Returns
 * how many were aborted (ICX_ENOMEM in err leaves the rest paused). */
static uint32_t abort_installs(icxState *st, icxErr *err) {
  uint32_t n = 0;
  while (st->installs.n) {
    icxCanister *c = icxState_canister(st, &st->installs.v[st->installs.n - 1].dst);
    if (!c || icxMgmt_abort_install(st, c, err) != ICX_OK) break;
    n++;
  }
  return n;
}

uint32_t icxRound_abort_all_paused(icxState *st, icxErr *err) {
  uint32_t n = abort_installs(st, err);
  for (uint32_t i = 0; i < st->ncan; i++)
    if (st->can[i]->paused && !install_paused(st->can[i])) {
      if (abort_paused(st, st->can[i], err) != ICX_OK) continue;
      n++;
    }
  return n;
}

/* ---- induction ------------------------------------------------------------------------- */

/* Reject ingress *m with the IC's code and text (takes *m). */
static icx_status reject_ingress(icxState *st, icxMsg *m, uint32_t code, uint16_t ecode,
                                 const char *text, icxErr *err) {
  icxMsg r;
  icx_status rc = icxState_make_reject(st, m, code, ecode, text, &r, err);
  icxState_msg_clear(&st->alloc, m);
  return rc ? rc : icxMsgList_push(&st->alloc, &st->ingress, &r, err);
}

/* Induct one ingress message (reference 6.6, 9.1): destination exists and is
 * running, queue capacity, induction fee charged to the receiving canister
 * (with the freezing-threshold check).  Takes *m. */
static icx_status induct(icxState *st, icxMsg *m, icxRoundStats *stats, icxErr *err) {
  if (m->dst.len == 0) return icxState_submit_ingress(st, m, err); /* aaaaa-aa */
  icxCanister *c = icxState_canister(st, &m->dst);
  if (c == NULL) return icxState_submit_ingress(st, m, err); /* IC0301 there */
  char id[80], text[300];
  icxPrincipal_to_text(&c->id, id, sizeof id);
  if (c->status != ICX_STATUS_RUNNING) {
    int stopped = c->status == ICX_STATUS_STOPPED;
    snprintf(text, sizeof text, "Canister %s is %s", id, stopped ? "stopped" : "stopping");
    return reject_ingress(st, m, ICX_REJECT_CANISTER_ERROR, stopped ? 508 : 509, text, err);
  }
  if (icxState_queued_from(c, &m->src, ICX_MSG_INGRESS) >= ICX_QUEUE_CAPACITY) {
    snprintf(text, sizeof text, "Canister %s input queue is full", id); /* (unconfirmed text) */
    return reject_ingress(st, m, ICX_REJECT_SYS_TRANSIENT, 201, text, err);
  }
  const icxRtConfig *cfg = &st->cfg;
  icxU128 fee = icxCycles_ingress_induction_cost(&cfg->fees, cfg->subnet_size,
                                                 (uint64_t)m->method_len + m->len);
  icxU128 threshold = icxCanister_threshold(c, cfg);
  if (!icxCycles_withdraw(&c->balance, threshold, fee)) {
    char n[ICX_U128_DEC_MAX];
    icxU128_to_dec(icxU128_sub_sat(icxU128_add_sat(threshold, fee), c->balance), n, sizeof n);
    snprintf(text, sizeof text,
             "Canister %s is out of cycles: please top up the canister with at least %s "
             "additional cycles",
             id, n);
    return reject_ingress(st, m, ICX_REJECT_SYS_TRANSIENT, 207, text, err);
  }
  icxRoundCanStat *s = stat_of(&st->alloc, stats, &c->id);
  if (!s) {
    icxState_msg_clear(&st->alloc, m);
    return icxErr_set(err, ICX_ENOMEM, "round: out of memory (statistics)");
  }
  s->cycles = icxU128_add_sat(s->cycles, fee);
  st->burned = icxU128_add_sat(st->burned, fee);
  return icxState_submit_ingress(st, m, err);
}

/* ---- ordering (reference 9.2) ----------------------------------------------------------- */

typedef struct Slot {
  icx_principal id;
  int64_t rp;       /* round priority */
  int64_t gain;     /* compute allocation + free share added this round */
  uint8_t long_exec;/* has a paused execution at the start of the round */
  uint8_t tasks;    /* bit 0 heartbeat, bit 1 global timer: due in this round */
  uint8_t task_first; /* 0: heartbeat first, 1: timer first */
  uint8_t resumed;  /* the paused execution got its slice this round */
  uint8_t stop;     /* out of the round: paused, or its core's budget is spent */
  uint8_t ran;      /* executed something this round */
  uint32_t core;
  icxMsgList out;   /* products of the current iteration, routed after it */
  icxU128 burned;   /* cycles burned by its executions in the current iteration,
                     * added to st->burned after it */
  /* figures of the current iteration, merged into the round's statistics
   * after it (a core's thread writes only its own slots) */
  uint64_t it_instr;
  icxU128 it_cycles;
  uint32_t it_execs;
} Slot;

static int slot_before(const Slot *a, const Slot *b) {
  if (a->long_exec != b->long_exec) return a->long_exec > b->long_exec;
  if (a->rp != b->rp) return a->rp > b->rp;
  return icxPrincipal_cmp(&a->id, &b->id) < 0;
}

/* Insertion-free merge sort would be overkill; the canister count of a
 * subnet is small enough for a stable binary-insertion sort on indices. */
static void order_slots(Slot *s, uint32_t *ord, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t lo = 0, hi = i;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (slot_before(&s[ord[mid]], &s[i]))
        lo = mid + 1;
      else
        hi = mid;
    }
    memmove(ord + lo + 1, ord + lo, (size_t)(i - lo) * sizeof *ord);
    ord[lo] = i;
  }
}

static int64_t pct(icxU128 v) {
  uint64_t x = icxU128_to_u64_sat(v);
  return x > 100 ? 100 : (int64_t)x;
}

/* ---- executing ---------------------------------------------------------------------------- */

/* Debug output of one core during an iteration, replayed to the engine's
 * sink after it in core order: records of [principal][u64 length][bytes]. */
typedef struct DbgBuf {
  const icxAllocator *alloc;
  uint8_t *v;
  size_t n, cap;
  uint8_t lost; /* out of memory: later records of this iteration dropped */
} DbgBuf;

/* What one virtual core owns during an iteration (its thread's data). */
typedef struct Core {
  icxExecEnv env;  /* env.cfg = &cfg */
  icxRtConfig cfg; /* the state's, with debug_print into dbg */
  DbgBuf dbg;
  icxErr err;
  icx_status rc;
} Core;

typedef struct Round {
  icxState *st;
  const icxRoundLimits *lim;
  icxRoundStats *stats;
  icxErr *err;
  Slot *slots; /* the canisters at the start of the round, in id order */
  uint32_t *ord;
  uint32_t n;
  int64_t *budget; /* per core */
  Core *cores;     /* per core */
  icxPool *pool;   /* worker threads, or NULL (the calling thread) */
  int first_iter;  /* the iteration running now is the round's first */
  icxExecEnv env;
} Round;

static void dbg_sink(void *ud, const icx_principal *canister, const uint8_t *msg, size_t len) {
  DbgBuf *b = ud;
  size_t need = sizeof *canister + sizeof(uint64_t) + len;
  if (b->lost) return;
  if (b->cap - b->n < need) {
    size_t nc = b->cap ? b->cap : 256;
    while (nc - b->n < need) nc *= 2;
    uint8_t *v = icxCore_realloc(b->alloc, b->v, b->cap, nc);
    if (!v) {
      b->lost = 1;
      return;
    }
    b->v = v;
    b->cap = nc;
  }
  uint64_t n64 = len;
  memcpy(b->v + b->n, canister, sizeof *canister);
  memcpy(b->v + b->n + sizeof *canister, &n64, sizeof n64);
  if (len) memcpy(b->v + b->n + sizeof *canister + sizeof n64, msg, len);
  b->n += need;
}

/* Replay a core's debug output to the engine's sink and empty the buffer. */
static void dbg_flush(const icxRtConfig *cfg, DbgBuf *b) {
  size_t off = 0;
  while (off < b->n) {
    icx_principal id;
    uint64_t len;
    memcpy(&id, b->v + off, sizeof id);
    memcpy(&len, b->v + off + sizeof id, sizeof len);
    off += sizeof id + sizeof len;
    cfg->debug_print(cfg->debug_print_ud, &id, b->v + off, (size_t)len);
    off += (size_t)len;
  }
  b->n = 0;
  b->lost = 0;
}

/* Account for one execution step (start or resume) of slot s on its core. */
static void account(Round *r, Slot *s, uint64_t instr, icxU128 cycles) {
  s->it_instr += instr;
  s->it_cycles = icxU128_add_sat(s->it_cycles, cycles);
  s->it_execs++;
  r->budget[s->core] -= (int64_t)(instr > INT64_MAX ? INT64_MAX : instr);
  s->ran = 1;
}

/* Merge the iteration figures of the slots into the round's statistics
 * (in id order; sums, so the order only fixes the allocation pattern).
 * Returns in *progress whether anything executed. */
static icx_status merge_stats(Round *r, int *progress) {
  *progress = 0;
  for (uint32_t i = 0; i < r->n; i++) {
    Slot *s = &r->slots[i];
    if (s->it_execs == 0 && s->it_instr == 0 && icxU128_is_zero(s->it_cycles)) continue;
    *progress = 1;
    icxRoundCanStat *cs = stat_of(&r->st->alloc, r->stats, &s->id);
    if (!cs) return icxErr_set(r->err, ICX_ENOMEM, "round: out of memory (statistics)");
    cs->instructions += s->it_instr;
    cs->cycles = icxU128_add_sat(cs->cycles, s->it_cycles);
    cs->executions += s->it_execs;
    r->stats->instructions += s->it_instr;
    s->it_instr = 0;
    s->it_cycles = icxU128_zero();
    s->it_execs = 0;
  }
  return ICX_OK;
}

/* Keep an outcome's products for routing after the iteration (takes them). */
static icx_status keep_out(Round *r, Slot *s, icxExecOutcome *o) {
  icx_status rc = ICX_OK;
  for (uint32_t i = 0; i < o->nout; i++) {
    if (rc == ICX_OK)
      rc = icxMsgList_push(&r->st->alloc, &s->out, &o->out[i], &r->cores[s->core].err);
    else
      icxState_msg_clear(&r->st->alloc, &o->out[i]);
  }
  o->nout = 0;
  return rc;
}

/* Settle a finished or paused outcome: account, keep products, and stop the
 * slot if it paused.  before = instructions of earlier slices. */
static icx_status settle(Round *r, Slot *s, icxExecOutcome *o, uint64_t before) {
  uint64_t instr = o->instructions >= before ? o->instructions - before : 0;
  account(r, s, instr, o->done ? o->cycles_charged : icxU128_zero());
  if (o->done) s->burned = icxU128_add_sat(s->burned, o->burned);
  icx_status rc = keep_out(r, s, o);
  if (!o->done) s->stop = 1; /* paused: the canister's turn in this round is over */
  icxExecOutcome_free(&r->st->alloc, o);
  return rc;
}

/* The ICX_EXEC_* kind of an input message on c. */
static uint8_t exec_kind(const icxCanister *c, const icxMsg *m) {
  if (m->kind == ICX_MSG_RESPONSE) return ICX_EXEC_RESPONSE;
  if (c->code && icxCode_entry(c->code, ICX_EP_UPDATE, m->method, m->method_len) == UINT32_MAX &&
      icxCode_entry(c->code, ICX_EP_QUERY, m->method, m->method_len) != UINT32_MAX)
    return ICX_EXEC_QUERY_REPLICATED;
  return ICX_EXEC_UPDATE;
}

/* Run canister s for one iteration: resume its paused execution (once per
 * round), its due tasks (first iteration), then its input queue, while its
 * core has budget. */
static icx_status run_canister(Round *r, Slot *s, int first_iter) {
  icxState *st = r->st;
  Core *core = &r->cores[s->core];
  const icxExecEnv *env = &core->env;
  icxErr *err = &core->err;
  icxCanister *c = icxState_canister(st, &s->id);
  if (c == NULL || s->stop || install_paused(c)) return ICX_OK; /* deleted, or installing */
  icx_status rc = ICX_OK;
  icxExecOutcome o;
  if (c->paused) {
    if (s->resumed || r->budget[s->core] <= 0) return ICX_OK;
    s->resumed = 1;
    uint64_t before = icxSys_instructions(c->paused);
    memset(&o, 0, sizeof o);
    rc = icxCanister_resume(c, env, &o, err);
    if (rc != ICX_OK) {
      icxExecOutcome_free(&st->alloc, &o);
      return rc;
    }
    rc = settle(r, s, &o, before);
    if (rc != ICX_OK || s->stop) return rc;
  }
  if (first_iter) {
    for (int k = 0; k < 2; k++) {
      int which = (s->task_first + k) & 1; /* 0 heartbeat, 1 timer */
      if (!(s->tasks & (1u << which)) || r->budget[s->core] <= 0 || c->paused) continue;
      s->tasks &= (uint8_t)~(1u << which);
      if (which == 1 && (c->global_timer == 0 || env->time_ns < c->global_timer)) continue;
      memset(&o, 0, sizeof o);
      rc = icxCanister_execute(c, env, which ? ICX_EXEC_GLOBAL_TIMER : ICX_EXEC_HEARTBEAT,
                               NULL, &o, err);
      if (rc != ICX_OK) {
        icxExecOutcome_free(&st->alloc, &o);
        return rc;
      }
      rc = settle(r, s, &o, 0);
      if (rc != ICX_OK || s->stop) return rc;
    }
  }
  while (r->budget[s->core] > 0 && !c->paused) {
    icxMsg m;
    if (!icxState_pop_input(c, &m)) break;
    memset(&o, 0, sizeof o);
    rc = icxCanister_execute(c, env, exec_kind(c, &m), &m, &o, err);
    icxState_msg_clear(&st->alloc, &m);
    if (rc != ICX_OK) {
      icxExecOutcome_free(&st->alloc, &o);
      return rc;
    }
    rc = settle(r, s, &o, 0);
    if (rc != ICX_OK || s->stop) return rc;
  }
  return ICX_OK;
}

/* 1 if canister c has something to do in this iteration. */
static int has_work(const Slot *s, const icxCanister *c, int first_iter) {
  if (s->stop || install_paused(c)) return 0;
  if (c->paused) return !s->resumed;
  return c->inq_len > 0 || (first_iter && s->tasks);
}

/* The job of core k in an iteration: its canisters in round order, while
 * its budget lasts.  Touches only its slots, their canisters and its Core. */
static void core_job(void *ud, uint32_t k) {
  Round *r = ud;
  Core *core = &r->cores[k];
  icx_status rc = ICX_OK;
  for (uint32_t j = 0; j < r->n && rc == ICX_OK; j++) {
    Slot *s = &r->slots[r->ord[j]];
    if (s->core != k || r->budget[k] <= 0) continue;
    const icxCanister *c = icxState_canister(r->st, &s->id);
    if (c && has_work(s, c, r->first_iter)) rc = run_canister(r, s, r->first_iter);
  }
  core->rc = rc;
}

/* One inner iteration: every core runs its canisters in order (the cores
 * in parallel on the pool's threads); returns in *progress whether
 * anything executed.  Everything that crosses cores happens after the
 * parallel step, in an order fixed by core number or canister id. */
static icx_status iteration(Round *r, int first_iter, int *progress) {
  icx_status rc = ICX_OK;
  r->first_iter = first_iter;
  for (uint32_t k = 0; k < r->lim->cores; k++) {
    r->cores[k].rc = ICX_OK;
    r->cores[k].env.time_ns = r->env.time_ns;
  }
  icxPool_run(r->pool, r->lim->cores, core_job, r);
  /* the first error in core order */
  for (uint32_t k = 0; k < r->lim->cores && rc == ICX_OK; k++)
    if (r->cores[k].rc != ICX_OK) {
      rc = r->cores[k].rc;
      if (r->err) *r->err = r->cores[k].err;
    }
  /* debug output in core order: what one thread running the cores one
   * after the other would have printed */
  for (uint32_t k = 0; k < r->lim->cores; k++)
    if (r->cores[k].dbg.n) dbg_flush(&r->st->cfg, &r->cores[k].dbg);
  icx_status rc2 = merge_stats(r, progress);
  if (rc == ICX_OK) rc = rc2;
  /* Cross-canister effects between iterations, in canister-id order. */
  for (uint32_t i = 0; i < r->n; i++) {
    Slot *s = &r->slots[i];
    r->st->burned = icxU128_add_sat(r->st->burned, s->burned);
    s->burned = icxU128_zero();
    if (s->out.n == 0) continue;
    rc2 = icxState_route(r->st, s->out.v, s->out.n, r->err);
    s->out.n = 0;
    if (rc == ICX_OK) rc = rc2;
  }
  return rc;
}

static int budget_left(const Round *r) {
  for (uint32_t k = 0; k < r->lim->cores; k++)
    if (r->budget[k] > 0) return 1;
  return 0;
}

/* Due tasks of c (reference 6.1): heartbeat when exported, global timer
 * when set and due; running canisters only. */
static uint8_t due_tasks(const icxCanister *c, uint64_t now) {
  if (!c->code || c->status != ICX_STATUS_RUNNING) return 0;
  uint8_t t = 0;
  if (icxCode_entry(c->code, ICX_EP_HEARTBEAT, NULL, 0) != UINT32_MAX) t |= 1;
  if (c->global_timer != 0 && now >= c->global_timer &&
      icxCode_entry(c->code, ICX_EP_GLOBAL_TIMER, NULL, 0) != UINT32_MAX)
    t |= 2;
  return t;
}

/* Accumulated priorities after the round (9.2): every canister gains its
 * compute allocation plus the free share; the first canister of each core
 * that executed pays for all of it, so the sum stays 0. */
static icx_status update_priorities(Round *r, icxSched *sch) {
  int64_t added = 0;
  uint32_t payers = 0;
  for (uint32_t j = 0; j < r->n && j < r->lim->cores; j++)
    if (r->slots[r->ord[j]].ran) payers++;
  if (payers == 0) return ICX_OK;
  for (uint32_t i = 0; i < r->n; i++) {
    Slot *s = &r->slots[i];
    icx_status rc = ICX_OK;
    if (!icxState_canister(r->st, &s->id)) continue; /* deleted during the round */
    added += s->gain;
    rc = icxSched_set(&r->st->alloc, sch, &s->id, s->rp, r->err);
    if (rc) return rc;
  }
  int64_t share = added / payers, rem = added - share * (int64_t)payers;
  for (uint32_t j = 0; j < r->n && j < r->lim->cores; j++) {
    Slot *s = &r->slots[r->ord[j]];
    if (!s->ran) continue;
    int64_t pay = share + rem;
    rem = 0;
    icx_status rc = icxSched_set(&r->st->alloc, sch, &s->id, sched_get(sch, &s->id) - pay, r->err);
    if (rc) return rc;
  }
  /* drop entries of canisters that no longer exist */
  uint32_t k = 0;
  for (uint32_t i = 0; i < sch->n; i++)
    if (icxState_canister(r->st, &sch->v[i].id)) sch->v[k++] = sch->v[i];
  sch->n = k;
  return ICX_OK;
}

/* Build the round's slots: one per canister, round priority and order
 * (9.2), core assignment (9.3), due tasks. */
static void plan(Round *r, const icxSched *sch, uint64_t round) {
  icxState *st = r->st;
  int64_t cap = (int64_t)(r->lim->cores > 1 ? r->lim->cores - 1 : 1) * 100 * ICX_PRIORITY_PERCENT;
  int64_t sum_ca = 0;
  for (uint32_t i = 0; i < r->n; i++) sum_ca += pct(st->can[i]->settings.compute_allocation);
  int64_t f = r->n ? (cap - sum_ca * ICX_PRIORITY_PERCENT) / (int64_t)r->n : 0;
  if (f < 0) f = 0;
  int reset = round % ICX_ROUND_PRIORITY_RESET == 0;
  for (uint32_t i = 0; i < r->n; i++) {
    const icxCanister *c = st->can[i];
    Slot *s = &r->slots[i];
    s->id = c->id;
    int64_t ap = reset ? 0 : sched_get(sch, &c->id);
    s->gain = pct(c->settings.compute_allocation) * ICX_PRIORITY_PERCENT + f;
    s->rp = ap + s->gain;
    s->long_exec = c->paused != NULL && !install_paused(c);
    s->tasks = due_tasks(c, r->env.time_ns);
    s->task_first = c->task_turn & 1;
  }
  order_slots(r->slots, r->ord, r->n);
  for (uint32_t j = 0; j < r->n; j++) r->slots[r->ord[j]].core = j % r->lim->cores;
}

/* Abort paused executions beyond the limit (all of them in a checkpoint
 * round), keeping the first ones in round order. */
static icx_status finish_paused(Round *r, int checkpoint) {
  uint32_t kept = 0;
  for (uint32_t j = 0; j < r->n; j++) {
    icxCanister *c = icxState_canister(r->st, &r->slots[r->ord[j]].id);
    if (!c || !c->paused) continue;
    if (install_paused(c)) continue; /* not counted (mgmt.h); aborted below at a checkpoint */
    if (!checkpoint && kept < r->lim->max_paused) {
      kept++;
      continue;
    }
    icx_status rc = abort_paused(r->st, c, r->err);
    if (rc) return rc;
    r->stats->aborted++;
  }
  /* canisters created during the round can have a paused install (made
   * by the management canister in this round), nothing else */
  if (!checkpoint) return ICX_OK;
  uint32_t n = abort_installs(r->st, r->err);
  r->stats->aborted += n;
  if (r->st->installs.n && (!r->err || r->err->status == ICX_OK))
    return icxErr_set(r->err, ICX_EINTERNAL, "round: a paused install could not be aborted");
  return r->st->installs.n ? (r->err ? r->err->status : ICX_EINTERNAL) : ICX_OK;
}

/* icxState_run_mgmt; with an empty queue only its Stopping -> Stopped
 * step (state.c's memmove on a never-allocated queue is UB: NULL + 0). */
static icx_status run_mgmt(icxState *st, icxErr *err) {
  if (st->mgmt_in.n == 0) return icxState_process_stopping(st, err);
  return icxState_run_mgmt(st, err);
}

icx_status icxRound_execute(icxState *st, icxSched *sch, const icxRoundLimits *lim,
                            icxRoundInput *in, icxRoundStats *stats, icxErr *err) {
  uint64_t S = st->cfg.max_instructions_slice > st->cfg.max_instructions_install_slice
                   ? st->cfg.max_instructions_slice
                   : st->cfg.max_instructions_install_slice;
  icx_status rc = ICX_OK;
  memset(stats, 0, sizeof *stats);
  if (lim->cores == 0 || lim->cores > 64 || lim->max_instructions_round < S ||
      lim->max_instructions_round > (uint64_t)INT64_MAX)
    rc = icxErr_set(err, ICX_EINVAL, "round: limits: %u cores, round limit %llu < slice %llu",
                    (unsigned)lim->cores, (unsigned long long)lim->max_instructions_round,
                    (unsigned long long)S);
  /* 1. prepare: random tape, postponed raw_rand */
  if (rc == ICX_OK) rc = icxState_begin_round(st, in->round, in->time_ns, in->sig, in->sig_len, err);
  if (rc == ICX_OK) rc = icxState_answer_raw_rand(st, err);
  /* induction of the batch, in batch order: ingress, then the messages
   * from other subnets */
  for (uint32_t i = 0; i < in->ningress; i++) {
    if (rc == ICX_OK)
      rc = induct(st, &in->ingress[i], stats, err);
    else
      icxState_msg_clear(&st->alloc, &in->ingress[i]);
  }
  for (uint32_t i = 0; i < in->nxnet; i++) {
    if (rc == ICX_OK)
      rc = icxState_induct_xnet(st, &in->xnet[i], err);
    else
      icxState_msg_clear(&st->alloc, &in->xnet[i]);
  }
  /* paused install_code calls: one more slice each */
  if (rc == ICX_OK) rc = icxMgmt_resume_installs(st, err);
  if (rc) return rc;

  Round r;
  memset(&r, 0, sizeof r);
  r.st = st;
  r.lim = lim;
  r.stats = stats;
  r.err = err;
  r.n = st->ncan;
  r.slots = icxCore_allocn(&st->alloc, (size_t)r.n + 1, sizeof *r.slots);
  r.ord = icxCore_allocn(&st->alloc, (size_t)r.n + 1, sizeof *r.ord);
  r.budget = icxCore_allocn(&st->alloc, lim->cores, sizeof *r.budget);
  r.cores = icxCore_allocn(&st->alloc, lim->cores, sizeof *r.cores);
  r.pool = in->pool;
  if (!r.slots || !r.ord || !r.budget || !r.cores) {
    rc = icxErr_set(err, ICX_ENOMEM, "round: out of memory");
    goto done;
  }
  memset(r.slots, 0, ((size_t)r.n + 1) * sizeof *r.slots);
  r.env.cfg = &st->cfg;
  r.env.time_ns = st->time_ns;
  r.env.slice = st->cfg.max_instructions_slice;
  memset(r.cores, 0, (size_t)lim->cores * sizeof *r.cores);
  for (uint32_t k = 0; k < lim->cores; k++) {
    Core *core = &r.cores[k];
    core->cfg = st->cfg;
    core->dbg.alloc = &st->alloc;
    if (st->cfg.debug_print) {
      core->cfg.debug_print = dbg_sink;
      core->cfg.debug_print_ud = &core->dbg;
    }
    core->env = r.env;
    core->env.cfg = &core->cfg;
  }
  /* the round counter starts at R - S + 1 per core, so a slice cannot
   * overshoot R (reference section 5) */
  for (uint32_t k = 0; k < lim->cores; k++)
    r.budget[k] = (int64_t)(lim->max_instructions_round - S) + 1;
  plan(&r, sch, in->round);

  /* 7. the inner loop */
  for (uint32_t iter = 0;; iter++) {
    uint64_t mgmt_before = st->mgmt_executed;
    rc = run_mgmt(st, err); /* a: subnet messages */
    if (rc) goto done;
    int progress = 0;
    rc = iteration(&r, iter == 0, &progress);
    stats->iterations++;
    if (rc) goto done;
    /* f: stop when nothing ran, or the budget is spent */
    if (!progress && st->mgmt_executed == mgmt_before) break;
    if (!budget_left(&r)) {
      rc = run_mgmt(st, err); /* what the last iteration sent to aaaaa-aa */
      break;
    }
  }
  if (rc) goto done;
  /* 8. heartbeat/timer turn: canisters that had both tasks alternate */
  for (uint32_t i = 0; i < r.n; i++) {
    icxCanister *c = icxState_canister(st, &r.slots[i].id);
    if (c && (due_tasks(c, 0) & 1) && c->code &&
        icxCode_entry(c->code, ICX_EP_GLOBAL_TIMER, NULL, 0) != UINT32_MAX)
      c->task_turn ^= 1;
  }
  rc = update_priorities(&r, sch);
  if (rc) goto done;
  /* 10. finalize */
  rc = finish_paused(&r, in->checkpoint);
  /* resource charging (storage and compute allocation every 10 s; canisters
   * that run dry are deallocated); paused executions are skipped by it */
  if (rc == ICX_OK) rc = icxState_charge_resources(st, st->time_ns, NULL, NULL, err);
  if (rc == ICX_OK) rc = icxState_process_stopping(st, err);

done:
  for (uint32_t i = 0; r.slots && i < r.n; i++) icxMsgList_free(&st->alloc, &r.slots[i].out);
  icxCore_free(&st->alloc, r.slots, ((size_t)r.n + 1) * sizeof *r.slots);
  icxCore_free(&st->alloc, r.ord, ((size_t)r.n + 1) * sizeof *r.ord);
  if (r.budget) icxCore_free(&st->alloc, r.budget, (size_t)lim->cores * sizeof *r.budget);
  if (r.cores) {
    for (uint32_t k = 0; k < lim->cores; k++)
      icxCore_free(&st->alloc, r.cores[k].dbg.v, r.cores[k].dbg.cap);
    icxCore_free(&st->alloc, r.cores, (size_t)lim->cores * sizeof *r.cores);
  }
  return rc;
}
