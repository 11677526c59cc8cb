/* unit_mgmt.c -- white-box tests of lib/mgmt.c (the management canister)
 * on an icxState: every method's happy path and errors (not a controller,
 * malformed Candid, wrong state, missing canister, too few cycles),
 * raw_rand postponement and order, cycles conservation, install_code in
 * its three modes on tests/wat/mgmt_min.wat (raw and gzip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <zlib.h>

#include "mgmt.h"
#include "principal.h"
#include "state.h"

#ifndef ICX_TEST_WASM_DIR
#define ICX_TEST_WASM_DIR "build/wat"
#endif

/* ---- fixture ------------------------------------------------------------------- */

typedef struct Fx {
  icxAllocator a;
  icxState *st;
  uint64_t next_msg;
} Fx;

static int setup(void **state) {
  Fx *f = calloc(1, sizeof *f);
  f->a = icxCore_default_allocator();
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  icxErr err;
  assert_int_equal(icxState_new(&f->a, &cfg, NULL, &f->st, &err), ICX_OK);
  assert_int_equal(icxState_begin_round(f->st, 1, 1000, (const uint8_t *)"sig", 3, &err), ICX_OK);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  Fx *f = *state;
  icxState_free(f->st);
  free(f);
  return 0;
}

static icx_principal user(uint8_t b) {
  icx_principal p;
  memset(&p, 0, sizeof p);
  p.len = 2;
  p.bytes[0] = b;
  p.bytes[1] = ICX_PRINCIPAL_CLASS_SELF_AUTH;
  return p;
}

static const icx_principal *anon(void) {
  static icx_principal p;
  p = icxPrincipal_anonymous();
  return &p;
}

static void set_method(Fx *f, icxMsg *m, const char *method) {
  m->method_len = (uint32_t)strlen(method);
  m->method = icxCore_alloc(&f->a, m->method_len + 1);
  memcpy(m->method, method, m->method_len);
}

static void set_data(Fx *f, icxMsg *m, const uint8_t *d, size_t n) {
  m->len = n;
  m->data = n ? icxCore_alloc(&f->a, n) : NULL;
  if (n) memcpy(m->data, d, n);
}

/* Send an ingress to aaaaa-aa, run the management queue, take the result. */
static icxMsg ingress(Fx *f, const icx_principal *from, const char *method, const uint8_t *d,
                      size_t n) {
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_INGRESS;
  m.src = *from;
  m.dst = icxPrincipal_management();
  m.msg_id[0] = (uint8_t)++f->next_msg;
  set_method(f, &m, method);
  set_data(f, &m, d, n);
  icxErr err;
  assert_int_equal(icxState_submit_ingress(f->st, &m, &err), ICX_OK);
  assert_int_equal(icxState_run_mgmt(f->st, &err), ICX_OK);
  icxMsg r;
  memset(&r, 0, sizeof r);
  if (f->st->ingress.n) {
    r = f->st->ingress.v[0];
    memmove(f->st->ingress.v, f->st->ingress.v + 1,
            (f->st->ingress.n - 1) * sizeof *f->st->ingress.v);
    f->st->ingress.n--;
  }
  return r;
}

/* Queue a request from canister `from` (callback cb, cycles attached). */
static void request(Fx *f, const icx_principal *from, const char *method, const uint8_t *d,
                    size_t n, icxU128 cycles, uint64_t cb) {
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = ICX_MSG_REQUEST;
  m.src = *from;
  m.dst = icxPrincipal_management();
  m.cycles = cycles;
  m.callback = cb;
  set_method(f, &m, method);
  set_data(f, &m, d, n);
  icxErr err;
  assert_int_equal(icxState_route(f->st, &m, 1, &err), ICX_OK);
}

/* The oldest message in canister id's input queue. */
static icxMsg pop(Fx *f, const icx_principal *id) {
  icxCanister *c = icxState_canister(f->st, id);
  assert_non_null(c);
  icxMsg r;
  assert_true(icxState_pop_input(c, &r));
  return r;
}

static void run(Fx *f) {
  icxErr err;
  assert_int_equal(icxState_run_mgmt(f->st, &err), ICX_OK);
}

static int is_reply(const icxMsg *r) { return r->kind == ICX_MSG_RESPONSE && r->reject_code == 0; }
static int is_empty_reply(const icxMsg *r) {
  return is_reply(r) && r->len == 6 && memcmp(r->data, "DIDL\0\0", 6) == 0;
}
static int text_is(const icxMsg *r, const char *t) {
  return r->len == strlen(t) && memcmp(r->data, t, r->len) == 0;
}
static int text_starts(const icxMsg *r, const char *t) {
  return r->len >= strlen(t) && memcmp(r->data, t, strlen(t)) == 0;
}

/* ---- Candid arguments ------------------------------------------------------------ */

static void sort_items(icxCandidValue *v, size_t n) {
  for (size_t i = 1; i < n; i++) {
    icxCandidValue x = v[i];
    size_t j = i;
    while (j > 0 && v[j - 1].id > x.id) {
      v[j] = v[j - 1];
      j--;
    }
    v[j] = x;
  }
}

static icxCandidValue named(icxCandidValue v, const char *name) {
  v.id = icxCandid_hash(name);
  return v;
}

typedef struct Buf {
  uint8_t *p;
  size_t n;
} Buf;

static Buf encode(Fx *f, int32_t type, icxCandidValue *rec) {
  Buf b;
  icxErr err;
  assert_int_equal(icxCandid_encode(&f->a, &f->st->types.t, &type, rec, 1, &b.p, &b.n, &err),
                   ICX_OK);
  return b;
}
static void bfree(Fx *f, Buf *b) { icxCore_free(&f->a, b->p, b->n); }

static Buf enc_id(Fx *f, const icx_principal *id) {
  icxCandidValue v = named(icxCandid_v_principal(id->bytes, id->len), "canister_id");
  icxCandidValue rec = icxCandid_v_record(&v, 1);
  return encode(f, f->st->types.canister_id_record, &rec);
}

/* Settings record: controllers (n < 0: absent), compute allocation (< 0: absent). */
typedef struct SetArg {
  int ncontrollers;
  const icx_principal *controllers;
  int64_t compute;
  int64_t freezing;
} SetArg;

static icxCandidValue settings_value(const SetArg *s, icxCandidValue *store /* 20 */) {
  icxCandidValue *ctl = store, *items = store + 12, *inner = store + 10;
  for (int i = 0; i < s->ncontrollers && i < 10; i++)
    ctl[i] = icxCandid_v_principal(s->controllers[i].bytes, s->controllers[i].len);
  static const char *names[8] = {"controllers",       "compute_allocation", "memory_allocation",
                                 "freezing_threshold", "reserved_cycles_limit", "log_visibility",
                                 "wasm_memory_limit", "wasm_memory_threshold"};
  for (int i = 0; i < 8; i++) items[i] = named(icxCandid_v_opt(NULL), names[i]);
  if (s->ncontrollers >= 0) {
    inner[0] = icxCandid_v_vec(ctl, (size_t)(s->ncontrollers > 10 ? 10 : s->ncontrollers));
    items[0] = named(icxCandid_v_opt(&inner[0]), "controllers");
  }
  if (s->compute >= 0) {
    inner[1] = icxCandid_v_nat((uint64_t)s->compute, 0);
    items[1] = named(icxCandid_v_opt(&inner[1]), "compute_allocation");
  }
  if (s->freezing >= 0) {
    static icxCandidValue fz;
    fz = icxCandid_v_nat((uint64_t)s->freezing, 0);
    items[3] = named(icxCandid_v_opt(&fz), "freezing_threshold");
  }
  sort_items(items, 8);
  return icxCandid_v_record(items, 8);
}

static Buf enc_provisional(Fx *f, int has_amount, uint64_t amount, const icx_principal *spec,
                           const SetArg *s) {
  icxCandidValue store[20], amt = icxCandid_v_nat(amount, 0), sv, sp;
  icxCandidValue v[4];
  v[0] = named(icxCandid_v_opt(has_amount ? &amt : NULL), "amount");
  if (s) sv = settings_value(s, store);
  v[1] = named(icxCandid_v_opt(s ? &sv : NULL), "settings");
  if (spec) sp = icxCandid_v_principal(spec->bytes, spec->len);
  v[2] = named(icxCandid_v_opt(spec ? &sp : NULL), "specified_id");
  v[3] = named(icxCandid_v_opt(NULL), "sender_canister_version");
  sort_items(v, 4);
  icxCandidValue rec = icxCandid_v_record(v, 4);
  return encode(f, f->st->types.provisional_create_args, &rec);
}

static Buf enc_create(Fx *f, const SetArg *s) {
  icxCandidValue store[20], sv;
  icxCandidValue v[2];
  if (s) sv = settings_value(s, store);
  v[0] = named(icxCandid_v_opt(s ? &sv : NULL), "settings");
  v[1] = named(icxCandid_v_opt(NULL), "sender_canister_version");
  sort_items(v, 2);
  icxCandidValue rec = icxCandid_v_record(v, 2);
  return encode(f, f->st->types.create_canister_args, &rec);
}

static Buf enc_update(Fx *f, const icx_principal *id, const SetArg *s) {
  icxCandidValue store[20];
  icxCandidValue v[3];
  v[0] = named(icxCandid_v_principal(id->bytes, id->len), "canister_id");
  v[1] = named(settings_value(s, store), "settings");
  v[2] = named(icxCandid_v_opt(NULL), "sender_canister_version");
  sort_items(v, 3);
  icxCandidValue rec = icxCandid_v_record(v, 3);
  return encode(f, f->st->types.update_settings_args, &rec);
}

static Buf enc_top_up(Fx *f, const icx_principal *id, uint64_t amount) {
  icxCandidValue v[2];
  v[0] = named(icxCandid_v_principal(id->bytes, id->len), "canister_id");
  v[1] = named(icxCandid_v_nat(amount, 0), "amount");
  sort_items(v, 2);
  icxCandidValue rec = icxCandid_v_record(v, 2);
  return encode(f, f->st->types.provisional_top_up_args, &rec);
}

static Buf enc_install(Fx *f, int mode, const icx_principal *id, const uint8_t *wasm, size_t n) {
  icxCandidValue nullv = icxCandid_v_null(), none = icxCandid_v_opt(NULL);
  icxCandidValue modev =
      icxCandid_v_variant((uint32_t)0, mode == ICX_INSTALL_MODE_UPGRADE ? &none : &nullv);
  /* variant case index: the mode type's cases sorted by id */
  const icxCandidTypes *t = &f->st->types.t;
  const icxCandidEntry *rec = &t->entries[f->st->types.install_code_args];
  int32_t mode_t = -1;
  for (uint32_t i = 0; i < rec->nfields; i++)
    if (t->fields[rec->first + i].id == icxCandid_hash("mode")) mode_t = t->fields[rec->first + i].type;
  static const char *cases[3] = {"install", "reinstall", "upgrade"};
  const icxCandidEntry *me = &t->entries[mode_t];
  for (uint32_t i = 0; i < me->nfields; i++)
    if (t->fields[me->first + i].id == icxCandid_hash(cases[mode])) modev.n = i;
  icxCandidValue v[5];
  v[0] = named(modev, "mode");
  v[1] = named(icxCandid_v_principal(id->bytes, id->len), "canister_id");
  v[2] = named(icxCandid_v_blob(wasm, n), "wasm_module");
  v[3] = named(icxCandid_v_blob(NULL, 0), "arg");
  v[4] = named(icxCandid_v_opt(NULL), "sender_canister_version");
  sort_items(v, 5);
  icxCandidValue r = icxCandid_v_record(v, 5);
  return encode(f, f->st->types.install_code_args, &r);
}

/* Create a canister controlled by `ctl` with provisional cycles; returns its id. */
static icx_principal make(Fx *f, const icx_principal *ctl, uint64_t cycles) {
  Buf b = enc_provisional(f, 1, cycles, NULL, NULL);
  icxMsg r = ingress(f, ctl, "provisional_create_canister_with_cycles", b.p, b.n);
  bfree(f, &b);
  assert_true(is_reply(&r));
  icx_principal id;
  assert_int_equal(icxMgmt_decode_canister_id(&f->st->types, r.data, r.len, &id, NULL), ICX_OK);
  icxState_msg_clear(&f->a, &r);
  return id;
}

static void expect_reject(icxMsg *r, uint32_t reject_code, uint16_t error_code) {
  assert_int_equal(r->kind, ICX_MSG_RESPONSE);
  assert_int_equal(r->reject_code, reject_code);
  assert_int_equal(r->error_code, error_code);
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_provisional_create_follows_drun_sequence(void **state) {
  Fx *f = *state;
  Buf b = enc_provisional(f, 0, 0, NULL, NULL);
  icxMsg r = ingress(f, anon(), "provisional_create_canister_with_cycles", b.p, b.n);
  static const uint8_t drun_reply[] = {0x44, 0x49, 0x44, 0x4c, 0x01, 0x6c, 0x01, 0xb3, 0xc4,
                                       0xb1, 0xf2, 0x04, 0x68, 0x01, 0x00, 0x01, 0x0a, 0,
                                       0,    0,    0,    0,    0,    0,    0,    1,    1};
  assert_true(is_reply(&r));
  assert_int_equal(r.to_ingress, 1);
  assert_int_equal(r.msg_id[0], 1);
  assert_int_equal(r.len, sizeof drun_reply);
  assert_memory_equal(r.data, drun_reply, sizeof drun_reply);
  icxState_msg_clear(&f->a, &r);
  icx_principal c0 = icxPrincipal_canister(0), c1 = icxPrincipal_canister(1);
  icxCanister *c = icxState_canister(f->st, &c0);
  assert_non_null(c);
  assert_true(icxU128_eq(c->balance, icxU128_from_u64(100000000000000ull)));
  assert_int_equal(c->ncontrollers, 1);
  assert_true(icxPrincipal_eq(&c->controllers[0], anon()));
  assert_int_equal(c->status, ICX_STATUS_RUNNING);
  assert_true(icxU128_eq(c->settings.freezing_threshold, icxU128_from_u64(2592000)));
  r = ingress(f, anon(), "provisional_create_canister_with_cycles", b.p, b.n);
  assert_true(is_reply(&r));
  icxState_msg_clear(&f->a, &r);
  assert_non_null(icxState_canister(f->st, &c1));
  assert_true(icxU128_eq(f->st->minted, icxU128_from_u64(200000000000000ull)));
  bfree(f, &b);
}

static void test_provisional_create_specified_id_and_settings(void **state) {
  Fx *f = *state;
  icx_principal spec = icxPrincipal_canister(0), u1 = user(1), u2 = user(2);
  icx_principal ctl[3] = {u2, u1, u2};
  SetArg s = {3, ctl, 7, -1};
  Buf b = enc_provisional(f, 1, 5000, &spec, &s);
  icxMsg r = ingress(f, anon(), "provisional_create_canister_with_cycles", b.p, b.n);
  assert_true(is_reply(&r));
  icxState_msg_clear(&f->a, &r);
  icxCanister *c = icxState_canister(f->st, &spec);
  assert_non_null(c);
  assert_true(icxU128_eq(c->balance, icxU128_from_u64(5000)));
  assert_int_equal(c->ncontrollers, 2); /* sorted, duplicates dropped */
  assert_true(icxPrincipal_eq(&c->controllers[0], &u1));
  assert_true(icxPrincipal_eq(&c->controllers[1], &u2));
  assert_int_equal(c->settings.compute_allocation.lo, 7);
  /* the same specified id again: IC0205 */
  r = ingress(f, anon(), "provisional_create_canister_with_cycles", b.p, b.n);
  expect_reject(&r, 2, 205);
  assert_true(text_starts(&r, "Unsuccessful canister creation: canister id "
                              "rwlgt-iiaaa-aaaaa-aaaaa-cai already exists."));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  /* the sequence skips the id taken */
  icx_principal next = make(f, anon(), 1);
  icx_principal c1 = icxPrincipal_canister(1);
  assert_true(icxPrincipal_eq(&next, &c1));
}

static void test_malformed_candid_is_ic0408(void **state) {
  Fx *f = *state;
  icx_principal c = make(f, anon(), 1000);
  (void)c;
  static const char *methods[] = {"provisional_create_canister_with_cycles",
                                  "install_code",
                                  "uninstall_code",
                                  "update_settings",
                                  "start_canister",
                                  "stop_canister",
                                  "canister_status",
                                  "delete_canister",
                                  "deposit_cycles",
                                  "provisional_top_up_canister"};
  static const uint8_t junk[3] = {1, 2, 3};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    icxMsg r = ingress(f, anon(), methods[i], junk, sizeof junk);
    expect_reject(&r, 4, 408);
    assert_true(text_starts(&r, "Error decoding candid: "));
    icxState_msg_clear(&f->a, &r);
    /* an empty argument list lacks the record: also 408 */
    r = ingress(f, anon(), methods[i], (const uint8_t *)"DIDL\0\0", 6);
    expect_reject(&r, 4, 408);
    icxState_msg_clear(&f->a, &r);
  }
  /* from a canister too, with the cycles refunded */
  request(f, &c, "create_canister", junk, 3, icxU128_from_u64(77), 9);
  request(f, &c, "raw_rand", junk, 3, icxU128_from_u64(5), 10);
  run(f);
  icxMsg r = pop(f, &c);
  expect_reject(&r, 4, 408);
  assert_int_equal(r.callback, 9);
  assert_int_equal(r.cycles.lo, 77);
  icxState_msg_clear(&f->a, &r);
  r = pop(f, &c);
  expect_reject(&r, 4, 408);
  assert_int_equal(r.cycles.lo, 5);
  icxState_msg_clear(&f->a, &r);
}

static void test_unknown_method_is_ic0536(void **state) {
  Fx *f = *state;
  icxMsg r = ingress(f, anon(), "start", (const uint8_t *)"DIDL\0\0", 6);
  expect_reject(&r, 5, 536);
  assert_true(text_is(&r, "Management canister has no method 'start'"));
  icxState_msg_clear(&f->a, &r);
  /* canister caller, with the replica's code prefix switched on */
  icx_principal c = make(f, anon(), 1000);
  f->st->reject_with_code_prefix = 1;
  request(f, &c, "unknown", (const uint8_t *)"DIDL\0\0", 6, icxU128_from_u64(3), 4);
  run(f);
  r = pop(f, &c);
  expect_reject(&r, 5, 536);
  assert_true(text_is(&r, "IC0536: Management canister has no method 'unknown'"));
  assert_int_equal(r.cycles.lo, 3);
  icxState_msg_clear(&f->a, &r);
}

static void test_not_a_controller_is_ic0512(void **state) {
  Fx *f = *state;
  icx_principal owner = user(1), other = user(2);
  icx_principal c = make(f, &owner, 1000);
  Buf id = enc_id(f, &c);
  static const char *methods[] = {"uninstall_code", "start_canister", "stop_canister",
                                  "canister_status", "delete_canister"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    icxMsg r = ingress(f, &other, methods[i], id.p, id.n);
    expect_reject(&r, 5, 512);
    icxState_msg_clear(&f->a, &r);
  }
  icxMsg r = ingress(f, &other, "canister_status", id.p, id.n);
  char want[1024];
  char ct[64], ot[64], ut[64];
  icxPrincipal_to_text(&c, ct, sizeof ct);
  icxPrincipal_to_text(&owner, ot, sizeof ot);
  icxPrincipal_to_text(&other, ut, sizeof ut);
  snprintf(want, sizeof want,
           "Only the controllers of the canister %s can control it.\nCanister's controllers: "
           "%s\nSender's ID: %s\nExecute this call from a controller of the target canister or "
           "add the current caller as a controller. See documentation: "
           "https://internetcomputer.org/docs/current/references/execution-errors#"
           "invalid-controller",
           ct, ot, ut);
  assert_true(text_is(&r, want));
  icxState_msg_clear(&f->a, &r);
  SetArg s = {-1, NULL, 1, -1};
  Buf u = enc_update(f, &c, &s);
  r = ingress(f, &other, "update_settings", u.p, u.n);
  expect_reject(&r, 5, 512);
  icxState_msg_clear(&f->a, &r);
  Buf ins = enc_install(f, ICX_INSTALL_MODE_INSTALL, &c, (const uint8_t *)"\0asm", 4);
  r = ingress(f, &other, "install_code", ins.p, ins.n);
  expect_reject(&r, 5, 512);
  icxState_msg_clear(&f->a, &r);
  /* nothing changed */
  icxCanister *cc = icxState_canister(f->st, &c);
  assert_int_equal(cc->status, ICX_STATUS_RUNNING);
  assert_int_equal(cc->version, 0);
  bfree(f, &id);
  bfree(f, &u);
  bfree(f, &ins);
}

static void test_missing_canister_is_ic0301(void **state) {
  Fx *f = *state;
  icx_principal ghost = icxPrincipal_canister(42);
  Buf id = enc_id(f, &ghost);
  static const char *methods[] = {"uninstall_code",  "start_canister", "stop_canister",
                                  "canister_status", "delete_canister", "deposit_cycles"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    icxMsg r = ingress(f, anon(), methods[i], id.p, id.n);
    expect_reject(&r, 3, 301);
    char want[256], t[64];
    icxPrincipal_to_text(&ghost, t, sizeof t);
    snprintf(want, sizeof want,
             "Canister %s not found.\nCheck the ICP dashboard to ensure the canister exists. "
             "See documentation: "
             "https://internetcomputer.org/docs/current/references/execution-errors#"
             "canister-not-found",
             t);
    assert_true(text_is(&r, want));
    icxState_msg_clear(&f->a, &r);
  }
  Buf t = enc_top_up(f, &ghost, 5);
  icxMsg r = ingress(f, anon(), "provisional_top_up_canister", t.p, t.n);
  expect_reject(&r, 3, 301);
  icxState_msg_clear(&f->a, &r);
  Buf ins = enc_install(f, ICX_INSTALL_MODE_INSTALL, &ghost, (const uint8_t *)"\0asm", 4);
  r = ingress(f, anon(), "install_code", ins.p, ins.n);
  expect_reject(&r, 3, 301);
  icxState_msg_clear(&f->a, &r);
  assert_true(icxU128_is_zero(f->st->minted));
  bfree(f, &id);
  bfree(f, &t);
  bfree(f, &ins);
}

static void test_create_canister_charges_the_fee(void **state) {
  Fx *f = *state;
  icx_principal parent = make(f, anon(), 10000000000000ull);
  icxU128 fee = icxCycles_canister_creation_fee(&f->st->cfg.fees, f->st->cfg.subnet_size);
  Buf b = enc_create(f, NULL);
  /* too few cycles: IC0403, everything refunded */
  icxU128 few = icxU128_sub_sat(fee, icxU128_from_u64(1));
  request(f, &parent, "create_canister", b.p, b.n, few, 1);
  run(f);
  icxMsg r = pop(f, &parent);
  expect_reject(&r, 4, 403);
  assert_true(icxU128_eq(r.cycles, few));
  assert_true(text_starts(&r, "Creating a canister requires a fee of 500000000000 that is "
                              "deducted from the canister's initial balance but only "
                              "499999999999 cycles were received"));
  icxState_msg_clear(&f->a, &r);
  assert_int_equal(f->st->ncan, 1);
  /* enough: the rest is the new canister's balance, the parent controls it */
  request(f, &parent, "create_canister", b.p, b.n, icxU128_add_sat(fee, icxU128_from_u64(1234)),
          2);
  run(f);
  r = pop(f, &parent);
  assert_true(is_reply(&r));
  assert_true(icxU128_is_zero(r.cycles));
  icx_principal child;
  assert_int_equal(icxMgmt_decode_canister_id(&f->st->types, r.data, r.len, &child, NULL), ICX_OK);
  icxState_msg_clear(&f->a, &r);
  icx_principal c1 = icxPrincipal_canister(1);
  assert_true(icxPrincipal_eq(&child, &c1)); /* one counter with provisional creates */
  icxCanister *c = icxState_canister(f->st, &child);
  assert_int_equal(c->balance.lo, 1234);
  assert_true(icxPrincipal_eq(&c->controllers[0], &parent));
  assert_true(icxU128_eq(f->st->burned, fee));
  /* by ingress: IC0504 */
  r = ingress(f, anon(), "create_canister", b.p, b.n);
  expect_reject(&r, 5, 504);
  assert_true(text_is(&r, "create_canister cannot be called by a user."));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
}

static void test_update_settings(void **state) {
  Fx *f = *state;
  icx_principal u1 = user(1), u2 = user(2), u3 = user(3);
  icx_principal c = make(f, &u1, 1000);
  icx_principal ctl[2] = {u3, u2};
  SetArg s = {2, ctl, 50, 100};
  Buf b = enc_update(f, &c, &s);
  icxMsg r = ingress(f, &u1, "update_settings", b.p, b.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  icxCanister *cc = icxState_canister(f->st, &c);
  assert_int_equal(cc->ncontrollers, 2);
  assert_true(icxPrincipal_eq(&cc->controllers[0], &u2));
  assert_int_equal(cc->settings.compute_allocation.lo, 50);
  assert_int_equal(cc->settings.freezing_threshold.lo, 100);
  assert_int_equal(cc->version, 1);
  /* u1 is no longer a controller */
  SetArg s2 = {-1, NULL, 1, -1};
  b = enc_update(f, &c, &s2);
  r = ingress(f, &u1, "update_settings", b.p, b.n);
  expect_reject(&r, 5, 512);
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  /* compute allocation over 100: invalid settings, nothing changes */
  SetArg s3 = {-1, NULL, 101, -1};
  b = enc_update(f, &c, &s3);
  r = ingress(f, &u2, "update_settings", b.p, b.n);
  expect_reject(&r, 5, 504);
  assert_true(text_starts(&r, "Could not validate the settings: ComputeAllocation expected to "
                              "be in the range [0..100], got 101"));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  assert_int_equal(cc->settings.compute_allocation.lo, 50);
  assert_int_equal(cc->version, 1);
  /* eleven controllers: invalid settings */
  icx_principal many[11];
  for (int i = 0; i < 11; i++) many[i] = user((uint8_t)(10 + i));
  icxCandidValue ctl11[11], vec, items[3];
  for (int i = 0; i < 11; i++) ctl11[i] = icxCandid_v_principal(many[i].bytes, many[i].len);
  vec = icxCandid_v_vec(ctl11, 11);
  SetArg s4 = {-1, NULL, -1, -1};
  icxCandidValue store[20];
  icxCandidValue set = settings_value(&s4, store);
  for (uint64_t i = 0; i < set.n; i++)
    if (set.u.items[i].id == icxCandid_hash("controllers"))
      set.u.items[i] = named(icxCandid_v_opt(&vec), "controllers");
  items[0] = named(icxCandid_v_principal(c.bytes, c.len), "canister_id");
  items[1] = named(set, "settings");
  items[2] = named(icxCandid_v_opt(NULL), "sender_canister_version");
  sort_items(items, 3);
  icxCandidValue rec = icxCandid_v_record(items, 3);
  b = encode(f, f->st->types.update_settings_args, &rec);
  r = ingress(f, &u2, "update_settings", b.p, b.n);
  expect_reject(&r, 5, 504);
  assert_true(text_starts(&r, "Could not validate the settings: Invalid settings: 'controllers' "
                              "length exceeds maximum size allowed of 10."));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
}

/* Give canister c one open call context (as the runtime would). */
static void open_context(Fx *f, icx_principal *id) {
  icxCanister *c = icxState_canister(f->st, id);
  c->ctxs = icxCore_allocn(&f->a, 1, sizeof *c->ctxs);
  c->capctxs = c->nctxs = 1;
  c->ctxs[0].id = 1;
}
static void close_context(Fx *f, icx_principal *id) {
  icxCanister *c = icxState_canister(f->st, id);
  icxCore_free(&f->a, c->ctxs, c->capctxs * sizeof *c->ctxs);
  c->ctxs = NULL;
  c->capctxs = c->nctxs = 0;
}

static void test_stop_start_delete(void **state) {
  Fx *f = *state;
  icx_principal c = make(f, anon(), 1000);
  Buf id = enc_id(f, &c);
  icxCanister *cc = icxState_canister(f->st, &c);
  /* delete while running: IC0510 */
  icxMsg r = ingress(f, anon(), "delete_canister", id.p, id.n);
  expect_reject(&r, 5, 510);
  icxState_msg_clear(&f->a, &r);
  /* stop with an open call context: Stopping, no answer yet */
  open_context(f, &c);
  r = ingress(f, anon(), "stop_canister", id.p, id.n);
  assert_int_equal(r.kind, 0); /* no result */
  assert_int_equal(cc->status, ICX_STATUS_STOPPING);
  assert_int_equal(f->st->nstops, 1);
  r = ingress(f, anon(), "stop_canister", id.p, id.n); /* a second stop waits too */
  assert_int_equal(r.kind, 0);
  assert_int_equal(f->st->nstops, 2);
  /* start rejects both pending stops (IC0511) and runs the canister again */
  icxMsg s1 = ingress(f, anon(), "start_canister", id.p, id.n); /* results in order: */
  assert_int_equal(f->st->ingress.n, 2); /* the second cancelled stop, then start's reply */
  icxMsg s2 = f->st->ingress.v[0];
  r = f->st->ingress.v[1];
  expect_reject(&s1, 5, 511);
  expect_reject(&s2, 5, 511);
  char want[128], t[64];
  icxPrincipal_to_text(&c, t, sizeof t);
  snprintf(want, sizeof want, "Canister %s's stop request was cancelled.", t);
  assert_true(text_is(&s1, want));
  assert_int_equal(s1.msg_id[0], 3);
  assert_int_equal(s2.msg_id[0], 4);
  assert_true(is_empty_reply(&r));
  assert_int_equal(r.msg_id[0], 5);
  icxState_msg_clear(&f->a, &s1);
  icxMsgList_free(&f->a, &f->st->ingress);
  assert_int_equal(cc->status, ICX_STATUS_RUNNING);
  /* stop again; it completes when the context closes */
  r = ingress(f, anon(), "stop_canister", id.p, id.n);
  assert_int_equal(r.kind, 0);
  close_context(f, &c);
  icxErr err;
  assert_int_equal(icxState_process_stopping(f->st, &err), ICX_OK);
  assert_int_equal(cc->status, ICX_STATUS_STOPPED);
  assert_int_equal(f->st->ingress.n, 1);
  assert_true(is_empty_reply(&f->st->ingress.v[0]));
  icxMsgList_free(&f->a, &f->st->ingress);
  /* stopping a stopped canister replies at once */
  r = ingress(f, anon(), "stop_canister", id.p, id.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  /* delete: gone, its cycles burned */
  r = ingress(f, anon(), "delete_canister", id.p, id.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  assert_null(icxState_canister(f->st, &c));
  assert_int_equal(f->st->burned.lo, 1000);
  r = ingress(f, anon(), "canister_status", id.p, id.n);
  expect_reject(&r, 3, 301);
  icxState_msg_clear(&f->a, &r);
  bfree(f, &id);
}

static void test_stop_without_contexts_and_delete_self(void **state) {
  Fx *f = *state;
  icx_principal a = make(f, anon(), 1000);
  /* a controls itself */
  icx_principal ctl[2] = {*anon(), a};
  SetArg s = {2, ctl, -1, -1};
  Buf b = enc_update(f, &a, &s);
  icxMsg r = ingress(f, anon(), "update_settings", b.p, b.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  Buf id = enc_id(f, &a);
  /* a stops itself (canister caller): replied in the same run */
  request(f, &a, "stop_canister", id.p, id.n, icxU128_from_u64(9), 5);
  run(f);
  icxCanister *c = icxState_canister(f->st, &a);
  assert_int_equal(c->status, ICX_STATUS_STOPPED);
  r = pop(f, &a);
  assert_true(is_empty_reply(&r));
  assert_int_equal(r.callback, 5);
  assert_int_equal(r.cycles.lo, 9);
  icxState_msg_clear(&f->a, &r);
  assert_int_equal(c->version, 3); /* settings, Running->Stopping, Stopping->Stopped */
  request(f, &a, "delete_canister", id.p, id.n, icxU128_zero(), 6);
  run(f);
  r = pop(f, &a);
  expect_reject(&r, 5, 512);
  assert_true(text_starts(&r, "Canister rwlgt-iiaaa-aaaaa-aaaaa-cai cannot delete itself."));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &id);
}

static void test_canister_status_reply(void **state) {
  Fx *f = *state;
  icx_principal c = make(f, anon(), 123456);
  Buf id = enc_id(f, &c);
  icxMsg r = ingress(f, anon(), "canister_status", id.p, id.n);
  assert_true(is_reply(&r));
  icxCandidDoc *doc;
  int32_t t = f->st->types.canister_status_result;
  assert_int_equal(icxCandid_decode(&f->a, r.data, r.len, &f->st->types.t, &t, 1, NULL, &doc, NULL),
                   ICX_OK);
  const icxCandidValue *v = &doc->args[0];
  uint64_t x;
  assert_true(icxCandid_to_u64(icxCandid_field_named(v, "cycles"), &x));
  assert_int_equal(x, 123456);
  const icxCandidValue *st = icxCandid_field_named(v, "status");
  assert_int_equal(st->u.items[0].id, icxCandid_hash("running"));
  assert_null(icxCandid_opt(icxCandid_field_named(v, "module_hash")));
  const icxCandidValue *set = icxCandid_field_named(v, "settings");
  const icxCandidValue *ctl = icxCandid_field_named(set, "controllers");
  assert_int_equal(ctl->n, 1);
  assert_true(icxCandid_to_u64(icxCandid_field_named(set, "freezing_threshold"), &x));
  assert_int_equal(x, 2592000);
  icxCandidDoc_free(doc);
  icxState_msg_clear(&f->a, &r);
  bfree(f, &id);
}

static void test_deposit_cycles_and_top_up(void **state) {
  Fx *f = *state;
  icx_principal a = make(f, anon(), 10000), b = make(f, anon(), 10);
  Buf id = enc_id(f, &b);
  request(f, &a, "deposit_cycles", id.p, id.n, icxU128_from_u64(5000), 1);
  run(f);
  icxMsg r = pop(f, &a);
  assert_true(is_empty_reply(&r));
  assert_true(icxU128_is_zero(r.cycles));
  icxState_msg_clear(&f->a, &r);
  assert_int_equal(icxState_canister(f->st, &b)->balance.lo, 5010);
  /* deposit to a missing canister: rejected, refunded */
  icx_principal ghost = icxPrincipal_canister(99);
  Buf gid = enc_id(f, &ghost);
  request(f, &a, "deposit_cycles", gid.p, gid.n, icxU128_from_u64(700), 2);
  run(f);
  r = pop(f, &a);
  expect_reject(&r, 3, 301);
  assert_int_equal(r.cycles.lo, 700);
  icxState_msg_clear(&f->a, &r);
  /* provisional top-up by anyone */
  Buf t = enc_top_up(f, &b, 90);
  icx_principal u = user(7);
  r = ingress(f, &u, "provisional_top_up_canister", t.p, t.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  assert_int_equal(icxState_canister(f->st, &b)->balance.lo, 5100);
  assert_int_equal(f->st->minted.lo, 10000 + 10 + 90);
  bfree(f, &id);
  bfree(f, &gid);
  bfree(f, &t);
}

static void test_raw_rand_postponed_in_order(void **state) {
  Fx *f = *state;
  icx_principal a = make(f, anon(), 1000);
  icxErr err;
  /* by ingress: refused */
  icxMsg r = ingress(f, anon(), "raw_rand", (const uint8_t *)"DIDL\0\0", 6);
  expect_reject(&r, 5, 504);
  assert_true(text_is(&r, "raw_rand cannot be called by a user."));
  icxState_msg_clear(&f->a, &r);
  /* two requests in round 1: no answer in round 1 */
  request(f, &a, "raw_rand", (const uint8_t *)"DIDL\0\0", 6, icxU128_from_u64(4), 11);
  request(f, &a, "raw_rand", (const uint8_t *)"DIDL\0\0", 6, icxU128_zero(), 12);
  run(f);
  assert_int_equal(f->st->nrr, 2);
  assert_int_equal(icxState_answer_raw_rand(f->st, &err), ICX_OK);
  assert_int_equal(icxState_canister(f->st, &a)->inq_len, 0);
  /* round 2: answered from round 2's tape, in arrival order */
  static const uint8_t sig2[4] = {9, 8, 7, 6};
  assert_int_equal(icxState_begin_round(f->st, 2, 2000, sig2, 4, &err), ICX_OK);
  /* a request arriving in round 2 before the answers waits for round 3 */
  request(f, &a, "raw_rand", (const uint8_t *)"DIDL\0\0", 6, icxU128_zero(), 13);
  run(f);
  assert_int_equal(icxState_answer_raw_rand(f->st, &err), ICX_OK);
  assert_int_equal(f->st->nrr, 1);
  icxRandTape t;
  assert_int_equal(icxRandTape_init(&t, 2, sig2, 4, NULL), ICX_OK);
  uint8_t e1[42], e2[42];
  assert_int_equal(icxRandTape_raw_rand_reply(&t, e1, NULL), ICX_OK);
  assert_int_equal(icxRandTape_raw_rand_reply(&t, e2, NULL), ICX_OK);
  icxMsg r1 = pop(f, &a), r2 = pop(f, &a);
  assert_true(is_reply(&r1) && is_reply(&r2));
  assert_int_equal(r1.callback, 11);
  assert_int_equal(r1.cycles.lo, 4);
  assert_int_equal(r2.callback, 12);
  assert_int_equal(r1.len, 42);
  assert_memory_equal(r1.data, e1, 42);
  assert_memory_equal(r2.data, e2, 42);
  assert_memory_not_equal(r1.data + 10, r2.data + 10, 32);
  icxState_msg_clear(&f->a, &r1);
  icxState_msg_clear(&f->a, &r2);
  assert_int_equal(icxState_begin_round(f->st, 3, 3000, sig2, 4, &err), ICX_OK);
  assert_int_equal(icxState_answer_raw_rand(f->st, &err), ICX_OK);
  r = pop(f, &a);
  assert_int_equal(r.callback, 13);
  icxState_msg_clear(&f->a, &r);
  assert_int_equal(f->st->nrr, 0);
}

static void test_cycles_conservation(void **state) {
  Fx *f = *state;
  icxState *st = f->st;
#define CONSERVED()                                                                                \
  assert_true(icxU128_eq(icxU128_add_sat(icxState_cycles_total(st), st->burned), st->minted))
  icx_principal p = make(f, anon(), 2000000000000ull);
  CONSERVED();
  icx_principal q = make(f, anon(), 100);
  Buf b = enc_create(f, NULL);
  icxU128 fee = icxCycles_canister_creation_fee(&st->cfg.fees, st->cfg.subnet_size);
  /* cycles attached by p (taken from its balance, as call_perform does) */
  icxU128 send = icxU128_add_sat(fee, icxU128_from_u64(5000));
  icxCanister *pc = icxState_canister(st, &p);
  pc->balance = icxU128_sub_sat(pc->balance, send);
  request(f, &p, "create_canister", b.p, b.n, send, 1);
  CONSERVED(); /* in flight */
  run(f);
  CONSERVED();
  icxMsg r = pop(f, &p);
  pc->balance = icxU128_add_sat(pc->balance, r.cycles);
  icxState_msg_clear(&f->a, &r);
  CONSERVED();
  Buf qid = enc_id(f, &q);
  pc->balance = icxU128_sub_sat(pc->balance, icxU128_from_u64(300));
  request(f, &p, "deposit_cycles", qid.p, qid.n, icxU128_from_u64(300), 2);
  pc->balance = icxU128_sub_sat(pc->balance, icxU128_from_u64(40));
  request(f, &p, "raw_rand", (const uint8_t *)"DIDL\0\0", 6, icxU128_from_u64(40), 3);
  run(f);
  CONSERVED(); /* raw_rand holds its 40 */
  Buf t = enc_top_up(f, &q, 77);
  r = ingress(f, anon(), "provisional_top_up_canister", t.p, t.n);
  icxState_msg_clear(&f->a, &r);
  CONSERVED();
  r = ingress(f, anon(), "stop_canister", qid.p, qid.n);
  icxState_msg_clear(&f->a, &r);
  assert_int_equal(icxState_canister(st, &q)->status, ICX_STATUS_STOPPED);
  icxMsgList_free(&f->a, &st->ingress);
  r = ingress(f, anon(), "delete_canister", qid.p, qid.n);
  icxState_msg_clear(&f->a, &r);
  CONSERVED();
  icxErr err;
  assert_int_equal(icxState_begin_round(st, 2, 0, NULL, 0, &err), ICX_OK);
  assert_int_equal(icxState_answer_raw_rand(st, &err), ICX_OK);
  CONSERVED();
  assert_true(icxU128_lt(icxU128_zero(), st->burned));
  bfree(f, &b);
  bfree(f, &qid);
  bfree(f, &t);
#undef CONSERVED
}

/* ---- install_code (needs the canister runtime) --------------------------------------- */

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long sz = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)sz);
  assert_int_equal(fread(p, 1, (size_t)sz, fp), (size_t)sz);
  fclose(fp);
  *n = (size_t)sz;
  return p;
}

static uint8_t *gzip(const uint8_t *p, size_t n, size_t *out_n) {
  z_stream z;
  memset(&z, 0, sizeof z);
  assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
  size_t cap = n + 256;
  uint8_t *o = malloc(cap);
  z.next_in = (Bytef *)p;
  z.avail_in = (uInt)n;
  z.next_out = o;
  z.avail_out = (uInt)cap;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  *out_n = cap - z.avail_out;
  deflateEnd(&z);
  return o;
}

static void test_install_code_modes(void **state) {
  Fx *f = *state;
  size_t n;
  uint8_t *wasm = read_file(ICX_TEST_WASM_DIR "/mgmt_min.wasm", &n);
  icx_principal c = make(f, anon(), 1000000000000ull);
  /* errors that need no runtime: bad wasm bytes */
  Buf bad = enc_install(f, ICX_INSTALL_MODE_INSTALL, &c, (const uint8_t *)"nope", 4);
  icxMsg r = ingress(f, anon(), "install_code", bad.p, bad.n);
  expect_reject(&r, 5, 505);
  assert_true(text_starts(&r, "Error from Canister rwlgt-iiaaa-aaaaa-aaaaa-cai: Canister's Wasm "
                              "module is not valid: "));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &bad);
  Buf b = enc_install(f, ICX_INSTALL_MODE_INSTALL, &c, wasm, n);
  r = ingress(f, anon(), "install_code", b.p, b.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  icxCanister *cc = icxState_canister(f->st, &c);
  assert_non_null(cc->code);
  uint8_t h[32];
  crypto_hash_sha256(h, wasm, n);
  assert_memory_equal(cc->code->instr.sha256, h, 32);
  /* install again: IC0514 */
  r = ingress(f, anon(), "install_code", b.p, b.n);
  expect_reject(&r, 5, 514);
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  /* reinstall with the gzip'ed module */
  size_t gn;
  uint8_t *gz = gzip(wasm, n, &gn);
  b = enc_install(f, ICX_INSTALL_MODE_REINSTALL, &c, gz, gn);
  r = ingress(f, anon(), "install_code", b.p, b.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  /* upgrade */
  b = enc_install(f, ICX_INSTALL_MODE_UPGRADE, &c, wasm, n);
  r = ingress(f, anon(), "install_code", b.p, b.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  bfree(f, &b);
  /* canister_status shows the module hash; uninstall removes the code */
  Buf id = enc_id(f, &c);
  r = ingress(f, anon(), "canister_status", id.p, id.n);
  assert_true(is_reply(&r));
  icxCandidDoc *doc;
  int32_t st_t = f->st->types.canister_status_result;
  assert_int_equal(
      icxCandid_decode(&f->a, r.data, r.len, &f->st->types.t, &st_t, 1, NULL, &doc, NULL), ICX_OK);
  const icxCandidValue *mh = icxCandid_opt(icxCandid_field_named(&doc->args[0], "module_hash"));
  assert_non_null(mh);
  assert_int_equal(mh->n, 32);
  assert_memory_equal(mh->u.bytes, h, 32);
  icxCandidDoc_free(doc);
  icxState_msg_clear(&f->a, &r);
  r = ingress(f, anon(), "uninstall_code", id.p, id.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  assert_null(cc->code);
  bfree(f, &id);
  free(gz);
  free(wasm);
}

static void test_uninstall_code_empty_canister(void **state) {
  Fx *f = *state;
  icx_principal c = make(f, anon(), 1000);
  Buf id = enc_id(f, &c);
  icxMsg r = ingress(f, anon(), "uninstall_code", id.p, id.n);
  assert_true(is_empty_reply(&r));
  icxState_msg_clear(&f->a, &r);
  assert_null(icxState_canister(f->st, &c)->code);
  bfree(f, &id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_provisional_create_follows_drun_sequence, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_provisional_create_specified_id_and_settings, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_malformed_candid_is_ic0408, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_method_is_ic0536, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_a_controller_is_ic0512, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_canister_is_ic0301, setup, teardown),
      cmocka_unit_test_setup_teardown(test_create_canister_charges_the_fee, setup, teardown),
      cmocka_unit_test_setup_teardown(test_update_settings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_start_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_without_contexts_and_delete_self, setup, teardown),
      cmocka_unit_test_setup_teardown(test_canister_status_reply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deposit_cycles_and_top_up, setup, teardown),
      cmocka_unit_test_setup_teardown(test_raw_rand_postponed_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cycles_conservation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_install_code_modes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_uninstall_code_empty_canister, setup, teardown),
  };
  return cmocka_run_group_tests_name("unit_mgmt", tests, NULL, NULL);
}
