"""Domain records -> seed 001's snake_case fields (``total_fee``, ``time_end`` ...): the one place the
cloud families name them. Seed 003's camelCase is derived from these (api/cloud/wire.py camel_keys).

``appid`` shows the calling Mini Program, as seed 001's example does (``appid`` = ``sub_appid``), and
``mch_id`` the cloud provider. ``sign`` is the v2 MD5 sign of the scalar fields with the provider's
api_key; ``payment.paySign`` the v2 MD5 sign of the five wx.requestPayment fields with the same key, so
the control plane's ``/emulator/v1/request-payment`` accepts it.
"""

from __future__ import annotations

from typing import Any

from wxpay_emulator.api import v2words
from wxpay_emulator.api.cloud.wire import format_time
from wxpay_emulator.clock import Clock
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.domain.models import Merchant, Order, Refund
from wxpay_emulator.extras import OrderExtras
from wxpay_emulator.ids import Ids
from wxpay_emulator.wire import format_datetime

NONCE_LENGTH = 16  # seed 001's example nonce_str is 16 characters


def _head(mch_id: str, sub_appid: str | None, sub_mch_id: str | None, nonce: str) -> dict[str, Any]:
    return {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "appid": sub_appid,
        "mch_id": mch_id,
        "sub_appid": sub_appid,
        "sub_mch_id": sub_mch_id,
        "nonce_str": nonce,
    }


def _signed(head: dict[str, Any], tail: dict[str, Any], api_key: str) -> dict[str, Any]:
    """head + sign + tail, fields that are None left out; objects (payment) are not signed."""
    fields = {k: v for k, v in {**head, **tail}.items() if v is not None}
    scalars = {k: str(v) for k, v in fields.items() if not isinstance(v, dict | list)}
    out = {k: v for k, v in head.items() if v is not None}
    out["sign"] = v2_sign.sign(scalars, api_key, v2_sign.MD5)
    out.update({k: v for k, v in tail.items() if v is not None})
    return out


def payment(order: Order, provider: Merchant, nonce: str) -> dict[str, str]:
    """What wx.requestPayment receives (DESIGN.md §2: signType MD5 over the sorted five fields)."""
    assert order.prepay_id is not None
    fields = {
        "appId": order.sub_appid or order.appid,
        "timeStamp": str(Clock.real_timestamp()),
        "nonceStr": nonce,
        "package": f"prepay_id={order.prepay_id}",
        "signType": v2_sign.MD5,
    }
    return {**fields, "paySign": v2_sign.sign(fields, provider.api_key, v2_sign.MD5)}


def unified_order(order: Order, provider: Merchant, ids: Ids) -> dict[str, Any]:
    """Seed 001's ``respdata`` of a placed (or re-entered) order."""
    nonce = ids.nonce(NONCE_LENGTH)
    tail = {
        "result_code": "SUCCESS",
        "trade_type": order.trade_type,
        "prepay_id": order.prepay_id,
        "payment": payment(order, provider, nonce),
    }
    return _signed(_head(provider.mchid, order.sub_appid, order.mchid, nonce), tail, provider.api_key)


def failure(
    provider: Merchant,
    sub_appid: str | None,
    sub_mch_id: str | None,
    err_code: str,
    err_code_des: str,
    ids: Ids,
) -> dict[str, Any]:
    """A business failure: return_code SUCCESS, result_code FAIL with seed 001's err_code."""
    head = _head(provider.mchid, sub_appid, sub_mch_id, ids.nonce(NONCE_LENGTH))
    tail = {"result_code": "FAIL", "err_code": err_code, "err_code_des": err_code_des}
    return _signed(head, tail, provider.api_key)


def closed(order: Order, provider: Merchant, ids: Ids) -> dict[str, Any]:
    head = _head(provider.mchid, order.sub_appid, order.mchid, ids.nonce(NONCE_LENGTH))
    return _signed(head, {"result_code": "SUCCESS"}, provider.api_key)


def _paid_fields(order: Order) -> dict[str, Any]:
    """The order's payment fields as v2 names them; only what exists (an unpaid order has no
    transaction_id, bank_type or time_end). Cloud orders have one user: the Mini Program's openid,
    shown as both openid and sub_openid."""
    paid = order.success_time is not None
    user = order.payer_openid or order.sub_openid
    return {
        "device_info": OrderExtras.read(order.extras).device_info,
        "openid": user,
        "is_subscribe": "N" if paid else None,
        "sub_openid": user,
        "sub_is_subscribe": "N" if paid else None,
        "trade_type": order.trade_type,
        "bank_type": order.bank_type,
        "total_fee": order.total,
        "fee_type": order.currency,
        "cash_fee": order.payer_total if paid else None,
        "cash_fee_type": order.currency if paid else None,
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "attach": order.attach,
        "time_end": format_time(order.success_time) if order.success_time is not None else None,
    }


def query(order: Order, provider: Merchant, ids: Ids) -> dict[str, Any]:
    """v2 orderquery's answer: the order's state (trade_state, trade_state_desc) and payment fields."""
    head = _head(provider.mchid, order.sub_appid, order.mchid, ids.nonce(NONCE_LENGTH))
    tail = {
        "result_code": "SUCCESS",
        **_paid_fields(order),
        "trade_state": order.state.value,
        "trade_state_desc": order.state_desc,
    }
    return _signed(head, tail, provider.api_key)


def payment_result(order: Order, provider: Merchant, ids: Ids) -> dict[str, Any]:
    """The payment-result callback: v2 notify fields as JSON (the platform delivers it, unsigned by
    the merchant's key: the container or function trusts its own platform)."""
    head = _head(provider.mchid, order.sub_appid, order.mchid, ids.nonce(NONCE_LENGTH))
    fields = {**head, "result_code": "SUCCESS", **_paid_fields(order)}
    return {k: v for k, v in fields.items() if v is not None}


# --- refunds -------------------------------------------------------------------------------------------


def refund_applied(order: Order, refund: Refund, provider: Merchant, ids: Ids) -> dict[str, Any]:
    """v2 refund's answer: the refund as applied for (it is PROCESSING until it settles)."""
    head = _head(provider.mchid, order.sub_appid, order.mchid, ids.nonce(NONCE_LENGTH))
    tail: dict[str, Any] = {
        "result_code": "SUCCESS",
        "transaction_id": order.transaction_id,
        "out_trade_no": order.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_fee": refund.refund,
        "total_fee": order.total,
        "cash_fee": v2words.cash_fee(order),
        "cash_refund_fee": refund.refund,
        # No coupon engine: the /_/pay/refund example's coupon fields, zero and empty.
        "coupon_refund_fee": 0,
        "coupon_refund_count": 0,
        "coupon_type_list": [],
        "coupon_refund_id_list": [],
        "coupon_refund_fee_list": [],
    }
    return _signed(head, tail, provider.api_key)


def refund_query(
    order: Order, refunds: list[Refund], offset: int | None, provider: Merchant, ids: Ids
) -> dict[str, Any]:
    """v2 refundquery's answer in the cloud's form: the order's amounts and its refunds as parallel
    ``*_list`` arrays (where v2 numbers ``out_refund_no_$n``), as the /_/pay/queryrefund example shows
    and merchants' code reads them (at most v2words.MAX_LISTED from ``offset``;
    ``total_refund_count`` only when an offset was given)."""
    head = _head(provider.mchid, order.sub_appid, order.mchid, ids.nonce(NONCE_LENGTH))
    start = offset or 0
    listed = refunds[start : start + v2words.MAX_LISTED]
    tail: dict[str, Any] = {
        "result_code": "SUCCESS",
        **v2words.order_amounts(order),
        "total_refund_count": len(refunds) if offset is not None else None,
        "refund_count": len(listed),
        "out_refund_no_list": [r.out_refund_no for r in listed],
        "refund_id_list": [r.refund_id for r in listed],
        "refund_channel_list": [r.channel for r in listed],
        "refund_fee_list": [r.refund for r in listed],
        "settlement_refund_fee_list": [r.refund for r in listed],
        "refund_status_list": [v2words.REFUND_STATUS[r.status.value] for r in listed],
        "refund_account_list": [v2words.refund_account(r) for r in listed],
        "refund_recv_accout_list": [r.user_received_account for r in listed],
        "refund_success_time_list": [
            format_datetime(r.success_time) if r.success_time else "" for r in listed
        ],
    }
    return _signed(head, tail, provider.api_key)


def refund_result(order: Order, refund: Refund, provider: Merchant, ids: Ids) -> dict[str, Any]:
    """The refund-result callback: v2 refund notification's fields, in the clear (the platform delivers
    it inside WeChat's cloud, as the payment-result callback)."""
    head = _head(provider.mchid, order.sub_appid, order.mchid, ids.nonce(NONCE_LENGTH))
    fields = {**head, **v2words.refund_result(order, refund)}
    return {k: v for k, v in fields.items() if v is not None}
