/* wat_lex.c -- the lexical layer of the WAT parser: characters, tokens,
 * comments, strings, and the literals (integers, floats with correct
 * rounding, names). */
#define ICX_WAT_INTERNAL
#include "wat.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- errors ----------------------------------------------------------------- */

/* Record a malformed-text error at offset off (the first error wins). */
int icxWat_fail(watCtx *w, size_t off, const char *fmt, ...) {
  if (w->rc != ICX_OK) return -1;
  uint32_t line = 1, col = 1;
  if (off > w->len) off = w->len;
  for (size_t i = 0; i < off; i++) {
    if (w->src[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  char reason[ICX_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  w->rc = ICX_EMALFORMED;
  icxErr_set(w->err, ICX_EMALFORMED, "line %u col %u: %s", (unsigned)line, (unsigned)col, reason);
  return -1;
}

/* Record an allocation failure. */
int icxWat_oom(watCtx *w) {
  if (w->rc == ICX_OK) {
    w->rc = ICX_ENOMEM;
    icxErr_set(w->err, ICX_ENOMEM, "out of memory while parsing text");
  }
  return -1;
}

/* ---- characters ------------------------------------------------------------- */

/* The idchar set of the text format. */
static int is_idchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
  switch (c) {
  case '!':
  case '#':
  case '$':
  case '%':
  case '&':
  case '\'':
  case '*':
  case '+':
  case '-':
  case '.':
  case '/':
  case ':':
  case '<':
  case '=':
  case '>':
  case '?':
  case '@':
  case '\\':
  case '^':
  case '_':
  case '`':
  case '|':
  case '~': return 1;
  default: return 0;
  }
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (n < len) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  return len;
}

/* ---- whitespace, comments, tokens ------------------------------------------- */

/* Skip whitespace and comments in src[*pos..n).  With chk (the context to
 * report to), unterminated block comments and malformed UTF-8 in comments
 * are errors; returns -1 on error. */
static int skip_space(const char *src, size_t n, size_t *pos, watCtx *chk) {
  const unsigned char *s = (const unsigned char *)src;
  size_t i = *pos;
  int check = chk != NULL;
  while (i < n) {
    unsigned char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i++;
    } else if (c == ';' && i + 1 < n && s[i + 1] == ';') {
      while (i < n && s[i] != '\n') {
        size_t l = utf8_len(s + i, n - i);
        if (l == 0) {
          if (check) return icxWat_fail(chk, i, "malformed UTF-8 encoding");
          l = 1;
        }
        i += l;
      }
    } else if (c == '(' && i + 1 < n && s[i + 1] == ';') {
      size_t start = i, depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= n) {
          *pos = n;
          return check ? icxWat_fail(chk, start, "unterminated block comment") : 0;
        }
        if (s[i] == '(' && i + 1 < n && s[i + 1] == ';') {
          depth++;
          i += 2;
        } else if (s[i] == ';' && i + 1 < n && s[i + 1] == ')') {
          depth--;
          i += 2;
        } else {
          size_t l = utf8_len(s + i, n - i);
          if (l == 0) {
            if (check) return icxWat_fail(chk, i, "malformed UTF-8 encoding");
            l = 1;
          }
          i += l;
        }
      }
    } else {
      break;
    }
  }
  *pos = i;
  return 0;
}

/* End of the string starting at src[i] == '"' (just past the closing quote).
 * With chk, validates the contents and reports to chk; returns 0 or -1. */
static int scan_string(const char *src, size_t n, size_t i, size_t *end, watCtx *chk) {
  const unsigned char *s = (const unsigned char *)src;
  size_t start = i;
  int check = chk != NULL;
  watCtx *w = chk;
  i++;
  for (;;) {
    if (i >= n) {
      *end = n;
      return check ? icxWat_fail(w, start, "unterminated string") : 0;
    }
    unsigned char c = s[i];
    if (c == '"') break;
    if (c == '\\') {
      if (i + 1 >= n) {
        *end = n;
        return check ? icxWat_fail(w, start, "unterminated string") : 0;
      }
      unsigned char e = s[i + 1];
      if (e == 'u' && check) {
        size_t j = i + 2;
        uint64_t v = 0;
        int ok = j < n && s[j] == '{', digits = 0, under = 0;
        for (j++; ok && j < n && s[j] != '}'; j++) {
          int h = hexval(s[j]);
          if (s[j] == '_' && digits && !under) {
            under = 1;
            continue;
          }
          if (h < 0)
            ok = 0;
          else if (v < 0x110000)
            v = v * 16 + (uint64_t)h;
          digits++;
          under = 0;
        }
        if (!ok || j >= n || !digits || under || v >= 0x110000 || (v >= 0xd800 && v < 0xe000))
          return icxWat_fail(w, i, "malformed unicode escape");
        i = j + 1;
        continue;
      }
      if (e == 'u') {
        while (i < n && s[i] != '}' && s[i] != '"') i++;
        if (i < n && s[i] == '}') i++;
        continue;
      }
      if (check && !(e == 't' || e == 'n' || e == 'r' || e == '"' || e == '\'' || e == '\\' ||
                     (hexval(e) >= 0 && i + 2 < n && hexval(s[i + 2]) >= 0)))
        return icxWat_fail(w, i, "illegal escape");
      i += (e == 't' || e == 'n' || e == 'r' || e == '"' || e == '\'' || e == '\\') ? 2 : 3;
      continue;
    }
    if (check && (c < 0x20 || c == 0x7f)) return icxWat_fail(w, i, "illegal character in string");
    size_t l = utf8_len(s + i, n - i);
    if (l == 0) {
      if (check) return icxWat_fail(w, i, "malformed UTF-8 encoding");
      l = 1;
    }
    i += l;
  }
  *end = i + 1;
  return 0;
}

/* Lex the token at or after *pos (no checks: the text passed icxWat_lex_check). */
void icxWat_lex_at(const watCtx *w, size_t *pos, watTok *t) {
  const unsigned char *s = (const unsigned char *)w->src;
  size_t i = *pos, n = w->len;
  skip_space(w->src, n, &i, NULL);
  t->off = (uint32_t)i;
  t->len = 0;
  if (i >= n) {
    t->kind = WT_EOF;
    *pos = i;
    return;
  }
  size_t end = i + 1;
  unsigned char c = s[i];
  if (c == '(') {
    t->kind = WT_LPAR;
  } else if (c == ')') {
    t->kind = WT_RPAR;
  } else if (c == '"') {
    t->kind = WT_STR;
    scan_string(w->src, n, i, &end, NULL);
  } else {
    end = i;
    while (end < n && is_idchar(s[end])) end++;
    if (end == i) end = i + 1; /* a stray byte: never reached after the check */
    if (c >= 'a' && c <= 'z')
      t->kind = WT_KW;
    else if (c == '$' && end - i > 1)
      t->kind = WT_ID;
    else
      t->kind = WT_NUM;
  }
  t->len = (uint32_t)(end - i);
  *pos = end;
}

/* Move to the next token. */
void icxWat_advance(watCtx *w) { icxWat_lex_at(w, &w->pos, &w->cur); }

/* Token t is exactly the keyword s. */
int icxWat_tok_is(const watCtx *w, const watTok *t, const char *s) {
  size_t n = strlen(s);
  return t->kind == WT_KW && t->len == n && memcmp(w->src + t->off, s, n) == 0;
}

/* Check the whole text lexically and load the first token. */
int icxWat_lex_check(watCtx *w) {
  const unsigned char *s = (const unsigned char *)w->src;
  size_t i = 0, n = w->len, depth = 0;
  size_t open_at[1]; /* offset of the outermost open parenthesis */
  open_at[0] = 0;
  for (;;) {
    if (skip_space(w->src, n, &i, w) != 0) return -1;
    if (i >= n) break;
    unsigned char c = s[i];
    if (c == '(') {
      if (depth == 0) open_at[0] = i;
      if (++depth > ICX_WAT_MAX_DEPTH)
        return icxWat_fail(w, i, "parentheses nested deeper than %u", (unsigned)ICX_WAT_MAX_DEPTH);
      i++;
    } else if (c == ')') {
      if (depth == 0) return icxWat_fail(w, i, "unexpected )");
      depth--;
      i++;
    } else if (c == '"' || is_idchar(c)) {
      size_t start = i, end;
      int strings = 0, other = 0;
      while (i < n && (s[i] == '"' || is_idchar(s[i]))) {
        if (s[i] == '"') {
          if (scan_string(w->src, n, i, &end, w) != 0) return -1;
          strings++;
          i = end;
        } else {
          other = 1;
          i++;
        }
      }
      if (strings > 1 || (strings && other))
        return icxWat_fail(w, start, "unknown operator: tokens must be separated by white space");
      if (s[start] == '$' && i - start == 1) return icxWat_fail(w, start, "empty identifier");
    } else {
      size_t l = utf8_len(s + i, n - i);
      if (l == 0) return icxWat_fail(w, i, "malformed UTF-8 encoding");
      return icxWat_fail(w, i, "unexpected character");
    }
  }
  if (depth != 0) return icxWat_fail(w, open_at[0], "unclosed (");
  w->pos = 0;
  icxWat_advance(w);
  return 0;
}

/* ---- integers ----------------------------------------------------------------- */

/* Read digits (hex or decimal) with single underscores between them from
 * s[*i..n); returns the digit count (0: none or malformed). *v saturates
 * (*ovf set) past UINT64_MAX. */
static size_t scan_digits(const char *s, size_t n, size_t *i, int hex, uint64_t *v, int *ovf) {
  size_t j = *i, digits = 0;
  for (;;) {
    if (j >= n) break;
    int d = hex ? hexval((unsigned char)s[j]) : (s[j] >= '0' && s[j] <= '9' ? s[j] - '0' : -1);
    if (d < 0) {
      if (s[j] == '_' && digits && j + 1 < n) {
        int d2 =
            hex ? hexval((unsigned char)s[j + 1]) : (s[j + 1] >= '0' && s[j + 1] <= '9' ? 0 : -1);
        if (d2 >= 0) {
          j++;
          continue;
        }
      }
      break;
    }
    uint64_t base = hex ? 16u : 10u;
    if (*v > (UINT64_MAX - (uint64_t)d) / base)
      *ovf = 1;
    else
      *v = *v * base + (uint64_t)d;
    digits++;
    j++;
  }
  *i = j;
  return digits;
}

/* An unsigned literal (decimal or 0x-hex) in s[0..n) no larger than max. */
int icxWat_nat_text(watCtx *w, size_t off, const char *s, size_t n, uint64_t max, uint64_t *out) {
  size_t i = 0;
  int hex = n > 2 && s[0] == '0' && s[1] == 'x';
  if (hex) i = 2;
  uint64_t v = 0;
  int ovf = 0;
  if (scan_digits(s, n, &i, hex, &v, &ovf) == 0 || i != n)
    return icxWat_fail(w, off, "unexpected token: expected a natural number");
  if (ovf || v > max) return icxWat_fail(w, off, "constant out of range");
  *out = v;
  return 0;
}

/* The token as an unsigned literal no larger than max. */
int icxWat_nat(watCtx *w, const watTok *t, uint64_t max, uint64_t *out) {
  if (t->kind != WT_NUM)
    return icxWat_fail(w, t->off, "unexpected token: expected a natural number");
  return icxWat_nat_text(w, t->off, w->src + t->off, t->len, max, out);
}

/* A signed or unsigned integer literal of bits (32 or 64), as its bit pattern. */
int icxWat_int(watCtx *w, const watTok *t, unsigned bits, uint64_t *out) {
  const char *s = w->src + t->off;
  size_t n = t->len, i = 0;
  if (t->kind != WT_NUM) return icxWat_fail(w, t->off, "unexpected token: expected an integer");
  int neg = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  int hex = n - i > 2 && s[i] == '0' && s[i + 1] == 'x';
  if (hex) i += 2;
  uint64_t v = 0;
  int ovf = 0;
  if (scan_digits(s, n, &i, hex, &v, &ovf) == 0 || i != n)
    return icxWat_fail(w, t->off, "unexpected token: expected an integer");
  uint64_t maxpos = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
  uint64_t maxneg = (uint64_t)1 << (bits - 1);
  if (ovf || v > (neg ? maxneg : maxpos)) return icxWat_fail(w, t->off, "constant out of range");
  if (neg) v = (uint64_t)0 - v;
  if (bits < 64) v &= ((uint64_t)1 << bits) - 1;
  *out = v;
  return 0;
}

/* ---- floats --------------------------------------------------------------------- */

typedef struct FloatFmt {
  unsigned mb, eb; /* mantissa bits (without the hidden bit), exponent bits */
} FloatFmt;

static unsigned bitlen64(uint64_t v) {
  unsigned n = 0;
  while (v) {
    n++;
    v >>= 1;
  }
  return n;
}

/* Round m * 2^e2 (plus less than one unit of m if sticky) to nearest even in
 * format f; -1 if the result overflows. */
static int round_float(uint64_t m, int64_t e2, int sticky, const FloatFmt *f, uint64_t *out) {
  if (m == 0) {
    *out = 0;
    return 0;
  }
  unsigned nb = bitlen64(m);
  m <<= 64 - nb; /* normalise: bit 63 set */
  e2 -= 64 - nb;
  int64_t bias = ((int64_t)1 << (f->eb - 1)) - 1;
  int64_t emin = 1 - bias;
  int64_t lead = e2 + 63; /* exponent of the leading bit */
  int64_t lsb = (lead < emin ? emin : lead) - (int64_t)f->mb;
  int64_t shift = lsb - e2; /* >= 63 - mb */
  uint64_t q;
  if (shift > 64) {
    q = 0; /* below half of the smallest subnormal */
  } else if (shift == 64) {
    uint64_t half = (uint64_t)1 << 63;
    q = (m > half || (m == half && sticky)) ? 1 : 0;
  } else {
    q = m >> shift;
    uint64_t rem = m & (((uint64_t)1 << shift) - 1);
    uint64_t half = (uint64_t)1 << (shift - 1);
    if (rem > half || (rem == half && (sticky || (q & 1)))) q++;
  }
  if (q >> (f->mb + 1)) {
    q >>= 1;
    lsb++;
  }
  uint64_t mask = ((uint64_t)1 << f->mb) - 1;
  if (q <= mask) {
    *out = q; /* subnormal or zero */
    return 0;
  }
  int64_t biased = lsb + (int64_t)f->mb + bias;
  if (biased >= ((int64_t)1 << f->eb) - 1) return -1;
  *out = ((uint64_t)biased << f->mb) | (q & mask);
  return 0;
}

/* Big naturals for exact decimal conversion. */
#define BN_LIMBS 128
typedef struct Big {
  uint32_t n; /* limbs in use; d[n-1] != 0 unless n == 0 */
  uint32_t d[BN_LIMBS];
} Big;

static int bn_muladd(Big *a, uint32_t m, uint32_t add) {
  uint64_t carry = add;
  for (uint32_t i = 0; i < a->n; i++) {
    uint64_t v = (uint64_t)a->d[i] * m + carry;
    a->d[i] = (uint32_t)v;
    carry = v >> 32;
  }
  if (carry) {
    if (a->n == BN_LIMBS) return -1;
    a->d[a->n++] = (uint32_t)carry;
  }
  return 0;
}

static int bn_shl(Big *r, const Big *a, uint32_t k) {
  uint32_t limbs = k / 32, bits = k % 32;
  if (a->n == 0) {
    r->n = 0;
    return 0;
  }
  if (a->n + limbs + 1 > BN_LIMBS) return -1;
  uint32_t n = a->n + limbs;
  r->d[n] = 0;
  for (uint32_t i = a->n; i-- > 0;) {
    uint64_t v = (uint64_t)a->d[i] << bits;
    r->d[i + limbs + 1] |= (uint32_t)(v >> 32);
    r->d[i + limbs] = (uint32_t)v;
  }
  for (uint32_t i = 0; i < limbs; i++) r->d[i] = 0;
  r->n = n + 1;
  while (r->n && r->d[r->n - 1] == 0) r->n--;
  return 0;
}

static int bn_cmp(const Big *a, const Big *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (uint32_t i = a->n; i-- > 0;)
    if (a->d[i] != b->d[i]) return a->d[i] < b->d[i] ? -1 : 1;
  return 0;
}

static void bn_sub(Big *a, const Big *b) { /* a >= b */
  uint64_t borrow = 0;
  for (uint32_t i = 0; i < a->n; i++) {
    uint64_t bv = (i < b->n ? b->d[i] : 0) + borrow;
    uint64_t av = a->d[i];
    a->d[i] = (uint32_t)(av - bv);
    borrow = av < bv;
  }
  while (a->n && a->d[a->n - 1] == 0) a->n--;
}

static uint32_t bn_bits(const Big *a) {
  return a->n ? (a->n - 1) * 32 + bitlen64(a->d[a->n - 1]) : 0;
}

#define DEC_MAX_DIGITS 800 /* enough for exact halfway cases of f64 (767) */

/* Scratch for decimal conversion (kept off the C stack of callers). */
typedef struct DecConv {
  Big num, den, t;
} DecConv;

/* digits[0..nd) (no leading zero) * 10^dexp, rounded into f. */
static int dec_to_float(DecConv *c, const char *digits, size_t nd, int64_t dexp, int sticky,
                        const FloatFmt *f, uint64_t *out) {
  if ((int64_t)nd + dexp > 400) return -1;
  if ((int64_t)nd + dexp < -400) {
    *out = 0;
    return 0;
  }
  Big *num = &c->num, *den = &c->den, *t = &c->t;
  num->n = 0;
  for (size_t i = 0; i < nd; i++)
    if (bn_muladd(num, 10, (uint32_t)(digits[i] - '0')) != 0) return -2;
  den->n = 1;
  den->d[0] = 1;
  /* value = num * 5^dexp * 2^dexp */
  for (int64_t k = dexp < 0 ? -dexp : dexp; k > 0; k -= 13) {
    uint32_t p = 1;
    for (int64_t j = 0; j < (k < 13 ? k : 13); j++) p *= 5;
    if (bn_muladd(dexp < 0 ? den : num, p, 0) != 0) return -2;
  }
  int64_t s = 64 - ((int64_t)bn_bits(num) - (int64_t)bn_bits(den));
  if (s > 0 && bn_shl(num, num, (uint32_t)s) != 0) return -2;
  if (s < 0 && bn_shl(den, den, (uint32_t)-s) != 0) return -2;
  uint64_t q = 0, qtop = 0; /* 65-bit quotient */
  for (int bit = 64; bit >= 0; bit--) {
    if (bn_shl(t, den, (uint32_t)bit) != 0) return -2;
    if (bn_cmp(num, t) >= 0) {
      bn_sub(num, t);
      if (bit == 64)
        qtop = 1;
      else
        q |= (uint64_t)1 << bit;
    }
  }
  int64_t e2 = dexp - s;
  sticky |= num->n != 0;
  if (qtop) {
    sticky |= (int)(q & 1);
    q = (q >> 1) | ((uint64_t)1 << 63);
    e2++;
  }
  return round_float(q, e2, sticky, f, out) == 0 ? 0 : -1;
}

/* Parse a decimal exponent (digits with underscores, sign allowed) from
 * s[*i..n), saturating at +-1e9. Returns -1 if malformed. */
static int scan_exp(const char *s, size_t n, size_t *i, int64_t *out) {
  int neg = 0;
  if (*i < n && (s[*i] == '+' || s[*i] == '-')) neg = s[(*i)++] == '-';
  uint64_t v = 0;
  int ovf = 0;
  if (scan_digits(s, n, i, 0, &v, &ovf) == 0) return -1;
  if (ovf || v > 1000000000u) v = 1000000000u;
  *out = neg ? -(int64_t)v : (int64_t)v;
  return 0;
}

/* The magnitude of a hex float `0x` hexnum (. hexfrac?)? (p exp)? in
 * s[i..n) (after the 0x); 0 ok, -1 syntax error, 1 overflow. */
static int hexfloat(const char *s, size_t n, size_t i, const FloatFmt *f, uint64_t *bits) {
  uint64_t m = 0; /* leading hex digits; the rest only sets sticky */
  int64_t e2 = 0, ex = 0;
  int sticky = 0;
  for (int part = 0; part < 2; part++) {
    size_t digits = 0;
    int under = 0;
    for (; i < n; i++) {
      int d = hexval((unsigned char)s[i]);
      if (d < 0) {
        if (s[i] == '_' && digits && !under) {
          under = 1;
          continue;
        }
        break;
      }
      under = 0;
      digits++;
      if (m >> 60) {
        sticky |= d != 0;
        if (part == 0) e2 += 4;
      } else {
        m = m * 16 + (uint64_t)d;
        if (part == 1) e2 -= 4;
      }
    }
    if (under || (part == 0 && digits == 0)) return -1;
    if (part == 1 || i >= n || s[i] != '.') break;
    i++;
    if (i < n && s[i] == '_') return -1;
  }
  if (i < n && (s[i] == 'p' || s[i] == 'P')) {
    i++;
    if (scan_exp(s, n, &i, &ex) != 0) return -1;
  }
  if (i != n) return -1;
  return round_float(m, e2 + ex, sticky, f, bits) == 0 ? 0 : 1;
}

/* The magnitude of a decimal float num (. frac?)? (e exp)? in s[i..n);
 * 0 ok, -1 syntax error, 1 overflow, 2 out of memory, 3 too long. */
static int decfloat(watCtx *w, const char *s, size_t n, size_t i, const FloatFmt *f,
                    uint64_t *bits) {
  char digits[DEC_MAX_DIGITS]; /* significant digits, no leading zeros */
  size_t nd = 0;
  int64_t dexp = 0, ex = 0; /* value = digits * 10^(dexp + ex) */
  int sticky = 0;
  for (int part = 0; part < 2; part++) {
    size_t cnt = 0;
    int under = 0;
    for (; i < n; i++) {
      char c = s[i];
      if (c == '_' && cnt && !under) {
        under = 1;
        continue;
      }
      if (c < '0' || c > '9') break;
      under = 0;
      cnt++;
      if (nd == 0 && c == '0') {
        if (part == 1) dexp--;
      } else if (nd < DEC_MAX_DIGITS) {
        digits[nd++] = c;
        if (part == 1) dexp--;
      } else {
        sticky |= c != '0';
        if (part == 0) dexp++;
      }
    }
    if (under || (part == 0 && cnt == 0)) return -1;
    if (part == 1 || i >= n || s[i] != '.') break;
    i++;
    if (i < n && s[i] == '_') return -1;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (scan_exp(s, n, &i, &ex) != 0) return -1;
  }
  if (i != n) return -1;
  if (nd == 0) {
    *bits = 0;
    return 0;
  }
  DecConv *c = icxCore_alloc(w->a, sizeof *c);
  if (!c) return 2;
  int r = dec_to_float(c, digits, nd, dexp + ex, sticky, f, bits);
  icxCore_free(w->a, c, sizeof *c);
  return r == 0 ? 0 : r == -2 ? 3 : 1;
}

/* A float literal as bits of format f (sign included); -1 on error. */
static int parse_float(watCtx *w, const watTok *t, const FloatFmt *f, uint64_t *out) {
  const char *s = w->src + t->off;
  size_t n = t->len, i = 0;
  uint64_t sign = (uint64_t)1 << (f->mb + f->eb), expmask = (((uint64_t)1 << f->eb) - 1) << f->mb;
  uint64_t bits = 0;
  int r = -1;
  if (t->kind != WT_NUM && t->kind != WT_KW)
    return icxWat_fail(w, t->off, "unexpected token: expected a float literal");
  int neg = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (n - i == 3 && memcmp(s + i, "inf", 3) == 0) {
    bits = expmask;
    r = 0;
  } else if (n - i == 3 && memcmp(s + i, "nan", 3) == 0) {
    bits = expmask | ((uint64_t)1 << (f->mb - 1));
    r = 0;
  } else if (n - i > 6 && memcmp(s + i, "nan:0x", 6) == 0) {
    int ovf = 0;
    i += 6;
    if (scan_digits(s, n, &i, 1, &bits, &ovf) != 0 && i == n)
      r = (ovf || bits == 0 || bits >> f->mb) ? 1 : 0;
    bits |= expmask;
  } else if (n - i > 2 && s[i] == '0' && s[i + 1] == 'x') {
    r = hexfloat(s, n, i + 2, f, &bits);
  } else if (i < n && s[i] >= '0' && s[i] <= '9') {
    r = decfloat(w, s, n, i, f, &bits);
  }
  switch (r) {
  case 0: *out = neg ? bits | sign : bits; return 0;
  case 1: return icxWat_fail(w, t->off, "constant out of range");
  case 2: return icxWat_oom(w);
  case 3: return icxWat_fail(w, t->off, "float literal too long");
  default: return icxWat_fail(w, t->off, "unexpected token: expected a float literal");
  }
}

int icxWat_f32(watCtx *w, const watTok *t, uint32_t *out) {
  static const FloatFmt f32 = {23, 8};
  uint64_t v;
  if (parse_float(w, t, &f32, &v) != 0) return -1;
  *out = (uint32_t)v;
  return 0;
}

int icxWat_f64(watCtx *w, const watTok *t, uint64_t *out) {
  static const FloatFmt f64 = {52, 11};
  return parse_float(w, t, &f64, out);
}

/* ---- strings -------------------------------------------------------------------- */

/* Append the bytes of string token t to b (escapes decoded); with name, the
 * bytes must be valid UTF-8. */
int icxWat_string(watCtx *w, const watTok *t, watBuf *b, int name) {
  if (t->kind != WT_STR) return icxWat_fail(w, t->off, "unexpected token: expected a string");
  const unsigned char *s = (const unsigned char *)w->src + t->off;
  size_t n = t->len - 1, i = 1, start = b->n;
  while (i < n) {
    uint8_t c = s[i];
    if (c != '\\') {
      if (icxWat_byte(w, b, c) != 0) return -1;
      i++;
      continue;
    }
    uint8_t e = s[i + 1];
    uint8_t out[4];
    size_t k = 1;
    i += 2;
    switch (e) {
    case 't': out[0] = '\t'; break;
    case 'n': out[0] = '\n'; break;
    case 'r': out[0] = '\r'; break;
    case '"': out[0] = '"'; break;
    case '\'': out[0] = '\''; break;
    case '\\': out[0] = '\\'; break;
    case 'u': {
      uint32_t v = 0;
      for (i++; s[i] != '}'; i++)
        if (s[i] != '_') v = v * 16 + (uint32_t)hexval(s[i]);
      i++;
      if (v < 0x80) {
        out[0] = (uint8_t)v;
      } else if (v < 0x800) {
        out[0] = (uint8_t)(0xc0 | (v >> 6));
        out[1] = (uint8_t)(0x80 | (v & 0x3f));
        k = 2;
      } else if (v < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (v >> 12));
        out[1] = (uint8_t)(0x80 | ((v >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (v & 0x3f));
        k = 3;
      } else {
        out[0] = (uint8_t)(0xf0 | (v >> 18));
        out[1] = (uint8_t)(0x80 | ((v >> 12) & 0x3f));
        out[2] = (uint8_t)(0x80 | ((v >> 6) & 0x3f));
        out[3] = (uint8_t)(0x80 | (v & 0x3f));
        k = 4;
      }
      break;
    }
    default:
      out[0] = (uint8_t)(hexval(e) * 16 + hexval(s[i]));
      i++;
      break;
    }
    if (icxWat_put(w, b, out, k) != 0) return -1;
  }
  if (name) {
    for (size_t j = start; j < b->n;) {
      size_t l = utf8_len(b->p + j, b->n - j);
      if (l == 0) return icxWat_fail(w, t->off, "malformed UTF-8 encoding");
      j += l;
    }
  }
  return 0;
}
