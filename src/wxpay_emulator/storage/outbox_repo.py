"""Claims on the notification outbox: several processes deliver from one table, each row by one.

A claim is a lease: ``claimed_by`` names the process, ``lease_until`` (real time) says until when no
other process may take the row. The claim is one statement: on PostgreSQL the due rows are picked with
``FOR UPDATE SKIP LOCKED`` (two claimers never wait on, nor take, the same row); on SQLite the whole
transaction holds the write lock (``BEGIN IMMEDIATE``), so the conditional UPDATE is serialised. A
process that dies mid-delivery never clears its claim; the row becomes claimable when the lease runs out.

Recording an attempt is conditional on the claim (:meth:`OutboxRepo.held`): only the rows still claimed by
the recording process are updated. A process whose lease ran out and whose row another process took
since (``claimed_by`` now names that one) records nothing on it: the new holder's attempt decides the
row's state, so no attempt is counted twice and a late answer never overwrites a newer one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, or_, select, update

from wxpay_emulator.domain.models import DeliveryAttempt, Notification, NotificationStatus
from wxpay_emulator.storage.repositories import NotificationRepo, notification_from_row
from wxpay_emulator.storage.tables import notification_attempts, notifications

_PENDING = NotificationStatus.PENDING.value
_N = notifications.c


def _claimable(now: dt.datetime, real_now: dt.datetime) -> list[ColumnElement[bool]]:
    return [
        _N.status == _PENDING,
        _N.next_attempt_at <= now,
        or_(_N.lease_until.is_(None), _N.lease_until <= real_now),
    ]


def _skipping(prefixes: Sequence[str]) -> list[ColumnElement[bool]]:
    return [~_N.url.startswith(prefix, autoescape=True) for prefix in prefixes]


class OutboxRepo(NotificationRepo):
    """The notification repository of a unit of work (storage/uow.py), with the lease."""

    def claim(
        self,
        owner: str,
        now: dt.datetime,
        real_now: dt.datetime,
        lease_until: dt.datetime,
        limit: int,
        skip: Sequence[str] = (),
    ) -> list[Notification]:
        """Claim up to ``limit`` due rows (oldest due first) whose lease is free or has run out,
        leaving rows whose URL starts with one of ``skip``."""
        where = _claimable(now, real_now)
        where += _skipping(skip)
        due = select(_N.id).where(*where).order_by(_N.next_attempt_at).limit(limit)
        if self.conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(notifications)
            .where(_N.id.in_(due.scalar_subquery()))
            .values(claimed_by=owner, lease_until=lease_until)
            .returning(*notifications.c)
        )
        rows = [notification_from_row(r) for r in self.conn.execute(statement)]
        rows.sort(key=lambda n: (n.next_attempt_at or n.created_at, n.id))
        return rows

    def release(self, ids: Sequence[str], owner: str | None, until: dt.datetime | None = None) -> None:
        """Give ``owner``'s claims back (any claim when None): claimable again at ``until`` (real
        time), or at once. A claim another process took after this one ran out is left alone."""
        if ids:
            where: list[ColumnElement[bool]] = [_N.id.in_(list(ids))]
            if owner is not None:
                where.append(_N.claimed_by == owner)
            self.conn.execute(update(notifications).where(*where).values(claimed_by=None, lease_until=until))

    def release_owned(self, owner: str) -> int:
        """Give back every claim ``owner`` still has (a process stopping), in one statement: each row is
        due again at its own ``next_attempt_at``, its attempts unchanged. Only pending rows are ever
        claimed (recording a final state gives the claim back), so the status narrows the scan to them.
        Returns the number of rows given back."""
        statement = (
            update(notifications)
            .where(_N.status == _PENDING, _N.claimed_by == owner)
            .values(claimed_by=None, lease_until=None)
        )
        return int(self.conn.execute(statement).rowcount or 0)

    def held(self, ids: Sequence[str], owner: str | None) -> dict[str, Notification]:
        """The rows of ``ids`` still claimed by ``owner`` (every existing one when None), locked until
        the transaction ends on PostgreSQL (a concurrent claim skips them; on SQLite the transaction
        holds the write lock): what an attempt may be recorded on."""
        if not ids:
            return {}
        query = select(notifications).where(_N.id.in_(list(ids)))
        if owner is not None:
            query = query.where(_N.claimed_by == owner)
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return {n.id: n for n in map(notification_from_row, self.conn.execute(query))}

    def add_attempts(self, attempts: Sequence[DeliveryAttempt]) -> None:
        """Insert attempts in one statement (executemany)."""
        if attempts:
            self.conn.execute(
                insert(notification_attempts),
                [
                    {
                        "notification_id": a.notification_id,
                        "attempted_at": a.attempted_at,
                        "request_headers": json.dumps(a.request_headers),
                        "response_status": a.response_status,
                        "response_body": a.response_body,
                        "error": a.error,
                        "duration_ms": a.duration_ms,
                        "acknowledged": a.response_status in (200, 204),
                    }
                    for a in attempts
                ],
            )

    def finish(self, changes: Sequence[Mapping[str, Any]]) -> None:
        """After attempts: set each row's ``attempts``, ``status``, ``next_attempt_at`` and
        ``delivered_at`` (``changes``: one mapping per row, with its ``id``) and give its claim back,
        in one statement (executemany)."""
        if not changes:
            return
        statement = (
            update(notifications)
            .where(_N.id == bindparam("b_id"))
            .values(
                attempts=bindparam("b_attempts"),
                status=bindparam("b_status"),
                next_attempt_at=bindparam("b_next_attempt_at"),
                delivered_at=bindparam("b_delivered_at"),
                claimed_by=None,
                lease_until=None,
            )
        )
        rows = [{f"b_{key}": value for key, value in change.items()} for change in changes]
        self.conn.execute(statement, rows)

    def next_due(self, real_now: dt.datetime, skip: Sequence[str] = ()) -> dt.datetime | None:
        """The earliest business time at which a pending row not held by a live lease (nor to an
        endpoint in ``skip``) falls due."""
        query = select(func.min(_N.next_attempt_at)).where(
            _N.status == _PENDING,
            or_(_N.lease_until.is_(None), _N.lease_until <= real_now),
            *_skipping(skip),
        )
        value = self.conn.execute(query).scalar()
        if isinstance(value, str):  # SQLite's min() can come back as the stored text
            value = dt.datetime.fromisoformat(value)
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value if isinstance(value, dt.datetime) else None
