"""The one trade-state machine every family uses (seed 002's ``trade_state`` enumeration)."""

from __future__ import annotations

from enum import StrEnum

from wxpay_emulator.domain.errors import DomainError, ErrorCode


class TradeState(StrEnum):
    NOTPAY = "NOTPAY"
    USERPAYING = "USERPAYING"
    ACCEPT = "ACCEPT"
    SUCCESS = "SUCCESS"
    PAYERROR = "PAYERROR"
    CLOSED = "CLOSED"
    REVOKED = "REVOKED"
    REFUND = "REFUND"


TRANSITIONS: dict[TradeState, frozenset[TradeState]] = {
    TradeState.NOTPAY: frozenset(
        {TradeState.USERPAYING, TradeState.ACCEPT, TradeState.SUCCESS, TradeState.PAYERROR, TradeState.CLOSED}
    ),
    # The payer is entering a password (付款码 or a slow bank): it ends paid, failed or revoked.
    TradeState.USERPAYING: frozenset(
        {TradeState.SUCCESS, TradeState.PAYERROR, TradeState.CLOSED, TradeState.REVOKED}
    ),
    # Partner orders: accepted, waiting for the debit.
    TradeState.ACCEPT: frozenset({TradeState.SUCCESS, TradeState.PAYERROR}),
    # A failed payment can only be closed; the merchant orders again under a new number.
    TradeState.PAYERROR: frozenset({TradeState.CLOSED}),
    TradeState.SUCCESS: frozenset({TradeState.REFUND}),
    TradeState.REFUND: frozenset({TradeState.REFUND}),
    TradeState.CLOSED: frozenset(),
    TradeState.REVOKED: frozenset(),
}

# trade_state_desc as WeChat words it.
DESCRIPTIONS: dict[TradeState, str] = {
    TradeState.NOTPAY: "订单未支付",
    TradeState.USERPAYING: "用户支付中，需要输入密码",
    TradeState.ACCEPT: "已接收，等待扣款",
    TradeState.SUCCESS: "支付成功",
    TradeState.PAYERROR: "支付失败，请重新下单支付",
    TradeState.CLOSED: "订单已关闭",
    TradeState.REVOKED: "已撤销",
    TradeState.REFUND: "订单发生过退款，退款详情请查询退款单",
}

PAYABLE = frozenset({TradeState.NOTPAY, TradeState.USERPAYING, TradeState.ACCEPT})


def check_transition(current: TradeState, target: TradeState) -> TradeState:
    """Return ``target`` if the table allows the move, else raise ILLEGAL_TRANSITION."""
    if target not in TRANSITIONS[current]:
        raise DomainError(ErrorCode.ILLEGAL_TRANSITION, f"trade_state {current} cannot become {target}")
    return target
