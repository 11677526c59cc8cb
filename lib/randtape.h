/* randtape.h -- the per-round random tape (docs/randomness.md).
 *
 * Input: the round number and the opaque bytes of the batch's random-tape
 * signature (a threshold BLS signature on the IC; any byte string here).  Derivation, all with
 * BLAKE2b (RFC 7693, libb2) and ChaCha20 (RFC 8439, libsodium):
 *
 *   randomness = BLAKE2b-256(unkeyed, "icexec-random-tape-v1" || 0x00 ||
 *                            le64(round) || le64(sig_len) || sig)
 *   key        = BLAKE2b-256(keyed with randomness,
 *                            "icexec-random-tape-chacha20-key-v1")
 *   stream     = ChaCha20-IETF keystream (RFC 8439: 96-bit nonce of zeros,
 *                32-bit block counter starting at 0) under key
 *
 * Bytes are taken from the stream in order; raw_rand takes 32 fresh bytes
 * per call, in the order the calls are processed.  The stream holds
 * 2^32 blocks of 64 bytes (256 GiB); asking past that fails with ICX_ELIMIT.
 *
 * The replica uses a different derivation (XMD_SHA256 seeds, rand_chacha's
 * ChaCha20Rng); libicexec follows its own design card (BLAKE2b + ChaCha20),
 * so raw_rand bytes are not the replica's bytes for the same signature.
 * Deterministic; the state is this plain struct (no global state). */
#ifndef ICX_RANDTAPE_H
#define ICX_RANDTAPE_H

#include "core.h"

#define ICX_RANDTAPE_DST_SEED "icexec-random-tape-v1"
#define ICX_RANDTAPE_DST_KEY "icexec-random-tape-chacha20-key-v1"
#define ICX_RANDTAPE_BYTES 32          /* randomness and key size */
#define ICX_RAW_RAND_BYTES 32          /* bytes per raw_rand call */
#define ICX_RAW_RAND_REPLY_BYTES 42    /* Candid blob of 32 bytes */
/* Stream length: 2^32 ChaCha20 blocks of 64 bytes. */
#define ICX_RANDTAPE_STREAM_BYTES ((uint64_t)1 << 38)

typedef struct icxRandTape {
  uint8_t randomness[ICX_RANDTAPE_BYTES]; /* the round's 32 bytes of randomness */
  uint8_t key[ICX_RANDTAPE_BYTES];        /* ChaCha20 key */
  uint64_t pos;                           /* bytes of the stream used so far */
} icxRandTape;

/* Derive the tape of round `round` from sig[0..len) (sig may be NULL if len
 * is 0).
 * Errors: ICX_EINVAL (t NULL, or sig NULL with len > 0), ICX_EINTERNAL (a
 * hash or cipher call failed).  Never allocates. */
ICX_INTERNAL icx_status icxRandTape_init(icxRandTape *t, uint64_t round, const uint8_t *sig,
                                         size_t len, icxErr *err);
/* The same from already-derived 32 bytes of randomness (skips the first
 * hash): what a host that keeps only the batch randomness passes in. */
ICX_INTERNAL icx_status icxRandTape_init_randomness(icxRandTape *t,
                                                    const uint8_t randomness[ICX_RANDTAPE_BYTES],
                                                    icxErr *err);
/* The next n bytes of the stream into out; the position advances by n.
 * Errors: ICX_ELIMIT (the stream would run past its end; nothing written,
 * position unchanged), ICX_EINVAL (out NULL with n > 0). */
ICX_INTERNAL icx_status icxRandTape_fill(icxRandTape *t, uint8_t *out, size_t n, icxErr *err);
/* Answer one raw_rand call: 32 fresh bytes framed as the Candid reply
 * "DIDL" 01 6d 7b 01 00 20 <32 bytes> (42 bytes) into reply. */
ICX_INTERNAL icx_status icxRandTape_raw_rand_reply(icxRandTape *t,
                                                   uint8_t reply[ICX_RAW_RAND_REPLY_BYTES],
                                                   icxErr *err);

#endif
