"""APIv3 refund shapes: the 申请退款 body (``POST /v3/refund/domestic/refunds``), the refund JSON that
it and 查询单笔退款 answer, and the plaintext of the refund notification's resource.

Field names and lengths follow WeChat's refund pages (direct merchants and 服务商 share the path; a
provider adds ``sub_mchid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from wxpay_emulator.api.v3.wire import (
    S32,
    S256,
    Int32,
    NotifyUrl,
    OutTradeNo,
    PositiveInt32,
    _Model,
)
from wxpay_emulator.wire import OUT_REFUND_NO_PATTERN

# 商户退款单号: "只能是数字、大小写字母_-|*@", up to 64.
OutRefundNo = Annotated[str, StringConstraints(pattern=OUT_REFUND_NO_PATTERN)]
S80 = Annotated[str, StringConstraints(min_length=1, max_length=80)]


class RefundFrom(_Model):
    """One funding source of the refund (出资账户): AVAILABLE or UNAVAILABLE."""

    account: Literal["AVAILABLE", "UNAVAILABLE"]
    amount: PositiveInt32


class RefundAmount(_Model):
    refund: PositiveInt32
    total: PositiveInt32
    currency: Literal["CNY"]
    from_: list[RefundFrom] | None = Field(default=None, alias="from", max_length=10)

    @model_validator(mode="after")
    def _from_adds_up(self) -> RefundAmount:
        """退款出资账户及金额: the sources' amounts add up to the refund."""
        if self.from_ and sum(f.amount for f in self.from_) != self.refund:
            raise ValueError("amount.from中各出资账户金额之和须等于amount.refund")
        return self


class RefundGoods(_Model):
    merchant_goods_id: S32
    wechatpay_goods_id: S32 | None = None
    goods_name: S256 | None = None
    unit_price: Int32
    refund_amount: Int32
    refund_quantity: PositiveInt32


class RefundRequest(_Model):
    """Body of ``POST /v3/refund/domestic/refunds``."""

    sub_mchid: S32 | None = None
    transaction_id: S32 | None = None
    out_trade_no: OutTradeNo | None = None
    out_refund_no: OutRefundNo
    reason: S80 | None = None
    notify_url: NotifyUrl | None = None
    funds_account: Literal["AVAILABLE", "UNSETTLED"] | None = None
    amount: RefundAmount
    goods_detail: list[RefundGoods] | None = Field(default=None, max_length=6000)

    def extras(self) -> dict[str, Any]:
        """What the domain keeps as given (and compares when out_refund_no is repeated)."""
        out: dict[str, Any] = {}
        if self.amount.from_ is not None:
            out["from"] = [f.model_dump() for f in self.amount.from_]
        if self.goods_detail is not None:
            out["goods_detail"] = [g.model_dump(exclude_none=True) for g in self.goods_detail]
        return out


@dataclass(frozen=True)
class RefundFacts:
    """A refund as every refund JSON shows it, in wire terms (times already RFC 3339)."""

    refund_id: str
    out_refund_no: str
    transaction_id: str
    out_trade_no: str
    channel: str
    user_received_account: str
    status: str
    create_time: str
    success_time: str | None
    funds_account: str
    refund: int
    total: int
    payer_total: int
    currency: str
    sources: list[dict[str, Any]]


def refund_json(f: RefundFacts) -> dict[str, Any]:
    """The answer of 申请退款 and 查询单笔退款. No coupons in the emulator: the payer paid and gets
    back everything, so settlement and payer amounts equal the refund and discounts are 0;
    ``success_time`` only once the refund has succeeded."""
    body: dict[str, Any] = {
        "refund_id": f.refund_id,
        "out_refund_no": f.out_refund_no,
        "transaction_id": f.transaction_id,
        "out_trade_no": f.out_trade_no,
        "channel": f.channel,
        "user_received_account": f.user_received_account,
    }
    if f.success_time is not None:
        body["success_time"] = f.success_time
    body.update(
        create_time=f.create_time,
        status=f.status,
        funds_account=f.funds_account,
        amount={
            "total": f.total,
            "refund": f.refund,
            "from": f.sources,
            "payer_total": f.payer_total,
            "payer_refund": f.refund,
            "settlement_refund": f.refund,
            "settlement_total": f.total,
            "discount_refund": 0,
            "currency": f.currency,
            "refund_fee": 0,
        },
        promotion_detail=[],
    )
    return body


def refund_notice_resource(f: RefundFacts, parties: dict[str, str]) -> dict[str, Any]:
    """The decrypted ``resource`` of a REFUND.* notification: ``parties`` is ``{"mchid"}`` for direct
    merchants, ``{"sp_mchid", "sub_mchid"}`` for partners."""
    body: dict[str, Any] = {
        **parties,
        "out_trade_no": f.out_trade_no,
        "transaction_id": f.transaction_id,
        "out_refund_no": f.out_refund_no,
        "refund_id": f.refund_id,
        "refund_status": f.status,
    }
    if f.success_time is not None:
        body["success_time"] = f.success_time
    body["user_received_account"] = f.user_received_account
    body["amount"] = {
        "total": f.total,
        "refund": f.refund,
        "payer_total": f.payer_total,
        "payer_refund": f.refund,
    }
    return body


EVENT_SUMMARY: dict[str, tuple[str, str]] = {
    "SUCCESS": ("REFUND.SUCCESS", "退款成功"),
    "ABNORMAL": ("REFUND.ABNORMAL", "退款异常"),
    "CLOSED": ("REFUND.CLOSED", "退款关闭"),
}
