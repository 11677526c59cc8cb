/* round.c -- round benchmark through the public API (include/icexec.h).
 *
 *   build/bench/round [--quick]        (make bench-round; make bench prints it too)
 *
 * (a) Many small update messages: 8 canisters running the counter canister
 *     below, 1000 ingress messages per batch (round-robin), 100 measured
 *     rounds after 2 warm-up rounds, timed around icx_execute_round (wall
 *     clock; induction, scheduling, execution, output and state hash are
 *     all inside).  Once with threads = 1, once with threads = the CPUs
 *     online (icx_engine_opts.threads), once with a method that only
 *     replies.  Every reply is checked, and each canister's last reply must
 *     equal the number of increments sent to it.  The runtime's overhead
 *     per message is the round time per inc message minus the time of the
 *     same Wasm body (without the System API) run by icx_instance_call on a
 *     metered module.
 * (b) A CPU-heavy round: 8 canisters each run burn(n) (a multiply-add loop
 *     of n iterations, about 60M instructions each) in one round; the
 *     median of 5 rounds with threads = 1 and threads = 2; every result is
 *     checked against the loop computed in C, and the instruction counts
 *     of the two must be equal.
 *
 * --quick runs everything at tiny sizes: the checks only (make check).
 *
 * The canister, as wat2wasm makes it (bytes below) from:
 *
 *   (module
 *     (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
 *     (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
 *     (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
 *     (import "ic0" "msg_reply" (func $reply))
 *     (memory 1)
 *     ;; inc: the counter at address 0 += 1; replies the counter (8 bytes)
 *     (func (export "canister_update inc")
 *       (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1)))
 *       (call $append (i32.const 0) (i32.const 8))
 *       (call $reply))
 *     ;; empty: replies nothing
 *     (func (export "canister_update empty")
 *       (call $reply))
 *     ;; burn(n): n rounds of a multiply-add loop, replies the result
 *     (func (export "canister_update burn") (local $n i64) (local $acc i64)
 *       (call $arg_copy (i32.const 8) (i32.const 0) (i32.const 8))
 *       (local.set $n (i64.load (i32.const 8)))
 *       (block $done
 *         (loop $l
 *           (br_if $done (i64.eqz (local.get $n)))
 *           (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 6364136223846793005))
 *                                    (local.get $n)))
 *           (local.set $n (i64.sub (local.get $n) (i64.const 1)))
 *           (br $l)))
 *       (i64.store (i32.const 8) (local.get $acc))
 *       (call $append (i32.const 8) (i32.const 8))
 *       (call $reply)))
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "icexec.h"

static const uint8_t counter_wasm[] = {
    /* magic, version */
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    /* type section */
    0x01, 0x13, 0x04, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x03, 0x7f, 0x7f, 0x7f,
    0x00, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60, 0x00, 0x00,
    /* import section */
    0x02, 0x5d, 0x04, 0x03, 0x69, 0x63, 0x30, 0x11, 0x6d, 0x73, 0x67, 0x5f,
    0x61, 0x72, 0x67, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x73, 0x69, 0x7a,
    0x65, 0x00, 0x00, 0x03, 0x69, 0x63, 0x30, 0x11, 0x6d, 0x73, 0x67, 0x5f,
    0x61, 0x72, 0x67, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x63, 0x6f, 0x70,
    0x79, 0x00, 0x01, 0x03, 0x69, 0x63, 0x30, 0x15, 0x6d, 0x73, 0x67, 0x5f,
    0x72, 0x65, 0x70, 0x6c, 0x79, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x61,
    0x70, 0x70, 0x65, 0x6e, 0x64, 0x00, 0x02, 0x03, 0x69, 0x63, 0x30, 0x09,
    0x6d, 0x73, 0x67, 0x5f, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x00, 0x03,
    /* function section */
    0x03, 0x04, 0x03, 0x03, 0x03, 0x03,
    /* memory section */
    0x05, 0x03, 0x01, 0x00, 0x01,
    /* export section */
    0x07, 0x46, 0x03, 0x13, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72,
    0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x69, 0x6e, 0x63, 0x00,
    0x04, 0x15, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x75,
    0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x65, 0x6d, 0x70, 0x74, 0x79, 0x00,
    0x05, 0x14, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x75,
    0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x62, 0x75, 0x72, 0x6e, 0x00, 0x06,
    /* code section */
    0x0a, 0x68, 0x03, 0x17, 0x00, 0x41, 0x00, 0x41, 0x00, 0x29, 0x03, 0x00,
    0x42, 0x01, 0x7c, 0x37, 0x03, 0x00, 0x41, 0x00, 0x41, 0x08, 0x10, 0x02,
    0x10, 0x03, 0x0b, 0x04, 0x00, 0x10, 0x03, 0x0b, 0x49, 0x01, 0x02, 0x7e,
    0x41, 0x08, 0x41, 0x00, 0x41, 0x08, 0x10, 0x01, 0x41, 0x08, 0x29, 0x03,
    0x00, 0x21, 0x00, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x50, 0x0d, 0x01,
    0x20, 0x01, 0x42, 0xad, 0xfe, 0xd5, 0xe4, 0xd4, 0x85, 0xfd, 0xa8, 0xd8,
    0x00, 0x7e, 0x20, 0x00, 0x7c, 0x21, 0x01, 0x20, 0x00, 0x42, 0x01, 0x7d,
    0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x41, 0x08, 0x20, 0x01, 0x37, 0x03,
    0x00, 0x41, 0x08, 0x41, 0x08, 0x10, 0x02, 0x10, 0x03, 0x0b,
};

/* The Wasm bodies of inc and burn without the System API, for
 * icx_instance_call (instances take no imports). */
static const char direct_wat[] =
    "(module (memory 1)\n"
    "  (func (export \"inc\")\n"
    "    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1))))\n"
    "  (func (export \"burn\") (param $n i64) (result i64) (local $acc i64)\n"
    "    (block $done\n"
    "      (loop $l\n"
    "        (br_if $done (i64.eqz (local.get $n)))\n"
    "        (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 6364136223846793005))\n"
    "                                 (local.get $n)))\n"
    "        (local.set $n (i64.sub (local.get $n) (i64.const 1)))\n"
    "        (br $l)))\n"
    "    (local.get $acc)))\n";

#define T0 1700000000000000000ull
#define SECOND 1000000000ull
#define MAX_CANISTERS 64

typedef struct Bench {
  icx_engine *e;
  icx_state *s;
  icx_principal user;
  icx_principal canisters[MAX_CANISTERS];
  uint32_t ncanisters;
} Bench;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const Bench *b, const char *what, icx_status rc) {
  fprintf(stderr, "round bench: FAIL: %s: %s: %s\n", what, icx_strerror(rc),
          b ? icx_errmsg(b->e) : "");
  exit(1);
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static icx_batch *new_batch(Bench *b) {
  icx_batch *batch = NULL;
  uint64_t r = icx_state_round(b->s) + 1;
  icx_status rc = icx_batch_new(b->e, r, T0 + r * SECOND, (const uint8_t *)"bench", 5, &batch);
  if (rc != ICX_OK) die(b, "icx_batch_new", rc);
  return batch;
}

static icx_round_output *execute(Bench *b, icx_batch *batch) {
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(b->e, b->s, batch, &o);
  if (rc != ICX_OK) die(b, "icx_execute_round", rc);
  return o;
}

/* Every ingress message of the output must be replied; returns how many. */
static uint64_t replied(const Bench *b, const icx_round_output *o, uint64_t expect) {
  uint64_t n = icx_round_output_ingress_count(o);
  for (uint64_t i = 0; i < n; i++) {
    icx_ingress_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    icx_status rc = icx_round_output_ingress(o, i, &r);
    if (rc != ICX_OK) die(b, "icx_round_output_ingress", rc);
    if (r.status != ICX_INGRESS_REPLIED) {
      fprintf(stderr, "round bench: FAIL: a message was rejected: IC%04u %.*s\n",
              (unsigned)r.error_code, (int)r.len, (const char *)r.data);
      exit(1);
    }
  }
  if (n != expect) {
    fprintf(stderr, "round bench: FAIL: %llu of %llu messages completed in the round\n",
            (unsigned long long)n, (unsigned long long)expect);
    exit(1);
  }
  return n;
}

/* An engine with `threads` worker threads and n canisters running the
 * counter canister. */
static void setup(Bench *b, uint32_t threads, uint32_t n) {
  icx_engine_opts o;
  icx_status rc;
  icx_message_id ids[MAX_CANISTERS];
  memset(b, 0, sizeof *b);
  icx_engine_opts_init(&o);
  o.threads = threads;
  if ((rc = icx_engine_new(&o, &b->e)) != ICX_OK) die(NULL, "icx_engine_new", rc);
  if ((rc = icx_state_new(b->e, &b->s)) != ICX_OK) die(b, "icx_state_new", rc);
  if ((rc = icx_principal_self_authenticating((const uint8_t *)"bench", 5, &b->user)) != ICX_OK)
    die(b, "principal", rc);
  b->ncanisters = n;
  icx_batch *batch = new_batch(b);
  for (uint32_t i = 0; i < n; i++)
    if ((rc = icx_batch_add_create_canister(batch, &b->user, 0, 1000000000000000ull, NULL,
                                            &ids[i])) != ICX_OK)
      die(b, "create", rc);
  icx_round_output *out = execute(b, batch);
  icx_batch_free(batch);
  for (uint32_t i = 0; i < n; i++) {
    icx_ingress_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    if ((rc = icx_round_output_find_ingress(out, &ids[i], &r)) != ICX_OK ||
        r.status != ICX_INGRESS_REPLIED ||
        (rc = icx_reply_canister_id(r.data, r.len, &b->canisters[i])) != ICX_OK)
      die(b, "canister creation", rc ? rc : ICX_EINTERNAL);
  }
  icx_round_output_free(out);
  batch = new_batch(b);
  for (uint32_t i = 0; i < n; i++)
    if ((rc = icx_batch_add_install_code(batch, &b->user, &b->canisters[i], ICX_MODE_INSTALL,
                                         counter_wasm, sizeof counter_wasm, NULL, 0, NULL)) !=
        ICX_OK)
      die(b, "install", rc);
  out = execute(b, batch);
  icx_batch_free(batch);
  replied(b, out, n);
  icx_round_output_free(out);
}

static void teardown(Bench *b) {
  icx_state_free(b->s);
  icx_engine_free(b->e);
}

/* ---- (a) many small messages ---------------------------------------------- */

typedef struct Rate {
  double exec_s, build_s, cpu_s; /* icx_execute_round wall, batch building wall, CPU */
  uint64_t msgs;
} Rate;

/* `rounds` rounds of `per_round` calls of method, round-robin over the
 * canisters (plus 2 warm-up rounds).  Checks every reply; for inc, that
 * each canister's counter went up by exactly its messages. */
static Rate small_messages(uint32_t threads, uint32_t ncan, const char *method, uint32_t rounds,
                           uint32_t per_round) {
  Bench b;
  Rate rate = {0, 0, 0, 0};
  uint64_t sent[MAX_CANISTERS] = {0};
  int inc = strcmp(method, "inc") == 0;
  setup(&b, threads, ncan);
  for (uint32_t r = 0; r < rounds + 2; r++) {
    icx_message_id last[MAX_CANISTERS];
    double t0 = now();
    icx_batch *batch = new_batch(&b);
    for (uint32_t i = 0; i < per_round; i++) {
      uint32_t c = i % ncan;
      icx_status rc = icx_batch_add_ingress(batch, &b.user, &b.canisters[c], method, NULL, 0,
                                            &last[c]);
      if (rc != ICX_OK) die(&b, "icx_batch_add_ingress", rc);
      sent[c]++;
    }
    double t1 = now(), c1 = cpu_now();
    icx_round_output *o = execute(&b, batch);
    double t2 = now(), c2 = cpu_now();
    replied(&b, o, per_round);
    if (inc) {
      for (uint32_t c = 0; c < ncan && c < per_round; c++) {
        icx_ingress_result res;
        memset(&res, 0, sizeof res);
        res.struct_size = sizeof res;
        if (icx_round_output_find_ingress(o, &last[c], &res) != ICX_OK || res.len != 8 ||
            get64(res.data) != sent[c]) {
          fprintf(stderr, "round bench: FAIL: canister %u counts %llu, sent %llu\n", c,
                  res.len == 8 ? (unsigned long long)get64(res.data) : 0ull,
                  (unsigned long long)sent[c]);
          exit(1);
        }
      }
    }
    icx_round_output_free(o);
    icx_batch_free(batch);
    if (r >= 2) { /* after the warm-up */
      rate.build_s += t1 - t0;
      rate.exec_s += t2 - t1;
      rate.cpu_s += c2 - c1;
      rate.msgs += per_round;
    }
  }
  teardown(&b);
  return rate;
}

/* Seconds per icx_instance_call of export name (no arguments) of the
 * direct module, metered as canisters are. */
static double direct_call(const char *name, uint64_t calls) {
  icx_engine *e = NULL;
  icx_module *m = NULL;
  icx_instance *inst = NULL;
  icx_call_result res = ICX_CALL_RESULT_INIT;
  icx_status rc;
  if ((rc = icx_engine_new(NULL, &e)) != ICX_OK) die(NULL, "icx_engine_new", rc);
  if ((rc = icx_module_new_wat(e, direct_wat, sizeof direct_wat - 1, ICX_MODULE_METER, &m)) !=
          ICX_OK ||
      (rc = icx_instance_new(e, m, &inst)) != ICX_OK) {
    fprintf(stderr, "round bench: FAIL: direct module: %s\n", icx_errmsg(e));
    exit(1);
  }
  double t0 = now();
  for (uint64_t i = 0; i < calls; i++) {
    if ((rc = icx_instance_call(inst, name, NULL, 0, NULL, 0, &res)) != ICX_OK || res.trapped) {
      fprintf(stderr, "round bench: FAIL: icx_instance_call: %s\n", icx_errmsg(e));
      exit(1);
    }
  }
  double t = (now() - t0) / (double)calls;
  icx_instance_free(inst);
  icx_module_free(m);
  icx_engine_free(e);
  return t;
}

/* ---- (b) a CPU-heavy round -------------------------------------------------- */

/* Median wall seconds of `reps` rounds in which each of ncan canisters
 * runs burn(n) once; *instr gets the round's instruction count. */
static double heavy_round(uint32_t threads, uint32_t ncan, uint64_t n, int reps,
                          uint64_t *instr) {
  Bench b;
  double t[16];
  uint8_t arg[8];
  uint64_t expect = 0;
  setup(&b, threads, ncan);
  put64(arg, n);
  for (uint64_t k = n; k; k--) expect = expect * 6364136223846793005ull + k;
  for (int r = 0; r < reps; r++) {
    icx_message_id ids[MAX_CANISTERS];
    icx_batch *batch = new_batch(&b);
    for (uint32_t c = 0; c < ncan; c++) {
      icx_status rc = icx_batch_add_ingress(batch, &b.user, &b.canisters[c], "burn", arg, 8,
                                            &ids[c]);
      if (rc != ICX_OK) die(&b, "icx_batch_add_ingress", rc);
    }
    double t0 = now();
    icx_round_output *o = execute(&b, batch);
    t[r] = now() - t0;
    replied(&b, o, ncan);
    for (uint32_t c = 0; c < ncan; c++) {
      icx_ingress_result res;
      memset(&res, 0, sizeof res);
      res.struct_size = sizeof res;
      if (icx_round_output_find_ingress(o, &ids[c], &res) != ICX_OK || res.len != 8 ||
          get64(res.data) != expect) {
        fprintf(stderr, "round bench: FAIL: burn gave a wrong result\n");
        exit(1);
      }
    }
    *instr = icx_round_output_instructions(o);
    icx_round_output_free(o);
    icx_batch_free(batch);
  }
  teardown(&b);
  for (int i = 1; i < reps; i++) /* insertion sort, then the median */
    for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
      double x = t[j];
      t[j] = t[j - 1];
      t[j - 1] = x;
    }
  return t[reps / 2];
}

static double loadavg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &l) != 1) l = -1;
    fclose(f);
  }
  return l;
}

int main(int argc, char **argv) {
  int quick = 0, part_a = 1, part_b = 1;
  uint32_t rounds = 100;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1, rounds = 2;
    else if (strcmp(argv[i], "--throughput") == 0) part_b = 0;
    else if (strcmp(argv[i], "--heavy") == 0) part_a = 0;
    else if (strncmp(argv[i], "--rounds=", 9) == 0 && atoi(argv[i] + 9) > 0)
      rounds = (uint32_t)atoi(argv[i] + 9);
    else {
      fprintf(stderr, "usage: round [--quick] [--throughput | --heavy] [--rounds=N]\n"
                      "  --quick: tiny sizes, the checks only (make check)\n"
                      "  --throughput, --heavy: only part (a) or (b); --rounds: measured rounds "
                      "of (a), default 100\n");
      return 2;
    }
  }
  uint32_t all = cpus > 1 ? (uint32_t)cpus : 1;
  const uint32_t ncan = 8, per_round = 1000;
  uint64_t burn_n = quick ? 20000 : 6000000;
  int reps = quick ? 1 : 5;

  printf("round bench: %u canisters, %u ingress messages per batch, %u measured rounds; %ld "
         "CPUs online, load average %.2f\n", ncan, per_round, rounds, cpus, loadavg());
  if (part_a) {
    Rate r1 = small_messages(1, ncan, "inc", rounds, per_round);
    Rate rn = small_messages(all, ncan, "inc", rounds, per_round);
    Rate re = small_messages(1, ncan, "empty", rounds, per_round);
    double per_msg = r1.cpu_s / (double)r1.msgs;
    double per_empty = re.cpu_s / (double)re.msgs;
    double body = direct_call("inc", quick ? 1000 : 2000000);
    printf("round throughput: %.0f msgs/s (1 thread)\n", (double)r1.msgs / r1.exec_s);
    printf("round throughput: %.0f msgs/s (%u threads)\n", (double)rn.msgs / rn.exec_s, all);
    printf("  counter-increment updates with an 8-byte reply; wall time of icx_execute_round "
           "(building the batches: %.2f us/msg more)\n", r1.build_s / (double)r1.msgs * 1e6);
    printf("round throughput per core: %.0f msgs per CPU second (1 thread; CPU/wall %.2f), "
           "%.0f (%u threads; CPU/wall %.2f)\n", (double)r1.msgs / r1.cpu_s, r1.cpu_s / r1.exec_s,
           (double)rn.msgs / rn.cpu_s, all, rn.cpu_s / rn.exec_s);
    printf("per-message CPU time: %.2f us (inc), %.2f us (empty method, reply only); the inc "
           "body called directly: %.3f us\n", per_msg * 1e6, per_empty * 1e6, body * 1e6);
    printf("runtime overhead per message: %.2f us = CPU time per inc message in a round - the "
           "same Wasm body run by icx_instance_call (%.1f%% of the message's time is its Wasm "
           "code)\n", (per_msg - body) * 1e6, body / per_msg * 100.0);
    printf("  of which %.2f us come with the write: inc - empty, i.e. committing the message's "
           "dirty page (empty writes no memory)\n", (per_msg - per_empty) * 1e6);
  }
  if (part_b) {
    uint64_t i1 = 0, i2 = 0;
    double h1 = heavy_round(1, ncan, burn_n, reps, &i1);
    double h2 = heavy_round(2, ncan, burn_n, reps, &i2);
    if (i1 != i2) {
      fprintf(stderr, "round bench: FAIL: instruction counts differ with 2 threads\n");
      return 1;
    }
    printf("heavy round: %u canisters x burn(%llu), %.2f G instructions: %.3f s (1 thread), "
           "%.3f s (2 threads), wall, median of %d\n", ncan, (unsigned long long)burn_n,
           (double)i1 / 1e9, h1, h2, reps);
    printf("parallel speedup (2 threads): %.2fx\n", h1 / h2);
  }
  printf("load average at the end: %.2f\n", loadavg());
  if (quick) printf("round bench: ok (quick run: checks only, the figures mean nothing)\n");
  return 0;
}
