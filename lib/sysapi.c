/* sysapi.c -- the ic0 System API (reference section 2): one host function
 * for every import of cost.h's ICX_IC0_APIS, dispatched by id.  Order of
 * work in every call, as the replica's linker does: charge the fixed
 * overhead plus the per-byte part (section 4.4: a counter already negative,
 * or negative after the charge, is the out-of-instructions path), check
 * the context, then do the work.  Every effect goes to the execution's
 * working copies (sysapi.h), so a trap discards it. */
#include "sysapi.h"

#include <stdarg.h>
#include <stdio.h>

#include "principal.h"

#define MAX_REPLY_REPLICATED (2u * 1024u * 1024u)      /* MAX_INTER_CANISTER_PAYLOAD_IN_BYTES */
#define MAX_REPLY_NON_REPLICATED (3u * 1024u * 1024u)  /* MAX_NON_REPLICATED_QUERY_REPLY_SIZE */
#define MAX_METHOD_NAME 20000u                         /* RIP: method name in call_new */
#define MAX_LOCAL_PAYLOAD (5u * MAX_REPLY_REPLICATED)  /* MULTIPLIER_MAX_SIZE_LOCAL_SUBNET */
#define ENV_VAR_NAME_MAX 128u

/* ---- names and contexts ------------------------------------------------------ */

static const char api_names[ICX_API_COUNT][28] = {
    "start", "init", "pre upgrade", "update", "replicated query", "non replicated query",
    "reply callback", "reject callback", "cleanup", "inspect message", "heartbeat",
    "global timer", "on low Wasm memory", "composite query", "composite reply callback",
    "composite reject callback", "composite cleanup"};
static const uint16_t api_bits[ICX_API_COUNT] = {
    ICX_CTX_s, ICX_CTX_I, ICX_CTX_G, ICX_CTX_U, ICX_CTX_RQ, ICX_CTX_NRQ, ICX_CTX_Ry, ICX_CTX_Rt,
    ICX_CTX_C, ICX_CTX_F, ICX_CTX_T, ICX_CTX_T, ICX_CTX_T, ICX_CTX_CQ, ICX_CTX_CRy, ICX_CTX_CRt,
    ICX_CTX_CC};

/* Non-replicated contexts: the larger reply limit. */
static int non_replicated_reply(uint8_t api) {
  return api == ICX_API_NRQ || api == ICX_API_CQ || api == ICX_API_CRY || api == ICX_API_CRT;
}

const char *icxSys_api_name(uint8_t api) { return api < ICX_API_COUNT ? api_names[api] : "?"; }
uint16_t icxSys_ctx_bit(uint8_t api) { return api < ICX_API_COUNT ? api_bits[api] : 0; }

/* ---- failures ---------------------------------------------------------------- */

static int failv(icxExecution *e, icxExec *x, uint8_t kind, const char *fmt, va_list ap) {
  e->fail = kind;
  vsnprintf(e->err, sizeof e->err, fmt, ap);
  icxExec_set_trap(x, e->err);
  return ICX_HOST_TRAP;
}
static int contract(icxExecution *e, icxExec *x, const char *fmt, ...) ICX_PRINTF(3, 4);
static int contract(icxExecution *e, icxExec *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = failv(e, x, ICX_FAIL_CONTRACT, fmt, ap);
  va_end(ap);
  return r;
}
/* "ic0_<name>" called in a mode where the replica refuses it (its error_for). */
static int wrong_mode(icxExecution *e, icxExec *x, const char *name) {
  int rc = contract(e, x, "\"ic0_%s\" cannot be executed in %s mode", name,
                    icxSys_api_name(e->api));
  e->help = ICX_HELP_WRONG_MODE;
  return rc;
}
static int fail_kind(icxExecution *e, icxExec *x, uint8_t kind, const char *fmt, ...)
    ICX_PRINTF(4, 5);
static int fail_kind(icxExecution *e, icxExec *x, uint8_t kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = failv(e, x, kind, fmt, ap);
  va_end(ap);
  return r;
}

/* ---- instruction accounting ------------------------------------------------------ */

uint64_t icxSys_instructions(const icxExecution *e) {
  int64_t f = e->x ? icxExec_fuel(e->x) : e->slice_fuel;
  /* the counter saturates at INT64_MIN (charge), so subtract as unsigned */
  uint64_t d = e->slice_fuel > f ? (uint64_t)e->slice_fuel - (uint64_t)f : 0;
  return d > UINT64_MAX - e->used ? UINT64_MAX : e->used + d;
}

static int64_t sat_sub(int64_t a, uint64_t b) {
  if (b > (uint64_t)INT64_MAX) b = (uint64_t)INT64_MAX;
  int64_t bb = (int64_t)b;
  if (a < INT64_MIN + bb) return INT64_MIN;
  return a - bb;
}

/* Charge n instructions (section 4.4).  Returns 0, or ICX_HOST_TRAP after
 * recording an instruction-limit failure. */
static int charge(icxExecution *e, icxExec *x, uint64_t n) {
  int64_t f = icxExec_fuel(x);
  if (f < 0 && f + e->reserve < 0)
    return fail_kind(e, x, ICX_FAIL_LIMIT, "instruction limit exceeded");
  f = sat_sub(f, n);
  icxExec_set_fuel(x, f, e->suspend);
  if (f < 0) {
    if (f + e->reserve < 0) return fail_kind(e, x, ICX_FAIL_LIMIT, "instruction limit exceeded");
    e->pause_after = 1;
  }
  return 0;
}

/* ---- heap helpers ---------------------------------------------------------------- */

static int in_range(uint64_t off, uint64_t len, uint64_t size) {
  return off <= size && len <= size - off;
}

static uint64_t heap_size(const icxMemInst *m) { return m ? m->size : 0; }

static int oob(icxExecution *e, icxExec *x, const char *what, uint64_t src, uint64_t len,
               uint64_t size) {
  return contract(e, x, "%s: src=%llu + length=%llu exceeds the slice size=%llu", what,
                  (unsigned long long)src, (unsigned long long)len, (unsigned long long)size);
}

/* X_copy(dst, off, size) of blob src[0..srclen). */
static int copy_out(icxExecution *e, icxExec *x, const char *name, uint64_t dst, uint64_t off,
                    uint64_t size, const uint8_t *src, uint64_t srclen) {
  icxMemInst *m = icxExec_caller_memory(x);
  char what[64];
  if (!in_range(dst, size, heap_size(m))) {
    snprintf(what, sizeof what, "ic0.%s heap", name);
    return oob(e, x, what, dst, size, heap_size(m));
  }
  if (!in_range(off, size, srclen)) {
    snprintf(what, sizeof what, "ic0.%s", name);
    return oob(e, x, what, off, size, srclen);
  }
  if (size) {
    memcpy(m->data + dst, src + off, (size_t)size);
    icxMemInst_touch(m, dst, size);
  }
  return 0;
}

/* Heap bytes [src, src+len) for reading, or NULL after a trap. */
static const uint8_t *heap_in(icxExecution *e, icxExec *x, const char *name, uint64_t src,
                              uint64_t len, int *rc) {
  icxMemInst *m = icxExec_caller_memory(x);
  static const uint8_t empty[1] = {0};
  if (!in_range(src, len, heap_size(m))) {
    *rc = oob(e, x, name, src, len, heap_size(m));
    return NULL;
  }
  *rc = 0;
  return len ? m->data + src : empty;
}

/* Write a 128-bit amount (low u64 first) at dst. */
static int put128(icxExecution *e, icxExec *x, const char *name, uint64_t dst, icxU128 v) {
  icxMemInst *m = icxExec_caller_memory(x);
  if (!in_range(dst, 16, heap_size(m))) return oob(e, x, name, dst, 16, heap_size(m));
  for (int i = 0; i < 8; i++) {
    m->data[dst + (uint64_t)i] = (uint8_t)(v.lo >> (8 * i));
    m->data[dst + 8 + (uint64_t)i] = (uint8_t)(v.hi >> (8 * i));
  }
  icxMemInst_touch(m, dst, 16);
  return 0;
}

/* ---- UTF-8 ------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_seq(const uint8_t *p, size_t n) {
  uint8_t b = p[0];
  if (b < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (b >= 0xc2 && b <= 0xdf) len = 2, cp = b & 0x1fu;
  else if (b >= 0xe0 && b <= 0xef) len = 3, cp = b & 0x0fu;
  else if (b >= 0xf0 && b <= 0xf4) len = 4, cp = b & 0x07u;
  else return 0;
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3fu);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  return len;
}

int icxSys_utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t k = utf8_seq(p + i, n - i);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

/* Lossy UTF-8 (as Rust's from_utf8_lossy: each invalid byte becomes
 * U+FFFD) into buf (NUL-terminated, cut at cap). */
static void utf8_lossy(const uint8_t *p, size_t n, char *buf, size_t cap) {
  size_t o = 0, i = 0;
  while (i < n && o + 4 < cap) {
    size_t k = utf8_seq(p + i, n - i);
    if (k) {
      memcpy(buf + o, p + i, k);
      o += k;
      i += k;
    } else {
      memcpy(buf + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  buf[o] = 0;
}

/* ---- the canister log ---------------------------------------------------------------- */

void icxSys_log(icxCanister *c, uint64_t time_ns, const uint8_t *p, size_t n) {
  if (n > ICX_LOG_BUFFER_BYTES) n = ICX_LOG_BUFFER_BYTES;
  while (c->nlog && c->log_bytes + n > ICX_LOG_BUFFER_BYTES) {
    icxCore_free(&c->alloc, c->log[0].content, c->log[0].len);
    c->log_bytes -= c->log[0].len;
    memmove(c->log, c->log + 1, (size_t)(c->nlog - 1) * sizeof *c->log);
    c->nlog--;
  }
  if (c->nlog == c->caplog) {
    uint32_t ncap = c->caplog ? c->caplog * 2 : 8;
    icxLogRecord *nl = icxCore_realloc(&c->alloc, c->log, (size_t)c->caplog * sizeof *nl,
                                       (size_t)ncap * sizeof *nl);
    if (!nl) return; /* logs are best effort on host OOM (not replicated-visible then) */
    c->log = nl;
    c->caplog = ncap;
  }
  uint8_t *copy = n ? icxCore_alloc(&c->alloc, n) : NULL;
  if (n && !copy) return;
  if (n) memcpy(copy, p, n);
  icxLogRecord *r = &c->log[c->nlog++];
  r->idx = c->next_log_idx++;
  r->time_ns = time_ns;
  r->content = copy;
  r->len = (uint32_t)n;
  c->log_bytes += n;
}

void icxSys_call_clear(const icxAllocator *a, icxCallPrep *cp) {
  icxCore_free(a, cp->method, cp->method_len + 1u);
  icxCore_free(a, cp->data, cp->cap);
  memset(cp, 0, sizeof *cp);
}

/* ---- try_grow_wasm_memory ---------------------------------------------------------------- */

int icxSys_try_grow(icxExec *x, void *ud, uint64_t *slots) {
  icxCanister *c = ud;
  icxExecution *e = c->cur;
  if (!e || !e->wasm_mem_limit) return ICX_HOST_OK;
  icxMemInst *m = icxExec_caller_memory(x);
  uint64_t res = slots[0];
  int failed = m && m->is64 ? res == UINT64_MAX : (uint32_t)res == UINT32_MAX;
  if (failed || !m) return ICX_HOST_OK;
  if (m->size > e->wasm_mem_limit)
    return fail_kind(
        e, x, ICX_FAIL_WASM_MEM,
        "Canister exceeded its current Wasm memory limit of %llu bytes. The peak Wasm memory "
        "usage was %llu bytes. If the canister reaches 4GiB, then it may stop functioning and may "
        "become unrecoverable. Please reach out to the canister owner to investigate the reason "
        "for the increased memory usage. It might be necessary to move data from the Wasm memory "
        "to the stable memory. If such high Wasm memory usage is expected and safe, then the "
        "developer can increase the Wasm memory limit in the canister settings.",
        (unsigned long long)e->wasm_mem_limit, (unsigned long long)m->size);
  return ICX_HOST_OK;
}

/* ---- the handlers ---------------------------------------------------------------------------- */

/* Arguments of one call. */
typedef struct Args {
  icxExecution *e;
  icxExec *x;
  icxCanister *c;
  uint64_t *s;
  const char *name;
} Args;

static int reply_capacity(icxExecution *e, size_t need) {
  if (need <= e->reply_cap) return 0;
  size_t ncap = e->reply_cap ? e->reply_cap : 64;
  while (ncap < need) ncap *= 2;
  uint8_t *p = icxCore_realloc(&e->c->alloc, e->reply, e->reply_cap, ncap);
  if (!p) return -1;
  e->reply = p;
  e->reply_cap = ncap;
  return 0;
}

static int host_oom(icxExecution *e, icxExec *x) {
  /* Host memory exhaustion is not a trap (hosts would diverge): the
   * execution is abandoned as an API error by exec_msg.c. */
  e->oom = 1;
  icxExec_set_trap(x, "out of host memory");
  return ICX_HOST_TRAP;
}

static int do_reply_append(Args *a, uint64_t src, uint64_t size) {
  icxExecution *e = a->e;
  if (!e->can_respond || e->resp)
    return contract(e, a->x, "ic0.msg_reply_data_append: the call is already replied.");
  uint64_t max = non_replicated_reply(e->api) ? MAX_REPLY_NON_REPLICATED : MAX_REPLY_REPLICATED;
  uint64_t total = e->reply_len + size;
  if (size > max || total > max)
    return contract(e, a->x,
                    "ic0.msg_reply_data_append: application payload size (%llu) cannot be "
                    "larger than %llu.",
                    (unsigned long long)(size > max ? size : total), (unsigned long long)max);
  int rc;
  const uint8_t *p = heap_in(e, a->x, "msg.reply", src, size, &rc);
  if (!p) return rc;
  if (reply_capacity(e, (size_t)total)) {
    return host_oom(e, a->x);
  }
  if (size) memcpy(e->reply + e->reply_len, p, (size_t)size);
  e->reply_len = (size_t)total;
  return 0;
}

static int do_reject(Args *a, uint64_t src, uint64_t size) {
  icxExecution *e = a->e;
  if (!e->can_respond || e->resp)
    return contract(e, a->x, "ic0.msg_reject: the call is already replied");
  uint64_t max = non_replicated_reply(e->api) ? MAX_REPLY_NON_REPLICATED : MAX_REPLY_REPLICATED;
  if (size > max)
    return contract(e, a->x,
                    "ic0.msg_reject: application payload size (%llu) cannot be larger than %llu.",
                    (unsigned long long)size, (unsigned long long)max);
  int rc;
  const uint8_t *p = heap_in(e, a->x, "ic0.msg_reject", src, size, &rc);
  if (!p) return rc;
  if (!icxSys_utf8_valid(p, (size_t)size))
    return contract(e, a->x, "ic0.msg_reject: invalid UTF-8 string provided");
  if (reply_capacity(e, (size_t)size)) {
    return host_oom(e, a->x);
  }
  if (size) memcpy(e->reply, p, (size_t)size);
  e->reply_len = (size_t)size;
  e->resp = 2;
  return 0;
}

static int do_call_new(Args *a) {
  icxExecution *e = a->e;
  uint64_t *s = a->s;
  uint64_t callee_src = s[0], callee_size = s[1], name_src = s[2], name_size = s[3];
  if (e->call.active) { /* discard the unfinished call; its cycles come back */
    e->balance = icxU128_add_sat(e->balance, e->call.cycles);
    icxSys_call_clear(&e->c->alloc, &e->call);
  }
  int rc;
  const uint8_t *cp = heap_in(e, a->x, "ic0.call_new callee_src", callee_src, callee_size, &rc);
  if (!cp) return rc;
  const uint8_t *np = heap_in(e, a->x, "ic0.call_new method_src", name_src, name_size, &rc);
  if (!np) return rc;
  if (callee_size > ICX_PRINCIPAL_MAX_BYTES) { /* the replica's InvalidPrincipalId */
    int rc2 = contract(e, a->x, "Canister provided invalid principal id");
    e->err_plain = 1;
    return rc2;
  }
  if (name_size > MAX_METHOD_NAME)
    return contract(e, a->x,
                    "Size of method_name %llu exceeds the allowed limit of %u.",
                    (unsigned long long)name_size, MAX_METHOD_NAME);
  icxCallPrep *c = &e->call;
  c->method = icxCore_alloc(&e->c->alloc, (size_t)name_size + 1);
  if (!c->method) {
    return host_oom(e, a->x);
  }
  memcpy(c->method, np, (size_t)name_size);
  c->method_len = (uint32_t)name_size;
  c->callee.len = (uint8_t)callee_size;
  memcpy(c->callee.bytes, cp, (size_t)callee_size);
  c->reply_fun = s[4];
  c->reply_env = s[5];
  c->reject_fun = s[6];
  c->reject_env = s[7];
  c->active = 1;
  return 0;
}

static int do_call_data_append(Args *a, uint64_t src, uint64_t size) {
  icxExecution *e = a->e;
  icxCallPrep *c = &e->call;
  if (!c->active)
    return contract(e, a->x, "ic0.call_data_append called when no call is under construction.");
  int rc;
  const uint8_t *p = heap_in(e, a->x, "ic0.call_data_append", src, size, &rc);
  if (!p) return rc;
  uint64_t total = (uint64_t)c->method_len + c->len + size;
  if (size > MAX_LOCAL_PAYLOAD || total > MAX_LOCAL_PAYLOAD) {
    char callee[80];
    icxPrincipal_to_text(&c->callee, callee, sizeof callee);
    return contract(e, a->x,
                    "Request to %s:%s has a payload size of %llu, which exceeds the allowed "
                    "local-subnet limit of %u",
                    callee, c->method, (unsigned long long)total, MAX_LOCAL_PAYLOAD);
  }
  size_t need = c->len + (size_t)size;
  if (need > c->cap) {
    size_t ncap = c->cap ? c->cap : 64;
    while (ncap < need) ncap *= 2;
    uint8_t *np = icxCore_realloc(&e->c->alloc, c->data, c->cap, ncap);
    if (!np) {
      return host_oom(e, a->x);
    }
    c->data = np;
    c->cap = ncap;
  }
  if (size) memcpy(c->data + c->len, p, (size_t)size);
  c->len = need;
  return 0;
}

static int do_call_cycles_add(Args *a, icxU128 amount) {
  icxExecution *e = a->e;
  if (!e->call.active)
    return contract(e, a->x, "ic0.%s called when no call is under construction.", a->name);
  if (!icxCycles_withdraw(&e->balance, e->threshold, amount)) {
    char id[80], need[ICX_U128_DEC_MAX];
    icxPrincipal_to_text(&e->c->id, id, sizeof id);
    icxU128 want = icxU128_sub_sat(icxU128_add_sat(e->threshold, amount), e->balance);
    icxU128_to_dec(want, need, sizeof need);
    /* the replica's InsufficientCyclesBalance: IC0504, the text alone, no help */
    int rc = contract(e, a->x,
                      "Canister %s is out of cycles: please top up the canister with at least %s "
                      "additional cycles",
                      id, need);
    e->err_plain = 1;
    e->help = ICX_HELP_NONE;
    return rc;
  }
  e->call.cycles = icxU128_add_sat(e->call.cycles, amount);
  return 0;
}

static int do_call_perform(Args *a) {
  icxExecution *e = a->e;
  icxCanister *can = e->c;
  icxCallPrep *cp = &e->call;
  if (!cp->active)
    return contract(e, a->x, "ic0.call_perform called when no call is under construction.");
  const icxFeeConfig *fees = &e->cfg.fees;
  uint32_t n = e->cfg.subnet_size;
  uint64_t req_bytes = (uint64_t)cp->method_len + cp->len;
  icxU128 transmission = icxCycles_call_transmission_cost(fees, n, req_bytes);
  icxU128 exec_prepay = icxCycles_response_execution_prepay(fees, n, e->mode);
  icxU128 total = icxU128_add_sat(transmission, exec_prepay);
  if (!icxCycles_withdraw(&e->balance, e->threshold, total)) {
    e->balance = icxU128_add_sat(e->balance, cp->cycles);
    icxSys_call_clear(&can->alloc, cp);
    a->s[0] = ICX_REJECT_SYS_TRANSIENT;
    return 0;
  }
  if (e->nreqs == e->capreqs) {
    uint32_t ncap = e->capreqs ? e->capreqs * 2 : 4;
    icxMsg *nr = icxCore_realloc(&can->alloc, e->reqs, (size_t)e->capreqs * sizeof *nr,
                                 (size_t)ncap * sizeof *nr);
    if (nr) e->reqs = nr;
    icxCallback *nc = icxCore_realloc(&can->alloc, e->cbs, (size_t)e->capreqs * sizeof *nc,
                                      (size_t)ncap * sizeof *nc);
    if (nc) e->cbs = nc;
    if (!nr || !nc) {
      return host_oom(e, a->x);
    }
    e->capreqs = ncap;
  }
  icxCallback *cb = &e->cbs[e->nreqs];
  icxMsg *m = &e->reqs[e->nreqs];
  memset(cb, 0, sizeof *cb);
  memset(m, 0, sizeof *m);
  cb->id = can->next_cb_id + e->nreqs;
  cb->ctx = e->ctx_id;
  cb->callee = cp->callee;
  cb->reply_fun = cp->reply_fun;
  cb->reply_env = cp->reply_env;
  cb->reject_fun = cp->reject_fun;
  cb->reject_env = cp->reject_env;
  cb->has_cleanup = cp->has_cleanup;
  cb->cleanup_fun = cp->cleanup_fun;
  cb->cleanup_env = cp->cleanup_env;
  cb->cycles_sent = cp->cycles;
  cb->prepaid = exec_prepay;
  cb->prepaid_transmission = icxCycles_scale(
      fees, icxU128_mul_u64_sat(fees->xnet_byte_transmission_fee,
                                fees->max_inter_canister_payload_bytes),
      n);
  /* the callback holds the response prepayments; the rest of the
   * transmission fee (per call and request bytes) is burned */
  e->burned = icxU128_add_sat(e->burned, icxU128_sub_sat(transmission, cb->prepaid_transmission));
  cb->deadline = cp->deadline;
  m->kind = ICX_MSG_REQUEST;
  m->src = can->id;
  m->dst = cp->callee;
  m->method = cp->method;
  m->method_len = cp->method_len;
  m->data = cp->data;
  m->len = cp->len;
  m->cycles = cp->cycles;
  m->callback = cb->id;
  m->deadline = cp->deadline;
  /* the message takes the buffers; shrink data to its length for icxMsg_free */
  if (m->data && cp->cap != cp->len) {
    uint8_t *d = cp->len ? icxCore_realloc(&can->alloc, m->data, cp->cap, cp->len) : NULL;
    if (cp->len && !d) {
      return host_oom(e, a->x);
    }
    if (!cp->len) icxCore_free(&can->alloc, m->data, cp->cap);
    m->data = d;
  }
  cp->method = NULL;
  cp->data = NULL;
  cp->cap = 0;
  icxSys_call_clear(&can->alloc, cp);
  e->nreqs++;
  a->s[0] = 0;
  return 0;
}

/* Stable-memory results to traps. */
static int stable_fail(Args *a, icxStableRes r) {
  icxExecution *e = a->e;
  switch (r) {
  case ICX_STABLE_OK: return 0;
  case ICX_STABLE_OOB: return fail_kind(e, a->x, ICX_FAIL_WASM, "stable memory out of bounds");
  case ICX_STABLE_HEAP_OOB: return fail_kind(e, a->x, ICX_FAIL_WASM, "heap out of bounds");
  case ICX_STABLE_TOO_BIG_32:
    return fail_kind(e, a->x, ICX_FAIL_WASM,
                     "32 bit stable memory api used on a memory larger than 4GB");
  case ICX_STABLE_ACCESS_LIMIT:
    return fail_kind(e, a->x, ICX_FAIL_ACCESS,
                     "Exceeded the limit for the number of accessed pages in the stable memory "
                     "in a single message execution");
  case ICX_STABLE_WRITE_LIMIT:
    return fail_kind(e, a->x, ICX_FAIL_ACCESS,
                     "Exceeded the limit for the number of modified pages in the stable memory "
                     "in a single message execution");
  default: return host_oom(e, a->x);
  }
}

static int stable_dirty_charge(Args *a, uint64_t new_dirty) {
  if (!new_dirty) return 0;
  uint64_t n = new_dirty > UINT64_MAX / ICX_COST_DIRTY_STABLE_PAGE
                   ? UINT64_MAX
                   : new_dirty * ICX_COST_DIRTY_STABLE_PAGE;
  return charge(a->e, a->x, n);
}

static int do_stable(Args *a, uint32_t id) {
  icxExecution *e = a->e;
  icxStable *st = a->c->stable;
  icxMemInst *m = icxExec_caller_memory(a->x);
  uint64_t *s = a->s;
  icxStableRes r = ICX_STABLE_OK;
  uint64_t nd = 0;
  icxMemInst none; /* a module without memory: size 0 */
  memset(&none, 0, sizeof none);
  if (!m) m = &none;
  switch (id) {
  case ICX_IC0_stable_size: {
    uint32_t v = 0;
    r = icxStable32_size(st, &v);
    s[0] = v;
    break;
  }
  case ICX_IC0_stable_grow: {
    int32_t v = 0;
    r = icxStable32_grow(st, (uint32_t)s[0], &v);
    s[0] = (uint32_t)v;
    break;
  }
  case ICX_IC0_stable_read:
    r = icxStable32_read(st, m, (uint32_t)s[0], (uint32_t)s[1], (uint32_t)s[2]);
    break;
  case ICX_IC0_stable_write:
    r = icxStable32_write(st, m, (uint32_t)s[0], (uint32_t)s[1], (uint32_t)s[2], &nd);
    break;
  case ICX_IC0_stable64_size: s[0] = icxStable64_size(st); break;
  case ICX_IC0_stable64_grow: s[0] = icxStable64_grow(st, s[0]); break;
  case ICX_IC0_stable64_read: r = icxStable64_read(st, m, s[0], s[1], s[2]); break;
  default: r = icxStable64_write(st, m, s[0], s[1], s[2], &nd); break;
  }
  (void)e;
  if (r != ICX_STABLE_OK) return stable_fail(a, r);
  return stable_dirty_charge(a, nd);
}

static int do_debug_print(Args *a, uint64_t src, uint64_t size) {
  icxExecution *e = a->e;
  icxMemInst *m = icxExec_caller_memory(a->x);
  static const char oob_msg[] = "(debug_print message out of memory bounds)";
  const uint8_t *p;
  size_t n;
  if (in_range(src, size, heap_size(m))) {
    p = size ? m->data + src : (const uint8_t *)"";
    n = (size_t)size;
  } else {
    p = (const uint8_t *)oob_msg;
    n = sizeof oob_msg - 1;
  }
  if (e->replicated) icxSys_log(a->c, e->time_ns, p, n); /* queries change no state */
  if (e->cfg.debug_print) e->cfg.debug_print(e->cfg.debug_print_ud, &a->c->id, p, n);
  return 0;
}

static int do_trap(Args *a, uint64_t src, uint64_t size) {
  icxExecution *e = a->e;
  icxMemInst *m = icxExec_caller_memory(a->x);
  char buf[sizeof e->err];
  if (in_range(src, size, heap_size(m)))
    utf8_lossy(size ? m->data + src : (const uint8_t *)"", (size_t)size, buf, sizeof buf);
  else
    snprintf(buf, sizeof buf, "(trap message out of memory bounds)");
  return fail_kind(e, a->x, ICX_FAIL_CALLED_TRAP, "%s", buf);
}

/* The extra charge of the "special" byte class. */
static uint64_t special_charge(const Args *a, uint32_t id, int per_byte) {
  const uint64_t *s = a->s;
  if (id == ICX_IC0_call_new) return per_byte ? s[1] + s[3] : 0;
  if (id == ICX_IC0_trap) return per_byte ? s[1] : 0;
  /* debug_print: 2 x bytes kept (capped by the log capacity) + 50 x bytes
   * moved (capped by the space left) */
  uint64_t len = s[1];
  uint64_t cap = ICX_LOG_BUFFER_BYTES;
  uint64_t left = a->c->log_bytes < cap ? cap - a->c->log_bytes : 0;
  uint64_t kept = len < cap ? len : cap, moved = len < left ? len : left;
  return ICX_COST_LOG_PER_KEPT_BYTE * kept + ICX_COST_LOG_PER_MOVED_BYTE * moved;
}

static uint64_t size_arg(const icxIc0Api *api, uint32_t id, const uint64_t *s) {
  if (id == ICX_IC0_cost_sign_with_ecdsa || id == ICX_IC0_cost_sign_with_schnorr ||
      id == ICX_IC0_cost_vetkd_derive_key)
    return s[1];
  const char *colon = strchr(api->sig, ':');
  size_t np = colon ? (size_t)(colon - api->sig) : 0;
  return np ? s[np - 1] : 0;
}

static icxU128 get128(const uint64_t *s) { return icxU128_make(s[0], s[1]); }

static int do_env(Args *a, uint32_t id) {
  icxExecution *e = a->e;
  uint64_t *s = a->s;
  switch (id) {
  case ICX_IC0_env_var_count: s[0] = 0; return 0;
  case ICX_IC0_env_var_name_size:
  case ICX_IC0_env_var_name_copy:
    return contract(e, a->x, "ic0.%s: environment variable index %llu is out of bounds (0)",
                    a->name, (unsigned long long)s[0]);
  default: {
    int rc;
    if (s[1] > ENV_VAR_NAME_MAX)
      return contract(e, a->x, "ic0.%s: environment variable name is too long", a->name);
    const uint8_t *p = heap_in(e, a->x, a->name, s[0], s[1], &rc);
    if (!p) return rc;
    if (!icxSys_utf8_valid(p, (size_t)s[1]))
      return contract(e, a->x, "ic0.%s: environment variable name is not valid UTF-8", a->name);
    if (id == ICX_IC0_env_var_name_exists) {
      s[0] = 0;
      return 0;
    }
    return contract(e, a->x, "ic0.%s: environment variable not found", a->name);
  }
  }
}

static int do_cost(Args *a, uint32_t id) {
  icxExecution *e = a->e;
  uint64_t *s = a->s;
  const icxFeeConfig *f = &e->cfg.fees;
  uint32_t n = e->cfg.subnet_size;
  switch (id) {
  case ICX_IC0_cost_call:
    return put128(e, a->x, "ic0_cost_call", s[2], icxCycles_cost_call(f, n, s[0] + s[1], e->mode));
  case ICX_IC0_cost_create_canister:
    return put128(e, a->x, "ic0_cost_create_canister", s[0], icxCycles_canister_creation_fee(f, n));
  case ICX_IC0_cost_http_request:
    return put128(e, a->x, "ic0_cost_http_request", s[2],
                  icxCycles_http_request_fee(f, n, s[0], 1, s[1]));
  case ICX_IC0_cost_http_request_v2:
    return contract(e, a->x, "ic0.cost_http_request_v2 is not supported");
  default: { /* sign_with_ecdsa / schnorr / vetkd: no keys are configured */
    int rc;
    const uint8_t *p = heap_in(e, a->x, a->name, s[0], s[1], &rc);
    if (!p) return rc;
    icxMemInst *m = icxExec_caller_memory(a->x);
    if (!in_range(s[3], 16, heap_size(m))) return oob(e, a->x, a->name, s[3], 16, heap_size(m));
    uint32_t curve = (uint32_t)s[2];
    uint32_t ncurves = id == ICX_IC0_cost_sign_with_schnorr ? 2u : 1u;
    s[0] = curve >= ncurves ? 1u : 2u;
    return 0;
  }
  }
}

static int do_cycles(Args *a, uint32_t id) {
  icxExecution *e = a->e;
  uint64_t *s = a->s;
  switch (id) {
  case ICX_IC0_msg_cycles_available:
    if (e->available.hi)
      return fail_kind(e, a->x, ICX_FAIL_WASM, "cycles amount exceeds 64-bit representation");
    s[0] = e->available.lo;
    return 0;
  case ICX_IC0_msg_cycles_available128:
    return put128(e, a->x, "ic0_msg_cycles_available128", s[0], e->available);
  case ICX_IC0_msg_cycles_refunded:
    if (e->refunded.hi)
      return fail_kind(e, a->x, ICX_FAIL_WASM, "cycles amount exceeds 64-bit representation");
    s[0] = e->refunded.lo;
    return 0;
  case ICX_IC0_msg_cycles_refunded128:
    return put128(e, a->x, "ic0_msg_cycles_refunded128", s[0], e->refunded);
  case ICX_IC0_msg_cycles_accept: {
    icxU128 v = icxU128_min(icxU128_from_u64(s[0]), e->available);
    e->available = icxU128_sub_sat(e->available, v);
    e->balance = icxU128_add_sat(e->balance, v);
    s[0] = v.lo;
    return 0;
  }
  case ICX_IC0_msg_cycles_accept128: {
    icxMemInst *m = icxExec_caller_memory(a->x);
    if (!in_range(s[2], 16, heap_size(m)))
      return oob(e, a->x, "ic0_msg_cycles_accept128", s[2], 16, heap_size(m));
    icxU128 v = icxU128_min(get128(s), e->available);
    e->available = icxU128_sub_sat(e->available, v);
    e->balance = icxU128_add_sat(e->balance, v);
    return put128(e, a->x, "ic0_msg_cycles_accept128", s[2], v);
  }
  case ICX_IC0_cycles_burn128: {
    icxMemInst *m = icxExec_caller_memory(a->x);
    if (!in_range(s[2], 16, heap_size(m)))
      return oob(e, a->x, "ic0_cycles_burn128", s[2], 16, heap_size(m));
    icxU128 v = icxU128_min(get128(s), icxCycles_liquid(e->balance, e->threshold));
    e->balance = icxU128_sub_sat(e->balance, v);
    e->burned = icxU128_add_sat(e->burned, v);
    return put128(e, a->x, "ic0_cycles_burn128", s[2], v);
  }
  case ICX_IC0_canister_cycle_balance:
    if (e->balance.hi)
      return fail_kind(e, a->x, ICX_FAIL_WASM, "cycles amount exceeds 64-bit representation");
    s[0] = e->balance.lo;
    return 0;
  case ICX_IC0_canister_cycle_balance128:
    return put128(e, a->x, "ic0_canister_cycle_balance128", s[0], e->balance);
  case ICX_IC0_canister_liquid_cycle_balance128:
    return put128(e, a->x, "ic0_canister_liquid_cycle_balance128", s[0],
                  icxCycles_liquid(e->balance, e->threshold));
  case ICX_IC0_call_cycles_add: return do_call_cycles_add(a, icxU128_from_u64(s[0]));
  default: return do_call_cycles_add(a, get128(s)); /* call_cycles_add128 */
  }
}

static int do_misc(Args *a, uint32_t id) {
  icxExecution *e = a->e;
  icxCanister *c = a->c;
  uint64_t *s = a->s;
  switch (id) {
  case ICX_IC0_msg_arg_data_size: s[0] = e->arg_len; return 0;
  case ICX_IC0_msg_arg_data_copy:
    return copy_out(e, a->x, "msg_arg_data_copy", s[0], s[1], s[2], e->arg, e->arg_len);
  case ICX_IC0_msg_caller_size: s[0] = e->caller.len; return 0;
  case ICX_IC0_msg_caller_copy:
    return copy_out(e, a->x, "msg_caller_copy", s[0], s[1], s[2], e->caller.bytes, e->caller.len);
  case ICX_IC0_msg_caller_info_data_size:
  case ICX_IC0_msg_caller_info_signer_size: s[0] = 0; return 0;
  case ICX_IC0_msg_caller_info_data_copy:
  case ICX_IC0_msg_caller_info_signer_copy:
    return copy_out(e, a->x, a->name, s[0], s[1], s[2], (const uint8_t *)"", 0);
  case ICX_IC0_msg_reject_code: s[0] = e->reject_code; return 0;
  case ICX_IC0_msg_reject_msg_size:
    if (!e->reject_code) return wrong_mode(e, a->x, "msg_reject_msg_size");
    s[0] = e->reject_msg_len;
    return 0;
  case ICX_IC0_msg_reject_msg_copy:
    if (!e->reject_code) return wrong_mode(e, a->x, "msg_reject_msg_copy");
    return copy_out(e, a->x, "msg_reject_msg_copy", s[0], s[1], s[2], e->reject_msg,
                    e->reject_msg_len);
  case ICX_IC0_msg_deadline: s[0] = e->deadline; return 0;
  case ICX_IC0_msg_reply_data_append: return do_reply_append(a, s[0], s[1]);
  case ICX_IC0_msg_reply:
    if (!e->can_respond || e->resp)
      return contract(e, a->x, "ic0.msg_reply: the call is already replied");
    e->resp = 1;
    return 0;
  case ICX_IC0_msg_reject: return do_reject(a, s[0], s[1]);
  case ICX_IC0_canister_self_size: s[0] = c->id.len; return 0;
  case ICX_IC0_canister_self_copy:
    return copy_out(e, a->x, "canister_self_copy", s[0], s[1], s[2], c->id.bytes, c->id.len);
  case ICX_IC0_canister_status: s[0] = c->status; return 0;
  case ICX_IC0_canister_version: s[0] = e->version; return 0;
  case ICX_IC0_subnet_self_size: s[0] = e->cfg.subnet_id.len; return 0;
  case ICX_IC0_subnet_self_copy:
    return copy_out(e, a->x, "subnet_self_copy", s[0], s[1], s[2], e->cfg.subnet_id.bytes,
                    e->cfg.subnet_id.len);
  case ICX_IC0_msg_method_name_size: s[0] = e->method_len; return 0;
  case ICX_IC0_msg_method_name_copy:
    return copy_out(e, a->x, "msg_method_name_copy", s[0], s[1], s[2],
                    (const uint8_t *)e->method, e->method_len);
  case ICX_IC0_accept_message:
    if (e->accepted) return contract(e, a->x, "ic0.accept_message: the function was already called.");
    e->accepted = 1;
    return 0;
  case ICX_IC0_root_key_size: s[0] = e->root_key_len; return 0;
  case ICX_IC0_root_key_copy:
    return copy_out(e, a->x, "root_key_copy", s[0], s[1], s[2], e->root_key,
                    e->root_key_len);
  case ICX_IC0_certified_data_set: {
    if (s[1] > ICX_CERTIFIED_DATA_MAX)
      return contract(e, a->x,
                      "ic0_certified_data_set failed because the passed data must be no larger "
                      "than %u bytes. Found %llu bytes.",
                      ICX_CERTIFIED_DATA_MAX, (unsigned long long)s[1]);
    int rc;
    const uint8_t *p = heap_in(e, a->x, "ic0_certified_data_set", s[0], s[1], &rc);
    if (!p) return rc;
    memcpy(e->certified, p, (size_t)s[1]);
    e->certified_len = (uint32_t)s[1];
    return 0;
  }
  case ICX_IC0_data_certificate_present: s[0] = e->cert_present; return 0;
  case ICX_IC0_data_certificate_size:
  case ICX_IC0_data_certificate_copy:
    if (!e->cert_present)
      return contract(e, a->x, "ic0.%s: no certificate is present", a->name);
    if (id == ICX_IC0_data_certificate_size) {
      s[0] = e->certificate_len;
      return 0;
    }
    return copy_out(e, a->x, "data_certificate_copy", s[0], s[1], s[2], e->certificate,
                    e->certificate_len);
  case ICX_IC0_time: s[0] = e->time_ns; return 0;
  case ICX_IC0_global_timer_set: {
    uint64_t prev = e->timer;
    e->timer = s[0];
    s[0] = prev;
    return 0;
  }
  case ICX_IC0_performance_counter: {
    uint32_t t = (uint32_t)s[0];
    if (t == 0) s[0] = icxSys_instructions(e);
    else if (t == 1) s[0] = e->ctx_instr_before + icxSys_instructions(e);
    else return contract(e, a->x, "Error getting performance counter type %u", t);
    return 0;
  }
  case ICX_IC0_is_controller: {
    int rc;
    const uint8_t *p = heap_in(e, a->x, "ic0.is_controller", s[0], s[1], &rc);
    if (!p) return rc;
    if (s[1] > ICX_PRINCIPAL_MAX_BYTES)
      return contract(e, a->x, "ic0.is_controller: invalid principal id");
    icx_principal q;
    q.len = (uint8_t)s[1];
    memcpy(q.bytes, p, (size_t)s[1]);
    s[0] = 0;
    for (uint32_t i = 0; i < c->ncontrollers; i++)
      if (icxPrincipal_eq(&c->controllers[i], &q)) s[0] = 1;
    return 0;
  }
  case ICX_IC0_in_replicated_execution: s[0] = e->replicated; return 0;
  case ICX_IC0_mint_cycles:
  case ICX_IC0_mint_cycles128: {
    char id_txt[80];
    icxPrincipal_to_text(&c->id, id_txt, sizeof id_txt);
    return contract(e, a->x,
                    "ic0.%s can only be executed on the Cycles Minting Canister: %s is not the "
                    "CMC",
                    a->name, id_txt);
  }
  default: /* every ICX_IC0_APIS entry has a case above; an id beyond them is a bug */
    return contract(e, a->x, "ic0.%s: no handler for this System API id (internal error)",
                    a->name);
  }
}

int icxSys_dispatch(icxExec *x, void *ud, uint64_t *slots) {
  const icxSysBind *b = ud;
  icxCanister *c = b->c;
  icxExecution *e = c->cur;
  const icxIc0Api *api = icxCost_ic0(b->id);
  if (!e || !api) {
    icxExec_set_trap(x, "System API called outside an execution");
    return ICX_HOST_TRAP;
  }
  Args a = {e, x, c, slots, api->name};
  /* 1. charge */
  int per_byte = e->cfg.per_byte_sysapi_charges;
  uint64_t fee = api->fixed, extra = 0;
  switch (api->bytes) {
  case ICX_BYTES_1: extra = per_byte ? size_arg(api, b->id, slots) : 0; break;
  case ICX_BYTES_50: {
    uint64_t n = per_byte ? size_arg(api, b->id, slots) : 0;
    extra = n > UINT64_MAX / ICX_COST_BYTE_TRANSMISSION ? UINT64_MAX
                                                        : n * ICX_COST_BYTE_TRANSMISSION;
    break;
  }
  case ICX_BYTES_SPECIAL: extra = special_charge(&a, b->id, per_byte); break;
  default: break;
  }
  fee = extra > UINT64_MAX - fee ? UINT64_MAX : fee + extra;
  int rc = charge(e, x, fee);
  if (rc) return rc;
  /* 2. context */
  if (!(api->contexts & icxSys_ctx_bit(e->api))) {
    rc = contract(e, x, "\"ic0_%s\" cannot be executed in %s mode", api->name,
                  icxSys_api_name(e->api));
    e->help = ICX_HELP_WRONG_MODE;
    return rc;
  }
  /* 3. work */
  uint32_t id = b->id;
  switch (id) {
  case ICX_IC0_call_new: rc = do_call_new(&a); break;
  case ICX_IC0_call_on_cleanup:
    if (!e->call.active)
      rc = contract(e, x, "ic0.call_on_cleanup called when no call is under construction.");
    else if (e->call.has_cleanup)
      rc = contract(e, x, "ic0.call_on_cleanup: cleanup closure already set.");
    else {
      e->call.has_cleanup = 1;
      e->call.cleanup_fun = slots[0];
      e->call.cleanup_env = slots[1];
    }
    break;
  case ICX_IC0_call_data_append: rc = do_call_data_append(&a, slots[0], slots[1]); break;
  case ICX_IC0_call_with_best_effort_response:
    if (!e->call.active)
      rc = contract(e, x, "ic0_call_with_best_effort_response called when no call is under "
                          "construction.");
    else if (e->call.has_timeout)
      rc = contract(e, x, "ic0_call_with_best_effort_response failed because a timeout is "
                          "already set.");
    else {
      uint32_t t = (uint32_t)slots[0];
      if (t > ICX_MAX_CALL_TIMEOUT_SECONDS) t = ICX_MAX_CALL_TIMEOUT_SECONDS;
      e->call.has_timeout = 1;
      e->call.deadline = e->time_ns + (uint64_t)t * 1000000000u;
    }
    break;
  case ICX_IC0_call_perform: rc = do_call_perform(&a); break;
  case ICX_IC0_stable_size: case ICX_IC0_stable_grow: case ICX_IC0_stable_read:
  case ICX_IC0_stable_write: case ICX_IC0_stable64_size: case ICX_IC0_stable64_grow:
  case ICX_IC0_stable64_read: case ICX_IC0_stable64_write:
    rc = do_stable(&a, id);
    break;
  case ICX_IC0_debug_print: rc = do_debug_print(&a, slots[0], slots[1]); break;
  case ICX_IC0_trap: rc = do_trap(&a, slots[0], slots[1]); break;
  case ICX_IC0_env_var_count: case ICX_IC0_env_var_name_size: case ICX_IC0_env_var_name_copy:
  case ICX_IC0_env_var_name_exists: case ICX_IC0_env_var_value_size:
  case ICX_IC0_env_var_value_copy:
    rc = do_env(&a, id);
    break;
  case ICX_IC0_cost_call: case ICX_IC0_cost_create_canister: case ICX_IC0_cost_http_request:
  case ICX_IC0_cost_http_request_v2: case ICX_IC0_cost_sign_with_ecdsa:
  case ICX_IC0_cost_sign_with_schnorr: case ICX_IC0_cost_vetkd_derive_key:
    rc = do_cost(&a, id);
    break;
  case ICX_IC0_msg_cycles_available: case ICX_IC0_msg_cycles_available128:
  case ICX_IC0_msg_cycles_refunded: case ICX_IC0_msg_cycles_refunded128:
  case ICX_IC0_msg_cycles_accept: case ICX_IC0_msg_cycles_accept128:
  case ICX_IC0_cycles_burn128: case ICX_IC0_canister_cycle_balance:
  case ICX_IC0_canister_cycle_balance128: case ICX_IC0_canister_liquid_cycle_balance128:
  case ICX_IC0_call_cycles_add: case ICX_IC0_call_cycles_add128:
    rc = do_cycles(&a, id);
    break;
  default: rc = do_misc(&a, id); break;
  }
  if (rc) return rc;
  if (e->pause_after) {
    e->pause_after = 0;
    return ICX_HOST_SUSPEND;
  }
  return ICX_HOST_OK;
}
