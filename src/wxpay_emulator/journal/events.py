"""The reader behind the live event stream (``GET /emulator/v1/events``): new journal entries and new
notification delivery attempts, in id order, each sent once.

    feed = journal.event_feed(journal.event_cursor(), mchid=None, family="v3")
    events = feed.poll()          # [(kind, data, cursor after it)], kind "request" or "delivery"
    feed.cursor                   # where the stream is: resume from it with ?after= / Last-Event-ID

A feed keeps state between polls: besides its cursor, when it first saw each newer id. On PostgreSQL
rows of several processes commit out of id order, so the cursor waits at a gap below a newer row for up
to ``grace`` seconds (``events_gap_grace_seconds``) before it gives the gap up as a rolled-back or
deleted id (journal/frontier.py explains the rule). On SQLite the grace is 0: writers are serialized, so
a gap is final when seen. ``poll`` is synchronous and reads the store: call it from a thread.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wxpay_emulator.journal.entries import FAMILIES, time_text, view_of
from wxpay_emulator.journal.frontier import IdFrontier
from wxpay_emulator.storage import journal_repo
from wxpay_emulator.storage.db import Store

EVENT_BATCH = 200  # rows of each kind sent per poll
ID_SCAN = 2000  # ids of each kind looked at per poll, for gaps (the filters apply after)
_EVENT_CURSOR = re.compile(r"^(\d{1,18}):(\d{1,18})$")


class JournalQueryError(ValueError):
    """A filter or cursor the journal cannot use (the routes answer PARAM_ERROR)."""


def check_family(family: str | None) -> str | None:
    if family is not None and family not in FAMILIES:
        raise JournalQueryError(f"family must be one of {', '.join(FAMILIES)}")
    return family


@dataclass(frozen=True)
class EventCursor:
    """Where an event stream is: the journal entry id and the delivery attempt id up to which it has sent
    (or given up) everything."""

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


Event = tuple[str, dict[str, Any], EventCursor]


class EventFeed:
    """One stream's reader. Not thread-safe: poll it from one thread at a time."""

    def __init__(
        self,
        store: Store,
        cursor: EventCursor,
        *,
        grace: float,
        mchid: str | None = None,
        family: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.mchid = mchid
        self.family = check_family(family)
        self.clock = clock
        self.requests = IdFrontier(cursor.request_id, grace)
        self.attempts = IdFrontier(cursor.attempt_id, grace)
        # notification_attempts has no AUTOINCREMENT on SQLite: its ids start again after a reset.
        self._attempt_ids_restart = store.dialect == "sqlite"

    @property
    def cursor(self) -> EventCursor:
        return EventCursor(self.requests.after, self.attempts.after)

    def poll(self) -> list[Event]:
        """The new entries and attempts (entries first, each kind in id order), each with the cursor
        after it; the feed's cursor moves past them and past rows the filters leave out."""
        with self.store.read() as conn:
            # The newest ids first, then the time: a checkpoint never claims an id was seen too early.
            top_request, top_attempt = journal_repo.max_id(conn), journal_repo.max_attempt_id(conn)
            now = self.clock()
            if self._attempt_ids_restart and self.attempts.after > top_attempt:
                self.attempts.restart(0)  # a reset emptied the attempts, whose ids start again
            ids = journal_repo.ids_since(conn, self.requests.after, top_request, ID_SCAN)
            request_upto = _upto(self.requests, ids, top_request, now)
            requests = (
                journal_repo.since(
                    conn, self.requests.after, request_upto, EVENT_BATCH, self.mchid, self.family
                )
                if request_upto > self.requests.after
                else []
            )
            ids = journal_repo.attempt_ids_since(conn, self.attempts.after, top_attempt, ID_SCAN)
            attempt_upto = _upto(self.attempts, ids, top_attempt, now)
            deliveries = (
                journal_repo.attempts_since(
                    conn, self.attempts.after, attempt_upto, EVENT_BATCH, self.mchid, self.family
                )
                if attempt_upto > self.attempts.after and self.family != "miniprogram"
                else []
            )
        out: list[Event] = []
        attempt_before = self.attempts.after
        for r in requests:
            out.append(("request", view_of(r), EventCursor(r["id"], attempt_before)))
        # A full batch stops at its last row; otherwise the filtered-out rows up to the limit are passed.
        self.requests.advance(requests[-1]["id"] if len(requests) == EVENT_BATCH else request_upto)
        for d in deliveries:
            out.append(("delivery", delivery_view(d), EventCursor(self.requests.after, d["id"])))
        self.attempts.advance(deliveries[-1]["id"] if len(deliveries) == EVENT_BATCH else attempt_upto)
        return out


def _upto(frontier: IdFrontier, ids: list[int], top: int, now: float) -> int:
    frontier.observe(top, now)
    return frontier.upto(ids, top, now, complete=len(ids) < ID_SCAN)
