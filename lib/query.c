/* query.c -- snapshots and the query driver (query.h): non-replicated
 * queries and composite queries with their call graphs, as the replica's
 * query handler runs them (its QueryContext and evaluate_query_call_graph;
 * reference/ic-execution.md section 11; docs/round.md "Queries"). */
#include "query.h"

#include <stdio.h>

#include "principal.h"
#include "sysapi.h"

/* ---- snapshots ------------------------------------------------------------------------ */

icx_status icxSnapshot_new(const icxAllocator *a, const icxState *st, const icxRtConfig *cfg,
                           icxSnapshot **out, icxErr *err) {
  *out = NULL;
  icxSnapshot *s = icxCore_alloc(a, sizeof *s);
  if (!s) return icxErr_set(err, ICX_ENOMEM, "out of memory (snapshot)");
  s->alloc = *a;
  s->cfg = cfg ? *cfg : st->cfg;
  s->round = st->round;
  s->time_ns = st->time_ns;
  s->pm = icxPm_ctx_ref(st->pm);
  if (st->ncan) {
    s->can = icxCore_allocn(a, st->ncan, sizeof *s->can);
    if (!s->can) {
      icxSnapshot_free(s);
      return icxErr_set(err, ICX_ENOMEM, "out of memory (snapshot)");
    }
  }
  for (uint32_t i = 0; i < st->ncan; i++) {
    icx_status rc = icxCanister_image(a, st->can[i], &s->can[i], err);
    if (rc != ICX_OK) {
      icxSnapshot_free(s);
      return rc;
    }
    s->ncan = i + 1;
  }
  *out = s;
  return ICX_OK;
}

void icxSnapshot_free(icxSnapshot *s) {
  if (!s) return;
  icxAllocator a = s->alloc;
  for (uint32_t i = 0; i < s->ncan; i++) icxCanisterImage_free(&a, &s->can[i]);
  if (s->can) icxCore_free(&a, s->can, (size_t)s->ncan * sizeof *s->can);
  icxPm_ctx_unref(s->pm);
  icxCore_free(&a, s, sizeof *s);
}

const icxCanisterImage *icxSnapshot_find(const icxSnapshot *s, const icx_principal *id) {
  uint32_t lo = 0, hi = s->ncan;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    int c = icxPrincipal_cmp(&s->can[mid].id, id);
    if (c == 0) return &s->can[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

void icxQueryResult_free(const icxAllocator *a, icxQueryResult *r) {
  if (!r) return;
  if (r->data) icxCore_free(a, r->data, r->len);
  memset(r, 0, sizeof *r);
}

/* ---- the driver ------------------------------------------------------------------------------ */

/* A response on its way down the call stack (or to the user). */
typedef struct Resp {
  uint32_t reject_code;
  uint16_t error_code;
  uint8_t *data;
  size_t len;
  uint64_t callback; /* the callback it answers in the frame below */
} Resp;

/* A call context of the call graph waiting for its outstanding calls: the
 * working canister (with the changes its executions made), the callback
 * id it answers in the frame below, and its requests not yet executed. */
typedef struct Frame {
  icxCanister *c;
  uint64_t parent_cb;
  icxMsg *reqs;
  uint32_t head, n, cap;
} Frame;

typedef struct Q {
  const icxSnapshot *s;
  const icxAllocator *a;
  icxExecEnv env;
  int64_t budget;        /* instructions left for the whole call graph */
  uint64_t instructions; /* executed so far */
  Frame *st;
  uint32_t n, cap;
  icxErr *err;
} Q;

static void resp_free(const icxAllocator *a, Resp *r) {
  if (r->data) icxCore_free(a, r->data, r->len);
  memset(r, 0, sizeof *r);
}

/* A response with data = prefix || text[0..len). */
static icx_status resp_set(Q *q, Resp *r, uint32_t rcode, uint16_t ecode, const char *prefix,
                           const uint8_t *text, size_t len) {
  size_t np = prefix ? strlen(prefix) : 0;
  memset(r, 0, sizeof *r);
  r->reject_code = rcode;
  r->error_code = ecode;
  if (np + len) {
    r->data = icxCore_alloc(q->a, np + len);
    if (!r->data) return icxErr_set(q->err, ICX_ENOMEM, "out of memory (query response)");
    if (np) memcpy(r->data, prefix, np);
    if (len) memcpy(r->data + np, text, len);
    r->len = np + len;
  }
  return ICX_OK;
}

/* A system error as the user sees it (to_user) or as a reject to a calling
 * canister: the replica's RejectContext::from(UserError), "IC0xxx: " + text. */
static icx_status resp_error(Q *q, Resp *r, int to_user, uint32_t rcode, uint16_t ecode,
                             const char *text) {
  char pre[16];
  snprintf(pre, sizeof pre, "IC%04u: ", (unsigned)ecode);
  return resp_set(q, r, rcode, ecode, to_user ? NULL : pre, (const uint8_t *)text, strlen(text));
}

/* The response an execution produced (RESPONSE to its ingress-like origin). */
static icx_status resp_from_msg(Q *q, const icxCanister *c, const icxMsg *m, int to_user,
                                Resp *r) {
  if (m->reject_code == 0 || m->reject_code == ICX_REJECT_CANISTER_REJECT || !m->error_code)
    return resp_set(q, r, m->reject_code, m->error_code, NULL, m->data, m->len);
  if (m->error_code == 506) { /* the query handler's text for a context left unanswered */
    char id[80], text[160];
    icxPrincipal_to_text(&c->id, id, sizeof id);
    snprintf(text, sizeof text, "Canister %s did not produce a response", id);
    return resp_error(q, r, to_user, m->reject_code, 506, text);
  }
  char pre[16] = "";
  if (!to_user) snprintf(pre, sizeof pre, "IC%04u: ", (unsigned)m->error_code);
  return resp_set(q, r, m->reject_code, m->error_code, pre, m->data, m->len);
}

static void frame_free(Q *q, Frame *f) {
  for (uint32_t i = f->head; i < f->n; i++) icxMsg_free(q->a, &f->reqs[i]);
  icxCore_free(q->a, f->reqs, (size_t)f->cap * sizeof *f->reqs);
  icxCanister_free(f->c);
  memset(f, 0, sizeof *f);
}

/* Move the requests of outcome o into f's queue (in order). */
static icx_status frame_take(Q *q, Frame *f, icxExecOutcome *o) {
  for (uint32_t i = 0; i < o->nout; i++) {
    if (o->out[i].kind != ICX_MSG_REQUEST) continue;
    if (f->n == f->cap) {
      uint32_t nc = f->cap ? f->cap * 2 : 4;
      icxMsg *v = icxCore_realloc(q->a, f->reqs, (size_t)f->cap * sizeof *v, (size_t)nc * sizeof *v);
      if (!v) return icxErr_set(q->err, ICX_ENOMEM, "out of memory (query calls)");
      f->reqs = v;
      f->cap = nc;
    }
    f->reqs[f->n++] = o->out[i];
    memset(&o->out[i], 0, sizeof o->out[i]);
  }
  return ICX_OK;
}

static const icxMsg *outcome_response(const icxExecOutcome *o) {
  for (uint32_t i = 0; i < o->nout; i++)
    if (o->out[i].kind == ICX_MSG_RESPONSE) return &o->out[i];
  return NULL;
}

static icx_status push_frame(Q *q, icxCanister *c, uint64_t parent_cb, icxExecOutcome *o) {
  if (q->n == q->cap) {
    uint32_t nc = q->cap ? q->cap * 2 : 8;
    Frame *v = icxCore_realloc(q->a, q->st, (size_t)q->cap * sizeof *v, (size_t)nc * sizeof *v);
    if (!v) {
      icxCanister_free(c);
      return icxErr_set(q->err, ICX_ENOMEM, "out of memory (query call graph)");
    }
    q->st = v;
    q->cap = nc;
  }
  Frame *f = &q->st[q->n++];
  memset(f, 0, sizeof *f);
  f->c = c;
  f->parent_cb = parent_cb;
  return frame_take(q, f, o);
}

/* Run one execution with the instructions the call graph has left. */
static icx_status run(Q *q, icxCanister *c, uint8_t kind, const icxMsg *m, icxExecOutcome *o) {
  uint64_t left = q->budget > 0 ? (uint64_t)q->budget : 1;
  q->env.query_limit = left < q->s->cfg.max_instructions_query ? left
                                                                 : q->s->cfg.max_instructions_query;
  icx_status rc = icxCanister_execute(c, &q->env, kind, m, o, q->err);
  if (rc != ICX_OK) return rc;
  q->instructions += o->instructions;
  q->budget -= o->instructions > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)o->instructions;
  return ICX_OK;
}

/* The checks the replica makes before a query runs, in its order
 * (get_active_canister, the method lookup): an error response in *r (1),
 * or 0 with *img and *kind set. */
static int precheck(Q *q, const icx_principal *id, const char *method, size_t mlen, int to_user,
                    const icxCanisterImage **img, uint8_t *kind, Resp *r, icx_status *rc) {
  char idt[80], text[ICX_ERROR_TEXT_MAX];
  icxPrincipal_to_text(id, idt, sizeof idt);
  *img = icxSnapshot_find(q->s, id);
  if (!*img) {
    snprintf(text, sizeof text, "Canister %s not found", idt);
    *rc = resp_error(q, r, to_user, ICX_REJECT_DESTINATION_INVALID, 301, text);
    return 1;
  }
  if ((*img)->status == ICX_STATUS_STOPPED) {
    snprintf(text, sizeof text,
             "Canister %s is stopped and therefore does not have a CallContextManager", idt);
    *rc = resp_error(q, r, to_user, ICX_REJECT_CANISTER_ERROR, 508, text);
    return 1;
  }
  const icxCode *code = (*img)->code;
  uint16_t ecode = 0;
  char desc[400];
  if (!code) {
    ecode = 537;
    snprintf(desc, sizeof desc,
             "Attempted to execute a message, but the canister contains no Wasm module.");
  } else if (icxCode_entry(code, ICX_EP_COMPOSITE_QUERY, method, mlen) != UINT32_MAX) {
    *kind = ICX_EXEC_COMPOSITE_QUERY;
  } else if (icxCode_entry(code, ICX_EP_QUERY, method, mlen) != UINT32_MAX) {
    *kind = ICX_EXEC_QUERY;
  } else {
    ecode = 536;
    snprintf(desc, sizeof desc, "Canister has no query method '%.*s'.",
             (int)(mlen > 300 ? 300 : mlen), method);
  }
  if (!ecode) return 0;
  /* only the id of the canister goes into the text */
  icxCanister *tmp = icxCore_alloc(q->a, sizeof *tmp);
  if (!tmp) {
    *rc = icxErr_set(q->err, ICX_ENOMEM, "out of memory (query)");
    return 1;
  }
  tmp->id = *id;
  icxExecution_pre_error(tmp, ecode, desc, text, sizeof text);
  icxCore_free(q->a, tmp, sizeof *tmp);
  *rc = resp_error(q, r, to_user, ICX_REJECT_CANISTER_ERROR, ecode, text);
  return 1;
}

/* The checks made on the working copy (the replica's execute_query and
 * validate_canister): frozen, then not running.  1 with *r set. */
static int postcheck(Q *q, icxCanister *c, int to_user, Resp *r, icx_status *rc) {
  char idt[80], text[400];
  icxPrincipal_to_text(&c->id, idt, sizeof idt);
  /* the replica's can_withdraw_cycles_with_threshold(0): frozen when the
   * threshold exceeds the balance */
  if (icxU128_lt(c->balance, icxCanister_threshold(c, &q->s->cfg))) {
    snprintf(text, sizeof text,
             "Canister %s is unable to process query calls because it's frozen. Please top up "
             "the canister with cycles and try again.",
             idt);
    *rc = resp_error(q, r, to_user, ICX_REJECT_SYS_TRANSIENT, 207, text);
    return 1;
  }
  if (c->status != ICX_STATUS_RUNNING) {
    snprintf(text, sizeof text, "Canister %s is not running", idt);
    *rc = resp_error(q, r, to_user,  ICX_REJECT_CANISTER_ERROR,
                     c->status == ICX_STATUS_STOPPED ? 508 : 509, text);
    return 1;
  }
  return 0;
}

static icx_status working_copy(Q *q, const icxCanisterImage *img, icxCanister **out) {
  icx_status rc = icxCanister_from_image(q->a, q->s->pm, &q->s->cfg, img, out, q->err);
  if (rc == ICX_OK || rc == ICX_ENOMEM) return rc;
  char id[80];
  icxPrincipal_to_text(&img->id, id, sizeof id);
  return icxErr_set(q->err, ICX_EINTERNAL, "query: canister %s cannot be instantiated: %s", id,
                    q->err->msg);
}

/* Execute one call (the user's, to_user = 1, or a request of the top
 * frame): a response in *r (*have = 1), or a new frame pushed. */
static icx_status call(Q *q, const icxMsg *req, int to_user, Resp *r, int *have) {
  *have = 0;
  const icxCanisterImage *img = NULL;
  uint8_t kind = ICX_EXEC_QUERY;
  icx_status rc = ICX_OK;
  if (precheck(q, &req->dst, req->method, req->method_len, to_user, &img, &kind, r, &rc)) {
    *have = rc == ICX_OK;
    return rc;
  }
  icxCanister *c = NULL;
  if ((rc = working_copy(q, img, &c)) != ICX_OK) return rc;
  icxMsg m = *req;
  m.kind = ICX_MSG_INGRESS;
  m.cycles = icxU128_zero();
  m.callback = 0;
  m.deadline = 0;
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  if (postcheck(q, c, to_user, r, &rc)) {
    *have = rc == ICX_OK;
  } else if ((rc = run(q, c, kind, &m, &o)) == ICX_OK) {
    const icxMsg *resp = outcome_response(&o);
    if (resp) {
      rc = resp_from_msg(q, c, resp, to_user, r);
      *have = rc == ICX_OK;
    } else {
      rc = push_frame(q, c, req->callback, &o);
      c = NULL; /* owned by the frame (or freed) */
    }
  }
  if (!to_user) q->budget -= (int64_t)ICX_QUERY_CALL_OVERHEAD;
  icxExecOutcome_free(q->a, &o);
  icxCanister_free(c);
  return rc;
}

/* Deliver r to the top frame's callback. */
static icx_status deliver(Q *q, Resp *r, Resp *next, int *have) {
  Frame *f = &q->st[q->n - 1];
  *have = 0;
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_RESPONSE;
  m.dst = f->c->id;
  m.callback = r->callback;
  m.reject_code = r->reject_code;
  m.error_code = r->error_code;
  m.data = r->data;
  m.len = r->len;
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icx_status rc = run(q, f->c, ICX_EXEC_RESPONSE, &m, &o);
  if (rc == ICX_OK) {
    const icxMsg *resp = outcome_response(&o);
    if (resp) {
      rc = resp_from_msg(q, f->c, resp, q->n == 1, next);
      if (rc == ICX_OK) {
        next->callback = f->parent_cb;
        *have = 1;
        frame_free(q, f);
        q->n--;
      }
    } else {
      rc = frame_take(q, f, &o);
    }
  }
  icxExecOutcome_free(q->a, &o);
  return rc;
}

/* evaluate_query_call_graph: depth first over the frames until the
 * user's call context is answered (*r). */
static icx_status walk(Q *q, Resp *r) {
  Resp pend;
  int have = 0;
  memset(&pend, 0, sizeof pend);
  icx_status rc = ICX_OK;
  while (q->n > 0) {
    Frame *f = &q->st[q->n - 1];
    if (q->n - 1 >= ICX_QUERY_MAX_CALL_DEPTH) {
      resp_free(q->a, &pend);
      return resp_error(q, r, 1, ICX_REJECT_CANISTER_ERROR, 525,
                        "Composite query calls exceeded the maximum call depth.");
    }
    if (q->budget <= 0) {
      resp_free(q->a, &pend);
      return resp_error(q, r, 1, ICX_REJECT_CANISTER_ERROR, 526,
                        "Composite query calls exceeded the instruction limit.");
    }
    if (have) {
      Resp next;
      int got = 0;
      memset(&next, 0, sizeof next);
      rc = deliver(q, &pend, &next, &got);
      resp_free(q->a, &pend);
      have = 0;
      if (rc != ICX_OK) return rc;
      if (got) {
        if (q->n == 0) {
          *r = next;
          return ICX_OK;
        }
        pend = next;
        have = 1;
      }
      continue;
    }
    if (f->head < f->n) {
      icxMsg req = f->reqs[f->head];
      memset(&f->reqs[f->head], 0, sizeof req);
      f->head++;
      rc = call(q, &req, 0, &pend, &have);
      if (have) pend.callback = req.callback;
      icxMsg_free(q->a, &req);
      if (rc != ICX_OK) return rc;
      continue;
    }
    /* no response and nothing outstanding: the synthetic reject */
    char id[80], text[160];
    icxPrincipal_to_text(&f->c->id, id, sizeof id);
    snprintf(text, sizeof text, "Canister %s did not produce a response", id);
    uint64_t cb = f->parent_cb;
    int to_user = q->n == 1;
    frame_free(q, f);
    q->n--;
    rc = resp_error(q, to_user ? r : &pend, to_user, ICX_REJECT_CANISTER_ERROR, 506, text);
    if (rc != ICX_OK || to_user) return rc;
    pend.callback = cb;
    have = 1;
  }
  return icxErr_set(q->err, ICX_EINTERNAL, "query: the call graph ended without a response");
}

icx_status icxQuery_run(const icxSnapshot *s, const icx_principal *sender,
                        const icx_principal *canister, const char *method, size_t method_len,
                        const uint8_t *arg, size_t len, icxQueryResult *res, icxErr *err) {
  memset(res, 0, sizeof *res);
  Q q;
  memset(&q, 0, sizeof q);
  q.s = s;
  q.a = &s->alloc;
  q.err = err;
  q.env.cfg = &s->cfg;
  q.env.time_ns = s->time_ns;
  q.env.slice = 0;
  q.budget = s->cfg.max_instructions_query > (uint64_t)INT64_MAX
                 ? INT64_MAX
                 : (int64_t)s->cfg.max_instructions_query;
  /* the user's call as an ingress-like message (borrowed buffers) */
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = *sender;
  m.dst = *canister;
  m.method = (char *)(uintptr_t)method;
  m.method_len = (uint32_t)(method_len > UINT32_MAX ? UINT32_MAX : method_len);
  m.data = (uint8_t *)(uintptr_t)arg;
  m.len = len;
  Resp r;
  int have = 0;
  memset(&r, 0, sizeof r);
  icx_status rc = call(&q, &m, 1, &r, &have);
  if (rc == ICX_OK && !have) rc = walk(&q, &r);
  while (q.n) frame_free(&q, &q.st[--q.n]);
  icxCore_free(q.a, q.st, (size_t)q.cap * sizeof *q.st);
  if (rc != ICX_OK) {
    resp_free(q.a, &r);
    return rc;
  }
  res->reject_code = r.reject_code;
  res->error_code = r.error_code;
  res->data = r.data;
  res->len = r.len;
  res->instructions = q.instructions;
  return ICX_OK;
}
