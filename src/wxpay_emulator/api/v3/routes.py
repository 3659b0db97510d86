"""APIv3 direct-merchant routes. Thin: authenticate, parse, one domain call, render."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from wxpay_emulator.api.calls import call
from wxpay_emulator.api.v3 import render
from wxpay_emulator.api.v3.auth import authenticate, signed_response
from wxpay_emulator.api.v3.errors import NOT_IMPLEMENTED_CODE, NOT_IMPLEMENTED_STATUS, V3Error
from wxpay_emulator.api.v3.parsing import out_trade_no_in_path, param_error, parse_body, required_query
from wxpay_emulator.clock import parse_rfc3339, rfc3339
from wxpay_emulator.crypto import aead, keys
from wxpay_emulator.domain.models import Merchant, OrderDraft
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.wire import v3

router = APIRouter()


def _domain(request: Request) -> Domain:
    domain: Domain = request.app.state.domain
    return domain


async def _auth(request: Request) -> tuple[Merchant, bytes]:
    return await authenticate(request, _domain(request), request.app.state.settings.max_clock_skew_seconds)


def _same_merchant(mchid: str, merchant: Merchant, location: str = "请求参数") -> str:
    """WeChat refuses a body or query ``mchid`` other than the one that signed the request."""
    if mchid != merchant.mchid:
        raise V3Error(400, "INVALID_REQUEST", f"{location}中的mchid与Authorization中的mchid不一致")
    return mchid


async def _query_auth(request: Request) -> str:
    """Authenticate a query call and return its ``?mchid=``."""
    merchant, _ = await _auth(request)
    return _same_merchant(required_query(dict(request.query_params), "mchid"), merchant, "查询参数")


def _draft(kind: str, req: v3.DirectPrepayRequest, merchant: Merchant) -> OrderDraft:
    _same_merchant(req.mchid, merchant)
    if kind == "jsapi" and req.payer is None:
        raise param_error("payer.openid", None, "JSAPI下单此字段为必填项")
    if kind == "h5" and (req.scene_info is None or req.scene_info.h5_info is None):
        raise param_error("scene_info.h5_info", None, "H5下单此字段为必填项")
    expire = None
    if req.time_expire is not None:
        try:
            expire = parse_rfc3339(req.time_expire)
        except ValueError as exc:
            raise param_error("time_expire", req.time_expire, "不符合rfc3339格式") from exc
    extras = req.model_dump(
        include={"detail", "scene_info", "settle_info", "support_fapiao"}, exclude_none=True
    )
    return OrderDraft(
        mchid=req.mchid,
        appid=req.appid,
        out_trade_no=req.out_trade_no,
        trade_type=v3.TRADE_TYPES[kind],
        description=req.description,
        total=req.amount.total,
        currency=req.amount.currency,
        notify_url=req.notify_url,
        family="v3",
        time_expire=expire,
        attach=req.attach,
        goods_tag=req.goods_tag,
        payer_openid=req.payer.openid if req.payer else None,
        extras=extras,
    )


@router.post("/v3/pay/transactions/{kind}")
async def prepay(kind: str, request: Request) -> Response:
    if kind not in v3.TRADE_TYPES:
        return not_implemented(request)
    merchant, body = await _auth(request)
    draft = _draft(kind, parse_body(v3.DirectPrepayRequest, body), merchant)
    order = await call(request, _domain(request).orders.place, draft)
    if kind == "native":
        payload = {"code_url": f"weixin://wxpay/bizpayurl?pr={order.prepay_id}"}
    elif kind == "h5":
        base = str(request.base_url).rstrip("/")
        payload = {"h5_url": f"{base}/emulator/v1/checkout?prepay_id={order.prepay_id}"}
    else:
        payload = {"prepay_id": order.prepay_id}
    return signed_response(request, 200, payload)


@router.get("/v3/pay/transactions/id/{transaction_id}")
async def query_by_transaction_id(transaction_id: str, request: Request) -> Response:
    mchid = await _query_auth(request)
    if not (transaction_id.isdigit() and len(transaction_id) <= 32):
        raise V3Error(500, "INVALID_TRANSACTIONID", "订单号非法")
    order = await call(request, _domain(request).orders.find, mchid, transaction_id=transaction_id)
    return signed_response(request, 200, render.transaction(order))


@router.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
async def query_by_out_trade_no(out_trade_no: str, request: Request) -> Response:
    mchid = await _query_auth(request)
    out_trade_no_in_path(out_trade_no)
    order = await call(request, _domain(request).orders.find, mchid, out_trade_no=out_trade_no)
    return signed_response(request, 200, render.transaction(order))


@router.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
async def close(out_trade_no: str, request: Request) -> Response:
    merchant, body = await _auth(request)
    req = parse_body(v3.CloseRequest, body)
    _same_merchant(req.mchid, merchant)
    out_trade_no_in_path(out_trade_no)
    await call(request, _domain(request).orders.close, req.mchid, out_trade_no)
    return signed_response(request, 204, None)


@router.get("/v3/certificates")
async def certificates(request: Request) -> Response:
    """The platform certificate, encrypted with the merchant's APIv3 key; always signed with that
    certificate, so that an SDK bootstrapping its certificate store can verify the answer."""
    merchant, _ = await _auth(request)
    ids = _domain(request).ids
    nonce = ids.gcm_nonce()
    ciphertext = aead.encrypt(
        merchant.apiv3_key.encode(), nonce.encode(), b"certificate", merchant.platform_cert_pem
    )
    start, end = keys.certificate_validity(merchant.platform_cert_pem)
    entry = {
        "serial_no": merchant.platform_serial,
        "effective_time": rfc3339(start),
        "expire_time": rfc3339(end),
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": "certificate",
            "ciphertext": ciphertext,
        },
    }
    identity = (merchant.platform_serial, merchant.platform_key_pem)
    return signed_response(request, 200, {"data": [entry]}, identity=identity)


def not_implemented(request: Request) -> Response:
    body = {
        "code": NOT_IMPLEMENTED_CODE,
        "message": f"wxpay-emulator does not implement {request.method} {request.url.path}; "
        "see the coverage table in its README",
    }
    return Response(
        json.dumps(body, ensure_ascii=False).encode(), NOT_IMPLEMENTED_STATUS, media_type="application/json"
    )


@router.api_route("/v3/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def unknown(rest: str, request: Request) -> Response:
    return not_implemented(request)
