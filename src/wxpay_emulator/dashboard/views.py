"""The dashboard's pages: ``/`` (overview), orders, notifications and refunds under ``/dashboard/``; the
merchants' pages are in merchant_pages.py, the clock, faults and reset in system_pages.py.

Server-rendered (templates/), every action an HTML form that POSTs to a route here, which calls the
domain (or the control plane's own handler, where that handler holds logic of its own: refunds, the
clock's dispatcher wake-up, faults) and answers 303 back to a page: POST-redirect-GET, so a reload
never repeats an action.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.emulator import refunds as control_refunds
from wxpay_emulator.api.emulator import routes as control
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.views import views_of
from wxpay_emulator.dashboard import journal_pages
from wxpay_emulator.dashboard.decode import decode
from wxpay_emulator.dashboard.forms import whole, why
from wxpay_emulator.dashboard.web import back, env, form_of, render
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import (
    DeliveryAttempt,
    Notification,
    Order,
    PaymentResult,
    Refund,
    RefundStatus,
)
from wxpay_emulator.domain.states import PAYABLE, TradeState

router = new_router(include_in_schema=False)

LIMIT = 200
OVERVIEW_LIMIT = 10


# --- overview --------------------------------------------------------------------------------------


@router.get("/")
async def overview(request: Request) -> Response:
    domain = domain_of(request)
    orders = await call(request, domain.orders.list, None, OVERVIEW_LIMIT)
    notes = await call(request, domain.notifications.list, None, OVERVIEW_LIMIT)
    refunds = await call(request, domain.refunds.list, None, OVERVIEW_LIMIT)
    merchants = await call(request, domain.merchants.list)
    return render(
        request,
        "overview.html",
        orders=orders,
        notifications=[n for n, _ in notes],
        refunds=refunds,
        merchants=merchants,
        requests_and_cursor=await journal_pages.newest_requests(request),
        now=domain.clock.now(),
        offset=domain.clock.offset_seconds,
    )


# --- orders ----------------------------------------------------------------------------------------


@router.get("/dashboard/orders")
async def orders(
    request: Request, mchid: str = "", state: str = "", family: str = "", q: str = ""
) -> Response:
    domain = domain_of(request)
    found = await call(
        request,
        domain.orders.search,
        mchid=mchid.strip() or None,
        state=state or None,
        family=family or None,
        number=q.strip() or None,
        limit=LIMIT,
    )
    merchants = await call(request, domain.merchants.list)
    families = await call(request, domain.orders.families)
    return render(
        request,
        "orders.html",
        orders=found,
        merchants=merchants,
        states=[s.value for s in TradeState],
        families=families,
        filters={"mchid": mchid, "state": state, "family": family, "q": q},
        limit=LIMIT,
    )


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    what: str
    detail: str = ""


def _timeline(
    order: Order, refunds: list[Refund], notes: list[tuple[Notification, list[DeliveryAttempt]]]
) -> list[Event]:
    """What the store's timestamps tell of the order's life, in time order."""
    events = [Event(order.created_at, "created", f"{order.family} {order.trade_type}, NOTPAY")]
    if order.success_time is not None:
        events.append(Event(order.success_time, "paid", f"transaction_id {order.transaction_id}"))
    ended = (TradeState.CLOSED, TradeState.PAYERROR, TradeState.USERPAYING, TradeState.REVOKED)
    if order.state in ended and order.updated_at is not None:
        events.append(Event(order.updated_at, order.state.value.lower(), order.state_desc or ""))
    for r in refunds:
        events.append(Event(r.created_at, "refund applied", f"{r.out_refund_no}: {r.refund} fen"))
        if r.success_time is not None:
            events.append(Event(r.success_time, f"refund {r.status.value.lower()}", r.out_refund_no))
    for n, attempts in notes:
        events.append(Event(n.created_at, "notification queued", f"{n.event_type} → {n.url}"))
        for a in attempts:
            outcome = str(a.response_status) if a.response_status is not None else (a.error or "no answer")
            events.append(Event(a.attempted_at, "delivery attempt", f"{n.event_type}: {outcome}"))
    return sorted(events, key=lambda e: e.at)


async def _order_or_404(request: Request, order_id: int) -> Order:
    try:
        return await call(request, domain_of(request).orders.get, order_id)
    except DomainError as exc:
        raise HTTPException(404, f"no order {order_id}") from exc


@router.get("/dashboard/orders/{order_id}")
async def order_page(request: Request, order_id: int) -> Response:
    domain = domain_of(request)
    order = await _order_or_404(request, order_id)
    refunds = (await call(request, domain.refunds.for_orders, [order.id]))[order.id]
    notes = await call(request, domain.notifications.for_order, order.id)
    return render(
        request,
        "order.html",
        order=order,
        refunds=refunds,
        notifications=notes,
        timeline=_timeline(order, refunds, notes),
        payable=order.state in PAYABLE,
        refundable=order.state in (TradeState.SUCCESS, TradeState.REFUND),
        fields=control.order_view(order, views_of(request)),
        order_request=await journal_pages.order_request(request, order),
    )


@router.post("/dashboard/orders/{order_id}/pay")
async def order_pay(request: Request, order_id: int) -> Response:
    """Pay, fail or set user-paying: the simulated payer, as POST /emulator/v1/payments."""
    domain = domain_of(request)
    order = await _order_or_404(request, order_id)
    form = await form_of(request)
    page = f"/dashboard/orders/{order_id}"
    try:
        result = PaymentResult(form.get("result", "SUCCESS"))
        if order.prepay_id is not None:
            await call(request, domain.orders.pay, result=result, prepay_id=order.prepay_id)
        else:
            await call(
                request, domain.orders.pay, result=result, mchid=order.mchid, out_trade_no=order.out_trade_no
            )
    except (DomainError, ValueError) as exc:
        return back(page, error=why(exc))
    return back(page, ok=f"payer action {result.value} applied")


@router.post("/dashboard/orders/{order_id}/close")
async def order_close(request: Request, order_id: int) -> Response:
    domain = domain_of(request)
    order = await _order_or_404(request, order_id)
    page = f"/dashboard/orders/{order_id}"
    try:
        await call(request, domain.orders.close, order.mchid, order.out_trade_no, order.sp_mchid)
    except DomainError as exc:
        return back(page, error=why(exc))
    return back(page, ok="order closed")


@router.post("/dashboard/orders/{order_id}/refund")
async def order_refund(request: Request, order_id: int) -> Response:
    """Apply for a refund as POST /emulator/v1/refunds does (its handler builds the draft)."""
    order = await _order_or_404(request, order_id)
    form = await form_of(request)
    page = f"/dashboard/orders/{order_id}"
    try:
        body = control_refunds.RefundBody(
            mchid=order.mchid,
            out_trade_no=order.out_trade_no,
            amount=whole(form, "amount", 0, "a whole number of fen"),
            reason=form.get("reason") or None,
            notify_url=form.get("notify_url") or None,
        )
        view = await control_refunds.create(body, request)
    except (DomainError, ValidationError, ValueError) as exc:
        return back(page, error=why(exc))
    return back(page, ok=f"refund {view['refund']['out_refund_no']} applied: {view['refund']['status']}")


# --- notifications ---------------------------------------------------------------------------------


@router.get("/dashboard/notifications")
async def notifications(request: Request, mchid: str = "") -> Response:
    rows = await call(request, domain_of(request).notifications.list, mchid.strip() or None, LIMIT)
    return render(request, "notifications.html", rows=rows, mchid=mchid, limit=LIMIT)


def _headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


@router.get("/dashboard/notifications/{notification_id}")
async def notification_page(request: Request, notification_id: str) -> Response:
    domain = domain_of(request)
    try:
        n, attempts = await call(request, domain.notifications.detail, notification_id)
    except DomainError as exc:
        raise HTTPException(404, exc.message) from exc
    merchant = await call(request, domain.merchants.find, n.mchid)
    decoded = await run_in_threadpool(decode, n.body, merchant)
    envelope = n.body
    with contextlib.suppress(ValueError):
        envelope = json.dumps(json.loads(n.body), ensure_ascii=False, indent=2)
    return render(
        request,
        "notification.html",
        n=n,
        attempts=attempts,
        decoded=decoded,
        envelope=envelope,
        headers_text=_headers_text,
    )


@router.get("/dashboard/notifications/{notification_id}/attempts")
async def notification_attempts(request: Request, notification_id: str) -> Response:
    """The attempts of a notification page (the live update reloads it on each delivery event)."""
    try:
        _, attempts = await call(request, domain_of(request).notifications.detail, notification_id)
    except DomainError as exc:
        raise HTTPException(404, exc.message) from exc
    html = env.get_template("_attempts.html").render(attempts=attempts, headers_text=_headers_text)
    return HTMLResponse(html)


@router.post("/dashboard/notifications/{notification_id}/redeliver")
async def notification_redeliver(request: Request, notification_id: str) -> Response:
    page = f"/dashboard/notifications/{notification_id}"
    try:
        await call(request, domain_of(request).notifications.redeliver, notification_id)
    except DomainError as exc:
        return back(page, error=why(exc))
    return back(page, ok="queued for delivery now")


# --- refunds ---------------------------------------------------------------------------------------


@router.get("/dashboard/refunds")
async def refunds(request: Request, mchid: str = "") -> Response:
    found = await call(request, domain_of(request).refunds.list, mchid.strip() or None, LIMIT)
    return render(request, "refunds.html", refunds=found, mchid=mchid, limit=LIMIT)


@router.post("/dashboard/refunds/{refund_pk}/settle")
async def refund_settle(request: Request, refund_pk: int) -> Response:
    form = await form_of(request)
    try:
        status = RefundStatus(form.get("status", ""))
        if status is RefundStatus.PROCESSING:
            raise ValueError("a refund is settled as SUCCESS, ABNORMAL or CLOSED")
        done = await call(
            request, domain_of(request).refunds.finish, form.get("mchid", ""), form.get("out_refund_no", ""),
            status,
        )  # fmt: skip
    except (DomainError, ValueError) as exc:
        return back("/dashboard/refunds", error=why(exc))
    return back("/dashboard/refunds", ok=f"refund {done.out_refund_no} is {done.status.value}")
