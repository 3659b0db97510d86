"""SQL of the request journal and of the event stream's delivery attempts (tables ``journal`` and
``notification_attempts``). Rows come back as plain mappings: the journal is no domain object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, text

from wxpay_emulator.storage.db import insert_or
from wxpay_emulator.storage.tables import journal, notification_attempts, notifications, settings_kv

# The real time (POSIX seconds) of the last reset, in the emulator_state table. A reset updates this
# row (the one row of that table a reset keeps); every process's writer reads it in the transaction
# that stores a batch and drops the calls that began before it. So a call any process answered just
# before a reset, still waiting in that process's writer, is forgotten with the rest.
RESET_KEY = "journal_reset_at"
_RESET_AT = select(settings_kv.c.value).where(settings_kv.c.key == RESET_KEY)


def mark_reset(conn: Connection, at: float) -> None:
    """Record a reset at real time ``at``; the first statement of the reset's transaction. On PostgreSQL
    its row lock orders the reset with every writer's :func:`last_reset`: a writer that read the mark
    first commits before the reset's deletes run (they then delete its rows), and one that reads it
    after waits for the reset to commit and sees the new mark. SQLite serialises the transactions."""
    insert_or(conn, settings_kv, ["key"], {"key": RESET_KEY, "value": repr(at)}, {"value": repr(at)})


def last_reset(conn: Connection) -> float:
    """The real time of the last reset (0.0 before any), read under a share lock on PostgreSQL."""
    query = _RESET_AT.with_for_update(read=True) if conn.dialect.name == "postgresql" else _RESET_AT
    value = conn.execute(query).scalar()
    if value is None:  # no reset yet: make the row, so that a reset arriving now has one to lock
        insert_or(conn, settings_kv, ["key"], {"key": RESET_KEY, "value": "0"})
        value = conn.execute(query).scalar()
    return float(value) if value else 0.0


def insert_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        conn.execute(insert(journal), list(rows))


def max_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(journal.c.id))).scalar() or 0)


def _taken(conn: Connection, table: Table) -> int:
    """The newest id handed out so far, committed or not: on PostgreSQL the position of the table's id
    sequence (0 when none was taken); elsewhere the newest stored id (SQLite takes ids in commit order)."""
    newest = int(conn.execute(select(func.max(table.c.id))).scalar() or 0)
    if conn.dialect.name != "postgresql":
        return newest
    query = text("SELECT pg_sequence_last_value(CAST(pg_get_serial_sequence(:t, 'id') AS regclass))")
    return max(newest, int(conn.execute(query, {"t": table.name}).scalar() or 0))


def taken_id(conn: Connection) -> int:
    """The newest journal id handed out so far: the event stream's "now" (nothing below it is new)."""
    return _taken(conn, journal)


def taken_attempt_id(conn: Connection) -> int:
    """The newest delivery attempt id handed out so far."""
    return _taken(conn, notification_attempts)


def trim(conn: Connection, keep: int) -> int:
    """Delete all but the newest ``keep`` entries (ids are allocated in order); the number deleted."""
    newest = max_id(conn)
    if newest <= keep:
        return 0
    return conn.execute(delete(journal).where(journal.c.id <= newest - keep)).rowcount or 0


def _filtered(
    query: Any, mchid: str | None, family: str | None, status: int | None, status_class: int | None
) -> Any:
    if mchid is not None:
        query = query.where(journal.c.mchid == mchid)
    if family is not None:
        query = query.where(journal.c.family == family)
    if status is not None:
        query = query.where(journal.c.status == status)
    if status_class is not None:
        query = query.where(
            journal.c.status >= status_class * 100, journal.c.status < status_class * 100 + 100
        )
    return query


def page(
    conn: Connection,
    *,
    before: int | None,
    limit: int,
    mchid: str | None = None,
    family: str | None = None,
    status: int | None = None,
    status_class: int | None = None,
) -> list[Mapping[str, Any]]:
    """Entries with id below ``before`` (all when None), newest first, at most ``limit``."""
    query = _filtered(select(journal), mchid, family, status, status_class)
    if before is not None:
        query = query.where(journal.c.id < before)
    return [dict(r._mapping) for r in conn.execute(query.order_by(journal.c.id.desc()).limit(limit))]


def get(conn: Connection, entry_id: int) -> Mapping[str, Any] | None:
    row = conn.execute(select(journal).where(journal.c.id == entry_id)).first()
    return None if row is None else dict(row._mapping)


def ids_since(conn: Connection, after: int, upto: int, limit: int) -> list[int]:
    """The ids of all entries (no filter) with ``after < id <= upto``, ascending, at most ``limit``: the
    event stream finds the gaps it must wait for in them (journal/frontier.py)."""
    query = select(journal.c.id).where(journal.c.id > after, journal.c.id <= upto)
    return [int(i) for i in conn.execute(query.order_by(journal.c.id).limit(limit)).scalars()]


def since(
    conn: Connection, after: int, upto: int, limit: int, mchid: str | None = None, family: str | None = None
) -> list[Mapping[str, Any]]:
    """Entries with ``after < id <= upto``, oldest first."""
    query = select(journal).where(journal.c.id > after, journal.c.id <= upto)
    query = _filtered(query, mchid, family, None, None)
    return [dict(r._mapping) for r in conn.execute(query.order_by(journal.c.id).limit(limit))]


def max_attempt_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(notification_attempts.c.id))).scalar() or 0)


def attempt_ids_since(conn: Connection, after: int, upto: int, limit: int) -> list[int]:
    """The ids of all delivery attempts with ``after < id <= upto``, ascending, at most ``limit``."""
    a = notification_attempts
    query = select(a.c.id).where(a.c.id > after, a.c.id <= upto)
    return [int(i) for i in conn.execute(query.order_by(a.c.id).limit(limit)).scalars()]


def attempts_since(
    conn: Connection,
    after: int,
    upto: int,
    limit: int,
    mchid: str | None = None,
    family_prefix: str | None = None,
) -> list[Mapping[str, Any]]:
    """Delivery attempts with ``after < id <= upto``, oldest first, with their notification's state now."""
    a, n = notification_attempts, notifications
    query = (
        select(
            a.c.id,
            a.c.notification_id,
            a.c.attempted_at,
            a.c.response_status,
            a.c.error,
            a.c.duration_ms,
            a.c.acknowledged,
            n.c.mchid,
            n.c.family,
            n.c.event_type,
            n.c.url,
            n.c.status,
            n.c.attempts,
            n.c.next_attempt_at,
        )
        .join(n, n.c.id == a.c.notification_id)
        .where(a.c.id > after, a.c.id <= upto)
    )
    if mchid is not None:
        query = query.where(n.c.mchid == mchid)
    if family_prefix is not None:  # "cloud" covers the cloud functions' "cloudfn"
        query = query.where(n.c.family.startswith(family_prefix, autoescape=True))
    return [dict(r._mapping) for r in conn.execute(query.order_by(a.c.id).limit(limit))]


def first_mentioning(conn: Connection, mchids: Sequence[str], text: str) -> Mapping[str, Any] | None:
    """The oldest successful (2xx, no WeChat code) POST entry of one of ``mchids`` whose path or request
    body contains ``text``: for an out_trade_no, the call that created the order."""
    query = (
        select(journal)
        .where(
            journal.c.mchid.in_(list(mchids)),
            journal.c.method == "POST",
            journal.c.status >= 200,
            journal.c.status < 300,
            journal.c.code.is_(None),
            journal.c.path.contains(text, autoescape=True)
            | journal.c.request_body.contains(text, autoescape=True),
        )
        .order_by(journal.c.id)
        .limit(1)
    )
    row = conn.execute(query).first()
    return None if row is None else dict(row._mapping)
