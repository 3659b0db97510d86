"""Cloud hosting ``/_/pay/*`` (seed 001) and cloud functions ``/_/cloudpay/*`` (seed 003).

A cloud order is a partner order of the emulator's cloud provider (domain/cloud_pay.py): ``sub_mch_id``
is the merchant, and the calling Mini Program, which cloud hosting names in the ``X-WX-APPID`` header
(``Settings.cloud_appid`` when absent), is its ``sub_appid``. The callback goes to the registered
container service or cloud function (``POST /emulator/v1/cloud/services`` / ``functions``).

Hosting answers ``{"errcode": 0, "errmsg": "ok", "respdata": {...}}``; functions answer the
wx-server-sdk result ``{"errCode": 0, "errMsg": "cloudPay.<op>:ok", "returnCode": ...}``. Business
failures are ``result_code`` FAIL with seed 001's ``err_code``; in the function result that field is
camelCased to ``errCode`` and, as the SDK spreads the v2 fields over its own, replaces the 0 (e.g.
``"errCode": "ORDERPAID"``). Only a body that is not a JSON object answers errcode -1. HTTP 200 always.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.responses import Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.cloud import render
from wxpay_emulator.api.cloud.errors import DESCRIPTIONS, ENVELOPE_FAULT, SEED_001_CODES, cloud_error_of
from wxpay_emulator.api.cloud.shape import function_error, function_operation, hosting_error
from wxpay_emulator.api.cloud.wire import (
    LACK_PARAMS,
    CloudBadRequest,
    FunctionOrderRef,
    FunctionUnifiedOrder,
    HostingOrderRef,
    HostingUnifiedOrder,
    camel_keys,
    parse,
    sub_mch_id_named,
)
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import Faults, declared_operation, operation
from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.domain.cloud import container_address, function_address
from wxpay_emulator.domain.cloud_pay import (
    FUNCTION_FAMILY,
    HOSTING_FAMILY,
    CloudPayService,
    ensure_provider,
)
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import Merchant, OrderDraft

router = new_router()

CALLER_HEADER = "X-WX-APPID"


def caller_appid(request: Request) -> str:
    """The calling Mini Program: cloud hosting's ``X-WX-APPID`` header, else the configured default."""
    given = request.headers.get(CALLER_HEADER, "").strip()
    default: str = request.app.state.settings.cloud_appid
    return given or default


def draft_of(req: HostingUnifiedOrder | FunctionUnifiedOrder, provider: Merchant, caller: str) -> OrderDraft:
    """Seed 001/003 names -> the domain's partner order (the one place ``total_fee`` is read)."""
    if isinstance(req, HostingUnifiedOrder):
        kind, name, path = req.callback()
        family = HOSTING_FAMILY
        if req.openid is None and req.sub_openid is None:
            raise CloudBadRequest(LACK_PARAMS, "openid or sub_openid is required for trade_type JSAPI")
    else:
        kind, name, path = "function", req.function_name, ""
        family = FUNCTION_FAMILY
    if kind == "container":
        notify_url = container_address(req.env_id, name, path)
    else:
        notify_url = function_address(req.env_id, name)
    return OrderDraft(
        mchid=req.sub_mch_id,
        appid=provider.appid,
        out_trade_no=req.out_trade_no,
        trade_type=req.trade_type,
        description=req.body,
        total=req.total_fee,
        currency=req.fee_type,
        notify_url=notify_url,
        family=family,
        time_expire=req.expire_at(),
        attach=req.attach,
        goods_tag=req.goods_tag,
        payer_openid=req.openid or req.sub_openid,
        extras=req.extras(),
        sp_mchid=provider.mchid,
        sub_appid=caller,
        sub_openid=req.sub_openid or req.openid,
    )


def answer(request: Request, data: dict[str, Any]) -> Response:
    """``data`` (snake_case) in the family's envelope: hosting ``respdata``, functions camelCased."""
    path = request.url.path
    if path.startswith("/_/cloudpay/"):
        op = function_operation(path)
        return JSONResponse({"errCode": 0, "errMsg": f"cloudPay.{op}:ok", **camel_keys(data)})
    return JSONResponse({"errcode": 0, "errmsg": "ok", "respdata": data})


def refused(request: Request, message: str) -> Response:
    """A body that is not a JSON object: the family's errcode -1 envelope."""
    path = request.url.path
    return function_error(path, message) if path.startswith("/_/cloudpay/") else hosting_error(message)


async def armed_fault(request: Request, provider: Merchant, caller: str, function: bool) -> Response | None:
    """The answer of an armed fault of the route's operation (``POST /emulator/v1/faults``), if any:
    "-1" is the envelope's errcode -1; a seed 001 code is result_code FAIL with that err_code, echoing
    the request's well-formed sub_mch_id as every refusal with return_code SUCCESS does."""
    faults: Faults = request.app.state.faults
    fault = faults.pop(declared_operation(request))
    if fault is None:
        return None
    if fault.code == ENVELOPE_FAULT:
        return refused(request, fault.message)
    ids = domain_of(request).ids
    description = fault.message if fault.custom else SEED_001_CODES[fault.code]
    sub_mch_id = sub_mch_id_named(await request.body(), camel=function)
    return answer(request, render.failure(provider, caller, sub_mch_id, fault.code, description, ids))


async def _handle(request: Request, operation: str) -> Response:
    """Parse, one domain call, render; every refusal in the family's shape."""
    domain = domain_of(request)
    service = CloudPayService(domain.merchants, domain.orders)
    provider = await call(request, ensure_provider, domain.merchants)
    caller = caller_appid(request)
    function = request.url.path.startswith("/_/cloudpay/")
    faulted = await armed_fault(request, provider, caller, function)
    if faulted is not None:
        return faulted
    sub_mch_id: str | None = None
    try:
        raw = await request.body()
        if operation == "unified":
            req: HostingUnifiedOrder | FunctionUnifiedOrder = (
                parse(FunctionUnifiedOrder, raw) if function else parse(HostingUnifiedOrder, raw)
            )
            sub_mch_id = req.sub_mch_id
            order = await call(request, service.place, draft_of(req, provider, caller))
            data = render.unified_order(order, provider, domain.ids)
        else:
            ref = parse(FunctionOrderRef if function else HostingOrderRef, raw)
            sub_mch_id = ref.sub_mch_id
            if operation == "query":
                order = await call(
                    request, service.find, ref.sub_mch_id, ref.out_trade_no, ref.transaction_id
                )
                data = render.query(order, provider, domain.ids)
            else:
                order = await call(
                    request, service.close, ref.sub_mch_id, ref.out_trade_no, ref.transaction_id
                )
                data = render.closed(order, provider, domain.ids)
    except CloudBadRequest as exc:
        if exc.code is None:
            return refused(request, exc.message)
        data = render.failure(
            provider, caller, sub_mch_id or exc.sub_mch_id, exc.code, DESCRIPTIONS[exc.code], domain.ids
        )
    except DomainError as exc:
        err_code, description = cloud_error_of(exc)
        data = render.failure(provider, caller, sub_mch_id, err_code, description, domain.ids)
    return answer(request, data)


# Operations: cloud hosting ``cloud.<seed 001 path>``, cloud functions ``cloudpay.<CloudPay method>``.
@router.post("/_/pay/unifiedorder", **operation("cloud.unifiedorder"))
@router.post("/_/pay/unifiedOrder", **operation("cloud.unifiedorder"))
@router.post("/_/cloudpay/unifiedOrder", **operation("cloudpay.unifiedOrder"))
async def unified_order(request: Request) -> Response:
    return await _handle(request, "unified")


@router.post("/_/pay/queryorder", **operation("cloud.queryorder"))
@router.post("/_/pay/queryOrder", **operation("cloud.queryorder"))
@router.post("/_/cloudpay/queryOrder", **operation("cloudpay.queryOrder"))
async def query_order(request: Request) -> Response:
    return await _handle(request, "query")


@router.post("/_/pay/closeorder", **operation("cloud.closeorder"))
@router.post("/_/pay/closeOrder", **operation("cloud.closeorder"))
@router.post("/_/cloudpay/closeOrder", **operation("cloudpay.closeOrder"))
async def close_order(request: Request) -> Response:
    return await _handle(request, "close")
