(module
  (func $f (result i32) (i32.const 0x1_0000_0000))
  (func) (import "m" "n" (func))
  (data $l"a")
  block $a end $b
