/* wasm.h -- the module IR: what the decoder produces from Wasm bytes, what the
 * validator checks and what the compiler and the runtime consume.
 *
 * Ownership: an icxModule owns a private copy of the input bytes and every
 * array below; icxWasm_module_free releases all of it.  Function bodies are
 * not decoded into the IR: icxFunc records the byte range of the body's
 * instruction stream inside module->bytes, and the validator and compiler
 * walk those bytes.
 *
 * Index spaces follow the spec: imported functions/tables/memories/globals
 * come first, then the module's own definitions. */
#ifndef ICX_WASM_H
#define ICX_WASM_H

#include "core.h"

/* Value types, with their binary encodings as values. */
enum {
  ICX_I32 = 0x7f,
  ICX_I64 = 0x7e,
  ICX_F32 = 0x7d,
  ICX_F64 = 0x7c,
  ICX_V128 = 0x7b, /* reserved for SIMD: rejected by the validator for now */
  ICX_FUNCREF = 0x70,
  ICX_EXTERNREF = 0x6f
};

/* The text name of a value type ("i32", ..., "unknown"). */
static inline const char *icxWasm_type_name(unsigned t) {
  switch (t) {
  case ICX_I32: return "i32";
  case ICX_I64: return "i64";
  case ICX_F32: return "f32";
  case ICX_F64: return "f64";
  case ICX_V128: return "v128";
  case ICX_FUNCREF: return "funcref";
  case ICX_EXTERNREF: return "externref";
  default: return "unknown";
  }
}

/* Block type sentinel for "no value" (0x40). */
#define ICX_BLOCKTYPE_EMPTY 0x40

/* External kinds (import/export descriptors). */
enum { ICX_EXT_FUNC = 0, ICX_EXT_TABLE = 1, ICX_EXT_MEM = 2, ICX_EXT_GLOBAL = 3 };

typedef struct icxFuncType {
  uint32_t nparams, nresults;
  uint8_t *types; /* nparams parameter types then nresults result types */
} icxFuncType;

static inline const uint8_t *icxFuncType_params(const icxFuncType *t) { return t->types; }
static inline const uint8_t *icxFuncType_results(const icxFuncType *t) {
  return t->types ? t->types + t->nparams : t->types;
}

/* Limits of a memory (in 64 KiB pages) or a table (in elements). */
typedef struct icxLimits {
  uint64_t min;
  uint64_t max;    /* meaningful only if has_max */
  uint8_t has_max;
  uint8_t is64;    /* memory64 memory / table64 table: index type i64 */
  uint8_t shared;  /* threads flag; always rejected (kept to report it) */
} icxLimits;

typedef struct icxTableType {
  uint8_t elem_type; /* ICX_FUNCREF or ICX_EXTERNREF */
  icxLimits lim;
} icxTableType;

typedef struct icxMemType {
  icxLimits lim;
} icxMemType;

typedef struct icxGlobalType {
  uint8_t type; /* value type */
  uint8_t mut;  /* 0 const, 1 var */
} icxGlobalType;

/* A constant expression.  Wasm 2.0 allows exactly one instruction then end. */
enum {
  ICX_CONST_VALUE = 0,   /* t.const: bits in value (i32 zero-extended, f32 bits) */
  ICX_CONST_GLOBAL = 1,  /* global.get index */
  ICX_CONST_REF_NULL = 2,/* ref.null t */
  ICX_CONST_REF_FUNC = 3 /* ref.func index */
};
typedef struct icxConstExpr {
  uint8_t kind;
  uint8_t type;   /* the value type the expression produces */
  uint64_t value; /* bits for ICX_CONST_VALUE; the index for GLOBAL/REF_FUNC */
} icxConstExpr;

typedef struct icxImport {
  char *module; /* NUL-terminated copies; *_len excludes the NUL */
  char *name;
  uint32_t module_len, name_len;
  uint8_t kind; /* ICX_EXT_* */
  union {
    uint32_t type_idx; /* ICX_EXT_FUNC */
    icxTableType table;
    icxMemType mem;
    icxGlobalType global;
  } d;
} icxImport;

typedef struct icxExport {
  char *name; /* NUL-terminated copy (names may contain NUL: use name_len) */
  uint32_t name_len;
  uint8_t kind;
  uint32_t index;
} icxExport;

typedef struct icxGlobal {
  icxGlobalType type;
  icxConstExpr init;
} icxGlobal;

/* A function defined by the module (not imported). */
typedef struct icxFunc {
  uint32_t type_idx;
  uint32_t nlocals;     /* declared locals, params excluded */
  uint8_t *local_types; /* nlocals entries (expanded from the run-length form) */
  uint32_t body_off;    /* offset in module bytes of the body's size field */
  uint32_t code_off;    /* offset of the first instruction (after the locals) */
  uint32_t code_len;    /* bytes of instructions, including the final `end` */
} icxFunc;

enum { ICX_SEG_ACTIVE = 0, ICX_SEG_PASSIVE = 1, ICX_SEG_DECLARATIVE = 2 };

typedef struct icxElem {
  uint8_t mode;      /* ICX_SEG_* */
  uint8_t elem_type; /* ICX_FUNCREF or ICX_EXTERNREF */
  uint32_t table_idx;
  icxConstExpr offset; /* active only */
  uint32_t count;
  icxConstExpr *items; /* count items: REF_FUNC, REF_NULL or GLOBAL */
} icxElem;

typedef struct icxData {
  uint8_t mode; /* ICX_SEG_ACTIVE or ICX_SEG_PASSIVE */
  uint32_t mem_idx;
  icxConstExpr offset; /* active only */
  uint32_t off;        /* offset of the payload in module bytes */
  uint32_t len;        /* payload bytes */
} icxData;

typedef struct icxCustom {
  char *name;
  uint32_t name_len;
  uint32_t off, len; /* payload range in module bytes */
} icxCustom;

typedef struct icxModule {
  icxAllocator alloc;
  uint32_t features; /* ICX_FEAT_* the module was decoded with */

  uint8_t *bytes; /* owned copy of the binary */
  size_t nbytes;

  uint32_t ntypes;
  icxFuncType *types;

  uint32_t nimports;
  icxImport *imports;

  /* Function index space: func_type_idx[i] is the type index of function i,
   * imported ones first (nfunc_imports of them). */
  uint32_t nfunc_imports, nfuncs_total;
  uint32_t *func_type_idx;
  icxFunc *funcs; /* nfuncs_total - nfunc_imports defined functions */

  uint32_t ntable_imports, ntables_total;
  icxTableType *tables; /* all tables, imported first */

  uint32_t nmem_imports, nmems_total;
  icxMemType *mems; /* all memories, imported first */

  uint32_t nglobal_imports, nglobals_total;
  icxGlobal *globals; /* all globals, imported first (init unused for those) */

  uint32_t nexports;
  icxExport *exports;

  uint8_t has_start;
  uint32_t start_idx;

  uint32_t nelems;
  icxElem *elems;

  uint8_t has_data_count;
  uint32_t data_count;
  uint32_t ndatas;
  icxData *datas;

  uint32_t ncustoms;
  icxCustom *customs;

  /* Functions referenced outside function bodies (exports, elem segments,
   * global initialisers): only these may appear in ref.func in bodies.
   * Bitmap over the function index space, filled by the decoder. */
  uint8_t *func_declared;
} icxModule;

/* Decode bytes into a module IR with all structural checks (section order
 * and sizes, LEB128 ranges, counts and index bounds, UTF-8 names, limits
 * from core.h checked before allocating).  The bytes are copied.
 * Errors: ICX_EMALFORMED (does not decode), ICX_EINVALID (a constant
 * expression that is not a single constant instruction of the right type:
 * the IR cannot hold it) or ICX_ENOMEM, with a message
 * "section <name> at offset 0x<hex>: <reason>".  On error *out is NULL. */
ICX_INTERNAL icx_status icxWasm_decode(const icxAllocator *a, const uint8_t *bytes, size_t len,
                                       uint32_t features, icxModule **out, icxErr *err);

/* Validate a decoded module: every function body type-checks (operand-stack
 * simulation), constant expressions, limits, start function, export name
 * uniqueness, data count, memory/table rules.  ICX_EINVALID with a message
 * "func <idx> at offset 0x<hex>: <op>: <reason>" (or the section) on
 * failure; ICX_EMALFORMED for format errors met inside bodies (illegal
 * opcode, bad LEB128, zero byte expected, data count section required,
 * SIMD); ICX_ENOMEM. */
ICX_INTERNAL icx_status icxWasm_validate(const icxModule *m, icxErr *err);

ICX_INTERNAL void icxWasm_module_free(icxModule *m);

/* The function type of function index fidx (imported or defined). */
static inline const icxFuncType *icxWasm_func_type(const icxModule *m, uint32_t fidx) {
  return &m->types[m->func_type_idx[fidx]];
}

/* ---- LEB128 readers shared by decoder, validator and compiler ---------- */
/* A bounded cursor over bytes. */
typedef struct icxReader {
  const uint8_t *p, *end;
  const uint8_t *base; /* start of the module, for offsets in messages */
} icxReader;

/* Each returns 0 on success, -1 if the encoding is malformed/truncated/too
 * long or out of range for the type (the spec's "integer too large" /
 * "integer representation too long" cases). */
ICX_INTERNAL int icxRd_u32(icxReader *r, uint32_t *out);
ICX_INTERNAL int icxRd_s32(icxReader *r, int32_t *out);
ICX_INTERNAL int icxRd_u64(icxReader *r, uint64_t *out);
ICX_INTERNAL int icxRd_s64(icxReader *r, int64_t *out);
ICX_INTERNAL int icxRd_s33(icxReader *r, int64_t *out); /* block types */
ICX_INTERNAL int icxRd_u8(icxReader *r, uint8_t *out);
ICX_INTERNAL int icxRd_bytes(icxReader *r, size_t n, const uint8_t **out);

static inline size_t icxRd_offset(const icxReader *r) { return (size_t)(r->p - r->base); }

/* Opcode prefixes. */
#define ICX_OP_PREFIX_FC 0xfc
#define ICX_OP_PREFIX_FD 0xfd /* SIMD, later */

#endif
