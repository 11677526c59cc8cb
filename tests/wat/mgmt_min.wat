;; Fixture of tests/unit_mgmt.c: a minimal canister for install_code.
;; canister_init stores 1 at address 0; update "go" replies with no data.
(module
  (import "ic0" "msg_reply" (func $reply))
  (memory 1)
  (func (export "canister_init")
    i32.const 0 i32.const 1 i32.store)
  (func (export "canister_update go")
    call $reply))
