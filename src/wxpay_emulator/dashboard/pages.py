"""The checkout page: what the payer sees when a merchant sends them to ``h5_url``.

A person pays, fails or leaves the order, through the same domain call as ``POST /emulator/v1/payments``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wxpay_emulator.api.calls import call
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import Order, PaymentResult
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.domain.states import PAYABLE

router = APIRouter(prefix="/emulator/v1")
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


def _page(order: Order | None, error: str | None, status: int = 200) -> Response:
    html = _env.get_template("checkout.html").render(
        order=order, error=error, payable=order is not None and order.state in PAYABLE
    )
    return HTMLResponse(html, status_code=status)


def _domain(request: Request) -> Domain:
    domain: Domain = request.app.state.domain
    return domain


@router.get("/checkout")
async def checkout(request: Request, prepay_id: str = "") -> Response:
    try:
        order = await call(request, _domain(request).orders.by_prepay_id, prepay_id)
    except DomainError as exc:
        return _page(None, exc.message, 404)
    return _page(order, None)


@router.post("/checkout")
async def checkout_submit(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    prepay_id = form.get("prepay_id", [""])[0]
    result = form.get("result", ["SUCCESS"])[0]
    domain = _domain(request)
    error: str | None = None
    try:
        await call(request, domain.orders.pay, result=PaymentResult(result), prepay_id=prepay_id)
    except DomainError as exc:
        error = exc.message
    except ValueError:
        error = f"unknown result {result!r}"
    try:
        order = await call(request, domain.orders.by_prepay_id, prepay_id)
    except DomainError as exc:
        return _page(None, exc.message, 404)
    return _page(order, error, 200 if error is None else 409)
