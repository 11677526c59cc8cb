/* cycles.h -- cycles arithmetic and the IC fee formulas (reference section 7,
 * docs/cycles.md).
 *
 * Amounts are unsigned 128-bit integers (icxU128, two 64-bit halves, so the
 * code is the same on every host and compiler).  Arithmetic on amounts
 * saturates, as the replica's Cycles type does: a sum stops at ICX_U128_MAX,
 * a difference at 0.  Every formula below is a pure function of its
 * arguments and of an icxFeeConfig; nothing here touches global state.
 *
 * Scaling: a fee defined for the reference subnet size (13 nodes) costs
 * scale(x) = x * n / 13 on a subnet of n nodes (integer division; the
 * product saturates first, as in the replica).  Where the replica scales
 * the parts of a fee separately (ingress: scale(fixed) + scale(per byte) *
 * bytes) the functions here do the same, so results match to the cycle. */
#ifndef ICX_CYCLES_H
#define ICX_CYCLES_H

#include "core.h"

/* ---- 128-bit unsigned amounts ---------------------------------------------- */

typedef struct icxU128 {
  uint64_t lo, hi;
} icxU128;

/* Digits of the largest value (2^128 - 1 has 39) plus the terminating NUL. */
#define ICX_U128_DEC_MAX 40

static inline icxU128 icxU128_make(uint64_t hi, uint64_t lo) {
  icxU128 r = {lo, hi};
  return r;
}
static inline icxU128 icxU128_from_u64(uint64_t v) { return icxU128_make(0, v); }
static inline icxU128 icxU128_zero(void) { return icxU128_make(0, 0); }
static inline icxU128 icxU128_max_value(void) { return icxU128_make(UINT64_MAX, UINT64_MAX); }
static inline int icxU128_is_zero(icxU128 a) { return (a.lo | a.hi) == 0; }
/* -1, 0 or 1 as a <, ==, > b. */
static inline int icxU128_cmp(icxU128 a, icxU128 b) {
  if (a.hi != b.hi) return a.hi < b.hi ? -1 : 1;
  if (a.lo != b.lo) return a.lo < b.lo ? -1 : 1;
  return 0;
}
static inline int icxU128_eq(icxU128 a, icxU128 b) { return a.hi == b.hi && a.lo == b.lo; }
static inline int icxU128_lt(icxU128 a, icxU128 b) { return icxU128_cmp(a, b) < 0; }
static inline icxU128 icxU128_min(icxU128 a, icxU128 b) { return icxU128_lt(b, a) ? b : a; }
static inline icxU128 icxU128_max(icxU128 a, icxU128 b) { return icxU128_lt(a, b) ? b : a; }
/* The low 64 bits when the value fits, else UINT64_MAX. */
static inline uint64_t icxU128_to_u64_sat(icxU128 a) { return a.hi ? UINT64_MAX : a.lo; }

/* a + b; *overflow (may be NULL) set to 1 if the true sum does not fit
 * (the result then wraps modulo 2^128), else 0. */
ICX_INTERNAL icxU128 icxU128_add(icxU128 a, icxU128 b, int *overflow);
/* a - b; *borrow (may be NULL) 1 if b > a (the result wraps), else 0. */
ICX_INTERNAL icxU128 icxU128_sub(icxU128 a, icxU128 b, int *borrow);
/* min(a + b, 2^128 - 1). */
ICX_INTERNAL icxU128 icxU128_add_sat(icxU128 a, icxU128 b);
/* max(a - b, 0). */
ICX_INTERNAL icxU128 icxU128_sub_sat(icxU128 a, icxU128 b);
/* min(a * b, 2^128 - 1). */
ICX_INTERNAL icxU128 icxU128_mul_sat(icxU128 a, icxU128 b);
ICX_INTERNAL icxU128 icxU128_mul_u64_sat(icxU128 a, uint64_t b);
/* floor(a / d) and, if rem is not NULL, a mod d.  d == 0 gives 0 and
 * remainder 0 (never traps; callers never divide by 0). */
ICX_INTERNAL icxU128 icxU128_div_u64(icxU128 a, uint64_t d, uint64_t *rem);
/* The same by shift-and-subtract, for compilers without a 128-bit integer
 * type (icxU128_div_u64 uses the compiler's where it has one). */
ICX_INTERNAL icxU128 icxU128_div_u64_portable(icxU128 a, uint64_t d, uint64_t *rem);

/* Decimal digits of a into buf (NUL-terminated if cap > 0).  Returns the
 * number of digits (without the NUL) -- the required size is that plus 1;
 * when cap is smaller, buf gets "" (if cap > 0) and nothing else. */
ICX_INTERNAL size_t icxU128_to_dec(icxU128 a, char *buf, size_t cap);
/* Parse exactly len bytes of ASCII decimal digits (at least one; leading
 * zeros allowed; no sign, space or separator).  Errors: ICX_EINVAL (empty,
 * a non-digit, or a value above 2^128 - 1), with a message in err. */
ICX_INTERNAL icx_status icxU128_from_dec(const char *s, size_t len, icxU128 *out, icxErr *err);

/* ---- fee configuration ---------------------------------------------------- */

/* Fee constants of one subnet type, defined for reference_subnet_size nodes
 * (values and sources: docs/cycles.md and cycles.c). */
typedef struct icxFeeConfig {
  icxU128 update_message_execution_fee;            /* fixed per execution */
  icxU128 ten_update_instructions_execution_fee;   /* per 10 instructions, wasm32 */
  icxU128 ten_update_instructions_execution_fee_wasm64; /* per 10 instructions, wasm64 */
  icxU128 xnet_call_fee;                           /* per call (request + response) */
  icxU128 xnet_byte_transmission_fee;              /* per request or response byte */
  icxU128 ingress_message_reception_fee;           /* per ingress message */
  icxU128 ingress_byte_reception_fee;              /* per ingress byte */
  icxU128 gib_storage_per_second_fee;              /* per GiB per second */
  icxU128 base_per_second_fee;                     /* per second, memory > 0 */
  icxU128 compute_percent_allocated_per_second_fee;/* per 1 % per second */
  icxU128 canister_creation_fee;
  icxU128 ecdsa_signature_fee;
  icxU128 schnorr_signature_fee;
  icxU128 vetkd_fee;
  icxU128 http_request_linear_baseline_fee;
  icxU128 http_request_quadratic_baseline_fee;     /* times n */
  icxU128 http_request_per_byte_fee;
  icxU128 http_response_per_byte_fee;
  icxU128 fetch_canister_logs_base_fee;
  icxU128 fetch_canister_logs_per_byte_fee;
  icxU128 default_reserved_balance_limit;
  uint64_t duration_between_allocation_charges_s;
  uint64_t max_storage_reservation_period_s;
  uint64_t max_instructions_per_message;           /* prepaid for a response */
  uint64_t max_inter_canister_payload_bytes;       /* prepaid response transmission */
  uint64_t max_http_response_bytes;                /* default max_response_bytes */
  uint32_t reference_subnet_size;                  /* 13; 0 is treated as 1 */
} icxFeeConfig;

/* The application-subnet fees (newest revision read; docs/cycles.md). */
ICX_INTERNAL void icxFees_application_subnet(icxFeeConfig *cfg);
/* The system-subnet fees: all zero except the threshold-signature fees. */
ICX_INTERNAL void icxFees_system_subnet(icxFeeConfig *cfg);

/* Other IC defaults (EE), for the runtime. */
#define ICX_DEFAULT_FREEZING_THRESHOLD_S 2592000u            /* 30 days */
#define ICX_SECONDS_PER_DAY 86400u
#define ICX_GIB 1073741824u

/* Wasm execution mode of the paying canister. */
typedef enum icxWasmMode { ICX_WASM32 = 0, ICX_WASM64 = 1 } icxWasmMode;

/* ---- formulas (n = subnet size) ------------------------------------------- */

/* x * n / reference_subnet_size (product saturating). */
ICX_INTERNAL icxU128 icxCycles_scale(const icxFeeConfig *cfg, icxU128 x, uint32_t n);
/* fee10 * instr / 10 (fee10 of the mode), unscaled. */
ICX_INTERNAL icxU128 icxCycles_instructions_to_cycles(const icxFeeConfig *cfg, uint64_t instr,
                                                      icxWasmMode mode);
/* scale(fixed fee + instructions_to_cycles(instr)): the execution cost and
 * the prepayment for a message limit of instr instructions. */
ICX_INTERNAL icxU128 icxCycles_execution_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t instr,
                                              icxWasmMode mode);
/* Refund after an execution: min(scale(instructions_to_cycles(unused)),
 * prepaid).  The fixed fee is never refunded. */
ICX_INTERNAL icxU128 icxCycles_execution_refund(const icxFeeConfig *cfg, uint32_t n,
                                                uint64_t unused_instr, icxWasmMode mode,
                                                icxU128 prepaid);
/* Management-canister instructions: scale(instructions_to_cycles(instr,
 * wasm32)), no fixed fee. */
ICX_INTERNAL icxU128 icxCycles_management_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t instr);
/* Ingress induction: scale(reception fee) + scale(byte fee) * bytes. */
ICX_INTERNAL icxU128 icxCycles_ingress_induction_cost(const icxFeeConfig *cfg, uint32_t n,
                                                      uint64_t bytes);
/* scale(xnet_call_fee) + scale(byte fee * request_bytes) + scale(byte fee *
 * max_inter_canister_payload_bytes): what call_perform withdraws for
 * transmission. */
ICX_INTERNAL icxU128 icxCycles_call_transmission_cost(const icxFeeConfig *cfg, uint32_t n,
                                                      uint64_t request_bytes);
/* execution_cost(max_instructions_per_message): prepaid for the response. */
ICX_INTERNAL icxU128 icxCycles_response_execution_prepay(const icxFeeConfig *cfg, uint32_t n,
                                                         icxWasmMode mode);
/* transmission + response execution prepay (ic0.cost_call). */
ICX_INTERNAL icxU128 icxCycles_cost_call(const icxFeeConfig *cfg, uint32_t n,
                                         uint64_t request_bytes, icxWasmMode mode);
/* Refund of the response-transmission prepayment when a response of
 * response_bytes arrives: max(prepaid - scale(byte fee * response_bytes), 0). */
ICX_INTERNAL icxU128 icxCycles_response_transmission_refund(const icxFeeConfig *cfg, uint32_t n,
                                                            uint64_t response_bytes,
                                                            icxU128 prepaid);
/* A response whose callback is never run keeps only the fixed fee:
 * the refund is max(prepaid - execution_cost(0), 0). */
ICX_INTERNAL icxU128 icxCycles_unexecuted_response_refund(const icxFeeConfig *cfg, uint32_t n,
                                                          icxU128 prepaid);
/* Storage: scale(bytes * gib_fee * seconds / 2^30). */
ICX_INTERNAL icxU128 icxCycles_memory_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t bytes,
                                           uint64_t seconds);
/* Base fee: scale(base_per_second_fee * seconds) if bytes > 0, else 0. */
ICX_INTERNAL icxU128 icxCycles_base_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t bytes,
                                         uint64_t seconds);
/* Compute allocation: scale(fee * seconds * percent). */
ICX_INTERNAL icxU128 icxCycles_compute_allocation_cost(const icxFeeConfig *cfg, uint32_t n,
                                                       uint64_t percent, uint64_t seconds);
/* Canister creation: scale(canister_creation_fee). */
ICX_INTERNAL icxU128 icxCycles_canister_creation_fee(const icxFeeConfig *cfg, uint32_t n);
/* HTTP outcall, v1 pricing (already per node, not scaled):
 * (linear + quadratic * n + req_fee * request_bytes + resp_fee * max_resp) * n,
 * with max_resp = max_response_bytes if has_max_response, else the default
 * max_http_response_bytes. */
ICX_INTERNAL icxU128 icxCycles_http_request_fee(const icxFeeConfig *cfg, uint32_t n,
                                                uint64_t request_bytes, int has_max_response,
                                                uint64_t max_response_bytes);

/* ---- freezing threshold and balances (section 7.4) ------------------------ */

/* What determines a canister's idle burn rate. */
typedef struct icxResourceUse {
  uint64_t memory_allocation;    /* bytes reserved; 0 = best effort */
  uint64_t memory_usage;         /* bytes used (heap + stable + ...) */
  uint64_t message_memory_usage; /* bytes of queued messages */
  uint64_t compute_allocation;   /* percent, 0..100 */
} icxResourceUse;

/* Cycles per day: memory_cost(max(allocation, usage), 1 day) + base_cost(same,
 * 1 day) + memory_cost(message memory, 1 day) + compute cost(1 day). */
ICX_INTERNAL icxU128 icxCycles_idle_burn_rate(const icxFeeConfig *cfg, uint32_t n,
                                              const icxResourceUse *use);
/* max(idle_rate * freezing_threshold_s / 86400 - reserved_balance, 0). */
ICX_INTERNAL icxU128 icxCycles_freeze_threshold(const icxFeeConfig *cfg, uint32_t n,
                                                const icxResourceUse *use,
                                                uint64_t freezing_threshold_s,
                                                icxU128 reserved_balance);
/* Liquid balance: max(balance - threshold, 0). */
ICX_INTERNAL icxU128 icxCycles_liquid(icxU128 balance, icxU128 threshold);
/* 1 if amount can be withdrawn: amount <= max(balance - threshold, 0). */
ICX_INTERNAL int icxCycles_can_withdraw(icxU128 balance, icxU128 threshold, icxU128 amount);
/* Withdraw amount from *balance if icxCycles_can_withdraw; returns 1 on
 * success, 0 (balance unchanged) otherwise. */
ICX_INTERNAL int icxCycles_withdraw(icxU128 *balance, icxU128 threshold, icxU128 amount);
/* Resource charge (memory, compute): may go down to zero, spends the
 * reserved balance first, then the main balance.  Returns 1 and updates
 * both if reserved + balance >= amount, else 0 and leaves both unchanged. */
ICX_INTERNAL int icxCycles_charge_resource(icxU128 *balance, icxU128 *reserved, icxU128 amount);

/* Storage reservation (7.4): subnet memory usage, the threshold above which
 * reservation starts and the capacity. */
typedef struct icxStorageSaturation {
  uint64_t usage, threshold, capacity;
} icxStorageSaturation;
/* Cycles to move into the reserved balance when `allocated` more bytes are
 * taken at saturation s: R(usage + allocated) - R(usage) (saturating), with
 * R(u) = memory_cost(u - T, floor(factor(u) / 2)), factor(u) =
 * max_period * (u - T) / (C - T) for T < u (u capped at C), else 0. */
ICX_INTERNAL icxU128 icxCycles_storage_reservation(const icxFeeConfig *cfg, uint32_t n,
                                                   const icxStorageSaturation *s,
                                                   uint64_t allocated);

#endif
