"""What every dashboard page shares: the Jinja2 environment, the base template's context, form
parsing, POST-redirect-GET with a one-line message, and the self-hosted assets (no CDN: the pages must
work offline)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wxpay_emulator.api.family import new_router
from wxpay_emulator.clock import rfc3339

HERE = Path(__file__).parent
STATIC = HERE / "static"
ASSETS = {"dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8"}

env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def _when(value: dt.datetime | None) -> str:
    return rfc3339(value) if value is not None else ""


def _yuan(fen: int | None) -> str:
    return "" if fen is None else f"¥{fen / 100:.2f}"


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False)


env.filters["when"] = _when
env.filters["yuan"] = _yuan
env.filters["pretty"] = _pretty

# The navigation of base.html: (path, label).
NAV: list[tuple[str, str]] = [
    ("/", "Overview"),
    ("/dashboard/orders", "Orders"),
    ("/dashboard/notifications", "Notifications"),
    ("/dashboard/refunds", "Refunds"),
    ("/dashboard/requests", "Requests"),
    ("/dashboard/audit", "Audit"),
    ("/dashboard/merchants", "Merchants"),
    ("/dashboard/system", "Clock · faults · reset"),
    ("/emulator/docs", "API docs"),
]


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page in base.html: the nav, the PRG message (``?ok=`` / ``?error=``) and the SSE URL the
    live-update script subscribes to, when the app has set one (``app.state.events_url``)."""
    html = env.get_template(template).render(
        nav=NAV,
        path=request.url.path,
        ok=request.query_params.get("ok"),
        error=request.query_params.get("error"),
        events_url=getattr(request.app.state, "events_url", None),
        **context,
    )
    return HTMLResponse(html, status_code=status)


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (first value of each field)."""
    parsed = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def back(to: str, *, ok: str | None = None, error: str | None = None) -> Response:
    """POST-redirect-GET: 303 to ``to`` with a one-line outcome the next page shows."""
    params = {k: v for k, v in (("ok", ok), ("error", error)) if v}
    sep = "&" if "?" in to else "?"
    return RedirectResponse(to + (sep + urlencode(params) if params else ""), status_code=303)


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client is not None else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def base_url(request: Request) -> str:
    """The emulator's own URL as the browser reached it (what SDKs are pointed at)."""
    return str(request.base_url).rstrip("/")


assets = new_router(include_in_schema=False)


@assets.get("/dashboard/static/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(404, f"no asset {name}")
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers={"Cache-Control": "no-cache"})
