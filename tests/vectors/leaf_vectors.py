#!/usr/bin/env python3
"""Independent test vectors for tests/unit_randtape.c and tests/unit_principal.c.

Uses only Python's hashlib/zlib/base64 and, for ChaCha20, the `cryptography`
package (OpenSSL) -- none of the code under test.  Prints C initialisers;
the numbers pinned in the unit tests were produced by this script.
Run: python3 tests/vectors/leaf_vectors.py
"""
import base64, hashlib, struct, zlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms


def hexs(b):
    return b.hex()


def randomness(rnd, sig):
    h = hashlib.blake2b(digest_size=32)
    h.update(b"icexec-random-tape-v1" + b"\x00" + struct.pack("<Q", rnd)
             + struct.pack("<Q", len(sig)) + sig)
    return h.digest()


def key_of(r):
    return hashlib.blake2b(b"icexec-random-tape-chacha20-key-v1", digest_size=32, key=r).digest()


def stream(key, n, counter=0):
    # cryptography's ChaCha20 nonce: 4-byte little-endian counter ++ 12-byte IETF nonce
    nonce = struct.pack("<I", counter) + b"\x00" * 12
    enc = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
    return enc.update(b"\x00" * n)


def principal_text(b):
    crc = struct.pack(">I", zlib.crc32(b) & 0xFFFFFFFF)
    s = base64.b32encode(crc + b).decode().lower().rstrip("=")
    return "-".join(s[i:i + 5] for i in range(0, len(s), 5))


for name, rnd, sig in [("empty", 0, b""), ("abc", 1, b"abc"),
                       ("seq96", 0x0102030405060708, bytes(range(96)))]:
    r = randomness(rnd, sig)
    k = key_of(r)
    s = stream(k, 200)
    print(f"{name}: randomness {hexs(r)}")
    print(f"{name}: key        {hexs(k)}")
    print(f"{name}: stream[0:96] {hexs(s[:96])}")
    print(f"{name}: stream[128:200] {hexs(s[128:200])}")
# a stream position far into the tape: block 2^32-1 (the last one)
k = key_of(randomness(1, b"abc"))
print("abc: last block", hexs(stream(k, 64, 0xFFFFFFFF)))
# the round number is bound in: "abc" in rounds 0 and 2**64-1
for rnd in (0, 2**64 - 1):
    print(f"abc round {rnd}: randomness {hexs(randomness(rnd, b'abc'))}")

for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 200):
    m = bytes((i * 7 + 3) & 0xFF for i in range(n))
    print(f"sha224 len {n}: {hashlib.sha224(m).hexdigest()}")

der = bytes.fromhex("302a300506032b6570032100") + bytes(range(32))  # Ed25519 SPKI, key 00..1f
sa = hashlib.sha224(der).digest() + b"\x02"
print("self-auth bytes", hexs(sa))
print("self-auth text ", principal_text(sa))
for b in [b"", b"\x04", bytes(8) + b"\x01\x01", bytes.fromhex("efcdab000000000001"), bytes(29),
          bytes.fromhex("00000000000000070101"), struct.pack(">Q", 2**64 - 1) + b"\x01\x01"]:
    print("text", hexs(b) or "(empty)", principal_text(b))
print("crc32 123456789 %08x" % zlib.crc32(b"123456789"))
