"""APIv3 refunds: 申请退款 ``POST /v3/refund/domestic/refunds`` and 查询单笔退款
``GET /v3/refund/domestic/refunds/{out_refund_no}``. Thin: authenticate, parse, one domain call, render.

Direct merchants and providers (服务商) share the paths: a provider signs and names its sub-merchant
with ``sub_mchid`` (in the body, or ``?sub_mchid=`` on the query). A combine sub-order is refunded by
its own merchant through its own ``out_trade_no``.
"""

from __future__ import annotations

import re

from fastapi import Request, Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import operation
from wxpay_emulator.api.v3 import wire_refund as v3_refund
from wxpay_emulator.api.v3.auth import signed_response
from wxpay_emulator.api.v3.common import authenticated, bound_sub_merchant
from wxpay_emulator.api.v3.parsing import param_error, parse_body
from wxpay_emulator.api.v3.render import refund_json
from wxpay_emulator.domain.models import Merchant, RefundDraft
from wxpay_emulator.wire import OUT_REFUND_NO_PATTERN

router = new_router()


async def _parties(
    request: Request, merchant: Merchant, sub_mchid: str | None, location: str
) -> tuple[str, str | None]:
    """(the order's mchid, its provider's or None): a provider names its sub-merchant (in the body of
    a create, the query of a query), which must be bound to it (MCH_NOT_EXISTS / NO_AUTH otherwise)."""
    if sub_mchid is None:
        return merchant.mchid, None
    await bound_sub_merchant(request, merchant.mchid, sub_mchid, location)
    return sub_mchid, merchant.mchid


@router.post("/v3/refund/domestic/refunds", **operation("refund.create"))
async def create(request: Request) -> Response:
    merchant, body = await authenticated(request)
    req = parse_body(v3_refund.RefundRequest, body)
    if req.transaction_id is None and req.out_trade_no is None:
        raise param_error("transaction_id", None, "transaction_id和out_trade_no必须填写其一")
    mchid, sp_mchid = await _parties(request, merchant, req.sub_mchid, "body")
    draft = RefundDraft(
        mchid=mchid,
        sp_mchid=sp_mchid,
        out_refund_no=req.out_refund_no,
        transaction_id=req.transaction_id,
        out_trade_no=None if req.transaction_id else req.out_trade_no,
        refund=req.amount.refund,
        total=req.amount.total,
        currency=req.amount.currency,
        family="v3",
        reason=req.reason,
        notify_url=req.notify_url,
        funds_account=req.funds_account,
        extras=req.extras(),
    )
    refund = await call(request, domain_of(request).refunds.create, draft)
    return signed_response(request, 200, refund_json(refund))


@router.get("/v3/refund/domestic/refunds/{out_refund_no}", **operation("refund.query"))
async def query(out_refund_no: str, request: Request) -> Response:
    merchant, _ = await authenticated(request)
    if re.fullmatch(OUT_REFUND_NO_PATTERN, out_refund_no) is None:
        raise param_error("out_refund_no", out_refund_no, "不符合格式要求", "path")
    sub_mchid = request.query_params.get("sub_mchid") or None
    if sub_mchid is not None and len(sub_mchid) > 32:
        raise param_error("sub_mchid", sub_mchid, "字符数超过最大长度", "query")
    mchid, sp_mchid = await _parties(request, merchant, sub_mchid, "query")
    refund = await call(request, domain_of(request).refunds.get, mchid, out_refund_no, sp_mchid)
    return signed_response(request, 200, refund_json(refund))
