/* canister.h -- the canister runtime: a canister's replicated state and the
 * execution of one message on it, all-or-nothing (reference/ic-execution.md
 * sections 2, 6, 7, 10; docs/runtime.md).
 *
 * Layering: this sits on the instrumentation pass (instrument.h), the
 * compiler/interpreter (rt.h), the memory layer (heap.h, stable.h,
 * pagemap.h) and the cycles arithmetic (cycles.h).  The subnet state, the
 * management canister and the scheduler (state.h, mgmt.c, round.c) sit on
 * top of it.  Nothing here knows about threads: a canister is used by one
 * thread at a time, and everything a canister execution produces for
 * others (responses, requests, log records) is returned as data.
 *
 * Files: canister.c (state, code install/instantiation, commit/rollback,
 * call contexts and callbacks), exec_msg.c (executing messages: entry
 * points, prepay/refund, DTS pause/resume, outcome), sysapi.c (the ic0
 * host functions, dispatch by name through cost.h's table). */
#ifndef ICX_CANISTER_H
#define ICX_CANISTER_H

#include "candid_mgmt.h"
#include "comp.h"
#include "cost.h"
#include "cycles.h"
#include "heap.h"
#include "instrument.h"
#include "pagemap.h"
#include "rt.h"
#include "stable.h"

/* ---- configuration (copied from the engine; immutable during a round) --- */
enum { ICX_SUBNET_APPLICATION = 0, ICX_SUBNET_SYSTEM = 1, ICX_SUBNET_VERIFIED = 2 };

typedef struct icxRtConfig {
  uint8_t subnet_type;          /* ICX_SUBNET_* */
  uint32_t subnet_size;         /* n of the fee scaling (13) */
  icx_principal subnet_id;
  icxFeeConfig fees;
  uint64_t max_instructions_message; /* update / response / task: 40e9 (system 50e9) */
  uint64_t max_instructions_slice;   /* DTS slice: 2e9 */
  uint64_t max_instructions_install; /* install_code total: 300e9 */
  uint64_t max_instructions_install_slice; /* 2e9 */
  uint64_t max_instructions_query;   /* 5e9 */
  uint64_t max_instructions_inspect; /* 200e6 */
  uint64_t max_stable_bytes;         /* 500 GiB */
  uint64_t max_wasm64_bytes;         /* 6 GiB */
  uint64_t stable_access_pages_update, stable_write_pages_update;   /* 2 GiB / 4096 */
  uint64_t stable_access_pages_install, stable_write_pages_install; /* 8 GiB / 4096 */
  uint64_t stable_access_pages_query;                               /* 1 GiB / 4096 */
  uint32_t features;                 /* ICX_FEAT_* for decoding canister modules */
  uint8_t per_byte_sysapi_charges;   /* 0 on system subnets (SAPI) */
  /* debug_print sink (may be NULL): canister id, bytes.  Called from the
   * executing thread; must not call back into the library. */
  void (*debug_print)(void *ud, const icx_principal *canister, const uint8_t *msg, size_t len);
  void *debug_print_ud;
} icxRtConfig;

/* Defaults of the reference (application subnet, 13 nodes). */
ICX_INTERNAL void icxRtConfig_defaults(icxRtConfig *cfg);

/* ---- messages ------------------------------------------------------------ */
enum { ICX_MSG_INGRESS = 0, ICX_MSG_REQUEST = 1, ICX_MSG_RESPONSE = 2 };

/* Reject codes (SPEC). */
enum {
  ICX_REJECT_NONE = 0, ICX_REJECT_SYS_FATAL = 1, ICX_REJECT_SYS_TRANSIENT = 2,
  ICX_REJECT_DESTINATION_INVALID = 3, ICX_REJECT_CANISTER_REJECT = 4,
  ICX_REJECT_CANISTER_ERROR = 5, ICX_REJECT_SYS_UNKNOWN = 6
};

/* A message between canisters, users and the management canister.  Owns
 * method and data (allocated with the runtime's allocator; icxMsg_free). */
typedef struct icxMsg {
  uint8_t kind;            /* ICX_MSG_* */
  icx_principal src, dst;  /* sender and receiver */
  char *method;            /* INGRESS / REQUEST: NUL-terminated method name */
  uint32_t method_len;
  uint8_t *data;           /* argument, reply payload, or reject message (UTF-8) */
  size_t len;
  icxU128 cycles;          /* REQUEST: attached; RESPONSE: refunded to the caller */
  uint64_t callback;       /* REQUEST: the sender's callback id; RESPONSE: the id it answers */
  uint32_t reject_code;    /* RESPONSE: ICX_REJECT_* (0 = reply) */
  uint16_t error_code;     /* RESPONSE to ingress: the IC0xxx number (0 if none) */
  uint64_t deadline;       /* bounded-wait deadline in ns (0 = guaranteed response) */
  uint8_t msg_id[32];      /* INGRESS, and the RESPONSE that answers an ingress */
  uint8_t to_ingress;      /* RESPONSE: answers an ingress message (dst = the user) */
} icxMsg;

ICX_INTERNAL void icxMsg_free(const icxAllocator *a, icxMsg *m);
/* Deep copy. */
ICX_INTERNAL icx_status icxMsg_copy(const icxAllocator *a, const icxMsg *src, icxMsg *out,
                                    icxErr *err);

/* ---- code ---------------------------------------------------------------- */
/* An installed module: instrumented, compiled, immutable, reference-counted
 * (shared by every canister running the same bytes and safe to share
 * between threads). */
typedef struct icxCode {
  icxAllocator alloc;
  _Atomic uint32_t refs;
  icxInstrResult instr;    /* entry points, active data segments, hashes */
  icxCompiled *compiled;   /* the instrumented module, counter fused */
  uint8_t mem64;           /* wasm64 canister: I = i64, instructions billed x2 */
  uint8_t eop;             /* declares icp:private/public enhanced-orthogonal-persistence */
} icxCode;

/* Instrument (canister mode) and compile wasm (raw or gzip).  Errors:
 * ICX_EMALFORMED/EINVALID/EREJECTED with the pass's message, ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCode_new(const icxAllocator *a, const icxRtConfig *cfg,
                                    const uint8_t *wasm, size_t len, icxCode **out, icxErr *err);
ICX_INTERNAL icxCode *icxCode_ref(icxCode *c);
ICX_INTERNAL void icxCode_unref(icxCode *c);
/* The function index of an entry point, or UINT32_MAX if not exported. */
ICX_INTERNAL uint32_t icxCode_entry(const icxCode *c, uint8_t kind, const char *name, size_t len);

/* ---- call contexts and callbacks ----------------------------------------- */
enum { ICX_ORIGIN_INGRESS = 0, ICX_ORIGIN_CANISTER = 1, ICX_ORIGIN_SYSTEM = 2 /* tasks, init */ };

typedef struct icxCallContext {
  uint64_t id;
  uint8_t origin;          /* ICX_ORIGIN_* */
  icx_principal caller;    /* user, canister or the management canister */
  uint64_t origin_callback;/* ORIGIN_CANISTER: the caller's callback id */
  uint8_t msg_id[32];      /* ORIGIN_INGRESS */
  uint64_t deadline;
  icxU128 available;       /* cycles attached and not yet accepted */
  uint8_t responded;
  uint8_t deleted;         /* uninstall: answered by the system, callbacks run no code */
  uint64_t instructions;   /* used so far in this context (performance_counter(1)) */
  char *method;            /* for msg_method_name / logs */
  uint8_t query;           /* made by a composite query: its callbacks run in CRy / CRt /
                            * CC under the query limit (never in a replicated state) */
} icxCallContext;

typedef struct icxCallback {
  uint64_t id;
  uint64_t ctx;            /* the call context it belongs to */
  icx_principal callee;
  uint64_t reply_fun, reply_env, reject_fun, reject_env; /* table indices and envs */
  uint8_t has_cleanup;
  uint64_t cleanup_fun, cleanup_env;
  icxU128 cycles_sent;
  icxU128 prepaid;         /* response execution prepayment (§7.3) */
  icxU128 prepaid_transmission; /* the response-transmission part of the call fee */
  uint64_t deadline;
} icxCallback;

/* ---- the canister -------------------------------------------------------- */
enum { ICX_STATUS_RUNNING = 1, ICX_STATUS_STOPPING = 2, ICX_STATUS_STOPPED = 3 };

typedef struct icxLogRecord {
  uint64_t idx, time_ns;
  uint8_t *content;
  uint32_t len;
} icxLogRecord;

typedef struct icxCanister icxCanister;
typedef struct icxExecution icxExecution; /* a paused (DTS) execution */

struct icxSysBind; /* sysapi.h: (canister, ic0 id) pairs, the host functions' ud */

struct icxCanister {
  icxAllocator alloc;         /* every allocation of the canister */
  icxPmCtx *pm;               /* page-map context of heap and stable memory (borrowed) */
  icxRtConfig cfg;            /* copy of the configuration given to icxCanister_new */
  struct icxSysBind *binds;   /* ICX_IC0_COUNT entries */
  icx_principal id;
  uint8_t status;             /* ICX_STATUS_* */
  uint32_t ncontrollers;
  icx_principal controllers[10];
  icxCanisterSettings settings; /* all fields set (definite settings) */
  icxU128 balance, reserved;
  uint64_t version;           /* canister_version */
  uint8_t certified[32];
  uint32_t certified_len;
  uint64_t global_timer;      /* 0 = inactive */
  uint8_t task_turn;          /* heartbeat / timer round robin */

  icxCode *code;              /* NULL: empty canister */
  /* Live execution objects (rebuilt from the committed state when needed). */
  icxStore *store;
  icxInstance *inst;
  icxExec *x;
  /* Committed memory (between messages the live heap equals heap_map). */
  icxPageMap *heap_map;
  icxStable *stable;
  icxGlobalSave globals;      /* committed values of every global */

  /* Messaging. Arrays sorted by id (ids only grow): deterministic iteration. */
  icxCallContext *ctxs;
  uint32_t nctxs, capctxs;
  icxCallback *cbs;
  uint32_t ncbs, capcbs;
  uint64_t next_ctx_id, next_cb_id;
  icxMsg *inq;                /* input queue (FIFO ring) */
  uint32_t inq_head, inq_len, inq_cap;

  icxExecution *paused;       /* a DTS execution in progress, or NULL */
  icxExecution *cur;          /* the execution whose code is running (sysapi.c), or NULL */

  icxLogRecord *log;          /* the canister log (4 KiB of content, oldest dropped) */
  uint32_t nlog, caplog;
  uint64_t log_bytes, next_log_idx;

  /* Resource charging (icxState_charge_resources): batch time of the last
   * charge for memory and compute allocation (0: not charged yet). */
  uint64_t last_charge_ns;

  /* statistics */
  uint64_t instructions_total;
};

/* A new empty canister (status running, no code). */
ICX_INTERNAL icx_status icxCanister_new(const icxAllocator *a, icxPmCtx *pm,
                                        const icxRtConfig *cfg, const icx_principal *id,
                                        icxCanister **out, icxErr *err);
ICX_INTERNAL void icxCanister_free(icxCanister *c);

/* ---- executing messages ---------------------------------------------------- */
/* What an execution runs (reference section 2.1 context codes). */
enum {
  ICX_EXEC_UPDATE = 0,        /* canister_update <m>, context U */
  ICX_EXEC_QUERY_REPLICATED,  /* canister_query <m> as update: RQ (heap changes dropped) */
  ICX_EXEC_QUERY,             /* non-replicated query: NRQ */
  ICX_EXEC_COMPOSITE_QUERY,   /* CQ */
  ICX_EXEC_RESPONSE,          /* reply / reject callback (+ cleanup on trap) */
  ICX_EXEC_HEARTBEAT,         /* T */
  ICX_EXEC_GLOBAL_TIMER,      /* T */
  ICX_EXEC_LOW_MEMORY,        /* T */
  ICX_EXEC_INSPECT,           /* F */
  ICX_EXEC_INSTALL            /* install / reinstall / upgrade (icxCanister_install only) */
};

/* Capacity of an error text (longer texts are cut). */
#define ICX_ERROR_TEXT_MAX 1536

/* The outcome of one message execution. */
typedef struct icxExecOutcome {
  uint8_t done;            /* 0: paused (DTS); resume with icxCanister_resume */
  uint8_t trapped;         /* rolled back */
  uint16_t error_code;     /* IC0xxx number when the execution failed (502, 503, 504, 522, ...) */
  char error[ICX_ERROR_TEXT_MAX]; /* the replica's message for it */
  uint64_t instructions;   /* used (all slices) */
  icxU128 cycles_charged;  /* execution fee actually kept */
  /* Every cycle this execution took out of circulation (done only): the
   * execution fee kept, the call fees that no callback holds (transmission
   * beyond the prepaid response transmission), cycles_burn128, and a
   * response's unrefunded transmission and execution prepayment.  The
   * caller adds it to the state's burned total (round.c, mgmt.c); nothing
   * in an execution writes state-wide counters. */
  icxU128 burned;
  /* Produced messages, in order: the response to the call context (if it
   * was closed by this execution), then the requests made with
   * call_perform.  Owned by the caller: icxExecOutcome_free. */
  icxMsg *out;
  uint32_t nout, capout;
  uint8_t accepted;        /* INSPECT: accept_message was called */
} icxExecOutcome;

ICX_INTERNAL void icxExecOutcome_free(const icxAllocator *a, icxExecOutcome *o);

/* Per-round inputs of an execution. */
typedef struct icxExecEnv {
  const icxRtConfig *cfg;
  uint64_t time_ns;        /* block time */
  uint64_t slice;          /* instruction budget of this slice (<= the message limit) */
  uint8_t certificate_present; /* NRQ on the target of a query call */
  const uint8_t *certificate;  /* data_certificate bytes */
  size_t certificate_len;
  const uint8_t *root_key;
  size_t root_key_len;
  /* Non-replicated executions (QUERY, COMPOSITE_QUERY and the callbacks of
   * a composite query's call contexts): the instruction limit of this
   * execution, 0 = cfg->max_instructions_query (query.c passes what is
   * left of a composite query's call-graph budget). */
  uint64_t query_limit;
} icxExecEnv;

/* Execute msg on c: an INGRESS or REQUEST runs the update (or replicated
 * query) method it names, a RESPONSE runs the callback it answers; kind
 * says which (ICX_EXEC_*; tasks take msg NULL).  Checks status, entry point
 * and cycles (prepay) first; a message that cannot run produces its
 * reject/error response in *out without running code.  A trap rolls back
 * heap, stable memory, globals, balances and call state (except fees).
 * ICX_EXEC_QUERY and ICX_EXEC_COMPOSITE_QUERY take an INGRESS message (src
 * = the caller, user or canister) and run unsliced under env->query_limit,
 * without cycles.  QUERY discards every change.  COMPOSITE_QUERY (context
 * CQ) keeps its memory changes in c (the caller works on a throw-away copy,
 * query.c) and, when it neither replied nor trapped but called other
 * canisters, opens a query call context (origin INGRESS, query = 1) whose
 * callbacks (RESPONSE executions) run in CRy / CRt / CC; its requests
 * follow the response (if any) in out->out.
 * Errors (returned, state unchanged): ICX_ENOMEM, ICX_EINVAL (wrong message
 * kind), ICX_ESTATE (a paused execution exists:
 * resume or abort it first), ICX_ENOTFOUND (RESPONSE for an unknown
 * callback).  Tasks take msg NULL and do nothing when the entry point is
 * not exported or the canister is not running.  Free out with
 * icxExecOutcome_free (also after ICX_OK with out->done == 0: it is empty). */
ICX_INTERNAL icx_status icxCanister_execute(icxCanister *c, const icxExecEnv *env, uint8_t kind,
                                            const icxMsg *msg, icxExecOutcome *out, icxErr *err);
/* Continue a paused execution with a new slice (env->slice; 0 = the rest).
 * ICX_ESTATE when nothing is paused. */
ICX_INTERNAL icx_status icxCanister_resume(icxCanister *c, const icxExecEnv *env,
                                           icxExecOutcome *out, icxErr *err);
/* Abort a paused execution: state as before it started; the message is
 * returned in *msg (to be executed again from the start) when there is one. */
ICX_INTERNAL void icxCanister_abort(icxCanister *c, icxMsg *msg, int *has_msg);
/* Cycles held by c's paused execution that the committed canister state
 * does not show (0 if none): its execution prepayment (not for a response,
 * whose callback still holds it) and the cycles of the message it runs
 * (a request's attached cycles, a response's refund).  icxState_cycles_total
 * counts them. */
ICX_INTERNAL icxU128 icxCanister_paused_cycles(const icxCanister *c);

/* ---- install / upgrade / uninstall (called by the management canister) --- */
typedef struct icxInstallArgs {
  int mode;                /* ICX_INSTALL_MODE_* (candid_mgmt.h) */
  int skip_pre_upgrade;
  int wasm_memory_persistence; /* ICX_WASM_MEMORY_* */
  icxCode *code;           /* referenced by the call on success */
  const uint8_t *arg;
  size_t arg_len;
  icx_principal caller;
} icxInstallArgs;

/* install / reinstall / upgrade as section 6.2: atomic (any trap or error
 * restores the previous canister exactly), sliced like an update under the
 * install limits (max_instructions_install in total, env->slice per slice;
 * 0 = unsliced).  out->done == 0: paused between slices -- continue with
 * icxCanister_resume (its outcome is the install's) or drop it with
 * icxCanister_abort (the canister is then exactly as before this call, the
 * prepayment returned; no message is handed back).  While paused the
 * canister shows its previous state (code, memories, version) with the
 * install prepayment withdrawn and `paused` set; args->code and args->arg
 * need not outlive this call.  The final outcome and state equal those of
 * an unsliced run.  On failure out->error_code/error say why (IC0502 ...). */
ICX_INTERNAL icx_status icxCanister_install(icxCanister *c, const icxExecEnv *env,
                                            const icxInstallArgs *args, icxExecOutcome *out,
                                            icxErr *err);
/* uninstall_code: drop code and memories, reject open call contexts
 * (responses in out->out). */
ICX_INTERNAL icx_status icxCanister_uninstall(icxCanister *c, icxExecOutcome *out, icxErr *err);

/* ---- frozen images (query snapshots, query.c) ------------------------------ */
/* The committed state of a canister that a non-replicated execution needs,
 * frozen: values, and references to the immutable code and page maps.
 * Read-only once made; any number of threads may build working canisters
 * from one image at once.  A canister with a paused execution gives its
 * committed state (the paused run's changes are not in the maps). */
typedef struct icxCanisterImage {
  icx_principal id;
  uint8_t status;
  uint32_t ncontrollers;
  icx_principal controllers[10];
  icxCanisterSettings settings;
  icxU128 balance, reserved;
  uint64_t version;
  uint8_t certified[32];
  uint32_t certified_len;
  uint64_t global_timer;
  icxCode *code;           /* referenced, or NULL (empty canister) */
  icxPageMap *heap;        /* referenced: committed heap */
  icxPageMap *stable;      /* referenced: committed stable memory */
  icxGlobalSave globals;   /* copy of the committed globals */
} icxCanisterImage;

/* The image of c's committed state: O(1) plus a copy of the globals (no
 * page is copied).  ICX_ENOMEM (*out zeroed). */
ICX_INTERNAL icx_status icxCanister_image(const icxAllocator *a, const icxCanister *c,
                                          icxCanisterImage *out, icxErr *err);
/* Drop the references and the globals copy of an image and zero it. */
ICX_INTERNAL void icxCanisterImage_free(const icxAllocator *a, icxCanisterImage *img);
/* A new working canister with img's state (no call contexts, queues or
 * logs): the code instantiated, heap and stable memory loaded from the
 * maps (the heap's present pages are copied into the live memory), the
 * globals restored.  Everything it does stays in the new canister.
 * Errors: ICX_ENOMEM, ICX_EREJECTED / ICX_ETRAP (the code no longer
 * instantiates: internal). */
ICX_INTERNAL icx_status icxCanister_from_image(const icxAllocator *a, icxPmCtx *pm,
                                               const icxRtConfig *cfg,
                                               const icxCanisterImage *img,
                                               icxCanister **out, icxErr *err);

/* Memory charged for the canister (heap + stable + globals + code), bytes. */
ICX_INTERNAL uint64_t icxCanister_memory_usage(const icxCanister *c);

#endif
