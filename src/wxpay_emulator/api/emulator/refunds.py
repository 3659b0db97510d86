"""The control plane's refunds (``/emulator/v1/refunds``): apply as the merchant would (for the CLI),
list, and decide a PROCESSING refund's outcome now (SUCCESS, ABNORMAL or CLOSED).

Errors answer ``{"code", "message"}`` with the statuses of errors.py.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

from fastapi import Request
from pydantic import Field

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.emulator import pagination
from wxpay_emulator.api.emulator.routes import _Body, known_merchant
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.views import Views, views_of
from wxpay_emulator.clock import rfc3339
from wxpay_emulator.domain.models import Refund, RefundDraft, RefundStatus
from wxpay_emulator.wire import OUT_REFUND_NO_PATTERN, OUT_TRADE_NO_PATTERN

router = new_router(prefix="/emulator/v1")


class RefundBody(_Body):
    mchid: str = Field(min_length=1, max_length=32)
    out_trade_no: str = Field(pattern=OUT_TRADE_NO_PATTERN)
    amount: int = Field(ge=1, le=2**31 - 1)
    out_refund_no: str | None = Field(default=None, pattern=OUT_REFUND_NO_PATTERN)
    reason: str | None = Field(default=None, min_length=1, max_length=80)
    notify_url: str | None = Field(default=None, min_length=1, max_length=256)


class OutcomeBody(_Body):
    mchid: str = Field(min_length=1, max_length=32)
    status: Literal["SUCCESS", "ABNORMAL", "CLOSED"]


def refund_view(refund: Refund, views: Views) -> dict[str, Any]:
    """The refund as the APIv3 query shows it, plus the emulator's own fields."""
    return {
        "refund": views.refund(refund),
        "mchid": refund.mchid,
        "sp_mchid": refund.sp_mchid,
        "family": refund.family,
        "notify_url": refund.notify_url,
        "due_at": rfc3339(refund.due_at) if refund.due_at else None,
    }


@router.post("/refunds")
async def create(body: RefundBody, request: Request) -> dict[str, Any]:
    """Apply for a refund of ``amount`` fen of a paid order (``amount.total`` is the order's)."""
    await known_merchant(request, body.mchid)
    domain = domain_of(request)
    order = await call(request, domain.refunds.order_of, body.mchid, body.out_trade_no)
    total = order.total if order is not None else body.amount
    draft = RefundDraft(
        mchid=body.mchid,
        sp_mchid=order.sp_mchid if order is not None else None,
        out_refund_no=body.out_refund_no or f"RF{secrets.token_hex(12)}",
        out_trade_no=body.out_trade_no,
        refund=body.amount,
        total=total,
        currency=order.currency if order is not None else "CNY",
        family="control",
        reason=body.reason,
        notify_url=body.notify_url,
    )
    refund = await call(request, domain.refunds.create, draft)
    return refund_view(refund, views_of(request))


@router.get("/refunds")
async def listing(
    request: Request,
    mchid: str | None = None,
    cursor: pagination.Cursor = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, Any]:
    before = pagination.id_cursor(cursor)
    found = await call(request, domain_of(request).refunds.list, mchid, limit + 1, before)
    page, next_cursor = pagination.split(found, limit, lambda r: r.id)
    views = views_of(request)
    return {"data": [refund_view(r, views) for r in page], "next": next_cursor}


@router.post("/refunds/{out_refund_no}")
async def outcome(out_refund_no: str, body: OutcomeBody, request: Request) -> dict[str, Any]:
    await known_merchant(request, body.mchid)
    refund = await call(
        request, domain_of(request).refunds.finish, body.mchid, out_refund_no, RefundStatus(body.status)
    )
    return refund_view(refund, views_of(request))
