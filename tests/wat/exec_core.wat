;; Fixture for tests/unit_exec.c: suspension, fuel, traps, NaNs, recursion.
(module
  (import "host" "yield" (func $yield (param i32) (result i32)))
  (memory 1)
  (table 4 funcref)
  (global $depth (mut i32) (i32.const 0))
  (type $v_i (func (result i32)))
  (type $i_i (func (param i32) (result i32)))
  (elem (i32.const 0) $forty_two $double)
  (func $forty_two (result i32) (i32.const 42))
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))

  ;; sum of yield(i) for i in [0, n)
  (func (export "yields") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc) (call $yield (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $acc))

  ;; a long loop with a checksum (xorshift64), n iterations
  (func (export "spin") (param $n i64) (result i64)
    (local $x i64)
    (local.set $x (i64.const 88172645463325252))
    (block $done
      (loop $l
        (br_if $done (i64.eqz (local.get $n)))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
        (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        (br $l)))
    (local.get $x))

  ;; unbounded recursion: counts its depth in a global
  (func $rec (export "rec") (result i32)
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (call $rec))
  (func (export "depth") (result i32) (global.get $depth))
  (func (export "reset_depth") (global.set $depth (i32.const 0)))
  (func $fact (export "fact") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fact (i64.sub (local.get 0) (i64.const 1)))))))

  ;; traps
  (func (export "unreachable") (unreachable))
  (func (export "div0") (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "ovf") (result i32) (i32.div_s (i32.const 0x80000000) (i32.const -1)))
  (func (export "conv") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "oob") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "icall") (param i32) (result i32) (call_indirect (type $v_i) (local.get 0)))

  ;; floats as bits
  (func (export "f32_div") (param i32 i32) (result i32)
    (i32.reinterpret_f32 (f32.div (f32.reinterpret_i32 (local.get 0)) (f32.reinterpret_i32 (local.get 1)))))
  (func (export "f32_add") (param i32 i32) (result i32)
    (i32.reinterpret_f32 (f32.add (f32.reinterpret_i32 (local.get 0)) (f32.reinterpret_i32 (local.get 1)))))
  (func (export "f32_neg") (param i32) (result i32)
    (i32.reinterpret_f32 (f32.neg (f32.reinterpret_i32 (local.get 0)))))
  (func (export "f64_sqrt") (param i64) (result i64)
    (i64.reinterpret_f64 (f64.sqrt (f64.reinterpret_i64 (local.get 0)))))
  (func (export "f64_min") (param i64 i64) (result i64)
    (i64.reinterpret_f64 (f64.min (f64.reinterpret_i64 (local.get 0)) (f64.reinterpret_i64 (local.get 1)))))
  (func (export "f64_promote") (param i32) (result i64)
    (i64.reinterpret_f64 (f64.promote_f32 (f32.reinterpret_i32 (local.get 0)))))
)
