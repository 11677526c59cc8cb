/* randtape.c -- the per-round random tape: BLAKE2b seed, ChaCha20 stream
 * (randtape.h, docs/randomness.md). */
#include "randtape.h"

#include <blake2.h>
#include <sodium.h>

_Static_assert(crypto_stream_chacha20_ietf_KEYBYTES == ICX_RANDTAPE_BYTES, "key size");
_Static_assert(crypto_stream_chacha20_ietf_NONCEBYTES == 12, "IETF nonce");

static icx_status derive_key(icxRandTape *t, icxErr *err) {
  static const char dst[] = ICX_RANDTAPE_DST_KEY;
  if (blake2b(t->key, dst, t->randomness, sizeof t->key, sizeof dst - 1, sizeof t->randomness) != 0)
    return icxErr_set(err, ICX_EINTERNAL, "random tape: BLAKE2b failed");
  t->pos = 0;
  return ICX_OK;
}

icx_status icxRandTape_init(icxRandTape *t, uint64_t round, const uint8_t *sig, size_t len,
                            icxErr *err) {
  if (t == NULL || (sig == NULL && len > 0))
    return icxErr_set(err, ICX_EINVAL, "random tape: NULL argument");
  memset(t, 0, sizeof *t);
  static const char dst[] = ICX_RANDTAPE_DST_SEED;
  blake2b_state s;
  uint8_t le[8], rle[8];
  uint64_t l = (uint64_t)len;
  for (int i = 0; i < 8; i++) {
    le[i] = (uint8_t)(l >> (8 * i));
    rle[i] = (uint8_t)(round >> (8 * i));
  }
  static const uint8_t zero = 0;
  int rc = blake2b_init(&s, sizeof t->randomness);
  rc |= blake2b_update(&s, (const uint8_t *)dst, sizeof dst - 1);
  rc |= blake2b_update(&s, &zero, 1);
  rc |= blake2b_update(&s, rle, sizeof rle);
  rc |= blake2b_update(&s, le, sizeof le);
  if (len) rc |= blake2b_update(&s, sig, len);
  rc |= blake2b_final(&s, t->randomness, sizeof t->randomness);
  if (rc != 0) return icxErr_set(err, ICX_EINTERNAL, "random tape: BLAKE2b failed");
  return derive_key(t, err);
}

icx_status icxRandTape_init_randomness(icxRandTape *t,
                                       const uint8_t randomness[ICX_RANDTAPE_BYTES],
                                       icxErr *err) {
  if (t == NULL || randomness == NULL)
    return icxErr_set(err, ICX_EINVAL, "random tape: NULL argument");
  memset(t, 0, sizeof *t);
  memcpy(t->randomness, randomness, ICX_RANDTAPE_BYTES);
  return derive_key(t, err);
}

icx_status icxRandTape_fill(icxRandTape *t, uint8_t *out, size_t n, icxErr *err) {
  if (t == NULL || (out == NULL && n > 0))
    return icxErr_set(err, ICX_EINVAL, "random tape: NULL argument");
  if ((uint64_t)n > ICX_RANDTAPE_STREAM_BYTES - t->pos)
    return icxErr_set(err, ICX_ELIMIT, "random tape: stream exhausted");
  static const uint8_t nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
  uint8_t block[64];
  while (n > 0) {
    uint32_t ctr = (uint32_t)(t->pos / 64u);
    size_t off = (size_t)(t->pos % 64u);
    size_t take = 64u - off < n ? 64u - off : n;
    memset(block, 0, sizeof block);
    if (crypto_stream_chacha20_ietf_xor_ic(block, block, sizeof block, nonce, ctr, t->key) != 0)
      return icxErr_set(err, ICX_EINTERNAL, "random tape: ChaCha20 failed");
    memcpy(out, block + off, take);
    out += take;
    n -= take;
    t->pos += take;
  }
  sodium_memzero(block, sizeof block);
  return ICX_OK;
}

icx_status icxRandTape_raw_rand_reply(icxRandTape *t, uint8_t reply[ICX_RAW_RAND_REPLY_BYTES],
                                      icxErr *err) {
  static const uint8_t head[10] = {0x44, 0x49, 0x44, 0x4c, 0x01, 0x6d, 0x7b, 0x01, 0x00, 0x20};
  if (reply == NULL) return icxErr_set(err, ICX_EINVAL, "random tape: NULL argument");
  memcpy(reply, head, sizeof head);
  return icxRandTape_fill(t, reply + sizeof head, ICX_RAW_RAND_BYTES, err);
}
