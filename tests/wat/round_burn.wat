;; round_burn: a canister without tasks for the round tests (tests/api_round.c).
;;   update "burn": the argument is a little-endian u64 n; loops n times,
;;     adds 1 to the counter at address 0 and replies with it (8 bytes).
;;   update "get": replies with the counter.
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (memory 1)
  (func $reply_counter
    (call $append (i32.const 0) (i32.const 8))
    (call $reply))
  (func (export "canister_update burn")
    (local $n i64) (local $acc i64)
    (i64.store (i32.const 16) (i64.const 0))
    (if (i32.ge_u (call $arg_size) (i32.const 8))
      (then (call $arg_copy (i32.const 16) (i32.const 0) (i32.const 8))))
    (local.set $n (i64.load (i32.const 16)))
    (block $done
      (loop $l
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (local.get $n)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $l)))
    (i64.store (i32.const 24) (local.get $acc))
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (i64.const 1)))
    (call $reply_counter))
  (func (export "canister_update get")
    (call $reply_counter)))
