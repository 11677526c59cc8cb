/* unit_table64.c -- 64-bit tables (ICX_FEAT_TABLE64).
 *
 * The spec-test suite predates table64 and wabt 1.0.32 cannot parse it, so
 * these tests hand-assemble binary modules with a tiny byte builder and run
 * them through the runtime (lib/rt.h): table.size/grow/get/set/fill/copy/
 * init, elem.drop, call_indirect with an i64 index, active element segments
 * with i64 offsets, out-of-bounds traps with indices >= 2^32 (which must not
 * be truncated to 32 bits), imports of 64-bit tables, validation failures and
 * the feature switch.
 *
 * Semantics follow the memory64 proposal (now Wasm 3.0) for tables: the
 * address type "at" of a table64 is i64; table.size/table.grow use at;
 * table.get/set/fill use at for indices and counts; call_indirect takes an
 * at index; table.init takes [at i32 i32]; table.copy x y takes
 * [at_x at_y min(at_x, at_y)]; active element offsets are at constants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"
#include "rt.h"
#include "wasm.h"

/* ---- byte builder -------------------------------------------------------- */

typedef struct Buf {
  uint8_t *p;
  size_t n, cap;
} Buf;

static void b_put(Buf *b, const void *d, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    assert_non_null(p);
    b->p = p;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, d, n);
  b->n += n;
}

static void b_u8(Buf *b, uint8_t v) { b_put(b, &v, 1); }

static void b_uleb(Buf *b, uint64_t v) {
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v) byte |= 0x80;
    b_u8(b, byte);
  } while (v);
}

static void b_sleb(Buf *b, int64_t v) {
  for (;;) {
    uint8_t byte = (uint8_t)(v & 0x7f);
    v >>= 7; /* arithmetic shift (gcc/clang) */
    int done = (v == 0 && !(byte & 0x40)) || (v == -1 && (byte & 0x40));
    if (!done) byte |= 0x80;
    b_u8(b, byte);
    if (done) break;
  }
}

static void b_name(Buf *b, const char *s) {
  size_t n = strlen(s);
  b_uleb(b, n);
  b_put(b, s, n);
}

static void b_free(Buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* ---- instruction helpers ------------------------------------------------- */

enum {
  OP_UNREACHABLE = 0x00,
  OP_END = 0x0b,
  OP_CALL_INDIRECT = 0x11,
  OP_DROP = 0x1a,
  OP_LOCAL_GET = 0x20,
  OP_GLOBAL_GET = 0x23,
  OP_TABLE_GET = 0x25,
  OP_TABLE_SET = 0x26,
  OP_I32_CONST = 0x41,
  OP_I64_CONST = 0x42,
  OP_REF_NULL = 0xd0,
  OP_REF_IS_NULL = 0xd1,
  OP_REF_FUNC = 0xd2,
  FC_TABLE_INIT = 12,
  FC_ELEM_DROP = 13,
  FC_TABLE_COPY = 14,
  FC_TABLE_GROW = 15,
  FC_TABLE_SIZE = 16,
  FC_TABLE_FILL = 17
};

#define T_FUNCREF 0x70
#define T_EXTERNREF 0x6f

static void op(Buf *c, uint8_t o) { b_u8(c, o); }
static void op_u(Buf *c, uint8_t o, uint32_t imm) {
  b_u8(c, o);
  b_uleb(c, imm);
}
static void op_fc(Buf *c, uint32_t sub) {
  b_u8(c, 0xfc);
  b_uleb(c, sub);
}
static void op_fc1(Buf *c, uint32_t sub, uint32_t a) {
  op_fc(c, sub);
  b_uleb(c, a);
}
static void op_fc2(Buf *c, uint32_t sub, uint32_t a, uint32_t b) {
  op_fc1(c, sub, a);
  b_uleb(c, b);
}
static void i32c(Buf *c, int32_t v) {
  b_u8(c, OP_I32_CONST);
  b_sleb(c, v);
}
static void i64c(Buf *c, int64_t v) {
  b_u8(c, OP_I64_CONST);
  b_sleb(c, v);
}
static void lget(Buf *c, uint32_t i) { op_u(c, OP_LOCAL_GET, i); }
static void ref_null(Buf *c, uint8_t t) {
  b_u8(c, OP_REF_NULL);
  b_u8(c, t);
}

/* ---- module builder ------------------------------------------------------ */

typedef struct Mod {
  Buf type, import, func, table, global, export, elem, code;
  uint32_t ntype, nimport, nfunc, nexport, nelem;
  uint32_t ntable, nglobal;         /* index spaces: imported + defined */
  uint32_t ndef_table, ndef_global; /* defined here (section counts) */
} Mod;

static uint8_t vt(char ch) {
  switch (ch) {
  case 'i': return ICX_I32;
  case 'I': return ICX_I64;
  case 'f': return ICX_F32;
  case 'F': return ICX_F64;
  case 'r': return ICX_FUNCREF;
  case 'e': return ICX_EXTERNREF;
  default: fail_msg("bad value type %c", ch); return 0;
  }
}

/* A function type from a signature like "IIi" -> "I". */
static uint32_t m_type(Mod *m, const char *params, const char *results) {
  b_u8(&m->type, 0x60);
  b_uleb(&m->type, strlen(params));
  for (const char *p = params; *p; p++) b_u8(&m->type, vt(*p));
  b_uleb(&m->type, strlen(results));
  for (const char *p = results; *p; p++) b_u8(&m->type, vt(*p));
  return m->ntype++;
}

static void put_limits(Buf *b, uint8_t flags, uint64_t min, uint64_t max) {
  b_u8(b, flags);
  b_uleb(b, min);
  if (flags & 1) b_uleb(b, max);
}

static void m_import_table(Mod *m, const char *mod, const char *name, uint8_t reftype,
                           uint8_t flags, uint64_t min, uint64_t max) {
  b_name(&m->import, mod);
  b_name(&m->import, name);
  b_u8(&m->import, 0x01);
  b_u8(&m->import, reftype);
  put_limits(&m->import, flags, min, max);
  m->nimport++;
  m->ntable++;
}

static void m_import_global(Mod *m, const char *mod, const char *name, uint8_t type, uint8_t mut) {
  b_name(&m->import, mod);
  b_name(&m->import, name);
  b_u8(&m->import, 0x03);
  b_u8(&m->import, type);
  b_u8(&m->import, mut);
  m->nimport++;
  m->nglobal++;
}

/* A table definition (index = tables imported + defined so far). */
static uint32_t m_table(Mod *m, uint8_t reftype, uint8_t flags, uint64_t min, uint64_t max) {
  b_u8(&m->table, reftype);
  put_limits(&m->table, flags, min, max);
  m->ndef_table++;
  return m->ntable++;
}

static void m_export(Mod *m, const char *name, uint8_t kind, uint32_t idx) {
  b_name(&m->export, name);
  b_u8(&m->export, kind);
  b_uleb(&m->export, idx);
  m->nexport++;
}

/* A function without locals; code excludes the final `end`.  Exported as
 * name unless name is NULL.  Consumes code. */
static uint32_t m_func(Mod *m, uint32_t type, Buf *code, const char *name) {
  b_uleb(&m->func, type);
  Buf body = {0};
  b_u8(&body, 0); /* no local declarations */
  b_put(&body, code->p, code->n);
  b_u8(&body, OP_END);
  b_uleb(&m->code, body.n);
  b_put(&m->code, body.p, body.n);
  b_free(&body);
  b_free(code);
  uint32_t idx = m->nfunc++;
  if (name) m_export(m, name, ICX_EXT_FUNC, idx);
  return idx;
}

/* One element segment, raw encoding (flags byte first).  Consumes seg. */
static void m_elem(Mod *m, Buf *seg) {
  b_put(&m->elem, seg->p, seg->n);
  b_free(seg);
  m->nelem++;
}

static void put_section(Buf *out, uint8_t id, uint32_t count, Buf *content, int always) {
  if (count || always) {
    Buf s = {0};
    b_uleb(&s, count);
    b_put(&s, content->p, content->n);
    b_u8(out, id);
    b_uleb(out, s.n);
    b_put(out, s.p, s.n);
    b_free(&s);
  }
  b_free(content);
}

/* Assemble the module into out (and free the builder). */
static void m_finish(Mod *m, Buf *out) {
  static const uint8_t hdr[8] = {0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00};
  memset(out, 0, sizeof *out);
  b_put(out, hdr, sizeof hdr);
  put_section(out, 1, m->ntype, &m->type, 0);
  put_section(out, 2, m->nimport, &m->import, 0);
  put_section(out, 3, m->nfunc, &m->func, 0);
  put_section(out, 4, m->ndef_table, &m->table, 0);
  put_section(out, 6, m->ndef_global, &m->global, 0);
  put_section(out, 7, m->nexport, &m->export, 0);
  put_section(out, 9, m->nelem, &m->elem, 0);
  put_section(out, 10, m->nfunc, &m->code, 0);
}

/* ---- runtime helpers ----------------------------------------------------- */

typedef struct St {
  icxAllocator a;
  icxStore *s;
  icxExec *x;
  icxCompiled *compiled[64];
  int ncompiled;
  icxInstance *inst; /* the main module's instance (if set up) */
} St;

static icx_status compile(St *st, const Buf *mod, uint32_t feat, icxCompiled **out, char *msg) {
  icxErr err;
  memset(&err, 0, sizeof err);
  icxCompileOpts o;
  memset(&o, 0, sizeof o);
  *out = NULL;
  icx_status rc = icxRt_compile(&st->a, mod->p, mod->n, feat, &o, out, &err);
  if (msg) strcpy(msg, err.msg);
  if (rc == ICX_OK) {
    assert_non_null(*out);
    assert_true(st->ncompiled < 64);
    st->compiled[st->ncompiled++] = *out;
  }
  return rc;
}

static icxCompiled *compile_ok(St *st, const Buf *mod) {
  icxCompiled *c;
  char msg[ICX_ERRMSG_MAX];
  icx_status rc = compile(st, mod, ICX_FEAT_TABLE64, &c, msg);
  if (rc != ICX_OK) fail_msg("compile failed: %s: %s", icx_strerror(rc), msg);
  return c;
}

static icx_status instantiate(St *st, const icxCompiled *c, const icxExtern *imps, uint32_t n,
                              icxInstance **out, icxTrap *trap) {
  icxErr err;
  memset(&err, 0, sizeof err);
  *trap = ICX_TRAP_NONE;
  return icxRt_instantiate(st->s, c, st->x, imps, n, out, trap, &err);
}

static icxInstance *instantiate_ok(St *st, const icxCompiled *c, const icxExtern *imps,
                                   uint32_t n) {
  icxInstance *inst = NULL;
  icxTrap trap;
  icx_status rc = instantiate(st, c, imps, n, &inst, &trap);
  assert_int_equal(rc, ICX_OK);
  assert_int_equal(trap, ICX_TRAP_NONE);
  assert_non_null(inst);
  return inst;
}

static icxFuncInst *get_func(icxInstance *inst, const char *name) {
  icxExtern e;
  memset(&e, 0, sizeof e);
  if (icxRt_export(inst, name, strlen(name), &e) != ICX_OK) fail_msg("no export %s", name);
  assert_int_equal(e.kind, ICX_EXT_FUNC);
  return e.u.func;
}

#define ARGS(...)                                                                                  \
  (const uint64_t[]){__VA_ARGS__},                                                                 \
      (uint32_t)(sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))
#define NOARGS NULL, 0u

/* Call and require a normal return; the first result (0 if none). */
static uint64_t call_at(St *st, icxInstance *inst, const char *name, const uint64_t *args,
                        uint32_t n, int line) {
  icxRun r = icxExec_call(st->x, get_func(inst, name), args, n);
  if (r != ICX_RUN_DONE) {
    const char *m = icxExec_trap_msg(st->x);
    fail_msg("line %d: %s: run %d, trap %d (%s)", line, name, (int)r, (int)icxExec_trap(st->x),
             m ? m : "");
  }
  const icxFuncType *ft = icxFuncInst_type(get_func(inst, name));
  return ft->nresults ? icxExec_results(st->x)[0] : 0;
}

static void trap_at(St *st, icxInstance *inst, const char *name, const uint64_t *args, uint32_t n,
                    icxTrap want, int line) {
  icxRun r = icxExec_call(st->x, get_func(inst, name), args, n);
  if (r != ICX_RUN_TRAP) {
    const icxFuncType *ft = icxFuncInst_type(get_func(inst, name));
    fail_msg(
        "line %d: %s: expected trap %d, got run %d (result 0x%llx)", line, name, (int)want, (int)r,
        r == ICX_RUN_DONE && ft->nresults ? (unsigned long long)icxExec_results(st->x)[0] : 0ull);
  }
  if (icxExec_trap(st->x) != want)
    fail_msg("line %d: %s: expected trap %d, got trap %d (%s)", line, name, (int)want,
             (int)icxExec_trap(st->x), icxExec_trap_msg(st->x) ? icxExec_trap_msg(st->x) : "");
}

#define CALL(name, ...) call_at(st, st->inst, name, __VA_ARGS__, __LINE__)
#define TRAP(want, name, ...) trap_at(st, st->inst, name, __VA_ARGS__, want, __LINE__)
#define EQ(name, expect, ...) assert_int_equal(CALL(name, __VA_ARGS__), (uint64_t)(expect))

static const uint64_t NEG1 = UINT64_MAX;   /* table.grow failure, as i64 */
static const uint64_t G4 = 0x100000000ull; /* 2^32 */

/* ---- the main test module ------------------------------------------------ */

/* Functions 0..2 are the call targets: f_a () -> i32 10, f_b () -> i32 20,
 * f_c (i32) -> i32 (a different type).
 * Table 0: funcref, 64-bit (flags t0_flags), min 4 max 10, initialised by
 *          segment 0 at i64 offset 1: [null, f_a, f_b, f_c].
 * Table 1: funcref, 32-bit, min 4; segment 2 puts f_a at 0.
 * Table 2: externref, 64-bit, min 2, no max.
 * Segment 1: passive [f_b, f_a]. */
static void build_main(Buf *out, uint8_t t0_flags) {
  Mod m;
  memset(&m, 0, sizeof m);
  uint32_t t_v_I = m_type(&m, "", "I"), t_I_I = m_type(&m, "I", "I"), t_I_i = m_type(&m, "I", "i"),
           t_I_v = m_type(&m, "I", ""), t_II_v = m_type(&m, "II", ""),
           t_III_v = m_type(&m, "III", ""), t_Iii_v = m_type(&m, "Iii", ""),
           t_v_i = m_type(&m, "", "i"), t_v_v = m_type(&m, "", ""), t_i_i = m_type(&m, "i", "i"),
           t_iIi_v = m_type(&m, "iIi", ""), t_Ie_v = m_type(&m, "Ie", ""),
           t_I_e = m_type(&m, "I", "e"), t_eI_I = m_type(&m, "eI", "I");
  m_table(&m, T_FUNCREF, t0_flags, 4, 10);
  m_table(&m, T_FUNCREF, 0x00, 4, 0);
  m_table(&m, T_EXTERNREF, 0x04, 2, 0);
  Buf c = {0};

  i32c(&c, 10);
  m_func(&m, t_v_i, &c, NULL); /* 0 f_a */
  i32c(&c, 20);
  m_func(&m, t_v_i, &c, NULL); /* 1 f_b */
  lget(&c, 0);
  m_func(&m, t_i_i, &c, NULL); /* 2 f_c */

  op_fc1(&c, FC_TABLE_SIZE, 0);
  m_func(&m, t_v_I, &c, "size");
  ref_null(&c, T_FUNCREF);
  lget(&c, 0);
  op_fc1(&c, FC_TABLE_GROW, 0);
  m_func(&m, t_I_I, &c, "grow");
  lget(&c, 0);
  op_u(&c, OP_TABLE_GET, 0);
  op(&c, OP_REF_IS_NULL);
  m_func(&m, t_I_i, &c, "is_null");
  lget(&c, 0);
  op_u(&c, OP_REF_FUNC, 0);
  op_u(&c, OP_TABLE_SET, 0);
  m_func(&m, t_I_v, &c, "set_a");
  lget(&c, 0);
  ref_null(&c, T_FUNCREF);
  op_u(&c, OP_TABLE_SET, 0);
  m_func(&m, t_I_v, &c, "set_null");
  lget(&c, 0);
  op_u(&c, OP_REF_FUNC, 1);
  lget(&c, 1);
  op_fc1(&c, FC_TABLE_FILL, 0);
  m_func(&m, t_II_v, &c, "fill_b");
  lget(&c, 0);
  lget(&c, 1);
  lget(&c, 2);
  op_fc2(&c, FC_TABLE_COPY, 0, 0);
  m_func(&m, t_III_v, &c, "copy");
  lget(&c, 0);
  lget(&c, 1);
  lget(&c, 2);
  op_fc2(&c, FC_TABLE_INIT, 1, 0); /* segment 1, table 0 */
  m_func(&m, t_Iii_v, &c, "init");
  lget(&c, 0);
  op_u(&c, OP_CALL_INDIRECT, t_v_i);
  b_u8(&c, 0); /* table 0 */
  m_func(&m, t_I_i, &c, "call");
  op_fc1(&c, FC_ELEM_DROP, 1);
  m_func(&m, t_v_v, &c, "drop");
  lget(&c, 0);
  lget(&c, 1);
  lget(&c, 2);
  op_fc2(&c, FC_TABLE_COPY, 0, 1); /* dst table 0 (i64), src table 1 (i32) */
  m_func(&m, t_Iii_v, &c, "copy_32_to_64");
  lget(&c, 0);
  lget(&c, 1);
  lget(&c, 2);
  op_fc2(&c, FC_TABLE_COPY, 1, 0); /* dst table 1 (i32), src table 0 (i64) */
  m_func(&m, t_iIi_v, &c, "copy_64_to_32");
  lget(&c, 0);
  op_u(&c, OP_TABLE_GET, 1);
  op(&c, OP_REF_IS_NULL);
  m_func(&m, t_i_i, &c, "is_null32");
  lget(&c, 0);
  lget(&c, 1);
  op_u(&c, OP_TABLE_SET, 2);
  m_func(&m, t_Ie_v, &c, "ext_set");
  lget(&c, 0);
  op_u(&c, OP_TABLE_GET, 2);
  m_func(&m, t_I_e, &c, "ext_get");
  lget(&c, 0);
  lget(&c, 1);
  op_fc1(&c, FC_TABLE_GROW, 2);
  m_func(&m, t_eI_I, &c, "ext_grow");
  op_fc1(&c, FC_TABLE_SIZE, 2);
  m_func(&m, t_v_I, &c, "ext_size");
  lget(&c, 0);
  op_u(&c, OP_CALL_INDIRECT, t_v_i);
  b_u8(&c, 1); /* table 1 */
  m_func(&m, t_i_i, &c, "call32");

  Buf s = {0};
  b_u8(&s, 0x00); /* active, table 0, funcref vec */
  i64c(&s, 1);
  b_u8(&s, OP_END);
  b_uleb(&s, 3);
  b_uleb(&s, 0);
  b_uleb(&s, 1);
  b_uleb(&s, 2);
  m_elem(&m, &s);
  b_u8(&s, 0x01); /* passive, elemkind funcref */
  b_u8(&s, 0x00);
  b_uleb(&s, 2);
  b_uleb(&s, 1);
  b_uleb(&s, 0);
  m_elem(&m, &s);
  b_u8(&s, 0x02); /* active, explicit table 1, elemkind */
  b_uleb(&s, 1);
  i32c(&s, 0);
  b_u8(&s, OP_END);
  b_u8(&s, 0x00);
  b_uleb(&s, 1);
  b_uleb(&s, 0);
  m_elem(&m, &s);
  m_finish(&m, out);
}

static int setup(void **state) {
  St *st = calloc(1, sizeof *st);
  if (!st) return -1;
  st->a = icxCore_default_allocator();
  st->s = icxStore_new(&st->a);
  st->x = icxExec_new(&st->a);
  if (!st->s || !st->x) return -1;
  *state = st;
  return 0;
}

static int setup_main(void **state) {
  if (setup(state)) return -1;
  St *st = *state;
  Buf mod;
  build_main(&mod, 0x05);
  icxCompiled *c = compile_ok(st, &mod);
  b_free(&mod);
  st->inst = instantiate_ok(st, c, NULL, 0);
  return 0;
}

static int teardown(void **state) {
  St *st = *state;
  if (!st) return 0;
  if (st->x) icxExec_free(st->x);
  if (st->s) icxStore_free(st->s);
  for (int i = 0; i < st->ncompiled; i++) icxRt_compiled_free(st->compiled[i]);
  free(st);
  return 0;
}

/* ---- tests on the main module -------------------------------------------- */

static void test_size_grow(void **state) {
  St *st = *state;
  EQ("size", 4, NOARGS);
  EQ("grow", 4, ARGS(0));
  EQ("grow", 4, ARGS(2));
  EQ("size", 6, NOARGS);
  EQ("is_null", 1, ARGS(5)); /* grown with ref.null */
  EQ("grow", NEG1, ARGS(5)); /* 6 + 5 > max 10 */
  EQ("grow", NEG1, ARGS(G4));
  EQ("grow", NEG1, ARGS(G4 + 1));
  EQ("grow", NEG1, ARGS(UINT64_MAX));
  EQ("size", 6, NOARGS);
  EQ("grow", 6, ARGS(4));
  EQ("size", 10, NOARGS);
  EQ("grow", NEG1, ARGS(1));
  EQ("grow", 10, ARGS(0));
  EQ("size", 10, NOARGS);
}

static void test_get_set(void **state) {
  St *st = *state;
  EQ("is_null", 1, ARGS(0));
  EQ("is_null", 0, ARGS(1));
  EQ("is_null", 0, ARGS(3));
  CALL("set_a", ARGS(0));
  EQ("is_null", 0, ARGS(0));
  EQ("call", 10, ARGS(0));
  CALL("set_null", ARGS(0));
  EQ("is_null", 1, ARGS(0));
  TRAP(ICX_TRAP_TABLE_OOB, "is_null", ARGS(4));
  TRAP(ICX_TRAP_TABLE_OOB, "is_null", ARGS(G4));
  TRAP(ICX_TRAP_TABLE_OOB, "is_null", ARGS(G4 + 1));
  TRAP(ICX_TRAP_TABLE_OOB, "is_null", ARGS(UINT64_MAX));
  TRAP(ICX_TRAP_TABLE_OOB, "set_a", ARGS(4));
  TRAP(ICX_TRAP_TABLE_OOB, "set_a", ARGS(G4));        /* must not write entry 0 */
  TRAP(ICX_TRAP_TABLE_OOB, "set_null", ARGS(G4 + 1)); /* must not clear entry 1 */
  TRAP(ICX_TRAP_TABLE_OOB, "set_a", ARGS(UINT64_MAX));
  EQ("is_null", 1, ARGS(0));
  EQ("is_null", 0, ARGS(1));
}

static void test_call_indirect(void **state) {
  St *st = *state;
  EQ("call", 10, ARGS(1));
  EQ("call", 20, ARGS(2));
  TRAP(ICX_TRAP_INDIRECT_TYPE, "call", ARGS(3));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(0));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(4));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(G4));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(G4 + 1)); /* low bits: f_a */
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(G4 + 2));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(UINT64_MAX));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(0x8000000000000001ull));
  /* The 32-bit table next to it still works. */
  EQ("call32", 10, ARGS(0));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call32", ARGS(1));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call32", ARGS(4));
  /* After growing, the new slots are null, the index space is larger. */
  EQ("grow", 4, ARGS(2));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(5));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(6));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(G4 + 5));
}

static void test_fill(void **state) {
  St *st = *state;
  CALL("fill_b", ARGS(0, 2));
  EQ("call", 20, ARGS(0));
  EQ("call", 20, ARGS(1));
  EQ("call", 20, ARGS(2));
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(2, 3)); /* 2 + 3 > 4: nothing written */
  TRAP(ICX_TRAP_INDIRECT_TYPE, "call", ARGS(3));
  CALL("fill_b", ARGS(4, 0)); /* at the end, empty: fine */
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(5, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(G4, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(G4, 1));
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(G4 + 3, 1)); /* low bits: 3 */
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(3, G4 + 1)); /* count low bits: 1 */
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(1, UINT64_MAX));
  TRAP(ICX_TRAP_TABLE_OOB, "fill_b", ARGS(UINT64_MAX, 2)); /* dst + n wraps */
  TRAP(ICX_TRAP_INDIRECT_TYPE, "call", ARGS(3));
  CALL("fill_b", ARGS(3, 1));
  EQ("call", 20, ARGS(3));
}

static void test_copy(void **state) {
  St *st = *state;
  /* [null, f_a, f_b, f_c] -> copy(1, 0, 3) -> [null, null, f_a, f_b] */
  CALL("copy", ARGS(1, 0, 3));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(1));
  EQ("call", 10, ARGS(2));
  EQ("call", 20, ARGS(3));
  /* -> copy(0, 2, 2) -> [f_a, f_b, f_a, f_b] */
  CALL("copy", ARGS(0, 2, 2));
  EQ("call", 10, ARGS(0));
  EQ("call", 20, ARGS(1));
  CALL("copy", ARGS(4, 0, 0));
  CALL("copy", ARGS(0, 4, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(5, 0, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(0, 5, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(3, 0, 2));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(0, 3, 2));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(0, G4 + 1, 1));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(G4, 1, 1));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(1, 0, G4 + 1));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(1, 0, UINT64_MAX));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(UINT64_MAX, 0, 2));
  TRAP(ICX_TRAP_TABLE_OOB, "copy", ARGS(0, UINT64_MAX, 2));
  EQ("call", 10, ARGS(0)); /* unchanged by the traps */
  EQ("call", 20, ARGS(1));
  EQ("call", 10, ARGS(2));
  EQ("call", 20, ARGS(3));
}

static void test_copy_mixed(void **state) {
  St *st = *state;
  /* table 1 (i32) = [f_a, null, null, null] */
  CALL("copy_32_to_64", ARGS(3, 0, 1));
  EQ("call", 10, ARGS(3));
  CALL("copy_64_to_32", ARGS(1, 2, 1));
  EQ("call32", 20, ARGS(1));
  EQ("is_null32", 0, ARGS(1));
  TRAP(ICX_TRAP_TABLE_OOB, "copy_64_to_32", ARGS(0, G4 + 2, 1));
  TRAP(ICX_TRAP_TABLE_OOB, "copy_64_to_32", ARGS(2, 3, 2));
  TRAP(ICX_TRAP_TABLE_OOB, "copy_32_to_64", ARGS(G4, 0, 1));
  TRAP(ICX_TRAP_TABLE_OOB, "copy_32_to_64", ARGS(G4 + 2, 0, 1));
  TRAP(ICX_TRAP_TABLE_OOB, "copy_32_to_64", ARGS(3, 3, 2));
  EQ("call32", 10, ARGS(0));
  EQ("is_null32", 1, ARGS(2));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(0));
}

static void test_init_drop(void **state) {
  St *st = *state;
  /* segment 1 = [f_b, f_a] */
  CALL("init", ARGS(0, 0, 2));
  EQ("call", 20, ARGS(0));
  EQ("call", 10, ARGS(1));
  CALL("init", ARGS(3, 1, 1));
  EQ("call", 10, ARGS(3));
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(3, 0, 2));
  CALL("init", ARGS(4, 0, 0));
  CALL("init", ARGS(0, 2, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(5, 0, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(G4, 0, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(G4, 0, 1));
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(G4 + 2, 0, 2)); /* low bits fit */
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(0, 1, 2));
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(0, 3, 0));
  EQ("call", 20, ARGS(2)); /* entry 2 was f_b from the start */
  CALL("drop", NOARGS);
  TRAP(ICX_TRAP_TABLE_OOB, "init", ARGS(0, 0, 1));
  CALL("init", ARGS(0, 0, 0));
  CALL("drop", NOARGS); /* dropping twice is fine */
  EQ("call", 20, ARGS(0));
}

static void test_externref(void **state) {
  St *st = *state;
  EQ("ext_size", 2, NOARGS);
  EQ("ext_get", 0, ARGS(0));
  CALL("ext_set", ARGS(0, 43));
  EQ("ext_get", 43, ARGS(0));
  EQ("ext_get", 0, ARGS(1));
  TRAP(ICX_TRAP_TABLE_OOB, "ext_get", ARGS(2));
  TRAP(ICX_TRAP_TABLE_OOB, "ext_get", ARGS(G4));
  TRAP(ICX_TRAP_TABLE_OOB, "ext_set", ARGS(G4 + 1, 5));
  TRAP(ICX_TRAP_TABLE_OOB, "ext_set", ARGS(UINT64_MAX, 5));
  EQ("ext_get", 0, ARGS(1));
  EQ("ext_grow", NEG1, ARGS(7, G4));
  EQ("ext_grow", NEG1, ARGS(7, UINT64_MAX));
  EQ("ext_grow", 2, ARGS(7, 3));
  EQ("ext_size", 5, NOARGS);
  EQ("ext_get", 7, ARGS(2));
  EQ("ext_get", 7, ARGS(4));
  EQ("ext_get", 43, ARGS(0));
  EQ("ext_grow", 5, ARGS(9, 0));
  TRAP(ICX_TRAP_TABLE_OOB, "ext_get", ARGS(5));
}

/* ---- element segments with i64 offsets ----------------------------------- */

/* table64 (min tmin, no max), f_a, "call" (i64) -> i32; seg is the raw
 * element segment (flags byte first). */
static void build_elem_module(Buf *out, uint64_t tmin, Buf *seg, int import_global) {
  Mod m;
  memset(&m, 0, sizeof m);
  uint32_t t_v_i = m_type(&m, "", "i"), t_I_i = m_type(&m, "I", "i");
  if (import_global) m_import_global(&m, "env", "g", ICX_I64, 0);
  m_table(&m, T_FUNCREF, 0x04, tmin, 0);
  Buf c = {0};
  i32c(&c, 10);
  m_func(&m, t_v_i, &c, NULL);
  lget(&c, 0);
  op_u(&c, OP_CALL_INDIRECT, t_v_i);
  b_u8(&c, 0);
  m_func(&m, t_I_i, &c, "call");
  m_elem(&m, seg);
  m_finish(&m, out);
}

/* Segment flags 0: i64 offset, function indices. */
static void seg_funcs(Buf *s, int64_t off, uint32_t n) {
  b_u8(s, 0x00);
  i64c(s, off);
  b_u8(s, OP_END);
  b_uleb(s, n);
  for (uint32_t i = 0; i < n; i++) b_uleb(s, 0);
}

static void inst_trap(St *st, const Buf *mod, const icxExtern *imps, uint32_t n, icxTrap want) {
  icxCompiled *c = compile_ok(st, mod);
  icxInstance *inst = (icxInstance *)(uintptr_t)1;
  icxTrap trap;
  icx_status rc = instantiate(st, c, imps, n, &inst, &trap);
  assert_int_equal(rc, ICX_OK);
  assert_int_equal(trap, want);
  assert_null(inst);
}

static void test_elem_offsets(void **state) {
  St *st = *state;
  Buf mod, s = {0};

  seg_funcs(&s, 3, 1); /* offset 3 in a table of 4 */
  build_elem_module(&mod, 4, &s, 0);
  st->inst = instantiate_ok(st, compile_ok(st, &mod), NULL, 0);
  b_free(&mod);
  EQ("call", 10, ARGS(3));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(2));
  TRAP(ICX_TRAP_UNDEFINED_ELEMENT, "call", ARGS(G4 + 3));

  seg_funcs(&s, 4, 0); /* empty at the end: fine */
  build_elem_module(&mod, 4, &s, 0);
  instantiate_ok(st, compile_ok(st, &mod), NULL, 0);
  b_free(&mod);

  seg_funcs(&s, (int64_t)G4, 1); /* 2^32: out of bounds, not slot 0 */
  build_elem_module(&mod, 4, &s, 0);
  inst_trap(st, &mod, NULL, 0, ICX_TRAP_TABLE_OOB);
  b_free(&mod);

  seg_funcs(&s, (int64_t)G4, 0); /* even empty */
  build_elem_module(&mod, 4, &s, 0);
  inst_trap(st, &mod, NULL, 0, ICX_TRAP_TABLE_OOB);
  b_free(&mod);

  seg_funcs(&s, -1, 1); /* 2^64 - 1 */
  build_elem_module(&mod, 4, &s, 0);
  inst_trap(st, &mod, NULL, 0, ICX_TRAP_TABLE_OOB);
  b_free(&mod);

  seg_funcs(&s, 3, 2); /* 3 + 2 > 4 */
  build_elem_module(&mod, 4, &s, 0);
  inst_trap(st, &mod, NULL, 0, ICX_TRAP_TABLE_OOB);
  b_free(&mod);

  /* Flags 4: i64 offset, expressions [ref.func 0, ref.null func]. */
  b_u8(&s, 0x04);
  i64c(&s, 1);
  b_u8(&s, OP_END);
  b_uleb(&s, 2);
  op_u(&s, OP_REF_FUNC, 0);
  b_u8(&s, OP_END);
  ref_null(&s, T_FUNCREF);
  b_u8(&s, OP_END);
  build_elem_module(&mod, 3, &s, 0);
  st->inst = instantiate_ok(st, compile_ok(st, &mod), NULL, 0);
  b_free(&mod);
  EQ("call", 10, ARGS(1));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(2));

  /* Flags 6: explicit table 0, i64 offset, reftype, expressions. */
  b_u8(&s, 0x06);
  b_uleb(&s, 0);
  i64c(&s, 2);
  b_u8(&s, OP_END);
  b_u8(&s, T_FUNCREF);
  b_uleb(&s, 1);
  op_u(&s, OP_REF_FUNC, 0);
  b_u8(&s, OP_END);
  build_elem_module(&mod, 3, &s, 0);
  st->inst = instantiate_ok(st, compile_ok(st, &mod), NULL, 0);
  b_free(&mod);
  EQ("call", 10, ARGS(2));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(1));
}

static void test_elem_global_offset(void **state) {
  St *st = *state;
  Buf mod, s = {0};
  b_u8(&s, 0x00);
  op_u(&s, OP_GLOBAL_GET, 0);
  b_u8(&s, OP_END);
  b_uleb(&s, 1);
  b_uleb(&s, 0);
  build_elem_module(&mod, 4, &s, 1);
  icxCompiled *c = compile_ok(st, &mod);
  b_free(&mod);

  icxGlobalType gt = {ICX_I64, 0};
  icxExtern imp;
  imp.kind = ICX_EXT_GLOBAL;
  imp.u.global = icxStore_global(st->s, &gt, 2);
  assert_non_null(imp.u.global);
  st->inst = instantiate_ok(st, c, &imp, 1);
  EQ("call", 10, ARGS(2));
  TRAP(ICX_TRAP_UNINIT_ELEMENT, "call", ARGS(3));

  imp.u.global = icxStore_global(st->s, &gt, G4 + 2);
  assert_non_null(imp.u.global);
  icxInstance *inst = NULL;
  icxTrap trap;
  assert_int_equal(instantiate(st, c, &imp, 1, &inst, &trap), ICX_OK);
  assert_int_equal(trap, ICX_TRAP_TABLE_OOB);
  assert_null(inst);
}

/* ---- imports --------------------------------------------------------------- */

/* A module importing env.t as a table with the given flags/limits and
 * exporting "size" (table.size 0 with the matching result type). */
static void build_import_module(Buf *out, uint8_t flags, uint64_t min, uint64_t max) {
  Mod m;
  memset(&m, 0, sizeof m);
  int is64 = (flags & 0x04) != 0;
  uint32_t t = m_type(&m, "", is64 ? "I" : "i");
  m_import_table(&m, "env", "t", T_FUNCREF, flags, min, max);
  Buf c = {0};
  op_fc1(&c, FC_TABLE_SIZE, 0);
  m_func(&m, t, &c, "size");
  m_finish(&m, out);
}

static void test_import(void **state) {
  St *st = *state;
  icxTableType tt;
  memset(&tt, 0, sizeof tt);
  tt.elem_type = ICX_FUNCREF;
  tt.lim.min = 2;
  tt.lim.max = 5;
  tt.lim.has_max = 1;
  tt.lim.is64 = 1;
  icxExtern t64 = {.kind = ICX_EXT_TABLE};
  t64.u.table = icxStore_table(st->s, &tt, 0);
  assert_non_null(t64.u.table);
  assert_int_equal(icxTableInst_size(t64.u.table), 2);
  tt.lim.is64 = 0;
  icxExtern t32 = {.kind = ICX_EXT_TABLE};
  t32.u.table = icxStore_table(st->s, &tt, 0);
  assert_non_null(t32.u.table);

  Buf mod;
  build_import_module(&mod, 0x05, 2, 5);
  icxCompiled *c64 = compile_ok(st, &mod);
  b_free(&mod);
  st->inst = instantiate_ok(st, c64, &t64, 1);
  EQ("size", 2, NOARGS);

  build_import_module(&mod, 0x04, 1, 0); /* looser limits: fine */
  st->inst = instantiate_ok(st, compile_ok(st, &mod), &t64, 1);
  b_free(&mod);
  EQ("size", 2, NOARGS);

  icxInstance *inst = NULL;
  icxTrap trap;
  /* a 32-bit table where a 64-bit one is imported, and the reverse */
  assert_int_equal(instantiate(st, c64, &t32, 1, &inst, &trap), ICX_EUNLINKABLE);
  build_import_module(&mod, 0x01, 2, 5);
  icxCompiled *c32 = compile_ok(st, &mod);
  b_free(&mod);
  assert_int_equal(instantiate(st, c32, &t64, 1, &inst, &trap), ICX_EUNLINKABLE);
  st->inst = instantiate_ok(st, c32, &t32, 1);
  EQ("size", 2, NOARGS);
  /* limits mismatch on a 64-bit import: min 3 > 2 */
  build_import_module(&mod, 0x04, 3, 0);
  icxCompiled *cmin = compile_ok(st, &mod);
  b_free(&mod);
  assert_int_equal(instantiate(st, cmin, &t64, 1, &inst, &trap), ICX_EUNLINKABLE);
}

/* ---- validation ------------------------------------------------------------ */

/* One-function modules; good selects the valid variant of each case so that
 * each failure is known to come from the index type alone. */
enum {
  V_GET_I32 = 0,   /* table.get with an i32 index on a table64 */
  V_SET_I32,       /* table.set with an i32 index */
  V_CALL_I32,      /* call_indirect with an i32 index */
  V_SIZE_I32,      /* table.size result used as i32 */
  V_GROW_I32,      /* table.grow with an i32 delta */
  V_GROW_RES_I32,  /* table.grow result used as i32 */
  V_FILL_I32,      /* table.fill with an i32 destination */
  V_FILL_N_I32,    /* table.fill with an i32 count */
  V_COPY_N_I64,    /* table.copy 64<-32 with an i64 count (must be i32) */
  V_COPY_DST_I32,  /* table.copy 64<-64 with an i32 destination */
  V_INIT_DST_I32,  /* table.init with an i32 destination */
  V_INIT_SRC_I64,  /* table.init with an i64 segment offset */
  V_ELEM_OFF_I32,  /* active segment with an i32.const offset */
  V_GET_I64_ON_32, /* table.get with an i64 index on a 32-bit table */
  V_LIMITS,        /* table64 with min > max */
  V_COUNT
};

static const char *const v_names[V_COUNT] = {
    "table.get i32 index",       "table.set i32 index",      "call_indirect i32 index",
    "table.size as i32",         "table.grow i32 delta",     "table.grow result as i32",
    "table.fill i32 dst",        "table.fill i32 count",     "table.copy i64 count 64<-32",
    "table.copy i32 dst 64<-64", "table.init i32 dst",       "table.init i64 src",
    "elem i32.const offset",     "table.get i64 on table32", "table64 min > max",
};

static void build_valid_case(Buf *out, int which, int good) {
  Mod m;
  memset(&m, 0, sizeof m);
  uint32_t t_v_v = m_type(&m, "", "");
  uint32_t t_v_i = m_type(&m, "", "i");
  uint32_t t_v_I = m_type(&m, "", "I");
  if (which == V_GET_I64_ON_32)
    m_table(&m, T_FUNCREF, 0x00, 1, 0);
  else if (which == V_LIMITS)
    m_table(&m, T_FUNCREF, 0x05, good ? 2 : 5, good ? 5 : 2);
  else
    m_table(&m, T_FUNCREF, 0x04, 1, 0);
  if (which == V_COPY_N_I64) m_table(&m, T_FUNCREF, 0x00, 1, 0); /* table 1: 32-bit */
  Buf c = {0};
  uint32_t ftype = t_v_v;
  switch (which) {
  case V_GET_I32:
    if (good)
      i64c(&c, 0);
    else
      i32c(&c, 0);
    op_u(&c, OP_TABLE_GET, 0);
    op(&c, OP_DROP);
    break;
  case V_SET_I32:
    if (good)
      i64c(&c, 0);
    else
      i32c(&c, 0);
    ref_null(&c, T_FUNCREF);
    op_u(&c, OP_TABLE_SET, 0);
    break;
  case V_CALL_I32:
    ftype = t_v_i;
    if (good)
      i64c(&c, 0);
    else
      i32c(&c, 0);
    op_u(&c, OP_CALL_INDIRECT, t_v_i);
    b_u8(&c, 0);
    break;
  case V_SIZE_I32:
    ftype = good ? t_v_I : t_v_i;
    op_fc1(&c, FC_TABLE_SIZE, 0);
    break;
  case V_GROW_I32:
    ref_null(&c, T_FUNCREF);
    if (good)
      i64c(&c, 1);
    else
      i32c(&c, 1);
    op_fc1(&c, FC_TABLE_GROW, 0);
    op(&c, OP_DROP);
    break;
  case V_GROW_RES_I32:
    ftype = good ? t_v_I : t_v_i;
    ref_null(&c, T_FUNCREF);
    i64c(&c, 1);
    op_fc1(&c, FC_TABLE_GROW, 0);
    break;
  case V_FILL_I32:
    if (good)
      i64c(&c, 0);
    else
      i32c(&c, 0);
    ref_null(&c, T_FUNCREF);
    i64c(&c, 1);
    op_fc1(&c, FC_TABLE_FILL, 0);
    break;
  case V_FILL_N_I32:
    i64c(&c, 0);
    ref_null(&c, T_FUNCREF);
    if (good)
      i64c(&c, 1);
    else
      i32c(&c, 1);
    op_fc1(&c, FC_TABLE_FILL, 0);
    break;
  case V_COPY_N_I64:
    i64c(&c, 0); /* dst: table 0, i64 */
    i32c(&c, 0); /* src: table 1, i32 */
    if (good)
      i32c(&c, 1);
    else
      i64c(&c, 1);
    op_fc2(&c, FC_TABLE_COPY, 0, 1);
    break;
  case V_COPY_DST_I32:
    if (good)
      i64c(&c, 0);
    else
      i32c(&c, 0);
    i64c(&c, 0);
    i64c(&c, 1);
    op_fc2(&c, FC_TABLE_COPY, 0, 0);
    break;
  case V_INIT_DST_I32:
    if (good)
      i64c(&c, 0);
    else
      i32c(&c, 0);
    i32c(&c, 0);
    i32c(&c, 0);
    op_fc2(&c, FC_TABLE_INIT, 0, 0);
    break;
  case V_INIT_SRC_I64:
    i64c(&c, 0);
    if (good)
      i32c(&c, 0);
    else
      i64c(&c, 0);
    i32c(&c, 0);
    op_fc2(&c, FC_TABLE_INIT, 0, 0);
    break;
  case V_ELEM_OFF_I32: break;
  case V_GET_I64_ON_32:
    if (good)
      i32c(&c, 0);
    else
      i64c(&c, 0);
    op_u(&c, OP_TABLE_GET, 0);
    op(&c, OP_DROP);
    break;
  case V_LIMITS: break;
  default: fail();
  }
  m_func(&m, ftype, &c, "f");
  Buf s = {0};
  if (which == V_INIT_DST_I32 || which == V_INIT_SRC_I64) {
    b_u8(&s, 0x01); /* passive segment 0: [f] */
    b_u8(&s, 0x00);
    b_uleb(&s, 1);
    b_uleb(&s, 0);
    m_elem(&m, &s);
  } else if (which == V_ELEM_OFF_I32) {
    b_u8(&s, 0x00);
    if (good)
      i64c(&s, 0);
    else
      i32c(&s, 0);
    b_u8(&s, OP_END);
    b_uleb(&s, 1);
    b_uleb(&s, 0);
    m_elem(&m, &s);
  }
  m_finish(&m, out);
}

static void test_validation(void **state) {
  St *st = *state;
  for (int i = 0; i < V_COUNT; i++) {
    for (int good = 1; good >= 0; good--) {
      Buf mod;
      build_valid_case(&mod, i, good);
      icxCompiled *c;
      char msg[ICX_ERRMSG_MAX];
      icx_status rc = compile(st, &mod, ICX_FEAT_TABLE64, &c, msg);
      b_free(&mod);
      if (good && rc != ICX_OK)
        fail_msg("%s (valid variant): %s: %s", v_names[i], icx_strerror(rc), msg);
      if (!good && rc != ICX_EINVALID)
        fail_msg("%s: expected ICX_EINVALID, got %s: %s", v_names[i], icx_strerror(rc), msg);
    }
  }
}

/* Without ICX_FEAT_TABLE64 a 64-bit table does not decode (limits flag 0x04
 * is unknown), whatever else is enabled; with it, it does. */
static void test_feature_flag(void **state) {
  St *st = *state;
  Buf mod;
  build_main(&mod, 0x05);
  icxCompiled *c;
  char msg[ICX_ERRMSG_MAX];
  icx_status rc = compile(st, &mod, 0, &c, msg);
  assert_true(rc == ICX_EMALFORMED || rc == ICX_EINVALID);
  rc = compile(st, &mod, ICX_FEAT_MEMORY64, &c, msg);
  assert_true(rc == ICX_EMALFORMED || rc == ICX_EINVALID);
  assert_int_equal(compile(st, &mod, ICX_FEAT_TABLE64, &c, msg), ICX_OK);
  assert_int_equal(compile(st, &mod, ICX_FEAT_TABLE64 | ICX_FEAT_MEMORY64, &c, msg), ICX_OK);

  icxModule *m = NULL;
  icxErr err;
  memset(&err, 0, sizeof err);
  assert_int_not_equal(icxWasm_decode(&st->a, mod.p, mod.n, 0, &m, &err), ICX_OK);
  assert_null(m);
  assert_int_equal(icxWasm_decode(&st->a, mod.p, mod.n, ICX_FEAT_TABLE64, &m, &err), ICX_OK);
  assert_non_null(m);
  assert_int_equal(m->ntables_total, 3);
  assert_true(m->tables[0].lim.is64);
  assert_true(m->tables[0].lim.has_max);
  assert_int_equal(m->tables[0].lim.min, 4);
  assert_int_equal(m->tables[0].lim.max, 10);
  assert_false(m->tables[1].lim.is64);
  assert_true(m->tables[2].lim.is64);
  assert_false(m->tables[2].lim.has_max);
  assert_int_equal(icxWasm_validate(m, &err), ICX_OK);
  icxWasm_module_free(m);
  b_free(&mod);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_size_grow, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_get_set, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_call_indirect, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_fill, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_copy, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_copy_mixed, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_init_drop, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_externref, setup_main, teardown),
      cmocka_unit_test_setup_teardown(test_elem_offsets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_elem_global_offset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_import, setup, teardown),
      cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_feature_flag, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
