"""Plays the CYBEX-P side of a MongoDB deployment for the interop test.

    cybexp_api.py submit URI CACHE_DB PUB_PEM VECTORS [legacy|v3]  # what the API does
    cybexp_api.py check URI CACHE_DB ARCHIVE_DB VECTORS            # what analytics reads

`submit` writes one cache entry per case of raw_documents.json the way the
CYBEX-P API does: the legacy envelope made with pycryptodome (RSA-OAEP with
SHA-1 wrapping a fresh 32-byte key, AES-256-EAX with a 16-byte nonce and
tag, blob = enc_key || nonce || tag || ciphertext), the blob put into GridFS
bucket `fs`, and a `file_entries` document. Every other entry spells the
type field `typtag`, as older entries do. With `v3`, PUB_PEM is the
archive's X-Wing public key and the blob is the post-quantum v3 envelope,
sealed by the repository's producer module (producers/python,
`cybexp_producer.seal`): the one line of the API that changes.

`check` reads back with pymongo what the archiver stored in the archive and
compares it with the vectors: every field, and `data` byte for byte as BSON,
against what pymongo itself encodes for the reference document (so the
number types match: int32, int64, double). It also checks the entries'
outcome fields. Prints one line per problem; exit 1 if any.
"""

import json
import sys
import time

import bson
import gridfs
import pymongo
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from bson.son import SON
from Crypto.Cipher import AES, PKCS1_OAEP
from Crypto.PublicKey import RSA
from Crypto.Random import get_random_bytes


def legacy_envelope(public_key, plaintext: bytes) -> bytes:
    session_key = get_random_bytes(32)
    enc_session_key = PKCS1_OAEP.new(public_key).encrypt(session_key)
    cipher = AES.new(session_key, AES.MODE_EAX)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return enc_session_key + cipher.nonce + tag + ciphertext


def submit(uri, cache_db, pub_pem, vectors, envelope="legacy"):
    with open(pub_pem, "rb") as f:
        pem = f.read()
    if envelope == "v3":
        import cybexp_producer

        archive_key = cybexp_producer.load_public_key(pem)

        def seal(plaintext):
            return cybexp_producer.seal(archive_key, plaintext)

    else:
        public_key = RSA.import_key(pem)

        def seal(plaintext):
            return legacy_envelope(public_key, plaintext)

    cases = json.load(open(vectors))["cases"]
    client = pymongo.MongoClient(uri)
    db = client[cache_db]
    fs = gridfs.GridFS(db)
    for i, case in enumerate(cases):
        blob = seal(case["plaintext"].encode("utf-8"))
        fid = fs.put(blob)
        type_field = "typetag" if i % 2 == 0 else "typtag"
        db.file_entries.insert_one(
            {
                "name": f"vector-{i}",
                "orgid": case["orgid"],
                type_field: case["typtag"],
                "timezone": case["timezone"],
                "timestamp": time.time(),
                "processed": False,
                "fid": fid,
            }
        )
    print(len(cases))


def check(uri, cache_db, archive_db, vectors):
    cases = json.load(open(vectors))["cases"]
    client = pymongo.MongoClient(uri)
    raw = CodecOptions(document_class=RawBSONDocument)
    instance = client[archive_db].get_collection("instance", codec_options=raw)
    problems = []
    for i, case in enumerate(cases):
        expect = case["expect"]
        stored = instance.find_one({"_hash": expect["_hash"]})
        if stored is None:
            problems.append(f"vector-{i}: no document with _hash {expect['_hash']}")
            continue
        keys = list(stored.keys())
        if keys != ["_id", "itype", "data", "orgid", "timezone", "sub_type", "_hash"]:
            problems.append(f"vector-{i}: fields {keys}")
        for field in ["itype", "sub_type", "orgid", "timezone", "_hash"]:
            if stored[field] != expect[field]:
                problems.append(f"vector-{i}: {field} {stored[field]!r} != {expect[field]!r}")
        # What pymongo encodes for the reference's data: same bytes, so the
        # same values, key order and BSON types.
        reference = bson.encode(SON([("data", expect["data"])]))
        archived = bson.encode(SON([("data", stored["data"])]))
        if archived != reference:
            problems.append(f"vector-{i}: data differs from pymongo's encoding of the reference document")
        # And decoded as analytics decodes it.
        decoded = bson.decode(stored.raw)
        if decoded["data"] != expect["data"]:
            problems.append(f"vector-{i}: decoded data differs")
    count = client[archive_db].instance.count_documents({})
    if count != len(cases):
        problems.append(f"{count} documents in the archive, expected {len(cases)}")
    entries = list(client[cache_db].file_entries.find())
    for entry in entries:
        i = int(entry["name"].split("-")[1])
        if entry.get("processed") is not True:
            problems.append(f"{entry['name']}: not processed: {entry}")
        if entry.get("_ref") != [cases[i]["expect"]["_hash"]]:
            problems.append(f"{entry['name']}: _ref {entry.get('_ref')}")
        if "_claim" in entry or entry.get("skip"):
            problems.append(f"{entry['name']}: left with {entry}")
    for p in problems:
        print(p)
    print(f"checked {len(cases)} documents and {len(entries)} entries: {len(problems)} problems")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"submit": submit, "check": check}[command](*args)
