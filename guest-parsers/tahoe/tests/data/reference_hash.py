#!/usr/bin/env python3
"""The reference's `_hash` for plaintext files, as the CYBEX-P archiver computes
it (reference §3): the UTF-8 plaintext read by Python's json.loads, or wrapped
as {"data": text} when it is not JSON; _hash = sha256("raw" + sub_type +
canonical(data)).

    python3 reference_hash.py SUB_TYPE FILE...

prints one tab-separated line per file: the sub_type, the file's name, how
the data is stored ("json" or "text") and the hash. A file that is not UTF-8
gets "utf8" for both: the reference fails on it too. Each parser's real
samples have what this printed in tests/samples/real/reference_hashes.tsv,
which the native and the sandboxed tests check against, e.g.

    cd guest-parsers/cowrie/tests/samples/real
    python3 ../../../../tahoe/tests/data/reference_hash.py unr_honeypot cowrie.json.* > reference_hashes.tsv
"""
import hashlib, json, os, sys


def canonical(v):
    if isinstance(v, dict):
        return json.dumps({k: canonical(x) for k, x in v.items()}, sort_keys=True)
    if isinstance(v, list):
        return json.dumps(sorted(set(canonical(x) for x in v)))
    if isinstance(v, str):
        return json.dumps(v.strip())
    return json.dumps(v)


def main():
    sub_type, files = sys.argv[1], sys.argv[2:]
    for path in files:
        raw = open(path, "rb").read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            print(sub_type, os.path.basename(path), "utf8", "utf8", sep="\t")
            continue
        try:
            data, stored = json.loads(text), "json"
        except json.JSONDecodeError:
            data, stored = {"data": text}, "text"
        digest = hashlib.sha256(("raw" + sub_type + canonical(data)).encode("utf-8")).hexdigest()
        print(sub_type, os.path.basename(path), stored, digest, sep="\t")


if __name__ == "__main__":
    main()
