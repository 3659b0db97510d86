"""APIv2 payment routes: ``unifiedorder``, ``orderquery``, ``closeorder`` and the simulation system's
``getsignkey``, each also under the simulation prefixes. Every method reaches the route, so a GET is
answered REQUIRE_POST_METHOD as WeChat answers it, not with a framework 405."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.v2 import render
from wxpay_emulator.api.v2.common import (
    V2Call,
    caller,
    check_sign,
    error_response,
    read_fields,
    sign_type_of,
    success,
    v2_call,
)
from wxpay_emulator.api.v2.errors import V2Error
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.domain.models import Order, OrderDraft
from wxpay_emulator.wire import v2 as wire

router = APIRouter()

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
PREFIXES = ("", "/sandboxnew", "/xdc/apiv2sandbox")
TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{1,32}$")
# Field -> maximum length (characters), from the unified order page.
LENGTHS = {
    "device_info": 32,
    "body": 128,
    "detail": 6000,
    "attach": 127,
    "fee_type": 16,
    "spbill_create_ip": 64,
    "goods_tag": 32,
    "notify_url": 256,
    "product_id": 32,
    "limit_pay": 32,
    "openid": 128,
    "sub_openid": 128,
    "scene_info": 256,
    "receipt": 8,
}
# Kept with the order (and in its re-entry fingerprint): what the answers and notifications repeat.
EXTRAS = ("device_info", "detail", "product_id", "limit_pay", "scene_info", "receipt")


def _require(c: V2Call, *names: str) -> None:
    for name in names:
        if c.get(name) is None:
            raise V2Error("LACK_PARAMS", f"缺少参数{name}")


def _party(c: V2Call) -> tuple[str, str | None]:
    """(mchid, sp_mchid) of the order the call is about: the sub-merchant's, for a provider's call."""
    sub = c.get("sub_mch_id")
    return (sub, c.merchant.mchid) if sub is not None else (c.merchant.mchid, None)


def _draft(c: V2Call) -> OrderDraft:
    _require(c, "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
    for name, limit in LENGTHS.items():
        value = c.get(name)
        if value is not None and len(value) > limit:
            raise V2Error("INVALID_REQUEST", f"{name}参数长度有误，不能超过{limit}个字符")
    out_trade_no, total_fee, trade_type = c.fields["out_trade_no"], c.fields["total_fee"], c.get("trade_type")
    if not OUT_TRADE_NO.match(out_trade_no):
        raise V2Error("INVALID_REQUEST", "out_trade_no参数格式错误，只能是数字、大小写字母_-|*且在32位以内")
    if not wire.is_digits(total_fee) or int(total_fee) <= 0 or int(total_fee) > 10**11:
        raise V2Error("INVALID_REQUEST", "total_fee参数格式错误，须为正整数，单位为分")
    if trade_type not in TRADE_TYPES:
        raise V2Error("INVALID_REQUEST", f"trade_type参数错误，取值为{'、'.join(TRADE_TYPES)}")
    if (c.get("fee_type") or "CNY") != "CNY":
        raise V2Error("INVALID_REQUEST", "fee_type参数错误，境内商户仅支持CNY")
    if not c.fields["notify_url"].startswith(("http://", "https://")) or "?" in c.fields["notify_url"]:
        raise V2Error("INVALID_REQUEST", "notify_url参数格式错误，须为不带参数的http(s)地址")
    sub_mch_id = c.get("sub_mch_id")
    if trade_type == "JSAPI" and c.get("openid") is None and c.get("sub_openid") is None:
        raise V2Error("LACK_PARAMS", "缺少参数openid: trade_type=JSAPI时openid为必填参数")
    if c.get("sub_openid") is not None and (sub_mch_id is None or c.get("sub_appid") is None):
        raise V2Error("INVALID_REQUEST", "传sub_openid时须同时传sub_mch_id和sub_appid")
    if trade_type == "NATIVE" and c.get("product_id") is None:
        raise V2Error("LACK_PARAMS", "缺少参数product_id: trade_type=NATIVE时product_id为必填参数")
    if trade_type == "MWEB" and c.get("scene_info") is None:
        raise V2Error("LACK_PARAMS", "缺少参数scene_info: trade_type=MWEB时scene_info为必填参数")
    times = {}
    for name in ("time_start", "time_expire"):
        value = c.get(name)
        if value is not None:
            try:
                times[name] = wire.parse_time(value)
            except ValueError as exc:
                raise V2Error("INVALID_REQUEST", f"{name}参数格式错误，须为yyyyMMddHHmmss") from exc
    extras: dict[str, Any] = {k: c.fields[k] for k in EXTRAS if c.get(k) is not None}
    extras["sign_type"] = c.sign_type
    if c.sandbox:
        extras["sandbox"] = True
    mchid, sp_mchid = _party(c)
    return OrderDraft(
        mchid=mchid,
        appid=c.fields["appid"],
        out_trade_no=out_trade_no,
        trade_type=trade_type,
        description=c.fields["body"],
        total=int(total_fee),
        currency="CNY",
        notify_url=c.fields["notify_url"],
        family="v2",
        time_expire=times.get("time_expire"),
        attach=c.get("attach"),
        goods_tag=c.get("goods_tag"),
        payer_openid=c.get("openid"),
        extras=extras,
        sp_mchid=sp_mchid,
        sub_appid=c.get("sub_appid"),
        sub_openid=c.get("sub_openid"),
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


def _routes(path: str, name: str) -> Any:
    """POST (in the API reference), and the other methods, which answer REQUIRE_POST_METHOD."""

    def register(endpoint: Any) -> Any:
        router.api_route(path, methods=["POST"], name=name)(endpoint)
        others = [m for m in METHODS if m != "POST"]
        router.api_route(path, methods=others, name=f"{name}_not_post", include_in_schema=False)(endpoint)
        return endpoint

    return register


async def unifiedorder(request: Request) -> Response:
    c = await v2_call(request, "v2.unifiedorder")
    order = await call(request, domain_of(request).orders.place, _draft(c))
    return success(request, c, _prepay_fields(request, order))


async def orderquery(request: Request) -> Response:
    c = await v2_call(request, "v2.orderquery")
    order = await call(request, _find, request, c)
    return success(request, c, render.trade_fields(order))


def _close(request: Request, c: V2Call) -> Order:
    order = _find(request, c, by_transaction=False)
    if order.state.value in ("CLOSED", "REVOKED"):
        raise V2Error("ORDERCLOSED", "订单已关闭，无法重复关闭")
    return domain_of(request).orders.close(order.mchid, order.out_trade_no, order.sp_mchid)


async def closeorder(request: Request) -> Response:
    c = await v2_call(request, "v2.closeorder")
    await call(request, _close, request, c)
    return success(request, c, {"result_msg": "OK"})


async def getsignkey(request: Request) -> Response:
    """The simulation system's key for ``mch_id``, for a request signed (MD5) with its API key."""
    fields = await read_fields(request)
    merchant = caller(request, fields)
    sign_type = sign_type_of(fields)
    check_sign(fields, merchant.api_key, sign_type)
    answer = {
        "return_code": "SUCCESS",
        "return_msg": "ok",
        "sandbox_signkey": v2_sign.sandbox_key(merchant.api_key),
        "mch_id": merchant.mchid,
    }
    return Response(wire.render(answer), media_type="text/xml; charset=utf-8")


for _prefix in PREFIXES:
    _routes(f"{_prefix}/pay/unifiedorder", f"v2.unifiedorder{_prefix}")(unifiedorder)
    _routes(f"{_prefix}/pay/orderquery", f"v2.orderquery{_prefix}")(orderquery)
    _routes(f"{_prefix}/pay/closeorder", f"v2.closeorder{_prefix}")(closeorder)
_routes("/sandboxnew/pay/getsignkey", "v2.getsignkey")(getsignkey)
_routes("/xdc/apiv2getsignkey/sign/getsignkey", "v2.getsignkey.xdc")(getsignkey)


async def v2_error(request: Request, exc: V2Error) -> Response:
    """app.py registers this for V2Error."""
    return error_response(request, exc)
