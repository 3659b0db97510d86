"""The notification outbox.

A notification row is written in the same transaction as the state change that causes it, so a crash
can lose neither; the dispatcher (notify/dispatcher.py) delivers rows that are due, at least once, with
the notification ``id`` stable across retries. The body is rendered once, at creation, by the order's
family (a renderer the api layer registers), so every retry carries the same bytes.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
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
        merchant = self._merchant(uow, order.notify_mchid)
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
        merchant = self._merchant(uow, combine.combine_mchid)
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
        merchant = self._merchant(uow, order.notify_mchid)
        notification_id = self.ids.notification_id()
        rendered = renderer(merchant, order, refund, notification_id, self.clock.now())
        url, kind = refund.notify_url, family + "refund"
        return self._enqueue(uow, notification_id, merchant.mchid, order.id, kind, url, rendered)

    def _merchant(self, uow: UnitOfWork, mchid: str) -> Merchant:
        """The merchant, read in the caller's unit of work when this process has not loaded it yet: a
        second one here would wait on the first (SQLite's one writer; this process's lock). A process
        that did not serve the order (``serve --workers N``) meets that case first."""
        found = self.merchants.cached(mchid) or uow.merchants.get(mchid)
        if found is None:
            raise DomainError(ErrorCode.MCH_NOT_EXISTS, "商户号不存在", field="mchid", value=mchid)
        return found

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
        """Rows whose delivery time has come (whoever holds them): for inspection and tests. The
        dispatcher claims rows instead (:meth:`claim`)."""
        with self.uow() as uow:
            return uow.notifications.due(self.clock.now(), limit)

    def claim(
        self, owner: str, limit: int, lease_seconds: float, skip: Sequence[str] = ()
    ) -> list[Notification]:
        """Claim up to ``limit`` due rows for ``owner`` for ``lease_seconds`` (real time): no other
        process takes them until the claim is given back or runs out (storage/outbox_repo.py). Rows to
        the endpoints in ``skip`` (URL prefixes this process has enough of in hand) are left."""
        real_now = Clock.real_now()
        until = real_now + dt.timedelta(seconds=lease_seconds)
        now = self.clock.now()
        with self.uow() as uow:
            return uow.notifications.claim(owner, now, real_now, until, limit, skip)

    def release(self, ids: Sequence[str], owner: str) -> None:
        """Give claims back unattempted (a process stopping, or more in hand than it will start)."""
        with self.uow() as uow:
            uow.notifications.release(ids, owner)

    def next_due_in(self, skip: Sequence[str] = ()) -> float | None:
        """Seconds until the next row not held by a live claim (nor to an endpoint in ``skip``)
        falls due (<= 0: due now)."""
        with self.uow() as uow:
            moment = uow.notifications.next_due(Clock.real_now(), skip)
        return None if moment is None else (moment - self.clock.now()).total_seconds()

    def record_attempt(self, attempt: DeliveryAttempt, acknowledged: bool) -> None:
        self.record_attempts([(attempt, acknowledged)], None)

    def record_attempts(
        self, results: Sequence[tuple[DeliveryAttempt, bool]], owner: str | None
    ) -> builtins.list[str]:
        """Record finished attempts in one unit of work and give back ``owner``'s claims on them;
        returns the ids recorded. An attempt is recorded only on a row ``owner`` still holds
        (storage/outbox_repo.py): if its lease ran out and another process claimed the row since,
        that process's attempt decides the row's state and this one is dropped (not counted twice,
        never overwriting a newer answer). ``owner`` None records on any existing row (a row reset
        while in flight is gone and records nothing)."""
        if not results:
            return []
        with self.uow() as uow:
            return self._record(uow, results, owner)

    def give_back(
        self, owner: str, results: Sequence[tuple[DeliveryAttempt, bool]] = ()
    ) -> builtins.list[str]:
        """A dispatcher stopping: record its finished ``results`` (as :meth:`record_attempts`) and give
        back every other claim ``owner`` still has, due again at its scheduled time with its attempts
        unchanged, in one unit of work. Returns the ids recorded. Safe beside a recording of ``owner``
        still running elsewhere: whichever commits first, the other finds the row no longer claimed."""
        with self.uow() as uow:
            recorded = self._record(uow, results, owner) if results else []
            uow.notifications.release_owned(owner)
        return recorded

    def _record(
        self, uow: UnitOfWork, results: Sequence[tuple[DeliveryAttempt, bool]], owner: str | None
    ) -> builtins.list[str]:
        now = self.clock.now()
        repo = uow.notifications
        held = repo.held([attempt.notification_id for attempt, _ in results], owner)
        attempts: builtins.list[DeliveryAttempt] = []
        changes: builtins.list[dict[str, object]] = []
        for attempt, acknowledged in results:
            current = held.pop(attempt.notification_id, None)
            if current is None:  # not ours any more (or reset), or a second attempt in one batch
                continue
            attempts.append(attempt)
            changes.append(self._after(current, acknowledged, now))
        repo.add_attempts(attempts)
        repo.finish(changes)
        return [a.notification_id for a in attempts]

    def _after(self, current: Notification, acknowledged: bool, now: dt.datetime) -> dict[str, object]:
        """The row's new state after one more attempt."""
        attempts = current.attempts + 1
        change: dict[str, object] = {
            "id": current.id,
            "attempts": attempts,
            "status": current.status.value,
            "next_attempt_at": None,
            "delivered_at": current.delivered_at,
        }
        if acknowledged:
            change.update(status=NotificationStatus.DELIVERED.value, delivered_at=now)
            return change
        delay = next_delay(attempts, self.time_scale)
        if delay is None:
            change.update(status=NotificationStatus.FAILED.value)
        else:
            change.update(next_attempt_at=now + dt.timedelta(seconds=delay))
        return change

    def list(
        self, mchid: str | None = None, limit: int = 200, before: tuple[dt.datetime, str] | None = None
    ) -> list[tuple[Notification, list[DeliveryAttempt]]]:
        with self.uow() as uow:
            repo = uow.notifications
            rows = repo.recent(mchid, limit, before)
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
            repo.update(
                notification_id,
                status=NotificationStatus.PENDING,
                next_attempt_at=self.clock.now(),
                claimed_by=None,
                lease_until=None,
            )
            found = repo.get(notification_id)
        assert found is not None
        if self.on_enqueued is not None:
            self.on_enqueued()
        return found
