"""APIv3 partner (服务商 / 电商平台) shapes: the prepay request and seed 002's transaction JSON."""

from __future__ import annotations

from typing import Any

from wxpay_emulator.api.v3.wire import (
    S32,
    S128,
    PartnerOutTradeNo,
    PrepayFields,
    Settlement,
    _Model,
    transaction_body,
)


class PartnerPayer(_Model):
    sp_openid: S128 | None = None
    sub_openid: S128 | None = None


class PartnerPrepayRequest(PrepayFields):
    """Body of ``POST /v3/pay/partner/transactions/{jsapi,app,h5,native}``."""

    out_trade_no: PartnerOutTradeNo  # seed 002: digits, letters, _-*
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
    settlement: Settlement,
    sp_openid: str | None,
    sub_openid: str | None,
) -> dict[str, Any]:
    """Seed 002's response."""
    parties = {"sp_appid": sp_appid, "sp_mchid": sp_mchid, "sub_mchid": sub_mchid}
    if sub_appid:
        parties["sub_appid"] = sub_appid
    payer = {k: v for k, v in {"sp_openid": sp_openid, "sub_openid": sub_openid}.items() if v}
    return transaction_body(parties, settlement, payer)
