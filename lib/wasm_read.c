/* wasm_read.c -- bounded LEB128 and byte readers over module bytes.
 *
 * The readers never move the cursor on failure, so a caller can inspect the
 * offending bytes to word its error message. */
#include "wasm.h"

/* Unsigned LEB128 of at most `bits` (32 or 64) bits.  The last permitted
 * byte must have its continuation bit clear and its unused high bits zero. */
static int read_uleb(icxReader *r, unsigned bits, uint64_t *out) {
  const uint8_t *p = r->p;
  const unsigned maxlen = (bits + 6u) / 7u;
  uint64_t v = 0;
  unsigned shift = 0;
  for (unsigned i = 0; i < maxlen; i++, shift += 7u) {
    if (p >= r->end) return -1;
    uint8_t b = *p++;
    if (i == maxlen - 1u) {
      unsigned used = bits - shift; /* value bits this byte may carry */
      if (b & 0x80u) return -1;    /* representation too long */
      if ((unsigned)(b >> used) != 0u) return -1; /* integer too large */
    }
    v |= (uint64_t)(b & 0x7fu) << shift;
    if (!(b & 0x80u)) {
      r->p = p;
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* Signed LEB128 of at most `bits` (32, 33 or 64) bits, sign-extended to
 * 64 bits.  In the last permitted byte the unused high bits must all equal
 * the sign bit. */
static int read_sleb(icxReader *r, unsigned bits, int64_t *out) {
  const uint8_t *p = r->p;
  const unsigned maxlen = (bits + 6u) / 7u;
  uint64_t v = 0;
  unsigned shift = 0;
  for (unsigned i = 0; i < maxlen; i++) {
    if (p >= r->end) return -1;
    uint8_t b = *p++;
    if (i == maxlen - 1u) {
      unsigned used = bits - shift;
      unsigned mask = (0x7fu >> (used - 1u)) << (used - 1u); /* sign bit and above */
      unsigned hi = b & mask;
      if (b & 0x80u) return -1;
      if (hi != 0u && hi != mask) return -1;
    }
    v |= (uint64_t)(b & 0x7fu) << shift;
    shift += 7u;
    if (!(b & 0x80u)) {
      if (shift < 64u && (b & 0x40u)) v |= ~(uint64_t)0 << shift;
      r->p = p;
      /* two's complement without implementation-defined conversions */
      *out = v <= (uint64_t)INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
      return 0;
    }
  }
  return -1;
}

/* Read a u32 LEB128 (at most 5 bytes, value < 2^32). */
int icxRd_u32(icxReader *r, uint32_t *out) {
  uint64_t v;
  if (read_uleb(r, 32u, &v)) return -1;
  *out = (uint32_t)v;
  return 0;
}

/* Read an s32 LEB128 (at most 5 bytes, value in int32_t range). */
int icxRd_s32(icxReader *r, int32_t *out) {
  int64_t v;
  if (read_sleb(r, 32u, &v)) return -1;
  *out = (int32_t)v;
  return 0;
}

/* Read a u64 LEB128 (at most 10 bytes). */
int icxRd_u64(icxReader *r, uint64_t *out) { return read_uleb(r, 64u, out); }

/* Read an s64 LEB128 (at most 10 bytes). */
int icxRd_s64(icxReader *r, int64_t *out) { return read_sleb(r, 64u, out); }

/* Read an s33 LEB128 (block types: at most 5 bytes). */
int icxRd_s33(icxReader *r, int64_t *out) { return read_sleb(r, 33u, out); }

/* Read one byte. */
int icxRd_u8(icxReader *r, uint8_t *out) {
  if (r->p >= r->end) return -1;
  *out = *r->p++;
  return 0;
}

/* Take a view of the next n bytes. */
int icxRd_bytes(icxReader *r, size_t n, const uint8_t **out) {
  if ((size_t)(r->end - r->p) < n) return -1;
  *out = r->p;
  r->p += n;
  return 0;
}
