/* comp_func.c -- validated Wasm function bodies to internal slot code.
 *
 * The operand stack of Wasm becomes fixed frame slots: stack position i
 * lives in slot base+i (base = params + locals), so every internal
 * instruction names its operands and destination directly and no value is
 * pushed or popped at run time.  The compiler keeps a virtual stack whose
 * entries may be deferred: a local.get or a constant is not copied until
 * something needs it in its canonical slot, so `local.get a; local.get b;
 * i32.add; local.set c` becomes one ADD c, a, b.  Comparisons followed by
 * br_if / if fuse into compare-and-branch instructions.
 *
 * Invariants that make deferral sound:
 *  - at the entry of block/loop/if every entry is materialised, so entries
 *    below a label never change between the label's entry and its branches;
 *  - before a local is written, every deferred read of it is materialised
 *    (a per-local chain finds them in O(refs));
 *  - a retarget (writing a result straight into a local) happens only when
 *    no other entry refers to that local.
 * The input must have passed icxWasm_validate: malformed bodies are an
 * internal error here, never undefined behaviour. */
#include "comp.h"

#define NONE UINT32_MAX

/* Constants used as operands get read-only frame slots, filled on entry
 * (at most this many per function; the rest are materialised in place). */
#ifndef ICX_POOL_MAX
#define ICX_POOL_MAX 32
#endif

enum { K_STACK = 0, K_LOCAL = 1, K_CONST = 2 };

typedef struct VEnt {
  uint8_t kind;
  uint32_t loc;      /* K_LOCAL: the local's slot */
  uint32_t prev_ref; /* K_LOCAL: next lower entry reading the same local */
  uint64_t cval;     /* K_CONST: bits */
} VEnt;

enum { C_FUNC, C_BLOCK, C_LOOP, C_IF, C_ELSE };

typedef struct Ctl {
  uint8_t kind;
  uint8_t used;      /* a branch targets the end label */
  uint32_t height;   /* stack height below the params */
  uint32_t nparams, nresults;
  uint32_t loop_pc;  /* C_LOOP: code index of the label */
  uint32_t fixups;   /* chain of offset words to patch with the end label */
  uint32_t else_fix; /* C_IF: the offset word of the jump to the else arm */
} Ctl;

typedef struct Comp {
  const icxModule *m;
  const icxAllocator *A;
  const icxCompileOpts *opts;
  icxReader r;
  int oom, bad;
  uint32_t *code;
  uint32_t ncode, capcode;
  VEnt *vs;
  uint32_t nvs, capvs;
  Ctl *cs;
  uint32_t ncs, capcs;
  uint32_t *ref_head; /* per local: topmost entry reading it */
  uint8_t *written;   /* per local: set since the function started */
  int prefix;         /* still in the straight-line start of the body */
  uint32_t nparams;
  uint32_t nslots_local;
  uint32_t base;
  uint32_t maxh;
  uint32_t low; /* entries below this index are all K_STACK */
  int dead;
  uint32_t dead_depth;
  uint32_t cand; /* code index of the last op whose d (at cand+1) is the fresh top */
  uint32_t cand_saved;
  /* constant pool: frame slots [pool_base, pool_base + npool) */
  uint64_t pool[ICX_POOL_MAX];
  uint32_t npool, pool_base;
  int pool_frozen;
  /* metering */
  int meter;
  int fuse; /* ICX_COMPILE_FUSE_COUNTER */
  uint32_t counter, ooi;
  uint32_t meter_word;
  uint64_t meter_cost;
  uint32_t scratch[8];
} Comp;

/* ---- emission ------------------------------------------------------------ */

static uint32_t *emit(Comp *c, uint32_t n) {
  c->cand = NONE;
  if (c->ncode + n > c->capcode) {
    uint32_t ncap = c->capcode ? c->capcode * 2 : 256;
    while (ncap < c->ncode + n) ncap *= 2;
    uint32_t *p = icxCore_realloc(c->A, c->code, (size_t)c->capcode * 4, (size_t)ncap * 4);
    if (!p) {
      c->oom = 1;
      return c->scratch;
    }
    c->code = p;
    c->capcode = ncap;
  }
  uint32_t *w = c->code + c->ncode;
  c->ncode += n;
  return w;
}
static uint32_t pos(const Comp *c) { return c->ncode; }

static void emit1(Comp *c, uint32_t op) { emit(c, 1)[0] = op; }
static void emit2(Comp *c, uint32_t op, uint32_t x) {
  uint32_t *w = emit(c, 2);
  w[0] = op, w[1] = x;
}
static void emit3(Comp *c, uint32_t op, uint32_t x, uint32_t y) {
  uint32_t *w = emit(c, 3);
  w[0] = op, w[1] = x, w[2] = y;
}
static void emit4(Comp *c, uint32_t op, uint32_t x, uint32_t y, uint32_t z) {
  uint32_t *w = emit(c, 4);
  w[0] = op, w[1] = x, w[2] = y, w[3] = z;
}
static void emit5(Comp *c, uint32_t op, uint32_t x, uint32_t y, uint32_t z, uint32_t v) {
  uint32_t *w = emit(c, 5);
  w[0] = op, w[1] = x, w[2] = y, w[3] = z, w[4] = v;
}

/* Branch offsets: a word at index w holding (target - w).  Forward branches
 * chain through the offset words until their label is bound. */
static void link_fixup(Comp *c, uint32_t *chain, uint32_t word) {
  if (c->oom) return;
  c->code[word] = *chain;
  *chain = word;
}
static void bind_chain(Comp *c, uint32_t chain, uint32_t target) {
  while (chain != NONE && !c->oom) {
    uint32_t next = c->code[chain];
    c->code[chain] = target - chain;
    chain = next;
  }
}
static void set_back(Comp *c, uint32_t word, uint32_t target) {
  if (!c->oom) c->code[word] = target - word;
}

/* ---- metering ------------------------------------------------------------ */

static uint32_t default_cost(uint32_t opcode, uint8_t mem64) {
  (void)mem64;
  switch (opcode) {
  case 0x02: case 0x03: case 0x05: case 0x0b: return 0;
  default: return 1;
  }
}
static void meter_close(Comp *c) {
  if (!c->meter || c->meter_word == NONE) return;
  if (!c->oom) c->code[c->meter_word] = c->meter_cost > UINT32_MAX ? UINT32_MAX : (uint32_t)c->meter_cost;
  c->meter_word = NONE;
}
static void meter_open(Comp *c, int reentrant, uint64_t initial) {
  if (!c->meter) return;
  meter_close(c);
  emit2(c, reentrant ? ICX_OP_METER : ICX_OP_METER_NC, 0);
  c->meter_word = pos(c) - 1;
  c->meter_cost = initial;
}
static void meter_add(Comp *c, uint32_t opcode) {
  if (!c->meter || c->meter_word == NONE) return;
  icxCostFn f = c->opts && c->opts->cost ? c->opts->cost : default_cost;
  uint8_t mem64 = c->m->nmems_total && c->m->mems[0].lim.is64;
  c->meter_cost += f(opcode, mem64);
}

/* Instrumented modules (ICX_COMPILE_FUSE_COUNTER): called right after
 * `global.get C` was read.  If the instrumentation's charge sequence
 *   global.get C  i64.const k  i64.sub  global.set C
 * follows, optionally with its check
 *   global.get C  i64.const 0  i64.lt_s  if (empty)  call OOI  end
 * consume it and emit one METER k (with the check) or METER_NC k.  The
 * check calls out_of_instructions exactly when the counter is negative,
 * which is what METER does (trap, or suspend so that the host refills the
 * counter and resumes).  Returns 0, consuming nothing, on any mismatch:
 * the code then runs as written, with the counter in the fuel register. */
static int rd_byte_is(icxReader *r, uint8_t want) {
  uint8_t b;
  return icxRd_u8(r, &b) == 0 && b == want;
}
static int rd_u32_is(icxReader *r, uint32_t want) {
  uint32_t v;
  return icxRd_u32(r, &v) == 0 && v == want;
}
static int fuse_counter(Comp *c) {
  icxReader r = c->r;
  int64_t k, z;
  if (!rd_byte_is(&r, 0x42) || icxRd_s64(&r, &k) || k < 0 || k > (int64_t)UINT32_MAX) return 0;
  if (!rd_byte_is(&r, 0x7d) || !rd_byte_is(&r, 0x24) || !rd_u32_is(&r, c->counter)) return 0;
  c->r = r;
  int check = rd_byte_is(&r, 0x23) && rd_u32_is(&r, c->counter) && rd_byte_is(&r, 0x42) &&
              icxRd_s64(&r, &z) == 0 && z == 0 && rd_byte_is(&r, 0x53) && rd_byte_is(&r, 0x04) &&
              rd_byte_is(&r, 0x40) && rd_byte_is(&r, 0x10) && rd_u32_is(&r, c->ooi) &&
              rd_byte_is(&r, 0x0b);
  if (check) c->r = r;
  emit2(c, check ? ICX_OP_METER : ICX_OP_METER_NC, (uint32_t)k);
  return 1;
}

/* ---- virtual stack -------------------------------------------------------- */

static VEnt *push(Comp *c) {
  if (c->nvs == c->capvs) {
    uint32_t ncap = c->capvs ? c->capvs * 2 : 64;
    VEnt *p = icxCore_realloc(c->A, c->vs, sizeof(VEnt) * c->capvs, sizeof(VEnt) * ncap);
    if (!p) {
      c->oom = 1;
      return NULL;
    }
    c->vs = p;
    c->capvs = ncap;
  }
  VEnt *e = &c->vs[c->nvs++];
  e->kind = K_STACK;
  e->loc = 0;
  e->prev_ref = NONE;
  e->cval = 0;
  if (c->nvs > c->maxh) c->maxh = c->nvs;
  return e;
}
static uint32_t canon(const Comp *c, uint32_t i) { return c->base + i; }

/* Push a fresh K_STACK entry and return its slot. */
static uint32_t push_slot(Comp *c) {
  push(c);
  return canon(c, c->nvs ? c->nvs - 1 : 0);
}

static void push_local(Comp *c, uint32_t loc) {
  VEnt *e = push(c);
  if (!e) return;
  e->kind = K_LOCAL;
  e->loc = loc;
  if (c->low > c->nvs - 1) c->low = c->nvs - 1;
  e->prev_ref = c->ref_head[loc];
  c->ref_head[loc] = c->nvs - 1;
}
static void push_const(Comp *c, uint64_t v) {
  VEnt *e = push(c);
  if (!e) return;
  e->kind = K_CONST;
  e->cval = v;
  if (c->low > c->nvs - 1) c->low = c->nvs - 1;
}

/* Remove entry i from its local's reference chain. */
static void unlink_ref(Comp *c, uint32_t i) {
  VEnt *e = &c->vs[i];
  uint32_t *link = &c->ref_head[e->loc];
  while (*link != NONE && *link != i) link = &c->vs[*link].prev_ref;
  if (*link == i) *link = e->prev_ref;
}
static void pop(Comp *c, uint32_t n) {
  while (n-- && c->nvs) {
    uint32_t i = c->nvs - 1;
    if (c->vs[i].kind == K_LOCAL) unlink_ref(c, i);
    c->nvs--;
  }
}

/* Copy entry i into slot d (no change to the entry). */
static void copy_to(Comp *c, uint32_t i, uint32_t d) {
  VEnt *e = &c->vs[i];
  if (e->kind == K_LOCAL) {
    if (e->loc != d) emit3(c, ICX_OP_MOV, d, e->loc);
  } else if (e->kind == K_CONST) {
    if (e->cval >> 32)
      emit4(c, ICX_OP_CONST64, d, (uint32_t)e->cval, (uint32_t)(e->cval >> 32));
    else
      emit3(c, ICX_OP_CONST32, d, (uint32_t)e->cval);
  } else if (canon(c, i) != d) {
    emit3(c, ICX_OP_MOV, d, canon(c, i));
  }
}
/* Put entry i's value into its canonical slot. */
static void materialize(Comp *c, uint32_t i) {
  VEnt *e = &c->vs[i];
  if (e->kind == K_STACK) return;
  copy_to(c, i, canon(c, i));
  if (e->kind == K_LOCAL) unlink_ref(c, i);
  e->kind = K_STACK;
}
static void materialize_top(Comp *c, uint32_t n) {
  for (uint32_t k = 0; k < n && k < c->nvs; k++) materialize(c, c->nvs - 1 - k);
}
/* Materialise every entry below index `end`.  The watermark keeps this
 * linear overall: each deferred entry is visited once. */
static void materialize_below(Comp *c, uint32_t end) {
  for (uint32_t i = end; i-- > c->low;) materialize(c, i);
  if (c->low < end) c->low = end;
}
static void materialize_all(Comp *c) { materialize_below(c, c->nvs); }

/* A slot holding entry i's value (a local, or its canonical slot). */
/* The constant pool slot holding v (added if there is room), or NONE. */
static uint32_t pool_slot(Comp *c, uint64_t v) {
  for (uint32_t k = 0; k < c->npool; k++)
    if (c->pool[k] == v) return c->pool_base + k;
  if (!c->pool_frozen && c->npool < ICX_POOL_MAX) {
    c->pool[c->npool] = v;
    return c->pool_base + c->npool++;
  }
  return NONE;
}

static uint32_t src(Comp *c, uint32_t i) {
  VEnt *e = &c->vs[i];
  if (e->kind == K_LOCAL) return e->loc;
  if (e->kind == K_CONST) {
    /* constants read as operands live in the frame's constant pool */
    uint32_t s = pool_slot(c, e->cval);
    if (s != NONE) return s;
    materialize(c, i);
  }
  return canon(c, i);
}
static uint32_t src_top(Comp *c, uint32_t k) { return src(c, c->nvs - 1 - k); }

/* ---- helpers for ops ----------------------------------------------------- */

static void mark_cand(Comp *c, uint32_t op_pos) { c->cand = op_pos; }

static void op_unary(Comp *c, uint32_t op) {
  uint32_t a = src_top(c, 0);
  pop(c, 1);
  uint32_t d = push_slot(c);
  uint32_t p = pos(c);
  emit3(c, op, d, a);
  mark_cand(c, p);
}
static void op_binary(Comp *c, uint32_t op) {
  uint32_t a = src_top(c, 1);
  uint32_t b = src_top(c, 0);
  pop(c, 2);
  uint32_t d = push_slot(c);
  uint32_t p = pos(c);
  emit4(c, op, d, a, b);
  mark_cand(c, p);
}
/* Binary op with a slot/immediate form when the right operand is constant. */
static void op_binary_si(Comp *c, uint32_t op_ss, uint32_t op_si, int is64) {
  VEnt *rb = &c->vs[c->nvs - 1];
  if (rb->kind == K_CONST && (!is64 || (int64_t)rb->cval == (int64_t)(int32_t)rb->cval)) {
    uint32_t imm = (uint32_t)rb->cval;
    pop(c, 1);
    uint32_t a = src_top(c, 0);
    pop(c, 1);
    uint32_t d = push_slot(c);
    uint32_t p = pos(c);
    emit4(c, op_si, d, a, imm);
    mark_cand(c, p);
  } else {
    op_binary(c, op_ss);
  }
}

/* Fused conditional branch tables. */
static int fused_branch(uint32_t op, int negate) {
  switch (op) {
#define BRC_CASE(N, NN)                                                                            \
  case ICX_OP_##N##32_ss: return negate ? ICX_OP_BR_##NN##32_ss : ICX_OP_BR_##N##32_ss;            \
  case ICX_OP_##N##64_ss: return negate ? ICX_OP_BR_##NN##64_ss : ICX_OP_BR_##N##64_ss;            \
  case ICX_OP_##N##32_si: return negate ? ICX_OP_BR_##NN##32_si : ICX_OP_BR_##N##32_si;            \
  case ICX_OP_##N##64_si: return negate ? ICX_OP_BR_##NN##64_si : ICX_OP_BR_##N##64_si;
    BRC_CASE(EQ, NE)
    BRC_CASE(NE, EQ)
    BRC_CASE(LTS, GES)
    BRC_CASE(GES, LTS)
    BRC_CASE(LTU, GEU)
    BRC_CASE(GEU, LTU)
    BRC_CASE(GTS, LES)
    BRC_CASE(LES, GTS)
    BRC_CASE(GTU, LEU)
    BRC_CASE(LEU, GTU)
#undef BRC_CASE
  case ICX_OP_EQZ32: return negate ? ICX_OP_BR_NZ32 : ICX_OP_BR_Z32;
  case ICX_OP_EQZ64: return negate ? ICX_OP_BR_NZ64 : ICX_OP_BR_Z64;
  default: return -1;
  }
}

/* Pop the i32 condition and emit "branch if (cond != 0) != negate".
 * Returns the index of the offset word. */
static uint32_t emit_cond_branch(Comp *c, int negate) {
  uint32_t top = c->nvs - 1;
  if (c->cand != NONE && !c->oom && c->vs[top].kind == K_STACK &&
      c->code[c->cand + 1] == canon(c, top)) {
    uint32_t at = c->cand;
    uint32_t op = c->code[at];
    int br = fused_branch(op, negate);
    if (br >= 0) {
      pop(c, 1);
      c->cand = NONE;
      if (op == ICX_OP_EQZ32 || op == ICX_OP_EQZ64) { /* [op d a] -> [br a o] */
        c->code[at] = (uint32_t)br;
        c->code[at + 1] = c->code[at + 2];
        return at + 2;
      }
      /* [op d a b] -> [br a b o] */
      c->code[at] = (uint32_t)br;
      c->code[at + 1] = c->code[at + 2];
      c->code[at + 2] = c->code[at + 3];
      return at + 3;
    }
  }
  uint32_t a = src_top(c, 0);
  pop(c, 1);
  emit3(c, negate ? ICX_OP_BR_Z32 : ICX_OP_BR_NZ32, a, 0);
  return pos(c) - 1;
}

/* Fold an i32.add that computed the address (entry i, just emitted) into
 * the memory access: [ADD d a b] + load -> [LD_A d a b off];
 * store -> [ST_A a b v off].  Returns 1 if done (code already emitted). */
static int fuse_address(Comp *c, uint32_t i, uint32_t op_m32, uint32_t off) {
  if (c->cand == NONE || c->oom || c->vs[i].kind != K_STACK) return 0;
  uint32_t at = c->cand, add = c->code[at];
  if ((add != ICX_OP_ADD32_ss && add != ICX_OP_ADD32_si) || c->code[at + 1] != canon(c, i)) return 0;
  int is_store = i != c->nvs - 1;
  uint32_t v = 0;
  if (is_store) {
    VEnt *e = &c->vs[c->nvs - 1];
    if (e->kind == K_CONST) {
      v = pool_slot(c, e->cval);
      if (v == NONE) return 0; /* would emit a CONST after the add */
    } else {
      v = e->kind == K_LOCAL ? e->loc : canon(c, c->nvs - 1);
    }
  }
  uint32_t fused = op_m32 + (add == ICX_OP_ADD32_ss ? 2u : 3u);
  uint32_t d = c->code[at + 1], a = c->code[at + 2], b = c->code[at + 3];
  uint32_t *w = emit(c, 1); /* grow by one word; the op stays at `at` */
  if (c->oom) return 1;
  (void)w;
  w = c->code + at;
  if (is_store) {
    w[0] = fused, w[1] = a, w[2] = b, w[3] = v, w[4] = off;
  } else {
    w[0] = fused, w[1] = d, w[2] = a, w[3] = b, w[4] = off;
  }
  c->cand_saved = at;
  return 1;
}

/* ---- control -------------------------------------------------------------- */

static int push_ctl(Comp *c, uint8_t kind, uint32_t np, uint32_t nr) {
  if (c->ncs == c->capcs) {
    uint32_t ncap = c->capcs ? c->capcs * 2 : 16;
    Ctl *p = icxCore_realloc(c->A, c->cs, sizeof(Ctl) * c->capcs, sizeof(Ctl) * ncap);
    if (!p) {
      c->oom = 1;
      return -1;
    }
    c->cs = p;
    c->capcs = ncap;
  }
  Ctl *t = &c->cs[c->ncs++];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->nparams = np;
  t->nresults = nr;
  t->height = c->nvs >= np ? c->nvs - np : 0;
  t->fixups = NONE;
  t->else_fix = NONE;
  t->loop_pc = NONE;
  return 0;
}

/* The values a branch to label l carries, and where they go. */
static uint32_t label_arity(const Ctl *t) { return t->kind == C_LOOP ? t->nparams : t->nresults; }

static int needs_moves(const Comp *c, const Ctl *t) {
  uint32_t n = label_arity(t);
  for (uint32_t j = 0; j < n; j++) {
    uint32_t i = c->nvs - n + j;
    if (c->vs[i].kind != K_STACK || i != t->height + j) return 1;
  }
  return 0;
}
static void emit_moves(Comp *c, const Ctl *t) {
  uint32_t n = label_arity(t);
  for (uint32_t j = 0; j < n; j++) copy_to(c, c->nvs - n + j, canon(c, t->height + j));
}

/* Return the top n values.  Does not change the virtual stack: it is also
 * used on conditional paths (br_if, br_table stubs). */
static void emit_return(Comp *c) {
  uint32_t n = c->cs[0].nresults;
  if (n == 0) {
    emit1(c, ICX_OP_RET0);
  } else if (n == 1 && c->vs[c->nvs - 1].kind != K_CONST) {
    VEnt *e = &c->vs[c->nvs - 1];
    emit2(c, ICX_OP_RET1, e->kind == K_LOCAL ? e->loc : canon(c, c->nvs - 1));
  } else {
    for (uint32_t k = 0; k < n; k++) copy_to(c, c->nvs - n + k, canon(c, c->nvs - n + k));
    if (n == 1)
      emit2(c, ICX_OP_RET1, canon(c, c->nvs - 1));
    else
      emit3(c, ICX_OP_RETN, canon(c, c->nvs - n), n);
  }
}

/* Jump to label depth l (unconditionally). */
static void emit_br(Comp *c, uint32_t l) {
  Ctl *t = &c->cs[c->ncs - 1 - l];
  if (t->kind == C_FUNC) {
    emit_return(c);
    return;
  }
  emit_moves(c, t);
  emit2(c, ICX_OP_BR, 0);
  uint32_t w = pos(c) - 1;
  if (t->kind == C_LOOP) {
    set_back(c, w, t->loop_pc);
  } else {
    t->used = 1;
    link_fixup(c, &t->fixups, w);
  }
}
/* Point offset word w at label l (no moves). */
static void target_label(Comp *c, uint32_t w, uint32_t l) {
  Ctl *t = &c->cs[c->ncs - 1 - l];
  if (t->kind == C_LOOP) {
    set_back(c, w, t->loop_pc);
  } else {
    t->used = 1;
    link_fixup(c, &t->fixups, w);
  }
}

static void set_dead(Comp *c) {
  c->dead = 1;
  c->dead_depth = 0;
}

static int read_blocktype(Comp *c, uint32_t *np, uint32_t *nr) {
  int64_t bt;
  if (icxRd_s33(&c->r, &bt)) return -1;
  if (bt == -64) {
    *np = 0, *nr = 0;
  } else if (bt < 0) {
    *np = 0, *nr = 1;
  } else {
    if ((uint64_t)bt >= c->m->ntypes) return -1;
    *np = c->m->types[bt].nparams;
    *nr = c->m->types[bt].nresults;
  }
  return 0;
}

/* ---- immediates ------------------------------------------------------------ */

static uint32_t rd_u32(Comp *c) {
  uint32_t v = 0;
  if (icxRd_u32(&c->r, &v)) c->bad = 1;
  return v;
}
static uint8_t rd_u8(Comp *c) {
  uint8_t v = 0;
  if (icxRd_u8(&c->r, &v)) c->bad = 1;
  return v;
}
/* memarg: alignment then offset (u64 in memory64 modules). */
static uint64_t rd_memarg(Comp *c) {
  uint64_t off = 0;
  rd_u32(c);
  if (icxRd_u64(&c->r, &off)) c->bad = 1;
  return off;
}

/* Skip the immediates of an instruction in dead code. */
static void skip_imm(Comp *c, uint8_t op) {
  uint32_t n;
  int64_t s;
  const uint8_t *b;
  switch (op) {
  case 0x02: case 0x03: case 0x04:
    if (icxRd_s33(&c->r, &s)) c->bad = 1;
    break;
  case 0x0c: case 0x0d: case 0x10: case 0x20: case 0x21: case 0x22: case 0x23: case 0x24:
  case 0x25: case 0x26: case 0xd2:
    rd_u32(c);
    break;
  case 0x0e:
    n = rd_u32(c);
    for (uint64_t k = 0; k <= n && !c->bad; k++) rd_u32(c);
    break;
  case 0x11: rd_u32(c); rd_u32(c); break;
  case 0x1c:
    n = rd_u32(c);
    if (icxRd_bytes(&c->r, n, &b)) c->bad = 1;
    break;
  case 0x3f: case 0x40: case 0xd0: rd_u8(c); break;
  case 0x41: { int32_t v; if (icxRd_s32(&c->r, &v)) c->bad = 1; break; }
  case 0x42: { int64_t v; if (icxRd_s64(&c->r, &v)) c->bad = 1; break; }
  case 0x43: if (icxRd_bytes(&c->r, 4, &b)) c->bad = 1; break;
  case 0x44: if (icxRd_bytes(&c->r, 8, &b)) c->bad = 1; break;
  case 0xfc: {
    uint32_t sub = rd_u32(c);
    switch (sub) {
    case 8: rd_u32(c); rd_u8(c); break;
    case 9: case 13: case 15: case 16: case 17: rd_u32(c); break;
    case 10: rd_u8(c); rd_u8(c); break;
    case 11: rd_u8(c); break;
    case 12: case 14: rd_u32(c); rd_u32(c); break;
    default: break;
    }
    break;
  }
  default:
    if (op >= 0x28 && op <= 0x3e) rd_memarg(c);
    break;
  }
}

/* ---- the main loop ---------------------------------------------------------- */

static const uint16_t unary_ops[256] = {
    [0x45] = ICX_OP_EQZ32 + 1, [0x50] = ICX_OP_EQZ64 + 1,
    [0x67] = ICX_OP_CLZ32 + 1, [0x68] = ICX_OP_CTZ32 + 1, [0x69] = ICX_OP_POPCNT32 + 1,
    [0x79] = ICX_OP_CLZ64 + 1, [0x7a] = ICX_OP_CTZ64 + 1, [0x7b] = ICX_OP_POPCNT64 + 1,
    [0x8b] = ICX_OP_F32_ABS + 1, [0x8c] = ICX_OP_F32_NEG + 1, [0x8d] = ICX_OP_F32_CEIL + 1,
    [0x8e] = ICX_OP_F32_FLOOR + 1, [0x8f] = ICX_OP_F32_TRUNC + 1, [0x90] = ICX_OP_F32_NEAREST + 1,
    [0x91] = ICX_OP_F32_SQRT + 1,
    [0x99] = ICX_OP_F64_ABS + 1, [0x9a] = ICX_OP_F64_NEG + 1, [0x9b] = ICX_OP_F64_CEIL + 1,
    [0x9c] = ICX_OP_F64_FLOOR + 1, [0x9d] = ICX_OP_F64_TRUNC + 1, [0x9e] = ICX_OP_F64_NEAREST + 1,
    [0x9f] = ICX_OP_F64_SQRT + 1,
    [0xa7] = ICX_OP_WRAP64 + 1,
    [0xa8] = ICX_OP_I32_TRUNC_F32S + 1, [0xa9] = ICX_OP_I32_TRUNC_F32U + 1,
    [0xaa] = ICX_OP_I32_TRUNC_F64S + 1, [0xab] = ICX_OP_I32_TRUNC_F64U + 1,
    [0xac] = ICX_OP_EXT32S64 + 1,
    [0xae] = ICX_OP_I64_TRUNC_F32S + 1, [0xaf] = ICX_OP_I64_TRUNC_F32U + 1,
    [0xb0] = ICX_OP_I64_TRUNC_F64S + 1, [0xb1] = ICX_OP_I64_TRUNC_F64U + 1,
    [0xb2] = ICX_OP_F32_CONV_I32S + 1, [0xb3] = ICX_OP_F32_CONV_I32U + 1,
    [0xb4] = ICX_OP_F32_CONV_I64S + 1, [0xb5] = ICX_OP_F32_CONV_I64U + 1,
    [0xb6] = ICX_OP_F32_DEMOTE + 1,
    [0xb7] = ICX_OP_F64_CONV_I32S + 1, [0xb8] = ICX_OP_F64_CONV_I32U + 1,
    [0xb9] = ICX_OP_F64_CONV_I64S + 1, [0xba] = ICX_OP_F64_CONV_I64U + 1,
    [0xbb] = ICX_OP_F64_PROMOTE + 1,
    [0xc0] = ICX_OP_EXT8S32 + 1, [0xc1] = ICX_OP_EXT16S32 + 1, [0xc2] = ICX_OP_EXT8S64 + 1,
    [0xc3] = ICX_OP_EXT16S64 + 1, [0xc4] = ICX_OP_EXT32S64 + 1,
    [0xd1] = ICX_OP_REF_IS_NULL + 1,
};

/* ss-form op + 1 for binary ops that also have an si form (op_si = op + 2). */
static const uint16_t bin_si_ops[256] = {
#define B32(code, N) [code] = ICX_OP_##N##32_ss + 1
#define B64(code, N) [code] = ICX_OP_##N##64_ss + 1
    B32(0x46, EQ), B32(0x47, NE), B32(0x48, LTS), B32(0x49, LTU), B32(0x4a, GTS),
    B32(0x4b, GTU), B32(0x4c, LES), B32(0x4d, LEU), B32(0x4e, GES), B32(0x4f, GEU),
    B64(0x51, EQ), B64(0x52, NE), B64(0x53, LTS), B64(0x54, LTU), B64(0x55, GTS),
    B64(0x56, GTU), B64(0x57, LES), B64(0x58, LEU), B64(0x59, GES), B64(0x5a, GEU),
    B32(0x6a, ADD), B32(0x6b, SUB), B32(0x6c, MUL), B32(0x71, AND), B32(0x72, OR),
    B32(0x73, XOR), B32(0x74, SHL), B32(0x75, SHRS), B32(0x76, SHRU), B32(0x77, ROTL),
    B32(0x78, ROTR),
    B64(0x7c, ADD), B64(0x7d, SUB), B64(0x7e, MUL), B64(0x83, AND), B64(0x84, OR),
    B64(0x85, XOR), B64(0x86, SHL), B64(0x87, SHRS), B64(0x88, SHRU), B64(0x89, ROTL),
    B64(0x8a, ROTR),
#undef B32
#undef B64
};

static const uint16_t bin_ops[256] = {
    [0x6d] = ICX_OP_DIVS32 + 1, [0x6e] = ICX_OP_DIVU32 + 1, [0x6f] = ICX_OP_REMS32 + 1,
    [0x70] = ICX_OP_REMU32 + 1,
    [0x7f] = ICX_OP_DIVS64 + 1, [0x80] = ICX_OP_DIVU64 + 1, [0x81] = ICX_OP_REMS64 + 1,
    [0x82] = ICX_OP_REMU64 + 1,
    [0x5b] = ICX_OP_F32_EQ + 1, [0x5c] = ICX_OP_F32_NE + 1, [0x5d] = ICX_OP_F32_LT + 1,
    [0x5e] = ICX_OP_F32_GT + 1, [0x5f] = ICX_OP_F32_LE + 1, [0x60] = ICX_OP_F32_GE + 1,
    [0x61] = ICX_OP_F64_EQ + 1, [0x62] = ICX_OP_F64_NE + 1, [0x63] = ICX_OP_F64_LT + 1,
    [0x64] = ICX_OP_F64_GT + 1, [0x65] = ICX_OP_F64_LE + 1, [0x66] = ICX_OP_F64_GE + 1,
    [0x92] = ICX_OP_F32_ADD + 1, [0x93] = ICX_OP_F32_SUB + 1, [0x94] = ICX_OP_F32_MUL + 1,
    [0x95] = ICX_OP_F32_DIV + 1, [0x96] = ICX_OP_F32_MIN + 1, [0x97] = ICX_OP_F32_MAX + 1,
    [0x98] = ICX_OP_F32_COPYSIGN + 1,
    [0xa0] = ICX_OP_F64_ADD + 1, [0xa1] = ICX_OP_F64_SUB + 1, [0xa2] = ICX_OP_F64_MUL + 1,
    [0xa3] = ICX_OP_F64_DIV + 1, [0xa4] = ICX_OP_F64_MIN + 1, [0xa5] = ICX_OP_F64_MAX + 1,
    [0xa6] = ICX_OP_F64_COPYSIGN + 1,
};

/* Loads 0x28..0x35 and stores 0x36..0x3e: the m32 op (m64 = op + 1). */
static const uint16_t mem_ops[23] = {
    ICX_OP_LD32_m32,    /* i32.load */
    ICX_OP_LD64_m32,    /* i64.load */
    ICX_OP_LD32_m32,    /* f32.load */
    ICX_OP_LD64_m32,    /* f64.load */
    ICX_OP_LD8S32_m32,  /* i32.load8_s */
    ICX_OP_LD8U_m32,    /* i32.load8_u */
    ICX_OP_LD16S32_m32, /* i32.load16_s */
    ICX_OP_LD16U_m32,   /* i32.load16_u */
    ICX_OP_LD8S64_m32,  /* i64.load8_s */
    ICX_OP_LD8U_m32,    /* i64.load8_u */
    ICX_OP_LD16S64_m32, /* i64.load16_s */
    ICX_OP_LD16U_m32,   /* i64.load16_u */
    ICX_OP_LD32S64_m32, /* i64.load32_s */
    ICX_OP_LD32_m32,    /* i64.load32_u */
    ICX_OP_ST32_m32,    /* i32.store */
    ICX_OP_ST64_m32,    /* i64.store */
    ICX_OP_ST32_m32,    /* f32.store */
    ICX_OP_ST64_m32,    /* f64.store */
    ICX_OP_ST8_m32,     /* i32.store8 */
    ICX_OP_ST16_m32,    /* i32.store16 */
    ICX_OP_ST8_m32,     /* i64.store8 */
    ICX_OP_ST16_m32,    /* i64.store16 */
    ICX_OP_ST32_m32,    /* i64.store32 */
};

static const uint16_t sat_ops[8] = {
    ICX_OP_I32_SAT_F32S, ICX_OP_I32_SAT_F32U, ICX_OP_I32_SAT_F64S, ICX_OP_I32_SAT_F64U,
    ICX_OP_I64_SAT_F32S, ICX_OP_I64_SAT_F32U, ICX_OP_I64_SAT_F64S, ICX_OP_I64_SAT_F64U,
};

static void do_local_set(Comp *c, uint32_t l, int tee) {
  uint32_t top = c->nvs - 1;
  VEnt *e = &c->vs[top];
  if (c->prefix && l >= c->nparams && !c->written[l] && e->kind == K_CONST && e->cval == 0) {
    /* storing zero into a declared local before any control flow: locals
     * start at zero, nothing to do */
    c->written[l] = 1;
    pop(c, 1);
    if (tee) push_local(c, l);
    return;
  }
  c->written[l] = 1;
  uint32_t other = c->ref_head[l];
  if (other == top) other = e->prev_ref;
  if (c->cand != NONE && !c->oom && e->kind == K_STACK && other == NONE &&
      c->code[c->cand + 1] == canon(c, top)) {
    c->code[c->cand + 1] = l; /* write the result straight into the local */
    c->cand = NONE;
    pop(c, 1);
  } else {
    /* Materialise every other deferred read of l first. */
    uint32_t i = c->ref_head[l];
    while (i != NONE) {
      uint32_t next = c->vs[i].prev_ref;
      if (i != top) {
        copy_to(c, i, canon(c, i));
        c->vs[i].kind = K_STACK;
      }
      i = next;
    }
    if (e->kind == K_LOCAL && e->loc == l) {
      e->prev_ref = NONE;
      c->ref_head[l] = top;
    } else {
      c->ref_head[l] = NONE;
    }
    if (e->kind == K_LOCAL && e->loc == l) {
      /* local.set l of local.get l: nothing to do */
    } else {
      copy_to(c, top, l);
    }
    pop(c, 1);
  }
  if (tee) push_local(c, l);
}

/* Handle `end` (or the end of the function). */
static void do_end(Comp *c) {
  Ctl *t = &c->cs[c->ncs - 1];
  int reachable = !c->dead;
  if (t->kind == C_FUNC) {
    if (reachable) emit_return(c);
    meter_close(c);
    c->ncs--;
    return;
  }
  if (reachable) materialize_top(c, t->nresults);
  if (t->kind == C_IF && t->else_fix != NONE) {
    /* if without else: the false path arrives at the end label */
    bind_chain(c, t->else_fix, pos(c));
    reachable = 1;
  }
  if (t->used) reachable = 1;
  bind_chain(c, t->fixups, pos(c));
  uint32_t h = t->height, nr = t->nresults;
  c->ncs--;
  pop(c, c->nvs - h);
  for (uint32_t k = 0; k < nr; k++) push(c);
  c->cand = NONE;
  if (reachable) {
    c->dead = 0;
    meter_open(c, 0, 0);
  } else {
    set_dead(c);
  }
}

static int compile_body(Comp *c, uint32_t fidx) {
  const icxModule *m = c->m;
  for (;;) {
    if (c->oom) return ICX_ENOMEM;
    if (c->bad || c->r.p >= c->r.end) return ICX_EINTERNAL;
    uint8_t op = *c->r.p++;
    if (c->dead) {
      if (op == 0x02 || op == 0x03 || op == 0x04) {
        skip_imm(c, op);
        c->dead_depth++;
        continue;
      }
      if (op == 0x0b) {
        if (c->dead_depth) {
          c->dead_depth--;
          continue;
        }
      } else if (op == 0x05) {
        if (c->dead_depth) continue;
      } else {
        skip_imm(c, op);
        continue;
      }
    }
    if (op != 0xfc) meter_add(c, op); /* 0xfc ops are charged below */
    if ((op >= 0x02 && op <= 0x05) || (op >= 0x0b && op <= 0x0f)) c->prefix = 0;
    switch (op) {
    case 0x00: /* unreachable */
      emit1(c, ICX_OP_UNREACHABLE);
      meter_close(c);
      set_dead(c);
      break;
    case 0x01: break;
    case 0x02: case 0x03: case 0x04: { /* block, loop, if */
      uint32_t np, nr;
      if (read_blocktype(c, &np, &nr)) return ICX_EINTERNAL;
      if (op == 0x04) {
        /* materialise below the condition, then branch to else on false */
        uint32_t cond = c->nvs - 1;
        materialize_below(c, cond);
        uint32_t w = emit_cond_branch(c, 1);
        meter_close(c);
        if (push_ctl(c, C_IF, np, nr)) return ICX_ENOMEM;
        c->cs[c->ncs - 1].else_fix = NONE;
        link_fixup(c, &c->cs[c->ncs - 1].else_fix, w);
        meter_open(c, 0, 0);
      } else {
        materialize_all(c);
        if (push_ctl(c, op == 0x02 ? C_BLOCK : C_LOOP, np, nr)) return ICX_ENOMEM;
        if (op == 0x03) {
          meter_close(c);
          c->cs[c->ncs - 1].loop_pc = pos(c);
          c->cand = NONE;
          meter_open(c, 1, 0);
        }
      }
      if (c->ncs > ICX_MAX_NESTING + 1) return ICX_EINTERNAL;
      break;
    }
    case 0x05: { /* else */
      Ctl *t = &c->cs[c->ncs - 1];
      if (!c->dead) {
        materialize_top(c, t->nresults);
        emit2(c, ICX_OP_BR, 0);
        t->used = 1;
        link_fixup(c, &t->fixups, pos(c) - 1);
      }
      meter_close(c);
      bind_chain(c, t->else_fix, pos(c));
      t->else_fix = NONE;
      t->kind = C_ELSE;
      pop(c, c->nvs - t->height);
      for (uint32_t k = 0; k < t->nparams; k++) push(c);
      c->dead = 0;
      c->cand = NONE;
      meter_open(c, 0, 0);
      break;
    }
    case 0x0b: /* end */
      meter_close(c);
      do_end(c);
      if (c->ncs == 0) return c->r.p == c->r.end ? ICX_OK : ICX_EINTERNAL;
      break;
    case 0x0c: { /* br */
      uint32_t l = rd_u32(c);
      if (l >= c->ncs) return ICX_EINTERNAL;
      emit_br(c, l);
      meter_close(c);
      set_dead(c);
      break;
    }
    case 0x0d: { /* br_if */
      uint32_t l = rd_u32(c);
      if (l >= c->ncs) return ICX_EINTERNAL;
      Ctl *t = &c->cs[c->ncs - 1 - l];
      meter_close(c);
      /* The condition is on top; the label's values are below it. */
      uint32_t saved = c->nvs;
      c->nvs--; /* look at the values without the condition */
      int moves = t->kind == C_FUNC || needs_moves(c, t);
      c->nvs = saved;
      if (!moves) {
        uint32_t w = emit_cond_branch(c, 0);
        target_label(c, w, l);
      } else {
        uint32_t w = emit_cond_branch(c, 1);
        uint32_t skip = NONE;
        link_fixup(c, &skip, w);
        emit_br(c, l);
        bind_chain(c, skip, pos(c));
      }
      c->cand = NONE;
      meter_open(c, 0, 0);
      break;
    }
    case 0x0e: { /* br_table */
      uint32_t n = rd_u32(c);
      if (c->bad || n > ICX_MAX_BR_TABLE) return ICX_EINTERNAL;
      meter_close(c);
      uint32_t a = src_top(c, 0);
      pop(c, 1);
      uint32_t at = pos(c);
      uint32_t *w = emit(c, 3);
      w[0] = ICX_OP_BR_TABLE, w[1] = a, w[2] = n;
      uint32_t first = pos(c);
      emit(c, n + 1);
      if (c->oom) return ICX_ENOMEM;
      (void)at;
      /* stubs for labels that need value moves, shared per label */
      uint32_t *stub = icxCore_allocn(c->A, c->ncs, sizeof(uint32_t));
      if (!stub) return ICX_ENOMEM;
      for (uint32_t k = 0; k < c->ncs; k++) stub[k] = NONE;
      const uint8_t *save = c->r.p;
      for (uint32_t k = 0; k <= n; k++) {
        uint32_t l = rd_u32(c);
        if (c->bad || l >= c->ncs) {
          icxCore_free(c->A, stub, sizeof(uint32_t) * c->ncs);
          return ICX_EINTERNAL;
        }
        Ctl *t = &c->cs[c->ncs - 1 - l];
        if (t->kind != C_FUNC && !needs_moves(c, t)) target_label(c, first + k, l);
      }
      c->r.p = save;
      for (uint32_t k = 0; k <= n; k++) {
        uint32_t l = rd_u32(c);
        Ctl *t = &c->cs[c->ncs - 1 - l];
        if (t->kind != C_FUNC && !needs_moves(c, t)) continue;
        if (stub[l] == NONE) {
          stub[l] = pos(c);
          emit_br(c, l);
        }
        if (!c->oom) c->code[first + k] = stub[l] - (first + k);
      }
      icxCore_free(c->A, stub, sizeof(uint32_t) * c->ncs);
      set_dead(c);
      break;
    }
    case 0x0f: /* return */
      emit_return(c);
      meter_close(c);
      set_dead(c);
      break;
    case 0x10: case 0x11: { /* call, call_indirect */
      uint32_t idx = rd_u32(c), tbl = 0, tidx;
      if (op == 0x11) {
        tbl = rd_u32(c);
        tidx = idx;
      } else {
        if (idx >= m->nfuncs_total) return ICX_EINTERNAL;
        tidx = m->func_type_idx[idx];
      }
      if (c->bad || tidx >= m->ntypes) return ICX_EINTERNAL;
      const icxFuncType *ft = &m->types[tidx];
      uint32_t islot = 0;
      if (op == 0x11) {
        islot = src_top(c, 0);
        if (c->vs[c->nvs - 1].kind == K_STACK) {
          /* keep it: the index is read before the callee frame is built */
        }
        pop(c, 1);
      }
      materialize_top(c, ft->nparams);
      uint32_t argbase = canon(c, c->nvs - ft->nparams);
      pop(c, ft->nparams);
      if (op == 0x11)
        emit5(c, ICX_OP_CALL_INDIRECT, tidx, tbl, islot, argbase);
      else if (idx >= m->nfunc_imports)
        emit3(c, ICX_OP_CALL_LOCAL, idx - m->nfunc_imports, argbase);
      else
        emit3(c, ICX_OP_CALL, idx, argbase);
      for (uint32_t k = 0; k < ft->nresults; k++) push(c);
      break;
    }
    case 0x1a: pop(c, 1); break; /* drop */
    case 0x1b: case 0x1c: { /* select */
      if (op == 0x1c) {
        uint32_t n = rd_u32(c);
        const uint8_t *b;
        if (icxRd_bytes(&c->r, n, &b)) return ICX_EINTERNAL;
      }
      uint32_t cc = src_top(c, 0), b = src_top(c, 1), a = src_top(c, 2);
      pop(c, 3);
      uint32_t d = push_slot(c);
      uint32_t p = pos(c);
      emit5(c, ICX_OP_SELECT, d, a, b, cc);
      mark_cand(c, p);
      break;
    }
    case 0x20: { /* local.get */
      uint32_t l = rd_u32(c);
      if (l >= c->nslots_local) return ICX_EINTERNAL;
      push_local(c, l);
      break;
    }
    case 0x21: case 0x22: { /* local.set, local.tee */
      uint32_t l = rd_u32(c);
      if (l >= c->nslots_local || !c->nvs) return ICX_EINTERNAL;
      do_local_set(c, l, op == 0x22);
      break;
    }
    case 0x23: { /* global.get */
      uint32_t g = rd_u32(c);
      if (c->fuse && g == c->counter && fuse_counter(c)) break;
      uint32_t d = push_slot(c);
      uint32_t p = pos(c);
      if (c->fuse && g == c->counter)
        emit2(c, ICX_OP_FUEL_GET, d);
      else
        emit3(c, ICX_OP_GLOBAL_GET, d, g);
      mark_cand(c, p);
      break;
    }
    case 0x24: { /* global.set */
      uint32_t g = rd_u32(c);
      uint32_t a = src_top(c, 0);
      pop(c, 1);
      if (c->fuse && g == c->counter)
        emit2(c, ICX_OP_FUEL_SET, a);
      else
        emit3(c, ICX_OP_GLOBAL_SET, g, a);
      break;
    }
    case 0x25: { /* table.get */
      uint32_t t = rd_u32(c);
      uint32_t a = src_top(c, 0);
      pop(c, 1);
      uint32_t d = push_slot(c);
      emit4(c, ICX_OP_TABLE_GET, d, t, a);
      break;
    }
    case 0x26: { /* table.set */
      uint32_t t = rd_u32(c);
      uint32_t v = src_top(c, 0), a = src_top(c, 1);
      pop(c, 2);
      emit4(c, ICX_OP_TABLE_SET, t, a, v);
      break;
    }
    case 0x3f: /* memory.size */
      rd_u8(c);
      emit2(c, ICX_OP_MEM_SIZE, push_slot(c));
      break;
    case 0x40: { /* memory.grow */
      rd_u8(c);
      uint32_t a = src_top(c, 0);
      pop(c, 1);
      uint32_t d = push_slot(c);
      emit3(c, ICX_OP_MEM_GROW, d, a);
      break;
    }
    case 0x41: { int32_t v; if (icxRd_s32(&c->r, &v)) return ICX_EINTERNAL; push_const(c, (uint32_t)v); break; }
    case 0x42: { int64_t v; if (icxRd_s64(&c->r, &v)) return ICX_EINTERNAL; push_const(c, (uint64_t)v); break; }
    case 0x43: { const uint8_t *b; if (icxRd_bytes(&c->r, 4, &b)) return ICX_EINTERNAL; push_const(c, icx_rd32(b)); break; }
    case 0x44: { const uint8_t *b; if (icxRd_bytes(&c->r, 8, &b)) return ICX_EINTERNAL; push_const(c, icx_rd64(b)); break; }
    case 0xad: /* i64.extend_i32_u: i32 slots are zero-extended already */
    case 0xbc: case 0xbd: case 0xbe: case 0xbf: /* reinterpret: same bits */
      break;
    case 0xd0: rd_u8(c); push_const(c, 0); break; /* ref.null */
    case 0xd2: { /* ref.func */
      uint32_t f = rd_u32(c);
      uint32_t d = push_slot(c);
      emit3(c, ICX_OP_REF_FUNC, d, f);
      break;
    }
    case 0xfc: {
      uint32_t sub = rd_u32(c);
      meter_add(c, 0xfc00u | sub);
      if (sub < 8) {
        op_unary(c, sat_ops[sub]);
        break;
      }
      switch (sub) {
      case 8: { /* memory.init */
        uint32_t seg = rd_u32(c);
        rd_u8(c);
        uint32_t n = src_top(c, 0), s = src_top(c, 1), d = src_top(c, 2);
        pop(c, 3);
        emit5(c, ICX_OP_MEM_INIT, seg, d, s, n);
        break;
      }
      case 9: emit2(c, ICX_OP_DATA_DROP, rd_u32(c)); break;
      case 10: case 11: { /* memory.copy / memory.fill */
        rd_u8(c);
        if (sub == 10) rd_u8(c);
        uint32_t n = src_top(c, 0), b = src_top(c, 1), a = src_top(c, 2);
        pop(c, 3);
        emit4(c, sub == 10 ? ICX_OP_MEM_COPY : ICX_OP_MEM_FILL, a, b, n);
        break;
      }
      case 12: { /* table.init seg table */
        uint32_t seg = rd_u32(c), t = rd_u32(c);
        uint32_t n = src_top(c, 0), s = src_top(c, 1), d = src_top(c, 2);
        pop(c, 3);
        uint32_t *w = emit(c, 6);
        w[0] = ICX_OP_TABLE_INIT, w[1] = t, w[2] = seg, w[3] = d, w[4] = s, w[5] = n;
        break;
      }
      case 13: emit2(c, ICX_OP_ELEM_DROP, rd_u32(c)); break;
      case 14: { /* table.copy dst src */
        uint32_t td = rd_u32(c), ts = rd_u32(c);
        uint32_t n = src_top(c, 0), s = src_top(c, 1), d = src_top(c, 2);
        pop(c, 3);
        uint32_t *w = emit(c, 6);
        w[0] = ICX_OP_TABLE_COPY, w[1] = td, w[2] = ts, w[3] = d, w[4] = s, w[5] = n;
        break;
      }
      case 15: { /* table.grow */
        uint32_t t = rd_u32(c);
        uint32_t n = src_top(c, 0), v = src_top(c, 1);
        pop(c, 2);
        uint32_t d = push_slot(c);
        emit5(c, ICX_OP_TABLE_GROW, d, t, v, n);
        break;
      }
      case 16: emit3(c, ICX_OP_TABLE_SIZE, push_slot(c), rd_u32(c)); break;
      case 17: { /* table.fill */
        uint32_t t = rd_u32(c);
        uint32_t n = src_top(c, 0), v = src_top(c, 1), i = src_top(c, 2);
        pop(c, 3);
        emit5(c, ICX_OP_TABLE_FILL, t, i, v, n);
        break;
      }
      default: return ICX_EINTERNAL;
      }
      break;
    }
    default:
      if (op >= 0x28 && op <= 0x3e) {
        uint64_t off = rd_memarg(c);
        uint8_t is64 = m->nmems_total && m->mems[0].lim.is64;
        uint32_t base_op = (uint32_t)mem_ops[op - 0x28] + is64;
        if (!is64 && fuse_address(c, c->nvs - 1 - (op > 0x35), base_op, (uint32_t)off)) {
          if (op <= 0x35) {
            pop(c, 1);
            uint32_t p = c->cand_saved;
            push(c); /* the result lands where the address was */
            mark_cand(c, p);
          } else {
            pop(c, 2);
          }
        } else if (op <= 0x35) {
          uint32_t a = src_top(c, 0);
          pop(c, 1);
          uint32_t d = push_slot(c);
          uint32_t p = pos(c);
          if (is64)
            emit5(c, base_op, d, a, (uint32_t)off, (uint32_t)(off >> 32));
          else
            emit4(c, base_op, d, a, (uint32_t)off);
          mark_cand(c, p);
        } else {
          uint32_t v = src_top(c, 0), a = src_top(c, 1);
          pop(c, 2);
          if (is64)
            emit5(c, base_op, a, v, (uint32_t)off, (uint32_t)(off >> 32));
          else
            emit4(c, base_op, a, v, (uint32_t)off);
        }
      } else if (unary_ops[op]) {
        op_unary(c, unary_ops[op] - 1u);
      } else if (bin_si_ops[op]) {
        uint32_t ss = bin_si_ops[op] - 1u;
        int is64 = (op >= 0x51 && op <= 0x5a) || (op >= 0x7c && op <= 0x8a);
        op_binary_si(c, ss, ss + 2, is64);
      } else if (bin_ops[op]) {
        op_binary(c, bin_ops[op] - 1u);
      } else {
        return ICX_EINTERNAL; /* not produced by a validated module */
      }
      break;
    }
    (void)fidx;
  }
}

/* Compile defined function number i (index space fidx = nfunc_imports + i). */
/* One pass over the body of defined function i with the given pool mode. */
static int compile_pass(Comp *c, uint32_t i, uint32_t nloc) {
  const icxModule *m = c->m;
  const icxFunc *f = &m->funcs[i];
  const icxFuncType *ft = &m->types[f->type_idx];
  c->r.base = m->bytes;
  c->r.p = m->bytes + f->code_off;
  c->r.end = c->r.p + f->code_len;
  c->ncode = 0;
  c->nvs = 0;
  c->low = 0;
  c->ncs = 0;
  c->bad = 0;
  c->dead = 0;
  c->dead_depth = 0;
  c->cand = NONE;
  c->meter_word = NONE;
  c->pool_base = nloc;
  c->base = nloc + (c->pool_frozen ? c->npool : 0);
  c->maxh = ft->nresults;
  c->nslots_local = nloc;
  for (uint32_t k = 0; k < nloc; k++) c->ref_head[k] = NONE;
  memset(c->written, 0, nloc ? nloc : 1);
  c->prefix = 1;
  c->nparams = ft->nparams;
  if (push_ctl(c, C_FUNC, 0, ft->nresults)) return ICX_ENOMEM;
  meter_open(c, 1, 1);
  int rc = compile_body(c, m->nfunc_imports + i);
  if (rc == ICX_OK && c->oom) rc = ICX_ENOMEM;
  return rc;
}

/* Compile defined function number i (index space fidx = nfunc_imports + i).
 * Two passes when the body reads constants as operands: the first finds the
 * constant pool, the second lays the frame out with it. */
static icx_status compile_func(Comp *c, uint32_t i, icxFuncCode *out, icxErr *err) {
  const icxModule *m = c->m;
  const icxFunc *f = &m->funcs[i];
  const icxFuncType *ft = &m->types[f->type_idx];
  uint64_t nloc = (uint64_t)ft->nparams + f->nlocals;
  if (nloc > ICX_MAX_LOCALS + (uint64_t)ICX_MAX_PARAMS)
    return icxErr_set(err, ICX_ELIMIT, "func %u: too many locals", m->nfunc_imports + i);
  c->npool = 0;
  c->pool_frozen = 0;
  int rc = compile_pass(c, i, (uint32_t)nloc);
  if (rc == ICX_OK && c->npool) {
    c->pool_frozen = 1;
    rc = compile_pass(c, i, (uint32_t)nloc);
  }
  if (rc != ICX_OK)
    return icxErr_set(err, rc, "func %u at offset 0x%x: %s", m->nfunc_imports + i, f->code_off,
                      rc == ICX_ENOMEM ? "out of memory while compiling" : "cannot compile body");
  uint64_t frame = nloc + c->npool + c->maxh;
  if (frame > ICX_MAX_STACK_SLOTS)
    return icxErr_set(err, ICX_ELIMIT, "func %u: frame too large", m->nfunc_imports + i);
  out->code = icxCore_allocn(c->A, c->ncode, sizeof(uint32_t));
  if (!out->code) return icxErr_set(err, ICX_ENOMEM, "out of memory");
  memcpy(out->code, c->code, (size_t)c->ncode * 4);
  if (c->npool) {
    out->pool = icxCore_allocn(c->A, c->npool, sizeof(uint64_t));
    if (!out->pool) return icxErr_set(err, ICX_ENOMEM, "out of memory");
    memcpy(out->pool, c->pool, (size_t)c->npool * 8);
  }
  out->npool = c->npool;
  out->ncode = c->ncode;
  out->nparams = ft->nparams;
  out->nresults = ft->nresults;
  out->nlocals = f->nlocals;
  out->frame_slots = (uint32_t)frame;
  out->type_idx = f->type_idx;
  return ICX_OK;
}

/* Compile every defined function of c->m. */
icx_status icxComp_module(icxCompiled *cm, const icxCompileOpts *opts, icxErr *err) {
  const icxModule *m = cm->m;
  uint32_t ndef = m->nfuncs_total - m->nfunc_imports;
  Comp c;
  memset(&c, 0, sizeof c);
  c.m = m;
  c.A = &cm->alloc;
  c.opts = opts;
  c.fuse = opts && (opts->flags & ICX_COMPILE_FUSE_COUNTER);
  c.meter = !c.fuse && opts && (opts->flags & ICX_COMPILE_METER);
  if (c.fuse) {
    c.counter = opts->counter_global;
    c.ooi = opts->counter_ooi;
    if (c.counter >= m->nglobals_total || m->globals[c.counter].type.type != ICX_I64 ||
        !m->globals[c.counter].type.mut || c.ooi >= m->nfuncs_total)
      return icxErr_set(err, ICX_EINVAL, "the instruction counter is not a mutable i64 global");
  }
  uint64_t maxloc = 1;
  for (uint32_t i = 0; i < ndef; i++) {
    uint64_t n = (uint64_t)m->types[m->funcs[i].type_idx].nparams + m->funcs[i].nlocals;
    if (n > maxloc) maxloc = n;
  }
  if (maxloc > ICX_MAX_LOCALS + (uint64_t)ICX_MAX_PARAMS)
    return icxErr_set(err, ICX_ELIMIT, "too many locals");
  c.ref_head = icxCore_allocn(c.A, (size_t)maxloc, sizeof(uint32_t));
  c.written = icxCore_alloc(c.A, (size_t)maxloc);
  cm->funcs = icxCore_allocn(c.A, ndef ? ndef : 1, sizeof(icxFuncCode));
  icx_status rc = ICX_OK;
  if (!c.ref_head || !c.written || !cm->funcs) {
    rc = icxErr_set(err, ICX_ENOMEM, "out of memory");
  } else {
    for (uint32_t i = 0; i < ndef && rc == ICX_OK; i++) rc = compile_func(&c, i, &cm->funcs[i], err);
  }
  icxCore_free(c.A, c.ref_head, (size_t)maxloc * sizeof(uint32_t));
  icxCore_free(c.A, c.written, (size_t)maxloc);
  icxCore_free(c.A, c.code, (size_t)c.capcode * 4);
  icxCore_free(c.A, c.vs, sizeof(VEnt) * c.capvs);
  icxCore_free(c.A, c.cs, sizeof(Ctl) * c.capcs);
  return rc;
}
