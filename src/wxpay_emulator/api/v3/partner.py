"""APIv3 partner routes (服务商 / 电商平台): ``/v3/pay/partner/transactions/...`` (seed 002).

The provider (``sp_mchid``) signs; the order belongs to its sub-merchant (``sub_mchid``) and is found
through that pair. Notifications go to the provider, signed and encrypted with the provider's keys.
"""

from __future__ import annotations

from fastapi import Request, Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import operation
from wxpay_emulator.api.v3 import render
from wxpay_emulator.api.v3 import wire as v3
from wxpay_emulator.api.v3 import wire_partner as v3_partner
from wxpay_emulator.api.v3.auth import signed_response
from wxpay_emulator.api.v3.common import (
    authenticated,
    bound_sub_merchant,
    extras_of,
    prepay_answer,
    require_h5_info,
    same_merchant,
    time_expire,
)
from wxpay_emulator.api.v3.errors import V3Error
from wxpay_emulator.api.v3.parsing import (
    is_transaction_id,
    out_trade_no_in_path,
    param_error,
    parse_body,
    required_query,
)
from wxpay_emulator.api.v3.routes import answer_not_implemented
from wxpay_emulator.domain.models import Merchant, OrderDraft
from wxpay_emulator.wire import PARTNER_OUT_TRADE_NO_PATTERN

router = new_router()


def _draft(kind: str, req: v3_partner.PartnerPrepayRequest, merchant: Merchant) -> OrderDraft:
    same_merchant(req.sp_mchid, merchant, "sp_mchid")
    payer = req.payer or v3_partner.PartnerPayer()
    if kind == "jsapi" and not (payer.sp_openid or payer.sub_openid):
        raise param_error("payer.sp_openid", None, "JSAPI下单sp_openid和sub_openid必须填写其一")
    if payer.sub_openid and not req.sub_appid:
        raise param_error("sub_appid", None, "传sub_openid时此字段为必填项")
    require_h5_info(kind, req.scene_info)
    return OrderDraft(
        mchid=req.sub_mchid,
        appid=req.sp_appid,
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
        payer_openid=payer.sp_openid,
        extras=extras_of(req),
        sp_mchid=req.sp_mchid,
        sub_appid=req.sub_appid,
        sub_openid=payer.sub_openid,
    )


@router.post("/v3/pay/partner/transactions/{kind}", **operation("partner.prepay"))
async def prepay(kind: str, request: Request) -> Response:
    if kind not in v3.TRADE_TYPES:
        return await answer_not_implemented(request)
    merchant, body = await authenticated(request)
    draft = _draft(kind, parse_body(v3_partner.PartnerPrepayRequest, body), merchant)
    order = await call(request, domain_of(request).orders.place, draft)
    return signed_response(request, 200, prepay_answer(kind, order.prepay_id, request))


async def _pair(request: Request) -> tuple[str, str]:
    """Authenticate a query and return (sp_mchid, sub_mchid), the pair checked for binding."""
    merchant, _ = await authenticated(request)
    params = dict(request.query_params)
    sp_mchid = same_merchant(required_query(params, "sp_mchid"), merchant, "sp_mchid", "查询参数")
    sub_mchid = required_query(params, "sub_mchid")
    await bound_sub_merchant(request, sp_mchid, sub_mchid, "query")  # seed 002: a query parameter
    return sp_mchid, sub_mchid


@router.get("/v3/pay/partner/transactions/id/{transaction_id}", **operation("partner.query"))
async def query_by_transaction_id(transaction_id: str, request: Request) -> Response:
    sp_mchid, sub_mchid = await _pair(request)
    if not is_transaction_id(transaction_id):
        raise V3Error(500, "INVALID_TRANSACTIONID", "订单号非法")
    order = await call(
        request, domain_of(request).orders.find, sub_mchid, transaction_id=transaction_id, sp_mchid=sp_mchid
    )
    return signed_response(request, 200, render.partner_transaction(order))


@router.get("/v3/pay/partner/transactions/out-trade-no/{out_trade_no}", **operation("partner.query"))
async def query_by_out_trade_no(out_trade_no: str, request: Request) -> Response:
    sp_mchid, sub_mchid = await _pair(request)
    out_trade_no_in_path(out_trade_no, PARTNER_OUT_TRADE_NO_PATTERN)
    order = await call(
        request, domain_of(request).orders.find, sub_mchid, out_trade_no=out_trade_no, sp_mchid=sp_mchid
    )
    return signed_response(request, 200, render.partner_transaction(order))


@router.post("/v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close", **operation("partner.close"))
async def close(out_trade_no: str, request: Request) -> Response:
    merchant, body = await authenticated(request)
    req = parse_body(v3_partner.PartnerCloseRequest, body)
    same_merchant(req.sp_mchid, merchant, "sp_mchid")
    out_trade_no_in_path(out_trade_no, PARTNER_OUT_TRADE_NO_PATTERN)
    domain = domain_of(request)
    await call(request, domain.merchants.sub_merchant, req.sp_mchid, req.sub_mchid)
    await call(request, domain.orders.close, req.sub_mchid, out_trade_no, req.sp_mchid)
    return signed_response(request, 204, None)
