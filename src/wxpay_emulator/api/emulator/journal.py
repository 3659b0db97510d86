"""The journal on the control plane: ``GET /emulator/v1/requests[/{id}]`` and the live event stream
``GET /emulator/v1/events`` (server-sent events: ``request`` for each journal entry, ``delivery`` for each
notification delivery attempt).

The stream polls the store by id cursor (``events_poll_seconds``), so it also carries what another
emulator process sharing the database wrote; the writer of this process wakes it early. Its reader, an
``EventFeed`` (journal/events.py), never skips a row that commits out of id order on PostgreSQL: the
cursor waits at a gap below a newer row for up to ``events_gap_grace_seconds`` (journal/frontier.py).
Each event's SSE ``id`` is its cursor (``REQUEST_ID:ATTEMPT_ID``): a client that reconnects with
``Last-Event-ID`` (or ``?after=``) misses nothing still in the store. A comment line every few seconds
keeps proxies from timing out, and the generator ends when the client goes away or the server shuts
down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.api.family import new_router
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.journal.service import (
    MAX_LIMIT,
    EventCursor,
    JournalQueryError,
    check_family,
    journal_of,
)

router = new_router(prefix="/emulator/v1")

HEARTBEAT_SECONDS = 2.5


@router.get("/requests")
async def requests(
    request: Request,
    mchid: str | None = None,
    status: str | None = None,
    family: str | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=MAX_LIMIT),
) -> dict[str, Any]:
    """The journal, newest first: ``{"data": [...], "next": cursor-of-the-next-page-or-null}``."""
    try:
        page = await run_in_threadpool(
            journal_of(request).page, mchid=mchid, family=family, status=status, cursor=cursor, limit=limit
        )
    except JournalQueryError as exc:
        raise DomainError(ErrorCode.PARAM_ERROR, str(exc)) from exc
    return page.json()


@router.get("/requests/{entry_id}")
async def request_entry(entry_id: int, request: Request) -> dict[str, Any]:
    entry = await run_in_threadpool(journal_of(request).entry, entry_id)
    if entry is None:
        raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, f"no journal entry {entry_id}")
    return entry


def _stopping(request: Request) -> bool:
    """True once ``serve`` is shutting down (cli/serve.py sets ``app.state.stopping``)."""
    probe: Callable[[], bool] | None = getattr(request.app.state, "stopping", None)
    return probe is not None and probe()


@router.get("/events")
async def events(
    request: Request,
    mchid: str | None = None,
    family: str | None = None,
    after: str | None = None,
) -> StreamingResponse:
    journal = journal_of(request)
    start = request.headers.get("last-event-id") or after
    try:
        check_family(family)
        cursor = EventCursor.parse(start) if start else await run_in_threadpool(journal.event_cursor)
        feed = journal.event_feed(cursor, mchid=mchid, family=family)
    except JournalQueryError as exc:
        raise DomainError(ErrorCode.PARAM_ERROR, str(exc)) from exc
    poll = float(request.app.state.settings.events_poll_seconds)
    loop = asyncio.get_running_loop()

    async def stream() -> AsyncIterator[str]:
        wake = asyncio.Event()
        gone = asyncio.Event()

        def written() -> None:  # the writer thread stored a batch
            loop.call_soon_threadsafe(wake.set)

        async def watch_disconnect() -> None:
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    wake.set()
                    return

        remove = journal.on_written(written)
        watcher = asyncio.create_task(watch_disconnect())
        try:
            yield f": wxpay-emulator events from {cursor}\n\n"
            last_sent = time.monotonic()
            while not gone.is_set() and not _stopping(request):
                found = await run_in_threadpool(feed.poll)
                for kind, data, at in found:
                    yield f"id: {at}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                    last_sent = time.monotonic()
                if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                    yield f": keep-alive {feed.cursor}\n\n"
                    last_sent = time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=poll)
                wake.clear()
        finally:
            remove()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
