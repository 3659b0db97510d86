"""Cloud refunds: hosting ``/_/pay/refund`` and ``/_/pay/queryrefund`` (v2 refund / refundquery names
with ``sub_mch_id``), cloud functions ``CloudPay.refund`` and ``CloudPay.queryRefund`` (the same
camelCased), in the envelopes of routes.py.

A cloud refund is a refund of the cloud provider's (1800780001) partner order, asked for the merchant
``sub_mch_id``. The refund-result callback, when the request names one (``env_id`` + ``callback_type`` +
``container`` / ``function_name``; functions: ``envId`` + ``functionName``), goes to the registered
container service or cloud function once the refund settles (api/cloud/notify.py). Domain refusals
answer ``result_code`` FAIL with errors.py's ``err_code`` and the domain's reason as ``err_code_des``;
queryrefund answers REFUNDNOTEXIST for an unknown order or refund and for an order without refunds.
"""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from wxpay_emulator.api import v2words
from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.cloud import render
from wxpay_emulator.api.cloud.errors import DESCRIPTIONS, REFUND_NOT_EXIST, cloud_error
from wxpay_emulator.api.cloud.routes import answer, armed_fault, caller_appid, refused
from wxpay_emulator.api.cloud.wire import (
    CloudBadRequest,
    FunctionRefund,
    FunctionRefundQuery,
    HostingRefund,
    HostingRefundQuery,
    parse,
)
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import operation
from wxpay_emulator.domain.cloud import container_address, function_address
from wxpay_emulator.domain.cloud_pay import FUNCTION_FAMILY, HOSTING_FAMILY, PROVIDER_MCHID, ensure_provider
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import Order, Refund, RefundDraft
from wxpay_emulator.domain.services import Domain

router = new_router()

NOT_FOUND = (ErrorCode.RESOURCE_NOT_EXISTS, ErrorCode.ORDER_NOT_EXIST)
# Refusals whose err_code_des is the domain's reason (as v2 refund words them), not the table's text.
REASONED = (
    ErrorCode.RESOURCE_NOT_EXISTS,
    ErrorCode.REFUND_AMOUNT_EXCEEDED,
    ErrorCode.OUT_REFUND_NO_USED,
    ErrorCode.REFUND_PERIOD_EXPIRED,
    ErrorCode.INVALID_REQUEST,
    ErrorCode.PARAM_ERROR,
)


def _is_function(request: Request) -> bool:
    return request.url.path.startswith("/_/cloudpay/")


def draft_of(req: HostingRefund | FunctionRefund, function: bool) -> RefundDraft:
    """The request in domain terms; the callback as the symbolic cloud address (None: no callback)."""
    callback = req.refund_callback()
    notify_url: str | None = None
    if callback is not None:
        kind, env_id, name, path = callback
        notify_url = (
            container_address(env_id, name, path) if kind == "container" else function_address(env_id, name)
        )
    return RefundDraft(
        mchid=req.sub_mch_id,
        sp_mchid=PROVIDER_MCHID,
        out_refund_no=req.out_refund_no,
        refund=req.refund_fee,
        total=req.total_fee,
        currency=req.refund_fee_type,
        family=FUNCTION_FAMILY if function else HOSTING_FAMILY,
        transaction_id=req.transaction_id,
        out_trade_no=req.out_trade_no if req.transaction_id is None else None,
        reason=req.refund_desc,
        notify_url=notify_url,
        extras=req.extras(),
    )


def _apply(domain: Domain, draft: RefundDraft) -> tuple[Order, Refund]:
    domain.merchants.sub_merchant(PROVIDER_MCHID, draft.mchid)
    made = domain.refunds.create(draft)
    order = domain.refunds.order_of(made.mchid, made.out_trade_no)
    if order is None:  # the order a refund was just made of is gone: cannot happen
        raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, "订单不存在")
    return order, made


def _lookup(domain: Domain, q: HostingRefundQuery) -> tuple[Order, list[Refund]]:
    """The refunds asked about: one (by refund_id or out_refund_no) or all of one order, oldest first."""
    domain.merchants.sub_merchant(PROVIDER_MCHID, q.sub_mch_id)
    return domain.find_refunds(
        q.sub_mch_id,
        PROVIDER_MCHID,
        refund_id=q.refund_id,
        out_refund_no=q.out_refund_no,
        transaction_id=q.transaction_id,
        out_trade_no=q.out_trade_no,
    )


async def _handle(request: Request, operation: str) -> Response:
    """Parse, one domain call, render; every refusal in the family's shape."""
    domain = domain_of(request)
    provider = await call(request, ensure_provider, domain.merchants)
    caller = caller_appid(request)
    function = _is_function(request)
    faulted = await armed_fault(request, provider, caller, function)
    if faulted is not None:
        return faulted
    sub_mch_id: str | None = None
    try:
        raw = await request.body()
        if operation == "refund":
            req = parse(FunctionRefund, raw) if function else parse(HostingRefund, raw)
            sub_mch_id = req.sub_mch_id
            order, made = await call(request, _apply, domain, draft_of(req, function))
            data = render.refund_applied(order, made, provider, domain.ids)
        else:
            q = parse(FunctionRefundQuery, raw) if function else parse(HostingRefundQuery, raw)
            sub_mch_id = q.sub_mch_id
            order, refunds = await call(request, _lookup, domain, q)
            if v2words.offset_beyond(refunds, q.offset):
                raise CloudBadRequest("PARAM_ERROR", "offset超过了退款单总笔数total_refund_count")
            data = render.refund_query(order, refunds, q.offset, provider, domain.ids)
    except CloudBadRequest as exc:
        if exc.code is None:
            return refused(request, exc.message)
        data = render.failure(
            provider, caller, sub_mch_id or exc.sub_mch_id, exc.code, DESCRIPTIONS[exc.code], domain.ids
        )
    except DomainError as exc:
        if operation == "query" and exc.code in NOT_FOUND:
            err_code, description = REFUND_NOT_EXIST
        else:
            err_code, description = cloud_error(exc.code)
            if exc.code in REASONED:
                description = exc.message
        data = render.failure(provider, caller, sub_mch_id, err_code, description, domain.ids)
    return answer(request, data)


@router.post("/_/pay/refund", **operation("cloud.refund"))
@router.post("/_/cloudpay/refund", **operation("cloudpay.refund"))
async def refund(request: Request) -> Response:
    return await _handle(request, "refund")


@router.post("/_/pay/queryrefund", **operation("cloud.queryrefund"))
@router.post("/_/pay/queryRefund", **operation("cloud.queryrefund"))
@router.post("/_/cloudpay/queryRefund", **operation("cloudpay.queryRefund"))
async def query_refund(request: Request) -> Response:
    return await _handle(request, "query")
