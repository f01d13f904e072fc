"""NKey authentication: a user's Ed25519 seed signs the nonce the server sends in INFO.

An nkey is base32 (no padding) of a prefix byte, the 32-byte key and a CRC-16 (XMODEM,
little-endian). A seed (``SU...``) carries two prefix bytes: "seed" and the key's type. The
server knows the public key (``U...``); the client proves it holds the seed by signing the
nonce. Ed25519 comes from ``cryptography`` (the ``otp[nkeys]`` extra).
"""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING

from ._errors import DistDeclarationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["generate_user", "public_key", "sign"]

_SEED = 18 << 3  # 'S'
_USER = 20 << 3  # 'U'


def _crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _encode(raw: bytes) -> str:
    checked = raw + _crc16(raw).to_bytes(2, "little")
    return base64.b32encode(checked).decode().rstrip("=")


def _decode(text: str) -> bytes:
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError:
        data = b""
    if len(data) < 4 or _crc16(data[:-2]) != int.from_bytes(data[-2:], "little"):
        msg = "an nkey seed must be the 'SU...' text nsc or nk gave (its checksum is wrong)"
        raise DistDeclarationError(msg)
    return data[:-2]


def _seed_bytes(seed: str) -> bytes:
    raw = _decode(seed.strip())
    if len(raw) != 34 or raw[0] & 0xF8 != _SEED:
        msg = "an nkey seed starts with 'S' and holds 32 bytes (got another kind of nkey)"
        raise DistDeclarationError(msg)
    return raw[2:]


def _private(seed: str) -> Ed25519PrivateKey:
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        msg = "nkey authentication needs the cryptography package: pip install 'otp[nkeys]'"
        raise DistDeclarationError(msg) from None
    return Ed25519PrivateKey.from_private_bytes(_seed_bytes(seed))


def public_key(seed: str) -> str:
    """The public nkey (``U...``) of a user seed."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = _private(seed)
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _encode(bytes([_USER]) + raw)


def sign(seed: str, nonce: str) -> str:
    """The nonce's Ed25519 signature, base64url without padding, as CONNECT wants it."""
    signature = _private(seed).sign(nonce.encode())
    return base64.urlsafe_b64encode(signature).decode().rstrip("=")


def generate_user() -> tuple[str, str]:
    """A new user's ``(seed, public key)``, for tests and tools."""
    raw = secrets.token_bytes(32)
    seed = _encode(bytes([_SEED | (_USER >> 5), (_USER & 31) << 3]) + raw)
    return seed, public_key(seed)
