;; Fixture of tests/api_engine.c: one export per behaviour under test.
(module
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))
  (global (export "answer") i32 (i32.const 42))
  (table 1 funcref)

  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "nop"))
  ;; Returns its arguments in reverse order.
  (func (export "mix") (param i32 i64 f32 f64) (result f64 f32 i64 i32)
    local.get 3 local.get 2 local.get 1 local.get 0)
  (func (export "ext") (param externref) (result externref) local.get 0)
  (func (export "fref") (param funcref) (result funcref) local.get 0)
  (func (export "fref_nonnull") (result funcref) ref.func $loop)
  (func (export "trap") unreachable)
  (func (export "div") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.div_s)
  (func (export "oob") (result i32)
    i32.const 65536 i32.load)
  (func (export "store") (param i32 i32)
    local.get 0 local.get 1 i32.store)
  (func (export "load") (param i32) (result i32)
    local.get 0 i32.load)
  (func $recurse (export "recurse") call $recurse)
  (func (export "null_call") (result i32)
    i32.const 0 call_indirect (result i32))
  ;; Counts down from n to 0; returns the number of iterations (n).
  (func $loop (export "loop") (param i32) (result i32) (local i32)
    block
      loop
        local.get 0 i32.eqz br_if 1
        local.get 0 i32.const 1 i32.sub local.set 0
        local.get 1 i32.const 1 i32.add local.set 1
        br 0
      end
    end
    local.get 1)
  (func (export "forever") (loop (br 0)))
  (func (export "inc") (result i32)
    global.get $count i32.const 1 i32.add global.set $count global.get $count)
  ;; 20 parameters: exercises argument staging beyond the on-stack buffer.
  (func (export "sum20")
    (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (result i32)
    local.get 0 local.get 1 i32.add local.get 2 i32.add local.get 3 i32.add
    local.get 4 i32.add local.get 5 i32.add local.get 6 i32.add local.get 7 i32.add
    local.get 8 i32.add local.get 9 i32.add local.get 10 i32.add local.get 11 i32.add
    local.get 12 i32.add local.get 13 i32.add local.get 14 i32.add local.get 15 i32.add
    local.get 16 i32.add local.get 17 i32.add local.get 18 i32.add local.get 19 i32.add)
  ;; 0/0: a NaN whose bits the hardware chooses (x86: sign set), canonical
  ;; after canonicalisation.
  (func (export "nan32") (result f32)
    f32.const 0 f32.const 0 f32.div)
  (func (export "nan64") (result f64)
    f64.const 0 f64.const 0 f64.div))
