/* wasm_write.h -- a growable byte buffer with Wasm binary encoders (LEB128,
 * names, sections), used by the instrumentation pass.
 *
 * Errors are sticky: after a failed allocation or when the buffer would
 * pass its cap, every further write is a no-op and `failed` stays set, so a
 * writer checks once at the end. */
#ifndef ICX_WASM_WRITE_H
#define ICX_WASM_WRITE_H

#include "core.h"

typedef struct icxBuf {
  const icxAllocator *a;
  uint8_t *p;
  size_t len, cap;
  size_t limit;  /* largest allowed len */
  uint8_t failed; /* 1 = out of memory, 2 = over the limit */
} icxBuf;

ICX_INTERNAL void icxBuf_init(icxBuf *b, const icxAllocator *a, size_t limit);
ICX_INTERNAL void icxBuf_free(icxBuf *b);
/* Make room for n more bytes; 0 on success. */
ICX_INTERNAL int icxBuf_reserve(icxBuf *b, size_t n);
ICX_INTERNAL void icxBuf_bytes(icxBuf *b, const void *src, size_t n);
ICX_INTERNAL void icxBuf_u8(icxBuf *b, uint8_t v);
ICX_INTERNAL void icxBuf_u32(icxBuf *b, uint32_t v); /* unsigned LEB128 */
ICX_INTERNAL void icxBuf_u64(icxBuf *b, uint64_t v); /* unsigned LEB128 */
ICX_INTERNAL void icxBuf_s64(icxBuf *b, int64_t v);  /* signed LEB128 */
/* A name: u32 length then the bytes. */
ICX_INTERNAL void icxBuf_name(icxBuf *b, const char *s, size_t n);
/* Append section id, u32 size of payload, payload. */
ICX_INTERNAL void icxBuf_section(icxBuf *b, uint8_t id, const icxBuf *payload);

#endif
