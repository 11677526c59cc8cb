/* api_ckpt.c -- icx_state_save / icx_state_load: a subnet state as a
 * lib/ckpt.h checkpoint (docs/round.md, "Checkpoints").
 *
 * Items: "subnet" (a blob: the state's fields, the management canister's
 * pending work, the scheduler's priorities and every canister's metadata,
 * in canister-id order), and per canister (X = the id in hex)
 * "c/X/heap" and "c/X/stable" (page maps) and "c/X/wasm" (the module
 * bytes, decompressed).  The encoding is little-endian, fixed width;
 * principals are one length byte + bytes; byte strings le64 length +
 * bytes.  Paused executions are aborted before saving (as in the IC's
 * checkpoint rounds), so none is ever in a checkpoint. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "principal.h"
#include "sysapi.h"

#define SUBNET_MAGIC 0x31565349u /* "ISV1" */

/* ---- writer ------------------------------------------------------------------------------ */

typedef struct W {
  const icxAllocator *a;
  uint8_t *p;
  size_t n, cap;
  int oom;
} W;

static void w_raw(W *w, const void *p, size_t n) {
  if (w->oom) return;
  if (w->n + n > w->cap) {
    size_t nc = w->cap ? w->cap : 4096;
    while (nc < w->n + n) nc *= 2;
    uint8_t *q = icxCore_realloc(w->a, w->p, w->cap, nc);
    if (!q) {
      w->oom = 1;
      return;
    }
    w->p = q;
    w->cap = nc;
  }
  if (n) memcpy(w->p + w->n, p, n);
  w->n += n;
}
static void w_u64(W *w, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  w_raw(w, b, 8);
}
static void w_u8(W *w, uint8_t v) { w_raw(w, &v, 1); }
static void w_u128(W *w, icxU128 v) {
  w_u64(w, v.lo);
  w_u64(w, v.hi);
}
static void w_p(W *w, const icx_principal *p) {
  uint8_t n = p->len > ICX_PRINCIPAL_MAX_BYTES ? ICX_PRINCIPAL_MAX_BYTES : p->len;
  w_u8(w, n);
  w_raw(w, p->bytes, n);
}
static void w_bytes(W *w, const void *p, uint64_t n) {
  w_u64(w, n);
  w_raw(w, p, (size_t)n);
}

/* ---- reader ------------------------------------------------------------------------------ */

typedef struct R {
  const uint8_t *p;
  size_t n, at;
  int bad;
} R;

static const uint8_t *r_raw(R *r, size_t n) {
  if (r->bad || n > r->n - r->at) {
    r->bad = 1;
    return NULL;
  }
  const uint8_t *q = r->p + r->at;
  r->at += n;
  return q;
}
static uint64_t r_u64(R *r) {
  const uint8_t *b = r_raw(r, 8);
  uint64_t v = 0;
  if (b)
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
  return v;
}
static uint8_t r_u8(R *r) {
  const uint8_t *b = r_raw(r, 1);
  return b ? b[0] : 0;
}
static icxU128 r_u128(R *r) {
  icxU128 v;
  v.lo = r_u64(r);
  v.hi = r_u64(r);
  return v;
}
static icx_principal r_p(R *r) {
  icx_principal p;
  memset(&p, 0, sizeof p);
  uint8_t n = r_u8(r);
  if (n > ICX_PRINCIPAL_MAX_BYTES) {
    r->bad = 1;
    return p;
  }
  const uint8_t *b = r_raw(r, n);
  if (b) {
    p.len = n;
    memcpy(p.bytes, b, n);
  }
  return p;
}
/* A counted item count, bounded by the bytes left (each item >= min bytes). */
static uint32_t r_count(R *r, size_t min) {
  uint64_t n = r_u64(r);
  if (r->bad || n > (r->n - r->at) / (min ? min : 1) || n > UINT32_MAX) {
    r->bad = 1;
    return 0;
  }
  return (uint32_t)n;
}
/* A byte string copied with a (NULL for empty); *ok 0 on OOM. */
static uint8_t *r_bytes(R *r, const icxAllocator *a, size_t *len, size_t extra, int *oom) {
  uint64_t n = r_u64(r);
  *len = 0;
  const uint8_t *b = r_raw(r, (size_t)n);
  if (!b || (n == 0 && extra == 0)) return NULL;
  uint8_t *q = icxCore_alloc(a, (size_t)n + extra);
  if (!q) {
    *oom = 1;
    return NULL;
  }
  memcpy(q, b, (size_t)n);
  *len = (size_t)n;
  return q;
}

/* ---- records ------------------------------------------------------------------------------ */

static void w_msg(W *w, const icxMsg *m) {
  w_u8(w, m->kind);
  w_p(w, &m->src);
  w_p(w, &m->dst);
  w_bytes(w, m->method, m->method ? m->method_len : 0);
  w_bytes(w, m->data, m->len);
  w_u128(w, m->cycles);
  w_u64(w, m->callback);
  w_u64(w, m->reject_code);
  w_u64(w, m->error_code);
  w_u64(w, m->deadline);
  w_raw(w, m->msg_id, 32);
  w_u8(w, m->to_ingress);
}

static void r_msg(R *r, const icxAllocator *a, icxMsg *m, int *oom) {
  memset(m, 0, sizeof *m);
  m->kind = r_u8(r);
  m->src = r_p(r);
  m->dst = r_p(r);
  size_t n = 0;
  uint64_t at = r->at;
  uint64_t mlen = r_u64(r);
  r->at = (size_t)at;
  m->method = (char *)r_bytes(r, a, &n, mlen ? 1 : 0, oom);
  if (m->method) m->method[n] = 0;
  m->method_len = (uint32_t)n;
  m->data = r_bytes(r, a, &m->len, 0, oom);
  m->cycles = r_u128(r);
  m->callback = r_u64(r);
  m->reject_code = (uint32_t)r_u64(r);
  m->error_code = (uint16_t)r_u64(r);
  m->deadline = r_u64(r);
  const uint8_t *id = r_raw(r, 32);
  if (id) memcpy(m->msg_id, id, 32);
  m->to_ingress = r_u8(r);
}

static void w_list(W *w, const icxMsgList *l) {
  w_u64(w, l->n);
  for (uint32_t i = 0; i < l->n; i++) w_msg(w, &l->v[i]);
}

static icx_status r_list(R *r, const icxAllocator *a, icxMsgList *l, icxErr *err) {
  uint32_t n = r_count(r, 40);
  for (uint32_t i = 0; i < n && !r->bad; i++) {
    icxMsg m;
    int oom = 0;
    r_msg(r, a, &m, &oom);
    if (oom) {
      icxState_msg_clear(a, &m);
      return icxErr_set(err, ICX_ENOMEM, "checkpoint: out of memory");
    }
    icx_status rc = icxMsgList_push(a, l, &m, err);
    if (rc) return rc;
  }
  return ICX_OK;
}

static void w_settings(W *w, const icxCanisterSettings *s) {
  w_u64(w, s->has);
  w_u64(w, s->ncontrollers);
  for (uint32_t i = 0; i < s->ncontrollers && i < ICX_MGMT_MAX_CONTROLLERS; i++)
    w_p(w, &s->controllers[i]);
  w_u128(w, s->compute_allocation);
  w_u128(w, s->memory_allocation);
  w_u128(w, s->freezing_threshold);
  w_u128(w, s->reserved_cycles_limit);
  w_u128(w, s->wasm_memory_limit);
  w_u128(w, s->wasm_memory_threshold);
  w_u64(w, (uint64_t)(int64_t)s->log_visibility);
  w_u64(w, s->nviewers);
  for (uint32_t i = 0; i < s->nviewers && i < ICX_MGMT_MAX_CONTROLLERS; i++)
    w_p(w, &s->viewers[i]);
}

static void r_settings(R *r, icxCanisterSettings *s) {
  memset(s, 0, sizeof *s);
  s->has = (uint32_t)r_u64(r);
  s->ncontrollers = (uint32_t)r_u64(r);
  if (s->ncontrollers > ICX_MGMT_MAX_CONTROLLERS) r->bad = 1;
  for (uint32_t i = 0; i < s->ncontrollers && !r->bad; i++) s->controllers[i] = r_p(r);
  s->compute_allocation = r_u128(r);
  s->memory_allocation = r_u128(r);
  s->freezing_threshold = r_u128(r);
  s->reserved_cycles_limit = r_u128(r);
  s->wasm_memory_limit = r_u128(r);
  s->wasm_memory_threshold = r_u128(r);
  s->log_visibility = (int)(int64_t)r_u64(r);
  s->nviewers = (uint32_t)r_u64(r);
  if (s->nviewers > ICX_MGMT_MAX_CONTROLLERS) r->bad = 1;
  for (uint32_t i = 0; i < s->nviewers && !r->bad; i++) s->viewers[i] = r_p(r);
}

/* The metadata of canister c. */
static void w_canister(W *w, const icxCanister *c) {
  w_p(w, &c->id);
  w_u8(w, c->status);
  w_u64(w, c->ncontrollers);
  for (uint32_t i = 0; i < c->ncontrollers && i < ICX_MGMT_MAX_CONTROLLERS; i++)
    w_p(w, &c->controllers[i]);
  w_settings(w, &c->settings);
  w_u128(w, c->balance);
  w_u128(w, c->reserved);
  w_u64(w, c->version);
  w_bytes(w, c->certified, c->certified_len > 32 ? 32 : c->certified_len);
  w_u64(w, c->global_timer);
  w_u8(w, c->task_turn);
  w_u64(w, c->last_charge_ns);
  w_u64(w, c->instructions_total);
  w_u8(w, c->code != NULL);
  if (c->code) w_raw(w, c->code->instr.sha256, 32);
  w_u64(w, c->globals.n);
  for (uint32_t i = 0; i < c->globals.n; i++) w_u64(w, c->globals.vals[i]);
  w_u64(w, c->nctxs);
  for (uint32_t i = 0; i < c->nctxs; i++) {
    const icxCallContext *x = &c->ctxs[i];
    w_u64(w, x->id);
    w_u8(w, x->origin);
    w_p(w, &x->caller);
    w_u64(w, x->origin_callback);
    w_raw(w, x->msg_id, 32);
    w_u64(w, x->deadline);
    w_u128(w, x->available);
    w_u8(w, x->responded);
    w_u8(w, x->deleted);
    w_u64(w, x->instructions);
    w_u8(w, x->method != NULL);
    if (x->method) w_bytes(w, x->method, strlen(x->method));
  }
  w_u64(w, c->ncbs);
  for (uint32_t i = 0; i < c->ncbs; i++) {
    const icxCallback *b = &c->cbs[i];
    w_u64(w, b->id);
    w_u64(w, b->ctx);
    w_p(w, &b->callee);
    w_u64(w, b->reply_fun);
    w_u64(w, b->reply_env);
    w_u64(w, b->reject_fun);
    w_u64(w, b->reject_env);
    w_u8(w, b->has_cleanup);
    w_u64(w, b->cleanup_fun);
    w_u64(w, b->cleanup_env);
    w_u128(w, b->cycles_sent);
    w_u128(w, b->prepaid);
    w_u128(w, b->prepaid_transmission);
    w_u64(w, b->deadline);
  }
  w_u64(w, c->next_ctx_id);
  w_u64(w, c->next_cb_id);
  w_u64(w, c->inq_len);
  for (uint32_t i = 0; i < c->inq_len; i++) w_msg(w, &c->inq[(c->inq_head + i) % c->inq_cap]);
  w_u64(w, c->nlog);
  for (uint32_t i = 0; i < c->nlog; i++) {
    w_u64(w, c->log[i].idx);
    w_u64(w, c->log[i].time_ns);
    w_bytes(w, c->log[i].content, c->log[i].len);
  }
  w_u64(w, c->log_bytes);
  w_u64(w, c->next_log_idx);
}

static void item_name(char *buf, size_t cap, const icx_principal *id, const char *what) {
  char hex[2 * ICX_PRINCIPAL_MAX_BYTES + 2];
  static const char digits[] = "0123456789abcdef";
  size_t k = 0;
  for (uint32_t i = 0; i < id->len && i < ICX_PRINCIPAL_MAX_BYTES; i++) {
    hex[k++] = digits[id->bytes[i] >> 4];
    hex[k++] = digits[id->bytes[i] & 15];
  }
  if (k == 0) hex[k++] = '-';
  hex[k] = 0;
  snprintf(buf, cap, "c/%s/%s", hex, what);
}

/* ---- save ---------------------------------------------------------------------------------- */

static icx_status open_dir(icx_state *s, const char *dir) {
  icx_engine *e = s->engine;
  if (s->ckpt && strcmp(s->ckpt_dir, dir) == 0) return ICX_OK;
  icxCkpt_close(s->ckpt);
  s->ckpt = NULL;
  if (s->ckpt_dir) icxCore_free(&e->alloc, s->ckpt_dir, strlen(s->ckpt_dir) + 1);
  s->ckpt_dir = NULL;
  size_t n = strlen(dir);
  char *d = icxCore_alloc(&e->alloc, n + 1);
  if (!d) return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  memcpy(d, dir, n + 1);
  icx_status rc = icxCkpt_open(s->st->pm, dir, &s->ckpt, &e->err);
  if (rc) {
    icxCore_free(&e->alloc, d, n + 1);
    return rc == ICX_EINVAL ? icxErr_set(&e->err, ICX_EIO, "%s", e->err.msg) : rc;
  }
  s->ckpt_dir = d;
  return ICX_OK;
}

icx_status icx_state_save(icx_state *state, const char *dir) {
  if (!state || state->magic != ICX_MAGIC_STATE || !icxApi_engine_ok(state->engine))
    return ICX_EMISUSE;
  icx_engine *e = state->engine;
  icxErr_clear(&e->err);
  if (!dir) return icxErr_set(&e->err, ICX_EINVAL, "icx_state_save: dir is NULL");
  icxState *st = state->st;
  (void)icxRound_abort_all_paused(st, &e->err); /* as a checkpoint round */
  icxErr_clear(&e->err);
  icx_status rc = open_dir(state, dir);
  if (rc) return rc;
  W w = {&e->alloc, NULL, 0, 0, 0};
  w_u64(&w, SUBNET_MAGIC);
  w_u64(&w, st->range_lo);
  w_u64(&w, st->range_hi);
  w_u64(&w, st->next_index);
  w_u64(&w, st->round);
  w_u64(&w, st->time_ns);
  w_u64(&w, st->last_charge_ns);
  w_u128(&w, st->minted);
  w_u128(&w, st->burned);
  w_u8(&w, st->reject_with_code_prefix);
  w_list(&w, &st->mgmt_in);
  w_list(&w, &st->outbox);
  w_list(&w, &st->ingress);
  w_u64(&w, st->nrr);
  for (uint32_t i = 0; i < st->nrr; i++) {
    const icxRawRandCtx *x = &st->rr[i];
    w_p(&w, &x->caller);
    w_u64(&w, x->callback);
    w_u128(&w, x->cycles);
    w_u64(&w, x->deadline);
    w_u64(&w, x->round);
  }
  w_u64(&w, st->nstops);
  for (uint32_t i = 0; i < st->nstops; i++) {
    const icxStopCtx *x = &st->stops[i];
    w_p(&w, &x->canister);
    w_u8(&w, x->from_ingress);
    w_p(&w, &x->sender);
    w_u64(&w, x->callback);
    w_raw(&w, x->msg_id, 32);
    w_u128(&w, x->cycles);
    w_u64(&w, x->deadline);
  }
  w_u64(&w, state->sched.n);
  for (uint32_t i = 0; i < state->sched.n; i++) {
    w_p(&w, &state->sched.v[i].id);
    w_u64(&w, (uint64_t)state->sched.v[i].priority);
  }
  w_u64(&w, st->ncan);
  for (uint32_t i = 0; i < st->ncan; i++) w_canister(&w, st->can[i]);

  uint32_t nitems = 1 + 3 * st->ncan;
  icxCkptItem *items = icxCore_allocn(&e->alloc, nitems, sizeof *items);
  char *names = icxCore_allocn(&e->alloc, nitems, 96);
  if (w.oom || !items || !names) {
    rc = icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
    goto done;
  }
  uint32_t k = 0;
  items[k].name = "subnet";
  items[k].kind = ICX_CKPT_BLOB;
  items[k].blob = w.p;
  items[k].blob_len = w.n;
  k++;
  for (uint32_t i = 0; i < st->ncan; i++) {
    const icxCanister *c = st->can[i];
    char *nm = names + (size_t)k * 96;
    if (c->heap_map) {
      item_name(nm, 96, &c->id, "heap");
      items[k].name = nm;
      items[k].kind = ICX_CKPT_PAGES;
      items[k++].map = c->heap_map;
      nm = names + (size_t)k * 96;
    }
    if (c->stable && icxStable_map(c->stable)) {
      item_name(nm, 96, &c->id, "stable");
      items[k].name = nm;
      items[k].kind = ICX_CKPT_PAGES;
      items[k++].map = icxStable_map(c->stable);
      nm = names + (size_t)k * 96;
    }
    if (c->code) {
      item_name(nm, 96, &c->id, "wasm");
      items[k].name = nm;
      items[k].kind = ICX_CKPT_BLOB;
      items[k].blob = c->code->instr.orig;
      items[k++].blob_len = c->code->instr.orig_len;
    }
  }
  rc = icxCkpt_save(state->ckpt, items, k, &e->err);
  if (rc == ICX_EINVAL) rc = ICX_EIO; /* ckpt.h reports I/O errors as EINVAL */
done:
  icxCore_free(&e->alloc, items, (size_t)nitems * sizeof *items);
  icxCore_free(&e->alloc, names, (size_t)nitems * 96);
  icxCore_free(&e->alloc, w.p, w.cap);
  if (rc) e->err.status = rc;
  return rc;
}

/* ---- load ---------------------------------------------------------------------------------- */

static const icxCkptItem *find_item(const icxCkptLoaded *l, const char *name) {
  for (uint32_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i].name, name) == 0) return &l->items[i];
  return NULL;
}

#define CORRUPT(...) icxErr_set(err, ICX_ECORRUPT, __VA_ARGS__)

/* Install code and memories into the fresh canister c. */
static icx_status restore_code(icxState *st, icxCanister *c, const icxCkptLoaded *l,
                               const uint8_t sha[32], icxErr *err) {
  char nm[96];
  item_name(nm, sizeof nm, &c->id, "wasm");
  const icxCkptItem *wi = find_item(l, nm);
  if (!wi || wi->kind != ICX_CKPT_BLOB) return CORRUPT("checkpoint: %s missing", nm);
  icxCode *code = NULL;
  icx_status rc = icxCode_new(&st->alloc, &st->cfg, wi->blob, (size_t)wi->blob_len, &code, err);
  if (rc) return rc == ICX_ENOMEM ? rc : CORRUPT("checkpoint: %s: %s", nm, err->msg);
  memcpy(code->instr.sha256, sha, 32); /* the hash of the bytes as uploaded */
  icxRuntime r;
  icxTrap trap = ICX_TRAP_NONE;
  rc = icxRuntime_new(c, code, &r, &trap, err);
  if (rc == ICX_OK && trap != ICX_TRAP_NONE) rc = CORRUPT("checkpoint: %s traps", nm);
  if (rc) {
    icxCode_unref(code);
    return rc;
  }
  icxCanister_drop_runtime(c);
  c->store = r.store;
  c->inst = r.inst;
  c->x = r.x;
  c->code = code;
  item_name(nm, sizeof nm, &c->id, "heap");
  const icxCkptItem *hi = find_item(l, nm);
  icxMemInst *m = icxInstance_memory(c->inst);
  if (hi && hi->kind == ICX_CKPT_PAGES) {
    if (m) {
      rc = icxHeap_load(m, hi->map, err);
      if (rc) return rc;
    }
    icxPm_unref(c->heap_map);
    c->heap_map = icxPm_ref(hi->map);
  }
  if (c->globals.vals) icxGlobals_restore(c->inst, &c->globals);
  return ICX_OK;
}

/* One canister record. */
static icx_status r_canister(R *r, icxState *st, const icxCkptLoaded *l, icxErr *err) {
  const icxAllocator *a = &st->alloc;
  icx_principal id = r_p(r);
  if (r->bad) return CORRUPT("checkpoint: truncated canister");
  icxCanister *c = NULL;
  icx_status rc = icxState_create_canister(st, &id, NULL, NULL, icxU128_zero(), &c, err);
  if (rc) return rc == ICX_ENOMEM ? rc : CORRUPT("checkpoint: canister: %s", err->msg);
  c->status = r_u8(r);
  c->ncontrollers = (uint32_t)r_u64(r);
  if (c->ncontrollers > ICX_MGMT_MAX_CONTROLLERS) return CORRUPT("checkpoint: controllers");
  for (uint32_t i = 0; i < c->ncontrollers; i++) c->controllers[i] = r_p(r);
  r_settings(r, &c->settings);
  c->balance = r_u128(r);
  c->reserved = r_u128(r);
  c->version = r_u64(r);
  size_t n = 0;
  uint64_t cl = r_u64(r);
  const uint8_t *cd = cl <= 32 ? r_raw(r, (size_t)cl) : NULL;
  if (!cd && cl) return CORRUPT("checkpoint: certified data");
  if (cl) memcpy(c->certified, cd, (size_t)cl);
  c->certified_len = (uint32_t)cl;
  c->global_timer = r_u64(r);
  c->task_turn = r_u8(r);
  c->last_charge_ns = r_u64(r);
  c->instructions_total = r_u64(r);
  uint8_t has_code = r_u8(r);
  uint8_t sha[32] = {0};
  if (has_code) {
    const uint8_t *s = r_raw(r, 32);
    if (s) memcpy(sha, s, 32);
  }
  uint32_t ng = r_count(r, 8);
  if (ng) {
    c->globals.vals = icxCore_allocn(a, ng, sizeof *c->globals.vals);
    if (!c->globals.vals) return icxErr_set(err, ICX_ENOMEM, "out of memory");
    c->globals.n = ng;
    for (uint32_t i = 0; i < ng; i++) c->globals.vals[i] = r_u64(r);
  }
  int oom = 0;
  uint32_t nx = r_count(r, 60);
  for (uint32_t i = 0; i < nx && !r->bad && !oom; i++) {
    icxCallContext x;
    memset(&x, 0, sizeof x);
    x.id = r_u64(r);
    x.origin = r_u8(r);
    x.caller = r_p(r);
    x.origin_callback = r_u64(r);
    const uint8_t *mid = r_raw(r, 32);
    if (mid) memcpy(x.msg_id, mid, 32);
    x.deadline = r_u64(r);
    x.available = r_u128(r);
    x.responded = r_u8(r);
    x.deleted = r_u8(r);
    x.instructions = r_u64(r);
    if (r_u8(r)) {
      x.method = (char *)r_bytes(r, a, &n, 1, &oom);
      if (x.method) x.method[n] = 0;
    }
    if (!oom && icxCanister_ctx_push(c, &x) != ICX_OK) oom = 1;
  }
  uint32_t nb = r_count(r, 100);
  for (uint32_t i = 0; i < nb && !r->bad && !oom; i++) {
    icxCallback b;
    memset(&b, 0, sizeof b);
    b.id = r_u64(r);
    b.ctx = r_u64(r);
    b.callee = r_p(r);
    b.reply_fun = r_u64(r);
    b.reply_env = r_u64(r);
    b.reject_fun = r_u64(r);
    b.reject_env = r_u64(r);
    b.has_cleanup = r_u8(r);
    b.cleanup_fun = r_u64(r);
    b.cleanup_env = r_u64(r);
    b.cycles_sent = r_u128(r);
    b.prepaid = r_u128(r);
    b.prepaid_transmission = r_u128(r);
    b.deadline = r_u64(r);
    if (icxCanister_cb_push(c, &b) != ICX_OK) oom = 1;
  }
  c->next_ctx_id = r_u64(r);
  c->next_cb_id = r_u64(r);
  uint32_t nq = r_count(r, 40);
  for (uint32_t i = 0; i < nq && !r->bad && !oom; i++) {
    icxMsg m;
    r_msg(r, a, &m, &oom);
    if (!oom && icxState_push_input(st, c, &m, err) != ICX_OK) oom = 1;
    icxState_msg_clear(a, &m);
  }
  uint32_t nl = r_count(r, 24);
  if (nl && !oom) {
    c->log = icxCore_allocn(a, nl, sizeof *c->log);
    if (!c->log) oom = 1; else c->caplog = nl;
  }
  for (uint32_t i = 0; i < nl && !r->bad && !oom; i++) {
    icxLogRecord *g = &c->log[c->nlog];
    g->idx = r_u64(r);
    g->time_ns = r_u64(r);
    g->content = r_bytes(r, a, &n, 0, &oom);
    g->len = (uint32_t)n;
    if (!oom) c->nlog++;
  }
  c->log_bytes = r_u64(r);
  c->next_log_idx = r_u64(r);
  if (oom) return icxErr_set(err, ICX_ENOMEM, "out of memory");
  if (r->bad) return CORRUPT("checkpoint: truncated canister record");
  char nm[96];
  item_name(nm, sizeof nm, &c->id, "stable");
  const icxCkptItem *si = find_item(l, nm);
  if (si && si->kind == ICX_CKPT_PAGES) {
    rc = icxStable_load(c->stable, si->map, err);
    if (rc) return rc;
  }
  if (has_code) return restore_code(st, c, l, sha, err);
  item_name(nm, sizeof nm, &c->id, "heap");
  const icxCkptItem *hi = find_item(l, nm);
  if (hi && hi->kind == ICX_CKPT_PAGES) {
    icxPm_unref(c->heap_map);
    c->heap_map = icxPm_ref(hi->map);
  }
  return ICX_OK;
}

static icx_status decode_subnet(icx_state *s, const icxCkptLoaded *l, icxErr *err) {
  icxState *st = s->st;
  const icxAllocator *a = &st->alloc;
  const icxCkptItem *it = find_item(l, "subnet");
  if (!it || it->kind != ICX_CKPT_BLOB) return CORRUPT("checkpoint: no subnet record");
  R r = {it->blob, (size_t)it->blob_len, 0, 0};
  if (r_u64(&r) != SUBNET_MAGIC) return CORRUPT("checkpoint: subnet record: bad magic");
  uint64_t range_lo = r_u64(&r), range_hi = r_u64(&r), next_index = r_u64(&r);
  uint64_t round = r_u64(&r), time_ns = r_u64(&r), last_charge = r_u64(&r);
  icxU128 minted = r_u128(&r), burned = r_u128(&r);
  st->reject_with_code_prefix = r_u8(&r);
  icx_status rc = r_list(&r, a, &st->mgmt_in, err);
  if (rc == ICX_OK) rc = r_list(&r, a, &st->outbox, err);
  if (rc == ICX_OK) rc = r_list(&r, a, &st->ingress, err);
  if (rc) return rc;
  uint32_t nrr = r_count(&r, 50);
  for (uint32_t i = 0; i < nrr && !r.bad && rc == ICX_OK; i++) {
    icxRawRandCtx x;
    x.caller = r_p(&r);
    x.callback = r_u64(&r);
    x.cycles = r_u128(&r);
    x.deadline = r_u64(&r);
    x.round = r_u64(&r);
    rc = icxState_add_raw_rand(st, &x, err);
  }
  uint32_t ns = r_count(&r, 80);
  for (uint32_t i = 0; i < ns && !r.bad && rc == ICX_OK; i++) {
    icxStopCtx x;
    memset(&x, 0, sizeof x);
    x.canister = r_p(&r);
    x.from_ingress = r_u8(&r);
    x.sender = r_p(&r);
    x.callback = r_u64(&r);
    const uint8_t *mid = r_raw(&r, 32);
    if (mid) memcpy(x.msg_id, mid, 32);
    x.cycles = r_u128(&r);
    x.deadline = r_u64(&r);
    rc = icxState_add_stop(st, &x, err);
  }
  uint32_t np = r_count(&r, 9);
  for (uint32_t i = 0; i < np && !r.bad && rc == ICX_OK; i++) {
    icx_principal id = r_p(&r);
    rc = icxSched_set(a, &s->sched, &id, (int64_t)r_u64(&r), err);
  }
  uint32_t nc = r_count(&r, 100);
  for (uint32_t i = 0; i < nc && !r.bad && rc == ICX_OK; i++) rc = r_canister(&r, st, l, err);
  if (rc) return rc;
  if (r.bad || r.at != r.n) return CORRUPT("checkpoint: subnet record: truncated or trailing bytes");
  st->range_lo = range_lo;
  st->range_hi = range_hi;
  st->next_index = next_index;
  st->round = round;
  st->time_ns = time_ns;
  st->last_charge_ns = last_charge;
  st->minted = minted;
  st->burned = burned;
  return ICX_OK;
}

icx_status icx_state_load(icx_engine *engine, const char *dir, icx_state **out_state) {
  if (out_state) *out_state = NULL;
  if (!icxApi_engine_ok(engine)) return ICX_EMISUSE;
  icx_engine *e = engine;
  icxErr_clear(&e->err);
  if (!dir || !out_state) return icxErr_set(&e->err, ICX_EINVAL, "icx_state_load: NULL argument");
  icxState *st = NULL;
  icx_status rc = icxState_new(&e->alloc, &e->rtcfg, NULL, &st, &e->err);
  if (rc) return rc;
  icx_state *s = NULL;
  rc = icxApi_state_wrap(e, st, &s);
  if (rc) return rc;
  rc = open_dir(s, dir);
  icxCkptLoaded l;
  memset(&l, 0, sizeof l);
  if (rc == ICX_OK) rc = icxCkpt_load(s->ckpt, &l, &e->err);
  if (rc == ICX_OK) rc = decode_subnet(s, &l, &e->err);
  icxCkpt_loaded_free(&e->alloc, &l);
  if (rc) {
    icx_status keep = rc;
    icxErr saved = e->err;
    icx_state_free(s);
    e->err = saved;
    e->err.status = keep;
    return keep;
  }
  *out_state = s;
  return ICX_OK;
}
