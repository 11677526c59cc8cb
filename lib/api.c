/* api.c -- the public API of include/icexec.h: thin wrappers that check the
 * handles and arguments, call the runtime (lib/rt.h) and record errors on
 * the engine. */
#include "api.h"

#include "instrument.h"
#include "wat.h"

#include <stddef.h>
#include <string.h>

_Static_assert(ICX_TRAPCODE_UNREACHABLE == (int)ICX_TRAP_UNREACHABLE, "trap code");
_Static_assert(ICX_TRAPCODE_MEMORY_OOB == (int)ICX_TRAP_MEM_OOB, "trap code");
_Static_assert(ICX_TRAPCODE_TABLE_OOB == (int)ICX_TRAP_TABLE_OOB, "trap code");
_Static_assert(ICX_TRAPCODE_UNDEFINED_ELEMENT == (int)ICX_TRAP_UNDEFINED_ELEMENT, "trap code");
_Static_assert(ICX_TRAPCODE_UNINIT_ELEMENT == (int)ICX_TRAP_UNINIT_ELEMENT, "trap code");
_Static_assert(ICX_TRAPCODE_INDIRECT_TYPE == (int)ICX_TRAP_INDIRECT_TYPE, "trap code");
_Static_assert(ICX_TRAPCODE_DIV_ZERO == (int)ICX_TRAP_DIV_ZERO, "trap code");
_Static_assert(ICX_TRAPCODE_INT_OVERFLOW == (int)ICX_TRAP_INT_OVERFLOW, "trap code");
_Static_assert(ICX_TRAPCODE_INVALID_CONV == (int)ICX_TRAP_INVALID_CONV, "trap code");
_Static_assert(ICX_TRAPCODE_STACK_EXHAUSTED == (int)ICX_TRAP_STACK_EXHAUSTED, "trap code");
_Static_assert(ICX_TRAPCODE_OUT_OF_INSTRUCTIONS == (int)ICX_TRAP_OUT_OF_FUEL, "trap code");
_Static_assert(ICX_TRAPCODE_HOST == (int)ICX_TRAP_HOST, "trap code");
_Static_assert(ICX_TRAPCODE_NULL_REF == (int)ICX_TRAP_NULL_REF, "trap code");
_Static_assert((int)ICX_TYPE_I32 == (int)ICX_I32 && (int)ICX_TYPE_I64 == (int)ICX_I64 &&
                   (int)ICX_TYPE_F32 == (int)ICX_F32 && (int)ICX_TYPE_F64 == (int)ICX_F64 &&
                   (int)ICX_TYPE_FUNCREF == (int)ICX_FUNCREF &&
                   (int)ICX_TYPE_EXTERNREF == (int)ICX_EXTERNREF,
               "value types are their binary encodings");
_Static_assert(ICX_MODULE_METER == ICX_COMPILE_METER, "module flag = compile flag");

/* Arguments staged on the C stack up to this count, on the heap above it. */
#define ARGS_ON_STACK 16

/* ---- status, version, constants ------------------------------------------ */

/* The static text of a status code. */
const char *icx_strerror(icx_status status) {
  switch (status) {
  case ICX_OK: return "ok";
  case ICX_ENOMEM: return "out of memory";
  case ICX_EMISUSE: return "library misuse (NULL or dead handle, or wrong state)";
  case ICX_EINVAL: return "invalid argument";
  case ICX_EMALFORMED: return "malformed Wasm binary";
  case ICX_EINVALID: return "invalid Wasm module (fails validation)";
  case ICX_EREJECTED: return "module rejected by an Internet Computer rule";
  case ICX_ENOTFOUND: return "not found";
  case ICX_ESTATE: return "wrong state for this operation";
  case ICX_ELIMIT: return "limit exceeded";
  case ICX_ECORRUPT: return "corrupt data (checksum mismatch)";
  case ICX_EVERSION: return "incompatible version";
  case ICX_EINTERNAL: return "internal error in libicexec";
  case ICX_EUNLINKABLE: return "unlinkable: imports do not match";
  case ICX_ETRAP: return "instantiation trapped";
  case ICX_EIO: return "input/output error";
  default: return "unknown status code";
  }
}

/* ICX_STATUS_COUNT as built. */
int32_t icx_status_count(void) { return ICX_STATUS_COUNT; }

/* ICX_VERSION_NUMBER as built. */
int32_t icx_version_number(void) { return ICX_VERSION_NUMBER; }

/* ICX_VERSION_STRING as built. */
const char *icx_version_string(void) { return ICX_VERSION_STRING; }

/* ICX_WASM_PAGE_SIZE. */
uint32_t icx_wasm_page_size(void) { return ICX_WASM_PAGE_SIZE; }

/* ICX_MODULE_METER. */
uint32_t icx_module_meter_flag(void) { return ICX_MODULE_METER; }

/* The build-time value of a limit, 0 for an unknown id. */
uint64_t icx_limit(int32_t id) {
  switch (id) {
  case ICX_LIMIT_MODULE_BYTES: return ICX_MAX_MODULE_BYTES;
  case ICX_LIMIT_TYPES: return ICX_MAX_TYPES;
  case ICX_LIMIT_FUNCS: return ICX_MAX_FUNCS;
  case ICX_LIMIT_IMPORTS: return ICX_MAX_IMPORTS;
  case ICX_LIMIT_EXPORTS: return ICX_MAX_EXPORTS;
  case ICX_LIMIT_GLOBALS: return ICX_MAX_GLOBALS;
  case ICX_LIMIT_TABLES: return ICX_MAX_TABLES;
  case ICX_LIMIT_SEGMENTS: return ICX_MAX_SEGMENTS;
  case ICX_LIMIT_PARAMS: return ICX_MAX_PARAMS;
  case ICX_LIMIT_RESULTS: return ICX_MAX_RESULTS;
  case ICX_LIMIT_LOCALS: return ICX_MAX_LOCALS;
  case ICX_LIMIT_FUNC_BYTES: return ICX_MAX_FUNC_BYTES;
  case ICX_LIMIT_NESTING: return ICX_MAX_NESTING;
  case ICX_LIMIT_BR_TABLE: return ICX_MAX_BR_TABLE;
  case ICX_LIMIT_TABLE_ELEMS: return ICX_MAX_TABLE_ELEMS;
  case ICX_LIMIT_NAME_BYTES: return ICX_MAX_NAME_BYTES;
  case ICX_LIMIT_CALL_DEPTH: return ICX_MAX_CALL_DEPTH;
  case ICX_LIMIT_STACK_SLOTS: return ICX_MAX_STACK_SLOTS;
  case ICX_LIMIT_MEM64_PAGES: return ICX_MAX_MEM64_PAGES;
  default: return 0;
  }
}

/* The static text of a trap code. */
const char *icx_trap_text(int32_t trap_code) {
  if (trap_code == ICX_TRAPCODE_NONE) return "no trap";
  if (trap_code < ICX_TRAPCODE_UNREACHABLE || trap_code > ICX_TRAPCODE_NULL_REF)
    return "unknown trap code";
  if (trap_code == ICX_TRAPCODE_OUT_OF_INSTRUCTIONS) return "instruction limit exceeded";
  return icxRt_trap_message((icxTrap)trap_code);
}

/* ---- errors ---------------------------------------------------------------- */

/* Record status on the engine; the message is the status text if the
 * runtime left none. */
static icx_status api_fail(icx_engine *e, icx_status rc) {
  e->err.status = rc;
  if (e->err.msg[0] == 0) {
    const char *s = icx_strerror(rc);
    size_t n = strlen(s);
    if (n >= sizeof e->err.msg) n = sizeof e->err.msg - 1;
    memcpy(e->err.msg, s, n);
    e->err.msg[n] = 0;
  }
  return rc;
}

/* The engine's last error message. */
const char *icx_errmsg(const icx_engine *engine) {
  if (!icxApi_engine_ok(engine)) return "invalid engine handle (NULL or freed)";
  return engine->err.msg;
}

/* ---- engine ---------------------------------------------------------------- */

/* Fill opts with this header's defaults. */
void icx_engine_opts_init(icx_engine_opts *opts) {
  if (!opts) return;
  memset(opts, 0, sizeof *opts);
  opts->struct_size = (uint32_t)sizeof *opts;
  opts->header_version = ICX_VERSION_NUMBER;
}

/* Create an engine. */
icx_status icx_engine_new(const icx_engine_opts *opts, icx_engine **out_engine) {
  icx_engine_opts o;
  if (!out_engine) return ICX_EINVAL;
  *out_engine = NULL;
  icx_engine_opts_init(&o);
  if (opts) {
    if (opts->struct_size < offsetof(icx_engine_opts, realloc_fn)) return ICX_EINVAL;
    if (opts->header_version == 0 || opts->header_version / 1000000 != (uint32_t)ICX_VERSION_MAJOR)
      return ICX_EVERSION;
    memcpy(&o, opts, opts->struct_size < sizeof o ? opts->struct_size : sizeof o);
  }
  icxAllocator a = icxCore_default_allocator();
  if (o.realloc_fn) {
    a.fn = o.realloc_fn;
    a.ud = o.realloc_ud;
  }
  icx_engine *e = icxCore_alloc(&a, sizeof *e);
  if (!e) return ICX_ENOMEM;
  e->magic = ICX_MAGIC_ENGINE;
  e->alloc = a;
  icxErr_clear(&e->err);
  if (icxApi_engine_config(e, &o) != ICX_OK) {
    if (e->pubkey) icxCore_free(&a, e->pubkey, e->pubkey_len ? e->pubkey_len : 1);
    e->magic = ICX_MAGIC_DEAD;
    icxCore_free(&a, e, sizeof *e);
    return ICX_EINVAL;
  }
  *out_engine = e;
  return ICX_OK;
}

static void module_unref(icx_module *m);
static void instance_destroy(icx_instance *inst);

/* Free the engine and everything made with it. */
void icx_engine_free(icx_engine *engine) {
  if (!icxApi_engine_ok(engine)) return;
  icxApi_engine_free_rounds(engine);
  while (engine->instances) instance_destroy(engine->instances);
  while (engine->modules) {
    icx_module *m = engine->modules;
    m->refs = 1;
    module_unref(m);
  }
  icxAllocator a = engine->alloc;
  if (engine->pubkey) icxCore_free(&a, engine->pubkey, engine->pubkey_len);
  engine->magic = ICX_MAGIC_DEAD;
  icxCore_free(&a, engine, sizeof *engine);
}

/* ---- modules --------------------------------------------------------------- */

/* Drop one reference; destroy the module at zero. */
static void module_unref(icx_module *m) {
  if (--m->refs > 0) return;
  icx_engine *e = m->engine;
  if (m->prev)
    m->prev->next = m->next;
  else
    e->modules = m->next;
  if (m->next) m->next->prev = m->prev;
  icxRt_compiled_free(m->compiled);
  m->magic = ICX_MAGIC_DEAD;
  icxCore_free(&e->alloc, m, sizeof *m);
}

/* Decode, validate and compile a module. */
icx_status icx_module_new(icx_engine *engine, const uint8_t *wasm, size_t len, uint32_t flags,
                          icx_module **out_module) {
  if (out_module) *out_module = NULL;
  if (!icxApi_engine_ok(engine)) return ICX_EMISUSE;
  icx_engine *e = engine;
  icxErr_clear(&e->err);
  if (!out_module) return icxErr_set(&e->err, ICX_EINVAL, "icx_module_new: out_module is NULL");
  if (!wasm && len > 0)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_module_new: wasm is NULL, len %zu", len);
  if (flags & ~(uint32_t)ICX_MODULE_METER)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_module_new: unknown flags 0x%x",
                      (unsigned)(flags & ~(uint32_t)ICX_MODULE_METER));
  if (len > ICX_MAX_MODULE_BYTES)
    return icxErr_set(&e->err, ICX_ELIMIT, "module of %zu bytes exceeds the limit of %zu", len,
                      (size_t)ICX_MAX_MODULE_BYTES);

  icx_module *m = icxCore_alloc(&e->alloc, sizeof *m);
  if (!m) return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  static const uint8_t empty[1] = {0};
  icxCompileOpts copts = {0, NULL, 0, 0};
  icx_status rc;
  if (flags & ICX_MODULE_METER) {
    /* As the IC does: the install-time pass injects the counter, and the
     * compiler fuses its updates into single ops. */
    icxInstrResult ir;
    icxInstrOpts io = {0, ICX_FEAT_DEFAULT, 0};
    rc = icxInstr_run(&e->alloc, wasm ? wasm : empty, len, &io, &ir, &e->err);
    if (rc == ICX_OK) {
      copts.flags = ICX_COMPILE_FUSE_COUNTER;
      copts.counter_global = ir.counter_global;
      copts.counter_ooi = ir.ooi_func;
      rc = icxRt_compile(&e->alloc, ir.wasm, ir.wasm_len, ICX_FEAT_DEFAULT, &copts, &m->compiled,
                         &e->err);
      icxInstr_free(&ir);
    }
  } else {
    rc = icxRt_compile(&e->alloc, wasm ? wasm : empty, len, ICX_FEAT_DEFAULT, &copts,
                       &m->compiled, &e->err);
  }
  if (rc != ICX_OK) {
    icxCore_free(&e->alloc, m, sizeof *m);
    return api_fail(e, rc);
  }
  m->magic = ICX_MAGIC_MODULE;
  m->flags = flags;
  m->refs = 1;
  m->engine = e;
  m->next = e->modules;
  if (e->modules) e->modules->prev = m;
  e->modules = m;
  *out_module = m;
  return ICX_OK;
}

/* Compile WAT text: parse to bytes, then as icx_module_new. */
icx_status icx_module_new_wat(icx_engine *engine, const char *text, size_t len, uint32_t flags,
                              icx_module **out_module) {
  if (out_module) *out_module = NULL;
  if (!icxApi_engine_ok(engine)) return ICX_EMISUSE;
  icx_engine *e = engine;
  icxErr_clear(&e->err);
  if (!out_module) return icxErr_set(&e->err, ICX_EINVAL, "icx_module_new_wat: out_module is NULL");
  if (!text && len > 0)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_module_new_wat: text is NULL, len %zu", len);
  if (len > ICX_MAX_MODULE_BYTES)
    return icxErr_set(&e->err, ICX_ELIMIT, "text of %zu bytes exceeds the limit of %zu", len,
                      (size_t)ICX_MAX_MODULE_BYTES);
  uint8_t *bytes = NULL;
  size_t nbytes = 0;
  icx_status rc = icxWat_to_wasm(&e->alloc, text ? text : "", len, ICX_FEAT_DEFAULT, &bytes,
                                 &nbytes, &e->err);
  if (rc != ICX_OK) return api_fail(e, rc);
  rc = icx_module_new(engine, bytes, nbytes, flags, out_module);
  icxCore_free(&e->alloc, bytes, nbytes);
  return rc;
}

/* Release the module handle (instances keep the code alive). */
void icx_module_free(icx_module *module) {
  if (!icxApi_module_ok(module)) return;
  module->magic = ICX_MAGIC_DEAD;
  module_unref(module);
}

/* The function export of the IR named name, or NULL. */
static const icxExport *find_func_export(const icxModule *ir, const char *name) {
  size_t n = strlen(name);
  for (uint32_t i = 0; i < ir->nexports; i++) {
    const icxExport *x = &ir->exports[i];
    if (x->kind == ICX_EXT_FUNC && x->name_len == n && memcmp(x->name, name, n) == 0) return x;
  }
  return NULL;
}

/* Signature of a function export. */
icx_status icx_module_export_type(const icx_module *module, const char *name, uint32_t *types,
                                  size_t types_cap, uint32_t *out_nparams, uint32_t *out_nresults) {
  if (out_nparams) *out_nparams = 0;
  if (out_nresults) *out_nresults = 0;
  if (!icxApi_module_ok(module)) return ICX_EMISUSE;
  icx_engine *e = module->engine;
  icxErr_clear(&e->err);
  if (!name || !out_nparams || !out_nresults || (!types && types_cap > 0))
    return icxErr_set(&e->err, ICX_EINVAL, "icx_module_export_type: NULL name or out-parameter");
  const icxModule *ir = icxRt_compiled_module(module->compiled);
  const icxExport *x = find_func_export(ir, name);
  if (!x) return icxErr_set(&e->err, ICX_ENOTFOUND, "no function export \"%s\"", name);
  const icxFuncType *t = icxWasm_func_type(ir, x->index);
  size_t n = (size_t)t->nparams + t->nresults;
  for (size_t i = 0; i < n && i < types_cap; i++) types[i] = t->types[i];
  *out_nparams = t->nparams;
  *out_nresults = t->nresults;
  return ICX_OK;
}

/* ---- instances ------------------------------------------------------------- */

/* Unlink and free an instance, dropping its module reference. */
static void instance_destroy(icx_instance *inst) {
  icx_engine *e = inst->engine;
  if (inst->prev)
    inst->prev->next = inst->next;
  else
    e->instances = inst->next;
  if (inst->next) inst->next->prev = inst->prev;
  icxExec_free(inst->exec);
  icxStore_free(inst->store); /* frees inst->inst too */
  module_unref(inst->module);
  inst->magic = ICX_MAGIC_DEAD;
  icxCore_free(&e->alloc, inst, sizeof *inst);
}

/* Name of an external kind, for messages. */
static const char *ext_kind_name(uint8_t kind) {
  switch (kind) {
  case ICX_EXT_FUNC: return "func";
  case ICX_EXT_TABLE: return "table";
  case ICX_EXT_MEM: return "memory";
  case ICX_EXT_GLOBAL: return "global";
  default: return "?";
  }
}

/* Instantiate a module with no imports. */
icx_status icx_instance_new(icx_engine *engine, const icx_module *module,
                            icx_instance **out_instance) {
  if (out_instance) *out_instance = NULL;
  if (!icxApi_engine_ok(engine)) return ICX_EMISUSE;
  icx_engine *e = engine;
  icxErr_clear(&e->err);
  if (!icxApi_module_ok(module))
    return icxErr_set(&e->err, ICX_EMISUSE, "icx_instance_new: invalid module handle");
  if (module->engine != e)
    return icxErr_set(&e->err, ICX_EMISUSE,
                      "icx_instance_new: the module belongs to another engine");
  if (!out_instance)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_instance_new: out_instance is NULL");
  const icxModule *ir = icxRt_compiled_module(module->compiled);
  /* a metered module's first imports are the instrumentation's own */
  uint32_t nown = (module->flags & ICX_MODULE_METER) ? ICX_INSTR_NIMPORTS : 0;
  if (ir->nimports > nown) {
    const icxImport *im = &ir->imports[nown];
    return icxErr_set(&e->err, ICX_EUNLINKABLE,
                      "import %u \"%s\".\"%s\" (%s): modules with imports cannot be "
                      "instantiated by this version",
                      nown, im->module, im->name, ext_kind_name(im->kind));
  }

  icx_status rc = ICX_OK;
  icxTrap trap = ICX_TRAP_NONE;
  icx_instance *inst = icxCore_alloc(&e->alloc, sizeof *inst);
  if (!inst) return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  inst->store = icxStore_new(&e->alloc);
  inst->exec = icxExec_new(&e->alloc);
  if (!inst->store || !inst->exec) {
    rc = icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
    goto fail;
  }
  icxExec_set_fuel(inst->exec, INT64_MAX, 0);
  icxExtern own[ICX_INSTR_NIMPORTS];
  for (uint32_t i = 0; i < nown; i++) {
    own[i].kind = ICX_EXT_FUNC;
    own[i].u.func = icxStore_host_func(inst->store, icxWasm_func_type(ir, i),
                                       i == ICX_INSTR_IMP_OOI ? icxExec_host_out_of_instructions
                                                              : icxExec_host_try_grow_passthrough,
                                       NULL);
    if (!own[i].u.func) {
      rc = icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
      goto fail;
    }
  }
  ICX_TRY(icxRt_instantiate(inst->store, module->compiled, inst->exec, nown ? own : NULL, nown,
                            &inst->inst, &trap, &e->err));
  if (trap != ICX_TRAP_NONE || !inst->inst) {
    if (trap == ICX_TRAP_NONE) {
      rc = icxErr_set(&e->err, ICX_EINTERNAL, "instantiation produced no instance");
    } else {
      const char *why = icxExec_trap_msg(inst->exec);
      if (!why || !*why) why = icxRt_trap_message(trap);
      rc = icxErr_set(&e->err, ICX_ETRAP, "instantiation trapped: %s", why);
    }
    goto fail;
  }
  inst->magic = ICX_MAGIC_INSTANCE;
  inst->fuel_limit = INT64_MAX;
  inst->engine = e;
  inst->module = (icx_module *)module; /* the reference count is the only field changed */
  inst->module->refs++;
  inst->next = e->instances;
  if (e->instances) e->instances->prev = inst;
  e->instances = inst;
  *out_instance = inst;
  return ICX_OK;

fail:
  if (inst->exec) icxExec_free(inst->exec);
  if (inst->store) icxStore_free(inst->store);
  icxCore_free(&e->alloc, inst, sizeof *inst);
  return api_fail(e, rc);
}

/* Free an instance. */
void icx_instance_free(icx_instance *instance) {
  if (!icxApi_instance_ok(instance)) return;
  instance_destroy(instance);
}

/* Set the per-call instruction limit. */
icx_status icx_instance_set_instruction_limit(icx_instance *instance, uint64_t limit) {
  if (!icxApi_instance_ok(instance)) return ICX_EMISUSE;
  icx_engine *e = instance->engine;
  icxErr_clear(&e->err);
  if (!(instance->module->flags & ICX_MODULE_METER))
    return icxErr_set(&e->err, ICX_ESTATE,
                      "instruction limit: the module was compiled without "
                      "ICX_MODULE_METER");
  instance->fuel_limit = (limit == 0 || limit > (uint64_t)INT64_MAX) ? INT64_MAX : (int64_t)limit;
  return ICX_OK;
}

/* Instructions counted during the last call. */
uint64_t icx_instance_instructions(const icx_instance *instance) {
  return icxApi_instance_ok(instance) ? instance->instructions : 0;
}

/* Trap code of the last call. */
int32_t icx_instance_trap_code(const icx_instance *instance) {
  return icxApi_instance_ok(instance) ? instance->trap_code : ICX_TRAPCODE_NONE;
}

/* Short name of a value type, for messages. */
static const char *type_name(uint32_t t) {
  switch (t) {
  case ICX_TYPE_I32: return "i32";
  case ICX_TYPE_I64: return "i64";
  case ICX_TYPE_F32: return "f32";
  case ICX_TYPE_F64: return "f64";
  case ICX_TYPE_FUNCREF: return "funcref";
  case ICX_TYPE_EXTERNREF: return "externref";
  case ICX_V128: return "v128";
  default: return "unknown type";
  }
}

/* Check args against type t and convert them to slots.  Returns ICX_OK or
 * ICX_EINVAL with a message. */
static icx_status stage_args(icx_engine *e, const icxFuncType *t, const icx_value *args,
                             uint64_t *slots) {
  const uint8_t *pt = t->types;
  for (uint32_t i = 0; i < t->nparams; i++) {
    const icx_value *v = &args[i];
    if (v->type != pt[i])
      return icxErr_set(&e->err, ICX_EINVAL, "argument %u: expected %s, got %s", (unsigned)i,
                        type_name(pt[i]), type_name(v->type));
    if (v->reserved != 0)
      return icxErr_set(&e->err, ICX_EINVAL, "argument %u: reserved field is not 0", (unsigned)i);
    switch (pt[i]) {
    case ICX_I32:
    case ICX_F32: slots[i] = v->bits & 0xffffffffu; break;
    case ICX_I64:
    case ICX_F64:
    case ICX_EXTERNREF: slots[i] = v->bits; break;
    case ICX_FUNCREF:
      if (v->bits != 0)
        return icxErr_set(&e->err, ICX_EINVAL, "argument %u: only a null funcref can be passed in",
                          (unsigned)i);
      slots[i] = 0;
      break;
    default:
      return icxErr_set(&e->err, ICX_EINVAL, "argument %u: type %s is not supported", (unsigned)i,
                        type_name(pt[i]));
    }
  }
  return ICX_OK;
}

/* Write one result value of type ty from a slot. */
static void put_result(icx_value *r, uint8_t ty, uint64_t slot) {
  r->type = ty;
  r->reserved = 0;
  switch (ty) {
  case ICX_I32:
  case ICX_F32: r->bits = slot & 0xffffffffu; break;
  case ICX_FUNCREF: r->bits = slot != 0; break;
  default: r->bits = slot; break;
  }
}

/* Minimum struct_size of an icx_call_result: the fields up to trap_code. */
#define CALL_RESULT_MIN_SIZE (offsetof(icx_call_result, trap_code) + sizeof(int32_t))

/* Copy res into out, as much as out->struct_size allows. */
static void put_call_result(icx_call_result *out, const icx_call_result *res) {
  if (!out || out->struct_size < CALL_RESULT_MIN_SIZE) return;
  size_t n = out->struct_size < sizeof *res ? out->struct_size : sizeof *res;
  uint32_t keep = out->struct_size;
  memcpy(out, res, n);
  out->struct_size = keep;
}

/* Call an exported function. */
icx_status icx_instance_call(icx_instance *instance, const char *export_name, const icx_value *args,
                             size_t nargs, icx_value *results, size_t nresults,
                             icx_call_result *out) {
  icx_call_result res = ICX_CALL_RESULT_INIT;
  res.trap_message = "";
  put_call_result(out, &res);
  if (results && nresults > 0) memset(results, 0, nresults * sizeof *results);
  if (!icxApi_instance_ok(instance)) return ICX_EMISUSE;
  icx_engine *e = instance->engine;
  icxErr_clear(&e->err);
  instance->trap_code = ICX_TRAPCODE_NONE;
  instance->instructions = 0;
  instance->trap_msg[0] = 0;

  if (!export_name)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_instance_call: export_name is NULL");
  if ((!args && nargs > 0) || (!results && nresults > 0))
    return icxErr_set(&e->err, ICX_EINVAL, "icx_instance_call: NULL array with a non-zero count");
  if (out && out->struct_size < CALL_RESULT_MIN_SIZE)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_instance_call: out->struct_size %u is too small",
                      (unsigned)out->struct_size);
  icxExtern ext;
  if (icxRt_export(instance->inst, export_name, strlen(export_name), &ext) != ICX_OK ||
      ext.kind != ICX_EXT_FUNC)
    return icxErr_set(&e->err, ICX_ENOTFOUND, "no function export \"%s\"", export_name);
  const icxFuncType *t = icxFuncInst_type(ext.u.func);
  if (nargs != t->nparams)
    return icxErr_set(&e->err, ICX_EINVAL, "\"%s\" takes %u arguments, %zu given", export_name,
                      (unsigned)t->nparams, nargs);
  if (nresults != t->nresults)
    return icxErr_set(&e->err, ICX_EINVAL, "\"%s\" returns %u results, room for %zu given",
                      export_name, (unsigned)t->nresults, nresults);

  uint64_t small[ARGS_ON_STACK];
  uint64_t *slots = small;
  if (nargs > ARGS_ON_STACK) {
    slots = icxCore_allocn(&e->alloc, nargs, sizeof *slots);
    if (!slots) return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  }
  icx_status rc = stage_args(e, t, args, slots);
  if (rc != ICX_OK) goto done;

  int metered = (instance->module->flags & ICX_MODULE_METER) != 0;
  int64_t limit = metered ? instance->fuel_limit : INT64_MAX;
  icxExec_set_fuel(instance->exec, limit, 0);
  icxRun run = icxExec_call(instance->exec, ext.u.func, slots, t->nparams);
  int64_t left = icxExec_fuel(instance->exec);
  /* The interpreter checks the counter at function entries and loop heads
   * only, so a call can return with it below zero: that call went past its
   * limit and counts as out of instructions (as on the IC). */
  if (run == ICX_RUN_DONE && metered && left < 0) run = ICX_RUN_TRAP;
  switch (run) {
  case ICX_RUN_DONE: {
    const uint64_t *rs = icxExec_results(instance->exec);
    for (uint32_t i = 0; i < t->nresults; i++)
      put_result(&results[i], t->types[t->nparams + i], rs[i]);
    break;
  }
  case ICX_RUN_TRAP: {
    icxTrap trap = left < 0 && metered ? ICX_TRAP_OUT_OF_FUEL : icxExec_trap(instance->exec);
    const char *msg = trap == ICX_TRAP_OUT_OF_FUEL ? "" : icxExec_trap_msg(instance->exec);
    if (!msg || !*msg) msg = icx_trap_text((int32_t)trap);
    size_t n = strlen(msg);
    if (n >= sizeof instance->trap_msg) n = sizeof instance->trap_msg - 1;
    memcpy(instance->trap_msg, msg, n);
    instance->trap_msg[n] = 0;
    instance->trap_code = (int32_t)trap;
    res.trapped = 1;
    res.trap_code = (int32_t)trap;
    res.trap_message = instance->trap_msg;
    break;
  }
  case ICX_RUN_SUSPENDED:
    icxExec_reset(instance->exec);
    rc = icxErr_set(&e->err, ICX_EINTERNAL, "execution suspended without a host function");
    goto done;
  default: {
    /* Arguments and state were checked above, so this is the host running
     * out of memory (value stack, frames, memory.grow); anything else is a
     * bug. */
    icx_status xrc = icxExec_error(instance->exec);
    const char *msg = icxExec_trap_msg(instance->exec);
    rc = icxErr_set(&e->err, xrc == ICX_ENOMEM ? ICX_ENOMEM : ICX_EINTERNAL, "call abandoned: %s",
                    msg && *msg ? msg : icx_strerror(xrc));
    goto done;
  }
  }
  /* A call stopped by its limit used all of it. */
  if (metered) instance->instructions = left < 0 ? (uint64_t)limit : (uint64_t)(limit - left);
  res.instructions = instance->instructions;
  put_call_result(out, &res);

done:
  if (slots != small) icxCore_free(&e->alloc, slots, nargs * sizeof *slots);
  return rc == ICX_OK ? ICX_OK : api_fail(e, rc);
}
