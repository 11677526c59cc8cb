(module
  (global f32 (f32.const 0x1p-149)) (global f32 (f32.const -nan:0x200000))
  (global f64 (f64.const 2.2250738585072011e-308)) (global f64 (f64.const -inf))
  (global f32 (f32.const 1_000.000_1e-1_0)) (global f64 (f64.const 0x1.fffffffffffffp1023))
  (global i32 (i32.const -0x8000_0000)) (global i64 (i64.const 18446744073709551615))
  (memory 1) (data (i32.const 8) "a\00\t\n\\\"\'\u{1F600}" "b"))
