"""APIv2 refund notification ``req_info``: AES-256-ECB with PKCS#7 padding, base64.

WeChat's refund-result notification page (pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=9_16):
(1) base64-decode the string, (2) MD5 the merchant's API key to 32 lower-case hex characters, (3)
AES-256-ECB decrypt with those 32 characters as the key (PKCS7Padding). ECB is WeChat's choice, not ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from wxpay_emulator.crypto.errors import CryptoError


def _key(api_key: str) -> bytes:
    return hashlib.md5(api_key.encode()).hexdigest().encode()  # 32 ASCII bytes = AES-256


def encrypt(api_key: str, plaintext: bytes) -> str:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(api_key)), modes.ECB()).encryptor()  # WeChat chose ECB
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def decrypt(api_key: str, req_info: str) -> bytes:
    try:
        data = base64.b64decode(req_info, validate=True)
        decryptor = Cipher(algorithms.AES(_key(api_key)), modes.ECB()).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()
    except (ValueError, binascii.Error) as exc:
        raise CryptoError(f"req_info does not decrypt: {exc}") from exc
