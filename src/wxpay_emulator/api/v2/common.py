"""What every APIv2 route shares: reading and authenticating the XML request, and signing the answer.

The order of checks follows what a caller can be told: the method, the body (empty, not UTF-8, not
XML), then who is calling (appid, mch_id), then the signature. Until the signature is checked the answer
is an unsigned ``return_code=FAIL``; from then on every answer is signed with the key and ``sign_type``
the request used.

Simulation ("sandbox"): the same routes under ``/sandboxnew/`` and ``/xdc/apiv2sandbox/`` sign with the
merchant's sandbox key, which ``getsignkey`` hands out (derived from the API key, so it is stable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.api.calls import domain_of
from wxpay_emulator.api.faults import Faults, declared_operation
from wxpay_emulator.api.v2 import wire
from wxpay_emulator.api.v2.errors import DESCRIPTIONS, V2Error, protocol_error
from wxpay_emulator.crypto import CryptoError, v2_sign
from wxpay_emulator.domain.models import Merchant

SANDBOX_PREFIXES = ("/sandboxnew/", "/xdc/apiv2sandbox/")
CONTENT_TYPE = "text/xml; charset=utf-8"


def is_sandbox(path: str) -> bool:
    return path.startswith(SANDBOX_PREFIXES)


@dataclass(frozen=True)
class V2Call:
    """An authenticated APIv2 request."""

    merchant: Merchant  # mch_id: the merchant, or the service provider when sub_mch_id is given
    fields: dict[str, str]
    sign_type: str
    key: str  # what signed the request, and signs the answer
    sandbox: bool

    def get(self, name: str) -> str | None:
        """A field's value; an empty element counts as absent, as in the sign."""
        return self.fields.get(name) or None


async def read_fields(request: Request) -> dict[str, str]:
    """The request's fields. Any Content-Type (or none) is accepted, as WeChat accepts it."""
    if request.method != "POST":
        raise protocol_error("REQUIRE_POST_METHOD", "请使用post方法")
    try:
        return wire.parse(await request.body())
    except wire.WireError as exc:
        raise protocol_error(exc.code, exc.message) from exc


def caller(request: Request, fields: dict[str, str]) -> Merchant:
    """The merchant named by ``mch_id``, once the request carries what its sign needs."""
    mch_id = fields.get("mch_id")
    if not mch_id:
        raise protocol_error("MCHID_NOT_EXIST", "参数中缺少MCHID")
    merchant = domain_of(request).merchants.find(mch_id)
    if merchant is None:
        raise protocol_error("MCHID_NOT_EXIST", "MCHID不存在")
    for name in ("nonce_str", "sign"):
        if not fields.get(name):
            raise protocol_error("LACK_PARAMS", f"缺少参数{name}")
    return merchant


def sign_type_of(fields: dict[str, str]) -> str:
    sign_type = fields.get("sign_type") or v2_sign.MD5
    if sign_type not in (v2_sign.MD5, v2_sign.HMAC_SHA256):
        raise protocol_error("INVALID_REQUEST", "sign_type参数错误，仅支持MD5和HMAC-SHA256")
    return sign_type


def check_sign(fields: dict[str, str], key: str, sign_type: str) -> None:
    try:
        v2_sign.verify(fields, key, fields["sign"], sign_type)
    except CryptoError as exc:
        raise protocol_error("SIGNERROR", "签名错误") from exc


async def v2_call(request: Request, *, appid_required: bool = True) -> V2Call:
    """Read, identify and verify the request; then answer an armed fault of the route's operation."""
    fields = await read_fields(request)
    sign_type = sign_type_of(fields)
    if appid_required and not fields.get("appid"):
        raise protocol_error("APPID_NOT_EXIST", "参数中缺少APPID")
    merchant = caller(request, fields)
    sandbox = is_sandbox(request.url.path)
    key = v2_sign.sandbox_key(merchant.api_key) if sandbox else merchant.api_key
    check_sign(fields, key, sign_type)
    call = V2Call(merchant, fields, sign_type, key, sandbox)
    request.state.v2_call = call
    if merchant.sp_mchid is not None:
        # A sub-merchant's APIs are called by its service provider, with sub_mch_id.
        raise V2Error("NOAUTH", "商户无此接口权限: 特约商户请由服务商以sub_mch_id调用")
    faults: Faults = request.app.state.faults
    fault = faults.pop(declared_operation(request))
    if fault is not None:
        raise V2Error(fault.code, fault.message)
    return call


def _xml(fields: Mapping[str, wire.Value | None]) -> Response:
    return Response(wire.render(fields), status_code=200, media_type=CONTENT_TYPE)


def signed(
    call: V2Call, nonce: str, fields: Mapping[str, wire.Value | None], return_msg: str = "OK"
) -> Response:
    """``return_code=SUCCESS`` and the caller's identity, then ``fields``, signed like the request."""
    head: dict[str, wire.Value | None] = {
        "return_code": "SUCCESS",
        "return_msg": return_msg,
        "appid": call.get("appid"),
        "mch_id": call.merchant.mchid,
        "sub_appid": call.get("sub_appid"),
        "sub_mch_id": call.get("sub_mch_id"),
        "device_info": call.get("device_info"),
        "nonce_str": nonce,
    }
    body = {**head, **fields}
    sign = v2_sign.sign(wire.text_fields(body), call.key, call.sign_type)
    return _xml({**head, "sign": sign, **fields})


def error_response(request: Request, err: V2Error) -> Response:
    """A protocol failure unsigned; a business failure signed, once the caller is verified.

    ``err_code_des`` is the code's description in seed 001's table, word for word; the particular
    reason (which field, how much is left to refund ...) is in ``return_msg``, which WeChat documents as
    "返回信息，如非空，为错误原因". The refund pages' ``ERROR`` carries its reason in ``err_code_des``."""
    call: V2Call | None = getattr(request.state, "v2_call", None)
    des = err.message if err.code == "ERROR" else DESCRIPTIONS.get(err.code, err.message)
    if err.protocol or call is None:
        return _xml(
            {"return_code": "FAIL", "return_msg": err.message, "err_code": err.code, "err_code_des": des}
        )
    nonce = domain_of(request).ids.nonce(32)
    fields: dict[str, wire.Value | None] = {"result_code": "FAIL", "err_code": err.code, "err_code_des": des}
    return signed(call, nonce, fields, return_msg=err.message)


def success(request: Request, call: V2Call, fields: Mapping[str, wire.Value | None]) -> Response:
    return signed(call, domain_of(request).ids.nonce(32), {"result_code": "SUCCESS", **fields})
