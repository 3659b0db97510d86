"""APIv3's error shape and the one table from domain codes to APIv3 codes and HTTP statuses.

Body: ``{"code": ..., "message": ..., "detail": {"field", "value", "issue", "location"}}``; statuses as
seeds 002 and 004 give them.
"""

from __future__ import annotations

from typing import Any

from wxpay_emulator.domain.errors import DomainError, ErrorCode

# domain code -> (HTTP status, APIv3 code)
V3_ERRORS: dict[ErrorCode, tuple[int, str]] = {
    ErrorCode.PARAM_ERROR: (400, "PARAM_ERROR"),
    ErrorCode.INVALID_REQUEST: (400, "INVALID_REQUEST"),
    ErrorCode.SIGN_ERROR: (401, "SIGN_ERROR"),
    ErrorCode.MCH_NOT_EXISTS: (400, "MCH_NOT_EXISTS"),
    ErrorCode.APPID_MCHID_NOT_MATCH: (400, "APPID_MCHID_NOT_MATCH"),
    ErrorCode.OUT_TRADE_NO_USED: (403, "OUT_TRADE_NO_USED"),
    ErrorCode.ORDER_NOT_EXIST: (404, "ORDER_NOT_EXIST"),
    ErrorCode.ORDER_PAID: (400, "ORDERPAID"),
    ErrorCode.ORDER_CLOSED: (400, "ORDER_CLOSED"),
    ErrorCode.ORDER_EXPIRED: (400, "INVALID_REQUEST"),
    ErrorCode.ORDER_NOT_PAYABLE: (403, "TRADE_ERROR"),
    ErrorCode.ILLEGAL_TRANSITION: (403, "TRADE_ERROR"),
    ErrorCode.NOT_ENOUGH: (403, "NOT_ENOUGH"),
    ErrorCode.OPENID_MISMATCH: (500, "OPENID_MISMATCH"),
    ErrorCode.NOTIFICATION_NOT_FOUND: (404, "RESOURCE_NOT_EXISTS"),
    ErrorCode.MERCHANT_EXISTS: (400, "INVALID_REQUEST"),
    ErrorCode.NO_AUTH: (403, "NO_AUTH"),
    ErrorCode.CLOUD_ENDPOINT_NOT_FOUND: (404, "RESOURCE_NOT_EXISTS"),
    # 申请退款's error table (wechatpay-go services/refunddomestic, the SDK generated from WeChat's
    # OpenAPI): order unknown or unpaid -> RESOURCE_NOT_EXISTS; business rules -> INVALID_REQUEST.
    ErrorCode.RESOURCE_NOT_EXISTS: (404, "RESOURCE_NOT_EXISTS"),
    ErrorCode.REFUND_AMOUNT_EXCEEDED: (400, "INVALID_REQUEST"),
    ErrorCode.OUT_REFUND_NO_USED: (400, "INVALID_REQUEST"),
    ErrorCode.REFUND_PERIOD_EXPIRED: (400, "INVALID_REQUEST"),
}

# What an unknown /v3 path answers: distinct from every WeChat code, so nobody mistakes it for one.
NOT_IMPLEMENTED_STATUS = 404
NOT_IMPLEMENTED_CODE = "EMULATOR_NOT_IMPLEMENTED"


class V3Error(Exception):
    """An APIv3 answer that is not a domain rule (authentication, body parsing)."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


def from_domain(err: DomainError) -> V3Error:
    status, code = V3_ERRORS[err.code]
    detail: dict[str, Any] | None = None
    if err.field is not None:
        detail = {
            "field": err.field,
            "value": err.value,
            "issue": err.issue or err.message,
            "location": "body",
        }
    return V3Error(status, code, err.message, detail)


def body_of(err: V3Error) -> dict[str, Any]:
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.detail is not None:
        body["detail"] = err.detail
    return body


# Fault injection (api/faults.py): the codes an armed APIv3 operation can answer.
# Every code of seed 002's table and seed 004's (which spells some without the underscore), with the
# HTTP status the seed gives it.
FAULT_STATUS: dict[str, int] = {
    "USERPAYING": 202,
    "TRADE_ERROR": 403,
    "SYSTEM_ERROR": 500,
    "SYSTEMERROR": 500,
    "SIGN_ERROR": 401,
    "RULE_LIMIT": 403,
    "RULELIMIT": 403,
    "PARAM_ERROR": 400,
    "OUT_TRADE_NO_USED": 403,
    "ORDER_NOT_EXIST": 404,
    "ORDER_CLOSED": 400,
    "OPENID_MISMATCH": 500,
    "NOT_ENOUGH": 403,
    "NO_AUTH": 403,
    "NOAUTH": 403,
    "MCH_NOT_EXISTS": 400,
    "INVALID_TRANSACTIONID": 500,
    "INVALID_REQUEST": 400,
    "FREQUENCY_LIMITED": 429,
    "BANK_ERROR": 500,
    "APPID_MCHID_NOT_MATCH": 400,
    "ACCOUNT_ERROR": 403,
    # 申请退款's WeChat-side codes: the payer's account is closed; the merchant's balance is short
    # (NOT_ENOUGH, above) belongs here too.
    "USER_ACCOUNT_ABNORMAL": 403,
}
