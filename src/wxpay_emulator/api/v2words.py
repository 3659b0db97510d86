"""Orders and refunds in APIv2's words, shared by the two families that speak them: APIv2 (XML) and
the cloud families (seed 001's snake_case JSON, seed 003's camelCase), which wrap v2's fields.

Neither family imports the other (import-linter contract "families are independent"); both import this.
"""

from __future__ import annotations

from wxpay_emulator.domain.models import Order, Refund
from wxpay_emulator.extras import RefundExtras
from wxpay_emulator.wire import format_datetime

# Seed 001's error list (错误码): err_code -> err_code_des (its 描述 column), byte for byte. APIv2 answers
# them (api/v2/errors.py, with the query, close and refund pages' codes) and the cloud families wrap
# them (api/cloud/errors.py: what an armed fault of a cloud operation may answer).
SEED_001_DESCRIPTIONS: dict[str, str] = {
    "INVALID_REQUEST": "参数错误",
    "NOAUTH": "商户无此接口权限",
    "NOTENOUGH": "余额不足",
    "ORDERPAID": "商户订单已支付",
    "ORDERCLOSED": "订单已关闭",
    "SYSTEMERROR": "系统错误",
    "APPID_NOT_EXIST": "APPID不存在",
    "MCHID_NOT_EXIST": "MCHID不存在",
    "APPID_MCHID_NOT_MATCH": "appid和mch_id不匹配",
    "LACK_PARAMS": "缺少参数",
    "OUT_TRADE_NO_USED": "商户订单号重复",
    "SIGNERROR": "签名错误",
    "XML_FORMAT_ERROR": "XML格式错误",
    "REQUIRE_POST_METHOD": "请使用post方法",
    "POST_DATA_EMPTY": "post数据为空",
    "NOT_UTF8": "编码格式错误",
}

# A v2 field value as a document carries it: text, or a bare number.
Value = str | int


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
    return RefundExtras.read(refund.extras).refund_account or DEFAULT_REFUND_ACCOUNT


def order_amounts(order: Order) -> dict[str, Value | None]:
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


def refund_list(refunds: list[Refund], offset: int | None) -> dict[str, Value | None]:
    """refundquery's refunds, numbered from 0: at most MAX_LISTED from ``offset``
    (``total_refund_count`` only when an offset was asked for)."""
    start = offset or 0
    listed = refunds[start : start + MAX_LISTED]
    fields: dict[str, Value | None] = {
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
                f"refund_success_time_{n}": format_datetime(r.success_time) if r.success_time else None,
            }
        )
    return fields


def refund_result(order: Order, refund: Refund) -> dict[str, Value | None]:
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
        "success_time": format_datetime(refund.success_time) if refund.success_time else None,
        "total_fee": order.total,
        "transaction_id": order.transaction_id,
    }
