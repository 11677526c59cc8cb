/* fuzz_util.h -- shared by the fuzz targets and fuzz/replay.c: a checking
 * allocator (leaks, wrong sizes, fault injection, poisoning), hashing and
 * failure reporting.  Not library code: plain libc. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

/* The libFuzzer entry point, defined by each target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An icxAllocator that checks its contract.  Every block carries a header
 * with its size: a realloc or free whose old_size differs is reported (and
 * aborts).  Zero-initialise, then set the knobs. */
typedef struct fuzzAlloc {
  size_t limit;      /* a growth past this many live bytes fails (0: none) */
  uint64_t fail_at;  /* the fail_at-th allocation attempt fails (0: none) */
  int poison;        /* fill fresh and freed bytes with a pattern */
  /* statistics */
  size_t live_bytes, live_blocks, peak_bytes;
  uint64_t attempts; /* allocations and growths attempted */
  int failed;        /* a failure was injected (fail_at or limit) */
} fuzzAlloc;

icxAllocator fuzz_allocator(fuzzAlloc *fa);

/* Abort with a message if blocks are still live. */
void fuzz_check_no_leaks(const fuzzAlloc *fa, const char *where);

/* Print "fuzz: <message>" to stderr and abort. */
void fuzz_fail(const char *fmt, ...) ICX_PRINTF(1, 2);

/* FNV-1a style 64-bit hash (over 8-byte words), continuing from h (start
 * with FUZZ_HASH_INIT). */
#define FUZZ_HASH_INIT 0xcbf29ce484222325ull
uint64_t fuzz_hash(uint64_t h, const void *p, size_t n);

#endif
