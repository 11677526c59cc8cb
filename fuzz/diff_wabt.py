#!/usr/bin/env python3
"""Differential check of libicexec against wabt's wasm-interp.

  fuzz/diff_wabt.py [--replay BIN] [--fuel N] [--random N [--seed S]] [--save DIR]
                    [INPUT-FILE-OR-DIR ...]

Each input (generator bytes, as in fuzz/corpus/fuzz_exec/; files starting
with \\0asm are skipped, as are modules that import) is turned into a module by
the replay binary of fuzz_exec with FUZZ_EXEC_DIFF=1: the generator then emits
no instruction that shows a NaN's sign or payload (libicexec canonicalises
NaNs, wabt does not), and only exports without parameters are called, in
export order, as `wasm-interp --run-all-exports` does.  The outcomes of the
two engines are compared call by call: the same results (floats as printed by
wabt, any NaN equal to any NaN) or the same kind of trap.  Comparison stops at
the first call that libicexec ends out of fuel or either engine ends with
"call stack exhausted" (the depth limits differ).  A difference is printed, the
input saved in --save (default fuzz/crashes/), and the exit status is 1.
--random N adds N random inputs (sizes 64..4096 bytes).
"""
import argparse
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

TRAPS = [  # (libicexec message prefix, wabt message prefix)
    ("unreachable", "unreachable executed"),
    ("out of bounds memory access", "out of bounds memory access"),
    ("out of bounds table access", "out of bounds table access"),
    ("undefined element", "undefined table index"),
    ("uninitialized element", "uninitialized table element"),
    ("indirect call type mismatch", "indirect call signature mismatch"),
    ("integer divide by zero", "integer divide by zero"),
    ("integer overflow", "integer overflow"),
    ("invalid conversion to integer", "invalid conversion to integer"),
]


def trap_kind(msg, side):
    for ours, wabt in TRAPS:
        if msg.startswith(ours if side == 0 else wabt):
            return ours
    if "call stack exhausted" in msg:
        return "stack"
    return "other: " + msg


def fmt_value(t, bits):
    """Our bits as wabt prints them."""
    if t == "i32":
        return "i32:%d" % (bits & 0xffffffff)
    if t == "i64":
        return "i64:%d" % (bits & 0xffffffffffffffff)
    if t in ("f32", "f64"):
        v = struct.unpack("<f", struct.pack("<I", bits & 0xffffffff))[0] if t == "f32" else \
            struct.unpack("<d", struct.pack("<Q", bits))[0]
        if v != v:
            return t + ":nan"
        return "%s:%f" % (t, v)
    return t + ":?"


def norm_wabt_value(s):
    s = s.strip()
    t, _, v = s.partition(":")
    if t in ("f32", "f64") and "nan" in v:
        return t + ":nan"
    if t in ("i32", "i64") and v.startswith("-"):
        bits = 32 if t == "i32" else 64
        return "%s:%d" % (t, int(v) % (1 << bits))
    return t + ":" + v


def ours_outcomes(replay, inp, fuel, wasm_out):
    env = dict(os.environ, FUZZ_EXEC_DIFF="1", FUZZ_EXEC_DUMP=wasm_out,
               FUZZ_EXEC_FUEL=str(fuel))
    p = subprocess.run([replay, "-q", inp], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        return None, "replay failed (%d): %s" % (p.returncode, p.stderr.strip()[-500:])
    out = []
    for line in p.stdout.splitlines():
        m = re.match(r"call (\S+): done(.*)$", line)
        if m:
            vals = []
            for tok in m.group(2).split():
                t, _, h = tok.partition(":")
                vals.append(fmt_value(t, int(h, 16)))
            out.append((m.group(1), "done", vals))
            continue
        m = re.match(r"call (\S+): trap (.*)$", line)
        if m:
            out.append((m.group(1), "trap", trap_kind(m.group(2), 0)))
            continue
        m = re.match(r"start: trap (.*)$", line)
        if m:
            out.append(("<start>", "trap", trap_kind(m.group(1), 0)))
    return out, None


def wabt_outcomes(wasm, timeout):
    try:
        p = subprocess.run(["wasm-interp", "--run-all-exports", wasm], capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if p.returncode < 0 or p.returncode == 134:
        return "crash"  # wasm-interp 1.0.32 itself aborts on some modules
    out = []
    for line in (p.stdout + p.stderr).splitlines():
        m = re.match(r"error initializing module: (.*)$", line)
        if m:
            out.append(("<start>", "trap", trap_kind(m.group(1), 1)))
            continue
        m = re.match(r"(\S+)\(\) => error: (.*)$", line)
        if m:
            out.append((m.group(1), "trap", trap_kind(m.group(2), 1)))
            continue
        m = re.match(r"(\S+)\(\) =>(.*)$", line)
        if m:
            vals = [norm_wabt_value(v) for v in m.group(2).split(",") if v.strip()]
            out.append((m.group(1), "done", vals))
    return out


def compare(ours, wabt):
    """None if they agree, else a description."""
    for i, o in enumerate(ours):
        if o[1] == "trap" and o[2] in ("instruction limit exceeded", "stack") or \
                (o[1] == "trap" and o[2].startswith("other: instruction limit")):
            return None
        if i >= len(wabt):
            return "wabt has no outcome for %s (ours: %s)" % (o[0], o[1:])
        w = wabt[i]
        if w[1] == "trap" and w[2] == "stack":
            return None
        if o != w:
            return "%s: icexec %s %s, wabt %s %s %s" % (o[0], o[1], o[2], w[0], w[1], w[2])
    if len(wabt) > len(ours):
        return "wabt has more outcomes: %s" % (wabt[len(ours):],)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replay", default="build/fuzz/replay_fuzz_exec")
    ap.add_argument("--fuel", type=int, default=1000000)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", default="fuzz/crashes")
    ap.add_argument("inputs", nargs="*")
    args = ap.parse_args()

    files = []
    for path in args.inputs:
        if os.path.isdir(path):
            files += [os.path.join(path, f) for f in sorted(os.listdir(path))
                      if not f.startswith(".")]
        else:
            files.append(path)
    tmpdir = tempfile.mkdtemp(prefix="diffwabt")
    rnd = random.Random(args.seed)
    for i in range(args.random):
        n = rnd.choice([64, 256, 512, 1024, 2048, 4096])
        b = bytes(rnd.getrandbits(8) for _ in range(n))
        if b[:4] == b"\0asm":
            b = b"\1" + b[1:]
        f = os.path.join(tmpdir, "rand%06d.bin" % i)
        with open(f, "wb") as fh:
            fh.write(b)
        files.append(f)

    stats = {"compared": 0, "calls": 0, "skipped": 0, "wabt-timeout": 0, "wabt-crash": 0,
             "diff": 0}
    wasm = os.path.join(tmpdir, "m.wasm")
    for k, f in enumerate(files):
        if k and k % 250 == 0:
            print("diff_wabt: %d/%d inputs" % (k, len(files)), file=sys.stderr, flush=True)
        with open(f, "rb") as fh:
            if fh.read(4) == b"\0asm":
                stats["skipped"] += 1
                continue
        ours, err = ours_outcomes(args.replay, f, args.fuel, wasm)
        if ours is None:
            print("%s: %s" % (f, err))
            stats["diff"] += 1
            continue
        wabt = wabt_outcomes(wasm, args.timeout)
        if wabt is None:
            stats["wabt-timeout"] += 1
            continue
        if wabt == "crash":
            stats["wabt-crash"] += 1
            continue
        stats["compared"] += 1
        stats["calls"] += len(ours)
        d = compare(ours, wabt)
        if d:
            stats["diff"] += 1
            os.makedirs(args.save, exist_ok=True)
            dst = os.path.join(args.save, "diff-" + os.path.basename(f))
            with open(f, "rb") as a, open(dst, "wb") as b:
                b.write(a.read())
            print("DIFF %s (saved as %s): %s" % (f, dst, d))
    print("diff_wabt: %(compared)d modules compared (%(calls)d outcomes), "
          "%(skipped)d skipped, %(wabt-timeout)d wabt timeouts, %(wabt-crash)d wabt crashes, "
          "%(diff)d differences" % stats)
    return 1 if stats["diff"] else 0


if __name__ == "__main__":
    sys.exit(main())
