"""APIv2 request models (pydantic v2), with WeChat's own codes and messages.

An APIv2 body is flat text (``<xml>`` elements, an empty one counting as absent, as in the sign), so
the models take ``str`` fields and a refusal is one :class:`V2Error`. WeChat reports one problem per
answer, in a fixed order (the unified order page and what the real API answers): a missing required
field first (in the order below), then a field too long, then a malformed value, then combinations of
fields, then the times. Pydantic collects every error of a stage; :func:`first_refusal` picks the one
WeChat names, so the answer does not depend on which fields a merchant happened to get wrong too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, StringConstraints, ValidationError, field_validator
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError

from wxpay_emulator import wire as shared
from wxpay_emulator.api.v2 import wire
from wxpay_emulator.api.v2.errors import V2Error

TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-|*]{1,32}$")
MAX_TOTAL_FEE = 10**11
# What WeChat checks first: the required fields, in the order it names a missing one.
REQUIRED = ("body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
# Fields too long, in the order they are checked (the limits are the models' annotations, from the
# unified order page).
LENGTH_ORDER = (
    "device_info",
    "nonce_str",
    "body",
    "detail",
    "attach",
    "fee_type",
    "spbill_create_ip",
    "goods_tag",
    "notify_url",
    "product_id",
    "limit_pay",
    "openid",
    "sub_openid",
    "scene_info",
    "receipt",
)
# The malformed values, in the order they are checked.
FORMATS = (
    "out_trade_no",
    "total_fee",
    "spbill_create_ip",
    "trade_type",
    "fee_type",
    "notify_url",
    "scene_info",
)


S8 = Annotated[str, StringConstraints(max_length=8)]
S16 = Annotated[str, StringConstraints(max_length=16)]
S32 = Annotated[str, StringConstraints(max_length=32)]
S64 = Annotated[str, StringConstraints(max_length=64)]
S127 = Annotated[str, StringConstraints(max_length=127)]
S128 = Annotated[str, StringConstraints(max_length=128)]
S256 = Annotated[str, StringConstraints(max_length=256)]
S6000 = Annotated[str, StringConstraints(max_length=6000)]


def refusal(code: str, message: str) -> PydanticCustomError:
    """A validator's refusal carrying WeChat's code and message."""
    return PydanticCustomError("v2", "{message}", {"code": code, "message": message})


class UnifiedOrderRequest(BaseModel):
    """统一下单 (``/pay/unifiedorder``): the fields the emulator reads; others are ignored."""

    model_config = ConfigDict(extra="ignore")

    body: S128
    out_trade_no: str
    total_fee: int
    spbill_create_ip: S64
    notify_url: S256
    trade_type: str
    device_info: S32 | None = None
    nonce_str: S32 | None = None  # required, but its absence is refused before (common.caller)
    detail: S6000 | None = None
    attach: S127 | None = None
    fee_type: S16 | None = None
    goods_tag: S32 | None = None
    product_id: S32 | None = None
    limit_pay: S32 | None = None
    openid: S128 | None = None
    sub_openid: S128 | None = None
    scene_info: S256 | None = None
    receipt: S8 | None = None
    sub_mch_id: str | None = None
    sub_appid: str | None = None
    time_start: str | None = None
    time_expire: str | None = None
    _times: dict[str, dt.datetime] = PrivateAttr(default_factory=dict)

    @field_validator("out_trade_no")
    @classmethod
    def _out_trade_no(cls, value: str) -> str:
        if not OUT_TRADE_NO.match(value):
            raise refusal(
                "INVALID_REQUEST", "out_trade_no参数格式错误，只能是数字、大小写字母_-|*且在32位以内"
            )
        return value

    @field_validator("total_fee", mode="before")
    @classmethod
    def _total_fee(cls, value: object) -> int:
        if not isinstance(value, str) or not wire.is_digits(value) or not 0 < int(value) <= MAX_TOTAL_FEE:
            raise refusal("INVALID_REQUEST", "total_fee参数格式错误，须为正整数，单位为分")
        return int(value)

    @field_validator("spbill_create_ip")
    @classmethod
    def _spbill_create_ip(cls, value: str) -> str:
        try:
            return shared.check_ip(value)
        except ValueError:
            raise refusal("INVALID_REQUEST", "spbill_create_ip参数格式错误，须为IPv4或IPv6地址") from None

    @field_validator("scene_info")
    @classmethod
    def _scene_info(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                shared.json_object(value)
            except ValueError:
                raise refusal("INVALID_REQUEST", "scene_info参数格式错误，须为JSON对象") from None
        return value

    @field_validator("trade_type")
    @classmethod
    def _trade_type(cls, value: str) -> str:
        if value not in TRADE_TYPES:
            raise refusal("INVALID_REQUEST", f"trade_type参数错误，取值为{'、'.join(TRADE_TYPES)}")
        return value

    @field_validator("fee_type")
    @classmethod
    def _fee_type(cls, value: str | None) -> str | None:
        if value is not None and value != "CNY":
            raise refusal("INVALID_REQUEST", "fee_type参数错误，境内商户仅支持CNY")
        return value

    @field_validator("notify_url")
    @classmethod
    def _notify_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or "?" in value:
            raise refusal("INVALID_REQUEST", "notify_url参数格式错误，须为不带参数的http(s)地址")
        return value

    @_model_validator(mode="after")
    def _combinations(self) -> UnifiedOrderRequest:
        if self.trade_type == "JSAPI" and self.openid is None and self.sub_openid is None:
            raise refusal("LACK_PARAMS", "缺少参数openid: trade_type=JSAPI时openid为必填参数")
        if self.sub_openid is not None and (self.sub_mch_id is None or self.sub_appid is None):
            raise refusal("INVALID_REQUEST", "传sub_openid时须同时传sub_mch_id和sub_appid")
        if self.trade_type == "NATIVE" and self.product_id is None:
            raise refusal("LACK_PARAMS", "缺少参数product_id: trade_type=NATIVE时product_id为必填参数")
        if self.trade_type == "MWEB" and self.scene_info is None:
            raise refusal("LACK_PARAMS", "缺少参数scene_info: trade_type=MWEB时scene_info为必填参数")
        for name in ("time_start", "time_expire"):
            value = getattr(self, name)
            if value is not None:
                try:
                    self._times[name] = wire.parse_time(value)
                except ValueError as exc:
                    raise refusal("INVALID_REQUEST", f"{name}参数格式错误，须为yyyyMMddHHmmss") from exc
        return self

    @property
    def expire_at(self) -> dt.datetime | None:
        return self._times.get("time_expire")


def _rank(error: Mapping[str, Any]) -> tuple[int, int]:
    field = str(error["loc"][0]) if error.get("loc") else ""
    if error["type"] == "missing":
        return 0, REQUIRED.index(field) if field in REQUIRED else len(REQUIRED)
    if error["type"] == "string_too_long":
        return 1, LENGTH_ORDER.index(field) if field in LENGTH_ORDER else len(LENGTH_ORDER)
    return 2, FORMATS.index(field) if field in FORMATS else len(FORMATS)


def first_refusal(exc: ValidationError) -> V2Error:
    """The one error WeChat would answer, as a V2Error."""
    error = min(exc.errors(), key=_rank)
    field = str(error["loc"][0]) if error.get("loc") else ""
    ctx = error.get("ctx") or {}
    if error["type"] == "missing":
        return V2Error("LACK_PARAMS", f"缺少参数{field}")
    if error["type"] == "string_too_long":
        return V2Error("INVALID_REQUEST", f"{field}参数长度有误，不能超过{ctx['max_length']}个字符")
    if error["type"] == "v2":
        return V2Error(str(ctx["code"]), str(ctx["message"]))
    return V2Error("INVALID_REQUEST", f"{field}参数格式错误")


def parse_unifiedorder(fields: Mapping[str, str]) -> UnifiedOrderRequest:
    """The request's fields (an empty element counting as absent), validated, or the V2Error WeChat
    answers."""
    present = {k: v for k, v in fields.items() if v}
    try:
        return UnifiedOrderRequest.model_validate(present)
    except ValidationError as exc:
        raise first_refusal(exc) from None
