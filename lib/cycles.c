/* cycles.c -- 128-bit amounts and the fee formulas of section 7 of the IC
 * reference (cycles.h, docs/cycles.md). */
#include "cycles.h"

/* ---- 128-bit arithmetic ---------------------------------------------------- */

icxU128 icxU128_add(icxU128 a, icxU128 b, int *overflow) {
  icxU128 r;
  r.lo = a.lo + b.lo;
  uint64_t c = r.lo < a.lo;
  r.hi = a.hi + b.hi;
  int of = r.hi < a.hi;
  r.hi += c;
  if (r.hi < c) of = 1;
  if (overflow) *overflow = of;
  return r;
}

icxU128 icxU128_sub(icxU128 a, icxU128 b, int *borrow) {
  icxU128 r;
  r.lo = a.lo - b.lo;
  uint64_t c = a.lo < b.lo;
  r.hi = a.hi - b.hi - c;
  if (borrow) *borrow = icxU128_lt(a, b);
  return r;
}

icxU128 icxU128_add_sat(icxU128 a, icxU128 b) {
  int of;
  icxU128 r = icxU128_add(a, b, &of);
  return of ? icxU128_max_value() : r;
}

icxU128 icxU128_sub_sat(icxU128 a, icxU128 b) {
  int br;
  icxU128 r = icxU128_sub(a, b, &br);
  return br ? icxU128_zero() : r;
}

/* Full 64 x 64 -> 128 product, from 32-bit halves (portable C11). */
static icxU128 mul64(uint64_t a, uint64_t b) {
  uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
  uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
  icxU128 r;
  r.lo = (mid << 32) | (p00 & 0xffffffffu);
  r.hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return r;
}

icxU128 icxU128_mul_sat(icxU128 a, icxU128 b) {
  if (icxU128_is_zero(a) || icxU128_is_zero(b)) return icxU128_zero();
  if (a.hi && b.hi) return icxU128_max_value();
  /* at most one high half is non-zero: a.hi*b.lo or a.lo*b.hi must fit in 64 bits */
  icxU128 r = mul64(a.lo, b.lo);
  icxU128 cross = a.hi ? mul64(a.hi, b.lo) : mul64(a.lo, b.hi);
  if (cross.hi) return icxU128_max_value();
  int of;
  r = icxU128_add(r, icxU128_make(cross.lo, 0), &of);
  return of ? icxU128_max_value() : r;
}

icxU128 icxU128_mul_u64_sat(icxU128 a, uint64_t b) {
  return icxU128_mul_sat(a, icxU128_from_u64(b));
}

icxU128 icxU128_div_u64(icxU128 a, uint64_t d, uint64_t *rem) {
  if (d == 0) {
    if (rem) *rem = 0;
    return icxU128_zero();
  }
#if defined(__SIZEOF_INT128__)
  /* the compiler's 128-bit division (the same quotient and remainder as
   * the portable loop below; tests/unit_cycles.c checks both) */
  unsigned __int128 x = ((unsigned __int128)a.hi << 64) | a.lo;
  unsigned __int128 qq = x / d;
  if (rem) *rem = (uint64_t)(x % d);
  icxU128 q;
  q.lo = (uint64_t)qq;
  q.hi = (uint64_t)(qq >> 64);
  return q;
#else
  return icxU128_div_u64_portable(a, d, rem);
#endif
}

icxU128 icxU128_div_u64_portable(icxU128 a, uint64_t d, uint64_t *rem) {
  if (d == 0) {
    if (rem) *rem = 0;
    return icxU128_zero();
  }
  /* schoolbook division, one bit at a time over the high half's remainder:
   * hi / d directly, then 64 steps for the low half (r < d throughout) */
  icxU128 q;
  q.hi = a.hi / d;
  uint64_t r = a.hi % d;
  q.lo = 0;
  for (int i = 63; i >= 0; i--) {
    uint64_t top = r >> 63; /* r * 2 may exceed 64 bits */
    r = (r << 1) | ((a.lo >> i) & 1u);
    q.lo <<= 1;
    if (top || r >= d) {
      r -= d;
      q.lo |= 1;
    }
  }
  if (rem) *rem = r;
  return q;
}

size_t icxU128_to_dec(icxU128 a, char *buf, size_t cap) {
  char tmp[ICX_U128_DEC_MAX];
  size_t n = 0;
  do {
    uint64_t digit;
    a = icxU128_div_u64(a, 10, &digit);
    tmp[n++] = (char)('0' + digit);
  } while (!icxU128_is_zero(a));
  if (cap < n + 1) {
    if (cap > 0) buf[0] = 0;
    return n;
  }
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = 0;
  return n;
}

icx_status icxU128_from_dec(const char *s, size_t len, icxU128 *out, icxErr *err) {
  icxU128 v = icxU128_zero();
  if (out) *out = v;
  if (s == NULL || len == 0) return icxErr_set(err, ICX_EINVAL, "empty decimal number");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < '0' || c > '9')
      return icxErr_set(err, ICX_EINVAL, "invalid character at offset %zu of a decimal number", i);
    icxU128 t = icxU128_mul_u64_sat(v, 10);
    int of = icxU128_eq(t, icxU128_max_value()) && !icxU128_is_zero(v);
    /* max_value is odd (not a multiple of 10): it is only ever the saturated result */
    if (of) return icxErr_set(err, ICX_EINVAL, "decimal number exceeds 2^128 - 1");
    v = icxU128_add(t, icxU128_from_u64((uint64_t)(c - '0')), &of);
    if (of) return icxErr_set(err, ICX_EINVAL, "decimal number exceeds 2^128 - 1");
  }
  if (out) *out = v;
  return ICX_OK;
}

/* ---- fee tables ------------------------------------------------------------ */
/* Sources (tags of ../shared/reference/ic-execution.md section 0):
 *   SC  = dfinity/ic rs/config/src/subnet_config.rs, application_subnet()
 *   CAM = dfinity/ic rs/cycles_account_manager/src/cycles_account_manager.rs
 *   EE  = dfinity/ic rs/config/src/execution_environment.rs
 *   MSG = dfinity/ic rs/types/types/src/messages.rs
 * "2nd" marks values read only in secondhand quotes of SC (docs/cycles.md). */

static icxU128 u(uint64_t v) { return icxU128_from_u64(v); }

void icxFees_application_subnet(icxFeeConfig *c) {
  memset(c, 0, sizeof *c);
  c->update_message_execution_fee = u(5000000u);                /* SC */
  c->ten_update_instructions_execution_fee = u(10u);            /* SC: 1 cycle/instruction */
  c->ten_update_instructions_execution_fee_wasm64 = u(20u);     /* SC: WASM64 overhead 2 */
  c->xnet_call_fee = u(260000u);                                /* SC */
  c->xnet_byte_transmission_fee = u(1000u);                     /* SC */
  c->ingress_message_reception_fee = u(1200000u);               /* SC */
  c->ingress_byte_reception_fee = u(2000u);                     /* SC */
  c->gib_storage_per_second_fee = u(317500u);                   /* SC newest, 2nd (older 127,000) */
  c->base_per_second_fee = u(10000u);                           /* SC newest, 2nd */
  c->compute_percent_allocated_per_second_fee = u(10000000u);   /* SC */
  c->canister_creation_fee = u(500000000000u);                  /* SC (older 100 B) */
  c->ecdsa_signature_fee = u(10000000000u);                     /* SC ECDSA_SIGNATURE_FEE */
  c->schnorr_signature_fee = u(10000000000u);                   /* SC SCHNORR_SIGNATURE_FEE */
  c->vetkd_fee = u(10000000000u);                               /* SC VETKD_FEE */
  c->http_request_linear_baseline_fee = u(3000000u);            /* SC */
  c->http_request_quadratic_baseline_fee = u(60000u);           /* SC */
  c->http_request_per_byte_fee = u(400u);                       /* SC */
  c->http_response_per_byte_fee = u(800u);                      /* SC */
  c->fetch_canister_logs_base_fee = u(5000000u);                /* SC newest, 2nd (older 1 M) */
  c->fetch_canister_logs_per_byte_fee = u(80u);                 /* SC newest, 2nd (older 800) */
  c->default_reserved_balance_limit = u(5000000000000u);        /* SC */
  c->duration_between_allocation_charges_s = 10u;               /* SC */
  c->max_storage_reservation_period_s = 300000000u;             /* SC */
  c->max_instructions_per_message = 40000000000u;               /* SC max_instructions_per_message */
  c->max_inter_canister_payload_bytes = 2097152u;               /* MSG 2 MiB */
  c->max_http_response_bytes = 2000000u;                        /* MAX_CANISTER_HTTP_RESPONSE_BYTES */
  c->reference_subnet_size = 13u;                               /* SC/CAM */
}

void icxFees_system_subnet(icxFeeConfig *c) {
  icxFeeConfig app;
  icxFees_application_subnet(&app);
  memset(c, 0, sizeof *c);
  c->ecdsa_signature_fee = app.ecdsa_signature_fee; /* SC system_subnet(): signatures keep fees */
  c->schnorr_signature_fee = app.schnorr_signature_fee;
  c->vetkd_fee = app.vetkd_fee;
  c->default_reserved_balance_limit = app.default_reserved_balance_limit;
  c->duration_between_allocation_charges_s = app.duration_between_allocation_charges_s;
  c->max_storage_reservation_period_s = app.max_storage_reservation_period_s;
  c->max_instructions_per_message = app.max_instructions_per_message;
  c->max_inter_canister_payload_bytes = app.max_inter_canister_payload_bytes;
  c->max_http_response_bytes = app.max_http_response_bytes;
  c->reference_subnet_size = app.reference_subnet_size;
}

/* ---- formulas ------------------------------------------------------------- */

icxU128 icxCycles_scale(const icxFeeConfig *cfg, icxU128 x, uint32_t n) {
  uint32_t ref = cfg->reference_subnet_size ? cfg->reference_subnet_size : 1u;
  return icxU128_div_u64(icxU128_mul_u64_sat(x, n), ref, NULL);
}

icxU128 icxCycles_instructions_to_cycles(const icxFeeConfig *cfg, uint64_t instr,
                                         icxWasmMode mode) {
  icxU128 fee = mode == ICX_WASM64 ? cfg->ten_update_instructions_execution_fee_wasm64
                                   : cfg->ten_update_instructions_execution_fee;
  /* CAM multiplies first; the product of a u64 and a realistic fee fits */
  return icxU128_div_u64(icxU128_mul_u64_sat(fee, instr), 10, NULL);
}

icxU128 icxCycles_execution_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t instr,
                                 icxWasmMode mode) {
  icxU128 x = icxU128_add_sat(cfg->update_message_execution_fee,
                              icxCycles_instructions_to_cycles(cfg, instr, mode));
  return icxCycles_scale(cfg, x, n);
}

icxU128 icxCycles_execution_refund(const icxFeeConfig *cfg, uint32_t n, uint64_t unused_instr,
                                   icxWasmMode mode, icxU128 prepaid) {
  icxU128 r = icxCycles_scale(cfg, icxCycles_instructions_to_cycles(cfg, unused_instr, mode), n);
  return icxU128_min(r, prepaid);
}

icxU128 icxCycles_management_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t instr) {
  return icxCycles_scale(cfg, icxCycles_instructions_to_cycles(cfg, instr, ICX_WASM32), n);
}

icxU128 icxCycles_ingress_induction_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t bytes) {
  icxU128 fixed = icxCycles_scale(cfg, cfg->ingress_message_reception_fee, n);
  icxU128 per_byte = icxCycles_scale(cfg, cfg->ingress_byte_reception_fee, n);
  return icxU128_add_sat(fixed, icxU128_mul_u64_sat(per_byte, bytes));
}

static icxU128 bytes_transmitted_fee(const icxFeeConfig *cfg, uint32_t n, uint64_t bytes) {
  return icxCycles_scale(cfg, icxU128_mul_u64_sat(cfg->xnet_byte_transmission_fee, bytes), n);
}

icxU128 icxCycles_call_transmission_cost(const icxFeeConfig *cfg, uint32_t n,
                                         uint64_t request_bytes) {
  icxU128 r = icxCycles_scale(cfg, cfg->xnet_call_fee, n);
  r = icxU128_add_sat(r, bytes_transmitted_fee(cfg, n, request_bytes));
  return icxU128_add_sat(r, bytes_transmitted_fee(cfg, n, cfg->max_inter_canister_payload_bytes));
}

icxU128 icxCycles_response_execution_prepay(const icxFeeConfig *cfg, uint32_t n,
                                            icxWasmMode mode) {
  return icxCycles_execution_cost(cfg, n, cfg->max_instructions_per_message, mode);
}

icxU128 icxCycles_cost_call(const icxFeeConfig *cfg, uint32_t n, uint64_t request_bytes,
                            icxWasmMode mode) {
  return icxU128_add_sat(icxCycles_call_transmission_cost(cfg, n, request_bytes),
                         icxCycles_response_execution_prepay(cfg, n, mode));
}

icxU128 icxCycles_response_transmission_refund(const icxFeeConfig *cfg, uint32_t n,
                                               uint64_t response_bytes, icxU128 prepaid) {
  return icxU128_sub_sat(prepaid, bytes_transmitted_fee(cfg, n, response_bytes));
}

icxU128 icxCycles_unexecuted_response_refund(const icxFeeConfig *cfg, uint32_t n,
                                             icxU128 prepaid) {
  /* the fixed fee is the same for both modes (instructions = 0) */
  return icxU128_sub_sat(prepaid, icxCycles_execution_cost(cfg, n, 0, ICX_WASM32));
}

icxU128 icxCycles_memory_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t bytes,
                              uint64_t seconds) {
  icxU128 x = icxU128_mul_u64_sat(icxU128_mul_u64_sat(cfg->gib_storage_per_second_fee, bytes),
                                  seconds);
  return icxCycles_scale(cfg, icxU128_div_u64(x, ICX_GIB, NULL), n);
}

icxU128 icxCycles_base_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t bytes,
                            uint64_t seconds) {
  if (bytes == 0) return icxU128_zero();
  return icxCycles_scale(cfg, icxU128_mul_u64_sat(cfg->base_per_second_fee, seconds), n);
}

icxU128 icxCycles_compute_allocation_cost(const icxFeeConfig *cfg, uint32_t n, uint64_t percent,
                                          uint64_t seconds) {
  icxU128 x = icxU128_mul_u64_sat(
      icxU128_mul_u64_sat(cfg->compute_percent_allocated_per_second_fee, seconds), percent);
  return icxCycles_scale(cfg, x, n);
}

icxU128 icxCycles_canister_creation_fee(const icxFeeConfig *cfg, uint32_t n) {
  return icxCycles_scale(cfg, cfg->canister_creation_fee, n);
}

icxU128 icxCycles_http_request_fee(const icxFeeConfig *cfg, uint32_t n, uint64_t request_bytes,
                                   int has_max_response, uint64_t max_response_bytes) {
  uint64_t resp = has_max_response ? max_response_bytes : cfg->max_http_response_bytes;
  icxU128 x = cfg->http_request_linear_baseline_fee;
  x = icxU128_add_sat(x, icxU128_mul_u64_sat(cfg->http_request_quadratic_baseline_fee, n));
  x = icxU128_add_sat(x, icxU128_mul_u64_sat(cfg->http_request_per_byte_fee, request_bytes));
  x = icxU128_add_sat(x, icxU128_mul_u64_sat(cfg->http_response_per_byte_fee, resp));
  return icxU128_mul_u64_sat(x, n);
}

/* ---- freezing threshold, balances ------------------------------------------ */

icxU128 icxCycles_idle_burn_rate(const icxFeeConfig *cfg, uint32_t n, const icxResourceUse *use) {
  uint64_t mem = use->memory_allocation > use->memory_usage ? use->memory_allocation
                                                            : use->memory_usage;
  icxU128 r = icxCycles_memory_cost(cfg, n, mem, ICX_SECONDS_PER_DAY);
  r = icxU128_add_sat(r, icxCycles_base_cost(cfg, n, mem, ICX_SECONDS_PER_DAY));
  r = icxU128_add_sat(r, icxCycles_memory_cost(cfg, n, use->message_memory_usage,
                                               ICX_SECONDS_PER_DAY));
  return icxU128_add_sat(
      r, icxCycles_compute_allocation_cost(cfg, n, use->compute_allocation, ICX_SECONDS_PER_DAY));
}

icxU128 icxCycles_freeze_threshold(const icxFeeConfig *cfg, uint32_t n, const icxResourceUse *use,
                                   uint64_t freezing_threshold_s, icxU128 reserved_balance) {
  icxU128 rate = icxCycles_idle_burn_rate(cfg, n, use);
  icxU128 t = icxU128_div_u64(icxU128_mul_u64_sat(rate, freezing_threshold_s),
                              ICX_SECONDS_PER_DAY, NULL);
  return icxU128_sub_sat(t, reserved_balance);
}

icxU128 icxCycles_liquid(icxU128 balance, icxU128 threshold) {
  return icxU128_sub_sat(balance, threshold);
}

int icxCycles_can_withdraw(icxU128 balance, icxU128 threshold, icxU128 amount) {
  return !icxU128_lt(icxCycles_liquid(balance, threshold), amount);
}

int icxCycles_withdraw(icxU128 *balance, icxU128 threshold, icxU128 amount) {
  if (!icxCycles_can_withdraw(*balance, threshold, amount)) return 0;
  *balance = icxU128_sub_sat(*balance, amount);
  return 1;
}

int icxCycles_charge_resource(icxU128 *balance, icxU128 *reserved, icxU128 amount) {
  if (icxU128_lt(icxU128_add_sat(*balance, *reserved), amount)) return 0;
  if (!icxU128_lt(*reserved, amount)) {
    *reserved = icxU128_sub_sat(*reserved, amount);
  } else {
    icxU128 rest = icxU128_sub_sat(amount, *reserved);
    *reserved = icxU128_zero();
    *balance = icxU128_sub_sat(*balance, rest);
  }
  return 1;
}

/* R(u): memory_cost(u - T, floor(factor / 2)) with factor = period * (u - T)
 * / (C - T), u - T capped at C - T. */
static icxU128 total_reservation(const icxFeeConfig *cfg, uint32_t n, uint64_t usage, uint64_t t,
                                 uint64_t cap) {
  if (cap <= t || usage <= t) return icxU128_zero();
  uint64_t above = usage - t, span = cap - t;
  uint64_t capped = above < span ? above : span;
  icxU128 f = icxU128_div_u64(icxU128_mul_u64_sat(icxU128_from_u64(cfg->max_storage_reservation_period_s),
                                                  capped),
                              span, NULL);
  uint64_t factor = icxU128_to_u64_sat(f);
  return icxCycles_memory_cost(cfg, n, above, factor / 2);
}

icxU128 icxCycles_storage_reservation(const icxFeeConfig *cfg, uint32_t n,
                                      const icxStorageSaturation *s, uint64_t allocated) {
  uint64_t after = s->usage + allocated;
  if (after < s->usage) after = UINT64_MAX;
  return icxU128_sub_sat(total_reservation(cfg, n, after, s->threshold, s->capacity),
                         total_reservation(cfg, n, s->usage, s->threshold, s->capacity));
}
