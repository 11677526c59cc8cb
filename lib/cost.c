/* cost.c -- the cost table (see cost.h for the sources). */
#include "cost.h"

#include "wasm.h"

/* ---- static cost per operator (INS instruction_to_cost) ----------------- */

/* Single-byte opcodes whose cost is not 1.  0 marks "use the default 1"
 * except for the four structural opcodes, handled in icxCost_op. */
static const uint16_t k_cost1[256] = {
    /* control */
    [0x04] = 2, [0x0c] = 2, [0x0d] = 2, [0x0e] = 2, /* if br br_if br_table */
    [0x10] = 5, [0x11] = 10,                         /* call, call_indirect */
    [0x12] = 3, [0x13] = 60,                         /* return_call(_indirect) */
    [0x23] = 2, [0x24] = 2,                          /* global.get/set */
    [0x25] = 5, [0x26] = 5,                          /* table.get/set */
    [0x3f] = 20, [0x40] = 300,                       /* memory.size, memory.grow */
    /* integer div/rem */
    [0x6d] = 10, [0x6e] = 10, [0x6f] = 10, [0x70] = 10,
    [0x7f] = 10, [0x80] = 10, [0x81] = 10, [0x82] = 10,
    /* float compares */
    [0x5b] = 3, [0x5c] = 3, [0x5d] = 3, [0x5e] = 3, [0x5f] = 3, [0x60] = 3,
    [0x61] = 3, [0x62] = 3, [0x63] = 3, [0x64] = 3, [0x65] = 3, [0x66] = 3,
    /* f32: ceil floor trunc nearest sqrt add sub mul div min max copysign */
    [0x8d] = 2, [0x8e] = 2, [0x8f] = 2, [0x90] = 2, [0x91] = 5, [0x92] = 2,
    [0x93] = 2, [0x94] = 2, [0x95] = 3, [0x96] = 18, [0x97] = 18, [0x98] = 2,
    /* f64: the same */
    [0x9b] = 2, [0x9c] = 2, [0x9d] = 2, [0x9e] = 2, [0x9f] = 8, [0xa0] = 2,
    [0xa1] = 2, [0xa2] = 2, [0xa3] = 5, [0xa4] = 18, [0xa5] = 18, [0xa6] = 3,
    /* float -> int truncations */
    [0xa8] = 20, [0xa9] = 20, [0xaa] = 20, [0xab] = 20,
    [0xae] = 20, [0xaf] = 20, [0xb0] = 20, [0xb1] = 20,
    /* int -> float conversions: signed 3, unsigned 16 */
    [0xb2] = 3, [0xb3] = 16, [0xb4] = 3, [0xb5] = 16,
    [0xb7] = 3, [0xb8] = 16, [0xb9] = 3, [0xba] = 16,
    /* references */
    [0xd1] = 5, [0xd2] = 130,
};

/* 0xfc sub-opcodes 0..17. */
static const uint16_t k_cost_fc[18] = {
    20, 20, 20, 20, 20, 20, 20, 20, /* trunc_sat */
    100, 300,                       /* memory.init, data.drop */
    100, 100,                       /* memory.copy, memory.fill */
    100, 300,                       /* table.init, elem.drop */
    100, 300, 100, 100              /* table.copy, table.grow, table.size, table.fill */
};

/* SIMD (0xfd) sub-opcodes that do not cost 1 (loads/stores handled apart). */
static uint32_t simd_cost(uint32_t sub, uint8_t mem64) {
  if (sub <= 11 || (sub >= 84 && sub <= 93)) return mem64 ? 2u : 1u; /* v128 loads/stores/lanes */
  switch (sub) {
  case 13: return 3;                       /* i8x16.shuffle */
  case 38: case 40: case 48: case 50:      /* i8x16.lt_u gt_u, i16x8.lt_u gt_u */
  case 58: case 60:                        /* i32x4.lt_u gt_u */
    return 2;
  case 98: return 3;                       /* i8x16.popcnt */
  case 107: case 108: return 3;            /* i8x16.shl, shr_s */
  case 109: return 2;                      /* i8x16.shr_u */
  case 125: return 2;                      /* i16x8.extadd_pairwise_i8x16_u */
  case 127: return 3;                      /* i32x4.extadd_pairwise_i16x8_u */
  case 139: case 140: case 141: return 2;  /* i16x8 shl shr_s shr_u */
  case 157: case 159: return 2;            /* i16x8.extmul_high_i8x16_s/u */
  case 171: case 172: case 173: return 2;  /* i32x4 shl shr_s shr_u */
  case 181: return 2;                      /* i32x4.mul */
  case 188: case 189: case 190: case 191: return 2; /* i32x4.extmul_* */
  case 203: return 2;                      /* i64x2.shl */
  case 204: return 3;                      /* i64x2.shr_s */
  case 205: return 2;                      /* i64x2.shr_u */
  case 213: return 4;                      /* i64x2.mul */
  case 103: case 104: case 105: case 106:  /* f32x4 ceil floor trunc nearest */
  case 116: case 117: case 122: case 148:  /* f64x2 ceil floor trunc nearest */
  case 224: case 225: case 228: case 229: case 230: /* f32x4 abs neg add sub mul */
  case 236: case 237: case 240: case 241: case 242: /* f64x2 abs neg add sub mul */
  case 248:                                /* i32x4.trunc_sat_f32x4_s */
  case 252:                                /* i32x4.trunc_sat_f64x2_s_zero */
    return 2;
  case 227: return 5;                      /* f32x4.sqrt */
  case 231: return 10;                     /* f32x4.div */
  case 232: case 233: return 4;            /* f32x4.min max */
  case 239: return 14;                     /* f64x2.sqrt */
  case 243: return 12;                     /* f64x2.div */
  case 244: return 4;                      /* f64x2.min */
  case 245: return 5;                      /* f64x2.max */
  case 249: case 251: return 4;            /* i32x4.trunc_sat_f32x4_u, f32x4.convert_i32x4_u */
  case 253: return 3;                      /* i32x4.trunc_sat_f64x2_u_zero */
  default: return 1;
  }
}

uint32_t icxCost_op(uint32_t opcode, uint8_t mem64) {
  if (opcode < 0x100) {
    switch (opcode) {
    case 0x02: case 0x03: case 0x05: case 0x0b: return 0; /* block loop else end */
    default: break;
    }
    if (opcode >= 0x28 && opcode <= 0x3e) return mem64 ? 2u : 1u; /* loads/stores */
    return k_cost1[opcode] ? k_cost1[opcode] : 1u;
  }
  if ((opcode >> 8) == 0xfc) {
    uint32_t sub = opcode & 0xffu;
    return sub < 18u ? k_cost_fc[sub] : 1u;
  }
  if ((opcode >> 8) == 0xfd) return simd_cost(opcode & 0xffu, mem64);
  return 1;
}

/* ---- complexity weights (VAL wasm_function_complexity) ------------------ */
uint32_t icxCost_complexity(uint32_t op) {
  if (op >= 0xfc00u && op < 0xfd00u) {
    switch (op & 0xffu) {
    case 15: return 50;                   /* table.grow */
    case 17: return 5;                    /* table.fill */
    case 14: case 12: case 10: return 4;  /* table.copy, table.init, memory.copy */
    case 11: return 3;                    /* memory.fill */
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: return 3; /* trunc_sat */
    default: return 1;
    }
  }
  if (op >= 0x100u) return 1;
  switch (op) {
  case 0x02: case 0x03: case 0x04: case 0x0c: case 0x0d: case 0x0e:
  case 0x10: case 0x11: case 0x40:
    return 50;
  case 0x25: return 14; /* table.get */
  case 0xd2: return 8;  /* ref.func */
  case 0x26: return 7;  /* table.set */
  case 0xd1: return 6;  /* ref.is_null */
  case 0xa8: case 0xa9: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
  case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
  case 0xb8: case 0xb9: case 0xba:
    return 5; /* truncations, extend_i32, conversions, demote */
  case 0x8c: case 0x8b: case 0x9a: case 0x99: return 4; /* f32/f64 neg abs */
  case 0x98: case 0xa6: case 0x61: /* copysign, f64.eq */
  case 0x6d: case 0x6e: case 0x6f: case 0x70: case 0x7f: case 0x80: case 0x81: case 0x82:
    return 3;
  case 0x23: case 0x69: case 0x7b: case 0x1b: case 0x3f: /* global.get popcnt select memory.size */
  case 0xa7: case 0xbb: /* wrap, promote */
  case 0x8d: case 0x9b: case 0x8e: case 0x9c: case 0x91: case 0x9f: case 0x8f: case 0x9d:
  case 0xbc: case 0xbd: case 0xbe: case 0xbf: /* reinterpret */
  case 0xc0: case 0xc1: case 0xc2: case 0xc3: case 0xc4: /* extendN_s */
    return 2;
  default:
    break;
  }
  if (op >= 0x28 && op <= 0x35) return 3; /* loads */
  if (op >= 0x36 && op <= 0x3e) return 2; /* stores */
  if (op >= 0x45 && op <= 0x60) return 2; /* int compares, f32 compares */
  if (op >= 0x62 && op <= 0x66) return 2; /* f64 ne lt gt le ge */
  return 1;
}

/* ---- the ic0 table ------------------------------------------------------ */
static const icxIc0Api k_ic0[ICX_IC0_COUNT] = {
#define ICX_IC0_ROW(name, sig, fl, ctx, fixed, bytes) {#name, sig, fl, bytes, ctx, fixed},
    ICX_IC0_APIS(ICX_IC0_ROW)
#undef ICX_IC0_ROW
};

const icxIc0Api *icxCost_ic0(uint32_t id) { return id < ICX_IC0_COUNT ? &k_ic0[id] : NULL; }

int icxCost_ic0_find(const char *name, size_t len) {
  for (uint32_t i = 0; i < ICX_IC0_COUNT; i++)
    if (strlen(k_ic0[i].name) == len && memcmp(k_ic0[i].name, name, len) == 0) return (int)i;
  return -1;
}

static int sig_match(const char *s, uint8_t mem64, const uint8_t *ts, uint32_t n) {
  uint32_t k = 0;
  for (; *s && *s != ':'; s++, k++) {
    uint8_t want = *s == 'i' ? ICX_I32 : *s == 'l' ? ICX_I64 : (mem64 ? ICX_I64 : ICX_I32);
    if (k >= n || ts[k] != want) return 0;
  }
  return k == n;
}

int icxCost_ic0_sig_ok(const icxIc0Api *api, uint8_t mem64, const uint8_t *params,
                       uint32_t nparams, const uint8_t *results, uint32_t nresults) {
  if (mem64 && (api->flags & ICX_IC0_32ONLY)) return 0;
  const char *colon = strchr(api->sig, ':');
  if (!colon) return 0;
  return sig_match(api->sig, mem64, params, nparams) &&
         sig_match(colon + 1, mem64, results, nresults);
}
