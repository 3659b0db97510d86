"""The journal's Python API, for the control-plane routes, the event stream and the dashboard.

    journal = journal_of(request)                 # or app.state.journal
    page = journal.page(mchid="1900000001", family="v3", status="4xx", cursor=None, limit=50)
    page.data                                     # entries, newest first (JSON-ready dicts)
    page.next                                     # the cursor of the next (older) page, or None
    journal.entry(42)                             # one entry, or None
    events, cursor = journal.events_since(journal.event_cursor(), mchid=None, family=None)

Everything here is synchronous and touches the store: call it from a thread (``api.calls.call`` or
``run_in_threadpool``), not on the event loop with PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from wxpay_emulator.journal.entries import FAMILIES, RawCall, time_text, view_of
from wxpay_emulator.journal.writer import JournalWriter
from wxpay_emulator.storage import journal_repo
from wxpay_emulator.storage.db import Store

MAX_LIMIT = 500
EVENT_BATCH = 200
_STATUS = re.compile(r"^(?:([1-5])xx|(\d{3}))$")
_CURSOR = re.compile(r"^\d{1,18}$")
_EVENT_CURSOR = re.compile(r"^(\d{1,18}):(\d{1,18})$")


class JournalQueryError(ValueError):
    """A filter or cursor the journal cannot use (the routes answer PARAM_ERROR)."""


@dataclass(frozen=True)
class JournalPage:
    data: list[dict[str, Any]]
    next: str | None  # pass back as ``cursor`` for the next (older) page

    def json(self) -> dict[str, Any]:
        return {"data": self.data, "next": self.next}


@dataclass(frozen=True)
class EventCursor:
    """Where an event stream is: the last journal entry id and the last delivery attempt id it sent."""

    request_id: int = 0
    attempt_id: int = 0

    def __str__(self) -> str:
        return f"{self.request_id}:{self.attempt_id}"

    @classmethod
    def parse(cls, text: str) -> EventCursor:
        match = _EVENT_CURSOR.match(text.strip())
        if match is None:
            raise JournalQueryError(f"event cursor must be REQUEST_ID:ATTEMPT_ID, not {text[:40]!r}")
        return cls(int(match.group(1)), int(match.group(2)))


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


def check_family(family: str | None) -> str | None:
    if family is not None and family not in FAMILIES:
        raise JournalQueryError(f"family must be one of {', '.join(FAMILIES)}")
    return family


def delivery_view(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "notification_id": row["notification_id"],
        "mchid": row["mchid"],
        "family": row["family"],
        "event_type": row["event_type"],
        "url": row["url"],
        "attempted_at": time_text(row["attempted_at"]),
        "response_status": row["response_status"],
        "error": row["error"],
        "duration_ms": round(float(row["duration_ms"]), 3),
        "acknowledged": bool(row["acknowledged"]),
        "notification_status": row["status"],
        "attempts": row["attempts"],
        "next_attempt_at": time_text(row["next_attempt_at"]) if row["next_attempt_at"] else None,
    }


class Journal:
    def __init__(self, store: Store, max_entries: int) -> None:
        self.store = store
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
            return EventCursor(journal_repo.max_id(conn), journal_repo.max_attempt_id(conn))

    def events_since(
        self, cursor: EventCursor, *, mchid: str | None = None, family: str | None = None
    ) -> tuple[list[tuple[str, dict[str, Any], EventCursor]], EventCursor]:
        """New journal entries and delivery attempts after ``cursor``: a list of (kind, data, cursor
        after it) with kind ``request`` or ``delivery``, and the cursor after all of them."""
        check_family(family)
        with self.store.transaction() as conn:
            # The newest ids first: rows committed while this runs wait for the next call.
            top_request, top_attempt = journal_repo.max_id(conn), journal_repo.max_attempt_id(conn)
            attempt_after = cursor.attempt_id
            if attempt_after > top_attempt:
                attempt_after = 0  # a reset emptied the attempts, whose ids start again (SQLite)
            requests = journal_repo.since(conn, cursor.request_id, top_request, EVENT_BATCH, mchid, family)
            deliveries = (
                []
                if family == "miniprogram"
                else journal_repo.attempts_since(conn, attempt_after, top_attempt, EVENT_BATCH, mchid, family)
            )
        out: list[tuple[str, dict[str, Any], EventCursor]] = []
        request_id, attempt_id = cursor.request_id, attempt_after
        for r in requests:
            request_id = r["id"]
            out.append(("request", view_of(r), EventCursor(request_id, attempt_id)))
        for d in deliveries:
            attempt_id = d["id"]
            out.append(("delivery", delivery_view(d), EventCursor(request_id, attempt_id)))
        # Filtered-out rows are passed over once, not scanned again at every call.
        if len(requests) < EVENT_BATCH:
            request_id = max(request_id, top_request)
        if len(deliveries) < EVENT_BATCH:
            attempt_id = max(attempt_id, top_attempt)
        return out, EventCursor(request_id, attempt_id)


def journal_of(request: Request) -> Journal:
    journal: Journal = request.app.state.journal
    return journal
