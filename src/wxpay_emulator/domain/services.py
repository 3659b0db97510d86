"""The domain, assembled: one object per emulator process that every API family calls into."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import Connection

from wxpay_emulator.clock import Clock
from wxpay_emulator.crypto import CryptoError, rsa_sign, v2_sign
from wxpay_emulator.domain.cloud import CloudEndpointService
from wxpay_emulator.domain.combine import CombineService
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.merchants import MerchantService
from wxpay_emulator.domain.miniprogram import MiniProgramService
from wxpay_emulator.domain.models import CombineOrder, Order, PaymentResult
from wxpay_emulator.domain.notifications import (
    CombineRenderer,
    NotificationService,
    PaymentRenderer,
    RefundRenderer,
)
from wxpay_emulator.domain.orders import OrderService
from wxpay_emulator.domain.refunds import RefundService
from wxpay_emulator.domain.shared_clock import SharedClock
from wxpay_emulator.ids import Ids
from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.repositories import StateRepo, reset_business_data
from wxpay_emulator.storage.shared_state import CLOCK_OFFSET_KEY


class Domain:
    def __init__(
        self,
        store: Store,
        renderers: Mapping[str, PaymentRenderer],
        combine_renderer: CombineRenderer | None = None,
        *,
        clock: Clock | None = None,
        ids: Ids | None = None,
        notify_time_scale: float = 1.0,
        on_notification: Callable[[], None] | None = None,
        refund_renderers: Mapping[str, RefundRenderer] | None = None,
        refund_delay_seconds: float = 5.0,
    ) -> None:
        self.store = store
        # Shared by every process on the store (domain/shared_clock.py) unless a test gives its own.
        self.clock = clock or SharedClock(store)
        self.ids = ids or Ids()
        self.merchants = MerchantService(store, self.clock, self.ids)
        self.cloud = CloudEndpointService(store)
        self.miniprogram = MiniProgramService(store, self.clock, self.ids)
        self.notifications = NotificationService(
            store,
            self.clock,
            self.ids,
            self.merchants,
            renderers,
            combine_renderer,
            notify_time_scale,
            on_notification,
            refund_renderers=refund_renderers,
        )
        self.orders = OrderService(store, self.clock, self.ids, self.merchants, self._on_paid)
        self.refunds = RefundService(
            store, self.clock, self.ids, self.notifications.enqueue_refund, refund_delay_seconds
        )
        # A query after the refund delay sees the refund done and the order in REFUND.
        self.orders.before_read = self.refunds.settle_if_due
        self.combines = CombineService(
            store, self.clock, self.ids, self.merchants, self.orders, self.notifications.enqueue_combine
        )
        with store.transaction() as conn:
            offset = StateRepo(conn).get(CLOCK_OFFSET_KEY)
        if offset is not None:
            self.clock.set_offset(float(offset))

    def _on_paid(self, conn: Connection, order: Order) -> None:
        self.notifications.enqueue_payment(conn, order)

    def advance_clock(self, seconds: float) -> float:
        """Move the business clock forward (never back: WeChat's time does not rewind). The stored
        offset is read and written in one transaction, so concurrent advances add up."""
        if seconds < 0:
            raise DomainError(ErrorCode.PARAM_ERROR, "advance_seconds must not be negative")
        with self.store.transaction() as conn:
            state = StateRepo(conn)
            stored = state.get(CLOCK_OFFSET_KEY, lock=True)
            offset = (float(stored) if stored is not None else 0.0) + seconds
            state.set(CLOCK_OFFSET_KEY, repr(offset))
        self.clock.set_offset(offset)
        return offset

    def reset(self) -> None:
        """Forget every order and notification and put the clock back; merchants and keys stay."""
        with self.store.transaction() as conn:
            reset_business_data(conn)
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
        combine = self.combines.by_prepay_id(prepay_id)
        if combine is not None:
            appids, signer = {combine.combine_appid}, combine.combine_mchid
        else:
            order = self.orders.by_prepay_id(prepay_id)
            # A partner order placed with sub_appid is paid inside that app: appId may be either.
            appids = {order.appid, *([order.sub_appid] if order.sub_appid else [])}
            signer = order.notify_mchid
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
        if combine is not None:
            return self.combines.pay(result=PaymentResult.SUCCESS, prepay_id=prepay_id, openid=openid)
        return self.orders.pay(result=PaymentResult.SUCCESS, prepay_id=prepay_id, openid=openid)
