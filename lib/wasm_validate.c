/* wasm_validate.c -- Wasm 2.0 validation of a decoded module (plus memory64
 * and table64): module-level rules, constant expressions and the operand
 * stack type check of every function body (the spec appendix algorithm).
 *
 * After ICX_OK every body is well-typed and every index it uses is in range,
 * so the compiler may trust it.  Work is linear in the body size times the
 * largest arity (params/results of a type, at most ICX_MAX_PARAMS/RESULTS);
 * br_table checks each distinct target label once. */
#include "wasm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Unknown operand type of the polymorphic stack (not a value type code). */
#define T_UNK 0u

/* Operand stack height limit per function: a function that needs more
 * slots than the interpreter's whole stack could never run. */
#define MAX_OPERANDS ICX_MAX_STACK_SLOTS

/* Index limits of memory64: at most 2^48 pages of 64 KiB. */
#define MAX_PAGES32 65536u
#define MAX_PAGES64 ((uint64_t)1 << 48)

/* ---- opcode table -------------------------------------------------------
 * One line per opcode: code, name, shape, operand type, result type,
 * natural alignment (log2, memory ops only).  Shapes:
 *   UN  pop a, push r        BIN  pop a, pop a, push r
 *   LD  memarg, pop address, push r        ST  memarg, pop a, pop address
 *   SPC immediates/typing handled by a case in validate_op.
 * SIMD (0xfd) will get its own table in the same form. */
enum { SH_NONE = 0, SH_UN, SH_BIN, SH_LD, SH_ST, SH_SPC };
#define I32 ICX_I32
#define I64 ICX_I64
#define F32 ICX_F32
#define F64 ICX_F64

#define ICX_WASM_OPS(X)                                                                            \
  X(0x00, "unreachable", SPC, 0, 0, 0) X(0x01, "nop", SPC, 0, 0, 0)                                \
  X(0x02, "block", SPC, 0, 0, 0) X(0x03, "loop", SPC, 0, 0, 0) X(0x04, "if", SPC, 0, 0, 0)         \
  X(0x05, "else", SPC, 0, 0, 0) X(0x0b, "end", SPC, 0, 0, 0) X(0x0c, "br", SPC, 0, 0, 0)           \
  X(0x0d, "br_if", SPC, 0, 0, 0) X(0x0e, "br_table", SPC, 0, 0, 0)                                 \
  X(0x0f, "return", SPC, 0, 0, 0) X(0x10, "call", SPC, 0, 0, 0)                                    \
  X(0x11, "call_indirect", SPC, 0, 0, 0) X(0x1a, "drop", SPC, 0, 0, 0)                             \
  X(0x1b, "select", SPC, 0, 0, 0) X(0x1c, "select", SPC, 0, 0, 0)                                  \
  X(0x20, "local.get", SPC, 0, 0, 0) X(0x21, "local.set", SPC, 0, 0, 0)                            \
  X(0x22, "local.tee", SPC, 0, 0, 0) X(0x23, "global.get", SPC, 0, 0, 0)                           \
  X(0x24, "global.set", SPC, 0, 0, 0) X(0x25, "table.get", SPC, 0, 0, 0)                           \
  X(0x26, "table.set", SPC, 0, 0, 0)                                                               \
  X(0x28, "i32.load", LD, 0, I32, 2) X(0x29, "i64.load", LD, 0, I64, 3)                            \
  X(0x2a, "f32.load", LD, 0, F32, 2) X(0x2b, "f64.load", LD, 0, F64, 3)                            \
  X(0x2c, "i32.load8_s", LD, 0, I32, 0) X(0x2d, "i32.load8_u", LD, 0, I32, 0)                      \
  X(0x2e, "i32.load16_s", LD, 0, I32, 1) X(0x2f, "i32.load16_u", LD, 0, I32, 1)                    \
  X(0x30, "i64.load8_s", LD, 0, I64, 0) X(0x31, "i64.load8_u", LD, 0, I64, 0)                      \
  X(0x32, "i64.load16_s", LD, 0, I64, 1) X(0x33, "i64.load16_u", LD, 0, I64, 1)                    \
  X(0x34, "i64.load32_s", LD, 0, I64, 2) X(0x35, "i64.load32_u", LD, 0, I64, 2)                    \
  X(0x36, "i32.store", ST, I32, 0, 2) X(0x37, "i64.store", ST, I64, 0, 3)                          \
  X(0x38, "f32.store", ST, F32, 0, 2) X(0x39, "f64.store", ST, F64, 0, 3)                          \
  X(0x3a, "i32.store8", ST, I32, 0, 0) X(0x3b, "i32.store16", ST, I32, 0, 1)                       \
  X(0x3c, "i64.store8", ST, I64, 0, 0) X(0x3d, "i64.store16", ST, I64, 0, 1)                       \
  X(0x3e, "i64.store32", ST, I64, 0, 2)                                                            \
  X(0x3f, "memory.size", SPC, 0, 0, 0) X(0x40, "memory.grow", SPC, 0, 0, 0)                        \
  X(0x41, "i32.const", SPC, 0, 0, 0) X(0x42, "i64.const", SPC, 0, 0, 0)                            \
  X(0x43, "f32.const", SPC, 0, 0, 0) X(0x44, "f64.const", SPC, 0, 0, 0)                            \
  X(0x45, "i32.eqz", UN, I32, I32, 0) X(0x46, "i32.eq", BIN, I32, I32, 0)                          \
  X(0x47, "i32.ne", BIN, I32, I32, 0) X(0x48, "i32.lt_s", BIN, I32, I32, 0)                        \
  X(0x49, "i32.lt_u", BIN, I32, I32, 0) X(0x4a, "i32.gt_s", BIN, I32, I32, 0)                      \
  X(0x4b, "i32.gt_u", BIN, I32, I32, 0) X(0x4c, "i32.le_s", BIN, I32, I32, 0)                      \
  X(0x4d, "i32.le_u", BIN, I32, I32, 0) X(0x4e, "i32.ge_s", BIN, I32, I32, 0)                      \
  X(0x4f, "i32.ge_u", BIN, I32, I32, 0) X(0x50, "i64.eqz", UN, I64, I32, 0)                        \
  X(0x51, "i64.eq", BIN, I64, I32, 0) X(0x52, "i64.ne", BIN, I64, I32, 0)                          \
  X(0x53, "i64.lt_s", BIN, I64, I32, 0) X(0x54, "i64.lt_u", BIN, I64, I32, 0)                      \
  X(0x55, "i64.gt_s", BIN, I64, I32, 0) X(0x56, "i64.gt_u", BIN, I64, I32, 0)                      \
  X(0x57, "i64.le_s", BIN, I64, I32, 0) X(0x58, "i64.le_u", BIN, I64, I32, 0)                      \
  X(0x59, "i64.ge_s", BIN, I64, I32, 0) X(0x5a, "i64.ge_u", BIN, I64, I32, 0)                      \
  X(0x5b, "f32.eq", BIN, F32, I32, 0) X(0x5c, "f32.ne", BIN, F32, I32, 0)                          \
  X(0x5d, "f32.lt", BIN, F32, I32, 0) X(0x5e, "f32.gt", BIN, F32, I32, 0)                          \
  X(0x5f, "f32.le", BIN, F32, I32, 0) X(0x60, "f32.ge", BIN, F32, I32, 0)                          \
  X(0x61, "f64.eq", BIN, F64, I32, 0) X(0x62, "f64.ne", BIN, F64, I32, 0)                          \
  X(0x63, "f64.lt", BIN, F64, I32, 0) X(0x64, "f64.gt", BIN, F64, I32, 0)                          \
  X(0x65, "f64.le", BIN, F64, I32, 0) X(0x66, "f64.ge", BIN, F64, I32, 0)                          \
  X(0x67, "i32.clz", UN, I32, I32, 0) X(0x68, "i32.ctz", UN, I32, I32, 0)                          \
  X(0x69, "i32.popcnt", UN, I32, I32, 0) X(0x6a, "i32.add", BIN, I32, I32, 0)                      \
  X(0x6b, "i32.sub", BIN, I32, I32, 0) X(0x6c, "i32.mul", BIN, I32, I32, 0)                        \
  X(0x6d, "i32.div_s", BIN, I32, I32, 0) X(0x6e, "i32.div_u", BIN, I32, I32, 0)                    \
  X(0x6f, "i32.rem_s", BIN, I32, I32, 0) X(0x70, "i32.rem_u", BIN, I32, I32, 0)                    \
  X(0x71, "i32.and", BIN, I32, I32, 0) X(0x72, "i32.or", BIN, I32, I32, 0)                         \
  X(0x73, "i32.xor", BIN, I32, I32, 0) X(0x74, "i32.shl", BIN, I32, I32, 0)                        \
  X(0x75, "i32.shr_s", BIN, I32, I32, 0) X(0x76, "i32.shr_u", BIN, I32, I32, 0)                    \
  X(0x77, "i32.rotl", BIN, I32, I32, 0) X(0x78, "i32.rotr", BIN, I32, I32, 0)                      \
  X(0x79, "i64.clz", UN, I64, I64, 0) X(0x7a, "i64.ctz", UN, I64, I64, 0)                          \
  X(0x7b, "i64.popcnt", UN, I64, I64, 0) X(0x7c, "i64.add", BIN, I64, I64, 0)                      \
  X(0x7d, "i64.sub", BIN, I64, I64, 0) X(0x7e, "i64.mul", BIN, I64, I64, 0)                        \
  X(0x7f, "i64.div_s", BIN, I64, I64, 0) X(0x80, "i64.div_u", BIN, I64, I64, 0)                    \
  X(0x81, "i64.rem_s", BIN, I64, I64, 0) X(0x82, "i64.rem_u", BIN, I64, I64, 0)                    \
  X(0x83, "i64.and", BIN, I64, I64, 0) X(0x84, "i64.or", BIN, I64, I64, 0)                         \
  X(0x85, "i64.xor", BIN, I64, I64, 0) X(0x86, "i64.shl", BIN, I64, I64, 0)                        \
  X(0x87, "i64.shr_s", BIN, I64, I64, 0) X(0x88, "i64.shr_u", BIN, I64, I64, 0)                    \
  X(0x89, "i64.rotl", BIN, I64, I64, 0) X(0x8a, "i64.rotr", BIN, I64, I64, 0)                      \
  X(0x8b, "f32.abs", UN, F32, F32, 0) X(0x8c, "f32.neg", UN, F32, F32, 0)                          \
  X(0x8d, "f32.ceil", UN, F32, F32, 0) X(0x8e, "f32.floor", UN, F32, F32, 0)                       \
  X(0x8f, "f32.trunc", UN, F32, F32, 0) X(0x90, "f32.nearest", UN, F32, F32, 0)                    \
  X(0x91, "f32.sqrt", UN, F32, F32, 0) X(0x92, "f32.add", BIN, F32, F32, 0)                        \
  X(0x93, "f32.sub", BIN, F32, F32, 0) X(0x94, "f32.mul", BIN, F32, F32, 0)                        \
  X(0x95, "f32.div", BIN, F32, F32, 0) X(0x96, "f32.min", BIN, F32, F32, 0)                        \
  X(0x97, "f32.max", BIN, F32, F32, 0) X(0x98, "f32.copysign", BIN, F32, F32, 0)                   \
  X(0x99, "f64.abs", UN, F64, F64, 0) X(0x9a, "f64.neg", UN, F64, F64, 0)                          \
  X(0x9b, "f64.ceil", UN, F64, F64, 0) X(0x9c, "f64.floor", UN, F64, F64, 0)                       \
  X(0x9d, "f64.trunc", UN, F64, F64, 0) X(0x9e, "f64.nearest", UN, F64, F64, 0)                    \
  X(0x9f, "f64.sqrt", UN, F64, F64, 0) X(0xa0, "f64.add", BIN, F64, F64, 0)                        \
  X(0xa1, "f64.sub", BIN, F64, F64, 0) X(0xa2, "f64.mul", BIN, F64, F64, 0)                        \
  X(0xa3, "f64.div", BIN, F64, F64, 0) X(0xa4, "f64.min", BIN, F64, F64, 0)                        \
  X(0xa5, "f64.max", BIN, F64, F64, 0) X(0xa6, "f64.copysign", BIN, F64, F64, 0)                   \
  X(0xa7, "i32.wrap_i64", UN, I64, I32, 0) X(0xa8, "i32.trunc_f32_s", UN, F32, I32, 0)             \
  X(0xa9, "i32.trunc_f32_u", UN, F32, I32, 0) X(0xaa, "i32.trunc_f64_s", UN, F64, I32, 0)          \
  X(0xab, "i32.trunc_f64_u", UN, F64, I32, 0) X(0xac, "i64.extend_i32_s", UN, I32, I64, 0)         \
  X(0xad, "i64.extend_i32_u", UN, I32, I64, 0) X(0xae, "i64.trunc_f32_s", UN, F32, I64, 0)         \
  X(0xaf, "i64.trunc_f32_u", UN, F32, I64, 0) X(0xb0, "i64.trunc_f64_s", UN, F64, I64, 0)          \
  X(0xb1, "i64.trunc_f64_u", UN, F64, I64, 0) X(0xb2, "f32.convert_i32_s", UN, I32, F32, 0)        \
  X(0xb3, "f32.convert_i32_u", UN, I32, F32, 0) X(0xb4, "f32.convert_i64_s", UN, I64, F32, 0)      \
  X(0xb5, "f32.convert_i64_u", UN, I64, F32, 0) X(0xb6, "f32.demote_f64", UN, F64, F32, 0)         \
  X(0xb7, "f64.convert_i32_s", UN, I32, F64, 0) X(0xb8, "f64.convert_i32_u", UN, I32, F64, 0)      \
  X(0xb9, "f64.convert_i64_s", UN, I64, F64, 0) X(0xba, "f64.convert_i64_u", UN, I64, F64, 0)      \
  X(0xbb, "f64.promote_f32", UN, F32, F64, 0) X(0xbc, "i32.reinterpret_f32", UN, F32, I32, 0)      \
  X(0xbd, "i64.reinterpret_f64", UN, F64, I64, 0) X(0xbe, "f32.reinterpret_i32", UN, I32, F32, 0)  \
  X(0xbf, "f64.reinterpret_i64", UN, I64, F64, 0) X(0xc0, "i32.extend8_s", UN, I32, I32, 0)        \
  X(0xc1, "i32.extend16_s", UN, I32, I32, 0) X(0xc2, "i64.extend8_s", UN, I64, I64, 0)             \
  X(0xc3, "i64.extend16_s", UN, I64, I64, 0) X(0xc4, "i64.extend32_s", UN, I64, I64, 0)            \
  X(0xd0, "ref.null", SPC, 0, 0, 0) X(0xd1, "ref.is_null", SPC, 0, 0, 0)                           \
  X(0xd2, "ref.func", SPC, 0, 0, 0) X(0xfc, "0xfc prefix", SPC, 0, 0, 0)                           \
  X(0xfd, "0xfd prefix", SPC, 0, 0, 0)

/* The 0xfc-prefixed opcodes (sub-opcode as u32 LEB128). */
#define ICX_WASM_OPS_FC(X)                                                                         \
  X(0, "i32.trunc_sat_f32_s", UN, F32, I32, 0) X(1, "i32.trunc_sat_f32_u", UN, F32, I32, 0)        \
  X(2, "i32.trunc_sat_f64_s", UN, F64, I32, 0) X(3, "i32.trunc_sat_f64_u", UN, F64, I32, 0)        \
  X(4, "i64.trunc_sat_f32_s", UN, F32, I64, 0) X(5, "i64.trunc_sat_f32_u", UN, F32, I64, 0)        \
  X(6, "i64.trunc_sat_f64_s", UN, F64, I64, 0) X(7, "i64.trunc_sat_f64_u", UN, F64, I64, 0)        \
  X(8, "memory.init", SPC, 0, 0, 0) X(9, "data.drop", SPC, 0, 0, 0)                                \
  X(10, "memory.copy", SPC, 0, 0, 0) X(11, "memory.fill", SPC, 0, 0, 0)                            \
  X(12, "table.init", SPC, 0, 0, 0) X(13, "elem.drop", SPC, 0, 0, 0)                               \
  X(14, "table.copy", SPC, 0, 0, 0) X(15, "table.grow", SPC, 0, 0, 0)                              \
  X(16, "table.size", SPC, 0, 0, 0) X(17, "table.fill", SPC, 0, 0, 0)

typedef struct OpInfo {
  char name[20]; /* an array, not a pointer: the table stays in .rodata */
  uint8_t shape, a, r, align;
} OpInfo;

#define OP_ENTRY(code, nm, sh, ta, tr, al) [code] = {nm, SH_##sh, ta, tr, al},
static const OpInfo k_ops[256] = {ICX_WASM_OPS(OP_ENTRY)};
#define NFC_OPS 18u
static const OpInfo k_ops_fc[NFC_OPS] = {ICX_WASM_OPS_FC(OP_ENTRY)};
#undef OP_ENTRY

/* k_type_self[t] == t for each value type: a stable one-element type list
 * for single-result block types. */
static const uint8_t k_type_self[0x80] = {[ICX_I32] = ICX_I32, [ICX_I64] = ICX_I64,
                                          [ICX_F32] = ICX_F32, [ICX_F64] = ICX_F64,
                                          [ICX_FUNCREF] = ICX_FUNCREF,
                                          [ICX_EXTERNREF] = ICX_EXTERNREF};

static const char *tname(unsigned t) { return icxWasm_type_name(t); }

static int is_num(unsigned t) {
  return t == ICX_I32 || t == ICX_I64 || t == ICX_F32 || t == ICX_F64 || t == T_UNK;
}
static int is_ref(unsigned t) { return t == ICX_FUNCREF || t == ICX_EXTERNREF || t == T_UNK; }

/* ---- body validation state ---------------------------------------------- */

typedef struct Ctrl {
  const uint8_t *in, *out; /* block params and results */
  uint32_t nin, nout;
  uint32_t height;         /* operand stack height at block entry */
  uint32_t stamp;          /* last br_table that checked this label */
  uint8_t op;              /* 0 function, 0x02 block, 0x03 loop, 0x04 if, 0x05 else */
  uint8_t unreachable;
} Ctrl;

typedef struct Val {
  const icxModule *m;
  const icxAllocator *a;
  icxErr *err;
  icxReader r;
  uint32_t fidx;   /* function being validated */
  size_t op_off;   /* offset of the current instruction */
  const char *opname;
  const icxFuncType *ft;
  const icxFunc *fn;
  uint8_t *vals;
  uint32_t nvals, capvals;
  uint32_t unk_hi; /* no T_UNK in vals[unk_hi .. nvals) */
  Ctrl *ctrls;
  uint32_t nctrls, capctrls;
  uint32_t stamp;
} Val;

static void vfail(Val *v, icx_status st, const char *fmt, ...) ICX_PRINTF(3, 4);

/* Record an error for the current instruction: ICX_EINVALID for typing and
 * index rules, ICX_EMALFORMED for binary-format errors found in the body
 * (the decoder keeps bodies as raw bytes, so these surface here). */
static void vfail(Val *v, icx_status st, const char *fmt, ...) {
  char buf[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  (void)icxErr_set(v->err, st, "func %u at offset 0x%zx: %s%s%s", v->fidx, v->op_off,
                   v->opname ? v->opname : "", v->opname ? ": " : "", buf);
}

/* Record an error and yield its status (a constant, so compilers see that
 * the error paths never return ICX_OK). */
#define INVALID(v, ...) (vfail((v), ICX_EINVALID, __VA_ARGS__), ICX_EINVALID)
#define MALFORMED(v, ...) (vfail((v), ICX_EMALFORMED, __VA_ARGS__), ICX_EMALFORMED)

/* Make room for n more operands (bounded by MAX_OPERANDS). */
static icx_status reserve(Val *v, uint32_t n) {
  if (n <= v->capvals - v->nvals) return ICX_OK;
  if (n > MAX_OPERANDS - v->nvals)
    return INVALID(v, "operand stack deeper than the limit of %u", (unsigned)MAX_OPERANDS);
  uint32_t ncap = v->capvals ? v->capvals : 64u;
  while (ncap - v->nvals < n) ncap *= 2u;
  uint8_t *p = icxCore_realloc(v->a, v->vals, v->capvals, ncap);
  if (!p) {
    (void)icxErr_set(v->err, ICX_ENOMEM, "func %u: out of memory", v->fidx);
    return ICX_ENOMEM;
  }
  v->vals = p, v->capvals = ncap;
  return ICX_OK;
}

static icx_status push(Val *v, uint8_t t) {
  icx_status rc = reserve(v, 1);
  if (rc != ICX_OK) return rc;
  v->vals[v->nvals++] = t;
  if (t == T_UNK) v->unk_hi = v->nvals;
  return ICX_OK;
}

/* Shrink the operand stack to n entries. */
static void truncate_vals(Val *v, uint32_t n) {
  v->nvals = n;
  if (v->unk_hi > n) v->unk_hi = n;
}

/* Pop one operand, which must have type expect (T_UNK: any); the popped
 * type (T_UNK below a polymorphic stack's base) goes to *out if not NULL. */
static icx_status pop(Val *v, uint8_t expect, uint8_t *out) {
  const Ctrl *c = &v->ctrls[v->nctrls - 1];
  uint8_t actual;
  if (v->nvals == c->height) {
    if (c->unreachable) {
      if (out) *out = T_UNK;
      return ICX_OK;
    }
    if (expect == T_UNK) return INVALID(v, "type mismatch: operand stack is empty");
    return INVALID(v, "type mismatch: expected %s but the operand stack is empty", tname(expect));
  }
  actual = v->vals[v->nvals - 1];
  truncate_vals(v, v->nvals - 1);
  if (actual != expect && actual != T_UNK && expect != T_UNK)
    return INVALID(v, "type mismatch: expected %s, got %s", tname(expect), tname(actual));
  if (out) *out = actual;
  return ICX_OK;
}

/* Check, without popping, that the top operands have the types ts[0..n)
 * (ts[n-1] on top); below a polymorphic base missing operands match.
 * *out_k gets the number of operands present (at most n).  The part above
 * unk_hi holds no unknowns and is compared with memcmp, which keeps calls
 * and br_table with wide signatures cheap. */
static icx_status check_top(Val *v, const uint8_t *ts, uint32_t n, uint32_t *out_k) {
  const Ctrl *c = &v->ctrls[v->nctrls - 1];
  *out_k = 0;
  if (n == 0) return ICX_OK;
  uint32_t avail = v->nvals - c->height, k = n < avail ? n : avail;
  uint32_t lo = v->nvals - k, mid = v->unk_hi > lo ? v->unk_hi : lo, hi = v->nvals;
  const uint8_t *want = ts + (n - k); /* want[i - lo] is the type for vals[i] */
  if (hi == mid || memcmp(want + (mid - lo), v->vals + mid, hi - mid) == 0) hi = mid;
  for (uint32_t i = hi; i > lo; i--) { /* from the top, as pops would go */
    uint8_t have = v->vals[i - 1u], w = want[i - 1u - lo];
    if (have != w && have != T_UNK)
      return INVALID(v, "type mismatch: expected %s, got %s", tname(w), tname(have));
  }
  if (k < n && !c->unreachable)
    return INVALID(v, "type mismatch: expected %s but the operand stack is empty",
                   tname(ts[n - k - 1u]));
  *out_k = k;
  return ICX_OK;
}

static icx_status pop_vals(Val *v, const uint8_t *ts, uint32_t n) {
  uint32_t k = 0;
  icx_status rc = check_top(v, ts, n, &k);
  if (rc != ICX_OK) return rc;
  truncate_vals(v, v->nvals - k);
  return ICX_OK;
}

static icx_status push_vals(Val *v, const uint8_t *ts, uint32_t n) {
  icx_status rc = reserve(v, n);
  if (rc != ICX_OK) return rc;
  if (n) memcpy(v->vals + v->nvals, ts, n); /* label types are never T_UNK */
  v->nvals += n;
  return ICX_OK;
}

static icx_status push_ctrl(Val *v, uint8_t op, const uint8_t *in, uint32_t nin,
                            const uint8_t *out, uint32_t nout) {
  /* the function's own frame plus ICX_MAX_NESTING nested blocks */
  if (v->nctrls > ICX_MAX_NESTING)
    return INVALID(v, "control nesting deeper than the limit of %u", ICX_MAX_NESTING);
  if (v->nctrls == v->capctrls) {
    uint32_t ncap = v->capctrls ? v->capctrls * 2u : 16u;
    Ctrl *p = icxCore_realloc(v->a, v->ctrls, v->capctrls * sizeof *p, ncap * sizeof *p);
    if (!p) {
      (void)icxErr_set(v->err, ICX_ENOMEM, "func %u: out of memory", v->fidx);
      return ICX_ENOMEM;
    }
    v->ctrls = p, v->capctrls = ncap;
  }
  Ctrl *c = &v->ctrls[v->nctrls++];
  c->in = in, c->nin = nin, c->out = out, c->nout = nout;
  c->height = v->nvals, c->stamp = 0, c->op = op, c->unreachable = 0;
  return push_vals(v, in, nin);
}

/* Label types: a loop's branch target is its start. */
static void label_types(const Ctrl *c, const uint8_t **ts, uint32_t *n) {
  if (c->op == 0x03) {
    *ts = c->in, *n = c->nin;
  } else {
    *ts = c->out, *n = c->nout;
  }
}

static void set_unreachable(Val *v) {
  Ctrl *c = &v->ctrls[v->nctrls - 1];
  truncate_vals(v, c->height);
  c->unreachable = 1;
}

/* ---- immediates --------------------------------------------------------- */

static icx_status imm_u32(Val *v, uint32_t *out, const char *what) {
  if (icxRd_u32(&v->r, out) == 0) return ICX_OK;
  return MALFORMED(v, "malformed %s (bad LEB128 or unexpected end)", what);
}

static icx_status imm_zero_byte(Val *v) {
  uint8_t b;
  if (icxRd_u8(&v->r, &b)) return MALFORMED(v, "unexpected end");
  if (b != 0) return MALFORMED(v, "zero byte expected");
  return ICX_OK;
}

static icx_status imm_label(Val *v, Ctrl **out) {
  uint32_t l;
  icx_status rc = imm_u32(v, &l, "label index");
  if (rc != ICX_OK) return rc;
  if (l >= v->nctrls) return INVALID(v, "unknown label %u", l);
  *out = &v->ctrls[v->nctrls - 1u - l];
  return ICX_OK;
}

static icx_status imm_blocktype(Val *v, const uint8_t **in, uint32_t *nin, const uint8_t **out,
                                uint32_t *nout) {
  int64_t bt;
  *in = *out = NULL, *nin = *nout = 0;
  if (icxRd_s33(&v->r, &bt)) return MALFORMED(v, "malformed block type");
  if (bt >= 0) {
    if ((uint64_t)bt >= v->m->ntypes) return INVALID(v, "unknown type %lld", (long long)bt);
    const icxFuncType *ft = &v->m->types[bt];
    *in = icxFuncType_params(ft), *nin = ft->nparams;
    *out = icxFuncType_results(ft), *nout = ft->nresults;
    return ICX_OK;
  }
  if (bt == -64) return ICX_OK; /* 0x40: [] -> [] */
  uint8_t t = (uint8_t)(bt & 0x7f);
  if (bt < -64) return MALFORMED(v, "malformed block type");
  if (t == ICX_V128) return MALFORMED(v, "SIMD not supported (v128 block type)");
  if (k_type_self[t] != t || t == 0) return MALFORMED(v, "malformed block type 0x%02x", t);
  *out = &k_type_self[t], *nout = 1;
  return ICX_OK;
}

/* The index type (i32 or i64) of memory 0, after checking it exists. */
static icx_status mem_index_type(Val *v, uint8_t *out) {
  if (v->m->nmems_total == 0) return INVALID(v, "unknown memory 0");
  *out = v->m->mems[0].lim.is64 ? ICX_I64 : ICX_I32;
  return ICX_OK;
}

/* memarg: alignment exponent, then offset (u64 under memory64). */
static icx_status imm_memarg(Val *v, uint32_t natural, uint8_t *it) {
  uint32_t align;
  uint64_t offset;
  icx_status rc = imm_u32(v, &align, "memarg alignment");
  if (rc != ICX_OK) return rc;
  if (v->m->features & ICX_FEAT_MEMORY64) {
    if (icxRd_u64(&v->r, &offset)) return MALFORMED(v, "malformed memarg offset");
  } else {
    uint32_t o32;
    if ((rc = imm_u32(v, &o32, "memarg offset")) != ICX_OK) return rc;
    offset = o32;
  }
  if ((rc = mem_index_type(v, it)) != ICX_OK) return rc;
  if (align > natural) return INVALID(v, "alignment must not be larger than natural");
  if (*it == ICX_I32 && offset > UINT32_MAX)
    return INVALID(v, "offset out of range for a 32-bit memory");
  return ICX_OK;
}

static icx_status imm_table(Val *v, const icxTableType **out) {
  uint32_t x;
  icx_status rc = imm_u32(v, &x, "table index");
  if (rc != ICX_OK) return rc;
  if (x >= v->m->ntables_total) return INVALID(v, "unknown table %u", x);
  *out = &v->m->tables[x];
  return ICX_OK;
}

static uint8_t table_it(const icxTableType *t) { return t->lim.is64 ? ICX_I64 : ICX_I32; }

static icx_status imm_data(Val *v) {
  uint32_t x;
  icx_status rc = imm_u32(v, &x, "data index");
  if (rc != ICX_OK) return rc;
  if (!v->m->has_data_count) return MALFORMED(v, "data count section required");
  if (x >= v->m->data_count) return INVALID(v, "unknown data segment %u", x);
  return ICX_OK;
}

static icx_status imm_elem(Val *v, const icxElem **out) {
  uint32_t x;
  icx_status rc = imm_u32(v, &x, "element index");
  if (rc != ICX_OK) return rc;
  if (x >= v->m->nelems) return INVALID(v, "unknown elem segment %u", x);
  *out = &v->m->elems[x];
  return ICX_OK;
}

/* ---- instructions ------------------------------------------------------- */

/* br_table: every target has the default's arity and accepts the operands;
 * each distinct label is checked once (stamps), keeping the work linear. */
static icx_status op_br_table(Val *v) {
  uint32_t n, arity, skip;
  icx_status rc = imm_u32(v, &n, "br_table target count");
  if (rc != ICX_OK) return rc;
  if (n > ICX_MAX_BR_TABLE)
    return INVALID(v, "too many br_table targets (limit %u)", ICX_MAX_BR_TABLE);
  if ((rc = pop(v, ICX_I32, NULL)) != ICX_OK) return rc;
  icxReader targets = v->r;
  for (uint32_t i = 0; i < n; i++)
    if ((rc = imm_u32(v, &skip, "br_table target")) != ICX_OK) return rc;
  Ctrl *d = NULL;
  const uint8_t *dts;
  if ((rc = imm_label(v, &d)) != ICX_OK) return rc;
  label_types(d, &dts, &arity);
  icxReader after = v->r;
  v->r = targets;
  v->stamp++;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *ts;
    uint32_t nt;
    Ctrl *c = NULL;
    if ((rc = imm_label(v, &c)) != ICX_OK) return rc;
    label_types(c, &ts, &nt);
    if (nt != arity) return INVALID(v, "type mismatch: br_table targets have different arities");
    if (c->stamp == v->stamp) continue;
    c->stamp = v->stamp;
    uint32_t k;
    if ((rc = check_top(v, ts, nt, &k)) != ICX_OK) return rc;
  }
  v->r = after;
  if ((rc = pop_vals(v, dts, arity)) != ICX_OK) return rc;
  set_unreachable(v);
  return ICX_OK;
}

static icx_status op_end(Val *v) {
  Ctrl *c = &v->ctrls[v->nctrls - 1];
  icx_status rc = pop_vals(v, c->out, c->nout);
  if (rc != ICX_OK) return rc;
  if (v->nvals != c->height)
    return INVALID(v, "type mismatch: values remain at the end of the block");
  if (c->op == 0x04 && (c->nin != c->nout || (c->nin && memcmp(c->in, c->out, c->nin) != 0)))
    return INVALID(v, "type mismatch: if without else must have matching parameters and results");
  const uint8_t *out = c->out;
  uint32_t nout = c->nout;
  v->nctrls--;
  if (v->nctrls == 0) return ICX_OK; /* end of function */
  return push_vals(v, out, nout);
}

static icx_status op_select(Val *v, uint8_t op) {
  uint8_t t1, t2;
  icx_status rc;
  if (op == 0x1c) {
    uint32_t n;
    uint8_t t;
    if ((rc = imm_u32(v, &n, "select type count")) != ICX_OK) return rc;
    if (n != 1) return INVALID(v, "invalid result arity %u", n);
    if (icxRd_u8(&v->r, &t)) return MALFORMED(v, "unexpected end");
    if (t == ICX_V128) return MALFORMED(v, "SIMD not supported (v128 select)");
    if (t >= sizeof k_type_self || t == 0 || k_type_self[t] != t)
      return MALFORMED(v, "malformed value type 0x%02x", t);
    if ((rc = pop(v, ICX_I32, NULL)) != ICX_OK) return rc;
    if ((rc = pop(v, t, NULL)) != ICX_OK) return rc;
    if ((rc = pop(v, t, NULL)) != ICX_OK) return rc;
    return push(v, t);
  }
  if ((rc = pop(v, ICX_I32, NULL)) != ICX_OK) return rc;
  if ((rc = pop(v, T_UNK, &t1)) != ICX_OK) return rc;
  if ((rc = pop(v, T_UNK, &t2)) != ICX_OK) return rc;
  if (!is_num(t1) || !is_num(t2))
    return INVALID(v, "type mismatch: untyped select needs numeric operands");
  if (t1 != t2 && t1 != T_UNK && t2 != T_UNK)
    return INVALID(v, "type mismatch: select operands %s and %s differ", tname(t2), tname(t1));
  return push(v, t1 == T_UNK ? t2 : t1);
}

static icx_status op_local(Val *v, uint8_t op) {
  uint32_t x;
  uint8_t t;
  icx_status rc = imm_u32(v, &x, "local index");
  if (rc != ICX_OK) return rc;
  if (x < v->ft->nparams) {
    t = icxFuncType_params(v->ft)[x];
  } else if (x - v->ft->nparams < v->fn->nlocals) {
    t = v->fn->local_types[x - v->ft->nparams];
  } else {
    return INVALID(v, "unknown local %u", x);
  }
  if (op == 0x20) return push(v, t);
  if ((rc = pop(v, t, NULL)) != ICX_OK) return rc;
  return op == 0x22 ? push(v, t) : ICX_OK;
}

static icx_status op_global(Val *v, uint8_t op) {
  uint32_t x;
  icx_status rc = imm_u32(v, &x, "global index");
  if (rc != ICX_OK) return rc;
  if (x >= v->m->nglobals_total) return INVALID(v, "unknown global %u", x);
  const icxGlobalType *g = &v->m->globals[x].type;
  if (op == 0x23) return push(v, g->type);
  if (!g->mut) return INVALID(v, "global is immutable");
  return pop(v, g->type, NULL);
}

static icx_status op_call(Val *v, uint8_t op) {
  const icxFuncType *ft;
  icx_status rc;
  if (op == 0x10) {
    uint32_t f;
    if ((rc = imm_u32(v, &f, "function index")) != ICX_OK) return rc;
    if (f >= v->m->nfuncs_total) return INVALID(v, "unknown function %u", f);
    ft = icxWasm_func_type(v->m, f);
  } else {
    uint32_t y;
    const icxTableType *tab = NULL;
    if ((rc = imm_u32(v, &y, "type index")) != ICX_OK) return rc;
    if ((rc = imm_table(v, &tab)) != ICX_OK) return rc;
    if (tab->elem_type != ICX_FUNCREF) return INVALID(v, "type mismatch: table is not funcref");
    if (y >= v->m->ntypes) return INVALID(v, "unknown type %u", y);
    ft = &v->m->types[y];
    if ((rc = pop(v, table_it(tab), NULL)) != ICX_OK) return rc;
  }
  if ((rc = pop_vals(v, icxFuncType_params(ft), ft->nparams)) != ICX_OK) return rc;
  return push_vals(v, icxFuncType_results(ft), ft->nresults);
}

static icx_status op_const(Val *v, uint8_t op) {
  const uint8_t *b;
  switch (op) {
  case 0x41: {
    int32_t x;
    if (icxRd_s32(&v->r, &x)) return MALFORMED(v, "malformed i32 constant");
    return push(v, ICX_I32);
  }
  case 0x42: {
    int64_t x;
    if (icxRd_s64(&v->r, &x)) return MALFORMED(v, "malformed i64 constant");
    return push(v, ICX_I64);
  }
  case 0x43:
    if (icxRd_bytes(&v->r, 4, &b)) return MALFORMED(v, "unexpected end");
    return push(v, ICX_F32);
  default:
    if (icxRd_bytes(&v->r, 8, &b)) return MALFORMED(v, "unexpected end");
    return push(v, ICX_F64);
  }
}

static icx_status op_memory(Val *v, uint8_t op) {
  uint8_t it = ICX_I32;
  icx_status rc = imm_zero_byte(v);
  if (rc != ICX_OK) return rc;
  if ((rc = mem_index_type(v, &it)) != ICX_OK) return rc;
  if (op == 0x40 && (rc = pop(v, it, NULL)) != ICX_OK) return rc;
  return push(v, it);
}

static icx_status op_ref(Val *v, uint8_t op) {
  icx_status rc;
  uint8_t t;
  if (op == 0xd0) {
    if (icxRd_u8(&v->r, &t)) return MALFORMED(v, "unexpected end");
    if (t != ICX_FUNCREF && t != ICX_EXTERNREF)
      return MALFORMED(v, "malformed reference type 0x%02x", t);
    return push(v, t);
  }
  if (op == 0xd1) {
    if ((rc = pop(v, T_UNK, &t)) != ICX_OK) return rc;
    if (!is_ref(t)) return INVALID(v, "type mismatch: expected a reference, got %s", tname(t));
    return push(v, ICX_I32);
  }
  uint32_t f;
  if ((rc = imm_u32(v, &f, "function index")) != ICX_OK) return rc;
  if (f >= v->m->nfuncs_total) return INVALID(v, "unknown function %u", f);
  if (!(v->m->func_declared[f >> 3] & (1u << (f & 7u))))
    return INVALID(v, "undeclared function reference %u", f);
  return push(v, ICX_FUNCREF);
}

/* Pop operands (given top last) of the listed types. */
static icx_status pop3(Val *v, uint8_t a, uint8_t b, uint8_t c) {
  icx_status rc = pop(v, c, NULL);
  if (rc == ICX_OK) rc = pop(v, b, NULL);
  if (rc == ICX_OK) rc = pop(v, a, NULL);
  return rc;
}

static icx_status op_table(Val *v, uint32_t sub) {
  const icxTableType *t = NULL, *t2 = NULL;
  const icxElem *e = NULL;
  icx_status rc;
  uint8_t it = ICX_I32;
  switch (sub) {
  case 12: /* table.init elem table */
    if ((rc = imm_elem(v, &e)) != ICX_OK || (rc = imm_table(v, &t)) != ICX_OK) return rc;
    if (e->elem_type != t->elem_type)
      return INVALID(v, "type mismatch: element and table types differ");
    return pop3(v, table_it(t), ICX_I32, ICX_I32);
  case 13: /* elem.drop */
    return imm_elem(v, &e);
  case 14: /* table.copy dst src */
    if ((rc = imm_table(v, &t)) != ICX_OK || (rc = imm_table(v, &t2)) != ICX_OK) return rc;
    if (t->elem_type != t2->elem_type) return INVALID(v, "type mismatch: table types differ");
    it = (t->lim.is64 && t2->lim.is64) ? ICX_I64 : ICX_I32;
    return pop3(v, table_it(t), table_it(t2), it);
  case 15: /* table.grow */
    if ((rc = imm_table(v, &t)) != ICX_OK) return rc;
    if ((rc = pop(v, table_it(t), NULL)) != ICX_OK || (rc = pop(v, t->elem_type, NULL)) != ICX_OK)
      return rc;
    return push(v, table_it(t));
  case 16: /* table.size */
    if ((rc = imm_table(v, &t)) != ICX_OK) return rc;
    return push(v, table_it(t));
  default: /* 17 table.fill */
    if ((rc = imm_table(v, &t)) != ICX_OK) return rc;
    return pop3(v, table_it(t), t->elem_type, table_it(t));
  }
}

static icx_status op_prefix_fc(Val *v) {
  uint32_t sub;
  uint8_t it = ICX_I32;
  icx_status rc = imm_u32(v, &sub, "0xfc sub-opcode");
  if (rc != ICX_OK) return rc;
  if (sub >= NFC_OPS) return MALFORMED(v, "illegal opcode 0xfc %u", sub);
  const OpInfo *oi = &k_ops_fc[sub];
  v->opname = oi->name;
  if (oi->shape == SH_UN) {
    if ((rc = pop(v, oi->a, NULL)) != ICX_OK) return rc;
    return push(v, oi->r);
  }
  switch (sub) {
  case 8: /* memory.init data 0x00 */
    if ((rc = imm_data(v)) != ICX_OK || (rc = imm_zero_byte(v)) != ICX_OK) return rc;
    if ((rc = mem_index_type(v, &it)) != ICX_OK) return rc;
    return pop3(v, it, ICX_I32, ICX_I32);
  case 9: /* data.drop */
    return imm_data(v);
  case 10: /* memory.copy 0x00 0x00 */
    if ((rc = imm_zero_byte(v)) != ICX_OK || (rc = imm_zero_byte(v)) != ICX_OK) return rc;
    if ((rc = mem_index_type(v, &it)) != ICX_OK) return rc;
    return pop3(v, it, it, it);
  case 11: /* memory.fill 0x00 */
    if ((rc = imm_zero_byte(v)) != ICX_OK) return rc;
    if ((rc = mem_index_type(v, &it)) != ICX_OK) return rc;
    return pop3(v, it, ICX_I32, it);
  default:
    return op_table(v, sub);
  }
}

/* SIMD (0xfd): not supported yet.  This is where a k_ops_fd table and its
 * shapes (v128 lanes, memarg + lane immediates) will plug in. */
static icx_status op_prefix_fd(Val *v) {
  uint32_t sub;
  if (icxRd_u32(&v->r, &sub)) return MALFORMED(v, "SIMD not supported (0xfd prefix)");
  return MALFORMED(v, "SIMD not supported (opcode 0xfd %u)", sub);
}

static icx_status op_control(Val *v, uint8_t op) {
  const uint8_t *in, *out, *ts;
  uint32_t nin, nout, nt;
  Ctrl *c = NULL;
  icx_status rc;
  switch (op) {
  case 0x00: set_unreachable(v); return ICX_OK;
  case 0x01: return ICX_OK;
  case 0x02:
  case 0x03:
  case 0x04:
    if ((rc = imm_blocktype(v, &in, &nin, &out, &nout)) != ICX_OK) return rc;
    if (op == 0x04 && (rc = pop(v, ICX_I32, NULL)) != ICX_OK) return rc;
    if ((rc = pop_vals(v, in, nin)) != ICX_OK) return rc;
    return push_ctrl(v, op, in, nin, out, nout);
  case 0x05: {
    Ctrl *top = &v->ctrls[v->nctrls - 1];
    if (top->op != 0x04) return MALFORMED(v, "else without matching if");
    if ((rc = pop_vals(v, top->out, top->nout)) != ICX_OK) return rc;
    if (v->nvals != top->height) return INVALID(v, "type mismatch: values remain at else");
    top->op = 0x05, top->unreachable = 0;
    return push_vals(v, top->in, top->nin);
  }
  case 0x0b: return op_end(v);
  case 0x0c:
  case 0x0d:
    if ((rc = imm_label(v, &c)) != ICX_OK) return rc;
    label_types(c, &ts, &nt);
    if (op == 0x0d && (rc = pop(v, ICX_I32, NULL)) != ICX_OK) return rc;
    if ((rc = pop_vals(v, ts, nt)) != ICX_OK) return rc;
    if (op == 0x0d) return push_vals(v, ts, nt);
    set_unreachable(v);
    return ICX_OK;
  case 0x0e: return op_br_table(v);
  default: /* 0x0f return */
    if ((rc = pop_vals(v, v->ctrls[0].out, v->ctrls[0].nout)) != ICX_OK) return rc;
    set_unreachable(v);
    return ICX_OK;
  }
}

static icx_status validate_op(Val *v, uint8_t op) {
  const OpInfo *oi = &k_ops[op];
  const icxTableType *t = NULL;
  icx_status rc;
  uint8_t it = ICX_I32;
  v->opname = oi->name;
  switch (oi->shape) {
  case SH_UN:
    if ((rc = pop(v, oi->a, NULL)) != ICX_OK) return rc;
    return push(v, oi->r);
  case SH_BIN:
    if ((rc = pop(v, oi->a, NULL)) != ICX_OK || (rc = pop(v, oi->a, NULL)) != ICX_OK) return rc;
    return push(v, oi->r);
  case SH_LD:
    if ((rc = imm_memarg(v, oi->align, &it)) != ICX_OK) return rc;
    if ((rc = pop(v, it, NULL)) != ICX_OK) return rc;
    return push(v, oi->r);
  case SH_ST:
    if ((rc = imm_memarg(v, oi->align, &it)) != ICX_OK) return rc;
    if ((rc = pop(v, oi->a, NULL)) != ICX_OK) return rc;
    return pop(v, it, NULL);
  case SH_NONE:
    v->opname = NULL;
    return MALFORMED(v, "illegal opcode 0x%02x", op);
  default:
    break;
  }
  switch (op) {
  case 0x10:
  case 0x11: return op_call(v, op);
  case 0x1a: return pop(v, T_UNK, NULL);
  case 0x1b:
  case 0x1c: return op_select(v, op);
  case 0x20:
  case 0x21:
  case 0x22: return op_local(v, op);
  case 0x23:
  case 0x24: return op_global(v, op);
  case 0x25:
  case 0x26:
    if ((rc = imm_table(v, &t)) != ICX_OK) return rc;
    if (op == 0x25) {
      if ((rc = pop(v, table_it(t), NULL)) != ICX_OK) return rc;
      return push(v, t->elem_type);
    }
    if ((rc = pop(v, t->elem_type, NULL)) != ICX_OK) return rc;
    return pop(v, table_it(t), NULL);
  case 0x3f:
  case 0x40: return op_memory(v, op);
  case 0x41:
  case 0x42:
  case 0x43:
  case 0x44: return op_const(v, op);
  case 0xd0:
  case 0xd1:
  case 0xd2: return op_ref(v, op);
  case ICX_OP_PREFIX_FC: return op_prefix_fc(v);
  case ICX_OP_PREFIX_FD: return op_prefix_fd(v);
  default: return op_control(v, op);
  }
}

/* Type-check the body of defined function fidx. */
static icx_status validate_body(Val *v, uint32_t fidx) {
  const icxModule *m = v->m;
  const icxFunc *fn = &m->funcs[fidx - m->nfunc_imports];
  icx_status rc;
  v->fidx = fidx, v->fn = fn, v->ft = &m->types[fn->type_idx];
  v->r.base = m->bytes;
  v->r.p = m->bytes + fn->code_off;
  v->r.end = v->r.p + fn->code_len;
  v->nvals = v->nctrls = v->unk_hi = 0;
  v->op_off = fn->code_off, v->opname = NULL;
  rc = push_ctrl(v, 0, NULL, 0, icxFuncType_results(v->ft), v->ft->nresults);
  if (rc != ICX_OK) return rc;
  while (v->nctrls > 0) {
    uint8_t op;
    v->op_off = icxRd_offset(&v->r);
    v->opname = NULL;
    if (icxRd_u8(&v->r, &op)) return MALFORMED(v, "unexpected end of function body");
    if ((rc = validate_op(v, op)) != ICX_OK) return rc;
  }
  if (v->r.p != v->r.end) {
    v->op_off = icxRd_offset(&v->r), v->opname = NULL;
    return MALFORMED(v, "operators remaining after the end of the function");
  }
  return ICX_OK;
}

/* ---- module level ------------------------------------------------------- */

static icx_status merr(icxErr *err, const char *fmt, ...) ICX_PRINTF(2, 3);

static icx_status merr(icxErr *err, const char *fmt, ...) {
  char buf[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  (void)icxErr_set(err, ICX_EINVALID, "%s", buf);
  return ICX_EINVALID;
}

/* A constant expression of type want (Wasm 2.0: global.get only of
 * immutable imported globals). */
static icx_status check_const(const icxModule *m, const icxConstExpr *ce, uint8_t want,
                              const char *what, uint32_t idx, icxErr *err) {
  uint8_t t = ce->type;
  switch (ce->kind) {
  case ICX_CONST_GLOBAL:
    if (ce->value >= m->nglobal_imports)
      return merr(err, "%s %u: unknown global %llu (constant expressions may only read "
                  "imported globals)", what, idx, (unsigned long long)ce->value);
    if (m->globals[ce->value].type.mut)
      return merr(err, "%s %u: constant expression required (global %llu is mutable)", what,
                  idx, (unsigned long long)ce->value);
    t = m->globals[ce->value].type.type;
    break;
  case ICX_CONST_REF_FUNC:
    if (ce->value >= m->nfuncs_total)
      return merr(err, "%s %u: unknown function %llu", what, idx, (unsigned long long)ce->value);
    break;
  default:
    break;
  }
  if (t != want)
    return merr(err, "%s %u: type mismatch: constant expression has type %s, expected %s", what,
                idx, tname(t), tname(want));
  return ICX_OK;
}

static icx_status check_limits(const icxLimits *l, uint64_t bound, const char *what, uint32_t idx,
                               icxErr *err) {
  if (l->min > bound)
    return merr(err, "%s %u: %s size must be at most %llu", what, idx,
                bound == MAX_PAGES32 ? "memory" : what, (unsigned long long)bound);
  if (l->has_max && l->max > bound)
    return merr(err, "%s %u: %s size must be at most %llu", what, idx,
                bound == MAX_PAGES32 ? "memory" : what, (unsigned long long)bound);
  if (l->has_max && l->min > l->max)
    return merr(err, "%s %u: size minimum must not be greater than maximum", what, idx);
  return ICX_OK;
}

static icx_status check_spaces(const icxModule *m, icxErr *err) {
  icx_status rc;
  for (uint32_t i = 0; i < m->nfuncs_total; i++)
    if (m->func_type_idx[i] >= m->ntypes)
      return merr(err, "func %u: unknown type %u", i, m->func_type_idx[i]);
  for (uint32_t i = 0; i < m->ntables_total; i++)
    if ((rc = check_limits(&m->tables[i].lim, m->tables[i].lim.is64 ? UINT64_MAX : UINT32_MAX,
                           "table", i, err)) != ICX_OK)
      return rc;
  if (m->nmems_total > 1) return merr(err, "multiple memories are not supported");
  for (uint32_t i = 0; i < m->nmems_total; i++) {
    const icxLimits *l = &m->mems[i].lim;
    if ((rc = check_limits(l, l->is64 ? MAX_PAGES64 : MAX_PAGES32, "memory", i, err)) != ICX_OK)
      return rc;
  }
  for (uint32_t i = m->nglobal_imports; i < m->nglobals_total; i++)
    if ((rc = check_const(m, &m->globals[i].init, m->globals[i].type.type, "global", i, err)) !=
        ICX_OK)
      return rc;
  return ICX_OK;
}

static icx_status check_segments(const icxModule *m, icxErr *err) {
  icx_status rc;
  for (uint32_t i = 0; i < m->nelems; i++) {
    const icxElem *e = &m->elems[i];
    if (e->mode == ICX_SEG_ACTIVE) {
      if (e->table_idx >= m->ntables_total)
        return merr(err, "elem %u: unknown table %u", i, e->table_idx);
      const icxTableType *t = &m->tables[e->table_idx];
      if (t->elem_type != e->elem_type)
        return merr(err, "elem %u: type mismatch: segment is %s, table is %s", i,
                    tname(e->elem_type), tname(t->elem_type));
      if ((rc = check_const(m, &e->offset, table_it(t), "elem", i, err)) != ICX_OK) return rc;
    }
    for (uint32_t k = 0; k < e->count; k++)
      if ((rc = check_const(m, &e->items[k], e->elem_type, "elem", i, err)) != ICX_OK) return rc;
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const icxData *d = &m->datas[i];
    if (d->mode != ICX_SEG_ACTIVE) continue;
    if (d->mem_idx >= m->nmems_total) return merr(err, "data %u: unknown memory %u", i, d->mem_idx);
    uint8_t it = m->mems[d->mem_idx].lim.is64 ? ICX_I64 : ICX_I32;
    if ((rc = check_const(m, &d->offset, it, "data", i, err)) != ICX_OK) return rc;
  }
  return ICX_OK;
}

/* Order of export pointers by name bytes, then position (a total order). */
static int export_cmp(const void *pa, const void *pb) {
  const icxExport *a = *(const icxExport *const *)pa, *b = *(const icxExport *const *)pb;
  uint32_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
  int c = n ? memcmp(a->name, b->name, n) : 0;
  if (c) return c;
  if (a->name_len != b->name_len) return a->name_len < b->name_len ? -1 : 1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

static icx_status check_exports(const icxModule *m, icxErr *err) {
  static const char kind_names[4][9] = {"function", "table", "memory", "global"};
  for (uint32_t i = 0; i < m->nexports; i++) {
    const icxExport *ex = &m->exports[i];
    uint32_t n = ex->kind == ICX_EXT_FUNC    ? m->nfuncs_total
                 : ex->kind == ICX_EXT_TABLE ? m->ntables_total
                 : ex->kind == ICX_EXT_MEM   ? m->nmems_total
                                             : m->nglobals_total;
    if (ex->index >= n)
      return merr(err, "export %u: unknown %s %u", i, kind_names[ex->kind & 3u], ex->index);
  }
  if (m->nexports < 2) return ICX_OK;
  const icxExport **v = icxCore_allocn(&m->alloc, m->nexports, sizeof *v);
  if (!v) return icxErr_set(err, ICX_ENOMEM, "export: out of memory");
  for (uint32_t i = 0; i < m->nexports; i++) v[i] = &m->exports[i];
  qsort(v, m->nexports, sizeof *v, export_cmp);
  icx_status rc = ICX_OK;
  for (uint32_t i = 1; i < m->nexports; i++) {
    if (v[i]->name_len == v[i - 1]->name_len &&
        (v[i]->name_len == 0 || memcmp(v[i]->name, v[i - 1]->name, v[i]->name_len) == 0)) {
      rc = merr(err, "export %u: duplicate export name \"%.*s\"", (unsigned)(v[i] - m->exports),
                v[i]->name_len > 64u ? 64 : (int)v[i]->name_len, v[i]->name);
      break;
    }
  }
  icxCore_free(&m->alloc, v, m->nexports * sizeof *v);
  return rc;
}

/* Validate a decoded module (see wasm.h). */
icx_status icxWasm_validate(const icxModule *m, icxErr *err) {
  icx_status rc;
  Val v;
  ICX_TRY(check_spaces(m, err));
  ICX_TRY(check_segments(m, err));
  ICX_TRY(check_exports(m, err));
  if (m->has_start) {
    if (m->start_idx >= m->nfuncs_total)
      return merr(err, "start: unknown function %u", m->start_idx);
    const icxFuncType *ft = icxWasm_func_type(m, m->start_idx);
    if (ft->nparams || ft->nresults)
      return merr(err, "start function %u: type must be [] -> []", m->start_idx);
  }
  memset(&v, 0, sizeof v);
  v.m = m, v.a = &m->alloc, v.err = err;
  rc = ICX_OK;
  for (uint32_t i = m->nfunc_imports; i < m->nfuncs_total && rc == ICX_OK; i++)
    rc = validate_body(&v, i);
  icxCore_free(v.a, v.vals, v.capvals);
  icxCore_free(v.a, v.ctrls, v.capctrls * sizeof *v.ctrls);
  return rc;
fail:
  return rc;
}
