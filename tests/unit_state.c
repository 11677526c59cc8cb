/* unit_state.c -- white-box tests of lib/state.c: canisters kept in id
 * order, the drun id sequence, message routing and queue capacity, and the
 * state hash (order-independent, sensitive to every replicated field). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "principal.h"
#include "state.h"

static icxState *new_state(void) {
  icxAllocator a = icxCore_default_allocator();
  icxRtConfig cfg;
  icxRtConfig_defaults(&cfg);
  icxState *st;
  icxErr err;
  assert_int_equal(icxState_new(&a, &cfg, NULL, &st, &err), ICX_OK);
  return st;
}

static icxCanister *add(icxState *st, uint64_t idx, uint64_t cycles) {
  icx_principal id = icxPrincipal_canister(idx), ctl = icxPrincipal_anonymous();
  icxCanister *c;
  icxErr err;
  assert_int_equal(
      icxState_create_canister(st, &id, &ctl, NULL, icxU128_from_u64(cycles), &c, &err), ICX_OK);
  return c;
}

static icxMsg msg(icxState *st, uint8_t kind, const icx_principal *src, const icx_principal *dst,
                  const char *method, uint64_t cycles) {
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = kind;
  m.src = *src;
  m.dst = *dst;
  m.cycles = icxU128_from_u64(cycles);
  if (method) {
    m.method_len = (uint32_t)strlen(method);
    m.method = icxCore_alloc(&st->alloc, m.method_len + 1);
    memcpy(m.method, method, m.method_len);
  }
  m.len = 3;
  m.data = icxCore_alloc(&st->alloc, 3);
  memcpy(m.data, "abc", 3);
  return m;
}

static void hash(const icxState *st, uint8_t out[32]) {
  icxErr err;
  assert_int_equal(icxState_hash(st, out, &err), ICX_OK);
}

static void test_canisters_sorted_and_found(void **state) {
  (void)state;
  icxState *st = new_state();
  static const uint64_t order[] = {7, 2, 9, 0, 5, 3};
  for (size_t i = 0; i < 6; i++) add(st, order[i], i);
  assert_int_equal(st->ncan, 6);
  for (uint32_t i = 1; i < st->ncan; i++)
    assert_true(icxPrincipal_cmp(&st->can[i - 1]->id, &st->can[i]->id) < 0);
  for (size_t i = 0; i < 6; i++) {
    icx_principal id = icxPrincipal_canister(order[i]);
    icxCanister *c = icxState_canister(st, &id);
    assert_non_null(c);
    assert_int_equal(c->balance.lo, i);
  }
  icx_principal missing = icxPrincipal_canister(4);
  assert_null(icxState_canister(st, &missing));
  /* a specified id that exists is refused, nothing changes */
  icx_principal dup = icxPrincipal_canister(7);
  icxErr err;
  icxCanister *c;
  assert_int_equal(icxState_create_canister(st, &dup, NULL, NULL, icxU128_zero(), &c, &err),
                   ICX_ESTATE);
  assert_non_null(strstr(err.msg, "already exists"));
  assert_int_equal(st->ncan, 6);
  icxState_free(st);
}

static void test_id_sequence_skips_taken_ids(void **state) {
  (void)state;
  icxState *st = new_state();
  add(st, 0, 0);
  add(st, 1, 0);
  add(st, 3, 0);
  icxErr err;
  icxCanister *c;
  icx_principal want;
  assert_int_equal(icxState_peek_id(st, &want, &err), ICX_OK);
  assert_int_equal(icxState_create_canister(st, NULL, NULL, NULL, icxU128_zero(), &c, &err), ICX_OK);
  icx_principal two = icxPrincipal_canister(2), four = icxPrincipal_canister(4);
  assert_true(icxPrincipal_eq(&c->id, &two));
  assert_true(icxPrincipal_eq(&want, &two));
  assert_int_equal(icxState_create_canister(st, NULL, NULL, NULL, icxU128_zero(), &c, &err), ICX_OK);
  assert_true(icxPrincipal_eq(&c->id, &four));
  /* the range runs out */
  st->range_hi = 5;
  assert_int_equal(icxState_create_canister(st, NULL, NULL, NULL, icxU128_zero(), &c, &err), ICX_OK);
  assert_int_equal(icxState_create_canister(st, NULL, NULL, NULL, icxU128_zero(), &c, &err),
                   ICX_ELIMIT);
  assert_non_null(strstr(err.msg, "canister ID allocation"));
  assert_int_equal(st->ncan, 6);
  icxState_free(st);
}

static void test_route_destinations(void **state) {
  (void)state;
  icxState *st = new_state();
  icxCanister *a = add(st, 0, 0), *b = add(st, 1, 0);
  icx_principal ghost = icxPrincipal_canister(50), remote = icxPrincipal_canister(1u << 21);
  icx_principal mgmt = icxPrincipal_management(), user = icxPrincipal_anonymous();
  icxMsg out[5];
  out[0] = msg(st, ICX_MSG_REQUEST, &a->id, &b->id, "go", 10);
  out[1] = msg(st, ICX_MSG_REQUEST, &a->id, &ghost, "go", 20);
  out[2] = msg(st, ICX_MSG_REQUEST, &a->id, &remote, "go", 30);
  out[3] = msg(st, ICX_MSG_REQUEST, &a->id, &mgmt, "raw_rand", 40);
  out[4] = msg(st, ICX_MSG_RESPONSE, &a->id, &user, NULL, 0);
  out[4].to_ingress = 1;
  out[1].callback = 77;
  icxErr err;
  assert_int_equal(icxState_route(st, out, 5, &err), ICX_OK);
  assert_int_equal(b->inq_len, 1);
  assert_int_equal(st->outbox.n, 1);
  assert_true(icxPrincipal_eq(&st->outbox.v[0].dst, &remote));
  assert_int_equal(st->mgmt_in.n, 1);
  assert_int_equal(st->ingress.n, 1);
  /* every cycle is still somewhere */
  assert_true(icxU128_eq(icxState_cycles_total(st), icxU128_from_u64(100)));
  /* the request to a missing canister of this subnet came back to a */
  assert_int_equal(a->inq_len, 1);
  icxMsg r;
  assert_true(icxState_pop_input(a, &r));
  assert_int_equal(r.kind, ICX_MSG_RESPONSE);
  assert_int_equal(r.reject_code, ICX_REJECT_DESTINATION_INVALID);
  assert_int_equal(r.callback, 77);
  assert_int_equal(r.cycles.lo, 20);
  icxState_msg_clear(&st->alloc, &r);
  assert_true(icxU128_eq(icxState_cycles_total(st), icxU128_from_u64(80)));
  icxState_free(st);
}

static void test_queue_capacity_per_sender(void **state) {
  (void)state;
  icxState *st = new_state();
  icxCanister *a = add(st, 0, 0), *b = add(st, 1, 0), *c = add(st, 2, 0);
  icxErr err;
  for (uint32_t i = 0; i < ICX_QUEUE_CAPACITY; i++) {
    icxMsg m = msg(st, ICX_MSG_REQUEST, &a->id, &b->id, "go", 1);
    m.callback = i;
    assert_int_equal(icxState_route(st, &m, 1, &err), ICX_OK);
  }
  assert_int_equal(b->inq_len, ICX_QUEUE_CAPACITY);
  /* the 501st from a is rejected back to a; another sender still gets in */
  icxMsg m = msg(st, ICX_MSG_REQUEST, &a->id, &b->id, "go", 5);
  m.callback = 999;
  assert_int_equal(icxState_route(st, &m, 1, &err), ICX_OK);
  assert_int_equal(b->inq_len, ICX_QUEUE_CAPACITY);
  assert_int_equal(a->inq_len, 1);
  icxMsg r;
  assert_true(icxState_pop_input(a, &r));
  assert_int_equal(r.reject_code, ICX_REJECT_SYS_TRANSIENT);
  assert_int_equal(r.error_code, 201);
  assert_int_equal(r.callback, 999);
  assert_int_equal(r.cycles.lo, 5);
  icxState_msg_clear(&st->alloc, &r);
  m = msg(st, ICX_MSG_REQUEST, &c->id, &b->id, "go", 0);
  assert_int_equal(icxState_route(st, &m, 1, &err), ICX_OK);
  /* responses are never refused */
  m = msg(st, ICX_MSG_RESPONSE, &a->id, &b->id, NULL, 0);
  assert_int_equal(icxState_route(st, &m, 1, &err), ICX_OK);
  assert_int_equal(b->inq_len, ICX_QUEUE_CAPACITY + 2);
  /* FIFO order is kept across the ring's growth */
  for (uint32_t i = 0; i < ICX_QUEUE_CAPACITY; i++) {
    assert_true(icxState_pop_input(b, &r));
    assert_int_equal(r.callback, i);
    icxState_msg_clear(&st->alloc, &r);
  }
  icxState_free(st);
}

static void test_ingress_to_missing_canister_fails_at_once(void **state) {
  (void)state;
  icxState *st = new_state();
  icx_principal user = icxPrincipal_anonymous(), ghost = icxPrincipal_canister(3);
  icxMsg m = msg(st, ICX_MSG_INGRESS, &user, &ghost, "go", 0);
  m.msg_id[0] = 42;
  icxErr err;
  assert_int_equal(icxState_submit_ingress(st, &m, &err), ICX_OK);
  assert_int_equal(st->ingress.n, 1);
  assert_int_equal(st->ingress.v[0].reject_code, ICX_REJECT_DESTINATION_INVALID);
  assert_int_equal(st->ingress.v[0].error_code, 301);
  assert_int_equal(st->ingress.v[0].msg_id[0], 42);
  icxState_free(st);
}

static void test_delete_rejects_queued_requests(void **state) {
  (void)state;
  icxState *st = new_state();
  icxCanister *a = add(st, 0, 0), *b = add(st, 1, 500);
  icxMsg m = msg(st, ICX_MSG_REQUEST, &a->id, &b->id, "go", 7);
  m.callback = 3;
  icxErr err;
  assert_int_equal(icxState_route(st, &m, 1, &err), ICX_OK);
  icx_principal bid = b->id;
  assert_int_equal(icxState_delete_canister(st, &bid, &err), ICX_OK);
  assert_null(icxState_canister(st, &bid));
  assert_int_equal(st->burned.lo, 500);
  icxMsg r;
  assert_true(icxState_pop_input(a, &r));
  assert_int_equal(r.reject_code, ICX_REJECT_DESTINATION_INVALID);
  assert_int_equal(r.cycles.lo, 7);
  icxState_msg_clear(&st->alloc, &r);
  icxState_free(st);
}

/* One state built in two orders. */
static icxState *build(int reverse) {
  icxState *st = new_state();
  icxErr err;
  static const uint64_t ids[3] = {4, 1, 9};
  for (int k = 0; k < 3; k++) {
    int i = reverse ? 2 - k : k;
    icxCanister *c = add(st, ids[i], 1000 * (uint64_t)(i + 1));
    c->version = (uint64_t)i;
  }
  icx_principal one = icxPrincipal_canister(1), four = icxPrincipal_canister(4);
  icx_principal nine = icxPrincipal_canister(9);
  /* two messages to 9 from different senders: queue order matters, so both
   * builds send them in the same order (as a deterministic round would) */
  icxMsg m = msg(st, ICX_MSG_REQUEST, &one, &nine, "go", 1);
  assert_int_equal(icxState_route(st, &m, 1, &err), ICX_OK);
  m = msg(st, ICX_MSG_REQUEST, &four, &nine, "go", 2);
  assert_int_equal(icxState_route(st, &m, 1, &err), ICX_OK);
  if (reverse) {
    icxState_canister(st, &four)->certified[0] = 1;
    icxState_canister(st, &four)->certified_len = 1;
    icxState_canister(st, &one)->global_timer = 55;
  } else {
    icxState_canister(st, &one)->global_timer = 55;
    icxState_canister(st, &four)->certified_len = 1;
    icxState_canister(st, &four)->certified[0] = 1;
  }
  return st;
}

static void test_hash_independent_of_build_order(void **state) {
  (void)state;
  icxState *s1 = build(0), *s2 = build(1);
  uint8_t h1[32], h2[32];
  hash(s1, h1);
  hash(s2, h2);
  assert_memory_equal(h1, h2, 32);
  icxState_free(s1);
  icxState_free(s2);
}

typedef void (*Mutate)(icxState *st, int undo);
static icxCanister *c4(icxState *st) {
  icx_principal p = icxPrincipal_canister(4);
  return icxState_canister(st, &p);
}
static void m_balance(icxState *st, int u) { c4(st)->balance.lo += u ? -1ull : 1; }
static void m_reserved(icxState *st, int u) { c4(st)->reserved.hi ^= 1; (void)u; }
static void m_version(icxState *st, int u) { c4(st)->version += u ? -1ull : 1; }
static void m_status(icxState *st, int u) {
  c4(st)->status = u ? ICX_STATUS_RUNNING : ICX_STATUS_STOPPING;
}
static void m_controller(icxState *st, int u) { c4(st)->controllers[0].bytes[0] ^= 0x80; (void)u; }
static void m_freezing(icxState *st, int u) { c4(st)->settings.freezing_threshold.lo ^= 1; (void)u; }
static void m_certified(icxState *st, int u) { c4(st)->certified[0] ^= 2; (void)u; }
static void m_timer(icxState *st, int u) { c4(st)->global_timer ^= 1; (void)u; }
static void m_queue(icxState *st, int u) {
  icx_principal nine = icxPrincipal_canister(9);
  icxCanister *c = icxState_canister(st, &nine);
  c->inq[c->inq_head].data[1] ^= 1;
  (void)u;
}
static void m_round(icxState *st, int u) { st->round ^= 1; (void)u; }
static void m_time(icxState *st, int u) { st->time_ns ^= 1; (void)u; }
static void m_next(icxState *st, int u) { st->next_index ^= 1; (void)u; }
static void m_rr(icxState *st, int u) {
  if (!u) {
    icxRawRandCtx x;
    memset(&x, 0, sizeof x);
    assert_int_equal(icxState_add_raw_rand(st, &x, NULL), ICX_OK);
  } else {
    st->nrr--;
  }
}
static void m_stop(icxState *st, int u) {
  if (!u) {
    icxStopCtx x;
    memset(&x, 0, sizeof x);
    assert_int_equal(icxState_add_stop(st, &x, NULL), ICX_OK);
  } else {
    st->nstops--;
  }
}
static void m_outbox(icxState *st, int u) {
  if (!u) {
    icx_principal one = icxPrincipal_canister(1), far = icxPrincipal_canister(1ull << 30);
    icxMsg m = msg(st, ICX_MSG_REQUEST, &one, &far, "x", 0);
    assert_int_equal(icxState_route(st, &m, 1, NULL), ICX_OK);
  } else {
    icxState_msg_clear(&st->alloc, &st->outbox.v[--st->outbox.n]);
  }
}
static void m_globals(icxState *st, int u) {
  icxCanister *c = c4(st);
  if (!u) {
    icxGlobals_free(&st->alloc, &c->globals);
    c->globals.vals = icxCore_allocn(&st->alloc, 1, sizeof *c->globals.vals);
    c->globals.n = 1;
  } else {
    icxGlobals_free(&st->alloc, &c->globals);
    memset(&c->globals, 0, sizeof c->globals);
  }
}
static void m_heap(icxState *st, int u) {
  icxCanister *c = c4(st);
  static icxPageMap *saved;
  if (!u) {
    uint8_t page[4096];
    memset(page, 0, sizeof page);
    page[5] = 9;
    icxPmWrite w = {0, page};
    icxPageMap *nm, *base = c->heap_map ? icxPm_ref(c->heap_map) : icxPm_new(st->pm, 0, NULL);
    assert_int_equal(icxPm_update(base, &w, 1, 65536, &nm, NULL), ICX_OK);
    icxPm_unref(base);
    saved = c->heap_map;
    c->heap_map = nm;
  } else {
    icxPm_unref(c->heap_map);
    c->heap_map = saved;
  }
}
static void m_context(icxState *st, int u) {
  icxCanister *c = c4(st);
  if (!u) {
    c->ctxs = icxCore_allocn(&st->alloc, 1, sizeof *c->ctxs);
    c->nctxs = c->capctxs = 1;
  } else {
    icxCore_free(&st->alloc, c->ctxs, sizeof *c->ctxs);
    c->ctxs = NULL;
    c->nctxs = c->capctxs = 0;
  }
}

static void test_hash_changes_with_every_field(void **state) {
  (void)state;
  static const struct {
    const char *name;
    Mutate fn;
  } cases[] = {{"balance", m_balance},     {"reserved", m_reserved}, {"version", m_version},
               {"status", m_status},       {"controller", m_controller},
               {"freezing", m_freezing},   {"certified", m_certified}, {"timer", m_timer},
               {"queue", m_queue},         {"round", m_round},       {"time", m_time},
               {"next_index", m_next},     {"raw_rand", m_rr},       {"stop", m_stop},
               {"outbox", m_outbox},       {"globals", m_globals},   {"heap", m_heap},
               {"context", m_context}};
  icxState *st = build(0);
  uint8_t base[32], h[32];
  hash(st, base);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cases[i].fn(st, 0);
    hash(st, h);
    if (memcmp(h, base, 32) == 0) fail_msg("hash did not change with %s", cases[i].name);
    cases[i].fn(st, 1);
    hash(st, h);
    if (memcmp(h, base, 32) != 0) fail_msg("hash not restored after %s", cases[i].name);
  }
  icxState_free(st);
}

static void test_free_null_is_noop(void **state) {
  (void)state;
  icxState_free(NULL);
  icxState *st;
  icxErr err;
  assert_int_equal(icxState_new(NULL, NULL, NULL, &st, &err), ICX_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_canisters_sorted_and_found),
      cmocka_unit_test(test_id_sequence_skips_taken_ids),
      cmocka_unit_test(test_route_destinations),
      cmocka_unit_test(test_queue_capacity_per_sender),
      cmocka_unit_test(test_ingress_to_missing_canister_fails_at_once),
      cmocka_unit_test(test_delete_rejects_queued_requests),
      cmocka_unit_test(test_hash_independent_of_build_order),
      cmocka_unit_test(test_hash_changes_with_every_field),
      cmocka_unit_test(test_free_null_is_noop),
  };
  return cmocka_run_group_tests_name("unit_state", tests, NULL, NULL);
}
