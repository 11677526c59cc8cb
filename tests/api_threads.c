/* api_threads.c -- the thread count never changes a result (public API only).
 *
 * A randomized multi-canister workload (updates that burn instructions,
 * increment counters, print, trap, call each other and a canister on another
 * subnet, heartbeats, long executions sliced across rounds, a round budget
 * that runs out) is executed on engines with 1, 2, 4 and 8 worker threads.
 * Every byte the host can observe is recorded in a transcript: per round the
 * state hash, every ingress result, every xnet message, every per-canister
 * figure, and the debug output in the order it was delivered.  The
 * transcripts must be identical.  The workload is checked to exercise what
 * it claims (replies, rejects, xnet output, DTS, several cores busy). */
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
#define NCAN 10

/* ---- a growable transcript ------------------------------------------------------------ */

typedef struct Buf {
  uint8_t *p;
  size_t n, cap;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
  if (b->cap - b->n < n) {
    size_t nc = b->cap ? b->cap : 4096;
    while (nc - b->n < n) nc *= 2;
    b->p = realloc(b->p, nc);
    assert_non_null(b->p);
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}
static void put64(Buf *b, uint64_t v) { put(b, &v, sizeof v); }

/* ---- deterministic pseudo-random numbers (splitmix64) ---------------------------------- */

static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint64_t below(uint64_t *s, uint64_t n) { return rnd(s) % n; }

/* ---- one run ----------------------------------------------------------------------------- */

typedef struct Run {
  Buf t;          /* the transcript */
  Buf dbg;        /* debug output (also in t, per round) */
  uint64_t replied, rejected, xnet, delayed, busy_rounds, instructions;
} Run;

static void on_print(void *ud, const struct icx_principal *canister, const uint8_t *msg,
                     size_t len) {
  Run *r = ud;
  put(&r->dbg, canister->bytes, canister->len);
  put64(&r->dbg, len);
  put(&r->dbg, msg, len);
}

/* A random update script for canister k of n (ids can[]). */
static void random_script(uint64_t *seed, const icx_principal *can, int k, uc_script *s) {
  uc_init(s);
  char text[64];
  snprintf(text, sizeof text, "c%d says %llu", k, (unsigned long long)below(seed, 1000));
  uc_push_str(s, text);
  uc_debug_print(s);
  uint64_t kind = below(seed, 100);
  /* work: mostly small, sometimes long enough to be sliced (DTS) */
  uint64_t iters = kind < 5 ? 2000000 + below(seed, 6000000) : below(seed, 30000);
  uc_push_int(s, iters);
  uc_burn(s);
  uc_counter_inc(s);
  uc_drop(s);
  if (kind >= 5 && kind < 40) {
    /* call another canister of the subnet; its callback replies with the
     * callee's answer */
    const icx_principal *to = &can[below(seed, NCAN)];
    uc_script inner, cb, rj;
    uc_init(&inner);
    uc_push_str(&inner, "callee");
    uc_debug_print(&inner);
    uc_push_int(&inner, below(seed, 20000));
    uc_burn(&inner);
    uc_counter_inc(&inner);
    uc_reply_data_append(&inner);
    uc_reply(&inner);
    uc_init(&cb);
    uc_msg_arg_data(&cb);
    uc_reply_data_append(&cb);
    uc_reply(&cb);
    uc_init(&rj);
    uc_msg_reject_msg(&rj);
    uc_reject(&rj);
    uc_call_begin(s, to->bytes, to->len, "update", &cb, &rj, &inner);
    uc_call_perform(s);
    uc_drop(s);
    uc_free(&inner);
    uc_free(&cb);
    uc_free(&rj);
    return;
  }
  if (kind >= 40 && kind < 48) {
    /* a canister on another subnet: the request leaves as xnet output; the
     * call stays open */
    icx_principal remote;
    assert_int_equal(icx_principal_from_canister_index((1ull << 20) + below(seed, 4), &remote),
                     ICX_OK);
    uc_script cb;
    uc_init(&cb);
    uc_msg_arg_data(&cb);
    uc_reply_data_append(&cb);
    uc_reply(&cb);
    uc_call_begin(s, remote.bytes, remote.len, "remote", &cb, &cb, NULL);
    uc_push_int(s, 1000);
    uc_call_cycles_add(s);
    uc_call_perform(s);
    uc_drop(s);
    uc_free(&cb);
    return;
  }
  if (kind >= 48 && kind < 55) {
    uc_trap_str(s, "random trap");
    return;
  }
  if (kind >= 55 && kind < 62) {
    uc_reject_str(s, "random reject");
    return;
  }
  uc_counter_get(s);
  uc_reply_data_append(s);
  uc_reply(s);
}

static icx_round_output *exec(icx_engine *e, icx_state *st, icx_batch *b) {
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(e, st, b, &o);
  if (rc != ICX_OK) fail_msg("icx_execute_round: %s", icx_errmsg(e));
  icx_batch_free(b);
  return o;
}

/* Record everything observable of output o (and the debug output of the
 * round) in r->t. */
static void record(Run *r, icx_round_output *o, uint64_t round, const icx_message_id *sent,
                   const uint64_t *sent_round, size_t nsent) {
  uint8_t h[32];
  assert_int_equal(icx_round_output_state_hash(o, h), ICX_OK);
  put64(&r->t, round);
  put(&r->t, h, 32);
  put64(&r->t, icx_round_output_instructions(o));
  r->instructions += icx_round_output_instructions(o);
  for (uint64_t j = 0; j < icx_round_output_ingress_count(o); j++) {
    icx_ingress_result x;
    memset(&x, 0, sizeof x);
    x.struct_size = sizeof x;
    assert_int_equal(icx_round_output_ingress(o, j, &x), ICX_OK);
    put(&r->t, x.id.bytes, 32);
    put64(&r->t, x.status);
    put64(&r->t, x.reject_code);
    put64(&r->t, x.error_code);
    put64(&r->t, x.len);
    put(&r->t, x.data, x.len);
    if (x.status == ICX_INGRESS_REPLIED)
      r->replied++;
    else
      r->rejected++;
    for (size_t i = 0; i < nsent; i++)
      if (memcmp(sent[i].bytes, x.id.bytes, 32) == 0 && sent_round[i] < round) r->delayed++;
  }
  for (uint64_t j = 0; j < icx_round_output_xnet_count(o); j++) {
    icx_xnet_message x;
    memset(&x, 0, sizeof x);
    x.struct_size = sizeof x;
    assert_int_equal(icx_round_output_xnet(o, j, &x), ICX_OK);
    put64(&r->t, x.kind);
    put(&r->t, x.src.bytes, x.src.len);
    put(&r->t, x.dst.bytes, x.dst.len);
    put(&r->t, x.method, strlen(x.method));
    put(&r->t, x.data, x.len);
    put64(&r->t, x.cycles_lo);
    put64(&r->t, x.callback);
    put64(&r->t, x.reject_code);
    r->xnet++;
  }
  uint64_t nc = icx_round_output_canister_count(o);
  if (nc > 1) r->busy_rounds++;
  for (uint64_t j = 0; j < nc; j++) {
    icx_canister_round_stats cs;
    memset(&cs, 0, sizeof cs);
    cs.struct_size = sizeof cs;
    assert_int_equal(icx_round_output_canister(o, j, &cs), ICX_OK);
    put(&r->t, cs.canister.bytes, cs.canister.len);
    put64(&r->t, cs.instructions);
    put64(&r->t, cs.executions);
    put64(&r->t, cs.cycles_lo);
  }
  put64(&r->t, r->dbg.n);
  put(&r->t, r->dbg.p, r->dbg.n);
  r->dbg.n = 0;
}

/* The workload of `seed` over `rounds` rounds with `threads` threads. */
static void run_workload(uint32_t threads, uint64_t seed, int rounds, Run *r) {
  memset(r, 0, sizeof *r);
  icx_engine_opts opts;
  icx_engine_opts_init(&opts);
  opts.threads = threads;
  opts.subnet_type = ICX_SUBNET_TYPE_APPLICATION; /* fees charged */
  opts.max_instructions_slice = 5000000;           /* small: long updates are sliced */
  opts.max_instructions_install_slice = 50000000;
  opts.max_instructions_round = 60000000; /* per core: the budget runs out */
  opts.debug_print = on_print;
  opts.debug_print_ud = r;
  icx_engine *e = NULL;
  icx_state *st = NULL;
  assert_int_equal(icx_engine_new(&opts, &e), ICX_OK);
  assert_int_equal(icx_state_new(e, &st), ICX_OK);
  size_t wasm_len = 0;
  uint8_t *wasm = icxt_read_file(ICX_TEST_CANISTER_DIR "/uc.wasm", &wasm_len);
  icx_principal user, can[NCAN];
  static const uint8_t der[] = "api_threads user";
  assert_int_equal(icx_principal_self_authenticating(der, sizeof der, &user), ICX_OK);
  uint64_t round = 0, time = T0;
  const uint8_t sig[3] = {'t', 'h', 'r'};

  /* create and install the canisters, some with a heartbeat hook */
  icx_batch *b = NULL;
  assert_int_equal(icx_batch_new(e, ++round, time += SECOND, sig, sizeof sig, &b), ICX_OK);
  for (int k = 0; k < NCAN; k++) {
    assert_int_equal(icx_principal_from_canister_index((uint64_t)k, &can[k]), ICX_OK);
    assert_int_equal(icx_batch_add_create_canister(b, &user, 0, 100000000000000ull, NULL, NULL),
                     ICX_OK);
  }
  icx_round_output *o = exec(e, st, b);
  record(r, o, round, NULL, NULL, 0);
  icx_round_output_free(o);
  assert_int_equal(icx_batch_new(e, ++round, time += SECOND, sig, sizeof sig, &b), ICX_OK);
  for (int k = 0; k < NCAN; k++) {
    uc_script init;
    uc_init(&init);
    if (k % 3 == 0) {
      uc_script hb;
      uc_init(&hb);
      uc_push_int(&hb, 2000 + 100 * (uint64_t)k);
      uc_burn(&hb);
      uc_counter_inc(&hb);
      uc_drop(&hb);
      uc_push_str(&hb, "beat");
      uc_debug_print(&hb);
      uc_push_int(&init, UC_HOOK_HEARTBEAT);
      uc_push_script(&init, &hb);
      uc_set_hook(&init);
      uc_free(&hb);
    }
    assert_int_equal(icx_batch_add_install_code(b, &user, &can[k], ICX_MODE_INSTALL, wasm,
                                                wasm_len, init.p, init.len, NULL),
                     ICX_OK);
    uc_free(&init);
  }
  o = exec(e, st, b);
  assert_int_equal(icx_round_output_ingress_count(o), NCAN);
  record(r, o, round, NULL, NULL, 0);
  icx_round_output_free(o);
  free(wasm);

  /* the traffic */
  enum { MAXSENT = 4096 };
  icx_message_id *sent = calloc(MAXSENT, sizeof *sent);
  uint64_t *sent_round = calloc(MAXSENT, sizeof *sent_round);
  size_t nsent = 0;
  for (int i = 0; i < rounds; i++) {
    assert_int_equal(icx_batch_new(e, ++round, time += SECOND / 2, sig, sizeof sig, &b), ICX_OK);
    uint64_t n = i < rounds - 4 ? below(&seed, 40) : 0; /* quiet rounds at the end */
    for (uint64_t j = 0; j < n; j++) {
      int k = (int)below(&seed, NCAN);
      uc_script s;
      random_script(&seed, can, k, &s);
      icx_message_id id;
      assert_int_equal(icx_batch_add_ingress(b, &user, &can[k], "update", s.p, s.len, &id),
                       ICX_OK);
      uc_free(&s);
      if (nsent < MAXSENT) {
        sent[nsent] = id;
        sent_round[nsent++] = round;
      }
    }
    o = exec(e, st, b);
    record(r, o, round, sent, sent_round, nsent);
    icx_round_output_free(o);
  }
  uint8_t h[32];
  assert_int_equal(icx_state_hash(st, h), ICX_OK);
  put(&r->t, h, 32);
  free(sent);
  free(sent_round);
  icx_state_free(st);
  icx_engine_free(e);
}

static void free_run(Run *r) {
  free(r->t.p);
  free(r->dbg.p);
}

/* 1, 2, 4 and 8 threads: identical transcripts, for two seeds. */
static void test_threads_bit_identical(void **state) {
  (void)state;
  static const uint32_t counts[] = {1, 2, 4, 8};
  for (uint64_t seed = 1; seed <= 2; seed++) {
    Run base;
    run_workload(1, seed * 7919, 24, &base);
    fprintf(stderr, "replied %llu rejected %llu xnet %llu delayed %llu busy %llu instr %llu\n", (unsigned long long)base.replied, (unsigned long long)base.rejected, (unsigned long long)base.xnet, (unsigned long long)base.delayed, (unsigned long long)base.busy_rounds, (unsigned long long)base.instructions);
    /* the workload does what it claims */
    assert_true(base.replied > 50);
    assert_true(base.rejected > 5);
    assert_true(base.xnet > 0);
    assert_true(base.delayed > 0);     /* sliced or out of budget: answered later */
    assert_true(base.busy_rounds > 10); /* several canisters (so cores) per round */
    assert_true(base.instructions > 100000000ull);
    for (size_t i = 1; i < sizeof counts / sizeof counts[0]; i++) {
      Run other;
      run_workload(counts[i], seed * 7919, 24, &other);
      if (other.t.n != base.t.n || memcmp(other.t.p, base.t.p, base.t.n) != 0) {
        size_t at = 0;
        while (at < base.t.n && at < other.t.n && base.t.p[at] == other.t.p[at]) at++;
        fail_msg("seed %llu: %u threads differ from 1 thread at transcript byte %zu of %zu",
                 (unsigned long long)seed, counts[i], at, base.t.n);
      }
      free_run(&other);
    }
    free_run(&base);
  }
}

/* Engine options: a thread count beyond the limit is refused. */
static void test_threads_option_checked(void **state) {
  (void)state;
  icx_engine_opts opts;
  icx_engine_opts_init(&opts);
  opts.threads = 100000;
  icx_engine *e = NULL;
  assert_int_equal(icx_engine_new(&opts, &e), ICX_EINVAL);
  assert_null(e);
  opts.threads = 3; /* any count works, also one that does not divide the cores */
  assert_int_equal(icx_engine_new(&opts, &e), ICX_OK);
  icx_engine_free(e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_threads_bit_identical),
      cmocka_unit_test(test_threads_option_checked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
