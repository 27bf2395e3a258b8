"""Seal CYBEX-P submissions for the archive in the v3 envelope.

The v3 envelope is HPKE (RFC 9180) base mode, single shot, with the X-Wing
hybrid KEM (ML-KEM-768 + X25519, HPKE KEM 0x647a), HKDF-SHA256 and
AES-256-GCM, sealed to the archive's X-Wing public key; the 43-byte header
is HPKE's ``info``::

    blob = header || enc (1120 bytes) || AES-256-GCM ciphertext || tag (16)
    header = b"CXPE" || 0x03 || 0x647a || 0x0001 || 0x0002 || key_id (32)

``key_id`` is the SHA-256 of the archive public key's SubjectPublicKeyInfo
DER (the bytes of its ``pub.pem``). The layout is specified in
``keys/src/v3.rs`` of cybexp-archive; ``README.md`` beside this package is
the guide (the API change, publishing the key, rolling producers over).

Producers need only :func:`load_public_key` and :func:`seal`. The archive's
private side (:func:`load_private_key`, :func:`open_envelope`) is here for
tests and for operators checking a blob by hand.

Needs ``cryptography`` >= 48 (its wheels carry their own OpenSSL with
ML-KEM and HPKE).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

__all__ = [
    "AEAD_AES_256_GCM",
    "ArchivePrivateKey",
    "ArchivePublicKey",
    "EnvelopeError",
    "ENC_LEN",
    "HEADER_LEN",
    "KDF_HKDF_SHA256",
    "KEM_XWING",
    "MAGIC",
    "VERSION",
    "header",
    "load_private_key",
    "load_public_key",
    "open_envelope",
    "seal",
]

MAGIC = b"CXPE"
VERSION = 3
KEM_XWING = 0x647A
KDF_HKDF_SHA256 = 0x0001
AEAD_AES_256_GCM = 0x0002
HEADER_LEN = 43
ENC_LEN = 1120
TAG_LEN = 16

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_SUITE_BYTES = KEM_XWING.to_bytes(2, "big") + KDF_HKDF_SHA256.to_bytes(2, "big") + AEAD_AES_256_GCM.to_bytes(2, "big")

# The X-Wing draft's encodings ("Use in X.509", OID 1.3.6.1.4.1.62253.25722,
# no parameters): SubjectPublicKeyInfo = this prefix || the 1,216-byte key;
# PKCS#8 = this prefix || the 32-byte seed.
_SPKI_PREFIX = bytes.fromhex("308204d4300d060b2b0601040183e62d81c87a038204c100")
_PKCS8_PREFIX = bytes.fromhex("3034020100300d060b2b0601040183e62d81c87a0420")
_MLKEM_PUBLIC_LEN = 1184


class EnvelopeError(ValueError):
    """A blob that does not open; ``error_class`` is the archiver's class
    (``format``, ``key``, ``auth`` or ``utf8`` is the caller's business)."""

    def __init__(self, error_class: str, detail: str):
        super().__init__(f"{error_class}: {detail}")
        self.error_class = error_class


def _pem_der(pem: bytes | str, label: str) -> bytes:
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start = text.find(begin)
    stop = text.find(end, start + len(begin))
    if start < 0 or stop < 0:
        raise ValueError(f"not a PEM {label}")
    return base64.b64decode("".join(text[start + len(begin) : stop].split()), validate=True)


@dataclass(frozen=True)
class ArchivePublicKey:
    """The archive's X-Wing public key, as ``cybexp-archive keygen --kind x-wing`` writes it."""

    key_id: bytes
    raw: bytes = field(repr=False)
    _key: hpke.MLKEM768X25519PublicKey = field(repr=False, compare=False)

    @property
    def fingerprint(self) -> str:
        """The key id in hex, as ``keygen`` prints it."""
        return self.key_id.hex()


def load_public_key(pem: bytes | str) -> ArchivePublicKey:
    """The archive's X-Wing public key from its ``pub.pem`` (SPKI, the X-Wing draft's encoding)."""
    der = _pem_der(pem, "PUBLIC KEY")
    if len(der) != len(_SPKI_PREFIX) + 1216 or not der.startswith(_SPKI_PREFIX):
        raise ValueError("not an X-Wing public key (SubjectPublicKeyInfo with id-XWing and 1,216 key bytes)")
    raw = der[len(_SPKI_PREFIX) :]
    key = hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM_PUBLIC_LEN]),
        x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM_PUBLIC_LEN:]),
    )
    return ArchivePublicKey(key_id=hashlib.sha256(der).digest(), raw=raw, _key=key)


def header(key_id: bytes) -> bytes:
    """The 43-byte v3 header for an archive key id."""
    if len(key_id) != 32:
        raise ValueError("a key id is 32 bytes")
    return MAGIC + bytes([VERSION]) + _SUITE_BYTES + key_id


def seal(key: ArchivePublicKey, plaintext: bytes) -> bytes:
    """The v3 envelope of ``plaintext`` for the archive: what the API stores in GridFS."""
    info = header(key.key_id)
    # Suite.encrypt returns enc || ciphertext || tag.
    return info + _SUITE.encrypt(plaintext, key._key, info=info)


@dataclass(frozen=True)
class ArchivePrivateKey:
    """The archive's X-Wing private key (tests and operators only: producers never hold it)."""

    key_id: bytes
    _key: hpke.MLKEM768X25519PrivateKey = field(repr=False, compare=False)


def load_private_key(pem: bytes | str) -> ArchivePrivateKey:
    """The archive's X-Wing private key from its ``priv.pem`` (PKCS#8 of the 32-byte seed).

    The seed is expanded as the X-Wing draft says: SHAKE256(seed, 96 bytes)
    gives ML-KEM-768's (d, z) seed, which ``cryptography`` takes, and the
    X25519 private key.
    """
    der = _pem_der(pem, "PRIVATE KEY")
    if len(der) != len(_PKCS8_PREFIX) + 32 or not der.startswith(_PKCS8_PREFIX):
        raise ValueError("not an X-Wing private key (PKCS#8 with id-XWing and a 32-byte seed)")
    expanded = hashlib.shake_256(der[len(_PKCS8_PREFIX) :]).digest(96)
    mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
    x25519_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
    from cryptography.hazmat.primitives import serialization

    raw = mlkem_key.public_key().public_bytes_raw() + x25519_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key_id = hashlib.sha256(_SPKI_PREFIX + raw).digest()
    return ArchivePrivateKey(key_id=key_id, _key=hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key))


def open_envelope(key: ArchivePrivateKey, blob: bytes) -> bytes:
    """The plaintext of a v3 blob; :class:`EnvelopeError` with the archiver's class otherwise."""
    if len(blob) < HEADER_LEN or blob[:4] != MAGIC:
        raise EnvelopeError("format", "not a v3 envelope (short, or no magic)")
    if blob[4] != VERSION:
        raise EnvelopeError("format", f"unsupported envelope version {blob[4]}")
    if blob[5:11] != _SUITE_BYTES:
        raise EnvelopeError("format", "unsupported v3 suite")
    if blob[11:HEADER_LEN] != key.key_id:
        raise EnvelopeError("key", "the blob is for another key")
    if len(blob) < HEADER_LEN + ENC_LEN + TAG_LEN:
        raise EnvelopeError("format", "v3 blob truncated")
    try:
        return _SUITE.decrypt(blob[HEADER_LEN:], key._key, info=blob[:HEADER_LEN])
    except Exception as e:  # cryptography raises InvalidTag, or ValueError for a bad X25519 point
        raise EnvelopeError("auth", "v3 envelope does not open") from e
