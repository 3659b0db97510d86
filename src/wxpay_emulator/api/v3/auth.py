"""APIv3 request authentication and response signing (DESIGN.md §2).

Requests: ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",signature="..",
timestamp="..",serial_no=".."``, verified over the raw body bytes and the path exactly as sent.
Answers: every one to a known merchant carries ``Wechatpay-*`` headers from its platform key.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from wxpay_emulator import wire
from wxpay_emulator.api.calls import call
from wxpay_emulator.api.v3.errors import V3Error
from wxpay_emulator.api.v3.tamper import tampered_headers
from wxpay_emulator.clock import Clock
from wxpay_emulator.crypto import CryptoError, keys, rsa_sign
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.ids import Ids

_ids = Ids()


def path_with_query(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    return raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


def _sign_error(message: str, expected: bytes | None = None, request: Request | None = None) -> V3Error:
    detail: dict[str, Any] = {"field": "signature", "issue": message, "location": "authorization"}
    if expected is not None and request is not None:
        detail["sign_information"] = {
            "method": request.method,
            "url": path_with_query(request),
            "sign_message_length": len(expected),
            "truncated_sign_message": expected[:2048].decode("utf-8", "replace"),
        }
    return V3Error(401, "SIGN_ERROR", f"签名错误: {message}", detail)


async def authenticate(request: Request, domain: Domain, max_skew: int) -> tuple[Merchant, bytes]:
    """Verify the request's signature and return its merchant and raw body; raise V3Error otherwise."""
    header = request.headers.get("authorization")
    if not header:
        raise _sign_error("缺少Authorization请求头")
    try:
        fields = rsa_sign.parse_authorization(header)
    except CryptoError as exc:
        raise _sign_error(str(exc)) from exc
    merchant = domain.merchants.cached(fields["mchid"]) or await call(
        request, domain.merchants.find, fields["mchid"]
    )
    if merchant is None:
        raise V3Error(
            400,
            "MCH_NOT_EXISTS",
            "商户号不存在",
            {
                "field": "mchid",
                "value": fields["mchid"],
                "issue": "Authorization中的mchid不存在",
                "location": "authorization",
            },
        )
    request.state.merchant = merchant
    if not keys.serials_equal(fields["serial_no"], merchant.serial_no):
        raise _sign_error(f"商户证书序列号 {fields['serial_no']} 与商户的API证书不符")
    try:
        timestamp = int(fields["timestamp"])
    except ValueError as exc:
        raise _sign_error("timestamp不是整数") from exc
    if abs(Clock.real_timestamp() - timestamp) > max_skew:
        raise _sign_error(f"timestamp与当前时间相差超过{max_skew}秒")
    body = await request.body()
    expected = rsa_sign.request_message(
        request.method, path_with_query(request), fields["timestamp"], fields["nonce_str"], body
    )
    try:
        rsa_sign.verify(merchant.merchant_cert_pem, expected, fields["signature"])
    except CryptoError as exc:
        raise _sign_error("签名验证不通过，请检查待签名串", expected, request) from exc
    return merchant, body


def dumps(payload: Any) -> bytes:
    return wire.dumps(payload).encode()


def signed_response(
    request: Request, status: int, payload: Any | None, identity: tuple[str, bytes] | None = None
) -> Response:
    """A JSON (or empty, for 204) answer, signed when the caller's merchant is known.

    ``identity`` (serial, private key) overrides the merchant's mode, for /v3/certificates.
    """
    body = b"" if payload is None else dumps(payload)
    headers: dict[str, str] = {}
    merchant: Merchant | None = getattr(request.state, "merchant", None)
    if identity is None and merchant is not None:
        identity = merchant.signing_identity()
    if identity is not None:
        serial, key = identity
        tamper: str | None = getattr(request.state, "tamper", None)
        if tamper is not None:  # an armed response-tampering fault (tamper.py)
            headers = tampered_headers(tamper, serial, key, body, Clock.real_timestamp(), _ids.nonce())
        else:
            headers = rsa_sign.signature_headers(serial, key, body, str(Clock.real_timestamp()), _ids.nonce())
    headers["Request-ID"] = _ids.notification_id()
    media = None if payload is None else "application/json; charset=utf-8"
    return Response(content=body, status_code=status, headers=headers, media_type=media)
