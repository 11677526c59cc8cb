/* embed.c -- the smallest embedding of libicexec: create an engine, compile
 * a module, instantiate it, call an export, free everything.
 *
 *   cc embed.c $(pkg-config --cflags --libs icexec) && ./a.out
 *
 * The module is inlined; it is what wat2wasm makes of
 *   (module (func (export "add") (param i32 i32) (result i32)
 *     local.get 0 local.get 1 i32.add)) */
#include <stdio.h>

#include <icexec.h>

static const uint8_t add_wasm[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,       /* magic, version */
    0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, /* type: (i32 i32) -> i32 */
    0x03, 0x02, 0x01, 0x00,                               /* func 0 has type 0 */
    0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, /* export "add" = func 0 */
    0x0a, 0x09, 0x01, 0x07, 0x00,                         /* code: 1 body, no locals */
    0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b                    /* local.get 0 1, i32.add, end */
};

int main(void) {
  icx_engine *engine = NULL;
  icx_module *module = NULL;
  icx_instance *instance = NULL;
  icx_value args[2] = {{ICX_TYPE_I32, 0, 40}, {ICX_TYPE_I32, 0, 2}};
  icx_value result;
  icx_call_result outcome = ICX_CALL_RESULT_INIT;
  icx_status rc;
  int status = 1;

  if ((rc = icx_engine_new(NULL, &engine)) != ICX_OK) {
    fprintf(stderr, "engine: %s\n", icx_strerror(rc));
    return 1;
  }
  if ((rc = icx_module_new(engine, add_wasm, sizeof add_wasm, 0, &module)) != ICX_OK ||
      (rc = icx_instance_new(engine, module, &instance)) != ICX_OK ||
      (rc = icx_instance_call(instance, "add", args, 2, &result, 1, &outcome)) != ICX_OK) {
    fprintf(stderr, "error: %s: %s\n", icx_strerror(rc), icx_errmsg(engine));
  } else if (outcome.trapped) {
    fprintf(stderr, "trap: %s\n", outcome.trap_message);
  } else {
    printf("libicexec %s: add(40, 2) = %u\n", icx_version_string(), (unsigned)result.bits);
    status = result.bits == 42 ? 0 : 1;
  }
  icx_instance_free(instance);
  icx_module_free(module);
  icx_engine_free(engine);
  return status;
}
