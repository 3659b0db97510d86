"""APIv2 refunds: ``/secapi/pay/refund`` (the merchant's API certificate required when the emulator
runs with TLS) and ``/pay/refundquery``, also under the simulation prefixes."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request, Response

from wxpay_emulator import tls
from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import operation
from wxpay_emulator.api.v2 import render, wire
from wxpay_emulator.api.v2.common import V2Call, success, v2_call
from wxpay_emulator.api.v2.errors import V2Error, protocol_error
from wxpay_emulator.api.v2.routes import METHODS, PREFIXES
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import Order, Refund, RefundDraft
from wxpay_emulator.wire import OUT_REFUND_NO_PATTERN

router = new_router()

REFUND_ACCOUNTS = ("REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS")
OUT_REFUND_NO = re.compile(OUT_REFUND_NO_PATTERN)


def _party(c: V2Call) -> tuple[str, str | None]:
    sub = c.get("sub_mch_id")
    return (sub, c.merchant.mchid) if sub is not None else (c.merchant.mchid, None)


def _fee(c: V2Call, name: str) -> int:
    value = c.get(name)
    if value is None:
        raise V2Error("LACK_PARAMS", f"缺少参数{name}")
    if not wire.is_digits(value) or int(value) <= 0 or int(value) > 10**11:
        raise V2Error("INVALID_REQUEST", f"{name}参数格式错误，须为正整数，单位为分")
    return int(value)


def _draft(c: V2Call) -> RefundDraft:
    if c.get("transaction_id") is None and c.get("out_trade_no") is None:
        raise V2Error("LACK_PARAMS", "缺少参数transaction_id或out_trade_no")
    out_refund_no = c.get("out_refund_no")
    if out_refund_no is None:
        raise V2Error("LACK_PARAMS", "缺少参数out_refund_no")
    if not OUT_REFUND_NO.match(out_refund_no):
        raise V2Error("INVALID_REQUEST", "out_refund_no参数格式错误，只能是数字、大小写字母_-|*@且在64位以内")
    total, refund = _fee(c, "total_fee"), _fee(c, "refund_fee")
    if (c.get("refund_fee_type") or "CNY") != "CNY":
        raise V2Error("INVALID_REQUEST", "refund_fee_type参数错误，境内商户仅支持CNY")
    account = c.get("refund_account")
    if account is not None and account not in REFUND_ACCOUNTS:
        raise V2Error("INVALID_REQUEST", f"refund_account参数错误，取值为{'、'.join(REFUND_ACCOUNTS)}")
    reason = c.get("refund_desc")
    if reason is not None and len(reason) > 80:
        raise V2Error("INVALID_REQUEST", "refund_desc参数长度有误，不能超过80个字符")
    notify_url = c.get("notify_url")
    if notify_url is not None and not notify_url.startswith(("http://", "https://")):
        raise V2Error("INVALID_REQUEST", "notify_url参数格式错误")
    mchid, sp_mchid = _party(c)
    return RefundDraft(
        mchid=mchid,
        sp_mchid=sp_mchid,
        out_refund_no=out_refund_no,
        refund=refund,
        total=total,
        currency="CNY",
        family="v2",
        transaction_id=c.get("transaction_id"),
        out_trade_no=c.get("out_trade_no") if c.get("transaction_id") is None else None,
        reason=reason,
        notify_url=notify_url,
        extras={"refund_account": account or REFUND_ACCOUNTS[0]},
    )


def _created(c: V2Call, request: Request) -> tuple[Order, Refund]:
    domain = domain_of(request)
    if c.get("sub_mch_id") is not None:
        domain.merchants.sub_merchant(c.merchant.mchid, c.fields["sub_mch_id"])
    draft = _draft(c)
    # The simulation system and production keep their orders apart: checked before anything is written.
    target = _target(request, draft)
    if target is not None and render.is_sandbox(target) != c.sandbox:
        raise V2Error("ORDERNOTEXIST")
    refund = domain.refunds.create(draft)
    order = domain.refunds.order_of(refund.mchid, refund.out_trade_no)
    assert order is not None
    return order, refund


def _target(request: Request, draft: RefundDraft) -> Order | None:
    """The order the refund names, if there is one (the domain answers for a missing one)."""
    domain = domain_of(request)
    if draft.out_trade_no is not None:
        return domain.refunds.order_of(draft.mchid, draft.out_trade_no)
    try:
        return domain.orders.find(draft.mchid, transaction_id=draft.transaction_id, sp_mchid=draft.sp_mchid)
    except DomainError:
        return None


async def refund(request: Request) -> Response:
    c = await v2_call(request)
    settings = request.app.state.settings
    if settings.tls and not tls.presented_by(request.scope, c.merchant):
        raise protocol_error("CERT_ERROR", "证书错误: 请使用该商户的API证书(apiclient_cert.pem)发起请求")
    order, made = await call(request, _created, c, request)
    fields = {
        **render.order_amounts(order),
        "out_refund_no": made.out_refund_no,
        "refund_id": made.refund_id,
        "refund_fee": made.refund,
        "cash_refund_fee": made.refund,
    }
    return success(request, c, fields)


def _queried(c: V2Call, request: Request) -> tuple[Order, list[Refund]]:
    domain = domain_of(request)
    mchid, sp_mchid = _party(c)
    if sp_mchid is not None:
        domain.merchants.sub_merchant(sp_mchid, mchid)
    keys = {k: c.get(k) for k in ("refund_id", "out_refund_no", "transaction_id", "out_trade_no")}
    if all(v is None for v in keys.values()):
        raise V2Error("LACK_PARAMS", "缺少参数: transaction_id、out_trade_no、out_refund_no、refund_id四选一")
    try:
        order, refunds = domain.find_refunds(mchid, sp_mchid, **keys)
    except DomainError as exc:
        if exc.code in (ErrorCode.RESOURCE_NOT_EXISTS, ErrorCode.ORDER_NOT_EXIST):
            raise V2Error("REFUNDNOTEXIST", "退款订单查询失败: 没有找到退款单") from exc
        raise
    if render.is_sandbox(order) != c.sandbox:
        raise V2Error("REFUNDNOTEXIST", "退款订单查询失败: 没有找到退款单")
    return order, refunds


async def refundquery(request: Request) -> Response:
    c = await v2_call(request)
    order, refunds = await call(request, _queried, c, request)
    offset = c.get("offset")
    start = int(offset) if offset is not None and wire.is_digits(offset) and len(offset) < 10 else None
    if offset is not None and (start is None or render.offset_beyond(refunds, start)):
        raise V2Error("PARAM_ERROR", "offset参数错误: 超过了退款单总笔数total_refund_count")
    fields = {**render.order_amounts(order), **render.refund_list(refunds, start)}
    return success(request, c, fields)


def _routes(path: str, name: str, op: str) -> Any:
    """POST (in the API reference), and the other methods, which answer REQUIRE_POST_METHOD."""

    def register(endpoint: Any) -> Any:
        router.api_route(path, methods=["POST"], name=name, **operation(op))(endpoint)
        others = [m for m in METHODS if m != "POST"]
        hidden = router.api_route(
            path, methods=others, name=f"{name}.not_post", include_in_schema=False, **operation(op)
        )
        return hidden(endpoint)

    return register


for _prefix in PREFIXES:
    _routes(f"{_prefix}/secapi/pay/refund", f"v2.refund{_prefix}", "v2.refund")(refund)
    _routes(f"{_prefix}/pay/refundquery", f"v2.refundquery{_prefix}", "v2.refundquery")(refundquery)
    if _prefix:  # the simulation system also took refunds without /secapi/
        _routes(f"{_prefix}/pay/refund", f"v2.refund{_prefix}.plain", "v2.refund")(refund)
