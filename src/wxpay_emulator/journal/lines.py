"""The one-line forms of a journal entry and of a delivery attempt: ``serve``'s log and ``tail``'s feed.

Each is a list of (text, rich style) parts, so ``tail`` colours what ``serve`` prints plainly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Parts = list[tuple[str, str]]


def _clock(time_text: str | None) -> str:
    # "2026-11-30T19:04:05.123+08:00" -> "19:04:05.123"
    if not time_text or "T" not in time_text:
        return time_text or ""
    return time_text.split("T", 1)[1][:12]


def _status_style(status: int | None, failed: bool) -> str:
    if status is None or status >= 500:
        return "bold red"
    if status >= 400 or failed:
        return "yellow"
    return "green"


def request_parts(entry: Mapping[str, Any]) -> Parts:
    status = int(entry["status"])
    code = entry.get("code")
    sign = entry.get("sign_check") or {}
    query = f"?{entry['query']}" if entry.get("query") else ""
    parts: Parts = [
        (_clock(entry.get("time")), "dim"),
        (f"{entry['family']:<11}", "cyan"),
        (f"{entry['method']} {entry['path']}{query}", "bold"),
        (str(status), _status_style(status, code is not None)),
        (str(code) if code else "-", "red" if code else "dim"),
        (f"{float(entry['duration_ms']):.1f}ms", "dim"),
    ]
    if entry.get("mchid"):
        parts.append((f"mchid={entry['mchid']}", "dim"))
    if sign and sign.get("ok") is False and sign.get("reason"):
        parts.append((f"sign: {sign['reason']}", "bold red"))
        if sign.get("hint"):
            parts.append((f"({sign['hint']})", "red"))
    return parts


def delivery_parts(event: Mapping[str, Any]) -> Parts:
    if event.get("error"):
        outcome, style = f"error {event['error']}", "bold red"
    else:
        status = event.get("response_status")
        outcome = str(status)
        style = "green" if event.get("acknowledged") else "yellow"
    parts: Parts = [
        (_clock(event.get("attempted_at")), "dim"),
        (f"{'notify':<11}", "magenta"),
        (f"{event['notification_id']} -> {event['url']}", "bold"),
        (outcome, style),
        (f"{float(event['duration_ms']):.1f}ms", "dim"),
        (f"attempt {event.get('attempts')}", "dim"),
    ]
    if event.get("acknowledged"):
        parts.append(("delivered", "green"))
    elif event.get("next_attempt_at"):
        parts.append((f"next retry {_clock(event['next_attempt_at'])}", "yellow"))
    else:
        parts.append((str(event.get("notification_status") or ""), "red"))
    return parts


def plain(parts: Parts) -> str:
    return "  ".join(text for text, _style in parts if text)
