"""APIv3 combine (合单) shapes, seed 004: the prepay request and the combine query JSON."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

from wxpay_emulator.api.v3.wire import (
    S16,
    S32,
    S64,
    S127,
    S128,
    IpAddress,
    NotifyUrl,
    PositiveInt32,
    Settlement,
    _Model,
)
from wxpay_emulator.wire import COMBINE_OUT_TRADE_NO_PATTERN

# Seed 004: 6-32 characters of digits, letters and _-|*.
COMBINE_OUT_TRADE_NO = Annotated[str, StringConstraints(pattern=COMBINE_OUT_TRADE_NO_PATTERN)]


class CombineSceneInfo(_Model):
    device_id: S16 | None = None
    payer_client_ip: IpAddress


class SubOrderAmount(_Model):
    total_amount: PositiveInt32
    currency: S16 = "CNY"


class SubOrderSettleInfo(_Model):
    profit_sharing: bool | None = None


class SubOrder(_Model):
    mchid: S32
    attach: S128
    amount: SubOrderAmount
    out_trade_no: COMBINE_OUT_TRADE_NO
    detail: Annotated[str, StringConstraints(min_length=1, max_length=6000)] | None = None
    description: S127
    settle_info: SubOrderSettleInfo | None = None
    goods_tag: S32 | None = None


class CombinePayerInfo(_Model):
    openid: S128 | None = None


class CombinePrepayRequest(_Model):
    """Body of ``POST /v3/combine-transactions/{app,jsapi,h5,native}``."""

    combine_appid: S32
    combine_out_trade_no: COMBINE_OUT_TRADE_NO
    combine_mchid: S32
    scene_info: CombineSceneInfo | None = None
    sub_orders: list[SubOrder] = Field(min_length=2, max_length=10)
    combine_payer_info: CombinePayerInfo | None = None
    time_expire: S64 | None = None
    notify_url: NotifyUrl


class CloseSubOrder(_Model):
    mchid: S32
    out_trade_no: COMBINE_OUT_TRADE_NO


class CombineCloseRequest(_Model):
    combine_appid: S32
    sub_orders: list[CloseSubOrder] = Field(min_length=1, max_length=10)


def combine_sub_order_json(mchid: str, s: Settlement) -> dict[str, Any]:
    """One entry of a combine query's ``sub_orders`` (``total_amount``/``payer_amount`` here)."""
    sub: dict[str, Any] = {
        "mchid": mchid,
        "trade_type": s.trade_type,
        "trade_state": s.trade_state,
        "out_trade_no": s.out_trade_no,
        "amount": {"total_amount": s.total, "currency": s.currency},
    }
    if s.attach:
        sub["attach"] = s.attach
    if s.transaction_id is not None:
        sub.update(transaction_id=s.transaction_id, bank_type=s.bank_type, success_time=s.success_time)
        sub["amount"].update(payer_amount=s.payer_total, payer_currency=s.currency)
    return sub


def combine_json(
    *,
    combine_appid: str,
    combine_mchid: str,
    combine_out_trade_no: str,
    device_id: str | None,
    sub_orders: list[dict[str, Any]],
    payer_openid: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "combine_appid": combine_appid,
        "combine_mchid": combine_mchid,
        "combine_out_trade_no": combine_out_trade_no,
        "sub_orders": sub_orders,
        "combine_payer_info": {"openid": payer_openid} if payer_openid else {},
    }
    if device_id:
        body["scene_info"] = {"device_id": device_id}
    return body
