/* uc.h -- the bytecode of the test "universal canister" (tests/canisters/uc.c)
 * and a header-only builder for its scripts.
 *
 * One source of truth: the canister includes this file with UC_CANISTER
 * defined and gets only the opcode table; tests get the builder too.
 *
 * ---- the machine ----------------------------------------------------------
 * A script is a sequence of one-byte opcodes, some with an immediate.  The
 * machine has a stack of byte strings (at most UC_STACK_MAX).  Integers are
 * byte strings too: PUSH_INT pushes 8 bytes little-endian, and an op that
 * takes an integer reads the first min(len, 8) bytes of the popped string
 * as a little-endian number (zero-extended).  A 128-bit cycle amount is 16
 * bytes little-endian (low u64 first), read the same way from up to 16
 * bytes, so PUSH_INT(x) is also the amount x.  Results of ic0 functions
 * that return i32 are pushed zero-extended as 8-byte integers (so i32 -1 is
 * 0x00000000ffffffff); i64 results as 8 bytes; 128-bit results as 16 bytes.
 *
 * Arguments are pushed in the order of the ic0 signature: the last argument
 * is on top.  "(a, b) -> r" below means: pops b, then a; pushes r.
 *
 * Immediates: PUSH_INT u64 LE (8 bytes); PUSH_BYTES u32 LE length, bytes.
 * Nothing else has an immediate.
 *
 * Errors of the machine itself (unknown opcode, stack underflow/overflow,
 * truncated immediate) call ic0.trap with a message starting "uc: ".
 *
 * ---- entry points -------------------------------------------------------------
 *   canister_init, canister_post_upgrade           run the argument as a script
 *   canister_update update, canister_query query,
 *   canister_composite_query cquery                run the argument as a script
 *   canister_pre_upgrade, canister_heartbeat, canister_global_timer,
 *   canister_on_low_wasm_memory                    run the script stored with
 *                                                  SET_HOOK (nothing if unset)
 *   canister_inspect_message                       run the hook if set, else
 *                                                  call accept_message
 * CALL_NEW registers three table functions as the reply, reject and cleanup
 * closures; their env points to a record in the canister heap holding the
 * reply/reject scripts given to CALL_NEW and the cleanup script given to
 * CALL_ON_CLEANUP.  In a callback MSG_ARG_DATA is the reply payload and
 * MSG_REJECT_MSG the reject message, as usual.
 *
 * Heap: a "scratch" byte string and a counter live in the canister heap
 * (persist across messages, roll back on trap, reset on upgrade and
 * reinstall).  The counter starts at UC_COUNTER_INIT from a data segment,
 * so it also shows that data segments are re-applied on upgrade.  Hooks
 * live in the heap too.
 *
 * Scripts, hooks and the scratch string are bounded by the canister's
 * persistent area (UC_PERSISTENT_BYTES); the argument and temporaries live
 * in a per-message arena above __heap_base (grown with memory.grow). */
#ifndef ICX_TESTS_UC_H
#define ICX_TESTS_UC_H

#define UC_STACK_MAX 256
#define UC_COUNTER_INIT 1000
#define UC_PERSISTENT_BYTES (1u << 20)

/* Hook kinds for SET_HOOK. */
enum {
  UC_HOOK_PRE_UPGRADE = 0,
  UC_HOOK_HEARTBEAT = 1,
  UC_HOOK_GLOBAL_TIMER = 2,
  UC_HOOK_INSPECT = 3,
  UC_HOOK_LOW_MEMORY = 4,
  UC_HOOK_COUNT = 5
};

/* What COPY_RAW copies. */
enum {
  UC_COPY_CALLER = 0,
  UC_COPY_SELF = 1,
  UC_COPY_SUBNET = 2,
  UC_COPY_ROOT_KEY = 3,
  UC_COPY_DATA_CERTIFICATE = 4
};

/* X(NAME, code, builder name)  -- the comment gives the stack effect. */
#define UC_OPS(X)                                                                                  \
  /* stack and data */                                                                             \
  X(PUSH_INT, 0x01, push_int_)               /* imm u64 -> int */                                  \
  X(PUSH_BYTES, 0x02, push_bytes_)           /* imm u32 n, n bytes -> blob */                      \
  X(DUP, 0x03, dup)                          /* a -> a a */                                        \
  X(DROP, 0x04, drop)                        /* a -> */                                            \
  X(SWAP, 0x05, swap)                        /* a b -> b a */                                      \
  X(CONCAT, 0x06, concat)                    /* a b -> a||b */                                     \
  X(INT_ADD, 0x07, int_add)                  /* a b -> a+b (u64, wrapping) */                      \
  X(INT_DIV, 0x08, int_div)                  /* a b -> a/b (u64 div: traps on 0, a Wasm trap) */   \
  X(UNREACHABLE, 0x09, unreachable)          /* Wasm `unreachable` */                              \
  /* the incoming message */                                                                       \
  X(MSG_ARG_DATA, 0x10, msg_arg_data)        /* -> whole argument (size + copy) */                 \
  X(MSG_ARG_DATA_SIZE, 0x11, msg_arg_data_size) /* -> int */                                       \
  X(MSG_ARG_DATA_COPY, 0x12, msg_arg_data_copy) /* (off, size) -> blob */                          \
  X(MSG_ARG_DATA_COPY_TO, 0x13, msg_arg_data_copy_to) /* (dst, off, size) -> ; raw heap address */ \
  X(MSG_CALLER, 0x14, msg_caller)            /* -> blob */                                         \
  X(MSG_REJECT_CODE, 0x15, msg_reject_code)  /* -> int */                                          \
  X(MSG_REJECT_MSG, 0x16, msg_reject_msg)    /* -> blob */                                         \
  X(MSG_REJECT_MSG_SIZE, 0x17, msg_reject_msg_size) /* -> int */                                   \
  X(MSG_DEADLINE, 0x18, msg_deadline)        /* -> int */                                          \
  X(REPLY_DATA_APPEND, 0x19, reply_data_append) /* (blob) -> */                                    \
  X(REPLY, 0x1a, reply)                      /* -> */                                              \
  X(REJECT, 0x1b, reject)                    /* (blob) -> */                                       \
  X(MSG_METHOD_NAME, 0x1c, msg_method_name)  /* -> blob */                                         \
  X(ACCEPT_MESSAGE, 0x1d, accept_message)    /* -> */                                              \
  /* cycles (the 64-bit forms do not exist in the wasm64 build: they trap "uc: ...") */            \
  X(MSG_CYCLES_AVAILABLE128, 0x20, msg_cycles_available128) /* -> amount */                        \
  X(MSG_CYCLES_REFUNDED128, 0x21, msg_cycles_refunded128)   /* -> amount */                        \
  X(MSG_CYCLES_ACCEPT128, 0x22, msg_cycles_accept128)       /* (max) -> accepted */                \
  X(CYCLES_BURN128, 0x23, cycles_burn128)                   /* (amount) -> burned */               \
  X(CANISTER_CYCLE_BALANCE128, 0x24, canister_cycle_balance128) /* -> amount */                    \
  X(CANISTER_LIQUID_CYCLE_BALANCE128, 0x25, canister_liquid_cycle_balance128) /* -> amount */      \
  X(CALL_CYCLES_ADD128, 0x26, call_cycles_add128)           /* (amount) -> */                      \
  X(MSG_CYCLES_AVAILABLE, 0x27, msg_cycles_available)       /* -> int */                           \
  X(MSG_CYCLES_REFUNDED, 0x28, msg_cycles_refunded)         /* -> int */                           \
  X(MSG_CYCLES_ACCEPT, 0x29, msg_cycles_accept)             /* (max) -> int */                     \
  X(CANISTER_CYCLE_BALANCE, 0x2a, canister_cycle_balance)   /* -> int */                           \
  X(CALL_CYCLES_ADD, 0x2b, call_cycles_add)                 /* (amount) -> */                      \
  /* the canister and the system */                                                                \
  X(CANISTER_SELF, 0x30, canister_self)      /* -> blob */                                         \
  X(CANISTER_STATUS, 0x31, canister_status)  /* -> int */                                          \
  X(CANISTER_VERSION, 0x32, canister_version) /* -> int */                                         \
  X(SUBNET_SELF, 0x33, subnet_self)          /* -> blob */                                         \
  X(TIME, 0x34, time)                        /* -> int */                                          \
  X(PERFORMANCE_COUNTER, 0x35, performance_counter) /* (type) -> int */                            \
  X(IS_CONTROLLER, 0x36, is_controller)      /* (principal) -> int */                              \
  X(IN_REPLICATED_EXECUTION, 0x37, in_replicated_execution) /* -> int */                           \
  X(GLOBAL_TIMER_SET, 0x38, global_timer_set) /* (ts) -> previous */                               \
  X(CERTIFIED_DATA_SET, 0x39, certified_data_set) /* (blob) -> */                                  \
  X(DATA_CERTIFICATE_PRESENT, 0x3a, data_certificate_present) /* -> int */                         \
  X(DATA_CERTIFICATE, 0x3b, data_certificate) /* -> blob */                                        \
  X(ROOT_KEY, 0x3c, root_key)                /* -> blob */                                         \
  X(COST_CALL, 0x3d, cost_call)              /* (method_size, payload_size) -> amount */           \
  X(COST_CREATE_CANISTER, 0x3e, cost_create_canister) /* -> amount */                              \
  X(DEBUG_PRINT, 0x3f, debug_print)          /* (blob) -> */                                       \
  X(TRAP, 0x40, trap)                        /* (blob) -> ; ic0.trap */                            \
  X(DEBUG_PRINT_RAW, 0x41, debug_print_raw)  /* (src, size) -> ; raw heap address */               \
  X(COPY_RAW, 0x42, copy_raw)                /* (which, dst, off, size) -> ; X_copy at a raw       \
                                                address, which: UC_COPY_* */                       \
  X(ENV_VAR_COUNT, 0x43, env_var_count)      /* -> int */                                          \
  X(ENV_VAR_NAME, 0x44, env_var_name)        /* (index) -> blob (size + copy) */                   \
  X(ENV_VAR_VALUE, 0x45, env_var_value)      /* (name) -> blob (size + copy) */                    \
  X(ENV_VAR_NAME_EXISTS, 0x46, env_var_name_exists) /* (name) -> int */                            \
  X(COST_HTTP_REQUEST, 0x47, cost_http_request) /* (request_size, max_res_bytes) -> amount */      \
  X(COST_SIGN, 0x48, cost_sign)              /* (kind, key_name, curve) -> amount result; kind:    \
                                                0 ecdsa, 1 schnorr, 2 vetkd; result on top */      \
  X(MINT_CYCLES128, 0x49, mint_cycles128)    /* (amount) -> minted */                              \
  /* outgoing calls */                                                                             \
  X(CALL_NEW, 0x50, call_new)                /* (callee, method, reply_script, reject_script) -> */\
  X(CALL_NEW_RAW, 0x51, call_new_raw)        /* (callee, method, reply_fun, reply_env,            \
                                                 reject_fun, reject_env) -> ; table indices */     \
  X(CALL_DATA_APPEND, 0x52, call_data_append) /* (blob) -> */                                      \
  X(CALL_ON_CLEANUP, 0x53, call_on_cleanup)  /* (cleanup_script) -> ; env 0 if no CALL_NEW yet */  \
  X(CALL_WITH_BEST_EFFORT_RESPONSE, 0x54, call_with_best_effort_response) /* (timeout_s) -> */    \
  X(CALL_PERFORM, 0x55, call_perform)        /* -> int (0 = ok) */                                 \
  /* stable memory (the 32-bit forms trap "uc: ..." in the wasm64 build) */                        \
  X(STABLE_SIZE, 0x60, stable_size)          /* -> int */                                          \
  X(STABLE_GROW, 0x61, stable_grow)          /* (pages) -> int (old size or 0xffffffff) */         \
  X(STABLE_READ, 0x62, stable_read)          /* (off, size) -> blob */                             \
  X(STABLE_WRITE, 0x63, stable_write)        /* (off, blob) -> */                                  \
  X(STABLE64_SIZE, 0x64, stable64_size)      /* -> int */                                          \
  X(STABLE64_GROW, 0x65, stable64_grow)      /* (pages) -> int (old size or u64 max) */            \
  X(STABLE64_READ, 0x66, stable64_read)      /* (off, size) -> blob */                             \
  X(STABLE64_WRITE, 0x67, stable64_write)    /* (off, blob) -> */                                  \
  X(STABLE64_READ_RAW, 0x68, stable64_read_raw) /* (dst, off, size) -> ; raw heap address */       \
  X(STABLE64_WRITE_RAW, 0x69, stable64_write_raw) /* (off, src, size) -> ; raw heap address */     \
  /* heap state of the canister */                                                                 \
  X(SCRATCH_SET, 0x70, scratch_set)          /* (blob) -> */                                       \
  X(SCRATCH_GET, 0x71, scratch_get)          /* -> blob */                                         \
  X(SCRATCH_APPEND, 0x72, scratch_append)    /* (blob) -> */                                       \
  X(COUNTER_INC, 0x73, counter_inc)          /* -> new value (int) */                              \
  X(COUNTER_GET, 0x74, counter_get)          /* -> int */                                          \
  X(SET_HOOK, 0x75, set_hook)                /* (kind, script) -> ; empty script clears */         \
  X(BURN, 0x76, burn)                        /* (n) -> ; a loop of n iterations */                 \
  X(MEMORY_GROW, 0x77, memory_grow)          /* (pages) -> int (memory.grow result, i32/i64) */    \
  X(MEMORY_SIZE, 0x78, memory_size)          /* -> int (pages) */

enum {
#define UC_OP_ENUM(name, code, fn) UC_##name = code,
  UC_OPS(UC_OP_ENUM)
#undef UC_OP_ENUM
      UC_OP_LAST
};

#ifndef UC_CANISTER
/* ---- the builder (host side) ------------------------------------------------ */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct uc_script {
  uint8_t *p;
  size_t len, cap;
} uc_script;

static inline void uc_init(uc_script *s) {
  s->p = NULL;
  s->len = s->cap = 0;
}
static inline void uc_free(uc_script *s) {
  free(s->p);
  uc_init(s);
}
static inline void uc_raw(uc_script *s, const void *p, size_t n) {
  if (s->len + n > s->cap) {
    size_t cap = s->cap ? s->cap : 64;
    while (cap < s->len + n) cap *= 2;
    uint8_t *q = (uint8_t *)realloc(s->p, cap);
    if (!q) abort();
    s->p = q;
    s->cap = cap;
  }
  if (n) memcpy(s->p + s->len, p, n);
  s->len += n;
}
static inline void uc_op(uc_script *s, uint8_t op) { uc_raw(s, &op, 1); }

static inline void uc_push_int(uc_script *s, uint64_t v) {
  uint8_t b[9];
  b[0] = UC_PUSH_INT;
  for (int i = 0; i < 8; i++) b[1 + i] = (uint8_t)(v >> (8 * i));
  uc_raw(s, b, 9);
}
static inline void uc_push_bytes(uc_script *s, const void *p, size_t n) {
  uint8_t b[5];
  b[0] = UC_PUSH_BYTES;
  for (int i = 0; i < 4; i++) b[1 + i] = (uint8_t)((uint32_t)n >> (8 * i));
  uc_raw(s, b, 5);
  uc_raw(s, p, n);
}
static inline void uc_push_str(uc_script *s, const char *str) { uc_push_bytes(s, str, strlen(str)); }
/* Push a script (as bytes), e.g. a callback body for uc_call_new. */
static inline void uc_push_script(uc_script *s, const uc_script *inner) {
  uc_push_bytes(s, inner->p, inner->len);
}
/* Push a 128-bit amount (16 bytes, low half first). */
static inline void uc_push_u128(uc_script *s, uint64_t hi, uint64_t lo) {
  uint8_t b[16];
  for (int i = 0; i < 8; i++) {
    b[i] = (uint8_t)(lo >> (8 * i));
    b[8 + i] = (uint8_t)(hi >> (8 * i));
  }
  uc_push_bytes(s, b, 16);
}

/* One builder per opcode without immediate: uc_reply(&s), uc_call_perform(&s), ... */
#define UC_OP_FN(name, code, fn)                                                                   \
  static inline void uc_##fn(uc_script *s) { uc_op(s, UC_##name); }
UC_OPS(UC_OP_FN)
#undef UC_OP_FN

/* ---- shortcuts -------------------------------------------------------------------- */
/* Reply with exactly these bytes. */
static inline void uc_reply_bytes(uc_script *s, const void *p, size_t n) {
  uc_push_bytes(s, p, n);
  uc_reply_data_append(s);
  uc_reply(s);
}
static inline void uc_reply_str(uc_script *s, const char *str) { uc_reply_bytes(s, str, strlen(str)); }
/* Reject with this message. */
static inline void uc_reject_str(uc_script *s, const char *str) {
  uc_push_str(s, str);
  uc_reject(s);
}
static inline void uc_trap_str(uc_script *s, const char *str) {
  uc_push_str(s, str);
  uc_trap(s);
}
/* call_new(callee, method) with script callbacks, then call_data_append(arg)
 * (omitted if arg is NULL).  Leaves the call under construction. */
static inline void uc_call_begin(uc_script *s, const uint8_t *callee, size_t callee_len,
                                 const char *method, const uc_script *on_reply,
                                 const uc_script *on_reject, const uc_script *arg) {
  uc_push_bytes(s, callee, callee_len);
  uc_push_str(s, method);
  if (on_reply) uc_push_script(s, on_reply); else uc_push_bytes(s, "", 0);
  if (on_reject) uc_push_script(s, on_reject); else uc_push_bytes(s, "", 0);
  uc_call_new(s);
  if (arg) {
    uc_push_script(s, arg);
    uc_call_data_append(s);
  }
}
#endif /* !UC_CANISTER */

#endif
