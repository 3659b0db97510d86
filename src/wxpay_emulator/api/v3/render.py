"""Domain records -> APIv3 direct-merchant JSON. The one place where ``amount.total`` etc. are named."""

from __future__ import annotations

from typing import Any

from wxpay_emulator.api.v3 import wire as v3
from wxpay_emulator.api.v3 import wire_combine as v3_combine
from wxpay_emulator.api.v3 import wire_partner as v3_partner
from wxpay_emulator.api.v3 import wire_refund as v3_refund
from wxpay_emulator.clock import rfc3339
from wxpay_emulator.domain.models import CombineOrder, Order, Refund
from wxpay_emulator.extras import OrderExtras, RefundExtras


def settlement(order: Order) -> v3.Settlement:
    """The one place an order's state and money are translated to APIv3 names."""
    extras = OrderExtras.read(order.extras)
    return v3.Settlement(
        out_trade_no=order.out_trade_no,
        trade_type=order.trade_type,
        trade_state=order.state.value,
        trade_state_desc=order.state_desc or "",
        total=order.total,
        currency=order.currency,
        transaction_id=order.transaction_id,
        bank_type=order.bank_type,
        attach=order.attach,
        success_time=rfc3339(order.success_time) if order.success_time else None,
        payer_total=order.payer_total,
        device_id=extras.device_id,
    )


def transaction(order: Order) -> dict[str, Any]:
    return v3.transaction_json(
        appid=order.appid, mchid=order.mchid, settlement=settlement(order), payer_openid=order.payer_openid
    )


def partner_transaction(order: Order) -> dict[str, Any]:
    assert order.sp_mchid is not None
    return v3_partner.partner_transaction_json(
        sp_appid=order.appid,
        sp_mchid=order.sp_mchid,
        sub_appid=order.sub_appid,
        sub_mchid=order.mchid,
        settlement=settlement(order),
        sp_openid=order.payer_openid,
        sub_openid=order.sub_openid,
    )


def any_transaction(order: Order) -> dict[str, Any]:
    """The query JSON of the family that placed the order."""
    return partner_transaction(order) if order.sp_mchid is not None else transaction(order)


def combine_transaction(combine: CombineOrder) -> dict[str, Any]:
    """The combine query JSON (and the decrypted resource of its notification)."""
    paid_openid = next((o.payer_openid for o in combine.sub_orders if o.transaction_id), None)
    subs = [v3_combine.combine_sub_order_json(o.mchid, settlement(o)) for o in combine.sub_orders]
    return v3_combine.combine_json(
        combine_appid=combine.combine_appid,
        combine_mchid=combine.combine_mchid,
        combine_out_trade_no=combine.combine_out_trade_no,
        device_id=OrderExtras.read({"scene_info": combine.scene_info}).device_id,
        sub_orders=subs,
        payer_openid=paid_openid or combine.payer_openid,
    )


# When the merchant names no funds_account, WeChat refunds from the unsettled funds (未结算资金).
DEFAULT_FUNDS_ACCOUNT = "UNSETTLED"


def facts(refund: Refund) -> v3_refund.RefundFacts:
    """The one place a refund's state and money are translated to APIv3 names."""
    return v3_refund.RefundFacts(
        refund_id=refund.refund_id,
        out_refund_no=refund.out_refund_no,
        transaction_id=refund.transaction_id,
        out_trade_no=refund.out_trade_no,
        channel=refund.channel,
        user_received_account=refund.user_received_account,
        status=refund.status.value,
        create_time=rfc3339(refund.created_at),
        success_time=rfc3339(refund.success_time) if refund.success_time else None,
        funds_account=refund.funds_account or DEFAULT_FUNDS_ACCOUNT,
        refund=refund.refund,
        total=refund.total,
        payer_total=refund.payer_total if refund.payer_total is not None else refund.total,
        currency=refund.currency,
        sources=RefundExtras.read(refund.extras).sources,
    )


def refund_json(refund: Refund) -> dict[str, object]:
    return v3_refund.refund_json(facts(refund))
