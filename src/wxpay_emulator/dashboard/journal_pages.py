"""The request journal in the dashboard: ``/dashboard/requests`` (filters, cursor paging, new rows live
from the event stream), ``/dashboard/requests/{id}`` (the signature diagnosis, masked bodies), the row
fragment the live update fetches, and what the overview and an order's page show of the journal."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.api.family import new_router
from wxpay_emulator.dashboard.web import env, render
from wxpay_emulator.domain.models import Order
from wxpay_emulator.journal.entries import FAMILIES
from wxpay_emulator.journal.service import JournalQueryError, journal_of

router = new_router(include_in_schema=False)

PAGE = 50
OVERVIEW = 10


@router.get("/dashboard/requests")
async def requests_page(
    request: Request, mchid: str = "", family: str = "", status: str = "", cursor: str = ""
) -> Response:
    filters = {"mchid": mchid.strip(), "family": family, "status": status.strip()}
    problem = None
    entries: list[dict[str, Any]] = []
    more: str | None = None
    journal = journal_of(request)
    # The stream starts where this page's listing ends: nothing written in between is missed.
    after = str(await run_in_threadpool(journal.event_cursor))
    try:
        page = await run_in_threadpool(
            journal.page,
            mchid=filters["mchid"] or None,
            family=filters["family"] or None,
            status=filters["status"] or None,
            cursor=cursor or None,
            limit=PAGE,
            bodies=False,
        )
        entries, more = page.data, page.next
    except JournalQueryError as exc:
        problem = str(exc)
    given = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "requests.html",
        status=400 if problem else 200,
        entries=entries,
        filters=filters,
        families=FAMILIES,
        problem=problem,
        first_page=not cursor,
        after=after,
        next_url=f"/dashboard/requests?{urlencode({**given, 'cursor': more})}" if more else None,
        newest_url=f"/dashboard/requests?{urlencode(given)}" if cursor else None,
    )


async def _entry_or_404(request: Request, entry_id: int) -> dict[str, Any]:
    entry = await run_in_threadpool(journal_of(request).entry, entry_id)
    if entry is None:
        raise HTTPException(404, f"no journal entry {entry_id} (trimmed, reset, or never recorded)")
    return entry


@router.get("/dashboard/requests/{entry_id}")
async def entry_page(request: Request, entry_id: int) -> Response:
    entry = await _entry_or_404(request, entry_id)
    return render(request, "request.html", e=entry, headers_text=_headers_text)


@router.get("/dashboard/requests/{entry_id}/row")
async def entry_row(request: Request, entry_id: int) -> Response:
    """One row of the requests table (the live update inserts it)."""
    entry = await _entry_or_404(request, entry_id)
    html = env.get_template("_journal.html").module.request_row(entry)  # type: ignore[attr-defined]
    return HTMLResponse(str(html))


def _headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


async def newest_requests(request: Request) -> tuple[list[dict[str, Any]], str]:
    """The overview's newest journal entries (without bodies), and the event cursor they end at."""
    journal = journal_of(request)
    after = str(await run_in_threadpool(journal.event_cursor))
    page = await run_in_threadpool(journal.page, limit=OVERVIEW, bodies=False)
    return page.data, after


async def order_request(request: Request, order: Order) -> dict[str, Any] | None:
    """The retained journal entry of the call that created ``order`` (None when trimmed or absent)."""
    mchids = [m for m in (order.mchid, order.sp_mchid) if m]
    return await run_in_threadpool(journal_of(request).creating_entry, mchids, order.out_trade_no)
