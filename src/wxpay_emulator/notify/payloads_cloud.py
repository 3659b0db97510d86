"""Cloud payment callbacks, rendered once per order when the outbox row is written.

- ``cloud`` (cloud hosting, seed 001): the v2 payment-result fields as a JSON object, snake_case
  (``return_code``, ``result_code``, ``appid``, ``mch_id``, ``sub_appid``, ``sub_mch_id``, ``openid``,
  ``total_fee``, ``transaction_id``, ``out_trade_no``, ``time_end`` ...), POSTed to the container.
- ``cloudfn`` (cloud functions, seed 003): the same fields in camelCase (``returnCode``, ``mchId``,
  ``subMchId``, ``totalFee``, ``transactionId``, ``outTradeNo``, ``timeEnd`` ...), the event of the
  callback function.

Refund results (``refund_renderers``, same keys) go to the callback the refund request named: v2's
refund-notification fields (``refund_id``, ``out_refund_no``, ``refund_fee``, ``refund_status`` SUCCESS /
CHANGE / REFUNDCLOSE, ``success_time`` ...) in the clear, not in an encrypted ``req_info``: the platform
delivers them inside WeChat's cloud, as it does payment results. Hosting snake_case, functions camelCase.

All are acknowledged only by ``{"errcode": 0}`` (notify/protocols.py).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from wxpay_emulator.api.cloud import render
from wxpay_emulator.domain.cloud_pay import FUNCTION_FAMILY, HOSTING_FAMILY
from wxpay_emulator.domain.models import Merchant, Order, Refund
from wxpay_emulator.domain.notifications import PaymentRenderer, RefundRenderer, RenderedNotification
from wxpay_emulator.ids import Ids
from wxpay_emulator.wire.cloud import camel_keys

EVENT_TYPE = "TRANSACTION.SUCCESS"


def _dump(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def cloud_hosting_renderer(ids: Ids) -> PaymentRenderer:
    def render_hosting(
        merchant: Merchant, order: Order, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        return RenderedNotification(EVENT_TYPE, _dump(render.payment_result(order, merchant, ids)))

    return render_hosting


def cloud_function_renderer(ids: Ids) -> PaymentRenderer:
    def render_function(
        merchant: Merchant, order: Order, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        fields = camel_keys(render.payment_result(order, merchant, ids))
        return RenderedNotification(EVENT_TYPE, _dump(fields))

    return render_function


def cloud_renderers(ids: Ids) -> dict[str, PaymentRenderer]:
    """The renderers app.py registers, keyed by order family."""
    return {HOSTING_FAMILY: cloud_hosting_renderer(ids), FUNCTION_FAMILY: cloud_function_renderer(ids)}


def _refund_renderer(ids: Ids, camel: bool) -> RefundRenderer:
    def render_refund(
        merchant: Merchant, order: Order, refund: Refund, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        fields = render.refund_result(order, refund, merchant, ids)
        body = _dump(camel_keys(fields) if camel else fields)
        return RenderedNotification(f"REFUND.{refund.status.value}", body)

    return render_refund


def cloud_refund_renderers(ids: Ids) -> dict[str, RefundRenderer]:
    """The refund renderers app.py registers, keyed by the family that asked for the refund."""
    return {
        HOSTING_FAMILY: _refund_renderer(ids, camel=False),
        FUNCTION_FAMILY: _refund_renderer(ids, camel=True),
    }
