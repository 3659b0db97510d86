"""The domain, assembled: one object per emulator process that every API family calls into."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from wxpay_emulator.clock import Clock
from wxpay_emulator.crypto import CryptoError, rsa_sign, v2_sign
from wxpay_emulator.crypto.keys import KeySource
from wxpay_emulator.domain.cloud import CloudEndpointService
from wxpay_emulator.domain.combine import CombineService
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.merchants import MerchantService
from wxpay_emulator.domain.miniprogram import MiniProgramService
from wxpay_emulator.domain.models import CombineOrder, Order, PaymentResult, Refund
from wxpay_emulator.domain.notifications import (
    CombineRenderer,
    NotificationService,
    PaymentRenderer,
    RefundRenderer,
)
from wxpay_emulator.domain.orders import OrderService
from wxpay_emulator.domain.ports import UnitOfWork, UnitOfWorkFactory
from wxpay_emulator.domain.refunds import RefundService
from wxpay_emulator.ids import Ids

CLOCK_OFFSET_KEY = "clock_offset_seconds"


class Domain:
    """Built by app.py's ``build_domain`` with storage's unit-of-work factory (storage/uow.py)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        renderers: Mapping[str, PaymentRenderer],
        combine_renderer: CombineRenderer | None = None,
        *,
        clock: Clock | None = None,
        ids: Ids | None = None,
        notify_time_scale: float = 1.0,
        on_notification: Callable[[], None] | None = None,
        refund_renderers: Mapping[str, RefundRenderer] | None = None,
        refund_delay_seconds: float = 5.0,
        key_source: KeySource | None = None,
    ) -> None:
        self.uow = uow
        # app.py gives the clock every process on the store shares (storage/shared_state.py).
        self.clock = clock or Clock()
        self.ids = ids or Ids()
        self.merchants = MerchantService(uow, self.clock, self.ids, key_source)
        self.cloud = CloudEndpointService(uow)
        self.miniprogram = MiniProgramService(uow, self.clock, self.ids)
        self.notifications = NotificationService(
            uow,
            self.clock,
            self.ids,
            self.merchants,
            renderers,
            combine_renderer,
            notify_time_scale,
            on_notification,
            refund_renderers=refund_renderers,
        )
        self.orders = OrderService(uow, self.clock, self.ids, self.merchants, self._on_paid)
        self.refunds = RefundService(
            uow, self.clock, self.ids, self.notifications.enqueue_refund, refund_delay_seconds
        )
        # A query after the refund delay sees the refund done and the order in REFUND.
        self.orders.before_read = self.refunds.settle_if_due
        self.combines = CombineService(
            uow, self.clock, self.ids, self.merchants, self.orders, self.notifications.enqueue_combine
        )
        with uow() as work:
            offset = work.state.get(CLOCK_OFFSET_KEY)
        if offset is not None:
            self.clock.set_offset(float(offset))

    def _on_paid(self, uow: UnitOfWork, order: Order) -> None:
        self.notifications.enqueue_payment(uow, order)

    def advance_clock(self, seconds: float) -> float:
        """Move the business clock forward (never back: WeChat's time does not rewind). The stored
        offset is read and written in one transaction, so concurrent advances add up."""
        if seconds < 0:
            raise DomainError(ErrorCode.PARAM_ERROR, "advance_seconds must not be negative")
        with self.uow() as uow:
            state = uow.state
            stored = state.get(CLOCK_OFFSET_KEY, lock=True)
            offset = (float(stored) if stored is not None else 0.0) + seconds
            state.set(CLOCK_OFFSET_KEY, repr(offset))
        self.clock.set_offset(offset)
        return offset

    def reset(self) -> None:
        """Forget every order and notification and put the clock back; merchants and keys stay."""
        with self.uow() as uow:
            uow.forget_business_data()
        self.clock.set_offset(0.0)

    def request_payment(
        self,
        *,
        app_id: str,
        time_stamp: str,
        nonce_str: str,
        package: str,
        sign_type: str,
        pay_sign: str,
        openid: str | None = None,
    ) -> Order | CombineOrder:
        """What the WeChat client does with ``wx.requestPayment``: check paySign, then pay.

        v3 (signType RSA): RSA-SHA256 over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n`` with the API key
        of the merchant that placed the order (the provider, for partner orders; the initiator, for
        combine orders). v2 and cloud (MD5 / HMAC-SHA256): the v2 sign of the five fields.
        """
        if not package.startswith("prepay_id="):
            raise DomainError(ErrorCode.PARAM_ERROR, "package must be prepay_id=...", field="package")
        prepay_id = package.removeprefix("prepay_id=")
        payable = self.payable_by_prepay_id(prepay_id)
        if isinstance(payable, CombineOrder):
            appids, signer = {payable.combine_appid}, payable.combine_mchid
        else:
            # A partner order placed with sub_appid is paid inside that app: appId may be either.
            appids = {payable.appid, *([payable.sub_appid] if payable.sub_appid else [])}
            signer = payable.notify_mchid
        if app_id not in appids:
            raise DomainError(ErrorCode.APPID_MCHID_NOT_MATCH, "appId与下单时的appid不一致", field="appId")
        merchant = self.merchants.get(signer)
        try:
            if sign_type == "RSA":
                message = rsa_sign.lines_message(app_id, time_stamp, nonce_str, package)
                rsa_sign.verify(merchant.merchant_cert_pem, message, pay_sign)
            elif sign_type in (v2_sign.MD5, v2_sign.HMAC_SHA256):
                fields = {
                    "appId": app_id,
                    "timeStamp": time_stamp,
                    "nonceStr": nonce_str,
                    "package": package,
                    "signType": sign_type,
                }
                v2_sign.verify(fields, merchant.api_key, pay_sign, sign_type)
            else:
                raise DomainError(ErrorCode.PARAM_ERROR, "signType must be RSA, MD5 or HMAC-SHA256")
        except CryptoError as exc:
            raise DomainError(ErrorCode.SIGN_ERROR, f"paySign校验失败: {exc}", field="paySign") from exc
        return self.pay_by_prepay_id(PaymentResult.SUCCESS, prepay_id, openid)

    def payable_by_prepay_id(self, prepay_id: str) -> Order | CombineOrder:
        """What a prepay_id pays: a combine order (all its sub-orders), or one order."""
        combine = self.combines.by_prepay_id(prepay_id)
        if combine is not None:
            return combine
        return self.orders.by_prepay_id(prepay_id)

    def pay_by_prepay_id(
        self, result: PaymentResult, prepay_id: str, openid: str | None = None
    ) -> Order | CombineOrder:
        """The payer acts on what ``prepay_id`` pays (see :meth:`payable_by_prepay_id`)."""
        if self.combines.by_prepay_id(prepay_id) is not None:
            return self.combines.pay(result=result, prepay_id=prepay_id, openid=openid)
        return self.orders.pay(result=result, prepay_id=prepay_id, openid=openid)

    def find_refunds(
        self,
        mchid: str,
        sp_mchid: str | None = None,
        *,
        refund_id: str | None = None,
        out_refund_no: str | None = None,
        transaction_id: str | None = None,
        out_trade_no: str | None = None,
    ) -> tuple[Order, list[Refund]]:
        """A refund query: one refund (by ``refund_id``, else ``out_refund_no``) or every refund of one
        order (by ``transaction_id``, else ``out_trade_no``), oldest first, with the order. ``mchid`` is
        the sub-merchant for partner calls, with its provider ``sp_mchid``. No refund at all answers
        RESOURCE_NOT_EXISTS; an unknown order ORDER_NOT_EXIST."""
        if refund_id is None and out_refund_no is None and transaction_id is None and out_trade_no is None:
            raise DomainError(
                ErrorCode.PARAM_ERROR, "transaction_id、out_trade_no、out_refund_no、refund_id四选一"
            )
        if refund_id is not None or out_refund_no is not None:
            found = (
                self.refunds.by_refund_id(mchid, refund_id, sp_mchid)
                if refund_id is not None
                else self.refunds.get(mchid, out_refund_no or "", sp_mchid)
            )
            order = self.refunds.order_of(found.mchid, found.out_trade_no)
            refunds = [found]
        else:
            order = self.orders.find(
                mchid, out_trade_no=out_trade_no, transaction_id=transaction_id, sp_mchid=sp_mchid
            )
            refunds = self.refunds.for_orders([order.id]).get(order.id, [])
        if order is None or not refunds:
            raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, "退款单不存在")
        return order, refunds
