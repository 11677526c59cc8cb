;; A module in the shape lib/instrument.c produces (hand-written): the "__"
;; imports first, the counter global, decr, and the exact charge sequences
;; that the compiler fuses into METER / METER_NC (tests/unit_meter.c).
(module
  (import "__" "out_of_instructions" (func $ooi))
  (import "__" "try_grow_wasm_memory" (func $try_grow (param i32 i32) (result i32)))
  (memory 1)
  (global $C (mut i64) (i64.const 0))
  (global $g (mut i32) (i32.const 0))

  ;; decr(n): C := C - n saturating at INT64_MIN; if C < 0 call ooi; n
  (func $decr (param $n i64) (result i64)
    global.get $C
    i64.const 0x8000000000000000
    local.get $n
    i64.add
    i64.lt_s
    if
      i64.const 0x8000000000000000
      global.set $C
    else
      global.get $C
      local.get $n
      i64.sub
      global.set $C
    end
    global.get $C
    i64.const 0
    i64.lt_s
    if
      call $ooi
    end
    local.get $n)

  ;; loop(n, k): sum of n..1, charging k extra per iteration (k is baked
  ;; into the charge below as 1000; the argument only feeds the sum).
  (func (export "loop") (param $n i64) (result i64)
    (local $acc i64)
    global.get $C i64.const 3 i64.sub global.set $C
    global.get $C i64.const 0 i64.lt_s if call $ooi end
    block
      loop
        global.get $C i64.const 1000 i64.sub global.set $C
        global.get $C i64.const 0 i64.lt_s if call $ooi end
        local.get $n
        i64.eqz
        br_if 1
        global.get $C i64.const 7 i64.sub global.set $C
        local.get $acc local.get $n i64.add local.set $acc
        local.get $n i64.const 1 i64.sub local.set $n
        br 0
      end
    end
    global.get $C i64.const 2 i64.sub global.set $C
    local.get $acc)

  ;; fill(n): memory.fill of n bytes with the dynamic charge, plus a store
  (func (export "fill") (param $n i32) (result i32)
    global.get $C i64.const 100 i64.sub global.set $C
    global.get $C i64.const 0 i64.lt_s if call $ooi end
    i32.const 16
    i32.const 7
    local.get $n
    i64.extend_i32_u
    call $decr
    i32.wrap_i64
    memory.fill
    global.get $g i32.const 1 i32.add global.set $g
    i32.const 20
    i32.load8_u)

  (func (export "__icx_counter_get") (result i64) global.get $C)
  (func (export "__icx_counter_set") (param i64) local.get 0 global.set $C)
)
