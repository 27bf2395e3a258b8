#!/usr/bin/env python3
"""Generates python_float_repr.txt: doubles and CPython's repr() of them.

Run from this directory: python3 gen_python_float_repr.py > python_float_repr.txt
A bigger corpus for a local run: python3 gen_python_float_repr.py 1000000 7 > /tmp/floats.txt,
then TAHOE_FLOAT_CORPUS=/tmp/floats.txt cargo test -p cybexp-tahoe --test float_repr
(at 1000000: ~2.3 million doubles, ~650,000 of them exact ties).

Each line: the double's bits in hex, repr(x), and why it is there:
  b boundary or layout threshold    p power of two or its neighbour
  i integer near 2**53, 2**54, 1e16  r random bit pattern    d short decimal
  T exact tie, CPython takes the even lower candidate (Rust's {:e} rounds up)
  t exact tie, CPython takes the upper candidate (only in a big corpus)
  U exact tie, the even candidate does not read back (below a power of two)
An exact tie: x = m * 2**-k (m odd) is exactly m * 5**k / 10**k, whose last
digit is 5; it is a tie when the shortest repr has one digit fewer.
"""
import math, random, struct, sys

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 600
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 20261201)
BIG = COUNT >= 100_000
seen = set()


def emit(x, tag):
    if not math.isfinite(x):
        return
    bits = struct.unpack('<Q', struct.pack('<d', x))[0]
    if bits in seen:
        return
    seen.add(bits)
    print(f"{bits:016x} {x!r} {tag}")


def digits(x):
    mantissa = repr(abs(x)).split('e')[0]
    return mantissa.replace('.', '').lstrip('0').rstrip('0') or '0'


def neighbours(x):
    return (x, math.nextafter(x, 0), math.nextafter(x, math.inf))


for line in __doc__.strip().splitlines():
    print(f"# {line}".rstrip())
for x in (0.0, 5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308,
          0.1, 0.2, 0.1 + 0.2, 1 / 3, 2 / 3, 1e16, 1e-5, 1e-4, 9999999999999998.0, 1e15, 123456789.123456789,
          float(2**53), float(2**53 + 1), float(2**53 + 2), float(2**53 - 1), float(2**63), float(2**64)):
    for y in neighbours(x):
        emit(y, 'b')
        emit(-y, 'b')
for e in range(-8, 18):
    for y in neighbours(float(f"1e{e}")) + neighbours(float(f"5e{e}")) + neighbours(float(f"9.5e{e}")):
        emit(y, 'b')
        emit(-y, 'b')
for e in range(-1074, 1024, 1 if BIG else 37):
    for y in neighbours(math.ldexp(1.0, e)):
        emit(y, 'p')
        emit(-y, 'p')
for i in range(-(2000 if BIG else 3), (2000 if BIG else 3) + 1):
    for base in (2**53, 2**54, 10**16):
        emit(float(base + i), 'i')
for _ in range(COUNT):
    x = struct.unpack('<d', struct.pack('<Q', rng.getrandbits(64)))[0]
    emit(x, 'r')
for _ in range(COUNT // 3):
    emit(round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)), 'd')
    emit(float(f"{rng.randint(1, 10**rng.randint(1, 17))}e{rng.randint(-330, 310)}"), 'd')

for k in range(1, 27):
    # Powers of two (and small multiples) first: where the lower candidate
    # falls outside the narrower interval below a power of two.
    for m in (1, 3, 5, 7):
        x = math.ldexp(float(m), -k)
        exact = str(m * 5**k)
        low = int(exact) // 10
        if len(exact) == len(digits(x)) + 1 and low % 2 == 0 and digits(x) == str(low + 1).rstrip('0'):
            emit(x, 'U')
            emit(-x, 'U')
    lo = max(1, -(-10**16 // 5**k))
    hi = min(10**18 // 5**k, 2**53)
    # Small: up to COUNT // 10 even-lower ties per k; big: every tie in COUNT // 16 tries.
    wanted, tries = (COUNT // 10, COUNT * 4 // 10) if not BIG else (COUNT, COUNT // 16)
    found = 0
    for _ in range(tries):
        if lo >= hi or found >= wanted:
            break
        m = rng.randrange(lo, hi) | 1
        if m >= 2**53:
            continue
        x = math.ldexp(float(m), -k)
        exact = str(m * 5**k)
        if len(exact) != len(digits(x)) + 1:
            continue
        tag = 'T' if digits(x) == str(int(exact) // 10).rstrip('0') else 't'
        if BIG or tag == 'T':
            emit(x, tag)
            emit(-x, tag)
            found += 1
