"""The control plane (not under /v3): the simulated payer, the clock, notifications, merchants, reset.

Documented in the README. Errors answer ``{"code", "message"}`` with the statuses of errors.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.emulator import pagination
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import Faults
from wxpay_emulator.api.views import Views, views_of
from wxpay_emulator.clock import rfc3339
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import CombineOrder, KeyMode, Order, PaymentResult
from wxpay_emulator.ids import MCHID_PATTERN
from wxpay_emulator.material import merchant_json, write_material
from wxpay_emulator.wire import reject_nul

router = new_router(prefix="/emulator/v1")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _no_nul = field_validator("*", mode="after")(reject_nul)


class PaymentBody(_Body):
    mchid: str | None = None
    out_trade_no: str | None = None
    combine_mchid: str | None = None
    combine_out_trade_no: str | None = None
    prepay_id: str | None = None
    openid: str | None = Field(default=None, max_length=128)
    result: PaymentResult = PaymentResult.SUCCESS


class RequestPaymentBody(_Body):
    """What a Mini Program passes to wx.requestPayment, which ignores keys it does not read: merchants
    hand it their SDK's parameters as they come (tenpay's carry a ``timestamp`` copy for the JSSDK)."""

    model_config = ConfigDict(extra="ignore")

    appId: str
    timeStamp: str
    nonceStr: str
    package: str
    signType: str
    paySign: str
    openid: str | None = None


class FaultBody(_Body):
    """An error ``code`` to answer, or (APIv3) a ``tamper`` of the answer's Wechatpay-* headers."""

    operation: str
    code: str | None = None
    tamper: Literal["signature", "serial", "timestamp"] | None = None
    count: int = Field(default=1, ge=1, le=1000)
    message: str | None = Field(default=None, max_length=256)


class ClockBody(_Body):
    advance_seconds: float = Field(ge=0, le=10 * 365 * 86400)


class MerchantBody(_Body):
    mchid: str | None = Field(default=None, pattern=MCHID_PATTERN)
    sp_mchid: str | None = Field(default=None, pattern=MCHID_PATTERN)
    appid: str | None = Field(default=None, min_length=1, max_length=32)
    key_mode: Literal["cert", "pubkey"] = "pubkey"
    appids: list[Annotated[str, StringConstraints(min_length=1, max_length=32)]] = Field(
        default_factory=list, max_length=20
    )


def _data_dir(request: Request) -> Path:
    path: Path = request.app.state.settings.data_dir
    return path


async def known_merchant(request: Request, mchid: str) -> None:
    """The control plane's one answer for a mchid it does not know, whatever was asked of that merchant:
    404 MCH_NOT_EXISTS (not the ORDER_NOT_EXIST / RESOURCE_NOT_EXISTS of the order or refund looked up
    next, which would say the merchant exists)."""
    if await call(request, domain_of(request).merchants.find, mchid) is None:
        raise DomainError(ErrorCode.MCH_NOT_EXISTS, f"no merchant {mchid} in this emulator")


def order_view(order: Order, views: Views) -> dict[str, Any]:
    """The order as the query API of its family shows it, plus the emulator's own fields."""
    return {
        "transaction": views.order(order),
        "prepay_id": order.prepay_id,
        "prepay_expires_at": rfc3339(order.prepay_expires_at) if order.prepay_expires_at else None,
        "combine_id": order.combine_id,
        "time_expire": rfc3339(order.time_expire) if order.time_expire else None,
        "family": order.family,
        "created_at": rfc3339(order.created_at),
    }


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    domain = domain_of(request)
    return {"status": "ok", "now": rfc3339(domain.clock.now()), "store": domain.uow.dialect}


@router.post("/payments")
async def pay(body: PaymentBody, request: Request) -> dict[str, Any]:
    """Pay an order, or a whole combine order (by its prepay_id or combine_mchid/combine_out_trade_no)."""
    domain = domain_of(request)
    if body.combine_mchid is not None or body.combine_out_trade_no is not None:
        combine = await call(
            request,
            domain.combines.pay,
            result=body.result,
            combine_mchid=body.combine_mchid,
            combine_out_trade_no=body.combine_out_trade_no,
            openid=body.openid,
        )
        return views_of(request).combine(combine)
    if body.prepay_id is not None:
        paid = await call(request, domain.pay_by_prepay_id, body.result, body.prepay_id, body.openid)
        if isinstance(paid, CombineOrder):
            return views_of(request).combine(paid)
        return views_of(request).order(paid)
    if body.mchid is None or body.out_trade_no is None:
        raise DomainError(ErrorCode.PARAM_ERROR, "give prepay_id, or mchid and out_trade_no")
    await known_merchant(request, body.mchid)
    order = await call(
        request,
        domain.orders.pay,
        result=body.result,
        mchid=body.mchid,
        out_trade_no=body.out_trade_no,
        openid=body.openid,
    )
    return views_of(request).order(order)


@router.post("/request-payment")
async def request_payment(body: RequestPaymentBody, request: Request) -> dict[str, Any]:
    order = await call(
        request,
        domain_of(request).request_payment,
        app_id=body.appId,
        time_stamp=body.timeStamp,
        nonce_str=body.nonceStr,
        package=body.package,
        sign_type=body.signType,
        pay_sign=body.paySign,
        openid=body.openid,
    )
    if isinstance(order, CombineOrder):
        return {"errMsg": "requestPayment:ok", "transaction": views_of(request).combine(order)}
    return {"errMsg": "requestPayment:ok", "transaction": views_of(request).order(order)}


@router.get("/orders")
async def orders(
    request: Request,
    mchid: str | None = None,
    cursor: pagination.Cursor = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, Any]:
    before = pagination.id_cursor(cursor)
    found = await call(request, domain_of(request).orders.list, mchid, limit + 1, before)
    page, next_cursor = pagination.split(found, limit, lambda o: o.id)
    # Each order's refunds, as the APIv3 refund query shows them.
    refunds = await call(request, domain_of(request).refunds.for_orders, [o.id for o in page])
    views = views_of(request)
    return {
        "data": [{**order_view(o, views), "refunds": [views.refund(r) for r in refunds[o.id]]} for o in page],
        "next": next_cursor,
    }


@router.get("/clock")
async def clock(request: Request) -> dict[str, Any]:
    domain = domain_of(request)
    return {"now": rfc3339(domain.clock.now()), "offset_seconds": domain.clock.offset_seconds}


@router.post("/clock")
async def advance_clock(body: ClockBody, request: Request) -> dict[str, Any]:
    domain = domain_of(request)
    offset = await call(request, domain.advance_clock, body.advance_seconds)
    request.app.state.dispatcher.wake()
    return {"now": rfc3339(domain.clock.now()), "offset_seconds": offset}


@router.get("/notifications")
async def notifications(
    request: Request,
    mchid: str | None = None,
    cursor: pagination.Cursor = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
) -> dict[str, Any]:
    before = pagination.time_id_cursor(cursor)
    found = await call(request, domain_of(request).notifications.list, mchid, limit + 1, before)
    rows, next_cursor = pagination.split(found, limit, lambda row: (row[0].created_at, row[0].id))
    return {
        "next": next_cursor,
        "data": [
            {
                "id": n.id,
                "mchid": n.mchid,
                "event_type": n.event_type,
                "family": n.family,
                "url": n.url,
                "status": n.status.value,
                "attempts": n.attempts,
                "next_attempt_at": rfc3339(n.next_attempt_at) if n.next_attempt_at else None,
                "created_at": rfc3339(n.created_at),
                "delivered_at": rfc3339(n.delivered_at) if n.delivered_at else None,
                "body": n.body,
                "deliveries": [
                    {
                        "attempted_at": rfc3339(a.attempted_at),
                        "request_headers": a.request_headers,
                        "response_status": a.response_status,
                        "response_body": a.response_body,
                        "error": a.error,
                        "duration_ms": round(a.duration_ms, 1),
                    }
                    for a in attempts
                ],
            }
            for n, attempts in rows
        ],
    }


@router.post("/notifications/{notification_id}/redeliver")
async def redeliver(notification_id: str, request: Request) -> dict[str, Any]:
    n = await call(request, domain_of(request).notifications.redeliver, notification_id)
    return {"id": n.id, "status": n.status.value}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    # The journal's calls are forgotten too, those still waiting in a writer included (storage/journal_repo).
    await call(request, domain_of(request).reset)
    return {"status": "ok"}


@router.get("/merchants")
async def merchants(request: Request) -> dict[str, Any]:
    found = await call(request, domain_of(request).merchants.list)
    base = _data_dir(request) / "merchants"
    return {"data": [merchant_json(m, base / m.mchid) for m in found]}


@router.get("/merchants/{mchid}")
async def merchant(mchid: str, request: Request) -> dict[str, Any]:
    m = await call(request, domain_of(request).merchants.get, mchid)
    info = merchant_json(m, _data_dir(request) / "merchants" / m.mchid)
    # The AppSecret of each bound app: what /cgi-bin/token asks for (domain/miniprogram.py).
    apps = await call(request, domain_of(request).miniprogram.apps_of, m)
    info["apps"] = [{"appid": a.appid, "secret": a.secret, "open_account": a.open_account} for a in apps]
    return info


@router.post("/merchants", status_code=201)
async def create_merchant(body: MerchantBody, request: Request) -> dict[str, Any]:
    # Always in the threadpool: making three RSA keys takes a few hundred milliseconds.
    m = await run_in_threadpool(
        domain_of(request).merchants.create,
        body.mchid,
        body.appid,
        KeyMode(body.key_mode),
        tuple(body.appids),
        body.sp_mchid,
    )
    folder = write_material(_data_dir(request), m)
    return merchant_json(m, folder)


@router.post("/faults", status_code=201)
async def arm_fault(body: FaultBody, request: Request) -> dict[str, Any]:
    faults: Faults = request.app.state.faults
    if (body.code is None) == (body.tamper is None):
        raise DomainError(ErrorCode.PARAM_ERROR, "give either code or tamper")
    try:
        if body.tamper is not None:
            faults.arm_tamper(body.operation, body.tamper, body.count)
        else:
            assert body.code is not None
            faults.arm(body.operation, body.code, body.count, body.message)
    except ValueError as exc:
        raise DomainError(ErrorCode.PARAM_ERROR, str(exc)) from exc
    return {"pending": faults.pending()}


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    faults: Faults = request.app.state.faults
    return {"pending": faults.pending()}


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    faults: Faults = request.app.state.faults
    faults.clear()
    return {"pending": {}}
