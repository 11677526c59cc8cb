/* sysapi.h -- internals shared by canister.c, exec_msg.c and sysapi.c: the
 * record of one execution in progress (icxExecution: the System API state
 * of reference section 2 plus the working copies that make an execution
 * all-or-nothing), the ic0 host functions and the instruction accounting
 * of sections 4.4/4.5 (docs/runtime.md). */
#ifndef ICX_SYSAPI_H
#define ICX_SYSAPI_H

#include "canister.h"

/* The replica's ApiType (what is running), which decides the context bit
 * and the name used in "cannot be executed in <mode> mode". */
enum {
  ICX_API_START = 0, ICX_API_INIT, ICX_API_PRE_UPGRADE, ICX_API_UPDATE, ICX_API_RQ, ICX_API_NRQ,
  ICX_API_REPLY, ICX_API_REJECT, ICX_API_CLEANUP, ICX_API_INSPECT, ICX_API_HEARTBEAT,
  ICX_API_TIMER, ICX_API_LOW_MEMORY,
  /* composite queries: the method (CQ) and the callbacks of its calls */
  ICX_API_CQ, ICX_API_CRY, ICX_API_CRT, ICX_API_CC, ICX_API_COUNT
};

/* The ud of every ic0 host function. */
typedef struct icxSysBind {
  icxCanister *c;
  uint32_t id; /* icxIc0Id */
} icxSysBind;

/* How an execution failed (what becomes the IC error). */
enum {
  ICX_FAIL_NONE = 0,
  ICX_FAIL_WASM,        /* Wasm trap: IC0502 "trapped: <code>" */
  ICX_FAIL_CALLED_TRAP, /* ic0.trap: IC0503 */
  ICX_FAIL_CONTRACT,    /* System API misuse: IC0504 */
  ICX_FAIL_LIMIT,       /* instruction limit: IC0522 */
  ICX_FAIL_ACCESS,      /* stable access/write limit: IC0524 */
  ICX_FAIL_WASM_MEM,    /* wasm_memory_limit: IC0539 */
  ICX_FAIL_FUNC,        /* callback table entry missing: IC0513 */
  ICX_FAIL_RAW          /* error_code and text already final */
};

/* The help line the replica appends to an error (its ErrorHelp): none, the
 * toolchain text, or a suggestion with a link to the execution-errors
 * documentation (exec_msg.c has the texts). */
enum {
  ICX_HELP_DEFAULT = 0,  /* the usual help of the failure kind */
  ICX_HELP_NONE,         /* no help line (and no final period) */
  ICX_HELP_TOOLCHAIN,    /* "This is likely an error with the compiler/CDK toolchain ..." */
  ICX_HELP_WRONG_MODE    /* "Check the ICP documentation ..." #calling-a-system-api-from-the-wrong-mode */
};

/* The call being built between call_new and call_perform. */
typedef struct icxCallPrep {
  uint8_t active;
  uint8_t has_cleanup, has_timeout;
  icx_principal callee;
  char *method;
  uint32_t method_len;
  uint8_t *data;
  size_t len, cap;
  uint64_t reply_fun, reply_env, reject_fun, reject_env, cleanup_fun, cleanup_env;
  icxU128 cycles;
  uint64_t deadline;
} icxCallPrep;

struct icxExecution {
  icxCanister *c;
  icxRtConfig cfg;        /* copy (a paused execution outlives the env) */
  uint8_t kind;           /* ICX_EXEC_* */
  uint8_t api;            /* ICX_API_* of the entry point running now */
  uint8_t phase;          /* exec_msg.c / canister.c private */
  uint8_t mem64;
  uint8_t replicated;     /* in_replicated_execution */
  uint8_t query;          /* RESPONSE: the callback of a composite query's call context */
  uint8_t cert_present;
  uint64_t time_ns;
  const uint8_t *root_key, *certificate; /* borrowed from the env of the current slice */
  size_t root_key_len, certificate_len;
  uint8_t oom;            /* a host function ran out of host memory: API error */

  /* the message */
  icxMsg msg;
  uint8_t has_msg;
  icx_principal caller;
  const uint8_t *arg;     /* argument (or reply payload in Ry) */
  size_t arg_len;
  const char *method;     /* inspect_message: the method name */
  size_t method_len;
  uint32_t reject_code;   /* Ry/Rt/C: 0 for a reply */
  const uint8_t *reject_msg;
  size_t reject_msg_len;
  icxU128 refunded;       /* Ry/Rt: msg_cycles_refunded */
  uint64_t deadline;      /* msg_deadline */

  /* the call context */
  uint64_t ctx_id;
  uint8_t ctx_new;        /* the context is created by this execution */
  uint8_t can_respond;    /* a response is still owed by the context */
  uint8_t resp;           /* 0 none, 1 replied, 2 rejected by this execution */
  uint8_t *reply;         /* reply payload or reject message */
  size_t reply_len, reply_cap;
  icxU128 available;      /* cycles available in the context (working copy) */
  uint64_t ctx_instr_before; /* instructions of the context before this execution */
  uint8_t accepted;       /* inspect: accept_message called */

  /* working copies of the canister's system state */
  icxU128 balance, balance_start;
  uint8_t certified[32];
  uint32_t certified_len;
  uint64_t timer;
  uint64_t version;
  icxU128 threshold;      /* freezing threshold at the start */
  icxU128 prepaid;        /* execution cycles prepaid for this message */
  icxU128 burned;         /* working copy: call fees not held by a callback and
                           * cycles_burn128 (outcome->burned on success; dropped
                           * with the balance on a trap) */
  icxWasmMode mode;

  /* outgoing calls */
  icxCallPrep call;
  icxMsg *reqs;           /* performed requests (callback ids set) */
  icxCallback *cbs;       /* their callbacks */
  uint32_t nreqs, capreqs;

  /* instruction accounting (section 4.5) */
  uint64_t limit;         /* message limit */
  uint64_t used;          /* used in earlier slices (and fixed charges) */
  int64_t slice_fuel;     /* the counter at the start of this slice */
  int64_t reserve;        /* limit - used - slice_fuel: the unsliced counter is fuel + reserve */
  uint8_t suspend;        /* this slice may pause */
  uint8_t pause_after;    /* a host function overdrew the slice: pause after it */
  uint64_t wasm_mem_limit;/* 0: not enforced in this entry point */

  /* failure */
  uint8_t fail;           /* ICX_FAIL_* */
  uint8_t help;           /* ICX_HELP_* (CONTRACT: DEFAULT = toolchain) */
  uint8_t err_plain;      /* CONTRACT: err is the whole description (no "Canister violated contract: ") */
  uint16_t err_code;
  char err[480];          /* text for CALLED_TRAP / CONTRACT / ACCESS / RAW */

  /* the Wasm run in progress (DTS) */
  icxExec *x;             /* the execution context running the code */
  uint64_t slice_size;    /* the env's slice of the current round (0: unsliced) */
  uint16_t cb_err_code;   /* RESPONSE: the failed callback's error, while its cleanup runs: */
  char cb_err[ICX_ERROR_TEXT_MAX];  /* the whole text */
  char cb_desc[ICX_ERROR_TEXT_MAX]; /* the description without "Error from Canister <id>: " and help */
  uint64_t timer_before;  /* GLOBAL_TIMER task: the timer it cleared (for abort) */
  icxFuncInst *fn;
  uint64_t fn_arg;
  uint8_t fn_has_arg;
  icxCallback cb;         /* RESPONSE: the callback being answered */
  struct icxInstallRun *install; /* INSTALL: the install in progress (install.c) */
};

/* ---- sysapi.c ---------------------------------------------------------- */
/* The host function of every ic0 import (ud = icxSysBind *). */
ICX_INTERNAL int icxSys_dispatch(icxExec *x, void *ud, uint64_t *slots);
/* "__.try_grow_wasm_memory" with wasm_memory_limit (ud = icxCanister *). */
ICX_INTERNAL int icxSys_try_grow(icxExec *x, void *ud, uint64_t *slots);
/* The context bit (ICX_CTX_*) and the replica's name of an ICX_API_*. */
ICX_INTERNAL uint16_t icxSys_ctx_bit(uint8_t api);
ICX_INTERNAL const char *icxSys_api_name(uint8_t api);
/* Instructions used by the execution so far (performance_counter(0)). */
ICX_INTERNAL uint64_t icxSys_instructions(const icxExecution *e);
/* Append a record to the canister log (oldest records dropped beyond 4 KiB). */
ICX_INTERNAL void icxSys_log(icxCanister *c, uint64_t time_ns, const uint8_t *p, size_t n);
/* 1 if p[0..n) is valid UTF-8. */
ICX_INTERNAL int icxSys_utf8_valid(const uint8_t *p, size_t n);
/* Free the call under construction (its cycles are not returned). */
ICX_INTERNAL void icxSys_call_clear(const icxAllocator *a, icxCallPrep *cp);

/* ---- canister.c ----------------------------------------------------------- */
/* The freezing threshold of c now. */
ICX_INTERNAL icxU128 icxCanister_threshold(const icxCanister *c, const icxRtConfig *cfg);
/* Append the response of call context ctx to out (nothing for system
 * origins).  ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCanister_respond(icxCanister *c, const icxCallContext *ctx,
                                            uint32_t reject_code, uint16_t error_code,
                                            const uint8_t *data, size_t len, icxU128 refund,
                                            icxExecOutcome *out, icxErr *err);
/* Move *m into out (m zeroed).  ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCanister_push_out(icxCanister *c, icxExecOutcome *out, icxMsg *m,
                                             icxErr *err);
/* A new execution record (zeroed, canister and config set).  NULL on OOM. */
ICX_INTERNAL icxExecution *icxExecution_new(icxCanister *c, const icxExecEnv *env, uint8_t kind);
ICX_INTERNAL void icxExecution_free(icxExecution *e);
/* Call context lookup by id: index or -1. */
ICX_INTERNAL int64_t icxCanister_ctx_find(const icxCanister *c, uint64_t id);
ICX_INTERNAL int64_t icxCanister_cb_find(const icxCanister *c, uint64_t id);
/* Append to the sorted arrays (ids are increasing).  ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCanister_ctx_push(icxCanister *c, const icxCallContext *ctx);
ICX_INTERNAL icx_status icxCanister_cb_push(icxCanister *c, const icxCallback *cb);
ICX_INTERNAL void icxCanister_ctx_remove(icxCanister *c, uint64_t idx);
ICX_INTERNAL void icxCanister_cb_remove(icxCanister *c, uint64_t idx);
/* Does any callback refer to context ctx_id? */
ICX_INTERNAL int icxCanister_ctx_has_callbacks(const icxCanister *c, uint64_t ctx_id);
/* Make the live instance's memory, stable memory and globals equal to the
 * committed state again (after a trap or a discarded query). */
ICX_INTERNAL void icxCanister_rollback_memory(icxCanister *c);
/* Commit the live memory, stable memory and globals.  ICX_ENOMEM (nothing
 * committed; the caller rolls back). */
ICX_INTERNAL icx_status icxCanister_commit_memory(icxCanister *c, icxErr *err);
/* Format "Canister <id>" into buf. */
ICX_INTERNAL void icxCanister_id_text(const icxCanister *c, char *buf, size_t cap);

/* A live instance of a module: store, instance and execution context. */
typedef struct icxRuntime {
  icxStore *store;
  icxInstance *inst;
  icxExec *x;
} icxRuntime;
/* Instantiate code with every ic0 import linked to c's host functions.  A
 * trap at instantiation (element segment out of bounds) is reported in
 * *trap with ICX_OK and *r zeroed.  Errors: ICX_ENOMEM, ICX_EREJECTED. */
ICX_INTERNAL icx_status icxRuntime_new(icxCanister *c, icxCode *code, icxRuntime *r,
                                       icxTrap *trap, icxErr *err);
/* Free r's objects and zero it. */
ICX_INTERNAL void icxRuntime_free(icxRuntime *r);
/* Drop c's live store, instance and execution context. */
ICX_INTERNAL void icxCanister_drop_runtime(icxCanister *c);
/* Commit inst's dirty heap pages over *base (replacing it), c's stable
 * memory and inst's globals into c->globals; all or nothing.  ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCanister_commit_into(icxCanister *c, icxInstance *inst,
                                                icxPageMap **base, icxErr *err);
/* The function instance of entry point kind (ICX_EP_*), NULL if not exported. */
ICX_INTERNAL icxFuncInst *icxCanister_entry_func(icxInstance *inst, const icxCode *code,
                                                 uint8_t kind);

/* ---- install.c ------------------------------------------------------------ */
/* Continue the paused install e (already taken out of c->paused) with a
 * new slice; the outcome as icxCanister_install's. */
ICX_INTERNAL icx_status icxInstall_resume(icxCanister *c, icxExecution *e, const icxExecEnv *env,
                                          icxExecOutcome *out, icxErr *err);
/* Drop the paused install e (taken out of c->paused): the canister is
 * exactly as before icxCanister_install, prepayment returned; e is freed. */
ICX_INTERNAL void icxInstall_abort(icxCanister *c, icxExecution *e);

/* ---- exec_msg.c ----------------------------------------------------------- */
/* Start a slice: the counter = min(slice, limit - used). */
ICX_INTERNAL void icxExecution_start_slice(icxExecution *e, icxExec *x, uint64_t slice);
/* Outcome of running a function in the execution. */
enum { ICX_STEP_DONE = 0, ICX_STEP_FAIL = 1, ICX_STEP_PAUSED = 2, ICX_STEP_ERROR = 3 };
/* Call f (with one I argument when has_arg) on the canister's live
 * instance, or resume the suspended run (f NULL); accounts instructions,
 * classifies traps into e->fail. */
ICX_INTERNAL int icxExecution_run(icxExecution *e, icxExec *x, icxFuncInst *f, int has_arg,
                                  uint64_t arg);
/* Fill out->error_code/error from e->fail, as the replica's
 * HypervisorError::into_user_error: "Error from Canister <id>: <description>"
 * and, when the failure has help, ".\n<help>". */
ICX_INTERNAL void icxExecution_error(const icxExecution *e, uint16_t *code, char *buf, size_t cap);
/* The description alone (the Display of the replica's HypervisorError) and
 * the help kind (ICX_HELP_NONE / TOOLCHAIN / a user help). */
ICX_INTERNAL void icxExecution_describe(const icxExecution *e, uint16_t *code, char *buf,
                                        size_t cap, uint8_t *help);
/* The text of an error found before any code runs, in the form of
 * icxExecution_error: code 537 (no Wasm module) or 536 (method not found),
 * with the help line of the replica for each. */
ICX_INTERNAL void icxExecution_pre_error(const icxCanister *c, uint16_t code, const char *desc,
                                         char *buf, size_t cap);
/* "Error from Canister <id>: <desc>[.\n<help text>]" into buf. */
ICX_INTERNAL void icxExecution_format(const icxCanister *c, const char *desc, uint8_t help,
                                      uint16_t code, char *buf, size_t cap);

#endif
