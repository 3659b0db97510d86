"""APIv3 direct-merchant routes. Thin: authenticate, parse, one domain call, render."""

from __future__ import annotations

from fastapi import Request, Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import operation
from wxpay_emulator.api.v3 import render
from wxpay_emulator.api.v3 import wire as v3
from wxpay_emulator.api.v3.auth import authenticate, signed_response
from wxpay_emulator.api.v3.common import (
    authenticated,
    extras_of,
    prepay_answer,
    require_h5_info,
    same_merchant,
    time_expire,
)
from wxpay_emulator.api.v3.errors import NOT_IMPLEMENTED_CODE, NOT_IMPLEMENTED_STATUS, V3Error
from wxpay_emulator.api.v3.parsing import (
    is_transaction_id,
    out_trade_no_in_path,
    param_error,
    parse_body,
    required_query,
)
from wxpay_emulator.clock import rfc3339
from wxpay_emulator.crypto import aead, keys
from wxpay_emulator.domain.models import Merchant, OrderDraft

router = new_router()


async def _query_auth(request: Request) -> str:
    """Authenticate a query call and return its ``?mchid=``."""
    merchant, _ = await authenticated(request)
    return same_merchant(required_query(dict(request.query_params), "mchid"), merchant, location="查询参数")


def _draft(kind: str, req: v3.DirectPrepayRequest, merchant: Merchant) -> OrderDraft:
    same_merchant(req.mchid, merchant)
    if kind == "jsapi" and req.payer is None:
        raise param_error("payer.openid", None, "JSAPI下单此字段为必填项")
    require_h5_info(kind, req.scene_info)
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
        time_expire=time_expire(req.time_expire),
        attach=req.attach,
        goods_tag=req.goods_tag,
        payer_openid=req.payer.openid if req.payer else None,
        extras=extras_of(req),
    )


@router.post("/v3/pay/transactions/{kind}", **operation("pay.prepay"))
async def prepay(kind: str, request: Request) -> Response:
    if kind not in v3.TRADE_TYPES:
        return await answer_not_implemented(request)
    merchant, body = await authenticated(request)
    draft = _draft(kind, parse_body(v3.DirectPrepayRequest, body), merchant)
    order = await call(request, domain_of(request).orders.place, draft)
    return signed_response(request, 200, prepay_answer(kind, order.prepay_id, request))


@router.get("/v3/pay/transactions/id/{transaction_id}", **operation("pay.query"))
async def query_by_transaction_id(transaction_id: str, request: Request) -> Response:
    mchid = await _query_auth(request)
    if not is_transaction_id(transaction_id):
        raise V3Error(500, "INVALID_TRANSACTIONID", "订单号非法")
    order = await call(request, domain_of(request).orders.find, mchid, transaction_id=transaction_id)
    return signed_response(request, 200, render.transaction(order))


@router.get("/v3/pay/transactions/out-trade-no/{out_trade_no}", **operation("pay.query"))
async def query_by_out_trade_no(out_trade_no: str, request: Request) -> Response:
    mchid = await _query_auth(request)
    out_trade_no_in_path(out_trade_no)
    order = await call(request, domain_of(request).orders.find, mchid, out_trade_no=out_trade_no)
    return signed_response(request, 200, render.transaction(order))


@router.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", **operation("pay.close"))
async def close(out_trade_no: str, request: Request) -> Response:
    merchant, body = await authenticated(request)
    req = parse_body(v3.CloseRequest, body)
    same_merchant(req.mchid, merchant)
    out_trade_no_in_path(out_trade_no)
    await call(request, domain_of(request).orders.close, req.mchid, out_trade_no)
    return signed_response(request, 204, None)


@router.get("/v3/certificates", **operation("certificates"))
async def certificates(request: Request) -> Response:
    """The platform certificate, encrypted with the merchant's APIv3 key; always signed with that
    certificate, so that an SDK bootstrapping its certificate store can verify the answer."""
    merchant, _ = await authenticated(request)
    ids = domain_of(request).ids
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
    """EMULATOR_NOT_IMPLEMENTED as every APIv3 error is answered (``signed_response``: compact JSON,
    ``charset=utf-8``), signed when the caller has authenticated (:func:`answer_not_implemented`)."""
    body = {
        "code": NOT_IMPLEMENTED_CODE,
        "message": f"wxpay-emulator does not implement {request.method} {request.url.path}; "
        "see the coverage table in its README",
    }
    return signed_response(request, NOT_IMPLEMENTED_STATUS, body)


async def answer_not_implemented(request: Request) -> Response:
    """:func:`not_implemented` for a call a route can read: verified as any route would verify it, so
    that the answer is signed for its merchant; a call that does not authenticate (no or a bad
    signature, an unknown mchid) gets the same answer unsigned (the journal keeps the signature
    check's verdict either way)."""
    if request.headers.get("authorization"):
        settings = request.app.state.settings
        try:
            await authenticate(request, domain_of(request), settings.max_clock_skew_seconds)
        except V3Error:
            request.state.merchant = None
    return not_implemented(request)


# The catch-all for unknown /v3 paths: its own router, which the family's aggregate includes last
# (api/v3/family.py), so no v3 route can be shadowed by it whatever the order of the modules. Not an
# API: left out of the reference (its five methods would also share one OpenAPI operation id).
fallback = new_router()


@fallback.api_route(
    "/v3/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
async def unknown(rest: str, request: Request) -> Response:
    return await answer_not_implemented(request)
