/* unit_conformance.c -- the conformance checklist of the IC reference
 * (reference/ic-execution.md section 14), items that concern one or two
 * canisters, run on the canister runtime (lib/canister.h) with the
 * universal test canister (tests/canisters/uc.c, scripts built with
 * tests/uc.h).
 *
 * Each test names its checklist item(s) as "[14.N]".  Messages between
 * canisters are routed by hand (route()); nothing here uses the scheduler.
 * Expected texts of IC errors come from real replica outputs
 * (reference/drun-format.md section 5) and, where the reference has no
 * confirmed text (IC0504, IC0506, IC0522, IC0536), from the replica's
 * HypervisorError::into_user_error; test_error_texts checks the full texts,
 * the other tests the code and the distinctive part.
 *
 * Tests the runtime cannot pass yet stay in #if ICX_CONFORMANCE_PENDING
 * blocks (see the list at the end of the file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "canister.h"
#include "principal.h"
#include "sysapi.h" /* icxCanister_threshold */
#include "wat.h"

#include "uc.h"

#ifndef ICX_TEST_CANISTER_DIR
#define ICX_TEST_CANISTER_DIR "build/canisters"
#endif
#ifndef ICX_CONFORMANCE_PENDING
#define ICX_CONFORMANCE_PENDING 0
#endif

#define TIME0 1700000000000000000ull /* block time of the first round (ns) */
#define T 1000000000000ull           /* 1 T cycles */
#define MIB 1048576ull
#define CONSIDER_TRAP_EXPLICIT                                                                     \
  ".\nConsider gracefully handling failures from this canister or altering the canister to "      \
  "handle exceptions. See documentation: "                                                         \
  "https://internetcomputer.org/docs/current/references/execution-errors#trapped-explicitly"
#define DOC "https://internetcomputer.org/docs/current/references/execution-errors#"
#define HELP_TOOLCHAIN                                                                             \
  ".\nThis is likely an error with the compiler/CDK toolchain being used to build the canister. " \
  "Please report the error to IC devs on the forum: https://forum.dfinity.org and include which " \
  "language/CDK was used to create the canister."
#define CONSIDER_TRAP                                                                              \
  ".\nConsider gracefully handling failures from this canister or altering the canister to "      \
  "handle exceptions. See documentation: "                                                         \
  "https://internetcomputer.org/docs/current/references/execution-errors#trapped"

/* ---- the world: allocator, config, code ----------------------------------------- */
static struct {
  icxAllocator a;
  icxPmCtx *pm;
  icxRtConfig cfg;
  icxExecEnv env;
  icxCode *uc, *uc64;
  icx_principal user;      /* controller and ingress sender */
  icx_principal stranger;  /* not a controller */
} w;

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (run make canisters)", path);
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  for (;;) {
    if (n == cap) b = realloc(b, cap *= 2);
    size_t k = fread(b + n, 1, cap - n, f);
    if (k == 0) break;
    n += k;
  }
  fclose(f);
  *len = n;
  return b;
}

static icx_status code_from_bytes(const uint8_t *wasm, size_t len, icxCode **out, icxErr *err) {
  icxErr_clear(err);
  return icxCode_new(&w.a, &w.cfg, wasm, len, out, err);
}

static icxCode *code_file(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", ICX_TEST_CANISTER_DIR, name);
  size_t len;
  uint8_t *b = read_file(path, &len);
  icxCode *c = NULL;
  icxErr err;
  icx_status rc = code_from_bytes(b, len, &c, &err);
  free(b);
  if (rc != ICX_OK) fail_msg("icxCode_new(%s): %d %s", name, rc, err.msg);
  return c;
}

/* Compile WAT text; returns the icxCode_new status (and *out on success). */
static icx_status code_wat(const char *wat, icxCode **out, icxErr *err) {
  uint8_t *b = NULL;
  size_t n = 0;
  icx_status rc = icxWat_to_wasm(&w.a, wat, strlen(wat), ICX_FEAT_DEFAULT, &b, &n, err);
  if (rc != ICX_OK) fail_msg("WAT: %s", err->msg);
  *out = NULL;
  rc = code_from_bytes(b, n, out, err);
  icxCore_free(&w.a, b, n);
  return rc;
}

static void reset_config(void) {
  icxRtConfig_defaults(&w.cfg);
  memset(&w.env, 0, sizeof w.env);
  w.env.cfg = &w.cfg;
  w.env.time_ns = TIME0;
  w.env.slice = w.cfg.max_instructions_message; /* no DTS unless a test asks */
}

static int group_setup(void **state) {
  (void)state;
  w.a = icxCore_default_allocator();
  w.pm = icxPm_ctx_new(&w.a);
  reset_config();
  static const uint8_t der[] = "conformance test user key";
  w.user = icxPrincipal_self_authenticating(der, sizeof der);
  static const uint8_t der2[] = "somebody else";
  w.stranger = icxPrincipal_self_authenticating(der2, sizeof der2);
  w.uc = code_file("uc.wasm");
  w.uc64 = code_file("uc64.wasm");
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  icxCode_unref(w.uc);
  icxCode_unref(w.uc64);
  icxPm_ctx_free(w.pm);
  return 0;
}

static int test_setup(void **state) {
  (void)state;
  reset_config();
  return 0;
}

/* ---- canisters ----------------------------------------------------------------------- */
static icxCanister *mk(uint64_t idx, icxU128 balance) {
  icx_principal id = icxPrincipal_canister(idx);
  icxCanister *c = NULL;
  icxErr err;
  icx_status rc = icxCanister_new(&w.a, w.pm, &w.cfg, &id, &c, &err);
  if (rc != ICX_OK) fail_msg("icxCanister_new: %s", err.msg);
  c->balance = balance;
  c->ncontrollers = 1;
  c->controllers[0] = w.user;
  c->settings.ncontrollers = 1;
  c->settings.controllers[0] = w.user;
  return c;
}

static icxU128 u(uint64_t v) { return icxU128_from_u64(v); }

/* Install (any mode); returns the outcome (caller frees). */
static icxExecOutcome install_ex(icxCanister *c, icxCode *code, int mode, const uc_script *arg) {
  icxInstallArgs ia;
  memset(&ia, 0, sizeof ia);
  ia.mode = mode;
  ia.code = code;
  ia.arg = arg ? arg->p : NULL;
  ia.arg_len = arg ? arg->len : 0;
  ia.caller = w.user;
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icxErr err;
  icxErr_clear(&err);
  icx_status rc = icxCanister_install(c, &w.env, &ia, &o, &err);
  if (rc != ICX_OK) fail_msg("icxCanister_install: %d %s", rc, err.msg);
  while (!o.done) {
    icxExecOutcome o2;
    memset(&o2, 0, sizeof o2);
    rc = icxCanister_resume(c, &w.env, &o2, &err);
    if (rc != ICX_OK) fail_msg("icxCanister_resume (install): %d %s", rc, err.msg);
    icxExecOutcome_free(&w.a, &o);
    o = o2;
  }
  return o;
}

static void install_ok(icxCanister *c, icxCode *code, int mode, const uc_script *arg) {
  icxExecOutcome o = install_ex(c, code, mode, arg);
  if (o.trapped || o.error_code) fail_msg("install failed: IC%04u %s", o.error_code, o.error);
  icxExecOutcome_free(&w.a, &o);
}

/* A uc canister with index idx and 100 T cycles, installed with init script
 * `init` (may be NULL). */
static icxCanister *uc_canister(uint64_t idx, const uc_script *init) {
  icxCanister *c = mk(idx, u(100 * T));
  install_ok(c, w.uc, ICX_INSTALL_MODE_INSTALL, init);
  return c;
}

/* ---- messages ------------------------------------------------------------------------ */
static uint8_t *dup_bytes(const void *p, size_t n) {
  uint8_t *q = icxCore_alloc(&w.a, n ? n : 1);
  if (n) memcpy(q, p, n);
  return q;
}

static void msg_release(icxMsg *m) {
  if (m->method) icxCore_free(&w.a, m->method, (size_t)m->method_len + 1);
  if (m->data) icxCore_free(&w.a, m->data, m->len ? m->len : 1);
  memset(m, 0, sizeof *m);
}

static icxMsg ingress_msg(const icxCanister *c, const char *method, const uint8_t *arg, size_t len) {
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = w.user;
  m.dst = c->id;
  m.method_len = (uint32_t)strlen(method);
  m.method = (char *)dup_bytes(method, m.method_len + 1);
  m.data = dup_bytes(arg, len);
  m.len = len;
  for (int i = 0; i < 32; i++) m.msg_id[i] = (uint8_t)(i * 7 + 1);
  return m;
}

static int exec_kind_for(const icxMsg *m) {
  if (m->kind == ICX_MSG_RESPONSE) return ICX_EXEC_RESPONSE;
  if (m->method && strcmp(m->method, "query") == 0) return ICX_EXEC_QUERY_REPLICATED;
  return ICX_EXEC_UPDATE;
}

static unsigned slices_last; /* slices used by the last exec() */

/* Execute one message (or task if m is NULL) to completion (resuming DTS
 * slices); returns the outcome (caller frees). */
static icxExecOutcome exec(icxCanister *c, int kind, const icxMsg *m) {
  icxExecOutcome o;
  memset(&o, 0, sizeof o);
  icxErr err;
  icxErr_clear(&err);
  icx_status rc = icxCanister_execute(c, &w.env, (uint8_t)kind, m, &o, &err);
  if (rc != ICX_OK) fail_msg("icxCanister_execute: %d %s", rc, err.msg);
  slices_last = 1;
  while (!o.done) {
    icxExecOutcome o2;
    memset(&o2, 0, sizeof o2);
    rc = icxCanister_resume(c, &w.env, &o2, &err);
    if (rc != ICX_OK) fail_msg("icxCanister_resume: %d %s", rc, err.msg);
    icxExecOutcome_free(&w.a, &o);
    o = o2;
    slices_last++;
    if (slices_last > 100000) fail_msg("execution does not finish");
  }
  return o;
}

/* Send the script as ingress to `method` (update, query (replicated), ...). */
static icxExecOutcome ingress(icxCanister *c, const char *method, const uc_script *s) {
  icxMsg m = ingress_msg(c, method, s->p, s->len);
  icxExecOutcome o = exec(c, exec_kind_for(&m), &m);
  msg_release(&m);
  return o;
}

static icxExecOutcome update(icxCanister *c, const uc_script *s) { return ingress(c, "update", s); }

/* The response to the call context in an outcome (NULL if none). */
static const icxMsg *response_of(const icxExecOutcome *o) {
  for (uint32_t i = 0; i < o->nout; i++)
    if (o->out[i].kind == ICX_MSG_RESPONSE) return &o->out[i];
  return NULL;
}
static uint32_t requests_in(const icxExecOutcome *o) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < o->nout; i++) n += o->out[i].kind == ICX_MSG_REQUEST;
  return n;
}

static void assert_reply(const icxMsg *r, const void *bytes, size_t len) {
  if (r == NULL) fail_msg("no response");
  if (r->reject_code != 0)
    fail_msg("expected a reply, got reject %u (IC%04u): %.*s", r->reject_code, r->error_code,
             (int)r->len, (const char *)r->data);
  assert_int_equal(r->len, len);
  if (len) assert_memory_equal(r->data, bytes, len);
}

static void assert_reply_u64(const icxMsg *r, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  assert_reply(r, b, 8);
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

/* A reject with this code; text NULL = any, else exact. */
static void assert_reject(const icxMsg *r, uint32_t code, const char *text) {
  if (r == NULL) fail_msg("no response");
  if (r->reject_code != code)
    fail_msg("expected reject %u, got %u (IC%04u): %.*s", code, r->reject_code, r->error_code,
             (int)r->len, (const char *)r->data);
  if (text) {
    if (r->len != strlen(text) || memcmp(r->data, text, r->len) != 0)
      fail_msg("reject text\n  got:  %.*s\n  want: %s", (int)r->len, (const char *)r->data, text);
  }
}


static int has_text(const uint8_t *p, size_t len, const char *text) {
  size_t n = strlen(text);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(p + i, text, n) == 0) return 1;
  return n == 0;
}

/* A system error response: reject code, IC error code, and a message that
 * contains `text` (the distinctive part; the exact replica wording is
 * checked once, in test_error_texts). */
static void assert_error(const icxMsg *r, const icxCanister *c, uint32_t code, uint16_t ic,
                         const char *text) {
  (void)c;
  assert_reject(r, code, NULL);
  if (r->error_code != ic)
    fail_msg("expected IC%04u, got IC%04u: %.*s", ic, r->error_code, (int)r->len,
             (const char *)r->data);
  if (!has_text(r->data, r->len, text))
    fail_msg("IC%04u text does not contain \"%s\":\n  %.*s", ic, text, (int)r->len,
             (const char *)r->data);
}

static void assert_called_trap(const icxMsg *r, const icxCanister *c, const char *msg) {
  assert_error(r, c, ICX_REJECT_CANISTER_ERROR, 503, msg);
}

static void assert_contract(const icxMsg *r, const icxCanister *c, const char *what) {
  assert_error(r, c, ICX_REJECT_CANISTER_ERROR, 504, what);
}

/* ---- routing between canisters ------------------------------------------------------------ */
typedef struct route_result {
  icxMsg ingress_response; /* the response to the first ingress (kind 0 if none) */
  int got;
  uint32_t executions;
} route_result;

/* Deliver the messages of `first` (and everything they cause) among the
 * canisters cs[0..n) in FIFO order.  Requests to the management canister or
 * to unknown canisters fail the test. */
static route_result route(icxCanister **cs, int n, icxExecOutcome *first) {
  route_result rr;
  memset(&rr, 0, sizeof rr);
  icxMsg *q = NULL;
  size_t qn = 0, qh = 0, qcap = 0;
#define ROUTE_PUSH(o)                                                                              \
  for (uint32_t i_ = 0; i_ < (o)->nout; i_++) {                                                    \
    if (qn == qcap) q = realloc(q, (qcap = qcap ? 2 * qcap : 16) * sizeof *q);                     \
    icxErr e_;                                                                                     \
    if (icxMsg_copy(&w.a, &(o)->out[i_], &q[qn++], &e_) != ICX_OK) fail_msg("icxMsg_copy");        \
  }
  ROUTE_PUSH(first);
  while (qh < qn) {
    icxMsg m = q[qh++];
    if (m.kind == ICX_MSG_RESPONSE && m.to_ingress) {
      if (!rr.got) {
        rr.ingress_response = m;
        rr.got = 1;
      } else {
        msg_release(&m);
      }
      continue;
    }
    icxCanister *dst = NULL;
    for (int i = 0; i < n; i++)
      if (icxPrincipal_eq(&cs[i]->id, &m.dst)) dst = cs[i];
    if (!dst) fail_msg("route: no canister for a message");
    icxExecOutcome o = exec(dst, exec_kind_for(&m), &m);
    rr.executions++;
    ROUTE_PUSH(&o);
    icxExecOutcome_free(&w.a, &o);
    msg_release(&m);
  }
#undef ROUTE_PUSH
  free(q);
  return rr;
}

static void route_free(route_result *rr) {
  if (rr->got) msg_release(&rr->ingress_response);
}

/* Script: reply with the scratch string. */
static void s_reply_scratch(uc_script *s) {
  uc_scratch_get(s);
  uc_reply_data_append(s);
  uc_reply(s);
}

/* Read the scratch string of c with an update (which also bumps the
 * version; use query_scratch to avoid that). */
static void assert_scratch(icxCanister *c, const char *want) {
  uc_script s;
  uc_init(&s);
  s_reply_scratch(&s);
  icxExecOutcome o = ingress(c, "query", &s);
  assert_reply(response_of(&o), want, strlen(want));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
}

/* Run a script as an update and expect this exact reply. */
static void expect_update_reply(icxCanister *c, const uc_script *s, const void *bytes, size_t len) {
  icxExecOutcome o = update(c, s);
  assert_reply(response_of(&o), bytes, len);
  icxExecOutcome_free(&w.a, &o);
}

/* ==== [14.1-14.8] module checks ================================================================ */

static void expect_rejected_wat(const char *wat, const char *why) {
  icxCode *c = NULL;
  icxErr err;
  icx_status rc = code_wat(wat, &c, &err);
  if (rc == ICX_OK) {
    icxCode_unref(c);
    fail_msg("accepted a module that must be rejected (%s):\n%s", why, wat);
  }
  if (rc != ICX_EREJECTED && rc != ICX_EINVALID)
    fail_msg("%s: status %d (%s), expected ICX_EREJECTED", why, rc, err.msg);
  print_message("  rejected (%s): %s\n", why, err.msg);
}

static void expect_accepted_wat(const char *wat) {
  icxCode *c = NULL;
  icxErr err;
  icx_status rc = code_wat(wat, &c, &err);
  if (rc != ICX_OK) fail_msg("rejected a valid canister module (%s):\n%s", err.msg, wat);
  icxCode_unref(c);
}

/* [14.1] imports only from ic0; [14.2] exact signatures, I = i64 in wasm64. */
static void test_imports(void **state) {
  (void)state;
  expect_rejected_wat("(module (import \"env\" \"foo\" (func)))", "import from env");
  expect_rejected_wat("(module (import \"ic00\" \"msg_reply\" (func)))", "module ic00");
  expect_rejected_wat("(module (import \"ic0\" \"no_such_function\" (func)))", "unknown name");
  expect_rejected_wat("(module (import \"env\" \"g\" (global i32)))", "global import");
  expect_rejected_wat("(module (import \"ic0\" \"stable_read\" (func (param i64 i64 i64)))"
                      " (memory 1))",
                      "stable_read with i64 params");
  expect_rejected_wat("(module (import \"ic0\" \"msg_reply\" (func (param i32))))",
                      "msg_reply with a parameter");
  expect_rejected_wat("(module (import \"ic0\" \"msg_arg_data_size\" (func (result i64)))"
                      " (memory 1))",
                      "wasm32 module with I = i64");
  expect_rejected_wat("(module (import \"ic0\" \"msg_reply_data_append\""
                      " (func (param i32 i32))) (memory i64 1))",
                      "wasm64 module with I = i32");
  expect_rejected_wat("(module (import \"ic0\" \"stable_size\" (func (result i32)))"
                      " (memory i64 1))",
                      "wasm64 module importing a 32-bit-only function");
  expect_accepted_wat("(module (import \"ic0\" \"msg_reply_data_append\""
                      " (func (param i64 i64))) (memory i64 1))");
  expect_accepted_wat("(module (import \"ic0\" \"stable_read\" (func (param i32 i32 i32)))"
                      " (import \"ic0\" \"stable64_read\" (func (param i64 i64 i64))) (memory 1))");
  /* the test canisters themselves */
  assert_int_equal(w.uc->mem64, 0);
  assert_int_equal(w.uc64->mem64, 1);
}

/* [14.3] canister_* exports; [14.4] reserved exports. */
static void test_exports(void **state) {
  (void)state;
  expect_rejected_wat("(module (func (export \"canister_foo\")))", "canister_foo");
  expect_rejected_wat("(module (func (export \"canister_update  x\")))", "two spaces");
  expect_rejected_wat("(module (func (export \"canister_query  x\")))", "two spaces (query)");
  expect_rejected_wat("(module (func (export \"canister_composite_query  x\")))",
                      "two spaces (composite query)");
  expect_rejected_wat("(module (func (export \"canister_updatex\")))", "no space");
  expect_rejected_wat("(module (func $f) (export \"canister_update x\" (func $f))"
                      " (export \"canister_query x\" (func $f)))",
                      "update and query x");
  expect_rejected_wat("(module (func (export \"canister_update x\") (param i32)))",
                      "method with a parameter");
  expect_rejected_wat("(module (func (export \"canister counter_instructions\")))",
                      "canister counter_instructions");
  expect_rejected_wat("(module (func (export \"canister_start\")))", "canister_start");
  expect_rejected_wat("(module (memory (export \"stable_memory\") 1))", "stable_memory");
  expect_accepted_wat("(module (func (export \"canister_update x\"))"
                      " (func (export \"canister_query y\")) (func (export \"canister_init\"))"
                      " (func (export \"canister_heartbeat\")) (func (export \"foo\")))");
}

/* Binary module builder for the numeric limits. */
typedef struct mbuf {
  uint8_t *p;
  size_t n, cap;
} mbuf;
static void mb_put(mbuf *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 256;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}
static void mb_byte(mbuf *b, uint8_t v) { mb_put(b, &v, 1); }
static void mb_leb(mbuf *b, uint64_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    mb_byte(b, (uint8_t)(c | (v ? 0x80 : 0)));
  } while (v);
}
static void mb_name(mbuf *b, const char *s, size_t n) {
  mb_leb(b, n);
  mb_put(b, s, n);
}
static void mb_section(mbuf *b, uint8_t id, mbuf *content) {
  mb_byte(b, id);
  mb_leb(b, content->n);
  mb_put(b, content->p, content->n);
  content->n = 0;
}

/* A module with nfuncs ()->() functions, the first nexports of them exported
 * as "canister_update <name>" with names of name_len bytes, nglobals
 * immutable i32 globals, and `ncustom` custom sections named by fmt. */
static icx_status limits_module(uint32_t nfuncs, uint32_t nexports, size_t name_len,
                                uint32_t nglobals, uint32_t ncustom, const char *custom_fmt,
                                size_t custom_payload, icxErr *err) {
  mbuf b = {0}, s = {0};
  mb_put(&b, "\0asm\1\0\0\0", 8);
  mb_leb(&s, 1);
  mb_put(&s, "\x60\x00\x00", 3);
  mb_section(&b, 1, &s);
  if (nfuncs) {
    mb_leb(&s, nfuncs);
    for (uint32_t i = 0; i < nfuncs; i++) mb_byte(&s, 0);
    mb_section(&b, 3, &s);
  }
  if (nglobals) {
    mb_leb(&s, nglobals);
    for (uint32_t i = 0; i < nglobals; i++) mb_put(&s, "\x7f\x00\x41\x00\x0b", 5);
    mb_section(&b, 6, &s);
  }
  if (nexports) {
    mb_leb(&s, nexports);
    char *name = malloc(name_len + 40);
    for (uint32_t i = 0; i < nexports; i++) {
      int k = snprintf(name, 40, "canister_update %06u", i);
      while ((size_t)k < 16 + name_len) name[k++] = 'x';
      mb_name(&s, name, (size_t)k);
      mb_byte(&s, 0);
      mb_leb(&s, i);
    }
    free(name);
    mb_section(&b, 7, &s);
  }
  if (nfuncs) {
    mb_leb(&s, nfuncs);
    for (uint32_t i = 0; i < nfuncs; i++) mb_put(&s, "\x02\x00\x0b", 3);
    mb_section(&b, 10, &s);
  }
  for (uint32_t i = 0; i < ncustom; i++) {
    char name[64];
    int k = snprintf(name, sizeof name, custom_fmt, i);
    mb_name(&s, name, (size_t)k);
    uint8_t *pl = calloc(1, custom_payload + 1);
    mb_put(&s, pl, custom_payload);
    free(pl);
    mb_section(&b, 0, &s);
  }
  icxCode *c = NULL;
  icx_status rc = code_from_bytes(b.p, b.n, &c, err);
  if (c) icxCode_unref(c);
  free(b.p);
  free(s.p);
  return rc;
}

/* A module with just two custom sections. */
static icx_status custom_pair_module(const char *n1, const char *n2, icxErr *err) {
  mbuf b = {0}, s = {0};
  mb_put(&b, "\0asm\1\0\0\0", 8);
  mb_name(&s, n1, strlen(n1));
  mb_byte(&s, 'a');
  mb_section(&b, 0, &s);
  mb_name(&s, n2, strlen(n2));
  mb_byte(&s, 'b');
  mb_section(&b, 0, &s);
  icxCode *c = NULL;
  icx_status rc = code_from_bytes(b.p, b.n, &c, err);
  if (c) icxCode_unref(c);
  free(b.p);
  free(s.p);
  return rc;
}

/* [14.5] numeric limits: functions, globals, exported methods, name bytes. */
static void test_numeric_limits(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(limits_module(50000, 0, 0, 0, 0, NULL, 0, &err), ICX_OK);
  assert_int_equal(limits_module(50001, 0, 0, 0, 0, NULL, 0, &err), ICX_EREJECTED);
  print_message("  50001 functions: %s\n", err.msg);
  assert_int_equal(limits_module(0, 0, 0, 1000, 0, NULL, 0, &err), ICX_OK);
  assert_int_equal(limits_module(0, 0, 0, 1001, 0, NULL, 0, &err), ICX_EREJECTED);
  print_message("  1001 globals: %s\n", err.msg);
  assert_int_equal(limits_module(1000, 1000, 0, 0, 0, NULL, 0, &err), ICX_OK);
  assert_int_equal(limits_module(1001, 1001, 0, 0, 0, NULL, 0, &err), ICX_EREJECTED);
  print_message("  1001 methods: %s\n", err.msg);
  /* 10 methods of 2,106-byte names: 21,060 bytes of method names. */
  assert_int_equal(limits_module(10, 10, 2100, 0, 0, NULL, 0, &err), ICX_EREJECTED);
  print_message("  21060 bytes of names: %s\n", err.msg);
  assert_int_equal(limits_module(10, 10, 1000, 0, 0, NULL, 0, &err), ICX_OK);
}

/* [14.6] icp: custom sections. */
static void test_custom_sections(void **state) {
  (void)state;
  icxErr err;
  assert_int_equal(limits_module(0, 0, 0, 0, 16, "icp:public s%u", 1, &err), ICX_OK);
  assert_int_equal(limits_module(0, 0, 0, 0, 17, "icp:public s%u", 1, &err), ICX_EREJECTED);
  print_message("  17 sections: %s\n", err.msg);
  assert_int_equal(limits_module(0, 0, 0, 0, 1, "icp:public big%u", MIB + 1, &err), ICX_EREJECTED);
  print_message("  > 1 MiB: %s\n", err.msg);
  assert_int_equal(limits_module(0, 0, 0, 0, 1, "icp:public", 1, &err), ICX_EREJECTED);
  print_message("  bare icp:public: %s\n", err.msg);
  assert_int_equal(limits_module(0, 0, 0, 0, 2, "icp:public x", 1, &err), ICX_EREJECTED);
  assert_int_equal(limits_module(0, 0, 0, 0, 1, "other%u", 3 * MIB, &err), ICX_OK);
  assert_int_equal(custom_pair_module("icp:public x", "icp:private x", &err), ICX_EREJECTED);
  print_message("  public and private x: %s\n", err.msg);
  assert_int_equal(custom_pair_module("icp:public x", "icp:private y", &err), ICX_OK);
}

/* gzip with zlib (windowBits 31). */
static uint8_t *gzip(const uint8_t *p, size_t n, size_t *out_n) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = deflateBound(&z, n) + 64;
  uint8_t *o = malloc(cap);
  z.next_in = (uint8_t *)p;
  z.avail_in = (uInt)n;
  z.next_out = o;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  *out_n = z.total_out;
  deflateEnd(&z);
  return o;
}

/* [14.7] a gzip module installs and behaves as the raw one. */
static void test_gzip_module(void **state) {
  (void)state;
  size_t len, glen;
  uint8_t *raw = read_file(ICX_TEST_CANISTER_DIR "/uc.wasm", &len);
  uint8_t *gz = gzip(raw, len, &glen);
  assert_memory_equal(gz, "\x1f\x8b\x08", 3);
  icxCode *code = NULL;
  icxErr err;
  assert_int_equal(code_from_bytes(gz, glen, &code, &err), ICX_OK);
  assert_int_equal(code->instr.orig_len, len);
  assert_memory_equal(code->instr.orig, raw, len);
  icxCanister *c = mk(1, u(100 * T));
  install_ok(c, code, ICX_INSTALL_MODE_INSTALL, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, "gz:");
  uc_counter_inc(&s);
  uc_concat(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "gz:\xe9\x03\0\0\0\0\0\0", 11); /* counter 1001 */
  uc_free(&s);
  icxCanister_free(c);
  icxCode_unref(code);
  free(gz);
  free(raw);
}

/* [14.8] a data segment beyond the initial memory is rejected (at the
 * latest at install, the canister staying empty). */
static void test_data_segment_oob(void **state) {
  (void)state;
  icxCode *code = NULL;
  icxErr err;
  icx_status rc = code_wat("(module (memory 1) (data (i32.const 65535) \"ab\")"
                           " (func (export \"canister_update x\")))",
                           &code, &err);
  if (rc != ICX_OK) {
    print_message("  rejected by icxCode_new: %s\n", err.msg);
    return;
  }
  icxCanister *c = mk(2, u(100 * T));
  icxExecOutcome o = install_ex(c, code, ICX_INSTALL_MODE_INSTALL, NULL);
  assert_true(o.error_code != 0);
  print_message("  install: IC%04u %s\n", o.error_code, o.error);
  assert_null(c->code);
  icxExecOutcome_free(&w.a, &o);
  icxCanister_free(c);
  icxCode_unref(code);
}

/* ==== [14.9-14.11] metering ===================================================================== */

static icxExecOutcome ingress_bytes(icxCanister *c, const char *method, const char *arg) {
  icxMsg m = ingress_msg(c, method, (const uint8_t *)arg, strlen(arg));
  icxExecOutcome o = exec(c, ICX_EXEC_UPDATE, &m);
  msg_release(&m);
  return o;
}

/* tests/canisters/meter.wat: methods with exact instruction counts. */
static icxCanister *meter_canister(uint64_t idx) {
  icxCode *code = code_file("meter.wasm");
  icxCanister *c = mk(idx, u(100 * T));
  install_ok(c, code, ICX_INSTALL_MODE_INSTALL, NULL);
  icxCode_unref(code);
  return c;
}

/* [14.9] an empty method costs 1 instruction; [14.10] a loop costs its
 * operators per iteration. */
static void test_metering_static(void **state) {
  (void)state;
  icxCanister *c = meter_canister(3);
  icxExecOutcome o = ingress_bytes(c, "empty", "");
  assert_int_equal(o.instructions, 1);
  /* no reply: the context is starved */
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 506, "did not reply");
  icxExecOutcome_free(&w.a, &o);
  o = ingress_bytes(c, "loop10", "");
  assert_int_equal(o.instructions, 91);
  icxExecOutcome_free(&w.a, &o);
  icxCanister_free(c);
}

/* [14.11] memory.fill / memory.copy of n bytes: n charged on top of the
 * static 100; [14.9] performance_counter(0) is monotonic. */
static void test_metering_bulk(void **state) {
  (void)state;
  icxCanister *c = meter_canister(4);
  icxExecOutcome o = ingress_bytes(c, "fill", "");
  assert_reply_u64(response_of(&o), 200 + 1000);
  icxExecOutcome_free(&w.a, &o);
  o = ingress_bytes(c, "copy", "");
  assert_reply_u64(response_of(&o), 200 + 4096);
  icxExecOutcome_free(&w.a, &o);
  icxCanister_free(c);
}

/* [14.41] NaN results are canonical. */
static void test_canonical_nan(void **state) {
  (void)state;
  icxCanister *c = meter_canister(5);
  icxExecOutcome o = ingress_bytes(c, "nan", "");
  static const uint8_t want[16] = {0x00, 0x00, 0xc0, 0x7f, /* f32 */
                                   0, 0, 0, 0, 0, 0, 0xf8, 0x7f, /* f64 */
                                   0x00, 0x00, 0xc0, 0x7f};
  assert_reply(response_of(&o), want, 16);
  icxExecOutcome_free(&w.a, &o);
  icxCanister_free(c);
}

/* ==== replies and rejects ====================================================================== */

/* A basic round trip: reply bytes, caller, self, status, arg size. */
static void test_reply_basics(void **state) {
  (void)state;
  icxCanister *c = uc_canister(10, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_bytes(&s, "hi", 2);
  uc_reply_data_append(&s);
  uc_msg_caller(&s);
  uc_reply_data_append(&s);
  uc_canister_self(&s);
  uc_reply_data_append(&s);
  uc_canister_status(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  icxExecOutcome o = update(c, &s);
  const icxMsg *r = response_of(&o);
  assert_non_null(r);
  assert_int_equal(r->to_ingress, 1);
  assert_int_equal(r->kind, ICX_MSG_RESPONSE);
  uint8_t want[2 + 29 + 29 + 8];
  size_t n = 0;
  memcpy(want + n, "hi", 2), n += 2;
  memcpy(want + n, w.user.bytes, w.user.len), n += w.user.len;
  memcpy(want + n, c->id.bytes, c->id.len), n += c->id.len;
  memcpy(want + n, "\1\0\0\0\0\0\0\0", 8), n += 8;
  assert_reply(r, want, n);
  assert_int_equal(o.trapped, 0);
  assert_int_equal(requests_in(&o), 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.12] msg_reply twice traps, the state rolls back, the caller gets
 * CANISTER_ERROR. */
static void test_reply_twice(void **state) {
  (void)state;
  icxCanister *c = uc_canister(11, NULL);
  uint64_t version = c->version;
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, "changed");
  uc_scratch_set(&s);
  uc_reply(&s);
  uc_reply(&s);
  icxExecOutcome o = update(c, &s);
  assert_int_equal(o.trapped, 1);
  assert_contract(response_of(&o), c, "ic0.msg_reply: the call is already replied");
  icxExecOutcome_free(&w.a, &o);
  assert_int_equal(c->version, version); /* a failed execution does not count */
  assert_scratch(c, "");
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.13] msg_reject after msg_reply traps; msg_reply in a heartbeat traps. */
static void test_reject_after_reply_and_heartbeat_reply(void **state) {
  (void)state;
  icxCanister *c = uc_canister(12, NULL);
  uc_script s, hb;
  uc_init(&s);
  uc_reply(&s);
  uc_reject_str(&s, "no");
  icxExecOutcome o = update(c, &s);
  assert_int_equal(o.trapped, 1);
  assert_contract(response_of(&o), c, "ic0.msg_reject: the call is already replied");
  icxExecOutcome_free(&w.a, &o);

  /* heartbeat hook: mark the scratch, then reply (traps: rolled back) */
  uc_init(&hb);
  uc_push_str(&hb, "hb");
  uc_scratch_append(&hb);
  uc_reply(&hb);
  uc_free(&s);
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_HEARTBEAT);
  uc_push_script(&s, &hb);
  uc_set_hook(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "", 0);
  o = exec(c, ICX_EXEC_HEARTBEAT, NULL);
  assert_int_equal(o.trapped, 1);
  assert_int_equal(o.error_code, 504);
  if (!strstr(o.error, "\"ic0_msg_reply\" cannot be executed in heartbeat mode"))
    fail_msg("heartbeat msg_reply: %s", o.error);
  assert_null(response_of(&o));
  icxExecOutcome_free(&w.a, &o);
  assert_scratch(c, "");
  uc_free(&hb);
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.14] msg_reject with invalid UTF-8 traps; a valid reject reaches the
 * caller with code 4 and the same text. */
static void test_reject_text(void **state) {
  (void)state;
  icxCanister *c = uc_canister(13, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_bytes(&s, "bad \xff\xfe", 6);
  uc_reject(&s);
  icxExecOutcome o = update(c, &s);
  assert_int_equal(o.trapped, 1);
  assert_contract(response_of(&o), c, "ic0.msg_reject: invalid UTF-8 string provided");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);

  uc_init(&s);
  uc_push_str(&s, "ignored reply data");
  uc_reply_data_append(&s);
  uc_reject_str(&s, "caf\xc3\xa9 says no");
  o = update(c, &s);
  assert_int_equal(o.trapped, 0);
  assert_reject(response_of(&o), ICX_REJECT_CANISTER_REJECT, "caf\xc3\xa9 says no");
  assert_int_equal(response_of(&o)->error_code, 406); /* CanisterRejectedMessage */
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.15] msg_arg_data_copy out of bounds (argument or heap) traps. */
static void test_arg_copy_bounds(void **state) {
  (void)state;
  icxCanister *c = uc_canister(14, NULL);
  uc_script s;
  /* in bounds: the first 3 bytes of the argument (= of this script) */
  uc_init(&s);
  uc_push_int(&s, 0);
  uc_push_int(&s, 3);
  uc_msg_arg_data_copy(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  uint8_t head[3];
  memcpy(head, s.p, 3);
  expect_update_reply(c, &s, head, 3);
  uc_free(&s);
  /* offset + size > arg size */
  uc_init(&s);
  uc_msg_arg_data_size(&s);
  uc_push_int(&s, 1);
  uc_msg_arg_data_copy(&s);
  uc_reply(&s);
  icxExecOutcome o = update(c, &s);
  assert_int_equal(o.trapped, 1);
  assert_contract(response_of(&o), c, "ic0.msg_arg_data_copy");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* dst + size > heap */
  uc_init(&s);
  uc_push_int(&s, 0xfffffff0u);
  uc_push_int(&s, 0);
  uc_push_int(&s, 32);
  uc_msg_arg_data_copy_to(&s);
  uc_reply(&s);
  o = update(c, &s);
  assert_int_equal(o.trapped, 1);
  assert_true(o.error_code == 502 || o.error_code == 504);
  print_message("  heap OOB: IC%04u %s\n", o.error_code, o.error);
  assert_reject(response_of(&o), ICX_REJECT_CANISTER_ERROR, NULL);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.17] System API from a wrong context traps. */
static void test_wrong_context(void **state) {
  (void)state;
  icxCanister *c = uc_canister(15, NULL);
  uc_script s;
  /* call_new in a (replicated) query */
  uc_init(&s);
  uc_push_bytes(&s, c->id.bytes, c->id.len);
  uc_push_str(&s, "update");
  uc_push_str(&s, "");
  uc_push_str(&s, "");
  uc_call_new(&s);
  uc_reply(&s);
  icxExecOutcome o = ingress(c, "query", &s);
  assert_int_equal(o.trapped, 1);
  assert_contract(response_of(&o), c,
                  "\"ic0_call_new\" cannot be executed in replicated query mode");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* accept_message in an update */
  uc_init(&s);
  uc_accept_message(&s);
  uc_reply(&s);
  o = update(c, &s);
  assert_contract(response_of(&o), c, "\"ic0_accept_message\" cannot be executed in update mode");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* msg_reply in init: the install fails, the canister stays empty */
  icxCanister *d = mk(16, u(100 * T));
  uc_init(&s);
  uc_reply(&s);
  o = install_ex(d, w.uc, ICX_INSTALL_MODE_INSTALL, &s);
  assert_int_equal(o.error_code, 504);
  assert_non_null(strstr(o.error, "\"ic0_msg_reply\" cannot be executed in init mode"));
  assert_null(d->code);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(d);
  icxCanister_free(c);
}

/* [14.18] starvation: no reply and no call gives CANISTER_ERROR; with a
 * call outstanding the context stays open until the callback. */
static void test_starvation(void **state) {
  (void)state;
  icxCanister *a = uc_canister(20, NULL), *b = uc_canister(21, NULL);
  uc_script s, on_reply, arg;
  uc_init(&s);
  uc_push_str(&s, "x");
  uc_scratch_set(&s);
  icxExecOutcome o = update(a, &s);
  assert_int_equal(o.trapped, 0);
  assert_error(response_of(&o), a, ICX_REJECT_CANISTER_ERROR, 506, "did not reply");
  print_message("  starvation: %.*s\n", (int)response_of(&o)->len,
                (const char *)response_of(&o)->data);
  icxExecOutcome_free(&w.a, &o);
  assert_scratch(a, "x"); /* not a trap: the state change stays */
  uc_free(&s);

  /* with a call: no response yet; the reply callback replies */
  uc_init(&on_reply);
  uc_push_str(&on_reply, "got:");
  uc_msg_arg_data(&on_reply);
  uc_concat(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_reply(&on_reply);
  uc_init(&arg);
  uc_reply_str(&arg, "pong");
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  o = update(a, &s);
  assert_null(response_of(&o));
  assert_int_equal(requests_in(&o), 1);
  assert_int_equal(a->nctxs, 1);
  icxCanister *cs[2] = {a, b};
  route_result rr = route(cs, 2, &o);
  assert_true(rr.got);
  assert_reply(&rr.ingress_response, "got:pong", 8);
  assert_int_equal(rr.executions, 2);
  assert_int_equal(a->nctxs, 0);
  assert_int_equal(a->ncbs, 0);
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg);
  uc_free(&on_reply);
  icxCanister_free(a);
  icxCanister_free(b);
}

/* [14.19] a trap after call_perform cancels the call. */
static void test_trap_cancels_call(void **state) {
  (void)state;
  icxCanister *a = uc_canister(22, NULL);
  icxU128 bal = a->balance;
  uc_script s;
  uc_init(&s);
  uc_call_begin(&s, a->id.bytes, a->id.len, "update", NULL, NULL, NULL);
  uc_push_int(&s, 5 * T);
  uc_call_cycles_add128(&s);
  uc_call_perform(&s);
  uc_drop(&s);
  uc_trap_str(&s, "after perform");
  icxExecOutcome o = update(a, &s);
  assert_int_equal(o.trapped, 1);
  assert_int_equal(requests_in(&o), 0);
  assert_called_trap(response_of(&o), a, "after perform");
  assert_int_equal(a->ncbs, 0);
  assert_int_equal(a->nctxs, 0);
  /* only the execution fee is gone (5 M + instructions at 13 nodes) */
  icxU128 spent = icxU128_sub(bal, a->balance, NULL);
  assert_true(icxU128_eq(spent, u(5000000 + o.instructions)));
  assert_true(icxU128_eq(o.cycles_charged, spent));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(a);
}

/* [14.21] call_* without call_new or after call_perform trap; a second
 * call_on_cleanup traps. */
static void test_call_sequence_errors(void **state) {
  (void)state;
  icxCanister *a = uc_canister(23, NULL);
  static const struct {
    int op;
    const char *what;
  } cases[] = {
      {UC_CALL_DATA_APPEND, "ic0.call_data_append"},
      {UC_CALL_CYCLES_ADD128, "ic0.call_cycles_add128"},
      {UC_CALL_ON_CLEANUP, "ic0.call_on_cleanup"},
      {UC_CALL_PERFORM, "ic0.call_perform"},
  };
  for (int after = 0; after < 2; after++) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      uc_script s;
      uc_init(&s);
      if (after) {
        uc_call_begin(&s, a->id.bytes, a->id.len, "update", NULL, NULL, NULL);
        uc_call_perform(&s);
        uc_drop(&s);
      }
      uc_push_int(&s, 1);
      uc_op(&s, (uint8_t)cases[i].op);
      uc_reply(&s);
      icxExecOutcome o = update(a, &s);
      if (!o.trapped) fail_msg("%s %s call_new did not trap", cases[i].what,
                               after ? "after call_perform" : "without");
      assert_contract(response_of(&o), a, cases[i].what);
      assert_int_equal(requests_in(&o), 0);
      icxExecOutcome_free(&w.a, &o);
      uc_free(&s);
    }
  }
  /* call_on_cleanup twice */
  uc_script s;
  uc_init(&s);
  uc_call_begin(&s, a->id.bytes, a->id.len, "update", NULL, NULL, NULL);
  uc_push_str(&s, "");
  uc_call_on_cleanup(&s);
  uc_push_str(&s, "");
  uc_call_on_cleanup(&s);
  uc_reply(&s);
  icxExecOutcome o = update(a, &s);
  assert_int_equal(o.trapped, 1);
  assert_contract(response_of(&o), a, "ic0.call_on_cleanup: cleanup closure already set");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(a);
}

/* [14.16] reject code in a reply callback is 0, msg_reject_msg_size traps
 * there; [14.22] a trapping reply callback runs the cleanup, whose effects
 * stay, while the callback's are rolled back. */
static void test_callbacks_and_cleanup(void **state) {
  (void)state;
  icxCanister *a = uc_canister(24, NULL), *b = uc_canister(25, NULL);
  icxCanister *cs[2] = {a, b};
  uc_script s, on_reply, arg;
  /* reply callback: reply with msg_reject_code */
  uc_init(&on_reply);
  uc_msg_reject_code(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_reply(&on_reply);
  uc_init(&arg);
  uc_reply_str(&arg, "ok");
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  icxExecOutcome o = update(a, &s);
  route_result rr = route(cs, 2, &o);
  assert_reply_u64(&rr.ingress_response, 0);
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&on_reply);

  /* reply callback: msg_reject_msg_size traps */
  uc_init(&on_reply);
  uc_msg_reject_msg_size(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_reply(&on_reply);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  o = update(a, &s);
  rr = route(cs, 2, &o);
  assert_contract(&rr.ingress_response, a,
                  "\"ic0_msg_reject_msg_size\" cannot be executed in reply callback mode");
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&on_reply);

  /* reply callback writes the scratch and traps; cleanup appends */
  uc_script cleanup;
  uc_init(&on_reply);
  uc_push_str(&on_reply, "reply-ran");
  uc_scratch_set(&on_reply);
  uc_trap_str(&on_reply, "in reply");
  uc_init(&cleanup);
  uc_push_str(&cleanup, "cleanup-ran");
  uc_scratch_append(&cleanup);
  uc_init(&s);
  uc_push_str(&s, "before:");
  uc_scratch_set(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg);
  uc_push_script(&s, &cleanup);
  uc_call_on_cleanup(&s);
  uc_call_perform(&s);
  uc_drop(&s);
  o = update(a, &s);
  rr = route(cs, 2, &o);
  assert_called_trap(&rr.ingress_response, a, "in reply");
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  assert_scratch(a, "before:cleanup-ran");
  assert_int_equal(a->nctxs, 0);
  assert_int_equal(a->ncbs, 0);
  uc_free(&s);
  uc_free(&cleanup);
  uc_free(&on_reply);
  uc_free(&arg);
  icxCanister_free(a);
  icxCanister_free(b);
}

/* A reject from the callee reaches the reject callback with code and text. */
static void test_reject_callback(void **state) {
  (void)state;
  icxCanister *a = uc_canister(26, NULL), *b = uc_canister(27, NULL);
  icxCanister *cs[2] = {a, b};
  uc_script s, on_reject, arg;
  uc_init(&on_reject);
  uc_msg_reject_code(&on_reject);
  uc_reply_data_append(&on_reject);
  uc_msg_reject_msg(&on_reject);
  uc_reply_data_append(&on_reject);
  uc_reply(&on_reject);
  uc_init(&arg);
  uc_reject_str(&arg, "nope");
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", NULL, &on_reject, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  icxExecOutcome o = update(a, &s);
  route_result rr = route(cs, 2, &o);
  assert_reply(&rr.ingress_response, "\4\0\0\0\0\0\0\0nope", 12);
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&arg);

  /* a trap in the callee: code 5 and "IC0503: <description>" */
  uc_init(&arg);
  uc_trap_str(&arg, "callee boom");
  uc_free(&s);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", NULL, &on_reject, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  o = update(a, &s);
  rr = route(cs, 2, &o);
  {
    const icxMsg *r = &rr.ingress_response;
    assert_int_equal(r->reject_code, 0);
    assert_true(r->len > 8);
    assert_memory_equal(r->data, "\5\0\0\0\0\0\0\0", 8);
    assert_true(has_text(r->data, r->len, "callee boom"));
  }
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg);
  uc_free(&on_reject);
  icxCanister_free(a);
  icxCanister_free(b);
}

/* A Wasm trap (integer division by 0) gives IC0502 with the replica text. */
static void test_wasm_trap(void **state) {
  (void)state;
  icxCanister *c = uc_canister(28, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_int(&s, 1);
  uc_push_int(&s, 0);
  uc_int_div(&s);
  uc_reply(&s);
  icxExecOutcome o = update(c, &s);
  assert_int_equal(o.trapped, 1);
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 502, "integer division by 0");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_init(&s);
  uc_trap_str(&s, "explicit");
  o = update(c, &s);
  assert_called_trap(response_of(&o), c, "explicit");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* ==== cycles ====================================================================================== */

/* [14.43] an update using N instructions debits exactly 5,000,000 + N. */
static void test_execution_fee(void **state) {
  (void)state;
  icxCanister *c = uc_canister(30, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_int(&s, 1000);
  uc_burn(&s);
  uc_reply_str(&s, "done");
  icxU128 b0 = c->balance;
  icxExecOutcome o = update(c, &s);
  assert_reply(response_of(&o), "done", 4);
  assert_true(o.instructions > 1000);
  icxU128 spent = icxU128_sub(b0, c->balance, NULL);
  if (!icxU128_eq(spent, u(5000000 + o.instructions)))
    fail_msg("debited %llu, want 5000000 + %llu", (unsigned long long)spent.lo,
             (unsigned long long)o.instructions);
  assert_true(icxU128_eq(o.cycles_charged, spent));
  icxExecOutcome_free(&w.a, &o);

  /* wasm64: 5,000,000 + 2N */
  icxCanister *d = mk(31, u(100 * T));
  install_ok(d, w.uc64, ICX_INSTALL_MODE_INSTALL, NULL);
  b0 = d->balance;
  o = update(d, &s);
  assert_reply(response_of(&o), "done", 4);
  spent = icxU128_sub(b0, d->balance, NULL);
  if (!icxU128_eq(spent, u(5000000 + 2 * o.instructions)))
    fail_msg("wasm64 debited %llu, want 5000000 + 2 * %llu", (unsigned long long)spent.lo,
             (unsigned long long)o.instructions);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
  icxCanister_free(d);
}

/* [14.23] unaccepted cycles are refunded; [14.24] accept returns
 * min(max, available), a second accept the remainder; [14.44] call_perform
 * debits transmission + response prepay, the unused part comes back. */
static void test_cycles_transfer(void **state) {
  (void)state;
  icxCanister *a = uc_canister(32, NULL), *b = uc_canister(33, NULL);
  icxCanister *cs[2] = {a, b};
  const uint64_t X = 3 * T, Y = 1 * T;
  uc_script s, on_reply, arg;
  /* B: available, accept(Y) twice (each gets min(Y, what is left) = Y),
   * available again (X - 2Y): replies the four amounts */
  uc_init(&arg);
  uc_msg_cycles_available128(&arg);
  uc_reply_data_append(&arg);
  uc_push_int(&arg, Y);
  uc_msg_cycles_accept128(&arg);
  uc_reply_data_append(&arg);
  uc_push_int(&arg, Y);
  uc_msg_cycles_accept128(&arg);
  uc_reply_data_append(&arg);
  uc_msg_cycles_available128(&arg);
  uc_reply_data_append(&arg);
  uc_reply(&arg);
  /* A's reply callback: B's payload then refunded128 */
  uc_init(&on_reply);
  uc_msg_arg_data(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_msg_cycles_refunded128(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_reply(&on_reply);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg);
  uc_push_int(&s, X);
  uc_call_cycles_add128(&s);
  uc_call_perform(&s);
  uc_drop(&s);

  icxU128 a0 = a->balance, b0 = b->balance;
  icxExecOutcome o = update(a, &s);
  assert_int_equal(requests_in(&o), 1);
  const icxMsg *req = &o.out[0];
  assert_int_equal(req->kind, ICX_MSG_REQUEST);
  assert_true(icxU128_eq(req->cycles, u(X)));
  /* A's debit after the first execution */
  uint64_t req_bytes = strlen("update") + arg.len;
  icxU128 fee = u(5000000 + o.instructions);
  icxU128 transmission = u(260000 + 1000 * req_bytes + 2097152000ull);
  icxU128 prepay = u(40005000000ull);
  icxU128 want = icxU128_add(icxU128_add(fee, transmission, NULL), icxU128_add(prepay, u(X), NULL),
                             NULL);
  icxU128 spent = icxU128_sub(a0, a->balance, NULL);
  if (!icxU128_eq(spent, want))
    fail_msg("call_perform: A debited %llu, want %llu", (unsigned long long)spent.lo,
             (unsigned long long)want.lo);

  /* deliver to B */
  icxExecOutcome ob = exec(b, ICX_EXEC_UPDATE, req);
  const icxMsg *resp = response_of(&ob);
  assert_non_null(resp);
  if (resp->reject_code)
    fail_msg("B rejected: %u IC%04u %.*s", resp->reject_code, resp->error_code, (int)resp->len,
             (const char *)resp->data);
  assert_int_equal(resp->to_ingress, 0);
  if (!icxU128_eq(resp->cycles, u(X - 2 * Y)))
    fail_msg("refund in the response: %llu, want %llu (reply %.*s)", (unsigned long long)resp->cycles.lo,
             (unsigned long long)(X - 2 * Y), (int)resp->len, (const char *)resp->data);
  uint8_t wantb[64];
  memset(wantb, 0, sizeof wantb);
  for (int i = 0; i < 8; i++) {
    wantb[i] = (uint8_t)(X >> (8 * i));
    wantb[16 + i] = (uint8_t)(Y >> (8 * i));
    wantb[32 + i] = (uint8_t)(Y >> (8 * i));
    wantb[48 + i] = (uint8_t)((X - 2 * Y) >> (8 * i));
  }
  assert_reply(resp, wantb, 64);
  icxU128 bgain = icxU128_sub(b->balance, b0, NULL);
  assert_true(icxU128_eq(bgain, icxU128_sub(u(2 * Y), u(5000000 + ob.instructions), NULL)));

  /* the response back to A */
  icxU128 a1 = a->balance;
  icxExecOutcome oa = exec(a, ICX_EXEC_RESPONSE, resp);
  const icxMsg *r = response_of(&oa);
  assert_non_null(r);
  assert_int_equal(r->to_ingress, 1);
  uint8_t wanta[80];
  memcpy(wanta, wantb, 64);
  memset(wanta + 64, 0, 16);
  for (int i = 0; i < 8; i++) wanta[64 + i] = (uint8_t)((X - 2 * Y) >> (8 * i));
  assert_reply(r, wanta, 80);
  /* A gets back: the refund, the unused response transmission, the unused
   * response execution prepayment */
  icxU128 back = icxU128_sub(a->balance, a1, NULL);
  icxU128 want_back = u(X - 2 * Y);
  want_back = icxU128_add(want_back, u(1000 * (2097152ull - 64)), NULL);
  want_back = icxU128_add(want_back, u(40000000000ull - oa.instructions), NULL);
  if (!icxU128_eq(back, want_back))
    fail_msg("response: A got back %llu, want %llu", (unsigned long long)back.lo,
             (unsigned long long)want_back.lo);
  icxExecOutcome_free(&w.a, &oa);
  icxExecOutcome_free(&w.a, &ob);
  icxExecOutcome_free(&w.a, &o);
  (void)cs;
  uc_free(&s);
  uc_free(&arg);
  uc_free(&on_reply);
  icxCanister_free(a);
  icxCanister_free(b);
}

/* [14.20] call_perform that cannot pay returns 2 and the cycles come back;
 * call_cycles_add128 beyond the liquid balance traps. */
static void test_call_perform_insufficient(void **state) {
  (void)state;
    /* 80 B: the update's prepayment (40.005 B) and the freezing threshold
   * (~26.8 B, mostly the base fee) leave ~13 B; the call needs ~42.1 B */
  icxCanister *a = uc_canister(34, NULL);
  a->balance = u(80000000000ull);
  uc_script s;
  uc_init(&s);
  uc_call_begin(&s, a->id.bytes, a->id.len, "update", NULL, NULL, NULL);
  uc_push_int(&s, 1000);
  uc_call_cycles_add128(&s);
  uc_call_perform(&s);
  uc_reply_data_append(&s);
  uc_canister_cycle_balance128(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  icxU128 b0 = a->balance;
  icxExecOutcome o = update(a, &s);
  const icxMsg *r = response_of(&o);
  assert_non_null(r);
  assert_int_equal(r->reject_code, 0);
  assert_int_equal(r->len, 24);
  assert_int_equal(le64(r->data), 2);
  assert_int_equal(requests_in(&o), 0);
  assert_int_equal(a->ncbs, 0);
  /* the 1000 cycles are back: only the execution fee is gone */
  icxU128 spent = icxU128_sub(b0, a->balance, NULL);
  assert_true(icxU128_eq(spent, u(5000000 + o.instructions)));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);

  /* call_cycles_add128 of more than the liquid balance */
  uc_init(&s);
  uc_call_begin(&s, a->id.bytes, a->id.len, "update", NULL, NULL, NULL);
  uc_push_int(&s, 20000000000ull);
  uc_call_cycles_add128(&s);
  uc_reply(&s);
  b0 = a->balance;
  o = update(a, &s);
  assert_int_equal(o.trapped, 1);
  r = response_of(&o);
  assert_non_null(r);
  assert_true(r->reject_code != 0);
  print_message("  call_cycles_add128 over liquid: reject %u IC%04u %.*s\n", r->reject_code,
                r->error_code, (int)r->len, (const char *)r->data);
  spent = icxU128_sub(b0, a->balance, NULL);
  assert_true(icxU128_eq(spent, u(5000000 + o.instructions)));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(a);
}

/* [14.24] 64-bit accept and available in wasm32 (never traps, min). */
static void test_accept64(void **state) {
  (void)state;
  icxCanister *a = uc_canister(35, NULL), *b = uc_canister(36, NULL);
  icxCanister *cs[2] = {a, b};
  uc_script s, on_reply, arg;
  uc_init(&arg);
  uc_push_int(&arg, 300);
  uc_msg_cycles_accept(&arg);
  uc_reply_data_append(&arg);
  uc_push_int(&arg, 300);
  uc_msg_cycles_accept(&arg);
  uc_reply_data_append(&arg);
  uc_push_int(&arg, 300);
  uc_msg_cycles_accept(&arg);
  uc_reply_data_append(&arg);
  uc_reply(&arg);
  uc_init(&on_reply);
  uc_msg_arg_data(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_msg_cycles_refunded(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_reply(&on_reply);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg);
  uc_push_int(&s, 500);
  uc_call_cycles_add(&s);
  uc_call_perform(&s);
  uc_drop(&s);
  icxExecOutcome o = update(a, &s);
  route_result rr = route(cs, 2, &o);
  static const uint8_t want[32] = {44, 1, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0,
                                   0,  0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0, 0, 0, 0, 0};
  assert_reply(&rr.ingress_response, want, 32);
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg);
  uc_free(&on_reply);
  icxCanister_free(a);
  icxCanister_free(b);
}

/* [14.45] freezing threshold = idle burn x seconds / 86400; an update whose
 * prepayment would cross it is refused with IC0207 (code 2). */
static void test_freezing_threshold(void **state) {
  (void)state;
  icxCanister *c = uc_canister(37, NULL);
  icxResourceUse use;
  memset(&use, 0, sizeof use);
  use.memory_usage = icxCanister_memory_usage(c);
  icxU128 thr = icxCycles_freeze_threshold(&w.cfg.fees, w.cfg.subnet_size, &use,
                                           ICX_DEFAULT_FREEZING_THRESHOLD_S, icxU128_zero());
  icxU128 rate = icxCycles_idle_burn_rate(&w.cfg.fees, w.cfg.subnet_size, &use);
  assert_true(icxU128_eq(thr, icxU128_div_u64(icxU128_mul_u64_sat(rate, 2592000), 86400, NULL)));
  /* liquid balance as seen by the canister = balance - threshold - prepay */
  uc_script s;
  uc_init(&s);
  uc_canister_liquid_cycle_balance128(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  icxExecOutcome o = update(c, &s);
  assert_non_null(response_of(&o));
  assert_int_equal(response_of(&o)->len, 16);
  print_message("  liquid: %llu (balance %llu, threshold %llu)\n",
                (unsigned long long)le64(response_of(&o)->data),
                (unsigned long long)c->balance.lo, (unsigned long long)thr.lo);
  icxExecOutcome_free(&w.a, &o);
  /* balance just below threshold + prepayment: refused without running */
  icxU128 prepay = icxCycles_execution_cost(&w.cfg.fees, 13, w.cfg.max_instructions_message,
                                            ICX_WASM32);
  c->balance = icxU128_sub(icxU128_add(thr, prepay, NULL), u(1), NULL);
  icxU128 b0 = c->balance;
  uint64_t version = c->version;
  o = update(c, &s);
  assert_error(response_of(&o), c, ICX_REJECT_SYS_TRANSIENT, 207, "is out of cycles");
  print_message("  frozen: %.*s\n", (int)response_of(&o)->len,
                (const char *)response_of(&o)->data);
  assert_true(icxU128_eq(c->balance, b0));
  assert_int_equal(c->version, version);
  assert_int_equal(o.instructions, 0);
  icxExecOutcome_free(&w.a, &o);
  /* one cycle more: runs */
  c->balance = icxU128_add(b0, u(1), NULL);
  o = update(c, &s);
  assert_int_equal(response_of(&o)->reject_code, 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* ==== stable memory ================================================================================ */

static icxExecOutcome run1(icxCanister *c, void (*build)(uc_script *)) {
  uc_script s;
  uc_init(&s);
  build(&s);
  icxExecOutcome o = update(c, &s);
  uc_free(&s);
  return o;
}

static void s_grow_max_plus(uc_script *s) {
  uc_push_int(s, 1);
  uc_stable64_grow(s);
  uc_reply_data_append(s);
  uc_push_int(s, (500ull << 30) / 65536); /* 500 GiB in pages: 1 + that is too much */
  uc_stable64_grow(s);
  uc_reply_data_append(s);
  uc_stable64_size(s);
  uc_reply_data_append(s);
  uc_push_int(s, 65536);
  uc_stable_grow(s);
  uc_reply_data_append(s);
  uc_stable_size(s);
  uc_reply_data_append(s);
  uc_reply(s);
}

/* [14.25] growing beyond the maximum returns -1 and changes nothing. */
static void test_stable_grow_limits(void **state) {
  (void)state;
  icxCanister *c = uc_canister(40, NULL);
  icxExecOutcome o = run1(c, s_grow_max_plus);
  uint8_t want[40];
  memset(want, 0, sizeof want);
  memset(want + 8, 0xff, 8);      /* stable64_grow: u64 max */
  want[16] = 1;                   /* stable64_size: 1 */
  memset(want + 24, 0xff, 4);     /* stable_grow(65536) from 1: i32 -1 */
  want[32] = 1;                   /* stable_size: 1 */
  assert_reply(response_of(&o), want, 40);
  icxExecOutcome_free(&w.a, &o);
  icxCanister_free(c);
}

static void s_stable_zero_read(uc_script *s) {
  uc_push_int(s, 1ull << 40);
  uc_push_int(s, 0);
  uc_stable64_read(s);
  uc_reply_data_append(s);
  uc_reply(s);
}
static void s_stable_zero_write(uc_script *s) {
  uc_push_int(s, 1ull << 40);
  uc_push_str(s, "");
  uc_stable64_write(s);
  /* heap and stable both out of bounds */
  uc_push_int(s, 1ull << 40);
  uc_push_int(s, 1ull << 40);
  uc_push_int(s, 0);
  uc_stable64_read_raw(s);
  uc_push_int(s, 1ull << 40);
  uc_push_int(s, 1ull << 40);
  uc_push_int(s, 0);
  uc_stable64_write_raw(s);
  uc_reply(s);
}
/* the 32-bit forms: size 0 at offset 2^32 - 1 (stable size 0) */
static void s_stable32_zero(uc_script *s) {
  uc_push_int(s, 0xffffffffu);
  uc_push_int(s, 0);
  uc_stable_read(s);
  uc_reply_data_append(s);
  uc_push_int(s, 0xffffffffu);
  uc_push_str(s, "");
  uc_stable_write(s);
  uc_reply(s);
}
static void s_stable_oob(uc_script *s) {
  uc_push_int(s, 1);
  uc_stable64_grow(s);
  uc_drop(s);
  /* in bounds: the last 4 bytes */
  uc_push_int(s, 65532);
  uc_push_str(s, "abcd");
  uc_stable64_write(s);
  uc_push_int(s, 65532);
  uc_push_int(s, 4);
  uc_stable64_read(s);
  uc_reply_data_append(s);
  uc_reply(s);
}
/* (stable memory is 1 page: 65536 bytes) */
static void s_stable_read_oob(uc_script *s) {
  uc_push_int(s, 65533);
  uc_push_int(s, 4);
  uc_stable64_read(s);
  uc_reply(s);
}
/* (stable memory is 1 page: 65536 bytes) */
static void s_stable_write_oob(uc_script *s) {
  uc_push_int(s, 65533);
  uc_push_str(s, "abcd");
  uc_stable64_write(s);
  uc_reply(s);
}

/* [14.26] out-of-bounds stable64 accesses trap; zero-length ones never do. */
static void test_stable_bounds(void **state) {
  (void)state;
  icxCanister *c = uc_canister(41, NULL);
  icxExecOutcome o;
  /* zero-length accesses at an out-of-bounds offset (stable size 0) succeed */
  o = run1(c, s_stable_zero_read);
  assert_reply(response_of(&o), "", 0);
  icxExecOutcome_free(&w.a, &o);
  o = run1(c, s_stable_zero_write);
  assert_reply(response_of(&o), "", 0);
  icxExecOutcome_free(&w.a, &o);
  o = run1(c, s_stable32_zero);
  assert_reply(response_of(&o), "", 0);
  icxExecOutcome_free(&w.a, &o);
  o = run1(c, s_stable_oob);
  assert_reply(response_of(&o), "abcd", 4);
  icxExecOutcome_free(&w.a, &o);
  o = run1(c, s_stable_read_oob);
  assert_int_equal(o.trapped, 1);
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 502, "stable memory out of bounds");
  icxExecOutcome_free(&w.a, &o);
  o = run1(c, s_stable_write_oob);
  assert_int_equal(o.trapped, 1);
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 502, "stable memory out of bounds");
  icxExecOutcome_free(&w.a, &o);
  /* the writes of the trapped update are gone, the first one stays */
  uc_script s;
  uc_init(&s);
  uc_push_int(&s, 65532);
  uc_push_int(&s, 4);
  uc_stable64_read(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "abcd", 4);
  uc_free(&s);
  icxCanister_free(c);
}

static void s_grow_past_4g(uc_script *s) {
  uc_push_int(s, 65537);
  uc_stable64_grow(s);
  uc_reply_data_append(s);
  uc_reply(s);
}
static void s_stable_size32(uc_script *s) {
  uc_stable_size(s);
  uc_reply_data_append(s);
  uc_reply(s);
}

/* [14.27] 32-bit stable_size traps once stable memory is above 4 GiB. */
static void test_stable32_over_4g(void **state) {
  (void)state;
  icxCanister *c = uc_canister(42, NULL);
  icxExecOutcome o = run1(c, s_grow_past_4g);
  assert_reply_u64(response_of(&o), 0);
  icxExecOutcome_free(&w.a, &o);
  o = run1(c, s_stable_size32);
  assert_int_equal(o.trapped, 1);
  assert_reject(response_of(&o), ICX_REJECT_CANISTER_ERROR, NULL);
  print_message("  stable_size > 4 GiB: IC%04u %s\n", o.error_code, o.error);
  icxExecOutcome_free(&w.a, &o);
  icxCanister_free(c);
}

/* ==== lifecycle ==================================================================================== */

/* [14.28] certified data: 33 bytes trap, 32 survive an upgrade, reinstall
 * clears it. */
static void test_certified_data(void **state) {
  (void)state;
  icxCanister *c = uc_canister(50, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_bytes(&s, "0123456789abcdef0123456789abcdefX", 33);
  uc_certified_data_set(&s);
  uc_reply(&s);
  icxExecOutcome o = update(c, &s);
  assert_int_equal(o.trapped, 1);
  assert_contract(response_of(&o), c, "ic0_certified_data_set");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_init(&s);
  uc_push_bytes(&s, "0123456789abcdef0123456789abcdef", 32);
  uc_certified_data_set(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "", 0);
  assert_int_equal(c->certified_len, 32);
  assert_memory_equal(c->certified, "0123456789abcdef0123456789abcdef", 32);
  install_ok(c, w.uc, ICX_INSTALL_MODE_UPGRADE, NULL);
  assert_int_equal(c->certified_len, 32);
  assert_memory_equal(c->certified, "0123456789abcdef0123456789abcdef", 32);
  install_ok(c, w.uc, ICX_INSTALL_MODE_REINSTALL, NULL);
  assert_int_equal(c->certified_len, 0);
  uc_free(&s);
  icxCanister_free(c);
}

static void s_setup_state(uc_script *s) {
  uc_push_str(s, "heap-state");
  uc_scratch_set(s);
  uc_counter_inc(s);
  uc_drop(s);
  uc_push_int(s, 1);
  uc_stable64_grow(s);
  uc_drop(s);
  uc_push_int(s, 0);
  uc_push_str(s, "stable-state");
  uc_stable64_write(s);
  uc_reply(s);
}
static void s_read_state(uc_script *s) {
  uc_scratch_get(s);
  uc_reply_data_append(s);
  uc_push_str(s, "|");
  uc_reply_data_append(s);
  uc_counter_get(s);
  uc_reply_data_append(s);
  uc_stable64_size(s);
  uc_reply_data_append(s);
  uc_push_int(s, 0);
  uc_push_int(s, 12);
  uc_stable64_read(s);
  uc_reply_data_append(s);
  uc_reply(s);
}

/* What s_read_state replies for a scratch string, counter and stable contents. */
static size_t state_bytes(uint8_t *out, const char *scratch, uint64_t counter, uint64_t pages,
                          const char *stable12) {
  size_t n = 0;
  memcpy(out, scratch, strlen(scratch)), n += strlen(scratch);
  out[n++] = '|';
  for (int i = 0; i < 8; i++) out[n++] = (uint8_t)(counter >> (8 * i));
  for (int i = 0; i < 8; i++) out[n++] = (uint8_t)(pages >> (8 * i));
  memcpy(out + n, stable12, 12), n += 12;
  return n;
}

/* [14.29] upgrade keeps stable memory and resets the heap (data segments
 * re-applied); reinstall clears stable memory; a trap in post_upgrade (or
 * pre_upgrade) restores everything. */
static void test_upgrade_reinstall(void **state) {
  (void)state;
  icxCanister *c = uc_canister(51, NULL);
  uint8_t want[128];
  size_t n;
  icxExecOutcome o = run1(c, s_setup_state);
  icxExecOutcome_free(&w.a, &o);
  o = run1(c, s_read_state);
  n = state_bytes(want, "heap-state", 1001, 1, "stable-state");
  assert_reply(response_of(&o), want, n);
  icxExecOutcome_free(&w.a, &o);

  /* upgrade whose post_upgrade traps: nothing changes */
  uint64_t version = c->version;
  icxCode *old_code = c->code;
  uc_script post;
  uc_init(&post);
  uc_push_int(&post, 0);
  uc_push_str(&post, "XXXXXXXXXXXX");
  uc_stable64_write(&post);
  uc_trap_str(&post, "post_upgrade fails");
  icxExecOutcome io = install_ex(c, w.uc, ICX_INSTALL_MODE_UPGRADE, &post);
  assert_int_equal(io.error_code, 503);
  assert_non_null(strstr(io.error, "post_upgrade fails"));
  icxExecOutcome_free(&w.a, &io);
  assert_ptr_equal(c->code, old_code);
  assert_int_equal(c->version, version);
  o = run1(c, s_read_state);
  assert_reply(response_of(&o), want, n);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&post);

  /* a pre_upgrade hook that traps: nothing changes either */
  uc_script hook, s;
  uc_init(&hook);
  uc_trap_str(&hook, "pre_upgrade fails");
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_PRE_UPGRADE);
  uc_push_script(&s, &hook);
  uc_set_hook(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "", 0);
  version = c->version;
  io = install_ex(c, w.uc, ICX_INSTALL_MODE_UPGRADE, NULL);
  assert_int_equal(io.error_code, 503);
  if (!strstr(io.error, "pre_upgrade fails")) fail_msg("pre_upgrade trap: %s", io.error);
  icxExecOutcome_free(&w.a, &io);
  assert_int_equal(c->version, version);
  /* clear the hook (empty script) */
  uc_free(&s);
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_PRE_UPGRADE);
  uc_push_str(&s, "");
  uc_set_hook(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "", 0);

  /* a successful upgrade: heap fresh (counter from the data segment),
   * stable memory kept, version + 1 */
  version = c->version;
  install_ok(c, w.uc, ICX_INSTALL_MODE_UPGRADE, NULL);
  assert_int_equal(c->version, version + 1);
  o = run1(c, s_read_state);
  n = state_bytes(want, "", 1000, 1, "stable-state");
  assert_reply(response_of(&o), want, n);
  icxExecOutcome_free(&w.a, &o);

  /* reinstall: stable memory cleared */
  install_ok(c, w.uc, ICX_INSTALL_MODE_REINSTALL, NULL);
  uc_free(&s);
  uc_init(&s);
  uc_stable64_size(&s);
  uc_reply_data_append(&s);
  uc_counter_get(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "\0\0\0\0\0\0\0\0\xe8\3\0\0\0\0\0\0", 16);
  uc_free(&s);
  uc_free(&hook);
  icxCanister_free(c);
}

/* [14.30] a trap in canister_init: install fails, canister still empty,
 * version unchanged. */
static void test_init_trap(void **state) {
  (void)state;
  icxCanister *c = mk(52, u(100 * T));
  uint64_t version = c->version;
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, "init-ran");
  uc_scratch_set(&s);
  uc_trap_str(&s, "init fails");
  icxExecOutcome o = install_ex(c, w.uc, ICX_INSTALL_MODE_INSTALL, &s);
  assert_int_equal(o.trapped, 1);
  assert_int_equal(o.error_code, 503);
  assert_non_null(strstr(o.error, "init fails"));
  icxExecOutcome_free(&w.a, &o);
  assert_null(c->code);
  assert_int_equal(c->version, version);
  /* a message to the empty canister: IC0537 */
  uc_free(&s);
  uc_init(&s);
  uc_reply(&s);
  o = update(c, &s);
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 537, "no Wasm module");
  assert_int_equal(o.instructions, 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.31] global_timer_set returns the previous value; the timer fires;
 * upgrade deactivates it. */
static void test_global_timer(void **state) {
  (void)state;
  icxCanister *c = uc_canister(53, NULL);
  uc_script s, hook;
  uc_init(&hook);
  uc_push_str(&hook, "timer;");
  uc_scratch_append(&hook);
  uc_push_int(&hook, 0);
  uc_global_timer_set(&hook);
  uc_scratch_append(&hook); /* 8 bytes: the previous value */
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_GLOBAL_TIMER);
  uc_push_script(&s, &hook);
  uc_set_hook(&s);
  uc_push_int(&s, TIME0 + 5);
  uc_global_timer_set(&s);
  uc_reply_data_append(&s);
  uc_push_int(&s, TIME0 + 10);
  uc_global_timer_set(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  uint8_t want[16];
  for (int i = 0; i < 8; i++) {
    want[i] = 0;
    want[8 + i] = (uint8_t)((TIME0 + 5) >> (8 * i));
  }
  expect_update_reply(c, &s, want, 16);
  assert_int_equal(c->global_timer, TIME0 + 10);
  /* the scheduler clears the timer when it schedules the task; the task
   * itself sees 0 as the previous value */
  c->global_timer = 0;
  icxExecOutcome o = exec(c, ICX_EXEC_GLOBAL_TIMER, NULL);
  assert_int_equal(o.trapped, 0);
  assert_null(response_of(&o));
  icxExecOutcome_free(&w.a, &o);
  char buf[14] = "timer;";
  memset(buf + 6, 0, 8);
  uc_script q;
  uc_init(&q);
  s_reply_scratch(&q);
  expect_update_reply(c, &q, buf, 14);
  uc_free(&q);
  /* set again, then upgrade: deactivated */
  uc_free(&s);
  uc_init(&s);
  uc_push_int(&s, TIME0 + 100);
  uc_global_timer_set(&s);
  uc_drop(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "", 0);
  assert_int_equal(c->global_timer, TIME0 + 100);
  install_ok(c, w.uc, ICX_INSTALL_MODE_UPGRADE, NULL);
  assert_int_equal(c->global_timer, 0);
  uc_free(&s);
  uc_free(&hook);
  icxCanister_free(c);
}

/* [14.32] heartbeat runs its hook for a running canister (the scheduler
 * decides when); a stopping/stopped canister runs no task. */
static void test_heartbeat(void **state) {
  (void)state;
  icxCanister *c = uc_canister(54, NULL);
  uc_script s, hook;
  uc_init(&hook);
  uc_push_str(&hook, "h");
  uc_scratch_append(&hook);
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_HEARTBEAT);
  uc_push_script(&s, &hook);
  uc_set_hook(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "", 0);
  uint64_t version = c->version;
  for (int i = 0; i < 3; i++) {
    icxExecOutcome o = exec(c, ICX_EXEC_HEARTBEAT, NULL);
    assert_int_equal(o.trapped, 0);
    assert_int_equal(o.nout, 0);
    icxExecOutcome_free(&w.a, &o);
  }
  assert_int_equal(c->version, version + 3);
  assert_scratch(c, "hhh");
  c->status = ICX_STATUS_STOPPING;
  icxExecOutcome o = exec(c, ICX_EXEC_HEARTBEAT, NULL);
  assert_int_equal(o.instructions, 0);
  icxExecOutcome_free(&w.a, &o);
  c->status = ICX_STATUS_STOPPED;
  o = exec(c, ICX_EXEC_HEARTBEAT, NULL);
  assert_int_equal(o.instructions, 0);
  icxExecOutcome_free(&w.a, &o);
  c->status = ICX_STATUS_RUNNING;
  assert_scratch(c, "hhh");
  uc_free(&s);
  uc_free(&hook);
  icxCanister_free(c);
}

/* [14.33] time is constant within an execution and follows the round. */
static void test_time(void **state) {
  (void)state;
  icxCanister *c = uc_canister(55, NULL);
  uc_script s;
  uc_init(&s);
  uc_time(&s);
  uc_reply_data_append(&s);
  uc_push_int(&s, 10000);
  uc_burn(&s);
  uc_time(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  uint8_t want[16];
  for (int i = 0; i < 8; i++) want[i] = want[8 + i] = (uint8_t)(TIME0 >> (8 * i));
  expect_update_reply(c, &s, want, 16);
  w.env.time_ns = TIME0 + 1000000000ull;
  for (int i = 0; i < 8; i++) want[i] = want[8 + i] = (uint8_t)((TIME0 + 1000000000ull) >> (8 * i));
  expect_update_reply(c, &s, want, 16);
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.34] the instruction limit: error and rollback; DTS gives the same
 * result over several slices. */
static void test_instruction_limit_and_dts(void **state) {
  (void)state;
  icxCanister *c = uc_canister(56, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, "burnt");
  uc_scratch_set(&s);
  uc_push_int(&s, 2000000);
  uc_burn(&s);
  uc_scratch_get(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);

  /* without DTS: the reference */
  icxExecOutcome o = update(c, &s);
  assert_reply(response_of(&o), "burnt", 5);
  uint64_t full = o.instructions;
  icxU128 charged = o.cycles_charged;
  assert_true(full > 2000000);
  assert_int_equal(slices_last, 1);
  icxExecOutcome_free(&w.a, &o);

  /* limit below what it needs: IC0522, rolled back */
  icxCanister *d = uc_canister(57, NULL);
  w.cfg.max_instructions_message = full / 2;
  w.env.slice = full / 2;
  icxU128 b0 = d->balance;
  o = update(d, &s);
  assert_int_equal(o.trapped, 1);
  assert_error(response_of(&o), d, ICX_REJECT_CANISTER_ERROR, 522, "instruction");
  /* the whole limit is paid */
  icxU128 spent = icxU128_sub(b0, d->balance, NULL);
  assert_true(icxU128_eq(spent, u(5000000 + full / 2)));
  icxExecOutcome_free(&w.a, &o);
  assert_scratch(d, "");

  /* DTS: slices of full/8, message limit large: same reply, instructions, cycles */
  icxCanister *e = uc_canister(58, NULL);
  reset_config();
  w.env.slice = full / 8;
  o = update(e, &s);
  assert_reply(response_of(&o), "burnt", 5);
  assert_true(slices_last >= 2);
  print_message("  DTS: %u slices of %llu for %llu instructions\n", slices_last,
                (unsigned long long)(full / 8), (unsigned long long)full);
  assert_int_equal(o.instructions, full);
  assert_true(icxU128_eq(o.cycles_charged, charged));
  icxExecOutcome_free(&w.a, &o);
  assert_scratch(e, "burnt");
  uc_free(&s);
  icxCanister_free(c);
  icxCanister_free(d);
  icxCanister_free(e);
}

/* [14.36] a query's heap writes are dropped; an update's are visible to a
 * later query; in_replicated_execution tells them apart. */
static void test_query_writes_dropped(void **state) {
  (void)state;
  icxCanister *c = uc_canister(59, NULL);
  uc_script s;
  uc_init(&s);
  uc_push_str(&s, "from-query");
  uc_scratch_set(&s);
  uc_in_replicated_execution(&s);
  uc_reply_data_append(&s);
  uc_reply(&s);
  icxExecOutcome o = ingress(c, "query", &s);
  assert_reply_u64(response_of(&o), 1);
  icxExecOutcome_free(&w.a, &o);
  assert_scratch(c, "");
  /* non-replicated query */
  icxMsg m = ingress_msg(c, "query", s.p, s.len);
  o = exec(c, ICX_EXEC_QUERY, &m);
  assert_reply_u64(response_of(&o), 0);
  icxExecOutcome_free(&w.a, &o);
  msg_release(&m);
  assert_scratch(c, "");
  /* update: visible */
  o = update(c, &s);
  assert_reply_u64(response_of(&o), 1);
  icxExecOutcome_free(&w.a, &o);
  assert_scratch(c, "from-query");
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.42] stopping / stopped / missing method / empty canister. */
static void test_rejections_by_state(void **state) {
  (void)state;
  icxCanister *c = uc_canister(60, NULL);
  uc_script s;
  uc_init(&s);
  uc_reply_str(&s, "ran");
  c->status = ICX_STATUS_STOPPING;
  icxExecOutcome o = update(c, &s);
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 509, "is stopping");
  print_message("  stopping: %.*s\n", (int)response_of(&o)->len, (const char *)response_of(&o)->data);
  assert_int_equal(o.instructions, 0);
  icxExecOutcome_free(&w.a, &o);
  c->status = ICX_STATUS_STOPPED;
  o = update(c, &s);
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 508, "is stopped");
  print_message("  stopped: %.*s\n", (int)response_of(&o)->len, (const char *)response_of(&o)->data);
  icxExecOutcome_free(&w.a, &o);
  c->status = ICX_STATUS_RUNNING;
  o = ingress(c, "no_such_method", &s);
  assert_error(response_of(&o), c, ICX_REJECT_CANISTER_ERROR, 536, "no_such_method");
  assert_int_equal(o.instructions, 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* [14.46] two calls A -> B from one execution leave in call_perform order. */
static void test_call_order(void **state) {
  (void)state;
  icxCanister *a = uc_canister(61, NULL), *b = uc_canister(62, NULL);
  icxCanister *cs[2] = {a, b};
  uc_script s, arg1, arg2, on_reply;
  uc_init(&arg1);
  uc_push_str(&arg1, "1");
  uc_scratch_append(&arg1);
  uc_reply(&arg1);
  uc_init(&arg2);
  uc_push_str(&arg2, "2");
  uc_scratch_append(&arg2);
  uc_scratch_get(&arg2);
  uc_reply_data_append(&arg2);
  uc_reply(&arg2);
  uc_init(&on_reply);
  uc_msg_arg_data(&on_reply);
  uc_reply_data_append(&on_reply);
  uc_reply(&on_reply);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", NULL, NULL, &arg1);
  uc_call_perform(&s);
  uc_drop(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg2);
  uc_call_perform(&s);
  uc_drop(&s);
  icxExecOutcome o = update(a, &s);
  assert_int_equal(requests_in(&o), 2);
  assert_int_equal(o.out[0].len, arg1.len);
  assert_memory_equal(o.out[0].data, arg1.p, arg1.len);
  assert_int_equal(o.out[1].len, arg2.len);
  assert_true(o.out[0].callback < o.out[1].callback);
  /* the first reply callback is empty: it does not respond; the second replies */
  route_result rr = route(cs, 2, &o);
  assert_reply(&rr.ingress_response, "12", 2);
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg1);
  uc_free(&arg2);
  uc_free(&on_reply);
  icxCanister_free(a);
  icxCanister_free(b);
}

/* Inspect message: the hook decides; method name is visible. */
static void test_inspect_message(void **state) {
  (void)state;
  icxCanister *c = uc_canister(63, NULL);
  icxMsg m = ingress_msg(c, "update", (const uint8_t *)"x", 1);
  icxExecOutcome o = exec(c, ICX_EXEC_INSPECT, &m);
  assert_int_equal(o.accepted, 1); /* no hook: accept */
  icxExecOutcome_free(&w.a, &o);
  /* hook: accept only if the method name is "update" (by trapping otherwise) */
  uc_script hook, s;
  uc_init(&hook);
  uc_msg_method_name(&hook);
  uc_debug_print(&hook);
  uc_accept_message(&hook);
  uc_accept_message(&hook); /* a second call traps */
  uc_init(&s);
  uc_push_int(&s, UC_HOOK_INSPECT);
  uc_push_script(&s, &hook);
  uc_set_hook(&s);
  uc_reply(&s);
  expect_update_reply(c, &s, "", 0);
  o = exec(c, ICX_EXEC_INSPECT, &m);
  assert_int_equal(o.accepted, 0);
  assert_int_equal(o.trapped, 1);
  assert_non_null(strstr(o.error, "ic0.accept_message: the function was already called"));
  icxExecOutcome_free(&w.a, &o);
  msg_release(&m);
  uc_free(&hook);
  uc_free(&s);
  icxCanister_free(c);
}

/* ==== System API functions without a checklist item ========================================== */

/* Run the script as a non-replicated query (NRQ). */
static icxExecOutcome nrq(icxCanister *c, const uc_script *s) {
  icxMsg m = ingress_msg(c, "query", s->p, s->len);
  icxExecOutcome o = exec(c, ICX_EXEC_QUERY, &m);
  msg_release(&m);
  return o;
}

/* Script: reply with the top of the stack. */
static void s_reply_top(uc_script *s) {
  uc_reply_data_append(s);
  uc_reply(s);
}

static void expect_contract_update(icxCanister *c, const uc_script *s, const char *what) {
  icxExecOutcome o = update(c, s);
  assert_contract(response_of(&o), c, what);
  icxExecOutcome_free(&w.a, &o);
}

static void expect_u128_reply(const icxMsg *r, icxU128 v) {
  uint8_t b[16];
  for (int i = 0; i < 8; i++) {
    b[i] = (uint8_t)(v.lo >> (8 * i));
    b[8 + i] = (uint8_t)(v.hi >> (8 * i));
  }
  assert_reply(r, b, 16);
}

/* root_key_size/copy: the env's key in replicated modes; traps in NRQ. */
static void test_sys_root_key(void **state) {
  (void)state;
  static const uint8_t key[] = "0123456789 DER root key bytes";
  w.env.root_key = key;
  w.env.root_key_len = sizeof key - 1;
  icxCanister *c = uc_canister(80, NULL);
  uc_script s;
  uc_init(&s);
  uc_root_key(&s);
  s_reply_top(&s);
  expect_update_reply(c, &s, key, sizeof key - 1);
  icxExecOutcome o = nrq(c, &s);
  assert_contract(response_of(&o), c,
                  "\"ic0_root_key_size\" cannot be executed in non replicated query mode");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* copy beyond the key traps */
  uc_init(&s);
  uc_push_int(&s, UC_COPY_ROOT_KEY);
  uc_push_int(&s, 0);
  uc_push_int(&s, 1);
  uc_push_int(&s, sizeof key - 1);
  uc_copy_raw(&s);
  uc_reply(&s);
  expect_contract_update(c, &s, "ic0.root_key_copy: src=1 + length=29 exceeds the slice size=29");
  uc_free(&s);
  icxCanister_free(c);
}

/* data_certificate_present/size/copy: 1 and the bytes only in an NRQ with a
 * certificate in the env; size/copy trap elsewhere. */
static void test_sys_data_certificate(void **state) {
  (void)state;
  static const uint8_t cert[] = "a certificate";
  icxCanister *c = uc_canister(81, NULL);
  uc_script s;
  uc_init(&s);
  uc_data_certificate_present(&s);
  s_reply_top(&s);
  expect_update_reply(c, &s, "\0\0\0\0\0\0\0\0", 8);
  icxExecOutcome o = nrq(c, &s); /* no certificate in the env */
  assert_reply_u64(response_of(&o), 0);
  icxExecOutcome_free(&w.a, &o);
  w.env.certificate_present = 1;
  w.env.certificate = cert;
  w.env.certificate_len = sizeof cert - 1;
  o = nrq(c, &s);
  assert_reply_u64(response_of(&o), 1);
  icxExecOutcome_free(&w.a, &o);
  o = update(c, &s); /* replicated: never present */
  assert_reply_u64(response_of(&o), 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_init(&s);
  uc_data_certificate(&s);
  s_reply_top(&s);
  o = nrq(c, &s);
  assert_reply(response_of(&o), cert, sizeof cert - 1);
  icxExecOutcome_free(&w.a, &o);
  expect_contract_update(c, &s,
                         "\"ic0_data_certificate_size\" cannot be executed in update mode");
  uc_free(&s);
  /* copy out of bounds */
  uc_init(&s);
  uc_push_int(&s, UC_COPY_DATA_CERTIFICATE);
  uc_push_int(&s, 0);
  uc_push_int(&s, 4);
  uc_push_int(&s, sizeof cert - 1);
  uc_copy_raw(&s);
  uc_reply(&s);
  o = nrq(c, &s);
  assert_contract(response_of(&o), c, "ic0.data_certificate_copy: src=4 + length=13");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* env_var_*: no variables are set. */
static void test_sys_env_vars(void **state) {
  (void)state;
  icxCanister *c = uc_canister(82, NULL);
  uc_script s;
  uc_init(&s);
  uc_env_var_count(&s);
  s_reply_top(&s);
  expect_update_reply(c, &s, "\0\0\0\0\0\0\0\0", 8);
  icxExecOutcome o = nrq(c, &s); /* '*': also in queries */
  assert_reply_u64(response_of(&o), 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_init(&s);
  uc_push_str(&s, "PATH");
  uc_env_var_name_exists(&s);
  s_reply_top(&s);
  expect_update_reply(c, &s, "\0\0\0\0\0\0\0\0", 8);
  uc_free(&s);
  uc_init(&s);
  uc_push_int(&s, 0);
  uc_env_var_name(&s);
  s_reply_top(&s);
  expect_contract_update(c, &s, "environment variable index 0 is out of bounds");
  uc_free(&s);
  uc_init(&s);
  uc_push_str(&s, "PATH");
  uc_env_var_value(&s);
  s_reply_top(&s);
  expect_contract_update(c, &s, "environment variable not found");
  uc_free(&s);
  uc_init(&s);
  uc_push_bytes(&s, "\xff\xfe", 2);
  uc_env_var_name_exists(&s);
  s_reply_top(&s);
  expect_contract_update(c, &s, "not valid UTF-8");
  uc_free(&s);
  icxCanister_free(c);
}

/* cost_*: the amounts of lib/cycles.h at 13 nodes. */
static void test_sys_costs(void **state) {
  (void)state;
  icxCanister *c = uc_canister(83, NULL);
  assert_int_equal(w.cfg.subnet_size, 13);
  uc_script s;
  uc_init(&s);
  uc_push_int(&s, 6);
  uc_push_int(&s, 100);
  uc_cost_call(&s);
  s_reply_top(&s);
  icxExecOutcome o = update(c, &s);
  /* checklist 44: 260 K + 1 K per byte + 2 MiB x 1 K + 40,005,000,000 */
  expect_u128_reply(response_of(&o),
                    u(260000ull + 1000ull * 106 + 2097152000ull + 40005000000ull));
  icxExecOutcome_free(&w.a, &o);
  o = nrq(c, &s);
  expect_u128_reply(response_of(&o), icxCycles_cost_call(&w.cfg.fees, 13, 106, ICX_WASM32));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_init(&s);
  uc_cost_create_canister(&s);
  s_reply_top(&s);
  o = update(c, &s);
  expect_u128_reply(response_of(&o), u(500000000000ull));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_init(&s);
  uc_push_int(&s, 1000);
  uc_push_int(&s, 2000);
  uc_cost_http_request(&s);
  s_reply_top(&s);
  o = update(c, &s);
  expect_u128_reply(response_of(&o), icxCycles_http_request_fee(&w.cfg.fees, 13, 1000, 1, 2000));
  /* (3 M + 60 K x 13 + 400 x 1000 + 800 x 2000) x 13 */
  expect_u128_reply(response_of(&o), u((3000000ull + 60000ull * 13 + 400ull * 1000 +
                                        800ull * 2000) * 13));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* threshold signatures: no keys; bad curve / algorithm = 1, unknown key = 2 */
  static const struct { uint64_t kind, curve, want; } cases[] = {
      {0, 0, 2}, {0, 1, 1}, {1, 0, 2}, {1, 1, 2}, {1, 2, 1}, {2, 0, 2}, {2, 1, 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uc_init(&s);
    uc_push_int(&s, cases[i].kind);
    uc_push_str(&s, "key_1");
    uc_push_int(&s, cases[i].curve);
    uc_cost_sign(&s);
    uc_concat(&s); /* amount ++ result */
    s_reply_top(&s);
    o = update(c, &s);
    const icxMsg *r = response_of(&o);
    uint8_t want[24] = {0}; /* nothing written to the amount */
    want[16] = (uint8_t)cases[i].want;
    assert_reply(r, want, 24);
    icxExecOutcome_free(&w.a, &o);
    uc_free(&s);
  }
  icxCanister_free(c);
}

/* msg_caller / canister_self / subnet_self copies: bytes, out-of-bounds
 * traps; in_replicated_execution; liquid balance; mint_cycles128. */
static void test_sys_ids_and_misc(void **state) {
  (void)state;
  icxCanister *c = uc_canister(84, NULL);
  uc_script s;
  const struct { void (*op)(uc_script *); int which; const icx_principal *p; const char *name; } ids[] = {
      {uc_msg_caller, UC_COPY_CALLER, &w.user, "msg_caller_copy"},
      {uc_canister_self, UC_COPY_SELF, &c->id, "canister_self_copy"},
      {uc_subnet_self, UC_COPY_SUBNET, &w.cfg.subnet_id, "subnet_self_copy"}};
  for (size_t i = 0; i < 3; i++) {
    char what[96];
    uc_init(&s);
    ids[i].op(&s);
    s_reply_top(&s);
    expect_update_reply(c, &s, ids[i].p->bytes, ids[i].p->len);
    icxExecOutcome o = nrq(c, &s); /* '*' */
    assert_reply(response_of(&o), ids[i].p->bytes, ids[i].p->len);
    icxExecOutcome_free(&w.a, &o);
    uc_free(&s);
    /* offset + size past the id */
    uc_init(&s);
    uc_push_int(&s, (uint64_t)ids[i].which);
    uc_push_int(&s, 0);
    uc_push_int(&s, 1);
    uc_push_int(&s, ids[i].p->len);
    uc_copy_raw(&s);
    uc_reply(&s);
    snprintf(what, sizeof what, "ic0.%s: src=1 + length=%u", ids[i].name, ids[i].p->len);
    expect_contract_update(c, &s, what);
    uc_free(&s);
    /* destination past the heap */
    uc_init(&s);
    uc_push_int(&s, (uint64_t)ids[i].which);
    uc_push_int(&s, 0xfffffff0u);
    uc_push_int(&s, 0);
    uc_push_int(&s, ids[i].p->len);
    uc_copy_raw(&s);
    uc_reply(&s);
    snprintf(what, sizeof what, "ic0.%s heap: src=4294967280", ids[i].name);
    expect_contract_update(c, &s, what);
    uc_free(&s);
  }
  /* in_replicated_execution: 1 in an update, 0 in an NRQ */
  uc_init(&s);
  uc_in_replicated_execution(&s);
  s_reply_top(&s);
  expect_update_reply(c, &s, "\1\0\0\0\0\0\0\0", 8);
  icxExecOutcome o = nrq(c, &s);
  assert_reply_u64(response_of(&o), 0);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* liquid balance = balance - freezing threshold (both seen by the message) */
  uc_init(&s);
  uc_canister_cycle_balance128(&s);
  uc_canister_liquid_cycle_balance128(&s);
  uc_concat(&s);
  s_reply_top(&s);
  icxU128 threshold = icxCanister_threshold(c, &w.cfg);
  o = update(c, &s);
  const icxMsg *r = response_of(&o);
  assert_reply(r, r ? r->data : NULL, 32);
  icxU128 bal = icxU128_make(le64(r->data + 8), le64(r->data));
  icxU128 liq = icxU128_make(le64(r->data + 24), le64(r->data + 16));
  assert_true(icxU128_eq(liq, icxU128_sub_sat(bal, threshold)));
  assert_true(icxU128_lt(u(0), liq));
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* mint_cycles128: only the CMC may mint */
  uc_init(&s);
  uc_push_int(&s, 1000);
  uc_mint_cycles128(&s);
  s_reply_top(&s);
  expect_contract_update(c, &s, "can only be executed on the Cycles Minting Canister");
  o = nrq(c, &s); /* and only in U, Ry, Rt */
  assert_contract(response_of(&o), c,
                  "\"ic0_mint_cycles128\" cannot be executed in non replicated query mode");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(c);
}

/* call_with_best_effort_response + msg_deadline: now + min(t, 300 s) in the
 * callee, 0 for a guaranteed-response call and for ingress; a second call,
 * or one without call_new, traps. */
/* Regression (fuzz_canister): a System API charge far beyond the budget
 * (stable64_write of 2^64 - 1 bytes: 2^64 - 1 per-byte instructions)
 * saturates the counter at INT64_MIN; the instructions used were then
 * computed with a signed overflow.  Now: IC0522 with exactly the limit
 * charged, unsliced and sliced alike, heap and stable memory rolled back. */
static void test_sys_huge_charge_hits_the_limit(void **state) {
  (void)state;
  for (int sliced = 0; sliced < 2; sliced++) {
    w.env.slice = sliced ? 1000000 : w.cfg.max_instructions_message;
    icxCanister *c = uc_canister(90 + (uint64_t)sliced, NULL);
    uc_script s;
    uc_init(&s);
    uc_counter_inc(&s);
    uc_drop(&s);
    uc_push_int(&s, 0);
    uc_push_int(&s, 0);
    uc_push_int(&s, UINT64_MAX);
    uc_stable64_write_raw(&s);
    icxExecOutcome o = update(c, &s);
    assert_int_equal(o.error_code, 522);
    assert_int_equal(o.instructions, w.cfg.max_instructions_message);
    icxExecOutcome_free(&w.a, &o);
    uc_free(&s);
    uc_init(&s);
    uc_counter_get(&s);
    s_reply_top(&s);
    o = update(c, &s);
    assert_reply_u64(&o.out[0], UC_COUNTER_INIT);
    icxExecOutcome_free(&w.a, &o);
    uc_free(&s);
    icxCanister_free(c);
  }
}

static void test_sys_best_effort_deadline(void **state) {
  (void)state;
  icxCanister *a = uc_canister(85, NULL), *b = uc_canister(86, NULL);
  icxCanister *cs[2] = {a, b};
  uc_script s, arg, on_reply;
  uc_init(&arg);
  uc_msg_deadline(&arg);
  s_reply_top(&arg);
  uc_init(&on_reply);
  uc_msg_arg_data(&on_reply);
  s_reply_top(&on_reply);
  const struct { int bounded; uint64_t t, want; } cases[] = {
      {0, 0, 0}, {1, 10, TIME0 + 10000000000ull}, {1, 300, TIME0 + 300000000000ull},
      {1, 1000, TIME0 + 300000000000ull}, {1, 0, TIME0}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uc_init(&s);
    uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &arg);
    if (cases[i].bounded) {
      uc_push_int(&s, cases[i].t);
      uc_call_with_best_effort_response(&s);
    }
    uc_call_perform(&s);
    uc_drop(&s);
    icxExecOutcome o = update(a, &s);
    route_result rr = route(cs, 2, &o);
    assert_true(rr.got);
    assert_reply_u64(&rr.ingress_response, cases[i].want);
    route_free(&rr);
    icxExecOutcome_free(&w.a, &o);
    uc_free(&s);
  }
  /* ingress: 0 */
  expect_update_reply(a, &arg, "\0\0\0\0\0\0\0\0", 8);
  /* twice, and without call_new */
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", NULL, NULL, NULL);
  uc_push_int(&s, 5);
  uc_call_with_best_effort_response(&s);
  uc_push_int(&s, 5);
  uc_call_with_best_effort_response(&s);
  expect_contract_update(a, &s, "a timeout is already set");
  uc_free(&s);
  uc_init(&s);
  uc_push_int(&s, 5);
  uc_call_with_best_effort_response(&s);
  expect_contract_update(a, &s, "called when no call is under construction");
  uc_free(&s);
  /* not in a query */
  uc_init(&s);
  uc_push_int(&s, 5);
  uc_call_with_best_effort_response(&s);
  icxExecOutcome o = nrq(a, &s);
  assert_contract(response_of(&o), a,
                  "\"ic0_call_with_best_effort_response\" cannot be executed in non replicated "
                  "query mode");
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg);
  uc_free(&on_reply);
  icxCanister_free(a);
  icxCanister_free(b);
}

/* The replica's wording of system errors, as real drun outputs show it
 * (reference/drun-format.md section 5): "Error from Canister <id>: " + the
 * description + the "Consider ..." documentation line; a calling canister
 * gets "IC0503: " + the same text. */
/* Compare a text, print a difference and count it (so one run shows all). */
static void check_text(int *bad, const uint8_t *p, size_t len, const char *want) {
  if (len != strlen(want) || memcmp(p, want, len) != 0) {
    print_message("  text\n    got:  %.*s\n    want: %s\n", (int)len, (const char *)p, want);
    (*bad)++;
  }
}

static void test_error_texts(void **state) {
  (void)state;
  char id[80], want[2048];
  int bad = 0;
  icxCanister *a = uc_canister(70, NULL), *b = uc_canister(71, NULL);
  icxCanister *cs[2] = {a, b};
  icxPrincipal_to_text(&a->id, id, sizeof id);
  uc_script s;
  /* ic0.trap: IC0503 */
  uc_init(&s);
  uc_trap_str(&s, "boom");
  icxExecOutcome o = update(a, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister called `ic0.trap` with message: 'boom'"
           CONSIDER_TRAP_EXPLICIT, id);
  assert_int_equal(response_of(&o)->error_code, 503);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* a Wasm trap: IC0502 */
  uc_init(&s);
  uc_push_int(&s, 1);
  uc_push_int(&s, 0);
  uc_int_div(&s);
  o = update(a, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister trapped: integer division by 0" CONSIDER_TRAP, id);
  assert_int_equal(response_of(&o)->error_code, 502);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* System API misuse: IC0504, a toolchain contract violation */
  uc_init(&s);
  uc_reply(&s);
  uc_reply(&s);
  o = update(a, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister violated contract: ic0.msg_reply: the call is "
           "already replied" HELP_TOOLCHAIN, id);
  assert_int_equal(response_of(&o)->error_code, 504);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  check_text(&bad, (const uint8_t *)o.error, strlen(o.error), want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* a call from the wrong mode: IC0504 with the user suggestion */
  uc_init(&s);
  uc_accept_message(&s);
  o = update(a, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister violated contract: \"ic0_accept_message\" cannot be "
           "executed in update mode.\nCheck the ICP documentation to make sure APIs are being "
           "called in the correct message types. See documentation: " DOC
           "calling-a-system-api-from-the-wrong-mode", id);
  assert_int_equal(response_of(&o)->error_code, 504);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* the other Wasm traps the uc can cause: unreachable, heap out of bounds */
  uc_init(&s);
  uc_unreachable(&s);
  o = update(a, &s);
  snprintf(want, sizeof want, "Error from Canister %s: Canister trapped: unreachable" CONSIDER_TRAP,
           id);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_init(&s);
  uc_push_int(&s, 0x7ffffff0u);
  uc_push_int(&s, 0);
  uc_push_int(&s, 64);
  uc_stable64_read_raw(&s);
  o = update(a, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister trapped: stable memory out of bounds" CONSIDER_TRAP, id);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* the instruction limit: IC0522 (two dots: the description ends with one) */
  w.cfg.max_instructions_message = 1000000;
  uc_init(&s);
  uc_push_int(&s, 10000000);
  uc_burn(&s);
  o = update(a, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister exceeded the limit of 1000000 instructions for single "
           "message execution..\nTry optimizing this method to consume fewer instructions or split "
           "the work across multiple messages. See documentation: " DOC
           "instruction-limit-exceeded", id);
  assert_int_equal(response_of(&o)->error_code, 522);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  reset_config();
  /* a missing method: IC0536 */
  uc_init(&s);
  o = ingress(a, "nosuch", &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister has no update method 'nosuch'..\nCheck that the "
           "method being called is exported by the target canister. See documentation: " DOC
           "method-not-found", id);
  assert_int_equal(response_of(&o)->error_code, 536);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  /* no reply: IC0506 to a user */
  o = update(a, &s);
  snprintf(want, sizeof want, "Canister %s did not reply to the call", id);
  assert_int_equal(response_of(&o)->error_code, 506);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* the callee traps: the caller's reject message has the IC0503 prefix */
  uc_script arg, on_reject;
  uc_init(&arg);
  uc_trap_str(&arg, "callee boom");
  uc_init(&on_reject);
  uc_msg_reject_msg(&on_reject);
  uc_reply_data_append(&on_reject);
  uc_reply(&on_reject);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", NULL, &on_reject, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  o = update(a, &s);
  route_result rr = route(cs, 2, &o);
  icxPrincipal_to_text(&b->id, id, sizeof id);
  snprintf(want, sizeof want,
           "IC0503: Error from Canister %s: Canister called `ic0.trap` with message: "
           "'callee boom'" CONSIDER_TRAP_EXPLICIT, id);
  check_text(&bad, rr.ingress_response.data, rr.ingress_response.len, want);
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg);
  /* the callee traps in Wasm: "IC0502: " prefix; it does not reply: "No response" */
  uc_init(&arg);
  uc_unreachable(&arg);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", NULL, &on_reject, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  o = update(a, &s);
  rr = route(cs, 2, &o);
  snprintf(want, sizeof want,
           "IC0502: Error from Canister %s: Canister trapped: unreachable" CONSIDER_TRAP, id);
  check_text(&bad, rr.ingress_response.data, rr.ingress_response.len, want);
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg);
  uc_init(&arg);
  uc_init(&s);
  uc_call_begin(&s, b->id.bytes, b->id.len, "update", NULL, &on_reject, &arg);
  uc_call_perform(&s);
  uc_drop(&s);
  o = update(a, &s);
  rr = route(cs, 2, &o);
  check_text(&bad, rr.ingress_response.data, rr.ingress_response.len, "No response");
  route_free(&rr);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  uc_free(&arg);
  uc_free(&on_reject);
  /* the reply callback traps and so does its cleanup (try-finally-trap.drun.ok) */
  {
    uc_script reply_arg, on_reply, cleanup;
    uc_init(&reply_arg);
    uc_reply_str(&reply_arg, "ok");
    uc_init(&on_reply);
    uc_trap_str(&on_reply, "callback boom");
    uc_init(&cleanup);
    uc_trap_str(&cleanup, "cleanup boom");
    uc_init(&s);
    uc_call_begin(&s, b->id.bytes, b->id.len, "update", &on_reply, NULL, &reply_arg);
    uc_push_script(&s, &cleanup);
    uc_call_on_cleanup(&s);
    uc_call_perform(&s);
    uc_drop(&s);
    o = update(a, &s);
    rr = route(cs, 2, &o);
    icxPrincipal_to_text(&a->id, id, sizeof id);
    snprintf(want, sizeof want,
             "Error from Canister %s: Canister called `ic0.trap` with message: 'callback boom'"
             "\n\ncall_on_cleanup also failed:\n\nCanister called `ic0.trap` with message: "
             "'cleanup boom'", id);
    assert_int_equal(rr.ingress_response.error_code, 503);
    check_text(&bad, rr.ingress_response.data, rr.ingress_response.len, want);
    route_free(&rr);
    icxExecOutcome_free(&w.a, &o);
    uc_free(&s);
    uc_free(&reply_arg);
    uc_free(&on_reply);
    uc_free(&cleanup);
  }
  /* a trap in canister_init (what install_code's caller is told) */
  icxCanister *c = mk(72, u(100 * T));
  icxPrincipal_to_text(&c->id, id, sizeof id);
  uc_init(&s);
  uc_trap_str(&s, "init fails");
  o = install_ex(c, w.uc, ICX_INSTALL_MODE_INSTALL, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Canister called `ic0.trap` with message: 'init fails'"
           CONSIDER_TRAP_EXPLICIT, id);
  check_text(&bad, (const uint8_t *)o.error, strlen(o.error), want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  /* the empty canister: IC0537 */
  uc_init(&s);
  uc_reply(&s);
  o = update(c, &s);
  snprintf(want, sizeof want,
           "Error from Canister %s: Attempted to execute a message, but the canister contains "
           "no Wasm module..\nPlease install code to this canister before calling it. See "
           "documentation: https://internetcomputer.org/docs/current/references/execution-errors"
           "#wasm-module-not-found", id);
  assert_int_equal(response_of(&o)->error_code, 537);
  check_text(&bad, response_of(&o)->data, response_of(&o)->len, want);
  icxExecOutcome_free(&w.a, &o);
  uc_free(&s);
  icxCanister_free(a);
  icxCanister_free(b);
  icxCanister_free(c);
  if (bad) fail_msg("%d texts differ from the replica's", bad);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_imports, test_setup),
      cmocka_unit_test_setup(test_exports, test_setup),
      cmocka_unit_test_setup(test_numeric_limits, test_setup),
      cmocka_unit_test_setup(test_custom_sections, test_setup),
      cmocka_unit_test_setup(test_gzip_module, test_setup),
      cmocka_unit_test_setup(test_data_segment_oob, test_setup),
      cmocka_unit_test_setup(test_metering_static, test_setup),
      cmocka_unit_test_setup(test_metering_bulk, test_setup),
      cmocka_unit_test_setup(test_canonical_nan, test_setup),
      cmocka_unit_test_setup(test_reply_basics, test_setup),
      cmocka_unit_test_setup(test_reply_twice, test_setup),
      cmocka_unit_test_setup(test_reject_after_reply_and_heartbeat_reply, test_setup),
      cmocka_unit_test_setup(test_reject_text, test_setup),
      cmocka_unit_test_setup(test_arg_copy_bounds, test_setup),
      cmocka_unit_test_setup(test_wrong_context, test_setup),
      cmocka_unit_test_setup(test_starvation, test_setup),
      cmocka_unit_test_setup(test_trap_cancels_call, test_setup),
      cmocka_unit_test_setup(test_call_sequence_errors, test_setup),
      cmocka_unit_test_setup(test_callbacks_and_cleanup, test_setup),
      cmocka_unit_test_setup(test_reject_callback, test_setup),
      cmocka_unit_test_setup(test_wasm_trap, test_setup),
      cmocka_unit_test_setup(test_execution_fee, test_setup),
      cmocka_unit_test_setup(test_cycles_transfer, test_setup),
      cmocka_unit_test_setup(test_call_perform_insufficient, test_setup),
      cmocka_unit_test_setup(test_accept64, test_setup),
      cmocka_unit_test_setup(test_freezing_threshold, test_setup),
      cmocka_unit_test_setup(test_stable_grow_limits, test_setup),
      cmocka_unit_test_setup(test_stable_bounds, test_setup),
      cmocka_unit_test_setup(test_stable32_over_4g, test_setup),
      cmocka_unit_test_setup(test_certified_data, test_setup),
      cmocka_unit_test_setup(test_upgrade_reinstall, test_setup),
      cmocka_unit_test_setup(test_init_trap, test_setup),
      cmocka_unit_test_setup(test_global_timer, test_setup),
      cmocka_unit_test_setup(test_heartbeat, test_setup),
      cmocka_unit_test_setup(test_time, test_setup),
      cmocka_unit_test_setup(test_instruction_limit_and_dts, test_setup),
      cmocka_unit_test_setup(test_query_writes_dropped, test_setup),
      cmocka_unit_test_setup(test_rejections_by_state, test_setup),
      cmocka_unit_test_setup(test_call_order, test_setup),
      cmocka_unit_test_setup(test_inspect_message, test_setup),
      cmocka_unit_test_setup(test_error_texts, test_setup),
      cmocka_unit_test_setup(test_sys_root_key, test_setup),
      cmocka_unit_test_setup(test_sys_data_certificate, test_setup),
      cmocka_unit_test_setup(test_sys_env_vars, test_setup),
      cmocka_unit_test_setup(test_sys_costs, test_setup),
      cmocka_unit_test_setup(test_sys_ids_and_misc, test_setup),
      cmocka_unit_test_setup(test_sys_best_effort_deadline, test_setup),
      cmocka_unit_test_setup(test_sys_huge_charge_hits_the_limit, test_setup),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* Pending (compiled with -DICX_CONFORMANCE_PENDING=1): none at the moment.
 * Resolved: [14.3] "canister_update  x" is refused; [14.26] zero-length
 * stable accesses at out-of-bounds addresses succeed; the IC error texts of
 * reference/drun-format.md section 5 (test_error_texts). */
