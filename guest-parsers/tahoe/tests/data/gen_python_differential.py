#!/usr/bin/env python3
"""Generates python_differential.json: random JSON-ish texts and what the
reference (CPython's json + the TAHOE canonical form) makes of them.

Run from this directory: python3 gen_python_differential.py > python_differential.json
A bigger corpus for a local run: python3 gen_python_differential.py 20000 7 > /tmp/big.json,
then TAHOE_DIFF_CORPUS=/tmp/big.json cargo test -p cybexp-tahoe --test python_differential
Each case: text; outcome "json" (json.loads succeeded), "text" (JSONDecodeError:
the data is {"data": text}) or "error" (parsed, but holds a lone surrogate,
which pymongo cannot store); for json/text also data_json = Python's
json.dumps(data, separators=(",", ":"), ensure_ascii=False) and
hash = sha256("raw" + "x" + canonical(data)).
"""
import hashlib, json, math, random, struct, sys

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 400
rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 20240601)

def canonical(v):
    if isinstance(v, dict):
        return json.dumps({k: canonical(x) for k, x in v.items()}, sort_keys=True)
    if isinstance(v, list):
        return json.dumps(sorted(set(canonical(x) for x in v)))
    if isinstance(v, str):
        return json.dumps(v.strip())
    return json.dumps(v)

SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
ALPHABET = (["a", "b", "Z", "0", " ", "/", "\"", "\\", "\x7f", "\x00", "\x01", "\x08", "\x0c",
             "\n", "\r", "\t", "\x1f", "\xe9", "\u65e5", "\U0001f600", "\ufeff", "\u200b"]
            + list(SPACES))

def rand_string():
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))

def write_string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        r = rng.random()
        if ch == '"' or ch == '\\':
            out.append('\\' + ch)
        elif c < 0x20 or r < 0.3:
            if ch in '\n\r\t\b\f' and r < 0.5:
                out.append({'\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f'}[ch])
            elif c > 0xFFFF:
                c -= 0x10000
                hi, lo = 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF)
                out.append('\\u%04x\\u%04X' % (hi, lo))
            else:
                out.append(('\\u%04x' if r < 0.15 else '\\u%04X') % c)
        elif ch == '/' and r < 0.6:
            out.append('\\/')
        else:
            out.append(ch)
    if rng.random() < 0.03:
        out.append(rng.choice(['\\ud800', '\\udc00', '\\ud83d x', '\\ude00\\ud83d']))
    out.append('"')
    return "".join(out)

def rand_float_text():
    kind = rng.random()
    if kind < 0.3:
        f = struct.unpack('<d', struct.pack('<Q', rng.getrandbits(64)))[0]
        if math.isnan(f) or math.isinf(f):
            f = 1.5
        return repr(f)
    if kind < 0.5:
        return rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0.0", "0.0",
                           "1E5", "1e+05", "2.5E-3", "0.10", "100000.0", "1e16", "9999999999999998.0",
                           "123456789.123456789", "1.7976931348623157e308", "4.9e-324", "0.30000000000000004"])
    mant = str(rng.randint(0, 10 ** rng.randint(1, 20)))
    frac = str(rng.randint(0, 10 ** rng.randint(1, 20)))
    exp = rng.randint(-30, 30)
    return "%s%s.%se%d" % (rng.choice(["", "-"]), mant, frac, exp)

def rand_int_text():
    r = rng.random()
    if r < 0.1:
        return "-0"
    if r < 0.3:
        return str(rng.randint(-10 ** 60, 10 ** 60))
    return str(rng.randint(-1000, 1000))

def ws():
    return "".join(rng.choice(" \t\n\r") for _ in range(rng.choice([0, 0, 0, 1, 2])))

def value(depth):
    r = rng.random()
    if depth > 3 or r < 0.45:
        return rng.choice([
            lambda: write_string(rand_string()), rand_float_text, rand_int_text,
            lambda: rng.choice(["true", "false", "null"]),
        ])()
    items = [value(depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.7:
        if items and rng.random() < 0.4:
            items += rng.sample(items, k=min(len(items), 2))
        return "[" + ws() + ("," + ws()).join(it + ws() for it in items) + "]"
    keys = [write_string(rng.choice(["a", "b", " a", "é", "k", rand_string()])) for _ in items]
    members = [k + ws() + ":" + ws() + v + ws() for k, v in zip(keys, items)]
    return "{" + ws() + ("," + ws()).join(members) + "}"

def mutate(text):
    i = rng.randrange(len(text) + 1)
    r = rng.random()
    if r < 0.4 and text:
        return text[:i] + text[i + 1:]
    junk = rng.choice([",", "]", "}", "[", "{", ":", "\"", "0", "-", ".", "e", " ", "\x0b", "\ufeff", "x", "\\"])
    if r < 0.8:
        return text[:i] + junk + text[i:]
    return text[:i] + junk + text[i + 1:]

def case(text):
    try:
        data = json.loads(text)
        outcome = "json"
    except json.JSONDecodeError:
        data = {"data": text}
        outcome = "text"
    except (RecursionError, ValueError):
        return None
    data_json = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    try:
        data_json.encode("utf-8")
    except UnicodeEncodeError:
        return {"text": text, "outcome": "error"}
    h = hashlib.sha256(("raw" + "x" + canonical(data)).encode()).hexdigest()
    return {"text": text, "outcome": outcome, "data_json": data_json, "hash": h}

cases = []
fixed = ["", " ", "NaN", "-Infinity", "\ufeff{}", "nul", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "+1",
         "\"\\ud800\"", "[\"\\ud83d\\ude00\"]", "{\"a\":1,\"a\":{\"b\":2},\"c\":[]}", "  \"  x  \"  ",
         "http://example.com/\nhttps://a.b/c", "Subject: hi\n\nbody"]
for t in fixed:
    cases.append(case(t))
while len(cases) < COUNT:
    text = ws() + value(0) + ws()
    if rng.random() < 0.35:
        for _ in range(rng.randint(1, 3)):
            text = mutate(text)
    c = case(text)
    if c is not None:
        cases.append(c)
json.dump({"about": __doc__.strip(), "cases": cases}, sys.stdout, ensure_ascii=True, indent=0)
sys.stdout.write("\n")
