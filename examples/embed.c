/* embed.c -- the smallest program that creates an engine, installs a
 * canister, executes a round and prints the reply.
 *
 *   cc embed.c $(pkg-config --cflags --libs icexec) && ./a.out
 *
 * Three rounds on one subnet state: the first creates a canister (the
 * management canister's reply carries its id), the second installs the
 * module below in it, the third sends it the ingress message greet("world")
 * and prints the reply "Hello, world".  The canister is inlined; the bytes
 * are what `wat2wasm` makes of
 *
 *   (module
 *     (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
 *     (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
 *     (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
 *     (import "ic0" "msg_reply" (func $reply))
 *     (memory 1)
 *     (data (i32.const 0) "Hello, ")
 *     (func (export "canister_update greet")
 *       (call $arg_copy (i32.const 7) (i32.const 0) (call $arg_size))
 *       (call $append (i32.const 0) (i32.add (i32.const 7) (call $arg_size)))
 *       (call $reply)))
 */
#include <stdio.h>
#include <string.h>

#include <icexec.h>

static const uint8_t greet_wasm[] = {
    /* magic, version */
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    /* type section: () -> i32, (i32 i32 i32) -> (), (i32 i32) -> (), () -> () */
    0x01, 0x13, 0x04, 0x60, 0x00, 0x01, 0x7f, 0x60, 0x03, 0x7f, 0x7f, 0x7f,
    0x00, 0x60, 0x02, 0x7f, 0x7f, 0x00, 0x60, 0x00, 0x00,
    /* import section: the four ic0 functions */
    0x02, 0x5d, 0x04, 0x03, 0x69, 0x63, 0x30, 0x11, 0x6d, 0x73, 0x67, 0x5f,
    0x61, 0x72, 0x67, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x73, 0x69, 0x7a,
    0x65, 0x00, 0x00, 0x03, 0x69, 0x63, 0x30, 0x11, 0x6d, 0x73, 0x67, 0x5f,
    0x61, 0x72, 0x67, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x63, 0x6f, 0x70,
    0x79, 0x00, 0x01, 0x03, 0x69, 0x63, 0x30, 0x15, 0x6d, 0x73, 0x67, 0x5f,
    0x72, 0x65, 0x70, 0x6c, 0x79, 0x5f, 0x64, 0x61, 0x74, 0x61, 0x5f, 0x61,
    0x70, 0x70, 0x65, 0x6e, 0x64, 0x00, 0x02, 0x03, 0x69, 0x63, 0x30, 0x09,
    0x6d, 0x73, 0x67, 0x5f, 0x72, 0x65, 0x70, 0x6c, 0x79, 0x00, 0x03,
    /* function section: one function of type 3 */
    0x03, 0x02, 0x01, 0x03,
    /* memory section: one page */
    0x05, 0x03, 0x01, 0x00, 0x01,
    /* export section: "canister_update greet" */
    0x07, 0x19, 0x01, 0x15, 0x63, 0x61, 0x6e, 0x69, 0x73, 0x74, 0x65, 0x72,
    0x5f, 0x75, 0x70, 0x64, 0x61, 0x74, 0x65, 0x20, 0x67, 0x72, 0x65, 0x65,
    0x74, 0x00, 0x04,
    /* code section */
    0x0a, 0x17, 0x01, 0x15, 0x00, 0x41, 0x07, 0x41, 0x00, 0x10, 0x00, 0x10,
    0x01, 0x41, 0x00, 0x41, 0x07, 0x10, 0x00, 0x6a, 0x10, 0x02, 0x10, 0x03,
    0x0b,
    /* data section: "Hello, " at address 0 */
    0x0b, 0x0d, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x07, 0x48, 0x65, 0x6c, 0x6c,
    0x6f, 0x2c, 0x20};

static int failed(icx_engine *engine, const char *what, icx_status rc) {
  fprintf(stderr, "embed: %s: %s: %s\n", what, icx_strerror(rc), icx_errmsg(engine));
  return 0;
}

/* Execute batch (freed here) on state and copy the reply to ingress message
 * id into buf[0..cap) (*len bytes).  Returns 1 if the message was replied. */
static int execute(icx_engine *engine, icx_state *state, icx_batch *batch,
                   const icx_message_id *id, uint8_t *buf, size_t cap, size_t *len) {
  icx_round_output *output = NULL;
  icx_ingress_result r;
  icx_status rc = icx_execute_round(engine, state, batch, &output);
  icx_batch_free(batch);
  if (rc != ICX_OK) return failed(engine, "icx_execute_round", rc);
  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  int ok = 0;
  if ((rc = icx_round_output_find_ingress(output, id, &r)) != ICX_OK)
    fprintf(stderr, "embed: round %llu: no result: %s\n",
            (unsigned long long)icx_state_round(state), icx_strerror(rc));
  else if (r.status != ICX_INGRESS_REPLIED)
    fprintf(stderr, "embed: round %llu: rejected (code %u, IC%04u): %.*s\n",
            (unsigned long long)icx_state_round(state), (unsigned)r.reject_code,
            (unsigned)r.error_code, (int)r.len, (const char *)r.data);
  else if (r.len > cap)
    fprintf(stderr, "embed: reply of %zu bytes is too long\n", r.len);
  else {
    if (r.len) memcpy(buf, r.data, r.len);
    *len = r.len;
    ok = 1;
  }
  icx_round_output_free(output);
  return ok;
}

int main(void) {
  static const uint8_t sig[] = "embed";  /* random-tape signature (opaque) */
  static const uint8_t key[] = "embed example user";
  const uint64_t t0 = 1700000000000000000ull;  /* block time, ns */
  icx_engine *engine = NULL;
  icx_state *state = NULL;
  icx_batch *batch = NULL;
  icx_principal user, canister;
  icx_message_id id;
  icx_status rc;
  uint8_t reply[256];
  size_t len = 0;
  char text[ICX_PRINCIPAL_TEXT_MAX + 1];
  int ok = 0;

  if ((rc = icx_engine_new(NULL, &engine)) != ICX_OK) {
    fprintf(stderr, "embed: icx_engine_new: %s\n", icx_strerror(rc));
    return 1;
  }
  if ((rc = icx_state_new(engine, &state)) != ICX_OK ||
      (rc = icx_principal_self_authenticating(key, sizeof key - 1, &user)) != ICX_OK) {
    failed(engine, "setup", rc);
    goto out;
  }

  /* Round 1: create a canister with 10^13 cycles; the reply names it. */
  if ((rc = icx_batch_new(engine, 1, t0, sig, sizeof sig, &batch)) != ICX_OK ||
      (rc = icx_batch_add_create_canister(batch, &user, 0, 10000000000000ull, NULL, &id)) !=
          ICX_OK) {
    icx_batch_free(batch);
    failed(engine, "create batch", rc);
    goto out;
  }
  if (!execute(engine, state, batch, &id, reply, sizeof reply, &len)) goto out;
  if ((rc = icx_reply_canister_id(reply, len, &canister)) != ICX_OK) {
    fprintf(stderr, "embed: icx_reply_canister_id: %s\n", icx_strerror(rc));
    goto out;
  }
  icx_principal_to_text(&canister, text, sizeof text);

  /* Round 2: install the module (the creator is the controller). */
  if ((rc = icx_batch_new(engine, 2, t0 + 1000000000ull, sig, sizeof sig, &batch)) != ICX_OK ||
      (rc = icx_batch_add_install_code(batch, &user, &canister, ICX_MODE_INSTALL, greet_wasm,
                                       sizeof greet_wasm, NULL, 0, &id)) != ICX_OK) {
    icx_batch_free(batch);
    failed(engine, "install batch", rc);
    goto out;
  }
  if (!execute(engine, state, batch, &id, reply, sizeof reply, &len)) goto out;

  /* Round 3: the update call greet("world"). */
  if ((rc = icx_batch_new(engine, 3, t0 + 2000000000ull, sig, sizeof sig, &batch)) != ICX_OK ||
      (rc = icx_batch_add_ingress(batch, &user, &canister, "greet", (const uint8_t *)"world", 5,
                                  &id)) != ICX_OK) {
    icx_batch_free(batch);
    failed(engine, "greet batch", rc);
    goto out;
  }
  if (!execute(engine, state, batch, &id, reply, sizeof reply, &len)) goto out;

  printf("libicexec %s: canister %s replied \"%.*s\" in round %llu\n", icx_version_string(), text,
         (int)len, (const char *)reply, (unsigned long long)icx_state_round(state));
  ok = len == 12 && memcmp(reply, "Hello, world", 12) == 0;
  if (!ok) fprintf(stderr, "embed: unexpected reply\n");
out:
  icx_state_free(state);
  icx_engine_free(engine);
  return ok ? 0 : 1;
}
