/* api_query.c -- the public query API of include/icexec.h: snapshots of a
 * state and queries on them (docs/round.md "Queries").  Thin wrappers over
 * lib/query.h.
 *
 * Threading: icx_query and icx_snapshot_round only read the snapshot and
 * never write the engine (not even engine->err); icx_snapshot_free may run
 * on any thread, so the engine's list of snapshots is guarded by a spin
 * lock (held for a list link or unlink only). */
#include "api.h"

#include <stdatomic.h>
#include <string.h>

#include "query.h"

struct icx_snapshot {
  uint32_t magic;
  icx_engine *engine;
  icxSnapshot *snap;
  icx_snapshot *prev, *next;
};

/* A query result's data lives after this header, in one block made with
 * the engine's allocator (internal_ points to the header), so a result can
 * be cleared without its snapshot or engine. */
typedef struct ResultBlock {
  icxAllocator alloc;
  size_t size;
} ResultBlock;

static void lock(icx_engine *e) {
  while (atomic_exchange_explicit(&e->snap_lock, 1u, memory_order_acquire)) {
  }
}
static void unlock(icx_engine *e) { atomic_store_explicit(&e->snap_lock, 0u, memory_order_release); }

static int snapshot_ok(const icx_snapshot *s) {
  return s && s->magic == ICX_MAGIC_SNAPSHOT && icxApi_engine_ok(s->engine) && s->snap;
}

static int state_ok(const icx_state *s) {
  return s && s->magic == ICX_MAGIC_STATE && icxApi_engine_ok(s->engine);
}

icx_status icx_state_snapshot(icx_state *state, icx_snapshot **out_snapshot) {
  if (out_snapshot) *out_snapshot = NULL;
  if (!state_ok(state)) return ICX_EMISUSE;
  icx_engine *e = state->engine;
  icxErr_clear(&e->err);
  if (!out_snapshot)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_state_snapshot: out_snapshot is NULL");
  icx_snapshot *h = icxCore_alloc(&e->alloc, sizeof *h);
  if (!h) return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  /* queries run with the engine's configuration (its debug_print sink) */
  icx_status rc = icxSnapshot_new(&e->alloc, state->st, &e->rtcfg, &h->snap, &e->err);
  if (rc != ICX_OK) {
    icxCore_free(&e->alloc, h, sizeof *h);
    e->err.status = rc;
    return rc;
  }
  h->magic = ICX_MAGIC_SNAPSHOT;
  h->engine = e;
  lock(e);
  h->prev = NULL;
  h->next = e->snapshots;
  if (e->snapshots) e->snapshots->prev = h;
  e->snapshots = h;
  unlock(e);
  *out_snapshot = h;
  return ICX_OK;
}

/* Unlink (under the lock) and free. */
static void snapshot_destroy(icx_snapshot *h, int locked) {
  icx_engine *e = h->engine;
  if (!locked) lock(e);
  if (h->prev) h->prev->next = h->next;
  else e->snapshots = h->next;
  if (h->next) h->next->prev = h->prev;
  if (!locked) unlock(e);
  icxSnapshot_free(h->snap);
  h->snap = NULL;
  h->magic = ICX_MAGIC_DEAD;
  icxCore_free(&e->alloc, h, sizeof *h);
}

void icx_snapshot_free(icx_snapshot *snapshot) {
  if (!snapshot_ok(snapshot)) return;
  snapshot_destroy(snapshot, 0);
}

void icxApi_engine_free_snapshots(icx_engine *e) {
  lock(e);
  while (e->snapshots) snapshot_destroy(e->snapshots, 1);
  unlock(e);
}

uint64_t icx_snapshot_round(const icx_snapshot *snapshot) {
  return snapshot_ok(snapshot) ? snapshot->snap->round : 0;
}

static void result_zero(icx_query_result *out) {
  uint32_t size = out->struct_size;
  memset(out, 0, sizeof *out);
  out->struct_size = size;
}

icx_status icx_query(const icx_snapshot *snapshot, const icx_principal *sender,
                     const icx_principal *canister, const char *method, const uint8_t *arg,
                     size_t len, icx_query_result *out) {
  if (!snapshot_ok(snapshot)) {
    if (out && out->struct_size >= sizeof *out) result_zero(out);
    return ICX_EMISUSE;
  }
  if (!out || out->struct_size < sizeof *out) return ICX_EINVAL;
  result_zero(out);
  if (!sender || !canister || !method || (!arg && len > 0)) return ICX_EINVAL;
  if (sender->len > ICX_PRINCIPAL_MAX_BYTES || canister->len > ICX_PRINCIPAL_MAX_BYTES)
    return ICX_EINVAL;
  const icxSnapshot *s = snapshot->snap;
  icxErr err; /* local: the engine's error slot belongs to the engine's thread */
  icxErr_clear(&err);
  icxQueryResult r;
  icx_status rc =
      icxQuery_run(s, sender, canister, method, strlen(method), arg, len, &r, &err);
  if (rc != ICX_OK) return rc;
  if (r.len > SIZE_MAX - sizeof(ResultBlock)) {
    icxQueryResult_free(&s->alloc, &r);
    return ICX_ENOMEM;
  }
  size_t size = sizeof(ResultBlock) + r.len;
  ResultBlock *b = icxCore_alloc(&s->alloc, size);
  if (!b) {
    icxQueryResult_free(&s->alloc, &r);
    return ICX_ENOMEM;
  }
  b->alloc = s->alloc;
  b->size = size;
  uint8_t *data = (uint8_t *)(b + 1);
  if (r.len) memcpy(data, r.data, r.len);
  out->status = r.reject_code ? ICX_INGRESS_REJECTED : ICX_INGRESS_REPLIED;
  out->reject_code = r.reject_code;
  out->error_code = r.error_code;
  out->data = data;
  out->len = r.len;
  out->instructions = r.instructions;
  out->internal_ = b;
  icxQueryResult_free(&s->alloc, &r);
  return ICX_OK;
}

void icx_query_result_clear(icx_query_result *result) {
  if (!result || result->struct_size < sizeof *result) return;
  ResultBlock *b = result->internal_;
  if (b) {
    icxAllocator a = b->alloc;
    icxCore_free(&a, b, b->size);
  }
  result_zero(result);
}
