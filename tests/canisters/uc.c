/* uc.c -- the test "universal canister": interprets the bytecode of
 * tests/uc.h, passed as the argument of its methods, so a test scripts any
 * sequence of ic0 calls without writing a new canister.
 *
 * A fixture, not a test: it is the program under test's input, so it
 * asserts nothing itself.  Malformed scripts trap with a "uc: ..." message
 * (FAIL below).  What it does is asserted by the programs that run it:
 * tests/unit_conformance.c, unit_charge.c, unit_install.c, unit_conserve.c, unit_query.c,
 * api_round.c, api_query.c, api_threads.c, api_xnet.c, api_dts.c, api_scenario.c, and
 * fuzz/fuzz_canister.c, fuzz_round.c, fuzz_query.c.
 *
 * Freestanding C for wasm32 (or wasm64 with -DUC_WASM64 --target=wasm64):
 * no libc; memcpy/memset are the compiler builtins, lowered to
 * memory.copy / memory.fill (-mbulk-memory).  The only imports are ic0
 * functions (checked by tests/canisters.mk with wasm-objdump).
 *
 * Memory: static data (counter, hooks, scratch, the persistent area) and,
 * above __heap_base, a per-message arena for the argument and temporaries
 * that is reset at every entry point. */
#define UC_CANISTER 1
#include "../uc.h"

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef __SIZE_TYPE__ usize;  /* the ic0 `I` type: i32 (wasm32) or i64 (wasm64) */
typedef __UINTPTR_TYPE__ uptr;

#define IC0(name) __attribute__((import_module("ic0"), import_name(#name)))
#define EXPORT(name) __attribute__((export_name(name)))

/* ---- ic0 imports ----------------------------------------------------------- */
IC0(msg_arg_data_size) usize ic0_msg_arg_data_size(void);
IC0(msg_arg_data_copy) void ic0_msg_arg_data_copy(usize dst, usize off, usize size);
IC0(msg_caller_size) usize ic0_msg_caller_size(void);
IC0(msg_caller_copy) void ic0_msg_caller_copy(usize dst, usize off, usize size);
IC0(msg_reject_code) u32 ic0_msg_reject_code(void);
IC0(msg_reject_msg_size) usize ic0_msg_reject_msg_size(void);
IC0(msg_reject_msg_copy) void ic0_msg_reject_msg_copy(usize dst, usize off, usize size);
IC0(msg_deadline) u64 ic0_msg_deadline(void);
IC0(msg_reply_data_append) void ic0_msg_reply_data_append(usize src, usize size);
IC0(msg_reply) void ic0_msg_reply(void);
IC0(msg_reject) void ic0_msg_reject(usize src, usize size);
IC0(msg_method_name_size) usize ic0_msg_method_name_size(void);
IC0(msg_method_name_copy) void ic0_msg_method_name_copy(usize dst, usize off, usize size);
IC0(accept_message) void ic0_accept_message(void);
IC0(msg_cycles_available128) void ic0_msg_cycles_available128(usize dst);
IC0(msg_cycles_refunded128) void ic0_msg_cycles_refunded128(usize dst);
IC0(msg_cycles_accept128) void ic0_msg_cycles_accept128(u64 hi, u64 lo, usize dst);
IC0(cycles_burn128) void ic0_cycles_burn128(u64 hi, u64 lo, usize dst);
IC0(canister_cycle_balance128) void ic0_canister_cycle_balance128(usize dst);
IC0(canister_liquid_cycle_balance128) void ic0_canister_liquid_cycle_balance128(usize dst);
IC0(call_cycles_add128) void ic0_call_cycles_add128(u64 hi, u64 lo);
IC0(canister_self_size) usize ic0_canister_self_size(void);
IC0(canister_self_copy) void ic0_canister_self_copy(usize dst, usize off, usize size);
IC0(canister_status) u32 ic0_canister_status(void);
IC0(canister_version) u64 ic0_canister_version(void);
IC0(subnet_self_size) usize ic0_subnet_self_size(void);
IC0(subnet_self_copy) void ic0_subnet_self_copy(usize dst, usize off, usize size);
IC0(time) u64 ic0_time(void);
IC0(performance_counter) u64 ic0_performance_counter(u32 type);
IC0(is_controller) u32 ic0_is_controller(usize src, usize size);
IC0(in_replicated_execution) u32 ic0_in_replicated_execution(void);
IC0(global_timer_set) u64 ic0_global_timer_set(u64 ts);
IC0(certified_data_set) void ic0_certified_data_set(usize src, usize size);
IC0(data_certificate_present) u32 ic0_data_certificate_present(void);
IC0(data_certificate_size) usize ic0_data_certificate_size(void);
IC0(data_certificate_copy) void ic0_data_certificate_copy(usize dst, usize off, usize size);
IC0(root_key_size) usize ic0_root_key_size(void);
IC0(root_key_copy) void ic0_root_key_copy(usize dst, usize off, usize size);
IC0(cost_call) void ic0_cost_call(u64 method_size, u64 payload_size, usize dst);
IC0(cost_create_canister) void ic0_cost_create_canister(usize dst);
IC0(debug_print) void ic0_debug_print(usize src, usize size);
IC0(env_var_count) usize ic0_env_var_count(void);
IC0(env_var_name_size) usize ic0_env_var_name_size(usize idx);
IC0(env_var_name_copy) void ic0_env_var_name_copy(usize idx, usize dst, usize off, usize size);
IC0(env_var_name_exists) u32 ic0_env_var_name_exists(usize src, usize size);
IC0(env_var_value_size) usize ic0_env_var_value_size(usize src, usize size);
IC0(env_var_value_copy)
void ic0_env_var_value_copy(usize src, usize size, usize dst, usize off, usize len);
IC0(cost_http_request) void ic0_cost_http_request(u64 req_size, u64 max_res, usize dst);
IC0(cost_sign_with_ecdsa) u32 ic0_cost_sign_with_ecdsa(usize src, usize size, u32 curve, usize dst);
IC0(cost_sign_with_schnorr)
u32 ic0_cost_sign_with_schnorr(usize src, usize size, u32 alg, usize dst);
IC0(cost_vetkd_derive_key)
u32 ic0_cost_vetkd_derive_key(usize src, usize size, u32 curve, usize dst);
IC0(mint_cycles128) void ic0_mint_cycles128(u64 hi, u64 lo, usize dst);
IC0(trap) void ic0_trap(usize src, usize size);
IC0(call_new)
void ic0_call_new(usize callee, usize callee_size, usize name, usize name_size, usize reply_fun,
                  usize reply_env, usize reject_fun, usize reject_env);
IC0(call_data_append) void ic0_call_data_append(usize src, usize size);
IC0(call_on_cleanup) void ic0_call_on_cleanup(usize fun, usize env);
IC0(call_with_best_effort_response) void ic0_call_with_best_effort_response(u32 timeout);
IC0(call_perform) u32 ic0_call_perform(void);
IC0(stable64_size) u64 ic0_stable64_size(void);
IC0(stable64_grow) u64 ic0_stable64_grow(u64 pages);
IC0(stable64_read) void ic0_stable64_read(u64 dst, u64 off, u64 size);
IC0(stable64_write) void ic0_stable64_write(u64 off, u64 src, u64 size);
#ifndef UC_WASM64
/* 32-bit-only functions (not importable by a memory64 module) */
IC0(msg_cycles_available) u64 ic0_msg_cycles_available(void);
IC0(msg_cycles_refunded) u64 ic0_msg_cycles_refunded(void);
IC0(msg_cycles_accept) u64 ic0_msg_cycles_accept(u64 max);
IC0(canister_cycle_balance) u64 ic0_canister_cycle_balance(void);
IC0(call_cycles_add) void ic0_call_cycles_add(u64 amount);
IC0(stable_size) u32 ic0_stable_size(void);
IC0(stable_grow) u32 ic0_stable_grow(u32 pages);
IC0(stable_read) void ic0_stable_read(u32 dst, u32 off, u32 size);
IC0(stable_write) void ic0_stable_write(u32 off, u32 src, u32 size);
#endif

/* ---- helpers ---------------------------------------------------------------- */
#define A(p) ((usize)(uptr)(p))

static __attribute__((noreturn)) void fail(const char *msg, usize n) {
  ic0_trap(A(msg), n);
  __builtin_unreachable();
}
#define FAIL(lit) fail(lit, sizeof(lit) - 1)

/* Per-message arena above __heap_base. */
extern u8 __heap_base[];
static u8 *arena_top;

static void arena_reset(void) { arena_top = __heap_base; }

static u8 *arena_alloc(usize n) {
  u8 *p = arena_top;
  usize end = A(p) + n;
  if (end < A(p)) FAIL("uc: arena overflow");
  end = (end + 15) & ~(usize)15;
  usize have = __builtin_wasm_memory_size(0) * 65536u;
  if (end > have) {
    usize need = (end - have + 65535u) / 65536u;
    if (__builtin_wasm_memory_grow(0, need) == (usize)-1) FAIL("uc: out of memory");
  }
  arena_top = (u8 *)(uptr)end;
  return p;
}

/* Persistent area (static, so it is part of the heap that persists). */
static u8 pheap[UC_PERSISTENT_BYTES];
static usize pheap_used;

static u8 *palloc(usize n) {
  n = (n + 7) & ~(usize)7;
  if (n > sizeof pheap - pheap_used) FAIL("uc: persistent area full");
  u8 *p = pheap + pheap_used;
  pheap_used += n;
  return p;
}

typedef struct blob {
  const u8 *p;
  usize n;
} blob;

static blob pcopy(blob b) {
  blob r = {palloc(b.n), b.n};
  if (b.n) __builtin_memcpy((u8 *)r.p, b.p, b.n);
  return r;
}

/* Heap state. */
static volatile u64 counter = UC_COUNTER_INIT; /* data segment */
static u8 *scratch;
static usize scratch_len, scratch_cap;
static blob hooks[UC_HOOK_COUNT];

/* Callback environment (in the persistent area). */
typedef struct cbenv {
  blob reply, reject, cleanup;
} cbenv;
static cbenv *cur_env; /* of the call under construction (this message) */

/* ---- the machine -------------------------------------------------------------- */
static blob stk[UC_STACK_MAX];
static u32 sp;

static void push(blob b) {
  if (sp >= UC_STACK_MAX) FAIL("uc: stack overflow");
  stk[sp++] = b;
}
static blob pop(void) {
  if (sp == 0) FAIL("uc: stack underflow");
  return stk[--sp];
}
static u64 rd_le(const u8 *p, usize n) {
  u64 v = 0;
  for (usize i = 0; i < n && i < 8; i++) v |= (u64)p[i] << (8 * i);
  return v;
}
static u64 pop_int(void) {
  blob b = pop();
  return rd_le(b.p, b.n);
}
static void pop_u128(u64 *hi, u64 *lo) {
  blob b = pop();
  *lo = rd_le(b.p, b.n);
  *hi = b.n > 8 ? rd_le(b.p + 8, b.n - 8) : 0;
}
static void push_int(u64 v) {
  u8 *p = arena_alloc(8);
  for (int i = 0; i < 8; i++) p[i] = (u8)(v >> (8 * i));
  push((blob){p, 8});
}
static u8 *push_new(usize n) {
  u8 *p = arena_alloc(n);
  push((blob){p, n});
  return p;
}
/* Push an X_size()/X_copy() blob. */
#define PUSH_COPY(size_fn, copy_fn)                                                                \
  do {                                                                                             \
    usize n_ = size_fn();                                                                          \
    u8 *p_ = push_new(n_);                                                                         \
    copy_fn(A(p_), 0, n_);                                                                         \
  } while (0)

static void burn(u64 n) {
  for (u64 i = 0; i < n; i++) __asm__ volatile("" ::: "memory");
}

static void cb_reply(uptr env);
static void cb_reject(uptr env);
static void cb_cleanup(uptr env);

static void run(const u8 *code, usize len) {
  usize pc = 0;
  sp = 0;
  while (pc < len) {
    u8 op = code[pc++];
    switch (op) {
    case UC_PUSH_INT: {
      if (len - pc < 8) FAIL("uc: truncated PUSH_INT");
      push((blob){code + pc, 8});
      pc += 8;
      break;
    }
    case UC_PUSH_BYTES: {
      if (len - pc < 4) FAIL("uc: truncated PUSH_BYTES");
      usize n = (usize)rd_le(code + pc, 4);
      pc += 4;
      if (len - pc < n) FAIL("uc: truncated PUSH_BYTES");
      push((blob){code + pc, n});
      pc += n;
      break;
    }
    case UC_DUP: {
      blob a = pop();
      push(a);
      push(a);
      break;
    }
    case UC_DROP: (void)pop(); break;
    case UC_SWAP: {
      blob b = pop(), a = pop();
      push(b);
      push(a);
      break;
    }
    case UC_CONCAT: {
      blob b = pop(), a = pop();
      u8 *p = push_new(a.n + b.n);
      if (a.n) __builtin_memcpy(p, a.p, a.n);
      if (b.n) __builtin_memcpy(p + a.n, b.p, b.n);
      break;
    }
    case UC_INT_ADD: {
      u64 b = pop_int(), a = pop_int();
      push_int(a + b);
      break;
    }
    case UC_INT_DIV: {
      u64 b = pop_int(), a = pop_int();
      push_int(a / b); /* i64.div_u: a Wasm trap when b == 0 */
      break;
    }
    case UC_UNREACHABLE: __builtin_trap();

    case UC_MSG_ARG_DATA: PUSH_COPY(ic0_msg_arg_data_size, ic0_msg_arg_data_copy); break;
    case UC_MSG_ARG_DATA_SIZE: push_int(ic0_msg_arg_data_size()); break;
    case UC_MSG_ARG_DATA_COPY: {
      usize size = (usize)pop_int(), off = (usize)pop_int();
      u8 *p = push_new(size);
      ic0_msg_arg_data_copy(A(p), off, size);
      break;
    }
    case UC_MSG_ARG_DATA_COPY_TO: {
      usize size = (usize)pop_int(), off = (usize)pop_int(), dst = (usize)pop_int();
      ic0_msg_arg_data_copy(dst, off, size);
      break;
    }
    case UC_MSG_CALLER: PUSH_COPY(ic0_msg_caller_size, ic0_msg_caller_copy); break;
    case UC_MSG_REJECT_CODE: push_int(ic0_msg_reject_code()); break;
    case UC_MSG_REJECT_MSG: PUSH_COPY(ic0_msg_reject_msg_size, ic0_msg_reject_msg_copy); break;
    case UC_MSG_REJECT_MSG_SIZE: push_int(ic0_msg_reject_msg_size()); break;
    case UC_MSG_DEADLINE: push_int(ic0_msg_deadline()); break;
    case UC_REPLY_DATA_APPEND: {
      blob b = pop();
      ic0_msg_reply_data_append(A(b.p), b.n);
      break;
    }
    case UC_REPLY: ic0_msg_reply(); break;
    case UC_REJECT: {
      blob b = pop();
      ic0_msg_reject(A(b.p), b.n);
      break;
    }
    case UC_MSG_METHOD_NAME: PUSH_COPY(ic0_msg_method_name_size, ic0_msg_method_name_copy); break;
    case UC_ACCEPT_MESSAGE: ic0_accept_message(); break;

    case UC_MSG_CYCLES_AVAILABLE128: ic0_msg_cycles_available128(A(push_new(16))); break;
    case UC_MSG_CYCLES_REFUNDED128: ic0_msg_cycles_refunded128(A(push_new(16))); break;
    case UC_MSG_CYCLES_ACCEPT128: {
      u64 hi, lo;
      pop_u128(&hi, &lo);
      ic0_msg_cycles_accept128(hi, lo, A(push_new(16)));
      break;
    }
    case UC_CYCLES_BURN128: {
      u64 hi, lo;
      pop_u128(&hi, &lo);
      ic0_cycles_burn128(hi, lo, A(push_new(16)));
      break;
    }
    case UC_CANISTER_CYCLE_BALANCE128: ic0_canister_cycle_balance128(A(push_new(16))); break;
    case UC_CANISTER_LIQUID_CYCLE_BALANCE128:
      ic0_canister_liquid_cycle_balance128(A(push_new(16)));
      break;
    case UC_CALL_CYCLES_ADD128: {
      u64 hi, lo;
      pop_u128(&hi, &lo);
      ic0_call_cycles_add128(hi, lo);
      break;
    }
#ifndef UC_WASM64
    case UC_MSG_CYCLES_AVAILABLE: push_int(ic0_msg_cycles_available()); break;
    case UC_MSG_CYCLES_REFUNDED: push_int(ic0_msg_cycles_refunded()); break;
    case UC_MSG_CYCLES_ACCEPT: push_int(ic0_msg_cycles_accept(pop_int())); break;
    case UC_CANISTER_CYCLE_BALANCE: push_int(ic0_canister_cycle_balance()); break;
    case UC_CALL_CYCLES_ADD: ic0_call_cycles_add(pop_int()); break;
#endif

    case UC_CANISTER_SELF: PUSH_COPY(ic0_canister_self_size, ic0_canister_self_copy); break;
    case UC_CANISTER_STATUS: push_int(ic0_canister_status()); break;
    case UC_CANISTER_VERSION: push_int(ic0_canister_version()); break;
    case UC_SUBNET_SELF: PUSH_COPY(ic0_subnet_self_size, ic0_subnet_self_copy); break;
    case UC_TIME: push_int(ic0_time()); break;
    case UC_PERFORMANCE_COUNTER: push_int(ic0_performance_counter((u32)pop_int())); break;
    case UC_IS_CONTROLLER: {
      blob b = pop();
      push_int(ic0_is_controller(A(b.p), b.n));
      break;
    }
    case UC_IN_REPLICATED_EXECUTION: push_int(ic0_in_replicated_execution()); break;
    case UC_GLOBAL_TIMER_SET: push_int(ic0_global_timer_set(pop_int())); break;
    case UC_CERTIFIED_DATA_SET: {
      blob b = pop();
      ic0_certified_data_set(A(b.p), b.n);
      break;
    }
    case UC_DATA_CERTIFICATE_PRESENT: push_int(ic0_data_certificate_present()); break;
    case UC_DATA_CERTIFICATE:
      PUSH_COPY(ic0_data_certificate_size, ic0_data_certificate_copy);
      break;
    case UC_ROOT_KEY: PUSH_COPY(ic0_root_key_size, ic0_root_key_copy); break;
    case UC_COST_CALL: {
      u64 payload = pop_int(), method = pop_int();
      ic0_cost_call(method, payload, A(push_new(16)));
      break;
    }
    case UC_COST_CREATE_CANISTER: ic0_cost_create_canister(A(push_new(16))); break;
    case UC_DEBUG_PRINT: {
      blob b = pop();
      ic0_debug_print(A(b.p), b.n);
      break;
    }
    case UC_TRAP: {
      blob b = pop();
      ic0_trap(A(b.p), b.n);
      break;
    }
    case UC_COPY_RAW: {
      usize size = (usize)pop_int(), off = (usize)pop_int(), dst = (usize)pop_int();
      u64 which = pop_int();
      switch (which) {
      case UC_COPY_CALLER: ic0_msg_caller_copy(dst, off, size); break;
      case UC_COPY_SELF: ic0_canister_self_copy(dst, off, size); break;
      case UC_COPY_SUBNET: ic0_subnet_self_copy(dst, off, size); break;
      case UC_COPY_ROOT_KEY: ic0_root_key_copy(dst, off, size); break;
      case UC_COPY_DATA_CERTIFICATE: ic0_data_certificate_copy(dst, off, size); break;
      default: FAIL("uc: bad COPY_RAW kind");
      }
      break;
    }
    case UC_ENV_VAR_COUNT: push_int(ic0_env_var_count()); break;
    case UC_ENV_VAR_NAME: {
      usize idx = (usize)pop_int();
      usize n = ic0_env_var_name_size(idx);
      ic0_env_var_name_copy(idx, A(push_new(n)), 0, n);
      break;
    }
    case UC_ENV_VAR_VALUE: {
      blob name = pop();
      usize n = ic0_env_var_value_size(A(name.p), name.n);
      ic0_env_var_value_copy(A(name.p), name.n, A(push_new(n)), 0, n);
      break;
    }
    case UC_ENV_VAR_NAME_EXISTS: {
      blob name = pop();
      push_int(ic0_env_var_name_exists(A(name.p), name.n));
      break;
    }
    case UC_COST_HTTP_REQUEST: {
      u64 max_res = pop_int(), req = pop_int();
      ic0_cost_http_request(req, max_res, A(push_new(16)));
      break;
    }
    case UC_COST_SIGN: {
      u32 curve = (u32)pop_int();
      blob key = pop();
      u64 kind = pop_int();
      u8 *amount = push_new(16);
      __builtin_memset(amount, 0, 16);
      u32 r = kind == 0   ? ic0_cost_sign_with_ecdsa(A(key.p), key.n, curve, A(amount))
              : kind == 1 ? ic0_cost_sign_with_schnorr(A(key.p), key.n, curve, A(amount))
                          : ic0_cost_vetkd_derive_key(A(key.p), key.n, curve, A(amount));
      push_int(r);
      break;
    }
    case UC_MINT_CYCLES128: {
      u64 hi, lo;
      pop_u128(&hi, &lo);
      ic0_mint_cycles128(hi, lo, A(push_new(16)));
      break;
    }
    case UC_DEBUG_PRINT_RAW: {
      usize size = (usize)pop_int(), src = (usize)pop_int();
      ic0_debug_print(src, size);
      break;
    }

    case UC_CALL_NEW: {
      blob rej = pop(), rep = pop(), method = pop(), callee = pop();
      cbenv *e = (cbenv *)palloc(sizeof *e);
      e->reply = pcopy(rep);
      e->reject = pcopy(rej);
      e->cleanup = (blob){0, 0};
      cur_env = e;
      void (*frep)(uptr) = cb_reply, (*frej)(uptr) = cb_reject;
      ic0_call_new(A(callee.p), callee.n, A(method.p), method.n, A(frep), A(e), A(frej), A(e));
      break;
    }
    case UC_CALL_NEW_RAW: {
      usize rej_env = (usize)pop_int(), rej_fun = (usize)pop_int();
      usize rep_env = (usize)pop_int(), rep_fun = (usize)pop_int();
      blob method = pop(), callee = pop();
      cur_env = 0;
      ic0_call_new(A(callee.p), callee.n, A(method.p), method.n, rep_fun, rep_env, rej_fun,
                   rej_env);
      break;
    }
    case UC_CALL_DATA_APPEND: {
      blob b = pop();
      ic0_call_data_append(A(b.p), b.n);
      break;
    }
    case UC_CALL_ON_CLEANUP: {
      blob s = pop();
      void (*fcl)(uptr) = cb_cleanup;
      if (cur_env) cur_env->cleanup = pcopy(s);
      ic0_call_on_cleanup(A(fcl), A(cur_env));
      break;
    }
    case UC_CALL_WITH_BEST_EFFORT_RESPONSE:
      ic0_call_with_best_effort_response((u32)pop_int());
      break;
    case UC_CALL_PERFORM: push_int(ic0_call_perform()); break;

#ifndef UC_WASM64
    case UC_STABLE_SIZE: push_int(ic0_stable_size()); break;
    case UC_STABLE_GROW: push_int(ic0_stable_grow((u32)pop_int())); break;
    case UC_STABLE_READ: {
      u32 size = (u32)pop_int(), off = (u32)pop_int();
      ic0_stable_read((u32)A(push_new(size)), off, size);
      break;
    }
    case UC_STABLE_WRITE: {
      blob b = pop();
      u32 off = (u32)pop_int();
      ic0_stable_write(off, (u32)A(b.p), (u32)b.n);
      break;
    }
#endif
    case UC_STABLE64_SIZE: push_int(ic0_stable64_size()); break;
    case UC_STABLE64_GROW: push_int(ic0_stable64_grow(pop_int())); break;
    case UC_STABLE64_READ: {
      u64 size = pop_int(), off = pop_int();
      ic0_stable64_read(A(push_new((usize)size)), off, size);
      break;
    }
    case UC_STABLE64_WRITE: {
      blob b = pop();
      u64 off = pop_int();
      ic0_stable64_write(off, A(b.p), b.n);
      break;
    }
    case UC_STABLE64_READ_RAW: {
      u64 size = pop_int(), off = pop_int(), dst = pop_int();
      ic0_stable64_read(dst, off, size);
      break;
    }
    case UC_STABLE64_WRITE_RAW: {
      u64 size = pop_int(), src = pop_int(), off = pop_int();
      ic0_stable64_write(off, src, size);
      break;
    }

    case UC_SCRATCH_SET:
    case UC_SCRATCH_APPEND: {
      blob b = pop();
      usize base = op == UC_SCRATCH_APPEND ? scratch_len : 0;
      usize need = base + b.n;
      if (need > scratch_cap) {
        usize cap = scratch_cap ? scratch_cap : 64;
        while (cap < need) cap *= 2;
        u8 *p = palloc(cap);
        if (base) __builtin_memcpy(p, scratch, base);
        scratch = p;
        scratch_cap = cap;
      }
      if (b.n) __builtin_memmove(scratch + base, b.p, b.n);
      scratch_len = need;
      break;
    }
    case UC_SCRATCH_GET: {
      u8 *p = push_new(scratch_len);
      if (scratch_len) __builtin_memcpy(p, scratch, scratch_len);
      break;
    }
    case UC_COUNTER_INC: counter = counter + 1; push_int(counter); break;
    case UC_COUNTER_GET: push_int(counter); break;
    case UC_SET_HOOK: {
      blob s = pop();
      u64 kind = pop_int();
      if (kind >= UC_HOOK_COUNT) FAIL("uc: bad hook kind");
      hooks[kind] = pcopy(s);
      break;
    }
    case UC_BURN: burn(pop_int()); break;
    case UC_MEMORY_GROW: push_int((u64)__builtin_wasm_memory_grow(0, (usize)pop_int())); break;
    case UC_MEMORY_SIZE: push_int((u64)__builtin_wasm_memory_size(0)); break;

    default: {
      static const char hex[] = "0123456789abcdef";
      char msg[] = "uc: unknown op 0x??";
      msg[sizeof msg - 3] = hex[op >> 4];
      msg[sizeof msg - 2] = hex[op & 15];
      ic0_trap(A(msg), sizeof msg - 1);
      break;
    }
    }
  }
}

/* ---- entry points ---------------------------------------------------------------- */
static void run_arg(void) {
  arena_reset();
  cur_env = 0;
  usize n = ic0_msg_arg_data_size();
  u8 *p = arena_alloc(n);
  ic0_msg_arg_data_copy(A(p), 0, n);
  run(p, n);
}

static void run_hook(int kind) {
  arena_reset();
  cur_env = 0;
  run(hooks[kind].p, hooks[kind].n);
}

/* lld 14 drops the table (and so the callbacks' table slots) from a module
 * without call_indirect: the callbacks run their script through this
 * pointer, which also keeps the table alive. */
static void run_env(blob s);
static void (*volatile run_env_fn)(blob) = run_env;

static void run_env(blob s) {
  arena_reset();
  cur_env = 0;
  run(s.p, s.n);
}

static void cb_reply(uptr env) { run_env_fn(((cbenv *)env)->reply); }
static void cb_reject(uptr env) { run_env_fn(((cbenv *)env)->reject); }
static void cb_cleanup(uptr env) {
  if (env) run_env_fn(((cbenv *)env)->cleanup);
}

/* Which entry point runs (also keeps the linker from folding the identical
 * entry functions into one exported under several names). */
static volatile u32 entry;
#define ENTRY(name, id, body)                                                                      \
  EXPORT(name) void uc_entry_##id(void) {                                                          \
    entry = id;                                                                                    \
    body;                                                                                          \
  }

ENTRY("canister_init", 1, run_arg())
ENTRY("canister_post_upgrade", 2, run_arg())
ENTRY("canister_pre_upgrade", 3, run_hook(UC_HOOK_PRE_UPGRADE))
ENTRY("canister_update update", 4, run_arg())
ENTRY("canister_query query", 5, run_arg())
ENTRY("canister_composite_query cquery", 6, run_arg())
ENTRY("canister_heartbeat", 7, run_hook(UC_HOOK_HEARTBEAT))
ENTRY("canister_global_timer", 8, run_hook(UC_HOOK_GLOBAL_TIMER))
ENTRY("canister_on_low_wasm_memory", 9, run_hook(UC_HOOK_LOW_MEMORY))
ENTRY("canister_inspect_message", 10,
      if (hooks[UC_HOOK_INSPECT].n) run_hook(UC_HOOK_INSPECT); else ic0_accept_message())
