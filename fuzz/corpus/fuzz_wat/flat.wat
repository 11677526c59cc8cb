(func $f (param i32) (result i32)
  local.get 0
  if $i (result i32)
    i32.const 1
  else $i
    block $b (param) (result i32)
      i32.const 2 i32.const 3 i32.add
    end $b
  end $i)
(export "f" (func $f))
(start $s) (func $s)
