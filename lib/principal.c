/* principal.c -- IC principals: CRC-32, SHA-224, base32 text form, canister
 * ids and principal classes (principal.h, docs/principals-candid.md). */
#include "principal.h"

/* ---- CRC-32 ------------------------------------------------------------------
 * Bitwise with a nibble table (16 entries, const): small, no global state. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
    0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
    0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};

uint32_t icxCrc32(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    crc = (crc >> 4) ^ crc_nibble[crc & 15u];
    crc = (crc >> 4) ^ crc_nibble[crc & 15u];
  }
  return ~crc;
}

/* ---- SHA-224 (FIPS 180-4 section 6.3: the SHA-256 compression function with
 * the SHA-224 initial hash value, output truncated to 224 bits) ---------- */
static const uint32_t sha_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
    0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
    0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
    0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
    0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
    0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
    0xc67178f2u};

static uint32_t ror32(uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

static void sha256_block(uint32_t h[8], const uint8_t blk[64]) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
           (uint32_t)blk[4 * i + 2] << 8 | (uint32_t)blk[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = k + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
                  sha_k[i] + w[i];
    uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a;
  h[1] += b;
  h[2] += c;
  h[3] += d;
  h[4] += e;
  h[5] += f;
  h[6] += g;
  h[7] += k;
}

void icxSha224(const uint8_t *p, size_t n, uint8_t out[ICX_SHA224_BYTES]) {
  uint32_t h[8] = {0xc1059ed8u, 0x367cd507u, 0x3070dd17u, 0xf70e5939u,
                   0xffc00b31u, 0x68581511u, 0x64f98fa7u, 0xbefa4fa4u};
  size_t i = 0;
  for (; n - i >= 64; i += 64) sha256_block(h, p + i);
  uint8_t tail[128];
  size_t rest = n - i;
  memset(tail, 0, sizeof tail);
  if (rest) memcpy(tail, p + i, rest);
  tail[rest] = 0x80;
  size_t tl = rest + 1 + 8 <= 64 ? 64 : 128;
  uint64_t bits = (uint64_t)n * 8u; /* message length mod 2^64 bits */
  for (int j = 0; j < 8; j++) tail[tl - 1 - (size_t)j] = (uint8_t)(bits >> (8 * j));
  sha256_block(h, tail);
  if (tl == 128) sha256_block(h, tail + 64);
  for (int j = 0; j < 7; j++) {
    out[4 * j] = (uint8_t)(h[j] >> 24);
    out[4 * j + 1] = (uint8_t)(h[j] >> 16);
    out[4 * j + 2] = (uint8_t)(h[j] >> 8);
    out[4 * j + 3] = (uint8_t)h[j];
  }
}

/* ---- principals ------------------------------------------------------------ */

icx_status icxPrincipal_from_bytes(const uint8_t *bytes, size_t len, icx_principal *out,
                                   icxErr *err) {
  if (out) memset(out, 0, sizeof *out);
  if (out == NULL) return icxErr_set(err, ICX_EINVAL, "principal: NULL output");
  if (len > ICX_PRINCIPAL_MAX_BYTES)
    return icxErr_set(err, ICX_EINVAL, "principal: %zu bytes (at most %d)", len,
                      ICX_PRINCIPAL_MAX_BYTES);
  if (bytes == NULL && len > 0) return icxErr_set(err, ICX_EINVAL, "principal: NULL bytes");
  out->len = (uint8_t)len;
  if (len) memcpy(out->bytes, bytes, len);
  return ICX_OK;
}

icx_principal icxPrincipal_management(void) {
  icx_principal p;
  memset(&p, 0, sizeof p);
  return p;
}

icx_principal icxPrincipal_anonymous(void) {
  icx_principal p = icxPrincipal_management();
  p.len = 1;
  p.bytes[0] = ICX_PRINCIPAL_CLASS_ANONYMOUS;
  return p;
}

icx_principal icxPrincipal_canister(uint64_t idx) {
  icx_principal p = icxPrincipal_management();
  for (int i = 0; i < 8; i++) p.bytes[i] = (uint8_t)(idx >> (56 - 8 * i));
  p.bytes[8] = 0x01;
  p.bytes[9] = 0x01;
  p.len = 10;
  return p;
}

int icxPrincipal_canister_index(const icx_principal *p, uint64_t *idx) {
  if (p == NULL || p->len != 10 || p->bytes[8] != 0x01 || p->bytes[9] != 0x01) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p->bytes[i];
  if (idx) *idx = v;
  return 1;
}

icx_principal icxPrincipal_self_authenticating(const uint8_t *der, size_t len) {
  icx_principal p = icxPrincipal_management();
  static const uint8_t empty[1] = {0};
  icxSha224(der ? der : empty, der ? len : 0, p.bytes);
  p.bytes[ICX_SHA224_BYTES] = ICX_PRINCIPAL_CLASS_SELF_AUTH;
  p.len = ICX_SHA224_BYTES + 1;
  return p;
}

int icxPrincipal_eq(const icx_principal *a, const icx_principal *b) {
  return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

int icxPrincipal_cmp(const icx_principal *a, const icx_principal *b) {
  size_t n = a->len < b->len ? a->len : b->len;
  int c = n ? memcmp(a->bytes, b->bytes, n) : 0;
  if (c) return c < 0 ? -1 : 1;
  if (a->len != b->len) return a->len < b->len ? -1 : 1;
  return 0;
}

/* ---- textual form ------------------------------------------------------------ */

static const char b32_alphabet[33] = "abcdefghijklmnopqrstuvwxyz234567";

/* base32 of crc_be(p) ++ p, with dashes, into out (at least 64 bytes). */
static size_t render(const icx_principal *p, char *out) {
  uint8_t buf[4 + ICX_PRINCIPAL_MAX_BYTES];
  uint32_t crc = icxCrc32(0, p->bytes, p->len);
  buf[0] = (uint8_t)(crc >> 24);
  buf[1] = (uint8_t)(crc >> 16);
  buf[2] = (uint8_t)(crc >> 8);
  buf[3] = (uint8_t)crc;
  memcpy(buf + 4, p->bytes, p->len);
  size_t nbytes = 4u + p->len, o = 0, chars = 0;
  uint32_t acc = 0;
  unsigned bits = 0;
  for (size_t i = 0; i < nbytes || bits > 0;) {
    if (bits < 5 && i < nbytes) {
      acc = (acc << 8) | buf[i++];
      bits += 8;
      continue;
    }
    unsigned v;
    if (bits >= 5) {
      v = (acc >> (bits - 5)) & 31u;
      bits -= 5;
    } else { /* final partial group, padded with zero bits */
      v = (acc << (5 - bits)) & 31u;
      bits = 0;
    }
    if (chars > 0 && chars % 5 == 0) out[o++] = '-';
    out[o++] = b32_alphabet[v];
    chars++;
  }
  out[o] = 0;
  return o;
}

size_t icxPrincipal_to_text(const icx_principal *p, char *buf, size_t cap) {
  char tmp[ICX_PRINCIPAL_TEXT_MAX + 1];
  if (p == NULL || p->len > ICX_PRINCIPAL_MAX_BYTES) {
    if (buf && cap) buf[0] = 0;
    return 0;
  }
  size_t n = render(p, tmp);
  if (buf == NULL || cap < n + 1) {
    if (buf && cap) buf[0] = 0;
    return n;
  }
  memcpy(buf, tmp, n + 1);
  return n;
}

static int b32_value(unsigned char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

icx_status icxPrincipal_from_text(const char *text, size_t len, icx_principal *out, icxErr *err) {
  if (out) memset(out, 0, sizeof *out);
  if (out == NULL || (text == NULL && len > 0))
    return icxErr_set(err, ICX_EINVAL, "principal text: NULL argument");
  if (len > ICX_PRINCIPAL_TEXT_MAX)
    return icxErr_set(err, ICX_EINVAL, "principal text: %zu characters (at most %d)", len,
                      ICX_PRINCIPAL_TEXT_MAX);
  /* characters and dash positions: a dash exactly at every 6th position */
  uint8_t vals[ICX_PRINCIPAL_TEXT_MAX];
  size_t m = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    int dash_here = (i % 6) == 5;
    if (c == '-') {
      if (!dash_here || i + 1 == len)
        return icxErr_set(err, ICX_EINVAL, "principal text: misplaced '-' at offset %zu", i);
      continue;
    }
    if (dash_here)
      return icxErr_set(err, ICX_EINVAL, "principal text: expected '-' at offset %zu", i);
    int v = b32_value(c);
    if (v < 0) {
      if ((c >= 'A' && c <= 'Z'))
        return icxErr_set(err, ICX_EINVAL,
                          "principal text: upper-case '%c' at offset %zu (only the lower-case "
                          "form is accepted)",
                          c, i);
      return icxErr_set(err, ICX_EINVAL, "principal text: invalid character 0x%02x at offset %zu",
                        c, i);
    }
    vals[m++] = (uint8_t)v;
  }
  size_t nbytes = m * 5 / 8;
  if (nbytes < 4)
    return icxErr_set(err, ICX_EINVAL, "principal text: too short (%zu base32 characters)", m);
  if ((nbytes * 8 + 4) / 5 != m)
    return icxErr_set(err, ICX_EINVAL, "principal text: %zu base32 characters is not a valid length",
                      m);
  if (nbytes - 4 > ICX_PRINCIPAL_MAX_BYTES)
    return icxErr_set(err, ICX_EINVAL, "principal text: %zu bytes (at most %d)", nbytes - 4,
                      ICX_PRINCIPAL_MAX_BYTES);
  uint8_t buf[4 + ICX_PRINCIPAL_MAX_BYTES];
  uint32_t acc = 0;
  unsigned bits = 0;
  size_t o = 0;
  for (size_t i = 0; i < m; i++) {
    acc = (acc << 5) | vals[i];
    bits += 5;
    if (bits >= 8) {
      buf[o++] = (uint8_t)(acc >> (bits - 8));
      bits -= 8;
    }
    acc &= (1u << bits) - 1u;
  }
  if (acc != 0) return icxErr_set(err, ICX_EINVAL, "principal text: non-zero padding bits");
  icx_principal p;
  memset(&p, 0, sizeof p);
  p.len = (uint8_t)(o - 4);
  memcpy(p.bytes, buf + 4, p.len);
  uint32_t want = icxCrc32(0, p.bytes, p.len);
  uint32_t got = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
  if (want != got) return icxErr_set(err, ICX_EINVAL, "principal text: checksum mismatch");
  /* final canonical check, as the replica does: re-render and compare */
  char canon[ICX_PRINCIPAL_TEXT_MAX + 1];
  size_t cn = render(&p, canon);
  if (cn != len || memcmp(canon, text, len) != 0)
    return icxErr_set(err, ICX_EINVAL, "principal text: not in canonical form (expected \"%s\")",
                      canon);
  *out = p;
  return ICX_OK;
}
