"""test_icexec.py -- tests of the ctypes binding (icexec.py) against the real library.

    ICEXEC_LIB=build/libicexec.so python3 examples/python/test_icexec.py -v

Run by `make check` (examples/examples.mk, target python-check).  Standard
library only.  The struct layouts are checked against the C header with the
C compiler in $CC (default cc) when there is one; the canister bytes against
wat2wasm when it is installed.
"""

import contextlib
import ctypes
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo  # noqa: E402
import icexec  # noqa: E402
from demo import Subnet, from_u64, u64  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
INCLUDE = os.path.normpath(os.path.join(HERE, "..", "..", "include"))
USER = icexec.Principal.self_authenticating(b"test_icexec user")

ADD_WAT = """(module
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "mix") (param i64 f64) (result f64 i64)
    local.get 1 f64.const 0.5 f64.mul local.get 0 i64.const -1 i64.mul)
  (func (export "boom") unreachable))"""


def installed(engine, init=41, **kw):
    """A Subnet with the demo's counter canister installed; (subnet, canister)."""
    net = Subnet(engine)
    return net, net.create_and_install(USER, demo.COUNTER_WASM, arg=u64(init), **kw)


class TestLayouts(unittest.TestCase):
    """Every ctypes structure against the header: size and field offsets."""

    STRUCTS = {
        "icx_engine_opts": icexec.c_engine_opts,
        "icx_principal": icexec.c_principal,
        "icx_message_id": icexec.c_message_id,
        "icx_ingress_result": icexec.c_ingress_result,
        "icx_xnet_message": icexec.c_xnet_message,
        "icx_canister_round_stats": icexec.c_canister_round_stats,
        "icx_query_result": icexec.c_query_result,
        "icx_install_options": icexec.c_install_options,
        "icx_value": icexec.c_value,
        "icx_call_result": icexec.c_call_result,
    }

    def test_layouts_match_the_header(self):
        cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler to read the header's layouts")
        lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <icexec.h>",
                 "int main(void) {"]
        expect = []
        for cname, ct in self.STRUCTS.items():
            lines.append('printf("%%zu\\n", sizeof(%s));' % cname)
            expect.append(("sizeof " + cname, ctypes.sizeof(ct)))
            for field, _ in ct._fields_:
                lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (cname, field))
                expect.append(("%s.%s" % (cname, field), getattr(ct, field).offset))
        lines.append("return 0; }")
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
            with open(src, "w") as f:
                f.write("\n".join(lines))
            subprocess.run([cc, "-std=c11", "-I", INCLUDE, "-o", exe, src], check=True)
            got = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split()
        self.assertEqual(len(got), len(expect))
        for (what, want), have in zip(expect, got):
            self.assertEqual(int(have), want, what)

    def test_engine_opts_size_from_the_library(self):
        o = icexec.c_engine_opts()
        icexec.library().engine_opts_init(ctypes.byref(o))
        self.assertEqual(o.struct_size, ctypes.sizeof(icexec.c_engine_opts))
        self.assertEqual(o.header_version // 1000000, icexec.HEADER_VERSION // 1000000)


class TestPrincipals(unittest.TestCase):
    def test_well_known(self):
        self.assertEqual(icexec.Principal.management().text, "aaaaa-aa")
        self.assertEqual(icexec.Principal.anonymous().bytes, b"\x04")
        self.assertEqual(str(icexec.Principal.anonymous()), "2vxsx-fae")
        c0 = icexec.Principal.from_canister_index(0)
        self.assertEqual(c0.text, "rwlgt-iiaaa-aaaaa-aaaaa-cai")
        self.assertEqual(c0.bytes, bytes(8) + b"\x01\x01")
        self.assertEqual(icexec.Principal.from_canister_index(12345).canister_index, 12345)

    def test_text_round_trip_and_order(self):
        for p in (USER, icexec.Principal(b""), icexec.Principal(bytes(range(29))),
                  icexec.Principal.from_canister_index(2 ** 40)):
            self.assertEqual(icexec.Principal.from_text(p.text), p)
        a, b = icexec.Principal(b"\x01"), icexec.Principal(b"\x01\x00")
        self.assertTrue(a < b and not b < a)
        self.assertEqual(len({a, b, icexec.Principal(b"\x01")}), 2)

    def test_self_authenticating(self):
        self.assertEqual(len(USER.bytes), 29)
        self.assertEqual(USER.bytes[-1], 2)
        self.assertNotEqual(USER, icexec.Principal.self_authenticating(b"another key"))

    def test_bad_input(self):
        with self.assertRaises(icexec.IcxError) as cm:
            icexec.Principal.from_text("rwlgt-iiaaa-aaaaa-aaaaa-cay")  # bad CRC
        self.assertEqual(cm.exception.status, icexec.EINVAL)
        self.assertEqual(cm.exception.name, "ICX_EINVAL")
        with self.assertRaises(icexec.IcxError):
            icexec.Principal.from_text("RWLGT-IIAAA-AAAAA-AAAAA-CAI")  # not canonical
        with self.assertRaises(ValueError):
            icexec.Principal(bytes(30))
        with self.assertRaises(ValueError):
            USER.canister_index


class TestEngine(unittest.TestCase):
    def test_bad_options(self):
        with self.assertRaises(TypeError):
            icexec.Engine(no_such_option=1)
        with self.assertRaises(icexec.IcxError) as cm:
            icexec.Engine(subnet_type=7)
        self.assertEqual(cm.exception.status, icexec.EINVAL)
        self.assertIn("icx_engine_new", str(cm.exception))
        with self.assertRaises(icexec.IcxError) as cm:
            icexec.Engine(max_instructions_slice=10 ** 9, max_instructions_round=10 ** 6)
        self.assertEqual(cm.exception.status, icexec.EINVAL)

    def test_random_sig_verifier(self):
        seen = []

        def verify(key, rnd, sig):
            seen.append((key, rnd, sig))
            return sig == b"good %d" % rnd
        with icexec.Engine(verify_random_sig=verify, subnet_public_key=b"subnet key") as e:
            state = e.new_state()
            before = state.hash()
            with e.new_batch(1, demo.T0, b"forged") as batch:
                with self.assertRaises(icexec.IcxError) as cm:
                    e.execute_round(state, batch)
            self.assertEqual(cm.exception.status, icexec.EREJECTED)
            self.assertEqual(state.hash(), before)
            self.assertEqual(state.round, 0)
            with e.new_batch(1, demo.T0, b"good 1") as batch:
                e.execute_round(state, batch)
            self.assertEqual(state.round, 1)
            self.assertEqual(seen, [(b"subnet key", 1, b"forged"), (b"subnet key", 1, b"good 1")])

    def test_closed_handles(self):
        engine = icexec.Engine()
        state = engine.new_state()
        batch = engine.new_batch(1, demo.T0)
        state.close()
        state.close()  # no-op
        with self.assertRaises(icexec.IcxError) as cm:
            state.hash()
        self.assertEqual(cm.exception.status, icexec.EMISUSE)
        engine.close()  # frees the batch with it
        with self.assertRaises(icexec.IcxError):
            batch.ingress_count
        with self.assertRaises(icexec.IcxError):
            engine.new_state()
        batch.close()
        engine.close()

    def test_batch_errors(self):
        with icexec.Engine() as engine:
            state = engine.new_state()
            with self.assertRaises(icexec.IcxError) as cm:
                engine.new_batch(1, 0, b"x" * 1025)
            self.assertEqual(cm.exception.status, icexec.EINVAL)
            with engine.new_batch(1, demo.T0) as batch:
                engine.execute_round(state, batch)
                with self.assertRaises(icexec.IcxError) as cm:  # round 1 again
                    engine.execute_round(state, batch)
                self.assertEqual(cm.exception.status, icexec.EINVAL)
                self.assertIn("round", cm.exception.message)
            with engine.new_batch(1, demo.T0) as batch:
                with self.assertRaises(ValueError):
                    batch.add_create_canister(USER, cycles=1 << 128)
                with self.assertRaises(icexec.IcxError):
                    batch.add_install_code(USER, USER, demo.COUNTER_WASM, mode=9)
                self.assertEqual(batch.ingress_count, 0)


class TestRounds(unittest.TestCase):
    def setUp(self):
        self.printed = []
        self.engine = icexec.Engine(debug_print=lambda c, m: self.printed.append((c, m)))
        self.net, self.canister = installed(self.engine)

    def tearDown(self):
        self.engine.close()

    def test_setup(self):
        self.assertEqual(self.canister, icexec.Principal.from_canister_index(0))
        self.assertEqual(self.net.state.round, 2)
        self.assertEqual(self.net.state.canister_count, 1)

    def test_updates_rejects_traps(self):
        ids = {}

        def fill(b):
            ids["a"] = b.add_ingress(USER, self.canister, "inc")
            ids["b"] = b.add_ingress(USER, self.canister, "inc", u64(5))
            ids["odd"] = b.add_ingress(USER, self.canister, "inc", u64(101))
            ids["trap"] = b.add_ingress(USER, self.canister, "trap")
            ids["none"] = b.add_ingress(USER, icexec.Principal.from_canister_index(7), "inc")
            ids["nometh"] = b.add_ingress(USER, self.canister, "nope")
            self.assertEqual(b.ingress_count, 6)
            self.assertEqual(len(set(ids.values())), 6)
        out, _ = self.net.run(fill)
        self.assertEqual(from_u64(out[ids["a"]].reply), 42)
        self.assertEqual(from_u64(out[ids["b"]].reply), 47)
        odd = out[ids["odd"]]
        self.assertEqual((odd.status, odd.reject_code, odd.error_code),
                         (icexec.INGRESS_REJECTED, icexec.REJECT_CANISTER_REJECT, 406))
        self.assertEqual(odd.reject_message, "odd step")
        with self.assertRaises(icexec.IcxError):
            odd.reply
        trap = out[ids["trap"]]
        self.assertEqual((trap.reject_code, trap.error_code),
                         (icexec.REJECT_CANISTER_ERROR, 502))
        self.assertIn("unreachable", trap.reject_message)
        none = out[ids["none"]]
        self.assertEqual((none.reject_code, none.error_code),
                         (icexec.REJECT_DESTINATION_INVALID, 301))
        self.assertFalse(out[ids["nometh"]].replied)
        # the output: every message completed, figures for the canister
        self.assertEqual(len(out.ingress), 6)
        self.assertEqual(out.state_hash, self.net.state.hash())
        self.assertEqual(out.xnet, [])
        self.assertEqual([s.canister for s in out.canisters], [self.canister])
        stats = out.canisters[0]
        self.assertGreaterEqual(stats.executions, 4)
        self.assertGreater(stats.instructions, 0)
        self.assertGreater(stats.cycles, 0)
        self.assertEqual(out.instructions, stats.instructions)
        self.assertIsNone(out.find_ingress(b"\0" * 32))
        # debug_print of the two increments, from the canister
        self.assertEqual(self.printed, [(self.canister, b"inc")] * 2)
        # the trap rolled its change back
        self.assertEqual(from_u64(self.net.call(USER, self.canister, "inc", u64(0)).reply), 47)

    def test_canister_ops(self):
        out, mid = self.net.run(lambda b: b.add_canister_op(USER, "stop_canister", self.canister))
        self.assertTrue(out[mid].replied)
        r = self.net.call(USER, self.canister, "inc")
        self.assertEqual((r.reject_code, r.error_code), (icexec.REJECT_CANISTER_ERROR, 508))
        out, mid = self.net.run(lambda b: b.add_canister_op(USER, "start_canister",
                                                            self.canister))
        self.assertTrue(out[mid].replied)
        self.assertEqual(from_u64(self.net.call(USER, self.canister, "inc").reply), 42)
        # a stranger is no controller
        stranger = icexec.Principal.self_authenticating(b"stranger")
        out, mid = self.net.run(lambda b: b.add_canister_op(stranger, "stop_canister",
                                                            self.canister))
        self.assertFalse(out[mid].replied)

    def test_reinstall_and_upgrade(self):
        self.net.call(USER, self.canister, "inc", u64(9))
        out, mid = self.net.run(lambda b: b.add_install_code(
            USER, self.canister, demo.COUNTER_WASM, u64(7), mode=icexec.MODE_REINSTALL))
        self.assertTrue(out[mid].replied)
        self.assertEqual(from_u64(self.net.call(USER, self.canister, "inc", u64(0)).reply), 7)
        out, mid = self.net.run(lambda b: b.add_install_code(
            USER, self.canister, b"not wasm", mode=icexec.MODE_UPGRADE))
        self.assertFalse(out[mid].replied)
        # upgrade options: keep is refused for a module without enhanced
        # orthogonal persistence (IC0504), replace is the classic upgrade
        out, mid = self.net.run(lambda b: b.add_install_code(
            USER, self.canister, demo.COUNTER_WASM, u64(1), mode=icexec.MODE_UPGRADE,
            wasm_memory_persistence="keep"))
        self.assertFalse(out[mid].replied)
        self.assertEqual(out[mid].error_code, 504)
        out, mid = self.net.run(lambda b: b.add_install_code(
            USER, self.canister, demo.COUNTER_WASM, u64(1), mode=icexec.MODE_UPGRADE,
            skip_pre_upgrade=True, wasm_memory_persistence="replace"))
        self.assertTrue(out[mid].replied)

    def test_queries(self):
        self.net.call(USER, self.canister, "inc", u64(9))  # 50
        with self.net.state.snapshot() as snap:
            self.assertEqual(snap.round, self.net.state.round)
            self.net.call(USER, self.canister, "inc", u64(50))  # 100, after the snapshot
            get = snap.query(USER, self.canister, "get")
            self.assertEqual(from_u64(get.reply), 50)
            self.assertGreater(get.instructions, 0)
            self.assertEqual(from_u64(snap.query(USER, self.canister, "peek", u64(3)).reply), 53)
            self.assertEqual(from_u64(snap.query(USER, self.canister, "get").reply), 50)
            who = snap.query(USER, self.canister, "whoami")
            self.assertEqual(icexec.Principal(who.reply), USER)
            upd = snap.query(USER, self.canister, "inc")  # an update, not a query
            self.assertFalse(upd.replied)
            self.assertTrue(upd.reject_message)
            missing = snap.query(USER, icexec.Principal.from_canister_index(99), "get")
            self.assertEqual(missing.reject_code, icexec.REJECT_DESTINATION_INVALID)
        with self.net.state.snapshot() as snap:
            self.assertEqual(from_u64(snap.query(USER, self.canister, "get").reply), 100)
            # queries on several threads at once
            results = []

            def worker(k):
                for _ in range(20):
                    results.append(from_u64(snap.query(USER, self.canister, "peek",
                                                       u64(k)).reply) - k)
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(results, [100] * 80)


class TestCheckpoints(unittest.TestCase):
    def test_save_load_continue(self):
        with icexec.Engine() as e1, icexec.Engine() as e2, \
                tempfile.TemporaryDirectory() as d:
            net1, c = installed(e1)
            net1.call(USER, c, "inc", u64(2))
            net1.state.save(d)
            net2 = Subnet(e2, e2.load_state(d))
            self.assertEqual(net2.state.round, net1.state.round)
            self.assertEqual(net2.state.hash(), net1.state.hash())
            self.assertEqual(net2.state.canister_count, 1)
            for k in (1, 2, 3):
                with net1.next_batch() as batch:
                    mid = batch.add_ingress(USER, c, "inc", u64(k))
                    o1 = e1.execute_round(net1.state, batch)
                    with self.assertRaises(icexec.IcxError) as cm:  # engine 1's batch
                        e2.execute_round(net2.state, batch)
                    self.assertEqual(cm.exception.status, icexec.EMISUSE)
                o2, mid2 = net2.run(lambda b: b.add_ingress(USER, c, "inc", u64(k)))
                self.assertEqual(mid, mid2)
                self.assertEqual(o1[mid].data, o2[mid].data)
                self.assertEqual(o1.state_hash, o2.state_hash)
            self.assertEqual(from_u64(o1[mid].reply), 41 + 2 + 6)

    def test_load_errors(self):
        with icexec.Engine() as e, tempfile.TemporaryDirectory() as d:
            with self.assertRaises(icexec.IcxError) as cm:
                e.load_state(os.path.join(d, "nothing here"))
            self.assertIn(cm.exception.status, (icexec.ENOTFOUND, icexec.EIO))
            self.assertTrue(cm.exception.message)


class TestDeterminism(unittest.TestCase):
    def test_thread_count_does_not_matter(self):
        hashes = []
        for threads in (1, 2):
            with icexec.Engine(threads=threads) as e:
                net = Subnet(e)
                out, ids = net.run(lambda b: [b.add_create_canister(USER) for _ in range(3)])
                cans = [icexec.reply_canister_id(out[i].reply) for i in ids]
                net.run(lambda b: [b.add_install_code(USER, c, demo.COUNTER_WASM, u64(i))
                                   for i, c in enumerate(cans)])
                seq = []
                for r in range(5):
                    out, _ = net.run(lambda b: [b.add_ingress(USER, cans[(r + k) % 3], "inc",
                                                              u64(k)) for k in range(10)])
                    seq.append(out.state_hash)
                hashes.append(seq)
        self.assertEqual(hashes[0], hashes[1])
        self.assertEqual(len(set(hashes[0])), 5)


class TestPlainModules(unittest.TestCase):
    def test_call_and_trap(self):
        with icexec.Engine() as e:
            m = e.module_wat(ADD_WAT, meter=True)
            self.assertEqual(m.export_type("add"), ([icexec.TYPE_I32] * 2, [icexec.TYPE_I32]))
            inst = m.instantiate()
            r = inst.call("add", 40, 2)
            self.assertEqual(r.results, [42])
            self.assertFalse(r.trapped)
            self.assertGreater(r.instructions, 0)
            self.assertEqual(inst.call("add", -5, 2).results, [-3])
            self.assertEqual(inst.call("mix", 7, 3.0).results, [1.5, -7])
            boom = inst.call("boom")
            self.assertTrue(boom.trapped)
            self.assertEqual(boom.trap_code, 1)
            self.assertIn("unreachable", boom.trap_message)
            with self.assertRaises(TypeError):
                inst.call("add", 1)
            with self.assertRaises(icexec.IcxError) as cm:
                inst.call("missing")
            self.assertEqual(cm.exception.status, icexec.ENOTFOUND)
            with self.assertRaises(icexec.IcxError) as cm:
                e.module(b"\0asm\x01\0\0\0\x07")
            self.assertEqual(cm.exception.status, icexec.EMALFORMED)
            with self.assertRaises(icexec.IcxError) as cm:
                e.module(demo.COUNTER_WASM).instantiate()  # imports ic0
            self.assertEqual(cm.exception.status, icexec.EUNLINKABLE)


class TestDemo(unittest.TestCase):
    def test_counter_wasm_is_the_wat(self):
        wat2wasm = shutil.which("wat2wasm")
        if not wat2wasm:
            self.skipTest("wat2wasm is not installed")
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "c.wat"), os.path.join(d, "c.wasm")
            with open(src, "w") as f:
                f.write(demo.COUNTER_WAT)
            subprocess.run([wat2wasm, src, "-o", out], check=True)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), demo.COUNTER_WASM)

    def test_demo_runs(self):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            self.assertEqual(demo.main(), 0)
        text = buf.getvalue()
        self.assertIn("inc(5)   -> 47", text)
        self.assertIn("peek(1000) -> 1047, then get() -> 47", text)
        self.assertIn("same state hash: True", text)


if __name__ == "__main__":
    unittest.main()
