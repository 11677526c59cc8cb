/* core.c -- allocator wrappers and the error record. */
#include "core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The libc allocator: new_size 0 frees. */
void *icxCore_libc_realloc(void *ud, void *ptr, size_t old_size, size_t new_size) {
  (void)ud;
  (void)old_size;
  if (new_size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, new_size);
}

/* The default allocator (libc). */
icxAllocator icxCore_default_allocator(void) {
  icxAllocator a = {icxCore_libc_realloc, NULL};
  return a;
}

/* Allocate n zeroed bytes. */
void *icxCore_alloc(const icxAllocator *a, size_t n) {
  if (n == 0) n = 1;
  void *p = a->fn(a->ud, NULL, 0, n);
  if (p) memset(p, 0, n);
  return p;
}

/* Allocate count*size zeroed bytes; NULL on overflow. */
void *icxCore_allocn(const icxAllocator *a, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  return icxCore_alloc(a, count * size);
}

/* Resize, zeroing the new tail. */
void *icxCore_realloc(const icxAllocator *a, void *p, size_t old_n, size_t new_n) {
  if (new_n == 0) new_n = 1;
  void *q = a->fn(a->ud, p, old_n, new_n);
  if (q && new_n > old_n) memset((char *)q + old_n, 0, new_n - old_n);
  return q;
}

/* Free a block of n bytes (p may be NULL). */
void icxCore_free(const icxAllocator *a, void *p, size_t n) {
  if (p) a->fn(a->ud, p, n, 0);
}

/* Record a status and formatted message. */
icx_status icxErr_set(icxErr *err, icx_status status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = status;
  }
  return status;
}

/* Reset to "no error". */
void icxErr_clear(icxErr *err) {
  if (err) {
    err->status = ICX_OK;
    err->msg[0] = 0;
  }
}
