/* state.c -- the subnet state: canisters by id, id allocation, message
 * routing and input queues, rounds, cycles totals and the state hash
 * (state.h, docs/management.md). */
#include "state.h"

#include <blake2.h>
#include <stdio.h>

#include "mgmt.h"
#include "principal.h"
#include "sysapi.h"

/* ---- messages --------------------------------------------------------------- */

void icxState_msg_clear(const icxAllocator *a, icxMsg *m) {
  if (m == NULL) return;
  if (m->method) icxCore_free(a, m->method, (size_t)m->method_len + 1);
  if (m->data) icxCore_free(a, m->data, m->len);
  memset(m, 0, sizeof *m);
}

icx_status icxMsgList_push(const icxAllocator *a, icxMsgList *l, icxMsg *m, icxErr *err) {
  if (l->n == l->cap) {
    uint32_t nc = l->cap ? l->cap * 2 : 8;
    icxMsg *v = icxCore_realloc(a, l->v, (size_t)l->cap * sizeof *v, (size_t)nc * sizeof *v);
    if (v == NULL) {
      icxState_msg_clear(a, m);
      return icxErr_set(err, ICX_ENOMEM, "state: out of memory");
    }
    l->v = v;
    l->cap = nc;
  }
  l->v[l->n++] = *m;
  memset(m, 0, sizeof *m);
  return ICX_OK;
}

icx_status icxMsgList_push_front(const icxAllocator *a, icxMsgList *l, icxMsg *m, icxErr *err) {
  icx_status rc = icxMsgList_push(a, l, m, err);
  if (rc) return rc;
  icxMsg last = l->v[l->n - 1];
  memmove(l->v + 1, l->v, (size_t)(l->n - 1) * sizeof *l->v);
  l->v[0] = last;
  return ICX_OK;
}

void icxMsgList_free(const icxAllocator *a, icxMsgList *l) {
  for (uint32_t i = 0; i < l->n; i++) icxState_msg_clear(a, &l->v[i]);
  icxCore_free(a, l->v, (size_t)l->cap * sizeof *l->v);
  memset(l, 0, sizeof *l);
}

static icx_status dup_bytes(const icxAllocator *a, const void *p, size_t n, uint8_t **out,
                            icxErr *err) {
  *out = NULL;
  if (n == 0) return ICX_OK;
  *out = icxCore_alloc(a, n);
  if (*out == NULL) return icxErr_set(err, ICX_ENOMEM, "state: out of memory");
  memcpy(*out, p, n);
  return ICX_OK;
}

icx_status icxState_make_reject(icxState *st, const icxMsg *req, uint32_t reject_code,
                                uint16_t error_code, const char *text, icxMsg *out,
                                icxErr *err) {
  memset(out, 0, sizeof *out);
  out->kind = ICX_MSG_RESPONSE;
  out->src = req->dst;
  out->dst = req->src;
  out->reject_code = reject_code;
  out->error_code = error_code;
  out->deadline = req->deadline;
  if (req->kind == ICX_MSG_INGRESS) {
    out->to_ingress = 1;
    memcpy(out->msg_id, req->msg_id, sizeof out->msg_id);
  } else {
    out->callback = req->callback;
    out->cycles = req->cycles;
  }
  size_t n = strlen(text);
  icx_status rc = dup_bytes(&st->alloc, text, n, &out->data, err);
  if (rc) return rc;
  out->len = n;
  return ICX_OK;
}

/* ---- new / free --------------------------------------------------------------- */

icx_status icxState_new(const icxAllocator *a, const icxRtConfig *cfg, icxPmCtx *pm,
                        icxState **out, icxErr *err) {
  if (out) *out = NULL;
  if (a == NULL || cfg == NULL || out == NULL)
    return icxErr_set(err, ICX_EINVAL, "state: NULL argument");
  icxState *st = icxCore_alloc(a, sizeof *st);
  if (st == NULL) return icxErr_set(err, ICX_ENOMEM, "state: out of memory");
  st->alloc = *a;
  st->cfg = *cfg;
  st->pm = pm;
  if (pm == NULL) {
    st->pm = icxPm_ctx_new(a);
    if (st->pm == NULL) {
      icxCore_free(a, st, sizeof *st);
      return icxErr_set(err, ICX_ENOMEM, "state: out of memory");
    }
    st->own_pm = 1;
  }
  icx_status rc = icxMgmt_types_init(&st->types, a, err);
  if (rc) {
    if (st->own_pm) icxPm_ctx_free(st->pm);
    icxCore_free(a, st, sizeof *st);
    return rc;
  }
  st->range_lo = 0;
  st->range_hi = ICX_CANISTER_IDS_PER_SUBNET - 1;
  st->next_index = 0;
  *out = st;
  return ICX_OK;
}

static void drain_input(icxState *st, icxCanister *c) {
  icxMsg m;
  while (icxState_pop_input(c, &m)) icxState_msg_clear(&st->alloc, &m);
  icxCore_free(&st->alloc, c->inq, (size_t)c->inq_cap * sizeof *c->inq);
  c->inq = NULL;
  c->inq_cap = c->inq_head = c->inq_len = 0;
}

static void free_canister(icxState *st, icxCanister *c) {
  drain_input(st, c); /* the queue is ours (allocated with st->alloc) */
  icxCanister_free(c);
}

void icxState_free(icxState *st) {
  if (st == NULL) return;
  icxAllocator a = st->alloc;
  for (uint32_t i = 0; i < st->ncan; i++) free_canister(st, st->can[i]);
  icxCore_free(&a, st->can, (size_t)st->capcan * sizeof *st->can);
  icxMsgList_free(&a, &st->mgmt_in);
  icxMsgList_free(&a, &st->installs);
  icxMsgList_free(&a, &st->outbox);
  icxMsgList_free(&a, &st->ingress);
  icxCore_free(&a, st->rr, (size_t)st->caprr * sizeof *st->rr);
  icxCore_free(&a, st->stops, (size_t)st->capstops * sizeof *st->stops);
  icxMgmt_types_free(&st->types);
  if (st->own_pm) icxPm_ctx_free(st->pm);
  icxCore_free(&a, st, sizeof *st);
}

/* ---- canisters ------------------------------------------------------------------ */

/* Lower bound: first index whose id is >= *id. */
static uint32_t lower_bound(const icxState *st, const icx_principal *id) {
  uint32_t lo = 0, hi = st->ncan;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (icxPrincipal_cmp(&st->can[mid]->id, id) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

int64_t icxState_find(const icxState *st, const icx_principal *id) {
  uint32_t i = lower_bound(st, id);
  if (i < st->ncan && icxPrincipal_eq(&st->can[i]->id, id)) return (int64_t)i;
  return -1;
}

icxCanister *icxState_canister(const icxState *st, const icx_principal *id) {
  int64_t i = icxState_find(st, id);
  return i < 0 ? NULL : st->can[i];
}

static int in_range(const icxState *st, const icx_principal *p) {
  uint64_t idx;
  return icxPrincipal_canister_index(p, &idx) && idx >= st->range_lo && idx <= st->range_hi;
}

static int next_free_index(const icxState *st, uint64_t *out) {
  for (uint64_t idx = st->next_index; idx <= st->range_hi && idx >= st->next_index; idx++) {
    icx_principal p = icxPrincipal_canister(idx);
    if (icxState_find(st, &p) < 0) {
      *out = idx;
      return 1;
    }
  }
  return 0;
}

icx_status icxState_peek_id(const icxState *st, icx_principal *out, icxErr *err) {
  uint64_t idx;
  if (!next_free_index(st, &idx))
    return icxErr_set(err, ICX_ELIMIT,
                      "Could not create canister. Subnet has surpassed its canister ID allocation.");
  *out = icxPrincipal_canister(idx);
  return ICX_OK;
}

void icxState_default_settings(const icxState *st, icxCanisterSettings *s) {
  memset(s, 0, sizeof *s);
  s->has = 0xFFu & ~ICX_SET_CONTROLLERS;
  s->freezing_threshold = icxU128_from_u64(ICX_DEFAULT_FREEZING_THRESHOLD_S);
  s->reserved_cycles_limit = st->cfg.fees.default_reserved_balance_limit;
  s->log_visibility = ICX_LOG_VIS_CONTROLLERS;
  s->wasm_memory_limit = icxU128_from_u64(ICX_DEFAULT_WASM_MEMORY_LIMIT);
}

/* Sort p[0..n) by id and drop duplicates (the replica keeps controllers
 * in a BTreeSet); returns the new count. */
static uint32_t sort_unique(icx_principal *p, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) {
    icx_principal x = p[i];
    uint32_t j = i;
    while (j > 0 && icxPrincipal_cmp(&p[j - 1], &x) > 0) {
      p[j] = p[j - 1];
      j--;
    }
    p[j] = x;
  }
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++)
    if (k == 0 || !icxPrincipal_eq(&p[k - 1], &p[i])) p[k++] = p[i];
  for (uint32_t i = k; i < n; i++) memset(&p[i], 0, sizeof p[i]);
  return k;
}

void icxState_apply_settings(icxCanister *c, const icxCanisterSettings *u) {
  icxCanisterSettings *s = &c->settings;
  if (u->has & ICX_SET_CONTROLLERS) {
    uint32_t n = u->ncontrollers > ICX_MGMT_MAX_CONTROLLERS ? ICX_MGMT_MAX_CONTROLLERS
                                                             : u->ncontrollers;
    icx_principal tmp[ICX_MGMT_MAX_CONTROLLERS];
    memset(tmp, 0, sizeof tmp);
    memcpy(tmp, u->controllers, n * sizeof *u->controllers);
    n = sort_unique(tmp, n);
    memcpy(s->controllers, tmp, sizeof tmp);
    memcpy(c->controllers, tmp, sizeof tmp);
    s->ncontrollers = c->ncontrollers = n;
  }
  if (u->has & ICX_SET_COMPUTE_ALLOCATION) s->compute_allocation = u->compute_allocation;
  if (u->has & ICX_SET_MEMORY_ALLOCATION) s->memory_allocation = u->memory_allocation;
  if (u->has & ICX_SET_FREEZING_THRESHOLD) s->freezing_threshold = u->freezing_threshold;
  if (u->has & ICX_SET_RESERVED_CYCLES_LIMIT) s->reserved_cycles_limit = u->reserved_cycles_limit;
  if (u->has & ICX_SET_WASM_MEMORY_LIMIT) s->wasm_memory_limit = u->wasm_memory_limit;
  if (u->has & ICX_SET_WASM_MEMORY_THRESHOLD) s->wasm_memory_threshold = u->wasm_memory_threshold;
  if (u->has & ICX_SET_LOG_VISIBILITY) {
    s->log_visibility = u->log_visibility;
    memset(s->viewers, 0, sizeof s->viewers);
    s->nviewers = 0;
    if (u->log_visibility == ICX_LOG_VIS_ALLOWED_VIEWERS) {
      s->nviewers = u->nviewers > ICX_MGMT_MAX_CONTROLLERS ? ICX_MGMT_MAX_CONTROLLERS : u->nviewers;
      memcpy(s->viewers, u->viewers, s->nviewers * sizeof *u->viewers);
    }
  }
  s->has |= u->has;
}

icx_status icxState_create_canister(icxState *st, const icx_principal *specified,
                                    const icx_principal *controller,
                                    const icxCanisterSettings *settings, icxU128 cycles,
                                    icxCanister **out, icxErr *err) {
  if (out) *out = NULL;
  icx_principal id;
  uint64_t idx = 0;
  if (specified) {
    if (specified->len > 29) return icxErr_set(err, ICX_EINVAL, "state: bad canister id");
    id = *specified;
    if (icxState_find(st, &id) >= 0) {
      char t[64];
      icxPrincipal_to_text(&id, t, sizeof t);
      return icxErr_set(err, ICX_ESTATE,
                        "Unsuccessful canister creation: canister id %s already exists.", t);
    }
  } else {
    if (!next_free_index(st, &idx))
      return icxErr_set(
          err, ICX_ELIMIT,
          "Could not create canister. Subnet has surpassed its canister ID allocation.");
    id = icxPrincipal_canister(idx);
  }
  if (st->ncan == st->capcan) {
    uint32_t nc = st->capcan ? st->capcan * 2 : 8;
    icxCanister **v =
        icxCore_realloc(&st->alloc, st->can, (size_t)st->capcan * sizeof *v, (size_t)nc * sizeof *v);
    if (v == NULL) return icxErr_set(err, ICX_ENOMEM, "state: out of memory");
    st->can = v;
    st->capcan = nc;
  }
  icxCanister *c;
  icx_status rc = icxCanister_new(&st->alloc, st->pm, &st->cfg, &id, &c, err);
  if (rc) return rc;
  c->status = ICX_STATUS_RUNNING;
  icxState_default_settings(st, &c->settings);
  if (controller) {
    icxCanisterSettings ctl;
    memset(&ctl, 0, sizeof ctl);
    ctl.has = ICX_SET_CONTROLLERS;
    ctl.ncontrollers = 1;
    ctl.controllers[0] = *controller;
    icxState_apply_settings(c, &ctl);
  } else {
    c->settings.has |= ICX_SET_CONTROLLERS;
  }
  if (settings) icxState_apply_settings(c, settings);
  c->balance = cycles;
  c->last_charge_ns = st->time_ns;
  uint32_t at = lower_bound(st, &id);
  memmove(&st->can[at + 1], &st->can[at], (size_t)(st->ncan - at) * sizeof *st->can);
  st->can[at] = c;
  st->ncan++;
  if (!specified) st->next_index = idx + 1;
  if (out) *out = c;
  return ICX_OK;
}

static icxU128 canister_held(const icxCanister *c);

icx_status icxState_delete_canister(icxState *st, const icx_principal *id, icxErr *err) {
  int64_t i = icxState_find(st, id);
  if (i < 0) return icxErr_set(err, ICX_ENOTFOUND, "state: no such canister");
  icxCanister *c = st->can[i];
  memmove(&st->can[i], &st->can[i + 1], (size_t)(st->ncan - (uint32_t)i - 1) * sizeof *st->can);
  st->ncan--;
  st->burned = icxU128_add_sat(st->burned, canister_held(c));
  /* Requests still queued are answered (the canister is gone); the rest dropped. */
  icx_status rc = ICX_OK;
  char text[96], t[64];
  icxPrincipal_to_text(id, t, sizeof t);
  snprintf(text, sizeof text, "Canister %s not found.", t);
  icxMsg m;
  while (icxState_pop_input(c, &m)) {
    if (rc == ICX_OK && (m.kind == ICX_MSG_REQUEST || m.kind == ICX_MSG_INGRESS)) {
      icxMsg r;
      rc = icxState_make_reject(st, &m, ICX_REJECT_DESTINATION_INVALID, 301, text, &r, err);
      if (rc == ICX_OK) rc = icxState_route(st, &r, 1, err);
    } else if (m.kind == ICX_MSG_RESPONSE) {
      /* a refund that can no longer be delivered */
      st->burned = icxU128_add_sat(st->burned, m.cycles);
    }
    icxState_msg_clear(&st->alloc, &m);
  }
  free_canister(st, c);
  return rc;
}

/* ---- input queues ------------------------------------------------------------------ */

/* Room for one more message in c's input ring (doubling, oldest first at
 * index 0 after a regrowth).  On failure *m is cleared (it was to be taken). */
static icx_status inq_reserve(icxState *st, icxCanister *c, icxMsg *m, icxErr *err) {
  if (c->inq_len < c->inq_cap) return ICX_OK;
  uint32_t nc = c->inq_cap ? c->inq_cap * 2 : 8;
  icxMsg *v = icxCore_allocn(&st->alloc, nc, sizeof *v);
  if (v == NULL) {
    icxState_msg_clear(&st->alloc, m);
    return icxErr_set(err, ICX_ENOMEM, "state: out of memory (input queue)");
  }
  for (uint32_t i = 0; i < c->inq_len; i++) v[i] = c->inq[(c->inq_head + i) % c->inq_cap];
  icxCore_free(&st->alloc, c->inq, (size_t)c->inq_cap * sizeof *c->inq);
  c->inq = v;
  c->inq_cap = nc;
  c->inq_head = 0;
  return ICX_OK;
}

icx_status icxState_push_input(icxState *st, icxCanister *c, icxMsg *m, icxErr *err) {
  icx_status rc = inq_reserve(st, c, m, err);
  if (rc != ICX_OK) return rc;
  c->inq[(c->inq_head + c->inq_len) % c->inq_cap] = *m;
  c->inq_len++;
  memset(m, 0, sizeof *m);
  return ICX_OK;
}

icx_status icxState_push_input_front(icxState *st, icxCanister *c, icxMsg *m, icxErr *err) {
  icx_status rc = inq_reserve(st, c, m, err);
  if (rc != ICX_OK) return rc;
  c->inq_head = (c->inq_head + c->inq_cap - 1) % c->inq_cap;
  c->inq[c->inq_head] = *m;
  c->inq_len++;
  memset(m, 0, sizeof *m);
  return ICX_OK;
}

int icxState_pop_input(icxCanister *c, icxMsg *m) {
  if (c->inq_len == 0) return 0;
  *m = c->inq[c->inq_head];
  memset(&c->inq[c->inq_head], 0, sizeof *m);
  c->inq_head = (c->inq_head + 1) % c->inq_cap;
  c->inq_len--;
  return 1;
}

uint32_t icxState_queued_from(const icxCanister *c, const icx_principal *src, uint8_t kind) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->inq_len; i++) {
    const icxMsg *m = &c->inq[(c->inq_head + i) % c->inq_cap];
    if (m->kind == kind && icxPrincipal_eq(&m->src, src)) n++;
  }
  return n;
}

uint32_t icxState_open_contexts(const icxCanister *c) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->nctxs; i++) {
    const icxCallContext *x = &c->ctxs[i];
    int has_cb = 0;
    for (uint32_t j = 0; j < c->ncbs && !has_cb; j++) has_cb = c->cbs[j].ctx == x->id;
    if (!x->responded || has_cb) n++;
  }
  return n;
}

/* ---- routing ------------------------------------------------------------------------- */

/* The answer to message *m whose destination does not exist: reject 3 /
 * IC0301 "Canister <id> not found." with its cycles refunded, in *r;
 * clears *m. */
static icx_status not_found_reject(icxState *st, icxMsg *m, icxMsg *r, icxErr *err) {
  char t[64], text[96];
  icxPrincipal_to_text(&m->dst, t, sizeof t);
  snprintf(text, sizeof text, "Canister %s not found.", t);
  icx_status rc = icxState_make_reject(st, m, ICX_REJECT_DESTINATION_INVALID, 301, text, r, err);
  icxState_msg_clear(&st->alloc, m);
  return rc;
}

static icx_status route_one(icxState *st, icxMsg *m, icxErr *err) {
  const icxAllocator *a = &st->alloc;
  char t[64], text[160];
  if (m->kind == ICX_MSG_RESPONSE && m->to_ingress) return icxMsgList_push(a, &st->ingress, m, err);
  if (m->dst.len == 0) { /* aaaaa-aa */
    if (m->kind == ICX_MSG_RESPONSE) { /* the management canister makes no calls */
      icxState_msg_clear(a, m);
      return ICX_OK;
    }
    return icxMsgList_push(a, &st->mgmt_in, m, err);
  }
  icxCanister *c = icxState_canister(st, &m->dst);
  if (c) {
    if (m->kind != ICX_MSG_RESPONSE &&
        icxState_queued_from(c, &m->src, m->kind) >= ICX_QUEUE_CAPACITY) {
      icxPrincipal_to_text(&m->dst, t, sizeof t);
      snprintf(text, sizeof text, "Canister %s input queue is full", t); /* (unconfirmed text) */
      icxMsg r;
      icx_status rc = icxState_make_reject(st, m, ICX_REJECT_SYS_TRANSIENT, 201, text, &r, err);
      icxState_msg_clear(a, m);
      return rc ? rc : route_one(st, &r, err);
    }
    return icxState_push_input(st, c, m, err);
  }
  if (in_range(st, &m->dst)) { /* a canister of this subnet that does not exist */
    if (m->kind == ICX_MSG_RESPONSE) {
      st->burned = icxU128_add_sat(st->burned, m->cycles); /* undeliverable refund */
      icxState_msg_clear(a, m);
      return ICX_OK;
    }
    icxMsg r;
    icx_status rc = not_found_reject(st, m, &r, err);
    return rc ? rc : route_one(st, &r, err);
  }
  return icxMsgList_push(a, &st->outbox, m, err);
}

icx_status icxState_route(icxState *st, icxMsg *out, uint32_t n, icxErr *err) {
  icx_status rc = ICX_OK;
  for (uint32_t i = 0; i < n; i++) {
    if (rc == ICX_OK)
      rc = route_one(st, &out[i], err);
    else
      icxState_msg_clear(&st->alloc, &out[i]);
  }
  return rc;
}

/* 1 if c has a response for callback cb queued or running. */
static int response_pending(const icxCanister *c, uint64_t cb) {
  for (uint32_t i = 0; i < c->inq_len; i++) {
    const icxMsg *q = &c->inq[(c->inq_head + i) % c->inq_cap];
    if (q->kind == ICX_MSG_RESPONSE && q->callback == cb) return 1;
  }
  const icxExecution *e = c->paused;
  return e && e->kind == ICX_EXEC_RESPONSE && e->has_msg && e->msg.callback == cb;
}

icx_status icxState_induct_xnet(icxState *st, icxMsg *m, icxErr *err) {
  st->xnet_in = icxU128_add_sat(st->xnet_in, m->cycles);
  int ok = m->src.len > 0 && !in_range(st, &m->src) &&
           (m->kind == ICX_MSG_REQUEST || m->kind == ICX_MSG_RESPONSE);
  if (ok && m->kind == ICX_MSG_REQUEST) {
    m->to_ingress = 0;
    if (m->dst.len == 0 || in_range(st, &m->dst)) return route_one(st, m, err);
    /* not a canister of this subnet: answered as a missing canister */
    icxMsg r;
    icx_status rc = not_found_reject(st, m, &r, err);
    return rc ? rc : route_one(st, &r, err);
  }
  if (ok) {
    icxCanister *c = icxState_canister(st, &m->dst);
    int64_t cbi = c ? icxCanister_cb_find(c, m->callback) : -1;
    ok = cbi >= 0 && icxPrincipal_eq(&c->cbs[cbi].callee, &m->src) &&
         !response_pending(c, m->callback);
    if (ok) {
      m->to_ingress = 0;
      return icxState_push_input(st, c, m, err);
    }
  }
  st->burned = icxU128_add_sat(st->burned, m->cycles);
  icxState_msg_clear(&st->alloc, m);
  return ICX_OK;
}

void icxState_note_exported(icxState *st, const icxMsgList *list) {
  for (uint32_t i = 0; i < list->n; i++)
    st->xnet_out = icxU128_add_sat(st->xnet_out, list->v[i].cycles);
}

icx_status icxState_submit_ingress(icxState *st, icxMsg *m, icxErr *err) {
  if (m == NULL || m->kind != ICX_MSG_INGRESS) {
    if (m) icxState_msg_clear(&st->alloc, m);
    return icxErr_set(err, ICX_EINVAL, "state: not an ingress message");
  }
  if (m->dst.len == 0) return icxMsgList_push(&st->alloc, &st->mgmt_in, m, err);
  icxCanister *c = icxState_canister(st, &m->dst);
  if (c == NULL) {
    icxMsg r;
    icx_status rc = not_found_reject(st, m, &r, err);
    return rc ? rc : icxMsgList_push(&st->alloc, &st->ingress, &r, err);
  }
  return route_one(st, m, err);
}

/* ---- rounds --------------------------------------------------------------------------- */

icx_status icxState_begin_round(icxState *st, uint64_t round, uint64_t time_ns,
                                const uint8_t *sig, size_t len, icxErr *err) {
  icx_status rc = icxRandTape_init(&st->tape, round, sig, len, err);
  if (rc) return rc;
  st->round = round;
  st->time_ns = time_ns;
  st->have_tape = 1;
  return ICX_OK;
}

icx_status icxState_answer_raw_rand(icxState *st, icxErr *err) {
  if (!st->have_tape) return icxErr_set(err, ICX_ESTATE, "state: no round started");
  uint32_t k = 0; /* contexts kept (arrived in this round) */
  icx_status rc = ICX_OK;
  for (uint32_t i = 0; i < st->nrr; i++) {
    icxRawRandCtx x = st->rr[i];
    if (rc != ICX_OK || x.round >= st->round) {
      st->rr[k++] = x;
      continue;
    }
    icxMsg r;
    memset(&r, 0, sizeof r);
    r.kind = ICX_MSG_RESPONSE;
    r.src = icxPrincipal_management();
    r.dst = x.caller;
    r.callback = x.callback;
    r.cycles = x.cycles;
    r.deadline = x.deadline;
    r.data = icxCore_alloc(&st->alloc, ICX_RAW_RAND_REPLY_BYTES);
    if (r.data == NULL) {
      rc = icxErr_set(err, ICX_ENOMEM, "state: out of memory");
      st->rr[k++] = x;
      continue;
    }
    r.len = ICX_RAW_RAND_REPLY_BYTES;
    rc = icxRandTape_raw_rand_reply(&st->tape, r.data, err);
    if (rc) {
      icxState_msg_clear(&st->alloc, &r);
      st->rr[k++] = x;
      continue;
    }
    rc = route_one(st, &r, err);
  }
  st->nrr = k;
  return rc;
}

/* Answer (reply or reject) stop context x; text NULL for the empty reply. */
static icx_status answer_stop(icxState *st, const icxStopCtx *x, uint32_t reject_code,
                              uint16_t error_code, const char *text, icxErr *err) {
  icxMsg r;
  memset(&r, 0, sizeof r);
  r.kind = ICX_MSG_RESPONSE;
  r.src = icxPrincipal_management();
  r.dst = x->sender;
  r.deadline = x->deadline;
  r.reject_code = reject_code;
  r.error_code = error_code;
  if (x->from_ingress) {
    r.to_ingress = 1;
    memcpy(r.msg_id, x->msg_id, 32);
  } else {
    r.callback = x->callback;
    r.cycles = x->cycles;
  }
  static const uint8_t empty[ICX_CANDID_EMPTY_REPLY_BYTES] = {'D', 'I', 'D', 'L', 0, 0};
  const void *p = text ? (const void *)text : (const void *)empty;
  size_t n = text ? strlen(text) : sizeof empty;
  icx_status rc = dup_bytes(&st->alloc, p, n, &r.data, err);
  if (rc) return rc;
  r.len = n;
  return route_one(st, &r, err);
}

icx_status icxState_add_raw_rand(icxState *st, const icxRawRandCtx *x, icxErr *err) {
  if (st->nrr == st->caprr) {
    uint32_t nc = st->caprr ? st->caprr * 2 : 8;
    icxRawRandCtx *v = icxCore_realloc(&st->alloc, st->rr, (size_t)st->caprr * sizeof *v,
                                       (size_t)nc * sizeof *v);
    if (v == NULL) return icxErr_set(err, ICX_ENOMEM, "state: out of memory");
    st->rr = v;
    st->caprr = nc;
  }
  st->rr[st->nrr++] = *x;
  return ICX_OK;
}

icx_status icxState_add_stop(icxState *st, const icxStopCtx *x, icxErr *err) {
  if (st->nstops == st->capstops) {
    uint32_t nc = st->capstops ? st->capstops * 2 : 8;
    icxStopCtx *v = icxCore_realloc(&st->alloc, st->stops, (size_t)st->capstops * sizeof *v,
                                    (size_t)nc * sizeof *v);
    if (v == NULL) return icxErr_set(err, ICX_ENOMEM, "state: out of memory");
    st->stops = v;
    st->capstops = nc;
  }
  st->stops[st->nstops++] = *x;
  return ICX_OK;
}

icx_status icxState_answer_stops(icxState *st, const icx_principal *id, uint32_t reject_code,
                                 uint16_t error_code, const char *text, icxErr *err) {
  uint32_t k = 0;
  icx_status rc = ICX_OK;
  for (uint32_t i = 0; i < st->nstops; i++) {
    icxStopCtx x = st->stops[i];
    if (!icxPrincipal_eq(&x.canister, id) || rc != ICX_OK) {
      st->stops[k++] = x;
      continue;
    }
    rc = answer_stop(st, &x, reject_code, error_code, reject_code ? text : NULL, err);
    if (rc) st->stops[k++] = x;
  }
  st->nstops = k;
  return rc;
}

icx_status icxState_process_stopping(icxState *st, icxErr *err) {
  for (uint32_t i = 0; i < st->ncan; i++) {
    icxCanister *c = st->can[i];
    if (c->status != ICX_STATUS_STOPPING || icxState_open_contexts(c) != 0 || c->paused) continue;
    c->status = ICX_STATUS_STOPPED;
    c->version++;
    icx_status rc = icxState_answer_stops(st, &c->id, 0, 0, NULL, err);
    if (rc) return rc;
  }
  return ICX_OK;
}

icx_status icxState_run_mgmt(icxState *st, icxErr *err) {
  /* FIFO: messages produced meanwhile (e.g. by install) join the end. */
  /* Messages for a canister whose install is paused wait (kept in order
   * at the front, below `kept`). */
  uint32_t head = 0, kept = 0;
  icx_status rc = ICX_OK;
  while (head < st->mgmt_in.n) {
    icxMsg m = st->mgmt_in.v[head];
    memset(&st->mgmt_in.v[head], 0, sizeof m);
    head++;
    if (icxMgmt_blocked(st, &m)) {
      st->mgmt_in.v[kept++] = m;
      continue;
    }
    st->mgmt_executed++;
    rc = icxMgmt_execute(st, &m, err);
    if (rc) break;
  }
  /* drop what was taken, keep the rest in order */
  if (head > kept) { /* (the queue array may be NULL when nothing was ever queued) */
    memmove(st->mgmt_in.v + kept, st->mgmt_in.v + head,
            (size_t)(st->mgmt_in.n - head) * sizeof *st->mgmt_in.v);
    st->mgmt_in.n -= head - kept;
  }
  if (rc) return rc;
  return icxState_process_stopping(st, err);
}

/* ---- cycles ----------------------------------------------------------------------------- */

static icxU128 list_cycles(const icxMsgList *l) {
  icxU128 s = icxU128_zero();
  for (uint32_t i = 0; i < l->n; i++) s = icxU128_add_sat(s, l->v[i].cycles);
  return s;
}

/* What canister c holds outside its input queue: balance, reserved
 * balance, cycles available in its call contexts, its callbacks' response
 * prepayments (execution and transmission), and what its paused execution
 * holds. */
static icxU128 canister_held(const icxCanister *c) {
  icxU128 s = icxU128_add_sat(c->balance, c->reserved);
  for (uint32_t j = 0; j < c->nctxs; j++) s = icxU128_add_sat(s, c->ctxs[j].available);
  for (uint32_t j = 0; j < c->ncbs; j++)
    s = icxU128_add_sat(s, icxU128_add_sat(c->cbs[j].prepaid, c->cbs[j].prepaid_transmission));
  return icxU128_add_sat(s, icxCanister_paused_cycles(c));
}

icxU128 icxState_cycles_total(const icxState *st) {
  icxU128 s = icxU128_zero();
  for (uint32_t i = 0; i < st->ncan; i++) {
    const icxCanister *c = st->can[i];
    s = icxU128_add_sat(s, canister_held(c));
    for (uint32_t j = 0; j < c->inq_len; j++)
      s = icxU128_add_sat(s, c->inq[(c->inq_head + j) % c->inq_cap].cycles);
  }
  s = icxU128_add_sat(s, list_cycles(&st->mgmt_in));
  s = icxU128_add_sat(s, list_cycles(&st->installs));
  s = icxU128_add_sat(s, list_cycles(&st->outbox));
  s = icxU128_add_sat(s, list_cycles(&st->ingress));
  for (uint32_t i = 0; i < st->nrr; i++) s = icxU128_add_sat(s, st->rr[i].cycles);
  for (uint32_t i = 0; i < st->nstops; i++) s = icxU128_add_sat(s, st->stops[i].cycles);
  return s;
}

/* ---- resource charging ------------------------------------------------------------------- */

/* What c owes for `secs` seconds of memory, base fee and compute allocation. */
static icxU128 resource_cost(const icxState *st, const icxCanister *c, uint64_t secs) {
  const icxFeeConfig *f = &st->cfg.fees;
  uint32_t n = st->cfg.subnet_size;
  uint64_t alloc = icxU128_to_u64_sat(c->settings.memory_allocation);
  uint64_t usage = icxCanister_memory_usage(c);
  uint64_t bytes = alloc > usage ? alloc : usage;
  uint64_t pct = icxU128_to_u64_sat(c->settings.compute_allocation);
  icxU128 cost = icxCycles_memory_cost(f, n, bytes, secs);
  cost = icxU128_add_sat(cost, icxCycles_base_cost(f, n, bytes, secs));
  return icxU128_add_sat(cost, icxCycles_compute_allocation_cost(f, n, pct, secs));
}

/* Deallocate a canister that cannot pay (reference 6.5): uninstall, reset
 * the allocations, burn what is left. */
static icx_status dry_up(icxState *st, icxCanister *c, icxErr *err) {
  icxExecOutcome out;
  icx_status rc = icxCanister_uninstall(c, &out, err);
  if (rc != ICX_OK) return rc;
  c->settings.compute_allocation = icxU128_zero();
  c->settings.memory_allocation = icxU128_zero();
  st->burned = icxU128_add_sat(st->burned, icxU128_add_sat(c->balance, c->reserved));
  c->balance = c->reserved = icxU128_zero();
  if (out.nout) rc = icxState_route(st, out.out, out.nout, err);
  out.nout = 0;
  icxExecOutcome_free(&st->alloc, &out);
  return rc;
}

icx_status icxState_charge_resources(icxState *st, uint64_t now_ns, uint32_t *charged,
                                     uint32_t *uninstalled, icxErr *err) {
  uint32_t nch = 0, nun = 0;
  icx_status rc = ICX_OK;
  uint64_t period = st->cfg.fees.duration_between_allocation_charges_s;
  uint64_t period_ns = period > UINT64_MAX / 1000000000u ? UINT64_MAX : period * 1000000000u;
  if (now_ns >= st->last_charge_ns && now_ns - st->last_charge_ns >= period_ns) {
    st->last_charge_ns = now_ns;
    for (uint32_t i = 0; i < st->ncan && rc == ICX_OK; i++) {
      icxCanister *c = st->can[i];
      if (c->paused) continue; /* charged once its execution has finished */
      uint64_t last = c->last_charge_ns ? c->last_charge_ns : now_ns;
      uint64_t secs = now_ns > last ? (now_ns - last) / 1000000000u : 0;
      c->last_charge_ns = now_ns;
      icxU128 cost = resource_cost(st, c, secs);
      if (icxCycles_charge_resource(&c->balance, &c->reserved, cost)) {
        st->burned = icxU128_add_sat(st->burned, cost);
        nch++;
      } else {
        rc = dry_up(st, c, err);
        nun++;
      }
    }
  }
  if (charged) *charged = nch;
  if (uninstalled) *uninstalled = nun;
  return rc;
}

/* ---- hashing ------------------------------------------------------------------------------ */
/* Canonical encoding: fixed-width little-endian integers, byte strings as
 * le64 length + bytes, principals as one length byte + bytes, collections as
 * le32 count + items in their defined order, absent things as a 0 byte. */

typedef struct H {
  blake2b_state s;
  int rc;
} H;

static void h_raw(H *h, const void *p, size_t n) {
  if (n) h->rc |= blake2b_update(&h->s, p, n);
}
static void h_u8(H *h, uint8_t v) { h_raw(h, &v, 1); }
static void h_u64(H *h, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  h_raw(h, b, 8);
}
static void h_u32(H *h, uint32_t v) {
  uint8_t b[4];
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
  h_raw(h, b, 4);
}
static void h_u128(H *h, icxU128 v) {
  h_u64(h, v.lo);
  h_u64(h, v.hi);
}
static void h_bytes(H *h, const void *p, uint64_t n) {
  h_u64(h, n);
  h_raw(h, p, (size_t)n);
}
static void h_p(H *h, const icx_principal *p) {
  uint8_t n = p->len > 29 ? 29 : p->len;
  h_u8(h, n);
  h_raw(h, p->bytes, n);
}
static void h_begin(H *h, const char *tag) {
  h->rc = blake2b_init(&h->s, 32);
  h_bytes(h, tag, strlen(tag));
}
static icx_status h_end(H *h, uint8_t out[32], icxErr *err) {
  if (h->rc == 0) h->rc = blake2b_final(&h->s, out, 32);
  if (h->rc != 0) return icxErr_set(err, ICX_EINTERNAL, "state: BLAKE2b failed");
  return ICX_OK;
}

static void h_msg(H *h, const icxMsg *m) {
  h_u8(h, m->kind);
  h_p(h, &m->src);
  h_p(h, &m->dst);
  h_bytes(h, m->method, m->method ? m->method_len : 0);
  h_bytes(h, m->data, m->len);
  h_u128(h, m->cycles);
  h_u64(h, m->callback);
  h_u32(h, m->reject_code);
  h_u32(h, m->error_code);
  h_u64(h, m->deadline);
  h_raw(h, m->msg_id, 32);
  h_u8(h, m->to_ingress);
}

static void h_list(H *h, const icxMsgList *l) {
  h_u32(h, l->n);
  for (uint32_t i = 0; i < l->n; i++) h_msg(h, &l->v[i]);
}

static void h_settings(H *h, const icxCanisterSettings *s) {
  h_u32(h, s->has);
  h_u32(h, s->ncontrollers);
  for (uint32_t i = 0; i < s->ncontrollers && i < ICX_MGMT_MAX_CONTROLLERS; i++)
    h_p(h, &s->controllers[i]);
  h_u128(h, s->compute_allocation);
  h_u128(h, s->memory_allocation);
  h_u128(h, s->freezing_threshold);
  h_u128(h, s->reserved_cycles_limit);
  h_u128(h, s->wasm_memory_limit);
  h_u128(h, s->wasm_memory_threshold);
  h_u32(h, (uint32_t)s->log_visibility);
  h_u32(h, s->nviewers);
  for (uint32_t i = 0; i < s->nviewers && i < ICX_MGMT_MAX_CONTROLLERS; i++) h_p(h, &s->viewers[i]);
}

static void h_map(H *h, const icxPageMap *m) {
  h_u8(h, m != NULL);
  if (m) {
    uint8_t r[ICX_HASH_BYTES];
    icxPm_root_hash(m, r);
    h_raw(h, r, sizeof r);
  }
}

static void h_contexts(H *h, const icxCanister *c) {
  h_u32(h, c->nctxs);
  for (uint32_t i = 0; i < c->nctxs; i++) {
    const icxCallContext *x = &c->ctxs[i];
    h_u64(h, x->id);
    h_u8(h, x->origin);
    h_p(h, &x->caller);
    h_u64(h, x->origin_callback);
    h_raw(h, x->msg_id, 32);
    h_u64(h, x->deadline);
    h_u128(h, x->available);
    h_u8(h, x->responded);
    h_u8(h, x->deleted);
    h_u64(h, x->instructions);
    h_bytes(h, x->method, x->method ? strlen(x->method) : 0);
  }
  h_u32(h, c->ncbs);
  for (uint32_t i = 0; i < c->ncbs; i++) {
    const icxCallback *b = &c->cbs[i];
    h_u64(h, b->id);
    h_u64(h, b->ctx);
    h_p(h, &b->callee);
    h_u64(h, b->reply_fun);
    h_u64(h, b->reply_env);
    h_u64(h, b->reject_fun);
    h_u64(h, b->reject_env);
    h_u8(h, b->has_cleanup);
    h_u64(h, b->cleanup_fun);
    h_u64(h, b->cleanup_env);
    h_u128(h, b->cycles_sent);
    h_u128(h, b->prepaid);
    h_u64(h, b->deadline);
  }
  h_u64(h, c->next_ctx_id);
  h_u64(h, c->next_cb_id);
}

icx_status icxState_canister_hash(const icxCanister *c, uint8_t out[32], icxErr *err) {
  H h;
  h_begin(&h, "icx.state.canister.v1");
  h_p(&h, &c->id);
  h_u8(&h, c->status);
  h_u32(&h, c->ncontrollers);
  for (uint32_t i = 0; i < c->ncontrollers && i < ICX_MGMT_MAX_CONTROLLERS; i++)
    h_p(&h, &c->controllers[i]);
  h_settings(&h, &c->settings);
  h_u128(&h, c->balance);
  h_u128(&h, c->reserved);
  h_u64(&h, c->version);
  h_bytes(&h, c->certified, c->certified_len > 32 ? 32 : c->certified_len);
  h_u64(&h, c->global_timer);
  h_u8(&h, c->task_turn);
  h_u8(&h, c->code != NULL); /* code: the module hash (as uploaded) and mode */
  if (c->code) {
    h_raw(&h, c->code->instr.sha256, 32);
    h_u8(&h, c->code->mem64);
    h_u8(&h, c->code->eop);
  }
  h_map(&h, c->heap_map);
  h_map(&h, c->stable ? icxStable_map(c->stable) : NULL);
  h_u32(&h, c->globals.n);
  for (uint32_t i = 0; i < c->globals.n; i++) h_u64(&h, c->globals.vals[i]);
  h_contexts(&h, c);
  h_u32(&h, c->inq_len);
  for (uint32_t i = 0; i < c->inq_len; i++) h_msg(&h, &c->inq[(c->inq_head + i) % c->inq_cap]);
  h_u8(&h, c->paused != NULL);
  h_u32(&h, c->nlog);
  for (uint32_t i = 0; i < c->nlog; i++) {
    h_u64(&h, c->log[i].idx);
    h_u64(&h, c->log[i].time_ns);
    h_bytes(&h, c->log[i].content, c->log[i].len);
  }
  h_u64(&h, c->log_bytes);
  h_u64(&h, c->next_log_idx);
  h_u64(&h, c->last_charge_ns);
  return h_end(&h, out, err);
}

icx_status icxState_hash(const icxState *st, uint8_t out[32], icxErr *err) {
  H h;
  h_begin(&h, "icx.state.v1");
  h_u64(&h, st->range_lo);
  h_u64(&h, st->range_hi);
  h_u64(&h, st->next_index);
  h_u64(&h, st->round);
  h_u64(&h, st->time_ns);
  h_u32(&h, st->ncan);
  for (uint32_t i = 0; i < st->ncan; i++) {
    uint8_t ch[32];
    icx_status rc = icxState_canister_hash(st->can[i], ch, err);
    if (rc) return rc;
    h_raw(&h, ch, 32);
  }
  h_list(&h, &st->mgmt_in);
  if (st->installs.n) { /* (absent when empty: hashes of states without any stay as they were) */
    h_raw(&h, "installs", 8);
    h_list(&h, &st->installs);
  }
  h_u32(&h, st->nrr);
  for (uint32_t i = 0; i < st->nrr; i++) {
    const icxRawRandCtx *x = &st->rr[i];
    h_p(&h, &x->caller);
    h_u64(&h, x->callback);
    h_u128(&h, x->cycles);
    h_u64(&h, x->deadline);
    h_u64(&h, x->round);
  }
  h_u32(&h, st->nstops);
  for (uint32_t i = 0; i < st->nstops; i++) {
    const icxStopCtx *x = &st->stops[i];
    h_p(&h, &x->canister);
    h_u8(&h, x->from_ingress);
    h_p(&h, &x->sender);
    h_u64(&h, x->callback);
    h_raw(&h, x->msg_id, 32);
    h_u128(&h, x->cycles);
    h_u64(&h, x->deadline);
  }
  h_list(&h, &st->outbox);
  h_list(&h, &st->ingress);
  h_u64(&h, st->last_charge_ns);
  return h_end(&h, out, err);
}
