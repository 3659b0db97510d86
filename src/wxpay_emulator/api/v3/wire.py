"""APIv3 direct-merchant shapes: the prepay requests (JSAPI, APP, H5, Native) and the transaction JSON.

Field names, lengths and required-ness follow WeChat's direct-merchant pages (and seed 002/004 for the
conventions). Models are strict: ``"total": "100"`` is a PARAM_ERROR, as at WeChat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from wxpay_emulator.wire import OUT_TRADE_NO_PATTERN, PARTNER_OUT_TRADE_NO_PATTERN, check_ip, reject_nul

__all__ = ["OUT_TRADE_NO_PATTERN", "PARTNER_OUT_TRADE_NO_PATTERN"]  # re-exported for api/v3/parsing.py


S16 = Annotated[str, StringConstraints(min_length=1, max_length=16)]
S32 = Annotated[str, StringConstraints(min_length=1, max_length=32)]
S45 = Annotated[str, StringConstraints(min_length=1, max_length=45)]
S64 = Annotated[str, StringConstraints(min_length=1, max_length=64)]
S127 = Annotated[str, StringConstraints(min_length=1, max_length=127)]
S128 = Annotated[str, StringConstraints(min_length=1, max_length=128)]
S256 = Annotated[str, StringConstraints(min_length=1, max_length=256)]
S512 = Annotated[str, StringConstraints(min_length=1, max_length=512)]
# WeChat's integers are 32-bit (fen, counts): a larger one is a PARAM_ERROR, not an overflow.
INT32_MAX = 2**31 - 1
Int32 = Annotated[int, Field(ge=0, le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(ge=1, le=INT32_MAX)]


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    _no_nul = field_validator("*", mode="after")(reject_nul)


class Amount(_Model):
    total: PositiveInt32
    currency: S16 = "CNY"


class Payer(_Model):
    openid: S128


class GoodsDetail(_Model):
    merchant_goods_id: S32
    wechatpay_goods_id: S32 | None = None
    goods_name: S256 | None = None
    quantity: PositiveInt32
    unit_price: Int32


class Detail(_Model):
    cost_price: Int32 | None = None
    invoice_id: S32 | None = None
    goods_detail: list[GoodsDetail] | None = Field(default=None, max_length=6000)


class StoreInfo(_Model):
    id: S32
    name: S256 | None = None
    area_code: S32 | None = None
    address: S512 | None = None


class H5Info(_Model):
    type: S32
    app_name: S64 | None = None
    app_url: S128 | None = None
    bundle_id: S128 | None = None
    package_name: S128 | None = None


# payer_client_ip: IPv4 or IPv6 (wire.check_ip).
IpAddress = Annotated[str, StringConstraints(min_length=1, max_length=45), AfterValidator(check_ip)]


class SceneInfo(_Model):
    payer_client_ip: IpAddress
    device_id: S32 | None = None
    store_info: StoreInfo | None = None
    h5_info: H5Info | None = None


class SettleInfo(_Model):
    profit_sharing: bool | None = None


def _reachable_url(value: str) -> str:
    """notify_url must be an http(s) URL with a host and a valid port (WeChat refuses others; a port
    like 99999 would otherwise make every delivery fail before it starts)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    _ = parts.port  # raises ValueError when out of range
    return value


NotifyUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^https?://\S+$"),
    AfterValidator(_reachable_url),
]
OutTradeNo = Annotated[str, StringConstraints(pattern=OUT_TRADE_NO_PATTERN)]
# Seed 002 (partner): digits, letters and _-* only.
PartnerOutTradeNo = Annotated[str, StringConstraints(pattern=PARTNER_OUT_TRADE_NO_PATTERN)]


class PrepayFields(_Model):
    """What a direct and a partner prepay body have in common (the merchant fields differ)."""

    description: S127
    out_trade_no: OutTradeNo
    time_expire: S64 | None = None
    attach: S128 | None = None
    notify_url: NotifyUrl
    goods_tag: S32 | None = None
    support_fapiao: bool | None = None
    amount: Amount
    detail: Detail | None = None
    scene_info: SceneInfo | None = None
    settle_info: SettleInfo | None = None


class DirectPrepayRequest(PrepayFields):
    """Body of ``POST /v3/pay/transactions/{jsapi,app,h5,native}``."""

    appid: S32
    mchid: S32
    payer: Payer | None = None


# The prepay kinds of the path, and the trade_type WeChat reports for each.
TRADE_TYPES: dict[str, str] = {"jsapi": "JSAPI", "app": "APP", "h5": "MWEB", "native": "NATIVE"}


@dataclass(frozen=True)
class Settlement:
    """The state and money of one order as every transaction JSON shows them (the query API and the
    decrypted notification of direct, partner and combine orders); the families differ in the names
    of the parties and of a few amount fields."""

    out_trade_no: str
    trade_type: str
    trade_state: str
    trade_state_desc: str
    total: int
    currency: str
    transaction_id: str | None
    bank_type: str | None
    attach: str | None
    success_time: str | None
    payer_total: int | None
    device_id: str | None


def transaction_body(parties: dict[str, Any], s: Settlement, payer: dict[str, Any]) -> dict[str, Any]:
    """As at WeChat, the paid-only fields (transaction_id, trade_type, bank_type, success_time, attach,
    payer_total, payer) appear once the order has been paid."""
    body: dict[str, Any] = {
        **parties,
        "out_trade_no": s.out_trade_no,
        "trade_state": s.trade_state,
        "trade_state_desc": s.trade_state_desc,
        "amount": {"total": s.total, "currency": s.currency},
        "payer": {},
    }
    if s.transaction_id is not None:
        body.update(transaction_id=s.transaction_id, trade_type=s.trade_type, bank_type=s.bank_type)
        if s.attach:
            body["attach"] = s.attach
        body["success_time"] = s.success_time
        body["amount"].update(payer_total=s.payer_total, payer_currency=s.currency)
        body["payer"] = payer
    if s.device_id:
        body["scene_info"] = {"device_id": s.device_id}
    return body


def transaction_json(
    *, appid: str, mchid: str, settlement: Settlement, payer_openid: str | None
) -> dict[str, Any]:
    """The direct-merchant transaction JSON."""
    return transaction_body({"appid": appid, "mchid": mchid}, settlement, {"openid": payer_openid})


class CloseRequest(_Model):
    """Body of ``POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close``."""

    mchid: S32
