"""An order in APIv2's words: the trade fields of ``orderquery`` and of the payment notification."""

from __future__ import annotations

from wxpay_emulator.api.v2 import wire
from wxpay_emulator.api.v2words import (
    DEFAULT_REFUND_ACCOUNT,
    MAX_LISTED,
    REFUND_STATUS,
    cash_fee,
    offset_beyond,
    order_amounts,
    refund_account,
    refund_list,
    refund_result,
)
from wxpay_emulator.domain.models import Order
from wxpay_emulator.domain.states import TradeState
from wxpay_emulator.extras import OrderExtras

# Refunds in v2's words are shared with the cloud families (api/v2words.py); re-exported here.
__all__ = [
    "DEFAULT_REFUND_ACCOUNT",
    "MAX_LISTED",
    "REFUND_STATUS",
    "cash_fee",
    "offset_beyond",
    "order_amounts",
    "refund_account",
    "refund_list",
    "refund_result",
]

PAID = (TradeState.SUCCESS, TradeState.REFUND)


def sign_type_of(order: Order) -> str:
    """The sign_type the order was placed with (MD5 for orders of other families)."""
    return OrderExtras.read(order.extras).sign_type or "MD5"


def is_sandbox(order: Order) -> bool:
    return OrderExtras.read(order.extras).sandbox is True


def trade_fields(order: Order) -> dict[str, wire.Value | None]:
    """``orderquery``'s fields after result_code: the payer and money once paid, the state always."""
    paid = order.state in PAID or order.transaction_id is not None
    return {
        "device_info": OrderExtras.read(order.extras).device_info,
        "openid": order.payer_openid if paid else None,
        "is_subscribe": "N" if paid else None,
        "sub_openid": order.sub_openid if paid else None,
        "sub_is_subscribe": "N" if paid and order.sub_openid else None,
        "trade_type": order.trade_type,
        "trade_state": order.state.value,
        "bank_type": order.bank_type if paid else None,
        "total_fee": order.total,
        "fee_type": order.currency,
        "cash_fee": order.payer_total if paid else None,
        "cash_fee_type": order.currency if paid else None,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "attach": order.attach,
        "time_end": wire.format_time(order.success_time) if order.success_time else None,
        "trade_state_desc": order.state_desc,
    }


def payment_result(order: Order, nonce: str) -> dict[str, wire.Value | None]:
    """The payment notification's fields, unsigned, in WeChat's (alphabetical) order. As in WeChat's
    own notifications, total_fee is bare and cash_fee is text."""
    partner = order.sp_mchid is not None
    device_info = OrderExtras.read(order.extras).device_info
    fields: dict[str, wire.Value | None] = {
        "appid": order.appid,
        "attach": order.attach,
        "bank_type": order.bank_type,
        "cash_fee": str(order.payer_total if order.payer_total is not None else order.total),
        "device_info": device_info if isinstance(device_info, str) else None,
        "fee_type": order.currency,
        "is_subscribe": "N",
        "mch_id": order.notify_mchid,
        "nonce_str": nonce,
        "openid": order.payer_openid,
        "out_trade_no": order.out_trade_no,
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "sub_appid": order.sub_appid,
        "sub_is_subscribe": "N" if order.sub_openid else None,
        "sub_mch_id": order.mchid if partner else None,
        "sub_openid": order.sub_openid,
        "time_end": wire.format_time(order.success_time) if order.success_time else None,
        "total_fee": order.total,
        "trade_type": order.trade_type,
        "transaction_id": order.transaction_id,
    }
    return fields
