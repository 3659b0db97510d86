"""Cloud payment wire shapes: cloud hosting ``/_/pay/*`` (seed 001, snake_case, the v2 names) and cloud
functions ``CloudPay.*`` (seed 003, the same fields in camelCase).

Requests are JSON objects. A body that is not a JSON object is refused in the ``errcode`` envelope;
an empty body is the seed's ``POST_DATA_EMPTY``, one not in UTF-8 ``NOT_UTF8``, a missing required field
``LACK_PARAMS`` and a field of the wrong type, length or value ``INVALID_REQUEST`` (all in
``respdata``). Models are strict: ``"total_fee": "1"`` is INVALID_REQUEST.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from wxpay_emulator import wire as shared
from wxpay_emulator.extras import OrderExtras
from wxpay_emulator.wire import (
    CLOUD_OUT_TRADE_NO_PATTERN,
    OUT_REFUND_NO_PATTERN,
    check_ip,
    format_time,
    json_object,
    reject_nul,
    reject_nul_deep,
)

__all__ = ["format_time"]  # re-exported for the cloud renderers

LACK_PARAMS = "LACK_PARAMS"
INVALID_REQUEST = "INVALID_REQUEST"
POST_DATA_EMPTY = "POST_DATA_EMPTY"
NOT_UTF8 = "NOT_UTF8"

S8 = Annotated[str, StringConstraints(min_length=1, max_length=8)]
S16 = Annotated[str, StringConstraints(min_length=1, max_length=16)]
S32 = Annotated[str, StringConstraints(min_length=1, max_length=32)]
S64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]
S80 = Annotated[str, StringConstraints(min_length=1, max_length=80)]
S127 = Annotated[str, StringConstraints(min_length=1, max_length=127)]
S128 = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _real_time(text: str) -> str:
    shared.parse_time(text)  # yyyyMMddHHmmss that names a real time (month 13 is refused)
    return text


Time14 = Annotated[str, StringConstraints(pattern=r"^\d{14}$"), AfterValidator(_real_time)]
# Seeds 001 and 003: digits, letters, _- within 32 characters.
OutTradeNo = Annotated[str, StringConstraints(pattern=CLOUD_OUT_TRADE_NO_PATTERN)]
Ip = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(check_ip)]


def _scene_object(value: str | dict[str, Any]) -> dict[str, Any]:
    return json_object(value)  # a JSON string holding an object (seed 001) or the object itself


def _detail_text(value: str | dict[str, Any]) -> str | dict[str, Any]:
    """Text as given, or an object as json_object takes it (no NUL, no number beyond a double: the
    order's extras would refuse it later, past the point where a refusal is the family's answer)."""
    if isinstance(value, dict):
        return json_object(value)
    return reject_nul_deep(value)  # type: ignore[no-any-return]


SceneInfo = Annotated[
    Annotated[str, StringConstraints(max_length=256)] | dict[str, Any], AfterValidator(_scene_object)
]
Detail = Annotated[
    Annotated[str, StringConstraints(max_length=6000)] | dict[str, Any], AfterValidator(_detail_text)
]
OutRefundNo = Annotated[str, StringConstraints(pattern=OUT_REFUND_NO_PATTERN)]
TransactionId = Annotated[str, StringConstraints(min_length=1, max_length=32)]
TotalFee = Annotated[int, Field(ge=1, le=2**31 - 1)]


class CloudBadRequest(Exception):
    """A request the family refuses before the domain sees it. ``code`` None: not a JSON object
    (the ``errcode`` envelope answers); else one of seed 001's codes above (``respdata`` answers).
    ``sub_mch_id``: the request's own, when it named a well-formed one (see ``parse``)."""

    def __init__(self, code: str | None, message: str, sub_mch_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.sub_mch_id = sub_mch_id


# A sub_mch_id a refusal may echo: a merchant number's alphabet, within seed 001's String(32).
_ECHOED_SUB_MCH_ID = re.compile(r"[0-9A-Za-z_\-]{1,32}")


def _echoable(data: dict[str, Any], *, camel: bool) -> str | None:
    value = data.get("subMchId" if camel else "sub_mch_id")
    return value if isinstance(value, str) and _ECHOED_SUB_MCH_ID.fullmatch(value) else None


def sub_mch_id_named(raw: bytes, *, camel: bool) -> str | None:
    """The well-formed sub_mch_id (``subMchId`` for cloud functions) a body names, or None, for a
    refusal decided before the body is parsed (an armed fault) to echo as ``parse``'s refusals do."""
    try:
        data = _json(raw.decode("utf-8"))
    except (UnicodeDecodeError, CloudBadRequest):
        return None
    return _echoable(data, camel=camel) if isinstance(data, dict) else None


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    _no_nul = field_validator("*", mode="after")(reject_nul)


class _Camel(_Model):
    """Seed 003: the same fields, camelCase (``subMchId``, ``totalFee``, ``envId`` ...)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, alias_generator=to_camel)


class Container(_Model):
    service: S64
    path: S64


class _UnifiedFields(_Model):
    """Seed 001's parameter table, less the callback settings (which differ between the families)."""

    sub_mch_id: S32
    body: S128
    out_trade_no: OutTradeNo
    total_fee: TotalFee
    spbill_create_ip: Ip
    env_id: S64
    nonce_str: S32 | None = None
    device_info: S32 | None = None
    detail: Detail | None = None
    attach: S127 | None = None
    fee_type: Literal["CNY"] = "CNY"
    time_start: Time14 | None = None
    time_expire: Time14 | None = None
    goods_tag: S32 | None = None
    trade_type: Literal["JSAPI"] = "JSAPI"
    limit_pay: Literal["no_credit"] | None = None
    openid: S128 | None = None
    sub_openid: S128 | None = None
    receipt: Literal["Y"] | None = None
    scene_info: SceneInfo | None = None

    def extras(self) -> dict[str, Any]:
        """What the order keeps as given, in the one stored form (extras.py; part of the re-entry
        fingerprint, as at WeChat)."""
        keep = (
            "device_info",
            "detail",
            "time_start",
            "limit_pay",
            "receipt",
            "scene_info",
            "spbill_create_ip",
        )
        return OrderExtras.given(**{k: getattr(self, k) for k in keep}).stored()

    def expire_at(self) -> dt.datetime | None:
        return None if self.time_expire is None else parse_time(self.time_expire, "time_expire")


class HostingUnifiedOrder(_UnifiedFields):
    """``POST /_/pay/unifiedorder`` (seed 001): ``callback_type`` 1 names a cloud function
    (``function_name``), 2 a container (``container{service, path}``), both in ``env_id``."""

    callback_type: Literal[1, 2]  # seed 001: 是 (required)
    function_name: S64 | None = None
    container: Container | None = None

    def callback(self) -> tuple[Literal["function", "container"], str, str]:
        """(kind, function name or service, container path), as callback_type names it."""
        kind = self.callback_type
        if kind == 2:
            if self.container is None:
                raise CloudBadRequest(LACK_PARAMS, "container is required when callback_type is 2")
            return "container", self.container.service, self.container.path
        if self.function_name is None:
            raise CloudBadRequest(LACK_PARAMS, "function_name (or container) is required")
        return "function", self.function_name, ""


class FunctionUnifiedOrder(_Camel, _UnifiedFields):
    """``CloudPay.unifiedOrder`` (seed 003): the callback is always the cloud function ``functionName``
    in ``envId``. The payer's openid may be left out (the caller's context supplies it at WeChat)."""

    function_name: S64


class HostingOrderRef(_Model):
    """``/_/pay/queryorder`` and ``/_/pay/closeorder``: the order by out_trade_no or transaction_id."""

    sub_mch_id: S32
    out_trade_no: OutTradeNo | None = None
    transaction_id: TransactionId | None = None
    nonce_str: S32 | None = None


class FunctionOrderRef(_Camel, HostingOrderRef):
    """``CloudPay.queryOrder`` / ``CloudPay.closeOrder``: subMchId, outTradeNo or transactionId."""


class _RefundFields(_Model):
    """v2 refund's parameters with ``sub_mch_id``; the order by transaction_id or out_trade_no."""

    sub_mch_id: S32
    transaction_id: TransactionId | None = None
    out_trade_no: OutTradeNo | None = None
    out_refund_no: OutRefundNo
    total_fee: TotalFee
    refund_fee: TotalFee
    refund_fee_type: Literal["CNY"] = "CNY"
    refund_desc: S80 | None = None
    refund_account: Literal["REFUND_SOURCE_UNSETTLED_FUNDS", "REFUND_SOURCE_RECHARGE_FUNDS"] | None = None
    nonce_str: S32 | None = None

    def extras(self) -> dict[str, Any]:
        """What the refund keeps as given (part of the repeated out_refund_no fingerprint)."""
        return {} if self.refund_account is None else {"refund_account": self.refund_account}


class HostingRefund(_RefundFields):
    """``POST /_/pay/refund``: the refund-result callback, when wanted, is named as in unifiedorder
    (``env_id`` with ``callback_type`` 1 + ``function_name`` or 2 + ``container``); none: no callback."""

    env_id: S64 | None = None
    callback_type: Literal[1, 2] | None = None
    function_name: S64 | None = None
    container: Container | None = None

    def refund_callback(self) -> tuple[Literal["function", "container"], str, str, str] | None:
        """(kind, env_id, function name or service, container path), or None when none is named."""
        if self.callback_type is None and self.function_name is None and self.container is None:
            return None
        kind = self.callback_type or (2 if self.container is not None else 1)
        if self.env_id is None:
            raise CloudBadRequest(LACK_PARAMS, "env_id is required with a refund callback")
        if kind == 2:
            if self.container is None:
                raise CloudBadRequest(LACK_PARAMS, "container is required when callback_type is 2")
            return "container", self.env_id, self.container.service, self.container.path
        if self.function_name is None:
            raise CloudBadRequest(LACK_PARAMS, "function_name (or container) is required")
        return "function", self.env_id, self.function_name, ""


class FunctionRefund(_Camel, _RefundFields):
    """``CloudPay.refund``: the same fields camelCased; the callback, if any, is the cloud function
    ``functionName`` in ``envId``."""

    env_id: S64 | None = None
    function_name: S64 | None = None

    def refund_callback(self) -> tuple[Literal["function", "container"], str, str, str] | None:
        if self.function_name is None:
            return None
        if self.env_id is None:
            raise CloudBadRequest(LACK_PARAMS, "envId is required with functionName")
        return "function", self.env_id, self.function_name, ""


class HostingRefundQuery(_Model):
    """``/_/pay/queryrefund``: v2 refundquery's four ways to name the refunds (one is required)."""

    sub_mch_id: S32
    transaction_id: TransactionId | None = None
    out_trade_no: OutTradeNo | None = None
    out_refund_no: OutRefundNo | None = None
    refund_id: S32 | None = None
    offset: Annotated[int, Field(ge=0)] | None = None
    nonce_str: S32 | None = None


class FunctionRefundQuery(_Camel, HostingRefundQuery):
    """``CloudPay.queryRefund``: subMchId and one of transactionId, outTradeNo, outRefundNo, refundId."""


M = TypeVar("M", bound=_Model)


def parse(model: type[M], raw: bytes) -> M:
    """The request as ``model``, or CloudBadRequest (see the module docstring)."""
    if not raw.strip():
        raise CloudBadRequest(POST_DATA_EMPTY, "the body is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CloudBadRequest(NOT_UTF8, "the body is not UTF-8") from exc
    data = _json(text)
    if not isinstance(data, dict):
        raise CloudBadRequest(None, "the body must be a JSON object")
    data = {k: v for k, v in data.items() if v is not None}  # a null field is a missing one
    # Seed 001's answer table gives sub_mch_id as required whenever return_code is SUCCESS, which a
    # refusal's is: it echoes the request's own when that is well formed, whatever else was refused.
    echo = _echoable(data, camel=issubclass(model, _Camel))
    try:
        parsed = model.model_validate(data)
        _check_reference(parsed)
    except ValidationError as exc:
        raise _refusal(exc.errors(), echo) from exc
    except CloudBadRequest as exc:
        exc.sub_mch_id = echo
        raise
    return parsed


def _check_reference(parsed: _Model) -> None:
    """The order (or refund) must be named one way or another."""
    camel = isinstance(parsed, _Camel)
    if (
        isinstance(parsed, HostingOrderRef | _RefundFields)
        and parsed.out_trade_no is None
        and parsed.transaction_id is None
    ):
        name = "outTradeNo or transactionId" if camel else "out_trade_no or transaction_id"
        raise CloudBadRequest(LACK_PARAMS, f"{name} is required")
    if isinstance(parsed, HostingRefundQuery):
        given = (parsed.transaction_id, parsed.out_trade_no, parsed.out_refund_no, parsed.refund_id)
        if all(v is None for v in given):
            names = ("transactionId", "outTradeNo", "outRefundNo", "refundId")
            if not camel:
                names = ("transaction_id", "out_trade_no", "out_refund_no", "refund_id")
            raise CloudBadRequest(LACK_PARAMS, f"one of {', '.join(names)} is required")


def _json(text: str) -> Any:
    """The body as RFC 8259 JSON (wire.loads), or CloudBadRequest saying why not, in its own words."""
    try:
        return shared.loads(text)
    except RecursionError as exc:  # nesting deeper than any request
        raise CloudBadRequest(None, "invalid JSON body: nested too deeply") from exc
    except shared.NotJSON as exc:  # NaN, Infinity, -Infinity (no position to give)
        raise CloudBadRequest(None, f"invalid JSON body: {exc.msg}") from exc
    except json.JSONDecodeError as exc:
        raise CloudBadRequest(None, f"invalid JSON body: {exc}") from exc
    except ValueError as exc:  # an integer of more than 4300 digits (Python's int conversion limit)
        raise CloudBadRequest(None, "invalid JSON body: a number has too many digits") from exc


def _refusal(errors: Iterable[Any], sub_mch_id: str | None) -> CloudBadRequest:
    listed = list(errors)
    missing = [e for e in listed if e.get("type") == "missing"]
    first = (missing or listed)[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    message = first.get("msg")
    if isinstance(first.get("input"), Decimal) and first.get("type") in ("int_type", "float_type"):
        # a number beyond a double (1e400): out of range, as an over-large integer is
        message = "Input should be a number within range"
    return CloudBadRequest(LACK_PARAMS if missing else INVALID_REQUEST, f"{field}: {message}", sub_mch_id)


def parse_time(text: str, field: str) -> dt.datetime:
    """``time_start`` / ``time_expire``: yyyyMMddHHmmss in Beijing time (seed 001)."""
    try:
        return shared.parse_time(text)
    except ValueError as exc:
        raise CloudBadRequest(INVALID_REQUEST, f"{field}: not a yyyyMMddHHmmss time") from exc


def camel_keys(fields: dict[str, Any]) -> dict[str, Any]:
    """Seed 001's snake_case answer as seed 003 names it (``mch_id`` -> ``mchId``); nested objects such
    as ``payment`` already carry wx.requestPayment's names and are kept."""
    return {to_camel(k): v for k, v in fields.items()}
