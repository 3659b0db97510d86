"""APIv3 ``WECHATPAY2-SHA256-RSA2048``: the signed strings, RSA-SHA256 PKCS#1 v1.5, base64.

Request:  ``METHOD\\nPATH_WITH_QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n`` signed by the merchant's key.
Response and notification: ``TIMESTAMP\\nNONCE\\nBODY\\n`` signed by the platform key.
Mini Program ``paySign``: ``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` signed by the merchant's key.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from wxpay_emulator.crypto.errors import CryptoError
from wxpay_emulator.crypto.keys import load_private_key, load_public_key

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"


def request_message(method: str, path_with_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    head = f"{method.upper()}\n{path_with_query}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def lines_message(*parts: str) -> bytes:
    """Each part followed by a newline: the form of the Mini Program ``paySign`` string."""
    return "".join(f"{p}\n" for p in parts).encode()


def sign(private_key_pem: bytes, message: bytes) -> str:
    key = load_private_key(private_key_pem)
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(public_key_or_cert_pem: bytes, message: bytes, signature_b64: str) -> None:
    """Raise :class:`CryptoError` unless ``signature_b64`` signs ``message``."""
    key = load_public_key(public_key_or_cert_pem)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("signature is not base64") from exc
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise CryptoError("signature does not verify") from exc


_PARAM = re.compile(r'\s*([A-Za-z_]+)\s*=\s*"([^"]*)"\s*')


def parse_authorization(header: str) -> dict[str, str]:
    """Split ``WECHATPAY2-SHA256-RSA2048 k="v",...`` into a dict; SDKs order the fields differently."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme != AUTH_SCHEME:
        raise CryptoError(f"authorization scheme must be {AUTH_SCHEME}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        match = _PARAM.fullmatch(part)
        if match is None:
            raise CryptoError(f"malformed authorization parameter: {part.strip()[:40]!r}")
        fields[match.group(1)] = match.group(2)
    missing = [k for k in ("mchid", "nonce_str", "signature", "timestamp", "serial_no") if not fields.get(k)]
    if missing:
        raise CryptoError(f"authorization lacks {', '.join(missing)}")
    return fields


def signature_headers(
    serial: str, private_key_pem: bytes, body: bytes, timestamp: str, nonce: str
) -> dict[str, str]:
    """The ``Wechatpay-*`` headers WeChat puts on every APIv3 answer and notification."""
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature": sign(private_key_pem, response_message(timestamp, nonce, body)),
        "Wechatpay-Signature-Type": AUTH_SCHEME,
    }
