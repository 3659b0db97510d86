"""Domain records -> APIv3 direct-merchant JSON. The one place where ``amount.total`` etc. are named."""

from __future__ import annotations

from typing import Any

from wxpay_emulator.clock import rfc3339
from wxpay_emulator.domain.models import CombineOrder, Order
from wxpay_emulator.wire import v3, v3_combine, v3_partner


def settlement(order: Order) -> v3.Settlement:
    """The one place an order's state and money are translated to APIv3 names."""
    scene = order.extras.get("scene_info") or {}
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
        device_id=scene.get("device_id"),
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
        device_id=combine.scene_info.get("device_id"),
        sub_orders=subs,
        payer_openid=paid_openid or combine.payer_openid,
    )
