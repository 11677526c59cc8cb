/* core.h -- shared definitions for every module of libicexec (the llimits.h
 * role): fixed-width aliases, visibility macros, status codes, the error
 * record, the allocator and the tunable limits.  Included first by all. */
#ifndef ICX_CORE_H
#define ICX_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "icexec.h"

#if defined(__GNUC__)
#define ICX_INTERNAL __attribute__((visibility("hidden")))
#define icx_likely(x) __builtin_expect(!!(x), 1)
#define icx_unlikely(x) __builtin_expect(!!(x), 0)
#define ICX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ICX_INTERNAL
#define icx_likely(x) (x)
#define icx_unlikely(x) (x)
#define ICX_PRINTF(a, b)
#endif

/* ---- limits (override with -D at build time) --------------------------- */
/* Decoder limits, all checked before any allocation they bound. */
#ifndef ICX_MAX_MODULE_BYTES
#define ICX_MAX_MODULE_BYTES (100u * 1024u * 1024u) /* IC: 100 MiB */
#endif
#ifndef ICX_MAX_TYPES
#define ICX_MAX_TYPES 1000000u
#endif
#ifndef ICX_MAX_FUNCS
#define ICX_MAX_FUNCS 1000000u
#endif
#ifndef ICX_MAX_IMPORTS
#define ICX_MAX_IMPORTS 100000u
#endif
#ifndef ICX_MAX_EXPORTS
#define ICX_MAX_EXPORTS 100000u
#endif
#ifndef ICX_MAX_GLOBALS
#define ICX_MAX_GLOBALS 1000000u
#endif
#ifndef ICX_MAX_TABLES
#define ICX_MAX_TABLES 100000u
#endif
#ifndef ICX_MAX_SEGMENTS
#define ICX_MAX_SEGMENTS 100000u
#endif
#ifndef ICX_MAX_PARAMS
#define ICX_MAX_PARAMS 1000u
#endif
#ifndef ICX_MAX_RESULTS
#define ICX_MAX_RESULTS 1000u
#endif
#ifndef ICX_MAX_LOCALS
#define ICX_MAX_LOCALS 50000u /* per function, params included */
#endif
#ifndef ICX_MAX_FUNC_BYTES
#define ICX_MAX_FUNC_BYTES (7654321u) /* one function body */
#endif
#ifndef ICX_MAX_NESTING
#define ICX_MAX_NESTING 10000u /* control-block nesting depth */
#endif
#ifndef ICX_MAX_BR_TABLE
#define ICX_MAX_BR_TABLE 1000000u
#endif
#ifndef ICX_MAX_TABLE_ELEMS
#define ICX_MAX_TABLE_ELEMS 10000000u /* elements in one table */
#endif
#ifndef ICX_MAX_NAME_BYTES
#define ICX_MAX_NAME_BYTES 100000u
#endif

/* Largest 64-bit memory in pages (IC: a 6 GiB wasm64 heap).  32-bit
 * memories are limited by the index type (65536 pages, 4 GiB). */
#ifndef ICX_MAX_MEM64_PAGES
#define ICX_MAX_MEM64_PAGES 98304u
#endif

/* Interpreter limits (documented in docs/limits.md). */
#ifndef ICX_MAX_CALL_DEPTH
#define ICX_MAX_CALL_DEPTH 100000u /* Wasm frames on the explicit stack */
#endif
#ifndef ICX_MAX_STACK_SLOTS
#define ICX_MAX_STACK_SLOTS (1u << 22) /* 32 MiB of 64-bit value slots */
#endif

/* ---- allocator --------------------------------------------------------- */
/* Every allocation in lib/ goes through one of these; new_size 0 frees. */
typedef struct icxAllocator {
  void *(*fn)(void *ud, void *ptr, size_t old_size, size_t new_size);
  void *ud;
} icxAllocator;

/* The libc allocator, usable as a default. */
ICX_INTERNAL void *icxCore_libc_realloc(void *ud, void *ptr, size_t old_size, size_t new_size);
ICX_INTERNAL icxAllocator icxCore_default_allocator(void);

/* Allocate n zeroed bytes (NULL on failure or overflow). */
ICX_INTERNAL void *icxCore_alloc(const icxAllocator *a, size_t n);
/* Allocate count*size zeroed bytes, NULL if the product overflows. */
ICX_INTERNAL void *icxCore_allocn(const icxAllocator *a, size_t count, size_t size);
/* Resize; new bytes are zeroed; NULL on failure (the old block stays valid). */
ICX_INTERNAL void *icxCore_realloc(const icxAllocator *a, void *p, size_t old_n, size_t new_n);
ICX_INTERNAL void icxCore_free(const icxAllocator *a, void *p, size_t n);

/* ---- errors ------------------------------------------------------------ */
#define ICX_ERRMSG_MAX 256
/* The error record filled by fallible internal functions. */
typedef struct icxErr {
  icx_status status;
  char msg[ICX_ERRMSG_MAX];
} icxErr;

/* Record status and a printf-style message; returns status. err may be NULL. */
ICX_INTERNAL icx_status icxErr_set(icxErr *err, icx_status status, const char *fmt, ...)
    ICX_PRINTF(3, 4);
ICX_INTERNAL void icxErr_clear(icxErr *err);

#define ICX_TRY(expr)                                                                              \
  do {                                                                                             \
    icx_status icx_try_rc_ = (expr);                                                               \
    if (icx_try_rc_ != ICX_OK) {                                                                   \
      rc = icx_try_rc_;                                                                            \
      goto fail;                                                                                   \
    }                                                                                              \
  } while (0)

/* ---- features ---------------------------------------------------------- */
/* Wasm feature switches accepted by the decoder/validator (bit set).  The
 * Wasm 2.0 core (MVP, sign-ext, sat-trunc, multi-value, bulk memory,
 * reference types, multiple tables) is always on. */
#define ICX_FEAT_MEMORY64 0x1u /* 64-bit memories (memory64 proposal) */
#define ICX_FEAT_TABLE64 0x2u  /* 64-bit tables (i64 index type) */
#define ICX_FEAT_DEFAULT (ICX_FEAT_MEMORY64 | ICX_FEAT_TABLE64)

/* ---- little-endian helpers --------------------------------------------- */
static inline uint32_t icx_rd32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t icx_rd64(const void *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

#endif
