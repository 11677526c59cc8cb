#!/usr/bin/env python3
"""Benchmark libicexec's interpreter against the native baselines.

Driven by bench/bench.mk (`make bench`, `make bench-smoke`); run from the
repository root.  The workloads, their sizes and checksums come from the
shared corpus (SHARED/bench): the order of README.md's workload table, the
default n from `#define DEFAULT_N` in src/W.c, the small n as the other key of
checksums.json.

  run_bench.py [--shared DIR] [--interp BIN] [--native-dir DIR]
               [--sizes default|small] [--runs K] [--meter]
               [--untracked-interp BIN] [--wabt] [--workloads fib,vm,...]
               [--no-native]

--meter also runs every workload instrumented (the install-time pass of
lib/instrument.h, counter fused by the compiler: what canisters run); the
"geomean ratio to native" line then measures the instrumented modules and
"metering overhead (geomean)" compares them with the plain ones (call CPU
time).  --untracked-interp names a bench_interp built with
-DICX_TRACK_DIRTY=0 (no dirty-page marking on stores); "dirty-tracking
overhead" compares the plain runs of the two builds (call CPU time).

Every process is timed from outside (fork to reap), CPU time = user+sys from
wait4, as the corpus's ANCHORS.md does; each figure is the median of --runs
runs.  bench_interp also reports the time of the `run` call alone.  Every
run's result is checked against checksums.json (or, for the wabt peer
modules, against the native binary); any mismatch or failure makes the exit
status 1 after the table is printed.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# The wabt peer: wasm-interp can only call exports without parameters, i.e.
# bench() = run(DEFAULT_N), which takes 37-127 s on it for most workloads.
# So the peer runs a copy of each module whose bench() calls run(PEER_N)
# instead (about 1/70 of the default work; memops keeps its default, 0.6 s);
# both engines run that same copy.
PEER_N = {"fib": 30, "sieve": 1, "sha256": 40, "matmul": 1, "vm": 1500,
          "memops": None, "nbody": 40000}


def die(msg):
    print("run_bench: " + msg, file=sys.stderr)
    sys.exit(2)


def workloads_in_order(bench_dir):
    """Workload names in the order of README.md's table (fallback: src/)."""
    names = []
    try:
        with open(os.path.join(bench_dir, "README.md")) as f:
            for line in f:
                m = re.match(r"\|\s*`(\w+)`\s*\|", line)
                if m and os.path.exists(os.path.join(bench_dir, "src", m.group(1) + ".c")):
                    if m.group(1) not in names:
                        names.append(m.group(1))
    except OSError:
        pass
    if not names:
        names = sorted(f[:-2] for f in os.listdir(os.path.join(bench_dir, "src"))
                       if f.endswith(".c"))
    return names


def sizes(bench_dir, w, checks):
    """(default n, small n) of workload w."""
    with open(os.path.join(bench_dir, "src", w + ".c")) as f:
        m = re.search(r"^#define DEFAULT_N (\d+)", f.read(), re.M)
    if not m:
        die("no DEFAULT_N in src/%s.c" % w)
    dn = int(m.group(1))
    ns = sorted(int(k.split(":")[1]) for k in checks if k.split(":")[0] == w)
    if dn not in ns:
        die("checksums.json has no entry %s:%d" % (w, dn))
    others = [n for n in ns if n != dn]
    return dn, (min(others) if others else dn)


def run_timed(argv):
    """Run argv as a whole process: (wall s, cpu s, exit code, stdout, stderr).
    CPU is user+sys of the child from wait4, as in the corpus's wbench.py."""
    with tempfile.TemporaryFile() as ef:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=ef)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        p.stdout.close()
        p.returncode = os.waitstatus_to_exitcode(status)
        ef.seek(0)
        errs = ef.read()
    return (t1 - t0, ru.ru_utime + ru.ru_stime, p.returncode,
            out.decode("utf-8", "replace"), errs.decode("utf-8", "replace"))


def first_int(text):
    for line in text.splitlines():
        line = line.strip()
        if re.fullmatch(r"-?\d+", line):
            return int(line)
    return None


def parse_call_s(text):
    """CPU seconds of the run call alone (bench_interp's "(cpu S s)")."""
    m = re.search(r"call [0-9.]+ s \(cpu ([0-9.]+) s\)", text)
    return float(m.group(1)) if m else None


def parse_fuel(text):
    m = re.search(r"fuel (\d+)", text)
    return int(m.group(1)) if m else None


def median(xs):
    xs = sorted(xs)
    k = len(xs)
    if k == 0:
        return float("nan")
    return xs[k // 2] if k % 2 else 0.5 * (xs[k // 2 - 1] + xs[k // 2])


def geomean(xs):
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def fmt_s(x):
    if not math.isfinite(x):
        return "-"
    return "%.3f" % x if x >= 0.01 else "%.4f" % x


def fmt_ratio(x):
    if not math.isfinite(x):
        return "-"
    return "%.2fx" % x if x < 100 else "%.0fx" % x


def load_avg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


class Tee:
    """Write to several streams (stdout and a log file)."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)

    def flush(self):
        for s in self.streams:
            s.flush()


class Bench:
    def __init__(self, args):
        self.args = args
        self.failures = []

    def measure(self, label, argv, expect, runs, parse_extra=False):
        """Run argv `runs` times; check each result; return medians."""
        walls, cpus, calls, fuels = [], [], [], []
        for _ in range(runs):
            wall, cpu, rc, out, errs = run_timed(argv)
            got = first_int(out)
            if rc != 0 or got != expect:
                self.failures.append("%s: %s -> exit %d, result %s, expected %s%s" % (
                    label, " ".join(argv), rc, got, expect,
                    (": " + errs.strip().splitlines()[-1]) if errs.strip() else ""))
                return None
            walls.append(wall)
            cpus.append(cpu)
            if parse_extra:
                c = parse_call_s(out)
                if c is not None:
                    calls.append(c)
                f = parse_fuel(out)
                if f is not None:
                    fuels.append(f)
        return {"wall": median(walls), "cpu": median(cpus),
                "call": median(calls) if calls else float("nan"),
                "fuel": fuels[0] if fuels else None,
                "fuel_all_equal": len(set(fuels)) <= 1}


def machine_line():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d CPUs online, load %.2f" % (model, os.cpu_count() or 0, load_avg())


def make_peer_module(wasm, out_path, n):
    """Copy of wasm whose bench() calls run(n): via wasm2wat / wat2wasm."""
    wat = subprocess.run(["wasm2wat", wasm], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"\(func \$bench [^\n]*\n\s*i32\.const (-?\d+)", wat)
    if not m:
        return False
    wat = wat[:m.start(1)] + str(n) + wat[m.end(1):]
    with tempfile.NamedTemporaryFile("w", suffix=".wat", delete=False) as f:
        f.write(wat)
        tmp = f.name
    try:
        subprocess.run(["wat2wasm", tmp, "-o", out_path], check=True,
                       capture_output=True)
    finally:
        os.unlink(tmp)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default="../shared")
    ap.add_argument("--interp", default="build/bench_interp")
    ap.add_argument("--native-dir", default="build/bench/native")
    ap.add_argument("--sizes", choices=["default", "small"], default="default")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--meter", action="store_true",
                    help="also time the instrumented module (counter fused)")
    ap.add_argument("--untracked-interp", default="",
                    help="bench_interp built with -DICX_TRACK_DIRTY=0")
    ap.add_argument("--callgrind", action="store_true",
                    help="also count executed machine instructions under valgrind's "
                         "callgrind (small n): overheads free of timing noise and code layout")
    ap.add_argument("--wabt", action="store_true",
                    help="also time wabt's wasm-interp as a peer (reduced n)")
    ap.add_argument("--no-wabt", dest="wabt", action="store_false")
    ap.add_argument("--no-native", action="store_true")
    ap.add_argument("--build-info", default="", help="how the library was compiled")
    ap.add_argument("--workloads", default="")
    ap.add_argument("--peer-dir", default="build/bench/peer")
    ap.add_argument("--log", default="", help="also write the output to this file")
    args = ap.parse_args()
    if args.log:
        os.makedirs(os.path.dirname(args.log) or ".", exist_ok=True)
        sys.stdout = Tee(sys.stdout, open(args.log, "w"))

    bench_dir = os.path.join(args.shared, "bench")
    if not os.path.isdir(bench_dir):
        die("no corpus at %s (set SHARED=...)" % bench_dir)
    with open(os.path.join(bench_dir, "checksums.json")) as f:
        checks = json.load(f)
    wls = workloads_in_order(bench_dir)
    if args.workloads:
        want = args.workloads.split(",")
        for w in want:
            if w not in wls:
                die("unknown workload %s" % w)
        wls = [w for w in wls if w in want]
    if not os.access(args.interp, os.X_OK):
        die("%s not built" % args.interp)

    b = Bench(args)
    runs = max(1, args.runs)
    native = not args.no_native
    print("machine: " + machine_line())
    if args.build_info:
        print("icexec build: " + args.build_info)
    print("icexec: %s (%s); %s n, median of %d run%s" % (
        args.interp, "plain and metered" if args.meter else "plain",
        args.sizes, runs, "" if runs == 1 else "s"))
    print("columns: whole-process CPU seconds (user+sys) natively (clang -O2 -fno-builtin) "
          "and on icexec, their ratio, the CPU seconds of the run call alone%s" % (
              "; then the same instrumented as the IC does (counter fused), its "
              "instruction count (IC cost table) and instructions per call-second"
              if args.meter else ""))
    if args.untracked_interp:
        print("untracked: %s (no dirty-page marking), plain, call CPU seconds" %
              args.untracked_interp)
    print()
    rows = []
    hdr = "%-8s %8s  %9s  %9s  %8s  %9s" % ("workload", "n", "native s", "icexec s",
                                           "ratio", "call s")
    # native s, icexec s: median CPU (user+sys) of the whole process;
    # call s: median CPU of the run call alone, as bench_interp measures it
    if args.meter:
        hdr += "  %9s  %8s  %12s  %8s" % ("metered s", "ratio", "instr", "Minstr/s")
    if args.untracked_interp:
        hdr += "  %10s" % ("untracked s")
    print(hdr)
    print("-" * len(hdr))
    for w in wls:
        dn, sn = sizes(bench_dir, w, checks)
        n = dn if args.sizes == "default" else sn
        expect = checks["%s:%d" % (w, n)]
        wasm = os.path.join(bench_dir, "wasm", w + ".wasm")
        nat = None
        if native:
            nat = b.measure("native " + w, [os.path.join(args.native_dir, w), str(n)],
                            expect, runs)
        icx = b.measure("icexec " + w, [args.interp, wasm, str(n)], expect, runs, True)
        met = None
        if args.meter:
            met = b.measure("icexec-metered " + w, [args.interp, "--meter", wasm, str(n)],
                            expect, runs, True)
            if met and not met["fuel_all_equal"]:
                b.failures.append("icexec-metered %s: fuel differs between runs" % w)
        unt = None
        if args.untracked_interp:
            unt = b.measure("icexec-untracked " + w, [args.untracked_interp, wasm, str(n)],
                            expect, runs, True)
        row = {"w": w, "n": n,
               "unt_call": unt["call"] if unt else float("nan"),
               "native": nat["cpu"] if nat else float("nan"),
               "icx": icx["cpu"] if icx else float("nan"),
               "call": icx["call"] if icx else float("nan"),
               "met": met["cpu"] if met else float("nan"),
               "fuel": met["fuel"] if met else None,
               "met_call": met["call"] if met else float("nan")}
        row["ratio"] = row["icx"] / row["native"] if native else float("nan")
        row["met_ratio"] = row["met"] / row["native"] if native else float("nan")
        rows.append(row)
        line = "%-8s %8d  %9s  %9s  %8s  %9s" % (w, n, fmt_s(row["native"]), fmt_s(row["icx"]),
                                                fmt_ratio(row["ratio"]), fmt_s(row["call"]))
        if args.meter:
            mips = (row["fuel"] / row["met_call"] / 1e6
                    if row["fuel"] and row["met_call"] > 0 else float("nan"))
            line += "  %9s  %8s  %12s  %8s" % (
                fmt_s(row["met"]), fmt_ratio(row["met_ratio"]),
                row["fuel"] if row["fuel"] is not None else "-",
                "%.0f" % mips if math.isfinite(mips) else "-")
        if args.untracked_interp:
            line += "  %10s" % fmt_s(row["unt_call"])
        print(line, flush=True)

    if args.wabt:
        peer(b, args, bench_dir, wls, checks, runs)
    cg = callgrind(b, args, bench_dir, wls, checks) if args.callgrind else None

    print()
    print("load average after: %.2f" % load_avg())
    for f in b.failures:
        print("FAIL: " + f)
    if args.meter:
        ov = geomean([r["met_call"] / r["call"] for r in rows
                      if r["call"] > 0 and math.isfinite(r["met_call"])])
        print("metering overhead (geomean): %.1f%%" % ((ov - 1) * 100))
    if args.untracked_interp:
        ov = geomean([r["call"] / r["unt_call"] for r in rows
                      if r["unt_call"] > 0 and math.isfinite(r["call"])])
        print("dirty-tracking overhead (geomean over %s): %.1f%%" % (
            os.path.normpath(bench_dir), (ov - 1) * 100))
    if cg:
        for k, label in (("met", "metering"), ("unt", "dirty-tracking")):
            if cg[k]:
                print("%s overhead in executed instructions (callgrind, small n, geomean): %.1f%%"
                      % (label, (geomean(cg[k]) - 1) * 100))
    if native:
        ok = [r for r in rows if math.isfinite(r["ratio"])]
        g = geomean([r["ratio"] for r in ok])
        if args.meter:
            gm = geomean([r["met_ratio"] for r in rows if math.isfinite(r["met_ratio"])])
            print("geomean ratio to native, uninstrumented: %.2fx" % g)
            print("geomean ratio to native: %.2fx" % gm)
        else:
            print("geomean ratio to native: %.2fx" % g)
    else:
        print("checksums: %s (%d workloads, %s n)" % (
            "FAIL" if b.failures else "ok", len(rows), args.sizes))
    return 1 if b.failures else 0


def callgrind_count(argv):
    """Machine instructions executed by argv under callgrind (None on error)."""
    vg = shutil.which("valgrind")
    if not vg:
        return None
    p = subprocess.run([vg, "--tool=callgrind", "--callgrind-out-file=/dev/null"] + argv,
                       capture_output=True, text=True)
    m = re.search(r"Collected\s*:\s*(\d+)", p.stderr)
    return int(m.group(1)) if p.returncode == 0 and m else None


def callgrind(b, args, bench_dir, wls, checks):
    """Instruction counts of plain, metered and untracked runs at small n:
    the ratios metered/plain and plain/untracked per workload."""
    print()
    print("callgrind: machine instructions executed (whole process), small n")
    hdr = "%-8s %8s  %14s  %14s  %14s" % ("workload", "n", "plain", "metered", "untracked")
    print(hdr)
    print("-" * len(hdr))
    out = {"met": [], "unt": []}
    for w in wls:
        _, sn = sizes(bench_dir, w, checks)
        wasm = os.path.join(bench_dir, "wasm", w + ".wasm")
        plain = callgrind_count([args.interp, wasm, str(sn)])
        met = callgrind_count([args.interp, "--meter", wasm, str(sn)]) if args.meter else None
        unt = (callgrind_count([args.untracked_interp, wasm, str(sn)])
               if args.untracked_interp else None)
        if plain is None:
            b.failures.append("callgrind %s: no count" % w)
            continue
        if met:
            out["met"].append(met / plain)
        if unt:
            out["unt"].append(plain / unt)
        print("%-8s %8d  %14s  %14s  %14s" % (w, sn, plain, met or "-", unt or "-"), flush=True)
    return out


def peer(b, args, bench_dir, wls, checks, runs):
    """wabt's wasm-interp vs icexec on the same reduced-size module."""
    wi = shutil.which(os.environ.get("WASM_INTERP", "wasm-interp"))
    if not wi or not shutil.which("wasm2wat") or not shutil.which("wat2wasm"):
        print("\n(wabt peer skipped: wasm-interp, wasm2wat or wat2wasm not found)")
        return
    os.makedirs(args.peer_dir, exist_ok=True)
    print()
    print("peer: wabt wasm-interp --run-all-exports (1 run) vs icexec --func bench "
          "(median of %d), same module, bench() = run(n)" % runs)
    hdr = "%-8s %8s  %9s  %9s  %8s" % ("workload", "n", "wabt s", "icexec s", "wabt/icx")
    print(hdr)
    print("-" * len(hdr))
    ratios = []
    for w in wls:
        dn, _ = sizes(bench_dir, w, checks)
        n = PEER_N.get(w, None) or dn
        src = os.path.join(bench_dir, "wasm", w + ".wasm")
        if n == dn:
            mod = src
            expect = checks["%s:%d" % (w, n)]
        else:
            mod = os.path.join(args.peer_dir, "%s-%d.wasm" % (w, n))
            if not os.path.exists(mod) and not make_peer_module(src, mod, n):
                b.failures.append("peer %s: cannot rewrite bench()" % w)
                continue
            # expected value from the native binary (checksums.json has no entry)
            _, _, rc, out, _ = run_timed([os.path.join(args.native_dir, w), str(n)])
            expect = first_int(out) if rc == 0 else None
        wall, cpu, rc, out, _ = run_timed([wi, "--run-all-exports", mod])
        m = re.search(r"bench\(\) => i32:(-?\d+)", out)
        if rc != 0 or not m or int(m.group(1)) != expect:
            b.failures.append("wabt %s: result %s, expected %s" % (
                w, m.group(1) if m else None, expect))
            continue
        icx = b.measure("icexec peer " + w, [args.interp, "--func", "bench", mod], expect, runs)
        if not icx:
            continue
        r = cpu / icx["cpu"] if icx["cpu"] > 0 else float("nan")
        ratios.append(r)
        print("%-8s %8d  %9s  %9s  %8s" % (w, n, fmt_s(cpu), fmt_s(icx["cpu"]), fmt_ratio(r)),
              flush=True)
    if ratios:
        print("geomean wabt time / icexec time: %.1fx" % geomean(ratios))


if __name__ == "__main__":
    sys.exit(main())
