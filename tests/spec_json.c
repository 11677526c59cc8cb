/* spec_json.c -- a small JSON reader for the spec-test runner (see
 * spec_json.h).  Recursive descent, depth-limited, one arena per document. */
#include "spec_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SJ_MAX_DEPTH 256
#define SJ_CHUNK_MIN (64u * 1024u)

struct sjChunk {
  sjChunk *next;
  size_t used, cap;
  /* data follows, max_align_t aligned */
};

typedef struct sjParser {
  const char *p, *start, *end;
  sjDoc *doc;
  char *err;
  size_t errlen;
  int failed;
} sjParser;

static size_t sj_hdr(void) {
  size_t a = sizeof(max_align_t);
  return (sizeof(sjChunk) + a - 1) / a * a;
}

static void *sj_alloc(sjParser *ps, size_t n) {
  size_t a = sizeof(max_align_t);
  n = (n + a - 1) / a * a;
  if (n == 0) n = a;
  sjChunk *c = ps->doc->chunks;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > SJ_CHUNK_MIN ? n : SJ_CHUNK_MIN;
    if (c && cap < c->cap * 2 && c->cap * 2 <= 16u * 1024u * 1024u) cap = c->cap * 2;
    sjChunk *nc = malloc(sj_hdr() + cap);
    if (!nc) return NULL;
    nc->next = c;
    nc->used = 0;
    nc->cap = cap;
    ps->doc->chunks = nc;
    c = nc;
  }
  void *r = (char *)c + sj_hdr() + c->used;
  c->used += n;
  return r;
}

static int sj_fail(sjParser *ps, const char *fmt, ...) {
  if (!ps->failed) {
    ps->failed = 1;
    if (ps->err && ps->errlen) {
      char msg[200];
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(msg, sizeof msg, fmt, ap);
      va_end(ap);
      snprintf(ps->err, ps->errlen, "json offset %zu: %s", (size_t)(ps->p - ps->start), msg);
    }
  }
  return -1;
}

static void sj_ws(sjParser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
    ps->p++;
}

static int sj_hex4(sjParser *ps, uint32_t *out) {
  uint32_t v = 0;
  if (ps->end - ps->p < 4) return sj_fail(ps, "truncated \\u escape");
  for (int i = 0; i < 4; i++) {
    char c = ps->p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (uint32_t)(c - 'A' + 10);
    else
      return sj_fail(ps, "bad \\u escape");
  }
  ps->p += 4;
  *out = v;
  return 0;
}

static size_t sj_utf8(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Parse a string at ps->p (the opening quote). */
static int sj_string(sjParser *ps, const char **out, uint32_t *out_len) {
  ps->p++; /* " */
  /* The decoded form is never longer than the source. */
  const char *q = ps->p;
  while (q < ps->end && *q != '"') {
    if (*q == '\\') q++;
    q++;
  }
  if (q >= ps->end) return sj_fail(ps, "unterminated string");
  size_t cap = (size_t)(q - ps->p) + 1;
  if (cap > UINT32_MAX) return sj_fail(ps, "string too long");
  char *buf = sj_alloc(ps, cap);
  if (!buf) return sj_fail(ps, "out of memory");
  size_t n = 0;
  while (ps->p < ps->end && *ps->p != '"') {
    unsigned char c = (unsigned char)*ps->p;
    if (c < 0x20) return sj_fail(ps, "control character in string");
    if (c != '\\') {
      buf[n++] = (char)c;
      ps->p++;
      continue;
    }
    ps->p++;
    if (ps->p >= ps->end) return sj_fail(ps, "truncated escape");
    char e = *ps->p++;
    switch (e) {
    case '"': buf[n++] = '"'; break;
    case '\\': buf[n++] = '\\'; break;
    case '/': buf[n++] = '/'; break;
    case 'b': buf[n++] = '\b'; break;
    case 'f': buf[n++] = '\f'; break;
    case 'n': buf[n++] = '\n'; break;
    case 'r': buf[n++] = '\r'; break;
    case 't': buf[n++] = '\t'; break;
    case 'u': {
      uint32_t cp;
      if (sj_hex4(ps, &cp)) return -1;
      if (cp >= 0xd800 && cp < 0xdc00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
          ps->p[1] == 'u') {
        const char *save = ps->p;
        uint32_t lo;
        ps->p += 2;
        if (sj_hex4(ps, &lo)) return -1;
        if (lo >= 0xdc00 && lo < 0xe000)
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        else
          ps->p = save; /* lone high surrogate: encode as is */
      }
      /* \uXXXX is 6 source bytes and at most 3 output bytes; a pair is 12
       * source bytes and 4 output bytes: the buffer bound holds. */
      n += sj_utf8(cp, buf + n);
      break;
    }
    default: return sj_fail(ps, "bad escape \\%c", e);
    }
  }
  ps->p++; /* closing " */
  buf[n] = 0;
  *out = buf;
  *out_len = (uint32_t)n;
  return 0;
}

static int sj_value(sjParser *ps, sjValue *v, int depth);

static int sj_array(sjParser *ps, sjValue *v, int depth) {
  ps->p++; /* [ */
  size_t n = 0, cap = 0;
  sjValue *tmp = NULL;
  sj_ws(ps);
  if (ps->p < ps->end && *ps->p == ']') {
    ps->p++;
  } else {
    for (;;) {
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        sjValue *nt = realloc(tmp, cap * sizeof *nt);
        if (!nt) {
          free(tmp);
          return sj_fail(ps, "out of memory");
        }
        tmp = nt;
      }
      if (sj_value(ps, &tmp[n], depth + 1)) {
        free(tmp);
        return -1;
      }
      n++;
      sj_ws(ps);
      if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        continue;
      }
      if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        break;
      }
      free(tmp);
      return sj_fail(ps, "expected ',' or ']'");
    }
  }
  if (n > UINT32_MAX) {
    free(tmp);
    return sj_fail(ps, "array too long");
  }
  v->type = SJ_ARRAY;
  v->len = (uint32_t)n;
  v->u.items = NULL;
  if (n) {
    v->u.items = sj_alloc(ps, n * sizeof(sjValue));
    if (!v->u.items) {
      free(tmp);
      return sj_fail(ps, "out of memory");
    }
    memcpy(v->u.items, tmp, n * sizeof(sjValue));
  }
  free(tmp);
  return 0;
}

static int sj_object(sjParser *ps, sjValue *v, int depth) {
  ps->p++; /* { */
  size_t n = 0, cap = 0;
  sjMember *tmp = NULL;
  sj_ws(ps);
  if (ps->p < ps->end && *ps->p == '}') {
    ps->p++;
  } else {
    for (;;) {
      if (n == cap) {
        cap = cap ? cap * 2 : 8;
        sjMember *nt = realloc(tmp, cap * sizeof *nt);
        if (!nt) {
          free(tmp);
          return sj_fail(ps, "out of memory");
        }
        tmp = nt;
      }
      sj_ws(ps);
      if (ps->p >= ps->end || *ps->p != '"') {
        free(tmp);
        return sj_fail(ps, "expected a member name");
      }
      if (sj_string(ps, &tmp[n].key, &tmp[n].key_len)) {
        free(tmp);
        return -1;
      }
      sj_ws(ps);
      if (ps->p >= ps->end || *ps->p != ':') {
        free(tmp);
        return sj_fail(ps, "expected ':'");
      }
      ps->p++;
      if (sj_value(ps, &tmp[n].value, depth + 1)) {
        free(tmp);
        return -1;
      }
      n++;
      sj_ws(ps);
      if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        continue;
      }
      if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        break;
      }
      free(tmp);
      return sj_fail(ps, "expected ',' or '}'");
    }
  }
  if (n > UINT32_MAX) {
    free(tmp);
    return sj_fail(ps, "object too large");
  }
  v->type = SJ_OBJECT;
  v->len = (uint32_t)n;
  v->u.members = NULL;
  if (n) {
    v->u.members = sj_alloc(ps, n * sizeof(sjMember));
    if (!v->u.members) {
      free(tmp);
      return sj_fail(ps, "out of memory");
    }
    memcpy(v->u.members, tmp, n * sizeof(sjMember));
  }
  free(tmp);
  return 0;
}

static int sj_lit(sjParser *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
    return sj_fail(ps, "unexpected character");
  ps->p += n;
  return 0;
}

static int sj_number(sjParser *ps, sjValue *v) {
  const char *s = ps->p;
  if (ps->p < ps->end && *ps->p == '-') ps->p++;
  int digits = 0;
  while (ps->p < ps->end && ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.' || *ps->p == 'e' ||
                             *ps->p == 'E' || *ps->p == '+' || *ps->p == '-')) {
    if (*ps->p >= '0' && *ps->p <= '9') digits++;
    ps->p++;
  }
  if (!digits) return sj_fail(ps, "bad number");
  size_t n = (size_t)(ps->p - s);
  char *buf = sj_alloc(ps, n + 1);
  if (!buf) return sj_fail(ps, "out of memory");
  memcpy(buf, s, n);
  buf[n] = 0;
  v->type = SJ_NUMBER;
  v->len = (uint32_t)n;
  v->u.str = buf;
  return 0;
}

static int sj_value(sjParser *ps, sjValue *v, int depth) {
  if (depth > SJ_MAX_DEPTH) return sj_fail(ps, "nesting too deep");
  sj_ws(ps);
  if (ps->p >= ps->end) return sj_fail(ps, "unexpected end of input");
  memset(v, 0, sizeof *v);
  switch (*ps->p) {
  case '{': return sj_object(ps, v, depth);
  case '[': return sj_array(ps, v, depth);
  case '"': v->type = SJ_STRING; return sj_string(ps, &v->u.str, &v->len);
  case 't': v->type = SJ_TRUE; return sj_lit(ps, "true");
  case 'f': v->type = SJ_FALSE; return sj_lit(ps, "false");
  case 'n': v->type = SJ_NULL; return sj_lit(ps, "null");
  default:
    if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return sj_number(ps, v);
    return sj_fail(ps, "unexpected character '%c'", *ps->p);
  }
}

int sj_parse(const char *text, size_t len, sjDoc *doc, char *err, size_t errlen) {
  sjParser ps;
  memset(&ps, 0, sizeof ps);
  memset(doc, 0, sizeof *doc);
  ps.p = ps.start = text;
  ps.end = text + len;
  ps.doc = doc;
  ps.err = err;
  ps.errlen = errlen;
  if (err && errlen) err[0] = 0;
  if (sj_value(&ps, &doc->root, 0) == 0) {
    sj_ws(&ps);
    if (ps.p == ps.end) return 0;
    sj_fail(&ps, "trailing characters");
  }
  sj_free(doc);
  return -1;
}

void sj_free(sjDoc *doc) {
  sjChunk *c = doc->chunks;
  while (c) {
    sjChunk *n = c->next;
    free(c);
    c = n;
  }
  memset(doc, 0, sizeof *doc);
}

const sjValue *sj_get(const sjValue *obj, const char *key) {
  if (!obj || obj->type != SJ_OBJECT) return NULL;
  size_t kl = strlen(key);
  for (uint32_t i = 0; i < obj->len; i++) {
    const sjMember *m = &obj->u.members[i];
    if (m->key_len == kl && memcmp(m->key, key, kl) == 0) return &m->value;
  }
  return NULL;
}

const char *sj_str(const sjValue *v) { return v && v->type == SJ_STRING ? v->u.str : NULL; }

const char *sj_get_str(const sjValue *obj, const char *key) { return sj_str(sj_get(obj, key)); }

long long sj_int(const sjValue *v, long long dflt) {
  if (!v || v->type != SJ_NUMBER) return dflt;
  char *e;
  long long r = strtoll(v->u.str, &e, 10);
  return *e ? dflt : r;
}
