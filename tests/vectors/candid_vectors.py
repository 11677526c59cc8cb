#!/usr/bin/env python3
"""Candid messages for tests/unit_candid.c, built by a tiny independent
encoder (Candid spec "Binary format"; not the code under test).
Run: python3 tests/vectors/candid_vectors.py"""


def h(name):
    x = 0
    for b in name.encode():
        x = (x * 223 + b) & 0xFFFFFFFF
    return x


def uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


NULL, BOOL, NAT, INT, NAT8, NAT64, TEXT, RESERVED, PRINCIPAL = -1, -2, -3, -4, -5, -8, -15, -16, -24
OPT, VEC, RECORD, VARIANT = -18, -19, -20, -21


class T:
    def __init__(self):
        self.entries = []

    def add(self, e):
        self.entries.append(e)
        return len(self.entries) - 1

    def enc(self):
        out = uleb(len(self.entries))
        for e in self.entries:
            out += sleb(e[0])
            if e[0] in (OPT, VEC):
                out += sleb(e[1])
            else:
                fs = sorted((h(n) if isinstance(n, str) else n, t) for n, t in e[1])
                out += uleb(len(fs))
                for i, t in fs:
                    out += uleb(i) + sleb(t)
        return out


def rec(fields):
    """fields: list of (name, encoded bytes); emitted in hash order"""
    return b"".join(v for _, v in sorted((h(n), v) for n, v in fields))


def var(names, name, val=b""):
    ids = sorted(h(n) for n in names)
    return uleb(ids.index(h(name))) + val


def principal(b):
    return b"\x01" + uleb(len(b)) + b


def blob(b):
    return uleb(len(b)) + b


def msg(t, args, vals):
    return b"DIDL" + t.enc() + uleb(len(args)) + b"".join(sleb(a) for a in args) + b"".join(vals)


cid = bytes(7) + b"\x05\x01\x01"

# 1. install_code, old mode variant (upgrade: null), plus an extra field "zzz": text
t = T()
blobt = t.add((VEC, NAT8))
mode = t.add((VARIANT, [("install", NULL), ("reinstall", NULL), ("upgrade", NULL)]))
r = t.add((RECORD, [("mode", mode), ("canister_id", PRINCIPAL), ("wasm_module", blobt),
                    ("arg", blobt), ("zzz", TEXT)]))
m1 = msg(t, [r], [rec([("mode", var(["install", "reinstall", "upgrade"], "upgrade")),
                       ("canister_id", principal(cid)), ("wasm_module", blob(b"\x00asm\x01\x00\x00\x00")),
                       ("arg", blob(b"hi")), ("zzz", blob(b"ignored"))])])
print("install_old", m1.hex())

# 2. install_code, new mode: upgrade = opt record {skip_pre_upgrade = opt true;
#    wasm_memory_persistence = opt variant {keep}}, sender_canister_version = opt 7
t = T()
blobt = t.add((VEC, NAT8))
ob = t.add((OPT, BOOL))
pv = t.add((VARIANT, [("keep", NULL), ("replace", NULL)]))
opv = t.add((OPT, pv))
ur = t.add((RECORD, [("skip_pre_upgrade", ob), ("wasm_memory_persistence", opv)]))
our = t.add((OPT, ur))
mode = t.add((VARIANT, [("install", NULL), ("reinstall", NULL), ("upgrade", our)]))
on64 = t.add((OPT, NAT64))
r = t.add((RECORD, [("mode", mode), ("canister_id", PRINCIPAL), ("wasm_module", blobt),
                    ("arg", blobt), ("sender_canister_version", on64)]))
upg = b"\x01" + rec([("skip_pre_upgrade", b"\x01\x01"),
                     ("wasm_memory_persistence", b"\x01" + var(["keep", "replace"], "keep"))])
m2 = msg(t, [r], [rec([("mode", var(["install", "reinstall", "upgrade"], "upgrade", upg)),
                       ("canister_id", principal(cid)), ("wasm_module", blob(b"\x00asm")),
                       ("arg", blob(b"")), ("sender_canister_version", b"\x01" + (7).to_bytes(8, "little"))])])
print("install_new", m2.hex())

# 3. provisional_create_canister_with_cycles {amount = opt 2^100; settings = opt record {
#    controllers = opt vec {anonymous}; freezing_threshold = opt 86400; extra = 5 : int }}
t = T()
vp = t.add((VEC, PRINCIPAL))
ovp = t.add((OPT, vp))
on = t.add((OPT, NAT))
st = t.add((RECORD, [("controllers", ovp), ("freezing_threshold", on), ("extra", INT)]))
ost = t.add((OPT, st))
r = t.add((RECORD, [("amount", on), ("settings", ost)]))
m3 = msg(t, [r], [rec([("amount", b"\x01" + uleb(2**100)),
                       ("settings", b"\x01" + rec([("controllers", b"\x01" + uleb(1) + principal(b"\x04")),
                                                   ("freezing_threshold", b"\x01" + uleb(86400)),
                                                   ("extra", sleb(5))]))])])
print("prov_create", m3.hex())

# 4. provisional_top_up_canister {canister_id; amount = 10^30}
t = T()
r = t.add((RECORD, [("canister_id", PRINCIPAL), ("amount", NAT)]))
m4 = msg(t, [r], [rec([("canister_id", principal(cid)), ("amount", uleb(10**30))])])
print("top_up", m4.hex())

# 5. create_canister with settings given as a plain record where opt is expected for
#    compute_allocation: nat (not opt) -> coerced to opt; memory_allocation: text -> null
t = T()
st = t.add((RECORD, [("compute_allocation", NAT), ("memory_allocation", TEXT)]))
ost = t.add((OPT, st))
r = t.add((RECORD, [("settings", ost)]))
m5 = msg(t, [r], [rec([("settings", b"\x01" + rec([("compute_allocation", uleb(50)),
                                                    ("memory_allocation", blob(b"lots"))]))])])
print("create_coerce", m5.hex())

for n in ["canister_id", "mode", "install", "reinstall", "upgrade", "keep", "replace",
          "controllers", "public", "allowed_viewers", "running", "stopping", "stopped", "status"]:
    print("hash", n, h(n), uleb(h(n)).hex())
print("nat 2^100", uleb(2**100).hex(), "int -129", sleb(-129).hex(), "int 2^127-1", sleb(2**127 - 1).hex(),
      "int -2^127", sleb(-2**127).hex(), "int 2^127", sleb(2**127).hex())
