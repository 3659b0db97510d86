"""The event stream never skips a row that commits out of id order (journal/events.py, frontier.py).

On PostgreSQL two connections stand for two emulator processes sharing the database: one takes an id
and has not committed yet while the other commits a newer id. The stream's poll must not move past the
older id; once it commits, both are sent, in order, exactly once. A rolled-back id holds the stream for
the grace period at most. Without a gap (and always on SQLite) nothing is held back."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from tests.support.postgres import fresh_postgres_database
from wxpay_emulator.app import open_store
from wxpay_emulator.config import Settings
from wxpay_emulator.journal.service import Journal
from wxpay_emulator.storage import journal_repo
from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.tables import journal as journal_table
from wxpay_emulator.storage.tables import notification_attempts, notifications

NOW = dt.datetime(2026, 11, 30, 11, 0, tzinfo=dt.UTC)


def entry(path: str, family: str = "v3") -> dict[str, Any]:
    return {
        "time": NOW,
        "family": family,
        "method": "GET",
        "path": path,
        "query": "",
        "mchid": "1900000001",
        "status": 200,
        "code": None,
        "duration_ms": 1.0,
        "sign_check": None,
        "request_headers": "{}",
        "request_body": "",
        "response_headers": "{}",
        "response_body": "",
    }


def attempt(notification_id: str, error: str) -> dict[str, Any]:
    return {
        "notification_id": notification_id,
        "attempted_at": NOW,
        "request_headers": "{}",
        "response_status": None,
        "response_body": "",
        "error": error,
        "duration_ms": 1.0,
        "acknowledged": False,
    }


def paths(events: list[tuple[str, dict[str, Any], Any]]) -> list[str]:
    return [data["path"] if kind == "request" else data["error"] for kind, data, _ in events]


@pytest.fixture(scope="module")
def pg_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A PostgreSQL database of this module's own (its rows never meet another test's)."""
    with fresh_postgres_database("wxpay_stream") as name:
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        store = open_store(Settings(data_dir=tmp_path_factory.mktemp("stream"), database_url=url))
        try:
            yield store
        finally:
            store.dispose()


def journal_on(store: Store, grace: float) -> Iterator[Journal]:
    journal = Journal(store, 10_000, gap_grace=grace)
    try:
        yield journal
    finally:
        journal.close()


def test_an_entry_committed_after_a_newer_one_is_sent_once_in_order(pg_store: Store) -> None:
    for journal in journal_on(pg_store, grace=60.0):  # a long grace: only the commit may release it
        feed = journal.event_feed(journal.event_cursor())
        with pg_store.engine.connect() as slow:
            pending = slow.begin()
            journal_repo.insert_rows(slow, [entry("/older")])  # takes its id, not committed
            with pg_store.transaction() as conn:
                journal_repo.insert_rows(conn, [entry("/newer")])  # the next id, committed first
            assert feed.poll() == []  # the old stream sent /newer here and moved past /older for good
            pending.commit()
        events = feed.poll()
        assert paths(events) == ["/older", "/newer"]
        ids = [data["id"] for _, data, _ in events]
        assert ids[1] == ids[0] + 1 and feed.cursor.request_id == ids[1]
        assert [str(at) for _, _, at in events] == [f"{i}:{feed.cursor.attempt_id}" for i in ids]
        assert feed.poll() == []
        # A stream resumed from the first event's id sends the second only.
        resumed = journal.event_feed(events[0][2])
        assert paths(resumed.poll()) == ["/newer"]


def test_a_filtered_stream_waits_for_a_gap_it_would_not_show(pg_store: Store) -> None:
    """The gap may be a row of another family: whether it shows is known only once it is visible."""
    for journal in journal_on(pg_store, grace=60.0):
        feed = journal.event_feed(journal.event_cursor(), family="v2")
        with pg_store.engine.connect() as slow:
            pending = slow.begin()
            journal_repo.insert_rows(slow, [entry("/older-v2", "v2")])
            with pg_store.transaction() as conn:
                journal_repo.insert_rows(conn, [entry("/newer-v3"), entry("/newer-v2", "v2")])
            assert feed.poll() == []
            pending.commit()
        assert paths(feed.poll()) == ["/older-v2", "/newer-v2"]
        assert feed.poll() == []


def test_a_delivery_attempt_committed_late_is_sent_once(pg_store: Store) -> None:
    with pg_store.transaction() as conn:
        conn.execute(
            insert(notifications).values(
                id="N-GAPS-1",
                mchid="1900000001",
                event_type="TRANSACTION.SUCCESS",
                family="v3",
                url="http://127.0.0.1:9/notify",
                body="{}",
                status="PENDING",
                attempts=0,
                created_at=NOW,
            )
        )
    for journal in journal_on(pg_store, grace=60.0):
        feed = journal.event_feed(journal.event_cursor())
        with pg_store.engine.connect() as slow:
            pending = slow.begin()
            slow.execute(insert(notification_attempts).values(**attempt("N-GAPS-1", "older")))
            with pg_store.transaction() as conn:
                conn.execute(insert(notification_attempts).values(**attempt("N-GAPS-1", "newer")))
            assert feed.poll() == []
            pending.commit()
        events = feed.poll()
        assert [kind for kind, _, _ in events] == ["delivery", "delivery"]
        assert paths(events) == ["older", "newer"]
        assert feed.poll() == []


def test_a_rolled_back_id_holds_the_stream_for_the_grace_at_most(pg_store: Store) -> None:
    grace = 0.6
    for journal in journal_on(pg_store, grace=grace):
        feed = journal.event_feed(journal.event_cursor())
        with pg_store.engine.connect() as lost:
            pending = lost.begin()
            journal_repo.insert_rows(lost, [entry("/rolled-back")])
            with pg_store.transaction() as conn:
                journal_repo.insert_rows(conn, [entry("/kept")])
            pending.rollback()
        seen = time.monotonic()
        assert feed.poll() == []  # the gap is new: it may still commit
        events: list[tuple[str, dict[str, Any], Any]] = []
        deadline = seen + grace + 5.0
        while not events and time.monotonic() < deadline:
            time.sleep(0.02)
            events = feed.poll()
        waited = time.monotonic() - seen
        assert paths(events) == ["/kept"]
        assert grace - 0.05 <= waited <= grace + 2.0, waited  # slack for a loaded machine; never for ever
        assert feed.poll() == []


def test_a_stream_started_after_a_reset_does_not_wait(pg_store: Store) -> None:
    """After a reset the table is empty but the id sequence goes on: "now" is the sequence's position,
    so the next entry is sent at once rather than after the grace (the ids below it are not gaps)."""
    for journal in journal_on(pg_store, grace=60.0):
        with pg_store.transaction() as conn:
            journal_repo.insert_rows(conn, [entry("/before-reset")])
        with pg_store.transaction() as conn:
            journal_repo.trim(conn, 0)
            assert journal_repo.max_id(conn) == 0
        feed = journal.event_feed(journal.event_cursor())
        with pg_store.transaction() as conn:
            journal_repo.insert_rows(conn, [entry("/after-reset")])
        assert paths(feed.poll()) == ["/after-reset"]


@pytest.mark.both_databases
def test_without_gaps_entries_are_sent_at_the_first_poll(store: Store, tmp_path: Path) -> None:
    """The common case costs no latency, whatever the grace; on SQLite a gap (here a deleted entry)
    is never waited for: SQLite takes ids in commit order."""
    for stream in journal_on(store, grace=60.0):
        feed = stream.event_feed(stream.event_cursor())
        with store.transaction() as conn:
            journal_repo.insert_rows(conn, [entry("/a"), entry("/b"), entry("/c")])
        assert paths(feed.poll()) == ["/a", "/b", "/c"]
        assert feed.poll() == []
        if store.dialect == "sqlite":
            start = feed.cursor
            with store.transaction() as conn:
                journal_repo.insert_rows(conn, [entry("/d"), entry("/e")])
                first = journal_repo.max_id(conn) - 1
                conn.execute(journal_table.delete().where(journal_table.c.id == first))
            assert paths(stream.event_feed(start).poll()) == ["/e"]
