/* wat.h -- the WebAssembly text format (WAT): text in, Wasm binary out.
 *
 * icxWat_to_wasm parses one module in the text format of Wasm 2.0 (without
 * SIMD), plus memory64 / table64 index types when the features allow them,
 * and encodes it as a Wasm binary (standard section order, minimal LEB128,
 * no name section).  It checks what the text grammar checks (tokens,
 * literals and their ranges, identifiers, abbreviations, the order of
 * imports) but not types: the result still goes through icxWasm_decode and
 * icxWasm_validate.
 *
 * Accepted forms: `(module $id? field*)`, a bare sequence of module fields
 * (the spec's inline module; empty text is an empty module), `(module $id?
 * binary "..."*)` (the bytes of the concatenated strings, at least one byte,
 * returned unchecked) and `(module $id? quote "..."*)` (the concatenated
 * strings parsed again as text; an error in them is reported with its
 * position in the quoted text).
 *
 * Index types: limits of 32-bit memories and tables are u32 literals, of
 * `i64` ones u64; memarg offsets are u64 if memory 0 is `i64`, else u32.
 * Features only admit `i64`: text that parses without them gives the same
 * bytes with them.  Encoding choices follow wabt 1.0.32 (implicit types in
 * binary order, `else` dropped when its branch is empty, element segment
 * flags), so wat2wasm output can be compared byte for byte.
 *
 * Limits: parentheses nest at most ICX_WAT_MAX_DEPTH deep, block/fold frames
 * at most ICX_WAT_MAX_DEPTH + ICX_MAX_NESTING; `quote` nests at most
 * ICX_WAT_MAX_QUOTE deep.  The parser never recurses on the C stack with the
 * input, and what it allocates is linear in the input size. */
#ifndef ICX_WAT_H
#define ICX_WAT_H

#include "core.h"

#ifndef ICX_WAT_MAX_DEPTH
#define ICX_WAT_MAX_DEPTH 10000u /* nesting of parentheses */
#endif
#ifndef ICX_WAT_MAX_QUOTE
#define ICX_WAT_MAX_QUOTE 4u /* (module quote ...) inside quoted text */
#endif
#ifndef ICX_WAT_MAX_TEXT
#define ICX_WAT_MAX_TEXT (256u * 1024u * 1024u) /* bytes of input text */
#endif

/* Parse text[0..len) (UTF-8, need not be NUL-terminated) and encode it.
 * features: ICX_FEAT_* (ICX_FEAT_MEMORY64 allows `(memory i64 ...)`,
 * ICX_FEAT_TABLE64 allows `(table i64 ...)`).
 * On ICX_OK, *out_bytes (allocated with icxCore_alloc from a; free it with
 * icxCore_free(a, *out_bytes, *out_len)) and *out_len hold the binary.
 * Errors: ICX_EMALFORMED with the message "line L col C: reason" (1-based,
 * column in bytes), ICX_ENOMEM, ICX_EINVAL (NULL arguments, text longer than
 * ICX_WAT_MAX_TEXT).  On error *out_bytes is NULL and *out_len 0. */
ICX_INTERNAL icx_status icxWat_to_wasm(const icxAllocator *a, const char *text, size_t len,
                                       uint32_t features, uint8_t **out_bytes, size_t *out_len,
                                       icxErr *err);

/* ======================================================================
 * Below: shared by lib/wat*.c only (define ICX_WAT_INTERNAL to see it).
 * ====================================================================== */
#ifdef ICX_WAT_INTERNAL

/* ---- growable byte buffer ------------------------------------------------ */
typedef struct watBuf {
  uint8_t *p;
  size_t n, cap;
} watBuf;

/* ---- tokens ------------------------------------------------------------------ */
enum {
  WT_EOF = 0,
  WT_LPAR,
  WT_RPAR,
  WT_KW,  /* starts with a lowercase letter: keywords, offset=, inf, nan */
  WT_ID,  /* $name */
  WT_NUM, /* any other run of idchars: numbers (checked when used) */
  WT_STR  /* "..." (checked by the lexer) */
};

typedef struct watTok {
  uint8_t kind;
  uint32_t off, len; /* bytes of the token in the text */
} watTok;

/* ---- hash map: byte-string keys (offset+length into a caller's base) -> u32 */
typedef struct watMapEnt {
  uint32_t hash, off, len, val;
} watMapEnt;
typedef struct watMap {
  watMapEnt *e;
  uint32_t cap, n; /* cap is 0 or a power of two */
} watMap;
#define WAT_NONE UINT32_MAX

/* Index spaces. */
enum { WS_TYPE, WS_FUNC, WS_TABLE, WS_MEM, WS_GLOBAL, WS_ELEM, WS_DATA, WS_COUNT };

/* A function type: its binary encoding after 0x60 (vec params, vec results)
 * lives in the type pool at off..off+len. */
typedef struct watType {
  uint32_t off, len;
  uint32_t np, nr;
} watType;

/* The opcode table. */
enum {
  WK_NONE,  /* no immediate */
  WK_BLOCK, /* block, loop, if */
  WK_ELSE,
  WK_END,
  WK_BR, /* label */
  WK_BR_TABLE,
  WK_CALL, /* function */
  WK_CALL_INDIRECT,
  WK_LOCAL,
  WK_GLOBAL,
  WK_TABLE, /* optional table (default 0) */
  WK_TABLE_COPY,
  WK_TABLE_INIT,
  WK_ELEM,   /* elem segment */
  WK_MEMARG, /* align (log2 of natural alignment in the table) and offset */
  WK_MEM0,   /* memory index 0 byte(s) follow */
  WK_MEM_INIT,
  WK_DATA,
  WK_I32,
  WK_I64,
  WK_F32,
  WK_F64,
  WK_SELECT,
  WK_REF_NULL,
  WK_REF_FUNC
};
typedef struct watOp {
  const char *name;
  uint16_t code; /* opcode; 0xfc00|n for the 0xfc prefix */
  uint8_t kind;  /* WK_* */
  uint8_t arg;   /* WK_MEMARG: natural alignment (log2); WK_MEM0: zero bytes */
} watOp;
/* A control frame of the instruction parser (see wat_parse.c). */
typedef struct watFrame {
  uint8_t kind;
  uint8_t labeled; /* pushes a label (block, loop, if after `then`) */
  uint8_t has_else;
  const watOp *op;    /* the instruction that opened the frame */
  uint32_t label_off; /* the $label token, label_len 0 if none */
  uint32_t label_len;
  uint32_t label_prev; /* label map value shadowed by this frame */
  size_t pos;          /* lexer position to re-read immediates / block type */
  size_t else_at;      /* output offset just after the `else` opcode */
} watFrame;

/* The parser state of one text (a quoted module gets its own). */
typedef struct watCtx {
  const icxAllocator *a;
  const char *src;
  size_t len;
  uint32_t features;
  unsigned quote_depth;
  icxErr *err;
  icx_status rc; /* ICX_OK until the first error */

  /* lexer: cur is the current token, pos the offset after it */
  watTok cur;
  size_t pos;

  /* module state */
  watMap ids[WS_COUNT];     /* $id -> index, keys in src */
  uint32_t count[WS_COUNT]; /* pass 1 totals (pass 2 recounts in next[]) */
  uint32_t next[WS_COUNT];  /* pass 2: index of the next item of each space */
  watType *types;
  uint32_t ntypes, types_cap;
  watBuf typepool;  /* type encodings */
  watMap sigs;      /* encoding -> smallest type index, keys in typepool */
  uint8_t def_seen; /* a func/table/memory/global definition was seen */
  uint8_t def_kind; /* WS_* of the latest such definition */
  uint8_t has_start;
  uint8_t uses_data_count; /* memory.init or data.drop appeared */
  uint8_t mem0_is64;       /* memory 0 has index type i64 (memarg offsets are u64) */

  /* section bodies (without the count), with their entry counts */
  watBuf sec_import, sec_func, sec_table, sec_mem, sec_global, sec_export, sec_start, sec_elem,
      sec_code, sec_data;
  uint32_t n_import, n_func, n_table, n_mem, n_global, n_export, n_elem, n_code, n_data;

  /* per function */
  watMap locals; /* $id -> local index, keys in src */
  uint32_t nlocals;
  watBuf localtypes; /* declared locals, one byte each */
  watMap labels;     /* $label -> label ordinal, keys in src */
  uint32_t nlabels;
  watFrame *frames;
  uint32_t nframes, frames_cap;
  watBuf body;    /* instructions of the current function / expression */
  watBuf scratch; /* value types of the type use being parsed */
  watBuf sigenc;  /* its encoding (vec params, vec results) */
  watBuf brt;     /* br_table targets */
  watBuf tmp;     /* names, strings, element items (module fields only) */
  watBuf offs;    /* the offset expression of a segment */
} watCtx;

/* ---- wat_lex.c ------------------------------------------------------------ */
/* Record a malformed-text error at text offset off (only the first error is
 * kept); returns -1. */
ICX_INTERNAL int icxWat_fail(watCtx *w, size_t off, const char *fmt, ...) ICX_PRINTF(3, 4);
ICX_INTERNAL int icxWat_oom(watCtx *w);
/* Check the whole text lexically (characters, strings, comments, UTF-8,
 * balanced parentheses, depth) and load the first token. */
ICX_INTERNAL int icxWat_lex_check(watCtx *w);
/* Lex the token starting at or after *pos; advances *pos past it. */
ICX_INTERNAL void icxWat_lex_at(const watCtx *w, size_t *pos, watTok *t);
/* Move to the next token. */
ICX_INTERNAL void icxWat_advance(watCtx *w);
ICX_INTERNAL int icxWat_tok_is(const watCtx *w, const watTok *t, const char *s);
/* Literals.  Each returns 0, or -1 after recording an error at the token. */
ICX_INTERNAL int icxWat_nat(watCtx *w, const watTok *t, uint64_t max, uint64_t *out);
ICX_INTERNAL int icxWat_nat_text(watCtx *w, size_t off, const char *s, size_t n, uint64_t max,
                                 uint64_t *out);
ICX_INTERNAL int icxWat_int(watCtx *w, const watTok *t, unsigned bits, uint64_t *out);
ICX_INTERNAL int icxWat_f32(watCtx *w, const watTok *t, uint32_t *out);
ICX_INTERNAL int icxWat_f64(watCtx *w, const watTok *t, uint64_t *out);
/* Append the bytes of string token t to b; if name, they must be UTF-8. */
ICX_INTERNAL int icxWat_string(watCtx *w, const watTok *t, watBuf *b, int name);

/* ---- wat_emit.c ----------------------------------------------------------- */
ICX_INTERNAL int icxWat_put(watCtx *w, watBuf *b, const void *p, size_t n);
ICX_INTERNAL int icxWat_byte(watCtx *w, watBuf *b, uint8_t v);
ICX_INTERNAL int icxWat_u32(watCtx *w, watBuf *b, uint32_t v);
ICX_INTERNAL int icxWat_u64(watCtx *w, watBuf *b, uint64_t v);
ICX_INTERNAL int icxWat_s64(watCtx *w, watBuf *b, int64_t v);
ICX_INTERNAL void icxWat_buf_free(watCtx *w, watBuf *b);
/* Map: get returns WAT_NONE if absent; set inserts or overwrites. */
ICX_INTERNAL uint32_t icxWat_map_get(const watMap *m, const void *base, const void *key,
                                     uint32_t len);
ICX_INTERNAL int icxWat_map_set(watCtx *w, watMap *m, const void *base, uint32_t off, uint32_t len,
                                uint32_t val);
ICX_INTERNAL void icxWat_map_clear(watCtx *w, watMap *m);
ICX_INTERNAL void icxWat_map_free(watCtx *w, watMap *m);
/* Type index of the signature enc[0..len) with np params and nr results,
 * appending a new type if no type has it (create), else WAT_NONE. */
ICX_INTERNAL int icxWat_type_find(watCtx *w, const uint8_t *enc, uint32_t len, uint32_t np,
                                  uint32_t nr, int create, uint32_t *out);
/* Concatenate the sections into the module binary. */
ICX_INTERNAL int icxWat_assemble(watCtx *w, uint8_t **out, size_t *out_len);

/* The op named by keyword token t, or NULL. */
ICX_INTERNAL const watOp *icxWat_op_find(const watCtx *w, const watTok *t);
ICX_INTERNAL int icxWat_op_emit(watCtx *w, watBuf *b, const watOp *op);

/* ---- wat_parse.c ---------------------------------------------------------- */
ICX_INTERNAL int icxWat_fail_cur(watCtx *w, const char *what);
/* cur is '(' and the token after it is keyword kw. */
ICX_INTERNAL int icxWat_at_lpar_kw(const watCtx *w, const char *kw);
ICX_INTERNAL int icxWat_expect_rpar(watCtx *w);
/* `(param ...)* (result ...)*` into w->sigenc (names as for icxWat_typeuse). */
ICX_INTERNAL int icxWat_sig(watCtx *w, int names, uint32_t *np, uint32_t *nr);
/* Locals and body of a function with np parameters into the code section. */
ICX_INTERNAL int icxWat_func_code(watCtx *w, uint32_t np);
/* Value types: the token's binary encoding, or 0 if it is not one. */
ICX_INTERNAL uint8_t icxWat_valtype(const watCtx *w, const watTok *t);
/* Resolve a variable (nat or $id) of space sp. */
ICX_INTERNAL int icxWat_var(watCtx *w, int sp, uint32_t *out);
/* Parse `(type x)? (param ...)* (result ...)*`; names: 0 forbidden, 1
 * allowed and ignored, 2 bound as locals.  Sets *type_idx (creating an
 * implicit type if create) and *nparams. */
ICX_INTERNAL int icxWat_typeuse(watCtx *w, int names, int create, uint32_t *type_idx,
                                uint32_t *nparams);
/* Instructions up to the closing parenthesis (not consumed) into w->body;
 * is_func: the function's own label is in scope. */
ICX_INTERNAL int icxWat_instrs(watCtx *w, int is_func);
/* One folded instruction `( ... )` into w->body. */
ICX_INTERNAL int icxWat_folded1(watCtx *w);

#endif /* ICX_WAT_INTERNAL */

#endif
