(module $fac
  (type $t (func (param i64) (result i64)))
  (func $rec (export "fac-rec") (type $t)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $rec (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "fac-iter") (param $n i64) (result i64) (local $r i64)
    i64.const 1 local.set $r
    block $done
      loop $l
        local.get $n i64.eqz br_if $done
        (local.set $r (i64.mul (local.get $r) (local.get $n)))
        (local.set $n (i64.sub (local.get $n) (i64.const 1)))
        br $l
      end
    end
    local.get $r))
