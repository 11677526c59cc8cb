/* fuzz_util.c -- the checking allocator and helpers (see fuzz_util.h). */
#include "fuzz_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR 16u /* keeps malloc's 16-byte alignment */
#define MAGIC 0x1cea110cf00dull
#define DEAD 0xdeadb10cdeadull

typedef struct Hdr {
  size_t size;
  uint64_t magic;
} Hdr;

static void poison(void *p, size_t n, int on) {
  if (on) memset(p, 0xa5, n);
}

/* The icxAllocator function: new_size 0 frees. */
static void *fuzz_realloc(void *ud, void *ptr, size_t old_size, size_t new_size) {
  fuzzAlloc *fa = ud;
  Hdr *h = NULL;
  if (ptr) {
    h = (Hdr *)(void *)((char *)ptr - HDR);
    if (h->magic != MAGIC)
      fuzz_fail("allocator: %s of a block that is not live (%p)", new_size ? "realloc" : "free",
                ptr);
    if (h->size != old_size)
      fuzz_fail("allocator: %s with old_size %zu, but the block has %zu bytes",
                new_size ? "realloc" : "free", old_size, h->size);
  }
  if (new_size == 0) {
    if (h) {
      poison(ptr, h->size, fa->poison);
      fa->live_bytes -= h->size;
      fa->live_blocks--;
      h->magic = DEAD;
      free(h);
    }
    return NULL;
  }
  size_t old = h ? h->size : 0;
  if (new_size > old) {
    fa->attempts++;
    if ((fa->fail_at && fa->attempts == fa->fail_at) ||
        (fa->limit && fa->live_bytes - old + new_size > fa->limit) || new_size > SIZE_MAX - HDR) {
      fa->failed = 1;
      return NULL;
    }
  }
  Hdr *nh = malloc(HDR + new_size);
  if (!nh) return NULL;
  if (h) {
    memcpy((char *)nh + HDR, ptr, old < new_size ? old : new_size);
    poison(ptr, old, fa->poison);
    h->magic = DEAD;
    free(h);
  } else {
    fa->live_blocks++;
  }
  if (new_size > old) poison((char *)nh + HDR + old, new_size - old, fa->poison);
  nh->size = new_size;
  nh->magic = MAGIC;
  fa->live_bytes = fa->live_bytes - old + new_size;
  if (fa->live_bytes > fa->peak_bytes) fa->peak_bytes = fa->live_bytes;
  return (char *)nh + HDR;
}

/* An allocator over fa. */
icxAllocator fuzz_allocator(fuzzAlloc *fa) {
  icxAllocator a = {fuzz_realloc, fa};
  return a;
}

/* Abort if anything is still allocated. */
void fuzz_check_no_leaks(const fuzzAlloc *fa, const char *where) {
  if (fa->live_blocks || fa->live_bytes)
    fuzz_fail("%s: leak: %zu blocks, %zu bytes still allocated", where, fa->live_blocks,
              fa->live_bytes);
}

/* Report and abort. */
void fuzz_fail(const char *fmt, ...) {
  va_list ap;
  fputs("fuzz: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  abort();
}

/* FNV-1a over 8-byte words (then the tail bytes): fast enough for memories. */
uint64_t fuzz_hash(uint64_t h, const void *p, size_t n) {
  const uint8_t *b = p;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, b + i, 8);
    h ^= w;
    h *= 0x100000001b3ull;
  }
  for (; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
