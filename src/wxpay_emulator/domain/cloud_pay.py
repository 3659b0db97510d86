"""Cloud payments (seed 001: cloud hosting ``/_/pay/unifiedorder``; seed 003: ``CloudPay.unifiedOrder``).

WeChat Cloud pays through its own service provider (服务商): seed 001's answer shows ``mch_id``
1800780001 next to the merchant's ``sub_mch_id``. So a cloud order is a partner order of that provider,
which the emulator owns (``ensure_provider`` runs at startup); a merchant used as ``sub_mch_id`` must be
registered as its sub-merchant (control plane ``POST /emulator/v1/merchants`` with ``sp_mchid``), and the
calling Mini Program must be bound to that sub-merchant.
"""

from __future__ import annotations

from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.merchants import MerchantService
from wxpay_emulator.domain.models import KeyMode, Merchant, Order, OrderDraft
from wxpay_emulator.domain.orders import OrderService

PROVIDER_MCHID = "1800780001"
PROVIDER_APPID = "wxcloudpay00000001"
# Order families: their notifications are JSON to a container service (snake_case, seed 001) or to a
# cloud function (camelCase, seed 003); both are acknowledged by {"errcode": 0}.
HOSTING_FAMILY = "cloud"
FUNCTION_FAMILY = "cloudfn"


def ensure_provider(merchants: MerchantService) -> Merchant:
    """The emulator-owned cloud provider merchant, made on first start (idempotent, race-safe)."""
    found = merchants.find(PROVIDER_MCHID)
    if found is not None:
        return found
    try:
        return merchants.create(PROVIDER_MCHID, PROVIDER_APPID, KeyMode.PUBKEY)
    except DomainError as exc:
        if exc.code is not ErrorCode.MERCHANT_EXISTS:
            raise
        return merchants.get(PROVIDER_MCHID)


class CloudPayService:
    """Place, find and close cloud orders; each call also answers the provider, whose api_key signs
    the family's ``sign`` and ``paySign``."""

    def __init__(self, merchants: MerchantService, orders: OrderService) -> None:
        self.merchants = merchants
        self.orders = orders

    def provider(self) -> Merchant:
        return ensure_provider(self.merchants)

    def place(self, draft: OrderDraft) -> Order:
        """A cloud order: the draft must name the provider as ``sp_mchid`` (OrderService then checks
        the sub-merchant relation and the caller appid's binding)."""
        if draft.sp_mchid != PROVIDER_MCHID:
            raise DomainError(ErrorCode.NO_AUTH, "云支付订单必须由云开发服务商下单")
        self.provider()
        return self.orders.place(draft)

    def find(self, sub_mchid: str, out_trade_no: str | None, transaction_id: str | None) -> Order:
        self.merchants.sub_merchant(self.provider().mchid, sub_mchid)
        return self.orders.find(
            sub_mchid, out_trade_no=out_trade_no, transaction_id=transaction_id, sp_mchid=PROVIDER_MCHID
        )

    def close(self, sub_mchid: str, out_trade_no: str | None, transaction_id: str | None) -> Order:
        """Close an unpaid order (by out_trade_no, or by transaction_id which v2 closeorder lacks but a
        cloud caller may hold); closing a closed order again succeeds."""
        self.merchants.sub_merchant(self.provider().mchid, sub_mchid)
        if out_trade_no is None:
            out_trade_no = self.find(sub_mchid, None, transaction_id).out_trade_no
        return self.orders.close(sub_mchid, out_trade_no, sp_mchid=PROVIDER_MCHID)
