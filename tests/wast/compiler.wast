;; Compiler cases: the deferred virtual stack (local.get and constants not
;; copied until needed), result retargeting, fused compare-branches,
;; br_table stubs, fused address arithmetic and the constant pool.
;; Expected values checked with wabt: spectest-interp passes every assertion.
(module
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $seven $eight)
  (type $v_i (func (result i32)))
  (func $seven (result i32) (i32.const 7))
  (func $eight (result i32) (i32.const 8))

  ;; a deferred read of x must see x's old value after x is overwritten
  (func (export "old_value") (param $x i32) (result i32)
    (local.get $x)
    (local.set $x (i32.add (local.get $x) (i32.const 100)))
    (i32.sub (local.get $x)))            ;; (x+100) - x ... operands: old x first
  ;; same, with the write inside a block (entries below a label)
  (func (export "old_value_block") (param $x i32) (result i32)
    (local.get $x)
    (block (local.set $x (i32.const 5)))
    (i32.mul (local.get $x)))            ;; old_x * 5
  ;; write inside one arm of an if
  (func (export "old_value_if") (param $x i32) (param $c i32) (result i32)
    (local.get $x)
    (if (local.get $c) (then (local.set $x (i32.const 1000))))
    (i32.add (local.get $x)))            ;; old_x + (c ? 1000 : old_x)
  ;; tee in the middle of an expression: two readers of the same local
  (func (export "tee_chain") (param $x i32) (result i32)
    (local $y i32)
    (i32.add
      (local.get $y)                     ;; 0 (old y)
      (i32.mul (local.tee $y (i32.add (local.get $x) (i32.const 1))) (local.get $y))))
  ;; swap through the stack: both reads before both writes
  (func (export "swap") (param $a i32) (param $b i32) (result i32)
    (local.get $a) (local.get $b)
    (local.set $a) (local.set $b)
    (i32.sub (local.get $a) (local.get $b)))   ;; b - a
  ;; multi-value return of locals in swapped order
  (func $pair (param $a i64) (param $b i64) (result i64 i64)
    (local.get $b) (local.get $a))
  (func (export "pair_diff") (param $a i64) (param $b i64) (result i64)
    (call $pair (local.get $a) (local.get $b))
    (i64.sub))                                 ;; b - a
  ;; br_if carrying a deferred value, fallthrough uses it too
  (func (export "br_if_value") (param $x i32) (result i32)
    (block $out (result i32)
      (br_if $out (local.get $x) (i32.gt_s (local.get $x) (i32.const 10)))
      (i32.add (i32.const 1))))                ;; x > 10 ? x : x + 1
  ;; br_table whose targets need value moves and include the function label
  (func (export "br_table_mix") (param $i i32) (result i32)
    (i32.add (i32.const 1)
      (block $a (result i32)
        (block $b (result i32)
          (br_table $a $b 2 $a (i32.const 40) (local.get $i)))
        (i32.const 100) (i32.add))))          ;; 0 -> 41, 1 -> 141, 2 -> 40, else 41
  ;; loop with parameters (multi-value), sum 1..n
  (func (export "loop_params") (param $n i32) (result i32)
    (i32.const 0) (local.get $n)
    (loop $l (param i32 i32) (result i32)
      (local.set $n)                           ;; n = counter
      (i32.add (local.get $n))                 ;; acc += n
      (local.get $n) (i32.const 1) (i32.sub)
      (local.tee $n)
      (br_if $l (i32.ne (local.get $n) (i32.const 0)))
      (drop)))
  ;; compare fused into if, with deferred entries below the condition
  (func (export "if_fused") (param $x i32) (result i32)
    (local.get $x)
    (if (result i32) (i32.lt_u (local.get $x) (i32.const 5))
      (then (i32.const 1)) (else (i32.const 2)))
    (i32.add))
  ;; select and call_indirect with constant operands
  (func (export "select_const") (param $c i32) (result i32)
    (select (i32.const 3) (i32.const 4) (local.get $c)))
  (func (export "icall_const") (result i32)
    (i32.add (call_indirect (type $v_i) (i32.const 1)) (call_indirect (type $v_i) (i32.const 0))))
  ;; fused address + store/load, value local equal to an address local
  (func (export "addr_fuse") (param $p i32) (param $q i32) (result i32)
    (i32.store (i32.add (local.get $p) (local.get $q)) (local.get $p))
    (i32.store offset=4 (i32.add (local.get $p) (i32.const 8)) (local.get $q))
    (i32.add
      (i32.load (i32.add (local.get $p) (local.get $q)))
      (i32.load offset=12 (local.get $p))))    ;; p + q
  ;; the wrapped 32-bit sum is the address (0xfffffff0 + 0x20 = 0x10)
  (func (export "addr_wrap") (result i32)
    (i32.store (i32.const 0x10) (i32.const 77))
    (i32.load (i32.add (i32.const 0xfffffff0) (i32.const 0x20))))
  ;; an address whose 33-bit sum would be in bounds if not wrapped... but
  ;; offset is added after wrapping: must trap
  (func (export "addr_oob") (param $p i32) (result i32)
    (i32.load offset=0xffff0000 (i32.add (local.get $p) (i32.const 0x10000))))
  ;; constant pool: more constants than the pool holds, all still right
  (func (export "many_consts") (param $x i64) (result i64)
    (i64.add (i64.const 1) (i64.mul (local.get $x) (i64.const 0x100000001)))
    (i64.sub (i64.const 0x7fffffffffffffff) (local.get $x)) (i64.xor)
    (i64.const 3) (i64.const 5) (i64.rotl) (i64.or)
    (i64.const 0x123456789) (local.get $x) (i64.sub) (i64.add))
  ;; zero stores at the start of a body: skipped only for untouched locals
  (func (export "zero_param") (param $p i32) (result i32)
    (local.set $p (i32.const 0)) (local.get $p))
  (func (export "zero_rewrite") (result i32)
    (local $a i32)
    (local.set $a (i32.const 3)) (local.set $a (i32.const 0)) (local.get $a))
  (func (export "zero_tee") (result i64)
    (local $a i64) (local $b i64)
    (local.set $b (local.tee $a (i64.const 0)))
    (i64.add (local.get $a) (local.get $b)))
)

(assert_return (invoke "old_value" (i32.const 7)) (i32.const -100))
(assert_return (invoke "old_value_block" (i32.const 7)) (i32.const 35))
(assert_return (invoke "old_value_if" (i32.const 7) (i32.const 0)) (i32.const 14))
(assert_return (invoke "old_value_if" (i32.const 7) (i32.const 1)) (i32.const 1007))
(assert_return (invoke "tee_chain" (i32.const 4)) (i32.const 25))
(assert_return (invoke "swap" (i32.const 3) (i32.const 10)) (i32.const 7))
(assert_return (invoke "pair_diff" (i64.const 3) (i64.const 10)) (i64.const 7))
(assert_return (invoke "br_if_value" (i32.const 20)) (i32.const 20))
(assert_return (invoke "br_if_value" (i32.const 5)) (i32.const 6))
(assert_return (invoke "br_table_mix" (i32.const 0)) (i32.const 41))
(assert_return (invoke "br_table_mix" (i32.const 1)) (i32.const 141))
(assert_return (invoke "br_table_mix" (i32.const 2)) (i32.const 40))
(assert_return (invoke "br_table_mix" (i32.const 9)) (i32.const 41))
(assert_return (invoke "loop_params" (i32.const 10)) (i32.const 55))
(assert_return (invoke "if_fused" (i32.const 3)) (i32.const 4))
(assert_return (invoke "if_fused" (i32.const 9)) (i32.const 11))
(assert_return (invoke "select_const" (i32.const 1)) (i32.const 3))
(assert_return (invoke "select_const" (i32.const 0)) (i32.const 4))
(assert_return (invoke "icall_const") (i32.const 15))
(assert_return (invoke "addr_fuse" (i32.const 100) (i32.const 20)) (i32.const 120))
(assert_return (invoke "addr_wrap") (i32.const 77))
(assert_trap (invoke "addr_oob" (i32.const 0)) "out of bounds memory access")
(assert_trap (invoke "addr_oob" (i32.const 0xffff0000)) "out of bounds memory access")
(assert_return (invoke "many_consts" (i64.const 5)) (i64.const 9223372020266657664))
(assert_return (invoke "zero_param" (i32.const 5)) (i32.const 0))
(assert_return (invoke "zero_rewrite") (i32.const 0))
(assert_return (invoke "zero_tee") (i64.const 0))
