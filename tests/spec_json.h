/* spec_json.h -- a small JSON reader for the spec-test runner.
 *
 * Parses a whole document into an immutable tree kept in one arena.  Strings
 * are decoded (escapes, \uXXXX with surrogate pairs -> UTF-8), NUL-terminated
 * and carry their byte length (they may contain NUL bytes).  Numbers are kept
 * as their literal text; sj_int converts. */
#ifndef SPEC_JSON_H
#define SPEC_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum sjType {
  SJ_NULL = 0,
  SJ_FALSE,
  SJ_TRUE,
  SJ_NUMBER,
  SJ_STRING,
  SJ_ARRAY,
  SJ_OBJECT
} sjType;

typedef struct sjValue sjValue;
typedef struct sjMember sjMember;

struct sjValue {
  sjType type;
  uint32_t len; /* string bytes, array items or object members */
  union {
    const char *str;   /* SJ_STRING (decoded) and SJ_NUMBER (literal text) */
    sjValue *items;    /* SJ_ARRAY */
    sjMember *members; /* SJ_OBJECT, in document order */
  } u;
};

struct sjMember {
  const char *key;
  uint32_t key_len;
  sjValue value;
};

typedef struct sjChunk sjChunk;

typedef struct sjDoc {
  sjValue root;
  sjChunk *chunks; /* arena */
} sjDoc;

/* Parse text[0..len).  Returns 0 on success; -1 on a syntax error or out of
 * memory, with a message (including the byte offset) in err. */
int sj_parse(const char *text, size_t len, sjDoc *doc, char *err, size_t errlen);
void sj_free(sjDoc *doc);

/* The member named key of an object (NULL if absent or v is no object). */
const sjValue *sj_get(const sjValue *obj, const char *key);
/* The string of v, or NULL if v is NULL or not a string. */
const char *sj_str(const sjValue *v);
/* Member key of obj as a string (NULL if absent or not a string). */
const char *sj_get_str(const sjValue *obj, const char *key);
/* v as an integer (numbers with an integral literal); dflt otherwise. */
long long sj_int(const sjValue *v, long long dflt);

#endif
