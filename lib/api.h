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

#include "ckpt.h"
#include "core.h"
#include "round.h"
#include "rt.h"

/* Handle magics: ASCII "ICXE", "ICXM", "ICXI"; freed handles get DEAD. */
#define ICX_MAGIC_ENGINE 0x45584349u
#define ICX_MAGIC_MODULE 0x4d584349u
#define ICX_MAGIC_INSTANCE 0x49584349u
#define ICX_MAGIC_DEAD 0x44414544u
/* "ICXS", "ICXB", "ICXO": states, batches, round outputs (api_state.c). */
#define ICX_MAGIC_STATE 0x53584349u
#define ICX_MAGIC_BATCH 0x42584349u
#define ICX_MAGIC_OUTPUT 0x4f584349u
/* "ICXN": query snapshots (api_query.c). */
#define ICX_MAGIC_SNAPSHOT 0x4e584349u

struct icx_engine {
  uint32_t magic;
  icxAllocator alloc;      /* every allocation of the engine and its objects */
  icxErr err;              /* the error of the most recent failed call */
  icx_module *modules;     /* live module objects (handle live or held) */
  icx_instance *instances; /* live instances */
  /* Subnet and round configuration (icx_engine_opts, api_state.c). */
  icxRtConfig rtcfg;
  icxRoundLimits limits;
  uint32_t threads;
  struct icxPool *pool;            /* worker threads of rounds (made on first use), or NULL */
  icx_verify_random_sig_fn verify; /* random-tape signature check, or NULL */
  void *verify_ud;
  uint8_t *pubkey;                 /* copy of the subnet public key (engine allocator) */
  size_t pubkey_len;
  icx_state *states;          /* live states */
  icx_batch *batches;         /* live batches */
  icx_round_output *outputs;  /* live round outputs */
  icx_snapshot *snapshots;    /* live query snapshots (api_query.c) */
  _Atomic uint32_t snap_lock; /* spin lock of the snapshots list (freed from any thread) */
};

/* A subnet state: the replicated icxState plus the scheduler's state. */
struct icx_state {
  uint32_t magic;
  icx_engine *engine;
  icxState *st;
  icxSched sched;
  icxCkpt *ckpt;              /* the checkpoint handle of the last save/load, or NULL */
  char *ckpt_dir;             /* its directory (NUL-terminated, engine allocator) */
  icx_state *prev, *next;
};

/* One round's inputs. */
struct icx_batch {
  uint32_t magic;
  uint8_t checkpoint;
  icx_engine *engine;
  uint64_t round, time_ns;
  uint8_t *sig;
  size_t sig_len;
  icxMsgList ingress;         /* kind INGRESS, in the order added */
  icxMsgList xnet;            /* kind REQUEST / RESPONSE from other subnets, in the order added */
  uint64_t payload;           /* bytes of method names and arguments */
  icx_batch *prev, *next;
};

/* What a round produced. */
struct icx_round_output {
  uint32_t magic;
  icx_engine *engine;
  icxMsgList ingress;         /* ingress results (RESPONSE, to_ingress) */
  icxMsgList xnet;            /* messages for other subnets */
  icxRoundStats stats;
  uint8_t hash[32];
  icx_round_output *prev, *next;
};

/* Read the subnet/round fields of opts (icx_engine_new).  ICX_EINVAL with
 * a message in e->err for an inconsistent configuration. */
ICX_INTERNAL icx_status icxApi_engine_config(icx_engine *e, const icx_engine_opts *opts);
/* A public state object around st (taken, freed on failure).  ICX_ENOMEM. */
ICX_INTERNAL icx_status icxApi_state_wrap(icx_engine *e, icxState *st, icx_state **out);
/* Free every state, batch and output of the engine (icx_engine_free). */
ICX_INTERNAL void icxApi_engine_free_rounds(icx_engine *e);
/* Free every query snapshot of the engine (api_query.c; called by
 * icxApi_engine_free_rounds). */
ICX_INTERNAL void icxApi_engine_free_snapshots(icx_engine *e);

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
