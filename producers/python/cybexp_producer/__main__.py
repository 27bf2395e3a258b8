"""``python -m cybexp_producer``: seal a file for the archive, check a key, or open a blob.

    python -m cybexp_producer key-id PUB.pem                # the key id, to compare with keygen's
    python -m cybexp_producer seal --pub PUB.pem FILE [-o OUT]
    python -m cybexp_producer open --key PRIV.pem BLOB [-o OUT]   # operators and tests only

``open`` exits 4 with ``error: <class>: <detail>`` on stderr, as
``cybexp-archive decrypt`` does.
"""

import argparse
import sys

from . import EnvelopeError, load_private_key, load_public_key, open_envelope, seal


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def _write(path, data: bytes) -> None:
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        with open(path, "wb") as f:
            f.write(data)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cybexp_producer", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    key_id = sub.add_parser("key-id", help="print the key id of an archive X-Wing public key")
    key_id.add_argument("public")
    sealer = sub.add_parser("seal", help="seal FILE for the archive (v3 envelope)")
    sealer.add_argument("--pub", dest="public", required=True)
    sealer.add_argument("-o", "--output")
    sealer.add_argument("file")
    opener = sub.add_parser("open", help="open a v3 blob with the archive's private key")
    opener.add_argument("--key", required=True)
    opener.add_argument("-o", "--output")
    opener.add_argument("blob")
    args = parser.parse_args(argv)

    if args.command == "key-id":
        print(load_public_key(_read(args.public)).fingerprint)
    elif args.command == "seal":
        _write(args.output, seal(load_public_key(_read(args.public)), _read(args.file)))
    else:
        try:
            _write(args.output, open_envelope(load_private_key(_read(args.key)), _read(args.blob)))
        except EnvelopeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
