"""``POST /emulator/v1/orders/close``: close an unpaid order as its merchant would (for the CLI's
``close``), whatever family placed it. Closing a closed order again succeeds, as at WeChat."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import Field

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.emulator.routes import _Body, order_view
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.views import views_of
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import Order
from wxpay_emulator.domain.services import Domain

router = new_router(prefix="/emulator/v1")


class CloseBody(_Body):
    mchid: str = Field(min_length=1, max_length=32)
    out_trade_no: str = Field(min_length=1, max_length=32)


def _close(domain: Domain, mchid: str, out_trade_no: str) -> Order:
    order = domain.refunds.order_of(mchid, out_trade_no)
    if order is None:
        raise DomainError(ErrorCode.ORDER_NOT_EXIST, "订单不存在")
    return domain.orders.close(order.mchid, order.out_trade_no, order.sp_mchid)


@router.post("/orders/close")
async def close(body: CloseBody, request: Request) -> dict[str, Any]:
    domain = domain_of(request)
    order = await call(request, _close, domain, body.mchid, body.out_trade_no)
    return order_view(order, views_of(request))
