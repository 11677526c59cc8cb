/* fuzz_round.c -- arbitrary bytes as a sequence of rounds through the public
 * round API: ingress scripts for the universal test canister
 * (tests/canisters/uc.c), and messages from another subnet (requests, and
 * responses with arbitrary callback ids, senders, reject codes and cycles:
 * the bytes a host feeds icx_batch_add_xnet from its streams).
 *
 * The input is read as commands:
 *   byte 0          number of canisters - 1 (mod 3)
 *   then [op][len][len bytes]:
 *     op % 4 == 0   ingress "update" to canister (op >> 2) % n, script = bytes
 *     op % 4 == 1   xnet request from a remote canister to (op >> 2) % n
 *                   (or to a missing one), script = bytes, cycles from op
 *     op % 4 == 2   xnet response: dst (op >> 2) % n, callback = first byte,
 *                   reject code = second byte % 7, sender remote or local,
 *                   data = the rest
 *     op % 4 == 3   end of the batch: execute a round
 * Every run executes the same input twice: on an engine with the checking
 * allocator and 1 thread, and on one with the libc allocator and 3 threads
 * (the checking allocator is not thread-safe).  Checks, besides "no crash,
 * no sanitizer report, no leak": every call returns ICX_OK, and both runs
 * give the same transcript (state hash, ingress results and xnet output of
 * every round): the thread count changes nothing. */
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "icexec.h"
#include "uc_wasm.h"

static uint64_t out_hash(uint64_t h, icx_round_output *o) {
  uint8_t sh[32];
  if (icx_round_output_state_hash(o, sh) != ICX_OK) fuzz_fail("state hash");
  h = fuzz_hash(h, sh, 32);
  for (uint64_t j = 0; j < icx_round_output_ingress_count(o); j++) {
    icx_ingress_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    if (icx_round_output_ingress(o, j, &r) != ICX_OK) fuzz_fail("ingress result");
    h = fuzz_hash(h, &r.id, sizeof r.id);
    uint32_t w[3] = {r.status, r.reject_code, r.error_code};
    h = fuzz_hash(h, w, sizeof w);
    h = fuzz_hash(h, r.data, r.len);
  }
  for (uint64_t j = 0; j < icx_round_output_xnet_count(o); j++) {
    icx_xnet_message x;
    memset(&x, 0, sizeof x);
    x.struct_size = sizeof x;
    if (icx_round_output_xnet(o, j, &x) != ICX_OK) fuzz_fail("xnet message");
    uint64_t w[5] = {x.kind, x.callback, x.cycles_lo, x.cycles_hi, x.reject_code};
    h = fuzz_hash(h, w, sizeof w);
    h = fuzz_hash(h, &x.src, sizeof x.src);
    h = fuzz_hash(h, &x.dst, sizeof x.dst);
    h = fuzz_hash(h, x.data, x.len);
  }
  return h;
}

/* Run the input on a fresh engine; returns the transcript hash. */
static uint64_t run(const uint8_t *data, size_t size, const icx_engine_opts *base) {
  icx_engine_opts opts = *base;
  opts.subnet_type = ICX_SUBNET_TYPE_APPLICATION;
  opts.max_instructions_message = 20000000;
  opts.max_instructions_slice = 2000000;
  opts.max_instructions_install_slice = 20000000;
  opts.max_instructions_round = 40000000;
  icx_engine *e = NULL;
  icx_state *st = NULL;
  if (icx_engine_new(&opts, &e) != ICX_OK || icx_state_new(e, &st) != ICX_OK)
    fuzz_fail("engine/state");
  icx_principal user, can[3], remote;
  static const uint8_t der[] = "fuzz_round user";
  if (icx_principal_self_authenticating(der, sizeof der, &user) != ICX_OK ||
      icx_principal_from_canister_index((1ull << 20) + 1, &remote) != ICX_OK)
    fuzz_fail("principals");
  uint32_t n = size ? (uint32_t)(data[0] % 3) + 1 : 1;
  uint64_t round = 1, time = 1700000000000000000ull, h = FUZZ_HASH_INIT;
  icx_batch *b = NULL;
  if (icx_batch_new(e, round, time, data, size < 8 ? size : 8, &b) != ICX_OK) fuzz_fail("batch");
  for (uint32_t i = 0; i < n; i++) {
    if (icx_principal_from_canister_index(i, &can[i]) != ICX_OK ||
        icx_batch_add_create_canister(b, &user, 0, 10000000000000ull, NULL, NULL) != ICX_OK)
      fuzz_fail("create");
  }
  icx_round_output *o = NULL;
  if (icx_execute_round(e, st, b, &o) != ICX_OK) fuzz_fail("round: %s", icx_errmsg(e));
  icx_round_output_free(o);
  icx_batch_free(b);
  if (icx_batch_new(e, ++round, time += 1000000000ull, NULL, 0, &b) != ICX_OK) fuzz_fail("batch");
  for (uint32_t i = 0; i < n; i++)
    if (icx_batch_add_install_code(b, &user, &can[i], ICX_MODE_INSTALL, uc_wasm, sizeof uc_wasm,
                                   NULL, 0, NULL) != ICX_OK)
      fuzz_fail("install");
  size_t off = 1;
  int rounds = 0;
  for (;;) {
    int end = off + 2 > size;
    uint8_t op = end ? 3 : data[off];
    size_t len = end ? 0 : data[off + 1];
    if (!end) off += 2;
    if (len > size - off) len = size - off;
    const uint8_t *p = data + off;
    off += len;
    uint32_t k = (uint32_t)(op >> 2) % n;
    icx_status rc = ICX_OK;
    switch (op & 3) {
    case 0: rc = icx_batch_add_ingress(b, &user, &can[k], "update", p, len, NULL); break;
    case 1: {
      icx_xnet_message x;
      memset(&x, 0, sizeof x);
      x.struct_size = sizeof x;
      x.kind = ICX_XNET_REQUEST;
      x.src = remote;
      x.dst = can[k];
      if ((op & 0x80) && icx_principal_from_canister_index(77, &x.dst) != ICX_OK) /* missing */
        fuzz_fail("principal");
      x.method = "update";
      x.data = p;
      x.len = len;
      x.cycles_lo = (uint64_t)op * 1000;
      x.callback = off;
      rc = icx_batch_add_xnet(b, &x);
      break;
    }
    case 2: {
      icx_xnet_message x;
      memset(&x, 0, sizeof x);
      x.struct_size = sizeof x;
      x.kind = ICX_XNET_RESPONSE;
      x.src = (op & 0x80) ? can[(k + 1) % n] : remote;
      x.dst = can[k];
      x.callback = len ? p[0] : 0;
      x.reject_code = len > 1 ? p[1] % 7u : 0;
      x.data = len > 2 ? p + 2 : NULL;
      x.len = len > 2 ? len - 2 : 0;
      x.cycles_lo = op;
      rc = icx_batch_add_xnet(b, &x);
      break;
    }
    default: {
      if (icx_execute_round(e, st, b, &o) != ICX_OK) fuzz_fail("round: %s", icx_errmsg(e));
      h = out_hash(h, o);
      icx_round_output_free(o);
      icx_batch_free(b);
      b = NULL;
      rounds++;
      if (end || rounds >= 24) break;
      uint8_t sig = op;
      if (icx_batch_new(e, ++round, time += 1000000000ull, &sig, 1, &b) != ICX_OK)
        fuzz_fail("batch");
      break;
    }
    }
    if (rc == ICX_ELIMIT) continue; /* a full batch: the message is refused, as documented */
    if (rc != ICX_OK) fuzz_fail("add: %s", icx_errmsg(e));
    if (!b) break;
  }
  icx_state_free(st);
  icx_engine_free(e);
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.poison = 1;
  icxAllocator a = fuzz_allocator(&fa);
  icx_engine_opts checked;
  icx_engine_opts_init(&checked);
  checked.realloc_fn = a.fn; /* the checking allocator has the public signature */
  checked.realloc_ud = a.ud;
  checked.threads = 1;
  uint64_t h1 = run(data, size, &checked);
  fuzz_check_no_leaks(&fa, "fuzz_round");
  icx_engine_opts threaded;
  icx_engine_opts_init(&threaded);
  threaded.threads = 3;
  uint64_t h2 = run(data, size, &threaded);
  if (h1 != h2) fuzz_fail("1 thread and 3 threads differ");
  return 0;
}
