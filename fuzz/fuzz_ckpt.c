/* fuzz_ckpt.c -- arbitrary bytes through the checkpoint loader
 * (icxCkpt_load_src with an in-memory source).
 *
 * Input: le32 L, then L bytes of MANIFEST, then the rest, which is served
 * as the content of every data-*.bin file the manifest names.  The input is
 * loaded twice: with checksum verification off (so mutations reach the
 * parsers behind the checksums) and on.
 *
 * Checks, besides "no crash, no sanitizer report":
 *  - the status is ICX_OK, ICX_ECORRUPT, ICX_EVERSION or ICX_ENOMEM, with a
 *    message on failure and nothing returned;
 *  - on ICX_OK every loaded map is readable (every page visited) and its
 *    pages lie below its size;
 *  - nothing leaks, every free passes the real size (fuzz_util.c);
 *  - out of memory: repeated with one allocation failing (chosen from the
 *    input): ICX_OK or ICX_ENOMEM-class failure, no leak. */
#include <stdio.h>
#include <string.h>

#include "ckpt.h"
#include "core.h"
#include "fuzz_util.h"

typedef struct Mem {
  const uint8_t *man, *data;
  size_t nman, ndata;
} Mem;

static icx_status mem_open(void *ud, const char *name, const uint8_t **data, uint64_t *len,
                           void **handle, icxErr *err) {
  Mem *m = ud;
  *handle = NULL;
  if (strcmp(name, "MANIFEST") == 0) {
    *data = m->man;
    *len = m->nman;
  } else if (strncmp(name, "data-", 5) == 0) {
    *data = m->data;
    *len = m->ndata;
  } else {
    return icxErr_set(err, ICX_ENOTFOUND, "no %s", name);
  }
  return ICX_OK;
}
static void mem_close(void *ud, void *handle, const uint8_t *data, uint64_t len) {
  (void)ud;
  (void)handle;
  (void)data;
  (void)len;
}

typedef struct Walk {
  uint64_t lim, n;
} Walk;
static int walk(void *ud, uint64_t page, const uint8_t *data) {
  Walk *w = ud;
  if (page >= w->lim) fuzz_fail("page %llu beyond its map", (unsigned long long)page);
  w->n += data[0] + data[4095];
  return 0;
}

static void run(Mem *mem, int verify, fuzzAlloc *fa) {
  icxAllocator a = fuzz_allocator(fa);
  icxPmCtx *ctx = icxPm_ctx_new(&a);
  if (!ctx) return;
  icxCkptSrc src = {mem_open, mem_close, mem, verify};
  icxCkptLoaded l;
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status rc = icxCkpt_load_src(ctx, &src, &l, &err);
  if (rc == ICX_OK) {
    for (uint32_t i = 0; i < l.n; i++) {
      if (l.items[i].kind == ICX_CKPT_PAGES) {
        Walk w = {(icxPm_size(l.items[i].map) + 4095) / 4096, 0};
        icxPm_foreach(l.items[i].map, walk, &w);
      } else if (l.items[i].blob_len) {
        volatile uint8_t x = l.items[i].blob[l.items[i].blob_len - 1];
        (void)x;
      }
    }
    icxCkpt_loaded_free(&a, &l);
  } else {
    if (rc != ICX_ECORRUPT && rc != ICX_EVERSION && rc != ICX_ENOMEM)
      fuzz_fail("load returned %d (%s)", rc, err.msg);
    if (l.n || l.items) fuzz_fail("failed but items returned");
    if (!err.msg[0]) fuzz_fail("failure without a message");
  }
  icxPm_ctx_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  uint32_t l = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
               (uint32_t)data[3] << 24;
  if (l > size - 4) l = (uint32_t)(size - 4);
  Mem mem = {data + 4, data + 4 + l, l, size - 4 - l};
  for (int verify = 0; verify < 2; verify++) {
    fuzzAlloc fa;
    memset(&fa, 0, sizeof fa);
    fa.limit = (size_t)256 << 20;
    run(&mem, verify, &fa);
    fuzz_check_no_leaks(&fa, "fuzz_ckpt");
  }
  /* out of memory at an allocation chosen from the input */
  fuzzAlloc fa;
  memset(&fa, 0, sizeof fa);
  fa.limit = (size_t)256 << 20;
  fa.fail_at = 1 + data[size - 1] % 32;
  run(&mem, 0, &fa);
  fuzz_check_no_leaks(&fa, "fuzz_ckpt (oom)");
  return 0;
}
