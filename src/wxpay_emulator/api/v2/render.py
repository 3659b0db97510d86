"""An order in APIv2's words: the trade fields of ``orderquery`` and of the payment notification."""

from __future__ import annotations

from wxpay_emulator.domain.models import Order, Refund
from wxpay_emulator.domain.states import TradeState
from wxpay_emulator.wire import v2 as wire

PAID = (TradeState.SUCCESS, TradeState.REFUND)


def sign_type_of(order: Order) -> str:
    """The sign_type the order was placed with (MD5 for orders of other families)."""
    value = order.extras.get("sign_type")
    return value if isinstance(value, str) else "MD5"


def is_sandbox(order: Order) -> bool:
    return order.extras.get("sandbox") is True


def trade_fields(order: Order) -> dict[str, wire.Value | None]:
    """``orderquery``'s fields after result_code: the payer and money once paid, the state always."""
    paid = order.state in PAID or order.transaction_id is not None
    device_info = order.extras.get("device_info")
    return {
        "device_info": device_info if isinstance(device_info, str) else None,
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
    device_info = order.extras.get("device_info")
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


# --- refunds, in v2's words (APIv2 and the cloud families, which wrap v2's fields) ---------------------

# A refund's status as v2 names it (refundquery's refund_status_n, the refund notification).
REFUND_STATUS = {
    "PROCESSING": "PROCESSING",
    "SUCCESS": "SUCCESS",
    "ABNORMAL": "CHANGE",
    "CLOSED": "REFUNDCLOSE",
}
DEFAULT_REFUND_ACCOUNT = "REFUND_SOURCE_UNSETTLED_FUNDS"
# refundquery by order answers the first 10 refunds and total_refund_count; ``offset`` pages on by 10, and
# an offset past the refunds is PARAM_ERROR (CloudPay.queryRefund's page, which mirrors refundquery).
MAX_LISTED = 10


def cash_fee(order: Order) -> int:
    return order.payer_total if order.payer_total is not None else order.total


def refund_account(refund: Refund) -> str:
    return str(refund.extras.get("refund_account", DEFAULT_REFUND_ACCOUNT))


def order_amounts(order: Order) -> dict[str, wire.Value | None]:
    """The order part of refund and refundquery answers."""
    return {
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "total_fee": order.total,
        "fee_type": order.currency,
        "cash_fee": cash_fee(order),
    }


def offset_beyond(refunds: list[Refund], offset: int | None) -> bool:
    """An ``offset`` with no refund at it: the caller answers PARAM_ERROR."""
    return offset is not None and offset >= len(refunds)


def refund_list(refunds: list[Refund], offset: int | None) -> dict[str, wire.Value | None]:
    """refundquery's refunds, numbered from 0: at most MAX_LISTED from ``offset``
    (``total_refund_count`` only when an offset was asked for)."""
    start = offset or 0
    listed = refunds[start : start + MAX_LISTED]
    fields: dict[str, wire.Value | None] = {
        "total_refund_count": len(refunds) if offset is not None else None,
        "refund_count": len(listed),
    }
    for n, r in enumerate(listed):
        fields.update(
            {
                f"out_refund_no_{n}": r.out_refund_no,
                f"refund_id_{n}": r.refund_id,
                f"refund_channel_{n}": r.channel,
                f"refund_fee_{n}": r.refund,
                f"refund_status_{n}": REFUND_STATUS[r.status.value],
                f"refund_account_{n}": refund_account(r),
                f"refund_recv_accout_{n}": r.user_received_account,
                f"refund_success_time_{n}": wire.format_datetime(r.success_time) if r.success_time else None,
            }
        )
    return fields


def refund_result(order: Order, refund: Refund) -> dict[str, wire.Value | None]:
    """The refund result, as the v2 notification's ``req_info`` (and the cloud callbacks) carry it, in
    WeChat's alphabetical order."""
    return {
        "cash_refund_fee": refund.refund,
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": order.out_trade_no,
        "refund_account": refund_account(refund),
        "refund_fee": refund.refund,
        "refund_id": refund.refund_id,
        "refund_recv_accout": refund.user_received_account,
        "refund_request_source": "API",
        "refund_status": REFUND_STATUS[refund.status.value],
        "settlement_refund_fee": refund.refund,
        "settlement_total_fee": cash_fee(order),
        "success_time": wire.format_datetime(refund.success_time) if refund.success_time else None,
        "total_fee": order.total,
        "transaction_id": order.transaction_id,
    }
