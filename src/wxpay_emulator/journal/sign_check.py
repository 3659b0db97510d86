"""What the journal says about a signature: the verdict, why it failed, and the exact string verified.

APIv3 (``WECHATPAY2-SHA256-RSA2048``): ``expected_message`` is ``METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n``
exactly as the emulator built it from the request. APIv2 (MD5 / HMAC-SHA256): ``expected_message`` is the
``a=1&b=2&key=***`` string with the key masked. Diagnoses run only when a check fails, so a good request
pays nothing for them; they try the near misses people make (the platform key instead of the merchant's,
the URL without its query or with the host, the other ``sign_type``, the API key on the sandbox).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence

from wxpay_emulator.crypto import CryptoError, rsa_sign, v2_sign
from wxpay_emulator.journal.context import note_sign_check

# The verified string kept in the journal, at most (a v3 message holds the whole request body).
MAX_MESSAGE_CHARS = 16 * 1024
WECHAT_HOST = "https://api.mch.weixin.qq.com"
RSA2048_BYTES = 256


def message_text(message: bytes) -> str:
    text = message.decode("utf-8", "replace")
    if len(text) > MAX_MESSAGE_CHARS:
        return text[:MAX_MESSAGE_CHARS] + f"…[{len(text) - MAX_MESSAGE_CHARS} more characters]"
    return text


# --- APIv3 -------------------------------------------------------------------------------------------


def v3_ok(message: bytes, fields: Mapping[str, str]) -> None:
    note_sign_check(
        True,
        expected_message=message_text(message),
        scheme=rsa_sign.AUTH_SCHEME,
        serial_no=fields.get("serial_no"),
        timestamp=fields.get("timestamp"),
        nonce_str=fields.get("nonce_str"),
    )


def v3_failed(
    reason: str,
    message: bytes | None = None,
    fields: Mapping[str, str] | None = None,
    hint: str | None = None,
) -> None:
    fields = fields or {}
    note_sign_check(
        False,
        reason,
        None if message is None else message_text(message),
        hint=hint,
        scheme=rsa_sign.AUTH_SCHEME,
        serial_no=fields.get("serial_no"),
        timestamp=fields.get("timestamp"),
        nonce_str=fields.get("nonce_str"),
    )


def _verifies(pem: bytes, message: bytes, signature_b64: str) -> bool:
    try:
        rsa_sign.verify(pem, message, signature_b64)
    except CryptoError:
        return False
    return True


def v3_diagnose(
    signature_b64: str,
    merchant_cert_pem: bytes,
    other_keys: Sequence[tuple[str, bytes]],
    method: str,
    url: str,
    timestamp: str,
    nonce: str,
    body: bytes,
) -> tuple[str, str | None]:
    """(reason, hint) for a signature that did not verify over the expected message."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return "signature is not base64", None
    if len(signature) != RSA2048_BYTES:
        return (
            f"wrong key type: the signature is {len(signature)} bytes; an RSA-2048 signature made with the "
            f"merchant's apiclient_key.pem is {RSA2048_BYTES}",
            None,
        )
    message = rsa_sign.request_message(method, url, timestamp, nonce, body)
    for label, pem in other_keys:
        if _verifies(pem, message, signature_b64):
            return (
                f"wrong key type: signed with {label}, not the merchant's API key (apiclient_key.pem)",
                None,
            )
    candidates: list[tuple[str, bytes]] = []
    path, _, query = url.partition("?")
    if query:
        candidates.append(
            (
                "the URL without its query string",
                rsa_sign.request_message(method, path, timestamp, nonce, body),
            )
        )
    candidates.append(
        (
            "the full URL with the host",
            rsa_sign.request_message(method, WECHAT_HOST + url, timestamp, nonce, body),
        )
    )
    candidates.append(("the message without the final newline", message[:-1]))
    if body:
        candidates.append(("an empty body", rsa_sign.request_message(method, url, timestamp, nonce, b"")))
    for label, candidate in candidates:
        if _verifies(merchant_cert_pem, candidate, signature_b64):
            return (
                "signature does not verify",
                f"the signature verifies over {label}: sign exactly what is sent",
            )
    return "signature does not verify", None


# --- APIv2 -------------------------------------------------------------------------------------------


def v2_message(fields: Mapping[str, str]) -> str:
    return v2_sign.string_to_sign(fields, "***")


def v2_ok(fields: Mapping[str, str], sign_type: str, key_name: str) -> None:
    note_sign_check(True, expected_message=v2_message(fields), scheme=sign_type, key=key_name)


def v2_failed(
    reason: str, fields: Mapping[str, str], sign_type: str | None = None, key_name: str | None = None
) -> None:
    note_sign_check(False, reason, v2_message(fields), scheme=sign_type, key=key_name)


def v2_diagnose(
    fields: Mapping[str, str], key: str, sign_type: str, key_name: str, other_keys: Sequence[tuple[str, str]]
) -> str:
    """Why the v2 ``sign`` does not match: the other sign_type, another of the merchant's keys, or neither."""
    given = fields.get("sign", "").upper()
    other_type = v2_sign.HMAC_SHA256 if sign_type == v2_sign.MD5 else v2_sign.MD5
    stated = fields.get("sign_type") or f"absent, so {v2_sign.MD5}"
    if v2_sign.sign(fields, key, other_type) == given:
        return f"sign_type mismatch: the sign is {other_type} but sign_type is {stated}"
    for name, other in other_keys:
        for kind in (sign_type, other_type):
            if v2_sign.sign(fields, other, kind) == given:
                return f"wrong key: signed with the {name}; this path verifies with the {key_name}"
    return f"sign does not match ({sign_type} with the {key_name})"
