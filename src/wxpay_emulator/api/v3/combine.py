"""APIv3 combine routes (合单), seed 004: ``/v3/combine-transactions/...``.

The initiator (``combine_mchid``) signs; each sub-order is an order of its own merchant, all paid at
once through the combine order's prepay_id.
"""

from __future__ import annotations

from fastapi import Request, Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import operation
from wxpay_emulator.api.v3 import render
from wxpay_emulator.api.v3 import wire as v3
from wxpay_emulator.api.v3 import wire_combine as v3_combine
from wxpay_emulator.api.v3.auth import signed_response
from wxpay_emulator.api.v3.common import authenticated, prepay_answer, same_merchant, time_expire
from wxpay_emulator.api.v3.parsing import out_trade_no_in_path, param_error, parse_body
from wxpay_emulator.api.v3.routes import answer_not_implemented
from wxpay_emulator.domain.models import CombineDraft, SubOrderDraft
from wxpay_emulator.wire import COMBINE_OUT_TRADE_NO_PATTERN

router = new_router()


def _draft(kind: str, req: v3_combine.CombinePrepayRequest) -> CombineDraft:
    openid = req.combine_payer_info.openid if req.combine_payer_info else None
    if kind == "jsapi" and not openid:
        raise param_error("combine_payer_info.openid", None, "JSAPI合单下单此字段为必填项")
    if kind == "h5" and req.scene_info is None:
        raise param_error("scene_info", None, "H5合单下单此字段为必填项")
    subs = tuple(
        SubOrderDraft(
            mchid=s.mchid,
            out_trade_no=s.out_trade_no,
            total=s.amount.total_amount,
            currency=s.amount.currency,
            attach=s.attach,
            description=s.description,
            detail=s.detail,
            goods_tag=s.goods_tag,
            profit_sharing=s.settle_info.profit_sharing if s.settle_info else None,
        )
        for s in req.sub_orders
    )
    return CombineDraft(
        combine_mchid=req.combine_mchid,
        combine_appid=req.combine_appid,
        combine_out_trade_no=req.combine_out_trade_no,
        trade_type=v3.TRADE_TYPES[kind],
        notify_url=req.notify_url,
        sub_orders=subs,
        family="v3",
        payer_openid=openid,
        time_expire=time_expire(req.time_expire),
        scene_info=req.scene_info.model_dump(exclude_none=True) if req.scene_info else {},
    )


@router.post("/v3/combine-transactions/{kind}", **operation("combine.prepay"))
async def prepay(kind: str, request: Request) -> Response:
    if kind not in v3.TRADE_TYPES:
        return await answer_not_implemented(request)
    merchant, body = await authenticated(request)
    req = parse_body(v3_combine.CombinePrepayRequest, body)
    same_merchant(req.combine_mchid, merchant, "combine_mchid")
    combine = await call(request, domain_of(request).combines.place, _draft(kind, req))
    return signed_response(request, 200, prepay_answer(kind, combine.prepay_id, request))


@router.get("/v3/combine-transactions/out-trade-no/{combine_out_trade_no}", **operation("combine.query"))
async def query(combine_out_trade_no: str, request: Request) -> Response:
    merchant, _ = await authenticated(request)
    out_trade_no_in_path(combine_out_trade_no, COMBINE_OUT_TRADE_NO_PATTERN, "combine_out_trade_no")
    combine = await call(request, domain_of(request).combines.find, merchant.mchid, combine_out_trade_no)
    return signed_response(request, 200, render.combine_transaction(combine))


@router.post(
    "/v3/combine-transactions/out-trade-no/{combine_out_trade_no}/close", **operation("combine.close")
)
async def close(combine_out_trade_no: str, request: Request) -> Response:
    merchant, body = await authenticated(request)
    out_trade_no_in_path(combine_out_trade_no, COMBINE_OUT_TRADE_NO_PATTERN, "combine_out_trade_no")
    req = parse_body(v3_combine.CombineCloseRequest, body)
    subs = [(s.mchid, s.out_trade_no) for s in req.sub_orders]
    await call(
        request,
        domain_of(request).combines.close,
        merchant.mchid,
        combine_out_trade_no,
        req.combine_appid,
        subs,
    )
    return signed_response(request, 204, None)
