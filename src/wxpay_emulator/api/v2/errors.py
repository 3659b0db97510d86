"""APIv2's error codes: seed 001's table (and the query/close codes of the same API), and the one map
from domain codes to them.

A v2 answer fails in one of two ways. Before the caller is known and its ``sign`` checked, the answer is
``return_code=FAIL`` with ``return_msg`` and no signature: the emulator adds ``err_code`` and
``err_code_des`` to it so that a client can tell SIGNERROR from XML_FORMAT_ERROR without reading Chinese
prose. After that, a business failure is ``return_code=SUCCESS``, ``result_code=FAIL`` with
``err_code``/``err_code_des``, signed like every successful answer.
"""

from __future__ import annotations

from wxpay_emulator.api.v2words import SEED_001_DESCRIPTIONS
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.orders import OTHER_FAMILY

# err_code -> err_code_des (seed 001's 描述 column; ORDERNOTEXIST from the query and close pages).
DESCRIPTIONS: dict[str, str] = {
    **SEED_001_DESCRIPTIONS,
    "ORDERNOTEXIST": "此交易订单号不存在",
    # The refund pages' codes.
    "ERROR": "业务错误",
    "TRADE_OVERDUE": "订单已经超过退款期限",
    "REFUNDNOTEXIST": "退款订单查询失败",
    "USER_ACCOUNT_ABNORMAL": "退款请求失败",
    "CERT_ERROR": "证书错误",
    "PARAM_ERROR": "参数错误",
}

_FROM_DOMAIN: dict[ErrorCode, str] = {
    ErrorCode.PARAM_ERROR: "INVALID_REQUEST",
    ErrorCode.INVALID_REQUEST: "INVALID_REQUEST",
    ErrorCode.SIGN_ERROR: "SIGNERROR",
    ErrorCode.MCH_NOT_EXISTS: "MCHID_NOT_EXIST",
    ErrorCode.APPID_MCHID_NOT_MATCH: "APPID_MCHID_NOT_MATCH",
    # The domain's "same out_trade_no, different parameters": seed 001 names that INVALID_REQUEST
    # (订单重入时,要求参数值与原请求一致). OUT_TRADE_NO_USED is a number already taken by another API
    # family's order (the domain says so in ``issue``).
    ErrorCode.OUT_TRADE_NO_USED: "INVALID_REQUEST",
    ErrorCode.ORDER_NOT_EXIST: "ORDERNOTEXIST",
    ErrorCode.ORDER_PAID: "ORDERPAID",
    ErrorCode.ORDER_CLOSED: "ORDERCLOSED",
    ErrorCode.ORDER_EXPIRED: "ORDERCLOSED",
    ErrorCode.ORDER_NOT_PAYABLE: "INVALID_REQUEST",
    ErrorCode.NOT_ENOUGH: "NOTENOUGH",
    ErrorCode.NO_AUTH: "NOAUTH",
    # Refunds: an unknown or unpaid order; more than the refundable amount ("ERROR" with the reason, as
    # the refund page says of business errors); out_refund_no reused with other parameters; too old.
    ErrorCode.RESOURCE_NOT_EXISTS: "ORDERNOTEXIST",
    ErrorCode.REFUND_AMOUNT_EXCEEDED: "ERROR",
    ErrorCode.OUT_REFUND_NO_USED: "INVALID_REQUEST",
    ErrorCode.REFUND_PERIOD_EXPIRED: "TRADE_OVERDUE",
}


# What a path the emulator does not serve answers (api/v2/shape.py), in return_msg and err_code:
# distinct from every WeChat code, so nobody mistakes it for one.
NOT_IMPLEMENTED_CODE = "EMULATOR_NOT_IMPLEMENTED"


class V2Error(Exception):
    """An APIv2 failure. ``protocol``: answered as return_code=FAIL (unsigned), else as a signed
    result_code=FAIL."""

    def __init__(self, code: str, message: str | None = None, *, protocol: bool = False) -> None:
        self.code = code
        self.message = message or DESCRIPTIONS.get(code, code)
        self.protocol = protocol
        super().__init__(self.message)


def protocol_error(code: str, message: str | None = None) -> V2Error:
    return V2Error(code, message, protocol=True)


def from_domain(err: DomainError) -> V2Error:
    if err.code is ErrorCode.OUT_TRADE_NO_USED and err.issue == OTHER_FAMILY:
        return V2Error("OUT_TRADE_NO_USED", err.message)
    return V2Error(_FROM_DOMAIN.get(err.code, "SYSTEMERROR"), err.message)


# Fault injection (api/faults.py): APIv2 operations answer a signed result_code=FAIL with one of these.
V2_FAULT_CODES = frozenset(
    {"SYSTEMERROR", "NOTENOUGH", "NOAUTH", "INVALID_REQUEST", "FREQUENCY_LIMITED", "BIZERR_NEED_RETRY"}
)
