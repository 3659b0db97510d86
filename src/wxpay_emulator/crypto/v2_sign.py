"""APIv2 ``sign``: MD5 or HMAC-SHA256 over ``k1=v1&k2=v2...&key=APIKEY`` (keys sorted; empty values and
``sign`` itself left out), upper-case hex. Also the Mini Program ``paySign`` of v2 and cloud payments.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from wxpay_emulator.crypto.errors import CryptoError

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"


def string_to_sign(params: Mapping[str, str], api_key: str) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "sign" and v != "")
    return "&".join(f"{k}={v}" for k, v in pairs) + f"&key={api_key}"


def sign(params: Mapping[str, str], api_key: str, sign_type: str = MD5) -> str:
    text = string_to_sign(params, api_key).encode()
    if sign_type == MD5:
        return hashlib.md5(text).hexdigest().upper()
    if sign_type == HMAC_SHA256:
        return hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest().upper()
    raise CryptoError(f"unknown sign_type {sign_type!r}")


def verify(params: Mapping[str, str], api_key: str, signature: str, sign_type: str = MD5) -> None:
    if not hmac.compare_digest(sign(params, api_key, sign_type).encode(), signature.upper().encode()):
        raise CryptoError("sign does not match")


def sandbox_key(api_key: str) -> str:
    """The simulation system's signing key of a merchant (what ``getsignkey`` answers): 32 hex
    characters derived from its API key, so it is the same after a restart."""
    return hmac.new(api_key.encode(), b"sandbox_signkey", hashlib.sha256).hexdigest()[:32]
