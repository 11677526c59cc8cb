/* candid.h -- a Candid (IDL) binary encoder and decoder, enough for the
 * management canister's arguments and replies (docs/principals-candid.md).
 *
 * Types.  A type reference is an int32_t: a negative value is a primitive
 * type (its Candid opcode, ICX_CT_*), a value >= 0 indexes the entries of
 * an icxCandidTypes table (opt, vec, record, variant, func, service).  The
 * wire type table of a message and the "expected" types built with the
 * icxCandidTypes_* functions use the same representation.
 *
 * Values.  A decoded value is a tree of icxCandidValue nodes, all in one
 * arena owned by an icxCandidDoc.  text, blob (vec nat8) and principal
 * values point into the decoded input, which must outlive the document.
 *
 * Decoding is schema-driven: each wire argument is coerced to the expected
 * argument type with the Candid subtyping rules listed in
 * docs/principals-candid.md (extra record fields ignored, absent opt/null/
 * reserved fields = null, nat <: int, the special opt rule, reserved takes
 * anything, extra arguments ignored, missing opt arguments = null).  With
 * no expected types the decoder returns the generic tree of the wire types.
 * All input is validated (also the parts that are ignored): a malformed
 * message gives ICX_EMALFORMED and one a type mismatch ICX_EINVAL, each with
 * a message; sizes are bounded by icxCandidLimits.  Never aborts. */
#ifndef ICX_CANDID_H
#define ICX_CANDID_H

#include "core.h"

/* Type opcodes (Candid spec, "Binary format"). */
enum {
  ICX_CT_NULL = -1,
  ICX_CT_BOOL = -2,
  ICX_CT_NAT = -3,
  ICX_CT_INT = -4,
  ICX_CT_NAT8 = -5,
  ICX_CT_NAT16 = -6,
  ICX_CT_NAT32 = -7,
  ICX_CT_NAT64 = -8,
  ICX_CT_INT8 = -9,
  ICX_CT_INT16 = -10,
  ICX_CT_INT32 = -11,
  ICX_CT_INT64 = -12,
  ICX_CT_FLOAT32 = -13,
  ICX_CT_FLOAT64 = -14,
  ICX_CT_TEXT = -15,
  ICX_CT_RESERVED = -16,
  ICX_CT_EMPTY = -17,
  ICX_CT_OPT = -18,
  ICX_CT_VEC = -19,
  ICX_CT_RECORD = -20,
  ICX_CT_VARIANT = -21,
  ICX_CT_FUNC = -22,
  ICX_CT_SERVICE = -23,
  ICX_CT_PRINCIPAL = -24
};

/* ---- type tables --------------------------------------------------------- */

/* A field of a record or variant (id = idl_hash of the name), an argument
 * or result of a func (id = position), or a method of a service (name =
 * the method name, type = a func entry). */
typedef struct icxCandidField {
  uint32_t id;
  int32_t type;
  const uint8_t *name; /* service methods only (points into the input) */
  uint32_t name_len;
} icxCandidField;

typedef struct icxCandidEntry {
  int32_t kind;    /* ICX_CT_OPT, _VEC, _RECORD, _VARIANT, _FUNC, _SERVICE */
  int32_t inner;   /* opt, vec: the element type */
  uint32_t first;  /* record, variant, func, service: index of the first field */
  uint32_t nfields;/* fields (func: arguments + results) */
  uint32_t nargs;  /* func: how many of the fields are arguments */
  uint32_t annot;  /* func: bit 1 query, 2 oneway, 4 composite_query */
} icxCandidEntry;

typedef struct icxCandidTypes {
  icxAllocator alloc;
  icxCandidEntry *entries;
  icxCandidField *fields;
  uint32_t n, cap, nfields, fields_cap;
} icxCandidTypes;

/* idl_hash(name) = fold h = h * 223 + byte (mod 2^32) over the UTF-8 bytes. */
ICX_INTERNAL uint32_t icxCandid_hash(const char *name);

/* An empty table using allocator a (copied). */
ICX_INTERNAL void icxCandidTypes_init(icxCandidTypes *t, const icxAllocator *a);
ICX_INTERNAL void icxCandidTypes_free(icxCandidTypes *t);

/* A field given to the builders: name (hashed) or, if name is NULL, id. */
typedef struct icxCandidFieldSpec {
  const char *name;
  uint32_t id;
  int32_t type;
} icxCandidFieldSpec;

/* Append an entry and set *out to its reference.  The element and field
 * types must be primitives or existing entries.  record/variant: fields in
 * any order (sorted here by id); a duplicate id is ICX_EINVAL.  Errors:
 * ICX_EINVAL, ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCandidTypes_opt(icxCandidTypes *t, int32_t inner, int32_t *out,
                                           icxErr *err);
ICX_INTERNAL icx_status icxCandidTypes_vec(icxCandidTypes *t, int32_t inner, int32_t *out,
                                           icxErr *err);
ICX_INTERNAL icx_status icxCandidTypes_record(icxCandidTypes *t, const icxCandidFieldSpec *f,
                                              size_t n, int32_t *out, icxErr *err);
ICX_INTERNAL icx_status icxCandidTypes_variant(icxCandidTypes *t, const icxCandidFieldSpec *f,
                                               size_t n, int32_t *out, icxErr *err);
/* The kind of a reference: the primitive opcode itself, or the entry kind;
 * 0 for a reference that is neither. */
ICX_INTERNAL int32_t icxCandidTypes_kind(const icxCandidTypes *t, int32_t ref);

/* ---- values ------------------------------------------------------------------ */

/* One value.  type is the kind (an ICX_CT_* opcode; blob is ICX_CT_VEC with
 * bytes).  Meaning of the other members by kind:
 *   null, reserved                  nothing
 *   bool                            w.lo 0 or 1
 *   nat8..nat64                     w.lo
 *   int8..int64                     w.lo as int64_t (sign-extended into w.hi)
 *   nat, int                        w.lo, w.hi: 128 bits (int: two's complement)
 *   float32, float64                w.lo holds the IEEE bits (float32 in the low 32)
 *   text, principal                 bytes[0..n)  (text is valid UTF-8, no NUL)
 *   vec                             if is_bytes: bytes[0..n) (vec nat8), else items[0..n)
 *   opt                             n = 0 (null) or 1, items[0]
 *   record                          items[0..n), each with id = field id, in
 *                                   the order of the record type's fields
 *   variant                         items[0] with id = the case's field id;
 *                                   n = index of the case in the variant type
 *   func                            items[0] principal, items[1] method text; n = 2
 *   service                         bytes[0..n) the principal */
typedef struct icxCandidValue {
  int32_t type;
  uint32_t id;
  uint64_t n;
  union {
    struct {
      uint64_t lo, hi;
    } w;
    const uint8_t *bytes;
    struct icxCandidValue *items;
  } u;
  uint32_t is_bytes; /* vec: elements are the bytes u.bytes (vec nat8) */
  uint32_t reserved_;
} icxCandidValue;

/* Decoder bounds; 0 in a field means its default. */
typedef struct icxCandidLimits {
  uint32_t max_depth;  /* nesting of values and of subtype checks (default 128) */
  uint64_t max_steps;  /* values visited + subtype checks (default 20,000,000) */
  size_t max_alloc;    /* bytes of the wire table and value tree (default 128 MiB) */
} icxCandidLimits;

/* A decoded message. */
typedef struct icxCandidDoc {
  icxAllocator alloc;
  void *arena;          /* blocks of value nodes */
  icxCandidTypes wire;  /* the message's type table */
  int32_t *wire_args;   /* wire argument types */
  size_t wire_nargs;
  icxCandidValue *args; /* nargs values: expected arguments, or the wire ones */
  size_t nargs;
  size_t allocated;     /* bytes charged against max_alloc */
} icxCandidDoc;

/* Decode data[0..len).  expected may be NULL: the arguments are then
 * returned as they are on the wire (generic mode).  Otherwise arg_types[0..
 * nargs) are references into *expected, and (*out)->args[i] has the shape of
 * arg_types[i].  lim may be NULL.  Errors: ICX_EMALFORMED (bad magic,
 * truncated, bad LEB128, invalid type table, bad UTF-8, bool other than 0/1,
 * opaque reference, principal over 29 bytes, trailing bytes, ...),
 * ICX_EINVAL (a wire type is not a subtype of the expected one, a missing
 * non-optional argument or field, a nat/int beyond 128 bits in a value that
 * is kept, or a bad argument), ICX_ELIMIT (depth, steps or allocation
 * bound), ICX_ENOMEM.  *out is NULL on error. */
ICX_INTERNAL icx_status icxCandid_decode(const icxAllocator *a, const uint8_t *data, size_t len,
                                         const icxCandidTypes *expected, const int32_t *arg_types,
                                         size_t nargs, const icxCandidLimits *lim,
                                         icxCandidDoc **out, icxErr *err);
ICX_INTERNAL void icxCandidDoc_free(icxCandidDoc *doc);

/* The field of record value rec with this id, NULL if rec is not a record
 * or has no such field. */
ICX_INTERNAL const icxCandidValue *icxCandid_field(const icxCandidValue *rec, uint32_t id);
/* The same by field name. */
ICX_INTERNAL const icxCandidValue *icxCandid_field_named(const icxCandidValue *rec,
                                                         const char *name);
/* The content of an opt value, NULL for null (or a non-opt value). */
ICX_INTERNAL const icxCandidValue *icxCandid_opt(const icxCandidValue *v);
/* A nat/int/natN value as a uint64: 1 and *out if it is non-negative and
 * fits, else 0. */
ICX_INTERNAL int icxCandid_to_u64(const icxCandidValue *v, uint64_t *out);

/* ---- encoding ---------------------------------------------------------------- */

/* Encode "DIDL", the type table, the argument types and the values
 * args[0..nargs) into a buffer allocated with a.  The table holds only the
 * entries of types (NULL: none) reachable from arg_types, numbered in
 * depth-first pre-order (fields in id order) as Rust's candid serializer
 * does, so replies match the replica's bytes; types should not contain two
 * structurally equal entries (they would not be merged).  *out_len is the
 * size; free the buffer with icxCore_free(a, *out, *out_len).
 * Values must match their types as described for icxCandidValue (record
 * items in the type's field order with the right ids, variant n < case
 * count, opt n <= 1, valid UTF-8 text, principal <= 29 bytes, nat/int as
 * w.lo/w.hi).  Errors: ICX_EINVAL (a value does not match), ICX_ELIMIT
 * (nesting over 128), ICX_ENOMEM. */
ICX_INTERNAL icx_status icxCandid_encode(const icxAllocator *a, const icxCandidTypes *types,
                                         const int32_t *arg_types, const icxCandidValue *args,
                                         size_t nargs, uint8_t **out, size_t *out_len,
                                         icxErr *err);

/* Value constructors for building replies on the stack. */
ICX_INTERNAL icxCandidValue icxCandid_v_nat(uint64_t lo, uint64_t hi);
ICX_INTERNAL icxCandidValue icxCandid_v_nat64(uint64_t v);
ICX_INTERNAL icxCandidValue icxCandid_v_bool(int b);
ICX_INTERNAL icxCandidValue icxCandid_v_null(void);
ICX_INTERNAL icxCandidValue icxCandid_v_text(const char *s, size_t len);
ICX_INTERNAL icxCandidValue icxCandid_v_blob(const uint8_t *p, size_t len);
ICX_INTERNAL icxCandidValue icxCandid_v_principal(const uint8_t *p, size_t len);
/* opt: item NULL for null. */
ICX_INTERNAL icxCandidValue icxCandid_v_opt(icxCandidValue *item);
/* record: items[0..n) must already carry their ids, in type order. */
ICX_INTERNAL icxCandidValue icxCandid_v_record(icxCandidValue *items, size_t n);
ICX_INTERNAL icxCandidValue icxCandid_v_vec(icxCandidValue *items, size_t n);
/* variant: case index and the case's value (item->id is set from the type). */
ICX_INTERNAL icxCandidValue icxCandid_v_variant(uint32_t index, icxCandidValue *item);

#endif
