/* api.h -- the objects behind the public handles of include/icexec.h (the
 * lapi.h + lstate.h role): struct icx_engine, icx_module, icx_instance, their
 * magic numbers and the handle checks used by every public entry point.
 *
 * Ownership: the engine owns every module and instance made with it and
 * keeps them on two lists, so icx_engine_free releases all of them.  A
 * module's compiled code is shared by its instances: the module object is
 * reference-counted (1 for the live handle + 1 per instance) and destroyed
 * when the count reaches 0.  icx_module_free kills the handle (magic
 * ICX_MAGIC_DEAD) even while instances still hold the object, so a later use
 * of that handle is detected as misuse. */
#ifndef ICX_API_H
#define ICX_API_H

#include "core.h"
#include "rt.h"

/* Handle magics: ASCII "ICXE", "ICXM", "ICXI"; freed handles get DEAD. */
#define ICX_MAGIC_ENGINE 0x45584349u
#define ICX_MAGIC_MODULE 0x4d584349u
#define ICX_MAGIC_INSTANCE 0x49584349u
#define ICX_MAGIC_DEAD 0x44414544u

struct icx_engine {
  uint32_t magic;
  icxAllocator alloc;      /* every allocation of the engine and its objects */
  icxErr err;              /* the error of the most recent failed call */
  icx_module *modules;     /* live module objects (handle live or held) */
  icx_instance *instances; /* live instances */
};

struct icx_module {
  uint32_t magic; /* ICX_MAGIC_MODULE while the handle is live */
  uint32_t flags; /* ICX_MODULE_* */
  uint32_t refs;  /* the handle (until icx_module_free) + one per instance */
  icx_engine *engine;
  icxCompiled *compiled;
  icx_module *prev, *next; /* engine->modules */
};

struct icx_instance {
  uint32_t magic;
  int32_t trap_code;     /* ICX_TRAPCODE_* of the last call */
  uint64_t instructions; /* counted during the last call */
  int64_t fuel_limit;    /* per call; INT64_MAX = no limit */
  icx_engine *engine;
  icx_module *module; /* holds a reference */
  icxStore *store;    /* owns the runtime objects of this instance */
  icxInstance *inst;
  icxExec *exec;
  icx_instance *prev, *next; /* engine->instances */
  char trap_msg[ICX_ERRMSG_MAX];
};

/* Handle checks: non-zero if h is a live handle (and, for modules and
 * instances, its engine is live). */
static inline int icxApi_engine_ok(const icx_engine *e) {
  return e != NULL && e->magic == ICX_MAGIC_ENGINE;
}
static inline int icxApi_module_ok(const icx_module *m) {
  return m != NULL && m->magic == ICX_MAGIC_MODULE && icxApi_engine_ok(m->engine);
}
static inline int icxApi_instance_ok(const icx_instance *i) {
  return i != NULL && i->magic == ICX_MAGIC_INSTANCE && icxApi_engine_ok(i->engine);
}

#endif
