(module
  (memory i64 1 2)
  (table i64 1 funcref)
  (func (result i64) (i64.load offset=0x1_0000_0000 align=8 (i64.const 0))))
