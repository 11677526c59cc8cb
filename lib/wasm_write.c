/* wasm_write.c -- growable byte buffer and Wasm binary encoders. */
#include "wasm_write.h"

void icxBuf_init(icxBuf *b, const icxAllocator *a, size_t limit) {
  memset(b, 0, sizeof *b);
  b->a = a;
  b->limit = limit;
}

void icxBuf_free(icxBuf *b) {
  if (b->p) icxCore_free(b->a, b->p, b->cap);
  b->p = NULL;
  b->len = b->cap = 0;
}

int icxBuf_reserve(icxBuf *b, size_t n) {
  if (b->failed) return -1;
  if (n > b->limit || b->len > b->limit - n) {
    b->failed = 2;
    return -1;
  }
  if (b->cap - b->len >= n) return 0;
  size_t want = b->len + n;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < want) ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
  uint8_t *np = icxCore_realloc(b->a, b->p, b->cap, ncap);
  if (!np) {
    b->failed = 1;
    return -1;
  }
  b->p = np;
  b->cap = ncap;
  return 0;
}

void icxBuf_bytes(icxBuf *b, const void *src, size_t n) {
  if (n == 0 || icxBuf_reserve(b, n)) return;
  memcpy(b->p + b->len, src, n);
  b->len += n;
}

void icxBuf_u8(icxBuf *b, uint8_t v) {
  if (icxBuf_reserve(b, 1)) return;
  b->p[b->len++] = v;
}

void icxBuf_u64(icxBuf *b, uint64_t v) {
  if (icxBuf_reserve(b, 10)) return;
  do {
    uint8_t byte = (uint8_t)(v & 0x7f);
    v >>= 7;
    b->p[b->len++] = (uint8_t)(byte | (v ? 0x80 : 0));
  } while (v);
}

void icxBuf_u32(icxBuf *b, uint32_t v) { icxBuf_u64(b, v); }

void icxBuf_s64(icxBuf *b, int64_t v) {
  if (icxBuf_reserve(b, 10)) return;
  for (;;) {
    uint8_t byte = (uint8_t)((uint64_t)v & 0x7f);
    /* arithmetic shift, written without implementation-defined behaviour */
    v = v < 0 ? ~(~v >> 7) : v >> 7;
    int done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
    b->p[b->len++] = (uint8_t)(byte | (done ? 0 : 0x80));
    if (done) break;
  }
}

void icxBuf_name(icxBuf *b, const char *s, size_t n) {
  icxBuf_u32(b, (uint32_t)n);
  icxBuf_bytes(b, s, n);
}

void icxBuf_section(icxBuf *b, uint8_t id, const icxBuf *payload) {
  icxBuf_u8(b, id);
  icxBuf_u32(b, (uint32_t)payload->len);
  icxBuf_bytes(b, payload->p, payload->len);
  if (payload->failed && !b->failed) b->failed = payload->failed;
}
