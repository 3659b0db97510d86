"""APIv2 notification bodies: the payment result XML, signed with the order's sign_type and the key of
the merchant that receives it (its sandbox key for orders placed in the simulation system), and the
refund result with its encrypted ``req_info``."""

from __future__ import annotations

import datetime as dt

from wxpay_emulator.api.v2 import render, wire
from wxpay_emulator.crypto import req_info, v2_sign
from wxpay_emulator.domain.models import Merchant, Order, Refund
from wxpay_emulator.domain.notifications import PaymentRenderer, RefundRenderer, RenderedNotification
from wxpay_emulator.ids import Ids


def signing_key(merchant: Merchant, order: Order) -> str:
    return v2_sign.sandbox_key(merchant.api_key) if render.is_sandbox(order) else merchant.api_key


def signed_xml(fields: dict[str, wire.Value | None], key: str, sign_type: str) -> str:
    """The fields with ``sign`` placed in alphabetical order among them (as WeChat sends them)."""
    sign = v2_sign.sign(wire.text_fields(fields), key, sign_type)
    ordered = dict(sorted({**fields, "sign": sign}.items()))
    return wire.render(ordered).decode()


def v2_payment_renderer(ids: Ids) -> PaymentRenderer:
    def render_payment(
        merchant: Merchant, order: Order, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        fields = render.payment_result(order, ids.nonce(32))
        body = signed_xml(fields, signing_key(merchant, order), render.sign_type_of(order))
        return RenderedNotification("TRANSACTION.SUCCESS", body)

    return render_payment


def v2_refund_renderer(ids: Ids) -> RefundRenderer:
    """The refund result notification: an unsigned outer XML whose ``req_info`` is the refund's XML
    (root ``<root>``) encrypted AES-256-ECB with the MD5 of the receiving merchant's API key (its
    sandbox key for simulation orders), as WeChat's refund-notification page describes."""

    def render_refund(
        merchant: Merchant, order: Order, refund: Refund, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        inner = render.refund_result(order, refund)
        plaintext = wire.render(inner, root="root")
        outer: dict[str, wire.Value | None] = {
            "return_code": "SUCCESS",
            "appid": order.appid,
            "mch_id": order.notify_mchid,
            "sub_appid": order.sub_appid,
            "sub_mch_id": order.mchid if order.sp_mchid else None,
            "nonce_str": ids.nonce(32),
            "req_info": req_info.encrypt(signing_key(merchant, order), plaintext),
        }
        return RenderedNotification(f"REFUND.{refund.status.value}", wire.render(outer).decode())

    return render_refund
