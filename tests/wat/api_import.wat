;; Fixture of tests/api_engine.c: a module with an import (unlinkable for now).
(module
  (import "env" "host_fn" (func (param i32)))
  (func (export "f") i32.const 1 call 0))
