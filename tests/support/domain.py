"""Orders, payments and merchant setups made through the domain (in process, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from wxpay_emulator.domain.models import KeyMode, Merchant, Order, OrderDraft, PaymentResult
from wxpay_emulator.domain.services import Domain

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
NOTIFY_URL = "http://127.0.0.1:1/notify"  # port 1: never delivered while a test looks
SUB_APPID = "wx2222222222222222"


def order_draft(m: Merchant, out_trade_no: str = "ORDER0001", **changes: Any) -> OrderDraft:
    """A direct APIv3 JSAPI order of ``m`` (seed 002's example values); ``changes`` replace fields."""
    base = OrderDraft(
        mchid=m.mchid,
        appid=m.appid,
        out_trade_no=out_trade_no,
        trade_type="JSAPI",
        description="Image形象店-深圳腾大-QQ公仔",
        total=100,
        currency="CNY",
        notify_url=NOTIFY_URL,
        family="v3",
        payer_openid=OPENID,
    )
    return replace(base, **changes)


def paid_order(
    domain: Domain, m: Merchant, out_trade_no: str = "ORDER0001", total: int = 100, **changes: Any
) -> Order:
    """Place ``order_draft(m, out_trade_no, total=total, **changes)`` and pay it successfully."""
    domain.orders.place(order_draft(m, out_trade_no, total=total, **changes))
    return domain.orders.pay(result=PaymentResult.SUCCESS, mchid=m.mchid, out_trade_no=out_trade_no)


@dataclass(frozen=True)
class PartnerParties:
    """A service provider (certificate mode), its sub-merchant (bound to ``SUB_APPID``) and a merchant
    bound to neither."""

    provider: Merchant
    sub: Merchant
    stranger: Merchant


def partner_parties(domain: Domain) -> PartnerParties:
    provider = domain.merchants.create(None, None, KeyMode.CERT)
    sub = domain.merchants.create(None, None, KeyMode.PUBKEY, (SUB_APPID,), provider.mchid)
    stranger = domain.merchants.create(None, None, KeyMode.PUBKEY)
    return PartnerParties(provider, sub, stranger)


def partner_draft(provider: Merchant, sub: Merchant, **changes: Any) -> OrderDraft:
    """A partner JSAPI order of ``sub`` placed by ``provider`` with both openids."""
    base = OrderDraft(
        mchid=sub.mchid,
        appid=provider.appid,
        out_trade_no="PARTNER001",
        trade_type="JSAPI",
        description="partner",
        total=88,
        currency="CNY",
        notify_url="http://127.0.0.1:1/n",
        family="v3",
        payer_openid="o-sp",
        sp_mchid=provider.mchid,
        sub_appid=SUB_APPID,
        sub_openid="o-sub",
    )
    return replace(base, **changes)


def combine_parties(domain: Domain) -> tuple[Merchant, Merchant]:
    """A combine initiator and a merchant bound to the initiator's appid (a combine's sub-orders may
    belong to either)."""
    initiator = domain.merchants.create(None, None, KeyMode.PUBKEY, ())
    partner = domain.merchants.create(None, None, KeyMode.PUBKEY, (initiator.appid,))
    return initiator, partner
