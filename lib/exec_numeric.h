/* exec_numeric.h -- deterministic Wasm numerics: NaN canonicalisation,
 * IEEE min/max with signed zeros, trapping and saturating truncations.
 * Every float result that can be a NaN passes through *_canon so that the
 * bits are identical on every host (the IC canonicalises NaNs). */
#ifndef ICX_EXEC_NUMERIC_H
#define ICX_EXEC_NUMERIC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define ICX_F32_CANON 0x7fc00000u
#define ICX_F64_CANON 0x7ff8000000000000ull

static inline float icx_f32(uint64_t s) {
  uint32_t u = (uint32_t)s;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline double icx_f64(uint64_t s) {
  double d;
  memcpy(&d, &s, 8);
  return d;
}
static inline uint64_t icx_bits32(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
static inline uint64_t icx_bits64(double d) {
  uint64_t u;
  memcpy(&u, &d, 8);
  return u;
}
static inline uint64_t icx_f32_canon(float f) { return f != f ? ICX_F32_CANON : icx_bits32(f); }
static inline uint64_t icx_f64_canon(double d) { return d != d ? ICX_F64_CANON : icx_bits64(d); }

static inline float icx_fmin32(float a, float b) {
  if (a != a || b != b) return icx_f32(ICX_F32_CANON);
  if (a == b) return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline float icx_fmax32(float a, float b) {
  if (a != a || b != b) return icx_f32(ICX_F32_CANON);
  if (a == b) return signbit(a) ? b : a;
  return a > b ? a : b;
}
static inline double icx_fmin64(double a, double b) {
  if (a != a || b != b) return icx_f64(ICX_F64_CANON);
  if (a == b) return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline double icx_fmax64(double a, double b) {
  if (a != a || b != b) return icx_f64(ICX_F64_CANON);
  if (a == b) return signbit(a) ? b : a;
  return a > b ? a : b;
}

/* Truncation range checks: 0 ok, 1 NaN (invalid conversion), 2 overflow.
 * x is the operand widened to double (exact for f32). */
static inline int icx_trunc_check(double x, double lo_excl, double hi_excl) {
  if (x != x) return 1;
  if (!(x > lo_excl && x < hi_excl)) return 2;
  return 0;
}
#define ICX_I32S_LO (-2147483649.0)
#define ICX_I32S_HI (2147483648.0)
#define ICX_U32_LO (-1.0)
#define ICX_U32_HI (4294967296.0)
#define ICX_I64S_LO (-9223372036854777856.0) /* next double below -2^63 */
#define ICX_I64S_HI (9223372036854775808.0)
#define ICX_U64_HI (18446744073709551616.0)

static inline int32_t icx_sat_i32s(double x) {
  if (x != x) return 0;
  if (x <= -2147483648.0) return INT32_MIN;
  if (x >= 2147483647.0) return INT32_MAX;
  return (int32_t)x;
}
static inline uint32_t icx_sat_u32(double x) {
  if (x != x || x <= 0) return 0;
  if (x >= 4294967295.0) return UINT32_MAX;
  return (uint32_t)x;
}
static inline int64_t icx_sat_i64s(double x) {
  if (x != x) return 0;
  if (x <= -9223372036854775808.0) return INT64_MIN;
  if (x >= 9223372036854775808.0) return INT64_MAX;
  return (int64_t)x;
}
static inline uint64_t icx_sat_u64(double x) {
  if (x != x || x <= 0) return 0;
  if (x >= 18446744073709551616.0) return UINT64_MAX;
  return (uint64_t)x;
}

static inline uint32_t icx_rotl32(uint32_t a, uint32_t b) {
  b &= 31;
  return (a << b) | (a >> ((32 - b) & 31));
}
static inline uint32_t icx_rotr32(uint32_t a, uint32_t b) {
  b &= 31;
  return (a >> b) | (a << ((32 - b) & 31));
}
static inline uint64_t icx_rotl64(uint64_t a, uint64_t b) {
  b &= 63;
  return (a << b) | (a >> ((64 - b) & 63));
}
static inline uint64_t icx_rotr64(uint64_t a, uint64_t b) {
  b &= 63;
  return (a >> b) | (a << ((64 - b) & 63));
}

#endif
