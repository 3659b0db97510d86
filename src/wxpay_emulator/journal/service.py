"""The journal's Python API, for the control-plane routes, the event stream and the dashboard.

    journal = journal_of(request)                 # or app.state.journal
    page = journal.page(mchid="1900000001", family="v3", status="4xx", cursor=None, limit=50)
    page.data                                     # entries, newest first (JSON-ready dicts)
    page.next                                     # the cursor of the next (older) page, or None
    journal.entry(42)                             # one entry, or None
    feed = journal.event_feed(journal.event_cursor(), mchid=None, family=None)
    feed.poll()                                   # new entries and attempts: journal/events.py

Everything here is synchronous and touches the store: call it from a thread (``api.calls.call`` or
``run_in_threadpool``), not on the event loop with PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from wxpay_emulator.journal.entries import RawCall, view_of
from wxpay_emulator.journal.events import (
    EventCursor,
    EventFeed,
    JournalQueryError,
    check_family,
)
from wxpay_emulator.journal.writer import JournalWriter
from wxpay_emulator.storage import journal_repo
from wxpay_emulator.storage.db import Store

__all__ = [
    "MAX_LIMIT",
    "EventCursor",
    "EventFeed",
    "Journal",
    "JournalPage",
    "JournalQueryError",
    "check_family",
    "journal_of",
    "parse_status",
]

MAX_LIMIT = 500
_STATUS = re.compile(r"^(?:([1-5])xx|(\d{3}))$")
_CURSOR = re.compile(r"^\d{1,18}$")


@dataclass(frozen=True)
class JournalPage:
    data: list[dict[str, Any]]
    next: str | None  # pass back as ``cursor`` for the next (older) page

    def json(self) -> dict[str, Any]:
        return {"data": self.data, "next": self.next}


def parse_status(status: str | None) -> tuple[int | None, int | None]:
    """``"404"`` -> (404, None); ``"4xx"`` -> (None, 4); None -> (None, None)."""
    if status is None or status == "":
        return None, None
    match = _STATUS.match(status.strip().lower())
    if match is None:
        raise JournalQueryError(f"status must be a code like 401 or a class like 4xx, not {status[:20]!r}")
    if match.group(1):
        return None, int(match.group(1))
    return int(match.group(2)), None


class Journal:
    def __init__(self, store: Store, max_entries: int, gap_grace: float = 5.0) -> None:
        self.store = store
        # How long the event stream waits for a gap in the ids to fill (journal/frontier.py). SQLite
        # serializes writers, so ids commit in order there and a gap never fills later: no wait.
        self.gap_grace = 0.0 if store.dialect == "sqlite" else gap_grace
        self.writer = JournalWriter(store, max_entries)

    # --- writing (the middleware) ---------------------------------------------------------------

    def record(self, raw: RawCall) -> None:
        """Queue a finished call; it is logged and stored by the writer thread."""
        self.writer.submit(raw)

    def flush(self, timeout: float = 5.0) -> bool:
        return self.writer.flush(timeout)

    def close(self) -> None:
        self.writer.close()

    def on_written(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` (in the writer thread) after each stored batch; returns its remover."""
        return self.writer.add_listener(callback)

    # --- reading --------------------------------------------------------------------------------

    def page(
        self,
        *,
        mchid: str | None = None,
        family: str | None = None,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
        bodies: bool = True,
    ) -> JournalPage:
        """Entries newest first; ``cursor`` is the ``next`` of the previous page. Raises JournalQueryError."""
        exact, status_class = parse_status(status)
        check_family(family)
        if cursor is not None and not _CURSOR.match(cursor):
            raise JournalQueryError("cursor must be the next value of a previous page")
        if not 1 <= limit <= MAX_LIMIT:
            raise JournalQueryError(f"limit must be between 1 and {MAX_LIMIT}")
        self.flush(1.0)  # read your own calls
        with self.store.transaction() as conn:
            rows = journal_repo.page(
                conn,
                before=int(cursor) if cursor is not None else None,
                limit=limit + 1,
                mchid=mchid,
                family=family,
                status=exact,
                status_class=status_class,
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return JournalPage([view_of(r, bodies) for r in rows], str(rows[-1]["id"]) if more and rows else None)

    def entry(self, entry_id: int) -> dict[str, Any] | None:
        self.flush(1.0)
        with self.store.transaction() as conn:
            row = journal_repo.get(conn, entry_id)
        return None if row is None else view_of(row)

    def creating_entry(self, mchids: list[str], out_trade_no: str) -> dict[str, Any] | None:
        """The retained entry of the call that created an order (the oldest successful POST of its
        merchant that names ``out_trade_no``), or None once trimmed away or never journaled."""
        if not out_trade_no or not mchids:
            return None
        self.flush(1.0)
        with self.store.transaction() as conn:
            row = journal_repo.first_mentioning(conn, mchids, out_trade_no)
        return None if row is None else view_of(row, bodies=False)

    # --- the event stream -----------------------------------------------------------------------

    def event_cursor(self) -> EventCursor:
        """The cursor of "now": a stream started from it sends only what happens next."""
        self.flush(1.0)
        with self.store.transaction() as conn:
            # The ids handed out, not the newest visible: after a reset (an empty table) a PostgreSQL
            # sequence goes on, and the stream must not wait for the ids below it to commit.
            return EventCursor(journal_repo.taken_id(conn), journal_repo.taken_attempt_id(conn))

    def event_feed(
        self, cursor: EventCursor, *, mchid: str | None = None, family: str | None = None
    ) -> EventFeed:
        """A reader of the entries and delivery attempts after ``cursor`` (journal/events.py); it keeps
        state between polls, so one stream uses one feed. Raises JournalQueryError on a bad family."""
        return EventFeed(self.store, cursor, grace=self.gap_grace, mchid=mchid, family=family)


def journal_of(request: Request) -> Journal:
    journal: Journal = request.app.state.journal
    return journal
