/* ckpt.h -- checkpoints of named page maps and byte blobs in a directory:
 * incremental, crash-safe, checksummed (file format in docs/memory.md).
 *
 * A directory holds MANIFEST (the current checkpoint: versioned, its own
 * BLAKE2b checksum, the list of data files with their lengths and BLAKE2b
 * hashes, and per item its name, kind, size, root hash and where it lives)
 * and data files data-<gen>.bin.  The first save writes a full base file;
 * each later save writes one overlay with only the pages that differ from
 * what the handle last saved or loaded (found by icxPm_diff, so O(pages
 * changed)) and the blobs that changed.  After ICX_CKPT_MAX_OVERLAYS
 * overlays a save writes a new full base instead, and the old files go.
 *
 * Crash safety: files are written to *.tmp, fsync'ed and renamed, the
 * directory is fsync'ed, and only then is MANIFEST.tmp written, fsync'ed and
 * renamed over MANIFEST (then the directory fsync'ed again).  Files named by
 * a MANIFEST are never modified, so a crash at any point leaves the previous
 * MANIFEST with all its files intact, or the new one complete.
 *
 * Loading treats every byte as untrusted: each length, count and offset is
 * checked before use, the manifest checksum, each file's length and hash
 * and each item's root hash are verified; any mismatch is ICX_ECORRUPT with
 * a message naming the file and the defect.
 *
 * Threading: a handle is used by one thread at a time; the maps it saves
 * may be shared with other threads (they are immutable). */
#ifndef ICX_CKPT_H
#define ICX_CKPT_H

#include "pagemap.h"

#define ICX_CKPT_VERSION 1u
#define ICX_CKPT_MAX_OVERLAYS 8u       /* overlays before a new full base */
#define ICX_CKPT_MAX_NAME 255u
#define ICX_CKPT_MAX_ITEMS 65536u
#define ICX_CKPT_MAX_FILES (ICX_CKPT_MAX_OVERLAYS + 2u)
#define ICX_CKPT_MAX_MANIFEST (64u << 20)

enum { ICX_CKPT_PAGES = 1, ICX_CKPT_BLOB = 2 };

/* One named item.  For saving, the caller's pointers are borrowed for the
 * call; from a load, name and blob are owned copies and map holds one
 * reference (icxCkpt_loaded_free releases them). */
typedef struct icxCkptItem {
  const char *name; /* 1..255 bytes, NUL-terminated, unique in a save */
  uint8_t kind;     /* ICX_CKPT_PAGES or ICX_CKPT_BLOB */
  icxPageMap *map;  /* PAGES */
  const uint8_t *blob;
  uint64_t blob_len; /* BLOB */
} icxCkptItem;

/* A loaded checkpoint: items sorted by name (byte order). */
typedef struct icxCkptLoaded {
  uint32_t n;
  icxCkptItem *items;
  uint64_t gen; /* generation number of the checkpoint */
} icxCkptLoaded;
ICX_INTERNAL void icxCkpt_loaded_free(const icxAllocator *a, icxCkptLoaded *l);

typedef struct icxCkpt icxCkpt;

/* A handle on directory dir (created if missing).  It remembers nothing
 * until a save or a load.  ICX_EINVAL (cannot create/open), ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCkpt_open(icxPmCtx *ctx, const char *dir, icxCkpt **out, icxErr *err);
ICX_INTERNAL void icxCkpt_close(icxCkpt *c);

/* Save items as the new checkpoint.  Incremental against what the handle
 * last saved or loaded.  ICX_EINVAL (bad names or kinds, or an I/O error:
 * the message says which file and why), ICX_ENOMEM.  On failure the
 * directory still holds the previous checkpoint. */
ICX_INTERNAL icx_status icxCkpt_save(icxCkpt *c, const icxCkptItem *items, uint32_t n,
                                     icxErr *err);
/* Load the directory's checkpoint; the handle then saves incrementally
 * against it.  ICX_ENOTFOUND (no MANIFEST), ICX_ECORRUPT, ICX_EVERSION,
 * ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCkpt_load(icxCkpt *c, icxCkptLoaded *out, icxErr *err);

/* Bytes written by the last save (data files + manifest) and whether it was
 * a full base. */
ICX_INTERNAL uint64_t icxCkpt_last_bytes(const icxCkpt *c);
ICX_INTERNAL int icxCkpt_last_full(const icxCkpt *c);

/* Test hook: the k-th I/O step (write, fsync, rename, ...) of each later
 * save fails, a write after writing half its bytes (0: none).
 * icxCkpt_ops gives the number of steps the last save took. */
ICX_INTERNAL void icxCkpt_set_fault(icxCkpt *c, uint64_t k);
ICX_INTERNAL uint64_t icxCkpt_ops(const icxCkpt *c);

/* Where a loader gets its bytes: open(name) gives the whole file as a view
 * valid until close.  ICX_ENOTFOUND if absent. */
typedef struct icxCkptSrc {
  icx_status (*open)(void *ud, const char *name, const uint8_t **data, uint64_t *len,
                     void **handle, icxErr *err);
  void (*close)(void *ud, void *handle, const uint8_t *data, uint64_t len);
  void *ud;
  int verify; /* check checksums and hashes (0 only for fuzzing the parser) */
} icxCkptSrc;

/* Load from any source (the fuzz entry point). */
ICX_INTERNAL icx_status icxCkpt_load_src(icxPmCtx *ctx, const icxCkptSrc *src,
                                         icxCkptLoaded *out, icxErr *err);

#endif
