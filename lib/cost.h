/* cost.h -- THE cost table of libicexec: static instruction cost per Wasm
 * operator, the ic0 System API import list (signatures, call contexts,
 * fixed and per-byte charges) and the other named IC charges.
 *
 * Sources (docs/instrumentation.md has the details): dfinity/ic
 * rs/embedders/src/wasm_utils/instrumentation.rs `instruction_to_cost`,
 * validation.rs (import signatures), wasmtime_embedder/system_api_complexity.rs
 * (fixed overheads), rs/config/src/embedders.rs and subnet_config.rs
 * (constants); reference/ic-execution.md sections 2.3, 2.4, 3, 4, 5. */
#ifndef ICX_COST_H
#define ICX_COST_H

#include "core.h"

/* ---- per-operator static cost ------------------------------------------
 * opcode: single-byte opcodes as their byte; 0xfc-prefixed ones as
 * 0xfc00|sub (0xfd-prefixed SIMD as 0xfd00|sub: the IC's SIMD prices).
 * mem64: the module's memory is 64-bit (loads/stores cost 2 instead of 1).
 * Same shape as icxCostFn (rt.h).  Unlisted opcodes cost 1 (the IC's
 * default). */
ICX_INTERNAL uint32_t icxCost_op(uint32_t opcode, uint8_t mem64);

/* ---- other charges (instructions) --------------------------------------- */
#define ICX_COST_COMPILE_PER_INSTRUCTION 6000u /* EC DEFAULT_COST_TO_COMPILE_WASM_INSTRUCTION */
#define ICX_COST_COMPILE_PER_GLOBAL_INSNS 2u   /* INS: a global counts as 2 instructions */
#define ICX_COST_DIRTY_STABLE_PAGE 1000u       /* SC DEFAULT_DIRTY_PAGE_OVERHEAD, per new 4 KiB page */
#define ICX_COST_DIRTY_PAGE_COPY_BATCH 3000u   /* EC DIRTY_PAGE_COPY_OVERHEAD */
#define ICX_COST_BYTE_TRANSMISSION 50u         /* LNK BYTE_TRANSMISSION_COST_FACTOR */
#define ICX_COST_LOG_BASE 100u                 /* debug_print fixed part */
#define ICX_COST_LOG_PER_KEPT_BYTE 2u          /* x min(len, log capacity) */
#define ICX_COST_LOG_PER_MOVED_BYTE 50u        /* x min(len, remaining log space) */
#define ICX_LOG_BUFFER_BYTES 4096u             /* MAX_ALLOWED_CANISTER_LOG_BUFFER_SIZE */
#define ICX_COST_WASM64_INSTRUCTION_FACTOR 2u  /* SC WASM64_INSTRUCTION_COST_OVERHEAD (cycles) */
#define ICX_CERTIFIED_DATA_MAX 32u             /* SAPI CERTIFIED_DATA_MAX_LENGTH */
#define ICX_MAX_CALL_TIMEOUT_SECONDS 300u      /* SAPI MAX_CALL_TIMEOUT_SECONDS */

/* ---- call-site contexts (reference section 2.1) ------------------------- */
enum {
  ICX_CTX_s = 1u << 0,    /* (start) */
  ICX_CTX_I = 1u << 1,    /* canister_init / canister_post_upgrade */
  ICX_CTX_G = 1u << 2,    /* canister_pre_upgrade */
  ICX_CTX_U = 1u << 3,    /* canister_update */
  ICX_CTX_RQ = 1u << 4,   /* canister_query, replicated */
  ICX_CTX_NRQ = 1u << 5,  /* canister_query, non-replicated */
  ICX_CTX_TQ = 1u << 6,   /* query as HTTP-outcall transform */
  ICX_CTX_CQ = 1u << 7,   /* canister_composite_query */
  ICX_CTX_Ry = 1u << 8,   /* reply callback */
  ICX_CTX_Rt = 1u << 9,   /* reject callback */
  ICX_CTX_CRy = 1u << 10, /* reply callback in a composite query */
  ICX_CTX_CRt = 1u << 11, /* reject callback in a composite query */
  ICX_CTX_C = 1u << 12,   /* cleanup callback */
  ICX_CTX_CC = 1u << 13,  /* cleanup callback in a composite query */
  ICX_CTX_F = 1u << 14,   /* canister_inspect_message */
  ICX_CTX_T = 1u << 15    /* heartbeat, global timer, on_low_wasm_memory */
};
/* "*": every context but s. */
#define ICX_CTX_ALL 0xfffeu
#define ICX_CTX_ALL_S 0xffffu

/* Per-byte charge classes. */
enum {
  ICX_BYTES_NONE = 0, /* fixed overhead only */
  ICX_BYTES_1 = 1,    /* + 1 per byte copied (the size argument) */
  ICX_BYTES_50 = 2,   /* + 50 per byte (ICX_COST_BYTE_TRANSMISSION) */
  ICX_BYTES_SPECIAL = 3 /* computed by the handler (call_new, debug_print, trap) */
};

/* Signature strings: parameters, ':', results.  'I' = the pointer/size type
 * (i32 for wasm32 or memory-less modules, i64 for memory64 modules), 'i' =
 * i32, 'l' = i64.  The wasm64 form is the wasm32 form with I = i64. */
#define ICX_IC0_32ONLY 1u /* not importable by memory64 modules */

/* X(name, signature, flags, contexts, fixed overhead, byte class) */
#define ICX_IC0_APIS(X)                                                                            \
  X(msg_arg_data_size, ":I", 0, ICX_CTX_ARGS, 500, ICX_BYTES_NONE)                                 \
  X(msg_arg_data_copy, "III:", 0, ICX_CTX_ARGS, 500, ICX_BYTES_1)                                  \
  X(msg_caller_size, ":I", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                    \
  X(msg_caller_copy, "III:", 0, ICX_CTX_ALL, 500, ICX_BYTES_1)                                     \
  X(msg_caller_info_data_size, ":I", 0, ICX_CTX_CALLER_INFO, 500, ICX_BYTES_NONE)                  \
  X(msg_caller_info_data_copy, "III:", 0, ICX_CTX_CALLER_INFO, 500, ICX_BYTES_1)                   \
  X(msg_caller_info_signer_size, ":I", 0, ICX_CTX_CALLER_INFO, 500, ICX_BYTES_NONE)                \
  X(msg_caller_info_signer_copy, "III:", 0, ICX_CTX_CALLER_INFO, 500, ICX_BYTES_1)                 \
  X(msg_reject_code, ":i", 0, ICX_CTX_CALLBACKS_ALL, 500, ICX_BYTES_NONE)                          \
  X(msg_reject_msg_size, ":I", 0, ICX_CTX_Rt | ICX_CTX_CRt, 500, ICX_BYTES_NONE)                   \
  X(msg_reject_msg_copy, "III:", 0, ICX_CTX_Rt | ICX_CTX_CRt, 500, ICX_BYTES_1)                    \
  X(msg_deadline, ":l", 0, ICX_CTX_DEADLINE, 500, ICX_BYTES_NONE)                                  \
  X(msg_reply_data_append, "II:", 0, ICX_CTX_REPLY, 500, ICX_BYTES_50)                             \
  X(msg_reply, ":", 0, ICX_CTX_REPLY, 500, ICX_BYTES_NONE)                                         \
  X(msg_reject, "II:", 0, ICX_CTX_REPLY, 500, ICX_BYTES_50)                                        \
  X(msg_cycles_available, ":l", ICX_IC0_32ONLY, ICX_CTX_CYCLES, 500, ICX_BYTES_NONE)               \
  X(msg_cycles_available128, "I:", 0, ICX_CTX_CYCLES, 500, ICX_BYTES_NONE)                         \
  X(msg_cycles_refunded, ":l", ICX_IC0_32ONLY, ICX_CTX_Ry | ICX_CTX_Rt, 500, ICX_BYTES_NONE)       \
  X(msg_cycles_refunded128, "I:", 0, ICX_CTX_Ry | ICX_CTX_Rt, 500, ICX_BYTES_NONE)                 \
  X(msg_cycles_accept, "l:l", ICX_IC0_32ONLY, ICX_CTX_CYCLES, 500, ICX_BYTES_NONE)                 \
  X(msg_cycles_accept128, "llI:", 0, ICX_CTX_CYCLES, 500, ICX_BYTES_NONE)                          \
  X(cycles_burn128, "llI:", 0, ICX_CTX_BURN, 500, ICX_BYTES_NONE)                                  \
  X(canister_self_size, ":I", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                 \
  X(canister_self_copy, "III:", 0, ICX_CTX_ALL, 500, ICX_BYTES_1)                                  \
  X(canister_cycle_balance, ":l", ICX_IC0_32ONLY, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                \
  X(canister_cycle_balance128, "I:", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                          \
  X(canister_liquid_cycle_balance128, "I:", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                   \
  X(canister_status, ":i", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                    \
  X(canister_version, ":l", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                   \
  X(subnet_self_size, ":I", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                   \
  X(subnet_self_copy, "III:", 0, ICX_CTX_ALL, 500, ICX_BYTES_1)                                    \
  X(msg_method_name_size, ":I", 0, ICX_CTX_F, 500, ICX_BYTES_NONE)                                 \
  X(msg_method_name_copy, "III:", 0, ICX_CTX_F, 500, ICX_BYTES_1)                                  \
  X(accept_message, ":", 0, ICX_CTX_F, 500, ICX_BYTES_NONE)                                        \
  X(call_new, "IIIIIIII:", 0, ICX_CTX_CALL, 1500, ICX_BYTES_SPECIAL)                               \
  X(call_on_cleanup, "II:", 0, ICX_CTX_CALL, 500, ICX_BYTES_NONE)                                  \
  X(call_data_append, "II:", 0, ICX_CTX_CALL, 500, ICX_BYTES_50)                                   \
  X(call_with_best_effort_response, "i:", 0, ICX_CTX_CALL, 500, ICX_BYTES_NONE)                    \
  X(call_cycles_add, "l:", ICX_IC0_32ONLY, ICX_CTX_CALL_CYCLES, 500, ICX_BYTES_NONE)               \
  X(call_cycles_add128, "ll:", 0, ICX_CTX_CALL_CYCLES, 500, ICX_BYTES_NONE)                        \
  X(call_perform, ":i", 0, ICX_CTX_CALL, 5000, ICX_BYTES_NONE)                                     \
  X(stable_size, ":i", ICX_IC0_32ONLY, ICX_CTX_ALL_S, 20, ICX_BYTES_NONE)                          \
  X(stable_grow, "i:i", ICX_IC0_32ONLY, ICX_CTX_ALL_S, 100, ICX_BYTES_NONE)                        \
  X(stable_read, "iii:", ICX_IC0_32ONLY, ICX_CTX_ALL_S, 20, ICX_BYTES_1)                           \
  X(stable_write, "iii:", ICX_IC0_32ONLY, ICX_CTX_ALL_S, 20, ICX_BYTES_1)                          \
  X(stable64_size, ":l", 0, ICX_CTX_ALL_S, 20, ICX_BYTES_NONE)                                     \
  X(stable64_grow, "l:l", 0, ICX_CTX_ALL_S, 100, ICX_BYTES_NONE)                                   \
  X(stable64_read, "lll:", 0, ICX_CTX_ALL_S, 20, ICX_BYTES_1)                                      \
  X(stable64_write, "lll:", 0, ICX_CTX_ALL_S, 20, ICX_BYTES_1)                                     \
  X(root_key_size, ":I", 0, ICX_CTX_REPLICATED, 500, ICX_BYTES_NONE)                               \
  X(root_key_copy, "III:", 0, ICX_CTX_REPLICATED, 500, ICX_BYTES_1)                                \
  X(certified_data_set, "II:", 0, ICX_CTX_CERT_SET, 500, ICX_BYTES_1)                              \
  X(data_certificate_present, ":i", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                           \
  X(data_certificate_size, ":I", 0, ICX_CTX_NRQ | ICX_CTX_CQ, 500, ICX_BYTES_NONE)                 \
  X(data_certificate_copy, "III:", 0, ICX_CTX_NRQ | ICX_CTX_CQ, 500, ICX_BYTES_1)                  \
  X(time, ":l", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                               \
  X(global_timer_set, "l:l", 0, ICX_CTX_CERT_SET | ICX_CTX_C, 500, ICX_BYTES_NONE)                 \
  X(performance_counter, "i:l", 0, ICX_CTX_ALL_S, 200, ICX_BYTES_NONE)                             \
  X(is_controller, "II:i", 0, ICX_CTX_ALL_S, 1000, ICX_BYTES_1)                                    \
  X(in_replicated_execution, ":i", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_NONE)                          \
  X(cost_call, "llI:", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_NONE)                                      \
  X(cost_create_canister, "I:", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_NONE)                             \
  X(cost_http_request, "llI:", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_NONE)                              \
  X(cost_sign_with_ecdsa, "IIiI:i", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_1)                            \
  X(cost_sign_with_schnorr, "IIiI:i", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_1)                          \
  X(cost_vetkd_derive_key, "IIiI:i", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_1)                           \
  X(env_var_count, ":I", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                      \
  X(env_var_name_size, "I:I", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                                 \
  X(env_var_name_copy, "IIII:", 0, ICX_CTX_ALL, 500, ICX_BYTES_1)                                  \
  X(env_var_name_exists, "II:i", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                              \
  X(env_var_value_size, "II:I", 0, ICX_CTX_ALL, 500, ICX_BYTES_NONE)                               \
  X(env_var_value_copy, "IIIII:", 0, ICX_CTX_ALL, 500, ICX_BYTES_1)                                \
  X(debug_print, "II:", 0, ICX_CTX_ALL_S, 100, ICX_BYTES_SPECIAL)                                  \
  X(trap, "II:", 0, ICX_CTX_ALL_S, 500, ICX_BYTES_SPECIAL)                                         \
  /* replica-only extras (LNK): the Cycles Minting Canister's minting calls and the */            \
  /* v2 HTTP-outcall price; accepted at install, the runtime decides who may call them */          \
  X(mint_cycles, "l:l", 0, ICX_CTX_MINT, 500, ICX_BYTES_NONE)                                      \
  X(mint_cycles128, "llI:", 0, ICX_CTX_MINT, 500, ICX_BYTES_NONE)                                  \
  X(cost_http_request_v2, "III:", 0, ICX_CTX_ALL_S, 10000, ICX_BYTES_NONE)

/* Context sets used above (reference section 2.3). */
#define ICX_CTX_ARGS                                                                               \
  (ICX_CTX_I | ICX_CTX_U | ICX_CTX_RQ | ICX_CTX_NRQ | ICX_CTX_TQ | ICX_CTX_CQ | ICX_CTX_Ry |     \
   ICX_CTX_CRy | ICX_CTX_F)
#define ICX_CTX_CALLER_INFO                                                                        \
  (ICX_CTX_U | ICX_CTX_RQ | ICX_CTX_NRQ | ICX_CTX_CQ | ICX_CTX_Ry | ICX_CTX_Rt | ICX_CTX_CRy |    \
   ICX_CTX_CRt | ICX_CTX_C | ICX_CTX_CC | ICX_CTX_F)
#define ICX_CTX_CALLBACKS_ALL (ICX_CTX_Ry | ICX_CTX_Rt | ICX_CTX_CRy | ICX_CTX_CRt | ICX_CTX_C)
#define ICX_CTX_DEADLINE                                                                           \
  (ICX_CTX_U | ICX_CTX_RQ | ICX_CTX_NRQ | ICX_CTX_CQ | ICX_CTX_Ry | ICX_CTX_Rt | ICX_CTX_CRy |    \
   ICX_CTX_CRt)
#define ICX_CTX_REPLY                                                                              \
  (ICX_CTX_U | ICX_CTX_RQ | ICX_CTX_NRQ | ICX_CTX_TQ | ICX_CTX_CQ | ICX_CTX_Ry | ICX_CTX_Rt |     \
   ICX_CTX_CRy | ICX_CTX_CRt)
#define ICX_CTX_CYCLES (ICX_CTX_U | ICX_CTX_RQ | ICX_CTX_Rt | ICX_CTX_Ry)
#define ICX_CTX_BURN                                                                               \
  (ICX_CTX_I | ICX_CTX_G | ICX_CTX_U | ICX_CTX_RQ | ICX_CTX_Ry | ICX_CTX_Rt | ICX_CTX_C |         \
   ICX_CTX_T)
#define ICX_CTX_CALL                                                                               \
  (ICX_CTX_U | ICX_CTX_CQ | ICX_CTX_Ry | ICX_CTX_Rt | ICX_CTX_CRy | ICX_CTX_CRt | ICX_CTX_T)
#define ICX_CTX_CALL_CYCLES (ICX_CTX_U | ICX_CTX_Ry | ICX_CTX_Rt | ICX_CTX_T)
#define ICX_CTX_REPLICATED ICX_CTX_BURN
#define ICX_CTX_CERT_SET                                                                           \
  (ICX_CTX_I | ICX_CTX_G | ICX_CTX_U | ICX_CTX_Ry | ICX_CTX_Rt | ICX_CTX_T)
#define ICX_CTX_MINT (ICX_CTX_U | ICX_CTX_Ry | ICX_CTX_Rt)

/* Dense ids of the ic0 functions, in table order. */
typedef enum icxIc0Id {
#define ICX_IC0_ENUM(name, sig, fl, ctx, fixed, bytes) ICX_IC0_##name,
  ICX_IC0_APIS(ICX_IC0_ENUM)
#undef ICX_IC0_ENUM
      ICX_IC0_COUNT
} icxIc0Id;

typedef struct icxIc0Api {
  char name[36];     /* arrays, so the table stays in .rodata */
  char sig[12];
  uint8_t flags;     /* ICX_IC0_32ONLY */
  uint8_t bytes;     /* ICX_BYTES_* */
  uint16_t contexts; /* ICX_CTX_* bits */
  uint32_t fixed;    /* fixed instruction overhead */
} icxIc0Api;

/* The entry of id (NULL if out of range). */
ICX_INTERNAL const icxIc0Api *icxCost_ic0(uint32_t id);
/* Look a name up (len bytes, not NUL-terminated); returns the id or -1. */
ICX_INTERNAL int icxCost_ic0_find(const char *name, size_t len);
/* Does a function type (params, results as value-type codes) match the
 * entry's signature for a wasm32 (mem64 = 0) or memory64 module?  A
 * 32-bit-only entry never matches for mem64. */
ICX_INTERNAL int icxCost_ic0_sig_ok(const icxIc0Api *api, uint8_t mem64, const uint8_t *params,
                                    uint32_t nparams, const uint8_t *results, uint32_t nresults);

/* IC function "complexity" weight of an operator (VAL
 * wasm_function_complexity; same opcode encoding as icxCost_op). */
ICX_INTERNAL uint32_t icxCost_complexity(uint32_t opcode);

#endif
