/* replica.c -- a replica-style loop over many rounds, with checkpoints and a
 * crash and restart, checked against an uninterrupted run.
 *
 *   replica [--seed=S] [--rounds=R] [--canisters=C] [--msgs=M]
 *           [--checkpoint-every=N] [--crash-after=X] [--threads=T]
 *           [--dir=D] [--fault=F] [--verbose] [SEED]
 *
 * Round 1 creates C canisters, round 2 installs the counter canister below
 * in each, and every later round carries up to M ingress messages drawn
 * from a deterministic pseudo-random generator: a round's batch depends
 * only on the seed and the round number (never on earlier outputs), so
 * any process can rebuild it.  The traffic mixes counter increments,
 * relays (the canister calls `inc` of another canister, possibly itself or
 * one that does not exist, and answers from its reply or reject callback),
 * reads, traps (the change is rolled back) and long loops that pause at
 * slice boundaries (the engine's slice is set small, so DTS spans rounds).
 *
 * 1. Reference: one engine runs all R rounds without interruption; every
 *    N-th round is a checkpoint round (icx_batch_set_checkpoint: paused
 *    executions are aborted at its end, as the IC does), and its state
 *    hash and a digest of its outputs are recorded per round.
 * 2. Replica: a second engine (T worker threads) runs rounds 1..X, saving
 *    the state into a temporary directory after every checkpoint round
 *    (icx_state_save, incremental), then "crashes": state and engine are
 *    freed.  A third engine restarts from the last checkpoint
 *    (icx_state_load) and replays the rounds after it up to R, saving
 *    checkpoints into the same directory as it goes.
 *
 * Every round of the replica (before the crash, the loaded checkpoint, and
 * every replayed round) must give the reference's state hash and output
 * digest; one line per round says so.  Exit status 0 if everything
 * matches, 1 on a mismatch or an error, 2 on bad usage.  --fault=F checks
 * the checker: the replica's batch of round F gets one message more, so
 * round F and the rounds after it must be reported as mismatches.
 *
 * The canister, as wat2wasm makes it (bytes below) from:
 *
 *   (module
 *     (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
 *     (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
 *     (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
 *     (import "ic0" "msg_reply" (func $reply))
 *     (import "ic0" "msg_reject" (func $reject (param i32 i32)))
 *     (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
 *     (import "ic0" "call_data_append" (func $call_append (param i32 i32)))
 *     (import "ic0" "call_perform" (func $call_perform (result i32)))
 *     ;; heap: 0 counter, 8 replies, 16 rejects (u64 each); 24 "inc";
 *     ;; 32 "call failed"; 64.. the argument
 *     (memory 1)
 *     (table 2 funcref)
 *     (elem (i32.const 0) $on_reply $on_reject)
 *     (data (i32.const 24) "inc")
 *     (data (i32.const 32) "call failed")
 *     ;; the argument at 64; its first 8 bytes (zero-padded) as a u64
 *     (func $arg (result i64)
 *       (i64.store (i32.const 64) (i64.const 0))
 *       (call $arg_copy (i32.const 64) (i32.const 0) (call $arg_size))
 *       (i64.load (i32.const 64)))
 *     (func $bump (param $a i32) (param $k i64)
 *       (i64.store (local.get $a) (i64.add (i64.load (local.get $a)) (local.get $k))))
 *     (func $reply_counter
 *       (call $append (i32.const 0) (i32.const 8))
 *       (call $reply))
 *     ;; inc(k): counter += k; reply the counter
 *     (func (export "canister_update inc")
 *       (call $bump (i32.const 0) (call $arg))
 *       (call $reply_counter))
 *     ;; relay(k ++ callee): call callee.inc(k); the callbacks answer
 *     (func (export "canister_update relay")
 *       (drop (call $arg))
 *       (call $call_new (i32.const 72) (i32.sub (call $arg_size) (i32.const 8))
 *                       (i32.const 24) (i32.const 3)
 *                       (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
 *       (call $call_append (i32.const 64) (i32.const 8))
 *       (if (call $call_perform)
 *         (then (call $reject (i32.const 32) (i32.const 11)))))
 *     ;; reply callback: count it, add 1, forward the callee's counter
 *     (func $on_reply (param i32)
 *       (call $bump (i32.const 8) (i64.const 1))
 *       (call $bump (i32.const 0) (i64.const 1))
 *       (call $arg_copy (i32.const 64) (i32.const 0) (call $arg_size))
 *       (call $append (i32.const 64) (call $arg_size))
 *       (call $reply))
 *     (func $on_reject (param i32)
 *       (call $bump (i32.const 16) (i64.const 1))
 *       (call $reject (i32.const 32) (i32.const 11)))
 *     ;; boom: changes the counter, then traps (the change is rolled back)
 *     (func (export "canister_update boom")
 *       (call $bump (i32.const 0) (i64.const 1000))
 *       unreachable)
 *     ;; burn(n): a loop of n iterations (long ones pause at slice ends),
 *     ;; then counter += 1
 *     (func (export "canister_update burn") (local $n i64) (local $acc i64)
 *       (local.set $n (call $arg))
 *       (block $done
 *         (loop $l
 *           (br_if $done (i64.eqz (local.get $n)))
 *           (local.set $acc (i64.add (local.get $acc) (i64.mul (local.get $n) (local.get $n))))
 *           (local.set $n (i64.sub (local.get $n) (i64.const 1)))
 *           (br $l)))
 *       (i64.store (i32.const 64) (local.get $acc))
 *       (call $bump (i32.const 0) (i64.const 1))
 *       (call $reply_counter))
 *     ;; get: counter, replies, rejects
 *     (func $get
 *       (call $append (i32.const 0) (i32.const 24))
 *       (call $reply))
 *     (export "canister_update get" (func $get))
 *     (export "canister_query read" (func $get)))
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */
#include <ftw.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <icexec.h>

static const uint8_t counter_wasm[] = {
    /* magic, version */
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    /* type section */
    0x01, 0x2b, 0x08, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x03, 0x7f, 0x7f, 0x7f,
    0x00, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60, 0x00, 0x00, 0x60, 0x08, 0x7f,
    0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00, 0x60, 0x00, 0x01, 0x7e,
    0x60, 0x02, 0x7f, 0x7e, 0x00, 0x60, 0x01, 0x7f, 0x00,
    /* import section */
    0x02, 0xa7, 0x01, 0x08, 0x03, 0x69, 0x63, 0x30, 0x11, 0x6d, 0x73, 0x67,
    0x5f, 0x61, 0x72, 0x67, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x73, 0x69,
    0x7a, 0x65, 0x00, 0x00, 0x03, 0x69, 0x63, 0x30, 0x11, 0x6d, 0x73, 0x67,
    0x5f, 0x61, 0x72, 0x67, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x63, 0x6f,
    0x70, 0x79, 0x00, 0x01, 0x03, 0x69, 0x63, 0x30, 0x15, 0x6d, 0x73, 0x67,
    0x5f, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f,
    0x61, 0x70, 0x70, 0x65, 0x6e, 0x64, 0x00, 0x02, 0x03, 0x69, 0x63, 0x30,
    0x09, 0x6d, 0x73, 0x67, 0x5f, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x00, 0x03,
    0x03, 0x69, 0x63, 0x30, 0x0a, 0x6d, 0x73, 0x67, 0x5f, 0x72, 0x65, 0x6a,
    0x65, 0x63, 0x74, 0x00, 0x02, 0x03, 0x69, 0x63, 0x30, 0x08, 0x63, 0x61,
    0x6c, 0x6c, 0x5f, 0x6e, 0x65, 0x77, 0x00, 0x04, 0x03, 0x69, 0x63, 0x30,
    0x10, 0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x61,
    0x70, 0x70, 0x65, 0x6e, 0x64, 0x00, 0x02, 0x03, 0x69, 0x63, 0x30, 0x0c,
    0x63, 0x61, 0x6c, 0x6c, 0x5f, 0x70, 0x65, 0x72, 0x66, 0x6f, 0x72, 0x6d,
    0x00, 0x00,
    /* function section */
    0x03, 0x0b, 0x0a, 0x05, 0x06, 0x03, 0x03, 0x03, 0x07, 0x07, 0x03, 0x03,
    0x03,
    /* 4 section */
    0x04, 0x04, 0x01, 0x70, 0x00, 0x02,
    /* memory section */
    0x05, 0x03, 0x01, 0x00, 0x01,
    /* export section */
    0x07, 0x89, 0x01, 0x06, 0x13, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65,
    0x72, 0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x69, 0x6e, 0x63,
    0x00, 0x0b, 0x15, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f,
    0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x72, 0x65, 0x6c, 0x61, 0x79,
    0x00, 0x0c, 0x14, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f,
    0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x62, 0x6f, 0x6f, 0x6d, 0x00,
    0x0f, 0x14, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x75,
    0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x62, 0x75, 0x72, 0x6e, 0x00, 0x10,
    0x13, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x75, 0x70,
    0x64, 0x61, 0x74, 0x65, 0x20, 0x67, 0x65, 0x74, 0x00, 0x11, 0x13, 0x63,
    0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72, 0x5f, 0x71, 0x75, 0x65, 0x72,
    0x79, 0x20, 0x72, 0x65, 0x61, 0x64, 0x00, 0x11,
    /* 9 section */
    0x09, 0x08, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x02, 0x0d, 0x0e,
    /* code section */
    0x0a, 0xec, 0x01, 0x0a, 0x19, 0x00, 0x41, 0xc0, 0x00, 0x42, 0x00, 0x37,
    0x03, 0x00, 0x41, 0xc0, 0x00, 0x41, 0x00, 0x10, 0x00, 0x10, 0x01, 0x41,
    0xc0, 0x00, 0x29, 0x03, 0x00, 0x0b, 0x0f, 0x00, 0x20, 0x00, 0x20, 0x00,
    0x29, 0x03, 0x00, 0x20, 0x01, 0x7c, 0x37, 0x03, 0x00, 0x0b, 0x0a, 0x00,
    0x41, 0x00, 0x41, 0x08, 0x10, 0x02, 0x10, 0x03, 0x0b, 0x0a, 0x00, 0x41,
    0x00, 0x10, 0x08, 0x10, 0x09, 0x10, 0x0a, 0x0b, 0x2d, 0x00, 0x10, 0x08,
    0x1a, 0x41, 0xc8, 0x00, 0x10, 0x00, 0x41, 0x08, 0x6b, 0x41, 0x18, 0x41,
    0x03, 0x41, 0x00, 0x41, 0x00, 0x41, 0x01, 0x41, 0x00, 0x10, 0x05, 0x41,
    0xc0, 0x00, 0x41, 0x08, 0x10, 0x06, 0x10, 0x07, 0x04, 0x40, 0x41, 0x20,
    0x41, 0x0b, 0x10, 0x04, 0x0b, 0x0b, 0x20, 0x00, 0x41, 0x08, 0x42, 0x01,
    0x10, 0x09, 0x41, 0x00, 0x42, 0x01, 0x10, 0x09, 0x41, 0xc0, 0x00, 0x41,
    0x00, 0x10, 0x00, 0x10, 0x01, 0x41, 0xc0, 0x00, 0x10, 0x00, 0x10, 0x02,
    0x10, 0x03, 0x0b, 0x0e, 0x00, 0x41, 0x10, 0x42, 0x01, 0x10, 0x09, 0x41,
    0x20, 0x41, 0x0b, 0x10, 0x04, 0x0b, 0x0a, 0x00, 0x41, 0x00, 0x42, 0xe8,
    0x07, 0x10, 0x09, 0x00, 0x0b, 0x36, 0x01, 0x02, 0x7e, 0x10, 0x08, 0x21,
    0x00, 0x02, 0x40, 0x03, 0x40, 0x20, 0x00, 0x50, 0x0d, 0x01, 0x20, 0x01,
    0x20, 0x00, 0x20, 0x00, 0x7e, 0x7c, 0x21, 0x01, 0x20, 0x00, 0x42, 0x01,
    0x7d, 0x21, 0x00, 0x0c, 0x00, 0x0b, 0x0b, 0x41, 0xc0, 0x00, 0x20, 0x01,
    0x37, 0x03, 0x00, 0x41, 0x00, 0x42, 0x01, 0x10, 0x09, 0x10, 0x0a, 0x0b,
    0x0a, 0x00, 0x41, 0x00, 0x41, 0x18, 0x10, 0x02, 0x10, 0x03, 0x0b,
    /* data section */
    0x0b, 0x19, 0x02, 0x00, 0x41, 0x18, 0x0b, 0x03, 0x69, 0x6e, 0x63, 0x00,
    0x41, 0x20, 0x0b, 0x0b, 0x63, 0x61, 0x6c, 0x6c, 0x20, 0x66, 0x61, 0x69,
    0x6c, 0x65, 0x64,
};

#define MAX_CANISTERS 64
#define USERS 3
#define T0 1700000000000000000ull /* block time of round 0, ns */
#define SECOND 1000000000ull
#define CANISTER_CYCLES 1000000000000000ull /* 10^15 each */
#define MISSING_INDEX 1000                  /* a canister index nobody creates */

typedef struct Config {
  uint64_t seed;
  uint32_t rounds, canisters, msgs, every, crash, threads;
  uint32_t fault; /* --fault: the replica's round with one message more */
  const char *dir;
  int verbose;
} Config;

/* What a round left: the state hash and a digest of everything it output. */
typedef struct Record {
  uint8_t hash[32];
  uint64_t digest;
  uint32_t replied, rejected;
} Record;

/* The identities every run shares. */
typedef struct World {
  icx_principal users[USERS];
  icx_principal canisters[MAX_CANISTERS];
  icx_principal missing;
} World;

/* ---- the generator ------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int failed(icx_engine *e, const char *what, icx_status rc) {
  fprintf(stderr, "replica: %s: %s: %s\n", what, icx_strerror(rc), icx_errmsg(e));
  return 0;
}

/* The batch of round r: a function of the seed and r only (plus one
 * message more if fault).  Setup rounds write their message ids to
 * setup_ids.  Returns 1 with *out, or 0. */
static int make_batch(const Config *cfg, const World *w, icx_engine *e, uint32_t r, int fault,
                      icx_message_id *setup_ids, icx_batch **out) {
  uint64_t g = cfg->seed ^ (uint64_t)r * 0xd1b54a32d192ed03ull;
  uint8_t sig[16], arg[8 + ICX_PRINCIPAL_MAX_BYTES];
  icx_batch *b = NULL;
  icx_status rc;
  put64(sig, splitmix(&g));
  put64(sig + 8, r);
  *out = NULL;
  if ((rc = icx_batch_new(e, r, T0 + r * SECOND, sig, sizeof sig, &b)) != ICX_OK)
    return failed(e, "icx_batch_new", rc);
  if (r % cfg->every == 0 && (rc = icx_batch_set_checkpoint(b, 1)) != ICX_OK) goto fail;
  if (r == 1) { /* create the canisters */
    for (uint32_t i = 0; i < cfg->canisters; i++)
      if ((rc = icx_batch_add_create_canister(b, &w->users[0], 0, CANISTER_CYCLES, NULL,
                                              &setup_ids[i])) != ICX_OK)
        goto fail;
  } else if (r == 2) { /* install the counter canister */
    for (uint32_t i = 0; i < cfg->canisters; i++)
      if ((rc = icx_batch_add_install_code(b, &w->users[0], &w->canisters[i], ICX_MODE_INSTALL,
                                           counter_wasm, sizeof counter_wasm, NULL, 0,
                                           &setup_ids[i])) != ICX_OK)
        goto fail;
  } else {
    uint32_t n = (uint32_t)(splitmix(&g) % (cfg->msgs + 1u));
    for (uint32_t i = 0; i < n; i++) {
      const icx_principal *from = &w->users[splitmix(&g) % USERS];
      const icx_principal *to = &w->canisters[splitmix(&g) % cfg->canisters];
      uint32_t kind = (uint32_t)(splitmix(&g) % 100);
      const char *method = "inc";
      size_t len = 8;
      put64(arg, 1 + splitmix(&g) % 100);
      if (kind < 40) {
        /* inc(k) */
      } else if (kind < 65) { /* relay(k ++ callee), 1 in 8 to a missing canister */
        const icx_principal *callee = splitmix(&g) % 8 == 0
                                          ? &w->missing
                                          : &w->canisters[splitmix(&g) % cfg->canisters];
        method = "relay";
        memcpy(arg + 8, callee->bytes, callee->len);
        len = 8 + callee->len;
      } else if (kind < 77) {
        method = "get";
        len = 0;
      } else if (kind < 85) {
        method = "boom";
      } else if (kind < 97) { /* burn(n): 1 in 4 long enough to pause (2-3 slices) */
        method = "burn";
        put64(arg, splitmix(&g) % 4 == 0 ? 1500000 + splitmix(&g) % 1000000
                                         : splitmix(&g) % 20000);
      } else {
        to = &w->missing; /* rejected at induction */
      }
      if ((rc = icx_batch_add_ingress(b, from, to, method, arg, len, NULL)) != ICX_OK) goto fail;
    }
  }
  if (fault) {
    put64(arg, 1);
    if ((rc = icx_batch_add_ingress(b, &w->users[0], &w->canisters[0], "inc", arg, 8, NULL)) !=
        ICX_OK)
      goto fail;
  }
  *out = b;
  return 1;
fail:
  icx_batch_free(b);
  return failed(e, "building a batch", rc);
}

/* ---- running rounds ------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const uint8_t *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
  return h;
}

static uint64_t fnv64(uint64_t h, uint64_t v) {
  uint8_t b[8];
  put64(b, v);
  return fnv(h, b, 8);
}

/* The setup rounds must have worked: creation gives canister i the id of
 * index i (the generator relies on it), installation replies. */
static int check_setup(const World *w, const icx_round_output *o, uint32_t r, uint32_t count,
                       const icx_message_id *ids) {
  for (uint32_t i = 0; i < count; i++) {
    icx_ingress_result res;
    icx_principal id;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    if (icx_round_output_find_ingress(o, &ids[i], &res) != ICX_OK ||
        res.status != ICX_INGRESS_REPLIED) {
      fprintf(stderr, "replica: round %u: %s of canister %u failed: %.*s\n", r,
              r == 1 ? "creation" : "installation", i, (int)res.len, (const char *)res.data);
      return 0;
    }
    if (r == 1 && (icx_reply_canister_id(res.data, res.len, &id) != ICX_OK ||
                   icx_principal_compare(&id, &w->canisters[i]) != 0)) {
      fprintf(stderr, "replica: canister %u was not created with the id of index %u\n", i, i);
      return 0;
    }
  }
  return 1;
}

/* Build and execute round r on state; fill *rec. */
static int run_round(const Config *cfg, const World *w, icx_engine *e, icx_state *s, uint32_t r,
                     int fault, Record *rec) {
  icx_message_id ids[MAX_CANISTERS];
  icx_batch *b = NULL;
  icx_round_output *o = NULL;
  icx_status rc;
  int ok = 0;
  if (!make_batch(cfg, w, e, r, fault, ids, &b)) return 0;
  rc = icx_execute_round(e, s, b, &o);
  icx_batch_free(b);
  if (rc != ICX_OK) return failed(e, "icx_execute_round", rc);
  if (r <= 2 && !check_setup(w, o, r, cfg->canisters, ids)) goto out;
  if ((rc = icx_round_output_state_hash(o, rec->hash)) != ICX_OK) {
    failed(e, "icx_round_output_state_hash", rc);
    goto out;
  }
  /* The digest: every ingress result in completion order, the xnet
   * count, instructions, and the per-canister figures. */
  uint64_t h = 0xcbf29ce484222325ull;
  uint64_t n = icx_round_output_ingress_count(o);
  rec->replied = rec->rejected = 0;
  for (uint64_t i = 0; i < n; i++) {
    icx_ingress_result res;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    if ((rc = icx_round_output_ingress(o, i, &res)) != ICX_OK) {
      failed(e, "icx_round_output_ingress", rc);
      goto out;
    }
    if (res.status == ICX_INGRESS_REPLIED) rec->replied++;
    else rec->rejected++;
    h = fnv(h, res.id.bytes, sizeof res.id.bytes);
    h = fnv64(h, (uint64_t)res.status << 32 | res.reject_code);
    h = fnv64(h, res.error_code);
    h = fnv64(h, res.len);
    h = fnv(h, res.data, res.len);
  }
  h = fnv64(h, icx_round_output_xnet_count(o));
  h = fnv64(h, icx_round_output_instructions(o));
  n = icx_round_output_canister_count(o);
  for (uint64_t i = 0; i < n; i++) {
    icx_canister_round_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    if ((rc = icx_round_output_canister(o, i, &st)) != ICX_OK) {
      failed(e, "icx_round_output_canister", rc);
      goto out;
    }
    h = fnv(h, st.canister.bytes, st.canister.len);
    h = fnv64(h, st.executions);
    h = fnv64(h, st.instructions);
    h = fnv64(h, st.cycles_hi);
    h = fnv64(h, st.cycles_lo);
  }
  rec->digest = h;
  ok = 1;
out:
  icx_round_output_free(o);
  return ok;
}

static icx_status engine_new(uint32_t threads, icx_engine **out) {
  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.threads = threads;
  /* small slices, so that the long burn messages pause and resume across
   * rounds (DTS) and checkpoint rounds abort some of them */
  o.max_instructions_slice = 10000000;
  o.max_instructions_install_slice = 50000000;
  o.max_instructions_round = 100000000;
  return icx_engine_new(&o, out);
}

static void hex(const uint8_t *p, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Save a checkpoint after checkpoint round r; nothing is paused after such
 * a round, so saving must not change the state. */
static int checkpoint(const Config *cfg, icx_engine *e, icx_state *s, const char *dir,
                      uint32_t r, const Record *rec) {
  uint8_t h[32];
  icx_status rc = icx_state_save(s, dir);
  if (rc != ICX_OK) return failed(e, "icx_state_save", rc);
  if ((rc = icx_state_hash(s, h)) != ICX_OK) return failed(e, "icx_state_hash", rc);
  if (memcmp(h, rec->hash, 32) != 0) {
    fprintf(stderr, "replica: saving the checkpoint of round %u changed the state\n", r);
    return 0;
  }
  if (cfg->verbose) printf("  checkpoint of round %u saved\n", r);
  return 1;
}

/* Compare a replica round with the reference and print its line. */
static int compare(uint32_t r, const Record *got, const Record *ref) {
  char h[17], rh[17];
  int same = memcmp(got->hash, ref->hash, 32) == 0 && got->digest == ref->digest;
  hex(got->hash, 8, h);
  printf("round %4u  state %s  outputs %016llx  ingress %3u replied %3u rejected  %s\n", r, h,
         (unsigned long long)got->digest, got->replied, got->rejected,
         same ? "= reference" : "MISMATCH");
  if (!same) {
    hex(ref->hash, 8, rh);
    printf("           reference: state %s  outputs %016llx\n", rh,
           (unsigned long long)ref->digest);
  }
  return same;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* ---- the runs --------------------------------------------------------------- */

/* The uninterrupted run: ref[1..rounds]. */
static int reference_run(const Config *cfg, const World *w, Record *ref) {
  icx_engine *e = NULL;
  icx_state *s = NULL;
  icx_status rc;
  int ok = 0;
  uint64_t replied = 0, rejected = 0;
  if ((rc = engine_new(1, &e)) != ICX_OK) {
    fprintf(stderr, "replica: icx_engine_new: %s\n", icx_strerror(rc));
    return 0;
  }
  if ((rc = icx_state_new(e, &s)) != ICX_OK) {
    failed(e, "icx_state_new", rc);
    goto out;
  }
  for (uint32_t r = 1; r <= cfg->rounds; r++) {
    if (!run_round(cfg, w, e, s, r, 0, &ref[r])) goto out;
    replied += ref[r].replied;
    rejected += ref[r].rejected;
    if (cfg->verbose) {
      char h[17];
      hex(ref[r].hash, 8, h);
      printf("  reference round %4u  state %s  outputs %016llx\n", r, h,
             (unsigned long long)ref[r].digest);
    }
  }
  printf("reference: %u rounds in one run, 1 thread: %llu ingress replied, %llu rejected\n",
         cfg->rounds, (unsigned long long)replied, (unsigned long long)rejected);
  ok = 1;
out:
  icx_state_free(s);
  icx_engine_free(e);
  return ok;
}

/* The replica: rounds 1..crash with checkpoints into dir, a crash, a
 * restart from the last checkpoint, the rest of the rounds.  Returns the
 * number of mismatches, or -1 on an error. */
static int replica_run(const Config *cfg, const World *w, const Record *ref, const char *dir) {
  icx_engine *e = NULL;
  icx_state *s = NULL;
  icx_status rc;
  Record rec;
  uint32_t last = 0; /* round of the last checkpoint */
  int bad = 0;

  printf("replica: rounds 1..%u, %u thread%s, checkpoints every %u rounds into %s\n", cfg->crash,
         cfg->threads, cfg->threads == 1 ? "" : "s", cfg->every, dir);
  if ((rc = engine_new(cfg->threads, &e)) != ICX_OK) {
    fprintf(stderr, "replica: icx_engine_new: %s\n", icx_strerror(rc));
    return -1;
  }
  if ((rc = icx_state_new(e, &s)) != ICX_OK) goto fail_rc;
  for (uint32_t r = 1; r <= cfg->crash; r++) {
    if (!run_round(cfg, w, e, s, r, r == cfg->fault, &rec)) goto fail;
    bad += !compare(r, &rec, &ref[r]);
    if (r % cfg->every == 0) {
      if (!checkpoint(cfg, e, s, dir, r, &rec)) goto fail;
      last = r;
    }
  }
  printf("replica: crash after round %u (state and engine dropped)\n", cfg->crash);
  icx_state_free(s);
  icx_engine_free(e);
  s = NULL;

  /* Restart: a new engine, the last checkpoint. */
  if ((rc = engine_new(cfg->threads, &e)) != ICX_OK) {
    fprintf(stderr, "replica: icx_engine_new: %s\n", icx_strerror(rc));
    return -1;
  }
  if ((rc = icx_state_load(e, dir, &s)) != ICX_OK) goto fail_rc;
  {
    uint8_t h[32];
    char hx[17];
    if ((rc = icx_state_hash(s, h)) != ICX_OK) goto fail_rc;
    int same = icx_state_round(s) == last && memcmp(h, ref[last].hash, 32) == 0;
    hex(h, 8, hx);
    printf("restart: loaded the checkpoint of round %llu  state %s  %s\n",
           (unsigned long long)icx_state_round(s), hx, same ? "= reference" : "MISMATCH");
    bad += !same;
  }
  printf("restart: replaying rounds %u..%u\n", last + 1, cfg->rounds);
  for (uint32_t r = last + 1; r <= cfg->rounds; r++) {
    if (!run_round(cfg, w, e, s, r, r == cfg->fault, &rec)) goto fail;
    bad += !compare(r, &rec, &ref[r]);
    if (r % cfg->every == 0 && !checkpoint(cfg, e, s, dir, r, &rec)) goto fail;
  }
  icx_state_free(s);
  icx_engine_free(e);
  return bad;
fail_rc:
  failed(e, "replica", rc);
fail:
  icx_state_free(s);
  icx_engine_free(e);
  return -1;
}

/* ---- command line ------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: replica [--seed=S] [--rounds=R] [--canisters=C] [--msgs=M]\n"
          "               [--checkpoint-every=N] [--crash-after=X] [--threads=T]\n"
          "               [--dir=D] [--fault=F] [--verbose] [SEED]\n"
          "  defaults: seed 1, 60 rounds, 4 canisters (at most %d), up to 40 messages\n"
          "  per round (at most 990), checkpoint every 10 rounds, crash after round\n"
          "  R - R/4 (N <= X < R), 2 threads for the replica; D: a new directory under\n"
          "  $TMPDIR, removed at the end (a given D is kept); F: the replica's round F\n"
          "  gets one extra message (a self-test: the run must then fail)\n",
          MAX_CANISTERS);
}

/* "--name=" prefix of arg: the value, or NULL. */
static const char *opt(const char *arg, const char *name) {
  size_t n = strlen(name);
  return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static int number(const char *s, uint64_t max, uint64_t *out) {
  char *end;
  if (!s || !*s || *s == '-') return 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (*end || v > max) return 0;
  *out = v;
  return 1;
}

/* One argument; 0 if it is not understood or out of range. */
static int parse_arg(const char *a, Config *cfg, uint64_t *crash) {
  const char *val;
  uint64_t v;
  if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) cfg->verbose = 1;
  else if ((val = opt(a, "--dir"))) cfg->dir = val;
  else if ((val = opt(a, "--seed")) || (a[0] != '-' && (val = a)))
    return number(val, UINT64_MAX, &cfg->seed);
  else if ((val = opt(a, "--crash-after")))
    return number(val, 1000000, crash) && *crash >= 1;
  else {
    static const struct { const char *name; uint64_t min, max; size_t off; } nums[] = {
        {"--rounds", 3, 1000000, offsetof(Config, rounds)},
        {"--canisters", 1, MAX_CANISTERS, offsetof(Config, canisters)},
        {"--msgs", 0, 990, offsetof(Config, msgs)},
        {"--checkpoint-every", 1, 1000000, offsetof(Config, every)},
        {"--threads", 1, 256, offsetof(Config, threads)},
        {"--fault", 1, 1000000, offsetof(Config, fault)},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
      if (!(val = opt(a, nums[i].name))) continue;
      if (!number(val, nums[i].max, &v) || v < nums[i].min) return 0;
      uint32_t u = (uint32_t)v;
      memcpy((char *)cfg + nums[i].off, &u, sizeof u);
      return 1;
    }
    return 0;
  }
  return 1;
}

static int parse(int argc, char **argv, Config *cfg) {
  uint64_t crash = 0;
  cfg->seed = 1;
  cfg->rounds = 60;
  cfg->canisters = 4;
  cfg->msgs = 40;
  cfg->every = 10;
  cfg->threads = 2;
  for (int i = 1; i < argc; i++) {
    if (!parse_arg(argv[i], cfg, &crash)) {
      fprintf(stderr, "replica: bad argument '%s'\n", argv[i]);
      return 0;
    }
  }
  cfg->crash = crash ? (uint32_t)crash : cfg->rounds - cfg->rounds / 4;
  if (cfg->crash < cfg->every || cfg->crash >= cfg->rounds) {
    fprintf(stderr, "replica: the crash round %u must be at least the checkpoint interval %u "
                    "and below the last round %u\n",
            cfg->crash, cfg->every, cfg->rounds);
    return 0;
  }
  return 1;
}

int main(int argc, char **argv) {
  Config cfg;
  World w;
  char tmp[4096];
  const char *dir;
  memset(&cfg, 0, sizeof cfg);
  if (!parse(argc, argv, &cfg)) {
    usage();
    return 2;
  }
  memset(&w, 0, sizeof w);
  for (int i = 0; i < USERS; i++) {
    char key[32];
    int n = snprintf(key, sizeof key, "replica user %d", i);
    if (icx_principal_self_authenticating((const uint8_t *)key, (size_t)n, &w.users[i]) != ICX_OK)
      return 1;
  }
  for (uint32_t i = 0; i < cfg.canisters; i++)
    if (icx_principal_from_canister_index(i, &w.canisters[i]) != ICX_OK) return 1;
  if (icx_principal_from_canister_index(MISSING_INDEX, &w.missing) != ICX_OK) return 1;

  Record *ref = calloc((size_t)cfg.rounds + 1, sizeof *ref);
  if (!ref) {
    fprintf(stderr, "replica: out of memory\n");
    return 1;
  }
  if (cfg.dir) {
    dir = cfg.dir;
  } else {
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/icx-replica-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp)) {
      perror("replica: mkdtemp");
      free(ref);
      return 1;
    }
    dir = tmp;
  }
  printf("replica: seed %llu, %u canisters, %u rounds, up to %u messages per round\n",
         (unsigned long long)cfg.seed, cfg.canisters, cfg.rounds, cfg.msgs);
  int bad = -1;
  if (reference_run(&cfg, &w, ref)) bad = replica_run(&cfg, &w, ref, dir);
  if (!cfg.dir) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(ref);
  if (bad < 0) return 1;
  if (bad > 0) {
    printf("replica: FAIL: %d rounds differ from the uninterrupted run\n", bad);
    return 1;
  }
  printf("replica: ok: rounds 1..%u and the restart from round %u match the uninterrupted run\n",
         cfg.crash, cfg.crash - cfg.crash % cfg.every);
  return 0;
}
