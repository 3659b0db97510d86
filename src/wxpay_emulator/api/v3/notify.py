"""Notification bodies per family, rendered once when the outbox row is written."""

from __future__ import annotations

import datetime as dt

from wxpay_emulator.api.v3 import render as v3_render
from wxpay_emulator.clock import rfc3339
from wxpay_emulator.crypto import aead
from wxpay_emulator.domain.models import CombineOrder, Merchant, Order
from wxpay_emulator.domain.notifications import CombineRenderer, PaymentRenderer, RenderedNotification
from wxpay_emulator.ids import Ids
from wxpay_emulator.wire import dumps


def v3_encrypted_resource(
    merchant: Merchant, original_type: str, resource: object, ids: Ids
) -> dict[str, str]:
    """``resource`` of an APIv3 notification: AEAD_AES_256_GCM under the merchant's APIv3 key."""
    nonce = ids.gcm_nonce()
    associated_data = original_type
    plaintext = dumps(resource).encode()
    return {
        "original_type": original_type,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": aead.encrypt(
            merchant.apiv3_key.encode(), nonce.encode(), associated_data.encode(), plaintext
        ),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def _v3_body(
    merchant: Merchant, notification_id: str, created_at: dt.datetime, resource: object, ids: Ids
) -> RenderedNotification:
    body = {
        "id": notification_id,
        "create_time": rfc3339(created_at),
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": v3_encrypted_resource(merchant, "transaction", resource, ids),
    }
    return RenderedNotification("TRANSACTION.SUCCESS", dumps(body))


def v3_combine_renderer(ids: Ids) -> CombineRenderer:
    """One notification for the whole combine order; its resource is the combine query JSON."""

    def render(
        merchant: Merchant, combine: CombineOrder, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        return _v3_body(merchant, notification_id, created_at, v3_render.combine_transaction(combine), ids)

    return render


def v3_payment_renderer(ids: Ids) -> PaymentRenderer:
    """Direct and partner orders: the resource is the query JSON of the family that placed the order,
    encrypted with the key of the merchant that receives it (the provider, for partner orders)."""

    def render(
        merchant: Merchant, order: Order, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        return _v3_body(merchant, notification_id, created_at, v3_render.any_transaction(order), ids)

    return render
