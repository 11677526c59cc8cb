(module
  (type $t (func (param i32) (result i32)))
  (func (type $t) (param i32) (result i32)
    (call_indirect (param i32) (result i32) (local.get 0) (i32.const 0)))
  (table 1 funcref)
  (func (block (param) (result i32 i64) (i32.const 1) (i64.const 2)) drop drop)
  (func (result f32) (f32.const 1.00000005960464477539062500000000000000000001)))
