"""demo.py -- libicexec from Python: install a canister, run rounds, query it.

    ICEXEC_LIB=build/libicexec.so python3 examples/python/demo.py

Round 1 creates a canister, round 2 installs the counter canister below
(init argument 41), round 3 sends three update calls (two increments and
one that the canister rejects), round 4 one that traps.  Then queries on a
snapshot, and a checkpoint: the state is saved, loaded by a second engine,
and both execute the same next round to the same state hash.

The canister (COUNTER_WASM is what wat2wasm makes of COUNTER_WAT; the
test checks that when wat2wasm is installed):
"""

import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import icexec  # noqa: E402

COUNTER_WAT = """\
(module
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_caller_size" (func $caller_size (result i32)))
  (import "ic0" "msg_caller_copy" (func $caller_copy (param i32 i32 i32)))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reject" (func $reject (param i32 i32)))
  (import "ic0" "debug_print" (func $print (param i32 i32)))
  ;; heap: 0 the counter (u64); 16 "inc"; 32 "odd step"; 64.. scratch
  (memory 1)
  (data (i32.const 16) "inc")
  (data (i32.const 32) "odd step")
  ;; the argument's first 8 bytes (zero-padded) as a u64, default 1 if empty
  (func $arg (result i64)
    (if (i32.eqz (call $arg_size)) (then (return (i64.const 1))))
    (i64.store (i32.const 64) (i64.const 0))
    (call $arg_copy (i32.const 64) (i32.const 0) (call $arg_size))
    (i64.load (i32.const 64)))
  (func $reply_counter
    (call $append (i32.const 0) (i32.const 8))
    (call $reply))
  ;; init(n): the counter starts at n (0 without an argument)
  (func (export "canister_init")
    (if (call $arg_size) (then (i64.store (i32.const 0) (call $arg)))))
  ;; inc(k = 1): counter += k, replies the counter; an odd k above 100 is rejected
  (func (export "canister_update inc") (local $k i64)
    (local.set $k (call $arg))
    (if (i32.and (i64.gt_u (local.get $k) (i64.const 100))
                 (i64.eq (i64.and (local.get $k) (i64.const 1)) (i64.const 1)))
      (then (call $reject (i32.const 32) (i32.const 8)) (return)))
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (local.get $k)))
    (call $print (i32.const 16) (i32.const 3))
    (call $reply_counter))
  ;; trap: changes the counter, then traps (the change is rolled back)
  (func (export "canister_update trap")
    (i64.store (i32.const 0) (i64.const 999))
    unreachable)
  ;; get: the counter
  (func (export "canister_query get") (call $reply_counter))
  ;; peek(k): counter + k in a query (the change is discarded)
  (func (export "canister_query peek")
    (i64.store (i32.const 0) (i64.add (i64.load (i32.const 0)) (call $arg)))
    (call $reply_counter))
  ;; whoami: the caller's principal bytes
  (func (export "canister_query whoami")
    (call $caller_copy (i32.const 64) (i32.const 0) (call $caller_size))
    (call $append (i32.const 64) (call $caller_size))
    (call $reply)))
"""

COUNTER_WASM = bytes.fromhex(
    "0061736d010000000117056000017f60037f7f7f0060027f7f006000006000017e02ac01"
    "0803696330116d73675f6172675f646174615f73697a65000003696330116d73675f6172"
    "675f646174615f636f70790001036963300f6d73675f63616c6c65725f73697a65000003"
    "6963300f6d73675f63616c6c65725f636f7079000103696330156d73675f7265706c795f"
    "646174615f617070656e64000203696330096d73675f7265706c790003036963300a6d73"
    "675f72656a6563740002036963300b64656275675f7072696e7400020309080403030303"
    "0303030503010001078101060d63616e69737465725f696e6974000a1363616e69737465"
    "725f75706461746520696e63000b1463616e69737465725f757064617465207472617000"
    "0c1263616e69737465725f717565727920676574000d1363616e69737465725f71756572"
    "79207065656b000e1563616e69737465725f71756572792077686f616d69000f0aad0108"
    "2200100045044042010f0b41c000420037030041c00041001000100141c0002903000b0a"
    "0041004108100410050b0e0010000440410010083703000b0b3601017e10082100200042"
    "e4005620004201834201517104404120410810060f0b4100410029030020007c37030041"
    "104103100710090b0b00410042e707370300000b040010090b1100410041002903001008"
    "7c37030010090b140041c00041001002100341c0001002100410050b0b16020041100b03"
    "696e630041200b086f64642073746570"
)

T0 = 1_700_000_000_000_000_000  # block time of round 0, ns
SECOND = 1_000_000_000


def u64(n):
    return struct.pack("<Q", n)


def from_u64(b):
    return struct.unpack("<Q", b)[0]


class Subnet:
    """An engine's state and the next round number, one round at a time."""

    def __init__(self, engine, state=None):
        self.engine = engine
        self.state = state if state is not None else engine.new_state()

    def next_batch(self):
        r = self.state.round + 1
        return self.engine.new_batch(r, T0 + r * SECOND, b"demo sig %d" % r)

    def run(self, fill):
        """Build a batch with fill(batch) -> x, execute it; (output, x)."""
        with self.next_batch() as batch:
            x = fill(batch)
            return self.engine.execute_round(self.state, batch), x

    def call(self, sender, canister, method, arg=b""):
        """One update call in its own round; its IngressResult."""
        out, mid = self.run(lambda b: b.add_ingress(sender, canister, method, arg))
        return out[mid]

    def create_and_install(self, sender, wasm, arg=b"", cycles=10 ** 13):
        out, mid = self.run(lambda b: b.add_create_canister(sender, cycles))
        canister = icexec.reply_canister_id(out[mid].reply)
        out, mid = self.run(lambda b: b.add_install_code(sender, canister, wasm, arg))
        out[mid].reply  # raises if the installation was rejected
        return canister


def main():
    printed = []
    engine = icexec.Engine(debug_print=lambda c, msg: printed.append((c, msg)))
    user = icexec.Principal.self_authenticating(b"demo.py user key")
    print("libicexec %s from %s" % (icexec.version(), icexec.library_path))
    print("user %s" % user)

    net = Subnet(engine)
    canister = net.create_and_install(user, COUNTER_WASM, arg=u64(41))
    print("round %d: canister %s installed (init 41)" % (net.state.round, canister))

    ids = {}
    def fill(b):
        ids["inc"] = b.add_ingress(user, canister, "inc")
        ids["inc5"] = b.add_ingress(user, canister, "inc", u64(5))
        ids["inc101"] = b.add_ingress(user, canister, "inc", u64(101))
    out, _ = net.run(fill)
    print("round %d: %d instructions, state hash %s" % (net.state.round, out.instructions,
                                                       out.state_hash.hex()[:16]))
    print("  inc()    -> %d" % from_u64(out[ids["inc"]].reply))
    print("  inc(5)   -> %d" % from_u64(out[ids["inc5"]].reply))
    r = out[ids["inc101"]]
    print("  inc(101) -> rejected, code %d IC%04d: %s" % (r.reject_code, r.error_code,
                                                          r.reject_message))
    for c, msg in printed:
        print("  debug_print from %s: %s" % (c, msg.decode()))

    r = net.call(user, canister, "trap")
    print("round %d: trap -> rejected, code %d IC%04d" % (net.state.round, r.reject_code,
                                                          r.error_code))

    with net.state.snapshot() as snap:
        get = snap.query(user, canister, "get")
        peek = snap.query(user, canister, "peek", u64(1000))
        again = snap.query(user, canister, "get")
        who = snap.query(icexec.Principal.anonymous(), canister, "whoami")
        print("queries on the snapshot of round %d:" % snap.round)
        print("  get() -> %d (%d instructions)" % (from_u64(get.reply), get.instructions))
        print("  peek(1000) -> %d, then get() -> %d (query changes are discarded)"
              % (from_u64(peek.reply), from_u64(again.reply)))
        print("  whoami() as anonymous -> %s" % icexec.Principal(who.reply))

    with tempfile.TemporaryDirectory(prefix="icexec-demo-") as d:
        net.state.save(d)
        with icexec.Engine() as engine2:
            net2 = Subnet(engine2, engine2.load_state(d))
            print("checkpoint: saved round %d, loaded: round %d, %d canister(s), same hash: %s"
                  % (net.state.round, net2.state.round, net2.state.canister_count,
                     net2.state.hash() == net.state.hash()))
            a = net.call(user, canister, "inc", u64(8))
            b = net2.call(user, canister, "inc", u64(8))
            same = net.state.hash() == net2.state.hash()
            print("round %d on both: inc(8) -> %d and %d, same state hash: %s"
                  % (net.state.round, from_u64(a.reply), from_u64(b.reply), same))
    engine.close()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
