"""The notification outbox.

A notification row is written in the same transaction as the state change that causes it, so a crash
can lose neither; the dispatcher (notify/dispatcher.py) delivers rows that are due, at least once, with
the notification ``id`` stable across retries. The body is rendered once, at creation, by the order's
family (a renderer the api layer registers), so every retry carries the same bytes.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.merchants import MerchantService
from wxpay_emulator.domain.models import (
    CombineOrder,
    DeliveryAttempt,
    Merchant,
    Notification,
    NotificationStatus,
    Order,
    Refund,
)
from wxpay_emulator.domain.ports import UnitOfWork, UnitOfWorkFactory
from wxpay_emulator.ids import Ids
from wxpay_emulator.notify.schedule import next_delay


@dataclass(frozen=True)
class RenderedNotification:
    event_type: str
    body: str


class PaymentRenderer(Protocol):
    """Builds one family's payment-success notification body."""

    def __call__(
        self, merchant: Merchant, order: Order, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification: ...


class CombineRenderer(Protocol):
    """Builds the one notification of a paid combine order (all its sub-orders)."""

    def __call__(
        self, merchant: Merchant, combine: CombineOrder, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification: ...


class RefundRenderer(Protocol):
    """Builds one family's refund notification (REFUND.SUCCESS / ABNORMAL / CLOSED)."""

    def __call__(
        self, merchant: Merchant, order: Order, refund: Refund, notification_id: str, created_at: dt.datetime
    ) -> RenderedNotification: ...


class NotificationService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: Ids,
        merchants: MerchantService,
        renderers: Mapping[str, PaymentRenderer],
        combine_renderer: CombineRenderer | None = None,
        time_scale: float = 1.0,
        on_enqueued: Callable[[], None] | None = None,
        *,
        refund_renderers: Mapping[str, RefundRenderer] | None = None,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.ids = ids
        self.merchants = merchants
        self.renderers = renderers
        self.combine_renderer = combine_renderer
        self.time_scale = time_scale
        self.on_enqueued = on_enqueued
        # By the family of the refunded order (the api layer registers them: "v3", "v2" ...).
        self.refund_renderers: dict[str, RefundRenderer] = dict(refund_renderers or {})

    def enqueue_payment(self, uow: UnitOfWork, order: Order) -> Notification:
        """Write the payment notification of ``order`` inside the caller's transaction."""
        merchant = self.merchants.get(order.notify_mchid)
        now = self.clock.now()
        notification_id = self.ids.notification_id()
        rendered = self.renderers[order.family](merchant, order, notification_id, now)
        return self._enqueue(
            uow, notification_id, merchant.mchid, order.id, order.family, order.notify_url, rendered
        )

    def enqueue_combine(self, uow: UnitOfWork, combine: CombineOrder) -> Notification:
        """The one notification of a paid combine order, to its notify_url, from the initiator's keys."""
        if self.combine_renderer is None:
            raise RuntimeError("no combine renderer registered")
        merchant = self.merchants.get(combine.combine_mchid)
        notification_id = self.ids.notification_id()
        rendered = self.combine_renderer(merchant, combine, notification_id, self.clock.now())
        return self._enqueue(
            uow, notification_id, merchant.mchid, None, "v3combine", combine.notify_url, rendered
        )

    def enqueue_refund(self, uow: UnitOfWork, order: Order, refund: Refund) -> Notification | None:
        """Write the notification of a refund's outcome inside the caller's transaction, to the
        refund's notify_url, rendered by the refund's family with the keys of the merchant that receives
        it (the provider, for partner orders). None when that family has no refund renderer."""
        # The API family that asked for the refund shapes its notification (a v2 refund of a v3 order
        # is told in v2 XML); a control-plane refund takes the order's family.
        family = refund.family if refund.family in self.refund_renderers else order.family
        renderer = self.refund_renderers.get(family)
        if renderer is None or not refund.notify_url:
            return None
        merchant = self.merchants.get(order.notify_mchid)
        notification_id = self.ids.notification_id()
        rendered = renderer(merchant, order, refund, notification_id, self.clock.now())
        url, kind = refund.notify_url, family + "refund"
        return self._enqueue(uow, notification_id, merchant.mchid, order.id, kind, url, rendered)

    def _enqueue(
        self,
        uow: UnitOfWork,
        notification_id: str,
        mchid: str,
        order_id: int | None,
        family: str,
        url: str,
        rendered: RenderedNotification,
    ) -> Notification:
        now = self.clock.now()
        row = Notification(
            id=notification_id,
            mchid=mchid,
            order_id=order_id,
            event_type=rendered.event_type,
            family=family,
            url=url,
            body=rendered.body,
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            delivered_at=None,
        )
        uow.notifications.add(row)
        if self.on_enqueued is not None:
            uow.after_commit(self.on_enqueued)
        return row

    def due(self, limit: int) -> list[Notification]:
        """Rows whose delivery time has come. The dispatcher delivers a whole batch before it asks
        again, so a row is never in flight twice; if the process dies mid-delivery the row is still
        due and goes out again after the restart (at least once, same id)."""
        with self.uow() as uow:
            return uow.notifications.due(self.clock.now(), limit)

    def record_attempt(self, attempt: DeliveryAttempt, acknowledged: bool) -> None:
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.notifications
            current = repo.get(attempt.notification_id)
            if current is None:  # reset while in flight
                return
            repo.add_attempt(attempt)
            attempts = current.attempts + 1
            if acknowledged:
                repo.update(
                    current.id,
                    attempts=attempts,
                    status=NotificationStatus.DELIVERED,
                    delivered_at=now,
                    next_attempt_at=None,
                )
                return
            delay = next_delay(attempts, self.time_scale)
            if delay is None:
                repo.update(
                    current.id, attempts=attempts, status=NotificationStatus.FAILED, next_attempt_at=None
                )
            else:
                repo.update(current.id, attempts=attempts, next_attempt_at=now + dt.timedelta(seconds=delay))

    def list(
        self, mchid: str | None = None, limit: int = 200
    ) -> list[tuple[Notification, list[DeliveryAttempt]]]:
        with self.uow() as uow:
            repo = uow.notifications
            rows = repo.recent(mchid, limit)
            attempts = repo.attempts([n.id for n in rows])
        return [(n, attempts[n.id]) for n in rows]

    def for_order(self, order_id: int) -> builtins.list[tuple[Notification, builtins.list[DeliveryAttempt]]]:
        """An order's notifications (payment and refunds), oldest first, with their attempts."""
        with self.uow() as uow:
            repo = uow.notifications
            rows = repo.for_order(order_id)
            attempts = repo.attempts([n.id for n in rows])
        return [(n, attempts[n.id]) for n in rows]

    def detail(self, notification_id: str) -> tuple[Notification, builtins.list[DeliveryAttempt]]:
        """One notification with its delivery attempts, oldest first."""
        with self.uow() as uow:
            repo = uow.notifications
            found = repo.get(notification_id)
            attempts = repo.attempts([notification_id]) if found is not None else {}
        if found is None:
            raise DomainError(ErrorCode.NOTIFICATION_NOT_FOUND, f"no notification {notification_id}")
        return found, attempts[notification_id]

    def get(self, notification_id: str) -> Notification:
        with self.uow() as uow:
            found = uow.notifications.get(notification_id)
        if found is None:
            raise DomainError(ErrorCode.NOTIFICATION_NOT_FOUND, f"no notification {notification_id}")
        return found

    def redeliver(self, notification_id: str) -> Notification:
        """Deliver again now, whatever its status: the same id and body, as a WeChat retry."""
        with self.uow() as uow:
            repo = uow.notifications
            if repo.get(notification_id) is None:
                raise DomainError(ErrorCode.NOTIFICATION_NOT_FOUND, f"no notification {notification_id}")
            repo.update(notification_id, status=NotificationStatus.PENDING, next_attempt_at=self.clock.now())
            found = repo.get(notification_id)
        assert found is not None
        if self.on_enqueued is not None:
            self.on_enqueued()
        return found
