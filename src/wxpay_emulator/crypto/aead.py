"""AEAD_AES_256_GCM as APIv3 uses it for notifications and ``/v3/certificates``.

key = the merchant's APIv3 key as 32 ASCII bytes, iv = the 12-character nonce, aad = associated_data;
ciphertext = base64(encrypted bytes with the 16-byte tag appended).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wxpay_emulator.crypto.errors import CryptoError


def _cipher(key: bytes) -> AESGCM:
    if len(key) != 32:
        raise CryptoError("the APIv3 key must be 32 bytes")
    return AESGCM(key)


def encrypt(key: bytes, nonce: bytes, associated_data: bytes, plaintext: bytes) -> str:
    return base64.b64encode(_cipher(key).encrypt(nonce, plaintext, associated_data)).decode()


def decrypt(key: bytes, nonce: bytes, associated_data: bytes, ciphertext_b64: str) -> bytes:
    try:
        data = base64.b64decode(ciphertext_b64, validate=True)
        return _cipher(key).decrypt(nonce, data, associated_data)
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise CryptoError("ciphertext does not decrypt") from exc
