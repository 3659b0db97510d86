"""APIv2 payment routes: ``unifiedorder``, ``orderquery``, ``closeorder`` and the simulation system's
``getsignkey``, each also under the simulation prefixes. Every method reaches the route, so a GET is
answered REQUIRE_POST_METHOD as WeChat answers it, not with a framework 405."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import Faults, declared_operation, operation
from wxpay_emulator.api.v2 import render, wire
from wxpay_emulator.api.v2.common import (
    V2Call,
    caller,
    check_sign,
    read_fields,
    sign_type_of,
    success,
    v2_call,
)
from wxpay_emulator.api.v2.errors import V2Error
from wxpay_emulator.api.v2.models import parse_unifiedorder
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.domain.models import Order, OrderDraft
from wxpay_emulator.extras import OrderExtras

router = new_router()

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
PREFIXES = ("", "/sandboxnew", "/xdc/apiv2sandbox")
# Kept with the order (and in its re-entry fingerprint): what the answers and notifications repeat.
EXTRAS = ("device_info", "detail", "product_id", "limit_pay", "scene_info", "receipt")


def _party(c: V2Call) -> tuple[str, str | None]:
    """(mchid, sp_mchid) of the order the call is about: the sub-merchant's, for a provider's call."""
    sub = c.get("sub_mch_id")
    return (sub, c.merchant.mchid) if sub is not None else (c.merchant.mchid, None)


def _draft(c: V2Call) -> OrderDraft:
    req = parse_unifiedorder(c.fields)
    given: dict[str, Any] = {k: getattr(req, k) for k in EXTRAS}
    extras = OrderExtras.given(**given, sign_type=c.sign_type, sandbox=True if c.sandbox else None).stored()
    mchid, sp_mchid = _party(c)
    return OrderDraft(
        mchid=mchid,
        appid=c.fields["appid"],
        out_trade_no=req.out_trade_no,
        trade_type=req.trade_type,
        description=req.body,
        total=req.total_fee,
        currency="CNY",
        notify_url=req.notify_url,
        family="v2",
        time_expire=req.expire_at,
        attach=req.attach,
        goods_tag=req.goods_tag,
        payer_openid=req.openid,
        extras=extras,
        sp_mchid=sp_mchid,
        sub_appid=req.sub_appid,
        sub_openid=req.sub_openid,
    )


def _prepay_fields(request: Request, order: Order) -> dict[str, wire.Value | None]:
    assert order.prepay_id is not None
    fields: dict[str, wire.Value | None] = {"trade_type": order.trade_type, "prepay_id": order.prepay_id}
    if order.trade_type == "NATIVE":
        fields["code_url"] = f"weixin://wxpay/bizpayurl?pr={order.prepay_id}"
    if order.trade_type == "MWEB":
        base = str(request.base_url).rstrip("/")
        fields["mweb_url"] = f"{base}/emulator/v1/checkout?prepay_id={order.prepay_id}"
    return fields


def _find(request: Request, c: V2Call, *, by_transaction: bool = True) -> Order:
    mchid, sp_mchid = _party(c)
    transaction_id = c.get("transaction_id") if by_transaction else None
    out_trade_no = c.get("out_trade_no")
    if transaction_id is None and out_trade_no is None:
        names = "transaction_id或out_trade_no" if by_transaction else "out_trade_no"
        raise V2Error("LACK_PARAMS", f"缺少参数{names}")
    domain = domain_of(request)
    if sp_mchid is not None:
        domain.merchants.sub_merchant(sp_mchid, mchid)
    order = domain.orders.find(
        mchid, out_trade_no=out_trade_no, transaction_id=transaction_id, sp_mchid=sp_mchid
    )
    # The simulation system and production keep their orders apart.
    if render.is_sandbox(order) != c.sandbox:
        raise V2Error("ORDERNOTEXIST")
    return order


def _routes(path: str, name: str, op: str, *, faults: bool = True) -> Any:
    """POST of ``path`` (in the API reference) and its other methods (left out of it; a wrong one is
    answered in v2's XML by the route); ``op`` is the operation it serves (api/faults.py), the same
    under every prefix."""

    def register(endpoint: Any) -> Any:
        declared = operation(op, faults=faults)
        router.api_route(path, methods=["POST"], name=name, **declared)(endpoint)
        others = [m for m in METHODS if m != "POST"]
        hidden = router.api_route(
            path, methods=others, name=f"{name}.not_post", include_in_schema=False, **declared
        )
        return hidden(endpoint)

    return register


async def unifiedorder(request: Request) -> Response:
    c = await v2_call(request)
    order = await call(request, domain_of(request).orders.place, _draft(c))
    return success(request, c, _prepay_fields(request, order))


async def orderquery(request: Request) -> Response:
    c = await v2_call(request)
    order = await call(request, _find, request, c)
    return success(request, c, render.trade_fields(order))


def _close(request: Request, c: V2Call) -> Order:
    order = _find(request, c, by_transaction=False)
    return domain_of(request).orders.close(
        order.mchid, order.out_trade_no, order.sp_mchid, again_is_error=True
    )


async def closeorder(request: Request) -> Response:
    c = await v2_call(request)
    await call(request, _close, request, c)
    return success(request, c, {"result_msg": "OK"})


async def getsignkey(request: Request) -> Response:
    """The simulation system's key for ``mch_id``, for a request signed (MD5) with its API key."""
    fields = await read_fields(request)
    merchant = caller(request, fields)
    sign_type = sign_type_of(fields)
    sandbox_key = v2_sign.sandbox_key(merchant.api_key)
    check_sign(fields, merchant.api_key, sign_type, "API key", (("sandbox key (getsignkey)", sandbox_key),))
    faults: Faults = request.app.state.faults
    fault = faults.pop(declared_operation(request))
    if fault is not None:
        raise V2Error(fault.code, fault.message)
    answer = {
        "return_code": "SUCCESS",
        "return_msg": "ok",
        "sandbox_signkey": sandbox_key,
        "mch_id": merchant.mchid,
    }
    return Response(wire.render(answer), media_type="text/xml; charset=utf-8")


for _prefix in PREFIXES:
    _routes(f"{_prefix}/pay/unifiedorder", f"v2.unifiedorder{_prefix}", "v2.unifiedorder")(unifiedorder)
    _routes(f"{_prefix}/pay/orderquery", f"v2.orderquery{_prefix}", "v2.orderquery")(orderquery)
    _routes(f"{_prefix}/pay/closeorder", f"v2.closeorder{_prefix}", "v2.closeorder")(closeorder)
_routes("/sandboxnew/pay/getsignkey", "v2.getsignkey", "v2.getsignkey")(getsignkey)
_routes("/xdc/apiv2getsignkey/sign/getsignkey", "v2.getsignkey.xdc", "v2.getsignkey")(getsignkey)
