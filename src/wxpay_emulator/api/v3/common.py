"""What every APIv3 router shares: authentication with fault injection, the signer's-mchid rule, the
prepay answer, and the parts of a prepay body that direct and partner orders have in common."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.faults import Faults, declared_operation
from wxpay_emulator.api.v3.auth import authenticate
from wxpay_emulator.api.v3.errors import FAULT_STATUS, V3Error, from_domain
from wxpay_emulator.api.v3.parsing import param_error
from wxpay_emulator.api.v3.wire import SceneInfo
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.extras import OrderExtras
from wxpay_emulator.wire import parse_rfc3339


async def authenticated(request: Request) -> tuple[Merchant, bytes]:
    """Verify the request, then answer an armed fault of the route's operation if there is one."""
    settings = request.app.state.settings
    merchant, body = await authenticate(request, domain_of(request), settings.max_clock_skew_seconds)
    faults: Faults = request.app.state.faults
    operation = declared_operation(request)
    request.state.tamper = faults.take_tamper(operation)  # applied by auth.signed_response (tamper.py)
    fault = faults.pop(operation)
    if fault is not None:
        raise V3Error(FAULT_STATUS[fault.code], fault.code, fault.message)
    return merchant, body


def same_merchant(mchid: str, merchant: Merchant, field: str = "mchid", location: str = "请求参数") -> str:
    """WeChat refuses a body or query merchant number other than the one that signed the request."""
    if mchid != merchant.mchid:
        raise V3Error(400, "INVALID_REQUEST", f"{location}中的{field}与Authorization中的mchid不一致")
    return mchid


def time_expire(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_rfc3339(value)  # with seconds and an offset (wire.parse_rfc3339)
    except ValueError as exc:
        raise param_error("time_expire", value, "不符合rfc3339格式") from exc


def require_h5_info(kind: str, scene_info: SceneInfo | None) -> None:
    if kind == "h5" and (scene_info is None or scene_info.h5_info is None):
        raise param_error("scene_info.h5_info", None, "H5下单此字段为必填项")


def extras_of(req: Any) -> dict[str, Any]:
    """What the order keeps as given, in the one stored form (extras.py)."""
    given = req.model_dump(
        include={"detail", "scene_info", "settle_info", "support_fapiao"}, exclude_none=True
    )
    return OrderExtras.given(**given).stored()


def prepay_answer(kind: str, prepay_id: str | None, request: Request) -> dict[str, str]:
    """``prepay_id`` (JSAPI, APP), ``code_url`` (Native, the QR content) or ``h5_url`` (H5: the
    emulator's checkout page, where a person plays the payer)."""
    assert prepay_id is not None, "only orders with their own prepay are placed through these routes"
    if kind == "native":
        return {"code_url": f"weixin://wxpay/bizpayurl?pr={prepay_id}"}
    if kind == "h5":
        base = str(request.base_url).rstrip("/")
        return {"h5_url": f"{base}/emulator/v1/checkout?prepay_id={prepay_id}"}
    return {"prepay_id": prepay_id}


async def bound_sub_merchant(request: Request, sp_mchid: str, sub_mchid: str, location: str) -> None:
    """``sub_mchid`` must be bound to the provider ``sp_mchid`` (MCH_NOT_EXISTS / NO_AUTH otherwise),
    the refusal located where the caller sent it: ``"body"`` or ``"query"`` (seed 002's query)."""
    try:
        await call(request, domain_of(request).merchants.sub_merchant, sp_mchid, sub_mchid)
    except DomainError as exc:
        err = from_domain(exc)
        if err.detail is not None:
            err.detail["location"] = location
        raise err from exc
