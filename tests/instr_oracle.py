#!/usr/bin/env python3
"""instr_oracle.py -- check the instrumentation pass against wabt.

For each module: instrument it with ICX_INSTR_PROBE and a large counter
(instr_tool instr -p -i INIT), check the output with wasm-validate, run a
list of calls with our engine (instr_tool run), and write a wast2json-style
script that registers a tiny "__" module and asserts, after every call, our
results AND our counter value (through __icx_counter_get); spectest-interp
must pass every assertion.

Sources: (a) the benchmark modules (run(i32) with small n), (b) the spec
suite (the original scripts, rewritten to load the instrumented modules: the
original assertions must still hold; counter assertions are added for calls
to modules whose imports are only spectest functions), (c) modules generated
by binaryen's wasm-opt --translate-to-fuzz from seeded random bytes.

usage: instr_oracle.py --tool BUILD/instr_tool --build BUILD --shared DIR
                       [--all] [--spec-sample N] [--gen N] [--speed-only]
Exit status 0 iff every check passed.
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

INIT = 1 << 40
U32 = """(module (func (export "out_of_instructions") unreachable)
  (func (export "try_grow_wasm_memory") (param i32 i32) (result i32) local.get 0))"""
U64 = U32.replace("i32", "i64")

FAILS = []


def sh(args, inp=None, timeout=120):
    r = subprocess.run(args, input=inp, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def fail(what):
    FAILS.append(what)
    print("FAIL " + what)


class Oracle:
    def __init__(self, tool, out):
        self.tool = tool
        self.out = out
        os.makedirs(out, exist_ok=True)
        for name, text in (("u32", U32), ("u64", U64)):
            with open(os.path.join(out, name + ".wat"), "w") as f:
                f.write(text)
            sh(["wat2wasm", os.path.join(out, name + ".wat"), "-o", os.path.join(out, name + ".wasm")])
        self.n_modules = 0
        self.n_asserts = 0
        self.n_fused = 0

    def instrument(self, src, dst, extra=()):
        rc, o, _ = sh([self.tool, "instr", "-p", "-i", str(INIT), *extra, src, dst])
        if rc != 0:
            return o.strip()
        rc, o, e = sh(["wasm-validate", "--enable-memory64", dst])
        if rc != 0:
            fail("%s: instrumented module does not validate: %s" % (src, (o + e).strip()[:300]))
            return "invalid"
        return None

    def run_ours(self, wasm, calls):
        lines = "".join(f + "".join(" %s:%s" % a for a in args) + "\n" for f, args in calls)
        rc, o, e = sh([self.tool, "run", wasm], lines, timeout=300)
        if rc != 0:
            return None
        # the same module compiled with the counter fused must print the same
        rcf, of, ef = sh([self.tool, "run", "-F", wasm], lines, timeout=300)
        if rcf != rc or of != o:
            fail("%s: fused counter differs from plain Wasm:\n  plain: %s\n  fused: %s" % (
                wasm, o.strip()[:300], of.strip()[:300]))
            return None
        self.n_fused += 1
        res = []
        for line in o.splitlines():
            if line.startswith("error"):
                return None
            head, _, ctr = line.rpartition(" ; ")
            parts = head.split()
            if parts[0] == "ok":
                res.append(("ok", [tuple(p.split(":")) for p in parts[1:]], int(ctr)))
            else:
                res.append(("trap", " ".join(parts[1:]), int(ctr)))
        return res if len(res) == len(calls) else None

    @staticmethod
    def invoke(field, args):
        return {"type": "invoke", "field": field,
                "args": [{"type": t, "value": str(v)} for t, v in args]}

    def checks(self, field, args, r, line):
        cmds = []
        if r[0] == "ok":
            cmds.append({"type": "assert_return", "line": line, "action": self.invoke(field, args),
                         "expected": [{"type": t, "value": v} for t, v in r[1]]})
        else:
            cmds.append({"type": "assert_trap", "line": line, "action": self.invoke(field, args),
                         "text": r[1], "expected": []})
        cmds.append(self.counter_check(r[2], line))
        return cmds

    def counter_check(self, ctr, line):
        self.n_asserts += 1
        return {"type": "assert_return", "line": line,
                "action": self.invoke("__icx_counter_get", []),
                "expected": [{"type": "i64", "value": str(ctr & (2 ** 64 - 1))}]}

    def prelude(self, mem64):
        return [{"type": "module", "line": 0, "filename": os.path.abspath(
                    os.path.join(self.out, "u64.wasm" if mem64 else "u32.wasm"))},
                {"type": "register", "line": 0, "as": "__"}]

    def spectest(self, script, name):
        path = os.path.join(self.out, name + ".json")
        base = os.path.dirname(os.path.abspath(path))
        for c in script["commands"]:  # wabt reads file names relative to the script
            if "filename" in c:
                c["filename"] = os.path.relpath(os.path.abspath(c["filename"]), base)
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(wabt_json(script))
        rc, o, e = sh(["spectest-interp", "--enable-memory64", path], timeout=600)
        if rc != 0 or "tests passed" not in o:
            bad = [l for l in (o + e).splitlines() if "fail" in l.lower() or "error" in l.lower()]
            fail("%s: spectest-interp: %s" % (name, "; ".join(bad[:4]) or o[-300:]))
            return False
        return True

    def check_module(self, src, name, calls, stubs=()):
        """Instrument src, run calls with our engine and check with wabt."""
        dst = os.path.join(self.out, name + ".i.wasm")
        err = self.instrument(src, dst)
        if err:
            return err
        res = self.run_ours(dst, calls)
        if res is None:
            return "our engine cannot run it"
        self.n_modules += 1
        mem64 = is_mem64(dst)
        cmds = list(stubs) + self.prelude(mem64)
        cmds.append({"type": "module", "line": 1, "filename": os.path.abspath(dst)})
        for i, ((f, args), r) in enumerate(zip(calls, res)):
            cmds += self.checks(f, args, r, i + 2)
        self.spectest({"source_filename": name + ".wast", "commands": cmds}, name)
        return None


def wabt_json(v):
    """JSON as wast2json writes it: wabt's reader knows only \\uXXXX escapes."""
    if isinstance(v, dict):
        return "{" + ", ".join(wabt_json(k) + ": " + wabt_json(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(wabt_json(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + "".join(c if (c >= " " and c not in '"\\' and ord(c) != 0x7f)
                             else "\\u%04x" % ord(c) for c in v) + '"'
    return json.dumps(v)


def is_mem64(wasm):
    rc, o, _ = sh(["wasm-objdump", "-x", wasm])
    return any(l.strip().startswith(("- memory[", "- mem[")) and "i64" in l
               for l in o.splitlines())


# ---- (a) bench modules ------------------------------------------------------

def bench(orc, shared):
    files = sorted(glob.glob(os.path.join(shared, "bench", "wasm", "*.wasm")))
    for f in files:
        b = os.path.basename(f)[:-5]
        ns = [0, 1, 15] if b == "fib" else [0, 1, 3]
        err = orc.check_module(f, "bench_" + b, [("run", [("i32", n)]) for n in ns])
        if err:
            fail("bench %s: %s" % (b, err))
    print("bench: %d modules" % len(files))


# ---- (b) spec suite -----------------------------------------------------------

def spec_files(shared, build, sample, everything):
    suite = os.path.join(shared, "testsuite")
    wasts = sorted(glob.glob(os.path.join(suite, "*.wast")) +
                   glob.glob(os.path.join(suite, "proposals", "memory64", "*.wast")))
    wasts = [w for w in wasts if "simd" not in os.path.basename(w)]
    if not everything:
        rnd = random.Random(1)
        wasts = sorted(rnd.sample(wasts, min(sample, len(wasts))))
    return suite, wasts


def spec(orc, shared, build, sample, everything):
    suite, wasts = spec_files(shared, build, sample, everything)
    outdir = os.path.join(orc.out, "spec")
    nfiles = nmods = 0
    for w in wasts:
        rel = os.path.relpath(w, suite)[:-5].replace("/", "_")
        d = os.path.join(outdir, rel)
        os.makedirs(d, exist_ok=True)
        js = os.path.join(d, rel + ".json")
        rc, o, e = sh(["wast2json", "--enable-memory64", w, "-o", js])
        if rc != 0 or not os.path.exists(js) or e.strip():
            continue  # the spec runner reports conversion problems
        with open(js) as f:
            script = json.load(f)
        new = spec_rewrite(orc, script, d)
        if new is None:
            continue
        nfiles += 1
        nmods += new[1]
        orc.spectest(new[0], "spec_" + rel)
    print("spec: %d files, %d modules instrumented" % (nfiles, nmods))


def spec_rewrite(orc, script, d):
    cmds, out = script["commands"], []
    cur = None        # (instrumented path, counter-checkable)
    calls, where = [], []
    nmods = 0

    def flush():
        # run our engine on the pending calls of the current module and
        # insert the counter checks after each of them
        if cur and cur[1] and calls:
            res = orc.run_ours(cur[0], calls)
            if res is not None:
                for pos, r in sorted(zip(where, res), key=lambda x: -x[0]):
                    out.insert(pos + 1, orc.counter_check(r[2], out[pos]["line"]))
        calls.clear()
        where.clear()

    for c in cmds:
        t = c["type"]
        if t in ("module", "assert_uninstantiable", "assert_unlinkable") and \
                c.get("module_type", "binary") == "binary" and "filename" in c:
            src = os.path.join(d, c["filename"])
            dst = src[:-5] + ".i.wasm"
            if orc.instrument(src, dst) is not None:
                return None  # e.g. SIMD: not for us
            if t == "module":
                flush()
                nmods += 1
                out += orc.prelude(is_mem64(dst))
                cur = (dst, imports_ok(dst) and "name" not in c)
            c = dict(c, filename=os.path.abspath(dst))
            out.append(c)
            continue
        if t in ("assert_invalid", "assert_malformed") and "filename" in c:
            c = dict(c, filename=os.path.abspath(os.path.join(d, c["filename"])))
        if t == "assert_exhaustion" and cur:
            flush()
            cur = (cur[0], False)  # stack depths differ between engines
        act = c.get("action")
        if cur and cur[1] and act and any(x["type"] not in ("i32", "i64", "f32", "f64")
                                          for x in act.get("args", [])):
            flush()
            cur = (cur[0], False)  # reference arguments: not for instr_tool run
        if cur and cur[1] and act and act.get("type") == "invoke" and "module" not in act and \
                t in ("assert_return", "assert_trap", "action"):
            calls.append((act["field"], [(a["type"], a["value"]) for a in act["args"]]))
            where.append(len(out))
        elif act and "module" in act and cur:
            flush()  # another module runs: keep ours in step only up to here
            cur = (cur[0], False)
        out.append(c)
    flush()
    return dict(script, commands=out), nmods


def imports_ok(wasm):
    rc, o, _ = sh(["wasm-objdump", "-x", "-j", "Import", wasm])
    for line in o.splitlines():
        m = re.search(r"<- (\S+)\.(\S+)", line)
        if not m:
            continue
        if not line.strip().startswith("- func"):
            return False
        if m.group(1) not in ("__", "spectest"):
            return False
    return True


# ---- (c) generated modules ------------------------------------------------------

def stub_module(orc, wasm, name):
    """A module per imported module name exporting zero-returning functions."""
    rc, o, _ = sh(["wasm2wat", wasm])
    mods = {}
    types = dict(re.findall(r"\(type \(;(\d+);\) \(func([^\n]*)\)\)", o))
    for mod, fn, ty in re.findall(r'\(import "([^"]+)" "([^"]+)" \(func \(;\d+;\) \(type (\d+)\)\)\)', o):
        if mod == "__":
            continue
        sig = types.get(ty, "")
        res = re.search(r"\(result ([^)]*)\)", sig)
        body = " ".join("(%s.const 0)" % r for r in res.group(1).split()) if res else ""
        mods.setdefault(mod, []).append('(func (export "%s")%s %s)' % (fn, sig, body))
    cmds = []
    for i, (mod, funcs) in enumerate(sorted(mods.items())):
        p = os.path.join(orc.out, "%s.stub%d" % (name, i))
        with open(p + ".wat", "w") as f:
            f.write("(module %s)" % "\n".join(funcs))
        sh(["wat2wasm", p + ".wat", "-o", p + ".wasm"])
        cmds += [{"type": "module", "line": 0, "filename": os.path.abspath(p + ".wasm")},
                 {"type": "register", "line": 0, "as": mod}]
    return cmds


def generated(orc, count):
    if not shutil.which("wasm-opt"):
        print("generated: wasm-opt missing, skipped")
        return
    rnd = random.Random(12345)
    done = 0
    for i in range(count):
        raw = os.path.join(orc.out, "gen%d.bin" % i)
        src = os.path.join(orc.out, "gen%d.wasm" % i)
        with open(raw, "wb") as f:
            f.write(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(200, 4000))))
        rc, _, _ = sh(["wasm-opt", raw, "-ttf", "-o", src, "--disable-simd",
                       "--disable-threads", "--disable-exception-handling", "--disable-gc",
                       "--disable-tail-call", "--disable-typed-function-references",
                       "--disable-relaxed-simd", "--disable-extended-const"])
        if rc != 0:
            continue
        rc, o, _ = sh(["wasm-objdump", "-x", "-j", "Export", src])
        calls = []
        for m in re.finditer(r"- func\[(\d+)\] (?:<[^>]*> )?-> \"([^\"]+)\"", o):
            calls.append(m.group(2))
        if not calls:
            continue
        # arguments: zeros of the right types
        rc, wat, _ = sh(["wasm2wat", src])
        sigs = function_sigs(wat)
        calls = [(c, [(t, 0) for t in sigs.get(c, [])]) for c in calls]
        stubs = stub_module(orc, src, "gen%d" % i)
        err = orc.check_module(src, "gen%d" % i, calls, stubs)
        if err is None:
            done += 1
    print("generated: %d of %d modules checked" % (done, count))


def function_sigs(wat):
    types = {k: re.findall(r"\(param ([^)]*)\)", v)
             for k, v in re.findall(r"\(type \(;(\d+);\) \(func([^\n]*)\)\)", wat)}
    funcs = {i: t for i, t in re.findall(r"\(func \(;(\d+);\) \(type (\d+)\)", wat)}
    sigs = {}
    for name, idx in re.findall(r'\(export "([^"]+)" \(func (\d+)\)\)', wat):
        ps = types.get(funcs.get(idx, ""), [])
        sigs[name] = " ".join(ps).split()
    return sigs


# ---- speed ------------------------------------------------------------------------

def speed(orc, tool):
    """A multi-MB module: many copies of the bench bodies via wasm-opt -ttf."""
    path = os.path.join(orc.out, "big.wasm")
    wat = ["(module (memory 1) (global $g (mut i32) (i32.const 0))"]
    rnd = random.Random(7)
    for i in range(20000):
        body = []
        for _ in range(rnd.randint(5, 30)):
            body.append(rnd.choice([
                "(local.set $x (i32.add (local.get $x) (i32.const %d)))" % rnd.randint(0, 1 << 20),
                "(if (i32.lt_u (local.get $x) (i32.const 77)) (then (local.set $x (i32.mul (local.get $x) (i32.const 3)))))",
                "(block (br_if 0 (i32.eqz (local.get $x))) (global.set $g (local.get $x)))",
                "(loop (local.set $x (i32.sub (local.get $x) (i32.const 1))) (br_if 0 (i32.gt_s (local.get $x) (i32.const 100))))",
                "(i32.store (i32.const 16) (i32.load (i32.const 8)))",
                "(memory.fill (i32.const 0) (i32.const 0) (i32.const 4))",
                "(local.set $x (call $f0 (local.get $x)))"]))
        wat.append("(func $f%d (param $x i32) (result i32) %s (local.get $x))" % (i, " ".join(body)))
    wat.append(")")
    with open(path[:-5] + ".wat", "w") as f:
        f.write("\n".join(wat))
    rc, o, e = sh(["wat2wasm", path[:-5] + ".wat", "-o", path], timeout=600)
    if rc != 0:
        fail("speed: wat2wasm: " + e[:200])
        return
    rc, o, e = sh([tool, "speed", path, "5"], timeout=600)
    print("speed: " + o.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--build", default="build")
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--all", action="store_true", help="every spec file, not a sample")
    ap.add_argument("--spec-sample", type=int, default=25, help="spec files (of ~100) in the sample")
    ap.add_argument("--gen", type=int, default=30, help="generated modules")
    ap.add_argument("--speed-only", action="store_true")
    a = ap.parse_args()
    for t in ("wasm-validate", "spectest-interp", "wast2json", "wat2wasm", "wasm-objdump", "wasm2wat"):
        if not shutil.which(t):
            print("instr-oracle: %s missing" % t)
            return 1
    orc = Oracle(os.path.abspath(a.tool), os.path.join(a.build, "instr_oracle"))
    t0 = time.time()
    if a.speed_only:
        speed(orc, os.path.abspath(a.tool))
        return 1 if FAILS else 0
    bench(orc, a.shared)
    spec(orc, a.shared, a.build, a.spec_sample, a.all)
    generated(orc, a.gen)
    print("instr-oracle: %d modules (%d also run fused, same output), %d counter assertions, "
          "%d failures, %.1f s"
          % (orc.n_modules, orc.n_fused, orc.n_asserts, len(FAILS), time.time() - t0))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
