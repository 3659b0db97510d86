"""APIv3 partner (服务商 / 电商平台) shapes: the prepay request and seed 002's transaction JSON."""

from __future__ import annotations

from typing import Any

from wxpay_emulator.wire.v3 import S32, S128, PrepayFields, _Model


class PartnerPayer(_Model):
    sp_openid: S128 | None = None
    sub_openid: S128 | None = None


class PartnerPrepayRequest(PrepayFields):
    """Body of ``POST /v3/pay/partner/transactions/{jsapi,app,h5,native}``."""

    sp_appid: S32
    sp_mchid: S32
    sub_appid: S32 | None = None
    sub_mchid: S32
    payer: PartnerPayer | None = None


class PartnerCloseRequest(_Model):
    sp_mchid: S32
    sub_mchid: S32


def partner_transaction_json(
    *,
    sp_appid: str,
    sp_mchid: str,
    sub_appid: str | None,
    sub_mchid: str,
    out_trade_no: str,
    trade_type: str,
    trade_state: str,
    trade_state_desc: str,
    total: int,
    currency: str,
    transaction_id: str | None,
    bank_type: str | None,
    attach: str | None,
    success_time: str | None,
    sp_openid: str | None,
    sub_openid: str | None,
    payer_total: int | None,
    device_id: str | None,
) -> dict[str, Any]:
    """Seed 002's response: the paid-only fields appear once the order has been paid."""
    body: dict[str, Any] = {
        "sp_appid": sp_appid,
        "sp_mchid": sp_mchid,
        "sub_mchid": sub_mchid,
        "out_trade_no": out_trade_no,
        "trade_state": trade_state,
        "trade_state_desc": trade_state_desc,
        "payer": {},
        "amount": {"total": total, "currency": currency},
    }
    if sub_appid:
        body["sub_appid"] = sub_appid
    if transaction_id is not None:
        body.update(transaction_id=transaction_id, trade_type=trade_type, bank_type=bank_type)
        if attach:
            body["attach"] = attach
        body["success_time"] = success_time
        body["amount"].update(payer_total=payer_total, payer_currency=currency)
        payer = {"sp_openid": sp_openid, "sub_openid": sub_openid}
        body["payer"] = {k: v for k, v in payer.items() if v}
    if device_id:
        body["scene_info"] = {"device_id": device_id}
    return body
