"""The cloud families' one table: domain code -> (``err_code``, ``err_code_des``) of seed 001's error
list (the descriptions byte for byte). ORDERNOTEXIST, which seed 001 does not list, is v2 orderquery's;
the refund codes (ERROR, TRADE_OVERDUE, REFUNDNOTEXIST) are v2 refund's and refundquery's.
A code without a row answers SYSTEMERROR.

Business failures answer ``errcode`` 0 with ``respdata.result_code`` FAIL and these two fields; only a
body that is not a JSON object (or a framework refusal) answers a non-zero ``errcode``.
"""

from __future__ import annotations

from wxpay_emulator.api.v2words import SEED_001_DESCRIPTIONS
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.orders import OTHER_FAMILY

CLOUD_ERRORS: dict[ErrorCode, tuple[str, str]] = {
    ErrorCode.PARAM_ERROR: ("INVALID_REQUEST", "参数错误"),
    ErrorCode.INVALID_REQUEST: ("INVALID_REQUEST", "参数错误"),
    ErrorCode.SIGN_ERROR: ("SIGNERROR", "签名错误"),
    ErrorCode.MCH_NOT_EXISTS: ("MCHID_NOT_EXIST", "MCHID不存在"),
    ErrorCode.APPID_MCHID_NOT_MATCH: ("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配"),
    # Re-entry with other parameters: seed 001's INVALID_REQUEST (订单重入时,要求参数值与原请求一致);
    # a number another API family's order holds: OUT_TRADE_NO_USED (cloud_error_of).
    ErrorCode.OUT_TRADE_NO_USED: ("INVALID_REQUEST", "参数错误"),
    ErrorCode.ORDER_NOT_EXIST: ("ORDERNOTEXIST", "此交易订单号不存在"),
    ErrorCode.ORDER_PAID: ("ORDERPAID", "商户订单已支付"),
    ErrorCode.ORDER_CLOSED: ("ORDERCLOSED", "订单已关闭"),
    # An order past its time_expire can no longer be paid or re-placed: closed, for the caller.
    ErrorCode.ORDER_EXPIRED: ("ORDERCLOSED", "订单已关闭"),
    ErrorCode.ORDER_NOT_PAYABLE: ("INVALID_REQUEST", "参数错误"),
    ErrorCode.ILLEGAL_TRANSITION: ("INVALID_REQUEST", "参数错误"),
    ErrorCode.NOT_ENOUGH: ("NOTENOUGH", "余额不足"),
    ErrorCode.OPENID_MISMATCH: ("INVALID_REQUEST", "参数错误"),
    ErrorCode.NOTIFICATION_NOT_FOUND: ("SYSTEMERROR", "系统错误"),
    ErrorCode.MERCHANT_EXISTS: ("SYSTEMERROR", "系统错误"),
    ErrorCode.NO_AUTH: ("NOAUTH", "商户无此接口权限"),
    ErrorCode.CLOUD_ENDPOINT_NOT_FOUND: ("SYSTEMERROR", "系统错误"),
    # Refunds (v2 refund's codes); the refund routes answer the domain's reason as err_code_des.
    ErrorCode.RESOURCE_NOT_EXISTS: ("ORDERNOTEXIST", "此交易订单号不存在"),
    ErrorCode.REFUND_AMOUNT_EXCEEDED: ("ERROR", "业务错误"),
    ErrorCode.OUT_REFUND_NO_USED: ("INVALID_REQUEST", "参数错误"),
    ErrorCode.REFUND_PERIOD_EXPIRED: ("TRADE_OVERDUE", "订单已经超过退款期限"),
}

# queryrefund: an unknown order or refund, or an order without refunds.
REFUND_NOT_EXIST = ("REFUNDNOTEXIST", "退款订单查询失败")

# Seed 001's descriptions of the codes the wire layer raises itself.
DESCRIPTIONS = {
    "LACK_PARAMS": "缺少参数",
    "INVALID_REQUEST": "参数错误",
    "POST_DATA_EMPTY": "post数据为空",
    "NOT_UTF8": "编码格式错误",
    "PARAM_ERROR": "参数错误",
}


# Seed 001's error list (错误码), byte for byte: what an armed fault of a cloud operation may answer
# (as result_code FAIL with this err_code and err_code_des), plus "-1": the errcode -1 envelope.
SEED_001_CODES = SEED_001_DESCRIPTIONS
ENVELOPE_FAULT = "-1"  # the platform's own failure: errcode -1 (hosting) / errCode -1 (functions)
FAULT_CODES = frozenset({*SEED_001_CODES, ENVELOPE_FAULT})


def cloud_error_of(err: DomainError) -> tuple[str, str]:
    """(err_code, err_code_des) of a domain error, the reused-number case told apart."""
    if err.code is ErrorCode.OUT_TRADE_NO_USED and err.issue == OTHER_FAMILY:
        return ("OUT_TRADE_NO_USED", "商户订单号重复")
    return cloud_error(err.code)


def cloud_error(code: ErrorCode) -> tuple[str, str]:
    """(err_code, err_code_des); a code added later without a row answers SYSTEMERROR, never a 500."""
    return CLOUD_ERRORS.get(code, ("SYSTEMERROR", "系统错误"))
