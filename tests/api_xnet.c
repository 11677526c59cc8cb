/* api_xnet.c -- messages to and from other subnets through the public API:
 * a call to a canister on another subnet leaves as an output request and
 * its response, fed back in a later batch, completes the ingress; requests
 * from other subnets run and answer with output responses; bad stream
 * input is answered or dropped, never crashes and never corrupts state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include "icexec.h"
#include "uc.h"

#ifndef ICX_TEST_CANISTER_DIR
#define ICX_TEST_CANISTER_DIR "build/canisters"
#endif

#define T0 1700000000000000000ull
#define SECOND 1000000000ull

typedef struct Fx {
  icx_engine *e;
  icx_state *s;
  uint64_t round, time;
  icx_principal user, a, b, remote;
} Fx;

static icx_batch *batch(Fx *f) {
  icx_batch *b = NULL;
  f->round++;
  f->time += SECOND;
  assert_int_equal(icx_batch_new(f->e, f->round, f->time, (const uint8_t *)"x", 1, &b), ICX_OK);
  return b;
}

static icx_round_output *run(Fx *f, icx_batch *b) {
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(f->e, f->s, b, &o);
  if (rc != ICX_OK) fail_msg("icx_execute_round: %s", icx_errmsg(f->e));
  icx_batch_free(b);
  return o;
}

/* Engine, state, canisters a and b (uc) on an application subnet. */
static Fx *fx_new(void) {
  Fx *f = calloc(1, sizeof *f);
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  assert_int_equal(icx_engine_new(&o, &f->e), ICX_OK);
  assert_int_equal(icx_state_new(f->e, &f->s), ICX_OK);
  f->time = T0;
  static const uint8_t der[] = "api_xnet user";
  assert_int_equal(icx_principal_self_authenticating(der, sizeof der, &f->user), ICX_OK);
  assert_int_equal(icx_principal_from_canister_index(0, &f->a), ICX_OK);
  assert_int_equal(icx_principal_from_canister_index(1, &f->b), ICX_OK);
  /* a canister of another subnet (outside drun's and our default range) */
  assert_int_equal(icx_principal_from_canister_index((1ull << 20) + 7, &f->remote), ICX_OK);
  size_t n = 0;
  uint8_t *wasm = icxt_read_file(ICX_TEST_CANISTER_DIR "/uc.wasm", &n);
  icx_batch *b = batch(f);
  for (int i = 0; i < 2; i++)
    assert_int_equal(icx_batch_add_create_canister(b, &f->user, 0, 1000000000000000ull, NULL, NULL),
                     ICX_OK);
  icx_round_output_free(run(f, b));
  b = batch(f);
  assert_int_equal(icx_batch_add_install_code(b, &f->user, &f->a, ICX_MODE_INSTALL, wasm, n, NULL,
                                              0, NULL),
                   ICX_OK);
  assert_int_equal(icx_batch_add_install_code(b, &f->user, &f->b, ICX_MODE_INSTALL, wasm, n, NULL,
                                              0, NULL),
                   ICX_OK);
  icx_round_output *out = run(f, b);
  assert_int_equal(icx_round_output_ingress_count(out), 2);
  icx_round_output_free(out);
  free(wasm);
  return f;
}

static void fx_free(Fx *f) {
  icx_state_free(f->s);
  icx_engine_free(f->e);
  free(f);
}

static icx_xnet_message xmsg(uint32_t kind) {
  icx_xnet_message x;
  memset(&x, 0, sizeof x);
  x.struct_size = sizeof x;
  x.kind = kind;
  x.method = "";
  return x;
}

static int find_result(icx_round_output *o, const icx_message_id *id, icx_ingress_result *r) {
  memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
  icx_status rc = icx_round_output_find_ingress(o, id, r);
  if (rc == ICX_ENOTFOUND) return 0;
  assert_int_equal(rc, ICX_OK);
  return 1;
}

/* Canister a calls "remote" on the other subnet with 5000 cycles attached;
 * the callback replies with "got:" + the response payload (or the reject
 * message).  Returns the output request. */
static icx_message_id call_remote(Fx *f, icx_xnet_message *req_out, uint8_t req_data[64],
                                  size_t *req_len) {
  uc_script s, onreply, onreject, arg;
  uc_init(&s);
  uc_init(&onreply);
  uc_init(&onreject);
  uc_init(&arg);
  uc_push_str(&onreply, "got:");
  uc_msg_arg_data(&onreply);
  uc_concat(&onreply);
  uc_reply_data_append(&onreply);
  uc_reply(&onreply);
  uc_push_str(&onreject, "rejected:");
  uc_msg_reject_msg(&onreject);
  uc_concat(&onreject);
  uc_reply_data_append(&onreject);
  uc_reply(&onreject);
  uc_push_str(&arg, "ping");
  uc_push_bytes(&s, f->remote.bytes, f->remote.len);
  uc_push_str(&s, "remote");
  uc_push_script(&s, &onreply);
  uc_push_script(&s, &onreject);
  uc_call_new(&s);
  uc_push_str(&s, "payload-bytes");
  uc_call_data_append(&s);
  uc_push_int(&s, 5000);
  uc_call_cycles_add(&s);
  uc_call_perform(&s);
  uc_drop(&s);
  icx_batch *b = batch(f);
  icx_message_id id;
  assert_int_equal(icx_batch_add_ingress(b, &f->user, &f->a, "update", s.p, s.len, &id), ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  assert_false(find_result(o, &id, &r)); /* waiting for the other subnet */
  assert_int_equal(icx_round_output_xnet_count(o), 1);
  icx_xnet_message x = xmsg(0);
  assert_int_equal(icx_round_output_xnet(o, 0, &x), ICX_OK);
  assert_int_equal(x.kind, ICX_XNET_REQUEST);
  assert_int_equal(icx_principal_compare(&x.src, &f->a), 0);
  assert_int_equal(icx_principal_compare(&x.dst, &f->remote), 0);
  assert_string_equal(x.method, "remote");
  assert_int_equal(x.len, strlen("payload-bytes"));
  assert_memory_equal(x.data, "payload-bytes", x.len);
  assert_int_equal(x.cycles_hi, 0);
  assert_int_equal(x.cycles_lo, 5000);
  *req_out = x;
  assert_true(x.len <= 64);
  memcpy(req_data, x.data, x.len);
  *req_len = x.len;
  icx_round_output_free(o);
  uc_free(&s);
  uc_free(&onreply);
  uc_free(&onreject);
  uc_free(&arg);
  return id;
}

/* The round trip: request out, response in two rounds later, reply. */
static void test_xnet_call_and_response(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_xnet_message req;
  uint8_t data[64];
  size_t len;
  icx_message_id id = call_remote(f, &req, data, &len);
  icx_round_output_free(run(f, batch(f))); /* a round with nothing from the other subnet */
  icx_batch *b = batch(f);
  icx_xnet_message resp = xmsg(ICX_XNET_RESPONSE);
  resp.src = f->remote;
  resp.dst = f->a;
  resp.callback = req.callback;
  resp.data = (const uint8_t *)"pong";
  resp.len = 4;
  resp.cycles_lo = 1200; /* refund of what the callee did not accept */
  assert_int_equal(icx_batch_add_xnet(b, &resp), ICX_OK);
  assert_int_equal(icx_batch_xnet_count(b), 1);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  assert_true(find_result(o, &id, &r));
  assert_int_equal(r.status, ICX_INGRESS_REPLIED);
  assert_int_equal(r.len, 8);
  assert_memory_equal(r.data, "got:pong", 8);
  assert_int_equal(icx_round_output_xnet_count(o), 0);
  icx_round_output_free(o);
  /* the same response again: the callback is gone, it is dropped */
  b = batch(f);
  assert_int_equal(icx_batch_add_xnet(b, &resp), ICX_OK);
  o = run(f, b);
  assert_int_equal(icx_round_output_ingress_count(o), 0);
  assert_int_equal(icx_round_output_xnet_count(o), 0);
  icx_round_output_free(o);
  /* both canisters ran only their heartbeat in that round: a and b have
   * the same figures */
  o = run(f, batch(f));
  assert_int_equal(icx_round_output_canister_count(o), 2);
  icx_canister_round_stats sa, sb;
  memset(&sa, 0, sizeof sa);
  memset(&sb, 0, sizeof sb);
  sa.struct_size = sb.struct_size = sizeof sa;
  assert_int_equal(icx_round_output_canister(o, 0, &sa), ICX_OK);
  assert_int_equal(icx_round_output_canister(o, 1, &sb), ICX_OK);
  assert_int_equal(sa.executions, sb.executions);
  assert_int_equal(sa.instructions, sb.instructions);
  icx_round_output_free(o);
  fx_free(f);
}

/* A reject response runs the reject callback. */
static void test_xnet_reject_response(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_xnet_message req;
  uint8_t data[64];
  size_t len;
  icx_message_id id = call_remote(f, &req, data, &len);
  icx_batch *b = batch(f);
  icx_xnet_message resp = xmsg(ICX_XNET_RESPONSE);
  resp.src = f->remote;
  resp.dst = f->a;
  resp.callback = req.callback;
  resp.reject_code = ICX_REJECT_CODE_CANISTER_REJECT;
  resp.data = (const uint8_t *)"no thanks";
  resp.len = 9;
  resp.cycles_lo = 5000;
  assert_int_equal(icx_batch_add_xnet(b, &resp), ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  assert_true(find_result(o, &id, &r));
  assert_int_equal(r.status, ICX_INGRESS_REPLIED);
  assert_int_equal(r.len, strlen("rejected:no thanks"));
  assert_memory_equal(r.data, "rejected:no thanks", r.len);
  icx_round_output_free(o);
  fx_free(f);
}

/* Responses that do not answer an open call are dropped: unknown
 * callback, wrong sender, unknown canister, a sender on this subnet, and a
 * second response to the same call in one batch.  The real one still
 * completes the call once. */
static void test_xnet_bogus_responses_dropped(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_xnet_message req;
  uint8_t data[64];
  size_t len;
  icx_message_id id = call_remote(f, &req, data, &len);
  icx_batch *b = batch(f);
  icx_xnet_message x = xmsg(ICX_XNET_RESPONSE);
  x.src = f->remote;
  x.dst = f->a;
  x.callback = req.callback + 1000; /* unknown */
  x.data = (const uint8_t *)"bad1";
  x.len = 4;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  x.callback = req.callback;
  assert_int_equal(icx_principal_from_canister_index((1ull << 20) + 8, &x.src), ICX_OK);
  x.data = (const uint8_t *)"bad2"; /* not the callee */
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  x.src = f->b; /* a canister of this subnet cannot arrive from another one */
  x.data = (const uint8_t *)"bad3";
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  x.src = f->remote;
  assert_int_equal(icx_principal_from_canister_index(55, &x.dst), ICX_OK); /* no such canister */
  x.data = (const uint8_t *)"bad4";
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  x.dst = f->a;
  x.data = (const uint8_t *)"good";
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  x.data = (const uint8_t *)"dupe";
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  icx_round_output *o = run(f, b);
  icx_ingress_result r;
  assert_true(find_result(o, &id, &r));
  assert_int_equal(r.status, ICX_INGRESS_REPLIED);
  assert_memory_equal(r.data, "got:good", 8);
  assert_int_equal(icx_round_output_ingress_count(o), 1);
  assert_int_equal(icx_round_output_xnet_count(o), 0);
  icx_round_output_free(o);
  fx_free(f);
}

/* Requests from another subnet: one runs and answers with an output
 * response (callback echoed, payload, refund of unaccepted cycles); one
 * traps; one names a missing canister; one a canister not on this subnet. */
static void test_xnet_incoming_requests(void **state) {
  (void)state;
  Fx *f = fx_new();
  uc_script ok, bad;
  uc_init(&ok);
  uc_init(&bad);
  uc_push_int(&ok, 300);
  uc_msg_cycles_accept(&ok);
  uc_drop(&ok);
  uc_push_str(&ok, "hello ");
  uc_msg_caller(&ok);
  uc_concat(&ok);
  uc_reply_data_append(&ok);
  uc_reply(&ok);
  uc_trap_str(&bad, "boom");
  icx_batch *b = batch(f);
  icx_xnet_message x = xmsg(ICX_XNET_REQUEST);
  x.src = f->remote;
  x.dst = f->b;
  x.method = "update";
  x.data = ok.p;
  x.len = ok.len;
  x.cycles_lo = 1000;
  x.callback = 41;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  x.data = bad.p;
  x.len = bad.len;
  x.callback = 42;
  x.cycles_lo = 0;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  assert_int_equal(icx_principal_from_canister_index(77, &x.dst), ICX_OK);
  x.callback = 43;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  assert_int_equal(icx_principal_from_canister_index((1ull << 20) + 99, &x.dst), ICX_OK);
  x.callback = 44;
  x.cycles_lo = 77;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_OK);
  icx_round_output *o = run(f, b);
  uint64_t n = icx_round_output_xnet_count(o);
  assert_int_equal(n, 4);
  int seen[4] = {0, 0, 0, 0};
  for (uint64_t i = 0; i < n; i++) {
    icx_xnet_message r = xmsg(0);
    assert_int_equal(icx_round_output_xnet(o, i, &r), ICX_OK);
    assert_int_equal(r.kind, ICX_XNET_RESPONSE);
    assert_int_equal(icx_principal_compare(&r.dst, &f->remote), 0);
    assert_true(r.callback >= 41 && r.callback <= 44);
    seen[r.callback - 41]++;
    if (r.callback == 41) {
      assert_int_equal(r.reject_code, 0);
      assert_int_equal(icx_principal_compare(&r.src, &f->b), 0);
      assert_int_equal(r.len, 6 + f->remote.len);
      assert_memory_equal(r.data, "hello ", 6);
      assert_memory_equal(r.data + 6, f->remote.bytes, f->remote.len);
      assert_int_equal(r.cycles_lo, 700); /* 1000 attached, 300 accepted */
    } else if (r.callback == 42) {
      assert_int_equal(r.reject_code, ICX_REJECT_CODE_CANISTER_ERROR);
      assert_true(icxt_has_text(r.data, r.len, "boom"));
    } else {
      assert_int_equal(r.reject_code, ICX_REJECT_CODE_DESTINATION_INVALID);
      if (r.callback == 44) assert_int_equal(r.cycles_lo, 77); /* refunded */
    }
  }
  for (int i = 0; i < 4; i++) assert_int_equal(seen[i], 1);
  icx_round_output_free(o);
  uc_free(&ok);
  uc_free(&bad);
  fx_free(f);
}

/* Argument checks of icx_batch_add_xnet. */
static void test_xnet_add_checks(void **state) {
  (void)state;
  Fx *f = fx_new();
  icx_batch *b = batch(f);
  icx_xnet_message x = xmsg(ICX_XNET_REQUEST);
  x.src = f->remote;
  x.dst = f->a;
  assert_int_equal(icx_batch_add_xnet(b, NULL), ICX_EINVAL);
  x.method = NULL;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_EINVAL); /* a request needs a method */
  x.method = "m";
  x.kind = 9;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_EINVAL);
  x.kind = ICX_XNET_REQUEST;
  x.struct_size = 8;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_EINVAL);
  x.struct_size = sizeof x;
  x.data = NULL;
  x.len = 3;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_EINVAL);
  x.len = 0;
  x.src.len = 30;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_EINVAL);
  x.src = f->remote;
  x.kind = ICX_XNET_RESPONSE;
  x.reject_code = 99;
  assert_int_equal(icx_batch_add_xnet(b, &x), ICX_EINVAL);
  assert_int_equal(icx_batch_xnet_count(b), 0);
  assert_int_equal(icx_batch_add_xnet(NULL, &x), ICX_EMISUSE);
  assert_int_equal(icx_batch_xnet_count(NULL), 0);
  icx_batch_free(b);
  fx_free(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xnet_call_and_response),
      cmocka_unit_test(test_xnet_reject_response),
      cmocka_unit_test(test_xnet_bogus_responses_dropped),
      cmocka_unit_test(test_xnet_incoming_requests),
      cmocka_unit_test(test_xnet_add_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
