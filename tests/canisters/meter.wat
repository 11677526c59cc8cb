;; meter.wat -- a canister with exact instruction counts (reference section 4.3),
;; used by tests/unit_conformance.c ([14.9], [14.10], [14.11], [14.41]).
(module
  (import "ic0" "performance_counter" (func $pc (param i32) (result i64)))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory 1)
  ;; entry point: 1
  (func (export "canister_update empty"))
  ;; entry 1 (+ loop 0); body per iteration: local.get, i32.const, i32.add,
  ;; local.set, local.get, i32.const, i32.lt_u = 7, br_if 2 = 9; the
  ;; function end 0: 1 + 10 * 9 = 91
  (func (export "canister_update loop10") (local $i i32)
    (loop $l
      local.get $i i32.const 1 i32.add local.set $i
      local.get $i i32.const 10 i32.lt_u br_if $l))
  ;; reply performance_counter(0) after - before around memory.fill of
  ;; 1000 bytes: every static cost of the body is charged at entry, so the
  ;; difference is the second counter call (200) + the fill's byte count
  (func (export "canister_update fill") (local $a i64)
    i32.const 0 call $pc local.set $a
    i32.const 100 i32.const 7 i32.const 1000 memory.fill
    i32.const 16 i32.const 0 call $pc local.get $a i64.sub i64.store
    i32.const 16 i32.const 8 call $append call $reply)
  ;; the same with memory.copy of 4096 bytes
  (func (export "canister_update copy") (local $a i64)
    i32.const 0 call $pc local.set $a
    i32.const 8192 i32.const 100 i32.const 4096 memory.copy
    i32.const 16 i32.const 0 call $pc local.get $a i64.sub i64.store
    i32.const 16 i32.const 8 call $append call $reply)
  ;; [14.41] canonical NaN: f32 0/0 and f64 sqrt(-1)
  (func (export "canister_update nan")
    i32.const 0 f32.const 0 f32.const 0 f32.div f32.store
    i32.const 4 f64.const -1 f64.sqrt f64.store
    i32.const 12 f32.const -nan:0x200000 f32.const 1 f32.add f32.store
    i32.const 0 i32.const 16 call $append call $reply)
)
