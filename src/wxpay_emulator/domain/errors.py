"""Domain errors carry a stable code; each API family maps the codes in one table (its errors.py)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    PARAM_ERROR = "PARAM_ERROR"
    INVALID_REQUEST = "INVALID_REQUEST"
    SIGN_ERROR = "SIGN_ERROR"
    MCH_NOT_EXISTS = "MCH_NOT_EXISTS"
    APPID_MCHID_NOT_MATCH = "APPID_MCHID_NOT_MATCH"
    OUT_TRADE_NO_USED = "OUT_TRADE_NO_USED"
    ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
    ORDER_PAID = "ORDER_PAID"
    ORDER_CLOSED = "ORDER_CLOSED"
    ORDER_EXPIRED = "ORDER_EXPIRED"
    ORDER_NOT_PAYABLE = "ORDER_NOT_PAYABLE"
    NOT_ENOUGH = "NOT_ENOUGH"
    OPENID_MISMATCH = "OPENID_MISMATCH"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    NOTIFICATION_NOT_FOUND = "NOTIFICATION_NOT_FOUND"
    MERCHANT_EXISTS = "MERCHANT_EXISTS"
    NO_AUTH = "NO_AUTH"
    CLOUD_ENDPOINT_NOT_FOUND = "CLOUD_ENDPOINT_NOT_FOUND"
    # Refunds: the order (unknown, or not paid) or the refund is not there; over the refundable amount;
    # out_refund_no reused with other parameters; paid more than 365 days ago.
    RESOURCE_NOT_EXISTS = "RESOURCE_NOT_EXISTS"
    REFUND_AMOUNT_EXCEEDED = "REFUND_AMOUNT_EXCEEDED"
    OUT_REFUND_NO_USED = "OUT_REFUND_NO_USED"
    REFUND_PERIOD_EXPIRED = "REFUND_PERIOD_EXPIRED"


class DomainError(Exception):
    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        issue: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.value = value
        self.issue = issue
