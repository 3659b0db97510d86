"""Refund notification bodies per family, rendered once when the outbox row is written.

APIv3 (WeChat's 退款结果通知): ``event_type`` REFUND.SUCCESS / REFUND.ABNORMAL / REFUND.CLOSED, the
resource encrypted like a payment's but with ``original_type`` (and associated_data) ``refund``.
"""

from __future__ import annotations

import datetime as dt

from wxpay_emulator.api.v3 import wire_refund as v3_refund
from wxpay_emulator.api.v3.notify import v3_encrypted_resource
from wxpay_emulator.api.v3.render import facts
from wxpay_emulator.clock import rfc3339
from wxpay_emulator.domain.models import Merchant, Order, Refund
from wxpay_emulator.domain.notifications import RefundRenderer, RenderedNotification
from wxpay_emulator.ids import Ids
from wxpay_emulator.wire import dumps


def v3_refund_renderer(ids: Ids) -> RefundRenderer:
    """Direct orders name ``mchid``; partner orders ``sp_mchid`` and ``sub_mchid`` and go to the
    provider, under its APIv3 key."""

    def render(
        merchant: Merchant, order: Order, refund: Refund, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        if order.sp_mchid is not None:
            parties = {"sp_mchid": order.sp_mchid, "sub_mchid": order.mchid}
        else:
            parties = {"mchid": order.mchid}
        resource = v3_refund.refund_notice_resource(facts(refund), parties)
        event_type, summary = v3_refund.EVENT_SUMMARY[refund.status.value]
        body = {
            "id": notification_id,
            "create_time": rfc3339(created_at),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": v3_encrypted_resource(merchant, "refund", resource, ids),
        }
        return RenderedNotification(event_type, dumps(body))

    return render
