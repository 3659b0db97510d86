"""Response tampering: a fault that breaks one thing in the ``Wechatpay-*`` headers of an APIv3 answer,
so a merchant's test can assert that its SDK setup refuses what WeChat would never send.

- ``signature``: ``Wechatpay-Signature`` by a key that is not the platform's (valid base64, wrong key);
- ``serial``: ``Wechatpay-Serial`` names a certificate / public key the merchant does not hold (the
  signature itself is genuine);
- ``timestamp``: ``Wechatpay-Timestamp`` 6 minutes old, genuinely signed over that timestamp.

Armed with ``POST /emulator/v1/faults {"operation": "pay.query", "tamper": "signature", "count": 1}``.
"""

from __future__ import annotations

import secrets
import threading

from wxpay_emulator.crypto import keys, rsa_sign

TAMPER_KINDS = frozenset({"signature", "serial", "timestamp"})
STALE_SECONDS = 360

_lock = threading.Lock()
_stranger: bytes | None = None


def _stranger_key() -> bytes:
    global _stranger
    with _lock:
        if _stranger is None:
            _stranger = keys.generate_private_key_pem()
        return _stranger


def _unknown_serial(serial: str) -> str:
    while True:
        if serial.startswith("PUB_KEY_ID_"):
            other = "PUB_KEY_ID_01" + "".join(str(secrets.randbelow(10)) for _ in range(22))
        else:
            other = secrets.token_hex(20).upper()
        if other.upper() != serial.upper():
            return other


def tampered_headers(
    kind: str, serial: str, key: bytes, body: bytes, timestamp: int, nonce: str
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers of ``body`` with the one thing ``kind`` names broken."""
    if kind == "signature":
        return rsa_sign.signature_headers(serial, _stranger_key(), body, str(timestamp), nonce)
    if kind == "serial":
        headers = rsa_sign.signature_headers(serial, key, body, str(timestamp), nonce)
        headers["Wechatpay-Serial"] = _unknown_serial(serial)
        return headers
    if kind == "timestamp":
        return rsa_sign.signature_headers(serial, key, body, str(timestamp - STALE_SECONDS), nonce)
    raise ValueError(f"unknown tamper {kind!r}; one of {sorted(TAMPER_KINDS)}")
