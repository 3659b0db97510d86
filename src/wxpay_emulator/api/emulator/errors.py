"""The control plane's error shape ``{"code", "message"}`` and its one table of HTTP statuses."""

from __future__ import annotations

from wxpay_emulator.domain.errors import ErrorCode

EMULATOR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.PARAM_ERROR: 400,
    ErrorCode.INVALID_REQUEST: 409,  # its domain use: a combine sub-order paid on its own
    ErrorCode.SIGN_ERROR: 400,
    ErrorCode.MCH_NOT_EXISTS: 404,
    ErrorCode.APPID_MCHID_NOT_MATCH: 400,
    ErrorCode.OUT_TRADE_NO_USED: 409,
    ErrorCode.ORDER_NOT_EXIST: 404,
    ErrorCode.ORDER_PAID: 409,
    ErrorCode.ORDER_CLOSED: 409,
    ErrorCode.ORDER_EXPIRED: 409,
    ErrorCode.ORDER_NOT_PAYABLE: 409,
    ErrorCode.ILLEGAL_TRANSITION: 409,
    ErrorCode.NOT_ENOUGH: 402,
    ErrorCode.OPENID_MISMATCH: 400,
    ErrorCode.NOTIFICATION_NOT_FOUND: 404,
    ErrorCode.MERCHANT_EXISTS: 409,
    ErrorCode.NO_AUTH: 403,
    ErrorCode.CLOUD_ENDPOINT_NOT_FOUND: 404,
    ErrorCode.RESOURCE_NOT_EXISTS: 404,
    ErrorCode.REFUND_AMOUNT_EXCEEDED: 409,
    ErrorCode.OUT_REFUND_NO_USED: 409,
    ErrorCode.REFUND_PERIOD_EXPIRED: 409,
}
