"""Cloud payment callbacks, rendered once per order when the outbox row is written.

Both cloud families receive the v2 payment-result fields in camelCase (``returnCode``, ``resultCode``,
``appid``, ``mchId``, ``subAppid``, ``subMchId``, ``nonceStr``, ``openid``, ``subOpenid``, ``tradeType``,
``bankType``, ``totalFee``, ``feeType``, ``cashFee``, ``transactionId``, ``outTradeNo``, ``timeEnd`` ...):
the cloud-function event of seed 003, and the JSON POSTed to a cloud-hosting container, whose callback
page gives the same camelCase keys ("部分字段名称有转译...请以上述例子的 key 值为准",
developers.weixin.qq.com/miniprogram/dev/wxcloudservice/wxcloudrun/src/development/pay/callback/).

Refund results (``refund_renderers``) go to the callback the refund request named: v2's
refund-notification fields (``refundId``, ``outRefundNo``, ``refundFee``, ``refundStatus`` SUCCESS /
CHANGE / REFUNDCLOSE, ``successTime`` ...) in the clear, not in an encrypted ``req_info``: the platform
delivers them inside WeChat's cloud, as it does payment results. camelCase as well (our reading: no page
shows a refund callback).

All are acknowledged only by ``{"errcode": 0}`` (notify/protocols.py).
"""

from __future__ import annotations

import datetime as dt

from wxpay_emulator.api.cloud import render
from wxpay_emulator.api.cloud.wire import camel_keys
from wxpay_emulator.domain.cloud_pay import FUNCTION_FAMILY, HOSTING_FAMILY
from wxpay_emulator.domain.models import Merchant, Order, Refund
from wxpay_emulator.domain.notifications import PaymentRenderer, RefundRenderer, RenderedNotification
from wxpay_emulator.ids import Ids
from wxpay_emulator.wire import dumps

EVENT_TYPE = "TRANSACTION.SUCCESS"


def cloud_payment_renderer(ids: Ids) -> PaymentRenderer:
    def render_payment(
        merchant: Merchant, order: Order, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        fields = camel_keys(render.payment_result(order, merchant, ids))
        return RenderedNotification(EVENT_TYPE, dumps(fields))

    return render_payment


def cloud_renderers(ids: Ids) -> dict[str, PaymentRenderer]:
    """The payment renderers of the cloud FamilySpec, keyed by order family: one callback form for both."""
    renderer = cloud_payment_renderer(ids)
    return {HOSTING_FAMILY: renderer, FUNCTION_FAMILY: renderer}


def cloud_refund_renderer(ids: Ids) -> RefundRenderer:
    def render_refund(
        merchant: Merchant, order: Order, refund: Refund, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification:
        fields = camel_keys(render.refund_result(order, refund, merchant, ids))
        return RenderedNotification(f"REFUND.{refund.status.value}", dumps(fields))

    return render_refund


def cloud_refund_renderers(ids: Ids) -> dict[str, RefundRenderer]:
    """The refund renderers of the cloud FamilySpec, keyed by the family that asked for the refund."""
    renderer = cloud_refund_renderer(ids)
    return {HOSTING_FAMILY: renderer, FUNCTION_FAMILY: renderer}
