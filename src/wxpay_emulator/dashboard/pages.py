"""The checkout page: what the payer sees when a merchant sends them to ``h5_url`` (``mweb_url``).

A person pays, fails or leaves the order (or the whole combine order), through the same domain calls
as ``POST /emulator/v1/payments``. The form POSTs, and the answer is a 303 (POST, redirect, GET), so a
reload never pays twice. As at WeChat, a merchant appends ``&redirect_url=<urlencoded URL>`` to the
h5_url: once paid, the payer is sent there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import CombineOrder, PaymentResult
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.domain.states import PAYABLE, TradeState

router = new_router(prefix="/emulator/v1")
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)


@dataclass(frozen=True)
class CheckoutView:
    """What the page shows of an order, or of a combine order (its sub-orders summed)."""

    mchid: str
    out_trade_no: str
    prepay_id: str
    description: str
    total: int
    state: TradeState
    state_desc: str
    transaction_id: str | None


def _view(domain: Domain, prepay_id: str) -> CheckoutView:
    found = domain.payable_by_prepay_id(prepay_id)
    if isinstance(found, CombineOrder):
        first = found.sub_orders[0]
        return CheckoutView(
            mchid=found.combine_mchid,
            out_trade_no=found.combine_out_trade_no,
            prepay_id=found.prepay_id,
            description=" + ".join(o.description for o in found.sub_orders),
            total=sum(o.total for o in found.sub_orders),
            state=first.state,
            state_desc=first.state_desc or "",
            transaction_id=None,
        )
    return CheckoutView(
        mchid=found.mchid,
        out_trade_no=found.out_trade_no,
        prepay_id=prepay_id,
        description=found.description,
        total=found.total,
        state=found.state,
        state_desc=found.state_desc or "",
        transaction_id=found.transaction_id,
    )


def _page(
    view: CheckoutView | None, error: str | None, status: int = 200, redirect_url: str | None = None
) -> Response:
    html = _env.get_template("checkout.html").render(
        order=view,
        error=error,
        payable=view is not None and view.state in PAYABLE,
        redirect_url=redirect_url,
    )
    return HTMLResponse(html, status_code=status)


def _safe_redirect(url: str | None) -> str | None:
    """Only an absolute http(s) URL is followed (never ``javascript:`` or a scheme-relative trick)."""
    if not url:
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _again(prepay_id: str, redirect_url: str | None, error: str | None) -> Response:
    params = {"prepay_id": prepay_id}
    if redirect_url:
        params["redirect_url"] = redirect_url
    if error:
        params["error"] = error
    return RedirectResponse(f"/emulator/v1/checkout?{urlencode(params)}", status_code=303)


@router.get("/checkout")
async def checkout(
    request: Request, prepay_id: str = "", redirect_url: str = "", error: str = ""
) -> Response:
    try:
        view = await call(request, _view, domain_of(request), prepay_id)
    except DomainError as exc:
        return _page(None, exc.message, 404)
    return _page(view, error or None, redirect_url=_safe_redirect(redirect_url))


@router.post("/checkout")
async def checkout_submit(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    prepay_id = form.get("prepay_id", [""])[0]
    result = form.get("result", ["SUCCESS"])[0]
    redirect_url = _safe_redirect(form.get("redirect_url", [""])[0])
    domain = domain_of(request)
    try:
        await call(request, _view, domain, prepay_id)  # an unknown prepay_id: 404, nothing to go back to
    except DomainError as exc:
        return _page(None, exc.message, 404)
    try:
        await call(request, domain.pay_by_prepay_id, PaymentResult(result), prepay_id)
    except DomainError as exc:
        return _again(prepay_id, redirect_url, exc.message)
    except ValueError:
        return _again(prepay_id, redirect_url, f"unknown result {result!r}")
    if result == PaymentResult.SUCCESS and redirect_url:
        return RedirectResponse(redirect_url, status_code=303)
    return _again(prepay_id, redirect_url, None)
